// Scriptable CAMARA gateway stub for orderguard's integration tests: an operator's API exposure
// platform with an OAuth 2.0 token endpoint (client credentials and CIBA), the CIBA backchannel
// authentication endpoint, and the SIM Swap v2 and Device Swap v1 APIs. A control API sets the
// per-number answers, registers clients, injects failures and reports what was received.
//
// Node built-ins only.
//
//   node gateway.mjs --port N --control-port N [--client-id ID [--client-secret S]]   (0 = any free)
//                    [--tls-cert PEM --tls-key PEM [--client-ca PEM]]   HTTPS; mutual TLS with --client-ca
//
// Prints exactly one line on stdout once both ports listen:
//   ready port=<port> control=<control port>
// Everything else goes to stderr. Bad arguments exit 2, a port that is taken exits 1.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------------
// Command line

function usage(msg) {
  process.stderr.write(`gateway: ${msg}\nusage: node gateway.mjs --port N --control-port N ` +
    '[--client-id ID [--client-secret S]]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { port: null, controlPort: null, clientId: null, clientSecret: null, tlsCert: null, tlsKey: null, clientCa: null };
  const names = {
    '--port': 'port', '--control-port': 'controlPort', '--client-id': 'clientId', '--client-secret': 'clientSecret',
    '--tls-cert': 'tlsCert', '--tls-key': 'tlsKey', '--client-ca': 'clientCa',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key) usage(`unknown argument ${argv[i]}`);
    if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`);
    opts[key] = argv[i + 1];
  }
  for (const key of ['port', 'controlPort']) {
    const n = Number(opts[key]);
    if (opts[key] === null || !Number.isInteger(n) || n < 0 || n > 65535) usage('--port and --control-port must be ports (0 = any free)');
    opts[key] = n;
  }
  if (opts.clientSecret !== null && opts.clientId === null) usage('--client-secret needs --client-id');
  if ((opts.tlsCert === null) !== (opts.tlsKey === null)) usage('--tls-cert and --tls-key go together');
  if (opts.clientCa !== null && opts.tlsCert === null) usage('--client-ca needs --tls-cert');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

function log(...parts) {
  process.stderr.write(`gateway: ${parts.join(' ')}\n`);
}

// ---------------------------------------------------------------------------------------------
// State

const PHONE = /^\+[1-9][0-9]{4,14}$/;
// RFC 3339 date-time with a time zone (Z or ±hh:mm), fraction optional.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';

const API = {
  '/sim-swap/v2/retrieve-date': { kind: 'sim', op: 'retrieve-date', field: 'latestSimChange', scopes: ['sim-swap', 'sim-swap:retrieve-date'] },
  '/sim-swap/v2/check': { kind: 'sim', op: 'check', scopes: ['sim-swap', 'sim-swap:check'] },
  '/device-swap/v1/retrieve-date': { kind: 'device', op: 'retrieve-date', field: 'latestDeviceChange', scopes: ['device-swap', 'device-swap:retrieve-date'] },
  '/device-swap/v1/check': { kind: 'device', op: 'check', scopes: ['device-swap', 'device-swap:check'] },
};

const clients = new Map(); // client_id → { secret: string|null, publicKey: KeyObject|null }
if (opts.clientId !== null) clients.set(opts.clientId, { secret: opts.clientSecret, publicKey: null });

const numbers = new Map(); // phone → { sim_changed_at, device_changed_at, monitored_period }
const tokens = new Map(); // access token → { client_id, scope, phone (CIBA) | null, expires_at }
const authRequests = new Map(); // auth_req_id → { client_id, phone, scope, expires_at, pending }
const seenJti = new Set();

const behaviour = {
  api_status: null,
  api_response: null,
  api_delay_ms: 0,
  token_status: null,
  token_expires_in: 3600,
  ciba_pending_polls: 0,
  ciba_interval: 0,
  ciba_expires_in: 120,
  enforce_scopes: false,
};

let stats;
function resetStats() {
  stats = {
    token_requests: 0,
    bc_authorize_requests: 0,
    api_calls: Object.fromEntries(Object.keys(API).map((p) => [p, 0])),
    requests: [],
    token_grants: [],
  };
}
resetStats();

function remember(list, entry) {
  list.push(entry);
  if (list.length > 50) list.shift();
}

let port; // the main port, known once listening (the token endpoint URL contains it)
const scheme = opts.tlsCert === null ? 'http' : 'https';
const issuerUrl = () => `${scheme}://${HOST}:${port}`;
const tokenUrl = () => `${issuerUrl()}/token`;
const bcAuthorizeUrl = () => `${issuerUrl()}/bc-authorize`;

// ---------------------------------------------------------------------------------------------
// HTTP helpers

class HttpError extends Error {
  constructor(status, body, headers = {}) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function random(bytes = 24) {
  return crypto.randomBytes(bytes).toString('base64url');
}

function sameSecret(given, expected) {
  const a = crypto.createHash('sha256').update(given ?? '').digest();
  const b = crypto.createHash('sha256').update(expected ?? '').digest();
  return crypto.timingSafeEqual(a, b);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// OAuth: client authentication

const oauthError = (status, error, description, headers) =>
  new HttpError(status, description ? { error, error_description: description } : { error }, headers);

// → { client_id, client_auth }; throws 401 invalid_client / 400 invalid_request.
function authenticateClient(req, form, audiences) {
  const header = req.headers.authorization;
  const methods = [];
  if (header && /^basic /i.test(header)) methods.push('basic');
  if (form.has('client_assertion') || form.has('client_assertion_type')) methods.push('private_key_jwt');
  if (form.has('client_secret')) methods.push('post');
  if (methods.length > 1) throw oauthError(400, 'invalid_request', `more than one client authentication method: ${methods.join(', ')}`);
  const invalid = (why) => {
    log('invalid_client:', why);
    return oauthError(401, 'invalid_client', why, methods[0] === 'basic' ? { 'www-authenticate': 'Basic realm="gateway"' } : {});
  };

  if (methods[0] === 'basic') {
    // RFC 6749 2.3.1: client_id and secret are form-urlencoded before base64.
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw invalid('malformed Basic credentials');
    let id, secret;
    try {
      id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    } catch {
      throw invalid('malformed Basic credentials');
    }
    if (form.has('client_id') && form.get('client_id') !== id) throw oauthError(400, 'invalid_request', 'client_id in the body differs from the Basic user');
    const client = clients.get(id);
    if (!client || client.secret === null || !sameSecret(secret, client.secret)) throw invalid(`wrong client_id or secret for ${id}`);
    return { client_id: id, client_auth: 'basic' };
  }
  if (methods[0] === 'post') {
    const id = form.get('client_id');
    const client = clients.get(id);
    if (!id || !client || client.secret === null || !sameSecret(form.get('client_secret'), client.secret)) throw invalid(`wrong client_id or secret for ${id}`);
    return { client_id: id, client_auth: 'post' };
  }
  if (methods[0] === 'private_key_jwt') {
    if (form.get('client_assertion_type') !== JWT_BEARER) throw invalid(`client_assertion_type must be ${JWT_BEARER}`);
    const id = verifyClientAssertion(form.get('client_assertion') ?? '', audiences, invalid);
    if (form.has('client_id') && form.get('client_id') !== id) throw invalid('client_id differs from the assertion iss');
    return { client_id: id, client_auth: 'private_key_jwt' };
  }
  throw invalid('no client authentication');
}

function verifyClientAssertion(jwt, audiences, invalid) {
  const parts = jwt.split('.');
  if (parts.length !== 3) throw invalid('client_assertion is not a compact JWS');
  let header, claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw invalid('client_assertion header or claims are not JSON');
  }
  const id = claims.iss;
  if (typeof id !== 'string' || claims.sub !== id) throw invalid('client_assertion iss and sub must be the client_id');
  const client = clients.get(id);
  if (!client || !client.publicKey) throw invalid(`no public key registered for client ${id}`);

  const key = client.publicKey;
  const data = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2], 'base64url');
  let ok = false;
  try {
    switch (header.alg) {
      case 'ES256':
        if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw invalid('ES256 needs a P-256 key');
        ok = crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
        break;
      case 'RS256':
        if (key.asymmetricKeyType !== 'rsa') throw invalid('RS256 needs an RSA key');
        ok = crypto.verify('sha256', data, key, signature);
        break;
      case 'EdDSA':
        if (key.asymmetricKeyType !== 'ed25519') throw invalid('EdDSA needs an Ed25519 key');
        ok = crypto.verify(null, data, key, signature);
        break;
      default:
        throw invalid(`unsupported client_assertion alg ${header.alg}`);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw invalid(`signature check failed: ${err.message}`);
  }
  if (!ok) throw invalid('client_assertion signature does not verify');

  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.some((a) => audiences.includes(a))) throw invalid(`client_assertion aud must be (or contain) ${audiences.join(' or ')}`);
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= now) throw invalid('client_assertion exp missing or in the past');
  if (typeof claims.jti !== 'string' || !claims.jti) throw invalid('client_assertion jti missing');
  const jtiKey = `${id}\u0000${claims.jti}`;
  if (seenJti.has(jtiKey)) throw invalid(`client_assertion jti ${claims.jti} was already used`);
  seenJti.add(jtiKey);
  return id;
}

