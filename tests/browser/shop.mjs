// Steps in the demo shop and on the hosted verification page, shared by the scenarios.
import { assert, codeOf, latestSmsId, requireElements, STEP_TIMEOUT_MS, waitNewSms, waitUntil } from './lib.mjs';

const pathOf = (url) => new URL(url).pathname;

/** True when `url` is the hosted verification page (`/v/{token}`). */
export const isHostedPage = (url) => /^\/v\/[^/]+$/.test(pathOf(url));

/** True when `url` is an order page of the demo shop of `slug`. */
export const isShopOrderPage = (url, slug) => pathOf(url).startsWith(`/demo/${slug}/orders/`);

/**
 * Places an order in the demo shop of t.brand with the given checkout `style` (own, redirect,
 * iframe), for `customer`; waits for the page the style leads to and for the SMS. Returns
 * { verificationId, code, sms }.
 */
export async function placeOrder(t, page, style, customer) {
  const { base } = t.demo;
  const before = await latestSmsId(base, customer.phone);
  await page.goto(`${base}/demo/${t.brand}`);
  await requireElements(
    page,
    ['#order-form', '#order-form input[name=sku]', '#customer', `#order-form input[name=style][value=${style}]`, '#place-order'],
    `the shop page /demo/${t.brand}`,
  );
  await page.locator('#order-form input[name=sku]').first().check();
  await page.selectOption('#customer', customer.id);
  await page.check(`#order-form input[name=style][value=${style}]`);
  await page.click('#place-order');
  if (style === 'redirect') {
    await page.waitForURL(isHostedPage);
    await requireElements(page, ['#check-form', '#code', '#confirm'], 'the hosted page');
  } else {
    await page.waitForURL((url) => isShopOrderPage(url, t.brand));
    if (style === 'own') await requireElements(page, ['#code', '#confirm', '#status'], "the shop's order page (own style)");
  }
  const sms = await waitNewSms(base, customer.phone, before);
  assert(sms.brand === t.brand, `the SMS is from brand ${sms.brand}, expected ${t.brand}`);
  return { verificationId: sms.verification_id, code: codeOf(sms.text), sms };
}

/** A code that is certainly wrong. */
export const wrongCode = (code) => (code === '000000' ? '111111' : '000000');

/** The trimmed text of the first element matching `selector`, or null when there is none. */
export async function textOf(pageOrFrame, selector) {
  const locator = pageOrFrame.locator(selector).first();
  if ((await locator.count()) === 0) return null;
  return (await locator.textContent())?.trim() ?? '';
}

/** Waits until `selector` has the text `expected` (exactly, after trimming). */
export async function expectText(pageOrFrame, selector, expected, ms = STEP_TIMEOUT_MS) {
  const page = typeof pageOrFrame.page === 'function' ? pageOrFrame.page() : pageOrFrame;
  await waitUntil(async () => (await textOf(pageOrFrame, selector)) === expected, {
    ms,
    what: `${selector} to read "${expected}"`,
    describe: async () => `it reads ${JSON.stringify(await textOf(pageOrFrame, selector))} on ${page.url()}`,
  });
}

/** Waits until the browser is back on the shop's order page and `#status` reads `expected`. */
export async function expectShopStatus(t, page, expected) {
  await waitUntil(() => isShopOrderPage(page.url(), t.brand), {
    what: `the shop's order page`,
    describe: () => `the page is at ${page.url()}`,
  });
  await expectText(page, '#status', expected);
}

/** Asserts via the API that the verification has `status` (the page is not the only witness). */
export async function expectApiStatus(t, verificationId, status) {
  const v = await t.api.getVerification(t.brand, verificationId);
  assert(v.status === status, `the API says verification ${verificationId} is ${v.status}, expected ${status}`);
}

/** The integer shown by `selector` (e.g. #attempts), or throws. */
export async function numberOf(pageOrFrame, selector) {
  const text = await textOf(pageOrFrame, selector);
  assert(text !== null, `no ${selector} on the page`);
  const match = /-?\d+/.exec(text);
  assert(match, `${selector} shows no number: ${JSON.stringify(text)}`);
  return Number(match[0]);
}

/** Records the main-frame navigations of `page` (URLs), e.g. to see that the shop's return URL was visited. */
export function recordNavigations(page) {
  const urls = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) urls.push(frame.url());
  });
  page.on('request', (request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) urls.push(request.url());
  });
  return urls;
}
