// orderguard's browser tests: the demo shops and the hosted verification page in headless Chromium
// (Debian's /usr/bin/chromium, driven by playwright-core).
//
//   node tests/browser/run.mjs
//
// Builds nothing: runs the binary at ORDERGUARD_BIN (default target/debug/orderguard in the
// repository). Runs every scenario for every brand of the demo on SQLite and, when
// TEST_DATABASE_URL is set, on PostgreSQL too (in a fresh schema, dropped afterwards).
// Prints one line per scenario and exits non-zero if any failed. Screenshots of the hosted page go
// to artifacts/screenshots/, screenshots of failed scenarios to artifacts/browser-failures/.
//
// Environment: ORDERGUARD_BIN, CHROMIUM_BIN (default /usr/bin/chromium), TEST_DATABASE_URL,
// BROWSER_TEST_FILTER (a regular expression matched against "<target> <brand> <scenario>").
import fs from 'node:fs';
import path from 'node:path';
import {
  Api,
  ARTIFACTS,
  createPgSchema,
  firstLine,
  launchContext,
  orderguardBin,
  runCleanups,
  startDemo,
  withTimeout,
} from './lib.mjs';
import { adminScenarios } from './admin.mjs';
import { scenarios, SCREENSHOT_DIR } from './scenarios.mjs';

const SCENARIO_TIMEOUT_MS = 60_000;
const FAILURE_DIR = path.join(ARTIFACTS, 'browser-failures');
const BRAND_NAMES = { nordtel: 'Nordtel', skyline: 'Skyline Mobile' };

const filter = process.env.BROWSER_TEST_FILTER ? new RegExp(process.env.BROWSER_TEST_FILTER) : null;
const selected = (target, brand, name) => !filter || filter.test(`${target} ${brand} ${name}`);
const results = { passed: 0, failed: 0, failures: [] };
const started = Date.now();

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** The message of an error, without Playwright's long call logs (keeps their first two steps). */
function describeError(error) {
  const text = String(error?.message ?? error).replace(/\u001b\[[0-9;]*m/g, '');
  const lines = text.split('\n');
  const log = lines.findIndex((line) => line.trim() === 'Call log:');
  if (log < 0) return lines.filter((line) => line.trim() !== '').join('\n');
  const head = lines.slice(0, log).filter((line) => line.trim() !== '');
  const steps = lines.slice(log + 1).filter((line) => line.trim() !== '').slice(0, 2).map((line) => line.trim());
  return [...head, ...steps.map((step) => `  ${step}`)].join('\n');
}

function report(ok, label, ms, detail, notes) {
  const [first, ...rest] = (detail ?? '').split('\n');
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${label} (${seconds(ms)})${ok ? '' : `: ${first}`}`);
  for (const line of rest) console.log(`       ${line}`);
  for (const note of notes ?? []) console.log(`       note: ${note}`);
  if (ok) results.passed += 1;
  else {
    results.failed += 1;
    results.failures.push(label);
  }
}

/** Round robin over the brand's demo customers (never a premium-rate number, which is denied, nor
 * one whose SIM the demo's gateway says was swapped, which is refused). */
function customerPicker(credentials, brand) {
  const customers = credentials.customers.filter((c) => c.brand === brand && !c.pumping && !c.sim_swapped);
  if (customers.length === 0) throw new Error(`no demo customers of ${brand} in demo-credentials.json`);
  let next = 0;
  return () => customers[next++ % customers.length];
}

async function runScenario(scenario, base) {
  const label = `[${base.target}] ${base.brand} ${scenario.name}`;
  if (!selected(base.target, base.brand, scenario.name)) return;
  const pages = [];
  const notes = [];
  const t = {
    ...base,
    note: (text) => notes.push(text),
    page: async (context, viewport) => {
      const page = await context.newPage();
      pages.push(page);
      if (viewport) await page.setViewportSize(viewport);
      return page;
    },
  };
  await Promise.all([t.js.clearCookies(), t.nojs.clearCookies()]);
  const start = Date.now();
  let error = null;
  try {
    await withTimeout(scenario.run(t), scenario.timeoutMs ?? SCENARIO_TIMEOUT_MS, scenario.name);
  } catch (e) {
    error = e;
  }
  const ms = Date.now() - start;
  if (error) {
    fs.mkdirSync(FAILURE_DIR, { recursive: true });
    for (const [i, page] of pages.entries()) {
      if (page.isClosed()) continue;
      const file = path.join(FAILURE_DIR, `${base.target}-${base.brand}-${scenario.name}-${i + 1}.png`);
      if (await page.screenshot({ path: file, fullPage: true, timeout: 5_000 }).then(() => true, () => false)) {
        notes.push(`screenshot of ${page.url()}: ${path.relative(process.cwd(), file)}`);
      }
    }
  }
  await Promise.all(pages.map((page) => page.close().catch(() => {})));
  report(!error, label, ms, error ? describeError(error) : null, notes);
}

async function runTarget(target, contexts) {
  // With a filter, a target none of whose scenarios is selected is not even started (the demo's brands are
  // only known once it runs: this looks at the usual ones).
  const wanted =
    Object.keys(BRAND_NAMES).some((brand) => scenarios.some((sc) => selected(target, brand, sc.name))) ||
    adminScenarios.some((sc) => selected(target, 'admin', sc.name));
  if (!wanted) return;
  let schema = null;
  let demo = null;
  const start = Date.now();
  try {
    let database;
    if (target === 'postgres') {
      schema = createPgSchema(process.env.TEST_DATABASE_URL);
      database = schema.url;
    }
    demo = await startDemo({ database, label: target });
  } catch (error) {
    if (schema) schema.drop();
    report(false, `[${target}] start the demo`, Date.now() - start, describeError(error));
    return;
  }
  try {
    const api = new Api(demo.base, demo.credentials);
    // The brands with demo shops; the others only take part in the simulation.
    const brands = demo.credentials.brands.map((b) => b.slug).filter((slug) => slug in BRAND_NAMES);
    console.log(`# ${target}: demo at ${demo.base} (data ${demo.dataDir}${schema ? `, schema ${schema.schema}` : ''}), brands ${brands.join(', ')}`);
    // First the dashboards, while they hold the simulated history only.
    for (const scenario of adminScenarios) {
      await runScenario(scenario, { target, demo, api, brand: 'admin', js: contexts.js, nojs: contexts.nojs });
    }
    for (const brand of brands) {
      const base = {
        target,
        demo,
        api,
        brand,
        brandName: BRAND_NAMES[brand] ?? brand,
        customer: customerPicker(demo.credentials, brand),
        firstCustomer: customerPicker(demo.credentials, brand)(),
        js: contexts.js,
        nojs: contexts.nojs,
      };
      for (const scenario of scenarios) {
        // Screenshots only once (on the first target): they show the page, not the database.
        if (scenario.screenshots && target !== 'sqlite') continue;
        await runScenario(scenario, base);
      }
    }
  } finally {
    await demo.stop();
    if (schema) {
      try {
        schema.drop();
      } catch (error) {
        console.log(`warning: could not drop schema ${schema.schema}: ${firstLine(error.message)}`);
      }
    }
    fs.rmSync(demo.dataDir, { recursive: true, force: true });
  }
}

