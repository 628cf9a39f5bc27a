//! The plug attributes that change a sandbox, checked as snapd checks them before a snap is
//! installed (`BeforePreparePlug`): `browser-support`'s `allow-sandbox`, and the `read`/`write`
//! paths of `personal-files` (under `$HOME/`) and `system-files` (absolute, outside home).

use snapshelf_snap::profile::PlugAttrs;
use snapshelf_snap::yaml::{Node, SnapYaml};

type Attrs = [(String, Node)];

fn get<'a>(attrs: &'a Attrs, key: &str) -> Option<&'a Node> {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// `allow-sandbox: true` (checked to be a boolean by [`check`]).
pub fn allow_sandbox(attrs: &Attrs) -> bool {
    matches!(get(attrs, "allow-sandbox"), Some(Node::Scalar { text, quoted: false }) if text == "true")
}

fn path_list(plug: &str, attrs: &Attrs, key: &str) -> Result<Vec<String>, String> {
    let field = format!("plugs.{plug}.{key}");
    match get(attrs, key) {
        None => Ok(Vec::new()),
        Some(Node::Seq(items)) => items
            .iter()
            .map(|n| match n {
                Node::Scalar { text, .. } => Ok(text.clone()),
                _ => Err(format!("{field}: each entry must be a path")),
            })
            .collect(),
        Some(_) => Err(format!("{field}: must be a list of paths")),
    }
}

/// One declared path: clean (no `.` or `..` component, no `//`, no trailing `/`), no glob or
/// AppArmor pattern characters, and under `$HOME/` (personal) or absolute outside it (system).
fn check_path(field: &str, path: &str, personal: bool) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{field}: {path:?} {why}"));
    let rest = if personal {
        match path.strip_prefix("$HOME/") {
            Some(r) => r,
            None => return bad("must start with \"$HOME/\""),
        }
    } else {
        match path.strip_prefix('/') {
            Some(r) => r,
            None => return bad("must start with \"/\""),
        }
    };
    if rest.contains('$') {
        return bad("may use $HOME only at its start (personal-files) and nowhere else");
    }
    if rest.is_empty()
        || rest
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return bad("must be a clean path (no \".\", \"..\", \"//\" or trailing \"/\")");
    }
    if rest
        .chars()
        .any(|c| "*?[]{}^\"\\,".contains(c) || c.is_control())
    {
        return bad("must not contain patterns or quotes");
    }
    if !personal && (path == "/home" || path.starts_with("/home/")) {
        return bad("is in home folders: that is for personal-files");
    }
    Ok(())
}

