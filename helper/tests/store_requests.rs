//! The client's requests as the real Snap Store needs them (issue 13), against snapshelf-store,
//! which, like the real store, answers only the `fields=` asked for: the answers to `info` and
//! `find` still carry what an app page shows for a snap that is not installed.

mod common;

use common::Env;
use snapshelf_helper::store::StoreClient;

#[test]
fn info_and_find_get_what_an_app_page_shows() {
    if !common::require_root() {
        return;
    }
    let env = Env::new();
    let client = StoreClient::new(&env.store_url).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let info = rt.block_on(client.info("shelf-clock")).unwrap();
    assert!(!info.snap.description.is_empty());
    assert!(!info.snap.media_urls("icon").is_empty());
    assert!(!info.snap.media_urls("screenshot").is_empty());
    assert!(info.snap.license.is_some());
    let first = &info.channel_map[0];
    assert!(
        first
            .revision
            .snap_yaml
            .as_deref()
            .unwrap_or("")
            .contains("apps:"),
        "{:?}",
        first.revision.snap_yaml
    );
    let found = rt.block_on(client.find("clock", None)).unwrap();
    let clock = found
        .iter()
        .find(|r| r.name == "shelf-clock")
        .expect("find answers shelf-clock");
    assert!(!clock.snap.description.is_empty());
    assert!(!clock.snap.media_urls("icon").is_empty());
    assert!(clock.revision.revision.download.size > 0);
    assert_eq!(clock.revision.channel.as_deref(), Some("stable"));
}
