//! snap.yaml's `system-usernames`: system users a snap asks the system to have for it (snapd 2.41
//! on), each either `name: scope` or `name: {scope: …, attributes: {…}}`.
//!
//! Parsing refuses the shapes snapd's parser refuses (an empty name, no scope, a definition that
//! is neither a scope nor a map, an unknown key). Which names and scopes snapd knows is kept here
//! so the installer can refuse the rest in snapd's words ([`unsupported`]); Snapshelf creates no
//! such user yet, so the installer refuses the supported ones too (helper `engine/snap_meta.rs`).

use crate::yaml::{Node, YamlError};

/// The names snapd creates users for (snapd's `SupportedSystemUsernames`).
pub const SUPPORTED_NAMES: &[&str] = &[
    "snap_daemon",
    "_daemon_",
    "snap_microk8s",
    "snap_aziotedge",
    "snap_aziotdu",
];

/// One entry of `system-usernames`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemUsername {
    pub name: String,
    /// `shared` is the only scope snapd supports; `private` and `external` are reserved.
    pub scope: String,
}

/// Why snapd would refuse an entry, in its words (`snap "<snap>" requires …`), without the snap's
/// name: `None` for a supported name with the `shared` scope.
pub fn unsupported(user: &SystemUsername) -> Option<String> {
    if !SUPPORTED_NAMES.contains(&user.name.as_str()) {
        return Some(format!("unsupported system username \"{}\"", user.name));
    }
    match user.scope.as_str() {
        "shared" => None,
        "private" | "external" => Some(format!(
            "unsupported user scope \"{}\" for this version of snapd",
            user.scope
        )),
        other => Some(format!("unsupported user scope \"{other}\"")),
    }
}

fn err(field: String, message: impl Into<String>) -> YamlError {
    YamlError {
        field,
        message: message.into(),
    }
}

/// The `system-usernames` map, in the file's order.
pub(crate) fn parse(field: &str, node: &Node) -> Result<Vec<SystemUsername>, YamlError> {
    let entries = match node {
        Node::Null => return Ok(Vec::new()),
        Node::Map(m) => m,
        _ => return Err(err(field.to_string(), "must be a map of user names")),
    };
    let mut users = Vec::with_capacity(entries.len());
    for (name, def) in entries {
        if name.is_empty() {
            return Err(err(field.to_string(), "system username cannot be empty"));
        }
        let f = format!("{field}.{name}");
        let scope = match def {
            Node::Scalar { text, .. } => text.clone(),
            Node::Map(keys) => map_scope(&f, name, keys)?,
            _ => {
                return Err(err(
                    f,
                    format!(
                    "system username \"{name}\" has malformed definition (not a scope nor a map)"
                ),
                ))
            }
        };
        if scope.is_empty() {
            return Err(err(
                f,
                format!("system username \"{name}\" does not specify scope"),
            ));
        }
        users.push(SystemUsername {
            name: name.clone(),
            scope,
        });
    }
    Ok(users)
}

/// The scope of the map form; `attributes` must be a map (snapd keeps it, nothing uses it).
fn map_scope(f: &str, name: &str, keys: &[(String, Node)]) -> Result<String, YamlError> {
    let mut scope = String::new();
    for (k, v) in keys {
        match (k.as_str(), v) {
            ("scope", Node::Scalar { text, .. }) => scope = text.clone(),
            ("scope", _) => {
                return Err(err(
                    format!("{f}.scope"),
                    format!("scope for system username \"{name}\" must be a string"),
                ))
            }
            ("attributes", Node::Map(_) | Node::Null) => {}
            ("attributes", _) => {
                return Err(err(
                    format!("{f}.attributes"),
                    format!("attributes for system username \"{name}\" must be a map"),
                ))
            }
            (other, _) => {
                return Err(err(
                    f.to_string(),
                    format!("system username \"{name}\" has unknown attribute key \"{other}\""),
                ))
            }
        }
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::SnapYaml;

    fn parse_yaml(body: &str) -> Result<SnapYaml, YamlError> {
        SnapYaml::parse(&format!("name: foo\nversion: '1'\n{body}"))
    }

    fn user(name: &str, scope: &str) -> SystemUsername {
        SystemUsername {
            name: name.into(),
            scope: scope.into(),
        }
    }

    #[test]
    fn both_forms_parse() {
        let y = parse_yaml(
            "system-usernames:\n  snap_daemon: shared\n  _daemon_:\n    scope: shared\n    attributes: {}\n",
        )
        .unwrap();
        assert_eq!(
            y.system_usernames,
            vec![user("snap_daemon", "shared"), user("_daemon_", "shared")]
        );
        assert!(parse_yaml("").unwrap().system_usernames.is_empty());
    }

    #[test]
    fn malformed_forms_are_refused_naming_the_field() {
        for (body, field, words) in [
            (
                "system-usernames: [snap_daemon]",
                "system-usernames",
                "must be a map",
            ),
            (
                "system-usernames:\n  snap_daemon: [shared]",
                "system-usernames.snap_daemon",
                "malformed definition",
            ),
            (
                "system-usernames:\n  snap_daemon:\n    attributes: {}",
                "system-usernames.snap_daemon",
                "does not specify scope",
            ),
            (
                "system-usernames:\n  snap_daemon: ''",
                "system-usernames.snap_daemon",
                "does not specify scope",
            ),
            (
                "system-usernames:\n  snap_daemon:\n    scope: [shared]",
                "system-usernames.snap_daemon.scope",
                "must be a string",
            ),
            (
                "system-usernames:\n  snap_daemon:\n    scope: shared\n    owner: me",
                "system-usernames.snap_daemon",
                "unknown attribute key \"owner\"",
            ),
            (
                "system-usernames:\n  snap_daemon:\n    scope: shared\n    attributes: x",
                "system-usernames.snap_daemon.attributes",
                "must be a map",
            ),
        ] {
            let e = parse_yaml(body).expect_err(body);
            assert_eq!(e.field, field, "{body}: {e}");
            assert!(e.message.contains(words), "{body}: {e}");
        }
    }

    #[test]
    fn unsupported_names_and_scopes_in_snapds_words() {
        assert_eq!(unsupported(&user("snap_daemon", "shared")), None);
        assert_eq!(unsupported(&user("snap_aziotdu", "shared")), None);
        assert_eq!(
            unsupported(&user("daemon", "shared")).unwrap(),
            "unsupported system username \"daemon\""
        );
        assert_eq!(
            unsupported(&user("snap_daemon", "private")).unwrap(),
            "unsupported user scope \"private\" for this version of snapd"
        );
        assert_eq!(
            unsupported(&user("snap_daemon", "other")).unwrap(),
            "unsupported user scope \"other\""
        );
    }
}
