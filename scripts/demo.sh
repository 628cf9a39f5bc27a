#!/usr/bin/env bash
# The Snapshelf demo: the sample store, a system bus with polkitd on it, the root helper on a demo
# root (nothing of the host's /snap is touched), and the app on your display; the command line and
# busctl work beside it. Needs a display for the app (run it with sudo -E from a desktop session).
# Needs root (Debian packages, loop mounts, the helper). A second run reuses the build, the catalog
# and the installed snaps, and starts in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

[ "$(id -u)" -eq 0 ] || die "the demo runs the root helper and mounts snaps: run it as root (sudo scripts/demo.sh)"
ensure_rust
ensure_packages "${SNAPSHELF_PACKAGES[@]}"

DEMO_DIR=${SNAPSHELF_DEMO_DIR:-/var/tmp/snapshelf-demo}
# /var/tmp is everyone's: a demo directory someone else made first (their keys, their links) is
# not one the root helper should work on.
if [ -e "$DEMO_DIR" ] && { [ "$(stat -c %u "$DEMO_DIR")" != 0 ] || [ -n "$(find "$DEMO_DIR" -maxdepth 0 -perm /022)" ]; }; then
  die "$DEMO_DIR is not root's alone (owner or mode): remove it, or set SNAPSHELF_DEMO_DIR"
fi
LISTEN=${SNAPSHELF_DEMO_LISTEN:-127.0.0.1:8080}
RUN=/run/snapshelf-demo
mkdir -p "$DEMO_DIR/root" "$RUN"
chmod 755 "$DEMO_DIR" "$DEMO_DIR/root"
# One demo at a time: a second one would take over the first one's files, bus and mounts. The
# lock is held as long as this script or any process it started lives.
# Opened read-only: the app runs as that person and must not inherit a writable root file.
: >>"$RUN/demo.lock"
exec 9<"$RUN/demo.lock"
flock -n 9 || die "a Snapshelf demo is already running (its files are in $RUN): stop it with Ctrl+C first"

# SNAPSHELF_DEMO_PROFILE=dev reuses the test build (faster to build, slower to run).
PROFILE=${SNAPSHELF_DEMO_PROFILE:-release}
say "building Snapshelf ($PROFILE; the first time takes several minutes)"
cargo build --profile "$PROFILE" --quiet -p snapshelf-store -p snapshelf-helper -p snapshelf-confine -p snapshelfctl -p snapshelf
BIN=$PWD/target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")

if [ ! -f "$DEMO_DIR/catalog/keys/trusted.assert" ]; then
  say "building the sample catalog in $DEMO_DIR/catalog (keys are made once)"
  "$BIN/snapshelf-store" sample-catalog "$DEMO_DIR/catalog" >"$RUN/catalog.log" 2>&1 \
    || die "the sample catalog could not be built: $(tail -5 "$RUN/catalog.log")"
fi

PIDS=()
APP_PID=
cleanup() {
  if [ -n "$APP_PID" ]; then kill "$APP_PID" 2>/dev/null || true; fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$RUN/rules.d/59-snapshelf-demo.rules"
  # The helper mounts every revision again when it starts: leave nothing mounted behind.
  for m in $(awk '{print $5}' /proc/self/mountinfo | grep "^$DEMO_DIR/root/" | sort -r); do umount -l "$m" || true; done
}
# Ctrl+C ends the script; the EXIT trap then stops everything, once.
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting the store on http://$LISTEN"
"$BIN/snapshelf-store" serve --dir "$DEMO_DIR/catalog" --listen "$LISTEN" >"$RUN/store.out" 2>"$RUN/store.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "listening on" "$RUN/store.out" 2>/dev/null && break; sleep 0.1; done
grep -q "listening on" "$RUN/store.out" || die "the store did not start: $(cat "$RUN/store.log")"

# A system bus of the demo's own (the machine's, if any, is left alone), with the helper's bus policy.
say "starting a system bus and polkitd for the demo"
cat >"$RUN/bus.conf" <<BUS
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$RUN/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <allow send_destination="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.PolicyKit1"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/><allow receive_type="method_return"/>
    <allow receive_type="error"/><allow receive_type="signal"/>
  </policy>
  <policy user="root"><allow own="org.freedesktop.PolicyKit1"/><allow send_destination="*"/></policy>
  <policy user="polkitd"><allow own="org.freedesktop.PolicyKit1"/></policy>
  <include>$PWD/flatpak-free-packaging/io.github.snapshelf.Helper1.conf</include>
</busconfig>
BUS
rm -f "$RUN/bus"
dbus-daemon --config-file="$RUN/bus.conf" --nofork >/dev/null 2>"$RUN/bus.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$RUN/bus" ] && break; sleep 0.1; done
BUS="unix:path=$RUN/bus"
# The demo's polkitd reads Snapshelf's actions from $RUN/actions and its rules from $RUN/rules.d,
# bound over /usr/share/polkit-1/actions and /etc/polkit-1/rules.d in a mount namespace of its own:
# nothing of the demo reaches the machine's polkitd, and nothing is left behind if it is killed.
mkdir -p "$RUN/rules.d" "$RUN/actions"; chmod 755 "$RUN/rules.d" "$RUN/actions"
rm -f "$RUN/rules.d/"*.rules
install -m 644 polkit/io.github.snapshelf.policy "$RUN/actions/io.github.snapshelf.policy"
DBUS_SYSTEM_BUS_ADDRESS=$BUS unshare --mount --propagation private \
  sh -c 'mount --bind "$1" /etc/polkit-1/rules.d && mount --bind "$2" /usr/share/polkit-1/actions &&
         exec /usr/lib/polkit-1/polkitd --no-debug' \
  polkitd "$RUN/rules.d" "$RUN/actions" >/dev/null 2>"$RUN/polkit.log" &
