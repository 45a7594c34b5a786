// Test SMSC (SMPP v3.4) for orderguard's integration tests.
//
// node-smpp (npm `smpp`, server mode) does the framing and PDU parsing; this file adds the SMSC
// behaviour the tests need (accept/throttle/reject, delivery receipts, a crash-safe message log)
// and a small HTTP control API to steer it and inspect what arrived.
//
//   node smsc.mjs --smpp-port N --control-port N [--system-id ID --password PW] [--log FILE]
//                 [--tls-key FILE --tls-cert FILE]   (SMPP over TLS, as SMSCs on port 3550 take it)
//
// Prints exactly one line on stdout once both ports listen: `ready smpp=<port> control=<port>`.
// Everything else goes to stderr.

import fs from 'node:fs';
import http from 'node:http';
import crypto from 'node:crypto';
import smpp from 'smpp';

const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------------
// Command line

function usage(msg) {
  process.stderr.write(`smsc: ${msg}\nusage: node smsc.mjs --smpp-port N --control-port N ` +
    '[--system-id ID --password PW] [--log FILE] [--tls-key FILE --tls-cert FILE]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { smppPort: null, controlPort: null, systemId: null, password: null, log: null, tlsKey: null, tlsCert: null };
  const names = { '--smpp-port': 'smppPort', '--control-port': 'controlPort', '--system-id': 'systemId',
    '--password': 'password', '--log': 'log', '--tls-key': 'tlsKey', '--tls-cert': 'tlsCert' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    if (!key) usage(`unknown argument ${argv[i]}`);
    if (i + 1 >= argv.length) usage(`${argv[i]} needs a value`);
    opts[key] = argv[i + 1];
  }
  for (const key of ['smppPort', 'controlPort']) {
    const n = Number(opts[key]);
    if (opts[key] === null || !Number.isInteger(n) || n < 0 || n > 65535) usage('--smpp-port and --control-port must be ports (0 = any free)');
    opts[key] = n;
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

function log(...parts) {
  process.stderr.write(`smsc: ${parts.join(' ')}\n`);
}

// ---------------------------------------------------------------------------------------------
// State

const DEFAULT_CONFIG = {
  throttle_per_second: null, // null = no throttling
  queue_full_next: 0, // answer ESME_RMSGQFUL to this many next submits
  reject_prefixes: [], // destination prefixes answered with ESME_RINVDSTADR
  undeliverable_prefixes: [], // accepted, but the receipt says UNDELIV
  receipts: true,
  receipts_text_only: false, // true: receipt without the receipted_message_id/message_state TLVs
  receipt_delay_ms: 20,
  submit_delay_ms: 0, // delays every submit_sm_resp (a slow SMSC)
};
const config = structuredClone(DEFAULT_CONFIG);

function zeroStats() {
  return { binds: 0, bind_failures: 0, submits_accepted: 0, submits_throttled: 0, submits_queue_full: 0,
    submits_rejected: 0, submits_malformed: 0, receipts_sent: 0, enquire_links: 0, unbinds: 0 };
}
let stats = zeroStats();
let messages = [];
let throttleWindow = { second: 0, used: 0 };

// message_ids must stay unique across restarts (the crash test restarts us on the same log), so
// each process gets a random prefix; the counter keeps ids in one run ordered and distinct.
const idPrefix = crypto.randomBytes(4).toString('hex');
let idCounter = 0;
function nextMessageId() {
  idCounter += 1;
  return idPrefix + idCounter.toString(16).padStart(8, '0');
}

// With --log, earlier runs' accepted messages are part of /messages too.
if (opts.log) {
  try {
    fs.closeSync(fs.openSync(opts.log, 'a')); // fail now, not at the first submit, if it can't be written
  } catch (err) {
    usage(`cannot write --log ${opts.log}: ${err.message}`);
  }
  const content = fs.readFileSync(opts.log, 'utf8');
  // A line cut short by a crash must not swallow the next record appended after it.
  if (content && !content.endsWith('\n')) fs.appendFileSync(opts.log, '\n');
  const lines = content.split('\n');
  for (const line of lines) {
    if (!line.trim()) continue;
    try {
      messages.push(JSON.parse(line));
    } catch {
      log(`ignoring a malformed line in ${opts.log}`); // e.g. a write cut short by a crash
    }
  }
  log(`loaded ${messages.length} message(s) from ${opts.log}`);
}

// ---------------------------------------------------------------------------------------------
// Text decoding. We decode short_message ourselves from the raw bytes: node-smpp's own decoding
// is lossy (bytes >= 0x80 become spaces) and would hide what the client really sent.

// GSM 03.38 default alphabet, one character per septet value 0x00..0x7F (0x1B = escape).
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ' +
  ' !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§' +
  '¿abcdefghijklmnopqrstuvwxyzäöñüà';
// Extension table: the septet after 0x1B.
const GSM_EXTENSION = { 0x0a: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2f: '\\', 0x3c: '[', 0x3d: '~',
  0x3e: ']', 0x40: '|', 0x65: '€' };

function decodeGsmUnpacked(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b > 0x7f) {
      out += '\ufffd'; // not a septet: make the client's mistake visible
    } else if (b === 0x1b && i + 1 < bytes.length) {
      const next = bytes[++i];
      // An unknown escape shows the basic character; ESC ESC shows a space (3GPP TS 23.038).
      if (GSM_EXTENSION[next] !== undefined) out += GSM_EXTENSION[next];
      else if (next === 0x1b) out += ' ';
      else out += next <= 0x7f ? GSM_BASIC[next] : '\ufffd';
    } else if (b === 0x1b) {
      out += ' '; // a trailing escape with nothing after it
    } else {
      out += GSM_BASIC[b];
    }
  }
  return out;
}

const ucs2 = new TextDecoder('utf-16be');
function decodeText(dataCoding, bytes) {
  switch (dataCoding) {
    case 0: return decodeGsmUnpacked(bytes);
    case 1: return bytes.toString('ascii'); // IA5
    case 3: return bytes.toString('latin1');
    case 8: return ucs2.decode(bytes);
    default: return null; // binary or unsupported coding: only short_message_hex tells
  }
}

// Splits a UDH off the payload when esm_class has UDHI (0x40). Returns the concatenation info
// (8-bit IE 0x00 or 16-bit IE 0x08) or null, plus the bytes after the UDH.
function splitUdh(esmClass, bytes) {
  if (!(esmClass & 0x40) || bytes.length === 0) return { udh: null, body: bytes };
  const udhLength = bytes[0];
  const end = Math.min(1 + udhLength, bytes.length);
  let udh = null;
  for (let i = 1; i + 1 < end;) {
    const iei = bytes[i];
    const len = bytes[i + 1];
    if (i + 2 + len > end) break; // an IE running past the UDH: ignore it
    const data = bytes.subarray(i + 2, i + 2 + len);
    if (iei === 0x00 && len === 3) udh = { reference: data[0], total: data[1], part: data[2] };
    if (iei === 0x08 && len === 4) udh = { reference: data.readUInt16BE(0), total: data[2], part: data[3] };
    i += 2 + len;
  }
  return { udh, body: bytes.subarray(end) };
}

// Keep submit_sm's short_message and message_payload as the raw bytes on the wire: by default
// node-smpp turns them into {udh: [ie...], message: "decoded text"} (see README.md).
const passThrough = { encode: (v) => v, decode: (v) => v };
smpp.commands.submit_sm.params.short_message.filter = passThrough;
smpp.tlvs.message_payload.filter = passThrough;

// ---------------------------------------------------------------------------------------------
// SMPP

const E = smpp.errors;
const BIND_KINDS = { bind_transceiver: 'trx', bind_transmitter: 'tx', bind_receiver: 'rx' };

const server = opts.tlsKey && opts.tlsCert
  ? smpp.createServer({ key: fs.readFileSync(opts.tlsKey), cert: fs.readFileSync(opts.tlsCert) })
  : smpp.createServer();
const boundSessions = () => server.sessions.filter((s) => s.bound);

server.on('session', (session) => {
  session.bound = null; // 'trx' | 'tx' | 'rx' once bound
  session.systemId = null;
  const peer = `${session.socket.remoteAddress}:${session.socket.remotePort}`;
  log(`connection from ${peer}`);

  // A client error (bad framing, reset connection) must only end that session, never the process.
  session.on('error', (err) => {
    log(`session ${peer} error: ${err.message}; closing it`);
    session.destroy();
  });
  session.on('close', () => {
    session.bound = null; // no receipts to a dead session
    log(`session ${peer} closed`);
  });

  session.on('pdu', (pdu) => {
    try {
      handlePdu(session, pdu);
    } catch (err) {
      log(`session ${peer}: failed to handle ${pdu.command}: ${err.stack}`);
      session.destroy();
    }
  });
});

server.on('error', (err) => {
  log(`server error: ${err.message}`);
  if (!server.listening) process.exit(1); // e.g. the port is taken
});

function handlePdu(session, pdu) {
  if (pdu.isResponse()) return; // deliver_sm_resp, enquire_link_resp, generic_nack: nothing to do

  switch (pdu.command) {
    case 'bind_transceiver':
    case 'bind_transmitter':
    case 'bind_receiver':
      return handleBind(session, pdu);
    case 'enquire_link':
      stats.enquire_links += 1;
      return session.send(pdu.response());
    case 'unbind':
      stats.unbinds += 1;
      session.bound = null;
      return session.send(pdu.response(), () => session.close());
    case 'submit_sm':
      return handleSubmit(session, pdu);
    default:
      // Unknown and unsupported commands (query_sm, data_sm, ...) alike: generic_nack.
      return session.send(new smpp.PDU('generic_nack', {
        sequence_number: pdu.sequence_number,
        command_status: E.ESME_RINVCMDID,
      }));
  }
}

function handleBind(session, pdu) {
  if (session.bound) {
    return session.send(pdu.response({ command_status: E.ESME_RALYBND }));
  }
  let status = E.ESME_ROK;
  if (opts.systemId !== null && pdu.system_id !== opts.systemId) status = E.ESME_RBINDFAIL;
  else if (opts.password !== null && pdu.password !== opts.password) status = E.ESME_RINVPASWD;
  if (status !== E.ESME_ROK) {
    stats.bind_failures += 1;
    log(`bind refused for system_id=${JSON.stringify(pdu.system_id)} (status 0x${status.toString(16)})`);
    return session.send(pdu.response({ command_status: status }));
  }
  session.bound = BIND_KINDS[pdu.command];
  session.systemId = pdu.system_id;
  stats.binds += 1;
  log(`${pdu.command} ok for system_id=${JSON.stringify(pdu.system_id)}`);
  session.send(pdu.response({ system_id: 'orderguard-test-smsc' }));
}

function handleSubmit(session, pdu) {
  if (session.bound !== 'trx' && session.bound !== 'tx') {
    return session.send(pdu.response({ command_status: E.ESME_RINVBNDSTS }));
  }
  // node-smpp stops reading mandatory fields at the end of a short body and leaves the rest
  // undefined; refuse such a PDU instead of recording half a message.
  if (pdu.short_message === undefined) {
    stats.submits_malformed += 1;
    log(`submit_sm too short (${pdu.command_length} bytes); answered ESME_RINVCMDLEN`);
    return session.send(pdu.response({ command_status: E.ESME_RINVCMDLEN }));
  }

  // (a) throttling: a fixed budget per wall-clock second.
  if (config.throttle_per_second !== null) {
    const second = Math.floor(Date.now() / 1000);
    if (throttleWindow.second !== second) throttleWindow = { second, used: 0 };
    if (throttleWindow.used >= config.throttle_per_second) {
      stats.submits_throttled += 1;
      return respondLater(session, pdu.response({ command_status: E.ESME_RTHROTTLED }));
    }
    throttleWindow.used += 1;
  }
  // (b) a full queue for the next N submits.
  if (config.queue_full_next > 0) {
    config.queue_full_next -= 1;
    stats.submits_queue_full += 1;
    return respondLater(session, pdu.response({ command_status: E.ESME_RMSGQFUL }));
  }
  // (c) destinations we refuse.
  const destination = pdu.destination_addr ?? '';
  if (config.reject_prefixes.some((p) => destination.startsWith(p))) {
    stats.submits_rejected += 1;
    return respondLater(session, pdu.response({ command_status: E.ESME_RINVDSTADR }));
  }

  // (d) accept.
  let bytes = pdu.short_message;
  if (bytes.length === 0 && Buffer.isBuffer(pdu.message_payload)) bytes = pdu.message_payload;
  const { udh, body } = splitUdh(pdu.esm_class, bytes);
  const record = {
    message_id: nextMessageId(),
    system_id: session.systemId,
    source_addr: pdu.source_addr,
    source_addr_ton: pdu.source_addr_ton,
    source_addr_npi: pdu.source_addr_npi,
    destination_addr: destination,
    dest_addr_ton: pdu.dest_addr_ton,
    dest_addr_npi: pdu.dest_addr_npi,
    esm_class: pdu.esm_class,
    data_coding: pdu.data_coding,
    registered_delivery: pdu.registered_delivery,
    short_message_hex: bytes.toString('hex'),
    udh,
    text: decodeText(pdu.data_coding, body),
    received_at_ms: Date.now(),
  };
  // The crash test kills us right after a submit_sm_resp: the record must be on disk first.
  if (opts.log) fs.appendFileSync(opts.log, JSON.stringify(record) + '\n');
  messages.push(record);
  stats.submits_accepted += 1;

  respondLater(session, pdu.response({ message_id: record.message_id }), () => {
    if (config.receipts && (record.registered_delivery & 1)) {
      setTimeout(() => sendReceipt(session, record), config.receipt_delay_ms);
    }
  });
}

// Sends a response now or after submit_delay_ms; `then` runs once it is handed to the socket.
function respondLater(session, resp, then) {
  const send = () => {
    session.send(resp);
    if (then) then();
  };
  if (config.submit_delay_ms > 0) setTimeout(send, config.submit_delay_ms);
  else send();
}

// YYMMDDhhmm in UTC, the date format of the receipt text (SMPP v3.4 appendix B).
function receiptDate(ms) {
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return two(d.getUTCFullYear() % 100) + two(d.getUTCMonth() + 1) + two(d.getUTCDate()) +
    two(d.getUTCHours()) + two(d.getUTCMinutes());
}

function sendReceipt(submitter, record) {
  // The submitting transceiver if it is still there, else a receiver/transceiver of the same account.
  let target = submitter.bound === 'trx' ? submitter : null;
  if (!target) {
    target = boundSessions().find((s) => (s.bound === 'trx' || s.bound === 'rx') && s.systemId === record.system_id);
  }
  if (!target) {
    log(`no session to deliver the receipt for ${record.message_id} to; dropped`);
    return;
  }
  const undeliverable = config.undeliverable_prefixes.some((p) => record.destination_addr.startsWith(p));
  const text = `id:${record.message_id} sub:001 dlvrd:${undeliverable ? '000' : '001'} ` +
    `submit date:${receiptDate(record.received_at_ms)} done date:${receiptDate(Date.now())} ` +
    `stat:${undeliverable ? 'UNDELIV' : 'DELIVRD'} err:${undeliverable ? '001' : '000'} text:`;
  const fields = {
    source_addr_ton: record.dest_addr_ton,
    source_addr_npi: record.dest_addr_npi,
    source_addr: record.destination_addr,
    dest_addr_ton: record.source_addr_ton,
    dest_addr_npi: record.source_addr_npi,
    destination_addr: record.source_addr,
    esm_class: 0x04, // SMSC delivery receipt
    data_coding: 0,
    // A Buffer is sent as is; a string would make node-smpp pick data_coding 1 and GSM-encode it.
    short_message: Buffer.from(text, 'ascii'),
  };
  if (!config.receipts_text_only) {
    fields.receipted_message_id = record.message_id;
    fields.message_state = undeliverable ? 5 : 2; // UNDELIVERABLE : DELIVERED
  }
  if (target.deliver_sm(fields)) stats.receipts_sent += 1;
}

// ---------------------------------------------------------------------------------------------
// Control API

// Concatenated parts are grouped by (destination_addr, reference); a group is shown once all of
// its parts arrived, at the position of its first part. Singles are shown as they are.
function texts() {
  const out = [];
  const open = new Map();
  for (const m of messages) {
    if (!m.udh || m.udh.total <= 1) {
      out.push({ destination_addr: m.destination_addr, source_addr: m.source_addr, text: m.text, parts: 1,
        message_ids: [m.message_id] });
      continue;
    }
    const key = `${m.destination_addr}\u0000${m.udh.reference}`;
    let group = open.get(key);
    // A reference reused before the earlier message was complete starts a new message.
    if (!group || group.total !== m.udh.total || group.parts.has(m.udh.part)) {
      group = { total: m.udh.total, parts: new Map(), first: m, slot: out.length };
      open.set(key, group);
      out.push(null); // reserved until complete
    }
    group.parts.set(m.udh.part, m);
    if (group.parts.size === group.total) {
      const ordered = [...group.parts.keys()].sort((a, b) => a - b).map((k) => group.parts.get(k));
      out[group.slot] = {
        destination_addr: group.first.destination_addr,
        source_addr: group.first.source_addr,
        text: ordered.map((p) => p.text ?? '').join(''),
        parts: group.total,
        message_ids: ordered.map((p) => p.message_id),
      };
      open.delete(key);
    }
  }
  return out.filter((t) => t !== null);
}

function currentStats() {
  return { ...stats, bound_sessions: boundSessions().length };
}

const CONFIG_CHECKS = {
  throttle_per_second: (v) => v === null || (Number.isFinite(v) && v >= 0),
  queue_full_next: (v) => Number.isInteger(v) && v >= 0,
  reject_prefixes: (v) => Array.isArray(v) && v.every((p) => typeof p === 'string'),
  undeliverable_prefixes: (v) => Array.isArray(v) && v.every((p) => typeof p === 'string'),
  receipts: (v) => typeof v === 'boolean',
  receipts_text_only: (v) => typeof v === 'boolean',
  receipt_delay_ms: (v) => Number.isFinite(v) && v >= 0,
  submit_delay_ms: (v) => Number.isFinite(v) && v >= 0,
};

// Validates the whole change before applying any of it, so a bad request changes nothing.
function updateConfig(change) {
  if (typeof change !== 'object' || change === null || Array.isArray(change)) return 'expected a JSON object';
  for (const [key, value] of Object.entries(change)) {
    if (!(key in CONFIG_CHECKS)) return `unknown config key ${key}`;
    if (!CONFIG_CHECKS[key](value)) return `bad value for ${key}`;
  }
  Object.assign(config, change);
  if ('throttle_per_second' in change) throttleWindow = { second: 0, used: 0 };
  return null;
}

function dropSessions() {
  const sessions = [...server.sessions];
  for (const s of sessions) s.socket.destroy();
  return sessions.length;
}

function reply(res, status, body) {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(raw.trim() ? JSON.parse(raw) : {});
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

const control = http.createServer(async (req, res) => {
  const route = `${req.method} ${req.url.split('?')[0]}`;
  try {
    switch (route) {
      case 'GET /messages': return reply(res, 200, messages);
      case 'GET /texts': return reply(res, 200, texts());
      case 'GET /stats': return reply(res, 200, currentStats());
      case 'GET /config': return reply(res, 200, config);
      case 'POST /config': {
        let body;
        try {
          body = await readJson(req);
        } catch {
          return reply(res, 400, { error: 'body is not JSON' });
        }
        const error = updateConfig(body);
        return error ? reply(res, 400, { error }) : reply(res, 200, config);
      }
      case 'POST /reset':
        messages = [];
        stats = zeroStats();
        throttleWindow = { second: 0, used: 0 };
        return reply(res, 200, { ok: true });
      case 'POST /drop-sessions':
        return reply(res, 200, { dropped: dropSessions() });
      default:
        return reply(res, 404, { error: `no route ${route}` });
    }
  } catch (err) {
    log(`control ${route} failed: ${err.stack}`);
    if (!res.headersSent) reply(res, 500, { error: String(err.message) });
  }
});
control.on('error', (err) => {
  log(`control server error: ${err.message}`);
  if (!control.listening) process.exit(1);
});

// A test peer must outlive any client mistake; log a bug loudly instead of dying mid-test.
process.on('uncaughtException', (err) => log(`uncaught exception: ${err.stack}`));

// ---------------------------------------------------------------------------------------------
// Start

const listen = (srv, port) => new Promise((resolve) => srv.listen(port, HOST, () => resolve(srv.address().port)));
const [smppPort, controlPort] = await Promise.all([listen(server, opts.smppPort), listen(control, opts.controlPort)]);
process.stdout.write(`ready smpp=${smppPort} control=${controlPort}\n`);
