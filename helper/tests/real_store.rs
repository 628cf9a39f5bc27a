//! The real Snap Store's behaviours the client must follow (issue 13), end to end against
//! snapshelf-store behind a proxy that plays the real store's part where the sample catalog
//! cannot:
//! - per-snap errors (`id-not-found`: taken down; `revision-not-found`: its channel closed): the
//!   others refresh, and the change says which snap was left and why;
//! - epochs: a revision that cannot read the installed one's data is refused;
//! - channels: what was asked for (or the store's `redirect-channel`) is tracked, not the
//!   `effective-channel` that served it; Switch takes closed risks and branches.
//!
//! The proxy can ask for `candidate` for shelf-clock (so that it has an update), answer for a snap
//! with an error result, give an offered revision epoch 5, and rewrite `effective-channel` and
//! `redirect-channel` as the real store sends them.
//!
//! What snapd does, to check these against: per-snap errors in `overlord/snapstate/snapstate.go`
//! (`UpdateMany` goes on past one snap's error) and `store/store_action.go` (the `error` results);
//! epochs in `snap/epoch.go` (`CanRead`) and the refresh context of `store/store_action.go`;
//! channels in `snap/channel/channel.go` (names, branches) and `overlord/snapstate/handlers.go`
//! (the tracked channel is the one asked for, or the store's `redirect-channel`).

mod common;

use std::sync::{Arc, Mutex};

use common::{kind_of, Env};
use snapshelf_dbus::types::Dict;
use snapshelf_dbus::ErrorKind;

/// What the proxy does to refresh calls: the snap-id whose refresh action asks for candidate, and
/// the snap-id answered with this error code instead of what the store says.
#[derive(Default, Clone)]
struct Play {
    newer_for: Option<String>,
    error_for: Option<(String, String)>,
    /// The snap-id whose offered revision the answer says is of epoch 5.
    epoch_5_for: Option<String>,
    /// `effective-channel` of every revision offered (the risk that served it).
    effective: Option<String>,
    /// `redirect-channel` of every revision offered (a default track).
    redirect: Option<String>,
}

type Shared = Arc<Mutex<Play>>;

fn proxy(upstream: String, play: Shared) -> String {
    common::proxy::start(upstream, play)
}

impl common::proxy::Rewrite for Mutex<Play> {
    fn request(&self, path: &str, body: Vec<u8>) -> Vec<u8> {
        if !path.starts_with("/v2/snaps/refresh") {
            return body;
        }
        let play = self.lock().unwrap().clone();
        rewrite_request(body, &play)
    }

    fn answer(&self, path: &str, answer: &mut serde_json::Value) {
        if path.starts_with("/v2/snaps/refresh") {
            let play = self.lock().unwrap().clone();
            rewrite_answer(answer, &play);
        }
    }
}

/// The request as the store should see it: shelf-clock's refresh asks for candidate.
fn rewrite_request(body: Vec<u8>, play: &Play) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return body;
    };
    for a in v["actions"].as_array_mut().into_iter().flatten() {
        if a["action"] == "refresh" && a["snap-id"].as_str() == play.newer_for.as_deref() {
            a["channel"] = "candidate".into();
        }
    }
    serde_json::to_vec(&v).unwrap()
}

