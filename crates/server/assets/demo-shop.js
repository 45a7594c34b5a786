// The demo shop's side of the embedded hosted page: when orderguard's page in the iframe posts
// the outcome, the shop goes to its return URL, where it reads the verification from the API.
(function () {
  'use strict';
  var frame = document.getElementById('orderguard-frame');
  if (!frame) return;
  window.addEventListener('message', function (event) {
    if (event.origin !== frame.dataset.hostedOrigin || event.source !== frame.contentWindow) return;
    var data = event.data || {};
    if (data.source !== 'orderguard' || data.verification_id !== frame.dataset.verificationId) return;
    window.location.assign(
      frame.dataset.return + '?verification_id=' + encodeURIComponent(data.verification_id) +
        '&status=' + encodeURIComponent(String(data.status))
    );
  });
})();
