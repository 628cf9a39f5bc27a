#!/bin/bash
# The session bus proxy confine starts for an app (xdg-dbus-proxy with the rules of an app that
# plugs desktop and mpris): the time from its start until it listens (what a launch waits for), and
# its memory with N apps running at once. A private dbus-daemon; nothing else is touched.
# Usage: confine/bench/dbus-proxy.sh [N] [plain|shared]   (N apps, default 10)
#   (default)  one proxy per app, with the environment confine gives it (session.rs PROXY_ENV)
#   plain      one proxy per app, without that environment (main's confine before 2026-12-06)
#   shared     one proxy for the N apps, as confine shares it among the running instances of a snap
# PROXY=/path/to/xdg-dbus-proxy measures another build of the proxy (default: Debian's).
# Each app is a client that talked through its proxy and stays connected. The last line is the
# measure of issue 15: the proxies' VmRSS summed and divided by the running apps, shared library
# pages included.
set -euo pipefail
PROXY=${PROXY:-/usr/bin/xdg-dbus-proxy}
N=${1:-10}
MODE=${2:-per-app}
PROXY_ENV=(MALLOC_ARENA_MAX=1 G_SLICE=always-malloc LC_ALL=C)
[ "$MODE" = plain ] && PROXY_ENV=()
PROXIES=$N
[ "$MODE" = shared ] && PROXIES=1
DIR=$(mktemp -d)
PIDS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
dbus-daemon --session --address="unix:path=$DIR/bus" --nofork 2>/dev/null &
while [ ! -S "$DIR/bus" ]; do sleep 0.01; done
RULES=(--filter "--talk=org.freedesktop.portal.*" --talk=org.freedesktop.Notifications
  --talk=io.snapcraft.Launcher "--own=org.mpris.MediaPlayer2.bench.*")
READY=()
for i in $(seq 1 "$PROXIES"); do
  mkfifo "$DIR/f$i"
  start=$(date +%s%N)
  # The proxy writes one byte on --fd when it listens (confine waits for it the same way) and
  # stops when that descriptor's reader is gone.
  env "${PROXY_ENV[@]}" "$PROXY" --fd=3 "unix:path=$DIR/bus" "$DIR/p$i" "${RULES[@]}" 3>"$DIR/f$i" &
  PIDS+=($!)
  exec {fd}<"$DIR/f$i"
  read -r -N 1 -u "$fd" _
  READY+=($(( ($(date +%s%N) - start) / 1000 )))
done
for i in $(seq 1 "$N"); do
  p=$DIR/p$(( PROXIES == 1 ? 1 : i ))
  gdbus call -a "unix:path=$p" -d org.freedesktop.DBus -o /org/freedesktop/DBus \
    -m org.freedesktop.DBus.ListNames >/dev/null
  gdbus monitor -a "unix:path=$p" -d org.freedesktop.DBus >/dev/null 2>&1 &
done
sleep 0.5
printf '%-4s %10s %10s %10s %10s\n' n ready_ms rss_kB pss_kB uss_kB
for i in $(seq 1 "$PROXIES"); do
  pid=${PIDS[$((i - 1))]}
  rss=$(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status)
  pss=$(awk '/^Pss:/ {print $2}' /proc/"$pid"/smaps_rollup)
  uss=$(awk '/^Private_(Clean|Dirty):/ {s+=$2} END {print s}' /proc/"$pid"/smaps_rollup)
  printf '%-4s %10.2f %10s %10s %10s\n' "$i" "$(awk "BEGIN {print ${READY[$((i - 1))]}/1000}")" "$rss" "$pss" "$uss"
done
# Where the first proxy's resident pages are: the shared libraries' file pages (the same pages in
# every GLib program, counted in full in each one's VmRSS) against what is the proxy's own.
awk '/^[0-9a-f]+-[0-9a-f]+ / { n = $6; g = "own: heap, stacks, anonymous";
    if (n ~ /\/(libc|libm|ld-linux-x86-64)\.so/) g = "libc, libm, ld.so";
    else if (n ~ /\/lib(glib|gio|gobject|gmodule)-2\.0\.so/) g = "GLib, GIO, GObject, GModule";
    else if (n ~ /dbus-proxy/) g = "the proxy'"'"'s own binary";
    else if (n ~ /^\//) g = "other libraries (libmount, libblkid, libselinux, libpcre2, libz, libffi) and gconv";
    next }
  /^Rss:/ { rss[g] += $2 } /^Private_(Clean|Dirty):/ { priv[g] += $2 }
  END { for (g in rss) printf "  %6d kB resident, %6d kB private: %s\n", rss[g], priv[g], g }' \
  /proc/"${PIDS[0]}"/smaps | sort -rn
total=0
for pid in "${PIDS[@]}"; do total=$((total + $(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status))); done
echo "proxy RSS per running app ($($PROXY --version), $MODE: ${#PIDS[@]} proxies, $N apps; environment: ${PROXY_ENV[*]:-none}): $((total / N)) kB"
