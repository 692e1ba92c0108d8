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
# No devtools inspector proxy (see bench/serve.sh): it costs a third of the CPU under load.
export VSCODE_INSPECTOR_OPTIONS=off

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

rm -rf "$STATE" && mkdir -p "$STATE"
sed -e "s#main = \"build/worker/shim.mjs\"#main = \"$ROOT/build/worker/shim.mjs\"#" \
  -e "s#migrations_dir = \"migrations\"#migrations_dir = \"$ROOT/migrations\"#" wrangler.toml > "$STATE/wrangler.toml"
printf 'JWT_SECRET=bench-secret-0123456789abcdef-0123456789\nADMIN_API_KEY=bench-admin-key\nRATE_LIMITS=off\n' > "$STATE/.dev.vars"
WRANGLER=$ROOT/node_modules/.bin/wrangler

# Seed (bench/seed.sh): the big chat, alice's 20 chats, the fan-out group and the transfer chats.
T=1700000000000
MESSAGES=$MESSAGES bash bench/seed.sh > "$STATE/seed.sql"
# The big chat belongs to project `bench`, so that the project surface can read it (its direct key then
# carries the project, as the API would have written it).
echo "UPDATE chats SET project_id = 'bench', direct_key = 'bench alice bob' WHERE id = '$BIG_CHAT';" >> "$STATE/seed.sql"
seed_started=$SECONDS
(cd "$STATE" && "$WRANGLER" d1 migrations apply DB --local --persist-to d1 </dev/null >/dev/null \
  && "$WRANGLER" d1 execute DB --local --persist-to d1 --file=seed.sql >/dev/null)
seed_seconds=$((SECONDS - seed_started))

# The server runs in its own process group, stopped on any exit of this script. It is restarted (same
# state, same port) before each round and before the write benchmarks: local D1 in workerd keeps memory
# per query until its V8 heap (1.4 GB) is exhausted, about 60,000 D1 requests into one server's life
# (a plain JS worker running one D1 query per request grows the same ~30 KB per request), and the
# server then aborts. Production isolates are not affected; this is the local simulator.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
SERVER=
stop_server() {
  [ -n "$SERVER" ] || return 0
  kill -TERM -- -"$SERVER" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 -- -"$SERVER" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- -"$SERVER" 2>/dev/null || true
  SERVER=
}
start_server() {
  stop_server
  (cd "$STATE" && exec setsid "$WRANGLER" dev --local --ip 127.0.0.1 --port "$PORT" --inspector-port 0 --persist-to d1 \
    --show-interactive-dev-session=false </dev/null >>"$OUT/wrangler.log" 2>&1) &
  SERVER=$!
  for _ in $(seq 600); do curl -sf "$URL/health" >/dev/null && return 0; sleep 0.1; done
  cat "$OUT/wrangler.log"; exit 1
}
trap stop_server EXIT
: > "$OUT/wrangler.log"
start_server

TOKEN=$(node bench/token.mjs alice 3600 "$STATE/.dev.vars")
AUTH="Authorization: Bearer $TOKEN"
# A service key of project `bench`, made through the admin API.
SERVICE_KEY=$(curl -sf -X POST -H 'X-API-Key: bench-admin-key' -H 'Content-Type: application/json' \
  -d '{"name": "bench", "projectId": "bench"}' "$URL/api/v1/admin/api-keys" | sed 's/.*"key":"\(eck_[A-Za-z0-9_-]*\)".*/\1/')
KEY="X-API-Key: $SERVICE_KEY"
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
       "before = message 50,000, limit 50" "cursor of that page (49,950), limit 50" "sync window from message 50,000, limit 50"
       "page 2,000, limit 50, by service key" "AI session, afterSequence=50,000 (1,000 messages)"
       "project chats, page 1,000, limit 50" "project chats, before = message 50,000 (epoch ms), limit 50"
       "assistant chats, offset 50,000, limit 50" "assistant chats, offset 50,000, limit 50, by service key")
PATHS=("/health" "/api/v1/messages/chat/$BIG_CHAT?page=1&limit=50" "/api/v1/messages/chat/$BIG_CHAT?page=2000&limit=50" "/api/v1/chats?limit=20"
       "/api/v1/messages/chat/$BIG_CHAT?before=$MID_ID&limit=50" "/api/v1/messages/chat/$BIG_CHAT?cursor=$DEEP_CURSOR&limit=50"
       "/api/v1/messages/chat/$BIG_CHAT?updatedAfter=$((T + 50000))&limit=50"
       "/api/v1/messages/chat/$BIG_CHAT?page=2000&limit=50" "/api/v1/chat/$BIG_CHAT/messages?afterSequence=50000"
       "/api/chat/projects/bench/chats/$BIG_CHAT/messages?page=1000&limit=50"
       "/api/chat/projects/bench/chats/$BIG_CHAT/messages?before=$((T + 50000))&limit=50"
       "/api/v1/chats/$BIG_CHAT/messages?offset=50000&limit=50" "/api/v1/chats/$BIG_CHAT/messages?offset=50000&limit=50")
