//! Permissions of one installed app: a switch per plug with its human label, grouped (files,
//! devices, network, display and sound), a marker where the person changed the default, and
//! Reset to defaults. A switch shows the system's state: it moves only when the change is Done,
//! and snaps back, with the reason, when it fails.

use crate::a11y::A11yExt;
use std::collections::HashMap;

use relm4::adw::prelude::*;
use relm4::prelude::*;
use relm4::{adw, gtk};

use gettextrs::gettext;
use snapshelf_dbus::types::Connection as Plug;
use snapshelf_i18n::fill;

use crate::client::{self, Action, Failure};
use crate::loadable::{Loadable, Shown};
use crate::words::Group;

/// The plugs of one snap, in the order and groups they are shown. Pure.
pub fn grouped(mut plugs: Vec<Plug>, snap: &str) -> Vec<(Group, Vec<Plug>)> {
    plugs.retain(|p| p.plug_snap == snap);
    plugs.sort_by(|a, b| {
        (Group::of(&a.interface), &a.label, &a.plug).cmp(&(
            Group::of(&b.interface),
            &b.label,
            &b.plug,
        ))
    });
    let mut out: Vec<(Group, Vec<Plug>)> = Vec::new();
    for p in plugs {
        let g = Group::of(&p.interface);
        match out.last_mut() {
            Some((last, v)) if *last == g => v.push(p),
            _ => out.push((g, vec![p])),
        }
    }
    out
}

/// Whether each interface connects by itself (`Interfaces()`, key `auto-connect`).
pub type Defaults = HashMap<String, bool>;

/// The content tag of each content plug, keyed `snap:plug`.
pub type Tags = HashMap<String, String>;

/// The slots each `dbus` plug may be connected to, keyed `snap:plug` (`Connections`' `slots`).
pub type Offers = HashMap<String, Vec<(String, String)>>;

/// The slots a person picks from for `p`: several offered and the plug not connected (one is
/// the switch's own, none leaves it off). Pure.
pub fn picks<'a>(p: &Plug, offers: &'a Offers) -> Option<&'a [(String, String)]> {
    let offered = offers.get(&format!("{}:{}", p.plug_snap, p.plug))?;
    (offered.len() > 1 && !p.connected).then_some(offered.as_slice())
}

/// How the picker names each slot: the snap's name, as `snap:slot` (snapd's syntax) where that
/// snap offers several. Pure.
pub fn pick_names(offered: &[(String, String)]) -> Vec<String> {
    offered
        .iter()
        .map(|(snap, slot)| {
            if offered.iter().filter(|(s, _)| s == snap).count() > 1 {
                format!("{snap}:{slot}")
            } else {
                snap.clone()
            }
        })
        .collect()
}

/// The snap's content plugs in words, with the plug's name: "Uses the GNOME 42 platform from
/// gnome-42-2204". Without a tag (an older helper) the provider's name stands for it. Pure.
pub fn content_rows(plugs: &[Plug], tags: &Tags, snap: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = plugs
        .iter()
        .filter(|p| p.plug_snap == snap && p.interface == "content")
        .map(|p| {
            let key = format!("{}:{}", p.plug_snap, p.plug);
            let tag = tags
                .get(&key)
                .cloned()
                .unwrap_or_else(|| p.slot_snap.clone());
            (
                crate::words::content_use(&tag, &p.slot_snap, p.connected),
                p.plug.clone(),
            )
        })
        .collect();
    out.sort();
    out
}

/// What the system would do with this plug by itself.
pub fn default_of(p: &Plug, defaults: &Defaults) -> bool {
    defaults.get(&p.interface).copied().unwrap_or(p.auto)
}

/// A person set this plug away from what the system would do by itself.
pub fn changed_by_person(p: &Plug, defaults: &Defaults) -> bool {
    p.manual && p.connected != default_of(p, defaults)
}

