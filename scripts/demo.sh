#!/usr/bin/env bash
# The Snapshelf demo: builds the sample catalog and serves it on 127.0.0.1.
# Needs root the first time only, to install Debian packages; afterwards any user can run it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

ensure_rust
ensure_packages "${SNAPSHELF_PACKAGES[@]}"

DEMO_DIR=${SNAPSHELF_DEMO_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/snapshelf-demo}
LISTEN=${SNAPSHELF_DEMO_LISTEN:-127.0.0.1:8080}
mkdir -p "$DEMO_DIR"

say "building snapshelf-store (release)"
cargo build --release --quiet -p snapshelf-store
STORE=target/release/snapshelf-store

if [ ! -f "$DEMO_DIR/catalog/keys/trusted.assert" ]; then
  say "building the sample catalog in $DEMO_DIR/catalog (keys are made once)"
else
  say "refreshing the sample catalog in $DEMO_DIR/catalog (keys kept)"
fi
"$STORE" sample-catalog "$DEMO_DIR/catalog" >/dev/null

cat <<MSG

The sample store is starting on http://$LISTEN. Try, in another terminal:

  curl -s -H 'Snap-Device-Series: 16' 'http://$LISTEN/v2/snaps/find?q=clock' | python3 -m json.tool
  curl -s -H 'Snap-Device-Series: 16' http://$LISTEN/v2/snaps/info/shelf-clock | python3 -m json.tool
  curl -s -H 'Snap-Device-Series: 16' http://$LISTEN/v2/snaps/categories
  cat $DEMO_DIR/catalog/keys/trusted.assert      # the store's trust root

Press Ctrl+C to stop.
MSG
exec "$STORE" serve --dir "$DEMO_DIR/catalog" --listen "$LISTEN"
