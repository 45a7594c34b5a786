// The live monitor: new events from the server-sent event stream go on top of the table.
(function () {
  'use strict';
  const section = document.getElementById('live');
  const body = document.getElementById('live-events');
  const status = document.getElementById('live-status');
  if (!section || !body || !status || !window.EventSource) return;
  const KEEP = 200;
  const alerts = document.getElementById('live-alert-list');
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
    const row = document.createElement('tr');
    row.dataset.id = String(event.id);
    if (event.alert) row.className = 'bad';
    for (const value of [event.at, event.kind, event.order_id, event.verification_id]) {
      const cell = document.createElement('td');
      cell.textContent = value;
      row.appendChild(cell);
    }
    const details = document.createElement('td');
    const code = document.createElement('code');
    code.textContent = event.details;
    details.appendChild(code);
    row.appendChild(details);
    body.insertBefore(row, body.firstChild);
    if (event.kind === 'alert.raised') announce(event);
    while (body.children.length > KEEP) body.removeChild(body.lastChild);
    received += 1;
    status.textContent = 'Live: ' + received + ' new event' + (received === 1 ? '' : 's') + ' since the page opened.';
  };
})();