/// A row's subtitle and whether its switch can act. A `dbus` plug connects to another app's
/// slot: the row names that app, says how many offer it (`offered`, when the person picks one),
/// or says none is installed (then the switch cannot turn it on). Pure.
pub fn row_subtitle(p: &Plug, defaults: &Defaults, offered: usize) -> (String, bool) {
    let mut sub = p.interface.clone();
    let mut can = true;
    if p.interface == "dbus" {
        if p.slot_snap.is_empty() && offered > 1 && !p.connected {
            // Translators: {interface} is a technical name (dbus), {n} a number of apps.
            let template = gettextrs::ngettext(
                "{interface} · {n} installed app offers this service",
                "{interface} · {n} installed apps offer this service",
                u32::try_from(offered).unwrap_or(u32::MAX),
            );
            sub = fill(&template, &[("interface", &sub), ("n", &offered)]);
        } else if p.slot_snap.is_empty() {
            can = p.connected;
            sub = fill(
                &gettext("{interface} · no installed app offers this service"),
                &[("interface", &sub)],
            );
        } else {
            sub = fill(
                &gettext("{interface} · with {snap}"),
                &[("interface", &sub), ("snap", &p.slot_snap)],
            );
        }
    }
    if changed_by_person(p, defaults) {
        sub = fill(
            &gettext("{interface} · changed by you"),
            &[("interface", &sub)],
        );
    }
    (sub, can)
}

/// Reset to Defaults has something to do: a person chose for some plug (the helper forgets
/// every such choice in one change, `ResetConnections`).
pub fn resettable(plugs: &[Plug]) -> bool {
    plugs.iter().any(|p| p.manual)
}

pub struct Permissions {
    name: String,
    title: String,
    plugs: Vec<Plug>,
    /// Content plugs, in words (`content_rows`): shown apart, without a switch.
    content: Vec<(String, String)>,
    defaults: Defaults,
    /// Where several snaps offer a plug's slot: the choices (`picks`).
    offers: Offers,
    load: Loadable,
    busy: usize,
    switches: Vec<gtk::Switch>,
    /// Each switch's picker of slots, where it has one.
    pickers: Vec<Option<adw::ComboRow>>,
}

#[derive(Debug)]
pub enum PermissionsInput {
    Show { name: String, title: String },
    Load,
    Toggle(usize, bool),
    Reset,
}

#[derive(Debug)]
pub enum PermissionsOutput {
    Failed(Failure),
}

#[derive(Debug)]
pub enum PermissionsCmd {
    /// The app asked for, and its plugs.
    Loaded(
        String,
        Result<(Vec<Plug>, Defaults, client::RowExtras), Failure>,
    ),
    /// One switch's change ended: its index, and the failure if it did not end Done.
    Done(Option<usize>, Result<(), Failure>),
}

#[relm4::component(pub)]
impl Component for Permissions {
    type Init = ();
    type Input = PermissionsInput;
    type Output = PermissionsOutput;
    type CommandOutput = PermissionsCmd;

