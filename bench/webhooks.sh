#!/usr/bin/env bash
# Webhooks (issue 12): send throughput into one chat with no webhook and with one (a receiver on
# loopback, bench/receiver.mjs), in interleaved rounds on one server (the key's webhook is set and
# removed between rounds), and the delivery latency from commit to receipt: one send at a time, and
# under the full send load. Also the D1 rows a send costs in each case.
#
#   CLIENTS (default 32), ROUNDS (default 3), DURATION (default 8s), SINGLES (default 200).
#   Results: bench/out/webhooks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out/webhooks
CLIENTS=${CLIENTS:-32}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
SINGLES=${SINGLES:-200}
ADMIN=bench-admin-key
rm -rf "$OUT" && mkdir -p "$OUT/server"

source bench/serve.sh
RECEIVER=
cleanup() { stop_servers; [ -n "$RECEIVER" ] && kill "$RECEIVER" 2>/dev/null || true; }
trap cleanup EXIT

node bench/receiver.mjs "$OUT/receiver.port" &
RECEIVER=$!
for _ in $(seq 100); do [ -s "$OUT/receiver.port" ] && break; sleep 0.1; done
HOOK=http://127.0.0.1:$(cat "$OUT/receiver.port")/hooks

bench_config "$OUT/server"
printf 'JWT_SECRET=bench-secret-0123456789abcdef-0123456789\nADMIN_API_KEY=%s\nRATE_LIMITS=off\nWEBHOOK_SIGNING_KEY=bench-webhook-signing-key-0123456789abcdef\nWEBHOOK_ALLOW_LOOPBACK=true\n' "$ADMIN" > "$OUT/server/.dev.vars"
(cd "$OUT/server" && "$WRANGLER" d1 migrations apply DB --local --persist-to d1 </dev/null >/dev/null)
start_server "$OUT/server" > "$OUT/server.url"
URL=$(cat "$OUT/server.url")
TOKEN=$(node bench/token.mjs alice 3600 "$OUT/server/.dev.vars")
export TOKEN

json() { curl -sf -H 'Content-Type: application/json' "$@"; }
first_id() { sed 's/^{"_id":"\([^"]*\)".*/\1/'; }
CHAT=$(json -H "Authorization: Bearer $TOKEN" -d '{"participantIds":["bob"],"type":"group","title":"hooks","projectId":"bench"}' "$URL/api/v1/chats" | first_id)
[ ${#CHAT} = 24 ] || { echo "no chat: $CHAT" >&2; exit 1; }
export CHAT
KEY_ID=$(json -H "X-API-Key: $ADMIN" -d '{"name":"bench-hook","projectId":"bench"}' "$URL/api/v1/admin/api-keys" | first_id)
[ ${#KEY_ID} = 24 ] || { echo "no key: $KEY_ID" >&2; exit 1; }
hook() { json -X PATCH -H "X-API-Key: $ADMIN" -d "{\"webhookUrl\":$1}" "$URL/api/v1/admin/api-keys/$KEY_ID" >/dev/null; }
send_headers() {
  curl -s -o /dev/null -D - -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"chatId\":\"$CHAT\",\"content\":\"$1\"}" "$URL/api/v1/messages" | tr -d '\r' \
    | awk -F': ' 'tolower($1)=="x-d1-rows-read"{r=$2} tolower($1)=="x-d1-rows-written"{w=$2} END{print r" read, "w" written"}'
}
# Drains the receiver's backlog: waits until it has `n` events (at most 120 s).
wait_events() {
  for _ in $(seq 1200); do
    [ "$(curl -sf "${HOOK%/hooks}/stats" | sed 's/.*"count":\([0-9]*\).*/\1/')" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "the receiver got fewer than $1 events" >&2; return 1
}

send_headers "warm: the chat's first send also writes the sender's profile copies" >/dev/null
ROWS_OFF=$(send_headers "rows without a webhook")
hook "\"$HOOK\""
ROWS_ON=$(send_headers "rows with a webhook")
hook null
wrk -t1 -c"$CLIENTS" -d2s -s bench/send.lua "$URL" >/dev/null
declare -A RPS P50 P99
LOAD_STATS=
for round in $(seq "$ROUNDS"); do
  order="off on"; [ $((round % 2)) = 0 ] && order="on off"
  for side in $order; do
    if [ "$side" = on ]; then hook "\"$HOOK\""; curl -sf -X POST "${HOOK%/hooks}/reset" >/dev/null; else hook null; fi
    out=$(wrk -t1 -c"$CLIENTS" -d"$DURATION" --latency -s bench/send.lua "$URL")
    if echo "$out" | grep -q 'Non-2xx'; then echo "non-2xx answers ($side):"; echo "$out"; exit 1; fi
    RPS[$side]+="$(echo "$out" | awk '/Requests\/sec/{print $2}') "
    P50[$side]+="$(echo "$out" | awk '$1=="50%"{print $2}') "
    P99[$side]+="$(echo "$out" | awk '$1=="99%"{print $2}') "
    if [ "$side" = on ]; then
      sent=$(echo "$out" | awk '/requests in/{print $1}')
      wait_events "$sent"
      LOAD_STATS+="$(curl -sf "${HOOK%/hooks}/stats") "
    fi
  done
done
# One send at a time, the webhook on: commit-to-receipt latency without a backlog (first, the last
# loaded round's stragglers drain: the receiver's count stops moving for 2 s).
hook "\"$HOOK\""
count() { curl -sf "${HOOK%/hooks}/stats" | sed 's/.*"count":\([0-9]*\).*/\1/'; }
before=-1
while [ "$(count)" != "$before" ]; do before=$(count); sleep 2; done
curl -sf -X POST "${HOOK%/hooks}/reset" >/dev/null
for i in $(seq "$SINGLES"); do
  json -H "Authorization: Bearer $TOKEN" -d "{\"chatId\":\"$CHAT\",\"content\":\"single $i\"}" "$URL/api/v1/messages" >/dev/null
  sleep 0.02
done
wait_events "$SINGLES"
SINGLE_STATS=$(curl -sf "${HOOK%/hooks}/stats")
FAILED=$(curl -sf -H "X-API-Key: $ADMIN" "$URL/api/v1/admin/api-keys/$KEY_ID/deliveries?limit=100" | { grep -o '"status":"failed"' || true; } | wc -l)

{
  echo "## Webhooks: sends into one chat with 0 and 1 webhook, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "wrk: 1 thread, $CLIENTS connections, $DURATION per run, $ROUNDS interleaved rounds (median); build $(git rev-parse --short HEAD)$(git diff --quiet || echo ', with local changes')."
  echo
  echo "| webhooks | sends/s | p50 | p99 | rounds (sends/s) |"
  echo "|---|---|---|---|---|"
  for side in off on; do
    n=0; [ "$side" = on ] && n=1
    printf '| %s | %s | %s | %s | %s |\n' "$n" "$(printf '%s' "${RPS[$side]}" | median)" \
      "$(printf '%s' "${P50[$side]}" | median)" "$(printf '%s' "${P99[$side]}" | median)" "${RPS[$side]% }"
  done
  echo
  echo "D1 rows per send: no webhook $ROWS_OFF; one webhook $ROWS_ON."
  echo
  echo "Commit-to-receipt latency (ms), one send at a time ($SINGLES sends): $SINGLE_STATS"
  echo
  echo "Commit-to-receipt latency (ms) under the load above, per round with the webhook: $LOAD_STATS"
  echo
  echo "Deliveries failed (of the newest 100): $FAILED"
} | tee "$ROOT/bench/out/webhooks.md"
