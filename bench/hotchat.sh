#!/usr/bin/env bash
# A hot chat (issue 13): sends into ONE chat from many clients at once, before and after, in one run.
# Serves two builds side by side (each its own `wrangler dev` on a copy of the same seeded state, with
# RATE_LIMITS=off) and runs wrk with bench/send.lua against both in interleaved rounds; reports req/s
# and latency percentiles, and checks afterwards that each chat's sequence numbers are dense.
#
#   BASE=<git revision> (default HEAD~1) or BASE_BUILD=<dir>; CLIENTS (default 32), ROUNDS (default
#   3), DURATION (default 8s); D1_RTT_MS (default 0): when set, both builds run behind bench/far-d1.mjs,
#   which makes each D1 call wait that long first, as a database across a network does (locally D1 is
#   in-process). Results: bench/out/hotchat.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out/hotchat
CLIENTS=${CLIENTS:-32}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
D1_RTT_MS=${D1_RTT_MS:-0}
BIG_CHAT=00000000000000000000b16c
rm -rf "$OUT" && mkdir -p "$OUT/seed"

source bench/serve.sh
trap stop_servers EXIT

if [ -z "${BASE_BUILD:-}" ]; then
  BASE=${BASE:-HEAD~1}
  BASE_BUILD=$(build_revision "$BASE" hotchat-base-src)
  BASE_NAME="$(git rev-parse --short "$BASE")"
else
  BASE_NAME=$BASE_BUILD
fi

bench_config "$OUT/seed"
printf 'JWT_SECRET=bench-secret-0123456789abcdef-0123456789\nADMIN_API_KEY=bench-admin-key\nRATE_LIMITS=off\n' > "$OUT/seed/.dev.vars"
MESSAGES=1000 bash bench/seed.sh > "$OUT/seed/seed.sql"
(cd "$OUT/seed" && "$WRANGLER" d1 migrations apply DB --local --persist-to d1 </dev/null >/dev/null \
  && "$WRANGLER" d1 execute DB --local --persist-to d1 --file=seed.sql >/dev/null)
for side in before after; do
  cp -r "$OUT/seed" "$OUT/$side"
  build=$BASE_BUILD; [ "$side" = after ] && build=$ROOT/build
  main=$build/worker/shim.mjs
  if [ "$D1_RTT_MS" != 0 ]; then
    main=$OUT/$side/far-d1.mjs
    sed -e "s#@BUILD@#$build#" -e "s#@RTT_MS@#$D1_RTT_MS#" bench/far-d1.mjs > "$main"
  fi
  set_main "$OUT/$side" "$main"
  start_server "$OUT/$side" > "$OUT/$side.url"
done
TOKEN=$(node bench/token.mjs alice 3600 "$OUT/seed/.dev.vars")
export TOKEN
declare -A RPS P50 P99
for side in before after; do
  wrk -t1 -c"$CLIENTS" -d2s -s bench/send.lua "$(cat "$OUT/$side.url")" >/dev/null
done
for round in $(seq "$ROUNDS"); do
  order="before after"; [ $((round % 2)) = 0 ] && order="after before"
  for side in $order; do
    # A 30 s timeout, so that every request counts in the latencies (wrk leaves out the ones past its
    # default 2 s, which a one-at-a-time commit reaches under load), and any error stops the run.
    out=$(wrk -t1 -c"$CLIENTS" -d"$DURATION" --timeout 30s --latency -s bench/send.lua "$(cat "$OUT/$side.url")")
    if echo "$out" | grep -q 'Non-2xx\|Socket errors'; then echo "errors ($side):"; echo "$out"; exit 1; fi
    RPS[$side]+="$(echo "$out" | awk '/Requests\/sec/{print $2}') "
    P50[$side]+="$(echo "$out" | awk '$1=="50%"{print $2}') "
    P99[$side]+="$(echo "$out" | awk '$1=="99%"{print $2}') "
  done
done
# Dense sequence numbers on both: 1..N with no gap or repeat.
for side in before after; do
  url=$(cat "$OUT/$side.url")
  last=$(curl -sf -H "Authorization: Bearer $TOKEN" "$url/api/v1/chats/$BIG_CHAT" | sed 's/.*"lastSequenceNumber":\([0-9]*\).*/\1/')
  count=$(cd "$OUT/$side" && "$WRANGLER" d1 execute DB --local --persist-to d1 --json \
    --command "SELECT COUNT(*) AS n, COUNT(DISTINCT seq) AS d, MAX(seq) AS m FROM messages WHERE chat_id = '$BIG_CHAT'" 2>/dev/null \
    | tr -d ' \n' | sed 's/.*"n":\([0-9]*\),"d":\([0-9]*\),"m":\([0-9]*\).*/\1 \2 \3/')
  echo "$side: messages, distinct seq, max seq = $count (chat lastSequence $last)" >> "$OUT/dense.txt"
done
{
  echo "## Hot chat: sends into one chat from $CLIENTS clients, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "wrk: 1 thread, $CLIENTS connections, $DURATION per run, $ROUNDS interleaved rounds (median). D1 round trip added: $D1_RTT_MS ms."
  echo "Before: $BASE_NAME. After: $(git rev-parse --short HEAD)$(git diff --quiet || echo ', with local changes')."
  echo
  echo "| build | sends/s | mean latency | p50 | p99 | rounds (sends/s) |"
  echo "|---|---|---|---|---|---|"
  for side in before after; do
    rps=$(printf '%s' "${RPS[$side]}" | median)
    printf '| %s | %s | %s | %s | %s | %s |\n' "$side" "$rps" "$(awk -v c="$CLIENTS" -v r="$rps" 'BEGIN{printf "%.1fms", 1000 * c / r}')" \
      "$(printf '%s' "${P50[$side]}" | median)" "$(printf '%s' "${P99[$side]}" | median)" "${RPS[$side]% }"
  done
  echo
  echo "Mean latency is clients ÷ sends/s (Little's law): it counts every request, also those a build left"
  echo "waiting past the end of a run, which wrk's percentiles (completed requests only) leave out."
  echo
  cat "$OUT/dense.txt"
} | tee "$ROOT/bench/out/hotchat.md"