/// Check every plug's attributes of a snap.yaml; the error names the plug and the field.
pub fn check(yaml: &SnapYaml) -> Result<(), String> {
    for (name, plug) in &yaml.plugs {
        match plug.interface.as_str() {
            "browser-support" => match get(&plug.attrs, "allow-sandbox") {
                None => {}
                Some(Node::Scalar {
                    text,
                    quoted: false,
                }) if text == "true" || text == "false" => {}
                Some(_) => {
                    return Err(format!(
                        "plugs.{name}.allow-sandbox: browser-support needs true or false"
                    ))
                }
            },
            "desktop" => {
                desktop_file_ids_of(name, &plug.attrs)?;
            }
            i @ ("personal-files" | "system-files") => {
                let personal = i == "personal-files";
                let read = path_list(name, &plug.attrs, "read")?;
                let write = path_list(name, &plug.attrs, "write")?;
                if read.is_empty() && write.is_empty() {
                    return Err(format!(
                        "plugs.{name}: {i} needs a \"read\" or \"write\" list of paths"
                    ));
                }
                for (key, list) in [("read", &read), ("write", &write)] {
                    for path in list {
                        check_path(&format!("plugs.{name}.{key}"), path, personal)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// What a profile records of a (checked) plug's attributes.
pub fn for_profile(interface: &str, attrs: &Attrs) -> PlugAttrs {
    let list = |key| path_list("", attrs, key).unwrap_or_default();
    match interface {
        "browser-support" => PlugAttrs {
            allow_sandbox: allow_sandbox(attrs),
            ..PlugAttrs::default()
        },
        "personal-files" | "system-files" => PlugAttrs {
            read: list("read"),
            write: list("write"),
            ..PlugAttrs::default()
        },
        _ => PlugAttrs::default(),
    }
}

/// A `desktop` plug's `desktop-file-ids` (optional), with snapd's checks and words: a list of
/// strings, each a D-Bus well-known name (dots between elements of letters, digits, `_` and `-`,
/// none starting with a digit; a single element is allowed).
fn desktop_file_ids_of(plug: &str, attrs: &Attrs) -> Result<Vec<String>, String> {
    let not_list = || {
        format!("plugs.{plug}.desktop-file-ids: cannot add desktop plug: \"desktop-file-ids\" must be a list of strings")
    };
    let list = match get(attrs, "desktop-file-ids") {
        None => return Ok(Vec::new()),
        Some(Node::Seq(list)) => list,
        Some(_) => return Err(not_list()),
    };
    let element = |e: &str| {
        !e.is_empty()
            && !e.starts_with(|c: char| c.is_ascii_digit())
            && e.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let mut out = Vec::new();
    for n in list {
        let Node::Scalar { text, .. } = n else {
            return Err(not_list());
        };
        if !text.split('.').all(element) {
            return Err(format!(
                "plugs.{plug}.desktop-file-ids: desktop-file-ids entry {text:?} is not a valid D-Bus well-known name"
            ));
        }
        out.push(text.clone());
    }
    Ok(out)
}

/// The desktop file names (`<id>.desktop`) the snap's `desktop` plugs keep unprefixed, as snapd's
/// `DesktopPlugFileIDs`: plugs in name order, `.desktop` added, each once. Checked at install.
pub fn desktop_file_ids(yaml: &SnapYaml) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // `plugs` is a BTreeMap: in name order.
    for (name, plug) in yaml.plugs.iter().filter(|(_, p)| p.interface == "desktop") {
        for id in desktop_file_ids_of(name, &plug.attrs).unwrap_or_default() {
            let file = if id.ends_with(".desktop") {
                id
            } else {
                format!("{id}.desktop")
            };
            if !out.contains(&file) {
                out.push(file);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(plugs: &str) -> SnapYaml {
        let text =
            format!("name: pp\nversion: '1'\nplugs:\n{plugs}apps:\n  p:\n    command: bin/p\n");
        SnapYaml::parse(&text).unwrap()
    }

    #[test]
    fn good_attributes_pass_and_reach_the_profile() {
        let y = yaml(
            "  browser-sandbox:\n    interface: browser-support\n    allow-sandbox: true\n  \
             dots:\n    interface: personal-files\n    read: [$HOME/.config/app]\n    \
             write: [$HOME/.app-data]\n  etc:\n    interface: system-files\n    \
             read: [/etc/app.conf]\n",
        );
        check(&y).unwrap();
        let p = |n: &str| for_profile(&y.plugs[n].interface, &y.plugs[n].attrs);
        assert!(p("browser-sandbox").allow_sandbox);
        assert_eq!(p("dots").read, ["$HOME/.config/app"]);
        assert_eq!(p("dots").write, ["$HOME/.app-data"]);
        assert_eq!(p("etc").read, ["/etc/app.conf"]);
        let y = yaml("  b:\n    interface: browser-support\n    allow-sandbox: false\n");
        check(&y).unwrap();
        assert!(!allow_sandbox(&y.plugs["b"].attrs));
    }

    /// snapd's rules for the paths: `..`, paths outside home, patterns and `$HOME` elsewhere
    /// than at the start are refused, naming the plug and the field.
    #[test]
    fn bad_paths_and_values_are_refused_by_name() {
        for (plugs, wanted) in [
            (
                "    interface: personal-files\n    read: [$HOME/../other]\n",
                "p.read",
            ),
            (
                "    interface: personal-files\n    write: [$HOME/a/../../x]\n",
                "p.write",
            ),
            (
                "    interface: personal-files\n    read: [/etc/passwd]\n",
                "$HOME/",
            ),
            (
                "    interface: personal-files\n    read: [$HOME/a/$HOME]\n",
                "$HOME",
            ),
            (
                "    interface: personal-files\n    read: [$HOME/]\n",
                "clean",
            ),
            (
                "    interface: personal-files\n    read: [$HOME/a//b]\n",
                "clean",
            ),
            (
                "    interface: personal-files\n    read: [$HOME/.*]\n",
                "patterns",
            ),
            ("    interface: personal-files\n    read: $HOME/x\n", "list"),
            ("    interface: personal-files\n", "needs"),
            ("    interface: system-files\n    read: [etc/x]\n", "\"/\""),
            (
                "    interface: system-files\n    read: [/home/u/x]\n",
                "personal-files",
            ),
            (
                "    interface: system-files\n    write: [/etc/./x]\n",
                "clean",
            ),
            (
                "    interface: browser-support\n    allow-sandbox: yes-please\n",
                "true or false",
            ),
            (
                "    interface: browser-support\n    allow-sandbox: 'true'\n",
                "true or false",
            ),
            (
                "    interface: desktop\n    desktop-file-ids: org.example.Foo\n",
                "\"desktop-file-ids\" must be a list of strings",
            ),
            (
                "    interface: desktop\n    desktop-file-ids: [[a]]\n",
                "must be a list of strings",
            ),
            (
                "    interface: desktop\n    desktop-file-ids: [org.1example]\n",
                "desktop-file-ids entry \"org.1example\" is not a valid D-Bus well-known name",
            ),
            (
                "    interface: desktop\n    desktop-file-ids: ['org.x/../../y']\n",
                "not a valid D-Bus well-known name",
            ),
        ] {
            let err = check(&yaml(&format!("  p:\n{plugs}"))).unwrap_err();
            assert!(err.contains(wanted), "{plugs}: {err}");
            assert!(err.starts_with("plugs.p"), "{err}");
        }
    }

    #[test]
    fn desktop_file_ids_in_plug_order_once_with_their_suffix() {
        let y = yaml(
            "  b:\n    interface: desktop\n    desktop-file-ids: [org.example.Foo, org.example.Bar.desktop]\n  \
             a:\n    interface: desktop\n    desktop-file-ids: [org.example.Foo, single]\n  \
             c:\n    interface: desktop\n",
        );
        check(&y).unwrap();
        assert_eq!(
            desktop_file_ids(&y),
            [
                "org.example.Foo.desktop",
                "single.desktop",
                "org.example.Bar.desktop"
            ]
        );
    }
}
