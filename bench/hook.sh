#!/usr/bin/env bash
# The before-send hook (issue 25), in one run: sends into a chat that a hook reaches (the hook answers
# "allow" at once, on loopback) against sends into a chat no hook reaches, on one server. wrk runs the
# two in interleaved rounds; latency percentiles from wrk --latency, D1 round trips and rows from one
# send's headers each. Results go to bench/out/hook.md.
#
#   ROUNDS (default 5), DURATION (default 8s), CONNECTIONS (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-2}
ADMIN=bench-admin-key
mkdir -p "$OUT"
source bench/serve.sh
trap 'stop_servers; [ -n "${HOOK_PID:-}" ] && kill "$HOOK_PID" 2>/dev/null; true' EXIT

DIR=$OUT/hook
rm -rf "$DIR" && mkdir -p "$DIR"
bench_config "$DIR"
printf 'JWT_SECRET=bench-secret-0123456789abcdef-0123456789\nADMIN_API_KEY=%s\nRATE_LIMITS=off\nWEBHOOK_SIGNING_KEY=bench-webhook-signing-key-0123456789abcdef\nWEBHOOK_ALLOW_LOOPBACK=true\n' "$ADMIN" > "$DIR/.dev.vars"
(cd "$DIR" && "$WRANGLER" d1 migrations apply DB --local --persist-to d1 </dev/null >/dev/null)
start_server "$DIR" > "$DIR.url"
URL=$(cat "$DIR.url")
node bench/hook-receiver.mjs "$DIR/hook.port" & HOOK_PID=$!
for _ in $(seq 100); do [ -s "$DIR/hook.port" ] && break; sleep 0.1; done
HOOK="http://127.0.0.1:$(cat "$DIR/hook.port")/before-send"
curl -sf -X POST "$URL/api/v1/admin/api-keys" -H "X-API-Key: $ADMIN" -H 'Content-Type: application/json' \
  -d "{\"name\": \"moderation\", \"projectId\": \"bench_hook\", \"beforeSendUrl\": \"$HOOK\"}" >/dev/null
TOKEN=$(node bench/token.mjs alice 3600 "$DIR/.dev.vars")
AUTH="Authorization: Bearer $TOKEN"
chat() {
  curl -sf -X POST "$URL/api/v1/chats" -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"participantIds\": [\"bob\"], \"type\": \"group\", \"title\": \"t\", \"projectId\": \"$1\"}" \
    | sed 's/^{"_id":"\([0-9a-f]*\)".*/\1/'
}
HOOKED=$(chat bench_hook)
PLAIN=$(chat bench_plain)
# name|chat
TARGETS=("send, no hook reaches the chat|$PLAIN" "send, a hook that allows at once|$HOOKED")
for t in "${TARGETS[@]}"; do
  IFS='|' read -r _ c <<< "$t"
  TOKEN=$TOKEN CHAT=$c wrk -t1 -c"$CONNECTIONS" -d2s -s bench/send.lua "$URL" >/dev/null
done
declare -A RUNS P50 P99
for round in $(seq "$ROUNDS"); do
  order=("${!TARGETS[@]}")
  [ $((round % 2)) = 0 ] && order=($(printf '%s\n' "${!TARGETS[@]}" | tac))
  for i in "${order[@]}"; do
    IFS='|' read -r _ c <<< "${TARGETS[$i]}"
    out=$(TOKEN=$TOKEN CHAT=$c wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/send.lua "$URL")
    if echo "$out" | grep -q 'Non-2xx'; then echo "non-2xx answers for ${TARGETS[$i]}:"; echo "$out"; exit 1; fi
    RUNS[$i]+="$(echo "$out" | awk '/Requests\/sec/{print $2}') "
    P50[$i]+="$(echo "$out" | awk '$1=="50%"{print $2}') "
    P99[$i]+="$(echo "$out" | awk '$1=="99%"{print $2}') "
  done
done
cost() {
  curl -s -o /dev/null -D - -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"chatId\": \"$1\", \"content\": \"one more\"}" "$URL/api/v1/messages" \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="x-d1-queries"{q=$2} tolower($1)=="x-d1-rows-read"{r=$2} tolower($1)=="x-d1-rows-written"{w=$2} END{print q " round trips, " r " read, " w " written"}'
}
{
  echo "## Before-send hook, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$(nproc) cores, $(lscpu | awk -F': *' '/Model name/{print $2}' | head -1). wrk: 1 thread, $CONNECTIONS connections,"
  echo "$DURATION per run, $ROUNDS rounds (the order alternates); medians. Build: $(git rev-parse --short HEAD)$(git diff --quiet || echo ', with local changes')."
  echo
  echo "| target | req/s | / no hook | p50 latency (runs) | p99 latency (runs) | one send |"
  echo "|---|---|---|---|---|---|"
  base=$(printf '%s' "${RUNS[0]}" | median)
  for i in "${!TARGETS[@]}"; do
    IFS='|' read -r name c <<< "${TARGETS[$i]}"
    m=$(printf '%s' "${RUNS[$i]}" | median)
    printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN{printf "%.2f", a / b}')" \
      "${P50[$i]% }" "${P99[$i]% }" "$(cost "$c")"
  done
} | tee "$OUT/hook.md"
