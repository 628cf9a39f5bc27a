//! How the project's tests find snapd's real-world samples and say when they cannot run.
//!
//! The samples live in `../shared/compat` beside the checkout (or wherever `SNAPSHELF_COMPAT_DIR`
//! points); they are read, never copied into the tree. A plain clone has none: outside CI the tests
//! that need them are recorded as not run (`SNAPSHELF_SKIP_LOG`, tallied by `scripts/test.sh` in
//! the run's last lines); under `CI=true` the data must be there and such a test fails.
//! Only built for tests (`cfg(test)` or the `testdata` feature other crates' tests turn on).

use std::io::Write;
use std::path::PathBuf;

/// The variable that points the tests at the samples.
pub const COMPAT_VAR: &str = "SNAPSHELF_COMPAT_DIR";
/// The file every skipped test appends one line to (set by `scripts/test.sh`).
pub const SKIP_LOG_VAR: &str = "SNAPSHELF_SKIP_LOG";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Records that `test` did not run, and why: on stderr and in the skip log when one is set.
pub fn record_skip(test: &str, reason: &str) {
    // Straight to stderr in one write: libtest swallows `eprintln!` of a passing test.
    let _ = std::io::stderr().write_all(format!("\nNOT RUN {test}: {reason}\n").as_bytes());
    if let Some(log) = std::env::var_os(SKIP_LOG_VAR) {
        append_skip(std::path::Path::new(&log), test, reason);
    }
}

fn append_skip(log: &std::path::Path, test: &str, reason: &str) {
    // One short `write` per line with O_APPEND: concurrent tests do not interleave.
    let line = format!("{test}\t{reason}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        panic!(
            "appending to the skip log {}: {e}",
            PathBuf::from(log).display()
        );
    }
}

/// The running test's name (libtest names each test's thread after it).
pub fn current_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("an unnamed test")
        .to_string()
}

/// One recorded real store response (`store-responses/<name>`) as JSON, for the running test;
/// `None` as [`compat_dir`] says.
pub fn recorded_response(name: &str) -> Option<serde_json::Value> {
    let path = compat_dir(&current_test())?
        .join("store-responses")
        .join(name);
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("reading the sample {}: {e}", path.display()));
    Some(
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display())),
    )
}

/// The samples directory for `test`, or `None` (recorded as not run) when it is missing outside CI.
/// Under `CI=true` a missing directory fails the test.
pub fn compat_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(COMPAT_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/compat"));
    if dir.is_dir() {
        return Some(dir);
    }
    let reason = format!(
        "snapd's real-world samples are not at {} (put ../shared/compat beside the checkout or set {COMPAT_VAR})",
        dir.display()
    );
    assert!(!in_ci(), "{test}: {reason}, and CI=true requires them");
    record_skip(test, &reason);
    None
}

/// Whether this process may do what a root-only test needs; outside CI a test without root is
/// recorded as not run, under `CI=true` it fails.
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(!in_ci(), "{test}: needs root, and CI=true is set");
    record_skip(test, "needs root (loop mounts, a system bus, test users)");
    false
}

/// Packs `<dir>/snaps/<name>_<rev>.snap`, one revision of a test store's catalog in `dir`: its
/// snap.yaml names it, gives version `<rev>.0` and a summary, then `yaml_tail` (epoch,
/// architectures…); a fixed mtime makes the same file every run.
pub fn pack_store_revision(dir: &std::path::Path, name: &str, rev: u32, yaml_tail: &str) {
    let stage = dir.join(format!(".stage-{name}_{rev}"));
    std::fs::create_dir_all(stage.join("meta")).unwrap();
    std::fs::write(
        stage.join("meta/snap.yaml"),
        format!("name: {name}\nversion: '{rev}.0'\nsummary: {name} revision {rev}\n{yaml_tail}"),
    )
    .unwrap();
    let out = dir.join("snaps").join(format!("{name}_{rev}.snap"));
    let opts = crate::squashfs::PackOptions {
        mtime: 1_700_000_000,
    };
    crate::squashfs::pack(&stage, &out, &opts)
        .unwrap_or_else(|e| panic!("packing {}: {e}", out.display()));
    std::fs::remove_dir_all(&stage).unwrap();
}

/// Starts a test's `snapshelf-store` on a free port of 127.0.0.1, serving the catalog in `dir`
/// with a small (fast) key chain and `extra` arguments: `runner` is the store's binary, or a
/// tracer whose last argument is it. The process, and its base URL as its first line says.
pub fn serve_store(
    mut runner: std::process::Command,
    dir: &std::path::Path,
    extra: &[&str],
    stderr: std::process::Stdio,
) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = runner
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--key-bits",
            "2048",
            "--dir",
        ])
        .arg(dir)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("starting snapshelf-store for {}: {e}", dir.display()));
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from the store: {line:?}"))
        .to_string();
    (child, url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_is_one_line_in_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("skipped");
        append_skip(&log, "one", "because");
        append_skip(&log, "two", "because too");
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text, "one\tbecause\ntwo\tbecause too\n");
    }

    #[test]
    fn a_store_revision_is_packed_where_the_store_looks_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("snaps")).unwrap();
        pack_store_revision(dir.path(), "some-snap", 3, "epoch: 1*\n");
        let file = dir.path().join("snaps/some-snap_3.snap");
        let text = crate::squashfs::SnapFile::open(&file)
            .unwrap()
            .snap_yaml_text()
            .unwrap();
        assert_eq!(
            text,
            "name: some-snap\nversion: '3.0'\nsummary: some-snap revision 3\nepoch: 1*\n"
        );
        // Nothing but the catalog's folder is left.
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}
