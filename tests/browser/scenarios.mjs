// The browser scenarios. Each runs for one brand on one database target and gets `t`:
//   t.target       'sqlite' | 'postgres'
//   t.demo         { base, credentials, ... } of the running demo
//   t.api          Api client (lib.mjs) with the brands' keys
//   t.brand        brand slug; t.brandName its display name
//   t.customer()   the next demo customer of the brand (round robin, never c-6666 nor a SIM-swapped one)
//   t.firstCustomer the brand's first demo customer
//   t.js, t.nojs   Chromium contexts with JavaScript on / off
//   t.page(ctx, { width, height })  a new page, closed (and screenshotted on failure) afterwards
//   t.note(text)   an extra line printed under the scenario's result
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  ARTIFACTS,
  assert,
  axeViolations,
  formatViolations,
  latestSmsId,
  requireElements,
  sleep,
  smsOf,
  waitUntil,
} from './lib.mjs';
import {
  expectApiStatus,
  expectShopStatus,
  expectText,
  isHostedPage,
  numberOf,
  placeOrder,
  recordNavigations,
  textOf,
  wrongCode,
} from './shop.mjs';

export const SCREENSHOT_DIR = path.join(ARTIFACTS, 'screenshots');
const LOCALES = ['de', 'en'];
const SIZES = { desktop: { width: 1280, height: 800 }, phone: { width: 375, height: 812 } };

/** A hosted page of a new verification started through the API (no shop UI involved). */
async function hostedViaApi(t, locale, customer = t.customer()) {
  const v = await t.api.createVerification(t.brand, customer, { locale });
  assert(v.status === 'pending', `the new verification is ${v.status}, expected pending`);
  assert(typeof v.hosted_url === 'string' && v.hosted_url.startsWith(t.demo.base), `hosted_url is ${v.hosted_url}`);
  return { verification: v, customer, url: v.hosted_url };
}

const withQuery = (url, query) => {
  const u = new URL(url);
  for (const [key, value] of Object.entries(query)) u.searchParams.set(key, value);
  return u.href;
};

const htmlLang = (page) => page.locator('html').getAttribute('lang');

async function seriousViolations(t, page, where) {
  const violations = await axeViolations(page);
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = violations.length - serious.length;
  if (minor > 0) t.note(`${where}: ${minor} minor/moderate axe findings (not failing): ${violations.filter((v) => !serious.includes(v)).map((v) => v.id).join(', ')}`);
  return serious.length === 0 ? null : `${where}:\n${formatViolations(serious)}`;
}

/** Completes a redirect-style order in `ctx` with the right code: ends on the shop with approved. */
async function redirectFlow(t, ctx) {
  const page = await t.page(ctx);
  const navigations = recordNavigations(page);
  const customer = t.customer();
  const order = await placeOrder(t, page, 'redirect', customer);
  const token = new URL(page.url()).pathname.split('/')[2];
  assert(token !== order.verificationId, 'the hosted page URL carries the verification id, not a token');
  await page.fill('#code', order.code);
  await page.click('#confirm');
  await expectShopStatus(t, page, 'approved');
  assert(
    navigations.some((url) => new URL(url).pathname === `/demo/${t.brand}/return`),
    `the shop's return URL was not visited (navigations: ${navigations.join(' → ')})`,
  );
  await expectApiStatus(t, order.verificationId, 'approved');
}

