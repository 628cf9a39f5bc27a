//! The helper's store client against snapshelf-store as a replica of the real Snap Store: the
//! cases of snapd's own store tests (store/store_action_test.go: per-snap errors, epochs and the
//! epoch bump, redirect-channel on install; closed risks and branches as the real store resolves
//! them), written for our client, and downloads that the store hands to a CDN, served by a second
//! process (python3's http.server), through the client and through an Install of the helper.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use snapshelf_helper::store::{Action, ActionResult, ContextEntry, StoreClient, StoreError};
use snapshelf_snap::store_api::Epoch;
use snapshelf_snap::testdata::pack_store_revision;
use tokio_util::sync::CancellationToken;

const CATALOG: &str = r#"
[store]
authority-id = "replica"
display-name = "Replica Store"

[[snap]]
name = "bridged"
channels = { "stable" = [1, 2, 3] }

[[snap]]
name = "tracked"
default-track = "2.0"
channels = { "2.0/stable" = 1, "2.0/edge" = 3, "latest/stable" = 2 }

[[snap]]
name = "branched"
channels = { "stable" = 1, "stable/hotfix" = 2, "edge" = 3 }

[[snap]]
name = "elsewhere"
snap-id = "ElsewhereElsewhereElsewhere12345"
channels = { "stable" = 1 }
"#;

fn catalog() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("snaps")).unwrap();
        std::fs::write(d.join("catalog.toml"), CATALOG).unwrap();
        pack_store_revision(d, "bridged", 1, "");
        pack_store_revision(d, "bridged", 2, "epoch: 1*\n");
        pack_store_revision(d, "bridged", 3, "epoch: 2*\n");
        for rev in 1..=3 {
            pack_store_revision(d, "tracked", rev, "");
            pack_store_revision(d, "branched", rev, "");
        }
        // Built for an architecture no test machine has.
        pack_store_revision(d, "elsewhere", 1, "architectures: [s390x, mips64el]\n");
        // The key chain is made by the first serve: once, before tests start stores in parallel.
        drop(serve(d, &[]));
        dir
    })
    .path()
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path, extra: &[&str]) -> (Process, String) {
    let (child, url) = common::start_store(dir, extra);
    (Process(child), url)
}

fn store_url() -> &'static str {
    static S: OnceLock<(Process, String)> = OnceLock::new();
    &S.get_or_init(|| serve(catalog(), &[])).1
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn client() -> StoreClient {
    StoreClient::new(store_url()).unwrap()
}

fn install(name: &str, channel: &str) -> ActionResult {
    let action = Action::Install {
        name: name.into(),
        channel: Some(channel.into()),
        revision: None,
    };
    rt().block_on(client().snap_action(&[], &[action]))
        .unwrap()
        .remove(0)
}

struct Served {
    revision: u32,
    effective: Option<String>,
    redirect: Option<String>,
}

fn served(r: ActionResult) -> Served {
    match r {
        ActionResult::Ok {
            effective_channel,
            redirect_channel,
            snap,
            ..
        } => Served {
            revision: snap.revision.revision,
            effective: effective_channel,
            redirect: redirect_channel,
        },
        ActionResult::Error { code, message, .. } => panic!("{code}: {message}"),
    }
}

fn snap_id(name: &str) -> String {
    rt().block_on(client().info(name)).unwrap().snap_id
}

fn epoch(read: &[u32], write: &[u32]) -> Epoch {
    Epoch {
        read: read.to_vec(),
        write: write.to_vec(),
    }
}

fn installed(name: &str, revision: u32, tracking: &str, epoch: Epoch) -> ContextEntry {
    ContextEntry {
        snap_id: snap_id(name),
        revision,
        tracking_channel: tracking.into(),
        held: false,
        epoch,
    }
}

fn refresh_all(context: &[ContextEntry]) -> Vec<ActionResult> {
    let actions: Vec<Action> = context
        .iter()
        .map(|c| Action::Refresh {
            snap_id: c.snap_id.clone(),
            channel: None,
        })
        .collect();
    rt().block_on(client().snap_action(context, &actions))
        .unwrap()
}

/// snapd's testSnapActionGet with a redirect-channel: the answer names the channel to track.
#[test]
fn install_from_a_snap_with_a_default_track_names_the_redirect() {
    let s = served(install("tracked", "stable"));
    assert_eq!(s.revision, 1);
    assert_eq!(s.redirect.as_deref(), Some("2.0/stable"));
    assert_eq!(s.effective.as_deref(), Some("2.0/stable"));
    let s = served(install("tracked", "latest/stable"));
    assert_eq!((s.revision, s.redirect), (2, None));
    let info = rt().block_on(client().info("tracked")).unwrap();
    assert_eq!(info.default_track.as_deref(), Some("2.0"));
}

