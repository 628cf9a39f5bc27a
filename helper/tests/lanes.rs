//! A refresh of several snaps where one fails after the change has started (issue 13): its
//! download cut, its file not matching its digest, or its post-refresh hook failing. As snapd's
//! lanes do in `UpdateMany` (overlord/snapstate: a task set per snap, `JoinLane`), only that
//! snap's tasks are undone; the others are refreshed and the change ends `Error` naming the snap
//! and the cause.
//!
//! snapshelf-store serves `lane-*` snaps (revision 1 on stable, 2 on edge) behind a proxy that
//! asks for edge and, for the snap under attack, points the download at a small server of the
//! test's own that misbehaves.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::Env;
use snapshelf_dbus::types::Dict;

/// What the test's download server does with the file it stands in for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Attack {
    /// Nothing is redirected to it.
    None,
    /// The first request gets the full length announced and half the bytes, then the connection
    /// is cut; every later one (the resume) a 404: the file is gone.
    Cut,
    /// The file's length with one byte changed: the digest does not match.
    Mismatch,
}

struct Play {
    /// Snap id of the snap attacked.
    victim: String,
    attack: Arc<Mutex<Attack>>,
    /// Ask for edge in refresh actions.
    edge: Mutex<bool>,
    bad_server: String,
}

impl common::proxy::Rewrite for Play {
    fn request(&self, path: &str, body: Vec<u8>) -> Vec<u8> {
        if !path.starts_with("/v2/snaps/refresh") || !*self.edge.lock().unwrap() {
            return body;
        }
        common::proxy::refresh_actions_on(body, "edge")
    }

    fn answer(&self, path: &str, answer: &mut serde_json::Value) {
        if !path.starts_with("/v2/snaps/refresh") {
            return;
        }
        for r in answer["results"].as_array_mut().into_iter().flatten() {
            let victim = r["snap-id"].as_str() == Some(&self.victim);
            let Some(d) = r
                .pointer_mut("/snap/download")
                .and_then(|d| d.as_object_mut())
            else {
                continue;
            };
            // Full files only: what is attacked is the download itself.
            d.remove("deltas");
            if victim && *self.attack.lock().unwrap() != Attack::None {
                d.insert("url".into(), self.bad_server.clone().into());
            }
        }
    }
}

/// Serve `file` badly, as `attack` says, on a thread; the server's URL.
fn bad_server(file: PathBuf, attack: Arc<Mutex<Attack>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/download/lane.snap",
        listener.local_addr().unwrap()
    );
    std::thread::spawn(move || {
        for (served, sock) in listener.incoming().flatten().enumerate() {
            let mut reader = BufReader::new(sock.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut bytes = std::fs::read(&file).unwrap();
            let mut sock = sock;
            let how = *attack.lock().unwrap();
            let head = |len: usize| {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
            };
            match how {
                Attack::Cut if served == 0 => {
                    let _ = sock.write_all(head(bytes.len()).as_bytes());
                    let _ = sock.write_all(&bytes[..bytes.len() / 2]);
                }
                Attack::Cut | Attack::None => {
                    let _ = sock.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
                Attack::Mismatch => {
                    let mid = bytes.len() / 2;
                    bytes[mid] ^= 0xff;
                    let _ = sock.write_all(head(bytes.len()).as_bytes());
                    let _ = sock.write_all(&bytes);
                }
            }
        }
    });
    url
}

fn write(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Revision `rev` of `name`: an app on shelf-base; `failing_hook`: a post-refresh hook that fails.
fn pack(work: &Path, out: &Path, name: &str, rev: u32, failing_hook: bool) {
    let stage = work.join(format!("{name}-{rev}"));
    write(
        &stage.join("meta/snap.yaml"),
        &format!(
            "name: {name}\nversion: '{rev}.0'\nsummary: Lanes\nbase: shelf-base\n\
             apps:\n  {name}:\n    command: bin/run\n"
        ),
        0o644,
    );
    write(
        &stage.join("bin/run"),
        &format!("#!/bin/sh\necho {name} {rev}\n"),
        0o755,
    );
    // Different bytes per snap and revision, enough of them for a download to be cut in two.
    let payload: String = (0..20_000).map(|i| format!("{name} {rev} {i}\n")).collect();
    write(&stage.join("payload.txt"), &payload, 0o644);
    if failing_hook {
        write(
            &stage.join("meta/hooks/post-refresh"),
            "#!/bin/sh\necho 'post-refresh says no'\nexit 1\n",
            0o755,
        );
    }
    let file = out.join(format!("{name}_{rev}.snap"));
    snapshelf_snap::squashfs::pack(&stage, &file, &Default::default()).unwrap();
}

/// The sample catalog with lane-a, lane-b, lane-c and lane-d (whose revision 2 has a failing
/// post-refresh hook) at revision 1 on stable and 2 on edge.
fn catalog(work: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), tmp.path());
    let snaps = tmp.path().join("snaps");
    let toml = tmp.path().join("catalog.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    for name in ["lane-a", "lane-b", "lane-c", "lane-d"] {
        pack(work, &snaps, name, 1, false);
        pack(work, &snaps, name, 2, name == "lane-d");
        text.push_str(&format!(
            "\n[[snap]]\nname = \"{name}\"\npublisher = \"snapshelf\"\n\
             channels = {{ \"latest/stable\" = 1, \"latest/edge\" = 2 }}\n"
        ));
    }
    std::fs::write(&toml, text).unwrap();
    tmp
}

