// Example receiver for orderguard's webhooks (Node 20+, no framework).
//
// 1. Verifies every delivery's Standard Webhooks signature over the raw body (npm `standardwebhooks`).
// 2. For `verification.approved`, fetches the verification and verifies its signed receipt
//    against orderguard's JWKS (npm `jose`): a webhook says "something happened", the receipt
//    proves it for this very order.
// 3. Acts once per webhook-id: orderguard retries under the same id until it gets a 2xx.
//
//   PORT=9000 ORDERGUARD_URL=http://127.0.0.1:8080 ORDERGUARD_BRAND=nordtel \
//   ORDERGUARD_API_KEY=og_… ORDERGUARD_WEBHOOK_SECRET=whsec_… node receiver.mjs

import http from 'node:http';
import { Webhook } from 'standardwebhooks';
import { createRemoteJWKSet, jwtVerify } from 'jose';

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const PORT = Number(env('PORT'));
const ORDERGUARD_URL = env('ORDERGUARD_URL'); // also the receipts' `iss`
const BRAND = env('ORDERGUARD_BRAND'); // the receipts' `aud`
const API_KEY = env('ORDERGUARD_API_KEY');
const webhook = new Webhook(env('ORDERGUARD_WEBHOOK_SECRET'));
// Caches the keys, and fetches them again when a receipt names a kid it does not know (rotation).
const jwks = createRemoteJWKSet(new URL(`${ORDERGUARD_URL}/.well-known/jwks.json`));
const MAX_BODY = 1024 * 1024;

// webhook-id → promise of what was done. In memory for the example; a real shop keeps this in
// its database (a unique key on the id). Storing the promise at once makes a retry that arrives
// while the first delivery is still being handled wait for it instead of acting twice.
const handled = new Map();

const print = (line) => process.stdout.write(JSON.stringify(line) + '\n');

async function checkReceipt(verificationId, orderId) {
  try {
    const res = await fetch(`${ORDERGUARD_URL}/v1/verifications/${encodeURIComponent(verificationId)}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) return `invalid: GET verification answered ${res.status}`;
    const { receipt } = await res.json();
    if (!receipt) return 'invalid: no receipt';
    // Checks the EdDSA signature with the key named by `kid`, and `iss`, `aud` and `exp`.
    const { payload } = await jwtVerify(receipt, jwks, {
      algorithms: ['EdDSA'],
      issuer: ORDERGUARD_URL,
      audience: BRAND,
      requiredClaims: ['exp'],
    });
    // The receipt must cover the order this webhook is about (a shop also compares amount,
    // currency and order_digest with the order it is about to accept, see docs/api.md).
    if (payload.order_id !== orderId) return 'invalid: order_id does not match';
    return 'valid';
  } catch (err) {
    return `invalid: ${err.message}`;
  }
}

async function handle(id, event) {
  const data = event.data ?? {};
  const line = {
    webhook_id: id,
    type: event.type,
    verification_id: data.verification_id ?? null,
    order_id: data.order_id ?? null,
    receipt: null,
  };
  if (event.type === 'verification.approved') line.receipt = await checkReceipt(data.verification_id, data.order_id);
  return line;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) reject(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/webhooks') return res.writeHead(404).end();
  let event;
  try {
    // The raw bytes: the signature is over the body exactly as sent, not a re-serialised one.
    event = webhook.verify(await readBody(req), req.headers);
    if (typeof event !== 'object' || event === null) throw new Error('body is not a JSON object');
  } catch (err) {
    print({ rejected: err.message });
    return res.writeHead(400).end();
  }
  const id = req.headers['webhook-id'];
  if (handled.has(id)) {
    print({ ...(await handled.get(id)), duplicate: true });
    return res.writeHead(204).end();
  }
  const done = handle(id, event);
  handled.set(id, done);
  print(await done);
  res.writeHead(204).end();
});

server.listen(PORT, '127.0.0.1', () => console.log('listening'));