    view! {
        gtk::Stack {
            add_named[Some("loading")] = &gtk::Box {},
            add_named[Some("failed")] = &crate::ui::status("dialog-error-symbolic", &gettext("Permissions cannot be shown")) -> adw::StatusPage {
                #[watch]
                set_description: model.load.description().as_deref(),
            },
            add_named[Some("empty")] = &adw::StatusPage {
                set_icon_name: Some("security-high-symbolic"),
                #[watch]
                set_title: &fill(&gettext("{title} asks for no permissions"), &[("title", &model.title)]),
                set_description: Some(&gettext("It runs in its sandbox with nothing more.")),
            },
            add_named[Some("ready")] = &gtk::ScrolledWindow {
                set_hscrollbar_policy: gtk::PolicyType::Never,
                adw::Clamp {
                    set_maximum_size: 720,
                    gtk::Box {
                        set_orientation: gtk::Orientation::Vertical,
                        set_spacing: 18,
                        set_margin_all: 24,
                        gtk::Box {
                            set_spacing: 12,
                            gtk::Label {
                                #[watch]
                                set_label: &fill(&gettext("What {title} may use"), &[("title", &model.title)]),
                                add_css_class: "title-2",
                                set_halign: gtk::Align::Start,
                                set_hexpand: true,
                                set_wrap: true,
                                set_xalign: 0.0,
                            },
                            gtk::Button {
                                set_label: &gettext("Reset to _Defaults"),
                                set_use_underline: true,
                                set_a11y_label: &crate::a11y::plain(&gettext("Reset to _Defaults")),
                                #[watch]
                                set_sensitive: model.busy == 0 && resettable(&model.plugs),
                                connect_clicked => PermissionsInput::Reset,
                            },
                        },
                        #[name = "groups"]
                        gtk::Box {
                            set_orientation: gtk::Orientation::Vertical,
                            set_spacing: 18,
                        },
                    },
                },
            },
            #[watch]
            set_visible_child_name: model.load.face(if model.plugs.is_empty() && model.content.is_empty() { Shown::Empty } else { Shown::Something }).name(),
        }
    }

    fn init(_: (), root: Self::Root, _sender: ComponentSender<Self>) -> ComponentParts<Self> {
        let model = Permissions {
            name: String::new(),
            title: String::new(),
            plugs: Vec::new(),
            content: Vec::new(),
            defaults: Defaults::new(),
            offers: Offers::new(),
            // A failed reload leaves the switches shown: a switch's own failure goes to a toast.
            load: Loadable::keeping_shown(),
            busy: 0,
            switches: Vec::new(),
            pickers: Vec::new(),
        };
        let widgets = view_output!();
        ComponentParts { model, widgets }
    }

    fn update_with_view(
        &mut self,
        widgets: &mut Self::Widgets,
        msg: PermissionsInput,
        sender: ComponentSender<Self>,
        _root: &Self::Root,
    ) {
        match msg {
            PermissionsInput::Show { name, title } => {
                if name != self.name {
                    self.plugs.clear();
                    self.load.restart();
                    self.fill(widgets, &sender);
                }
                self.name = name;
                self.title = title;
                sender.input(PermissionsInput::Load);
            }
            PermissionsInput::Load => {
                let name = self.name.clone();
                sender.oneshot_command(async move {
                    let r = async {
                        let (plugs, extras) = client::connections_with_content(&name).await?;
                        Ok((plugs, client::interface_defaults().await?, extras))
                    };
                    let r = r.await;
                    PermissionsCmd::Loaded(name, r)
                });
            }
            PermissionsInput::Toggle(i, on) => {
                let Some(mut p) = self.plugs.get(i).cloned() else {
                    return;
                };
                if p.connected == on {
                    return;
                }
                if on {
                    // The slot picked, where several snaps offer one (snapd's `snap connect
                    // plug snap:slot`).
                    if let Some((snap, slot)) = self.picked(i, &p) {
                        tracing::info!(target: "ui", "permission slot picked: {}:{} -> {snap}:{slot}", p.plug_snap, p.plug);
                        (p.slot_snap, p.slot) = (snap, slot);
                    }
                }
                self.busy += 1;
                tracing::info!(target: "ui", "permission switched: {}:{} -> {on}", p.plug_snap, p.plug);
                sender.oneshot_command(async move {
                    PermissionsCmd::Done(
                        Some(i),
                        run(Action::Connect {
                            plug: p,
                            connect: on,
                        })
                        .await,
                    )
                });
            }
            PermissionsInput::Reset => {
                self.busy += 1;
                let name = self.name.clone();
                tracing::info!(target: "ui", "permissions reset: {name}");
                sender.oneshot_command(async move {
                    // One call, one change: every connect/disconnect undone together on failure.
                    PermissionsCmd::Done(None, run(Action::ResetConnections { name }).await)
                });
            }
        }
        self.update_view(widgets, sender);
    }

