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

/// After a snap's link, before its interface hooks (`AutoConnectHooks`, which runs the hooks of
/// the connections these make) and its install or post-refresh hook, as snapd's `auto-connect`
/// does: an auto-connection task for each content plug whose default provider is installed or
/// brought in earlier in the change (the task decides, with the verified declarations, whether
/// it may connect).
pub(super) fn content_connect_tasks(name: &str, yaml: &SnapYaml, out: &mut Vec<Task>) {
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
}

/// Put each snap after the snaps of the list that are its default providers (the order kept
/// otherwise), so that a provider is in before the snap's auto-connection task runs.
pub(super) fn providers_first(resolved: &mut Vec<Resolved>) {
    fn visit(i: usize, all: &[Resolved], seen: &mut Vec<bool>, order: &mut Vec<usize>) {
        if seen[i] {
            return; // placed, or on the way (a cycle is cut here)
        }
        seen[i] = true;
        for (_, provider) in default_providers(&all[i].yaml) {
            if let Some(p) = all.iter().position(|r| r.name == provider) {
                visit(p, all, seen, order);
            }
        }
        order.push(i);
    }
    let mut seen = vec![false; resolved.len()];
    let mut order = Vec::new();
    for i in 0..resolved.len() {
        visit(i, resolved, &mut seen, &mut order);
    }
    let mut taken: Vec<Option<Resolved>> = resolved.drain(..).map(Some).collect();
    resolved.extend(order.into_iter().filter_map(|i| taken[i].take()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(name: &str, providers: &[&str]) -> Resolved {
        let mut yaml = format!("name: {name}\nversion: '1'\nplugs:\n");
        for (i, p) in providers.iter().enumerate() {
            yaml.push_str(&format!(
                "  lib{i}:\n    interface: content\n    target: $SNAP/lib{i}\n    \
                 default-provider: {p}\n"
            ));
        }
        let snap = serde_json::from_value(serde_json::json!({
            "revision": 1, "version": "1", "snap-yaml": yaml,
            "download": {"url": "http://s/x.snap", "size": 4096, "sha3-384": "a".repeat(96)},
        }))
        .unwrap();
        let result = ActionResult::Ok {
            name: name.into(),
            snap_id: format!("{name}-id"),
            effective_channel: Some("stable".into()),
            redirect_channel: None,
            snap: Box::new(snap),
        };
        resolved_from(result, None).unwrap()
    }

    /// `install app gtk theme` where app uses both and gtk uses theme: each provider before its
    /// users, the rest in the order asked; a cycle does not loop.
    #[test]
    fn providers_named_in_the_request_come_before_their_users() {
        let names = |v: &[Resolved]| v.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        let mut v = vec![
            resolved("base", &[]),
            resolved("app", &["gtk", "theme"]),
            resolved("gtk", &["theme"]),
            resolved("theme", &[]),
            resolved("other", &[]),
        ];
        providers_first(&mut v);
        assert_eq!(names(&v), ["base", "theme", "gtk", "app", "other"]);
        let mut v = vec![resolved("aa", &["bb"]), resolved("bb", &["aa"])];
        providers_first(&mut v);
        assert_eq!(names(&v), ["bb", "aa"]);
    }
}
