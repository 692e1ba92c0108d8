#!/usr/bin/env bash
# Deploys edge-chat to a wrangler environment: first the pending D1 migrations (they must be backward
# compatible: the old code keeps serving until the new one is up), then the worker with its secrets.
# Run as `make deploy ENV=staging|production` (it builds first); CI runs exactly that.
#
# Needs in the environment: CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID (wrangler reads them),
# JWT_SECRET, ADMIN_API_KEY, WEBHOOK_SIGNING_KEY and FILE_SIGNING_KEY (uploaded as the worker's
# secrets with the deploy).
# DRY_RUN=1, what .ci/run does: the same commands without Cloudflare: the migrations go to a scratch
# local D1 of that environment, and the deploy is `--dry-run` into a scratch directory.
set -euo pipefail
cd "$(dirname "$0")/.."
env=${1:?usage: deploy.sh staging|production}
case $env in
  staging | production) ;;
  *) echo "deploy: unknown environment '$env' (staging or production)" >&2; exit 2 ;;
esac
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true
WRANGLER=node_modules/.bin/wrangler

for name in JWT_SECRET ADMIN_API_KEY WEBHOOK_SIGNING_KEY FILE_SIGNING_KEY; do
  [ -n "${!name:-}" ] || { echo "deploy: $name is not set (a secret of the GitHub environment '$env')" >&2; exit 2; }
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The secrets travel in a file only this user can read, never on a command line or in the log.
(umask 077 && node -e 'process.stdout.write(JSON.stringify({
  JWT_SECRET: process.env.JWT_SECRET, ADMIN_API_KEY: process.env.ADMIN_API_KEY,
  WEBHOOK_SIGNING_KEY: process.env.WEBHOOK_SIGNING_KEY,
  FILE_SIGNING_KEY: process.env.FILE_SIGNING_KEY }))' > "$scratch/secrets.json")

if [ "${DRY_RUN:-}" = 1 ]; then
  d1=(--local --persist-to "$scratch/state")
  upload=(--dry-run --outdir "$scratch/bundle")
else
  [ -n "${CLOUDFLARE_API_TOKEN:-}" ] || { echo "deploy: CLOUDFLARE_API_TOKEN is not set" >&2; exit 2; }
  d1=(--remote)
  upload=()
fi

echo "deploy: $env: D1 migrations (${d1[0]})"
"$WRANGLER" d1 migrations apply DB --env "$env" "${d1[@]}" </dev/null
echo "deploy: $env: worker$([ "${DRY_RUN:-}" = 1 ] && echo ' (dry run)')"
"$WRANGLER" deploy --env "$env" --secrets-file "$scratch/secrets.json" \
  --message "edge-chat $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "${upload[@]}" </dev/null
if [ "${DRY_RUN:-}" = 1 ]; then
  ls "$scratch"/bundle/*.wasm >/dev/null || { echo "deploy: the dry run produced no wasm" >&2; exit 1; }
fi