    fn update_cmd_with_view(
        &mut self,
        widgets: &mut Self::Widgets,
        msg: PermissionsCmd,
        sender: ComponentSender<Self>,
        _root: &Self::Root,
    ) {
        match msg {
            // A late answer about the app shown before is not this app's.
            PermissionsCmd::Loaded(name, _) if name != self.name => {}
            PermissionsCmd::Loaded(_, r) => match r {
                Ok((plugs, defaults, extras)) => {
                    self.load.succeeded();
                    self.defaults = defaults;
                    self.offers = extras.slots;
                    let (content, plugs): (Vec<Plug>, Vec<Plug>) =
                        plugs.into_iter().partition(|p| p.interface == "content");
                    self.content = content_rows(&content, &extras.tags, &self.name);
                    self.plugs = grouped(plugs, &self.name)
                        .into_iter()
                        .flat_map(|(_, v)| v)
                        .collect();
                    self.fill(widgets, &sender);
                    tracing::info!(target: "ui", "permissions shown: {} ({} plugs, content: {})", self.name, self.plugs.len(), self.content.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>().join("; "));
                }
                Err(f) => self.load.failed(f),
            },
            PermissionsCmd::Done(i, r) => {
                self.busy = self.busy.saturating_sub(1);
                if let Err(f) = r {
                    // Snap back to what the system has, and say why.
                    if let (Some(i), Some(p)) = (i, i.and_then(|i| self.plugs.get(i))) {
                        if let Some(s) = self.switches.get(i) {
                            s.set_active(p.connected);
                            s.set_state(p.connected);
                        }
                    }
                    if !f.is_dismissal() {
                        let _ = sender.output(PermissionsOutput::Failed(f));
                    }
                }
                sender.input(PermissionsInput::Load);
            }
        }
        self.update_view(widgets, sender);
    }
}

async fn run(a: Action) -> Result<(), Failure> {
    let path = client::start(&a).await?;
    let end = client::follow(path.as_str(), |_| {}).await?;
    match (end.failed(), end.error_kind) {
        (true, Some(k)) => Err(Failure::of(k, end.error)),
        (true, None) => Err(Failure::of(snapshelf_dbus::ErrorKind::Internal, end.status)),
        _ => Ok(()),
    }
}

impl Permissions {
    /// The slot chosen in row `i`'s picker, if it has one.
    fn picked(&self, i: usize, p: &Plug) -> Option<(String, String)> {
        let picker = self.pickers.get(i)?.as_ref()?;
        let offered = picks(p, &self.offers)?;
        offered.get(picker.selected() as usize).cloned()
    }

    /// A plug's row: a picker of the slots offered when there are several, else a plain row.
    fn plug_row(&mut self, p: &Plug) -> adw::ActionRow {
        let Some(offered) = picks(p, &self.offers) else {
            self.pickers.push(None);
            return adw::ActionRow::new();
        };
        let names = pick_names(offered);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let picker = adw::ComboRow::new();
        picker.set_model(Some(&gtk::StringList::new(&names)));
        let plug = format!("{}:{}", p.plug_snap, p.plug);
        picker.connect_selected_notify(move |c| {
            tracing::info!(target: "ui", "permission slot selected: {plug} -> {}", c.selected());
        });
        self.pickers.push(Some(picker.clone()));
        picker.upcast()
    }

