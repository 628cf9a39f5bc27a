//! The Snap Store API v2 as types: the JSON of `/v2/snaps/{info,find,refresh,categories}` and of
//! the store's error lists, shared by the helper's client and `snapshelf-store`'s server so that the
//! two cannot drift apart.
//!
//! Input is lenient, as snapd's decoder is: unknown keys are ignored, missing fields take their
//! default and `null` reads as the default too (the real store sends `null` for an unset base,
//! license or website, and a `fields=` projection leaves keys out). Output is the real store's shape:
//! nullable keys are written as `null`, keys that only some answers carry are left out when unset.
//!
//! The field set follows the recorded responses in `../shared/compat/store-responses/` and snapd's
//! `store/details_v2.go` and `store/store_action.go`, including what Snapshelf does not act on yet
//! (deltas, `redirect-channel`, `default-track`, epochs beyond 0), so a client can read them.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `null` or a missing key reads as the type's default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// ---- errors -------------------------------------------------------------------------------------

/// One entry of an `error-list`, or the `error` of a refresh result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ErrorEntry {
    #[serde(default, deserialize_with = "nullable")]
    pub code: String,
    #[serde(default, deserialize_with = "nullable")]
    pub message: String,
    /// `revision-not-found` names the channels that do have a revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<ErrorExtra>,
    /// A `fetch-assertions` error names the assertion it is about.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub assertion_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key: Option<Vec<String>>,
}

impl ErrorEntry {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorEntry {
            code: code.into(),
            message: message.into(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorExtra {
    #[serde(default, deserialize_with = "nullable")]
    pub releases: Vec<Release>,
}

/// A channel of one architecture that has a revision (`revision-not-found`'s `extra.releases`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Release {
    #[serde(default, deserialize_with = "nullable")]
    pub architecture: String,
    #[serde(default, deserialize_with = "nullable")]
    pub channel: String,
}

/// The body of a failed request: `{"error-list": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorList {
    #[serde(rename = "error-list", default, deserialize_with = "nullable")]
    pub error_list: Vec<ErrorEntry>,
}

impl ErrorList {
    pub fn one(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorList {
            error_list: vec![ErrorEntry::new(code, message)],
        }
    }
}

// ---- the parts of a snap ------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Publisher {
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub username: String,
    #[serde(default, deserialize_with = "nullable")]
    pub display_name: String,
    /// `verified`, `starred`, `unproven`.
    #[serde(default, deserialize_with = "nullable")]
    pub validation: String,
}

impl Publisher {
    /// As people see it: the display name, the username where there is none.
    pub fn shown_name(&self) -> &str {
        if self.display_name.is_empty() {
            &self.username
        } else {
            &self.display_name
        }
    }
}

/// An icon, screenshot, banner or video.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Media {
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    pub kind: String,
    #[serde(default, deserialize_with = "nullable")]
    pub url: String,
    /// The real store leaves these out or sends `null` when it does not know them.
    #[serde(default)]
    pub width: Option<u32>,
    #[serde(default)]
    pub height: Option<u32>,
}

/// A category a snap is in (`featured` marks the store's front page).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Category {
    #[serde(default, deserialize_with = "nullable")]
    pub featured: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
}

/// A revision's epoch: which epochs' data it can read, which it writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoch {
    #[serde(default = "zero_epoch", deserialize_with = "nullable_epoch")]
    pub read: Vec<u32>,
    #[serde(default = "zero_epoch", deserialize_with = "nullable_epoch")]
    pub write: Vec<u32>,
}

fn zero_epoch() -> Vec<u32> {
    vec![0]
}

fn nullable_epoch<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
    Ok(Option::<Vec<u32>>::deserialize(d)?.unwrap_or_else(zero_epoch))
}

/// Epoch 0 (`{"read":[0],"write":[0]}`), what a snap without `epoch:` has.
impl Default for Epoch {
    fn default() -> Self {
        Epoch {
            read: zero_epoch(),
            write: zero_epoch(),
        }
    }
}

impl From<&crate::yaml::Epoch> for Epoch {
    fn from(e: &crate::yaml::Epoch) -> Self {
        Epoch {
            read: e.read.clone(),
            write: e.write.clone(),
        }
    }
}

/// Where a revision is downloaded from. `find` answers carry only the size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Download {
    #[serde(default, deserialize_with = "nullable")]
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(rename = "sha3-384", default, skip_serializing_if = "Option::is_none")]
    pub sha3_384: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deltas: Option<Vec<Delta>>,
}