// ---------------------------------------------------------------------------------------------
// OAuth endpoints

function issueToken(client_id, scope, phone) {
  const access_token = random(32);
  const expires_in = behaviour.token_expires_in;
  tokens.set(access_token, { client_id, scope: scope ?? '', phone, expires_at: Date.now() + expires_in * 1000 });
  const answer = { access_token, token_type: 'Bearer', expires_in };
  if (scope !== null && scope !== undefined) answer.scope = scope;
  return answer;
}

async function handleOAuth(req, res, path, correlator) {
  const endpoint = path;
  if (path === '/token') stats.token_requests++;
  else stats.bc_authorize_requests++;
  const record = { endpoint, grant_type: null, client_id: null, client_auth: null, scope: null, login_hint: null, status: null, error: null };
  remember(stats.token_grants, record);
  const answer = (status, body, headers = {}) => {
    record.status = status;
    if (body.error) record.error = body.error;
    sendJson(res, status, body, { ...headers, ...(correlator ? { 'x-correlator': correlator } : {}) });
  };
  try {
    const text = await readBody(req);
    if (req.method !== 'POST') throw oauthError(405, 'invalid_request', 'POST only');
    if (behaviour.token_status !== null) throw oauthError(behaviour.token_status, 'temporarily_unavailable');
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') throw oauthError(400, 'invalid_request', 'content-type must be application/x-www-form-urlencoded');
    const form = new URLSearchParams(text);
    record.grant_type = form.get('grant_type');
    record.scope = form.get('scope');
    record.login_hint = form.get('login_hint');

    if (endpoint === '/bc-authorize') {
      // CIBA 7.1: the OP accepts its issuer, token endpoint or backchannel endpoint as aud.
      const client = authenticateClient(req, form, [issuerUrl(), tokenUrl(), bcAuthorizeUrl()]);
      Object.assign(record, client);
      const hint = form.get('login_hint');
      if (!hint || !hint.startsWith('tel:') || !PHONE.test(hint.slice(4))) throw oauthError(400, 'invalid_request', 'login_hint must be tel:+<E.164 number>');
      const scope = form.get('scope') ?? '';
      if (!scope.split(' ').includes('openid')) throw oauthError(400, 'invalid_scope', 'scope must contain openid');
      const auth_req_id = random(24);
      authRequests.set(auth_req_id, {
        client_id: client.client_id, phone: hint.slice(4), scope,
        expires_at: Date.now() + behaviour.ciba_expires_in * 1000, pending: behaviour.ciba_pending_polls,
      });
      return answer(200, { auth_req_id, expires_in: behaviour.ciba_expires_in, interval: behaviour.ciba_interval });
    }

    const client = authenticateClient(req, form, [tokenUrl()]);
    Object.assign(record, client);
    const grant = form.get('grant_type');
    if (grant === 'client_credentials') {
      return answer(200, issueToken(client.client_id, form.get('scope'), null));
    }
    if (grant === CIBA_GRANT) {
      const id = form.get('auth_req_id');
      if (!id) throw oauthError(400, 'invalid_request', 'auth_req_id missing');
      const request = authRequests.get(id);
      if (!request || request.client_id !== client.client_id) throw oauthError(400, 'invalid_grant', 'unknown auth_req_id');
      record.scope = request.scope;
      record.login_hint = `tel:${request.phone}`;
      if (Date.now() >= request.expires_at) {
        authRequests.delete(id);
        throw oauthError(400, 'expired_token');
      }
      if (request.pending > 0) {
        request.pending--;
        throw oauthError(400, 'authorization_pending');
      }
      authRequests.delete(id); // an auth_req_id gives one token
      return answer(200, issueToken(client.client_id, request.scope, request.phone));
    }
    throw oauthError(400, 'unsupported_grant_type', `grant_type ${grant}`);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return answer(err.status, err.body, err.headers);
  }
}

