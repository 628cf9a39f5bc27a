#!/bin/bash
# The session bus proxy confine starts per app (xdg-dbus-proxy with the rules of an app that plugs
# desktop and mpris): the time from its start until it listens (what a launch waits for), and its
# memory with N of them running at once, each after a client has talked through it. A private
# dbus-daemon; nothing else is touched.
# Usage: confine/bench/dbus-proxy.sh [N] [plain]   (N proxies at once, default 10; "plain": without
# the environment confine gives the proxy, confine/src/session.rs PROXY_ENV, for comparison)
# The last line is the measure of issue 15: the proxies' VmRSS summed and divided by the running
# apps (one proxy per app), shared library pages included.
set -euo pipefail
N=${1:-10}
PROXY_ENV=(MALLOC_ARENA_MAX=1 G_SLICE=always-malloc LC_ALL=C)
[ "${2:-}" = plain ] && PROXY_ENV=()
DIR=$(mktemp -d)
PIDS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
dbus-daemon --session --address="unix:path=$DIR/bus" --nofork 2>/dev/null &
while [ ! -S "$DIR/bus" ]; do sleep 0.01; done
RULES=(--filter "--talk=org.freedesktop.portal.*" --talk=org.freedesktop.Notifications
  --talk=io.snapcraft.Launcher "--own=org.mpris.MediaPlayer2.bench.*")
READY=()
for i in $(seq 1 "$N"); do
  mkfifo "$DIR/f$i"
  start=$(date +%s%N)
  # The proxy writes one byte on --fd when it listens (confine waits for it the same way) and
  # stops when that descriptor's reader is gone.
  env "${PROXY_ENV[@]}" xdg-dbus-proxy --fd=3 "unix:path=$DIR/bus" "$DIR/p$i" "${RULES[@]}" 3>"$DIR/f$i" &
  PIDS+=($!)
  exec {fd}<"$DIR/f$i"
  read -r -N 1 -u "$fd" _
  READY+=($(( ($(date +%s%N) - start) / 1000 )))
  gdbus call -a "unix:path=$DIR/p$i" -d org.freedesktop.DBus -o /org/freedesktop/DBus \
    -m org.freedesktop.DBus.ListNames >/dev/null
done
printf '%-4s %10s %10s %10s %10s\n' n ready_ms rss_kB pss_kB uss_kB
for i in $(seq 1 "$N"); do
  pid=${PIDS[$((i - 1))]}
  rss=$(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status)
  pss=$(awk '/^Pss:/ {print $2}' /proc/"$pid"/smaps_rollup)
  uss=$(awk '/^Private_(Clean|Dirty):/ {s+=$2} END {print s}' /proc/"$pid"/smaps_rollup)
  printf '%-4s %10.2f %10s %10s %10s\n' "$i" "$(awk "BEGIN {print ${READY[$((i - 1))]}/1000}")" "$rss" "$pss" "$uss"
done
total=0
for pid in "${PIDS[@]}"; do total=$((total + $(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status))); done
echo "proxy RSS per running app (${#PIDS[@]} proxies, ${#PIDS[@]} apps; environment: ${PROXY_ENV[*]:-none}): $((total / ${#PIDS[@]})) kB"
