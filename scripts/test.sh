#!/usr/bin/env bash
# Run every Snapshelf test: formatting, lints, unit and integration tests.
# Needs root: it installs the Debian packages it needs and the tests use loop mounts.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

if [ "$(id -u)" -ne 0 ]; then
  die "scripts/test.sh needs root (apt-get, loop mounts, test users): run it with sudo"
fi
ensure_rust
ensure_packages "${SNAPSHELF_PACKAGES[@]}"
# The packaging test builds the .deb with cargo-deb.
if ! cargo deb --version >/dev/null 2>&1; then
  say "installing cargo-deb (once)"
  cargo install --locked --quiet cargo-deb
fi

export CARGO_TERM_COLOR=never
# A fresh clone's build gains nothing from incremental data, which would take several GB more.
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
fi
# A whole cold run in a fresh clone (2026-12-06, CARGO_INCREMENTAL=0) grew target/ to 10.6 GB, and the
# fuzz build adds 0.7 GB; incremental data (outside CI) adds ~5 GB more. A full disk shows up late
# and obscurely (a linker failing in the packaging tests), so say it first.
mkdir -p target
need_gb=4
[ -d target/debug/deps ] || need_gb=12
free_gb=$(($(df --output=avail -k target | tail -1) / 1024 / 1024))
if [ "$free_gb" -lt "$need_gb" ]; then
  die "the tests need about $need_gb GB free for target/ and their fixtures; $(df -h --output=avail target | tail -1 | tr -d ' ') free on $(df --output=target target | tail -1)"
fi
# Tests that cannot run here (no ../shared/compat beside a plain clone, no root) append a line to
# this log instead of passing silently; the tally is the run's last lines. Under CI=true they fail.
export SNAPSHELF_SKIP_LOG="$PWD/target/skipped-tests.log"
: >"$SNAPSHELF_SKIP_LOG"
report_skips() {
  [ -s "$SNAPSHELF_SKIP_LOG" ] || return 0
  local n
  n=$(wc -l <"$SNAPSHELF_SKIP_LOG")
  printf '\n%s tests did not run:\n' "$n"
  cut -f2 "$SNAPSHELF_SKIP_LOG" | sort | uniq -c | sed 's/^/  /'
  cut -f1 "$SNAPSHELF_SKIP_LOG" | sort | tr '\n' ' ' | fold -s -w 100 | sed 's/^/    /'
  echo
}
trap report_skips EXIT
say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
say "cargo test"
# The two packaging tests rebuild the binaries in target/debug (cargo-deb and install.sh take them
# from there), with other features than the test build: run beside the others, they would replace a
# binary another test is executing. The services tests start target/debug's helper and confine inside
# a systemd container, where such a replacement (cargo removes, then links the new binary) makes a
# start fail. So both groups run alone, after everything else.
PACKAGING_ALONE=(the_deb_installs_activates_and_removes_cleanly install_sh_honours_destdir_and_prefix)
SERVICES_ALONE=(services_follow_install_refresh_revert_and_remove stop_modes_send_their_signals
  timers_and_ordering_under_systemd bad_service_fields_are_refused_and_nothing_is_written
  without_systemd_services_are_written_and_left_inactive
  services_are_listed_started_stopped_restarted_and_logged
  a_helper_killed_at_any_step_leaves_no_orphaned_unit
  stop_reload_and_post_stop_commands_run_in_the_sandbox
  notify_and_socket_activation_reach_the_app_in_its_sandbox
  user_services_run_in_the_users_service_managers
  snapctl_lists_and_controls_the_snaps_own_services)
ALONE=("${PACKAGING_ALONE[@]}" "${SERVICES_ALONE[@]}")
# Build every test and every binary first, once, with the workspace's features; tests then use
# target/debug's binaries as they are instead of each running `cargo build -p` (helper/tests/common).
cargo build --workspace --bins --quiet
cargo test --workspace --no-run --quiet
export SNAPSHELF_TEST_BINS_BUILT=1
status=0
cargo test --workspace --no-fail-fast -- --exact "${ALONE[@]/#/--skip=}" || status=$?
say "cargo test: the packaging tests, alone"
cargo test -p snapshelf-helper --test packaging -- "${PACKAGING_ALONE[@]}" || status=$?
say "cargo test: the services tests under systemd, alone"
cargo test -p snapshelf-helper --test services || status=$?
[ "$status" -eq 0 ] || die "cargo test failed (see above)"

# --- fuzzing: a separate step, after every test has passed ---------------------------------------
# A short run of every fuzz target (scripts/fuzz.sh, docs/fuzzing.md): the fuzz crate is built with
# cargo-fuzz, each target is fed its seeds and mutations for FUZZ_SECONDS; a crash, hang or memory
# blow-up fails the run. The whole step stays within 5 minutes, the build included.
say "fuzzing (short run of every target)"
FUZZ_SECONDS=${FUZZ_SECONDS:-15} scripts/fuzz.sh