// ---------------------------------------------------------------------------------------------
// CAMARA APIs

const CAMARA_CODES = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 429: 'TOO_MANY_REQUESTS', 500: 'INTERNAL', 503: 'UNAVAILABLE' };
const camaraError = (status, code, message, headers) => new HttpError(status, { status, code, message }, headers);

async function handleApi(req, res, path, correlator) {
  const api = API[path];
  stats.api_calls[path]++;
  const text = await readBody(req);
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch { /* recorded as the raw string */ }
  remember(stats.requests, { path, authorization: req.headers.authorization ?? null, body: parsed, correlator });
  if (behaviour.api_delay_ms > 0) await sleep(behaviour.api_delay_ms);
  const headers = correlator ? { 'x-correlator': correlator } : {};
  try {
    if (req.method !== 'POST') throw camaraError(405, 'METHOD_NOT_ALLOWED', 'POST only');
    if (behaviour.api_status !== null) {
      const status = behaviour.api_status;
      throw camaraError(status, CAMARA_CODES[status] ?? 'INTERNAL', `injected failure (${status})`);
    }
    if (behaviour.api_response !== null) {
      // A canned answer, e.g. one that violates the spec: the body is sent as given (a string
      // raw, anything else as JSON).
      const { status = 200, body: canned = null, content_type: type = 'application/json' } = behaviour.api_response;
      res.writeHead(status, { 'content-type': type, ...headers });
      return res.end(typeof canned === 'string' ? canned : JSON.stringify(canned));
    }

    const auth = req.headers.authorization ?? '';
    const match = /^Bearer (\S+)$/i.exec(auth);
    const token = match && tokens.get(match[1]);
    if (!token || Date.now() >= token.expires_at) {
      throw camaraError(401, 'UNAUTHENTICATED', 'Request not authenticated due to missing, invalid, or expired credentials.',
        { 'www-authenticate': `Bearer error="invalid_token"` });
    }
    if (behaviour.enforce_scopes && !token.scope.split(' ').some((s) => api.scopes.includes(s))) {
      throw camaraError(403, 'PERMISSION_DENIED', `the token needs scope ${api.scopes.join(' or ')}`);
    }

    const body = parsed;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw camaraError(400, 'INVALID_ARGUMENT', 'the request body must be a JSON object');
    }
    if ('phoneNumber' in body && (typeof body.phoneNumber !== 'string' || !PHONE.test(body.phoneNumber))) {
      throw camaraError(400, 'INVALID_ARGUMENT', 'phoneNumber must match ^\\+[1-9][0-9]{4,14}$');
    }
    let maxAge = 240;
    if (api.op === 'check' && 'maxAge' in body) {
      if (!Number.isInteger(body.maxAge)) throw camaraError(400, 'INVALID_ARGUMENT', 'maxAge must be an integer');
      if (body.maxAge < 1 || body.maxAge > 2400) throw camaraError(400, 'OUT_OF_RANGE', 'maxAge must be between 1 and 2400 hours');
      maxAge = body.maxAge;
    }
    let phone;
    if (token.phone) {
      if ('phoneNumber' in body) throw camaraError(422, 'UNNECESSARY_IDENTIFIER', 'The device is already identified by the access token.');
      phone = token.phone;
    } else {
      if (!('phoneNumber' in body)) throw camaraError(422, 'MISSING_IDENTIFIER', 'The device cannot be identified.');
      phone = body.phoneNumber;
    }

    const entry = numbers.get(phone) ?? { sim_changed_at: null, device_changed_at: null, monitored_period: null };
    const changedAt = api.kind === 'sim' ? entry.sim_changed_at : entry.device_changed_at;
    if (api.op === 'check') {
      const swapped = changedAt !== null && Date.parse(changedAt) >= Date.now() - maxAge * 3600 * 1000;
      return sendJson(res, 200, { swapped }, headers);
    }
    const answer = { [api.field]: changedAt };
    if (entry.monitored_period !== null) answer.monitoredPeriod = entry.monitored_period;
    return sendJson(res, 200, answer, headers);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return sendJson(res, err.status, err.body, { ...err.headers, ...headers });
  }
}

