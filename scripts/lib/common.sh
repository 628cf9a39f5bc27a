# Shared set-up for scripts/test.sh, scripts/demo.sh and scripts/bench.sh. Sourced, not run.
# shellcheck shell=bash

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian packages every part of the project needs at build, test or demo time.
SNAPSHELF_PACKAGES=(
  build-essential pkg-config liblzma-dev   # crates that build C (backhand's xz)
  libzstd-dev                              # backhand's zstd, linked to the system library
  squashfs-tools                           # mksquashfs/unsquashfs: the peers our .snap code is checked against
  busybox-static                           # the sample catalog's base snap
  x11-apps                                 # xeyes: the sample catalog's real X11 program
  fonts-dejavu-core                        # text in the sample catalog's screenshots
  curl openssl                             # examples in docs and benchmark peers
  dbus polkitd                             # the helper's tests: a private system bus and polkit
  python3-dbus                             # the tests pass file descriptors as a client would
  libseccomp-dev                           # confine's system-call filter (libseccomp)
  libcap2-bin                              # setcap: confine's file capabilities in tests and packaging
  gettext                                  # msgfmt: the translations (po/) are compiled and checked
  desktop-file-utils                       # desktop-file-validate: exported desktop files are checked
  appstream                                # appstreamcli validate: the app's metainfo is checked
  libgtk-4-dev libadwaita-1-dev            # the app (gui/): GTK 4.8 and libadwaita 1.2
  xvfb xdotool imagemagick                 # the app under a real X server, real input events, screenshots
  adwaita-icon-theme fonts-cantarell       # the icons and font the app draws with
  xdelta3                                  # refresh deltas: the store makes them, the helper applies them
  python3-gi gir1.2-gtk-4.0                # the GUI test's drag source: a real XDND drop of a .snap
  at-spi2-core gir1.2-atspi-2.0            # the GUI test walks the accessibility tree as a screen reader does
  dunst                                    # a real notification server shows the update agent's notification
  debootstrap systemd-container            # services' tests: a Debian root booted with systemd (nspawn)
  systemd                                  # busctl: an sd-bus client through confine's session bus filter
  xdg-desktop-portal fuse3                 # the document portal (xdg-document-portal, fusermount3) for sandboxed apps
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

# Rust >= 1.85. `sudo` resets PATH, so a rustup toolchain of the person who ran sudo (or root's) is
# looked for where rustup puts it; on a machine with none, rustup installs one for root (once).
# As root, crates always download into root's own cargo home, never into that person's.
ensure_rust() {
  local home roothome
  roothome=$(getent passwd root | cut -d: -f6)
  for home in "$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)" "$roothome"; do
    if [ -x "$home/.cargo/bin/cargo" ]; then
      export PATH="$home/.cargo/bin:$PATH" RUSTUP_HOME="$home/.rustup"
      [ "$(id -u)" -ne 0 ] || export CARGO_HOME="$roothome/.cargo"
      break
    fi
  done
  if ! command -v cargo >/dev/null 2>&1 || ! cargo_is_recent; then
    [ "$(id -u)" -eq 0 ] || die "Rust >= 1.85 is needed: install it with rustup (https://rustup.rs)"
    ensure_packages curl ca-certificates build-essential
    say "installing Rust with rustup for root (once)"
    export RUSTUP_HOME="$roothome/.rustup" CARGO_HOME="$roothome/.cargo"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
      | sh -s -- -y --quiet --no-modify-path --profile minimal --component clippy,rustfmt
    export PATH="$roothome/.cargo/bin:$PATH"
    cargo_is_recent || die "Rust >= 1.85 could not be installed with rustup"
  fi
}

cargo_is_recent() {
  local v
  v=$(cargo --version 2>/dev/null | awk '{print $2}')
  [ "$(printf '%s\n1.85.0\n' "$v" | sort -V | head -1)" = 1.85.0 ]
}
