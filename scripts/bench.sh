#!/usr/bin/env bash
# Benchmarks of Snapshelf against its peers, measured in the same run. Results go to stdout and to
# results/bench-<date>.txt; docs/benchmarks.md records them. Needs root (apt-get, nginx on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh
[ "$(id -u)" -eq 0 ] || die "scripts/bench.sh needs root (it installs wrk and nginx and runs them on 127.0.0.1)"
ensure_rust
ensure_packages "${SNAPSHELF_PACKAGES[@]}" wrk nginx-light

ONLY=${1:-all}  # "all", or one part: store, helper, confine, content, proxy, snapctl, format, gui, search-provider, delta, gnome, agent, services, tracking
if [ "$ONLY" = gnome ]; then
  # Only confine is measured there: the store and the helper only set the root up (debug builds).
  cargo build --release --quiet -p snapshelf-confine
  cargo build --quiet -p snapshelf-store -p snapshelf-helper --examples --bins
  scripts/snapctl-static.sh
  BUILT=$PWD/target/debug
elif [ "$ONLY" = proxy ]; then
  # Only confine is measured there (its monitor filters the bus): the store and the helper only
  # set the root up (debug builds).
  cargo build --release --quiet -p snapshelf-confine
  cargo build --quiet -p snapshelf-store -p snapshelf-helper --examples --bins
  BUILT=$PWD/target/debug
elif [ "$ONLY" = services ] || [ "$ONLY" = tracking ]; then
  # These parts build what they need themselves (a test harness, release).
  BUILT=$PWD/target/release
else
  cargo build --release --quiet -p snapshelf-store -p snapshelf-snap -p snapshelf-helper -p snapshelf-confine -p snapshelf -p snapshelf-search-provider -p snapshelf-update-agent --examples --bins
  BUILT=$PWD/target/release
fi
STORE=$BUILT/snapshelf-store
WORK=$(mktemp -d /tmp/snapshelf-bench.XXXXXX)
mkdir -p results
OUT=results/bench-$(date +%Y%m%d-%H%M%S).txt
cleanup() {
  for m in $(awk '{print $5}' /proc/self/mountinfo | grep "^$WORK/" | sort -r); do umount -l "$m" 2>/dev/null; done
  [ -f "$WORK/pids" ] && while read -r p; do kill "$p" 2>/dev/null || true; done <"$WORK/pids"
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "$*" | tee -a "$OUT"; }