fn current(env: &Env, name: &str) -> Option<String> {
    env.link(&format!("snap/{name}/current"))
}

/// Refresh `names` to edge; the change must end Error, having undone `victim` alone, with words
/// of `why` in its error.
fn refresh_losing_one(env: &Env, names: &[&str], victim: &str, why: &str) {
    let change = env.proxy().refresh(names, Dict::new()).unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(status, "Error", "{kind}: {err}");
    assert!(err.contains(&format!("undone for \"{victim}\"")), "{err}");
    assert!(err.contains(why), "{why} not in: {err}");
    assert!(err.contains("the rest of the change is done"), "{err}");
    for n in names {
        let want = if *n == victim { "1" } else { "2" };
        assert_eq!(current(env, n).as_deref(), Some(want), "{n} after {err}");
    }
    assert!(
        !env.is_mounted(&format!("snap/{victim}/2")),
        "{victim} 2 unmounted"
    );
    let left = common::files_naming(&env.root.join("var/lib/snapshelf"), &format!("{victim}_2"));
    assert!(left.is_empty(), "{victim}: left behind: {left:?}");
}

#[test]
fn one_snap_failing_during_a_refresh_of_three_is_undone_alone() {
    if !common::require_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog(work.path());
    let mut env = Env::with_catalog(catalog.path());
    let attack = Arc::new(Mutex::new(Attack::None));
    let play = Arc::new(Play {
        victim: common::snap_id(&env.store_url, "lane-b"),
        attack: attack.clone(),
        edge: Mutex::new(false),
        bad_server: bad_server(catalog.path().join("snaps/lane-b_2.snap"), attack),
    });
    env.store_url = common::proxy::start(env.store_url.clone(), play.clone());
    // The workspace's confine: lane-d's hook runs through it.
    let confine = common::workspace_bin("snapshelf-confine", "snapshelf-confine");
    let mut c = env.helper_command();
    c.arg("--confine").arg(confine);
    env.start_helper_from(c);
    env.done(
        env.proxy()
            .install(&["lane-a", "lane-b", "lane-c"], Dict::new()),
    );
    *play.edge.lock().unwrap() = true;

    // lane-b's download is cut half way and cannot be resumed.
    *play.attack.lock().unwrap() = Attack::Cut;
    refresh_losing_one(&env, &["lane-a", "lane-b", "lane-c"], "lane-b", "lane-b");

    // Back to revision 1, then lane-b's file does not match its digest.
    *play.edge.lock().unwrap() = false;
    *play.attack.lock().unwrap() = Attack::None;
    for n in ["lane-a", "lane-c"] {
        env.done(env.proxy().refresh(&[n], common::refresh_on("stable")));
    }
    *play.edge.lock().unwrap() = true;
    *play.attack.lock().unwrap() = Attack::Mismatch;
    refresh_losing_one(&env, &["lane-a", "lane-b", "lane-c"], "lane-b", "sha3-384");

    // lane-d's new revision fails its post-refresh hook, after it was linked: lane-b (whose
    // download now works) and lane-c are refreshed, lane-d is back on revision 1.
    *play.attack.lock().unwrap() = Attack::None;
    *play.edge.lock().unwrap() = false;
    env.done(env.proxy().install(&["lane-d"], Dict::new()));
    env.done(
        env.proxy()
            .refresh(&["lane-c"], common::refresh_on("stable")),
    );
    *play.edge.lock().unwrap() = true;
    refresh_losing_one(
        &env,
        &["lane-b", "lane-c", "lane-d"],
        "lane-d",
        "post-refresh says no",
    );
    assert!(common::installed(&env).iter().any(|s| s.name == "lane-d"));
}

