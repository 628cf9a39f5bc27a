//! Updates: what the store has newer than what is installed. "Update All" is one Refresh call:
//! one change, one authorization, one progress bar with an honest Cancel; each row's Update
//! refreshes that snap alone the same way.

use crate::a11y::A11yExt;
use relm4::adw::prelude::*;
use relm4::factory::FactoryVecDeque;
use relm4::prelude::*;
use relm4::{adw, gtk};

use gettextrs::{gettext, ngettext};
use snapshelf_dbus::types::{InstalledSnap, PendingRefresh, UpdateInfo};
use snapshelf_i18n::fill;

use crate::client::{self, Action, ChangeState, Failure};
use crate::loadable::{Loadable, Shown};
use crate::progress::{Progress, ProgressInput, ProgressOutput};
use crate::snap_row::{RowData, SnapRow, SnapRowInput, SnapRowOutput};
use crate::words;

pub struct Updates {
    rows: FactoryVecDeque<SnapRow>,
    count: usize,
    total: u64,
    busy: bool,
    load: Loadable,
    progress: Controller<Progress>,
}

#[derive(Debug)]
pub enum UpdatesInput {
    Load,
    Open(String),
    UpdateAll,
    /// One snap's Update button.
    UpdateOne(String),
    Ended(ChangeState),
    Failed(Failure),
}

#[derive(Debug)]
pub enum UpdatesOutput {
    Open(String),
    Failed(Failure),
    Changed,
}

#[derive(Debug)]
pub enum UpdatesCmd {
    Loaded(Result<Loaded, Failure>),
}

/// The updates, the installed snaps, and the automatic refreshes waiting for apps to close.
type Loaded = (Vec<UpdateInfo>, Vec<InstalledSnap>, Vec<PendingRefresh>);

/// Rows for the updates, with the installed app's title and icon; an update the update agent
/// could not apply yet because the app runs says which apps it waits for.
pub fn rows(
    updates: &[UpdateInfo],
    installed: &[InstalledSnap],
    pending: &[PendingRefresh],
) -> Vec<RowData> {
    let mut v: Vec<RowData> = updates
        .iter()
        .map(|u| {
            let i = installed.iter().find(|s| s.name == u.name);
            let from = i.map(|s| s.version.as_str()).unwrap_or("");
            RowData {
                name: u.name.clone(),
                title: i
                    .map(|s| s.title.clone())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| u.name.clone()),
                summary: fill(
                    &gettext("{from} → {to} ({channel})"),
                    &[("from", &from), ("to", &u.version), ("channel", &u.channel)],
                ),
                icon: i.map(|s| s.icon_path.clone()).unwrap_or_default(),
                note: match pending
                    .iter()
                    .find(|p| p.name == u.name && !p.apps.is_empty())
                {
                    // Translators: {size} is a download size, {apps} a list of app names.
                    Some(p) => fill(
                        &gettext("{size} · waiting for {apps} to close"),
                        &[
                            ("size", &words::size(u.download_size)),
                            ("apps", &p.apps.join(", ")),
                        ],
                    ),
                    None => words::size(u.download_size),
                },
                action: gettext("Update"),
            }
        })
        .collect();
    v.sort_by_key(|r| r.title.to_lowercase());
    v
}

impl Updates {
    /// Refresh `names` (all with updates when empty): one change, one authorization.
    fn start(&mut self, names: Vec<String>) {
        self.set_busy(true);
        self.progress.emit(ProgressInput::Start(Action::Refresh {
            names,
            channel: None,
        }));
    }

    fn set_busy(&mut self, busy: bool) {
        self.busy = busy;
        self.rows.broadcast(SnapRowInput::Busy(busy));
    }
}

#[relm4::component(pub)]
impl Component for Updates {
    type Init = ();
    type Input = UpdatesInput;
    type Output = UpdatesOutput;
    type CommandOutput = UpdatesCmd;

    view! {
        gtk::Stack {
            add_named[Some("loading")] = &gtk::Box {},
            add_named[Some("failed")] = &crate::ui::status("network-offline-symbolic", &gettext("Updates cannot be checked")) -> adw::StatusPage {
                #[watch]
                set_description: model.load.description().as_deref(),
                crate::ui::retry() -> gtk::Button {
                    connect_clicked => UpdatesInput::Load,
                },
            },
            add_named[Some("empty")] = &crate::ui::status("emblem-ok-symbolic", &gettext("Everything is up to date")) -> adw::StatusPage {
            },
            add_named[Some("ready")] = &gtk::ScrolledWindow {
                set_hscrollbar_policy: gtk::PolicyType::Never,
                adw::Clamp {
                    set_maximum_size: 720,
                    gtk::Box {
                        set_orientation: gtk::Orientation::Vertical,
                        set_spacing: 12,
                        set_margin_all: 12,
                        gtk::Box {
                            set_spacing: 12,
                            gtk::Label {
                                #[watch]
                                set_label: &fill(&ngettext("{n} update, {size} to download", "{n} updates, {size} to download", model.count as u32), &[("n", &model.count.to_string()), ("size", &words::size(model.total))]),
                                add_css_class: "heading",
                                set_halign: gtk::Align::Start,
                                set_hexpand: true,
                            },
                            gtk::Button {
                                set_label: &gettext("_Update All"),
                                set_use_underline: true,
                                set_a11y_label: &crate::a11y::plain(&gettext("_Update All")),
                                add_css_class: "suggested-action",
                                #[watch]
                                set_sensitive: !model.busy && model.count > 0,
                                connect_clicked => UpdatesInput::UpdateAll,
                            },
                        },
                        append: model.progress.widget(),
                        #[local_ref]
                        list -> gtk::ListBox {},
                    },
                },
            },
            #[watch]
            set_visible_child_name: model.load.face(if model.count == 0 && !model.busy { Shown::Empty } else { Shown::Something }).name(),
        }
    }

