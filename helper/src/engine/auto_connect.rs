//! What a snap's own snap-declaration says about auto-connecting its plugs, beyond the base
//! declaration (snapd's `interfaces/policy`: a snap-declaration's `plugs: <interface>:`
//! `allow-auto-connection` / `deny-auto-connection` rules override the base declaration's for that
//! interface). The base declaration keeps a `browser-support` plug with `allow-sandbox: true` from
//! connecting by itself; a declaration rule lets it. Evaluated when a revision is linked, against
//! its plugs' attributes; the result is kept in the snap's state (`declared_auto_connect`) for the
//! policy (`interfaces::policy`).
//!
//! The constraints understood are snapd's `plug-attributes` (each attribute equal to the given
//! text) and `slot-snap-type` (the system's slot is of type `core`/`snapd`); a rule with any other
//! constraint is taken as not matching, so nothing connects on a rule this code cannot read.

use std::collections::BTreeSet;

use snapshelf_snap::assert::{Database, HeaderValue};
use snapshelf_snap::yaml::{Node, SnapYaml};

use crate::state::SnapState;

/// The plugs of `snap`'s current revision that its kept snap-declaration lets auto-connect.
pub fn declared(db: &Database, snap: &SnapState, yaml: &SnapYaml) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if snap.snap_id.is_empty() {
        return out;
    }
    let Some(decl) = db.find("snap-declaration", &["16", &snap.snap_id]) else {
        return out;
    };
    let Some(HeaderValue::Map(rules)) = decl.header("plugs") else {
        return out;
    };
    for (plug, p) in &yaml.plugs {
        let Some((_, HeaderValue::Map(rule))) = rules.iter().find(|(i, _)| *i == p.interface)
        else {
            continue;
        };
        let get = |k: &str| rule.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        let allowed = get("allow-auto-connection").is_some_and(|c| matches(c, &p.attrs));
        let denied = get("deny-auto-connection").is_some_and(|c| matches(c, &p.attrs));
        if allowed && !denied {
            out.insert(plug.clone());
        }
    }
    out
}

/// Whether a rule's constraints hold for a plug with `attrs`: `true`/`false`, a map of
/// constraints (all must hold), or a list of alternatives (any).
fn matches(c: &HeaderValue, attrs: &[(String, Node)]) -> bool {
    match c {
        HeaderValue::Str(s) => s == "true",
        HeaderValue::List(alternatives) => alternatives.iter().any(|a| matches(a, attrs)),
        HeaderValue::Map(constraints) => constraints.iter().all(|(k, v)| match k.as_str() {
            "plug-attributes" => plug_attributes(v, attrs),
            "slot-snap-type" => match v {
                HeaderValue::List(types) => types
                    .iter()
                    .any(|t| matches!(t.as_str(), Some("core" | "snapd"))),
                HeaderValue::Str(t) => t == "core" || t == "snapd",
                HeaderValue::Map(_) => false,
            },
            _ => false,
        }),
    }
}

/// Every attribute the constraint names, equal to its text on the plug.
fn plug_attributes(v: &HeaderValue, attrs: &[(String, Node)]) -> bool {
    let HeaderValue::Map(wanted) = v else {
        return false;
    };
    wanted.iter().all(|(name, want)| {
        let have = attrs.iter().find(|(k, _)| k == name).map(|(_, n)| n);
        match (want, have) {
            (HeaderValue::Str(w), Some(Node::Scalar { text, .. })) => w == text,
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(yaml: &str) -> Vec<(String, Node)> {
        let y = SnapYaml::parse(&format!(
            "name: browser\nversion: '1'\nplugs:\n  browser-sandbox:\n    interface: browser-support\n{yaml}"
        ))
        .unwrap();
        y.plugs["browser-sandbox"].attrs.clone()
    }

    fn s(v: &str) -> HeaderValue {
        HeaderValue::Str(v.into())
    }

    #[test]
    fn rules_as_snapd_reads_them() {
        let sandbox = attrs("    allow-sandbox: true\n");
        let plain = attrs("");
        assert!(matches(&s("true"), &sandbox));
        assert!(!matches(&s("false"), &sandbox));
        let on_attr = HeaderValue::Map(vec![(
            "plug-attributes".into(),
            HeaderValue::Map(vec![("allow-sandbox".into(), s("true"))]),
        )]);
        assert!(matches(&on_attr, &sandbox));
        assert!(!matches(&on_attr, &plain));
        let alternatives = HeaderValue::List(vec![
            HeaderValue::Map(vec![("on-store".into(), HeaderValue::List(vec![s("x")]))]),
            HeaderValue::Map(vec![(
                "slot-snap-type".into(),
                HeaderValue::List(vec![s("core")]),
            )]),
        ]);
        // The first alternative is not understood (never matches); the second holds.
        assert!(matches(&alternatives, &plain));
        let unknown = HeaderValue::Map(vec![("plug-names".into(), s("x"))]);
        assert!(!matches(&unknown, &sandbox));
    }
}
