//! Refresh deltas. The store offers, for a refresh, a binary delta from the installed revision's
//! `.snap` to the new one's in the `xdelta3` format (plain VCDIFF over the compressed files, as in
//! snapd's `snap/squashfs/delta.go`); the helper downloads it, rebuilds the new file with
//! Debian's `xdelta3` and checks the result against the target's sha3-384 and size exactly as a
//! full download. Whatever goes wrong here is only a reason to fall back to the full file
//! (snapd's `store/store_download.go`: "We revert to normal downloads if there is any error").

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use crate::store::{StoreClient, StoreError};

/// The one delta format the helper applies, as the store names it.
pub const FORMAT: &str = "xdelta3";

/// Where Debian's xdelta3 is installed. Fixed paths, never `$PATH`: the helper runs as root.
const XDELTA3: [&str; 2] = ["/usr/bin/xdelta3", "/bin/xdelta3"];

/// How much of xdelta3's error output is kept for the log.
const STDERR_CAP: u64 = 4096;

/// A delta the store offered for one download, from the installed revision `source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeltaOffer {
    pub source: String,
    pub url: String,
    pub size: u64,
    pub sha3_384: String,
}

/// Why a delta was not used; the caller then downloads the full file.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
}

fn failed(msg: impl Into<String>) -> DeltaError {
    DeltaError::Failed(msg.into())
}

/// The xdelta3 binary, if installed.
pub fn xdelta3() -> Option<&'static Path> {
    XDELTA3.iter().map(Path::new).find(|p| p.is_file())
}

/// The delta formats to offer in `Snap-Accept-Delta-Format`, best first: none without xdelta3,
/// as snapd sends the header only when it can apply what it asks for.
pub fn accepted_formats() -> Option<&'static str> {
    xdelta3().map(|_| FORMAT)
}

/// Where a delta for the download to `dest` is kept while it is used (removed with the blob).
pub fn delta_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_os_string();
    s.push(".delta");
    PathBuf::from(s)
}

/// The offer among the store's deltas that this helper can use: the `xdelta3` one from the
/// installed revision `source` to `target`, smaller than the full file.
pub fn choose(
    deltas: &[snapshelf_snap::store_api::Delta],
    source: &str,
    target: u32,
    full_size: u64,
) -> Option<DeltaOffer> {
    accepted_formats()?;
    let source_no: u32 = source.parse().ok()?;
    deltas
        .iter()
        .find(|d| {
            d.format == FORMAT
                && d.source == source_no
                && d.target == target
                && d.size > 0
                && d.size < full_size
                && !d.url.is_empty()
        })
        .map(|d| DeltaOffer {
            source: source.to_string(),
            url: d.url.clone(),
            size: d.size,
            sha3_384: d.sha3_384.clone(),
        })
}

/// What the rebuilt file must be: the target revision's signed digest and size.
pub struct Target<'a> {
    pub dest: &'a Path,
    pub sha3_384: &'a str,
    pub size: u64,
}