/// The real store's closed risks and branches, as the client meets them.
#[test]
fn closed_risks_and_branches() {
    let s = served(install("branched", "beta"));
    assert_eq!((s.revision, s.effective.as_deref()), (1, Some("stable")));
    let s = served(install("branched", "stable/hotfix"));
    assert_eq!(
        (s.revision, s.effective.as_deref()),
        (2, Some("stable/hotfix"))
    );
    let info = rt().block_on(client().info("branched")).unwrap();
    let names: Vec<String> = info
        .channel_map
        .iter()
        .map(|c| format!("{}/{}", c.channel.track, c.channel.risk))
        .collect();
    assert_eq!(names, ["latest/stable", "latest/edge"]);
}

/// snapd's TestSnapActionNonZeroEpochAndEpochBump: the client sends the installed epoch; the
/// store answers the bridge, then the head.
#[test]
fn refreshes_cross_epochs_through_the_bridge() {
    let from_zero = refresh_all(&[installed("bridged", 1, "stable", epoch(&[0], &[0]))]);
    assert_eq!(served(from_zero.into_iter().next().unwrap()).revision, 2);
    let from_bridge = refresh_all(&[installed("bridged", 2, "stable", epoch(&[0, 1], &[1]))]);
    assert_eq!(served(from_bridge.into_iter().next().unwrap()).revision, 3);
    assert!(refresh_all(&[installed("bridged", 3, "stable", epoch(&[1, 2], &[2]))]).is_empty());
}

/// snapd's TestSnapActionRevisionNotAvailable / TestSnapActionSnapNotFound: one refresh of
/// several snaps, where one was taken down and one has nothing for this architecture; the others
/// still get their result, each error stays with its snap.
#[test]
fn a_refresh_of_several_snaps_keeps_errors_per_snap() {
    let mut gone = installed("branched", 1, "stable", Epoch::default());
    gone.snap_id = "TakenDownTakenDownTakenDown12345".into();
    let context = [
        installed("branched", 1, "edge", Epoch::default()),
        gone,
        ContextEntry {
            // Its info has nothing for this architecture: the id is the catalog's.
            snap_id: "ElsewhereElsewhereElsewhere12345".into(),
            ..installed("branched", 1, "stable", Epoch::default())
        },
    ];
    let results = refresh_all(&context);
    assert_eq!(results.len(), 3, "one result per snap");
    let mut ok = 0;
    for r in results {
        match r {
            ActionResult::Ok { name, snap, .. } => {
                assert_eq!((name.as_str(), snap.revision.revision), ("branched", 3));
                ok += 1;
            }
            ActionResult::Error {
                snap_id,
                code,
                releases,
                ..
            } if code == "id-not-found" => {
                assert_eq!(snap_id.as_deref(), Some("TakenDownTakenDownTakenDown12345"));
                assert!(releases.is_empty());
            }
            ActionResult::Error {
                name,
                code,
                releases,
                message,
                ..
            } => {
                assert_eq!(code, "revision-not-found", "{message}");
                assert_eq!(name.as_deref(), Some("elsewhere"));
                assert!(
                    releases.is_empty(),
                    "only this architecture's channels: {releases:?}"
                );
            }
        }
    }
    assert_eq!(ok, 1);
}

/// A free port on 127.0.0.1 for the second process.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `python3 -m http.server` over `dir`, as a CDN; its log goes to `log`.
fn cdn(dir: &Path, log: &Path) -> (Process, String) {
    let port = free_port();
    let child = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
        .arg(dir)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("python3 is needed to serve the CDN");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the CDN did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Process(child), format!("http://127.0.0.1:{port}/"))
}

fn download_of(url: &str, name: &str) -> (String, String, u64) {
    let client = StoreClient::new(url).unwrap();
    let action = Action::Install {
        name: name.into(),
        channel: None,
        revision: None,
    };
    match rt()
        .block_on(client.snap_action(&[], &[action]))
        .unwrap()
        .remove(0)
    {
        ActionResult::Ok { snap, .. } => {
            let d = &snap.revision.download;
            (d.url.clone().unwrap(), d.sha3_384.clone().unwrap(), d.size)
        }
        ActionResult::Error { message, .. } => panic!("{message}"),
    }
}

#[test]
fn downloads_follow_the_cdn_redirect_and_refuse_other_schemes() {
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("cdn.log");
    let (_cdn, cdn_url) = cdn(&catalog().join("snaps"), &log);
    let (_store, url) = serve(catalog(), &["--cdn-url", &cdn_url]);
    let (download, sha3, size) = download_of(&url, "branched");
    let client = StoreClient::new(&url).unwrap();
    let dest = work.path().join("branched_1.snap");
    let verified = rt()
        .block_on(client.download_verified(
            &download,
            &dest,
            &sha3,
            size,
            &CancellationToken::new(),
            &|_, _| {},
        ))
        .unwrap();
    assert!(verified.is_ok(), "{verified:?}");
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), size);
    let served = std::fs::read_to_string(&log).unwrap();
    assert!(
        served.contains("GET /branched_1.snap"),
        "the CDN served: {served}"
    );

    // A store whose CDN is a file: or ftp: address gets nothing written.
    for bad in ["file:///etc/", "ftp://127.0.0.1/"] {
        let (_store, url) = serve(catalog(), &["--cdn-url", bad]);
        let (download, _, size) = download_of(&url, "branched");
        let dest = work.path().join("refused.snap");
        let err = rt()
            .block_on(StoreClient::new(&url).unwrap().download(
                &download,
                &dest,
                size,
                &CancellationToken::new(),
                &|_, _| {},
            ))
            .unwrap_err();
        assert!(matches!(err, StoreError::Refused { .. }), "{bad}: {err}");
        assert!(!dest.exists() && !snapshelf_helper::store::partial_path(&dest).exists());
    }
}

