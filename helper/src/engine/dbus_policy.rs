//! Whether a person may connect a `dbus` plug to another snap's `dbus` slot, as snapd's policy
//! decides (`interfaces/policy`, `ConnectCandidate.Check`): only when both snaps have a
//! snap-declaration is it checked at all (snapd skips the check for a snap installed without
//! one). Then the first rule for `dbus` found decides: the plug snap's declaration
//! (`plugs: dbus:`), else the slot snap's (`slots: dbus:`), else the base declaration, whose
//! `deny-connection` for any slot `name` denies. A declaration's rule denies when a
//! `deny-connection` matches, and otherwise allows when its `allow-connection` matches (a rule
//! without one allows, as snapd fills a missing `allow-*` with "always"). Constraints are those
//! `content_policy` knows (publisher, snap id); any other, attributes included, is never met.

use snapshelf_snap::assert::HeaderValue;

use super::content_policy::{declaration, rule_met, Side};
use crate::paths::Paths;
use crate::state::SnapState;

/// `dbus`'s rule in a declaration's `plugs` or `slots` header: `Some(allowed)` when there is
/// one, `None` when there is none. `prefix` names the other side's constraints (`plug-` in a
/// slot rule).
fn decide(side: Option<&HeaderValue>, other: &Side, this: &Side, prefix: &str) -> Option<bool> {
    let Some(HeaderValue::Map(ifaces)) = side else {
        return None;
    };
    let rules = match &ifaces.iter().find(|(k, _)| k == "dbus")?.1 {
        HeaderValue::Map(m) => m.as_slice(),
        // `dbus: true` and such: a rule with nothing in it, which allows.
        _ => &[],
    };
    let get = |k: &str| rules.iter().find(|(r, _)| r == k).map(|(_, v)| v);
    let matches = |v: &HeaderValue| rule_met(v, other, this, prefix);
    if get("deny-connection").is_some_and(matches) {
        return Some(false);
    }
    Some(get("allow-connection").is_none_or(matches))
}

/// Whether `plug_snap`'s `dbus` plug may be connected to `slot_snap`'s `dbus` slot.
pub fn may_connect(paths: &Paths, plug_snap: &SnapState, slot_snap: &SnapState) -> bool {
    if plug_snap.is_local() || slot_snap.is_local() {
        return true;
    }
    let (Some(pd), Some(sd)) = (declaration(paths, plug_snap), declaration(paths, slot_snap))
    else {
        // A store snap whose declaration is not kept: nothing says it may.
        return false;
    };
    let plug_side = Side {
        publisher: pd.header_str("publisher-id").unwrap_or_default(),
        snap_id: &plug_snap.snap_id,
        content: "",
    };
    let slot_side = Side {
        publisher: sd.header_str("publisher-id").unwrap_or_default(),
        snap_id: &slot_snap.snap_id,
        content: "",
    };
    decide(pd.header("plugs"), &slot_side, &plug_side, "slot-")
        .or_else(|| decide(sd.header("slots"), &plug_side, &slot_side, "plug-"))
        // The base declaration: `deny-connection: slot-attributes: name: .+`.
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> HeaderValue {
        HeaderValue::Str(v.into())
    }

    fn map(pairs: Vec<(&str, HeaderValue)>) -> HeaderValue {
        HeaderValue::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    #[test]
    fn the_first_rule_found_decides_and_without_one_the_base_denies() {
        let side = |publisher| Side {
            publisher,
            snap_id: "id",
            content: "",
        };
        let (plug, slot) = (side("alice"), side("bob"));
        let rule = |r: HeaderValue| map(vec![("dbus", r)]);
        let d = |h: &HeaderValue| decide(Some(h), &plug, &slot, "plug-");
        assert_eq!(decide(None, &plug, &slot, "plug-"), None);
        assert_eq!(d(&map(vec![("network", s("true"))])), None);
        assert_eq!(
            d(&rule(map(vec![("allow-connection", s("true"))]))),
            Some(true)
        );
        // A rule about auto-connection only: connecting is allowed (missing allow-connection).
        assert_eq!(
            d(&rule(map(vec![("allow-auto-connection", s("true"))]))),
            Some(true)
        );
        assert_eq!(
            d(&rule(map(vec![("deny-connection", s("true"))]))),
            Some(false)
        );
        let by_publisher = |p: &str| {
            rule(map(vec![(
                "allow-connection",
                map(vec![("plug-publisher-id", HeaderValue::List(vec![s(p)]))]),
            )]))
        };
        assert_eq!(d(&by_publisher("alice")), Some(true));
        assert_eq!(d(&by_publisher("mallory")), Some(false));
        // An attribute constraint is not understood: never met.
        let by_name = rule(map(vec![(
            "allow-connection",
            map(vec![("plug-attributes", map(vec![("name", s("org.a.B"))]))]),
        )]));
        assert_eq!(d(&by_name), Some(false));
    }
}
