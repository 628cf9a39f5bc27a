//! The `org.gnome.Shell.SearchProvider2` object. Every answer comes from the helper (system bus,
//! or `--bus-address`); what was found is remembered by name so `GetResultMetas` needs no second
//! round trip. Icons: an installed snap's own file; a store icon from the app's image cache,
//! fetched into it when missing (briefly: the Shell waits for metas); else the app's icon.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use snapshelf_dbus::proxy::Helper1Proxy;
use snapshelf_dbus::types::{FindResult, InstalledSnap};
use snapshelf_dbus::Dict;
use zbus::zvariant::{OwnedValue, Value};

use crate::{cache_path, is_url, matches, merge, query, Meta, APP_ICON};

/// At most this many results: the Shell shows a handful per provider.
const MAX_RESULTS: usize = 10;
/// A store icon not cached yet is waited for this long, then the app's icon stands in.
const ICON_WAIT: Duration = Duration::from_millis(1500);
const MAX_ICON_BYTES: u64 = 4 << 20;

pub struct Provider {
    helper: zbus::Connection,
    /// The app to start: `ActivateResult` and `LaunchSearch`.
    app: PathBuf,
    /// Passed on to the app, so it talks to the same helper.
    bus_address: Option<String>,
    cache: PathBuf,
    found: Mutex<HashMap<String, Meta>>,
    /// The last call, for the idle exit.
    pub last_used: Arc<Mutex<Instant>>,
    http: reqwest::Client,
}

fn failed(what: &str, e: impl std::fmt::Display) -> zbus::fdo::Error {
    zbus::fdo::Error::Failed(format!("{what}: {e}"))
}

impl Provider {
    pub fn new(
        helper: zbus::Connection,
        app: PathBuf,
        bus_address: Option<String>,
        cache: PathBuf,
    ) -> Provider {
        Provider {
            helper,
            app,
            bus_address,
            cache,
            found: Mutex::new(HashMap::new()),
            last_used: Arc::new(Mutex::new(Instant::now())),
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(2))
                .timeout(ICON_WAIT)
                .user_agent(concat!(
                    "snapshelf-search-provider/",
                    env!("CARGO_PKG_VERSION")
                ))
                .build()
                .unwrap_or_default(),
        }
    }

    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    async fn helper(&self) -> zbus::fdo::Result<Helper1Proxy<'_>> {
        Helper1Proxy::new(&self.helper)
            .await
            .map_err(|e| failed("the Snapshelf helper", e))
    }

    /// Installed matches from `ListInstalled`, then the store's from `Find`, remembered by name.
    async fn search(&self, terms: &[String]) -> zbus::fdo::Result<Vec<String>> {
        self.touch();
        let q = query(terms);
        if q.chars().count() < 2 {
            // One letter finds everything; the Shell asks again as the person types.
            return Ok(Vec::new());
        }
        let h = self.helper().await?;
        let (installed, store) = tokio::join!(h.list_installed(), h.find(&q, limit(MAX_RESULTS)));
        let installed: Vec<Meta> = installed
            .map_err(|e| failed("ListInstalled", e))?
            .iter()
            .filter_map(|d| InstalledSnap::from_dict(d).ok())
            .filter(|s| matches(terms, &s.name, &s.title, &s.summary))
            .map(|s| Meta::new(s.name, s.title, s.summary, s.icon_path, true))
            .collect();
        // The store unreachable or failing: the installed results still answer.
        let store: Vec<Meta> = match store {
            Ok(list) => list
                .iter()
                .filter_map(|d| FindResult::from_dict(d).ok())
                .map(|s| Meta::new(s.name, s.title, s.summary, s.icon_url, s.installed))
                .collect(),
            Err(e) => {
                tracing::warn!("Find {q:?}: {e}");
                Vec::new()
            }
        };
        let results = merge(installed, store, MAX_RESULTS);
        let ids = results.iter().map(|m| m.id.clone()).collect();
        let mut found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: only what the last searches found is kept.
        if found.len() > 500 {
            found.clear();
        }
        for m in results {
            found.insert(m.id.clone(), m);
        }
        Ok(ids)
    }

    /// The Shell's icon for a result: a serialized `GIcon` (a file path or a theme name).
    async fn gicon(&self, source: &str) -> String {
        if source.is_empty() {
            return APP_ICON.to_string();
        }
        if !is_url(source) {
            return if std::path::Path::new(source).is_file() {
                source.to_string()
            } else {
                APP_ICON.to_string()
            };
        }
        let cached = cache_path(&self.cache, source);
        if cached.is_file() {
            return cached.to_string_lossy().into_owned();
        }
        match self.fetch(source, &cached).await {
            Ok(()) => cached.to_string_lossy().into_owned(),
            Err(e) => {
                tracing::debug!("icon {source}: {e}");
                APP_ICON.to_string()
            }
        }
    }

    /// Into the cache, written aside and renamed as the app does, so a half file is never read.
    async fn fetch(&self, url: &str, to: &std::path::Path) -> anyhow::Result<()> {
        let r = self.http.get(url).send().await?.error_for_status()?;
        anyhow::ensure!(
            r.content_length().unwrap_or(0) <= MAX_ICON_BYTES,
            "larger than {MAX_ICON_BYTES} bytes"
        );
        let b = r.bytes().await?;
        anyhow::ensure!(
            b.len() as u64 <= MAX_ICON_BYTES,
            "larger than {MAX_ICON_BYTES} bytes"
        );
        tokio::fs::create_dir_all(&self.cache).await?;
        let name = to.file_name().unwrap_or_default().to_string_lossy();
        let tmp = self
            .cache
            .join(format!(".{name}.{}.tmp", std::process::id()));
        tokio::fs::write(&tmp, &b).await?;
        tokio::fs::rename(&tmp, to).await?;
        Ok(())
    }

    /// A result not found by this process (the Shell keeps IDs across a restart of it): `Info`.
    async fn meta_of(&self, id: &str) -> Option<Meta> {
        if let Some(m) = self.found.lock().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Some(m.clone());
        }
        let d = self.helper().await.ok()?.info(id).await.ok()?;
        let s = snapshelf_dbus::types::SnapDetails::from_dict(&d)
            .ok()?
            .summary;
        Some(Meta::new(
            s.name,
            s.title,
            s.summary,
            s.icon_url,
            s.installed,
        ))
    }

    /// Start the app, detached; its exit is reaped on the runtime.
    fn start_app(&self, args: &[String]) -> zbus::fdo::Result<()> {
        let mut cmd = tokio::process::Command::new(&self.app);
        if let Some(a) = &self.bus_address {
            cmd.args(["--bus-address", a]);
        }
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        let mut child = cmd
            .spawn()
            .map_err(|e| failed(&format!("starting {}", self.app.display()), e))?;
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        Ok(())
    }
}

