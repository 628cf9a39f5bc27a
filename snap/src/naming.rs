//! Names and revisions: the rules snapd applies to snap, instance, app, hook, plug and slot names.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(pub String);

fn err(msg: impl Into<String>) -> NameError {
    NameError(msg.into())
}

/// The shared shape of snap, plug, slot and interface names: lowercase letters, digits and single
/// hyphens, at least one letter, no hyphen at either end.
fn check_dashed(kind: &str, name: &str, max: usize) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(err(format!("{kind} name cannot be empty")));
    }
    if name.len() > max {
        return Err(err(format!(
            "{kind} name {name:?} is longer than {max} characters"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(err(format!(
            "{kind} name {name:?} contains {c:?}: only lowercase letters, digits and '-' are allowed"
        )));
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        return Err(err(format!(
            "{kind} name {name:?} needs at least one letter"
        )));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(err(format!(
            "{kind} name {name:?} cannot start or end with '-'"
        )));
    }
    if name.contains("--") {
        return Err(err(format!("{kind} name {name:?} cannot contain \"--\"")));
    }
    Ok(())
}

/// Names a snap cannot take because a path made from the name would be another thing:
/// `/snap/bin` holds every snap's launchers, so a snap called `bin` would mount over them.
const RESERVED_SNAP_NAMES: &[&str] = &["bin"];

/// A snap name: 2 to 40 characters, not a reserved one.
pub fn validate_snap_name(name: &str) -> Result<(), NameError> {
    if name.len() < 2 && !name.is_empty() {
        return Err(err(format!(
            "snap name {name:?} is shorter than 2 characters"
        )));
    }
    check_dashed("snap", name, 40)?;
    if RESERVED_SNAP_NAMES.contains(&name) {
        return Err(err(format!(
            "snap name {name:?} is reserved: /snap/{name} is where snaps' commands are linked"
        )));
    }
    Ok(())
}

/// `<name>` or `<name>_<key>`, the key 1 to 10 of `[a-z0-9]`.
pub fn validate_instance_name(name: &str) -> Result<(), NameError> {
    match name.split_once('_') {
        None => validate_snap_name(name),
        Some((snap, key)) => {
            validate_snap_name(snap)?;
            if key.is_empty()
                || key.len() > 10
                || !key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            {
                return Err(err(format!(
                    "instance key {key:?} must be 1 to 10 lowercase letters or digits"
                )));
            }
            Ok(())
        }
    }
}

/// App names: letters (any case), digits and single hyphens, no hyphen at either end.
pub fn validate_app_name(name: &str) -> Result<(), NameError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(err(format!(
            "app name {name:?} must be letters, digits and single '-', not at either end"
        )))
    }
}

pub fn validate_plug_name(name: &str) -> Result<(), NameError> {
    check_dashed("plug", name, 64)
}

pub fn validate_slot_name(name: &str) -> Result<(), NameError> {
    check_dashed("slot", name, 64)
}

pub fn validate_interface_name(name: &str) -> Result<(), NameError> {
    check_dashed("interface", name, 64)
}

const HOOKS: &[&str] = &[
    "install",
    "pre-refresh",
    "post-refresh",
    "remove",
    "configure",
    "default-configure",
    "prepare-device",
    "install-device",
    "prepare-serial-request",
    "check-health",
    "gate-auto-refresh",
    "fde-setup",
];

/// The hooks snapd knows, including the per-plug/slot interface hooks and confdb view hooks.
pub fn validate_hook_name(name: &str) -> Result<(), NameError> {
    if HOOKS.contains(&name) {
        return Ok(());
    }
    for prefix in ["prepare-", "unprepare-", "connect-", "disconnect-"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            for kind in ["plug-", "slot-"] {
                if let Some(p) = rest.strip_prefix(kind) {
                    if check_dashed("plug or slot", p, 64).is_ok() {
                        return Ok(());
                    }
                }
            }
        }
    }
    for infix in ["-view-changed", "-view-"] {
        if let Some((a, b)) = name.split_once(infix) {
            if check_dashed("view", a, 64).is_ok() && check_dashed("view", b, 64).is_ok() {
                return Ok(());
            }
        }
    }
    Err(err(format!("{name:?} is not a valid hook name")))
}

/// Environment variable names: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn validate_env_name(name: &str) -> Result<(), NameError> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(err(format!(
            "{name:?} is not a valid environment variable name"
        )))
    }
}

/// An alias name, snapd's `ValidateAlias`: `^[a-zA-Z0-9][-_.a-zA-Z0-9]*$`.
pub fn validate_alias_name(alias: &str) -> Result<(), NameError> {
    let mut chars = alias.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(err(format!("invalid alias name {alias:?}")))
    }
}