/// Everything the state says is there and nothing else, with lane-b and lane-d on revision 1 and
/// nothing of their revision 2 anywhere: the invariant after any crash of the refresh below.
fn check_consistent(env: &Env, run: usize) -> Vec<String> {
    for path in env.proxy().list_changes().unwrap() {
        let (status, ..) = env.wait_change(path.as_str());
        assert!(
            ["Done", "Error"].contains(&status.as_str()),
            "run {run}: {path} {status}"
        );
    }
    let snaps = common::installed(env);
    let mut wanted = Vec::new();
    for s in &snaps {
        let link = env.link(&format!("snap/{}/current", s.name));
        assert_eq!(
            link.as_deref(),
            Some(s.revision.as_str()),
            "run {run}: {}",
            s.name
        );
        for r in &s.revisions {
            let m = format!("snap/{}/{}", s.name, r);
            assert!(env.is_mounted(&m), "run {run}: {m} not mounted");
            wanted.push(env.root.join(m).display().to_string());
        }
    }
    let mut mounts = env.mounts_under_root();
    mounts.sort();
    wanted.sort();
    assert_eq!(mounts, wanted, "run {run}: stray or missing mounts");
    for victim in ["lane-b", "lane-d"] {
        assert_eq!(
            current(env, victim).as_deref(),
            Some("1"),
            "run {run}: {victim}"
        );
        let left =
            common::files_naming(&env.root.join("var/lib/snapshelf"), &format!("{victim}_2"));
        assert!(left.is_empty(), "run {run}: left behind: {left:?}");
        assert!(
            !env.root.join(format!("snap/{victim}/2")).exists(),
            "run {run}"
        );
        assert!(
            !env.root.join(format!("var/snap/{victim}/2")).exists(),
            "run {run}"
        );
    }
    let partial = common::files_naming(&env.root.join("var/lib/snapshelf"), ".partial");
    assert!(partial.is_empty(), "run {run}: {partial:?}");
    snaps
        .iter()
        .filter(|s| s.name == "lane-a")
        .map(|s| s.revision.clone())
        .collect()
}

/// A refresh of three where two lanes are given up (lane-b's file does not match its digest,
/// lane-d's post-refresh hook fails after its link), the helper killed with SIGKILL right after
/// each task status it records (the debug build's `SNAPSHELF_CRASH_AFTER`): after each crash a
/// fresh helper settles a consistent system, lane-a refreshed or not, lane-b and lane-d never.
#[test]
fn sigkill_at_every_task_boundary_of_a_refresh_that_gives_up_lanes() {
    if !common::require_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog(work.path());
    let mut env = Env::with_catalog(catalog.path());
    let play = Arc::new(Play {
        victim: String::new(),
        attack: Arc::new(Mutex::new(Attack::None)),
        edge: Mutex::new(false),
        bad_server: String::new(),
    });
    env.store_url = common::proxy::start(env.store_url.clone(), play.clone());
    // The store has read lane-b 2's digest; its file changes now, keeping its size.
    let file = catalog.path().join("snaps/lane-b_2.snap");
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let confine = common::workspace_bin("snapshelf-confine", "snapshelf-confine");
    let start = |env: &mut Env, crash: Option<usize>| {
        let mut c = env.helper_command();
        c.arg("--confine").arg(&confine);
        if let Some(n) = crash {
            c.env("SNAPSHELF_CRASH_AFTER", n.to_string());
        }
        env.start_helper_from(c);
    };
    start(&mut env, None);
    env.done(
        env.proxy()
            .install(&["lane-a", "lane-b", "lane-d"], Dict::new()),
    );
    let names = ["lane-a", "lane-b", "lane-d"];
    for n in 1..300 {
        // lane-a back to a fresh revision 1, so that every run has the same tasks.
        if n > 1 {
            *play.edge.lock().unwrap() = false;
            let purge: Dict = [("purge".to_string(), zbus::zvariant::OwnedValue::from(true))]
                .into_iter()
                .collect();
            env.done(env.proxy().remove(&["lane-a"], purge));
            env.done(env.proxy().install(&["lane-a"], Dict::new()));
        }
        *play.edge.lock().unwrap() = true;
        env.kill_helper();
        start(&mut env, Some(n));
        let crashed = match env.proxy().refresh(&names, Dict::new()) {
            // The change starts before its path is sent back: the helper may die first.
            Err(_) => true,
            Ok(change) => wait_or_crash(&mut env, change.as_str(), n),
        };
        if !crashed {
            let lane_a = check_consistent(&env, n);
            assert_eq!(
                lane_a,
                vec!["2".to_string()],
                "the uncrashed run refreshes lane-a"
            );
            eprintln!("{} boundaries, each crashed at and recovered from", n - 1);
            assert!(n > 20, "a refresh of three has {} boundaries", n - 1);
            return;
        }
        env.kill_helper();
        start(&mut env, None);
        check_consistent(&env, n);
    }
    panic!("the refresh never ran to its end");
}

/// Wait for a change to end or the helper to die; whether it died.
fn wait_or_crash(env: &mut Env, change: &str, run: usize) -> bool {
    let started = std::time::Instant::now();
    loop {
        if env.helper_exited() {
            return true;
        }
        let ready = snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&env.connection())
            .path(change.to_string())
            .unwrap()
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .and_then(|c| c.ready());
        if let Ok(true) = ready {
            // It may still crash while it finishes: the boundary count decides.
            std::thread::sleep(std::time::Duration::from_millis(100));
            return env.helper_exited();
        }
        assert!(started.elapsed().as_secs() < 90, "run {run}: stuck");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
