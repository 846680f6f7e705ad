# SneakyScanner entry points. `make run` and `make test` install what they need first.
SHELL := /bin/bash
.DEFAULT_GOAL := run

TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

TRUNK_VERSION := 0.21.14
WASM_BINDGEN_VERSION := 0.2.130
BINARYEN_VERSION := 132.0.0

.PHONY: run test lint fmt frontend tools nmap schema bench fuzz help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: nmap frontend ## build everything and serve on 127.0.0.1:8080 (SQLite in ./data)
	cargo run --release --locked -p server -- serve

test: nmap frontend ## every test of the workspace (PostgreSQL too when SNEAKYSCAN_TEST_POSTGRES_URL is set)
	@if command -v cargo-nextest >/dev/null; then \
		cargo nextest run --locked --no-fail-fast --workspace; \
	else \
		cargo test --locked --no-fail-fast --workspace; \
	fi

lint: tools ## rustfmt and clippy -D warnings (server crates and the wasm frontend)
	cargo fmt --all --check
	cargo clippy --locked --all-targets -- -D warnings
	cargo clippy --locked -p frontend --target wasm32-unknown-unknown -- -D warnings

fmt: ## format the code
	cargo fmt --all

bench: nmap ## benchmarks: parser, import vs python-libnmap, 256-address scan (docs/BENCHMARKS.md)
	bench/run.sh

FUZZ_SECONDS ?= 60
fuzz: ## fuzz the nmap XML parser with libFuzzer for FUZZ_SECONDS (installs cargo-fuzz)
	@cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
	cd nmap-parser && RUSTC_BOOTSTRAP=1 cargo fuzz run parse fuzz/corpus tests/data -- \
		-max_total_time=$(FUZZ_SECONDS) -max_len=65536

schema: ## regenerate schema.graphql from the server
	cargo run --locked -q -p server -- export-schema --out schema.graphql

frontend: tools ## release build of the web app into frontend/dist
	cargo fetch --locked
	trunk build --release
	scripts/graphiql-assets.sh frontend/dist/graphiql
	@size=$$(gzip -6 -c frontend/dist/*.wasm | wc -c); \
	echo "frontend wasm: $$size bytes gzipped (budget 400000)"; \
	[ "$$size" -le 400000 ] || { echo "the web app is over its 400 KB gzipped budget"; exit 1; }

tools: ## wasm32 target, trunk, wasm-bindgen-cli and binaryen (project-local), pinned
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@trunk --version 2>/dev/null | grep -q "$(TRUNK_VERSION)" || cargo install trunk --locked --version $(TRUNK_VERSION)
	@wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)" || cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)
	@$(TOOLS)/node_modules/.bin/wasm-opt --version 2>/dev/null | grep -q "version 132" || \
		npm install --prefix $(TOOLS) --no-audit --no-fund --silent binaryen@$(BINARYEN_VERSION)

nmap: ## nmap (scans), ndiff (parity test), openssl (weak-TLS test server) and Chromium (screenshots) from Debian when root
	@missing=""; \
	command -v nmap >/dev/null || missing="$$missing nmap"; \
	command -v ndiff >/dev/null || missing="$$missing ndiff"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	command -v chromium >/dev/null || missing="$$missing chromium chromium-driver"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
		else \
			echo "not installed:$$missing (e.g. sudo apt-get install$$missing); scans need nmap, screenshots Chromium"; \
		fi; \
	fi