/// A binary delta from an older revision, offered when the client accepts its format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, deserialize_with = "nullable")]
    pub format: String,
    #[serde(default, deserialize_with = "nullable")]
    pub source: u32,
    #[serde(default, deserialize_with = "nullable")]
    pub target: u32,
    #[serde(default, deserialize_with = "nullable")]
    pub url: String,
    #[serde(default, deserialize_with = "nullable")]
    pub size: u64,
    #[serde(rename = "sha3-384", default, deserialize_with = "nullable")]
    pub sha3_384: String,
}

/// A channel of `info`'s channel map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Channel {
    #[serde(default, deserialize_with = "nullable")]
    pub architecture: String,
    /// `stable`, or `<track>/<risk>[/<branch>]` off the default track.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub released_at: String,
    #[serde(default, deserialize_with = "nullable")]
    pub risk: String,
    #[serde(default, deserialize_with = "nullable")]
    pub track: String,
}

/// The snap-level half of a store snap: what does not change from one revision to the next.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SnapDetails {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub snap_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub title: String,
    #[serde(default, deserialize_with = "nullable")]
    pub summary: String,
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    #[serde(default)]
    pub license: Option<String>,
    #[serde(default)]
    pub contact: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    /// `contact`, `website`, `source`, `issues`, `donation` → URLs.
    #[serde(default, deserialize_with = "nullable")]
    pub links: BTreeMap<String, Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub media: Vec<Media>,
    #[serde(default, deserialize_with = "nullable")]
    pub categories: Vec<Category>,
    /// Currency → price, as decimal text.
    #[serde(default, deserialize_with = "nullable")]
    pub prices: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nullable")]
    pub private: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub publisher: Publisher,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_url: Option<String>,
}

impl SnapDetails {
    /// The URLs of this snap's media of one type (`icon`, `screenshot`), in order.
    pub fn media_urls(&self, kind: &str) -> Vec<String> {
        self.media
            .iter()
            .filter(|m| m.kind == kind)
            .map(|m| m.url.clone())
            .collect()
    }

    pub fn category_names(&self) -> Vec<String> {
        self.categories.iter().map(|c| c.name.clone()).collect()
    }
}

/// The per-revision half of a store snap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RevisionDetails {
    #[serde(default, deserialize_with = "nullable")]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub base: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub common_ids: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub confinement: String,
    #[serde(default, deserialize_with = "nullable")]
    pub created_at: String,
    #[serde(default, deserialize_with = "nullable")]
    pub download: Download,
    #[serde(default, deserialize_with = "nullable")]
    pub epoch: Epoch,
    #[serde(default, deserialize_with = "nullable")]
    pub revision: u32,
    /// The revision's `meta/snap.yaml` as the store read it: for display only, never trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snap_yaml: Option<String>,
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    pub snap_type: String,
    #[serde(default, deserialize_with = "nullable")]
    pub version: String,
}

/// A whole store snap (snapd's `storeSnap`), as a refresh result carries it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreSnap {
    #[serde(flatten)]
    pub details: SnapDetails,
    #[serde(flatten)]
    pub revision: RevisionDetails,
}

// ---- GET /v2/snaps/info/<name> ------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct InfoResponse {
    #[serde(default, deserialize_with = "nullable")]
    pub channel_map: Vec<ChannelMapEntry>,
    /// The track `latest` stands for, when the publisher set one.
    #[serde(default)]
    pub default_track: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub snap: SnapDetails,
    #[serde(default, deserialize_with = "nullable")]
    pub snap_id: String,
}

/// One channel of a snap and the revision it holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelMapEntry {
    #[serde(flatten)]
    pub revision: RevisionDetails,
    #[serde(default, deserialize_with = "nullable")]
    pub channel: Channel,
}

// ---- GET /v2/snaps/find -------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindResponse {
    #[serde(default, deserialize_with = "nullable")]
    pub results: Vec<FindResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FindResult {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub snap_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub snap: SnapDetails,
    #[serde(default, deserialize_with = "nullable")]
    pub revision: FindRevision,
}

/// The revision a find result shows; its `channel` is the channel's name, not an object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FindRevision {
    #[serde(flatten)]
    pub revision: RevisionDetails,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

// ---- GET /v2/snaps/categories -------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CategoriesResponse {
    #[serde(default, deserialize_with = "nullable")]
    pub categories: Vec<CategoryName>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CategoryName {
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
}

// ---- POST /v2/snaps/refresh ---------------------------------------------------------------------

