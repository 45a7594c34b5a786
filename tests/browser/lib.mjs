// Helpers of the browser tests: the demo server, PostgreSQL schemas, the SMS outbox, the API,
// Chromium and small waiting utilities. No test logic here (see scenarios.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
export const ARTIFACTS = path.join(ROOT, 'artifacts');

/** How long any single wait may take before the step fails. */
export const STEP_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Clean-up registry: whatever is started is stopped at the end, on failure and on Ctrl-C.

const cleanups = [];

/** Registers `fn` to run at the end (last registered runs first); returns an unregister function. */
export function onCleanup(fn) {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

export async function runCleanups() {
  while (cleanups.length > 0) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (error) {
      console.error(`clean-up failed: ${error.message}`);
    }
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    await runCleanups();
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------------------------
// Small utilities.

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with `what timed out` when `promise` takes longer than `ms`. */
export async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** An error that ends a waitUntil at once (other errors count as "not yet"). */
export class Fatal extends Error {}

/**
 * Polls `probe` until it returns a value other than undefined/false, for at most `ms`.
 * `describe()` tells what was last seen, for the error message. Errors thrown by `probe` (for
 * example "execution context was destroyed" during a navigation) count as "not yet".
 */
export async function waitUntil(probe, { ms = STEP_TIMEOUT_MS, every = 100, what = 'condition', describe } = {}) {
  const deadline = Date.now() + ms;
  let lastError;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false && value !== null) return value;
      lastError = undefined;
    } catch (error) {
      if (error instanceof Fatal) throw error;
      lastError = error;
    }
    if (Date.now() >= deadline) {
      let seen = '';
      if (describe) {
        try {
          seen = `; ${await describe()}`;
        } catch (error) {
          seen = `; (could not describe: ${firstLine(error.message)})`;
        }
      }
      const err = lastError ? ` (last error: ${firstLine(lastError.message)})` : '';
      throw new Error(`waited ${ms / 1000} s for ${what}${seen}${err}`);
    }
    await sleep(every);
  }
}

export function firstLine(text) {
  return String(text ?? '').split('\n').find((line) => line.trim() !== '')?.trim() ?? '';
}

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * Fails at once, naming every selector of `selectors` that `pageOrFrame` lacks (for server-rendered
 * elements: waiting for them would only turn a missing element into a 10 s timeout).
 */
export async function requireElements(pageOrFrame, selectors, where) {
  const missing = [];
  for (const selector of selectors) {
    if ((await pageOrFrame.locator(selector).count()) === 0) missing.push(selector);
  }
  if (missing.length > 0) throw new Error(`${where} lacks ${missing.join(', ')}`);
}