/// A revision: a store revision (an integer ≥ 1) or a local one, `x1`, `x2`, … for files installed
/// without assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Revision {
    Store(u32),
    Local(u32),
}

impl Revision {
    pub fn is_local(&self) -> bool {
        matches!(self, Revision::Local(_))
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Revision::Store(n) => write!(f, "{n}"),
            Revision::Local(n) => write!(f, "x{n}"),
        }
    }
}

impl FromStr for Revision {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, NameError> {
        let bad = || {
            err(format!(
                "invalid revision {s:?} (expected 1, 2, … or x1, x2, …)"
            ))
        };
        let (local, digits) = match s.strip_prefix('x') {
            Some(d) => (true, d),
            None => (false, s),
        };
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || digits.starts_with('0')
        {
            return Err(bad());
        }
        let n: u32 = digits.parse().map_err(|_| bad())?;
        Ok(if local {
            Revision::Local(n)
        } else {
            Revision::Store(n)
        })
    }
}

/// Local revisions sort before store ones (as snapd's negative local revisions do), each by number.
impl Ord for Revision {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let key = |r: &Revision| match r {
            Revision::Local(n) => (0, *n),
            Revision::Store(n) => (1, *n),
        };
        key(self).cmp(&key(other))
    }
}

impl PartialOrd for Revision {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snap_names() {
        for good in [
            "hello",
            "hello-world",
            "a1",
            "0ad",
            "x-2-y",
            &"a".repeat(40),
        ] {
            assert!(validate_snap_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a",
            "Hello",
            "-a",
            "a-",
            "a--b",
            "12",
            "a_b",
            "a.b",
            &"a".repeat(41),
            "héllo",
        ] {
            assert!(validate_snap_name(bad).is_err(), "{bad}");
        }
        assert!(validate_snap_name("a--b")
            .unwrap_err()
            .to_string()
            .contains("--"));
    }

    /// Issue 17 (11): a snap called `bin` would be mounted on `/snap/bin`, over every other
    /// snap's launchers. Refused as a name, as an instance, and in a snap.yaml.
    #[test]
    fn bin_is_reserved() {
        let e = validate_snap_name("bin").unwrap_err().to_string();
        assert!(e.contains("reserved") && e.contains("/snap/bin"), "{e}");
        assert!(validate_instance_name("bin").is_err());
        assert!(validate_instance_name("bin_x1").is_err());
        let e = crate::yaml::SnapYaml::parse("name: bin\nversion: '1'\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("reserved"), "{e}");
        // Only the exact name: names that merely contain it are fine.
        for ok in ["bins", "binutils", "my-bin"] {
            assert!(validate_snap_name(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn instance_names() {
        assert!(validate_instance_name("hello_foo1").is_ok());
        assert!(validate_instance_name("hello").is_ok());
        for bad in ["hello_", "hello_FOO", "hello_12345678901", "_x"] {
            assert!(validate_instance_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn app_and_hook_names() {
        assert!(validate_app_name("Env").is_ok());
        assert!(validate_app_name("my-app2").is_ok());
        assert!(validate_app_name("my_app").is_err());
        assert!(validate_app_name("-a").is_err());
        for good in [
            "configure",
            "install",
            "connect-plug-home",
            "prepare-slot-x",
            "conf-view-changed",
        ] {
            assert!(validate_hook_name(good).is_ok(), "{good}");
        }
        for bad in ["invalid-hook", "connect-plug-", "Install", ""] {
            assert!(validate_hook_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_names() {
        assert!(validate_env_name("SNAP_X1").is_ok());
        assert!(validate_env_name("_a").is_ok());
        assert!(validate_env_name("1A").is_err());
        assert!(validate_env_name("A-B").is_err());
        assert!(validate_env_name("").is_err());
    }

    #[test]
    fn alias_names_are_snapds() {
        for ok in ["a", "alias1", "A.b-c_d", "9lives"] {
            assert!(validate_alias_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", ".a", "_a", "a/b", "a b", "ä", "a\n", "../x"] {
            let e = validate_alias_name(bad).unwrap_err();
            assert_eq!(e.0, format!("invalid alias name {bad:?}"));
        }
    }

    #[test]
    fn revisions() {
        assert_eq!("12".parse::<Revision>().unwrap(), Revision::Store(12));
        assert_eq!("x3".parse::<Revision>().unwrap(), Revision::Local(3));
        assert_eq!(Revision::Local(3).to_string(), "x3");
        for bad in ["", "0", "x0", "01", "x", "-1", "1.5", "99999999999"] {
            assert!(bad.parse::<Revision>().is_err(), "{bad}");
        }
        assert!(Revision::Local(9) < Revision::Store(1));
        assert!(Revision::Store(2) < Revision::Store(10));
        assert!(Revision::Local(1).is_local());
    }
}
