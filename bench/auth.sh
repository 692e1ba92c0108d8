#!/usr/bin/env bash
# What authentication and rate limiting cost, in one run (issue 11): the same authenticated page read
# (GET /api/v1/messages/chat/<chat>?page=1&limit=50) with an HS256 token and with an RS256 token of an
# identity provider (its JWKS served on loopback by bench/jwks.mjs, cached by the worker after the
# first request), on a server with RATE_LIMITS=off, and the HS256 read on a second server of the same
# build with the limits on (their budgets raised so that the load is never refused: the limiter is
# called, and counts, on every request). Interleaved rounds; median req/s. Results: bench/out/auth.md.
#   ROUNDS (default 5), DURATION (default 8s), CONNECTIONS (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out/auth
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-2}
BIG_CHAT=00000000000000000000b16c
rm -rf "$OUT" && mkdir -p "$OUT/seed"

source bench/serve.sh
# wrangler's info level: the count of key set fetch failures below reads the worker's log lines.
export BENCH_LOG_LEVEL=${BENCH_LOG_LEVEL:-info}
trap stop_servers EXIT

setsid node bench/jwks.mjs "$OUT/jwks.port" "$OUT/rs256.token" alice &
SERVERS+=($!)
until [ -s "$OUT/jwks.port" ]; do sleep 0.1; done
JWKS_URL="http://127.0.0.1:$(cat "$OUT/jwks.port")/jwks.json"

bench_config "$OUT/seed" "" "s#simple = { limit = [0-9]*, period = 60 }#simple = { limit = 100000000, period = 60 }#"
MESSAGES=1000 bash bench/seed.sh > "$OUT/seed/seed.sql"
(cd "$OUT/seed" && "$WRANGLER" d1 migrations apply DB --local --persist-to d1 </dev/null >/dev/null \
  && "$WRANGLER" d1 execute DB --local --persist-to d1 --file=seed.sql >/dev/null)

# serve <name> <extra .dev.vars line>: writes the URL to $OUT/<name>.url.
serve() {
  local dir=$OUT/$1
  cp -r "$OUT/seed" "$dir"
  printf 'JWT_SECRET=bench-secret-0123456789abcdef-0123456789\nADMIN_API_KEY=bench-admin-key\nJWT_JWKS_URL=%s\n%s\n' "$JWKS_URL" "$2" > "$dir/.dev.vars"
  start_server "$dir" > "$OUT/$1.url"
}
serve off "RATE_LIMITS=off"
serve on ""
OFF=$(cat "$OUT/off.url"); ON=$(cat "$OUT/on.url")
HS=$(node bench/token.mjs alice 3600 "$OUT/off/.dev.vars")
RS=$(cat "$OUT/rs256.token")
PATH_=/api/v1/messages/chat/$BIG_CHAT?page=1\&limit=50
for t in "$HS" "$RS"; do curl -sf -o /dev/null -H "Authorization: Bearer $t" "$OFF$PATH_" || { echo "warm-up refused"; exit 1; }; done
NAMES=("HS256, limits off" "RS256 (JWKS cached), limits off" "HS256, limits on")
URLS=("$OFF" "$OFF" "$ON")
TOKENS=("$HS" "$RS" "$HS")
declare -A RUNS
for i in 0 1 2; do wrk -t1 -c"$CONNECTIONS" -d2s -H "Authorization: Bearer ${TOKENS[$i]}" "${URLS[$i]}$PATH_" >/dev/null; done
for round in $(seq "$ROUNDS"); do
  order="0 1 2"; [ $((round % 2)) = 0 ] && order="2 1 0"
  for i in $order; do
    out=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -H "Authorization: Bearer ${TOKENS[$i]}" "${URLS[$i]}$PATH_")
    if echo "$out" | grep -q 'Non-2xx'; then echo "non-2xx answers for ${NAMES[$i]}:"; echo "$out"; exit 1; fi
    RUNS[$i]+="$(echo "$out" | awk '/Requests\/sec/{print $2}') "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$0} END{print a[int((NR+1)/2)]}'; }
base=$(printf '%s' "${RUNS[0]}" | median)
{
  echo "## Authentication and rate limiting, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$(nproc) cores. wrk: 1 thread, $CONNECTIONS connections, $DURATION per run, $ROUNDS interleaved rounds; median req/s."
  echo "Page 1 (limit 50) of a 1,000-message chat. Build $(git rev-parse --short HEAD)."
  echo
  echo "| read | req/s | / HS256 limits off | rounds |"
  echo "|---|---|---|---|"
  for i in 0 1 2; do
    m=$(printf '%s' "${RUNS[$i]}" | median)
    printf '| %s | %s | %s | %s |\n' "${NAMES[$i]}" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN{printf "%.3f", a / b}')" "${RUNS[$i]% }"
  done
  echo
  echo "Key set fetches by the worker during the run: $(grep -c 'jwks' "$OUT/off/wrangler.log" || true) failure lines logged."
} | tee "$OUT/../auth.md"
