//! Whether a content plug connects by itself to a slot: snapd's base declaration for `content`
//! (`allow-auto-connection: plug-publisher-id: [$SLOT_PUBLISHER_ID]` with the same content tag),
//! or the `allow-auto-connection` rules of the verified snap-declarations of either snap
//! (`slots: content:` of the provider, `plugs: content:` of the consumer). Publishers are read
//! from the declarations the helper verified and kept, never from the store's JSON: a snap
//! installed without assertions has none and never auto-connects.

use snapshelf_snap::assert::{Assertion, HeaderValue};
use snapshelf_snap::content::{ContentPlug, ContentSlot};

use crate::paths::Paths;
use crate::state::SnapState;

/// The kept, verified snap-declaration of a store snap.
pub(super) fn declaration(paths: &Paths, snap: &SnapState) -> Option<Assertion> {
    if snap.snap_id.is_empty() {
        return None;
    }
    let file = paths
        .assertions_dir()
        .join("snap-declaration")
        .join(format!("16_{}.assert", snap.snap_id.replace('/', "%2F")));
    let bytes = std::fs::read(&file).ok()?;
    let a = Assertion::decode(&bytes).ok()?;
    (a.type_name() == "snap-declaration" && a.header_str("snap-id") == Some(&snap.snap_id))
        .then_some(a)
}

/// One side's facts, as the rules name them.
pub(super) struct Side<'a> {
    pub(super) publisher: &'a str,
    pub(super) snap_id: &'a str,
    pub(super) content: &'a str,
}

fn strings(v: &HeaderValue) -> Vec<&str> {
    match v {
        HeaderValue::Str(s) => vec![s.as_str()],
        HeaderValue::List(l) => l.iter().filter_map(HeaderValue::as_str).collect(),
        HeaderValue::Map(_) => Vec::new(),
    }
}

/// One constraints map (`plug-publisher-id`, `plug-snap-id`, `plug-attributes`, or their slot-
/// side twins) against the other side; a constraint we do not know is never met.
pub(super) fn constraints_met(
    map: &[(String, HeaderValue)],
    other: &Side,
    this: &Side,
    prefix: &str,
) -> bool {
    map.iter().all(|(k, v)| {
        let Some(what) = k.strip_prefix(prefix) else {
            return false;
        };
        match what {
            "publisher-id" => strings(v).iter().any(|p| {
                !other.publisher.is_empty()
                    && (*p == other.publisher
                        || ((*p == "$SLOT_PUBLISHER_ID" || *p == "$PLUG_PUBLISHER_ID")
                            && other.publisher == this.publisher))
            }),
            "snap-id" => strings(v).contains(&other.snap_id),
            "attributes" => match v {
                HeaderValue::Map(attrs) => attrs.iter().all(|(a, want)| {
                    a == "content"
                        && strings(want).iter().any(|w| {
                            *w == other.content
                                || ((*w == "$SLOT(content)" || *w == "$PLUG(content)")
                                    && other.content == this.content)
                        })
                }),
                _ => false,
            },
            _ => false,
        }
    })
}

/// One rule's value (`allow-…`/`deny-…`): `true`, a constraints map, or a list of alternatives.
pub(super) fn rule_met(v: &HeaderValue, other: &Side, this: &Side, prefix: &str) -> bool {
    match v {
        HeaderValue::Str(s) => s == "true",
        HeaderValue::Map(m) => constraints_met(m, other, this, prefix),
        HeaderValue::List(alts) => alts.iter().any(|a| match a {
            HeaderValue::Map(m) => constraints_met(m, other, this, prefix),
            _ => false,
        }),
    }
}

/// A declaration's rule for `content` on one side: `true`, a constraints map, or a list of
/// alternatives; `deny-auto-connection` wins over it.
fn rule_allows(decl: &Assertion, side: &str, other: &Side, this: &Side, prefix: &str) -> bool {
    let Some(HeaderValue::Map(ifaces)) = decl.header(side) else {
        return false;
    };
    let Some((_, HeaderValue::Map(rules))) = ifaces.iter().find(|(k, _)| k == "content") else {
        return false;
    };
    let get = |k: &str| rules.iter().find(|(r, _)| r == k).map(|(_, v)| v);
    let matches = |v: &HeaderValue| rule_met(v, other, this, prefix);
    if get("deny-auto-connection").is_some_and(matches) {
        return false;
    }
    get("allow-auto-connection").is_some_and(matches)
}

/// Whether `plug` of `consumer` auto-connects to `slot` of `provider`.
pub fn may_auto_connect(
    paths: &Paths,
    (consumer, plug): (&SnapState, &ContentPlug),
    (provider, slot): (&SnapState, &ContentSlot),
) -> bool {
    let (Some(pd), Some(sd)) = (declaration(paths, consumer), declaration(paths, provider)) else {
        return false;
    };
    let plug_side = Side {
        publisher: pd.header_str("publisher-id").unwrap_or_default(),
        snap_id: &consumer.snap_id,
        content: &plug.content,
    };
    let slot_side = Side {
        publisher: sd.header_str("publisher-id").unwrap_or_default(),
        snap_id: &provider.snap_id,
        content: &slot.content,
    };
    if plug.content != slot.content {
        return false;
    }
    // The base declaration: the same publisher.
    if !plug_side.publisher.is_empty() && plug_side.publisher == slot_side.publisher {
        return true;
    }
    rule_allows(&sd, "slots", &plug_side, &slot_side, "plug-")
        || rule_allows(&pd, "plugs", &slot_side, &plug_side, "slot-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side<'a>(publisher: &'a str, id: &'a str) -> Side<'a> {
        Side {
            publisher,
            snap_id: id,
            content: "gtk",
        }
    }

    fn s(v: &str) -> HeaderValue {
        HeaderValue::Str(v.into())
    }

    #[test]
    fn constraints_follow_the_declaration() {
        let (plug, slot) = (side("alice", "plug-id"), side("bob", "slot-id"));
        let by_id = vec![(
            "plug-publisher-id".to_string(),
            HeaderValue::List(vec![s("alice")]),
        )];
        assert!(constraints_met(&by_id, &plug, &slot, "plug-"));
        assert!(!constraints_met(
            &by_id,
            &side("mallory", "x"),
            &slot,
            "plug-"
        ));
        let same = vec![("plug-publisher-id".to_string(), s("$SLOT_PUBLISHER_ID"))];
        assert!(!constraints_met(&same, &plug, &slot, "plug-"));
        assert!(constraints_met(&same, &side("bob", "y"), &slot, "plug-"));
        let ids = vec![(
            "plug-snap-id".to_string(),
            HeaderValue::List(vec![s("plug-id")]),
        )];
        assert!(constraints_met(&ids, &plug, &slot, "plug-"));
        let attrs = vec![(
            "plug-attributes".to_string(),
            HeaderValue::Map(vec![("content".into(), s("$SLOT(content)"))]),
        )];
        assert!(constraints_met(&attrs, &plug, &slot, "plug-"));
        let other = Side {
            content: "qt",
            ..side("alice", "plug-id")
        };
        assert!(!constraints_met(&attrs, &other, &slot, "plug-"));
        // Unknown constraints are never met; an empty publisher never matches.
        let unknown = vec![("on-store".to_string(), s("x"))];
        assert!(!constraints_met(&unknown, &plug, &slot, "plug-"));
        assert!(!constraints_met(
            &same,
            &side("", ""),
            &side("", ""),
            "plug-"
        ));
    }
}
