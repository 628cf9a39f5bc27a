//! Bad store answers for one snap of a refresh of several (issue 13, "Bad input"): a result that
//! lies about the file's size, one whose download address is a `file:` URL, and one whose `snap`
//! object is malformed. The first two are refused for that snap alone before the change starts
//! (the size against the signed snap-revision, fetched then): a clear error naming the snap, the
//! other snap refreshes, nothing of the refused one is installed or left behind. snapd keeps each
//! snap of `UpdateMany` apart in the same way (`overlord/snapstate/snapstate.go`, a task set per
//! snap). A malformed answer is refused whole, before any change, as snapd's decoder refuses a
//! refresh answer that does not decode (`store/store_action.go`, one `json` decode).
//!
//! snapshelf-store runs behind a proxy that asks for `candidate` (where both snaps have revision
//! 2) and spoils shelf-hello's result in the answer.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::Env;
use snapshelf_dbus::types::Dict;

/// How shelf-hello's refresh result is spoilt.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Spoil {
    None,
    /// Everything relayed untouched, and refresh actions left on their channel.
    PassThrough,
    /// `download.size` four times the real one.
    Size,
    /// `download.url` a `file:` URL.
    FileUrl,
    /// `snap.revision` a string and `snap.download` missing.
    Malformed,
}

struct Play {
    hello_id: String,
    spoil: Mutex<Spoil>,
}

impl common::proxy::Rewrite for Play {
    fn request(&self, path: &str, body: Vec<u8>) -> Vec<u8> {
        if !path.starts_with("/v2/snaps/refresh")
            || *self.spoil.lock().unwrap() == Spoil::PassThrough
        {
            return body;
        }
        common::proxy::refresh_actions_on(body, "candidate")
    }

    fn answer(&self, path: &str, answer: &mut serde_json::Value) {
        if !path.starts_with("/v2/snaps/refresh") {
            return;
        }
        let spoil = *self.spoil.lock().unwrap();
        for r in answer["results"].as_array_mut().into_iter().flatten() {
            if r["snap-id"].as_str() != Some(&self.hello_id) || r["result"] != "refresh" {
                continue;
            }
            let snap = &mut r["snap"];
            if spoil != Spoil::None {
                // No delta to rebuild from: the spoilt download itself is what the helper gets.
                if let Some(d) = snap["download"].as_object_mut() {
                    d.remove("deltas");
                }
            }
            match spoil {
                Spoil::None | Spoil::PassThrough => {}
                Spoil::Size => {
                    let size = snap["download"]["size"].as_u64().unwrap();
                    snap["download"]["size"] = (size * 4).into();
                }
                Spoil::FileUrl => snap["download"]["url"] = "file:///etc/passwd".into(),
                Spoil::Malformed => {
                    snap["revision"] = "two".into();
                    snap.as_object_mut().unwrap().remove("download");
                }
            }
        }
    }
}

/// A copy of the sample catalog where shelf-hello also has revision 2 (version 2.0) on candidate.
fn catalog_with_hello_2(work: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), tmp.path());
    let stage = work.join("hello");
    snapshelf_snap::squashfs::SnapFile::open(&tmp.path().join("snaps/shelf-hello_1.snap"))
        .unwrap()
        .extract_to(&stage)
        .unwrap();
    let yaml = stage.join("meta/snap.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    let (head, tail) = text.split_once("\nversion:").unwrap();
    let tail = tail.split_once('\n').unwrap().1;
    std::fs::write(&yaml, format!("{head}\nversion: '2.0'\n{tail}")).unwrap();
    snapshelf_snap::squashfs::pack(
        &stage,
        &tmp.path().join("snaps/shelf-hello_2.snap"),
        &Default::default(),
    )
    .unwrap();
    let toml = tmp.path().join("catalog.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let at = text.find("name = \"shelf-hello\"").unwrap();
    let one = "channels = { \"latest/stable\" = 1 }";
    let two = "channels = { \"latest/stable\" = 1, \"latest/candidate\" = 2 }";
    let (before, after) = text.split_at(at);
    std::fs::write(&toml, format!("{before}{}", after.replacen(one, two, 1))).unwrap();
    tmp
}

fn summary_of(env: &Env, path: &str) -> String {
    let conn = env.connection();
    snapshelf_dbus::proxy::Change1ProxyBlocking::builder(&conn)
        .path(path.to_string())
        .unwrap()
        .build()
        .unwrap()
        .summary()
        .unwrap()
}