# Start the store in the background; prints its URL once it listens.
start_store() { # dir [more serve arguments]
  local fifo=$WORK/fifo.$RANDOM
  mkfifo "$fifo"
  "$STORE" serve --dir "$1" --listen 127.0.0.1:0 --key-bits 2048 "${@:2}" >"$fifo" 2>>"$WORK/store.log" &
  echo $! >>"$WORK/pids"; echo $! >"$WORK/last.pid"
  local line; read -r line <"$fifo"; rm -f "$fifo"
  echo "${line#listening on }"
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

log "== Snapshelf benchmarks, $(date -u +%FT%TZ), $(nproc) cores, $(uname -r)"

HELPER=$BUILT/snapshelf-helper
HBENCH=$BUILT/examples/helper_bench
cat >"$WORK/bus.conf" <<BUS
<busconfig><type>system</type><listen>unix:path=$WORK/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*"/><allow own="*"/><allow receive_type="method_call"/>
<allow receive_type="method_return"/><allow receive_type="error"/><allow receive_type="signal"/>
<allow send_type="method_return"/><allow send_type="error"/><allow send_type="signal"/></policy></busconfig>
BUS
dbus-daemon --config-file="$WORK/bus.conf" --nofork --print-pid >"$WORK/bus.pid" &
sleep 0.5; cat "$WORK/bus.pid" >>"$WORK/pids"
BUS="unix:path=$WORK/bus"
start_helper() { # root store-url trusted [more helper arguments]
  mkdir -p "$1"
  RUST_LOG=warn "$HELPER" --root "$1" --store-url "$2" --trust "$3" --bus-address "$BUS" "${@:4}" &
  echo $! >>"$WORK/pids"; echo $! >"$WORK/helper.pid"
  for _ in $(seq 100); do busctl --address="$BUS" status io.github.snapshelf.Helper1 >/dev/null 2>&1 && return; sleep 0.1; done
  die "the helper did not start"
}

if [ "$ONLY" = all ] || [ "$ONLY" = store ]; then
# --- store: a 10,000-snap catalog -------------------------------------------------------------
N=${BENCH_SNAPS:-10000}
t=$(date +%s%N); "$STORE" generate "$WORK/big" --count "$N" >/dev/null; log "generate $N snaps: $(ms_since "$t") ms"
t=$(date +%s%N); URL=$(start_store "$WORK/big"); log "store start, cold (no cache, $N snaps): $(ms_since "$t") ms"
kill "$(cat "$WORK/last.pid")"; sleep 0.5
t=$(date +%s%N); URL=$(start_store "$WORK/big"); log "store start, warm (cache, $N snaps): $(ms_since "$t") ms"

log "-- find over $N snaps (wrk, 1 thread, 4 connections, 10 s; results capped at 100 like the real store; target for q=tool, 975 matches: median <= 1 ms, >= 3,000 req/s)"
for q in "q=tool" "q=generated-app-4242" "category=games" "q=calendar%20mail"; do
  wrk -t1 -c4 -d10s --latency -H 'Snap-Device-Series: 16' "$URL/v2/snaps/find?$q" >"$WORK/wrk.txt"
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")
  p50=$(awk '$1=="50%" {print $2}' "$WORK/wrk.txt")
  p99=$(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")
  n=$(curl -s -H 'Snap-Device-Series: 16' "$URL/v2/snaps/find?$q" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["results"]))')
  log "find $q ($n results): $rps req/s, median $p50, p99 $p99"
done

# --- downloads: the store against nginx, same file, curl ----------------------------------------
mkdir -p "$WORK/dl/snaps" "$WORK/dl/src/meta"
printf 'name: big-download\nversion: "1"\nsummary: a large file\n' >"$WORK/dl/src/meta/snap.yaml"
head -c $((512 * 1024 * 1024)) /dev/urandom >"$WORK/dl/src/payload"
mksquashfs "$WORK/dl/src" "$WORK/dl/snaps/big-download_1.snap" -noappend -noI -noD -noF -all-root -no-xattrs -quiet >/dev/null
printf '[store]\nauthority-id = "bench"\ndisplay-name = "Bench"\n' >"$WORK/dl/catalog.toml"
DURL=$(start_store "$WORK/dl")
FILE_URL=$(curl -s -H 'Snap-Device-Series: 16' "$DURL/v2/snaps/info/big-download" | python3 -c 'import json,sys; print(json.load(sys.stdin)["channel-map"][0]["download"]["url"])')
cat >"$WORK/nginx.conf" <<NGINX
user root;
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err;
events { worker_connections 64; }
http { access_log off; sendfile on; tcp_nopush on;
  server { listen 127.0.0.1:18089; root $WORK/dl/snaps; } }
NGINX
nginx -c "$WORK/nginx.conf"
cat "$WORK/dl/snaps/big-download_1.snap" >/dev/null # warm the page cache for both
speed() { curl -s -o /dev/null -w '%{speed_download}' "$1"; }
best_store=0; best_nginx=0; all_store=""; all_nginx=""
for i in 1 2 3 4 5; do
  s=$(speed "$FILE_URL"); n=$(speed "http://127.0.0.1:18089/big-download_1.snap")
  best_store=$(python3 -c "print(max($best_store,$s))"); best_nginx=$(python3 -c "print(max($best_nginx,$n))")
  all_store="$all_store$s,"; all_nginx="$all_nginx$n,"
done
# Loopback throughput swings between runs on a shared machine: medians of the interleaved runs too.
log "medians: snapshelf-store $(python3 -c "import statistics as s; print(round(s.median([$all_store])/2**20))") MiB/s, nginx $(python3 -c "import statistics as s; print(round(s.median([$all_nginx])/2**20))") MiB/s"
log "-- download 512 MiB over loopback with curl (best of 5)"
log "snapshelf-store: $(python3 -c "print(round($best_store/2**20))") MiB/s"
log "nginx (sendfile): $(python3 -c "print(round($best_nginx/2**20))") MiB/s"
log "ratio: $(python3 -c "print(round($best_store/$best_nginx*100))") % of nginx"
nginx -c "$WORK/nginx.conf" -s stop || true

fi

if [ "$ONLY" = all ] || [ "$ONLY" = helper ]; then
# --- the helper: install time against curl + openssl, ListInstalled, idle memory -------------------
mkdir -p "$WORK/h/snaps" "$WORK/h/src/meta" "$WORK/h/src/bin"
# `base: none`: the install measured is this snap's alone (without it, it would bring `core`).
printf 'name: big-app\nversion: "1"\nsummary: a 100 MiB app\nbase: none\napps:\n  big-app:\n    command: bin/run\n' >"$WORK/h/src/meta/snap.yaml"
printf '#!/bin/sh\necho big\n' >"$WORK/h/src/bin/run"; chmod +x "$WORK/h/src/bin/run"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$WORK/h/src/payload"
mksquashfs "$WORK/h/src" "$WORK/h/snaps/big-app_1.snap" -noappend -noI -noD -noF -all-root -no-xattrs -quiet >/dev/null
printf '[store]\nauthority-id = "bench"\ndisplay-name = "Bench"\n' >"$WORK/h/catalog.toml"
HURL=$(start_store "$WORK/h")
cat "$WORK/h/snaps/big-app_1.snap" >/dev/null
best_install=999; best_peer=999
BIG_URL=$(curl -s -H 'Snap-Device-Series: 16' "$HURL/v2/snaps/info/big-app" | python3 -c 'import json,sys; print(json.load(sys.stdin)["channel-map"][0]["download"]["url"])')
for i in 1 2 3; do
  start_helper "$WORK/hroot$i" "$HURL" "$WORK/h/keys/trusted.assert"
  t=$("$HBENCH" "$BUS" install big-app)
  best_install=$(python3 -c "print(min($best_install,$t))")
  kill "$(cat "$WORK/helper.pid")"; sleep 0.5
  umount -l "$WORK/hroot$i/snap/big-app/1" 2>/dev/null || true
  s=$(date +%s%N); curl -s -o "$WORK/peer.snap" "$BIG_URL"; openssl dgst -sha3-384 "$WORK/peer.snap" >/dev/null
  best_peer=$(python3 -c "print(min($best_peer,($(date +%s%N)-$s)/1e9))")
done
log "-- install a 100 MiB snap from the local store (best of 3)"
log "snapshelf-helper Install → Done (download, hash, verify, mount, link): $best_install s"
log "curl download + openssl dgst -sha3-384: $best_peer s"
log "ratio: $(python3 -c "print(round($best_install/$best_peer,2))")x"
# Refresh 10 snaps of 20 MiB each in one change, against the slowest single download of them, over
# a realistic link: every download paced at 10 MB/s (80 Mbit/s) by the store. On bare loopback a
# download takes 20 ms and the figure would only measure hashing 200 MiB on two cores.
RATE=${BENCH_RATE:-10000000}
mkdir -p "$WORK/r/snaps"; printf '[store]\nauthority-id = "bench"\ndisplay-name = "Bench"\n' >"$WORK/r/catalog.toml"
for i in $(seq 0 9); do
  for rev in 1 2; do
    d="$WORK/r/src-$i-$rev"; mkdir -p "$d/meta"
    printf 'name: refresh-app-%s\nversion: "%s"\nsummary: refresh benchmark\nbase: none\n' "$i" "$rev" >"$d/meta/snap.yaml"
    head -c $((20 * 1024 * 1024)) /dev/urandom >"$d/payload"
    mksquashfs "$d" "$WORK/r/snaps/refresh-app-${i}_$rev.snap" -noappend -noI -noD -noF -all-root -no-xattrs -quiet >/dev/null
  done
  printf '[[snap]]\nname = "refresh-app-%s"\nchannels = { "latest/stable" = 1, "latest/candidate" = 2 }\n' "$i" >>"$WORK/r/catalog.toml"
done
# --no-deltas: these revisions share nothing, so no delta would be offered; this measures the client.
RURL=$(start_store "$WORK/r" --download-rate "$RATE" --no-deltas)
start_helper "$WORK/rroot" "$RURL" "$WORK/r/keys/trusted.assert"
"$HBENCH" "$BUS" install $(seq -f 'refresh-app-%g' 0 9) >/dev/null
"$HBENCH" "$BUS" switch candidate $(seq -f 'refresh-app-%g' 0 9)
cat "$WORK"/r/snaps/*_2.snap >/dev/null
slowest=0
for i in $(seq 0 9); do
  u=$(curl -s -H 'Snap-Device-Series: 16' "$RURL/v2/snaps/info/refresh-app-$i" | python3 -c 'import json,sys; print([c for c in json.load(sys.stdin)["channel-map"] if c["revision"]==2][0]["download"]["url"])')
  t=$(curl -s -o /dev/null -w '%{time_total}' "$u"); slowest=$(python3 -c "print(max($slowest,$t))")
done
rt=$("$HBENCH" "$BUS" refresh)
log "-- refresh 10 snaps of 20 MiB as one change, each download paced at $RATE B/s: $rt s; slowest single curl download: $slowest s; ratio $(python3 -c "print(round($rt/$slowest,2))")x"
kill "$(cat "$WORK/helper.pid")"; sleep 0.5
for m in $(awk '{print $5}' /proc/self/mountinfo | grep "^$WORK/" | sort -r); do umount -l "$m"; done

if [ -z "${URL:-}" ]; then  # the helper part alone: a smaller generated catalog
  "$STORE" generate "$WORK/big" --count 200 >/dev/null; URL=$(start_store "$WORK/big")
fi
start_helper "$WORK/lroot" "$URL" "$WORK/big/keys/trusted.assert"
"$HBENCH" "$BUS" install $(seq -f 'generated-app-%g' 0 49) >/dev/null
"$HBENCH" "$BUS" install $(seq -f 'generated-app-%g' 50 99) >/dev/null
read -r med count < <("$HBENCH" "$BUS" list 200)
log "-- ListInstalled with $count snaps installed: median $med ms over 200 calls"
sleep 2
log "helper idle memory: $(awk '/VmRSS/ {print $2, $3}' /proc/"$(cat "$WORK/helper.pid")"/status) RSS"
kill "$(cat "$WORK/helper.pid")"; sleep 0.5
for m in $(awk '{print $5}' /proc/self/mountinfo | grep "^$WORK/" | sort -r); do umount -l "$m"; done
fi

if [ "$ONLY" = all ] || [ "$ONLY" = confine ]; then
# --- confine: launching `true` inside a snap, against bwrap and against no sandbox ----------------
ensure_packages bubblewrap hyperfine
id snapshelf-runner >/dev/null 2>&1 || useradd --create-home --shell /bin/sh snapshelf-runner
"$STORE" sample-catalog "$WORK/sample" --key-bits 2048 >/dev/null 2>&1
SURL=$(start_store "$WORK/sample")
start_helper "$WORK/croot" "$SURL" "$WORK/sample/keys/trusted.assert"
chmod 755 "$WORK"
"$HBENCH" "$BUS" install shelf-base >/dev/null
mkdir -p "$WORK/t/meta" "$WORK/t/bin"
printf 'name: bench-true\nversion: "1"\nsummary: exits 0\nbase: shelf-base\napps:\n  bench-true:\n    command: bin/true\n' >"$WORK/t/meta/snap.yaml"
echo 'int main(void) { return 0; }' >"$WORK/true.c"
gcc -static -O2 -o "$WORK/t/bin/true" "$WORK/true.c"
mksquashfs "$WORK/t" "$WORK/bench-true.snap" -noappend -comp xz -all-root -no-xattrs -quiet >/dev/null
"$HBENCH" "$BUS" install-file "$WORK/bench-true.snap" >/dev/null
CONFINE=$PWD/target/release/snapshelf-confine
mkdir -p "$WORK/out"; chmod 777 "$WORK/out"   # hyperfine runs as the test user and writes here
mkdir -p "$WORK/capbin"; cp "$CONFINE" "$WORK/capbin/"; chmod 755 "$WORK/capbin"
setcap cap_sys_admin,cap_chown,cap_dac_override,cap_dac_read_search,cap_fowner=p "$WORK/capbin/snapshelf-confine"
R=$WORK/croot; B=$R/snap/shelf-base/current; S=$R/snap/bench-true/x1
BWRAP="bwrap --unshare-user --ro-bind $B/usr /usr --ro-bind $B/bin /bin --ro-bind $B/lib /lib --ro-bind $B/lib64 /lib64 \
  --ro-bind /etc /etc --ro-bind $R/snap /snap --bind $R/var/snap/bench-true /var/snap/bench-true --proc /proc --dev /dev --tmpfs /tmp \
  /snap/bench-true/x1/bin/true"
log "-- launch \`true\` in a snap (hyperfine, median of 300 runs, as an unprivileged user)"
runuser -u snapshelf-runner -- hyperfine -N -w 20 -r 300 --export-json "$WORK/out/launch.json" \
  "$WORK/t/bin/true" \
  "$CONFINE --root $R bench-true" \
  "$BWRAP" >/dev/null
python3 - "$WORK/out/launch.json" <<'PY' | tee -a "$OUT"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
names = ["no sandbox", "snapshelf-confine, user namespace", "bwrap --unshare-user, same binds"]
for name, x in zip(names, r):
    print(f"{name}: median {x['median']*1000:.2f} ms (mean {x['mean']*1000:.2f} ± {x['stddev']*1000:.2f})")
PY
# The packaged mode: file capabilities, the system's own paths (the demo root bound over them in a
# private mount namespace, since a privileged confine does not honour --root for users).
mkdir -p /snap /var/snap /var/lib/snapshelf
unshare -m --propagation private sh -c "mount --rbind $R/snap /snap && mount --rbind $R/var/snap /var/snap && \
  mount --bind $R/var/lib/snapshelf /var/lib/snapshelf && \
  runuser -u snapshelf-runner -- hyperfine -N -w 20 -r 300 --export-json $WORK/out/launch-cap.json \
  '$WORK/capbin/snapshelf-confine bench-true' '$BWRAP'" >/dev/null
python3 - "$WORK/out/launch-cap.json" <<'PY' | tee -a "$OUT"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
for name, x in zip(["snapshelf-confine, file capabilities", "bwrap --unshare-user, same run"], r):
    print(f"{name}: median {x['median']*1000:.2f} ms (mean {x['mean']*1000:.2f} ± {x['stddev']*1000:.2f})")
PY
kill "$(cat "$WORK/helper.pid")"; sleep 0.5
for m in $(awk '{print $5}' /proc/self/mountinfo | grep "^$WORK/" | sort -r); do umount -l "$m"; done

fi

if [ "$ONLY" = all ] || [ "$ONLY" = content ]; then
# --- content: a launch with four content plugs connected, against bwrap with the same binds ------
ensure_packages bubblewrap hyperfine
id snapshelf-runner >/dev/null 2>&1 || useradd --create-home --shell /bin/sh snapshelf-runner
"$STORE" sample-catalog "$WORK/csample" --key-bits 2048 >/dev/null 2>&1
CURL=$(start_store "$WORK/csample")
start_helper "$WORK/ctroot" "$CURL" "$WORK/csample/keys/trusted.assert"
chmod 755 "$WORK"
"$HBENCH" "$BUS" install shelf-base >/dev/null
mkdir -p "$WORK/cp/meta" "$WORK/cc/meta" "$WORK/cc/bin"
{ printf 'name: bench-provider\nversion: "1"\nsummary: four content slots\nbase: shelf-base\nslots:\n'
  for i in 1 2 3 4; do printf '  lib%s:\n    interface: content\n    read: [$SNAP/lib%s]\n' $i $i; mkdir -p "$WORK/cp/lib$i"; echo $i >"$WORK/cp/lib$i/f"; done
} >"$WORK/cp/meta/snap.yaml"
{ printf 'name: bench-content\nversion: "1"\nsummary: four content plugs\nbase: shelf-base\napps:\n  bench-content:\n    command: bin/true\nplugs:\n'
  for i in 1 2 3 4; do printf '  lib%s:\n    interface: content\n    target: $SNAP/lib%s\n' $i $i; mkdir -p "$WORK/cc/lib$i"; done
} >"$WORK/cc/meta/snap.yaml"
echo 'int main(void) { return 0; }' >"$WORK/ctrue.c"
gcc -static -O2 -o "$WORK/cc/bin/true" "$WORK/ctrue.c"
for s in cp cc; do mksquashfs "$WORK/$s" "$WORK/$s.snap" -noappend -comp xz -all-root -no-xattrs -quiet >/dev/null; done
"$HBENCH" "$BUS" install-file "$WORK/cp.snap" >/dev/null
"$HBENCH" "$BUS" install-file "$WORK/cc.snap" >/dev/null
"$HBENCH" "$BUS" connect $(for i in 1 2 3 4; do echo "bench-content:lib$i bench-provider:lib$i"; done)
CONFINE=$PWD/target/release/snapshelf-confine
mkdir -p "$WORK/out"; chmod 777 "$WORK/out"
R=$WORK/ctroot; B=$R/snap/shelf-base/current; S=/snap/bench-content/x1
BWRAP="bwrap --unshare-user --ro-bind $B/usr /usr --ro-bind $B/bin /bin --ro-bind $B/lib /lib --ro-bind $B/lib64 /lib64 \
  --ro-bind /etc /etc --ro-bind $R/snap /snap --bind $R/var/snap/bench-content /var/snap/bench-content --proc /proc --dev /dev --tmpfs /tmp"
for i in 1 2 3 4; do BWRAP="$BWRAP --ro-bind $R/snap/bench-provider/x1/lib$i $S/lib$i"; done
BWRAP="$BWRAP $S/bin/true"
log "-- launch with four content plugs connected (hyperfine, median of 300 runs, as an unprivileged user)"
runuser -u snapshelf-runner -- hyperfine -N -w 20 -r 300 --export-json "$WORK/out/content.json" \
  "$CONFINE --root $R bench-content" "$BWRAP" >/dev/null
python3 - "$WORK/out/content.json" <<'PY' | tee -a "$OUT"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
for name, x in zip(["snapshelf-confine, four content plugs", "bwrap --unshare-user, same binds"], r):
    print(f"{name}: median {x['median']*1000:.2f} ms (mean {x['mean']*1000:.2f} ± {x['stddev']*1000:.2f})")
PY
fi

if [ "$ONLY" = all ] || [ "$ONLY" = proxy ]; then
# --- proxy: the session bus filter's memory per running app. confine filters in each launch's
# monitor (no proxy process since 2026-12-06): ten launches at once of an app that opens two
# session bus connections (each says Hello, so each has its filter), against the same launches
# whose app opens none (the monitor's own cost, which it had before the filter). The old figure,
# Debian's xdg-dbus-proxy per app, is in docs/benchmarks.md.
id snapshelf-runner >/dev/null 2>&1 || useradd --create-home --shell /bin/sh snapshelf-runner
"$STORE" sample-catalog "$WORK/psample" --key-bits 2048 >/dev/null 2>&1
PURL=$(start_store "$WORK/psample")
start_helper "$WORK/proot" "$PURL" "$WORK/psample/keys/trusted.assert"
chmod 755 "$WORK"
"$HBENCH" "$BUS" install shelf-base >/dev/null
mkdir -p "$WORK/b/meta" "$WORK/b/bin"
printf 'name: bench-bus\nversion: "1"\nsummary: session bus clients\nbase: shelf-base\napps:\n  client:\n    command: bin/client\n    plugs: [desktop]\n' >"$WORK/b/meta/snap.yaml"
# The client's Hello, marshalled here (little-endian, serial 1): the app has no D-Bus library.
python3 - >"$WORK/hello.h" <<'PY'
import struct
f = b""
for code, sig, val in [(1, "o", "/org/freedesktop/DBus"), (2, "s", "org.freedesktop.DBus"),
                       (3, "s", "Hello"), (6, "s", "org.freedesktop.DBus")]:
    f += b"\0" * (-len(f) % 8) + bytes([code, 1]) + sig.encode() + b"\0"
    f += b"\0" * (-len(f) % 4) + struct.pack("<I", len(val)) + val.encode() + b"\0"
m = b"l\x01\x00\x01" + struct.pack("<III", 0, 1, len(f)) + f + b"\0" * (-len(f) % 8)
print("static const unsigned char hello[] = {" + ",".join(str(b) for b in m) + "};")
PY
cat >"$WORK/client.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "hello.h"
/* One connection: the handshake as libdbus sends it, then Hello and its reply. */
static int bus(const char *path) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  strncpy(a.sun_path, path, sizeof a.sun_path - 1);
  if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) return -1;
  char uid[16], hex[40] = "", auth[80], buf[4096];
  snprintf(uid, sizeof uid, "%u", getuid());
  for (char *p = uid; *p; p++) sprintf(hex + strlen(hex), "%02x", *p);
  int n = snprintf(auth, sizeof auth, "%cAUTH EXTERNAL %s\r\n", 0, hex);
  if (write(s, auth, n) != n || read(s, buf, sizeof buf) < 3 || strncmp(buf, "OK ", 3)) return -1;
  if (write(s, "BEGIN\r\n", 7) != 7 || write(s, hello, sizeof hello) != sizeof hello) return -1;
  return read(s, buf, sizeof buf) > 0 ? s : -1;
}
int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 0;
  const char *addr = getenv("DBUS_SESSION_BUS_ADDRESS");
  for (int i = 0; i < n; i++)
    if (!addr || strncmp(addr, "unix:path=", 10) || bus(addr + 10) < 0) { puts("no bus"); return 1; }
  puts("ready");
  fflush(stdout);
  pause();
  return 0;
}
C
gcc -static -O2 -I"$WORK" -o "$WORK/b/bin/client" "$WORK/client.c"
mksquashfs "$WORK/b" "$WORK/bench-bus.snap" -noappend -comp xz -all-root -no-xattrs -quiet >/dev/null
"$HBENCH" "$BUS" install-file "$WORK/bench-bus.snap" >/dev/null
log "-- session bus filter memory: the monitor of each of 10 apps at once (confine/bench/bus-relay.sh), load $(cut -d' ' -f1-3 /proc/loadavg)"
bash confine/bench/bus-relay.sh "$PWD/target/release/snapshelf-confine" "$WORK/proot" 10 | tee -a "$OUT"
# BEFORE_CONFINE=/path/to/an/older/snapshelf-confine measures it the same way, for comparison
# (one from before 2026-12-06's filter starts xdg-dbus-proxy beside its monitor: counted as the peer).
if [ -n "${BEFORE_CONFINE:-}" ]; then
  log "-- the same with $BEFORE_CONFINE"
  bash confine/bench/bus-relay.sh "$BEFORE_CONFINE" "$WORK/proot" 10 | tee -a "$OUT"
