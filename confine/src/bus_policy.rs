//! What an app may do on a bus, typed once: per name a level, SEE < TALK < OWN, and method calls
//! or signals allowed by `NAME=RULE` rules below TALK. The semantics are xdg-dbus-proxy's
//! (Flatpak's `--see`, `--talk`, `--own`, `--call`, `--broadcast`), so the rules confine has
//! always given keep their meaning, plus name forms that proxy cannot say and snapd's `dbus`
//! interface allows: a slot owning `NAME-N`, `NAME_N` and `NAME_N_N` (KDE's and Qt's per-PID
//! names), a connected plug talking to `NAME-N` (N: digits, not starting with 0).

use std::fmt;

/// How far the app may go with a name. Ordered: each level allows what the ones below do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    /// Hidden: not listed, not reported, not reachable; the name looks absent.
    #[default]
    None,
    /// Listed and reported (owner changes, `GetNameOwner`), not called.
    See,
    /// Called, and its signals received.
    Talk,
    /// Owned (`RequestName`).
    Own,
}

/// Which names a rule is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Names {
    /// The name itself.
    Exact(String),
    /// `X.*`: X and every name below it (`X.a`, `X.a.b`).
    Subtree(String),
    /// `X-<N>`: X followed by `-` and a number (snapd's plug rule for KDE's per-PID names).
    Dashed(String),
    /// `X[-_]<N>`: X followed by `-N`, `_N` or `_N_N` (snapd's `dbus` slot bind rule).
    Numbered(String),
}

/// The longest number a numbered form takes (a PID, as snapd's AppArmor globs allow).
const MAX_DIGITS: usize = 10;

/// `s` is a number: digits only, not starting with 0, not too long.
fn number(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_DIGITS
        && !s.starts_with('0')
        && s.bytes().all(|b| b.is_ascii_digit())
}

impl Names {
    /// Read the text form: `X`, `X.*`, `X-<N>` or `X[-_]<N>`.
    pub fn parse(text: &str) -> Result<Names, String> {
        let (names, base) = if let Some(base) = text.strip_suffix(".*") {
            (Names::Subtree(base.to_string()), base)
        } else if let Some(base) = text.strip_suffix("[-_]<N>") {
            (Names::Numbered(base.to_string()), base)
        } else if let Some(base) = text.strip_suffix("-<N>") {
            (Names::Dashed(base.to_string()), base)
        } else {
            (Names::Exact(text.to_string()), text)
        };
        zbus::names::WellKnownName::try_from(base)
            .map_err(|e| format!("{text:?} is not a D-Bus name rule: {e}"))?;
        Ok(names)
    }

    /// Whether the well-known name `name` is one of these.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Names::Exact(x) => name == x,
            Names::Subtree(x) => name
                .strip_prefix(x.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.')),
            Names::Dashed(x) => name
                .strip_prefix(x.as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(number),
            Names::Numbered(x) => name.strip_prefix(x.as_str()).is_some_and(|rest| {
                if let Some(n) = rest.strip_prefix('-') {
                    return number(n);
                }
                let Some(rest) = rest.strip_prefix('_') else {
                    return false;
                };
                match rest.split_once('_') {
                    Some((a, b)) => number(a) && number(b),
                    None => number(rest),
                }
            }),
        }
    }

    /// The name the forms are built on (a bus match on it and below finds every match).
    pub fn base(&self) -> &str {
        match self {
            Names::Exact(x) | Names::Subtree(x) | Names::Dashed(x) | Names::Numbered(x) => x,
        }
    }

    /// Only the name itself: its owner can be asked for directly, no listing needed.
    pub fn is_exact(&self) -> bool {
        matches!(self, Names::Exact(_))
    }
}

impl fmt::Display for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Names::Exact(x) => write!(f, "{x}"),
            Names::Subtree(x) => write!(f, "{x}.*"),
            Names::Dashed(x) => write!(f, "{x}-<N>"),
            Names::Numbered(x) => write!(f, "{x}[-_]<N>"),
        }
    }
}

