// Test OpenID Connect provider (the telco's CIAM) for orderguard's integration tests.
//
// npm `oidc-provider` (OpenID-certified) does all the protocol work; this file adds the test
// fixtures (clients, three customers), a test-only interaction handler that logs in `login_hint`
// and consents without any UI, and a small HTTP control API to mint tokens, rotate keys, count
// requests and simulate an outage.
//
//   node oidc.mjs --port N --control-port N        (0 = any free port)
//
// Prints exactly one line on stdout once both ports listen:
//   ready issuer=http://127.0.0.1:<port> control=<control port>
// Everything else goes to stderr.

import crypto from 'node:crypto';
import http from 'node:http';

// oidc-provider prints its notices with console.info (stdout) and checks the Node version at
// import time, so stdout must be redirected *before* the (dynamic) import: stdout carries only
// the ready line that the tests wait for.
console.log = console.info = (...args) => console.error(...args);
const { default: Provider, errors } = await import('oidc-provider');

const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------------
// Command line

function usage(msg) {
  process.stderr.write(`oidc: ${msg}\nusage: node oidc.mjs --port N --control-port N\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { port: null, controlPort: null };
  const names = { '--port': 'port', '--control-port': 'controlPort' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key) usage(`unknown argument ${argv[i]}`);
    if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`);
    const n = Number(argv[i + 1]);
    if (!Number.isInteger(n) || n < 0 || n > 65535) usage(`${argv[i]} must be a port (0 = any free)`);
    opts[key] = n;
  }
  if (opts.port === null || opts.controlPort === null) usage('--port and --control-port are required');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

function log(...parts) {
  process.stderr.write(`oidc: ${parts.join(' ')}\n`);
}

// ---------------------------------------------------------------------------------------------
// Fixtures

// The telco's customers. `sub` is the user name. carol has no phone claims at all.
const ACCOUNTS = {
  alice: { phone_number: '+4915123456789', phone_number_verified: true },
  bob: { phone_number: '+4917612345678', phone_number_verified: false },
  carol: {},
};

const SHOP_REDIRECT_URI = 'http://127.0.0.1/callback';
const SHOP = { id: 'shop', secret: 'shop-secret' };

const CLIENTS = [
  {
    // The telco shop's web app: the customer logs in there, orderguard receives its tokens.
    client_id: SHOP.id,
    client_secret: SHOP.secret,
    redirect_uris: [SHOP_REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid phone',
    token_endpoint_auth_method: 'client_secret_basic',
  },
  {
    // orderguard itself: it only introspects (no grants, no redirects). Userinfo is called with
    // the customer's own access token, so this client needs nothing else.
    client_id: 'orderguard',
    client_secret: 'orderguard-introspection-secret',
    redirect_uris: [],
    grant_types: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  },
];

// Resource servers that get JWT access tokens. Without a resource indicator the access token is
// opaque (only usable at /me and introspection).
const RESOURCES = new Set(['https://orderguard.test', 'https://other.test']);

// ---------------------------------------------------------------------------------------------
// Storage shared by every Provider instance
//
// oidc-provider's built-in memory adapter is a 1000-entry LRU that could evict tokens during a
// long test run. This plain Map lives in the module, so tokens, grants and sessions survive
// a key rotation (which builds a new Provider instance, see below).

const store = new Map(); // `${model}:${id}` -> { payload, expiresAt (ms) | undefined }

function liveEntry(key) {
  const entry = store.get(key);
  if (entry && entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry;
}

class MapAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
    store.set(this.key(id), { payload, expiresAt });
  }

  async find(id) { return liveEntry(this.key(id))?.payload; }

  async findByUid(uid) { // sessions only
    for (const key of store.keys()) {
      const payload = key.startsWith('Session:') && liveEntry(key)?.payload;
      if (payload && payload.uid === uid) return payload;
    }
    return undefined;
  }

  async findByUserCode(userCode) { // device flow only (not enabled), kept for completeness
    for (const key of store.keys()) {
      const payload = key.startsWith(`${this.model}:`) && liveEntry(key)?.payload;
      if (payload && payload.userCode === userCode) return payload;
    }
    return undefined;
  }

  async consume(id) {
    const entry = liveEntry(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const [key, entry] of store) {
      if (entry.payload.grantId === grantId && !key.startsWith('Grant:')) store.delete(key);
    }
  }
}

