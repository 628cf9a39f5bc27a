//! Snap-declarations refreshed before a refresh, as snapd does (`overlord/assertstate`,
//! `RefreshSnapDeclarations` → `bulkRefreshSnapDeclarations`, before `UpdateMany` asks for
//! updates): one fetch-assertions round asks the store for a newer declaration of each snap to
//! refresh; what it sends is verified up to a trusted root and kept, replacing the older one. Their
//! word then holds: a snap the store now declares under another name (renamed), or no longer
//! declares at all (taken down: `not-found`), is not refreshed, and the change says why; a new
//! publisher is the one the next verification checks the snap-revision against.

use snapshelf_snap::assert::Assertion;
use snapshelf_snap::store_api::AssertionRef;

use super::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::state::SnapState;

const DECLARATION: &str = "snap-declaration";

fn declaration_key(snap_id: &str) -> [&str; 2] {
    ["16", snap_id]
}

impl Engine {
    /// Refresh the declarations of `targets`; the snaps that must not be refreshed now, each with
    /// why. A store that cannot answer fails the refresh, as in snapd.
    pub(crate) async fn refresh_declarations(
        &self,
        targets: &[SnapState],
    ) -> Result<Vec<(String, Error)>> {
        let dir = self.paths().assertions_dir();
        let trusted = &self.inner.cfg.trusted;
        let mut db = super::verify::local_database(trusted, &dir)?;
        let ours: Vec<(&SnapState, Option<Assertion>)> = targets
            .iter()
            .filter(|s| !s.snap_id.is_empty())
            .map(|s| {
                let held = db.find(DECLARATION, &declaration_key(&s.snap_id)).cloned();
                (s, held)
            })
            .collect();
        if ours.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<AssertionRef> = ours
            .iter()
            .map(|(s, held)| AssertionRef {
                assertion_type: DECLARATION.into(),
                primary_key: declaration_key(&s.snap_id).map(str::to_string).to_vec(),
                // Unknown: anything the store has (snapd's RevisionNotKnown sends no key).
                if_newer_than: held.as_ref().and_then(|a| u32::try_from(a.revision()).ok()),
            })
            .collect();
        let store = self.store();
        let answer = store.fetch_assertions(&wanted).await?;
        for url in &answer.urls {
            let bytes = store.assertion_stream(url).await?;
            self.admit_declaration(&mut db, &dir, &bytes).await;
        }
        let mut refused = Vec::new();
        for (s, held) in &ours {
            let gone = answer.errors.iter().any(|e| {
                e.code == "not-found"
                    && e.assertion_type == DECLARATION
                    && e.primary_key == declaration_key(&s.snap_id)
            });
            let now = db.find(DECLARATION, &declaration_key(&s.snap_id));
            if let Some(why) = consequence(s, held.as_ref(), now, gone) {
                refused.push((s.name.clone(), why));
            }
        }
        Ok(refused)
    }

    /// Verify and keep one stream of the round; a declaration that does not verify is logged and
    /// changes nothing (the one held stays).
    async fn admit_declaration(
        &self,
        db: &mut snapshelf_snap::assert::Database,
        dir: &std::path::Path,
        bytes: &[u8],
    ) {
        let first = match snapshelf_snap::assert::decode_stream(bytes) {
            Ok(list) => list.into_iter().next(),
            Err(e) => {
                tracing::warn!(error = %e, "the store sent a malformed declaration stream");
                return;
            }
        };
        let Some(first) = first.filter(|a| a.type_name() == DECLARATION) else {
            tracing::warn!("a declaration stream without a snap-declaration first");
            return;
        };
        let key = first.primary_key();
        let key: Vec<&str> = key.iter().map(String::as_str).collect();
        let admitted = super::verify::admit(self.store(), db, dir, bytes, DECLARATION, &key).await;
        let now = db.find(DECLARATION, &key).map(Assertion::revision);
        if admitted.is_err() || now != Some(first.revision()) {
            tracing::warn!(
                key = %key.join("/"),
                revision = first.revision(),
                "a newer snap-declaration does not verify against the trusted keys; keeping the one held"
            );
        }
    }
}

/// What a refreshed declaration means for the installed snap `s`: a reason not to refresh it, or
/// nothing (a new publisher is logged: it is what the next verification checks).
fn consequence(
    s: &SnapState,
    held: Option<&Assertion>,
    now: Option<&Assertion>,
    gone: bool,
) -> Option<Error> {
    if gone {
        return Some(Error::new(
            ErrorKind::NotFound,
            crate::lang::gettext(
                "\"{snap}\" is no longer declared by the store (snap id {id}): it was taken down",
            )
            .replace("{snap}", &s.name)
            .replace("{id}", &s.snap_id),
        ));
    }
    let now = now?;
    let name = now.header_str("snap-name").unwrap_or("");
    if name != s.name {
        return Some(Error::new(
            ErrorKind::VerificationFailed,
            crate::lang::gettext(
                "the store now declares snap id {id} as \"{name}\", not \"{snap}\" (renamed)",
            )
            .replace("{id}", &s.snap_id)
            .replace("{name}", name)
            .replace("{snap}", &s.name),
        ));
    }
    let publisher = |a: &Assertion| a.header_str("publisher-id").unwrap_or("").to_string();
    if let Some(old) = held.filter(|old| publisher(old) != publisher(now)) {
        tracing::info!(
            snap = %s.name,
            from = %publisher(old),
            to = %publisher(now),
            "the store declares a new publisher"
        );
    }
    None
}
