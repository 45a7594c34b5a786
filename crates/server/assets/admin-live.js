// The live monitor: new events from the server-sent event stream go into their order's group,
// which moves to the top; the page's filters apply to them too; the rate per minute is kept, of
// all events, by when this browser got them.
(function () {
  'use strict';
  const section = document.getElementById('live');
  const table = document.getElementById('live-events');
  const status = document.getElementById('live-status');
  const rate = document.getElementById('live-rate');
  if (!section || !table || !status || !window.EventSource) return;
  const KEEP = 200;
  const MINUTE_MS = 60000;
  const alerts = document.getElementById('live-alert-list');
  const filters = { family: section.dataset.family, decision: section.dataset.decision, country: section.dataset.country };

  // A raised alert goes on top, linked to its page, and is read out by screen readers.
  function announce(event) {
    let attrs;
    try {
      attrs = JSON.parse(event.details);
    } catch (_) {
      return;
    }
    if (!alerts || !attrs || typeof attrs.alert_id !== 'number') return;
    const item = document.createElement('li');
    item.className = 'bad severity-' + String(attrs.severity);
    const link = document.createElement('a');
    link.href = '/admin/alerts/' + attrs.alert_id + '?brand=' + encodeURIComponent(section.dataset.brand);
    link.textContent = '#' + attrs.alert_id + ' ' + String(attrs.title) + (attrs.key ? ' (' + String(attrs.key) + ')' : '');
    item.appendChild(link);
    item.appendChild(document.createTextNode(' · ' + String(attrs.severity) + ' · new'));
    alerts.insertBefore(item, alerts.firstChild);
  }

  // The country of each verification's number, as one of its steps named it: the risk decision
  // names none, and the country filter keeps an order's steps together.
  const countries = {};
  for (const row of table.querySelectorAll('tr.event')) {
    if (row.dataset.verification && row.dataset.country) countries[row.dataset.verification] = row.dataset.country;
  }
  function countryOf(event) {
    if (event.country && event.verification_id) countries[event.verification_id] = event.country;
    return event.country || countries[event.verification_id] || '';
  }

  function admitted(event, country) {
    return (!filters.family || event.family === filters.family) &&
      (!filters.decision || event.decision === filters.decision) &&
      (!filters.country || country === filters.country);
  }

  // The group of an order (a new one for an event of no order), moved to the top.
  function groupOf(orderId) {
    let group = null;
    if (orderId) {
      for (const candidate of table.tBodies) {
        if (candidate.dataset.order === orderId) group = candidate;
      }
    }
    if (!group) {
      group = document.createElement('tbody');
      group.className = 'order';
      group.dataset.order = orderId;
      const head = document.createElement('tr');
      head.className = 'group';
      const cell = document.createElement('th');
      cell.scope = 'rowgroup';
      cell.colSpan = 4;
      if (orderId) {
        cell.appendChild(document.createTextNode('Order '));
        const link = document.createElement('a');
        link.href = '/admin/trace?brand=' + encodeURIComponent(section.dataset.brand) + '&order=' + encodeURIComponent(orderId);
        link.textContent = orderId;
        cell.appendChild(link);
      } else {
        cell.textContent = 'No order';
      }
      head.appendChild(cell);
      group.appendChild(head);
    }
    table.insertBefore(group, table.tBodies[0] || null);
    return group;
  }

  function rowOf(event, country) {
    const row = document.createElement('tr');
    row.className = 'event tone-' + String(event.tone);
    row.dataset.id = String(event.id);
    row.dataset.at = String(event.at_ms);
    row.dataset.verification = event.verification_id || '';
    row.dataset.family = event.family || '';
    row.dataset.decision = event.decision || '';
    row.dataset.country = country;
    const time = document.createElement('td');
    const stamp = document.createElement('time');
    stamp.dateTime = event.at;
    stamp.textContent = event.time;
    time.appendChild(stamp);
    const step = document.createElement('td');
    step.className = 'step';
    step.textContent = event.step;
    const detail = document.createElement('td');
    detail.textContent = event.detail;
    const attributes = document.createElement('td');
    if (event.details) {
      const details = document.createElement('details');
      const summary = document.createElement('summary');
      summary.textContent = event.kind;
      const code = document.createElement('code');
      code.textContent = event.details;
      details.appendChild(summary);
      details.appendChild(code);
      attributes.appendChild(details);
    } else {
      attributes.textContent = event.kind;
    }
    for (const cell of [time, step, detail, attributes]) row.appendChild(cell);
    return row;
  }

  // The oldest rows go once more than KEEP are shown, and with them groups left empty.
  function trim() {
    const rows = Array.from(table.querySelectorAll('tr.event'));
    if (rows.length <= KEEP) return;
    rows.sort((a, b) => Number(b.dataset.at) - Number(a.dataset.at));
    for (const row of rows.slice(KEEP)) row.remove();
    for (const group of Array.from(table.tBodies)) {
      if (!group.querySelector('tr.event')) group.remove();
    }
  }

  // When this browser got each event of the last minute, newest first: those before the page
  // from their age on the server, the streamed ones when they arrive (a demo's clock may be
  // simulated, so the events' own times are not compared with this browser's).
  const opened = Date.now();
  const arrivals = (section.dataset.recent || '').split(' ').filter(Boolean).map((age) => opened - Number(age));
  function showRate() {
    const since = Date.now() - MINUTE_MS;
    while (arrivals.length && arrivals[arrivals.length - 1] <= since) arrivals.pop();
    const n = arrivals.length;
    if (rate) rate.textContent = n + ' event' + (n === 1 ? '' : 's') + ' in the last minute';
  }
  setInterval(showRate, 5000);

  const url = '/admin/live/events?brand=' + encodeURIComponent(section.dataset.brand) +
    '&after=' + encodeURIComponent(section.dataset.after || '0');
  const source = new EventSource(url);
  let received = 0;
  source.onopen = function () {
    status.textContent = 'Live: new events appear here as they happen.';
  };
  source.onerror = function () {
    status.textContent = 'Connection lost; reconnecting…';
  };
  source.onmessage = function (message) {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch (_) {
      return;
    }
    if (event.kind === 'alert.raised') announce(event);
    arrivals.unshift(Date.now());
    showRate();
    const country = countryOf(event);
    if (!admitted(event, country)) return;
    received += 1;
    status.textContent = 'Live: ' + received + ' new event' + (received === 1 ? '' : 's') + ' since the page opened.';
    const group = groupOf(event.order_id);
    const head = group.querySelector('tr.group');
    group.insertBefore(rowOf(event, country), head ? head.nextSibling : group.firstChild);
    trim();
  };
})();