fi
kill "$(cat "$WORK/helper.pid")"; sleep 0.5
fi

# --- snapctl: `snapctl get` inside a sandbox (the whole process), SetConfig through a configure hook --
if [ "$ONLY" = all ] || [ "$ONLY" = snapctl ]; then
scripts/snapctl-static.sh --release
"$STORE" sample-catalog "$WORK/ksample" --key-bits 2048 >/dev/null 2>&1
SURL=$(start_store "$WORK/ksample")
R=$WORK/kroot
start_helper "$R" "$SURL" "$WORK/ksample/keys/trusted.assert" \
  --confine "$PWD/target/release/snapshelf-confine" --snapctl "$PWD/target/release/snapctl"
"$HBENCH" "$BUS" install shelf-base >/dev/null
mkdir -p "$WORK/k/meta/hooks" "$WORK/k/bin"
printf 'name: bench-ctl\nversion: "1"\nsummary: snapctl timings\nbase: shelf-base\napps:\n  timer:\n    command: bin/timer\n' >"$WORK/k/meta/snap.yaml"
printf '#!/bin/sh\nsnapctl set seen=1\n' >"$WORK/k/meta/hooks/configure"; chmod 755 "$WORK/k/meta/hooks/configure"
# N runs of a command, each a fork and exec waited for: the median and 90th percentile in ms.
cat >"$WORK/timer.c" <<'C'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
int main(int argc, char **argv) {
  int n = atoi(argv[1]); double *t = malloc(sizeof(double) * n);
  for (int i = 0; i < n; i++) {
    struct timespec a, b; int st;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t p = fork();
    if (p == 0) { dup2(open("/dev/null", O_WRONLY), 1); execv(argv[2], argv + 2); _exit(127); }
    waitpid(p, &st, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "run %d failed\n", i); return 1; }
    t[i] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
  }
  qsort(t, n, sizeof(double), cmp);
  printf("%.2f %.2f\n", t[n / 2], t[n * 9 / 10]);
  return 0;
}
C
gcc -static -O2 -o "$WORK/k/bin/timer" "$WORK/timer.c"
mksquashfs "$WORK/k" "$WORK/bench-ctl.snap" -noappend -comp xz -all-root -no-xattrs -quiet >/dev/null
"$HBENCH" "$BUS" install-file "$WORK/bench-ctl.snap" >/dev/null
read -r med p90 < <("$PWD/target/release/snapshelf-confine" --root "$R" bench-ctl.timer 300 /usr/lib/snapd/snapctl get seen)
log "-- snapctl get inside a sandbox, the whole process (300 runs, as root): median $med ms, 90th percentile $p90 ms"
read -r med p90 < <("$HBENCH" "$BUS" set-config bench-ctl '{"asked": 1}' 50)
log "-- SetConfig with a configure hook doing one snapctl set, call to Done (50 runs): median $med ms, 90th percentile $p90 ms"
kill "$(cat "$WORK/helper.pid")"; sleep 0.5
for m in $(awk '{print $5}' /proc/self/mountinfo | grep "^$WORK/" | sort -r); do umount -l "$m"; done
fi

