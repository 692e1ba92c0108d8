#!/usr/bin/env bash
# Search (issue 24), in one run: /health, a search of one chat of 100,000 messages (1,000 of them match)
# and a search across the caller's 200 chats (2 matches each, 400 in all), on one server with one seed
# (by SQL: the index fills through its triggers as the rows go in). wrk runs the three in interleaved
# rounds; the rows read come from the X-D1-Rows-Read of one request each. Also the rows written by a
# send with the index (compare with the figure before issue 24 in bench/README.md). Results go to
# bench/out/search.md.
#
#   ROUNDS (default 5), DURATION (default 8s), CONNECTIONS (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-2}
BIG=00000000000000000000b16c
mkdir -p "$OUT"
source bench/serve.sh
trap stop_servers EXIT

DIR=$OUT/search
rm -rf "$DIR" && mkdir -p "$DIR"
bench_config "$DIR"
printf 'JWT_SECRET=bench-secret-0123456789abcdef-0123456789\nADMIN_API_KEY=bench-admin-key\nFILE_SIGNING_KEY=bench-files-0123456789abcdef-0123456789\nRATE_LIMITS=off\n' > "$DIR/.dev.vars"
cat > "$DIR/seed.sql" <<SQL
INSERT INTO users (id, username, first_name, claimed, created_at, updated_at)
  VALUES ('alice', 'alice', 'Alice', 1, 1, 1), ('bob', 'bob', 'Bob', 1, 1, 1);
INSERT INTO chats (id, type, title, last_seq, last_activity_at, created_at, updated_at, num)
  VALUES ('$BIG', 'group', 'big', 100000, 1700000100000, 1, 1, 1);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO chats (id, type, title, last_seq, last_activity_at, created_at, updated_at, num)
  SELECT printf('%024x', 1000 + i), 'group', 'small', 20, 1700000000000, 1, 1, 1 + i FROM n;
INSERT INTO chat_participants (chat_id, user_id, joined_at, username)
  SELECT id, 'alice', 1, 'alice' FROM chats;
INSERT INTO chat_participants (chat_id, user_id, joined_at, username)
  SELECT id, 'bob', 1, 'bob' FROM chats;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO messages (chat_id, seq, id, sender_id, type, content, created_at, updated_at)
  SELECT '$BIG', i, printf('%08x%016x', 1700000000, i), 'bob', 'text',
         CASE WHEN i % 100 = 0 THEN 'the invoice number ' || i ELSE 'message number ' || i || ' of the day' END,
         1700000000000 + i, 1700000000000 + i FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
INSERT INTO messages (chat_id, seq, id, sender_id, type, content, created_at, updated_at)
  SELECT c.id, n.i, printf('%08x%08x%08x', 1700000001, c.num, n.i), 'bob', 'text',
         CASE WHEN n.i % 10 = 0 THEN 'an invoice in chat ' || c.num ELSE 'small talk ' || n.i END,
         1700000000000 + n.i, 1700000000000 + n.i
  FROM chats c, n WHERE c.id <> '$BIG';
SQL
(cd "$DIR" && "$WRANGLER" d1 migrations apply DB --local --persist-to d1 </dev/null >/dev/null \
  && "$WRANGLER" d1 execute DB --local --persist-to d1 --file=seed.sql </dev/null >/dev/null)
start_server "$DIR" > "$DIR.url"
URL=$(cat "$DIR.url")
TOKEN=$(node bench/token.mjs alice 3600 "$DIR/.dev.vars")
AUTH="Authorization: Bearer $TOKEN"
# name|path
TARGETS=(
  "/health|/health"
  "search one chat of 100,000 messages (1,000 match), limit 20|/api/v1/search?q=invoice&chatId=$BIG&limit=20"
  "search 201 chats (1,400 match), limit 20|/api/v1/search?q=invoice&limit=20"
  "search 201 chats, a word in none|/api/v1/search?q=zebra&limit=20"
)
for t in "${TARGETS[@]}"; do
  IFS='|' read -r _ path <<< "$t"
  wrk -t1 -c"$CONNECTIONS" -d2s -H "$AUTH" "$URL$path" >/dev/null
done
declare -A RUNS
for round in $(seq "$ROUNDS"); do
  order=("${!TARGETS[@]}")
  [ $((round % 2)) = 0 ] && order=($(printf '%s\n' "${!TARGETS[@]}" | tac))
  for i in "${order[@]}"; do
    IFS='|' read -r _ path <<< "${TARGETS[$i]}"
    out=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -H "$AUTH" "$URL$path")
    if echo "$out" | grep -q 'Non-2xx'; then echo "non-2xx answers for ${TARGETS[$i]}:"; echo "$out"; exit 1; fi
    RUNS[$i]+="$(echo "$out" | awk '/Requests\/sec/{print $2}') "
  done
done
send_cost() {
  curl -s -o /dev/null -D - -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"chatId\": \"$1\", \"content\": \"one more invoice\"}" "$URL/api/v1/messages" \
    | tr -d '\r' | awk -F': ' 'tolower($1)=="x-d1-rows-read"{r=$2} tolower($1)=="x-d1-rows-written"{w=$2} END{print r " read, " w " written"}'
}
{
  echo "## Search, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$(nproc) cores, $(lscpu | awk -F': *' '/Model name/{print $2}' | head -1). wrk: 1 thread, $CONNECTIONS connections,"
  echo "$DURATION per run, $ROUNDS rounds (the order alternates), median req/s. Build: $(git rev-parse --short HEAD)$(git diff --quiet || echo ', with local changes')."
  echo
  echo "| target | req/s | / /health | rounds | rows read |"
  echo "|---|---|---|---|---|"
  base=$(printf '%s' "${RUNS[0]}" | median)
  for i in "${!TARGETS[@]}"; do
    IFS='|' read -r name path <<< "${TARGETS[$i]}"
    m=$(printf '%s' "${RUNS[$i]}" | median)
    rows=$(curl -s -o /dev/null -D - -H "$AUTH" "$URL$path" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-d1-rows-read"{print $2}')
    printf '| %s | %s | %s | %s | %s |\n' "$name" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN{printf "%.2f", a / b}')" "${RUNS[$i]% }" "${rows:--}"
  done
  echo
  echo "A send into a 2-member group with the index: $(send_cost "$(printf '%024x' 1001)")."
} | tee "$OUT/search.md"