// Drop expired entries now and then so a long run does not grow without bound.
setInterval(() => { for (const key of store.keys()) liveEntry(key); }, 60_000).unref();

// ---------------------------------------------------------------------------------------------
// Signing keys

let keyGeneration = 0;

// A fresh RS256 key (the default for ID tokens and JWT access tokens) and an ES256 key (offered
// in the JWKS, usable by clients registered for ES256). The kid names the generation so that a
// rotation is easy to see in test output.
function newSigningKeys() {
  keyGeneration += 1;
  const tag = `${keyGeneration}-${crypto.randomBytes(4).toString('hex')}`;
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: `rs256-${tag}`, alg: 'RS256', use: 'sig' },
    { ...ec, kid: `es256-${tag}`, alg: 'ES256', use: 'sig' },
  ];
}

// ---------------------------------------------------------------------------------------------
// Provider configuration

// Per-token access token lifetimes requested through the control API, keyed by authorization
// code: the ttl function below sees the code in the token request.
const ttlByCode = new Map();
const DEFAULT_ACCESS_TOKEN_TTL = 3600;

// Cookie signing keys stay the same across rotations so that nothing in flight breaks.
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

function findAccount(_ctx, sub) {
  if (!Object.hasOwn(ACCOUNTS, sub)) return undefined;
  return {
    accountId: sub,
    // oidc-provider filters these by the granted scopes/claims (phone scope -> phone claims).
    async claims() { return { sub, ...ACCOUNTS[sub] }; },
  };
}

function buildProvider(issuer, jwks) {
  const provider = new Provider(issuer, {
    adapter: MapAdapter,
    clients: CLIENTS,
    jwks: { keys: jwks },
    findAccount,
    cookies: { keys: cookieKeys },
    claims: {
      openid: ['sub'],
      phone: ['phone_number', 'phone_number_verified'],
    },
    scopes: ['openid', 'phone'],
    // Put the phone claims of the granted scope into the ID token too, as many telco CIAMs do, so
    // that an ID token alone can identify the customer's number.
    conformIdTokenClaims: false,
    // No built-in login/consent pages: our handler below serves /interaction/:uid.
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      introspection: {
        enabled: true,
        // Only orderguard may introspect (the shop client gets `{"active": false}`).
        allowedPolicy: async (_ctx, client) => client.clientId === 'orderguard',
      },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf, // no resource -> opaque token
        // Issue the JWT even if the token request repeats no `resource` (the code carries it).
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          if (!RESOURCES.has(resource)) throw new errors.InvalidTarget(); // -> error=invalid_target
          return {
            scope: 'openid phone',
            audience: resource,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // JWT access tokens also carry the customer's phone claims (when the phone scope was
    // granted), so a resource server can decide without calling /me. Opaque tokens do not:
    // their introspection answer stays plain (active, sub, scope, ...) and /me has the claims.
    extraTokenClaims: async (_ctx, token) => {
      if (!token.resourceServer || !token.accountId) return undefined;
      if (!String(token.scope).split(' ').includes('phone')) return undefined;
      const { phone_number, phone_number_verified } = ACCOUNTS[token.accountId] ?? {};
      if (phone_number === undefined) return undefined;
      return { phone_number, phone_number_verified };
    },
    ttl: {
      AccessToken: (ctx) => ttlByCode.get(ctx?.oidc?.params?.code) ?? DEFAULT_ACCESS_TOKEN_TTL,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    clientBasedCORS: () => false, // server-to-server tests only
    renderError: async (ctx, out) => { ctx.type = 'json'; ctx.body = out; },
  });
  provider.on('server_error', (_ctx, err) => log('server_error', err.stack || err));
  return provider;
}

// ---------------------------------------------------------------------------------------------
// Test-only interaction handler: log in `login_hint`, then grant everything requested.

async function handleInteraction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;

  if (prompt.name === 'login') {
    const user = params.login_hint;
    const result = Object.hasOwn(ACCOUNTS, user ?? '')
      ? { login: { accountId: user } }
      : { error: 'access_denied', error_description: `unknown login_hint ${JSON.stringify(user)}` };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }

  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(resource, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  throw new Error(`unexpected prompt ${prompt.name}`);
}

// ---------------------------------------------------------------------------------------------
// The provider's HTTP server: one server for the whole run; the Provider behind it may be
// replaced by a key rotation.

let provider;
let providerCallback;
let currentKeys;
let downUntil = 0;
const stats = { discovery_requests: 0, jwks_requests: 0, introspection_requests: 0, userinfo_requests: 0 };
const STAT_BY_PATH = {
  '/.well-known/openid-configuration': 'discovery_requests',
  '/jwks': 'jwks_requests',
  '/token/introspection': 'introspection_requests',
  '/me': 'userinfo_requests',
};

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

const providerServer = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  // Counted before the outage check: a test may want to see that a client retried while down.
  const stat = STAT_BY_PATH[path];
  if (stat) stats[stat] += 1;

  if (Date.now() < downUntil) {
    res.setHeader('retry-after', String(Math.ceil((downUntil - Date.now()) / 1000)));
    return sendJson(res, 503, { error: 'temporarily_unavailable', error_description: 'identity service down (test)' });
  }

  if (/^\/interaction\/[^/]+$/.test(path) && req.method === 'GET') {
    return handleInteraction(provider, req, res).catch((err) => {
      log('interaction failed:', err.stack || err);
      if (!res.headersSent) sendJson(res, 400, { error: 'interaction_failed', error_description: String(err.message) });
    });
  }
  return providerCallback(req, res);
});

