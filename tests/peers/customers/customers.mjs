// Test telco customer REST API for orderguard's integration tests: orderguard looks up the
// customer's registered mobile number (and when it last changed) before sending a code.
//
// Node built-ins only.
//
//   node customers.mjs --port N [--auth bearer:TOKEN | basic:USER:PASS | mtls]
//                      [--tls-cert F --tls-key F [--client-ca F]]
//
// Without --auth any request is served. `mtls` needs all three TLS files: the server speaks
// HTTPS and the TLS handshake refuses a client without a certificate signed by --client-ca.
// --tls-cert/--tls-key alone give HTTPS with the bearer/basic check on top.
//
// Prints exactly one line on stdout once listening: `ready url=<base url>` (no trailing slash).
// Everything else goes to stderr.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------------
// Command line

function usage(msg) {
  process.stderr.write(`customers: ${msg}\nusage: node customers.mjs --port N ` +
    '[--auth bearer:TOKEN | basic:USER:PASS | mtls] [--tls-cert F --tls-key F --client-ca F]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { port: null, auth: null, tlsCert: null, tlsKey: null, clientCa: null };
  const names = { '--port': 'port', '--auth': 'auth', '--tls-cert': 'tlsCert', '--tls-key': 'tlsKey', '--client-ca': 'clientCa' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key) usage(`unknown argument ${argv[i]}`);
    if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`);
    opts[key] = argv[i + 1];
  }
  const port = Number(opts.port);
  if (opts.port === null || !Number.isInteger(port) || port < 0 || port > 65535) usage('--port must be a port (0 = any free)');
  opts.port = port;

  // --auth → { kind, expected } where expected is the exact Authorization header value.
  if (opts.auth === null) {
    opts.auth = { kind: 'none' };
  } else if (opts.auth === 'mtls') {
    if (!opts.tlsCert || !opts.tlsKey || !opts.clientCa) usage('--auth mtls needs --tls-cert, --tls-key and --client-ca');
    opts.auth = { kind: 'mtls' };
  } else if (opts.auth.startsWith('bearer:') && opts.auth.length > 'bearer:'.length) {
    opts.auth = { kind: 'bearer', expected: `Bearer ${opts.auth.slice('bearer:'.length)}` };
  } else if (/^basic:[^:]+:.+$/.test(opts.auth)) {
    const userPass = opts.auth.slice('basic:'.length); // USER:PASS, PASS may contain ':'
    opts.auth = { kind: 'basic', expected: `Basic ${Buffer.from(userPass).toString('base64')}` };
  } else {
    usage('--auth must be bearer:TOKEN, basic:USER:PASS or mtls');
  }
  if (!!opts.tlsCert !== !!opts.tlsKey) usage('--tls-cert and --tls-key go together');
  if (opts.clientCa && opts.auth.kind !== 'mtls') usage('--client-ca is only for --auth mtls');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

function log(...parts) {
  process.stderr.write(`customers: ${parts.join(' ')}\n`);
}

// ---------------------------------------------------------------------------------------------
// Data

// 100234: number changed a few days ago (a SIM-swap / number-change risk signal).
// 100235: national format, changed long ago. 100236: no mobile on file.
const CUSTOMERS = {
  100234: { id: '100234', contact: { mobile: '+49 151 23456789', mobileVerified: true, mobileChangedAt: '2026-11-20T10:00:00Z' } },
  100235: { id: '100235', contact: { mobile: '0176 12345678', mobileVerified: true, mobileChangedAt: '2024-01-01T00:00:00Z' } },
  100236: { id: '100236', contact: {} },
};

// ---------------------------------------------------------------------------------------------
// State steered by the control API

let downUntil = 0;
let slowMs = 0;
let stats;
function resetStats() {
  stats = { requests: 0, by_status: {} };
}
resetStats();

// ---------------------------------------------------------------------------------------------
// HTTP

function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

// Compares without leaking the position of the first difference through timing.
function sameSecret(given, expected) {
  const a = crypto.createHash('sha256').update(given ?? '').digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

function authorized(req) {
  switch (opts.auth.kind) {
    case 'none': return true;
    // The handshake already refused unverified clients; this is a second look.
    case 'mtls': return req.socket.authorized === true;
    default: return sameSecret(req.headers.authorization, opts.auth.expected);
  }
}

function challenge() {
  if (opts.auth.kind === 'bearer') return { 'www-authenticate': 'Bearer realm="customers"' };
  if (opts.auth.kind === 'basic') return { 'www-authenticate': 'Basic realm="customers"' };
  return {};
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  const value = JSON.parse(text); // a SyntaxError becomes a 400 below
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SyntaxError('not an object');
  return value;
}

// Control routes are not behind --auth (under mtls they still need the client certificate,
// since TLS comes first), are not counted, and are not affected by down/slow.
async function handleControl(req, res, path) {
  let body;
  try {
    body = await readJson(req);
  } catch {
    return sendJson(res, 400, { error: 'body must be a JSON object' });
  }
  const route = `${req.method} ${path}`;
  if (route === 'POST /__control/down') {
    if (typeof body.seconds !== 'number' || !(body.seconds >= 0)) return sendJson(res, 400, { error: 'seconds must be a number >= 0' });
    downUntil = Date.now() + body.seconds * 1000;
    return sendJson(res, 200, { down_until: new Date(downUntil).toISOString() });
  }
  if (route === 'POST /__control/slow') {
    if (!Number.isInteger(body.ms) || body.ms < 0) return sendJson(res, 400, { error: 'ms must be an integer >= 0' });
    slowMs = body.ms;
    return sendJson(res, 200, { slow_ms: slowMs });
  }
  if (route === 'GET /__control/stats') return sendJson(res, 200, { ...stats, down: Date.now() < downUntil, slow_ms: slowMs });
  if (route === 'POST /__control/reset') {
    downUntil = 0;
    slowMs = 0;
    resetStats();
    return sendJson(res, 200, { ...stats });
  }
  return sendJson(res, 404, { error: 'not_found', routes: ['POST /__control/down', 'POST /__control/slow', 'GET /__control/stats', 'POST /__control/reset'] });
}

// The customer API itself: status and body of the answer.
function answer(req, path) {
  if (Date.now() < downUntil) {
    return [503, { error: 'service_unavailable', message: 'customer API down (test)' },
      { 'retry-after': String(Math.ceil((downUntil - Date.now()) / 1000)) }];
  }
  if (!authorized(req)) return [401, { error: 'unauthorized', message: 'missing or wrong credentials' }, challenge()];

  const match = /^\/customers\/([^/]+)$/.exec(path);
  if (!match) return [404, { error: 'not_found', message: `no route ${path}` }];
  if (req.method !== 'GET') return [405, { error: 'method_not_allowed', message: 'only GET' }, { allow: 'GET' }];
  const id = decodeURIComponent(match[1]);
  const customer = Object.hasOwn(CUSTOMERS, id) ? CUSTOMERS[id] : undefined;
  if (!customer) return [404, { error: 'not_found', message: `customer ${id} not found` }];
  return [200, { customer }];
}

async function handle(req, res) {
  const path = req.url.split('?')[0];
  if (path.startsWith('/__control/')) return handleControl(req, res, path);

  stats.requests += 1;
  req.resume(); // the customer API reads no bodies
  if (slowMs > 0) await new Promise((resolve) => setTimeout(resolve, slowMs));
  let status;
  let body;
  let headers;
  try {
    [status, body, headers] = answer(req, path);
  } catch (err) { // e.g. a malformed %-escape in the id
    [status, body] = [400, { error: 'bad_request', message: err.message }];
  }
  stats.by_status[status] = (stats.by_status[status] ?? 0) + 1;
  sendJson(res, status, body, headers);
}

function onRequest(req, res) {
  handle(req, res).catch((err) => {
    log('request failed:', err.stack || err);
    if (!res.headersSent) sendJson(res, 500, { error: 'internal' });
  });
}

let server;
let scheme = 'http';
if (opts.tlsCert) {
  scheme = 'https';
  const tls = { cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) };
  if (opts.auth.kind === 'mtls') {
    Object.assign(tls, { ca: fs.readFileSync(opts.clientCa), requestCert: true, rejectUnauthorized: true });
  }
  server = https.createServer(tls, onRequest);
  // A refused client certificate ends the handshake; say why on stderr, keep running.
  server.on('tlsClientError', (err) => log('TLS client refused:', err.code || err.message));
} else {
  server = http.createServer(onRequest);
}

server.once('error', (err) => {
  log('failed to start:', err.message);
  process.exit(1);
});
server.listen(opts.port, HOST, () => {
  process.stdout.write(`ready url=${scheme}://${HOST}:${server.address().port}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
