//! Default providers (snapd's `default-provider` content plug attribute): the snaps an install,
//! refresh or file install brings in with the bases, from `stable`, in the same change; and the
//! tasks that then auto-connect each content plug to its provider where the policy allows it.

use crate::engine::content;
use crate::engine::task::connect_content::ConnectContent;

use super::*;

/// The default providers a snap's content plugs name (checked plugs only).
fn default_providers(yaml: &SnapYaml) -> Vec<(String, String)> {
    content::plugs(yaml)
        .into_iter()
        .filter_map(|(name, p)| Some((name, p.ok()?.default_provider?)))
        .collect()
}

impl Engine {
    /// Add the default providers the resolved snaps name that are neither installed nor part of
    /// the request, before the snaps that use them. A provider the store does not have is left
    /// out (logged), as the plug then simply stays unconnected; any other store error fails.
    pub(super) async fn add_default_providers(&self, resolved: &mut Vec<Resolved>) -> Result<()> {
        let mut wanted: Vec<String> = Vec::new();
        for r in resolved.iter() {
            for (_, provider) in default_providers(&r.yaml) {
                if self.snap(&provider)?.is_none()
                    && !resolved.iter().any(|x| x.name == provider)
                    && !wanted.contains(&provider)
                {
                    wanted.push(provider);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let mut providers = Vec::new();
        for p in self.resolve_bases(&wanted).await? {
            match p {
                Ok(p) => providers.push(p),
                Err(e) if e.kind == ErrorKind::NotFound => {
                    tracing::warn!("a default provider is not in the store: {}", e.message)
                }
                Err(e) => {
                    let message = format!(
                        "cannot install a content provider the request needs: {}",
                        e.message
                    );
                    return Err(Error::new(e.kind, message));
                }
            }
        }
        providers.append(resolved);
        *resolved = providers;
        Ok(())
    }
}

impl Engine {
    /// The default providers a local file names, from the store on stable when it has them. A
    /// file installs without the store: a provider that cannot be had is left out (logged).
    pub(super) async fn file_providers(&self, yaml: &SnapYaml) -> Result<Vec<Resolved>> {
        let mut wanted = Vec::new();
        for (_, provider) in default_providers(yaml) {
            if self.snap(&provider)?.is_none() && !wanted.contains(&provider) {
                wanted.push(provider);
            }
        }
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        match self.resolve_bases(&wanted).await {
            Ok(results) => Ok(results
                .into_iter()
                .filter_map(|r| {
                    r.map_err(|e| tracing::warn!("a default provider is left out: {}", e.message))
                        .ok()
                })
                .collect()),
            Err(e) => {
                tracing::warn!("default providers left out: {}", e.message);
                Ok(Vec::new())
            }
        }
    }
}

/// After the links: an auto-connection task for each content plug of the resolved snaps whose
/// default provider is installed or in the change (the task decides, with the verified
/// declarations, whether it may connect).
pub(super) fn auto_connect_tasks(resolved: &[Resolved], out: &mut Vec<Task>) {
    for r in resolved {
        auto_connect_tasks_of(&r.name, &r.yaml, out);
    }
}

/// The same for one snap.
pub(super) fn auto_connect_tasks_of(name: &str, yaml: &SnapYaml, out: &mut Vec<Task>) {
    let before = out.len();
    for (plug, provider) in default_providers(yaml) {
        out.push(Task::ConnectContent(ConnectContent {
            name: name.to_string(),
            plug,
            slot_snap: provider,
            slot: String::new(),
            connect: true,
            auto: true,
            before: None,
        }));
    }
    if out.len() > before {
        // Then the interface hooks of the connections these made.
        out.push(Task::AutoConnectHooks(
            crate::engine::task::auto_connect_hooks::AutoConnectHooks::new(name, true),
        ));
    }
}
