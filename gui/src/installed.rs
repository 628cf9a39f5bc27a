//! Installed: every installed app with its version, size and a held marker. It reads only local
//! state (ListInstalled), so it works offline.

use relm4::adw::prelude::*;
use relm4::factory::FactoryVecDeque;
use relm4::prelude::*;
use relm4::{adw, gtk};

use gettextrs::{gettext, ngettext};
use snapshelf_dbus::types::InstalledSnap;
use snapshelf_i18n::fill;

use crate::client::{self, Failure};
use crate::loadable::{Loadable, Shown};
use crate::snap_row::{RowData, SnapRow, SnapRowOutput};
use crate::timing;
use crate::words;

pub struct Installed {
    rows: FactoryVecDeque<SnapRow>,
    count: usize,
    total: u64,
    load: Loadable,
    first_draw_logged: bool,
}

#[derive(Debug)]
pub enum InstalledInput {
    Load,
}

#[derive(Debug)]
pub enum InstalledOutput {
    Open(String),
}

#[derive(Debug)]
pub enum InstalledCmd {
    Loaded(Result<Vec<InstalledSnap>, Failure>),
}

/// The row of one installed snap. Apps without a title show their name.
pub fn row(s: &InstalledSnap) -> RowData {
    let mut note = format!("{} · {}", s.version, words::size(s.installed_size));
    if s.held {
        note = fill(&gettext("{details} · On hold"), &[("details", &note)]);
    }
    RowData {
        name: s.name.clone(),
        title: if s.title.is_empty() {
            s.name.clone()
        } else {
            s.title.clone()
        },
        summary: s.summary.clone(),
        icon: s.icon_path.clone(),
        note,
        action: String::new(),
    }
}

/// Apps a person installs, not the bases under them; sorted by title.
pub fn visible(mut list: Vec<InstalledSnap>) -> Vec<InstalledSnap> {
    list.retain(|s| !s.apps.is_empty());
    list.sort_by_key(|s| s.title.to_lowercase());
    list
}

#[relm4::component(pub)]
impl Component for Installed {
    type Init = ();
    type Input = InstalledInput;
    type Output = InstalledOutput;
    type CommandOutput = InstalledCmd;

    view! {
        gtk::Stack {
            add_named[Some("loading")] = &gtk::Box {},
            add_named[Some("failed")] = &crate::ui::status("dialog-error-symbolic", &gettext("Installed apps cannot be listed")) -> adw::StatusPage {
                #[watch]
                set_description: model.load.description().as_deref(),
            },
            add_named[Some("empty")] = &crate::ui::status("view-grid-symbolic", &gettext("No apps installed")) -> adw::StatusPage {
                set_description: Some(&gettext("Apps you install from Explore appear here.")),
            },
            add_named[Some("ready")] = &gtk::ScrolledWindow {
                set_hscrollbar_policy: gtk::PolicyType::Never,
                adw::Clamp {
                    set_maximum_size: 720,
                    gtk::Box {
                        set_orientation: gtk::Orientation::Vertical,
                        set_spacing: 12,
                        set_margin_all: 12,
                        gtk::Label {
                            #[watch]
                            set_label: &fill(&ngettext("{n} app, {size}", "{n} apps, {size}", model.count as u32), &[("n", &model.count.to_string()), ("size", &words::size(model.total))]),
                            add_css_class: "heading",
                            set_halign: gtk::Align::Start,
                        },
                        #[local_ref]
                        list -> gtk::ListBox {},
                    },
                },
            },
            #[watch]
            set_visible_child_name: model.load.face(if model.count == 0 { Shown::Empty } else { Shown::Something }).name(),
        }
    }

    fn init(_: (), root: Self::Root, sender: ComponentSender<Self>) -> ComponentParts<Self> {
        let rows = FactoryVecDeque::builder()
            .launch(crate::ui::boxed_list())
            .forward(sender.output_sender(), |o| match o {
                // Installed rows have no button: Act never comes.
                SnapRowOutput::Open(n) | SnapRowOutput::Act(n) => InstalledOutput::Open(n),
            });
        let model = Installed {
            rows,
            count: 0,
            total: 0,
            load: Loadable::new(),
            first_draw_logged: false,
        };
        let list = model.rows.widget();
        let widgets = view_output!();
        sender.input(InstalledInput::Load);
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: InstalledInput, sender: ComponentSender<Self>, _root: &Self::Root) {
        match msg {
            InstalledInput::Load => sender
                .oneshot_command(async { InstalledCmd::Loaded(client::list_installed().await) }),
        }
    }

    fn update_cmd(&mut self, msg: InstalledCmd, _sender: ComponentSender<Self>, root: &Self::Root) {
        let InstalledCmd::Loaded(r) = msg;
        match r {
            Ok(list) => {
                self.load.succeeded();
                let list = visible(list);
                self.count = list.len();
                self.total = list.iter().map(|s| s.installed_size).sum();
                let mut g = self.rows.guard();
                g.clear();
                for s in &list {
                    g.push_back(row(s));
                }
            }
            Err(f) => self.load.failed(f),
        }
        if !self.first_draw_logged {
            self.first_draw_logged = true;
            let n = self.count;
            timing::after_paint(root, move || {
                tracing::info!(
                    target: "ui",
                    "installed drawn: {n} apps at {:.1} ms after launch",
                    timing::since_start_ms()
                );
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(name: &str, title: &str, apps: &[&str], held: bool) -> InstalledSnap {
        InstalledSnap {
            name: name.into(),
            title: title.into(),
            version: "1.0".into(),
            installed_size: 12_000_000,
            apps: apps.iter().map(|a| a.to_string()).collect(),
            held,
            ..Default::default()
        }
    }

    #[test]
    fn bases_are_hidden_and_apps_sorted() {
        let list = visible(vec![
            snap("zed", "Zed", &["zed"], false),
            snap("shelf-base", "", &[], false),
            snap("abc", "abc", &["abc"], false),
        ]);
        let names: Vec<_> = list.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["abc", "zed"]);
    }

    #[test]
    fn rows_show_version_size_and_hold() {
        let r = row(&snap("clock", "", &["clock"], true));
        assert_eq!(r.title, "clock");
        assert_eq!(r.note, "1.0 · 12 MB · On hold");
        assert_eq!(row(&snap("c", "C", &["c"], false)).note, "1.0 · 12 MB");
    }
}