if [ "$ONLY" = all ] || [ "$ONLY" = format ]; then
# --- the snap format: digests, packing and reading ------------------------------------------------
log "-- SHA3-384 of the 512 MiB file"
if [ -x target/release/examples/digest_bench ]; then target/release/examples/digest_bench "$WORK/dl/src/payload" | tee -a "$OUT"; fi
log "-- pack and read against mksquashfs / unsquashfs"
if [ -x target/release/examples/squashfs_bench ]; then target/release/examples/squashfs_bench | tee -a "$OUT"; fi

fi
if [ "$ONLY" = all ] || [ "$ONLY" = gui ]; then
# --- the app: start-up to the Installed page, search, memory after 100 app pages -------------------
N=${BENCH_SNAPS:-10000}
if [ ! -f "$WORK/big/keys/trusted.assert" ] || [ "$(ls "$WORK/big/snaps" | wc -l)" -lt "$N" ]; then
  rm -rf "$WORK/big"; "$STORE" generate "$WORK/big" --count "$N" >/dev/null
fi
GURL=$(start_store "$WORK/big")
start_helper "$WORK/groot" "$GURL" "$WORK/big/keys/trusted.assert"
"$HBENCH" "$BUS" install $(seq -f 'generated-app-%g' 0 49) >/dev/null
Xvfb -displayfd 3 -screen 0 1200x860x24 -nolisten tcp 3>"$WORK/display" 2>/dev/null &
echo $! >>"$WORK/pids"
for _ in $(seq 50); do [ -s "$WORK/display" ] && break; sleep 0.1; done
export DISPLAY=":$(cat "$WORK/display")"
APP=$PWD/target/release/snapshelf
export XDG_CACHE_HOME=$WORK/cache   # a cold icon cache for the first run, warm after
wait_line() { # file pattern [seconds] → the line, once it is there
  for _ in $(seq $((${3:-30} * 20))); do grep -m1 "$2" "$1" 2>/dev/null && return; sleep 0.05; done; echo "(no $2)"
}
log "-- app start-up to the Installed page drawn, 50 apps installed ($N-snap store), 5 runs"
for i in 1 2 3 4 5; do
  t=$(date +%s%N)
  RUST_LOG=ui=info NO_AT_BRIDGE=1 "$APP" --page installed --bus-address "$BUS" 2>"$WORK/app.log" &
  pid=$!
  line=$(wait_line "$WORK/app.log" "installed drawn")
  wall=$(ms_since "$t")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  log "run $i: ${line##*installed drawn: } (wall clock from exec: $wall ms)"
