// The hosted verification page, improved: the page works without this script (plain forms).
// With it: the code arrives by WebOTP where the browser supports it, countdowns run, a code is
// checked without a reload, and inside the shop's iframe the outcome is posted to the shop page.
(function () {
  'use strict';
  var root = document.getElementById('verification');
  if (!root) return;
  var status = root.dataset.status;

  if (root.dataset.embedded === '1' && status !== 'pending' && window.parent !== window && root.dataset.parentOrigin) {
    window.parent.postMessage(
      { source: 'orderguard', verification_id: root.dataset.verificationId, status: status },
      root.dataset.parentOrigin
    );
  }
  if (status !== 'pending') return;

  var form = document.getElementById('check-form');
  var input = document.getElementById('code');
  var confirm = document.getElementById('confirm');
  var notice = document.getElementById('notice');
  var attempts = document.getElementById('attempts');
  var expires = document.getElementById('expires-in');
  var resend = document.getElementById('resend');
  var resendWait = document.getElementById('resend-wait');
  var resendHint = document.getElementById('resend-hint');
  var started = Date.now();
  var expiresIn = Number(expires.dataset.seconds);
  var resendIn = resendWait ? Number(resendWait.dataset.seconds) : 0;
  var reloaded = false;

  function minutesSeconds(s) {
    return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
  }

  function tick() {
    var elapsed = Math.floor((Date.now() - started) / 1000);
    var left = Math.max(0, expiresIn - elapsed);
    expires.textContent = minutesSeconds(left);
    if (left === 0 && !reloaded) {
      reloaded = true;
      // The page then shows that the code expired; an old notice would only confuse.
      window.location.assign(window.location.pathname + window.location.search.replace(/([?&])notice=[^&]*&?/, '$1'));
      return;
    }
    if (resend && resendWait) {
      var wait = Math.max(0, resendIn - elapsed);
      resendWait.textContent = String(wait);
      resend.disabled = wait > 0;
      resendHint.hidden = wait === 0;
    }
  }
  tick();
  setInterval(tick, 1000);

  function show(text, isError) {
    notice.textContent = '';
    if (!text) return;
    var p = document.createElement('p');
    p.className = 'notice ' + (isError ? 'bad' : 'info');
    if (isError) p.setAttribute('role', 'alert');
    p.textContent = text;
    notice.appendChild(p);
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    confirm.disabled = true;
    fetch(form.action, {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(new FormData(form)).toString(),
      credentials: 'same-origin'
    })
      .then(function (response) {
        if (!response.ok) {
          // The server has seen the code: sending the form again could cost a second attempt.
          window.location.assign(window.location.pathname + window.location.search.replace(/([?&])notice=[^&]*&?/, '$1'));
          return {};
        }
        return response.json();
      })
      .then(function (answer) {
        if (answer.status === undefined) return;
        if (answer.redirect) {
          window.location.assign(answer.redirect);
          return;
        }
        attempts.textContent = String(answer.attempts_remaining);
        show(answer.message, true);
        input.value = '';
        input.focus();
        confirm.disabled = false;
      })
      .catch(function () {
        form.submit(); // the request did not get through: the plain form still works
      });
  });

  // WebOTP: the SMS ends with "@<shop domain> #<code>", so the browser may offer the code.
  if ('OTPCredential' in window && navigator.credentials) {
    var abort = new AbortController();
    form.addEventListener('submit', function () { abort.abort(); });
    navigator.credentials
      .get({ otp: { transport: ['sms'] }, signal: abort.signal })
      .then(function (otp) {
        if (otp && otp.code) {
          input.value = otp.code;
          form.requestSubmit();
        }
      })
      .catch(function () { /* no SMS offered: the customer types the code */ });
  }
})();