fn limit(n: usize) -> Dict {
    let mut d = Dict::new();
    if let Ok(v) = OwnedValue::try_from(Value::from(n as u32)) {
        d.insert("limit".to_string(), v);
    }
    d
}

fn text(s: &str) -> OwnedValue {
    OwnedValue::try_from(Value::from(s)).expect("a string always converts")
}

#[zbus::interface(name = "org.gnome.Shell.SearchProvider2")]
impl Provider {
    async fn get_initial_result_set(&self, terms: Vec<String>) -> zbus::fdo::Result<Vec<String>> {
        let started = Instant::now();
        let r = self.search(&terms).await;
        tracing::info!(
            "search {:?}: {} results in {:.1} ms",
            query(&terms),
            r.as_ref().map(Vec::len).unwrap_or(0),
            started.elapsed().as_secs_f64() * 1000.0
        );
        r
    }

    /// Asked again with the narrower terms: the store's ranking may change with them, so this is a
    /// new search rather than a filter of the previous results.
    async fn get_subsearch_result_set(
        &self,
        _previous_results: Vec<String>,
        terms: Vec<String>,
    ) -> zbus::fdo::Result<Vec<String>> {
        self.search(&terms).await
    }

    async fn get_result_metas(
        &self,
        identifiers: Vec<String>,
    ) -> zbus::fdo::Result<Vec<HashMap<String, OwnedValue>>> {
        self.touch();
        let metas: Vec<Meta> = {
            let mut v = Vec::new();
            for id in &identifiers {
                if let Some(m) = self.meta_of(id).await {
                    v.push(m);
                }
            }
            v
        };
        // The icons of one answer are fetched together.
        let icons = futures_util::future::join_all(metas.iter().map(|m| self.gicon(&m.icon))).await;
        Ok(metas
            .into_iter()
            .zip(icons)
            .map(|(m, icon)| {
                HashMap::from([
                    ("id".to_string(), text(&m.id)),
                    ("name".to_string(), text(&m.name)),
                    ("description".to_string(), text(&m.description)),
                    ("gicon".to_string(), text(&icon)),
                ])
            })
            .collect())
    }

    async fn activate_result(
        &self,
        identifier: String,
        _terms: Vec<String>,
        _timestamp: u32,
    ) -> zbus::fdo::Result<()> {
        self.touch();
        tracing::info!("activate {identifier}");
        self.start_app(&["--snap".to_string(), identifier])
    }

    async fn launch_search(&self, terms: Vec<String>, _timestamp: u32) -> zbus::fdo::Result<()> {
        self.touch();
        self.start_app(&["--search".to_string(), query(&terms)])
    }
}
