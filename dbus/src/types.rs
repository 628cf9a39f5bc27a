//! The dictionaries of the contract (`a{sv}` with kebab-case keys) as plain Rust structs, with
//! conversion both ways. Options are strict (an unknown key or a wrong type is InvalidArgument);
//! results are read leniently (extra keys are ignored, for forward compatibility) but a missing
//! key is an error.

use std::collections::HashMap;

use zbus::zvariant::{OwnedValue, Value};

use crate::error::{Error, ErrorKind};

/// An `a{sv}` on the wire.
pub type Dict = HashMap<String, OwnedValue>;

fn invalid(m: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, m)
}

fn owned(v: Value<'_>) -> OwnedValue {
    OwnedValue::try_from(v).expect("values without file descriptors always convert")
}

/// A Rust type that is one value of a dictionary.
pub trait DictValue: Sized {
    /// The D-Bus signature, for error messages.
    const SIGNATURE: &'static str;
    fn to_value(&self) -> OwnedValue;
    fn from_value(v: &OwnedValue) -> Option<Self>;
}

impl DictValue for String {
    const SIGNATURE: &'static str = "s";
    fn to_value(&self) -> OwnedValue {
        owned(Value::from(self.as_str()))
    }
    fn from_value(v: &OwnedValue) -> Option<Self> {
        match &**v {
            Value::Str(s) => Some(s.to_string()),
            _ => None,
        }
    }
}

