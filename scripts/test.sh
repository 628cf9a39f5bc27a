#!/usr/bin/env bash
# Run every Snapshelf test: formatting, lints, unit and integration tests.
# Needs root: it installs the Debian packages it needs and the tests use loop mounts.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

if [ "$(id -u)" -ne 0 ]; then
  die "scripts/test.sh needs root (apt-get, loop mounts, test users): run it with sudo"
fi
ensure_rust
ensure_packages "${SNAPSHELF_PACKAGES[@]}"
# The packaging test builds the .deb with cargo-deb.
if ! cargo deb --version >/dev/null 2>&1; then
  say "installing cargo-deb (once)"
  cargo install --locked --quiet cargo-deb
fi

export CARGO_TERM_COLOR=never
say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
say "cargo test"
cargo test --workspace --no-fail-fast