# The credential of each target: alice's token, or the service key.
HEADERS=("$AUTH" "$AUTH" "$AUTH" "$AUTH" "$AUTH" "$AUTH" "$AUTH" "$KEY" "$AUTH" "$AUTH" "$AUTH" "$AUTH" "$KEY")
declare -A RUNS
for i in "${!PATHS[@]}"; do wrk -t1 -c"$CONNECTIONS" -d2s -H "${HEADERS[$i]}" "$URL${PATHS[$i]}" >/dev/null; done   # warm-up
for round in $(seq "$ROUNDS"); do
  [ "$round" = 1 ] || start_server
  for i in "${!PATHS[@]}"; do
    out=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -H "${HEADERS[$i]}" "$URL${PATHS[$i]}")
    if echo "$out" | grep -q 'Non-2xx'; then echo "non-2xx answers for ${PATHS[$i]}:"; echo "$out"; exit 1; fi
    RUNS[$i]+="$(echo "$out" | awk '/Requests\/sec/{rps=$2} $1=="50%"{p50=$2} $1=="99%"{p99=$2} END{print rps, p50, p99}')"$'\n'
  done
done

row() { # index
  local i=$1 headers rows queries median
  headers=$(curl -s -o /dev/null -D - -H "${HEADERS[$i]}" "$URL${PATHS[$i]}")
  rows=$(echo "$headers" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-d1-rows-read"{print $2}')
  queries=$(echo "$headers" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-d1-queries"{print $2}')
  median=$(printf '%s' "${RUNS[$i]}" | sort -n | awk '{a[NR]=$0} END{print a[int((NR+1)/2)]}')
  read -r rps p50 p99 <<<"$median"
  all=$(printf '%s' "${RUNS[$i]}" | awk '{printf "%s%s", sep, $1; sep=", "}')
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${NAMES[$i]}" "$rps" "$all" "$p50" "$p99" "$queries" "$rows"
}

{
  trap stop_server EXIT   # this block is a subshell (piped to tee): it stops the servers it starts
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
  start_server
  # Sync walks over the whole big chat, one request at a time, following nextCursor to the end.
  echo "| walk over all $MESSAGES messages | pages | messages | distinct | rows read per page (min-max) | seconds | pages/s |"
  echo "|---|---|---|---|---|---|---|"
  for query in "updatedAfter=0&limit=100" "after=0&limit=100" "before=$((T + MESSAGES + 1))&limit=100"; do
    node bench/walk.mjs "$URL" "$BIG_CHAT" "$TOKEN" "$query" \
      | node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); const q = process.argv[1];
          console.log(`| \`${q}\` | ${r.pages} | ${r.messages} | ${r.distinct} | ${r.minRows}-${r.maxRows} | ${r.seconds} | ${r.pagesPerSecond} |`)' "$query"
  done
  echo
  start_server
  # Credit transfers (POST, 1 credit carol -> bob, no idempotency key): one chat serializes them in its
  # Durable Object; 50 chats spread them over 50 objects (D1 still runs batches one at a time).
  PAYER=$(node bench/token.mjs carol 3600 "$STATE/.dev.vars")
  cost=$(curl -s -o /dev/null -D - -X POST -H "Authorization: Bearer $PAYER" -H 'Content-Type: application/json' \
    -d '{"chatId":"000000000000000000000065","recipientId":"bob","amount":1}' "$URL/api/v1/messages/credit-transfer" | tr -d '\r')
  echo "Credit transfers: one transfer costs $(echo "$cost" | awk -F': ' 'tolower($1)=="x-d1-queries"{print $2}') D1 round trip(s),"
  echo "$(echo "$cost" | awk -F': ' 'tolower($1)=="x-d1-rows-read"{print $2}') rows read, $(echo "$cost" | awk -F': ' 'tolower($1)=="x-d1-rows-written"{print $2}') rows written."
  # A service key's send into the big chat (after the walks, which count its 100,000 messages): the key check,
  # then the chat room's batch.
  cost=$(curl -s -o /dev/null -D - -X POST -H "$KEY" -H 'Content-Type: application/json' \
    -d "{\"chatId\":\"$BIG_CHAT\",\"content\":\"from the bench key\"}" "$URL/api/v1/messages" | tr -d '\r')
  echo "A send by service key costs $(echo "$cost" | awk -F': ' 'tolower($1)=="x-d1-queries"{print $2}') D1 round trip(s),"
  echo "$(echo "$cost" | awk -F': ' 'tolower($1)=="x-d1-rows-read"{print $2}') rows read, $(echo "$cost" | awk -F': ' 'tolower($1)=="x-d1-rows-written"{print $2}') rows written ($(echo "$cost" | head -1))."
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