/// The request: what is installed (`context`, never `null`), what to do (`actions`), and which
/// fields each result's snap should carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RefreshRequest {
    #[serde(default, deserialize_with = "nullable")]
    pub context: Vec<ContextItem>,
    #[serde(default, deserialize_with = "nullable")]
    pub actions: Vec<ActionItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Assertion type → the highest format the client understands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion_max_formats: Option<BTreeMap<String, u32>>,
}

/// One installed snap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ContextItem {
    #[serde(default, deserialize_with = "nullable")]
    pub snap_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub instance_key: String,
    #[serde(default, deserialize_with = "nullable")]
    pub revision: u32,
    #[serde(default, deserialize_with = "nullable")]
    pub tracking_channel: String,
    #[serde(default, deserialize_with = "nullable")]
    pub epoch: Epoch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshed_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort_key: Option<String>,
    /// Held from auto-refresh, and by whom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Held {
    #[serde(default, deserialize_with = "nullable")]
    pub by: Vec<String>,
}

/// The action names snapd sends.
pub mod action {
    pub const INSTALL: &str = "install";
    pub const DOWNLOAD: &str = "download";
    pub const REFRESH: &str = "refresh";
    pub const FETCH_ASSERTIONS: &str = "fetch-assertions";
}

/// One action. Which keys are set depends on `action` (see [`action`]): install and download name
/// the snap, refresh gives its snap-id from the context, fetch-assertions lists assertions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ActionItem {
    #[serde(default, deserialize_with = "nullable")]
    pub action: String,
    /// Empty (and not sent) for fetch-assertions, which snapd sends with a `key` instead.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub instance_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snap_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort_key: Option<String>,
    #[serde(default, skip_serializing_if = "ActionEpoch::is_omitted")]
    pub epoch: ActionEpoch,
    /// fetch-assertions: the client's key for the group, echoed in the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assertions: Vec<AssertionRef>,
}

/// An action's `epoch`. Install and download must send the key, `null` when nothing is installed
/// (that tells the store the client understands epochs at all); refresh sends no key, the context
/// entry has the epoch. Three states, so not an `Option`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ActionEpoch {
    #[default]
    Omitted,
    Null,
    Epoch(Epoch),
}

impl ActionEpoch {
    pub fn is_omitted(&self) -> bool {
        matches!(self, ActionEpoch::Omitted)
    }
}

impl Serialize for ActionEpoch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ActionEpoch::Epoch(e) => e.serialize(s),
            ActionEpoch::Omitted | ActionEpoch::Null => s.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for ActionEpoch {
    /// Only called when the key is there (a missing key is `Omitted` through `default`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<Epoch>::deserialize(d)? {
            Some(e) => ActionEpoch::Epoch(e),
            None => ActionEpoch::Null,
        })
    }
}

/// An assertion asked for by `fetch-assertions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AssertionRef {
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    pub assertion_type: String,
    #[serde(default, deserialize_with = "nullable")]
    pub primary_key: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_newer_than: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RefreshResponse {
    #[serde(default, deserialize_with = "nullable")]
    pub results: Vec<ActionResult>,
    #[serde(default, deserialize_with = "nullable")]
    pub error_list: Vec<ErrorEntry>,
}

/// One result. `result` is the action's name (`install`, `refresh`…), `error` for a per-snap
/// error (which then is in `error`), or `fetch-assertions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ActionResult {
    #[serde(default, deserialize_with = "nullable")]
    pub result: String,
    /// Empty, and left out, for `fetch-assertions` results (they carry `key`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub instance_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snap_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The channel that actually served (a closed risk falls back to a more stable one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_channel: Option<String>,
    /// The channel the client should track from now on (a default track replaced `latest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snap: Option<StoreSnap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorEntry>,
    /// fetch-assertions: the key of the action, the URLs of the streams, what was not found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion_stream_urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_list: Option<Vec<ErrorEntry>>,
}

impl ActionResult {
    pub const ERROR: &'static str = "error";

    pub fn is_error(&self) -> bool {
        self.result == Self::ERROR
    }
}

// ---- GET /v2/assertions/<type>/<key…> ----------------------------------------------------------

/// The newest format of an assertion type a client understands, sent as `max-format` (and in
/// `assertion-max-formats`) so that the store answers a revision the client can read rather than
/// an older one or a 404. snapd's values (asserts: `maxSupportedFormat`): a snap-declaration has
/// format 1 as soon as it has plug or slot rules; the helper reads only the headers every format
/// keeps (snap-id, publisher, name), so it takes what snapd takes.
pub fn assertion_max_format(kind: &str) -> u32 {
    match kind {
        "snap-declaration" => 6,
        "system-user" => 2,
        "account-key" => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests;