async function main() {
  console.log(`browser tests: orderguard ${orderguardBin()}`);
  fs.rmSync(FAILURE_DIR, { recursive: true, force: true });
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  if (!filter) {
    for (const file of fs.readdirSync(SCREENSHOT_DIR)) {
      if (file.endsWith('.png')) fs.rmSync(path.join(SCREENSHOT_DIR, file));
    }
  }
  const targets = ['sqlite'];
  if (process.env.TEST_DATABASE_URL) targets.push('postgres');
  else console.log('# TEST_DATABASE_URL is not set: PostgreSQL is skipped');

  let contexts;
  try {
    const [js, nojs] = await Promise.all([launchContext(), launchContext({ javaScriptEnabled: false })]);
    contexts = { js: js.context, nojs: nojs.context, close: () => Promise.all([js.close(), nojs.close()]) };
    console.log(`# Chromium ${js.context.browser()?.version() ?? ''}`.trimEnd());
  } catch (error) {
    report(false, 'launch Chromium', Date.now() - started, describeError(error));
    return;
  }
  try {
    for (const target of targets) await runTarget(target, contexts);
  } finally {
    await contexts.close();
  }
}

try {
  await main();
} catch (error) {
  report(false, 'browser test harness', Date.now() - started, describeError(error));
} finally {
  await runCleanups();
}

const shots = fs.existsSync(SCREENSHOT_DIR) ? fs.readdirSync(SCREENSHOT_DIR).filter((f) => f.endsWith('.png')).length : 0;
console.log(`# ${shots} screenshots in ${path.relative(process.cwd(), SCREENSHOT_DIR) || SCREENSHOT_DIR}, took ${seconds(Date.now() - started)}`);
if (results.failed > 0) console.log(`# failed: ${results.failures.join(', ')}`);
console.log(`browser: ${results.passed} passed, ${results.failed} failed`);
process.exit(results.failed > 0 ? 1 : 0);
