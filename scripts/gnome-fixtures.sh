#!/bin/bash
# The GNOME-platform app's test fixtures, in the real shape of a store desktop snap, from Debian's
# packages: a usr-merged base made with debootstrap (shelf-bookworm), a platform content snap
# with GTK 4 and libadwaita (gnome-43-bookworm), the themes' content (gtk-common-themes) and a
# real GTK 4 app (gnome-calculator) in snapcraft's gnome-extension shape, with our own command
# chain (scripts/gnome/desktop-launch). Built once and cached in
# /var/cache/snapshelf-tests/gnome/<hash of this script and the launcher> (or
# $SNAPSHELF_GNOME_CACHE/<hash>): a change to either builds anew; delete the folder to rebuild.
# Prints the folder holding <name>.snap for the four snaps. Needs root and a Debian mirror.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/common.sh
. "$here/lib/common.sh"

launcher="$here/gnome/desktop-launch"
key=$(cat "$0" "$launcher" | sha256sum | cut -c1-16)
cache=${SNAPSHELF_GNOME_CACHE:-/var/cache/snapshelf-tests/gnome}
out="$cache/$key"
mirror=${SNAPSHELF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
arch=x86_64-linux-gnu
if [ -e "$out/.snapshelf-complete" ]; then
  echo "$out"
  exit 0
fi
# Only the folder goes to standard output (the tests read it): the tools' words go to stderr.
exec 3>&1 1>&2
[ "$(id -u)" -eq 0 ] || die "building $out needs root"
# One build at a time (test binaries run in parallel): the others wait for it and take its result.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -e "$out/.snapshelf-complete" ]; then
  echo "$out" >&3
  exit 0
fi
[ "$(dpkg --print-architecture)" = amd64 ] || die "the GNOME fixtures are built for amd64 only"
ensure_packages debootstrap squashfs-tools libglib2.0-bin gtk-update-icon-cache shared-mime-info
say "building the GNOME-platform fixtures in $out (once)"
work="$out.new"
rm -rf "$work"
mkdir -p "$work/debs"
# Older versions of the fixtures are of no use any more.
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key*" -exec rm -rf {} +

# Drop what no test reads: documentation, manuals, translations.
trim() {
  rm -rf "$1"/usr/share/{doc,man,info,lintian,bug,gtk-doc,help}
  find "$1/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
}

pack() { # pack TREE NAME
  mksquashfs "$1" "$work/$2.snap" -noappend -comp xz -no-fragments -all-root -no-xattrs \
    -no-progress -quiet >&2
}

# --- 1. The base: debootstrap's minimal bookworm, usr-merged, with a core base's mount points.
base="$work/base"
debootstrap --variant=minbase bookworm "$base" "$mirror" >&2
trim "$base"
rm -rf "$base"/var/cache/apt/* "$base"/var/lib/apt/lists/* "$base"/var/log/* "$base"/usr/share/i18n
[ -L "$base/bin" ] || die "debootstrap made no usr-merged root ($base/bin is not a link)"
for d in snap var/snap usr/lib/snapd var/lib/snapd lib/modules usr/src media mnt writable \
  var/lib/snapd/hostfs var/lib/extrausers etc/fonts; do
  mkdir -p "$base/$d"
done
ln -sfn ../lib/snapd/snapctl "$base/usr/bin/snapctl"
mkdir -p "$base/meta"
cat >"$base/meta/snap.yaml" <<'YAML'
name: shelf-bookworm
version: '12'
summary: Debian 12 (bookworm), the minimal root, as a base for snaps
description: debootstrap's minbase variant of Debian 12, usr-merged, with a core base's mount points.
type: base
grade: stable
confinement: strict
YAML

# Which of "$@" (and what they need) a root whose dpkg status is $1 lacks: apt's plan against
# that status (the host's package lists, no recommends), without upgrades of what is there.
lacking() {
  local status=$1
  shift
  apt-get -s -qq -o Dir::State::status="$status" -o APT::Install-Recommends=0 install "$@" |
    awk '$1 == "Inst" && $3 !~ /^\[/ { print $2 }'
}

# Download and unpack the packages named on stdin into $1, but for those matching the
# extended regular expression $3 (left out on purpose): their control stanzas, marked installed,
# are appended to the dpkg status file $2 either way, so that apt's next plan counts them.
unpack() {
  local tree=$1 status=$2 skip=${3:-^$} p deb pkgs
  mapfile -t pkgs
  mkdir -p "$tree"
  (cd "$work/debs" && apt-get download -qq -o APT::Sandbox::User=root "${pkgs[@]}" >&2)
  for p in "${pkgs[@]}"; do
    deb=$(ls "$work/debs/${p}"_*.deb)
    [[ $p =~ $skip ]] || dpkg-deb -x "$deb" "$tree"
    { echo; dpkg-deb -f "$deb"; echo "Status: install ok installed"; } >>"$status"
  done
}

apt-get update -qq
status="$work/status"
cp "$base/var/lib/dpkg/status" "$status"

# --- 2. The themes: Adwaita's and hicolor's icons, shaped as gtk-common-themes is.
themes="$work/gtk-common-themes"
# A status of their own: the themes' snap is no part of what the platform or the app are given.
cp "$status" "$work/themes-status"
printf '%s\n' adwaita-icon-theme hicolor-icon-theme | unpack "$themes/tree" "$work/themes-status"
mkdir -p "$themes/share/themes" "$themes/share/sounds"
mv "$themes/tree/usr/share/icons" "$themes/share/icons"
rm -rf "$themes/tree"
for t in "$themes"/share/icons/*/index.theme; do gtk-update-icon-cache -q -f "${t%/index.theme}"; done
mkdir -p "$themes/meta"
cat >"$themes/meta/snap.yaml" <<'YAML'
name: gtk-common-themes
version: '43-bookworm'
summary: Icon themes for snaps (Adwaita, hicolor), from Debian 12
description: Shaped as the store's gtk-common-themes - its slots are spooled into the app's data-dir.
base: shelf-bookworm
grade: stable
confinement: strict
slots:
  gtk-3-themes:
    interface: content
    source:
      read: [$SNAP/share/themes]
  icon-themes:
    interface: content
    source:
      read: [$SNAP/share/icons/Adwaita, $SNAP/share/icons/hicolor]
  sound-themes:
    interface: content
    source:
      read: [$SNAP/share/sounds]
YAML
touch "$themes/share/themes/.keep" "$themes/share/sounds/.keep"

# --- 3. The platform: GTK 4, libadwaita, the SVG pixbuf loader and all they need that the base
# lacks. dconf's backend needs its service on the session bus: GSettings keeps to memory instead.
platform="$work/gnome-43-bookworm"
lacking "$status" libgtk-4-1 libadwaita-1-0 librsvg2-common libgtk-4-bin |
  unpack "$platform" "$status" \
    '^(dconf-.*|libdconf1|dbus.*|systemd.*|libpam-systemd|adwaita-icon-theme|hicolor-icon-theme|gtk-update-icon-cache)$'
trim "$platform"
glib-compile-schemas "$platform/usr/share/glib-2.0/schemas"
update-mime-database "$platform/usr/share/mime"
mkdir -p "$platform/meta"
cat >"$platform/meta/snap.yaml" <<'YAML'
name: gnome-43-bookworm
version: '43'
summary: GNOME 43 platform (GTK 4.8, libadwaita 1.2) from Debian 12
description: The libraries and data GTK 4 apps share, for the content interface, as the store's gnome-46-2404 is shaped.
base: shelf-bookworm
grade: stable
confinement: strict
slots:
  gnome-43-bookworm:
    interface: content
    content: gnome-43-bookworm
    read:
      - $SNAP
YAML

# --- 4. The app: gnome-calculator and what base and platform lack, in the gnome extension's shape.
app="$work/gnome-calculator"
lacking "$status" gnome-calculator | unpack "$app" "$status"
trim "$app"
schemas=$(mktemp -d)
cp "$platform"/usr/share/glib-2.0/schemas/*.xml "$app"/usr/share/glib-2.0/schemas/*.xml "$schemas/"
glib-compile-schemas --targetdir="$app/usr/share/glib-2.0/schemas" "$schemas"
rm -rf "$schemas"
install -D -m 755 "$launcher" "$app/snap/command-chain/desktop-launch"
mkdir -p "$app/gnome-platform" "$app/data-dir/themes" "$app/data-dir/icons" "$app/data-dir/sounds" "$app/meta/gui"
version=$(dpkg-deb -f "$work"/debs/gnome-calculator_*.deb Version | sed 's/^[0-9]*://; s/-[^-]*$//')
sed -e 's|^Icon=.*|Icon=${SNAP}/meta/gui/gnome-calculator.svg|' \
  "$app/usr/share/applications/org.gnome.Calculator.desktop" >"$app/meta/gui/gnome-calculator.desktop"
cp "$app/usr/share/icons/hicolor/scalable/apps/org.gnome.Calculator.svg" "$app/meta/gui/gnome-calculator.svg"
cat >"$app/meta/snap.yaml" <<YAML
name: gnome-calculator
version: '$version'
summary: GNOME Calculator
description: Perform arithmetic, scientific or financial calculations (Debian 12's GTK 4 build).
base: shelf-bookworm
grade: stable
confinement: strict
apps:
  gnome-calculator:
    command: usr/bin/gnome-calculator
    command-chain: [snap/command-chain/desktop-launch]
    desktop: meta/gui/gnome-calculator.desktop
    common-id: org.gnome.Calculator
    plugs: [desktop, desktop-legacy, gsettings, wayland, x11, network]
    slots: [gnome-calculator]
slots:
  gnome-calculator:
    interface: dbus
    bus: session
    name: org.gnome.Calculator
plugs:
  gnome-43-bookworm:
    interface: content
    content: gnome-43-bookworm
    default-provider: gnome-43-bookworm
    target: \$SNAP/gnome-platform
  gtk-3-themes:
    interface: content
    target: \$SNAP/data-dir/themes
    default-provider: gtk-common-themes
  icon-themes:
    interface: content
    target: \$SNAP/data-dir/icons
    default-provider: gtk-common-themes
  sound-themes:
    interface: content
    target: \$SNAP/data-dir/sounds
    default-provider: gtk-common-themes
layout:
  /usr/share/X11/xkb:
    bind: \$SNAP/gnome-platform/usr/share/X11/xkb
  /usr/share/mime:
    bind: \$SNAP/gnome-platform/usr/share/mime
YAML

for s in shelf-bookworm:base gtk-common-themes:gtk-common-themes gnome-43-bookworm:gnome-43-bookworm gnome-calculator:gnome-calculator; do
  pack "$work/${s#*:}" "${s%%:*}"
done
rm -rf "$work/debs" "$work/status" "$work/themes-status" "$work/base" "$themes" "$platform" "$app"
du -sh "$work"/*.snap >&2
touch "$work/.snapshelf-complete"
rm -rf "$out"
mv "$work" "$out"
echo "$out" >&3