PIDS+=($!)
for _ in $(seq 100); do
  busctl --address="$BUS" status org.freedesktop.PolicyKit1 >/dev/null 2>&1 && break; sleep 0.1
done

for po in po/*.po; do
  lang=$(basename "$po" .po)
  mkdir -p "target/locale/$lang/LC_MESSAGES"
  msgfmt --check -o "target/locale/$lang/LC_MESSAGES/snapshelf.mo" "$po"
done

say "starting snapshelf-helper on the demo root $DEMO_DIR/root"
RUST_LOG=${RUST_LOG:-info} "$BIN/snapshelf-helper" --root "$DEMO_DIR/root" \
  --store-url "http://$LISTEN" --trust "$DEMO_DIR/catalog/keys/trusted.assert" \
  --bus-address "$BUS" --confine "$BIN/snapshelf-confine" --locale-dir "$PWD/target/locale" \
  2>"$RUN/helper.log" &
PIDS+=($!)
for _ in $(seq 300); do
  busctl --address="$BUS" status io.github.snapshelf.Helper1 >/dev/null 2>&1 && break; sleep 0.1
done
busctl --address="$BUS" status io.github.snapshelf.Helper1 >/dev/null 2>&1 \
  || die "the helper did not start: $(tail -5 "$RUN/helper.log")"

# The app, as the person who ran the demo (sudo keeps who that was), on their display.
APP_USER=${SUDO_USER:-root}
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  # The demo's polkitd has no authentication agent of that person's session: a rule, seen by the
  # demo's polkitd alone, lets them make changes without asking while the demo runs.
  if [ "$APP_USER" != root ]; then
    install -m 644 /dev/stdin "$RUN/rules.d/59-snapshelf-demo.rules" <<RULES
// Written by Snapshelf's demo (scripts/demo.sh); removed when the demo stops.
polkit.addRule(function(action, subject) {
  if (action.id.indexOf("io.github.snapshelf.") == 0 && subject.user == "$APP_USER") { return polkit.Result.YES; }
});
RULES
  fi
  say "opening the app as $APP_USER"
  APP_UID=$(id -u "$APP_USER")
  runuser -u "$APP_USER" -- env DISPLAY="${DISPLAY:-}" WAYLAND_DISPLAY="${WAYLAND_DISPLAY:-}" \
    XAUTHORITY="${XAUTHORITY:-$(getent passwd "$APP_USER" | cut -d: -f6)/.Xauthority}" XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/run/user/$APP_UID}" \
    SNAPSHELF_LOCALEDIR="$PWD/target/locale" SNAPSHELF_ROOT="$DEMO_DIR/root" \
    SNAPSHELF_CONFINE="$BIN/snapshelf-confine" \
    "$BIN/snapshelf" --bus-address "$BUS" 2>"$RUN/app.log" 9<&- &
  APP_PID=$!
else
  say "no display (DISPLAY/WAYLAND_DISPLAY unset): the app needs one; from a desktop session run"
  echo "  sudo -E scripts/demo.sh" >&2
fi

cat <<MSG

Snapshelf is running: store http://$LISTEN, helper on $BUS, snaps under $DEMO_DIR/root.
In another terminal (as root, or as a user polkit allows):

  export DBUS_SYSTEM_BUS_ADDRESS=$BUS
  $BIN/snapshelfctl find clock
  $BIN/snapshelfctl install shelf-clock shelf-hello shelf-fetch
  $BIN/snapshelfctl list
  $BIN/snapshelfctl connections shelf-fetch
  $BIN/snapshelfctl disconnect shelf-fetch:network
  $BIN/snapshelfctl refresh shelf-clock --channel candidate
  $BIN/snapshelfctl revert shelf-clock
  $DEMO_DIR/root/snap/bin/shelf-hello            # the app, in its sandbox
  $BIN/snapshelfctl remove shelf-hello

  busctl --address=$BUS call io.github.snapshelf.Helper1 /io/github/snapshelf/Helper1 \\
    io.github.snapshelf.Helper1 ListInstalled
  curl -s -H 'Snap-Device-Series: 16' 'http://$LISTEN/v2/snaps/find?q=clock' | python3 -m json.tool

Logs: $RUN/*.log. Press Ctrl+C to stop (the demo root is kept for the next run).
MSG
if [ -n "$APP_PID" ]; then
  wait "$APP_PID" || true
  say "the app was closed; the store and the helper keep running for the CLI (Ctrl+C stops them)"
fi
wait "${PIDS[@]}" || true
