#!/usr/bin/env bash
# Cold start: the time from starting `wrangler dev` to the first 200 of an authenticated page read
# (GET /api/v1/messages/chat/<chat>?page=1&limit=50 with a user's token), for two builds, alternating,
# ROUNDS times each (default 5); prints the median and every run. Each start is a new workerd on a copy
# of the same seeded state (1,000 messages), so the figure includes workerd's start and the wasm's
# compile and instantiation, as a deploy's first request would (plus wrangler's own start, alike for both).
#
#   bash bench/coldstart.sh <before build dir> [<after build dir, default build/>]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BEFORE=${1:?usage: coldstart.sh <before build dir> [<after build dir>]}
AFTER=${2:-$ROOT/build}
ROUNDS=${ROUNDS:-5}
OUT=$ROOT/bench/out/coldstart
BIG_CHAT=00000000000000000000b16c
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false
# No devtools inspector proxy (see bench/serve.sh): it costs a third of the CPU under load.
export VSCODE_INSPECTOR_OPTIONS=off
WRANGLER=$ROOT/node_modules/.bin/wrangler

rm -rf "$OUT" && mkdir -p "$OUT/seed"
sed -e "s#migrations_dir = \"migrations\"#migrations_dir = \"$ROOT/migrations\"#" wrangler.toml > "$OUT/seed/wrangler.toml"
printf 'JWT_SECRET=bench-secret-0123456789abcdef-0123456789\nADMIN_API_KEY=bench-admin-key\nRATE_LIMITS=off\n' > "$OUT/seed/.dev.vars"
MESSAGES=1000 bash bench/seed.sh > "$OUT/seed/seed.sql"
(cd "$OUT/seed" && "$WRANGLER" d1 migrations apply DB --local --persist-to d1 </dev/null >/dev/null \
  && "$WRANGLER" d1 execute DB --local --persist-to d1 --file=seed.sql >/dev/null)
TOKEN=$(node bench/token.mjs alice 3600 "$OUT/seed/.dev.vars")

PID=
cleanup() { [ -n "$PID" ] && { kill -TERM -- -"$PID" 2>/dev/null || true; sleep 0.5; kill -KILL -- -"$PID" 2>/dev/null || true; }; }
trap cleanup EXIT

# once <build dir>: milliseconds from spawn to the first 200 of the page read.
once() {
  local dir=$OUT/run port
  rm -rf "$dir" && cp -r "$OUT/seed" "$dir"
  sed -i "s#main = \"build/worker/shim.mjs\"#main = \"$1/worker/shim.mjs\"#" "$dir/wrangler.toml"
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  local start=$(date +%s%N)
  (cd "$dir" && exec setsid "$WRANGLER" dev --local --ip 127.0.0.1 --port "$port" --inspector-port 0 --persist-to d1 \
    --show-interactive-dev-session=false </dev/null >"$dir/wrangler.log" 2>&1) &
  PID=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$port/api/v1/messages/chat/$BIG_CHAT?page=1&limit=50")" = 200 ]; do
    sleep 0.01
    [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 60000 ] || { cat "$dir/wrangler.log" >&2; exit 1; }
  done
  echo $(( ($(date +%s%N) - start) / 1000000 ))
  cleanup; PID=
}

declare -A RUNS
for round in $(seq "$ROUNDS"); do
  order="before after"; [ $((round % 2)) = 0 ] && order="after before"
  for side in $order; do
    dir=$BEFORE; [ "$side" = after ] && dir=$AFTER
    RUNS[$side]+="$(once "$dir") "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$0} END{print a[int((NR+1)/2)]}'; }
for side in before after; do
  dir=$BEFORE; [ "$side" = after ] && dir=$AFTER
  wasm=$(find "$dir" -name '*.wasm' | head -1)
  echo "$side ($dir): median $(printf '%s' "${RUNS[$side]}" | median) ms to the first 200 (runs: ${RUNS[$side]% });" \
    "wasm $(stat -c %s "$wasm") bytes raw, $(gzip -9c "$wasm" | wc -c) gzip -9"
done