/// What a `NAME=RULE` rule allows, in xdg-dbus-proxy's form
/// `[*|INTERFACE.MEMBER|INTERFACE.*][@PATH[/*]]`; each part left out allows any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
    pub interface: Option<String>,
    pub member: Option<String>,
    pub path: Option<String>,
    /// The path and every path below it.
    pub path_subtree: bool,
}

impl Member {
    pub fn parse(rule: &str) -> Member {
        let (method, path) = match rule.split_once('@') {
            Some((m, p)) => (m, Some(p).filter(|p| !p.is_empty())),
            None => (rule, None),
        };
        let (path, path_subtree) = match path {
            Some(p) => match p.strip_suffix("/*") {
                Some(base) => (Some(base.to_string()), true),
                None => (Some(p.to_string()), false),
            },
            None => (None, false),
        };
        let (interface, member) = if method.is_empty() || method.starts_with('*') {
            (None, None)
        } else {
            match method.rsplit_once('.') {
                Some((i, "*")) => (Some(i.to_string()), None),
                Some((i, m)) => (Some(i.to_string()), Some(m.to_string())),
                None => (Some(method.to_string()), None),
            }
        };
        Member {
            interface,
            member,
            path,
            path_subtree,
        }
    }

    /// Whether a message with these header fields is one the rule allows.
    pub fn matches(
        &self,
        path: Option<&str>,
        interface: Option<&str>,
        member: Option<&str>,
    ) -> bool {
        if let Some(want) = &self.path {
            let Some(path) = path else {
                return false;
            };
            let ok = if self.path_subtree {
                path.strip_prefix(want.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            } else {
                path == want
            };
            if !ok {
                return false;
            }
        }
        let field = |want: &Option<String>, got: Option<&str>| {
            want.as_deref().is_none_or(|w| Some(w) == got)
        };
        field(&self.interface, interface) && field(&self.member, member)
    }
}

/// What a rule grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Everything up to this level.
    Level(Level),
    /// Method calls like this (`--call`): the name is talked to for these only.
    Call(Member),
    /// Signals like this (`--broadcast`).
    Broadcast(Member),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub names: Names,
    pub grant: Grant,
}

impl Rule {
    /// The level the rule gives its names: a call or broadcast rule makes the name seen and
    /// talked to, for what it allows (xdg-dbus-proxy gives both rules TALK, restricted in kind).
    fn level(&self) -> Level {
        match self.grant {
            Grant::Level(l) => l,
            Grant::Call(_) | Grant::Broadcast(_) => Level::Talk,
        }
    }
}

/// An app's rules for one bus. The bus itself (`org.freedesktop.DBus`) is always talked to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub rules: Vec<Rule>,
}

/// The bus driver's name.
pub const BUS: &str = "org.freedesktop.DBus";

impl Policy {
    /// Add `names` (text form) at `level`.
    pub fn allow(&mut self, level: Level, names: &str) -> Result<(), String> {
        let rule = Rule {
            names: Names::parse(names)?,
            grant: Grant::Level(level),
        };
        if !self.rules.contains(&rule) {
            self.rules.push(rule);
        }
        Ok(())
    }

    /// Add a `NAME=RULE` call (or, with `broadcast`, signal) rule.
    pub fn allow_member(&mut self, spec: &str, broadcast: bool) -> Result<(), String> {
        let (names, rule) = spec
            .split_once('=')
            .ok_or_else(|| format!("{spec:?} is not a NAME=RULE rule"))?;
        let member = Member::parse(rule);
        let grant = if broadcast {
            Grant::Broadcast(member)
        } else {
            Grant::Call(member)
        };
        self.rules.push(Rule {
            names: Names::parse(names)?,
            grant,
        });
        Ok(())
    }

