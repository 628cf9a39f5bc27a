//! Installed: every installed app with its version, size and a held marker, then apart from
//! them the bases and content providers apps build on, each with the apps that use its content.
//! It reads only local state (ListInstalled, Connections), so it works offline.

use relm4::adw::prelude::*;
use relm4::factory::FactoryVecDeque;
use relm4::prelude::*;
use relm4::{adw, gtk};

use gettextrs::{gettext, ngettext};
use snapshelf_dbus::types::{Connection as Plug, InstalledSnap};
use snapshelf_i18n::fill;

use crate::client::{self, Failure};
use crate::loadable::{Loadable, Shown};
use crate::snap_row::{RowData, SnapRow, SnapRowOutput};
use crate::timing;
use crate::words;

pub struct Installed {
    rows: FactoryVecDeque<SnapRow>,
    /// Bases and content providers.
    platforms: FactoryVecDeque<SnapRow>,
    platform_count: usize,
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
    Loaded(Result<(Vec<InstalledSnap>, Vec<Plug>), Failure>),
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

/// The apps, and apart from them what apps build on: snaps without apps (bases, most content
/// snaps) and snaps whose content connected apps use, each with those apps. Sorted by name. Pure.
pub fn split(
    list: Vec<InstalledSnap>,
    plugs: &[Plug],
) -> (Vec<InstalledSnap>, Vec<(InstalledSnap, Vec<String>)>) {
    let users_of = |name: &str| {
        let mut u: Vec<String> = plugs
            .iter()
            .filter(|p| p.interface == "content" && p.connected && p.slot_snap == name)
            .map(|p| p.plug_snap.clone())
            .collect();
        u.sort();
        u.dedup();
        u
    };
    let (mut platforms, apps): (Vec<_>, Vec<_>) = list
        .into_iter()
        .map(|s| {
            let users = users_of(&s.name);
            (s, users)
        })
        .partition(|(s, users)| s.apps.is_empty() || !users.is_empty());
    platforms.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    (
        visible(apps.into_iter().map(|(s, _)| s).collect()),
        platforms,
    )
}

/// The row of a base or content provider: the apps that use it, when any do.
pub fn platform_row(s: &InstalledSnap, users: &[String]) -> RowData {
    let mut r = row(s);
    if !users.is_empty() {
        r.summary = fill(
            // Translators: {apps} is a list of app names, such as "gimp, inkscape".
            &gettext("Used by {apps}"),
            &[("apps", &users.join(", "))],
        );
    }
    r
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
                        gtk::Label {
                            set_label: &gettext("Platforms and bases"),
                            add_css_class: "heading",
                            set_halign: gtk::Align::Start,
                            set_margin_top: 12,
                            #[watch]
                            set_visible: model.platform_count > 0,
                        },
                        #[local_ref]
                        platform_list -> gtk::ListBox {
                            #[watch]
                            set_visible: model.platform_count > 0,
                        },
                    },
                },
            },
            #[watch]
            set_visible_child_name: model.load.face(if model.count + model.platform_count == 0 { Shown::Empty } else { Shown::Something }).name(),
        }
    }

    fn init(_: (), root: Self::Root, sender: ComponentSender<Self>) -> ComponentParts<Self> {
        let rows = FactoryVecDeque::builder()
            .launch(crate::ui::boxed_list())
            .forward(sender.output_sender(), |o| match o {
                // Installed rows have no button: Act never comes.
                SnapRowOutput::Open(n) | SnapRowOutput::Act(n) => InstalledOutput::Open(n),
            });
        let platforms = FactoryVecDeque::builder()
            .launch(crate::ui::boxed_list())
            .forward(sender.output_sender(), |o| match o {
                SnapRowOutput::Open(n) | SnapRowOutput::Act(n) => InstalledOutput::Open(n),
            });
        let model = Installed {
            rows,
            platforms,
            platform_count: 0,
            count: 0,
            total: 0,
            load: Loadable::new(),
            first_draw_logged: false,
        };
        let list = model.rows.widget();
        let platform_list = model.platforms.widget();
        let widgets = view_output!();
        sender.input(InstalledInput::Load);
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: InstalledInput, sender: ComponentSender<Self>, _root: &Self::Root) {
        match msg {
            InstalledInput::Load => sender.oneshot_command(async {
                let r = async {
                    Ok((
                        client::list_installed().await?,
                        client::connections("").await?,
                    ))
                };
                InstalledCmd::Loaded(r.await)
            }),
        }
    }

    fn update_cmd(&mut self, msg: InstalledCmd, _sender: ComponentSender<Self>, root: &Self::Root) {
        let InstalledCmd::Loaded(r) = msg;
        match r {
            Ok((list, plugs)) => {
                self.load.succeeded();
                let (list, platforms) = split(list, &plugs);
                self.count = list.len();
                self.total = list.iter().map(|s| s.installed_size).sum();
                let mut g = self.rows.guard();
                g.clear();
                for s in &list {
                    g.push_back(row(s));
                }
                drop(g);
                self.platform_count = platforms.len();
                let mut g = self.platforms.guard();
                g.clear();
                for (s, users) in &platforms {
                    g.push_back(platform_row(s, users));
                }
                drop(g);
                tracing::info!(
                    target: "ui",
                    "installed platforms: {}",
                    platforms
                        .iter()
                        .map(|(s, u)| format!("{} used by [{}]", s.name, u.join(",")))
                        .collect::<Vec<_>>()
                        .join("; ")
                );
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
    fn bases_and_providers_are_listed_apart_with_their_users() {
        let plug = |snap: &str, provider: &str, connected: bool| Plug {
            interface: "content".into(),
            plug_snap: snap.into(),
            plug: "gnome-42-2204".into(),
            slot_snap: provider.into(),
            slot: "gnome-42-2204".into(),
            connected,
            ..Default::default()
        };
        let (apps, platforms) = split(
            vec![
                snap("gimp", "GIMP", &["gimp"], false),
                snap("gnome-42-2204", "", &[], false),
                snap("core22", "", &[], false),
                snap("editor", "Editor", &["editor"], false),
                snap("helper-with-app", "", &["sh"], false),
            ],
            &[
                plug("gimp", "gnome-42-2204", true),
                plug("editor", "gnome-42-2204", true),
                plug("editor", "helper-with-app", true),
                plug("gimp", "core22", false),
            ],
        );
        let names: Vec<_> = apps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["editor", "gimp"]);
        let shown: Vec<(&str, Vec<String>)> = platforms
            .iter()
            .map(|(s, u)| (s.name.as_str(), u.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                ("core22", vec![]),
                (
                    "gnome-42-2204",
                    vec!["editor".to_string(), "gimp".to_string()]
                ),
                ("helper-with-app", vec!["editor".to_string()]),
            ]
        );
        let r = platform_row(&platforms[1].0, &platforms[1].1);
        assert_eq!(r.summary, "Used by editor, gimp");
    }

    #[test]
    fn rows_show_version_size_and_hold() {
        let r = row(&snap("clock", "", &["clock"], true));
        assert_eq!(r.title, "clock");
        assert_eq!(r.note, "1.0 · 12 MB · On hold");
        assert_eq!(row(&snap("c", "C", &["c"], false)).note, "1.0 · 12 MB");
    }
}