    fn init(_: (), root: Self::Root, sender: ComponentSender<Self>) -> ComponentParts<Self> {
        let rows = FactoryVecDeque::builder()
            .launch(crate::ui::boxed_list())
            .forward(sender.input_sender(), |o| match o {
                SnapRowOutput::Open(n) => UpdatesInput::Open(n),
                SnapRowOutput::Act(n) => UpdatesInput::UpdateOne(n),
            });
        let progress = Progress::builder()
            .launch(())
            .forward(sender.input_sender(), |o| match o {
                ProgressOutput::Ended(s) => UpdatesInput::Ended(s),
                ProgressOutput::Failed(f) => UpdatesInput::Failed(f),
            });
        let model = Updates {
            rows,
            count: 0,
            total: 0,
            busy: false,
            load: Loadable::new(),
            progress,
        };
        let list = model.rows.widget();
        let widgets = view_output!();
        sender.input(UpdatesInput::Load);
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: UpdatesInput, sender: ComponentSender<Self>, _root: &Self::Root) {
        match msg {
            UpdatesInput::Load => sender.oneshot_command(async {
                let r = async {
                    let updates = client::list_updates().await?;
                    let installed = client::list_installed().await?;
                    // Offline the helper knows of no update: that is not "up to date". It asks
                    // the store only for snaps that can update (from the store, not held).
                    let can_update = installed
                        .iter()
                        .any(|s| !s.held && !s.revision.starts_with('x'));
                    if updates.is_empty() && can_update {
                        client::from_store(()).await?;
                    }
                    // Only a note on the rows: without it (an older helper) they show less.
                    let pending = client::pending_refreshes().await.unwrap_or_else(|f| {
                        tracing::debug!("no pending refreshes: {:?}", f.kind);
                        Vec::new()
                    });
                    Ok((updates, installed, pending))
                };
                UpdatesCmd::Loaded(r.await)
            }),
            UpdatesInput::Open(name) => {
                let _ = sender.output(UpdatesOutput::Open(name));
            }
            UpdatesInput::UpdateAll => self.start(Vec::new()),
            UpdatesInput::UpdateOne(name) => {
                if !self.busy {
                    self.start(vec![name]);
                }
            }
            UpdatesInput::Ended(state) => {
                self.set_busy(false);
                if state.failed() {
                    if let Some(kind) = state.error_kind {
                        let _ =
                            sender.output(UpdatesOutput::Failed(Failure::of(kind, state.error)));
                    }
                }
                let _ = sender.output(UpdatesOutput::Changed);
                sender.input(UpdatesInput::Load);
            }
            UpdatesInput::Failed(f) => {
                self.set_busy(false);
                let _ = sender.output(UpdatesOutput::Failed(f));
            }
        }
    }

    fn update_cmd(&mut self, msg: UpdatesCmd, _sender: ComponentSender<Self>, _root: &Self::Root) {
        let UpdatesCmd::Loaded(r) = msg;
        match r {
            Ok((updates, installed, pending)) => {
                self.load.succeeded();
                self.count = updates.len();
                self.total = updates.iter().map(|u| u.download_size).sum();
                let mut g = self.rows.guard();
                g.clear();
                for r in rows(&updates, &installed, &pending) {
                    g.push_back(r);
                }
                drop(g);
                // Rows rebuilt while a change runs wait with the rest.
                self.rows.broadcast(SnapRowInput::Busy(self.busy));
                tracing::info!(target: "ui", "updates shown: {}", self.count);
            }
            Err(f) => {
                tracing::info!(target: "ui", "updates failed: {:?}", f.kind);
                self.load.failed(f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_rows_say_from_what_to_what() {
        let u = UpdateInfo {
            name: "shelf-clock".into(),
            version: "1.1".into(),
            revision: "2".into(),
            channel: "latest/stable".into(),
            download_size: 2_000_000,
        };
        let i = InstalledSnap {
            name: "shelf-clock".into(),
            title: "Shelf Clock".into(),
            version: "1.0".into(),
            icon_path: "/var/lib/snapshelf/desktop/icons/x.png".into(),
            ..Default::default()
        };
        let r = rows(std::slice::from_ref(&u), std::slice::from_ref(&i), &[]);
        assert_eq!(r[0].title, "Shelf Clock");
        assert_eq!(r[0].summary, "1.0 → 1.1 (latest/stable)");
        assert_eq!(r[0].note, "2.0 MB");
        assert_eq!(r[0].action, "Update", "each update has its own button");
        assert_eq!(
            rows(std::slice::from_ref(&u), &[], &[])[0].title,
            "shelf-clock"
        );
        // Put off while its app runs: the row says what it waits for; once closed, nothing.
        let mut pending = PendingRefresh {
            name: "shelf-clock".into(),
            apps: vec!["shelf-clock".into(), "alarm".into()],
            since: 1,
            remaining: 86_400,
        };
        let r = rows(
            std::slice::from_ref(&u),
            std::slice::from_ref(&i),
            &[pending.clone()],
        );
        assert_eq!(
            r[0].note,
            "2.0 MB · waiting for shelf-clock, alarm to close"
        );
        pending.apps.clear();
        assert_eq!(rows(&[u], &[i], &[pending])[0].note, "2.0 MB");
    }
}