    /// The policy that xdg-dbus-proxy's filter arguments say (`--filter`, `--see=`, `--talk=`,
    /// `--own=`, `--call=`, `--broadcast=`): the rules confine gives, read in one place.
    pub fn from_proxy_args(args: &[String]) -> Result<Policy, String> {
        let mut p = Policy::default();
        for arg in args {
            if arg == "--filter" {
                continue;
            }
            let (key, value) = arg
                .split_once('=')
                .ok_or_else(|| format!("{arg:?} is not a bus rule"))?;
            match key {
                "--see" => p.allow(Level::See, value)?,
                "--talk" => p.allow(Level::Talk, value)?,
                "--own" => p.allow(Level::Own, value)?,
                "--call" => p.allow_member(value, false)?,
                "--broadcast" => p.allow_member(value, true)?,
                _ => return Err(format!("{arg:?} is not a bus rule")),
            }
        }
        Ok(p)
    }

    /// The rules about the well-known name `name`.
    pub fn rules_for<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(move |r| r.names.matches(name))
    }

    /// The level of the well-known name `name`.
    pub fn level(&self, name: &str) -> Level {
        if name == BUS {
            return Level::Talk;
        }
        self.rules_for(name)
            .map(Rule::level)
            .max()
            .unwrap_or(Level::None)
    }

    /// Whether a method call to `name` with these fields is allowed: it is owned by the app, or
    /// a TALK rule or a matching call rule covers it.
    pub fn allows_call(
        &self,
        name: &str,
        path: Option<&str>,
        iface: Option<&str>,
        member: Option<&str>,
    ) -> bool {
        self.allows(
            name,
            |g| match g {
                Grant::Call(m) => Some(m),
                _ => None,
            },
            (path, iface, member),
        )
    }

    /// Whether a broadcast signal from `name` with these fields is let through.
    pub fn allows_signal(
        &self,
        name: &str,
        path: Option<&str>,
        iface: Option<&str>,
        member: Option<&str>,
    ) -> bool {
        self.allows(
            name,
            |g| match g {
                Grant::Broadcast(m) => Some(m),
                _ => None,
            },
            (path, iface, member),
        )
    }

    /// The bus itself, a TALK rule, or a rule of the kind `restricted` picks out whose member
    /// matches `(path, iface, member)`.
    fn allows(
        &self,
        name: &str,
        restricted: fn(&Grant) -> Option<&Member>,
        (path, iface, member): (Option<&str>, Option<&str>, Option<&str>),
    ) -> bool {
        name == BUS
            || self.rules_for(name).any(|r| match &r.grant {
                Grant::Level(l) => *l >= Level::Talk,
                g => restricted(g).is_some_and(|m| m.matches(path, iface, member)),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn levels_follow_the_rules_and_subtrees_include_their_base() {
        let p = Policy::from_proxy_args(&args(&[
            "--filter",
            "--talk=org.freedesktop.portal.*",
            "--see=org.example.Seen",
            "--own=org.mpris.MediaPlayer2.player.*",
            "--talk=org.mpris.MediaPlayer2.*",
        ]))
        .unwrap();
        assert_eq!(p.level("org.freedesktop.portal.Desktop"), Level::Talk);
        assert_eq!(p.level("org.freedesktop.portal"), Level::Talk);
        assert_eq!(p.level("org.freedesktop.portals"), Level::None);
        assert_eq!(p.level("org.freedesktop.DBus"), Level::Talk);
        assert_eq!(p.level("org.example.Seen"), Level::See);
        assert_eq!(p.level("org.example.Seen.Below"), Level::None);
        assert_eq!(p.level("org.mpris.MediaPlayer2.player"), Level::Own);
        assert_eq!(
            p.level("org.mpris.MediaPlayer2.player.instance7"),
            Level::Own
        );
        assert_eq!(p.level("org.mpris.MediaPlayer2.vlc"), Level::Talk);
        assert_eq!(p.level("org.example.Hidden"), Level::None);
        assert!(p.allows_call("org.freedesktop.portal.Desktop", Some("/"), None, Some("X")));
        assert!(!p.allows_call("org.example.Seen", Some("/"), None, Some("X")));
        assert!(p.allows_signal("org.mpris.MediaPlayer2.vlc", None, None, None));
        assert!(!p.allows_signal("org.example.Seen", None, None, None));
    }

    #[test]
    fn call_and_broadcast_rules_allow_only_what_they_name() {
        let p = Policy::from_proxy_args(&args(&[
            "--call=org.freedesktop.UPower=org.freedesktop.UPower.EnumerateDevices@/org/freedesktop/UPower",
            "--call=org.freedesktop.UPower=org.freedesktop.DBus.Properties.Get@/org/freedesktop/UPower/*",
            "--call=org.cups.cupsd.Notifier=org.cups.cupsd.Notifier.*@/org/cups/cupsd/Notifier",
            "--broadcast=org.freedesktop.UPower=org.freedesktop.DBus.Properties.PropertiesChanged@/org/freedesktop/UPower/*",
        ]))
        .unwrap();
        let up = "org.freedesktop.UPower";
        let call = |path, iface, member| p.allows_call(up, Some(path), Some(iface), Some(member));
        assert!(call(
            "/org/freedesktop/UPower",
            "org.freedesktop.UPower",
            "EnumerateDevices"
        ));
        assert!(!call(
            "/org/freedesktop/UPower",
            "org.freedesktop.UPower",
            "Suspend"
        ));
        assert!(!call(
            "/org/freedesktop/UPowerX",
            "org.freedesktop.UPower",
            "EnumerateDevices"
        ));
        let props = "org.freedesktop.DBus.Properties";
        assert!(call("/org/freedesktop/UPower/devices/bat0", props, "Get"));
        assert!(call("/org/freedesktop/UPower", props, "Get"));
        assert!(!call("/org/freedesktop/UPowerd/x", props, "Get"));
        assert!(!call("/org/freedesktop/UPower/x", props, "Set"));
        // A call rule lets nothing be received; the broadcast rule lets its signals through.
        assert!(p.allows_signal(
            up,
            Some("/org/freedesktop/UPower/devices/x"),
            Some(props),
            Some("PropertiesChanged")
        ));
        assert!(!p.allows_signal(
            up,
            Some("/org/freedesktop/UPower"),
            Some("org.freedesktop.UPower"),
            Some("DeviceAdded")
        ));
        let cups = "org.cups.cupsd.Notifier";
        assert!(p.allows_call(
            cups,
            Some("/org/cups/cupsd/Notifier"),
            Some(cups),
            Some("Any")
        ));
        assert!(!p.allows_call(
            cups,
            Some("/org/cups/cupsd/Notifier"),
            Some("org.other"),
            Some("Any")
        ));
        assert_eq!(p.level(up), Level::Talk);
        assert!(!p.allows_signal(cups, None, None, None));
    }

    #[test]
    fn the_numbered_forms_take_digits_only() {
        let mut p = Policy::default();
        p.allow(Level::Own, "org.kde.foo[-_]<N>").unwrap();
        p.allow(Level::Talk, "org.example.app-<N>").unwrap();
        for owned in ["org.kde.foo-1234", "org.kde.foo_77", "org.kde.foo_12_3"] {
            assert_eq!(p.level(owned), Level::Own, "{owned}");
        }
        for not in [
            "org.kde.foo",
            "org.kde.foo-",
            "org.kde.foo-0",
            "org.kde.foo-12a",
            "org.kde.foo_1_2_3",
            "org.kde.foo_1__2",
            "org.kde.foo-1_2x",
            "org.kde.foo.bar-1",
            "org.kde.foobar-1",
            "org.kde.foo-12345678901",
        ] {
            assert_eq!(p.level(not), Level::None, "{not}");
        }
        assert_eq!(p.level("org.example.app-42"), Level::Talk);
        assert_eq!(p.level("org.example.app_42"), Level::None);
        assert_eq!(p.level("org.example.app"), Level::None);
        assert_eq!(
            Names::parse("org.kde.foo[-_]<N>").unwrap().to_string(),
            "org.kde.foo[-_]<N>"
        );
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_named() {
        for bad in [
            "--talk=",
            "--talk=.*",
            "--own=org..x",
            "--call=org.x",
            "--nope=org.x",
            "--talk",
        ] {
            let e = Policy::from_proxy_args(&args(&[bad])).unwrap_err();
            assert!(e.contains('"'), "{bad}: {e}");
        }
        assert!(Policy::from_proxy_args(&args(&["--talk=org.x.*", "--own=org.y[-_]<N>"])).is_ok());
    }
}
