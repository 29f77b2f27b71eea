# github-app-kms-token: build, demo and test.
#
#   make build   the release component: dist/github-app-kms-token.wasm
#   make demo    the whole flow against local stand-ins of KMS and GitHub
#   make test    installs what is missing, builds, runs every check and test
#   make wit     the component's exact imports and exports
#   make bench   measured figures, one run
#   make fuzz    each cargo-fuzz target for FUZZ_SECONDS (nightly Rust)

WASM      := dist/github-app-kms-token.wasm
TARGET    := wasm32-wasip2
WASMTIME_VERSION   := 48.0.8
WASM_TOOLS_VERSION := 1.263.0
VENV      := target/venv
CARGO_BIN := $(HOME)/.cargo/bin
export PATH := $(CARGO_BIN):$(PATH)
SHELL     := bash

.PHONY: build build-tools demo test tools lint wit bench fuzz clean

# The core module is linked without the component step, shrunk with
# binaryen's wasm-opt, then made a component by wasm-tools (about 20% smaller
# than cargo's own component). Its own target folder keeps the flags apart.
CORE_DIR  := target/core
CORE      := $(CORE_DIR)/$(TARGET)/release/github_app_kms_token.wasm
WASM_OPT_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
                     --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types

build: build-tools
	rustup target add $(TARGET)
	RUSTFLAGS="-C link-arg=--skip-wit-component" cargo build --release --target $(TARGET) --target-dir $(CORE_DIR)
	wasm-opt -Oz $(WASM_OPT_FEATURES) $(CORE) -o $(CORE_DIR)/optimized.wasm
	mkdir -p dist
	wasm-tools component new $(CORE_DIR)/optimized.wasm -o $(WASM)
	wasm-tools validate $(WASM)
	@echo "$(WASM): $$(wc -c < $(WASM)) bytes"

# What building needs: wasm-tools (cargo install) and binaryen's wasm-opt (Debian).
build-tools:
	@wasm-tools --version 2>/dev/null | grep -qw "$(WASM_TOOLS_VERSION)" || \
		cargo install wasm-tools --version $(WASM_TOOLS_VERSION) --locked
	@command -v wasm-opt >/dev/null || (apt-get update && apt-get install -y binaryen)

# With OWNER (and APP_ID, KMS_KEY_ID, AWS_* credentials) set, the same host mints a real token.
demo: build
	cargo run --quiet -p wasmtime-host -- --wasm $(WASM) $(if $(OWNER),--owner $(OWNER),--demo)

# Tools the tests drive: the wasmtime CLI, jq, jco (npm, locked) and moto (KMS) in a venv.
tools:
	@wasmtime --version 2>/dev/null | grep -qw "$(WASMTIME_VERSION)" || \
		cargo install wasmtime-cli --version $(WASMTIME_VERSION) --locked
	@command -v jq >/dev/null || (apt-get update && apt-get install -y jq)
	@test -x tests/jco/node_modules/.bin/jco || npm ci --prefix tests/jco --no-audit --no-fund
	@test -x $(VENV)/bin/moto_server || \
		(python3 -m venv $(VENV) && $(VENV)/bin/pip install --quiet -r tests/moto/requirements.txt)

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target $(TARGET) -- -D warnings

wit: build
	wasm-tools component wit $(WASM)

test: tools build lint
	set -o pipefail; MOTO_SERVER=$(CURDIR)/$(VENV)/bin/moto_server WASMTIME=$$(command -v wasmtime) \
		JCO=$(CURDIR)/tests/jco/node_modules/.bin/jco \
		cargo test --workspace 2>&1 | tee target/test.log
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "tests: %d passed, %d failed\n", p, f }' target/test.log

# Measured figures, one run (not a test: it never fails on timing). The
# other ways to mint a token come from the registries, locked: Node.js with
# @aws-sdk/client-kms (npm), awscli (PyPI).
BENCH_VENV := target/bench-venv
bench: tools build
	@command -v curl >/dev/null || (apt-get update && apt-get install -y curl)
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