// With --tls-cert the API speaks HTTPS; with --client-ca too it asks every client for a
// certificate of that CA and refuses the handshake without one.
const tlsOptions = () => ({
  cert: fs.readFileSync(opts.tlsCert),
  key: fs.readFileSync(opts.tlsKey),
  ...(opts.clientCa === null ? {} : { ca: fs.readFileSync(opts.clientCa), requestCert: true, rejectUnauthorized: true }),
});
const createMainServer = (handler) => (opts.tlsCert === null ? http.createServer(handler) : https.createServer(tlsOptions(), handler));

const mainServer = createMainServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  const correlator = req.headers['x-correlator'] ?? null;
  try {
    if (path === '/token' || path === '/bc-authorize') return await handleOAuth(req, res, path, correlator);
    if (API[path]) return await handleApi(req, res, path, correlator);
    await readBody(req);
    sendJson(res, 404, { status: 404, code: 'NOT_FOUND', message: `no route ${path}` }, correlator ? { 'x-correlator': correlator } : {});
  } catch (err) {
    log('error:', err.stack || err);
    if (!res.headersSent) sendJson(res, 500, { status: 500, code: 'INTERNAL', message: String(err.message) });
  }
});

// ---------------------------------------------------------------------------------------------
// Control API

const bad = (msg) => new HttpError(400, { error: msg });
const isNullableInt = (v, min = 0) => v === null || (Number.isInteger(v) && v >= min);