done
log "-- search as you type on the $N-snap store: results drawn after the debounce fires"
RUST_LOG=ui=info NO_AT_BRIDGE=1 "$APP" --bus-address "$BUS" 2>"$WORK/app.log" &
pid=$!
wait_line "$WORK/app.log" "explore loaded" >/dev/null
xdotool mousemove 600 400
for q in tool generated-app-4242 calendar mail app; do
  xdotool key ctrl+f; sleep 0.2; xdotool key ctrl+a; xdotool type --delay 30 "$q"
  line=$(wait_line "$WORK/app.log" "results for \"$q\"")
  log "${line##*search drawn: }"
done
kill "$pid"; wait "$pid" 2>/dev/null || true
log "-- memory after browsing 100 app pages (icons and screenshots loaded)"
RUST_LOG=ui=info NO_AT_BRIDGE=1 "$APP" --bus-address "$BUS" --bench-browse 100 2>"$WORK/app.log" &
pid=$!
start_line=$(wait_line "$WORK/app.log" "browsing")
line=$(wait_line "$WORK/app.log" "browsed" 120)
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
log "${start_line##*ui: }"; log "${line##*ui: }"
# The same with GTK's GL renderer forced (the app picks cairo when there is no GPU, as here: GL would
# go through Mesa's software rasteriser).
GSK_RENDERER=gl RUST_LOG=ui=info NO_AT_BRIDGE=1 "$APP" --bus-address "$BUS" --bench-browse 100 2>"$WORK/app.log" &
pid=$!
line=$(wait_line "$WORK/app.log" "browsed" 120)
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
log "GSK_RENDERER=gl: ${line##*ui: }"
t=$(date +%s%N)
GSK_RENDERER=gl RUST_LOG=ui=info NO_AT_BRIDGE=1 "$APP" --page installed --bus-address "$BUS" 2>"$WORK/app.log" &
pid=$!
line=$(wait_line "$WORK/app.log" "installed drawn")
log "GSK_RENDERER=gl start-up: ${line##*installed drawn: } (wall clock from exec: $(ms_since "$t") ms)"
kill "$pid"; wait "$pid" 2>/dev/null || true
kill "$(cat "$WORK/helper.pid")"; sleep 0.5
for m in $(awk '{print $5}' /proc/self/mountinfo | grep "^$WORK/" | sort -r); do umount -l "$m"; done
fi
if [ "$ONLY" = all ] || [ "$ONLY" = search-provider ]; then
# --- GNOME Shell's search: the provider D-Bus-activated on a session bus, 50 apps installed --------
N=${BENCH_SNAPS:-10000}
if [ ! -f "$WORK/big/keys/trusted.assert" ] || [ "$(ls "$WORK/big/snaps" | wc -l)" -lt "$N" ]; then
  rm -rf "$WORK/big"; "$STORE" generate "$WORK/big" --count "$N" >/dev/null
fi
PURL=$(start_store "$WORK/big")
start_helper "$WORK/proot" "$PURL" "$WORK/big/keys/trusted.assert"
"$HBENCH" "$BUS" install $(seq -f 'generated-app-%g' 0 49) >/dev/null
mkdir -p "$WORK/session/services"
sed "s|^Exec=.*|Exec=$PWD/target/release/snapshelf-search-provider --bus-address $BUS --app /bin/true|" \
  data/dbus-1/services/io.github.snapshelf.Snapshelf.SearchProvider.service \
  >"$WORK/session/services/io.github.snapshelf.Snapshelf.SearchProvider.service"
