# Shared set-up for scripts/test.sh, scripts/demo.sh and scripts/bench.sh. Sourced, not run.
# shellcheck shell=bash

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian packages every part of the project needs at build, test or demo time.
SNAPSHELF_PACKAGES=(
  build-essential pkg-config liblzma-dev   # crates that build C (backhand's xz)
  squashfs-tools                           # mksquashfs/unsquashfs: the peers our .snap code is checked against
  busybox-static                           # the sample catalog's base snap
  x11-apps                                 # xeyes: the sample catalog's real X11 program
  fonts-dejavu-core                        # text in the sample catalog's screenshots
  curl openssl                             # examples in docs and benchmark peers
  dbus polkitd                             # the helper's tests: a private system bus and polkit
  libseccomp-dev                           # confine's system-call filter (libseccomp)
  libcap2-bin                              # setcap: confine's file capabilities in tests and packaging
  gettext                                  # msgfmt: the translations (po/) are compiled and checked
  desktop-file-utils                       # desktop-file-validate: exported desktop files are checked
  appstream                                # appstreamcli validate: the app's metainfo is checked
  libgtk-4-dev libadwaita-1-dev            # the app (gui/): GTK 4.8 and libadwaita 1.2
  xvfb xdotool imagemagick                 # the app under a real X server, real input events, screenshots
  adwaita-icon-theme fonts-cantarell       # the icons and font the app draws with
)

# Install whatever of "$@" is missing. Needs root (apt-get) only when something is missing.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})"
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
  command -v cargo >/dev/null 2>&1 \
    || die "cargo is missing: install the Rust toolchain (rustup, Rust >= 1.85) first"
}
