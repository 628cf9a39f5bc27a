#!/bin/sh
# Install Snapshelf from a release build: `install.sh [--uninstall]`, honouring DESTDIR and PREFIX
# (default /usr). Binaries come from target/release (build them first: cargo build --release);
# translations are compiled from po/ with msgfmt (Debian package gettext).
set -eu
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr}
D=${DESTDIR:-}
BIN=${SNAPSHELF_BIN:-target/release}
# dbus-daemon reads bus policy only from /usr/share/dbus-1/system.d and /etc/dbus-1/system.d, and
# polkitd reads actions only from /usr/share/polkit-1/actions, whatever the prefix.
if [ "$PREFIX" = /usr ]; then BUSPOLICY=/usr/share/dbus-1/system.d; else BUSPOLICY=/etc/dbus-1/system.d; fi
SESSIONPOLICY=$(dirname "$BUSPOLICY")/session.d
ACTIONS=/usr/share/polkit-1/actions
# Outside /usr the helper is told where the launcher and the translations are (its defaults are /usr's).
HELPER="$PREFIX/libexec/snapshelf/snapshelf-helper"
if [ "$PREFIX" != /usr ]; then
  HELPER="$HELPER --confine $PREFIX/libexec/snapshelf/snapshelf-confine --locale-dir $PREFIX/share/locale"
