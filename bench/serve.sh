# Sourced by the benchmark scripts (from the project root, ROOT set): sets WRANGLER (quiet, offline),
# installs wrk if it is missing, builds an earlier revision for before/after runs, and starts and stops
# `wrangler dev` servers, each in its own process group. The caller calls `trap stop_servers EXIT`.
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true CLOUDFLARE_CF_FETCH_ENABLED=false
# No devtools inspector proxy: with it, workerd reports every subrequest (each D1 query and Durable
# Object call, bodies included) over the inspector to wrangler's Node process, which writes each one
# to its debug log; that took a third of this machine's CPU under load and is not part of the service.
# wrangler 4.86 turns its inspector proxy off only in a VS Code debug terminal, which it detects by
# this variable (it has no flag for it). See bench/README.md "How the servers run".
export VSCODE_INSPECTOR_OPTIONS=off
WRANGLER=$ROOT/node_modules/.bin/wrangler
SERVERS=()

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

# build_revision <git revision> <name>: builds the revision's worker in the worktree bench/out/<name>
# (release, name section stripped when that revision strips it), and prints its build directory.
build_revision() {
  local worktree=$ROOT/bench/out/$2
  rm -rf "$worktree" && git worktree prune && git worktree add -f --detach "$worktree" "$1" >/dev/null
  ln -s "$ROOT/node_modules" "$worktree/node_modules"
  (cd "$worktree" && WASM_BINDGEN_BIN=$ROOT/.tools/bin/wasm-bindgen ESBUILD_BIN=$ROOT/node_modules/@esbuild/linux-x64/bin/esbuild \
    CARGO_TARGET_DIR=$ROOT/bench/out/base-target "$ROOT/.tools/bin/worker-build" --release >/dev/null 2>&1 \
    && if [ -f .ci/strip-wasm-names.mjs ]; then node .ci/strip-wasm-names.mjs build/index_bg.wasm >/dev/null; fi)
  echo "$worktree/build"
}

# start_server <dir>: serves <dir> (its wrangler.toml, .dev.vars and local D1 in <dir>/d1) on a free
# port, and prints the URL once /health answers. Call it without `$(...)`, redirecting its output to a
# file: it must run in the calling shell, so that SERVERS keeps the process group. wrangler's own log
# level is BENCH_LOG_LEVEL (default warn: no per-request line through wrangler's Node process; the
# worker's errors still show); its debug log goes to <dir>/wrangler-debug.log.
start_server() {
  local dir=$1 port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  (cd "$dir" && WRANGLER_LOG_PATH="$dir/wrangler-debug.log" exec setsid "$WRANGLER" dev --local --ip 127.0.0.1 --port "$port" \
    --inspector-port 0 --persist-to d1 --log-level "${BENCH_LOG_LEVEL:-warn}" --show-interactive-dev-session=false \
    </dev/null >"$dir/wrangler.log" 2>&1) &
  SERVERS+=($!)
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && { echo "http://127.0.0.1:$port"; return 0; }
    sleep 0.1
  done
  cat "$dir/wrangler.log" >&2
  exit 1
}

# bench_config <dir> [<main>] [<sed expression> ...]: writes <dir>/wrangler.toml, the project's with its
# paths made absolute (migrations, and `main`: the built worker unless given), then any extra
# rewrites (such as a raised rate limit).
bench_config() {
  local dir=$1 main=${2:-$ROOT/build/worker/shim.mjs} rewrites=()
  shift $(($# < 2 ? $# : 2))
  for expression in "$@"; do rewrites+=(-e "$expression"); done
  sed -e "s#^main = \".*\"#main = \"$main\"#" -e "s#migrations_dir = \"migrations\"#migrations_dir = \"$ROOT/migrations\"#" \
    "${rewrites[@]}" "$ROOT/wrangler.toml" > "$dir/wrangler.toml"
}

# set_main <dir> <entry module>: points <dir>/wrangler.toml (from bench_config) at another build.
set_main() {
  sed -i "s#^main = \".*\"#main = \"$2\"#" "$1/wrangler.toml"
}

# median: the median of the whitespace-separated values on standard input, plain numbers or wrk's
# durations (850.12us, 950.12ms, 1.20s, compared in milliseconds), printed as given.
median() {
  tr ' ' '\n' | grep -v '^$' \
    | awk '{v = $0; n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; print n, v}' \
    | sort -n | awk '{a[NR] = $2} END {print a[int((NR + 1) / 2)]}'
}

stop_servers() {
  for pid in "${SERVERS[@]}"; do kill -TERM -- -"$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${SERVERS[@]}"; do kill -KILL -- -"$pid" 2>/dev/null || true; done
}
