# edge-chat: every command a developer or CI needs. Each target installs what it needs itself.
#   make dev    build, apply the migrations to the local D1, serve on http://127.0.0.1:8787
#   make openapi   write docs/openapi.json, the OpenAPI document generated from the code (after changing
#               a route, a wire struct or a view; a unit test fails while it is stale)
#   make demo   the reference web app (examples/web) on http://127.0.0.1:8788, beside `make dev`
#   make test   build, then run every test: native unit tests, black-box tests against wrangler dev, the
#               OpenAPI fuzzer (schemathesis) against the served worker, the TypeScript client's tests
#               and the web app's browser tests (headless Chromium, installed if missing)
#   make test-clients   only the TypeScript client's and the web app's tests (after `make build`)
#   make fuzz   only the fuzzer
#   make lint   fmt, clippy (host and wasm32), and actionlint over .github/workflows
#   make bundle-check   what `wrangler deploy` would upload (default and staging), the wasm's gzip
#               budget (480 KiB), and no schemars code in the wasm
#   make deploy ENV=staging|production   D1 migrations (--remote), then the worker with its secrets;
#               what CI runs on main (README "Deploy"). `make deploy-check` runs it dry, for both.
#   make ci     what .ci/run does: lint, test, bundle-check, deploy-check
#   make bench  the benchmarks in bench/ (see bench/README.md); make bench-compare: before/after;
#               make bench-client: what the TypeScript client's live connection costs

SHELL := /bin/bash
TOOLS := $(CURDIR)/.tools
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/{getline; gsub(/"/,"",$$3); print $$3}' Cargo.lock)
WORKER_BUILD_VERSION := 0.8.7
WRANGLER := $(CURDIR)/node_modules/.bin/wrangler
SCHEMATHESIS_VERSION := 4.32.5
VENV := $(CURDIR)/.venv
STATE := $(CURDIR)/.wrangler/state

# Keep wrangler offline, quiet and out of $HOME (../shared/TOOLCHAIN.md).
export WRANGLER_SEND_METRICS := false
export WRANGLER_SEND_ERROR_REPORTS := false
export WRANGLER_HIDE_BANNER := true
export CLOUDFLARE_CF_FETCH_ENABLED := false
# wrangler writes a debug log of everything it handles (with `make dev`'s devtools inspector, every D1
# response too): keep it in the project's git-ignored .wrangler/ instead of ~/.config/.wrangler/logs.
export WRANGLER_LOG_PATH := $(CURDIR)/.wrangler/logs
# Point worker-build at local tools instead of letting it download them.
export WASM_BINDGEN_BIN := $(TOOLS)/bin/wasm-bindgen
export ESBUILD_BIN := $(CURDIR)/node_modules/@esbuild/linux-x64/bin/esbuild

.PHONY: tools build openapi dev demo demo-screenshot test test-clients fuzz lint bundle-check deploy deploy-check ci bench bench-compare bench-client clean

tools: $(TOOLS)/.worker-build-$(WORKER_BUILD_VERSION) $(TOOLS)/.wasm-bindgen-$(WASM_BINDGEN_VERSION) node_modules/.package-lock.json
	@rustup target list --installed | grep -q '^wasm32-unknown-unknown$$' || rustup target add wasm32-unknown-unknown

$(TOOLS)/.worker-build-$(WORKER_BUILD_VERSION):
	cargo install worker-build --version $(WORKER_BUILD_VERSION) --locked --root $(TOOLS)
	touch $@

# Not --locked: the registry mirror lacks one of its locked dependencies (TOOLCHAIN.md).
$(TOOLS)/.wasm-bindgen-$(WASM_BINDGEN_VERSION):
	cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --root $(TOOLS)
	touch $@

# The fuzzer, in a git-ignored virtual environment.
$(VENV)/.schemathesis-$(SCHEMATHESIS_VERSION):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check schemathesis==$(SCHEMATHESIS_VERSION)
	touch $@

node_modules/.package-lock.json: package.json package-lock.json clients/typescript/package.json examples/web/package.json
	npm ci --no-audit --no-fund
	touch $@

# The OpenAPI document, generated from the code (src/openapi/) into docs/openapi.json, which the
# worker embeds: run it after changing a route, a wire struct or a view (a test says when it is due).
openapi:
	cargo run --quiet --bin openapi

# worker-build, then the wasm's `name` section removed (see .ci/strip-wasm-names.mjs).
build: tools
	$(TOOLS)/bin/worker-build --release
	node .ci/strip-wasm-names.mjs build/index_bg.wasm

.dev.vars:
	cp .dev.vars.example .dev.vars

dev: build .dev.vars
	$(WRANGLER) d1 migrations apply DB --local --persist-to $(STATE)
	$(WRANGLER) dev --local --ip 127.0.0.1 --port 8787 --persist-to $(STATE) --show-interactive-dev-session=false

test: build $(VENV)/.schemathesis-$(SCHEMATHESIS_VERSION)
	cargo test --all-targets
	bash tests/fuzz/run.sh
	$(MAKE) test-clients

# The TypeScript client (clients/typescript: types generated from docs/openapi.json, then its tests
# against wrangler dev) and the web app (examples/web: built, then driven in headless Chromium).
test-clients: node_modules/.package-lock.json
	npm test --workspace clients/typescript
	npm test --workspace examples/web

# The web app's dev server beside `make dev` (which serves the API on :8787): the page calls the API
# directly, and signs in local test users with tokens minted from .dev.vars.
demo: node_modules/.package-lock.json .dev.vars
	npm run build --workspace clients/typescript
	npm run build --workspace examples/web
	node examples/web/serve.mjs

# The README's screenshot: the browser test's page, copied into docs/.
demo-screenshot: build node_modules/.package-lock.json
	npm test --workspace examples/web
	cp target/web-demo.png docs/web-demo.png

fuzz: build $(VENV)/.schemathesis-$(SCHEMATHESIS_VERSION)
	bash tests/fuzz/run.sh

lint: tools
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings
	node .ci/lint-workflows.mjs

bundle-check: build
	bash .ci/bundle-check.sh default staging

# ENV=staging|production; secrets and the Cloudflare token from the environment (.ci/deploy.sh).
deploy: build
	bash .ci/deploy.sh $(ENV)

# The deploy's own commands, without Cloudflare: migrations to a scratch local D1, `deploy --dry-run`.
deploy-check: build
	DRY_RUN=1 JWT_SECRET=deploy-check-secret ADMIN_API_KEY=deploy-check-admin WEBHOOK_SIGNING_KEY=deploy-check-webhooks FILE_SIGNING_KEY=deploy-check-files bash .ci/deploy.sh staging
	DRY_RUN=1 JWT_SECRET=deploy-check-secret ADMIN_API_KEY=deploy-check-admin WEBHOOK_SIGNING_KEY=deploy-check-webhooks FILE_SIGNING_KEY=deploy-check-files bash .ci/deploy.sh production

ci: lint
	$(MAKE) test
	$(MAKE) bundle-check
	$(MAKE) deploy-check

bench: build
	bash bench/run.sh

# Before/after in one run: BASE=<git revision> (default origin/main, else HEAD~1); see bench/README.md.
bench-compare: build
	bash bench/compare.sh

bench-client: build node_modules/.package-lock.json
	npm run build --workspace clients/typescript
	node bench/client.mjs

clean:
	rm -rf build target .wrangler .venv
