#!/usr/bin/env bash
# Load and cost benchmarks (bench/README.md): seeds a chat with 100,000 messages by SQL, serves the built
# worker with `wrangler dev` on loopback, and runs wrk against the main reads. Results go to
# bench/out/results.md. Run through `make bench` (it builds first).
#
# Knobs: DURATION (wrk time per target, default 10s), CONNECTIONS (default 2), MESSAGES (default 100000).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
STATE=$OUT/state
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-2}
MESSAGES=${MESSAGES:-100000}
BIG_CHAT=00000000000000000000b16c
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

rm -rf "$STATE" && mkdir -p "$STATE"
sed -e "s#main = \"build/worker/shim.mjs\"#main = \"$ROOT/build/worker/shim.mjs\"#" \
  -e "s#migrations_dir = \"migrations\"#migrations_dir = \"$ROOT/migrations\"#" wrangler.toml > "$STATE/wrangler.toml"
printf 'JWT_SECRET=bench-secret-0123456789abcdef-0123456789\nADMIN_API_KEY=bench-admin-key\n' > "$STATE/.dev.vars"
WRANGLER=$ROOT/node_modules/.bin/wrangler

# Seed (bench/seed.sh): the big chat, alice's 20 chats, the fan-out group and the transfer chats.
T=1700000000000
MESSAGES=$MESSAGES bash bench/seed.sh > "$STATE/seed.sql"
seed_started=$SECONDS
(cd "$STATE" && "$WRANGLER" d1 migrations apply DB --local --persist-to d1 </dev/null >/dev/null \
  && "$WRANGLER" d1 execute DB --local --persist-to d1 --file=seed.sql >/dev/null)
seed_seconds=$((SECONDS - seed_started))

# The server runs in its own process group, stopped on any exit of this script.
(cd "$STATE" && exec setsid "$WRANGLER" dev --local --ip 127.0.0.1 --port 0 --inspector-port 0 --persist-to d1 \
  --show-interactive-dev-session=false </dev/null >"$OUT/wrangler.log" 2>&1) &
SERVER=$!
trap 'kill -TERM -- -$SERVER 2>/dev/null || true; sleep 1; kill -KILL -- -$SERVER 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  URL=$(grep -o 'Ready on http://[0-9.:]*' "$OUT/wrangler.log" | head -1 | sed 's/Ready on //') || true
  [ -n "${URL:-}" ] && break
  sleep 0.1
done
[ -n "${URL:-}" ] || { cat "$OUT/wrangler.log"; exit 1; }
until curl -sf "$URL/health" >/dev/null; do sleep 0.1; done

TOKEN=$(node bench/token.mjs alice 3600 "$STATE/.dev.vars")
AUTH="Authorization: Bearer $TOKEN"
WASM=$(find build -name '*.wasm' | head -1)
WASM_RAW=$(stat -c %s "$WASM")
WASM_GZ=$(gzip -9c "$WASM" | wc -c)

# Each target runs ROUNDS times, interleaved with the others, and the median round is reported: on a
# shared 2-core VM back-to-back runs of the same target differ by up to 20%.
ROUNDS=${ROUNDS:-3}
# Cursor targets deep in the big chat: `before` the message of sequence number 50,000 (seeded ids are
# printf('%08x%016x', created_at / 1000, seq)), the cursor that page hands back (a page at 49,950), and a
# sync-window page starting at the same depth.
MID_ID=$(printf '%08x%016x' $(( (T + 50000) / 1000 )) 50000)
DEEP_CURSOR=$(curl -s -H "$AUTH" "$URL/api/v1/messages/chat/$BIG_CHAT?before=$MID_ID&limit=50" | sed 's/.*"nextCursor":"\([0-9a-f]*\)".*/\1/')
NAMES=("/health" "page 1, limit 50" "page 2,000, limit 50" "chat list (20 chats), limit 20"
       "before = message 50,000, limit 50" "cursor of that page (49,950), limit 50" "sync window from message 50,000, limit 50")
PATHS=("/health" "/api/v1/messages/chat/$BIG_CHAT?page=1&limit=50" "/api/v1/messages/chat/$BIG_CHAT?page=2000&limit=50" "/api/v1/chats?limit=20"
       "/api/v1/messages/chat/$BIG_CHAT?before=$MID_ID&limit=50" "/api/v1/messages/chat/$BIG_CHAT?cursor=$DEEP_CURSOR&limit=50"
       "/api/v1/messages/chat/$BIG_CHAT?updatedAfter=$((T + 50000))&limit=50")
declare -A RUNS
for i in "${!PATHS[@]}"; do wrk -t1 -c"$CONNECTIONS" -d2s -H "$AUTH" "$URL${PATHS[$i]}" >/dev/null; done   # warm-up
for round in $(seq "$ROUNDS"); do
  for i in "${!PATHS[@]}"; do
    out=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -H "$AUTH" "$URL${PATHS[$i]}")
    if echo "$out" | grep -q 'Non-2xx'; then echo "non-2xx answers for ${PATHS[$i]}:"; echo "$out"; exit 1; fi
    RUNS[$i]+="$(echo "$out" | awk '/Requests\/sec/{rps=$2} $1=="50%"{p50=$2} $1=="99%"{p99=$2} END{print rps, p50, p99}')"$'\n'
  done
done