impl DictValue for bool {
    const SIGNATURE: &'static str = "b";
    fn to_value(&self) -> OwnedValue {
        owned(Value::from(*self))
    }
    fn from_value(v: &OwnedValue) -> Option<Self> {
        match &**v {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl DictValue for u64 {
    const SIGNATURE: &'static str = "t";
    fn to_value(&self) -> OwnedValue {
        owned(Value::from(*self))
    }
    fn from_value(v: &OwnedValue) -> Option<Self> {
        match &**v {
            Value::U64(n) => Some(*n),
            _ => None,
        }
    }
}

impl DictValue for u32 {
    const SIGNATURE: &'static str = "u";
    fn to_value(&self) -> OwnedValue {
        owned(Value::from(*self))
    }
    fn from_value(v: &OwnedValue) -> Option<Self> {
        match &**v {
            Value::U32(n) => Some(*n),
            _ => None,
        }
    }
}

impl DictValue for Vec<String> {
    const SIGNATURE: &'static str = "as";
    fn to_value(&self) -> OwnedValue {
        owned(Value::from(self.clone()))
    }
    fn from_value(v: &OwnedValue) -> Option<Self> {
        match &**v {
            Value::Array(a) => a
                .iter()
                .map(|x| match x {
                    Value::Str(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }
}

impl DictValue for Vec<Dict> {
    const SIGNATURE: &'static str = "aa{sv}";
    fn to_value(&self) -> OwnedValue {
        owned(Value::from(self.clone()))
    }
    fn from_value(v: &OwnedValue) -> Option<Self> {
        let list: Vec<Dict> = v.try_clone().ok()?.try_into().ok()?;
        Some(list)
    }
}

fn get<T: DictValue>(d: &Dict, key: &str) -> Result<T, Error> {
    let v = d
        .get(key)
        .ok_or_else(|| Error::new(ErrorKind::Internal, format!("the answer lacks {key:?}")))?;
    T::from_value(v).ok_or_else(|| {
        Error::new(
            ErrorKind::Internal,
            format!("{key:?} in the answer is not of type {}", T::SIGNATURE),
        )
    })
}

/// Declares a result dictionary: its fields and their keys.
macro_rules! dict_struct {
    ($(#[$doc:meta])* $name:ident { $($field:ident : $ty:ty = $key:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name { $(pub $field: $ty),+ }

        impl $name {
            pub const KEYS: &'static [&'static str] = &[$($key),+];

            pub fn to_dict(&self) -> Dict {
                let mut d = Dict::new();
                $(d.insert($key.to_string(), DictValue::to_value(&self.$field));)+
                d
            }

            pub fn from_dict(d: &Dict) -> Result<Self, Error> {
                Ok($name { $($field: get::<$ty>(d, $key)?),+ })
            }
        }
    };
}

dict_struct!(
    /// One result of `Find`.
    FindResult {
        name: String = "name",
        title: String = "title",
        summary: String = "summary",
        version: String = "version",
        publisher: String = "publisher",
        publisher_validation: String = "publisher-validation",
        icon_url: String = "icon-url",
        categories: Vec<String> = "categories",
        download_size: u64 = "download-size",
        channel: String = "channel",
        confinement: String = "confinement",
        license: String = "license",
        installed: bool = "installed",
    }
);

dict_struct!(
    /// One channel of `Info`'s `channels`.
    ChannelInfo {
        channel: String = "channel",
        version: String = "version",
        revision: String = "revision",
        size: u64 = "size",
        released_at: String = "released-at",
    }
);

dict_struct!(
    /// The snap-level part of `Info`, besides the find keys.
    InfoExtra {
        description: String = "description",
        screenshots: Vec<String> = "screenshots",
        website: String = "website",
        contact: String = "contact",
        base: String = "base",
        channels: Vec<Dict> = "channels",
        installed_revision: String = "installed-revision",
        tracking_channel: String = "tracking-channel",
        held: bool = "held",
        apps: Vec<String> = "apps",
        revisions: Vec<String> = "revisions",
    }
);

/// `Info`: the `Find` keys plus the details.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapDetails {
    pub summary: FindResult,
    pub extra: InfoExtra,
}

impl SnapDetails {
    pub fn to_dict(&self) -> Dict {
        let mut d = self.summary.to_dict();
        d.extend(self.extra.to_dict());
        d
    }

    pub fn from_dict(d: &Dict) -> Result<Self, Error> {
        Ok(SnapDetails {
            summary: FindResult::from_dict(d)?,
            extra: InfoExtra::from_dict(d)?,
        })
    }

    pub fn channels(&self) -> Result<Vec<ChannelInfo>, Error> {
        self.extra
            .channels
            .iter()
            .map(ChannelInfo::from_dict)
            .collect()
    }
}

dict_struct!(
    /// One entry of `ListInstalled`.
    InstalledSnap {
        name: String = "name",
        title: String = "title",
        summary: String = "summary",
        version: String = "version",
        revision: String = "revision",
        channel: String = "channel",
        confinement: String = "confinement",
        apps: Vec<String> = "apps",
        icon_path: String = "icon-path",
        installed_size: u64 = "installed-size",
        revisions: Vec<String> = "revisions",
        held: bool = "held",
    }
);

dict_struct!(
    /// One entry of `ListUpdates`.
    UpdateInfo {
        name: String = "name",
        version: String = "version",
        revision: String = "revision",
        channel: String = "channel",
        download_size: u64 = "download-size",
    }
);

dict_struct!(
    /// One entry of `Connections`.
    Connection {
        interface: String = "interface",
        plug_snap: String = "plug-snap",
        plug: String = "plug",
        slot_snap: String = "slot-snap",
        slot: String = "slot",
        connected: bool = "connected",
        manual: bool = "manual",
        label: String = "label",
        auto: bool = "auto",
    }
);

dict_struct!(
    /// What `CheckFile` says of a `.snap`, before anything is installed.
    FileCheck {
        name: String = "name",
        title: String = "title",
        summary: String = "summary",
        version: String = "version",
        confinement: String = "confinement",
        base: String = "base",
        apps: Vec<String> = "apps",
        plugs: Vec<String> = "plugs",
        size: u64 = "size",
        signed: bool = "signed",
        revision: String = "revision",
        installed_revision: String = "installed-revision",
    }
);

dict_struct!(
    /// One entry of `Interfaces`.
    InterfaceInfo {
        name: String = "name",
        summary: String = "summary",
        label: String = "label",
        auto_connect: bool = "auto-connect",
    }
);

/// The options key every options dictionary accepts: the caller's locale for that call's
/// summaries and errors (`SetLocale` for one call).
pub const LOCALE_OPTION: &str = "locale";

/// Read an options dictionary: every key must be one of `allowed`, with its type.
struct Options<'a> {
    d: &'a Dict,
}

impl<'a> Options<'a> {
    fn new(d: &'a Dict, allowed: &[&str]) -> Result<Self, Error> {
        let mut keys: Vec<&String> = d.keys().collect();
        keys.sort();
        for k in keys {
            // `locale`: the language of the call's words, read by the helper's D-Bus edge.
            if !allowed.contains(&k.as_str()) && k != LOCALE_OPTION {
                return Err(invalid(format!(
                    "unknown option {k:?} (expected {})",
                    if allowed.is_empty() {
                        "none".to_string()
                    } else {
                        allowed.join(", ")
                    }
                )));
            }
        }
        Ok(Options { d })
    }

    fn get<T: DictValue>(&self, key: &str) -> Result<Option<T>, Error> {
        match self.d.get(key) {
            None => Ok(None),
            Some(v) => T::from_value(v)
                .map(Some)
                .ok_or_else(|| invalid(format!("option {key:?} must be of type {}", T::SIGNATURE))),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindOptions {
    pub category: Option<String>,
    pub limit: Option<u32>,
}

impl FindOptions {
    pub fn parse(d: &Dict) -> Result<Self, Error> {
        let o = Options::new(d, &["category", "limit"])?;
        Ok(FindOptions {
            category: o.get("category")?,
            limit: o.get("limit")?,
        })
    }
    pub fn to_dict(&self) -> Dict {
        let mut d = Dict::new();
        if let Some(c) = &self.category {
            d.insert("category".into(), c.to_value());
        }
        if let Some(l) = self.limit {
            d.insert("limit".into(), l.to_value());
        }
        d
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstallOptions {
    pub channel: Option<String>,
    pub revision: Option<String>,
    pub classic: bool,
}

impl InstallOptions {
    pub fn parse(d: &Dict) -> Result<Self, Error> {
        let o = Options::new(d, &["channel", "revision", "classic"])?;
        Ok(InstallOptions {
            channel: o.get("channel")?,
            revision: o.get("revision")?,
            classic: o.get("classic")?.unwrap_or(false),
        })
    }
    pub fn to_dict(&self) -> Dict {
        let mut d = Dict::new();
        if let Some(c) = &self.channel {
            d.insert("channel".into(), c.to_value());
        }
        if let Some(r) = &self.revision {
            d.insert("revision".into(), r.to_value());
        }
        if self.classic {
            d.insert("classic".into(), true.to_value());
        }
        d
    }
}

/// Options with one optional value of one type: `unsigned`, `purge`, `channel`, `revision`.
macro_rules! one_option {
    ($name:ident, $field:ident : $ty:ty = $key:literal) => {
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            pub $field: Option<$ty>,
        }

        impl $name {
            pub fn parse(d: &Dict) -> Result<Self, Error> {
                let o = Options::new(d, &[$key])?;
                Ok($name {
                    $field: o.get($key)?,
                })
            }
            pub fn to_dict(&self) -> Dict {
                let mut d = Dict::new();
                if let Some(v) = &self.$field {
                    d.insert($key.to_string(), v.to_value());
                }
                d
            }
        }
    };
}

/// `InstallFile` options: `unsigned` (a file without store assertions) and `classic`, the consent
/// a file that runs without a sandbox needs (as `Install` asks for it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstallFileOptions {
    pub unsigned: Option<bool>,
    pub classic: Option<bool>,
}

impl InstallFileOptions {
    pub fn parse(d: &Dict) -> Result<Self, Error> {
        let o = Options::new(d, &["unsigned", "classic"])?;
        Ok(InstallFileOptions {
            unsigned: o.get("unsigned")?,
            classic: o.get("classic")?,
        })
    }
    pub fn to_dict(&self) -> Dict {
        let mut d = Dict::new();
        for (k, v) in [("unsigned", self.unsigned), ("classic", self.classic)] {
            if let Some(v) = v {
                d.insert(k.to_string(), v.to_value());
            }
        }
        d
    }
}
/// `Remove` options: `purge` (the data too, no snapshot), and `disconnect-users`: a content
/// provider that connected snaps use is removed after disconnecting them (without it, the removal
/// is refused with `ProviderInUse`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoveOptions {
    pub purge: Option<bool>,
    pub disconnect_users: Option<bool>,
}

impl RemoveOptions {
    pub fn parse(d: &Dict) -> Result<Self, Error> {
        let o = Options::new(d, &["purge", "disconnect-users"])?;
        Ok(RemoveOptions {
            purge: o.get("purge")?,
            disconnect_users: o.get("disconnect-users")?,
        })
    }
    pub fn to_dict(&self) -> Dict {
        let mut d = Dict::new();
        if let Some(v) = &self.purge {
            d.insert("purge".into(), v.to_value());
        }
        if let Some(v) = &self.disconnect_users {
            d.insert("disconnect-users".into(), v.to_value());
        }
        d
    }
}
one_option!(StartServicesOptions, enable: bool = "enable");
one_option!(StopServicesOptions, disable: bool = "disable");
one_option!(RestartServicesOptions, reload: bool = "reload");

dict_struct!(
    /// One entry of `Services`: a daemon of a snap and its state.
    ServiceInfo {
        snap: String = "snap",
        app: String = "app",
        daemon: String = "daemon",
        scope: String = "scope",
        enabled: bool = "enabled",
        active: bool = "active",
        activators: Vec<String> = "activators",
    }
);
/// `Refresh` options: `channel` (one name only), and `classic`, the consent a revision that
/// turned classic needs (as `Install` asks for it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshOptions {
    pub channel: Option<String>,
    pub classic: bool,
    /// Download and verify the new revisions only (change kind `download`): they wait in the
    /// helper's cache, and a later refresh to the same revisions uses them without downloading.
    pub download_only: bool,
    /// With `download_only`: the downloads run at low priority (idle I/O class, nice 19), so that
    /// a person's own installs are not slowed. The update agent sets it.
    pub background: bool,
    /// An automatic refresh (the update agent's): a snap whose apps run is put off, up to
    /// snapd's limit of 14 days, instead of failing.
    pub auto: bool,
    /// Refresh even while the snap's apps run (snapd's `--ignore-running`).
    pub ignore_running: bool,
}

impl RefreshOptions {
    pub fn parse(d: &Dict) -> Result<Self, Error> {
        let o = Options::new(
            d,
            &[
                "channel",
                "classic",
                "download-only",
                "background",
                "auto",
                "ignore-running",
            ],
        )?;
        Ok(RefreshOptions {
            channel: o.get("channel")?,
            classic: o.get("classic")?.unwrap_or(false),
            download_only: o.get("download-only")?.unwrap_or(false),
            background: o.get("background")?.unwrap_or(false),
            auto: o.get("auto")?.unwrap_or(false),
            ignore_running: o.get("ignore-running")?.unwrap_or(false),
        })
    }
    pub fn to_dict(&self) -> Dict {
        let mut d = Dict::new();
        if let Some(c) = &self.channel {
            d.insert("channel".into(), c.to_value());
        }
        if self.classic {
            d.insert("classic".into(), true.to_value());
        }
        if self.download_only {
            d.insert("download-only".into(), true.to_value());
        }
        if self.background {
            d.insert("background".into(), true.to_value());
        }
        if self.auto {
            d.insert("auto".into(), true.to_value());
        }
        if self.ignore_running {
            d.insert("ignore-running".into(), true.to_value());
        }
        d
    }
}
one_option!(RevertOptions, revision: String = "revision");

/// The status of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeStatus {
    Do,
    Doing,
    Done,
    Undoing,
    Undone,
    Error,
    Cancelled,
}

impl ChangeStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeStatus::Do => "Do",
            ChangeStatus::Doing => "Doing",
            ChangeStatus::Done => "Done",
            ChangeStatus::Undoing => "Undoing",
            ChangeStatus::Undone => "Undone",
            ChangeStatus::Error => "Error",
            ChangeStatus::Cancelled => "Cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeStatus> {
        [
            ChangeStatus::Do,
            ChangeStatus::Doing,
            ChangeStatus::Done,
            ChangeStatus::Undoing,
            ChangeStatus::Undone,
            ChangeStatus::Error,
            ChangeStatus::Cancelled,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// Finished one way or the other.
    pub fn is_ready(&self) -> bool {
        matches!(
            self,
            ChangeStatus::Done
                | ChangeStatus::Undone
                | ChangeStatus::Error
                | ChangeStatus::Cancelled
        )
    }
}

/// One task of a change's `Tasks` property: (kind, summary, status).
pub type Task = (String, String, String);

dict_struct!(
    /// One entry of `Aliases`: an enabled alias; `auto` when the snap-declaration granted it (a
    /// manual alias of the same name wins, and is not `auto`).
    AliasInfo {
        snap: String = "snap",
        app: String = "app",
        alias: String = "alias",
        auto: bool = "auto",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_dicts_round_trip() {
        let f = FindResult {
            name: "hello".into(),
            categories: vec!["a".into()],
            download_size: 42,
            installed: true,
            ..Default::default()
        };
        assert_eq!(FindResult::from_dict(&f.to_dict()).unwrap(), f);
        let ch = ChannelInfo {
            channel: "latest/stable".into(),
            size: 7,
            ..Default::default()
        };
        let d = SnapDetails {
            summary: f.clone(),
            extra: InfoExtra {
                channels: vec![ch.to_dict()],
                held: true,
                ..Default::default()
            },
        };
        let back = SnapDetails::from_dict(&d.to_dict()).unwrap();
        assert_eq!(back.channels().unwrap(), vec![ch]);
        assert_eq!(back, d);
        for v in [
            InstalledSnap::default().to_dict(),
            UpdateInfo::default().to_dict(),
            Connection::default().to_dict(),
            InterfaceInfo::default().to_dict(),
        ] {
            assert!(!v.is_empty());
        }
        let i = InstalledSnap {
            revisions: vec!["1".into(), "x2".into()],
            installed_size: 9,
            ..Default::default()
        };
        assert_eq!(InstalledSnap::from_dict(&i.to_dict()).unwrap(), i);
    }

    #[test]
    fn results_tolerate_extra_keys_but_not_missing_ones() {
        let mut d = UpdateInfo::default().to_dict();
        d.insert("future-key".into(), true.to_value());
        assert!(UpdateInfo::from_dict(&d).is_ok());
        d.remove("name");
        assert!(UpdateInfo::from_dict(&d).is_err());
    }

    #[test]
    fn options_are_strict() {
        let o = InstallOptions {
            channel: Some("candidate".into()),
            revision: None,
            classic: true,
        };
        assert_eq!(InstallOptions::parse(&o.to_dict()).unwrap(), o);
        let mut d = Dict::new();
        d.insert("colour".into(), "red".to_string().to_value());
        let e = InstallOptions::parse(&d).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("colour"));
        let mut d = Dict::new();
        d.insert("limit".into(), "ten".to_string().to_value());
        let e = FindOptions::parse(&d).unwrap_err();
        assert!(
            e.message().contains("\"limit\" must be of type u"),
            "{}",
            e.message()
        );
        let mut d = Dict::new();
        d.insert("purge".into(), true.to_value());
        assert_eq!(RemoveOptions::parse(&d).unwrap().purge, Some(true));
        assert!(RevertOptions::parse(&d).is_err());
        assert_eq!(
            RefreshOptions::parse(&Dict::new()).unwrap(),
            RefreshOptions::default()
        );
    }

    #[test]
    fn statuses() {
        assert!(ChangeStatus::parse("Done").unwrap().is_ready());
        assert!(!ChangeStatus::parse("Doing").unwrap().is_ready());
        assert_eq!(ChangeStatus::parse("nope"), None);
    }
}

dict_struct!(
    /// One row of `PendingRefreshes`: a snap whose automatic refresh is put off while its apps
    /// run (snapd's refresh app awareness): the apps that run now (empty: they closed, the next
    /// automatic refresh goes ahead), when it was first put off (seconds since the epoch) and the
    /// seconds left before it goes ahead although apps run.
    PendingRefresh {
        name: String = "name",
        apps: Vec<String> = "apps",
        since: u64 = "since",
        remaining: u64 = "remaining",
    }
);
