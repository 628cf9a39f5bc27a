#!/usr/bin/env bash
# Build the Snapshelf .deb (release): binaries, translations, then cargo-deb. Output in target/debian/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh
ensure_rust
ensure_packages "${SNAPSHELF_PACKAGES[@]}"
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
cargo build --release -p snapshelf-helper -p snapshelf-confine -p snapshelfctl -p snapshelf-store -p snapshelf -p snapshelf-search-provider -p snapshelf-launcher -p snapshelf-update-agent
scripts/snapctl-static.sh --release
for l in $(cat po/LINGUAS); do
  mkdir -p "target/locale/$l/LC_MESSAGES"
  msgfmt --check -o "target/locale/$l/LC_MESSAGES/snapshelf.mo" "po/$l.po"
done
cargo deb -p snapshelf-helper --no-build
