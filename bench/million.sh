#!/usr/bin/env bash
# A million messages (issue 13): one server holds a 1,000,000-message chat and a 1,000-message chat
# (seeded by SQL); page 1, a deep page (page 20,000 of the big chat, page 20 of the small one), a
# `before` cursor in the middle, the cursor that page hands back, and a sync-window page in the middle
# are read from both. Prints the D1 rows read per request of each (they must be equal) and req/s in
# interleaved rounds beside /health. Results: bench/out/million.md.
#   BIG (default 1000000), ROUNDS (default 3), DURATION (default 5s), CONNECTIONS (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out/million
BIG=${BIG:-1000000}
SMALL=1000
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-2}
BIG_CHAT=00000000000000000000b16c
SMALL_CHAT=0000000000000000000005a1
T=1700000000000
rm -rf "$OUT" && mkdir -p "$OUT"

source bench/serve.sh
trap stop_servers EXIT

bench_config "$OUT"
printf 'JWT_SECRET=bench-secret-0123456789abcdef-0123456789\nADMIN_API_KEY=bench-admin-key\nRATE_LIMITS=off\n' > "$OUT/.dev.vars"
{
  MESSAGES=$BIG bash bench/seed.sh
  # The small chat: a group of alice and bob with $SMALL messages, ids like the big chat's.
  cat <<SQL
INSERT INTO chats (id, type, title, direct_key, last_seq, last_activity_at, created_at, updated_at)
  VALUES ('$SMALL_CHAT', 'group', 'small', NULL, $SMALL, $T + $SMALL, $T, $T + $SMALL);
INSERT INTO chat_participants (chat_id, user_id, last_read_seq, joined_at, username) VALUES
  ('$SMALL_CHAT', 'alice', $SMALL, $T, 'alice'), ('$SMALL_CHAT', 'bob', $SMALL, $T, 'bob');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $SMALL)
INSERT INTO messages (chat_id, seq, id, sender_id, sender_role, type, content, created_at, updated_at)
  SELECT '$SMALL_CHAT', i, printf('%08x%016x', ($T + i) / 1000 + 1000000, i), CASE i % 2 WHEN 0 THEN 'alice' ELSE 'bob' END,
         'user', 'text', 'small chat message ' || i, $T + i, $T + i FROM n;
SQL
} > "$OUT/seed.sql"
seeding_started=$(date +%s)
(cd "$OUT" && "$WRANGLER" d1 migrations apply DB --local --persist-to d1 </dev/null >/dev/null \
  && "$WRANGLER" d1 execute DB --local --persist-to d1 --file=seed.sql >/dev/null)
echo "seeded $BIG + $SMALL messages in $(( $(date +%s) - seeding_started )) s"
start_server "$OUT" > "$OUT/url"
URL=$(cat "$OUT/url")
AUTH="Authorization: Bearer $(node bench/token.mjs alice 3600 "$OUT/.dev.vars")"

# targets <chat> <messages> <id offset>: the five reads of a chat of that size.
targets() {
  local chat=$1 n=$2 offset=$3 mid=$(( $2 / 2 ))
  local mid_id cursor
  mid_id=$(printf '%08x%016x' $(( (T + mid) / 1000 + offset )) "$mid")
  cursor=$(curl -s -H "$AUTH" "$URL/api/v1/messages/chat/$chat?before=$mid_id&limit=50" | sed 's/.*"nextCursor":"\([0-9a-f]*\)".*/\1/')
  echo "/api/v1/messages/chat/$chat?page=1&limit=50"
  echo "/api/v1/messages/chat/$chat?page=$(( n / 50 ))&limit=50"
  echo "/api/v1/messages/chat/$chat?before=$mid_id&limit=50"
  echo "/api/v1/messages/chat/$chat?cursor=$cursor&limit=50"
  echo "/api/v1/messages/chat/$chat?updatedAfter=$(( T + mid ))&limit=50"
}
mapfile -t BIG_PATHS < <(targets "$BIG_CHAT" "$BIG" 0)
mapfile -t SMALL_PATHS < <(targets "$SMALL_CHAT" "$SMALL" 1000000)
NAMES=("page 1" "last page (page $((BIG / 50)) / page $((SMALL / 50)))" "before the middle message" "the cursor that page returns" "sync window from the middle")
rows() { curl -s -o /dev/null -D - -H "$AUTH" "$URL$1" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-d1-rows-read"{r=$2} tolower($1)=="x-d1-queries"{q=$2} END{print q " / " r}'; }
status() { curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$URL$1"; }
declare -A RUNS
ALL=("/health" "${BIG_PATHS[@]}" "${SMALL_PATHS[@]}")
for p in "${ALL[@]}"; do [ "$(status "$p")" = 200 ] || { echo "not 200: $p"; exit 1; }; done
for round in $(seq "$ROUNDS"); do
  for i in "${!ALL[@]}"; do
    RUNS[$i]+="$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -H "$AUTH" "$URL${ALL[$i]}" | awk '/Requests\/sec/{print $2}') "
  done
done
{
  echo "## A million messages, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "One server, a $BIG-message chat and a $SMALL-message chat; wrk 1 thread, $CONNECTIONS connections,"
  echo "$DURATION per run, $ROUNDS rounds (median req/s). /health: $(printf '%s' "${RUNS[0]}" | median) req/s."
  echo
  echo "| read (limit 50) | D1 queries / rows, $BIG | D1 queries / rows, $SMALL | req/s, $BIG | req/s, $SMALL |"
  echo "|---|---|---|---|---|"
  for i in "${!NAMES[@]}"; do
    b=$((i + 1)); s=$((i + 1 + ${#BIG_PATHS[@]}))
    printf '| %s | %s | %s | %s | %s |\n' "${NAMES[$i]}" "$(rows "${BIG_PATHS[$i]}")" "$(rows "${SMALL_PATHS[$i]}")" \
      "$(printf '%s' "${RUNS[$b]}" | median)" "$(printf '%s' "${RUNS[$s]}" | median)"
  done
} | tee "$ROOT/bench/out/million.md"
