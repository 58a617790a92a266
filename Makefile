# dossier — the two commands are `make demo` and `make test`; both set up what is missing.
#
# One cargo profile (dev, with optimised dependencies; see Cargo.toml) serves the demo,
# the tests and the benchmarks, so everything is built once. The target directory lives
# outside the clone so that fresh clones (CI) reuse an earlier build.

CARGO_TARGET_DIR ?= $(HOME)/.cache/dossier-target
export CARGO_TARGET_DIR
MODELS ?= $(CURDIR)/models
export DOSSIER_MODELS := $(MODELS)
DOSSIER := $(CARGO_TARGET_DIR)/debug/dossier
DEMO_STORE := $(CURDIR)/target/demo-store
DEMO_QUESTION ?= How much advance notice must the customer give to terminate the Corvane agreement for convenience?

.PHONY: all setup system models eval-data eval-data-wide moto browser build build-all demo test test-arm fresh-check fresh-demo bench lint clean-demo

all: build

system:
	@scripts/setup-system.sh

models:
	@scripts/models.sh "$(MODELS)"

setup: system models

# Development corpus (third-party PDFs, not in git): pinned Debian packages, checked by sha256.
eval-data:
	@samples/eval/fetch.sh

# The wide dev corpus of issue 22 (17 more PDFs, about 190 MB of packages on the first run); not part of `make test`.
eval-data-wide:
	@samples/eval/wide/fetch.sh

# The demo needs the binary alone; the tests, examples and benches are built by `make test`.
build: system
	cargo build --bin dossier

build-all: system
	cargo build --workspace --all-targets

demo: setup build
	@rm -rf "$(DEMO_STORE)"
	"$(DOSSIER)" --store "$(DEMO_STORE)" ingest samples/*.pdf
	@echo
	@echo "$$ dossier ask \"$(DEMO_QUESTION)\""
	@"$(DOSSIER)" --store "$(DEMO_STORE)" ask "$(DEMO_QUESTION)"

# moto's S3-compatible server, in a venv outside the clone, for tests/object_store.rs.
moto:
	@scripts/setup-moto.sh

# Headless Chromium and chromedriver (Debian packages) for tests/browser.rs.
browser:
	@scripts/setup-browser.sh

# The fresh-root check needs root (debootstrap, chroot); DOSSIER_SKIP_FRESH_CHECK=1 skips it.
test: setup eval-data moto browser
	@if [ -n "$$DOSSIER_SKIP_FRESH_CHECK" ]; then echo "fresh-check: skipped (DOSSIER_SKIP_FRESH_CHECK)"; \
	elif [ "$$(id -u)" -ne 0 ]; then echo "fresh-check: skipped (needs root; run sudo make fresh-check)"; \
	else scripts/fresh-machine-check.sh quick; fi
	cargo test --workspace --no-fail-fast

# The LLM kernels' aarch64 (NEON) tests, cross-compiled and run under qemu-user.
test-arm:
	@scripts/test-arm.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# A minimal Debian root (debootstrap) with only the Rust toolchain from this machine: the set-up
# and the prerequisites, used as the build uses them (scripts/fresh-machine-check.sh; as root).
fresh-check:
	@scripts/fresh-machine-check.sh quick

# The same root, then a cold `make demo` to a cited answer; prints its wall time.
fresh-demo:
	@scripts/fresh-machine-check.sh demo

clean-demo:
	rm -rf "$(DEMO_STORE)"