    /// Rebuild the groups and rows from `self.plugs`, keeping the focus on the same row.
    fn fill(&mut self, widgets: &mut PermissionsWidgets, sender: &ComponentSender<Self>) {
        let focused = self
            .switches
            .iter()
            .position(|s| s.parent().is_some_and(|p| p.has_focus() || p.is_focus()))
            .or_else(|| self.switches.iter().position(|s| s.has_focus()));
        while let Some(c) = widgets.groups.first_child() {
            widgets.groups.remove(&c);
        }
        self.switches.clear();
        self.pickers.clear();
        let mut rows = Vec::new();
        let mut index = 0;
        for (group, plugs) in grouped(self.plugs.clone(), &self.name) {
            let g = adw::PreferencesGroup::new();
            g.set_title(&group.title());
            for p in plugs {
                let row = self.plug_row(&p);
                let picker = self.pickers.last().is_some_and(Option::is_some);
                // The helper's words, in the person's language (the app's SetLocale).
                row.set_title(if p.label.is_empty() {
                    &p.interface
                } else {
                    &p.label
                });
                let offered = picks(&p, &self.offers).map_or(0, <[_]>::len);
                let (sub, can) = row_subtitle(&p, &self.defaults, offered);
                row.set_subtitle(&sub);
                row.set_widget_name(&p.plug);
                let sw = gtk::Switch::new();
                sw.set_valign(gtk::Align::Center);
                sw.set_active(p.connected);
                sw.set_state(p.connected);
                sw.set_sensitive(can);
                crate::a11y::set_label(&sw, &row.title());
                let (s, i) = (sender.clone(), index);
                // The switch follows the system: it changes state only when the change is Done.
                sw.connect_state_set(move |_, on| {
                    s.input(PermissionsInput::Toggle(i, on));
                    gtk::glib::Propagation::Stop
                });
                sw.set_widget_name(&format!("switch-{}", p.plug));
                row.add_suffix(&sw);
                // A picker's row opens its list; its switch is reached by Tab.
                if !picker {
                    row.set_activatable_widget(Some(&sw));
                }
                g.add(&row);
                rows.push(row);
                self.switches.push(sw);
                index += 1;
            }
            widgets.groups.append(&g);
        }
        if !self.content.is_empty() {
            let g = adw::PreferencesGroup::new();
            g.set_title(&gettext("Shared content"));
            g.set_description(Some(&gettext(
                "Libraries and data this app takes from other snaps.",
            )));
            for (words, plug) in &self.content {
                let row = adw::ActionRow::new();
                row.set_title(words);
                row.set_subtitle(plug);
                row.set_widget_name(plug);
                g.add(&row);
            }
            widgets.groups.append(&g);
        }
        // The keyboard starts on a row: the first one, or the one it was on.
        if let Some(r) = rows.get(focused.unwrap_or(0)) {
            r.grab_focus();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dbus_plug_names_the_app_it_talks_to_or_cannot_be_switched_on() {
        let d = Defaults::from([("dbus".to_string(), false)]);
        let mut p = plug("dbus", false, false, false);
        p.slot = String::new();
        assert_eq!(
            row_subtitle(&p, &d, 0),
            ("dbus · no installed app offers this service".into(), false)
        );
        p.slot_snap = "gnome-calculator".into();
        p.slot = "gnome-calculator".into();
        assert_eq!(
            row_subtitle(&p, &d, 0),
            ("dbus · with gnome-calculator".into(), true)
        );
        p.connected = true;
        p.manual = true;
        assert_eq!(
            row_subtitle(&p, &d, 0),
            ("dbus · with gnome-calculator · changed by you".into(), true)
        );
        // Any other plug: its interface, and the switch acts.
        assert_eq!(
            row_subtitle(&plug("home", true, false, true), &d, 0),
            ("home".into(), true)
        );
    }

    #[test]
    fn several_offered_slots_are_picked_from() {
        let d = Defaults::from([("dbus".to_string(), false)]);
        let mut p = plug("dbus", false, false, false);
        p.slot = String::new();
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        let mut offers = Offers::from([(
            "shelf-notes:dbus".to_string(),
            vec![
                pair("peer-a", "svc"),
                pair("peer-b", "one"),
                pair("peer-b", "two"),
            ],
        )]);
        let offered = picks(&p, &offers).unwrap();
        assert_eq!(pick_names(offered), ["peer-a", "peer-b:one", "peer-b:two"]);
        assert_eq!(
            row_subtitle(&p, &d, offered.len()),
            ("dbus · 3 installed apps offer this service".into(), true)
        );
        // Connected, the row names its slot: nothing to pick.
        p.connected = true;
        assert!(picks(&p, &offers).is_none());
        // One offered slot is the switch's own.
        p.connected = false;
        offers.insert("shelf-notes:dbus".into(), vec![pair("peer-a", "svc")]);
        assert!(picks(&p, &offers).is_none());
    }

    fn plug(interface: &str, connected: bool, manual: bool, auto: bool) -> Plug {
        Plug {
            interface: interface.into(),
            plug_snap: "shelf-notes".into(),
            plug: interface.into(),
            slot_snap: String::new(),
            slot: interface.into(),
            connected,
            manual,
            label: format!("label of {interface}"),
            auto,
        }
    }

    #[test]
    fn plugs_are_grouped_in_order_and_others_dropped() {
        let mut other = plug("home", true, false, true);
        other.plug_snap = "another".into();
        let g = grouped(
            vec![
                plug("x11", true, false, true),
                plug("camera", false, false, false),
                plug("home", true, false, true),
                plug("network", true, false, true),
                plug("removable-media", false, false, false),
                other,
            ],
            "shelf-notes",
        );
        let shape: Vec<(Group, Vec<&str>)> = g
            .iter()
            .map(|(g, v)| (*g, v.iter().map(|p| p.interface.as_str()).collect()))
            .collect();
        assert_eq!(
            shape,
            [
                (Group::Files, vec!["home", "removable-media"]),
                (Group::Devices, vec!["camera"]),
                (Group::Network, vec!["network"]),
                (Group::DisplaySound, vec!["x11"]),
            ]
        );
    }

    #[test]
    fn content_plugs_are_said_in_words() {
        let mut gnome = plug("content", true, false, true);
        gnome.plug = "gnome-42-2204".into();
        gnome.slot_snap = "gnome-42-2204".into();
        let mut themes = plug("content", false, false, false);
        themes.plug = "gtk-3-themes".into();
        let tags: Tags = [
            ("shelf-notes:gnome-42-2204", "gnome-42-2204"),
            ("shelf-notes:gtk-3-themes", "gtk-3-themes"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            content_rows(&[themes, gnome], &tags, "shelf-notes"),
            [
                (
                    "Uses the GNOME 42 platform from gnome-42-2204".to_string(),
                    "gnome-42-2204".to_string()
                ),
                (
                    "Would use the desktop themes: not connected".to_string(),
                    "gtk-3-themes".to_string()
                ),
            ]
        );
        assert_eq!(
            crate::words::content_name("gnome-3-38-2004"),
            "the GNOME 3.38 platform"
        );
        assert_eq!(
            crate::words::content_name("kf6-core24"),
            "the KDE Frameworks 6 platform"
        );
        assert_eq!(crate::words::content_name("mylib"), "the content “mylib”");
    }

    #[test]
    fn marker_and_reset_follow_the_defaults() {
        let d: Defaults = [
            ("home", true),
            ("camera", false),
            ("network", true),
            ("x11", true),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        // As the helper says it: `auto` only while auto-connect made the connection.
        let home_off = plug("home", false, true, false);
        let cam_on = plug("camera", true, true, false);
        let net = plug("network", true, false, true);
        let back_to_default = plug("x11", true, true, false);
        assert!(changed_by_person(&home_off, &d) && changed_by_person(&cam_on, &d));
        assert!(!changed_by_person(&net, &d) && !changed_by_person(&back_to_default, &d));
        let all = [home_off, cam_on, net.clone(), back_to_default];
        assert!(resettable(&all));
        assert!(!resettable(&[net]));
    }
}
