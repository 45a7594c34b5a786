#!/usr/bin/env bash
# Fuzzes the API against a demo started for the run, with schemathesis and every check: the API,
# the hosted page and the operations' endpoints. The admin area, the demo shops and the development
# pages are HTML for people's browsers; their forms are tested in Chromium and over HTTP.
#   tests/schemathesis/run.sh [ORDERGUARD_BINARY]     SCHEMATHESIS_EXAMPLES=N for more cases (CI: 30)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
binary="${1:-$here/../../target/debug/orderguard}"
venv="$here/.venv"
if ! cmp -s "$here/requirements.txt" "$venv/requirements.installed" 2>/dev/null; then
  echo "setting up $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/requirements.installed"
fi
data="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$binary" demo --listen "127.0.0.1:$port" --data "$data" --history-days 0 >"$data/demo.log" 2>&1 &
demo=$!
trap 'kill "$demo" 2>/dev/null || true; wait "$demo" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 120); do
  [ -f "$data/demo-credentials.json" ] && grep -q "Press Ctrl-C" "$data/demo.log" && break
  kill -0 "$demo" 2>/dev/null || { cat "$data/demo.log" >&2; exit 1; }
  sleep 1
done
key="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["brands"][0]["api_key"])' "$data/demo-credentials.json")"
cd "$here"
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
  --header "Authorization: Bearer $key" \
  --checks all \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-30}" \
  --exclude-path-regex '^/(admin|demo|dev)(/|$)' \
  --workers 2 \
  --seed "${SCHEMATHESIS_SEED:-$RANDOM}"
