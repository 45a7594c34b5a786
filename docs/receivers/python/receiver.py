"""Example receiver for orderguard's webhooks (Python 3.10+, standard library HTTP server).

1. Verifies every delivery's Standard Webhooks signature over the raw body (PyPI `standardwebhooks`).
2. For `verification.approved`, fetches the verification and verifies its signed receipt against
   orderguard's JWKS (PyPI `PyJWT` with `cryptography`): a webhook says "something happened",
   the receipt proves it for this very order.
3. Acts once per webhook-id: orderguard retries under the same id until it gets a 2xx.

    PORT=9000 ORDERGUARD_URL=http://127.0.0.1:8080 ORDERGUARD_BRAND=nordtel \\
    ORDERGUARD_API_KEY=og_... ORDERGUARD_WEBHOOK_SECRET=whsec_... python receiver.py
"""

import json
import os
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from standardwebhooks.webhooks import Webhook


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set")
    return value


PORT = int(env("PORT"))
ORDERGUARD_URL = env("ORDERGUARD_URL")  # also the receipts' `iss`
BRAND = env("ORDERGUARD_BRAND")  # the receipts' `aud`
API_KEY = env("ORDERGUARD_API_KEY")
WEBHOOK = Webhook(env("ORDERGUARD_WEBHOOK_SECRET"))
# Caches the keys, and fetches them again when a receipt names a kid it does not know (rotation).
JWKS = jwt.PyJWKClient(f"{ORDERGUARD_URL}/.well-known/jwks.json", timeout=5)
MAX_BODY = 1024 * 1024

# webhook-id -> future of what was done. In memory for the example; a real shop keeps this in its
# database (a unique key on the id). Claiming the id under the lock makes a retry that arrives
# while the first delivery is still being handled wait for it instead of acting twice.
handled = {}
handled_lock = threading.Lock()
workers = ThreadPoolExecutor(max_workers=8)


def emit(line):
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def check_receipt(verification_id, order_id):
    url = f"{ORDERGUARD_URL}/v1/verifications/{urllib.parse.quote(str(verification_id), safe='')}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {API_KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            receipt = json.load(response).get("receipt")
        if not receipt:
            return "invalid: no receipt"
        # Checks the EdDSA signature with the key named by `kid`, and `iss`, `aud` and `exp`.
        claims = jwt.decode(
            receipt,
            JWKS.get_signing_key_from_jwt(receipt).key,
            algorithms=["EdDSA"],
            issuer=ORDERGUARD_URL,
            audience=BRAND,
            options={"require": ["exp", "iss", "aud"]},
        )
    except urllib.error.HTTPError as err:
        return f"invalid: GET verification answered {err.code}"
    except Exception as err:  # network errors, jwt.InvalidTokenError, jwt.PyJWKClientError, ...
        return f"invalid: {err}"
    # The receipt must cover the order this webhook is about (a shop also compares amount,
    # currency and order_digest with the order it is about to accept, see docs/api.md).
    if claims.get("order_id") != order_id:
        return "invalid: order_id does not match"
    return "valid"


def handle(webhook_id, event):
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    line = {
        "webhook_id": webhook_id,
        "type": event.get("type"),
        "verification_id": data.get("verification_id"),
        "order_id": data.get("order_id"),
        "receipt": None,
    }
    if event.get("type") == "verification.approved":
        line["receipt"] = check_receipt(data.get("verification_id"), data.get("order_id"))
    return line


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        if self.path != "/webhooks":
            return self.answer(404)
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise ValueError("body too large")
            # The raw bytes: the signature is over the body exactly as sent.
            event = WEBHOOK.verify(self.rfile.read(length), dict(self.headers.items()))
            if not isinstance(event, dict):
                raise ValueError("body is not a JSON object")
        except Exception as err:  # WebhookVerificationError, invalid JSON, bad Content-Length
            emit({"rejected": str(err)})
            return self.answer(400)
        webhook_id = self.headers["webhook-id"]
        with handled_lock:
            duplicate = webhook_id in handled
            if not duplicate:
                handled[webhook_id] = workers.submit(handle, webhook_id, event)
        line = handled[webhook_id].result()
        emit({**line, "duplicate": True} if duplicate else line)
        self.answer(204)

    def answer(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Receiver)  # bound here
    print("listening", flush=True)
    server.serve_forever()