/// The answer as the real store would give it for a snap taken down or off its channel: that
/// snap's result an error, the others untouched.
fn rewrite_answer(v: &mut serde_json::Value, play: &Play) {
    for r in v["results"].as_array_mut().into_iter().flatten() {
        if r["result"] != "error" {
            if let Some(e) = &play.effective {
                r["effective-channel"] = e.clone().into();
            }
            if let Some(c) = &play.redirect {
                r["redirect-channel"] = c.clone().into();
            }
        }
        if r["snap-id"].as_str().is_some() && r["snap-id"].as_str() == play.epoch_5_for.as_deref() {
            let yaml = r["snap"]["snap-yaml"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            r["snap"]["snap-yaml"] = format!("{yaml}\nepoch: 5\n").into();
            r["snap"]["epoch"] = serde_json::json!({"read": [5], "write": [5]});
        }
    }
    let Some((id, code)) = &play.error_for else {
        return;
    };
    let results = v["results"].as_array_mut().unwrap();
    results.retain(|r| r["snap-id"].as_str() != Some(id));
    results.push(serde_json::json!({
        "result": "error", "instance-key": id, "snap-id": id,
        "error": {"code": code, "message": format!("the store has nothing for {id}"),
                  "extra": {"releases": []}}}));
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

#[test]
fn one_snaps_store_error_does_not_stop_the_others() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    let clock_id = common::snap_id(&env.store_url, "shelf-clock");
    let hello_id = common::snap_id(&env.store_url, "shelf-hello");
    let play = Shared::default();
    env.store_url = proxy(env.store_url.clone(), play.clone());
    env.start_helper();
    let helper = env.proxy();
    env.done(helper.install(&["shelf-clock", "shelf-hello"], Dict::new()));

    for code in ["id-not-found", "revision-not-found"] {
        *play.lock().unwrap() = Play {
            newer_for: Some(clock_id.clone()),
            error_for: Some((hello_id.clone(), code.to_string())),
            ..Play::default()
        };
        // A refresh of everything: shelf-clock refreshes, shelf-hello is left and named.
        let change = helper.refresh(&[], Dict::new()).unwrap();
        let (status, kind, err) = env.wait_change(change.as_str());
        assert_eq!(status, "Done", "{code}: {kind}: {err}");
        let summary = summary_of(&env, change.as_str());
        assert!(
            summary.contains("\"shelf-clock\"")
                && summary.contains("\"shelf-hello\" not refreshed:"),
            "{code}: {summary}"
        );
        assert_eq!(env.link("snap/shelf-clock/current").as_deref(), Some("2"));
        assert_eq!(env.link("snap/shelf-hello/current").as_deref(), Some("1"));
        // Back to revision 1 (stable, kept) for the next round, the store left as it is.
        *play.lock().unwrap() = Play::default();
        env.done(helper.refresh(&["shelf-clock"], common::refresh_on("stable")));
    }

    // Named snaps: several, the others refresh; the one named alone fails with its error.
    *play.lock().unwrap() = Play {
        newer_for: Some(clock_id.clone()),
        error_for: Some((hello_id.clone(), "id-not-found".into())),
        ..Play::default()
    };
    let e = helper.refresh(&["shelf-hello"], Dict::new()).unwrap_err();
    assert_eq!(kind_of(e), ErrorKind::NotFound);
    let change = helper
        .refresh(&["shelf-clock", "shelf-hello"], Dict::new())
        .unwrap();
    let (status, kind, err) = env.wait_change(change.as_str());
    assert_eq!(status, "Done", "{kind}: {err}");
    assert!(summary_of(&env, change.as_str()).contains("\"shelf-hello\" not refreshed:"));
    assert_eq!(env.link("snap/shelf-clock/current").as_deref(), Some("2"));
}

#[test]
fn a_revision_that_cannot_read_the_current_data_is_refused() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    let clock_id = common::snap_id(&env.store_url, "shelf-clock");
    let play = Shared::default();
    env.store_url = proxy(env.store_url.clone(), play.clone());
    env.start_helper();
    let helper = env.proxy();
    env.done(helper.install(&["shelf-clock"], Dict::new()));
    *play.lock().unwrap() = Play {
        newer_for: Some(clock_id.clone()),
        epoch_5_for: Some(clock_id),
        ..Play::default()
    };
    // Installed at epoch 0; the offered revision reads only epoch 5: refused before any download.
    let e = helper.refresh(&["shelf-clock"], Dict::new()).unwrap_err();
    let (kind, message) = snapshelf_dbus::error::classify(&e);
    assert_eq!(kind, ErrorKind::EpochMismatch, "{message}");
    assert!(
        message.contains("epoch 5") && message.contains("epoch 0"),
        "{message}"
    );
    assert_eq!(env.link("snap/shelf-clock/current").as_deref(), Some("1"));
    assert!(!env
        .root
        .join("var/lib/snapshelf/blobs/shelf-clock_2.snap")
        .exists());
}

fn channel_of(env: &Env, name: &str) -> (String, String) {
    let s = common::installed(env)
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} is installed"));
    (s.channel, s.revision)
}

#[test]
fn the_channel_asked_for_is_tracked_not_the_one_that_served() {
    if !common::require_root() {
        return;
    }
    let mut env = Env::new();
    let play = Shared::default();
    env.store_url = proxy(env.store_url.clone(), play.clone());
    env.start_helper();
    let helper = env.proxy();
    env.done(helper.install(&["shelf-clock"], Dict::new()));

    // beta is closed: the real store serves candidate's revision and says so.
    *play.lock().unwrap() = Play {
        effective: Some("candidate".into()),
        ..Play::default()
    };
    env.done(helper.refresh(&["shelf-clock"], common::refresh_on("beta")));
    assert_eq!(
        channel_of(&env, "shelf-clock"),
        ("latest/beta".to_string(), "2".to_string())
    );

    // A default track: the store redirects, and the redirect is what is tracked from now on.
    *play.lock().unwrap() = Play {
        redirect: Some("2.0/edge".into()),
        ..Play::default()
    };
    env.done(helper.refresh(&["shelf-clock"], common::refresh_on("edge")));
    assert_eq!(
        channel_of(&env, "shelf-clock"),
        ("2.0/edge".to_string(), "3".to_string())
    );
    *play.lock().unwrap() = Play::default();

    // Switch: closed risks and branches are in no channel map, yet they are channels.
    for (asked, tracked) in [
        ("beta", "latest/beta"),
        ("edge/fix-12", "latest/edge/fix-12"),
        ("latest/candidate/pr-3", "latest/candidate/pr-3"),
    ] {
        env.done(helper.switch("shelf-clock", asked));
        assert_eq!(channel_of(&env, "shelf-clock").0, tracked);
    }
    // Only malformed names are refused.
    for bad in ["2.0/nightly", "a/b/c/d", "bad channel!"] {
        let e = helper.switch("shelf-clock", bad).unwrap_err();
        assert_eq!(kind_of(e), ErrorKind::InvalidArgument, "{bad}");
    }
}
