//! Background downloads (issue 18): a `Refresh` with `download-only` and `background`, as the
//! update agent asks for it, writes and hashes its file on threads in the idle I/O class at
//! nice 19, seen from /proc while a slow store sends it; a person's own install runs at the
//! helper's usual priority, and no thread stays lowered after a background download.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Env;
use snapshelf_dbus::types::{Dict, RefreshOptions};
use snapshelf_helper::priority::{ioprio_class, ioprio_of, BACKGROUND_NICE, IOPRIO_CLASS_IDLE};

/// Big enough to take seconds at the store's rate below.
const PAYLOAD: usize = 3 << 20;

fn pack(work: &Path, snaps: &Path, name: &str, rev: u32, payload: usize) {
    let stage = work.join(format!("{name}-{rev}"));
    std::fs::create_dir_all(stage.join("meta")).unwrap();
    std::fs::write(
        stage.join("meta/snap.yaml"),
        format!("name: {name}\nversion: '{rev}.0'\nsummary: Slow\nbase: shelf-base\n"),
    )
    .unwrap();
    std::fs::write(
        stage.join("payload.bin"),
        common::noise(payload, rev as u64 + 7),
    )
    .unwrap();
    let out = snaps.join(format!("{name}_{rev}.snap"));
    snapshelf_snap::squashfs::pack(&stage, &out, &Default::default()).unwrap();
}

/// The sample catalog with `shelf-slow` (revision 1 small on stable, 2 big on candidate) and
/// `shelf-big` (big, on stable).
fn catalog(work: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), tmp.path());
    let snaps = tmp.path().join("snaps");
    pack(work, &snaps, "shelf-slow", 1, 1024);
    pack(work, &snaps, "shelf-slow", 2, PAYLOAD);
    pack(work, &snaps, "shelf-big", 1, PAYLOAD);
    let toml = tmp.path().join("catalog.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    for (name, channels) in [
        (
            "shelf-slow",
            "{ \"latest/stable\" = 1, \"latest/candidate\" = 2 }",
        ),
        ("shelf-big", "{ \"latest/stable\" = 1 }"),
    ] {
        text.push_str(&format!(
            "\n[[snap]]\nname = \"{name}\"\npublisher = \"snapshelf\"\nchannels = {channels}\n"
        ));
    }
    std::fs::write(&toml, text).unwrap();
    tmp
}

/// What one thread of the helper runs at: (thread id, nice, I/O priority class).
fn threads(pid: u32) -> Vec<(i32, i32, i32)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let tid: i32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // After the command's closing parenthesis: field 3 (state) onwards; nice is field 19.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let nice: i32 = fields.get(16)?.parse().ok()?;
            let class = ioprio_class(ioprio_of(tid).ok()?);
            Some((tid, nice, class))
        })
        .collect()
}

fn lowered(t: &(i32, i32, i32)) -> bool {
    t.1 == BACKGROUND_NICE || t.2 == IOPRIO_CLASS_IDLE
}

/// Follow a change to its end, sampling the helper's threads; returns the lowered ones seen.
fn watch(env: &Env, pid: u32, change: &str) -> (Vec<(i32, i32, i32)>, Duration) {
    let conn = env.connection();
    let c = snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&conn)
        .path(change.to_string())
        .unwrap()
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .unwrap();
    let start = Instant::now();
    let mut seen = Vec::new();
    while !c.ready().unwrap() {
        for t in threads(pid).into_iter().filter(lowered) {
            if !seen.contains(&t) {
                seen.push(t);
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "{change} did not end"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(c.status().unwrap(), "Done", "{}", c.error().unwrap());
    (seen, start.elapsed())
}

#[test]
fn background_downloads_run_at_idle_priority_and_installs_do_not() {
    if !common::require_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog(work.path());
    // 1 MB/s: a 3 MiB file takes about three seconds.
    let mut env = Env::with_store_args(catalog.path(), &["--download-rate", "1000000"]);
    env.start_helper();
    let pid = env.helper.as_ref().unwrap().id();
    let helper = env.proxy();
    assert!(
        threads(pid).iter().all(|t| !lowered(t)),
        "nothing is lowered at start: {:?}",
        threads(pid)
    );

    // A person's install: downloaded at the helper's own priority.
    let install = helper
        .install(&["shelf-big", "shelf-slow"], Dict::new())
        .unwrap();
    let (seen, took) = watch(&env, pid, install.as_str());
    assert!(took > Duration::from_secs(2), "too fast to watch: {took:?}");
    assert!(
        seen.is_empty(),
        "an install's threads were lowered: {seen:?}"
    );

    // The agent's background download: its writer and hasher threads are lowered.
    let options = RefreshOptions {
        channel: Some("candidate".into()),
        download_only: true,
        background: true,
        ..Default::default()
    };
    let download = helper.refresh(&["shelf-slow"], options.to_dict()).unwrap();
    let (seen, took) = watch(&env, pid, download.as_str());
    assert!(took > Duration::from_secs(2), "too fast to watch: {took:?}");
    assert!(
        seen.iter()
            .any(|t| t.1 == BACKGROUND_NICE && t.2 == IOPRIO_CLASS_IDLE),
        "no thread at nice {BACKGROUND_NICE} in the idle I/O class: {seen:?}"
    );
    // The pool's threads are set back: none stays slowed for the next change.
    std::thread::sleep(Duration::from_millis(200));
    let now: Vec<_> = threads(pid).into_iter().filter(lowered).collect();
    assert!(now.is_empty(), "threads left lowered: {now:?}");

    // `background` alone is refused: it is for the agent's download-only changes.
    let e = helper
        .refresh(
            &["shelf-slow"],
            RefreshOptions {
                background: true,
                ..Default::default()
            }
            .to_dict(),
        )
        .unwrap_err();
    assert_eq!(
        common::kind_of(e),
        snapshelf_dbus::ErrorKind::InvalidArgument
    );
}