function nullableTime(body, key) {
  const v = body[key] ?? null;
  if (v !== null && (typeof v !== 'string' || !RFC3339.test(v) || Number.isNaN(Date.parse(v)))) throw bad(`${key} must be an RFC 3339 date-time with a time zone, or null`);
  return v;
}

function controlBehaviour(body) {
  const checks = {
    api_status: (v) => v === null || [429, 500, 503].includes(v),
    api_response: (v) => v === null || (typeof v === 'object' && !Array.isArray(v) &&
      (v.status === undefined || (Number.isInteger(v.status) && v.status >= 200 && v.status <= 599)) &&
      (v.content_type === undefined || typeof v.content_type === 'string')),
    api_delay_ms: (v) => Number.isInteger(v) && v >= 0,
    token_status: (v) => v === null || v === 503,
    token_expires_in: (v) => Number.isInteger(v) && v >= 0,
    ciba_pending_polls: (v) => Number.isInteger(v) && v >= 0,
    ciba_interval: (v) => Number.isInteger(v) && v >= 0,
    ciba_expires_in: (v) => Number.isInteger(v) && v >= 0,
    enforce_scopes: (v) => typeof v === 'boolean',
    revoke_tokens: (v) => typeof v === 'boolean',
  };
  for (const [key, value] of Object.entries(body)) {
    if (!checks[key]) throw bad(`unknown behaviour ${key}`);
    if (!checks[key](value)) throw bad(`bad value for ${key}: ${JSON.stringify(value)}`);
  }
  for (const [key, value] of Object.entries(body)) {
    if (key === 'revoke_tokens') {
      if (value) tokens.clear();
    } else {
      behaviour[key] = value;
    }
  }
  return behaviour;
}

