#!/bin/bash
# The Debian root the services' tests boot with systemd as its init (systemd-nspawn -b), built once
# with debootstrap and cached: /var/cache/snapshelf-tests/bookworm (or $SNAPSHELF_SERVICES_ROOT).
# The tests boot it with a throw-away overlay (--volatile=overlay), so it is never changed; delete
# the directory to build it again. Needs root and the network to a Debian mirror.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/common.sh
. "$here/lib/common.sh"

root=${SNAPSHELF_SERVICES_ROOT:-/var/cache/snapshelf-tests/bookworm}
mirror=${SNAPSHELF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
[ -x "$root/usr/lib/systemd/systemd" ] && [ -e "$root/.snapshelf-complete" ] && exit 0
[ "$(id -u)" -eq 0 ] || die "building $root needs root"
ensure_packages debootstrap systemd-container
# What the helper and confine need at run time, and systemd, D-Bus and polkit (polkitd needs a
# logind: libpam-systemd).
include=systemd,systemd-sysv,libpam-systemd,dbus,polkitd,squashfs-tools,libseccomp2,libzstd1
include=$include,mount,util-linux,procps
say "building the services' test root in $root (once)"
rm -rf "$root.new"
mkdir -p "$(dirname "$root")"
debootstrap --variant=minbase --include="$include" bookworm "$root.new" "$mirror" >&2
rm -rf "$root"
mv "$root.new" "$root"
touch "$root/.snapshelf-complete"