function startProvider(issuer, jwks) {
  provider = buildProvider(issuer, jwks);
  providerCallback = provider.callback();
  currentKeys = jwks;
}

// ---------------------------------------------------------------------------------------------
// A small HTTP client with a cookie jar, to drive the real authorization-code flow.

class CookieJar {
  constructor() { this.cookies = new Map(); }

  // Path scoping is ignored on purpose: sending the provider extra cookies is harmless.
  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))
        || attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) <= Date.now());
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
}

function base64url(buf) { return Buffer.from(buf).toString('base64url'); }

async function mintTokens(issuer, { user, resource, access_token_ttl: ttl }) {
  if (typeof user !== 'string' || !user) throw new HttpError(400, 'user is required');
  if (resource !== undefined && !RESOURCES.has(resource)) throw new HttpError(400, `resource must be one of ${[...RESOURCES].join(', ')}`);
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) throw new HttpError(400, 'access_token_ttl must be a positive integer (seconds)');

  // PKCE is not required for a confidential client by oidc-provider's defaults; we send it
  // anyway, as a well-behaved shop would.
  const verifier = base64url(crypto.randomBytes(32));
  const challenge = base64url(crypto.createHash('sha256').update(verifier).digest());
  const state = base64url(crypto.randomBytes(12));
  const auth = new URL('/auth', issuer);
  auth.search = new URLSearchParams({
    client_id: SHOP.id,
    response_type: 'code',
    redirect_uri: SHOP_REDIRECT_URI,
    scope: 'openid phone',
    login_hint: user,
    state,
    nonce: base64url(crypto.randomBytes(12)),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...(resource ? { resource } : {}),
  });

  // Follow redirects (auth -> interaction -> auth resume -> ...) until the provider sends the
  // browser to the shop's callback; that URL is never fetched.
  const jar = new CookieJar();
  let url = auth.href;
  let callback;
  for (let hop = 0; hop < 10 && !callback; hop += 1) {
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(response);
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      throw new HttpError(502, `authorization flow stopped at ${url}: HTTP ${response.status} ${await response.text()}`);
    }
    const next = new URL(location, url);
    if (next.href.startsWith(SHOP_REDIRECT_URI)) callback = next;
    url = next.href;
  }
  if (!callback) throw new HttpError(502, 'authorization flow did not reach the callback');
  const error = callback.searchParams.get('error');
  if (error) throw new HttpError(400, `${error}: ${callback.searchParams.get('error_description') ?? ''}`);
  if (callback.searchParams.get('state') !== state) throw new HttpError(502, 'state mismatch');
  const code = callback.searchParams.get('code');

  if (ttl !== undefined) ttlByCode.set(code, ttl);
  try {
    const response = await fetch(new URL('/token', issuer), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${SHOP.id}:${SHOP.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: SHOP_REDIRECT_URI,
        code_verifier: verifier,
        ...(resource ? { resource } : {}), // RFC 8707: name the resource again
      }),
    });
    const body = await response.json();
    if (!response.ok) throw new HttpError(502, `token endpoint: HTTP ${response.status} ${JSON.stringify(body)}`);
    const { access_token, id_token, token_type, expires_in } = body;
    return { access_token, id_token, token_type, expires_in };
  } finally {
    ttlByCode.delete(code);
  }
}