cat >"$WORK/session.conf" <<SESSION
<busconfig><type>session</type><listen>unix:path=$WORK/session/bus</listen><auth>EXTERNAL</auth>
<servicedir>$WORK/session/services</servicedir>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
SESSION
RUST_LOG=warn XDG_CACHE_HOME=$WORK/cache dbus-daemon --config-file="$WORK/session.conf" --nofork --print-pid >"$WORK/session.pid" &
sleep 0.5; cat "$WORK/session.pid" >>"$WORK/pids"
log "-- search provider: GetInitialResultSet, then GetResultMetas of its results, as GNOME Shell calls them, 50 apps installed ($N-snap store), 100 calls per word (target: the query <= 50 ms); load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$PWD/target/release/examples/provider_bench" "unix:path=$WORK/session/bus" 100 generated-app-7 generated tool generated-app-4242 | tee -a "$OUT"
kill "$(cat "$WORK/session.pid")" "$(cat "$WORK/helper.pid")"; sleep 0.5
for m in $(awk '{print $5}' /proc/self/mountinfo | grep "^$WORK/" | sort -r); do umount -l "$m"; done
fi
if [ "$ONLY" = all ] || [ "$ONLY" = delta ]; then
# --- refresh deltas: a 100 MiB snap whose new revision changes 1 MiB, the store paced at 10 MB/s ---
# The same refresh twice, each on a fresh root: with the store's xdelta3 delta (made on demand, cold
# cache: its making is part of the time), then the full file (the installed revision's file removed,
# so the delta has nothing to apply to: the helper's fallback). Bytes: the delta the store cached
# and the helper's own count of what it fetched.
RATE=${BENCH_RATE:-10000000}
D=$WORK/delta; src=$WORK/delta-src; mkdir -p "$D/snaps" "$src/meta"
printf '[store]\nauthority-id = "bench"\ndisplay-name = "Bench"\n' >"$D/catalog.toml"
printf '[[snap]]\nname = "delta-app"\nchannels = { "latest/stable" = 1, "latest/candidate" = 2 }\n' >>"$D/catalog.toml"
head -c $((100 * 1024 * 1024)) /dev/urandom >"$src/payload"
for rev in 1 2; do
  printf 'name: delta-app\nversion: "%s"\nsummary: delta benchmark\nbase: none\n' "$rev" >"$src/meta/snap.yaml"
  [ "$rev" = 2 ] && dd if=/dev/urandom of="$src/payload" bs=1M count=1 seek=50 conv=notrunc status=none
  mksquashfs "$src" "$D/snaps/delta-app_$rev.snap" -noappend -noI -noD -noF -all-root -no-xattrs -quiet >/dev/null
done
DURL=$(start_store "$D" --download-rate "$RATE")
full_size=$(stat -c %s "$D/snaps/delta-app_2.snap")
for mode in delta full; do
  root=$WORK/droot-$mode; mkdir -p "$root"
  RUST_LOG=warn,snapshelf_helper::engine::task::download=info "$HELPER" --root "$root" --store-url "$DURL" \
    --trust "$D/keys/trusted.assert" --bus-address "$BUS" 2>"$WORK/delta-$mode.log" &
  echo $! >>"$WORK/pids"; echo $! >"$WORK/helper.pid"
  for _ in $(seq 100); do busctl --address="$BUS" status io.github.snapshelf.Helper1 >/dev/null 2>&1 && break; sleep 0.1; done
  "$HBENCH" "$BUS" install delta-app >/dev/null
  "$HBENCH" "$BUS" switch candidate delta-app
  [ "$mode" = full ] && rm "$root/var/lib/snapshelf/snaps/delta-app_1.snap"
  t=$("$HBENCH" "$BUS" refresh)
  [ -f "$root/var/lib/snapshelf/snaps/delta-app_2.snap" ] || die "the $mode refresh did not bring revision 2"
  eval "t_$mode=$t"
  kill "$(cat "$WORK/helper.pid")"; sleep 0.5
  for m in $(awk '{print $5}' /proc/self/mountinfo | grep "^$root/" | sort -r); do umount -l "$m"; done