fi
FILES="
$PREFIX/bin/snapshelfctl
$PREFIX/bin/snapshelf-store
$PREFIX/bin/snapshelf
$PREFIX/share/applications/io.github.snapshelf.Snapshelf.desktop
$PREFIX/share/metainfo/io.github.snapshelf.Snapshelf.metainfo.xml
$PREFIX/share/icons/hicolor/scalable/apps/io.github.snapshelf.Snapshelf.svg
$PREFIX/share/icons/hicolor/symbolic/apps/io.github.snapshelf.Snapshelf-symbolic.svg
$PREFIX/libexec/snapshelf/snapshelf-helper
$PREFIX/libexec/snapshelf/snapshelf-confine
$PREFIX/libexec/snapshelf/snapctl
$PREFIX/libexec/snapshelf/snapshelf-search-provider
$PREFIX/share/gnome-shell/search-providers/io.github.snapshelf.Snapshelf.SearchProvider.ini
$PREFIX/share/dbus-1/services/io.github.snapshelf.Snapshelf.SearchProvider.service
$PREFIX/libexec/snapshelf/snapshelf-launcher
$PREFIX/share/dbus-1/services/io.github.snapshelf.Launcher.service
$PREFIX/libexec/snapshelf/snapshelf-update-agent
/etc/xdg/autostart/io.github.snapshelf.Snapshelf.UpdateAgent.desktop
/etc/xdg/autostart/io.github.snapshelf.Snapshelf.Autostart.desktop
$BUSPOLICY/io.github.snapshelf.Helper1.conf
$BUSPOLICY/snapshelf.system-services.conf
$SESSIONPOLICY/snapshelf.session-services.conf
$PREFIX/share/dbus-1/system-services/io.github.snapshelf.Helper1.service
$ACTIONS/io.github.snapshelf.policy
$PREFIX/lib/systemd/system/snapshelf-helper.service
$PREFIX/lib/environment.d/90-snapshelf.conf
/etc/profile.d/snapshelf.sh
"
LANGS=$(cat po/LINGUAS)
if [ "${1:-}" = "--uninstall" ]; then
  if [ -z "$D" ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --quiet snapshelf-helper.service 2>/dev/null || true
  fi
  for f in $FILES; do rm -f "$D$f"; done
  for l in $LANGS; do rm -f "$D$PREFIX/share/locale/$l/LC_MESSAGES/snapshelf.mo"; done
  rmdir "$D$PREFIX/libexec/snapshelf" 2>/dev/null || true
  exit 0
fi
for b in snapshelf snapshelfctl snapshelf-store snapshelf-helper snapshelf-confine snapshelf-search-provider snapshelf-launcher snapshelf-update-agent; do
  [ -x "$BIN/$b" ] || { echo "install.sh: $BIN/$b is missing: cargo build --release first" >&2; exit 1; }
done
[ -x "$BIN/snapctl" ] || { echo "install.sh: $BIN/snapctl is missing: scripts/snapctl-static.sh --release first" >&2; exit 1; }
install -D -m 755 "$BIN/snapshelfctl" "$D$PREFIX/bin/snapshelfctl"
install -D -m 755 "$BIN/snapshelf-store" "$D$PREFIX/bin/snapshelf-store"
install -D -m 755 "$BIN/snapshelf" "$D$PREFIX/bin/snapshelf"
install -D -m 644 data/io.github.snapshelf.Snapshelf.desktop "$D$PREFIX/share/applications/io.github.snapshelf.Snapshelf.desktop"
install -D -m 644 data/io.github.snapshelf.Snapshelf.metainfo.xml "$D$PREFIX/share/metainfo/io.github.snapshelf.Snapshelf.metainfo.xml"
install -D -m 644 data/icons/hicolor/scalable/apps/io.github.snapshelf.Snapshelf.svg "$D$PREFIX/share/icons/hicolor/scalable/apps/io.github.snapshelf.Snapshelf.svg"
install -D -m 644 data/icons/hicolor/symbolic/apps/io.github.snapshelf.Snapshelf-symbolic.svg "$D$PREFIX/share/icons/hicolor/symbolic/apps/io.github.snapshelf.Snapshelf-symbolic.svg"
for l in $LANGS; do
  mkdir -p "$D$PREFIX/share/locale/$l/LC_MESSAGES"
  msgfmt -o "$D$PREFIX/share/locale/$l/LC_MESSAGES/snapshelf.mo" "po/$l.po"
done
install -D -m 755 "$BIN/snapshelf-helper" "$D$PREFIX/libexec/snapshelf/snapshelf-helper"
install -D -m 755 "$BIN/snapshelf-confine" "$D$PREFIX/libexec/snapshelf/snapshelf-confine"
# snapctl, static: the helper puts a copy where every sandbox finds it (/usr/lib/snapd/snapctl).
install -D -m 755 "$BIN/snapctl" "$D$PREFIX/libexec/snapshelf/snapctl"
# GNOME Shell's search: the provider, started on the session bus when the Shell first asks; it
# opens results in the app installed beside it.
install -D -m 755 "$BIN/snapshelf-search-provider" "$D$PREFIX/libexec/snapshelf/snapshelf-search-provider"
install -D -m 644 data/gnome-shell/search-providers/io.github.snapshelf.Snapshelf.SearchProvider.ini \
  "$D$PREFIX/share/gnome-shell/search-providers/io.github.snapshelf.Snapshelf.SearchProvider.ini"
PROVIDER="$PREFIX/libexec/snapshelf/snapshelf-search-provider"
[ "$PREFIX" = /usr ] || PROVIDER="$PROVIDER --app $PREFIX/bin/snapshelf"
sed "s|^Exec=.*|Exec=$PROVIDER|" data/dbus-1/services/io.github.snapshelf.Snapshelf.SearchProvider.service \
  | install -D -m 644 /dev/stdin "$D$PREFIX/share/dbus-1/services/io.github.snapshelf.Snapshelf.SearchProvider.service"
# io.snapcraft.Launcher: opens links and files for sandboxed apps, started on the session bus when
# an app's xdg-open first calls it.
install -D -m 755 "$BIN/snapshelf-launcher" "$D$PREFIX/libexec/snapshelf/snapshelf-launcher"
sed "s|^Exec=.*|Exec=$PREFIX/libexec/snapshelf/snapshelf-launcher|" data/dbus-1/services/io.github.snapshelf.Launcher.service \
  | install -D -m 644 /dev/stdin "$D$PREFIX/share/dbus-1/services/io.github.snapshelf.Launcher.service"
# Background updates: the agent starts with each desktop session (XDG autostart, which session
# managers read from /etc/xdg whatever the prefix) and opens the app on its Updates page.
install -D -m 755 "$BIN/snapshelf-update-agent" "$D$PREFIX/libexec/snapshelf/snapshelf-update-agent"
AGENT="$PREFIX/libexec/snapshelf/snapshelf-update-agent"
[ "$PREFIX" = /usr ] || AGENT="$AGENT --app $PREFIX/bin/snapshelf"
sed "s|^Exec=.*|Exec=$AGENT|" data/autostart/io.github.snapshelf.Snapshelf.UpdateAgent.desktop \
  | install -D -m 644 /dev/stdin "$D/etc/xdg/autostart/io.github.snapshelf.Snapshelf.UpdateAgent.desktop"
# Snaps' apps with `autostart:` start with each session too (as snapd's `snap userd --autostart`).
sed "s|^Exec=.*|Exec=$PREFIX/bin/snapshelfctl autostart|" data/autostart/io.github.snapshelf.Snapshelf.Autostart.desktop \
  | install -D -m 644 /dev/stdin "$D/etc/xdg/autostart/io.github.snapshelf.Snapshelf.Autostart.desktop"
install -D -m 644 flatpak-free-packaging/io.github.snapshelf.Helper1.conf "$D$BUSPOLICY/io.github.snapshelf.Helper1.conf"
# Where the helper writes the activation files of snaps' activates-on daemons (docs/services.md).
install -D -m 644 flatpak-free-packaging/snapshelf.system-services.conf "$D$BUSPOLICY/snapshelf.system-services.conf"
install -D -m 644 flatpak-free-packaging/snapshelf.session-services.conf "$D$SESSIONPOLICY/snapshelf.session-services.conf"
sed "s|/usr/libexec/snapshelf/snapshelf-helper|$HELPER|" flatpak-free-packaging/io.github.snapshelf.Helper1.service \
  | install -D -m 644 /dev/stdin "$D$PREFIX/share/dbus-1/system-services/io.github.snapshelf.Helper1.service"
install -D -m 644 polkit/io.github.snapshelf.policy "$D$ACTIONS/io.github.snapshelf.policy"
sed "s|/usr/libexec/snapshelf/snapshelf-helper|$HELPER|" flatpak-free-packaging/snapshelf-helper.service \
  | install -D -m 644 /dev/stdin "$D$PREFIX/lib/systemd/system/snapshelf-helper.service"
install -D -m 644 flatpak-free-packaging/90-snapshelf.conf "$D$PREFIX/lib/environment.d/90-snapshelf.conf"
install -D -m 644 flatpak-free-packaging/snapshelf.sh "$D/etc/profile.d/snapshelf.sh"
# Started at boot, to mount the installed snaps again before apps run.
if [ -z "$D" ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload 2>/dev/null || true
  systemctl enable --quiet snapshelf-helper.service || true
fi
# The launcher builds sandboxes with these capabilities and drops them before the app runs.
if [ -z "$D" ]; then
  setcap cap_sys_admin,cap_chown,cap_dac_override,cap_dac_read_search,cap_fowner=p "$PREFIX/libexec/snapshelf/snapshelf-confine"
else
  echo "install.sh: with DESTDIR, give $PREFIX/libexec/snapshelf/snapshelf-confine its capabilities at install time:" >&2
  echo "  setcap cap_sys_admin,cap_chown,cap_dac_override,cap_dac_read_search,cap_fowner=p $PREFIX/libexec/snapshelf/snapshelf-confine" >&2
fi