/// An Install through the helper, its download answered by a redirect to a second process.
#[test]
fn install_through_the_cdn() {
    if !common::require_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("cdn.log");
    let (_cdn, cdn_url) = cdn(&common::catalog().join("snaps"), &log);
    let mut env = common::Env::with_store_args(common::catalog(), &["--cdn-url", &cdn_url]);
    env.start_helper();
    let change = env
        .proxy()
        .install(&["shelf-clock"], snapshelf_dbus::types::Dict::new())
        .unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    assert!(env.is_mounted("snap/shelf-clock/1"));
    let served = std::fs::read_to_string(&log).unwrap();
    assert!(
        served.contains("GET /shelf-clock_1.snap"),
        "the CDN served: {served}"
    );
    assert!(
        served.contains("GET /shelf-base_1.snap"),
        "the base too: {served}"
    );
}

/// A catalog the helper can install from: the sample catalog's base, and snaps on it that show the
/// real store's channel behaviours.
fn installable_catalog() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("snaps")).unwrap();
    std::fs::copy(
        common::catalog().join("snaps/shelf-base_1.snap"),
        d.join("snaps/shelf-base_1.snap"),
    )
    .unwrap();
    std::fs::write(
        d.join("catalog.toml"),
        r#"
[store]
authority-id = "replica"
display-name = "Replica Store"

[[snap]]
name = "bridged"
channels = { "candidate" = 1, "stable" = [1, 2, 3] }

[[snap]]
name = "tracked"
default-track = "2.0"
channels = { "2.0/stable" = 1, "latest/stable" = 2 }

[[snap]]
name = "branched"
channels = { "stable" = 1, "stable/hotfix" = 2, "edge" = 3 }
"#,
    )
    .unwrap();
    let on_base = "base: shelf-base\n";
    pack_store_revision(d, "bridged", 1, on_base);
    pack_store_revision(d, "bridged", 2, &format!("{on_base}epoch: 1*\n"));
    pack_store_revision(d, "bridged", 3, &format!("{on_base}epoch: 2*\n"));
    for rev in 1..=3 {
        pack_store_revision(d, "tracked", rev, on_base);
        pack_store_revision(d, "branched", rev, on_base);
    }
    dir
}

fn options(pairs: &[(&str, &str)]) -> snapshelf_dbus::types::Dict {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                zbus::zvariant::OwnedValue::try_from(zbus::zvariant::Value::from(*v)).unwrap(),
            )
        })
        .collect()
}

/// (revision, tracked channel) of an installed snap.
fn state_of(env: &common::Env, name: &str) -> (String, String) {
    let snap = common::installed(env)
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} is not installed"));
    (snap.revision, snap.channel)
}

/// Through the helper: the tracked channel is the store's redirect for a default track, the risk
/// asked for when it is closed, the branch asked for; a refresh crosses epochs through the bridge.
#[test]
fn the_helper_tracks_what_the_real_store_says_and_crosses_epochs() {
    if !common::require_root() {
        return;
    }
    let catalog = installable_catalog();
    let mut env = common::Env::with_catalog(catalog.path());
    env.start_helper();
    let helper = env.proxy();
    let run = |started: zbus::Result<zbus::zvariant::OwnedObjectPath>| {
        let (status, kind, err) = env.wait_change(started.unwrap().as_str());
        assert_eq!(status, "Done", "{kind}: {err}");
    };

    run(helper.install(&["tracked"], options(&[])));
    assert_eq!(state_of(&env, "tracked"), ("1".into(), "2.0/stable".into()));

    run(helper.install(&["branched"], options(&[("channel", "beta")])));
    assert_eq!(
        state_of(&env, "branched"),
        ("1".into(), "latest/beta".into()),
        "beta is closed: stable's revision, and beta still tracked"
    );
    run(helper.refresh(&["branched"], options(&[("channel", "stable/hotfix")])));
    assert_eq!(
        state_of(&env, "branched"),
        ("2".into(), "latest/stable/hotfix".into())
    );

    run(helper.install(&["bridged"], options(&[("channel", "candidate")])));
    assert_eq!(state_of(&env, "bridged").0, "1");
    run(helper.refresh(&["bridged"], options(&[("channel", "stable")])));
    assert_eq!(
        state_of(&env, "bridged"),
        ("2".into(), "latest/stable".into()),
        "epoch 0 data: the bridge first"
    );
    run(helper.refresh(&["bridged"], options(&[])));
    assert_eq!(state_of(&env, "bridged").0, "3", "then the head");
}
