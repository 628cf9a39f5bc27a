//! Layouts (`layout:` in snap.yaml): paths in the sandbox made from the snap's own files. The rules
//! are snapd's (DESIGN.md §7): no forbidden targets, no new top-level entries, sources only under
//! `$SNAP`, `$SNAP_DATA` or `$SNAP_COMMON`, exactly one kind per entry.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use crate::yaml::{Node, Warnings, YamlError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutKind {
    /// A directory bind-mounted from the source.
    Bind(String),
    /// A file bind-mounted from the source.
    BindFile(String),
    /// A symbolic link to the source.
    Symlink(String),
    /// A fresh tmpfs.
    Tmpfs,
}

impl LayoutKind {
    pub fn source(&self) -> Option<&str> {
        match self {
            LayoutKind::Bind(s) | LayoutKind::BindFile(s) | LayoutKind::Symlink(s) => Some(s),
            LayoutKind::Tmpfs => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub path: String,
    pub kind: LayoutKind,
    pub user: String,
    pub group: String,
    pub mode: u32,
}

/// Targets a layout may not be at or under.
pub const FORBIDDEN: &[&str] = &[
    "/boot",
    "/dev",
    "/home",
    "/lib/firmware",
    "/usr/lib/firmware",
    "/lib/modules",
    "/usr/lib/modules",
    "/lost+found",
    "/media",
    "/proc",
    "/run",
    "/var/run",
    "/sys",
    "/tmp",
    "/var/lib/snapd",
    "/var/snap",
    "/var/lib/snapshelf",
];

/// The top-level directories a layout may live under (it may not make a new one).
pub const TOP_LEVEL: &[&str] = &[
    "bin", "etc", "lib", "lib64", "meta", "mnt", "opt", "root", "sbin", "snap", "srv", "usr",
    "var", "writable",
];

const SOURCE_ROOTS: &[&str] = &["$SNAP_COMMON", "$SNAP_DATA", "$SNAP"];

fn err(field: String, message: impl Into<String>) -> YamlError {
    YamlError {
        field,
        message: message.into(),
    }
}

fn is_clean_absolute(p: &str) -> bool {
    p.starts_with('/')
        && (p == "/" || !p.ends_with('/'))
        && !p.contains("//")
        && p.split('/').all(|c| c != "." && c != "..")
}

fn under(path: &str, dir: &str) -> bool {
    path == dir || path.starts_with(&format!("{dir}/"))
}

/// Parse one `layout.<path>` entry on its own (the fuzz target's way in); unknown keys are ignored
/// as snapd ignores them, and their warnings dropped (`SnapYaml::parse` keeps them).
pub fn parse_entry(path: &str, node: &Node) -> Result<Layout, YamlError> {
    parse(path, node, &mut Warnings::default())
}

/// Parse one `layout.<path>` entry.
/// Unknown keys are noted in `w` and ignored, as snapd ignores them.
pub(crate) fn parse(path: &str, node: &Node, w: &mut Warnings) -> Result<Layout, YamlError> {
    let field = format!("layout.{path}");
    let Node::Map(entries) = node else {
        return Err(err(
            field,
            "must be a map with one of bind, bind-file, symlink or type",
        ));
    };
    let mut kinds = Vec::new();
    let mut user = "root".to_string();
    let mut group = "root".to_string();
    let mut mode = 0o755;
    for (k, v) in entries {
        let f = format!("{field}.{k}");
        let value = || {
            v.as_str()
                .ok_or_else(|| err(f.clone(), "must be a single value"))
        };
        match k.as_str() {
            "bind" => kinds.push(LayoutKind::Bind(value()?.to_string())),
            "bind-file" => kinds.push(LayoutKind::BindFile(value()?.to_string())),
            "symlink" => kinds.push(LayoutKind::Symlink(value()?.to_string())),
            "type" => {
                let value = value()?;
                if value != "tmpfs" {
                    return Err(err(f, format!("unknown type {value:?} (only tmpfs)")));
                }
                kinds.push(LayoutKind::Tmpfs);
            }
            "user" => user = value()?.to_string(),
            "group" => group = value()?.to_string(),
            "mode" => {
                let value = value()?;
                let digits = value.strip_prefix("0o").unwrap_or(value);
                mode = u32::from_str_radix(digits, 8)
                    .ok()
                    .filter(|m| *m <= 0o1777)
                    .ok_or_else(|| {
                        err(
                            f.clone(),
                            format!("{value:?} is not an octal mode of at most 01777"),
                        )
                    })?;
            }
            _ => w.unknown_key(&f),
        }
    }
    if kinds.len() != 1 {
        return Err(err(
            field,
            if kinds.is_empty() {
                "needs one of bind, bind-file, symlink or type: tmpfs"
            } else {
                "can have only one of bind, bind-file, symlink or type: tmpfs"
            },
        ));
    }
    Ok(Layout {
        path: path.to_string(),
        kind: kinds.remove(0),
        user,
        group,
        mode,
    })
}

/// Check every rule, for one entry and across entries.
pub fn validate_layouts(layouts: &[Layout], snap_name: &str) -> Result<(), YamlError> {
    let mut source_kinds: BTreeMap<&str, bool> = BTreeMap::new();
    let paths: BTreeSet<&str> = layouts.iter().map(|l| l.path.as_str()).collect();
    for l in layouts {
        let field = format!("layout.{}", l.path);
        let p = l.path.as_str();
        if !is_clean_absolute(p) || p == "/" {
            return Err(err(
                field,
                "must be a clean absolute path (no '..', '.', '//' or trailing '/')",
            ));
        }
        if let Some(f) = FORBIDDEN.iter().find(|f| under(p, f)) {
            return Err(err(field, format!("cannot be at or under {f}")));
        }
        let top = p.split('/').nth(1).unwrap_or("");
        if !TOP_LEVEL.contains(&top) {
            return Err(err(
                field,
                format!("cannot create the new top-level directory /{top}"),
            ));
        }
        if under(p, "/snap") && !under(p, &format!("/snap/{snap_name}")) {
            return Err(err(field, "cannot be under another snap's /snap directory"));
        }
        if p.chars().any(|c| "*?[]{}\"\\".contains(c)) || p.contains(char::is_control) {
            return Err(err(field, "cannot contain glob or control characters"));
        }
        // Only a clean ancestor of `p` can contain it: look those up, shallowest first, rather than
        // comparing with every other layout (quadratic in the number of layouts).
        if let Some(other) = p
            .match_indices('/')
            .skip(1)
            .map(|(i, _)| &p[..i])
            .find(|a| paths.contains(a))
        {
            return Err(err(field, format!("cannot be under the layout {other}")));
        }
        if l.user != "root" {
            return Err(err(format!("{field}.user"), "only root is supported"));
        }
        if l.group != "root" {
            return Err(err(format!("{field}.group"), "only root is supported"));
        }
        if let Some(src) = l.kind.source() {
            let sub = match &l.kind {
                LayoutKind::Bind(_) => "bind",
                LayoutKind::BindFile(_) => "bind-file",
                _ => "symlink",
            };
            let sf = format!("{field}.{sub}");
            let root = SOURCE_ROOTS
                .iter()
                .find(|r| src == **r || src.starts_with(&format!("{r}/")))
                .ok_or_else(|| {
                    err(
                        sf.clone(),
                        "must start with $SNAP, $SNAP_DATA or $SNAP_COMMON",
                    )
                })?;
            let rest = &src[root.len()..];
            if !rest.is_empty() && !is_clean_absolute(rest) {
                return Err(err(
                    sf,
                    "must be a clean path (no '..', '.', '//' or trailing '/')",
                ));
            }
            if src.chars().any(|c| "*?[]{}\"\\".contains(c)) {
                return Err(err(sf, "cannot contain glob characters"));
            }
            let is_file = matches!(l.kind, LayoutKind::BindFile(_));
            if !matches!(l.kind, LayoutKind::Symlink(_)) {
                if let Some(prev) = source_kinds.insert(src, is_file) {
                    if prev != is_file {
                        return Err(err(
                            sf,
                            "the same source is used both as a file and as a directory",
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Directories that `$SNAP`, `$SNAP_DATA` and `$SNAP_COMMON` stand for.
#[derive(Debug, Clone)]
pub struct SourceRoots {
    pub snap: PathBuf,
    pub data: PathBuf,
    pub common: PathBuf,
}

/// Expand a layout source into a path under its root. Anything that would leave the root is refused.
pub fn expand_source(source: &str, roots: &SourceRoots) -> Result<PathBuf, String> {
    let (base, rest) = if let Some(r) = source.strip_prefix("$SNAP_COMMON") {
        (&roots.common, r)
    } else if let Some(r) = source.strip_prefix("$SNAP_DATA") {
        (&roots.data, r)
    } else if let Some(r) = source.strip_prefix("$SNAP") {
        (&roots.snap, r)
    } else {
        return Err(format!(
            "{source:?} does not start with $SNAP, $SNAP_DATA or $SNAP_COMMON"
        ));
    };
    if !rest.is_empty() && !rest.starts_with('/') {
        return Err(format!("{source:?} is not a path under its variable"));
    }
    let mut out = base.clone();
    for c in Path::new(rest).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(p) => out.push(p),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(format!("{source:?} climbs out of its root"));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::SnapYaml;

    fn with_layout(body: &str) -> Result<SnapYaml, YamlError> {
        SnapYaml::parse(&format!("name: foo\nlayout:\n{body}"))
    }

    #[test]
    fn the_seed_example_is_valid() {
        let y = with_layout(
            "  /var/lib/foo:\n    bind: $SNAP_DATA/var/lib/foo\n  /usr/share/foo:\n    bind: $SNAP/usr/share/foo\n  /etc/foo.conf:\n    bind-file: $SNAP_DATA/etc/foo.conf\n  /opt/x:\n    type: tmpfs\n    mode: 01777\n  /usr/lib/x:\n    symlink: $SNAP/lib/x\n",
        )
        .unwrap();
        assert_eq!(y.layout.len(), 5);
        let tmp = y.layout.iter().find(|l| l.path == "/opt/x").unwrap();
        assert_eq!(tmp.kind, LayoutKind::Tmpfs);
        assert_eq!(tmp.mode, 0o1777);
    }

    #[test]
    fn every_rule_rejects() {
        let cases: Vec<(String, &str)> = FORBIDDEN
            .iter()
            .map(|f| {
                (
                    format!("  {f}/x:\n    bind: $SNAP/x\n"),
                    "cannot be at or under",
                )
            })
            .chain([
                (
                    "  /usr/../etc:\n    bind: $SNAP/x\n".to_string(),
                    "clean absolute",
                ),
                (
                    "  /usr/x:\n    bind: $SNAP/../../etc\n".into(),
                    "clean path",
                ),
                ("  /usr/x:\n    bind: /etc\n".into(), "must start with"),
                ("  /usr/x:\n    bind: $HOME/x\n".into(), "must start with"),
                (
                    "  /usr/x:\n    bind: $SNAP/a\n    symlink: $SNAP/b\n".into(),
                    "only one",
                ),
                ("  /usr/x: {}\n".into(), "needs one of"),
                ("  /newtop:\n    bind: $SNAP/x\n".into(), "new top-level"),
                ("  /usr/x:\n    type: ramfs\n".into(), "only tmpfs"),
                (
                    "  /usr/x:\n    type: tmpfs\n    mode: 0999\n".into(),
                    "octal",
                ),
                (
                    "  /usr/x:\n    type: tmpfs\n    user: daemon\n".into(),
                    "only root",
                ),
                (
                    "  /snap/other/x:\n    bind: $SNAP/x\n".into(),
                    "another snap",
                ),
                (
                    "  /usr/x:\n    bind: $SNAP/a\n  /usr/x/y:\n    bind: $SNAP/b\n".into(),
                    "under the layout",
                ),
                (
                    "  /usr/x:\n    bind: $SNAP/a\n  /usr/y:\n    bind-file: $SNAP/a\n".into(),
                    "both as a file",
                ),
                ("  /usr/x*:\n    bind: $SNAP/a\n".into(), "glob"),
                // An unknown key is ignored (as snapd does), which leaves no kind here.
                ("  /usr/x:\n    colour: red\n".into(), "needs one of"),
            ])
            .collect();
        for (body, words) in cases {
            let e = with_layout(&body).unwrap_err();
            assert!(e.field.starts_with("layout."), "{e}");
            assert!(
                e.to_string().contains(words),
                "{body}: {e} should say {words:?}"
            );
        }
    }

    #[test]
    fn unknown_layout_keys_are_ignored_with_a_warning() {
        let y = with_layout(
            "  /usr/x:\n    bind: $SNAP/x\n    colour: red\n    future: {nested: [1, 2]}\n",
        )
        .unwrap();
        assert_eq!(y.layout[0].kind, LayoutKind::Bind("$SNAP/x".into()));
        assert_eq!(
            y.warnings,
            [
                "layout./usr/x.colour: unknown key, ignored (as snapd does)",
                "layout./usr/x.future: unknown key, ignored (as snapd does)"
            ]
        );
        // Known keys keep their types.
        let e = with_layout("  /usr/x:\n    bind: [$SNAP/x]\n").unwrap_err();
        assert_eq!(e.field, "layout./usr/x.bind");
    }

    #[test]
    fn sources_expand_inside_their_roots() {
        let roots = SourceRoots {
            snap: "/snap/foo/1".into(),
            data: "/var/snap/foo/1".into(),
            common: "/var/snap/foo/common".into(),
        };
        assert_eq!(
            expand_source("$SNAP/usr/share/foo", &roots).unwrap(),
            Path::new("/snap/foo/1/usr/share/foo")
        );
        assert_eq!(
            expand_source("$SNAP_DATA/x", &roots).unwrap(),
            Path::new("/var/snap/foo/1/x")
        );
        assert_eq!(
            expand_source("$SNAP_COMMON", &roots).unwrap(),
            Path::new("/var/snap/foo/common")
        );
        assert!(expand_source("$SNAP/../x", &roots).is_err());
        assert!(expand_source("$SNAPPY/x", &roots).is_err());
        assert!(expand_source("/etc", &roots).is_err());
    }
}
