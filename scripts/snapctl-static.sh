#!/usr/bin/env bash
# Build snapctl linked statically (it runs inside sandboxes on any base, with any C library or
# none), in a target directory of its own, and put it at target/<profile>/snapctl where the
# package and install.sh take it from. Usage: scripts/snapctl-static.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug
args=()
if [ "${1:-}" = "--release" ]; then profile=release; args=(--release); fi
triple=$(rustc --print host-tuple 2>/dev/null || rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-C target-feature=+crt-static" cargo build -q "${args[@]}" -p snapshelf-snapctl \
  --target "$triple" --target-dir target/static
mkdir -p "target/$profile"
install -m 755 "target/static/$triple/$profile/snapctl" "target/$profile/snapctl"
