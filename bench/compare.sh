#!/usr/bin/env bash
# Before/after in one run: serves two builds of the worker side by side (each in its own `wrangler dev`
# and process group, each on its own copy of the same seeded state) and runs wrk against the same reads
# of both in interleaved rounds, so that the machine's noise falls on both alike. Results go to
# bench/out/compare.md. Run through `make bench-compare` (it builds the current tree first).
#
#   BASE=<git revision>   the "before" build, made in a git worktree (default: origin/main, else HEAD~1)
#   BASE_BUILD=<dir>      or a build/ directory made earlier (skips building BASE)
#   ROUNDS (default 5), DURATION (default 8s), CONNECTIONS (default 2), MESSAGES (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-2}
MESSAGES=${MESSAGES:-100000}
BIG_CHAT=00000000000000000000b16c
mkdir -p "$OUT"


source bench/serve.sh
trap stop_servers EXIT

# The "before" build.
if [ -z "${BASE_BUILD:-}" ]; then
  BASE=${BASE:-$(git rev-parse --verify -q origin/main || git rev-parse HEAD~1)}
  BASE_BUILD=$(build_revision "$BASE" base-src)
  BASE_NAME="before ($(git rev-parse --short "$BASE"))"
else
  BASE_NAME="before ($BASE_BUILD)"
fi
AFTER_NAME="after ($(git rev-parse --short HEAD)$(git diff --quiet || echo ', with local changes'))"

# One seeded state, copied for each server.
SEED=$OUT/compare-seed
rm -rf "$SEED" && mkdir -p "$SEED"
bench_config "$SEED"
MESSAGES=$MESSAGES bash bench/seed.sh > "$SEED/seed.sql"
(cd "$SEED" && "$WRANGLER" d1 migrations apply DB --local --persist-to d1 </dev/null >/dev/null \
  && "$WRANGLER" d1 execute DB --local --persist-to d1 --file=seed.sql >/dev/null)

# serve <name> <build dir>: prints the server's URL.
serve() {
  local dir=$OUT/compare-$1
  rm -rf "$dir" && cp -r "$SEED" "$dir"
  set_main "$dir" "$2/worker/shim.mjs"
  printf 'JWT_SECRET=bench-secret-0123456789abcdef-0123456789\nADMIN_API_KEY=bench-admin-key\nRATE_LIMITS=off\n' > "$dir/.dev.vars"
  start_server "$dir"
}
# Not `$(serve ...)`: the function must run in this shell, so that SERVERS keeps the process groups.
serve before "$BASE_BUILD" > "$OUT/compare-before.url"
BEFORE=$(cat "$OUT/compare-before.url")
serve after "$ROOT/build" > "$OUT/compare-after.url"
AFTER=$(cat "$OUT/compare-after.url")

TOKEN=$(node bench/token.mjs alice 3600 "$OUT/compare-after/.dev.vars")
AUTH="Authorization: Bearer $TOKEN"
NAMES=("/health" "page 1, limit 50" "page 2,000, limit 50")
PATHS=("/health" "/api/v1/messages/chat/$BIG_CHAT?page=1&limit=50" "/api/v1/messages/chat/$BIG_CHAT?page=2000&limit=50")
declare -A RUNS
for url in "$BEFORE" "$AFTER"; do
  for p in "${PATHS[@]}"; do wrk -t1 -c"$CONNECTIONS" -d2s -H "$AUTH" "$url$p" >/dev/null; done
done
for round in $(seq "$ROUNDS"); do
  # Which server goes first alternates between rounds, so that neither always follows the other.
  order="before after"; [ $((round % 2)) = 0 ] && order="after before"
  for i in "${!PATHS[@]}"; do
    for side in $order; do
      url=$BEFORE; [ "$side" = after ] && url=$AFTER
      out=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -H "$AUTH" "$url${PATHS[$i]}")
      if echo "$out" | grep -q 'Non-2xx'; then echo "non-2xx answers for $side ${PATHS[$i]}:"; echo "$out"; exit 1; fi
      RUNS[$side.$i]+="$(echo "$out" | awk '/Requests\/sec/{print $2}') "
    done
  done
done

{
  echo "## Before/after of $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$(nproc) cores, $(lscpu | awk -F': *' '/Model name/{print $2}' | head -1). wrk: 1 thread, $CONNECTIONS connections,"
  echo "$DURATION per run, $ROUNDS rounds, each round running every target on both servers in turn (which one"
  echo "goes first alternates); median req/s of the rounds."
  echo "Before: $BASE_NAME. After: $AFTER_NAME. Same seed ($MESSAGES messages in the big chat)."
  echo
  echo "| target | before req/s | after req/s | after / before | before rounds | after rounds | rows read before / after |"
  echo "|---|---|---|---|---|---|---|"
  for i in "${!PATHS[@]}"; do
    b=$(printf '%s' "${RUNS[before.$i]}" | median)
    a=$(printf '%s' "${RUNS[after.$i]}" | median)
    rows() { curl -s -o /dev/null -D - -H "$AUTH" "$1${PATHS[$i]}" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-d1-rows-read"{print $2}'; }
    printf '| %s | %s | %s | %s | %s | %s | %s / %s |\n' "${NAMES[$i]}" "$b" "$a" "$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.3f", a / b}')" \
      "${RUNS[before.$i]% }" "${RUNS[after.$i]% }" "$(rows "$BEFORE")" "$(rows "$AFTER")"
  done
  for side in before after; do
    dir=$BASE_BUILD; [ "$side" = after ] && dir=$ROOT/build
    wasm=$(find "$dir" -name '*.wasm' | head -1)
    echo
    echo "Release wasm $side: $(stat -c %s "$wasm") bytes raw, $(gzip -9c "$wasm" | wc -c) bytes gzip -9."
  done
} | tee "$OUT/compare.md"
