//! The content interface's attributes, with snapd's rules (`interfaces/builtin/content.go`): a
//! plug names a `target` in its own snap, a slot `read` and `write` paths in its snap (directly,
//! or under `source:`), both a `content` tag that defaults to the plug or slot name. What one
//! connection mounts is [`binds`]: each path of the slot onto the plug's target (or, with
//! `source:`, onto `target/<basename>`), read-only or read-write.
//!
//! Paths stay unexpanded here (`$SNAP/…`, `$SNAP_DATA/…`, `$SNAP_COMMON/…`): the helper and
//! confine expand them for the snap they belong to. Everything is checked before it is used, so a
//! path can never leave its snap's directory.

use crate::yaml::{Node, PlugOrSlot};

/// A content plug, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentPlug {
    pub name: String,
    pub content: String,
    /// Normalised: starts with `$SNAP`, `$SNAP_DATA` or `$SNAP_COMMON`.
    pub target: String,
    /// The snap snapd installs with the plug's snap (`default-provider`, its `:slot` dropped).
    pub default_provider: Option<String>,
}

/// A content slot, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentSlot {
    pub name: String,
    pub content: String,
    /// Normalised as [`ContentPlug::target`].
    pub read: Vec<String>,
    pub write: Vec<String>,
    /// Declared under `source:`: each path is mounted at `target/<basename>`.
    pub source_section: bool,
}

/// One bind mount of a connection: `source` in the slot's snap onto `target` in the plug's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentBind {
    pub source: String,
    pub target: String,
    pub writable: bool,
}

/// Where an unexpanded content path lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Snap,
    Data,
    Common,
}

fn scalar<'a>(field: &str, node: &'a Node) -> Result<&'a str, String> {
    match node {
        Node::Scalar { text, .. } => Ok(text),
        _ => Err(format!("{field} must be a single value")),
    }
}

fn attr<'a>(p: &'a PlugOrSlot, key: &str) -> Option<&'a Node> {
    p.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// The `content` tag, defaulting to the plug's or slot's name, as snapd's `checkLabelAttributes`.
fn tag(field: &str, name: &str, p: &PlugOrSlot) -> Result<String, String> {
    if attr(p, "compatibility").is_some() {
        return Err(format!(
            "{field}.compatibility: compatibility labels are not supported by Snapshelf"
        ));
    }
    match attr(p, "content") {
        None | Some(Node::Null) => Ok(name.to_string()),
        Some(n) => {
            let t = scalar(&format!("{field}.content"), n)?;
            Ok(if t.is_empty() { name } else { t }.to_string())
        }
    }
}

/// Check a content path as snapd's `validatePath` does (no AppArmor pattern characters, clean,
/// not climbing out) and also refuse variables other than a leading `$SNAP`, `$SNAP_DATA` or
/// `$SNAP_COMMON`; return it normalised. A path with no variable is under `$SNAP` (snapd's
/// `resolveSpecialVariable`).
pub fn normalise(field: &str, path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Err(format!("{field}: a content path cannot be empty"));
    }
    if let Some(c) = path
        .chars()
        .find(|c| "?*[]{}^\"\\".contains(*c) || c.is_control())
    {
        return Err(format!(
            "{field}: content interface path is invalid: {path:?} contains {c:?}"
        ));
    }
    let (root, rest) =
        split_root(path).map_err(|e| format!("{field}: content interface path is invalid: {e}"))?;
    let clean = path == "."
        || path == "/"
        || rest.is_empty()
        || rest
            .trim_start_matches('/')
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if !clean || (path.ends_with('/') && path != "/") {
        return Err(format!(
            "{field}: content interface path is not clean: {path:?}"
        ));
    }
    let rest = if path == "." { "" } else { rest };
    let rest = rest.trim_start_matches('/');
    let var = match root {
        Root::Snap => "$SNAP",
        Root::Data => "$SNAP_DATA",
        Root::Common => "$SNAP_COMMON",
    };
    Ok(if rest.is_empty() {
        var.to_string()
    } else {
        format!("{var}/{rest}")
    })
}