export function randomSuffix() {
  return randomBytes(5).toString('hex');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function mkTemp(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: a fresh schema per run, dropped at the end.

function psql(url, sql) {
  const result = spawnSync('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.error) throw new Error(`psql: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`psql -c '${sql}': ${firstLine(result.stderr) || `exit ${result.status}`}`);
}

/** Creates schema og_browser_<random>; returns the database URL that uses it and a drop function. */
export function createPgSchema(baseUrl) {
  const schema = `og_browser_${randomSuffix()}`;
  psql(baseUrl, `CREATE SCHEMA ${schema}`);
  const drop = () => psql(baseUrl, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  const unregister = onCleanup(drop);
  const sep = baseUrl.includes('?') ? '&' : '?';
  const url = `${baseUrl}${sep}options=-c%20search_path%3D${schema}`;
  return {
    schema,
    url,
    drop: () => {
      unregister();
      drop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The demo server.

export function orderguardBin() {
  const bin = process.env.ORDERGUARD_BIN || path.join(process.env.CARGO_TARGET_DIR || 'target', 'debug', 'orderguard');
  return path.resolve(ROOT, bin);
}

function tail(file, lines = 20) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts `orderguard demo` on a free port with a fresh data folder (and `--database url` when
 * given); resolves when demo-credentials.json exists and /readyz answers 200.
 */
export async function startDemo({ database, label }) {
  const bin = orderguardBin();
  if (!fs.existsSync(bin)) throw new Error(`no orderguard binary at ${bin} (set ORDERGUARD_BIN or run cargo build)`);
  const port = await freePort();
  const dataDir = mkTemp(`og-browser-${label}-`);
  const logFile = path.join(dataDir, 'demo.log');
  const log = fs.openSync(logFile, 'a');
  // A week of simulated history: enough for every dashboard, quick in a debug build.
  const args = ['demo', '--listen', `127.0.0.1:${port}`, '--data', dataDir, '--history-days', '7'];
  if (database) args.push('--database', database);
  const child = spawn(bin, args, { stdio: ['ignore', log, log], env: { ...process.env, NO_COLOR: '1' } });
  fs.closeSync(log);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const deadline = Date.now() + 5_000;
    while (!exited && Date.now() < deadline) await sleep(50);
    if (!exited) child.kill('SIGKILL');
  };
  const unregister = onCleanup(stop);
  const credentialsFile = path.join(dataDir, 'demo-credentials.json');
  const base = `http://127.0.0.1:${port}`;
  try {
    const credentials = await waitUntil(
      async () => {
        if (exited) throw new Fatal(`orderguard demo exited (${exited.code ?? exited.signal})`);
        if (!fs.existsSync(credentialsFile)) return undefined;
        const creds = JSON.parse(fs.readFileSync(credentialsFile, 'utf8'));
        const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2_000) });
        return ready.status === 200 ? creds : undefined;
      },
      { ms: 180_000, every: 100, what: `orderguard demo (${label}) to be ready` },
    );
    return {
      label,
      base: (credentials.base_url || base).replace(/\/$/, ''),
      credentials,
      dataDir,
      logFile,
      stop: async () => {
        unregister();
        await stop();
      },
    };
  } catch (error) {
    await stop();
    unregister();
    const why = exited ? `orderguard demo exited (${exited.code ?? exited.signal})` : firstLine(error.message);
    const message = `${why}; ${bin} ${args.join(' ')}\n--- its output ---\n${tail(logFile)}`;
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw new Error(message);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers: the SMS outbox and the API.

async function getJson(url, { headers = {}, ms = STEP_TIMEOUT_MS } = {}) {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(ms) });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

/** The one-time code of an SMS: the digits after the last '#'. */
export function codeOf(text) {
  const match = /#(\d+)[^#]*$/.exec(text);
  if (!match) throw new Error(`no code in SMS text ${JSON.stringify(text)}`);
  return match[1];
}

export function outbox(base, query) {
  const qs = new URLSearchParams(query).toString();
  return getJson(`${base}/dev/outbox.json?${qs}`, { ms: STEP_TIMEOUT_MS + 6_000 });
}

/** The id of the newest SMS to `phone`, or null. */
export async function latestSmsId(base, phone) {
  const [latest] = await outbox(base, { to: phone, limit: 1 });
  return latest?.id ?? null;
}

/** Waits for an SMS to `phone` newer than the one with id `before`; returns it. */
export function waitNewSms(base, phone, before, ms = STEP_TIMEOUT_MS) {
  return waitUntil(
    async () => {
      const [latest] = await outbox(base, { to: phone, limit: 1 });
      return latest && latest.id !== before ? latest : undefined;
    },
    { ms, every: 150, what: `a new SMS to ${phone} in the outbox` },
  );
}

/** Every SMS of one verification (newest first). */
export function smsOf(base, verificationId, limit = 20) {
  return outbox(base, { verification_id: verificationId, limit });
}

export class Api {
  constructor(base, credentials) {
    this.base = base;
    this.keys = Object.fromEntries(credentials.brands.map((b) => [b.slug, b.api_key]));
  }

  async request(method, brand, pathname, body) {
    const headers = { Authorization: `Bearer ${this.keys[brand]}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(`${this.base}${pathname}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${pathname}: ${response.status} ${text.slice(0, 300)}`);
    return JSON.parse(text);
  }

  /** Starts a verification for a small order (a SIM card) of `customer`; the shop's return page is the return URL. */
  createVerification(brand, customer, { locale = 'en', returnUrl, deviceId, ip = '127.0.0.1' } = {}) {
    const orderId = `BT-${randomSuffix()}`;
    return this.request('POST', brand, '/v1/verifications', {
      order: {
        id: orderId,
        amount: '19.99',
        currency: 'EUR',
        items: [{ sku: 'SIM-ONLY-20', name: 'SIM only, 20 GB', quantity: 1, unit_price: '19.99', hardware: false }],
        shipping_country: customer.phone.startsWith('+44') ? 'GB' : customer.phone.startsWith('+43') ? 'AT' : 'DE',
      },
      customer: { id: customer.id },
      locale,
      client: { ip, user_agent: 'orderguard-browser-tests', ...(deviceId ? { device_id: deviceId } : {}) },
      return_url: returnUrl ?? `${this.base}/demo/${brand}/return`,
    });
  }

  getVerification(brand, id) {
    return this.request('GET', brand, `/v1/verifications/${encodeURIComponent(id)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Chromium.

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Everything the tests open is on this machine: never send it through a proxy from the environment.
  '--no-proxy-server',
];

export function chromiumPath() {
  return process.env.CHROMIUM_BIN || '/usr/bin/chromium';
}

/** A persistent Chromium context in a fresh profile folder (removed again at the end). */
export async function launchContext({ javaScriptEnabled = true } = {}) {
  const executablePath = chromiumPath();
  if (!fs.existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath} (apt-get install chromium)`);
  const profile = mkTemp('og-browser-profile-');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    args: CHROMIUM_ARGS,
    javaScriptEnabled,
    viewport: { width: 1280, height: 800 },
    timeout: 30_000,
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  };
  const unregister = onCleanup(close);
  return {
    context,
    close: async () => {
      unregister();
      await close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// axe-core.

let axeSource;

/** Runs axe-core in `page` (injected with evaluate: the pages' CSP blocks script tags); returns the violations. */
export async function axeViolations(page) {
  axeSource ??= fs.readFileSync(path.join(HERE, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    }));
  });
}

/** Readable lines for axe violations. */
export function formatViolations(violations) {
  const lines = [];
  for (const v of violations) {
    lines.push(`[${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})`);
    for (const node of v.nodes.slice(0, 5)) {
      lines.push(`    at ${node.target}: ${(node.summary ?? '').replace(/\s*\n\s*/g, ' ')}`);
    }
    if (v.nodes.length > 5) lines.push(`    … and ${v.nodes.length - 5} more elements`);
  }
  return lines.join('\n');
}