row() { # index
  local i=$1 headers rows queries median
  headers=$(curl -s -o /dev/null -D - -H "$AUTH" "$URL${PATHS[$i]}")
  rows=$(echo "$headers" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-d1-rows-read"{print $2}')
  queries=$(echo "$headers" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-d1-queries"{print $2}')
  median=$(printf '%s' "${RUNS[$i]}" | sort -n | awk '{a[NR]=$0} END{print a[int((NR+1)/2)]}')
  read -r rps p50 p99 <<<"$median"
  all=$(printf '%s' "${RUNS[$i]}" | awk '{printf "%s%s", sep, $1; sep=", "}')
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${NAMES[$i]}" "$rps" "$all" "$p50" "$p99" "$queries" "$rows"
}

{
  echo "## Run of $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"),"
  echo "$(lscpu | awk -F': *' '/Model name/{print $2}' | head -1); wrangler $("$WRANGLER" --version 2>/dev/null | tail -1)."
  echo "wrk: 1 thread, $CONNECTIONS connections, $DURATION per run, $ROUNDS interleaved rounds per target after a 2 s warm-up;"
  echo "the median round (by req/s) is reported with its latencies. Server and wrk share the machine."
  echo "Seed: $MESSAGES messages in one chat, 19 more chats for alice, applied by SQL in about ${seed_seconds} s."
  echo
  echo "| target | req/s (median) | req/s of each round | p50 | p99 | D1 queries | D1 rows read |"
  echo "|---|---|---|---|---|---|---|"
  for i in "${!PATHS[@]}"; do row "$i"; done
  echo
  echo "Release wasm: $WASM_RAW bytes raw, $WASM_GZ bytes gzip -9."
  echo
  # Sync walks over the whole big chat, one request at a time, following nextCursor to the end.
  echo "| walk over all $MESSAGES messages | pages | messages | distinct | rows read per page (min-max) | seconds | pages/s |"
  echo "|---|---|---|---|---|---|---|"
  for query in "updatedAfter=0&limit=100" "after=0&limit=100" "before=$((T + MESSAGES + 1))&limit=100"; do
    node bench/walk.mjs "$URL" "$BIG_CHAT" "$TOKEN" "$query" \
      | node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); const q = process.argv[1];
          console.log(`| \`${q}\` | ${r.pages} | ${r.messages} | ${r.distinct} | ${r.minRows}-${r.maxRows} | ${r.seconds} | ${r.pagesPerSecond} |`)' "$query"
  done
  echo
  # Credit transfers (POST, 1 credit carol -> bob, no idempotency key): one chat serializes them in its
  # Durable Object; 50 chats spread them over 50 objects (D1 still runs batches one at a time).
  PAYER=$(node bench/token.mjs carol 3600 "$STATE/.dev.vars")
  cost=$(curl -s -o /dev/null -D - -X POST -H "Authorization: Bearer $PAYER" -H 'Content-Type: application/json' \
    -d '{"chatId":"000000000000000000000065","recipientId":"bob","amount":1}' "$URL/api/v1/messages/credit-transfer" | tr -d '\r')
  echo "Credit transfers: one transfer costs $(echo "$cost" | awk -F': ' 'tolower($1)=="x-d1-queries"{print $2}') D1 round trip(s),"
  echo "$(echo "$cost" | awk -F': ' 'tolower($1)=="x-d1-rows-read"{print $2}') rows read, $(echo "$cost" | awk -F': ' 'tolower($1)=="x-d1-rows-written"{print $2}') rows written."
  echo
  echo "| transfers | clients | transfers/s | p50 | p99 | non-2xx |"
  echo "|---|---|---|---|---|---|"
  for chats in 1 50; do
    for clients in 1 8 32; do
      out=$(TOKEN=$PAYER CHATS=$chats wrk -t1 -c"$clients" -d"$DURATION" --latency -s bench/transfer.lua "$URL")
      errors=$(echo "$out" | awk '/Non-2xx/{print $5}')
      printf '| %s | %s | %s | %s | %s | %s |\n' "$([ "$chats" = 1 ] && echo "one chat" || echo "50 chats")" "$clients" \
        "$(echo "$out" | awk '/Requests\/sec/{print $2}')" "$(echo "$out" | awk '$1=="50%"{print $2}')" \
        "$(echo "$out" | awk '$1=="99%"{print $2}')" "${errors:-0}"
    done
  done
  echo
  echo "Live delivery (bench/fanout.mjs): HTTP send by one user, receipt of message.created by each listener."
  echo
  echo "| run | listeners | sends | events received | p50 | p99 |"
  echo "|---|---|---|---|---|---|"
  node --experimental-websocket bench/fanout.mjs "$URL" "$STATE/.dev.vars" 2>/dev/null
  # The books after the run: carol + bob still hold exactly what they were seeded with.
  total=$(( $(curl -s -H "Authorization: Bearer $PAYER" "$URL/api/v1/users/me" | sed 's/.*"credits":\([0-9]*\).*/\1/') \
    + $(curl -s -H "Authorization: Bearer $(node bench/token.mjs bob 3600 "$STATE/.dev.vars")" "$URL/api/v1/users/me" | sed 's/.*"credits":\([0-9]*\).*/\1/') ))
  echo
  echo "After the transfer runs, carol + bob hold $total credits (seeded: 2000000000000000)."
} | tee "$OUT/results.md"
