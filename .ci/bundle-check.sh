#!/usr/bin/env bash
# The bundle check: what `wrangler deploy` would upload, built without uploading (`--dry-run --outdir`)
# for each environment named, and the gzip -9 size of its wasm against the budget (issue 21 set 450 KiB;
# issue 25 raised it to 480 KiB, see bench/README.md "Safety and privacy").
#
#   bash .ci/bundle-check.sh [ENV…]     ENV: default (the top level), staging, production
#   WASM_GZIP_BUDGET=<bytes>            default 491520 (480 KiB)
set -euo pipefail
cd "$(dirname "$0")/.."
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true
WRANGLER=node_modules/.bin/wrangler
BUDGET=${WASM_GZIP_BUDGET:-491520}
envs=("$@")
[ ${#envs[@]} -gt 0 ] || envs=(default staging)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The OpenAPI document is generated natively (src/openapi/, src/bin/openapi.rs): none of its code may
# reach the worker. The `JsonSchema` derives on wire structs and views compile into the library, and
# the release build drops them as dead code; their mangled names would show in the module's `name`
# section, which wasm-bindgen's input still has (`serde` names are there, as a check that the names
# are).
module=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/edge_chat.wasm
if [ ! -f "$module" ] || ! grep -aq serde_json "$module"; then
  echo "bundle check: $module (with its name section) is missing: run make build" >&2
  exit 1
fi
if grep -aq schemars "$module"; then
  echo "bundle check: the wasm holds schemars code (the document's generator must stay native)" >&2
  exit 1
fi
echo "bundle check: no schemars code in the wasm"

for env in "${envs[@]}"; do
  # `--env=""` names the top level (without it wrangler warns that environments exist).
  flags=(--env="")
  [ "$env" = default ] || flags=(--env "$env")
  out=$scratch/$env
  if ! "$WRANGLER" deploy --dry-run --outdir "$out" "${flags[@]}" </dev/null >"$scratch/$env.log" 2>&1 \
    || ! grep -q -- '--dry-run: exiting now' "$scratch/$env.log"; then
    cat "$scratch/$env.log" >&2
    echo "bundle check ($env): wrangler could not build the upload" >&2
    exit 1
  fi
  if grep -q 'WARNING' "$scratch/$env.log"; then
    cat "$scratch/$env.log" >&2
    echo "bundle check ($env): wrangler warned about the configuration" >&2
    exit 1
  fi
  wasm=("$out"/*.wasm)
  [ ${#wasm[@]} = 1 ] && [ -f "${wasm[0]}" ] || { echo "bundle check ($env): expected one wasm in the upload" >&2; exit 1; }
  raw=$(stat -c %s "${wasm[0]}")
  gz=$(gzip -9 -c "${wasm[0]}" | wc -c)
  echo "bundle check ($env): wasm $raw bytes raw, $gz bytes gzip -9 (budget $BUDGET); $(grep 'Total Upload' "$scratch/$env.log")"
  if [ "$gz" -gt "$BUDGET" ]; then
    echo "bundle check ($env): the wasm is over its gzip budget by $((gz - BUDGET)) bytes" >&2
    exit 1
  fi
done