/// Download the delta, rebuild the target from `source` into `<dest>.partial`, check it and
/// move it to `dest`. The bytes downloaded on success. The delta and a failed rebuild are
/// removed whatever happens.
pub async fn fetch_and_apply(
    store: &StoreClient,
    source: &Path,
    offer: &DeltaOffer,
    target: &Target<'_>,
    cancel: &CancellationToken,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<u64, DeltaError> {
    let delta = delta_path(target.dest);
    let rebuilt = crate::store::partial_path(target.dest);
    let result =
        fetch_and_apply_inner(store, source, offer, target, &delta, cancel, progress).await;
    for p in [crate::store::partial_path(&delta), delta] {
        let _ = std::fs::remove_file(p);
    }
    if result.is_err() {
        let _ = std::fs::remove_file(&rebuilt);
    }
    result
}

async fn fetch_and_apply_inner(
    store: &StoreClient,
    source: &Path,
    offer: &DeltaOffer,
    target: &Target<'_>,
    delta: &Path,
    cancel: &CancellationToken,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<u64, DeltaError> {
    if !source.is_file() {
        return Err(failed(format!(
            "revision {}'s file {} is not there to apply it to",
            offer.source,
            source.display()
        )));
    }
    let (digest, n) = store
        .download(&offer.url, delta, offer.size, cancel, progress)
        .await
        .map_err(|e| match e {
            StoreError::Cancelled => DeltaError::Cancelled,
            e => failed(format!("cannot download the delta: {e}")),
        })?;
    if digest.to_hex() != offer.sha3_384 || n != offer.size {
        return Err(failed(format!(
            "the delta's sha3-384 is {} ({n} bytes), the store said {} ({} bytes)",
            digest.to_hex(),
            offer.sha3_384,
            offer.size
        )));
    }
    let rebuilt = crate::store::partial_path(target.dest);
    let _ = std::fs::remove_file(&rebuilt);
    apply(source, delta, &rebuilt, target.size, cancel).await?;
    let (digest, size) = snapshelf_snap::digest::digest_file(&rebuilt)
        .map_err(|e| failed(format!("cannot read {}: {e}", rebuilt.display())))?;
    if digest.to_hex() != target.sha3_384 || size != target.size {
        return Err(failed(format!(
            "the rebuilt file's sha3-384 is {} ({size} bytes), its assertion says {} ({} bytes)",
            digest.to_hex(),
            target.sha3_384,
            target.size
        )));
    }
    std::fs::rename(&rebuilt, target.dest)
        .map_err(|e| failed(format!("cannot rename {}: {e}", rebuilt.display())))?;
    if let Some(dir) = target.dest.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(n)
}

/// `xdelta3 -d -c -s SOURCE < DELTA > TARGET` (snapd's `applyPlainXdelta3Delta`, on descriptors)
/// in the sandbox of `delta_sandbox.rs`: as nobody, without network, with confine's filter, unable
/// to write a file larger than the target's signed size (a hostile delta cannot fill the disk),
/// within a CPU-time limit, and killed on Cancel or after a wall-clock limit.
pub async fn apply(
    source: &Path,
    delta: &Path,
    out: &Path,
    max_size: u64,
    cancel: &CancellationToken,
) -> Result<(), DeltaError> {
    let dir = out.parent().unwrap_or(Path::new("/"));
    let io = |what: &str, p: &Path| {
        let p = p.display().to_string();
        let what = what.to_string();
        move |e: std::io::Error| failed(format!("cannot {what} {p}: {e}"))
    };
    let source = crate::delta_sandbox::readable_copy(source, dir)
        .map_err(io("copy the source for xdelta3 from", source))?;
    let input = std::fs::File::open(delta).map_err(io("open", delta))?;
    let output = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(out)
        .map_err(io("create", out))?;
    // A minute, plus a second for every 10 MB of the file: xdelta3 rebuilds far faster than that.
    let seconds = 60 + max_size / 10_000_000;
    let limits = crate::delta_sandbox::Limits {
        file_size: max_size.saturating_add(1),
        cpu_seconds: seconds,
        // xdelta3's windows and source buffer (64 MiB by default) with room to spare.
        memory: 1 << 30,
    };
    run(
        input,
        output,
        source,
        limits,
        Duration::from_secs(seconds),
        cancel,
    )
    .await
}

/// Run xdelta3 on these files in the sandbox; its error output in the error.
pub async fn run(
    input: std::fs::File,
    output: std::fs::File,
    source: std::fs::File,
    limits: crate::delta_sandbox::Limits,
    time_limit: Duration,
    cancel: &CancellationToken,
) -> Result<(), DeltaError> {
    let bin = xdelta3().ok_or_else(|| failed("xdelta3 is not installed"))?;
    let source_arg = format!("/proc/self/fd/{}", crate::delta_sandbox::SOURCE_FD);
    // -D, -R: no external (de)compressors, so nothing else is ever started.
    let args = ["-d", "-c", "-D", "-R", "-s", &source_arg];
    let cmd = crate::delta_sandbox::command(bin, &args, input, output, source, limits)
        .map_err(|e| failed(format!("cannot set up the sandbox for xdelta3: {e}")))?;
    let mut child = tokio::process::Command::from(cmd)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("cannot run {} in its sandbox: {e}", bin.display())))?;
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let status = tokio::select! {
        _ = cancel.cancelled() => return Err(DeltaError::Cancelled),
        _ = tokio::time::sleep(time_limit) => {
            return Err(failed(format!("xdelta3 took longer than {time_limit:?} and was stopped")))
        }
        s = child.wait() => s.map_err(|e| failed(format!("cannot wait for xdelta3: {e}")))?,
    };
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = (&mut stderr)
        .take(STDERR_CAP)
        .read_to_string(&mut text)
        .await;
    use std::os::unix::process::ExitStatusExt;
    let why = match status.signal() {
        Some(libc::SIGXFSZ) => format!(
            "the delta rebuilds a file larger than the signed {} bytes",
            limits.file_size.saturating_sub(1)
        ),
        Some(libc::SIGXCPU) | Some(libc::SIGKILL) => format!(
            "xdelta3 used more than its {} s of CPU time and was stopped",
            limits.cpu_seconds
        ),
        _ => format!("xdelta3 could not rebuild the file ({status})"),
    };
    Err(failed(format!("{why}: {}", text.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapshelf_snap::store_api::Delta;

    fn delta(format: &str, source: u32, target: u32, size: u64) -> Delta {
        Delta {
            format: format.into(),
            source,
            target,
            url: format!("http://store/{format}-{source}-{target}"),
            size,
            sha3_384: "ab".into(),
        }
    }

    /// snapd's `downloadDeltaTests` and `applyDeltaTests` (`store/store_download_test.go`): the
    /// format the client supports is chosen whatever its place in the list; none supported
    /// means the full download; a delta from another revision than the installed one is unusable.
    #[test]
    fn the_usable_delta_is_chosen_as_snapd_chooses() {
        if xdelta3().is_none() {
            snapshelf_snap::testdata::record_skip(
                "delta::choose",
                "xdelta3 is not installed (Debian package xdelta3)",
            );
            return;
        }
        let offered = [delta("bsdiff", 24, 26, 10), delta("xdelta3", 24, 26, 10)];
        let got = choose(&offered, "24", 26, 1000).unwrap();
        assert_eq!(got.url, "http://store/xdelta3-24-26");
        assert_eq!((got.source.as_str(), got.size), ("24", 10));
        // No supported format: the full file.
        let offered = [delta("ydelta", 24, 26, 10), delta("bsdiff", 24, 26, 10)];
        assert_eq!(choose(&offered, "24", 26, 1000), None);
        // From a revision that is not the installed one (snapd: "revision 24 not found").
        assert_eq!(
            choose(&[delta("xdelta3", 24, 26, 10)], "23", 26, 1000),
            None
        );
        // To another revision than the one being installed, or no smaller than the file.
        assert_eq!(
            choose(&[delta("xdelta3", 24, 25, 10)], "24", 26, 1000),
            None
        );
        assert_eq!(
            choose(&[delta("xdelta3", 24, 26, 1000)], "24", 26, 1000),
            None
        );
        // A local revision has no store delta.
        assert_eq!(
            choose(&[delta("xdelta3", 24, 26, 10)], "x1", 26, 1000),
            None
        );
    }

    fn xdelta3_encode(source: &Path, target: &Path, out: &Path) {
        let st = std::process::Command::new(xdelta3().unwrap())
            .args(["-f", "-e", "-s"])
            .arg(source)
            .arg(target)
            .arg(out)
            .status()
            .unwrap();
        assert!(st.success());
    }

    #[tokio::test]
    async fn apply_rebuilds_refuses_garbage_and_cannot_write_past_the_limit() {
        if xdelta3().is_none() {
            snapshelf_snap::testdata::record_skip(
                "delta::apply",
                "xdelta3 is not installed (Debian package xdelta3)",
            );
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let (src, tgt, d, out) = (
            t.path().join("a"),
            t.path().join("b"),
            t.path().join("d"),
            t.path().join("out"),
        );
        let a: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut b = a.clone();
        b[100_000..100_100].fill(9);
        std::fs::write(&src, &a).unwrap();
        std::fs::write(&tgt, &b).unwrap();
        xdelta3_encode(&src, &tgt, &d);
        let never = CancellationToken::new();
        apply(&src, &d, &out, b.len() as u64, &never).await.unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b);

        // More than the signed size: xdelta3 is stopped by the file size limit.
        let e = apply(&src, &d, &out, 1000, &never).await.unwrap_err();
        assert!(matches!(e, DeltaError::Failed(_)), "{e}");

        // Not a delta at all.
        std::fs::write(&d, b"not a vcdiff delta").unwrap();
        let e = apply(&src, &d, &out, b.len() as u64, &never)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("xdelta3 could not rebuild"), "{e}");
    }

    fn root_with_xdelta3(test: &str) -> bool {
        if !nix::unistd::geteuid().is_root() {
            snapshelf_snap::testdata::record_skip(test, "needs root (the sandbox's namespaces)");
            return false;
        }
        if xdelta3().is_none() {
            snapshelf_snap::testdata::record_skip(test, "xdelta3 is not installed");
            return false;
        }
        true
    }

    /// `xdelta3 -e` of `target` against `source` (or none), no secondary compression.
    fn encode(source: Option<&Path>, target: &Path, out: &Path) {
        let mut cmd = std::process::Command::new(xdelta3().unwrap());
        cmd.args(["-e", "-f", "-A", "-S", "none", "-W", "8388608"]);
        if let Some(s) = source {
            cmd.arg("-s").arg(s);
        }
        let st = cmd.arg(target).arg(out).status().unwrap();
        assert!(st.success());
    }

    #[tokio::test]
    async fn a_delta_applies_in_the_sandbox() {
        if !root_with_xdelta3("a_delta_applies_in_the_sandbox") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        let old: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut new = old.clone();
        new[1000..1100].fill(7);
        std::fs::write(p("old"), &old).unwrap();
        std::fs::write(p("new"), &new).unwrap();
        encode(Some(&p("old")), &p("new"), &p("delta"));
        let cancel = CancellationToken::new();
        apply(&p("old"), &p("delta"), &p("out"), new.len() as u64, &cancel)
            .await
            .unwrap();
        assert!(std::fs::read(p("out")).unwrap() == new);
    }

    /// A delta that rebuilds far more than the signed size is stopped at that size.
    #[tokio::test]
    async fn a_delta_that_writes_too_much_is_stopped() {
        if !root_with_xdelta3("a_delta_that_writes_too_much_is_stopped") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        std::fs::write(p("old"), b"old").unwrap();
        std::fs::write(p("huge"), vec![0u8; 8 << 20]).unwrap();
        encode(None, &p("huge"), &p("delta"));
        std::fs::remove_file(p("huge")).unwrap();
        let cancel = CancellationToken::new();
        let e = apply(&p("old"), &p("delta"), &p("out"), 1 << 20, &cancel)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("larger than the signed 1048576 bytes"),
            "{e}"
        );
        assert!(std::fs::metadata(p("out")).unwrap().len() <= (1 << 20) + 1);
    }

    /// A delta that would never end (here: 16 GB of zeros, a few hundred kilobytes of windows)
    /// is stopped by its CPU-time limit.
    #[tokio::test]
    async fn a_delta_that_never_ends_is_stopped() {
        if !root_with_xdelta3("a_delta_that_never_ends_is_stopped") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        // One 8 MiB window of zeros and two: their difference is one window's bytes, which
        // repeated make a delta of as many windows as wanted.
        std::fs::write(p("one"), vec![0u8; 8 << 20]).unwrap();
        std::fs::write(p("two"), vec![0u8; 16 << 20]).unwrap();
        encode(None, &p("one"), &p("d1"));
        encode(None, &p("two"), &p("d2"));
        let (d1, d2) = (
            std::fs::read(p("d1")).unwrap(),
            std::fs::read(p("d2")).unwrap(),
        );
        let window = d2.len() - d1.len();
        let (head, win) = d1.split_at(d1.len() - window);
        assert_eq!(&d2[d2.len() - window..], win, "windows of zeros are alike");
        let mut delta = head.to_vec();
        for _ in 0..2000 {
            delta.extend_from_slice(win);
        }
        std::fs::write(p("delta"), delta).unwrap();
        std::fs::write(p("old"), b"old").unwrap();
        let limits = crate::delta_sandbox::Limits {
            file_size: u64::MAX,
            cpu_seconds: 1,
            memory: 1 << 30,
        };
        let open = |n: &str| std::fs::File::open(p(n)).unwrap();
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap();
        let source = crate::delta_sandbox::readable_copy(&p("old"), dir.path()).unwrap();
        let started = std::time::Instant::now();
        let cancel = CancellationToken::new();
        let e = run(
            open("delta"),
            null,
            source,
            limits,
            Duration::from_secs(120),
            &cancel,
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("CPU time"), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{:?}",
            started.elapsed()
        );
    }
}