done
delta_size=$(stat -c %s "$D"/.cache/deltas/*.xdelta3)
fetched=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/delta-delta.log" | grep -o 'downloaded=[0-9]*' | cut -d= -f2 || true)
[ -n "$fetched" ] || die "the helper did not use the delta (log: $(tail -3 "$WORK/delta-delta.log"))"
log "-- refresh of a 100 MiB snap whose new revision changes 1 MiB, store paced at $RATE B/s"
log "with the xdelta3 delta: $t_delta s, $fetched bytes fetched (the store's delta: $delta_size bytes; $(python3 -c "print(round(100*$fetched/$full_size,2))") % of the $full_size-byte file)"
log "full file: $t_full s; ratio $(python3 -c "print(round($t_delta/$t_full,2))")x"
fi
# --- gnome: a real GNOME-platform app (scripts/gnome-fixtures.sh) to its first frame under Xvfb, in
# its sandbox against the same files outside any sandbox; confine's own part against bwrap ---------
if [ "$ONLY" = gnome ]; then
ensure_packages bubblewrap libx11-dev
FIX=$(scripts/gnome-fixtures.sh)
id snapshelf-runner >/dev/null 2>&1 || useradd --create-home --shell /bin/sh snapshelf-runner
RUID=$(id -u snapshelf-runner); RHOME=$(getent passwd snapshelf-runner | cut -d: -f6)
G=$WORK/gsample
"$STORE" sample-catalog "$G" --key-bits 2048 >/dev/null 2>&1
for s in shelf-bookworm gtk-common-themes gnome-43-bookworm gnome-calculator; do
  cp "$FIX/$s.snap" "$G/snaps/${s}_1.snap"
  printf '\n[[snap]]\nname = "%s"\npublisher = "snapshelf"\ncategories = ["utilities"]\nlicense = "GPL-3.0-or-later"\nchannels = { "latest/stable" = 1 }\n' "$s" >>"$G/catalog.toml"
done
GURL=$(start_store "$G")
R=$WORK/groot
start_helper "$R" "$GURL" "$G/keys/trusted.assert" --snapctl "$BUILT/snapctl"
"$HBENCH" "$BUS" install gnome-calculator >/dev/null
chmod 755 "$WORK"
# The packaged confine: file capabilities, the root's folders at the system's places.
mkdir -p "$WORK/libexec" /snap /var/snap /var/lib/snapshelf /run/snapshelf/snapctl "/run/user/$RUID"
chown "$RUID" "/run/user/$RUID"; chmod 700 "/run/user/$RUID"
CAP=$WORK/libexec/snapshelf-confine
cp target/release/snapshelf-confine "$CAP"
setcap cap_sys_admin,cap_chown,cap_dac_override,cap_dac_read_search,cap_fowner=p "$CAP"
LAYOUT="mount --rbind $R/snap /snap && mount --rbind $R/var/snap /var/snap && mount --bind $R/var/lib/snapshelf /var/lib/snapshelf && mount --bind $R/run/snapshelf/snapctl /run/snapshelf/snapctl"
gcc -O2 -o "$WORK/first-map" scripts/gnome/first-map.c -lX11
# No abstract socket (docs/confine.md, "A real GNOME-platform app"); no reset between clients (a
# reset refuses the next run's connection).
Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp -nolisten local -noreset -ac 3>"$WORK/xdisplay" 2>/dev/null &
echo $! >>"$WORK/pids"
for _ in $(seq 50); do [ -s "$WORK/xdisplay" ] && break; sleep 0.1; done
export DISPLAY=:$(cat "$WORK/xdisplay")
RUNENV="env -i HOME=$RHOME DISPLAY=$DISPLAY XDG_RUNTIME_DIR=/run/user/$RUID LANG=C.UTF-8 GSK_RENDERER=cairo"
# Outside any sandbox: the same snap files, the platform and the icons where the content
# interface puts them (bind mounts in a mount namespace of the run's own), the same command
# chain (with a snapctl that says "connected") and its environment, on the host's root.
S=$R/snap/gnome-calculator/1
mkdir -p "$WORK/fakebin" "$WORK/nosb-user"; chown "$RUID" "$WORK/nosb-user"
printf '#!/bin/sh\nexit 0\n' >"$WORK/fakebin/snapctl"; chmod 755 "$WORK/fakebin/snapctl"
NOSB="mount --bind $R/snap/gnome-43-bookworm/1 $S/gnome-platform && mount -t tmpfs tmpfs $S/data-dir && \
  mkdir -p $S/data-dir/icons/Adwaita $S/data-dir/icons/hicolor $S/data-dir/themes $S/data-dir/sounds && \
  mount --bind $R/snap/gtk-common-themes/1/share/icons/Adwaita $S/data-dir/icons/Adwaita && \
  mount --bind $R/snap/gtk-common-themes/1/share/icons/hicolor $S/data-dir/icons/hicolor"
sandboxed() { "$WORK/first-map" unshare -m --propagation private sh -c "$LAYOUT && exec runuser -u snapshelf-runner -- $RUNENV PATH=/usr/bin:/bin $CAP gnome-calculator"; }
outside() { "$WORK/first-map" unshare -m --propagation private sh -c "$NOSB && exec runuser -u snapshelf-runner -- $RUNENV PATH=$WORK/fakebin:/usr/bin:/bin SNAP=$S SNAP_NAME=gnome-calculator SNAP_USER_DATA=$WORK/nosb-user $S/snap/command-chain/desktop-launch $S/usr/bin/gnome-calculator"; }
sandboxed >/dev/null; outside >/dev/null  # caches (fontconfig, pixbuf loaders) made once each
N=${BENCH_GNOME_RUNS:-15}; in_s=""; out_s=""
for _ in $(seq "$N"); do in_s="$in_s$(sandboxed),"; out_s="$out_s$(outside),"; done
log "-- gnome-calculator (GTK 4.8, libadwaita 1.2, on the gnome-43-bookworm platform): launch to first map under Xvfb, median of $N interleaved warm runs, load $(cut -d' ' -f1-3 /proc/loadavg)"
log "in its sandbox (packaged confine, command chain, app): $(python3 -c "import statistics as s; print(round(s.median([$in_s]),1))") ms (all: $in_s)"
log "outside any sandbox (same files and environment): $(python3 -c "import statistics as s; print(round(s.median([$out_s]),1))") ms (all: $out_s)"
log "ratio: $(python3 -c "import statistics as s; print(round(s.median([$in_s])/s.median([$out_s]),2))")x (target <= 1.3x)"

# confine's own part, until the execve of the command chain: the same snap with the chain replaced
# by a static probe (confine/bench/gnome-probe.c) that returns at once, every plug connected as the
# app's, against bwrap given the same sandbox: its arguments are made from what confine really
# mounted for that launch (the probe's dump of its mount table and tmpfs entries, mapped back to the
# host paths by confine/bench/same-binds.py), with confine's own compiled filter; the two probes'
# dumps are compared, and the timings are not reported if they differ beyond the explained.
P=$WORK/probe; unsquashfs -q -d "$P" "$FIX/gnome-calculator.snap" >/dev/null
gcc -static -O2 -o "$P/snap/command-chain/desktop-launch" confine/bench/gnome-probe.c
gcc -static -O2 -o "$WORK/with-fds" confine/bench/with-fds.c
gcc -O2 -o "$WORK/launch-rr" confine/bench/launch-rr.c
sed -i 's/^name: gnome-calculator$/name: gnome-calc-probe/; s/^  gnome-calculator:$/  gnome-calc-probe:/' "$P/meta/snap.yaml"
rm -f "$P/meta/gui/gnome-calculator.desktop"; sed -i '/^    desktop:/d' "$P/meta/snap.yaml"
mksquashfs "$P" "$WORK/probe.snap" -noappend -comp xz -all-root -no-xattrs -quiet >/dev/null
"$HBENCH" "$BUS" install-file "$WORK/probe.snap" >/dev/null
"$HBENCH" "$BUS" connect gnome-calc-probe:gnome-43-bookworm gnome-43-bookworm:gnome-43-bookworm \
  gnome-calc-probe:icon-themes gtk-common-themes:icon-themes gnome-calc-probe:gtk-3-themes gtk-common-themes:gtk-3-themes \
  gnome-calc-probe:sound-themes gtk-common-themes:sound-themes >/dev/null
mkdir -p "$WORK/out" "$WORK/ptmp"; chmod 777 "$WORK/out"
cat >"$WORK/same.sh" <<SAME
#!/bin/bash
# In the launch's mount namespace (LAYOUT): confine's sandbox dumped, bwrap's arguments made from it,
# bwrap's sandbox dumped and compared, then both timed.
set -euo pipefail
HASH="/etc/os-release /usr/lib/os-release /usr/share/X11/xkb/rules/evdev /usr/share/mime/mime.cache /usr/lib/snapd/snapctl /usr/share/icons/hicolor/index.theme"
PS=\$(readlink -f /snap/gnome-calc-probe/current)
runuser -u snapshelf-runner -- $RUNENV PATH=/usr/bin:/bin $CAP gnome-calc-probe --snapshelf-probe-dump \$HASH >$WORK/out/confine.dump
# The snap's private /tmp is under root's 0700 /run/snapshelf-private: bwrap, run as the user, finds
# it where the user can reach it (confine opens it before it drops its privileges).
mount --bind /run/snapshelf-private/snap.gnome-calc-probe/tmp $WORK/ptmp
python3 confine/bench/same-binds.py args $WORK/out/confine.dump $R/var/lib/snapshelf/profiles/gnome-calc-probe.gnome-calc-probe.json \
  /var/lib/snapshelf/seccomp $RUID >$WORK/out/bwrap.out
mapfile -t ARGS < <(sed '/^--\$/,\$d' $WORK/out/bwrap.out)
OPEN=\$(sed -n 's/^open \([0-9]*\) /\1=/p' $WORK/out/bwrap.out)
runuser -u snapshelf-runner -- $RUNENV PATH=/usr/bin:/bin $WORK/with-fds "\$OPEN" bwrap "\${ARGS[@]}" \
  \$PS/snap/command-chain/desktop-launch --snapshelf-probe-dump \$HASH >$WORK/out/bwrap.dump
python3 confine/bench/same-binds.py compare $WORK/out/confine.dump $WORK/out/bwrap.dump >$WORK/out/compare.txt \
  || { cat $WORK/out/compare.txt; echo "confine's and bwrap's sandboxes differ beyond the explained: no timings" >&2; exit 1; }
# Interleaved (one of each per round, confine/bench/launch-rr.c), both through the same static
# wrapper (bwrap's filter descriptor is opened afresh for each run).
runuser -u snapshelf-runner -- $RUNENV PATH=/usr/bin:/bin $WORK/launch-rr \${BENCH_GNOME_LAUNCHES:-200} \
  snapshelf-confine $WORK/with-fds $CAP gnome-calc-probe -- \
  bwrap-same-sandbox $WORK/with-fds "\$OPEN" bwrap "\${ARGS[@]}" \$PS/snap/command-chain/desktop-launch >$WORK/out/rr.txt
SAME
chmod 755 "$WORK/same.sh"
log "-- confine's own part of that launch (to the execve of the command chain; ${BENCH_GNOME_LAUNCHES:-200} interleaved rounds after 20 warm-up rounds, as snapshelf-runner; load $(cut -d' ' -f1-3 /proc/loadavg))"
unshare -m --propagation private sh -c "$LAYOUT && exec $WORK/same.sh"
tail -1 "$WORK/out/compare.txt" | tee -a "$OUT"
log "bwrap's generated arguments: $(grep -c -- '-bind$' "$WORK/out/bwrap.out") binds, $(grep -c -- '^--tmpfs$' "$WORK/out/bwrap.out") tmpfs (all in $OUT.bwrap-args)"
cp "$WORK/out/bwrap.out" "$OUT.bwrap-args"; cp "$WORK/out/compare.txt" "$OUT.same-binds"
sed 's/^snapshelf-confine:/snapshelf-confine (packaged), gnome-calculator'"'"'s plugs and layouts:/; s/^bwrap-same-sandbox:/bwrap --unshare-user --unshare-pid, the same sandbox (generated):/' "$WORK/out/rr.txt" | tee -a "$OUT"
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
kill "$(cat "$WORK/helper.pid")"; sleep 0.5
fi
if [ "$ONLY" = all ] || [ "$ONLY" = agent ]; then
# --- the update agent idle between checks: a real session bus, the helper on the system bus -------
# After its first check (ListUpdates: nothing to do), the agent sleeps on a timer until the next:
# its RSS and the CPU it spends (utime+stime from /proc) over BENCH_AGENT_IDLE seconds.
[ -f "$WORK/sample/keys/trusted.assert" ] || "$STORE" sample-catalog "$WORK/sample" --key-bits 2048 >/dev/null 2>&1
AURL=$(start_store "$WORK/sample")
start_helper "$WORK/aroot" "$AURL" "$WORK/sample/keys/trusted.assert"
"$HBENCH" "$BUS" install shelf-clock >/dev/null
mkdir -p "$WORK/asession"
cat >"$WORK/asession.conf" <<SESSION
<busconfig><type>session</type><listen>unix:path=$WORK/asession/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
SESSION
dbus-daemon --config-file="$WORK/asession.conf" --nofork --print-pid >"$WORK/asession.pid" &
sleep 0.5; cat "$WORK/asession.pid" >>"$WORK/pids"
IDLE=${BENCH_AGENT_IDLE:-30}
XDG_CONFIG_HOME=$WORK/aconfig DBUS_SESSION_BUS_ADDRESS="unix:path=$WORK/asession/bus" RUST_LOG=info \
  "$PWD/target/release/snapshelf-update-agent" --bus-address "$BUS" --first-check 0 --interval 3600 --app /bin/true \
  2>"$WORK/agent.log" &
apid=$!; echo "$apid" >>"$WORK/pids"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, clock ticks (its name has no space)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; } # kB
sleep 3  # the first check: ListUpdates, NetworkManager asked for Metered
grep -q "first check" "$WORK/agent.log" || die "the agent did not start: $(cat "$WORK/agent.log")"
t0=$(ticks "$apid"); r0=$(rss "$apid")
sleep "$IDLE"
kill -0 "$apid" 2>/dev/null || die "the agent ended: $(cat "$WORK/agent.log")"
t1=$(ticks "$apid"); r1=$(rss "$apid"); hz=$(getconf CLK_TCK)
log "-- update agent idle between checks (release, a real session bus, the helper on the system bus), ${IDLE} s after its first check; load average $(cut -d' ' -f1-3 /proc/loadavg) (targets: RSS <= 10 MiB, ~0 CPU)"
log "agent idle: RSS $r1 kB (${r0} kB after its first check); CPU over ${IDLE} s: $(( (t1 - t0) * 1000 / hz )) ms (utime+stime)"
kill "$apid" "$(cat "$WORK/asession.pid")" "$(cat "$WORK/helper.pid")"; sleep 0.5
for m in $(awk '{print $5}' /proc/self/mountinfo | grep "^$WORK/" | sort -r); do umount -l "$m"; done
fi
if [ "$ONLY" = all ] || [ "$ONLY" = services ]; then
# --- services: install of a snap with three services, under a real systemd -------------------------
# helper/tests/services.rs's bench_install_with_three_services, release build: a Debian root booted
# by systemd-nspawn -b (scripts/services-root.sh), the helper as a unit in it, snapshelfctl install
# timed until it returns (all three services active), against the same snap whose apps are not
# services; the median of five of each.
log "-- install of a snap with three services until all are active, against the same snap without services (systemd-nspawn -b container, release build, median of 5; target <= +150 ms)"
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
scripts/services-root.sh
cargo test --release --quiet -p snapshelf-helper --test services -- --ignored --exact \
  bench_install_with_three_services --nocapture >"$WORK/services.txt" 2>&1 || true
grep -E '^(install without services|one daemon-reload|container up)' "$WORK/services.txt" | tee -a "$OUT" \
  || die "the services benchmark did not run: $(tail -20 "$WORK/services.txt")"
grep -q 'test result: ok. 1 passed' "$WORK/services.txt" \
  && log "within the target" || log "MISSED the target: $(grep -o 'three services cost.*' "$WORK/services.txt" || true)"
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
if [ "$ONLY" = all ] || [ "$ONLY" = tracking ]; then
# --- tracking: what a launch's systemd scope costs, under a real systemd --user ---------------------
# helper/tests/portal.rs's bench_tracking_scope, release build: confine's own `tracking` step (scope
# requested and confirmed in /proc/self/cgroup) against systemd-run --user --scope (less the same
# command without it), asked of the same user manager; medians of 30 interleaved rounds.
log "-- the tracking scope of a launch (snap.<snap>.<app>-<uuid>.scope on systemd --user; release build, median of 30)"
log "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cargo build --release --quiet -p snapshelf-confine -p snapshelf-helper -p snapshelfctl -p snapshelf-store
cargo test --release --quiet -p snapshelf-helper --test portal -- --ignored --exact \
  bench_tracking_scope --nocapture >"$WORK/tracking.txt" 2>&1 || true
grep -E "^(confine's tracking step|systemd-run --user --scope)" "$WORK/tracking.txt" | tee -a "$OUT" \
  || die "the tracking benchmark did not run: $(tail -20 "$WORK/tracking.txt")"
log "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
log "results in $OUT"
