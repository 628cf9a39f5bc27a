#!/usr/bin/env bash
# Fuzz every parser that reads untrusted bytes (fuzz/fuzz_targets/, docs/fuzzing.md).
#
#   scripts/fuzz.sh                  short run of every target (CI): FUZZ_SECONDS each (default 20)
#   scripts/fuzz.sh --long [T...]    FUZZ_RUNS executions of each target (default 10 million), one at
#                                    a time under `nice -n 15`, logs in fuzz/logs/ (FUZZ_MAX_SECONDS
#                                    caps each target's time when set)
#   scripts/fuzz.sh --seed           only (re)build the seed corpora
#   scripts/fuzz.sh --build          only build the targets
#   FUZZ_SANITIZER=address ...        build with AddressSanitizer (default: none)
#
# Seeds are made at run time from the compatibility data (SNAPSHELF_COMPAT, default /work/shared/compat,
# never copied into the tree) and the sample catalog (data/catalog/), whose snaps are packed with
# mksquashfs. A crash, panic, hang (FUZZ_TIMEOUT s per input) or memory blow-up fails the run; its
# input is kept in fuzz/artifacts/<target>/.
#
# Only a stable toolchain is needed: cargo-fuzz's nightly flags (-Zsanitizer, coverage passes) are
# enabled on stable with RUSTC_BOOTSTRAP=1, set for the cargo-fuzz commands only.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

TARGETS=(snap_yaml layout assertion openpgp store_json squashfs)
COMPAT=${SNAPSHELF_COMPAT:-/work/shared/compat}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_RUNS=${FUZZ_RUNS:-10000000}
FUZZ_MAX_SECONDS=${FUZZ_MAX_SECONDS:-0}   # --long: also stop a target after this long (0: no limit)
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
# No sanitizer by default: the parsers are safe Rust (debug assertions, on here, catch overflows), and
# AddressSanitizer halves the speed and lengthens the build. FUZZ_SANITIZER=address for a run with it.
FUZZ_SANITIZER=${FUZZ_SANITIZER:-none}
CORPUS=fuzz/corpus

mode=short
case "${1:-}" in
  --long) mode=long; shift ;;
  --seed) mode=seed; shift ;;
  --build) mode=build; shift ;;
  --short) shift ;;
  -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
esac
[ $# -gt 0 ] && TARGETS=("$@")

ensure_cargo_fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz (once)"
    cargo install --locked --quiet cargo-fuzz
  fi
}

# Write one seed file named after its source (libFuzzer takes any file name).
seed() { # target name < data
  mkdir -p "$CORPUS/$1"
  cat > "$CORPUS/$1/seed-$2"
}

# The last paragraph of an assertion (its signature), or its body (2nd paragraph), base64-decoded,
# without the leading format byte: a raw OpenPGP packet.
packet_of() { # file paragraph(last|2)
  local para
  if [ "$2" = last ]; then
    para=$(awk 'BEGIN { RS = "" } { p = $0 } END { print p }' "$1")
  else
    para=$(awk 'BEGIN { RS = "" } NR == 2 { print }' "$1")
  fi
  printf '%s' "$para" | tr -d ' \n' | base64 -d 2>/dev/null | tail -c +2
}