/// A path's root and what follows it (which starts with `/` or is empty for a variable; is
/// relative to `$SNAP` without one).
pub fn split_root(path: &str) -> Result<(Root, &str), String> {
    let Some(after) = path.strip_prefix('$') else {
        if path.contains('$') {
            return Err(format!("{path:?} uses a variable after its start"));
        }
        return Ok((Root::Snap, path));
    };
    let end = after.find('/').unwrap_or(after.len());
    let root = match &after[..end] {
        "SNAP" => Root::Snap,
        "SNAP_DATA" => Root::Data,
        "SNAP_COMMON" => Root::Common,
        other => {
            return Err(format!(
                "reference to unknown variable \"${other}\" (only $SNAP, $SNAP_DATA and \
                 $SNAP_COMMON)"
            ))
        }
    };
    let rest = &after[end..];
    if rest.contains('$') {
        return Err(format!("{path:?} uses a variable after its start"));
    }
    Ok((root, rest))
}

/// The components of a normalised path below its root.
pub fn below_root(path: &str) -> (Root, Vec<String>) {
    let (root, rest) = split_root(path).expect("normalised content path");
    let parts = rest
        .split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    (root, parts)
}

impl ContentPlug {
    /// `field` names the plug in snap.yaml (`plugs.<name>`).
    pub fn parse(field: &str, name: &str, p: &PlugOrSlot) -> Result<ContentPlug, String> {
        let content = tag(field, name, p)?;
        let target = match attr(p, "target") {
            None | Some(Node::Null) => {
                return Err(format!("{field}: content plug must contain target path"))
            }
            Some(n) => scalar(&format!("{field}.target"), n)?,
        };
        let target = normalise(&format!("{field}.target"), target)?;
        let default_provider = match attr(p, "default-provider") {
            None | Some(Node::Null) => None,
            Some(n) => {
                let f = format!("{field}.default-provider");
                let v = scalar(&f, n)?;
                // snapd reads an old `snap:slot` form by its snap name.
                let snap = v.split(':').next().unwrap_or_default();
                crate::naming::validate_snap_name(snap).map_err(|e| format!("{f}: {e}"))?;
                Some(snap.to_string())
            }
        };
        Ok(ContentPlug {
            name: name.to_string(),
            content,
            target,
            default_provider,
        })
    }
}

fn paths(field: &str, node: Option<&Node>) -> Result<Vec<String>, String> {
    match node {
        None | Some(Node::Null) => Ok(Vec::new()),
        Some(Node::Seq(items)) => items
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let f = format!("{field}[{i}]");
                normalise(&f, scalar(&f, n)?)
            })
            .collect(),
        Some(_) => Err(format!("{field} must be a list of paths")),
    }
}

impl ContentSlot {
    /// `field` names the slot in snap.yaml (`slots.<name>`).
    pub fn parse(field: &str, name: &str, p: &PlugOrSlot) -> Result<ContentSlot, String> {
        let content = tag(field, name, p)?;
        let source = attr(p, "source").filter(|n| !matches!(n, Node::Null));
        let (read, write, source_section) = match source {
            Some(Node::Map(entries)) => {
                for key in ["read", "write"] {
                    if attr(p, key).is_some() {
                        return Err(format!(
                            "{field}: move the \"{key}\" attribute into the \"source\" section"
                        ));
                    }
                }
                let get = |k: &str| entries.iter().find(|(e, _)| e == k).map(|(_, v)| v);
                let f = format!("{field}.source");
                (
                    paths(&format!("{f}.read"), get("read"))?,
                    paths(&format!("{f}.write"), get("write"))?,
                    true,
                )
            }
            Some(_) => return Err(format!("{field}.source must be a map")),
            None => (
                paths(&format!("{field}.read"), attr(p, "read"))?,
                paths(&format!("{field}.write"), attr(p, "write"))?,
                false,
            ),
        };
        if read.is_empty() && write.is_empty() {
            return Err(format!("{field}: read or write path must be set"));
        }
        Ok(ContentSlot {
            name: name.to_string(),
            content,
            read,
            write,
            source_section,
        })
    }
}

