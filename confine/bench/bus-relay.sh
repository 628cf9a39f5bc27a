#!/bin/bash
# The memory of the session bus filter per running app. confine filters each app's D-Bus clients
# in the launch's monitor (confine/src/auth_relay.rs, bus_filter.rs): no proxy process runs, so
# the measure is the monitor's, with clients on the bus and without (the monitor existed before
# the filter did). N apps at once, each a launch of CONFINE in ROOT (a root set up by
# scripts/bench.sh: shelf-base and the snap `bench-bus`, whose app `client` opens the given number
# of session bus connections, says `Hello` on each, prints "ready" and waits), as USER, with a
# private dbus-daemon of that user's as the session bus. Nothing else is touched; needs root (to
# run as USER and to read the monitors' /proc entries).
# Usage: confine/bench/bus-relay.sh CONFINE ROOT [N] [USER]
set -euo pipefail
CONFINE=$1
ROOT=$2
N=${3:-10}
USER_NAME=${4:-snapshelf-runner}
UID_N=$(id -u "$USER_NAME")
GID_N=$(id -g "$USER_NAME")
# setpriv executes what it runs: a background job's $! is then that process itself (a shell
# function would put a subshell in between).
AS_USER=(setpriv --reuid="$UID_N" --regid="$GID_N" --init-groups --)
DIR=$(mktemp -d)
chmod 755 "$DIR"
RUN=/run/user/$UID_N
MADE_RUN=
if [ ! -d "$RUN" ]; then
  mkdir -p "$RUN"; chown "$UID_N:$GID_N" "$RUN"; chmod 700 "$RUN"; MADE_RUN=1
fi
PIDS=()
BUS_PID=
cleanup() {
  kill "${PIDS[@]}" $BUS_PID 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$DIR"
  [ -n "$MADE_RUN" ] && rm -rf "$RUN"
  true
}
trap cleanup EXIT
mkdir "$DIR/bus.d"; chown "$UID_N:$GID_N" "$DIR/bus.d"
"${AS_USER[@]}" dbus-daemon --session --address="unix:path=$DIR/bus.d/bus" --nofork &
BUS_PID=$!
while [ ! -S "$DIR/bus.d/bus" ]; do sleep 0.01; done
ADDR="unix:path=$DIR/bus.d/bus"

# One round: N launches at once whose apps open CONNS connections each; the monitors' memory.
measure() { # conns label
  local conns=$1 label=$2
  PIDS=()
  for i in $(seq 1 "$N"); do
    "${AS_USER[@]}" env -i PATH=/usr/bin:/bin HOME=/tmp DBUS_SESSION_BUS_ADDRESS="$ADDR" \
      "$CONFINE" --root "$ROOT" bench-bus.client "$conns" >"$DIR/out.$i" 2>&1 &
    PIDS+=($!)
  done
  for i in $(seq 1 "$N"); do
    for _ in $(seq 500); do grep -q ready "$DIR/out.$i" 2>/dev/null && break; sleep 0.02; done
    grep -q ready "$DIR/out.$i" || { echo "app $i did not start:"; cat "$DIR/out.$i"; exit 1; }
  done
  sleep 0.5
  printf '%-28s %4s %10s %10s %10s\n' "$label" n rss_kB pss_kB private_kB
  local rss_sum=0 pss_sum=0 priv_sum=0
  for i in $(seq 1 "$N"); do
    local pid=${PIDS[$((i - 1))]}
    local rss pss priv
    # The monitor is the launch's own process (env and setpriv executed it).
    [ "$(readlink /proc/"$pid"/exe)" = "$(readlink -f "$CONFINE")" ] ||
      { echo "process $pid is not a launch of $CONFINE"; exit 1; }
    rss=$(awk '/^VmRSS/ {print $2}' /proc/"$pid"/status)
    pss=$(awk '/^Pss:/ {print $2}' /proc/"$pid"/smaps_rollup)
    priv=$(awk '/^Private_(Clean|Dirty):/ {s+=$2} END {print s}' /proc/"$pid"/smaps_rollup)
    rss_sum=$((rss_sum + rss)); pss_sum=$((pss_sum + pss)); priv_sum=$((priv_sum + priv))
    printf '%-28s %4s %10s %10s %10s\n' "" "$i" "$rss" "$pss" "$priv"
  done
  echo "monitor per running app ($label, $N apps, $conns bus connections each): RSS $((rss_sum / N)) kB, Pss $((pss_sum / N)) kB, private $((priv_sum / N)) kB"
  # A confine from before the filter starts Debian's xdg-dbus-proxy beside its monitor: the peer,
  # counted the same way in the same run (none run with today's confine).
  local proxies
  proxies=$(pgrep -u "$UID_N" -x xdg-dbus-proxy || true)
  if [ -n "$proxies" ]; then
    # Instances of one snap share one proxy there, so a lone app of a snap pays a whole proxy.
    local p n=0 prss=0 ppss=0 ppriv=0 r s v
    for p in $proxies; do
      r=$(awk '/^VmRSS/ {print $2}' /proc/"$p"/status 2>/dev/null) || continue
      s=$(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null) || continue
      v=$(awk '/^Private_(Clean|Dirty):/ {s+=$2} END {print s}' /proc/"$p"/smaps_rollup 2>/dev/null) || continue
      [ -n "$r" ] && [ -n "$s" ] && [ -n "$v" ] || continue
      n=$((n + 1)); prss=$((prss + r)); ppss=$((ppss + s)); ppriv=$((ppriv + v))
    done
    if [ "$n" -gt 0 ]; then
      echo "plus $n xdg-dbus-proxy ($label): per proxy RSS $((prss / n)) kB, Pss $((ppss / n)) kB, private $((ppriv / n)) kB; per running app RSS $((prss / N)) kB"
    fi
  else
    echo "no xdg-dbus-proxy runs ($label)"
  fi
  kill "${PIDS[@]}" 2>/dev/null || true
  wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
}
measure 0 "no bus client"
measure 2 "two bus clients"