async function handleControl(req, res) {
  const path = new URL(req.url, 'http://x').pathname;
  const text = await readBody(req);
  let body = {};
  if (text.trim()) {
    try {
      body = JSON.parse(text);
    } catch {
      throw bad('body must be JSON');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw bad('body must be a JSON object');
  }
  const route = `${req.method} ${path}`;
  switch (route) {
    case 'POST /numbers': {
      if (typeof body.phone !== 'string' || !PHONE.test(body.phone)) throw bad('phone must match ^\\+[1-9][0-9]{4,14}$');
      const monitored = body.monitored_period ?? null;
      if (!isNullableInt(monitored)) throw bad('monitored_period must be an integer >= 0 or null');
      const entry = { sim_changed_at: nullableTime(body, 'sim_changed_at'), device_changed_at: nullableTime(body, 'device_changed_at'), monitored_period: monitored };
      numbers.set(body.phone, entry);
      return sendJson(res, 200, { phone: body.phone, ...entry });
    }
    case 'GET /numbers':
      return sendJson(res, 200, Object.fromEntries(numbers));
    case 'POST /clients': {
      if (typeof body.client_id !== 'string' || !body.client_id) throw bad('client_id is required');
      const secret = body.client_secret ?? null;
      if (secret !== null && typeof secret !== 'string') throw bad('client_secret must be a string');
      let publicKey = null;
      try {
        if (body.public_key_pem) publicKey = crypto.createPublicKey(body.public_key_pem);
        else if (body.public_key_jwk) publicKey = crypto.createPublicKey({ key: body.public_key_jwk, format: 'jwk' });
      } catch (err) {
        throw bad(`public key: ${err.message}`);
      }
      if (publicKey && !['ec', 'rsa', 'ed25519'].includes(publicKey.asymmetricKeyType)) throw bad(`unsupported key type ${publicKey.asymmetricKeyType}`);
      if (secret === null && publicKey === null) throw bad('client_secret or public_key_pem is required');
      clients.set(body.client_id, { secret, publicKey });
      return sendJson(res, 200, { client_id: body.client_id, client_secret: secret !== null, public_key: publicKey?.asymmetricKeyType ?? null });
    }
    case 'POST /tokens': {
      // Mint a token without the OAuth dance: phone → a 3-legged (CIBA-like) token.
      if (body.phone !== undefined && (typeof body.phone !== 'string' || !PHONE.test(body.phone))) throw bad('phone must match ^\\+[1-9][0-9]{4,14}$');
      const client_id = body.client_id ?? opts.clientId ?? 'control';
      const answer = issueToken(client_id, body.scope ?? null, body.phone ?? null);
      if (Number.isInteger(body.expires_in)) {
        tokens.get(answer.access_token).expires_at = Date.now() + body.expires_in * 1000;
        answer.expires_in = body.expires_in;
      }
      return sendJson(res, 200, answer);
    }
    case 'GET /behaviour':
      return sendJson(res, 200, behaviour);
    case 'POST /behaviour':
      return sendJson(res, 200, controlBehaviour(body));
    case 'GET /stats':
      return sendJson(res, 200, stats);
    case 'POST /reset':
      resetStats();
      return sendJson(res, 200, stats);
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
  port = await listen(mainServer, opts.port);
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
