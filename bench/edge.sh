#!/usr/bin/env bash
# The request path, in one run (issue 21): the same edge-chat build served without and with an
# `[assets]` section (run_worker_first, as wrangler.toml had it), builds whose per-request log line is
# switched off or only formatted (made here in git worktrees of HEAD), and a plain Hono worker
# answering `SELECT 1` (bench/peer/), without and with a log line like edge-chat's. Each serves its own copy of one seed; wrk runs every target on every server in
# interleaved rounds (the order alternates), so the machine's noise falls on all alike. Results go to
# bench/out/edge.md.
#
#   ROUNDS (default 5), DURATION (default 8s), CONNECTIONS (default 2), MESSAGES (default 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-2}
MESSAGES=${MESSAGES:-1000}
BIG_CHAT=00000000000000000000b16c
mkdir -p "$OUT"
source bench/serve.sh
trap stop_servers EXIT

# Two builds of HEAD made in git worktrees: one whose `log::emit` returns at once (no log line), one
# that formats the line (JSON text, then a JS object) but never hands it to `console.log`. Between
# them and the plain build they split the log line's cost into its formatting and the runtime's log.
variant() { # variant <name> <python replacing the body of emit>
  local src=$OUT/$1-src
  rm -rf "$src" && git worktree prune && git worktree add -f --detach "$src" HEAD >/dev/null
  ln -s "$ROOT/node_modules" "$src/node_modules"
  python3 - "$src/src/log.rs" "$2" <<'PY'
import sys
path, body = sys.argv[1], sys.argv[2]
text = open(path).read()
head = "pub fn emit<T: Serialize>(line: &T) {\n"
start = text.index(head) + len(head)
end = text.index("\n}\n", start)
open(path, "w").write(text[:start] + body + text[end:])
PY
  (cd "$src" && WASM_BINDGEN_BIN=$ROOT/.tools/bin/wasm-bindgen ESBUILD_BIN=$ROOT/node_modules/@esbuild/linux-x64/bin/esbuild \
    CARGO_TARGET_DIR=$OUT/variant-target "$ROOT/.tools/bin/worker-build" --release >/dev/null 2>&1 \
    && node .ci/strip-wasm-names.mjs build/index_bg.wasm >/dev/null) || { echo "could not build the $1 variant" >&2; exit 1; }
}
variant nolog '    let _ = line;'
variant fmtonly '    if let Ok(json) = serde_json::to_string(line) {
        let _ = std::hint::black_box(worker::js_sys::JSON::parse(&json));
    }'

SEED=$OUT/edge-seed
rm -rf "$SEED" && mkdir -p "$SEED"
bench_config "$SEED"
MESSAGES=$MESSAGES bash bench/seed.sh > "$SEED/seed.sql"
(cd "$SEED" && "$WRANGLER" d1 migrations apply DB --local --persist-to d1 </dev/null >/dev/null \
  && "$WRANGLER" d1 execute DB --local --persist-to d1 --file=seed.sql >/dev/null)
VARS='JWT_SECRET=bench-secret-0123456789abcdef-0123456789\nADMIN_API_KEY=bench-admin-key\nRATE_LIMITS=off\n'