/// The bind mounts of `plug` connected to `slot`, write paths first (as snapd emits them).
/// Without a `source:` section every path goes onto the target itself (the later one on top).
pub fn binds(plug: &ContentPlug, slot: &ContentSlot) -> Vec<ContentBind> {
    let one = |source: &String, writable: bool| {
        let target = if slot.source_section {
            let (_, parts) = below_root(source);
            match parts.last() {
                Some(base) => format!("{}/{base}", plug.target),
                None => plug.target.clone(),
            }
        } else {
            plug.target.clone()
        };
        ContentBind {
            source: source.clone(),
            target,
            writable,
        }
    };
    let mut out: Vec<ContentBind> = slot.write.iter().map(|s| one(s, true)).collect();
    out.extend(slot.read.iter().map(|s| one(s, false)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::SnapYaml;

    fn yaml(body: &str) -> SnapYaml {
        SnapYaml::parse(&format!("name: tt\nversion: '1'\n{body}")).unwrap()
    }

    #[test]
    fn plugs_follow_snapds_rules() {
        let y = yaml(
            "plugs:\n  shared:\n    interface: content\n    target: import\n    content: mylib\n    default-provider: prov:slot\n  data:\n    interface: content\n    target: $SNAP_DATA/target\n",
        );
        let p = ContentPlug::parse("plugs.shared", "shared", &y.plugs["shared"]).unwrap();
        assert_eq!(p.content, "mylib");
        assert_eq!(p.target, "$SNAP/import");
        assert_eq!(p.default_provider.as_deref(), Some("prov"));
        let d = ContentPlug::parse("plugs.data", "data", &y.plugs["data"]).unwrap();
        assert_eq!(d.content, "data", "the tag defaults to the plug's name");
        assert_eq!(d.target, "$SNAP_DATA/target");
    }

    #[test]
    fn bad_paths_are_refused_with_the_field() {
        for (target, why) in [
            ("$SNAP/../x", "not clean"),
            ("../x", "not clean"),
            ("..", "not clean"),
            ("a//b", "not clean"),
            ("a/", "not clean"),
            ("$HOME/x", "unknown variable"),
            ("$SNAPX/x", "unknown variable"),
            ("$SNAP/a$SNAP", "after its start"),
            ("a/*", "invalid"),
            ("", "empty"),
        ] {
            let y = yaml(&format!(
                "plugs:\n  p:\n    interface: content\n    target: '{target}'\n"
            ));
            let e = ContentPlug::parse("plugs.p", "p", &y.plugs["p"]).unwrap_err();
            assert!(e.contains(why) && e.starts_with("plugs.p"), "{target}: {e}");
        }
        let y = yaml("plugs:\n  p:\n    interface: content\n");
        let e = ContentPlug::parse("plugs.p", "p", &y.plugs["p"]).unwrap_err();
        assert!(e.contains("must contain target"), "{e}");
        let y =
            yaml("slots:\n  s:\n    interface: content\n    read: [$SNAP/a, $SNAP_DATA/../b]\n");
        let e = ContentSlot::parse("slots.s", "s", &y.slots["s"]).unwrap_err();
        assert!(
            e.starts_with("slots.s.read[1]") && e.contains("not clean"),
            "{e}"
        );
        let y = yaml("slots:\n  s:\n    interface: content\n");
        let e = ContentSlot::parse("slots.s", "s", &y.slots["s"]).unwrap_err();
        assert!(e.contains("read or write path must be set"), "{e}");
        let y = yaml(
            "slots:\n  s:\n    interface: content\n    read: [a]\n    source:\n      read: [b]\n",
        );
        let e = ContentSlot::parse("slots.s", "s", &y.slots["s"]).unwrap_err();
        assert!(e.contains("move the \"read\" attribute"), "{e}");
    }

    #[test]
    fn binds_go_onto_the_target_or_under_it_with_source() {
        let y = yaml(
            "plugs:\n  p:\n    interface: content\n    target: $SNAP/content\nslots:\n  old:\n    interface: content\n    read: [/]\n    write: [$SNAP_DATA/w]\n  new:\n    interface: content\n    source:\n      read: [$SNAP/lib/one, $SNAP_COMMON/two]\n",
        );
        let p = ContentPlug::parse("plugs.p", "p", &y.plugs["p"]).unwrap();
        let old = ContentSlot::parse("slots.old", "old", &y.slots["old"]).unwrap();
        assert_eq!(old.read, ["$SNAP"]);
        assert_eq!(
            binds(&p, &old),
            [
                ContentBind {
                    source: "$SNAP_DATA/w".into(),
                    target: "$SNAP/content".into(),
                    writable: true
                },
                ContentBind {
                    source: "$SNAP".into(),
                    target: "$SNAP/content".into(),
                    writable: false
                },
            ]
        );
        let new = ContentSlot::parse("slots.new", "new", &y.slots["new"]).unwrap();
        let targets: Vec<_> = binds(&p, &new).into_iter().map(|b| b.target).collect();
        assert_eq!(targets, ["$SNAP/content/one", "$SNAP/content/two"]);
        assert_eq!(
            below_root("$SNAP_COMMON/two/x"),
            (Root::Common, vec!["two".to_string(), "x".to_string()])
        );
    }
}
