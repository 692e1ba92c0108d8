#!/usr/bin/env bash
# Fuzzes the served OpenAPI document with schemathesis (see schemathesis.toml): starts the built worker
# in a `wrangler dev` of its own (fresh local D1, its own secrets, its own process group, stopped on any
# exit), mints a token for a fresh user, and runs every check schemathesis has, deterministically, 50
# examples per operation. Run through `make fuzz` (which builds and installs schemathesis first).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
STATE=$(mktemp -d /tmp/edge-chat-fuzz.XXXXXX)
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false
# No devtools inspector proxy (see bench/serve.sh): it costs a third of the CPU under load.
export VSCODE_INSPECTOR_OPTIONS=off
# wrangler's debug log of everything it handles stays with this run's state (removed on exit).
export WRANGLER_LOG_PATH=$STATE/wrangler-debug.log
WRANGLER=$ROOT/node_modules/.bin/wrangler
EXAMPLES=${EXAMPLES:-50}

sed -e "s#main = \"build/worker/shim.mjs\"#main = \"$ROOT/build/worker/shim.mjs\"#" \
  -e "s#migrations_dir = \"migrations\"#migrations_dir = \"$ROOT/migrations\"#" \
  -e "s#simple = { limit = [0-9]*, period = 60 }#simple = { limit = 1000000, period = 60 }#" wrangler.toml > "$STATE/wrangler.toml"
ADMIN_KEY=fuzz-admin-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')
printf 'JWT_SECRET=fuzz-secret-%s\nADMIN_API_KEY=%s\nWEBHOOK_SIGNING_KEY=fuzz-webhooks-%s\nFILE_SIGNING_KEY=fuzz-files-0123456789abcdef0123456789\n' \
  "$(od -An -tx8 -N16 /dev/urandom | tr -d ' \n')" "$ADMIN_KEY" "$(od -An -tx8 -N16 /dev/urandom | tr -d ' \n')" > "$STATE/.dev.vars"
(cd "$STATE" && "$WRANGLER" d1 migrations apply DB --local --persist-to d1 </dev/null >/dev/null)

(cd "$STATE" && exec setsid "$WRANGLER" dev --local --ip 127.0.0.1 --port 0 --inspector-port 0 --persist-to d1 \
  --show-interactive-dev-session=false </dev/null >"$STATE/wrangler.log" 2>&1) &
SERVER=$!
stop() {
  kill -TERM -- -"$SERVER" 2>/dev/null || true
  sleep 1
  kill -KILL -- -"$SERVER" 2>/dev/null || true
  rm -rf "$STATE"
}
trap stop EXIT
URL=
for _ in $(seq 600); do
  URL=$(grep -o 'Ready on http://[0-9.:]*' "$STATE/wrangler.log" | head -1 | sed 's/Ready on //') || true
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { cat "$STATE/wrangler.log"; exit 1; }
until curl -sf "$URL/health" >/dev/null; do sleep 0.1; done

export FUZZ_TOKEN FUZZ_ADMIN_KEY=$ADMIN_KEY
FUZZ_TOKEN=$(node bench/token.mjs "fuzzer" 7200 "$STATE/.dev.vars")
export FUZZ_CHAT
FUZZ_CHAT=$(curl -sf -X POST "$URL/api/v1/chats" -H "Authorization: Bearer $FUZZ_TOKEN" \
  -H 'Content-Type: application/json' -d '{"participantIds": ["fuzz-peer"]}' | sed 's/^{"_id":"\([0-9a-f]*\)".*/\1/')
ST=(.venv/bin/schemathesis run "$URL/openapi.json" --generation-deterministic -n "$EXAMPLES" --no-color)
LIVE="GET /api/v1/chats/{chatId}/live"
DOWNLOAD="GET /api/v1/files/{fileId}"
status=0
# Every operation but the WebSocket route and file downloads, with every check but use_after_free.
# Every DELETE of this API is a soft one by contract: a deleted message stays a tombstone (its thread
# and reactions stay readable), a revoked key stays listed with its deliveries, an unpinned message or
# a removed reaction is still the message. schemathesis.toml turned the check off per operation, but
# `--checks all` on the command line overrides that file, so the check is left out here.
"${ST[@]}" --checks all --exclude-checks use_after_free --exclude-name "$LIVE" \
  --exclude-name "$DOWNLOAD" || status=1
# File downloads, with every check but the response body's schema: the body is the file's own bytes
# under its own Content-Type (documented as */*), so a file uploaded as application/json, or a range of
# one, is no JSON to hold to a schema.
"${ST[@]}" --checks all --exclude-checks response_schema_conformance --include-name "$DOWNLOAD" || status=1
# The WebSocket route, with every check but the two that cannot hold for workerd's own refusals of a
# malformed handshake (plain text, without the worker's headers): see schemathesis.toml.
"${ST[@]}" --checks all --exclude-checks content_type_conformance,response_headers_conformance \
  --include-name "$LIVE" || status=1
exit $status