# serve <name> <main> [assets]: a copy of the seed served by <main>; with `assets`, the wrangler.toml
# gains the [assets] section the project had (one file, the worker first on every path).
serve() {
  local dir=$OUT/edge-$1
  rm -rf "$dir" && cp -r "$SEED" "$dir"
  set_main "$dir" "$2"
  printf "$VARS" > "$dir/.dev.vars"
  if [ "${3:-}" = assets ]; then
    mkdir -p "$dir/assets" && cp "$ROOT/docs/openapi.json" "$dir/assets/openapi.json"
    printf '\n[assets]\ndirectory = "%s"\nbinding = "ASSETS"\nrun_worker_first = true\n' "$dir/assets" >> "$dir/wrangler.toml"
  fi
  start_server "$dir"
}
serve plain "$ROOT/build/worker/shim.mjs" > "$OUT/edge-plain.url"
serve assets "$ROOT/build/worker/shim.mjs" assets > "$OUT/edge-assets.url"
serve nolog "$OUT/nolog-src/build/worker/shim.mjs" > "$OUT/edge-nolog.url"
serve fmtonly "$OUT/fmtonly-src/build/worker/shim.mjs" > "$OUT/edge-fmtonly.url"
# peer <name> [log]: the Hono peer; with `log`, it logs a line shaped as edge-chat's (PEER_LOG=on).
peer() {
  local dir=$OUT/edge-$1
  rm -rf "$dir" && mkdir -p "$dir" && cp bench/peer/index.ts bench/peer/wrangler.toml "$dir/"
  ln -s "$ROOT/node_modules" "$dir/node_modules"
  [ "${2:-}" = log ] && printf 'PEER_LOG=on\n' > "$dir/.dev.vars"
  start_server "$dir"
}
peer peer > "$OUT/edge-peer.url"
peer peerlog log > "$OUT/edge-peerlog.url"

TOKEN=$(node bench/token.mjs alice 3600 "$OUT/edge-plain/.dev.vars")
AUTH="Authorization: Bearer $TOKEN"
PAGE="/api/v1/messages/chat/$BIG_CHAT?page=1&limit=20"
# name|server|path
TARGETS=(
  "edge /health|plain|/health"
  "edge /health, with [assets]|assets|/health"
  "edge /health, no log line|nolog|/health"
  "edge /health, log line formatted, not logged|fmtonly|/health"
  "TypeScript peer /health|peer|/health"
  "TypeScript peer /health, logging the same line|peerlog|/health"
  "edge page 1, limit 20|plain|$PAGE"
  "edge page 1, limit 20, with [assets]|assets|$PAGE"
  "edge page 1, limit 20, no log line|nolog|$PAGE"
)
url_of() { cat "$OUT/edge-$1.url"; }
for t in "${TARGETS[@]}"; do
  IFS='|' read -r _ server path <<< "$t"
  wrk -t1 -c"$CONNECTIONS" -d2s -H "$AUTH" "$(url_of "$server")$path" >/dev/null
done
declare -A RUNS
for round in $(seq "$ROUNDS"); do
  order=("${!TARGETS[@]}")
  [ $((round % 2)) = 0 ] && order=($(printf '%s\n' "${!TARGETS[@]}" | tac))
  for i in "${order[@]}"; do
    IFS='|' read -r _ server path <<< "${TARGETS[$i]}"
    out=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -H "$AUTH" "$(url_of "$server")$path")
    if echo "$out" | grep -q 'Non-2xx'; then echo "non-2xx answers for ${TARGETS[$i]}:"; echo "$out"; exit 1; fi
    RUNS[$i]+="$(echo "$out" | awk '/Requests\/sec/{print $2}') "
  done
done

{
  echo "## The request path, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$(nproc) cores, $(lscpu | awk -F': *' '/Model name/{print $2}' | head -1). wrk: 1 thread, $CONNECTIONS connections,"
  echo "$DURATION per run, $ROUNDS rounds (the order alternates), median req/s. Build: $(git rev-parse --short HEAD)$(git diff --quiet || echo ', with local changes')."
  echo
  echo "| target | req/s | / edge /health | rounds | rows read |"
  echo "|---|---|---|---|---|"
  base=$(printf '%s' "${RUNS[0]}" | median)
  for i in "${!TARGETS[@]}"; do
    IFS='|' read -r name server path <<< "${TARGETS[$i]}"
    m=$(printf '%s' "${RUNS[$i]}" | median)
    rows=$(curl -s -o /dev/null -D - -H "$AUTH" "$(url_of "$server")$path" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-d1-rows-read"{print $2}')
    printf '| %s | %s | %s | %s | %s |\n' "$name" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN{printf "%.2f", a / b}')" "${RUNS[$i]% }" "${rows:--}"
  done
} | tee "$OUT/edge.md"
git worktree remove --force "$OUT/nolog-src" >/dev/null 2>&1 || true
git worktree remove --force "$OUT/fmtonly-src" >/dev/null 2>&1 || true
