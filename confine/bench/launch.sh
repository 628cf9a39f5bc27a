#!/usr/bin/env bash
# Launch time of two builds of snapshelf-confine (OLD, NEW) against bwrap, interleaved round by round
# (launch-rr.c) so that a busy machine's drift hits every command alike: the confine part of
# scripts/bench.sh, for comparing a change with what it changes. Needs root, gcc, mksquashfs,
# bubblewrap, setcap, the user snapshelf-runner, and debug builds of the store, the helper and the
# helper_bench example (they only install the snaps). OLD_FILTERS: a directory with OLD's compiled
# seccomp filters under the names OLD looks for (without them OLD compiles one at every launch).
#   confine/bench/launch.sh OLD NEW [OLD_FILTERS]     (RUNS=600 by default)
set -euo pipefail
OLD=$(realpath "$1") NEW=$(realpath "$2") OLD_FILTERS=${3:-}
cd "$(dirname "$0")/../.."
D=$PWD/target/debug
STORE=$D/snapshelf-store HELPER=$D/snapshelf-helper HBENCH=$D/examples/helper_bench
WORK=$(mktemp -d /tmp/snapshelf-cbench.XXXXXX)
chmod 755 "$WORK"
RR=$WORK/rr
gcc -O2 -o "$RR" confine/bench/launch-rr.c
mkdir -p results
OUT=results/confine-launch-$(date +%Y%m%d-%H%M%S).txt
cleanup() {
  for m in $(awk '{print $5}' /proc/self/mountinfo | grep "^$WORK/" | sort -r); do umount -l "$m" 2>/dev/null; done
  [ -f "$WORK/pids" ] && while read -r p; do kill "$p" 2>/dev/null || true; done <"$WORK/pids"
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "$*" | tee -a "$OUT"; }
start_store() {
  local fifo=$WORK/fifo.$RANDOM; mkfifo "$fifo"
  "$STORE" serve --dir "$1" --listen 127.0.0.1:0 --key-bits 2048 >"$fifo" 2>>"$WORK/store.log" &
  echo $! >>"$WORK/pids"; local line; read -r line <"$fifo"; rm -f "$fifo"; echo "${line#listening on }"
}
cat >"$WORK/bus.conf" <<BUS
<busconfig><type>system</type><listen>unix:path=$WORK/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*"/><allow own="*"/><allow receive_type="method_call"/>
<allow receive_type="method_return"/><allow receive_type="error"/><allow receive_type="signal"/>
<allow send_type="method_return"/><allow send_type="error"/><allow send_type="signal"/></policy></busconfig>
BUS
dbus-daemon --config-file="$WORK/bus.conf" --nofork --print-pid >"$WORK/bus.pid" &
sleep 0.5; cat "$WORK/bus.pid" >>"$WORK/pids"
BUS="unix:path=$WORK/bus"
log "== confine launch, $(date -u +%FT%TZ), $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$STORE" sample-catalog "$WORK/sample" --key-bits 2048 >/dev/null 2>&1
SURL=$(start_store "$WORK/sample")
mkdir -p "$WORK/croot"
RUST_LOG=warn "$HELPER" --root "$WORK/croot" --store-url "$SURL" --trust "$WORK/sample/keys/trusted.assert" --bus-address "$BUS" &
echo $! >>"$WORK/pids"
for _ in $(seq 300); do busctl --address="$BUS" status io.github.snapshelf.Helper1 >/dev/null 2>&1 && break; sleep 0.1; done
chmod 755 "$WORK"
"$HBENCH" "$BUS" install shelf-base >/dev/null
mkdir -p "$WORK/t/meta" "$WORK/t/bin"
printf 'name: bench-true\nversion: "1"\nsummary: exits 0\nbase: shelf-base\napps:\n  bench-true:\n    command: bin/true\n' >"$WORK/t/meta/snap.yaml"
echo 'int main(void) { return 0; }' >"$WORK/true.c"
gcc -static -O2 -o "$WORK/t/bin/true" "$WORK/true.c"
mksquashfs "$WORK/t" "$WORK/bench-true.snap" -noappend -comp xz -all-root -no-xattrs -quiet >/dev/null
"$HBENCH" "$BUS" install-file "$WORK/bench-true.snap" >/dev/null
[ -n "$OLD_FILTERS" ] && cp "$OLD_FILTERS"/*.bpf "$WORK/croot/var/lib/snapshelf/seccomp/"
mkdir -p "$WORK/out"; chmod 777 "$WORK/out"
mkdir -p "$WORK/capbin"; cp "$OLD" "$WORK/capbin/confine-old"; cp "$NEW" "$WORK/capbin/confine-new"; chmod 755 "$WORK/capbin"
for b in confine-old confine-new; do setcap cap_sys_admin,cap_chown,cap_dac_override,cap_dac_read_search,cap_fowner=p "$WORK/capbin/$b"; done
cp "$OLD" "$WORK/old-plain"; cp "$NEW" "$WORK/new-plain"; chmod 755 "$WORK/old-plain" "$WORK/new-plain"
R=$WORK/croot; B=$R/snap/shelf-base/current
BWRAP="bwrap --unshare-user --ro-bind $B/usr /usr --ro-bind $B/bin /bin --ro-bind $B/lib /lib --ro-bind $B/lib64 /lib64 \
  --ro-bind /etc /etc --ro-bind $R/snap /snap --bind $R/var/snap/bench-true /var/snap/bench-true --proc /proc --dev /dev --tmpfs /tmp \
  /snap/bench-true/x1/bin/true"
BWRAP_PID="${BWRAP/--unshare-user/--unshare-user --unshare-pid}"
runs=${RUNS:-600}
log "-- user-namespace mode (round-robin, 20 warm-up rounds, $runs rounds)"
runuser -u snapshelf-runner -- $RR "$runs" "no sandbox" "$WORK/t/bin/true" -- \
  "confine OLD" $WORK/old-plain --root $R bench-true -- \
  "confine NEW" $WORK/new-plain --root $R bench-true -- \
  "bwrap --unshare-user" $BWRAP -- "bwrap --unshare-user --unshare-pid" $BWRAP_PID | tee -a "$OUT"
log "-- packaged mode (file capabilities; the same rounds)"
mkdir -p /snap /var/snap /var/lib/snapshelf
unshare -m --propagation private sh -c "mount --rbind $R/snap /snap && mount --rbind $R/var/snap /var/snap && \
  mount --bind $R/var/lib/snapshelf /var/lib/snapshelf && \
  runuser -u snapshelf-runner -- $RR $runs 'confine OLD, file capabilities' $WORK/capbin/confine-old bench-true -- \
  'confine NEW, file capabilities' $WORK/capbin/confine-new bench-true -- \
  'bwrap --unshare-user' $BWRAP -- 'bwrap --unshare-user --unshare-pid' $BWRAP_PID" | tee -a "$OUT"