// ---------------------------------------------------------------------------------------------
// Control API

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch {
    throw new HttpError(400, 'body must be a JSON object');
  }
}

let issuer;

const control = {
  'POST /tokens': async (body) => mintTokens(issuer, body),

  'POST /rotate-keys': async (body) => {
    // oidc-provider reads its keys once, at construction: rotating means a new Provider
    // instance behind the same server, with the same storage, clients, accounts and cookie
    // keys, so a flow that is half-way through simply goes on with the new instance.
    const previous = currentKeys;
    const keys = newSigningKeys();
    const published = body.keep_old ? [...keys, ...previous] : keys;
    startProvider(issuer, published);
    const kids = (list) => list.map((k) => k.kid);
    log('rotated keys; publishing', kids(published).join(' '));
    return { kids: kids(published), signing_kid: keys[0].kid, previous_kids: kids(previous), old_keys_published: !!body.keep_old };
  },

  'GET /stats': async () => ({ ...stats }),

  'POST /stats/reset': async () => {
    for (const key of Object.keys(stats)) stats[key] = 0;
    return { ...stats };
  },

  'POST /down': async (body) => {
    const { seconds } = body;
    if (typeof seconds !== 'number' || !(seconds >= 0)) throw new HttpError(400, 'seconds must be a number >= 0');
    downUntil = Date.now() + seconds * 1000;
    return { down_until: new Date(downUntil).toISOString() };
  },

  'GET /keys': async () => ({ kids: currentKeys.map((k) => k.kid) }),
};

const controlServer = http.createServer(async (req, res) => {
  const handler = control[`${req.method} ${req.url.split('?')[0]}`];
  if (!handler) return sendJson(res, 404, { error: 'not found', routes: Object.keys(control) });
  try {
    sendJson(res, 200, await handler(await readJson(req)));
  } catch (err) {
    if (!(err instanceof HttpError)) log('control error:', err.stack || err);
    sendJson(res, err.status || 500, { error: err.message });
  }
});

// ---------------------------------------------------------------------------------------------
// Start

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => resolve(server.address().port));
  });
}

try {
  const port = await listen(providerServer, opts.port);
  // The issuer must contain the real port, so the Provider is built once the port is known.
  issuer = `http://${HOST}:${port}`;
  startProvider(issuer, newSigningKeys());
  const controlPort = await listen(controlServer, opts.controlPort);
  process.stdout.write(`ready issuer=${issuer} control=${controlPort}\n`);
} catch (err) {
  log('failed to start:', err.stack || err);
  process.exit(1);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    providerServer.close();
    controlServer.close();
    process.exit(0);
  });
}