export const scenarios = [
  {
    name: 'hosted-page-elements',
    async run(t) {
      const { url, customer } = await hostedViaApi(t, 'en');
      const page = await t.page(t.js);
      await page.goto(url);
      await requireElements(
        page,
        [
          '#order-summary', '#amount', '#payee', '#phone-hint', '#check-form #code', '#check-form #confirm', '#attempts',
          '#notice', '#resend', '#resend-wait', '#cancel', '#expires-in', 'a[hreflang=de]', 'a[hreflang=en]',
        ],
        'the hosted page',
      );
      const problems = [];
      const summary = await textOf(page, '#order-summary');
      if (!summary.includes('SIM only')) problems.push(`#order-summary does not list the item: ${JSON.stringify(summary)}`);
      const amount = await textOf(page, '#amount');
      if (!/19[.,]99/.test(amount)) problems.push(`#amount is ${JSON.stringify(amount)}, expected 19.99`);
      const payee = await textOf(page, '#payee');
      if (!payee.includes(t.brandName)) problems.push(`#payee is ${JSON.stringify(payee)}, expected ${t.brandName}`);
      const hint = await textOf(page, '#phone-hint');
      if (!hint.includes(customer.phone.slice(-2)) || hint.includes(customer.phone.slice(-6))) {
        problems.push(`#phone-hint ${JSON.stringify(hint)} is not a masked ${customer.phone}`);
      }
      const code = page.locator('#code');
      if ((await code.getAttribute('autocomplete')) !== 'one-time-code') problems.push('#code lacks autocomplete=one-time-code');
      if ((await code.getAttribute('inputmode')) !== 'numeric') problems.push('#code lacks inputmode=numeric');
      if ((await numberOf(page, '#attempts')) !== 5) problems.push(`#attempts is ${await textOf(page, '#attempts')}, expected 5`);
      const notice = page.locator('#notice');
      const live = (await notice.getAttribute('aria-live')) ?? (await notice.getAttribute('role'));
      if (!live) problems.push('#notice is not an aria-live region');
      if (!/\d/.test(await textOf(page, '#expires-in'))) problems.push(`#expires-in shows no time: ${JSON.stringify(await textOf(page, '#expires-in'))}`);
      assert(problems.length === 0, problems.join('; '));
    },
  },
  {
    name: 'redirect-approve',
    run: (t) => redirectFlow(t, t.js),
  },
  ...[['wrong-code', 'js'], ['wrong-code-nojs', 'nojs']].map(([name, context]) => ({
    name,
    async run(t) {
      const page = await t.page(t[context]);
      const order = await placeOrder(t, page, 'redirect', t.customer());
      await requireElements(page, ['#attempts', '#notice'], 'the hosted page');
      const before = await numberOf(page, '#attempts');
      assert(before === 5, `#attempts starts at ${before}, expected 5`);
      await page.fill('#code', wrongCode(order.code));
      await page.click('#confirm');
      await waitUntil(async () => (await numberOf(page, '#attempts')) === before - 1, {
        what: `#attempts to drop to ${before - 1}`,
        describe: async () => `#attempts reads ${JSON.stringify(await textOf(page, '#attempts'))} on ${page.url()}`,
      });
      assert(isHostedPage(page.url()), `left the hosted page for ${page.url()}`);
      const notice = await textOf(page, '#notice');
      assert(notice, `#notice shows no error after a wrong code (${JSON.stringify(notice)})`);
      assert(notice.includes(String(before - 1)), `#notice does not name the attempts left: ${JSON.stringify(notice)}`);
      await expectApiStatus(t, order.verificationId, 'pending');
    },
  })),
  {
    name: 'resend-cooldown-js',
    async run(t) {
      const page = await t.page(t.js);
      await placeOrder(t, page, 'redirect', t.customer());
      await requireElements(page, ['#resend', '#resend-wait'], 'the hosted page');
      await waitUntil(() => page.locator('#resend').isDisabled(), { what: '#resend to be disabled during the cooldown' });
      const wait = await numberOf(page, '#resend-wait');
      assert(wait > 0 && wait <= 30, `#resend-wait is ${wait}, expected 1..30 s`);
    },
  },
  {
    name: 'resend-cooldown-nojs',
    async run(t) {
      const page = await t.page(t.nojs);
      const order = await placeOrder(t, page, 'redirect', t.customer());
      await requireElements(page, ['#resend', '#notice'], 'the hosted page');
      await page.click('#resend');
      await page.waitForLoadState('load');
      await waitUntil(async () => Boolean(await textOf(page, '#notice')), {
        what: 'a notice about the cooldown in #notice',
        describe: async () => `#notice reads ${JSON.stringify(await textOf(page, '#notice'))} on ${page.url()}`,
      });
      await sleep(1_000);
      const sent = await smsOf(t.demo.base, order.verificationId);
      assert(sent.length === 1, `${sent.length} SMS for the verification after a too-early resend, expected 1`);
    },
  },
  ...[['cancel', 'js'], ['cancel-nojs', 'nojs']].map(([name, context]) => ({
    name,
    async run(t) {
      const page = await t.page(t[context]);
      page.on('dialog', (dialog) => dialog.accept());
      const order = await placeOrder(t, page, 'redirect', t.customer());
      await requireElements(page, ['#cancel'], 'the hosted page');
      await page.click('#cancel');
      await expectShopStatus(t, page, 'canceled');
      await expectApiStatus(t, order.verificationId, 'canceled');
    },
  })),
  {
    name: 'iframe-approve',
    async run(t) {
      const page = await t.page(t.js);
      const messages = [];
      await page.exposeFunction('__ogReport', (message) => messages.push(message));
      await page.addInitScript(() => {
        window.addEventListener('message', (event) => {
          // eslint-disable-next-line no-undef
          if (window === window.top) window.__ogReport({ origin: event.origin, data: event.data });
        });
      });
      const navigations = recordNavigations(page);
      const order = await placeOrder(t, page, 'iframe', t.customer());
      await requireElements(page, ['iframe#orderguard-frame'], "the shop's order page (iframe style)");
      const iframe = page.locator('iframe#orderguard-frame');
      await iframe.waitFor({ state: 'visible' });
      const src = new URL(await iframe.getAttribute('src'), page.url());
      assert(isHostedPage(src.href) && src.searchParams.get('embed') === '1', `the frame's src is ${src.href}, expected the hosted page with embed=1`);
      const frame = page.frameLocator('iframe#orderguard-frame');
      await frame.locator('#code').fill(order.code);
      await frame.locator('#confirm').click();
      const message = await waitUntil(
        () => messages.find((m) => m.data && m.data.source === 'orderguard' && m.data.status === 'approved'),
        { what: 'the postMessage {source: "orderguard", status: "approved"} in the shop page', describe: () => `received ${JSON.stringify(messages)}` },
      );
      assert(message.origin === t.demo.base, `the message came from ${message.origin}, expected ${t.demo.base}`);
      assert(message.data.verification_id === order.verificationId, `the message names verification ${message.data.verification_id}, expected ${order.verificationId}`);
      await expectShopStatus(t, page, 'approved');
      assert(
        navigations.some((url) => new URL(url).pathname === `/demo/${t.brand}/return`),
        `the shop page did not go to its return URL (navigations: ${navigations.join(' → ')})`,
      );
      await expectApiStatus(t, order.verificationId, 'approved');
    },
  },
  {
    name: 'foreign-framing-blocked',
    async run(t) {
      const { url } = await hostedViaApi(t, 'en');
      // Control: the same URL renders when opened directly.
      const direct = await t.page(t.js);
      await direct.goto(url);
      assert((await direct.locator('#code').count()) === 1, 'the hosted page does not render even when opened directly');
      const framed = [withQuery(url, { embed: '1' }), url];
      const html = `<!doctype html><html lang="en"><head><title>attacker</title></head><body><h1>attacker</h1>${framed
        .map((src, i) => `<iframe id="f${i}" src="${src.replace(/&/g, '&amp;')}" width="600" height="400"></iframe>`)
        .join('')}</body></html>`;
      const server = http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(html);
      });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = server.address();
        const page = await t.page(t.js);
        const logs = [];
        page.on('console', (m) => logs.push(m.text()));
        await page.goto(`http://attacker.localhost:${port}/`);
        assert((await textOf(page, 'h1')) === 'attacker', 'the attacker page did not load');
        await waitUntil(() => page.frames().length >= 1 + framed.length, { what: 'the iframes', describe: () => `${page.frames().length - 1} frames` });
        await sleep(500);
        const rendered = [];
        for (const frame of page.frames()) {
          if (frame === page.mainFrame()) continue;
          const count = await frame.locator('#code').count().catch(() => 0);
          if (count > 0) rendered.push(frame.url());
        }
        assert(rendered.length === 0, `a page on http://attacker.localhost could frame the hosted page: ${rendered.join(', ')}`);
        const blocked = [...new Set(logs.filter((text) => /frame-ancestors|X-Frame-Options/i.test(text)).map((text) => text.replace(/\s+/g, ' ').trim()))];
        t.note(`Chromium: ${blocked.length ? blocked.join(' | ') : '(no console report of the block)'}`);
      } finally {
        server.close();
      }
    },
  },
  {
    name: 'redirect-approve-nojs',
    run: (t) => redirectFlow(t, t.nojs),
  },
  {
    name: 'own-form-approve',
    async run(t) {
      const page = await t.page(t.js);
      const order = await placeOrder(t, page, 'own', t.customer());
      await expectText(page, '#status', 'pending');
      await page.fill('#code', order.code);
      await page.click('#confirm');
      await expectShopStatus(t, page, 'approved');
      await expectApiStatus(t, order.verificationId, 'approved');
    },
  },
  {
    name: 'language-links',
    async run(t) {
      const { url } = await hostedViaApi(t, 'de');
      const page = await t.page(t.js);
      await page.goto(url);
      assert((await htmlLang(page)) === 'de', `a verification in de shows lang=${await htmlLang(page)}`);
      await requireElements(page, ['a[hreflang=en]', 'a[hreflang=de]'], 'the hosted page');
      await page.click('a[hreflang=en]');
      await waitUntil(async () => (await htmlLang(page)) === 'en', { what: 'lang=en after the English link', describe: async () => `lang=${await htmlLang(page)} at ${page.url()}` });
      await page.click('a[hreflang=de]');
      await waitUntil(async () => (await htmlLang(page)) === 'de', { what: 'lang=de after the German link', describe: async () => `lang=${await htmlLang(page)} at ${page.url()}` });
      await page.goto(withQuery(url, { lang: 'en' }));
      assert((await htmlLang(page)) === 'en', `?lang=en shows lang=${await htmlLang(page)}`);
    },
  },
  {
    name: 'a11y-hosted-page',
    async run(t) {
      const { url } = await hostedViaApi(t, 'de');
      const page = await t.page(t.js);
      const failures = [];
      for (const locale of LOCALES) {
        await page.goto(withQuery(url, { lang: locale }));
        const lang = await htmlLang(page);
        if (lang !== locale) failures.push(`hosted page ?lang=${locale} has lang=${lang}`);
        const serious = await seriousViolations(t, page, `hosted page (${locale})`);
        if (serious) failures.push(serious);
      }
      assert(failures.length === 0, failures.join('\n'));
    },
  },
  {
    name: 'a11y-shop-page',
    async run(t) {
      const page = await t.page(t.js);
      await page.goto(`${t.demo.base}/demo/${t.brand}`);
      const serious = await seriousViolations(t, page, 'demo shop');
      assert(!serious, serious);
    },
  },
  {
    name: 'narrow-320px-and-zoom-200',
    async run(t) {
      const { url } = await hostedViaApi(t, 'de');
      const failures = [];
      // 320 CSS px: a small phone; 640 CSS px at twice the pixel density: a 1280 px window at 200% zoom.
      for (const [width, scale] of [[320, 1], [640, 2]]) {
        const page = await t.page(t.js, { width, height: 640 });
        if (scale !== 1) {
          const session = await page.context().newCDPSession(page);
          await session.send('Emulation.setDeviceMetricsOverride', { width, height: 400, deviceScaleFactor: scale, mobile: false });
        }
        for (const locale of LOCALES) {
          await page.goto(withQuery(url, { lang: locale }));
          const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
          if (scrollWidth > width) failures.push(`hosted page (${locale}) is ${scrollWidth} px wide at ${width} px × ${scale} (horizontal scroll)`);
          const visible = await page.locator('#confirm').isVisible();
          if (!visible) failures.push(`the confirm button is not visible at ${width} px × ${scale} (${locale})`);
        }
      }
      assert(failures.length === 0, failures.join('; '));
    },
  },
  {
    // The demo's gateway says this customer's SIM was swapped three hours ago: the shop's order is
    // refused before any SMS, and the shop shows why.
    name: 'sim-swapped-customer-is-refused',
    async run(t) {
      const customer = t.demo.credentials.customers.find((c) => c.brand === t.brand && c.sim_swapped);
      assert(customer, `the demo marks no customer of ${t.brand} as sim_swapped`);
      const before = await latestSmsId(t.demo.base, customer.phone);
      const page = await t.page(t.js);
      await page.goto(`${t.demo.base}/demo/${t.brand}`);
      const label = await page.locator(`#customer option[value="${customer.id}"]`).textContent();
      assert(/SIM/.test(label), `the shop does not mark ${customer.id} as SIM-swapped: ${label}`);
      await page.locator('#order-form input[name=sku]').first().check();
      await page.selectOption('#customer', customer.id);
      await page.check('#order-form input[name=style][value=own]');
      await page.click('#place-order');
      await expectShopStatus(t, page, 'blocked');
      const reasons = await textOf(page, '#reasons');
      assert(reasons.split(', ').includes('sim_swap_recent'), `the shop gives no SIM swap reason: ${reasons}`);
      fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, `shop-${t.brand}-sim-swap.png`), fullPage: true });
      await sleep(300);
      assert((await latestSmsId(t.demo.base, customer.phone)) === before, 'an SMS went to the swapped SIM');
    },
  },
  {
    name: 'screenshots',
    screenshots: true,
    async run(t) {
      fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
      for (const locale of LOCALES) {
        // Always the brand's first demo customer, so that the pictures stay comparable from run to run.
        const { url } = await hostedViaApi(t, locale, t.firstCustomer);
        for (const [size, viewport] of Object.entries(SIZES)) {
          const page = await t.page(t.js, viewport);
          await page.goto(withQuery(url, { lang: locale }));
          const file = path.join(SCREENSHOT_DIR, `${t.brand}-${locale}-${size}.png`);
          await page.screenshot({ path: file, fullPage: true });
        }
      }
    },
  },
];
