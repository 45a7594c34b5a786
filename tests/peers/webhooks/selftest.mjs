// Self-check for receiver.mjs: starts it, signs deliveries (with the library's own `sign` and by
// hand with node:crypto), posts them and checks what the receiver recorded and answered.
//
//   node selftest.mjs        (exit 0 = all checks passed; the log goes to stderr)

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';

const here = fileURLToPath(new URL('.', import.meta.url));
let failures = 0;
function check(what, ok, detail = '') {
  process.stderr.write(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}\n`);
  if (!ok) failures++;
}

const child = spawn(process.execPath, ['receiver.mjs', '--port', '0', '--control-port', '0'], { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] });
let stdout = '';
const ready = await new Promise((resolve, reject) => {
  child.stdout.on('data', (d) => {
    stdout += d;
    const m = /^ready port=(\d+) control=(\d+)\n/.exec(stdout);
    if (m) resolve({ port: Number(m[1]), control: Number(m[2]) });
  });
  child.on('exit', (code) => reject(new Error(`receiver exited ${code}`)));
});
const main = `http://127.0.0.1:${ready.port}`;
const control = `http://127.0.0.1:${ready.control}`;

async function ctl(method, path, body) {
  const r = await fetch(control + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

const newSecret = () => `whsec_${crypto.randomBytes(24).toString('base64')}`;
const now = () => Math.floor(Date.now() / 1000);

// By hand, exactly as the spec says: key = base64-decode(secret without "whsec_"),
// HMAC-SHA256 over "<id>.<timestamp>.<body>", base64 (standard, padded), prefixed "v1,".
function signByHand(secret, id, ts, body) {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${crypto.createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`;
}

async function deliver(name, body, headers) {
  const r = await fetch(`${main}/hooks/${name}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, redirect: 'manual' });
  return { status: r.status, text: await r.text(), location: r.headers.get('location') };
}
const last = async () => (await ctl('GET', '/received')).json.at(-1);

try {
  const secret = newSecret();
  const wh = new Webhook(secret);
  check('register endpoint', (await ctl('POST', '/endpoints', { name: 'a', secrets: [secret] })).status === 200);
  check('bad secret refused', (await ctl('POST', '/endpoints', { name: 'x', secrets: ['whsec_***'] })).status === 400);

  // 1. library sign == hand-made HMAC
  const body = JSON.stringify({ type: 'order.created', timestamp: new Date().toISOString(), data: { id: 'o-1', note: 'ü€' } });
  const ts = now();
  const libSig = wh.sign('msg_1', new Date(ts * 1000), body);
  check('library sign equals hand-made HMAC', libSig === signByHand(secret, 'msg_1', ts, body), libSig);

  // 2. valid delivery
  let r = await deliver('a', body, { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': libSig });
  let rec = await last();
  check('valid → 200 ok, verified', r.status === 200 && r.text === 'ok' && rec.verified && rec.error === null && rec.type === 'order.created' && rec.body.data.id === 'o-1', JSON.stringify(rec.error));

  // 3. tampered body
  r = await deliver('a', body.replace('o-1', 'o-2'), { 'webhook-id': 'msg_2', 'webhook-timestamp': String(ts), 'webhook-signature': libSig });
  rec = await last();
  check('tampered body → unverified', !rec.verified && r.status === 200, rec.error);

  // 4. timestamps: tolerance 5 minutes each way
  for (const [label, delta, expect] of [['-299 s', -299, true], ['-301 s', -301, false], ['-600 s', -600, false], ['+299 s', 299, true], ['+301 s', 301, false]]) {
    const t = now() + delta;
    await deliver('a', body, { 'webhook-id': `msg_t${delta}`, 'webhook-timestamp': String(t), 'webhook-signature': signByHand(secret, `msg_t${delta}`, t, body) });
    rec = await last();
    check(`timestamp ${label} → verified=${expect}`, rec.verified === expect, rec.error);
  }
  {
    const t = Date.now();
    await deliver('a', body, { 'webhook-id': 'msg_ms', 'webhook-timestamp': String(t), 'webhook-signature': signByHand(secret, 'msg_ms', t, body) });
    rec = await last();
    check('timestamp in milliseconds → unverified', !rec.verified, rec.error);
  }

  // 5. several signatures in one header (space-separated): any v1 match is enough
  const good = signByHand(secret, 'msg_3', ts, body);
  await deliver('a', body, { 'webhook-id': 'msg_3', 'webhook-timestamp': String(ts), 'webhook-signature': `v1,AAAA v1a,${good.slice(3)} ${good}` });
  rec = await last();
  check('"v1,bad v1a,... v1,good" → verified', rec.verified, rec.error);
  await deliver('a', body, { 'webhook-id': 'msg_3', 'webhook-timestamp': String(ts), 'webhook-signature': `v1a,${good.slice(3)}` });
  rec = await last();
  check('only v1a (even with the right bytes) → unverified', !rec.verified, rec.error);
  await deliver('a', body, { 'webhook-id': 'msg_3', 'webhook-timestamp': String(ts), 'webhook-signature': `${good},` });
  rec = await last();
  check('trailing comma "v1,good," still verifies (the library keeps the first 2 parts of split(","))', rec.verified, rec.error);
  await deliver('a', body, { 'webhook-id': 'msg_3', 'webhook-timestamp': String(ts), 'webhook-signature': `v2,${good.slice(3)}` });
  rec = await last();
  check('unknown version v2 → unverified', !rec.verified, rec.error);

  // 6. missing headers
  await deliver('a', body, { 'webhook-id': 'msg_4', 'webhook-timestamp': String(ts) });
  rec = await last();
  check('missing webhook-signature → unverified', !rec.verified, rec.error);

  // 7. secret rotation: any registered secret verifies
  const old = newSecret();
  await ctl('POST', '/endpoints', { name: 'rot', secrets: [old, secret] });
  await deliver('rot', body, { 'webhook-id': 'msg_5', 'webhook-timestamp': String(ts), 'webhook-signature': signByHand(secret, 'msg_5', ts, body) });
  rec = await last();
  check('rotation: second secret verifies', rec.verified && rec.secret_index === 1, rec.error);
  await deliver('rot', body, { 'webhook-id': 'msg_6', 'webhook-timestamp': String(ts), 'webhook-signature': signByHand(newSecret(), 'msg_6', ts, body) });
  rec = await last();
  check('rotation: unknown secret → unverified', !rec.verified, rec.error);

  // 8. non-JSON body signed correctly
  await deliver('a', 'plain text', { 'webhook-id': 'msg_7', 'webhook-timestamp': String(ts), 'webhook-signature': signByHand(secret, 'msg_7', ts, 'plain text') });
  rec = await last();
  check('signed non-JSON body → verified, body null', rec.verified && rec.body === null && rec.raw_body === 'plain text', rec.error);

  // 9. behaviour: status queue, redirects, delay
  check('behaviour set', (await ctl('POST', '/behaviour', { name: 'a', statuses: [500, 302, 410, 204], delay_ms: 0 })).status === 200);
  const sig = (id) => ({ 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signByHand(secret, id, ts, body) });
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await deliver('a', body, sig('msg_q')));
  check('queue 500, 302, 410, 204 then 200', answers.map((a) => a.status).join(',') === '500,302,410,204,200', answers.map((a) => a.status).join(','));
  check('302 has Location', answers[1].location === 'http://127.0.0.1:1/elsewhere', answers[1].location);
  await ctl('POST', '/behaviour', { name: 'a', delay_ms: 300 });
  const t0 = Date.now();
  await deliver('a', body, sig('msg_d'));
  check('delay_ms 300', Date.now() - t0 >= 290, `${Date.now() - t0} ms`);
  await ctl('POST', '/behaviour', { name: 'a', delay_ms: 0 });
  rec = await last();
  check('attempt_status and answered_at recorded', rec.attempt_status === 200 && rec.answered_at >= rec.received_at + 290);

  // 10. unknown endpoint, wrong method, too large body
  r = await deliver('nope', body, sig('msg_n'));
  check('unknown endpoint → 404', r.status === 404);
  r = await fetch(`${main}/hooks/a`);
  check('GET /hooks/a → 405', r.status === 405);
  r = await deliver('a', 'x'.repeat(1024 * 1024 + 1), sig('msg_big'));
  check('body over 1 MiB → 413', r.status === 413);
  const big = '"' + 'x'.repeat(1024 * 1024 - 2) + '"';
  r = await deliver('a', big, { 'webhook-id': 'msg_1mib', 'webhook-timestamp': String(ts), 'webhook-signature': signByHand(secret, 'msg_1mib', ts, big) });
  rec = await last();
  check('body of exactly 1 MiB → accepted and verified', r.status === 200 && rec.verified, rec.error);

  // 11. stats
  const s = (await ctl('GET', '/stats')).json;
  check('stats duplicate_ids has msg_3 and msg_q', s.duplicate_ids.includes('msg_3') && s.duplicate_ids.includes('msg_q'), JSON.stringify(s));
  check('stats counts add up', s.verified + s.unverified === s.requests && s.by_endpoint.rot === 2);
  check('received?endpoint=rot', (await ctl('GET', '/received?endpoint=rot')).json.length === 2);
  const reset = await ctl('POST', '/reset');
  check('reset clears records', reset.json.requests === 0 && (await ctl('GET', '/received')).json.length === 0);
  await deliver('rot', body, sig('msg_after'));
  check('endpoints survive reset', (await last()).verified === true && (await ctl('GET', '/endpoints')).json.rot.registered);
} catch (err) {
  check(`unexpected error: ${err.stack}`, false);
} finally {
  child.kill('SIGTERM');
}
process.stderr.write(failures ? `${failures} check(s) failed\n` : 'all checks passed\n');
process.exit(failures ? 1 : 0);