make_seeds() {
  local y name a j d tmp
  say "seed corpora in $CORPUS (from data/catalog and $COMPAT)"
  if [ ! -d "$COMPAT" ]; then
    say "warning: no compatibility data at $COMPAT; seeding from the sample catalog only"
  fi
  for y in data/catalog/snaps/*/meta/snap.yaml "$COMPAT"/snapd-test-snaps/*/meta/snap.yaml; do
    [ -f "$y" ] || continue
    name=$(basename "$(dirname "$(dirname "$y")")")
    seed snap_yaml "$name.yaml" < "$y"
    seed layout "$name.yaml" < "$y"
  done
  for j in "$COMPAT"/store-responses/*.json; do
    [ -f "$j" ] || continue
    name=$(basename "$j" .json)
    seed store_json "$name.json" < "$j"
    # The snap.yaml texts the store sends are snap.yaml seeds too.
    if command -v jq >/dev/null; then
      jq -r '[.. | objects | ."snap-yaml"? // empty] | join("\n---SPLIT---\n")' "$j" |
        awk -v d="$CORPUS/snap_yaml" -v n="$name" '
          BEGIN { RS = "\n---SPLIT---\n" } NF { f = d "/seed-" n "-" NR ".yaml"; printf "%s", $0 > f; close(f) }'
    fi
  done
  for a in snap/trusted/canonical.assert "$COMPAT"/assertions/*; do
    [ -f "$a" ] || continue
    name=$(basename "$a")
    seed assertion "$name" < "$a"
    packet_of "$a" last | seed openpgp "$name.sig"
    # Account-key bodies are public-key packets (canonical.assert is a stream: its first one is
    # the account, whose signature is the one taken above).
    case "$name" in
      *account-key) packet_of "$a" 2 | seed openpgp "$name.key" ;;
    esac
  done
  if compgen -G "$COMPAT/assertions/*" >/dev/null; then
    cat "$COMPAT"/assertions/* | seed assertion "all.stream"
  fi
  # Real .snap files: the catalog's and snapd's test snaps, packed the ways snaps are packed
  # (xz without fragments as snapcraft does, gzip with fragments as older tools did).
  if command -v mksquashfs >/dev/null; then
    tmp=$(mktemp -d)
    for d in data/catalog/snaps/*/ "$COMPAT"/snapd-test-snaps/*/; do
      [ -f "$d/meta/snap.yaml" ] || continue
      name=$(basename "$d")
      mksquashfs "$d" "$tmp/$name-xz.snap" -noappend -comp xz -no-fragments -all-root -no-xattrs -quiet >/dev/null
      mksquashfs "$d" "$tmp/$name-gz.snap" -noappend -comp gzip -all-root -no-xattrs -quiet >/dev/null
      # Large images make every execution slower; the small ones cover the same code.
      for s in "$tmp/$name"-*.snap; do
        [ "$(stat -c %s "$s")" -le 65536 ] && seed squashfs "$(basename "$s")" < "$s"
      done
    done
    rm -rf "$tmp"
  else
    say "warning: mksquashfs missing (apt-get install squashfs-tools): no .snap seeds"
  fi
  for t in "${TARGETS[@]}"; do
    mkdir -p "$CORPUS/$t"
    printf '  %-11s %s seeds\n' "$t" "$(find "$CORPUS/$t" -name 'seed-*' | wc -l)" >&2
  done
}

build() {
  # The fuzz crate is outside the workspace, so `cargo fmt --all` does not see it.
  cargo fmt --manifest-path fuzz/Cargo.toml -- --check || die "fuzz/: run cargo fmt --manifest-path fuzz/Cargo.toml"
  say "building the fuzz targets (cargo fuzz build, debug assertions on, sanitizer $FUZZ_SANITIZER)"
  # Every target at once (cargo-fuzz builds one or all): they share all their dependencies.
  RUSTC_BOOTSTRAP=1 cargo fuzz build --debug-assertions --sanitizer "$FUZZ_SANITIZER" >fuzz/logs/build.log 2>&1 ||
    { tail -n 40 fuzz/logs/build.log >&2; die "the fuzz targets did not build"; }
  for t in "${TARGETS[@]}"; do
    [ -x "fuzz/target/x86_64-unknown-linux-gnu/release/$t" ] || die "fuzz target $t did not build"
  done
}

# libFuzzer options every run shares: a per-input time limit (hangs are failures), a memory cap
# (the machine is shared; a parser that needs more than this for a small input is a bug).
common_opts() {
  echo "-timeout=$FUZZ_TIMEOUT -rss_limit_mb=1536 -malloc_limit_mb=1024 -print_final_stats=1"
}

run_one() { # target libfuzzer-options...
  local t=$1; shift
  mkdir -p "fuzz/artifacts/$t" "fuzz/logs"
  # Not `cargo fuzz run`: it would rebuild with its own flags and adds nothing once built.
  # shellcheck disable=SC2046
  "fuzz/target/x86_64-unknown-linux-gnu/release/$t" $(common_opts) "$@" \
    -artifact_prefix="fuzz/artifacts/$t/" "$CORPUS/$t"
}

case $mode in
  seed) make_seeds; exit 0 ;;
esac
mkdir -p fuzz/logs
ensure_rust
ensure_cargo_fuzz
make_seeds
build
[ "$mode" = build ] && exit 0

failed=()
for t in "${TARGETS[@]}"; do
  log="fuzz/logs/$t-$mode.log"
  if [ "$mode" = short ]; then
    say "fuzzing $t for ${FUZZ_SECONDS}s"
    if ! run_one "$t" -max_total_time="$FUZZ_SECONDS" > "$log" 2>&1; then
      failed+=("$t")
      tail -n 40 "$log" >&2
    fi
  else
    say "fuzzing $t for $FUZZ_RUNS executions (log: $log)"
    if ! nice -n 15 bash -c "$(declare -f run_one common_opts); CORPUS=$CORPUS FUZZ_TIMEOUT=$FUZZ_TIMEOUT run_one $t -runs=$FUZZ_RUNS -max_total_time=$FUZZ_MAX_SECONDS" > "$log" 2>&1; then
      failed+=("$t")
      tail -n 40 "$log" >&2
    fi
  fi
  # "Done N runs in S second(s)" and the final stats: what docs/fuzzing.md records.
  { grep -E '^Done |stat::number_of_executed_units|stat::peak_rss_mb' "$log" || true; } | tr '\n' ' ' | sed "s/^/  $t: /" >&2
  echo >&2
done
if [ ${#failed[@]} -gt 0 ]; then
  die "fuzzing found a crash, hang or memory blow-up in: ${failed[*]} (inputs in fuzz/artifacts/)"
fi
say "fuzzing: no crash in ${TARGETS[*]}"
