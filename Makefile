# github-app-kms-token: build, demo and test.
#
#   make build   the release component: dist/github-app-kms-token.wasm
#   make demo    the whole flow against local stand-ins of KMS and GitHub
#   make test    installs what is missing, builds, runs every check and test
#   make wit     the component's exact imports and exports

WASM      := dist/github-app-kms-token.wasm
TARGET    := wasm32-wasip2
WASMTIME_VERSION   := 48.0.8
WASM_TOOLS_VERSION := 1.263.0
VENV      := target/venv
CARGO_BIN := $(HOME)/.cargo/bin
export PATH := $(CARGO_BIN):$(PATH)
SHELL     := bash

.PHONY: build demo test tools lint wit bench clean

build:
	rustup target add $(TARGET)
	cargo build --release --target $(TARGET)
	mkdir -p dist
	cp target/$(TARGET)/release/github_app_kms_token.wasm $(WASM)
	@echo "$(WASM): $$(wc -c < $(WASM)) bytes"

# With OWNER (and APP_ID, KMS_KEY_ID, AWS_* credentials) set, the same host mints a real token.
demo: build
	cargo run --quiet -p wasmtime-host -- --wasm $(WASM) $(if $(OWNER),--owner $(OWNER),--demo)

# Tools the tests drive: the wasmtime CLI, wasm-tools, and moto (KMS) in a venv.
tools:
	@wasmtime --version 2>/dev/null | grep -q " $(WASMTIME_VERSION) " || \
		cargo install wasmtime-cli --version $(WASMTIME_VERSION) --locked
	@wasm-tools --version 2>/dev/null | grep -q " $(WASM_TOOLS_VERSION)" || \
		cargo install wasm-tools --version $(WASM_TOOLS_VERSION) --locked
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
	wasm-tools validate $(WASM)
	set -o pipefail; MOTO_SERVER=$(CURDIR)/$(VENV)/bin/moto_server WASMTIME=$$(command -v wasmtime) \
		JCO=$(CURDIR)/tests/jco/node_modules/.bin/jco \
		cargo test --workspace 2>&1 | tee target/test.log
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "tests: %d passed, %d failed\n", p, f }' target/test.log

# Measured figures, one run (not a test: it never fails on timing).
bench: tools build
	WASMTIME=$$(command -v wasmtime) cargo run --release -p bench

clean:
	cargo clean
	rm -rf dist
