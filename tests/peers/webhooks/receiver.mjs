// Webhook receiver for orderguard's integration tests: named endpoints that record every delivery
// and check its Standard Webhooks signature (https://www.standardwebhooks.com) with the official
// library (npm `standardwebhooks@1.1.1`, pinned), answering with a scripted queue of statuses.
// A control API registers endpoints and their secrets, scripts the answers and reports what was
// received.
//
// Needs `npm ci` in this folder.
//
//   node receiver.mjs --port N --control-port N        (0 = any free port)
//
// Prints exactly one line on stdout once both ports listen:
//   ready port=<port> control=<control port>
// Everything else goes to stderr. Bad arguments exit 2, a port that is taken exits 1.

import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const HOST = '127.0.0.1';
const BODY_LIMIT = 1024 * 1024; // 1 MiB
const REDIRECT_TARGET = 'http://127.0.0.1:1/elsewhere';

// ---------------------------------------------------------------------------------------------
// Command line

function usage(msg) {
  process.stderr.write(`webhooks: ${msg}\nusage: node receiver.mjs --port N --control-port N\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { port: null, controlPort: null };
  const names = { '--port': 'port', '--control-port': 'controlPort' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key) usage(`unknown argument ${argv[i]}`);
    if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`);
    opts[key] = argv[i + 1];
  }
  for (const key of ['port', 'controlPort']) {
    const n = Number(opts[key]);
    if (opts[key] === null || !/^\d+$/.test(opts[key]) || !Number.isInteger(n) || n > 65535) usage('--port and --control-port must be ports (0 = any free)');
    opts[key] = n;
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

function log(...parts) {
  process.stderr.write(`webhooks: ${parts.join(' ')}\n`);
}

// ---------------------------------------------------------------------------------------------
// State

const endpoints = new Map(); // name → { secrets: [string], webhooks: [Webhook] }
const behaviours = new Map(); // name → { statuses: [int] (a queue), delay_ms: int }
let records = []; // every delivery, in arrival order

const behaviourOf = (name) => {
  if (!behaviours.has(name)) behaviours.set(name, { statuses: [], delay_ms: 0 });
  return behaviours.get(name);
};

function stats(list) {
  const by_endpoint = {};
  const seen = new Map(); // endpoint → Set of ids
  const duplicates = new Set();
  let verified = 0;
  for (const r of list) {
    by_endpoint[r.endpoint] = (by_endpoint[r.endpoint] ?? 0) + 1;
    if (r.verified) verified++;
    if (r.id !== null) {
      if (!seen.has(r.endpoint)) seen.set(r.endpoint, new Set());
      const ids = seen.get(r.endpoint);
      if (ids.has(r.id)) duplicates.add(r.id);
      ids.add(r.id);
    }
  }
  return { requests: list.length, by_endpoint, verified, unverified: list.length - verified, duplicate_ids: [...duplicates] };
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

class HttpError extends Error {
  constructor(status, body) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
    this.status = status;
    this.body = body;
  }
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function sendText(res, status, text, headers = {}) {
  // 204, 205 and 304 have no body.
  const empty = status === 204 || status === 205 || status === 304;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(empty ? undefined : text);
}

// → { text, tooLarge }. Past the limit the rest is read and thrown away (so the client gets
// the 413 answer instead of a reset connection).
async function readBody(req, limit = Infinity) {
  const chunks = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) tooLarge = true;
    if (!tooLarge) chunks.push(chunk);
  }
  return { text: tooLarge ? '' : Buffer.concat(chunks).toString('utf8'), tooLarge };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Main port: POST /hooks/<name>

// → { verified, error, secret_index }. Verified if any registered secret verifies.
function verify(endpoint, rawBody, headers) {
  if (endpoint.webhooks.length === 0) return { verified: false, error: 'no secrets registered for this endpoint', secret_index: null };
  const errors = [];
  for (const [index, wh] of endpoint.webhooks.entries()) {
    try {
      // jsonParse: false: the library would otherwise JSON.parse the body after a matching
      // signature and throw a SyntaxError for a correctly signed non-JSON body. The signature
      // check itself is the same.
      wh.verify(rawBody, headers, { jsonParse: false });
      return { verified: true, error: null, secret_index: index };
    } catch (err) {
      errors.push(String(err.message ?? err));
    }
  }
  return { verified: false, error: [...new Set(errors)].join('; '), secret_index: null };
}

async function handleHook(req, res, name) {
  const { text, tooLarge } = await readBody(req, BODY_LIMIT);
  const h = req.headers;
  let body = null;
  if (!tooLarge) {
    try {
      body = JSON.parse(text);
    } catch { /* not JSON: null */ }
  }
  const record = {
    endpoint: name,
    id: h['webhook-id'] ?? null,
    timestamp: h['webhook-timestamp'] ?? null,
    signature: h['webhook-signature'] ?? null,
    verified: false,
    error: null,
    secret_index: null,
    type: body !== null && typeof body === 'object' && typeof body.type === 'string' ? body.type : null,
    body,
    raw_body: text,
    content_type: h['content-type'] ?? null,
    received_at: Date.now(),
    attempt_status: null,
    answered_at: null,
  };
  records.push(record);
  res.on('finish', () => { record.answered_at = Date.now(); });

  const endpoint = endpoints.get(name);
  if (!endpoint) {
    record.error = 'unknown endpoint';
    record.attempt_status = 404;
    log(`POST /hooks/${name}: unknown endpoint → 404`);
    return sendText(res, 404, `no endpoint ${name}`);
  }
  if (tooLarge) {
    record.error = `body larger than ${BODY_LIMIT} bytes`;
    record.attempt_status = 413;
    log(`POST /hooks/${name}: body too large → 413`);
    return sendText(res, 413, 'body too large', { connection: 'close' });
  }
  Object.assign(record, verify(endpoint, text, h));

  const behaviour = behaviourOf(name);
  const status = behaviour.statuses.length > 0 ? behaviour.statuses.shift() : 200;
  record.attempt_status = status;
  log(`POST /hooks/${name} id=${record.id} verified=${record.verified}${record.error ? ` (${record.error})` : ''} → ${status}` +
    (behaviour.delay_ms > 0 ? ` after ${behaviour.delay_ms} ms` : ''));
  if (behaviour.delay_ms > 0) await sleep(behaviour.delay_ms);
  if (res.destroyed) return; // the client gave up while we waited
  if (status >= 300 && status < 400) return sendText(res, status, 'moved', { location: REDIRECT_TARGET });
  return sendText(res, status, status >= 200 && status < 300 ? 'ok' : `status ${status}`);
}

const HOOK_PATH = /^\/hooks\/([^/]+)$/;

const mainServer = http.createServer(async (req, res) => {
  try {
    const path = new URL(req.url, 'http://x').pathname;
    const match = HOOK_PATH.exec(path);
    if (match && req.method === 'POST') {
      let name;
      try {
        name = decodeURIComponent(match[1]);
      } catch {
        name = match[1];
      }
      return await handleHook(req, res, name);
    }
    await readBody(req, 0);
    if (match) return sendText(res, 405, 'POST only', { allow: 'POST' });
    return sendText(res, 404, `no route ${path}`);
  } catch (err) {
    log('error:', err.stack || err);
    if (!res.headersSent) sendText(res, 500, String(err.message));
  }
});

// ---------------------------------------------------------------------------------------------
// Control API

const bad = (msg) => new HttpError(400, { error: msg });
const isName = (v) => typeof v === 'string' && v.length > 0;

function controlEndpoints(body) {
  if (!isName(body.name)) throw bad('name must be a non-empty string');
  if (!Array.isArray(body.secrets)) throw bad('secrets must be an array of whsec_... strings');
  const webhooks = body.secrets.map((secret, i) => {
    if (typeof secret !== 'string' || !secret.startsWith('whsec_')) throw bad(`secrets[${i}] must be a string starting with whsec_`);
    try {
      return new Webhook(secret);
    } catch (err) {
      throw bad(`secrets[${i}]: ${err.message}`);
    }
  });
  endpoints.set(body.name, { secrets: [...body.secrets], webhooks });
  return { name: body.name, secrets: body.secrets, ...behaviourOf(body.name) };
}

function controlBehaviour(body) {
  if (!isName(body.name)) throw bad('name must be a non-empty string');
  for (const key of Object.keys(body)) {
    if (!['name', 'statuses', 'delay_ms'].includes(key)) throw bad(`unknown behaviour ${key}`);
  }
  if (body.statuses !== undefined && (!Array.isArray(body.statuses) || !body.statuses.every((s) => Number.isInteger(s) && s >= 200 && s <= 599))) {
    throw bad('statuses must be an array of HTTP statuses (200..599)');
  }
  if (body.delay_ms !== undefined && !(Number.isInteger(body.delay_ms) && body.delay_ms >= 0)) throw bad('delay_ms must be an integer >= 0');
  const behaviour = behaviourOf(body.name);
  if (body.statuses !== undefined) behaviour.statuses = [...body.statuses];
  if (body.delay_ms !== undefined) behaviour.delay_ms = body.delay_ms;
  return { name: body.name, ...behaviour };
}

async function handleControl(req, res) {
  const url = new URL(req.url, 'http://x');
  const { text } = await readBody(req);
  let body = {};
  if (text.trim()) {
    try {
      body = JSON.parse(text);
    } catch {
      throw bad('body must be JSON');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('body must be a JSON object');
  }
  const route = `${req.method} ${url.pathname}`;
  const only = url.searchParams.get('endpoint');
  const selected = () => (only === null ? records : records.filter((r) => r.endpoint === only));
  switch (route) {
    case 'POST /endpoints':
      return sendJson(res, 200, controlEndpoints(body));
    case 'GET /endpoints': {
      const names = new Set([...endpoints.keys(), ...behaviours.keys()]);
      return sendJson(res, 200, Object.fromEntries([...names].map((name) => [name, {
        registered: endpoints.has(name), secrets: endpoints.get(name)?.secrets ?? [], ...behaviourOf(name),
      }])));
    }
    case 'POST /behaviour':
      return sendJson(res, 200, controlBehaviour(body));
    case 'GET /received':
      return sendJson(res, 200, selected());
    case 'GET /stats':
      return sendJson(res, 200, stats(selected()));
    case 'POST /reset':
      records = [];
      return sendJson(res, 200, stats(records));
    default:
      throw new HttpError(404, { error: `no route ${route}` });
  }
}

const controlServer = http.createServer(async (req, res) => {
  try {
    await handleControl(req, res);
  } catch (err) {
    if (!(err instanceof HttpError)) log('control error:', err.stack || err);
    sendJson(res, err.status || 500, err.body ?? { error: err.message });
  }
});

// ---------------------------------------------------------------------------------------------
// Start

function listen(server, p) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, HOST, () => resolve(server.address().port));
  });
}

try {
  const port = await listen(mainServer, opts.port);
  const controlPort = await listen(controlServer, opts.controlPort);
  process.stdout.write(`ready port=${port} control=${controlPort}\n`);
} catch (err) {
  log('failed to start:', err.stack || err);
  process.exit(1);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    mainServer.close();
    controlServer.close();
    process.exit(0);
  });
}