/// What the helper must say for each spoilt answer: the error kind and words of its message.
fn expected(spoil: Spoil) -> (snapshelf_dbus::ErrorKind, &'static [&'static str]) {
    use snapshelf_dbus::ErrorKind;
    match spoil {
        Spoil::Size => (
            ErrorKind::VerificationFailed,
            &[
                "\"shelf-hello\"",
                "49152 bytes",
                "its signed snap-revision says 12288",
            ],
        ),
        Spoil::FileUrl => (
            ErrorKind::StoreError,
            &[
                "\"shelf-hello\"",
                "\"file:///etc/passwd\" is not an HTTP(S) address",
            ],
        ),
        _ => unreachable!("only spoilt downloads"),
    }
}

/// Nothing changed: both snaps on revision 1, nothing of shelf-hello 2 mounted or left on disk.
/// (shelf-clock's revision 2 stays once a refresh brought it: old revisions are kept.)
fn nothing_changed(env: &Env, what: &str) {
    assert_eq!(
        env.link("snap/shelf-clock/current").as_deref(),
        Some("1"),
        "{what}"
    );
    assert_eq!(
        env.link("snap/shelf-hello/current").as_deref(),
        Some("1"),
        "{what}"
    );
    assert!(!env.is_mounted("snap/shelf-hello/2"), "{what}");
    let left = common::files_naming(&env.root.join("var/lib/snapshelf"), "shelf-hello_2");
    assert!(left.is_empty(), "{what}: left behind: {left:?}");
}

#[test]
fn a_bad_answer_for_one_snap_is_a_clear_error_and_changes_nothing() {
    if !common::require_root() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let catalog = catalog_with_hello_2(work.path());
    let mut env = Env::with_catalog(catalog.path());
    let play = Arc::new(Play {
        hello_id: common::snap_id(&env.store_url, "shelf-hello"),
        spoil: Mutex::new(Spoil::PassThrough),
    });
    env.store_url = common::proxy::start(env.store_url.clone(), play.clone());
    env.start_helper();
    let helper = env.proxy();
    env.done(helper.install(&["shelf-clock", "shelf-hello"], Dict::new()));
    // The file is 12288 bytes (the size lie says four times that); checked, not assumed.
    let size = std::fs::metadata(catalog.path().join("snaps/shelf-hello_2.snap"))
        .unwrap()
        .len();
    assert_eq!(size, 12288, "the packed shelf-hello 2");

    // Each refused for shelf-hello alone, before the change starts: shelf-clock refreshes.
    for spoil in [Spoil::Size, Spoil::FileUrl] {
        *play.spoil.lock().unwrap() = spoil;
        let change = helper
            .refresh(&["shelf-clock", "shelf-hello"], Dict::new())
            .unwrap();
        let (status, kind, err) = env.wait_change(change.as_str());
        assert_eq!(status, "Done", "{spoil:?}: {kind}: {err}");
        let summary = summary_of(&env, change.as_str());
        assert!(
            summary.contains("\"shelf-hello\" not refreshed:"),
            "{spoil:?}: {summary}"
        );
        assert_eq!(env.link("snap/shelf-clock/current").as_deref(), Some("2"));
        assert_eq!(env.link("snap/shelf-hello/current").as_deref(), Some("1"));
        let left = common::files_naming(&env.root.join("var/lib/snapshelf"), "shelf-hello_2");
        assert!(left.is_empty(), "{spoil:?}: left behind: {left:?}");
        // Named alone, the snap's error is the answer, naming it and the cause.
        let e = helper.refresh(&["shelf-hello"], Dict::new()).unwrap_err();
        let (want_kind, words) = expected(spoil);
        for w in words {
            assert!(e.to_string().contains(w), "{spoil:?}: {w} not in {e}");
        }
        assert_eq!(common::kind_of(e), want_kind, "{spoil:?}");
        // shelf-clock back to revision 1 (stable), the store left as it is.
        *play.spoil.lock().unwrap() = Spoil::PassThrough;
        env.done(helper.refresh(&["shelf-clock"], common::refresh_on("stable")));
        nothing_changed(&env, &format!("after {spoil:?}"));
    }

    // A result that does not decode: the whole answer is refused before any change starts.
    *play.spoil.lock().unwrap() = Spoil::Malformed;
    let e = helper
        .refresh(&["shelf-clock", "shelf-hello"], Dict::new())
        .unwrap_err();
    assert_eq!(
        common::kind_of(e.clone()),
        snapshelf_dbus::ErrorKind::StoreError
    );
    assert!(
        e.to_string().contains("answer to refresh is malformed"),
        "{e}"
    );
    nothing_changed(&env, "Malformed");

    // Unspoilt, both refresh: the rounds above failed for the reasons given, not another.
    *play.spoil.lock().unwrap() = Spoil::None;
    env.done(helper.refresh(&["shelf-clock", "shelf-hello"], Dict::new()));
    assert_eq!(env.link("snap/shelf-clock/current").as_deref(), Some("2"));
    assert_eq!(env.link("snap/shelf-hello/current").as_deref(), Some("2"));
}
