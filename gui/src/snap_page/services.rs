//! The background services of an installed snap on its page: one row per service with a switch
//! (on: running and started at boot; off: stopped and not started at boot), as `StartServices`
//! with `enable` and `StopServices` with `disable`. A switch shows what the helper says, never
//! what was asked: after a change (done or failed) the list is read again.

use relm4::adw::prelude::*;
use relm4::prelude::*;
use relm4::{adw, gtk};

use gettextrs::gettext;
use snapshelf_dbus::types::ServiceInfo;
use snapshelf_i18n::fill;

use crate::client::{self, Failure};

pub struct Services {
    /// The installed snap shown, or none (the group is hidden).
    name: Option<String>,
    generation: u64,
    list: Vec<ServiceInfo>,
    /// Not installed: the services it will run.
    planned: bool,
    busy: bool,
    rows: gtk::ListBox,
}

#[derive(Debug)]
pub enum ServicesInput {
    /// Show an installed snap's services (`None`: not installed, nothing to show).
    Show(Option<String>),
    /// A snap not installed: the apps that will run as services once it is (no switches).
    Planned(String, Vec<String>),
    Switch(String, bool),
}

#[derive(Debug)]
pub enum ServicesOutput {
    Failed(Failure),
}

#[derive(Debug)]
pub enum ServicesCmd {
    Loaded(u64, Result<Vec<ServiceInfo>, Failure>),
    Switched(Result<(), Failure>),
}

/// What a row says under the service's name.
pub fn subtitle(s: &ServiceInfo) -> String {
    let state = match (s.active, s.enabled) {
        (true, true) => gettext("Running, started at boot"),
        (true, false) => gettext("Running, not started at boot"),
        (false, true) => gettext("Stopped, started at boot"),
        (false, false) => gettext("Stopped"),
    };
    if s.activators.iter().any(|a| a.ends_with(".timer")) {
        fill(&gettext("{state} (runs on a timer)"), &[("state", &state)])
    } else if !s.activators.is_empty() {
        fill(
            &gettext("{state} (starts on connection)"),
            &[("state", &state)],
        )
    } else {
        state
    }
}

#[relm4::component(pub)]
impl Component for Services {
    type Init = ();
    type Input = ServicesInput;
    type Output = ServicesOutput;
    type CommandOutput = ServicesCmd;

    view! {
        adw::PreferencesGroup {
            set_title: &gettext("Background services"),
            #[watch]
            set_description: Some(&if model.planned {
                gettext("Once installed, this app runs these programs without a window, started at boot")
            } else {
                gettext("Programs of this app that run without a window")
            }),
            #[watch]
            set_visible: !model.list.is_empty(),
            #[watch]
            set_sensitive: !model.busy,
            add = &model.rows.clone() -> gtk::ListBox {
                add_css_class: "boxed-list",
                set_selection_mode: gtk::SelectionMode::None,
            },
        }
    }

    fn init((): (), root: Self::Root, _sender: ComponentSender<Self>) -> ComponentParts<Self> {
        let model = Services {
            name: None,
            generation: 0,
            list: Vec::new(),
            planned: false,
            busy: false,
            rows: gtk::ListBox::new(),
        };
        let widgets = view_output!();
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: ServicesInput, sender: ComponentSender<Self>, _: &Self::Root) {
        match msg {
            ServicesInput::Show(name) => {
                self.name = name;
                self.planned = false;
                self.load(&sender);
            }
            ServicesInput::Planned(snap, apps) => {
                self.name = None;
                self.generation += 1; // an answer for a snap shown before is dropped
                self.planned = true;
                self.list = apps
                    .into_iter()
                    .map(|app| ServiceInfo {
                        snap: snap.clone(),
                        app,
                        scope: "system".into(),
                        ..Default::default()
                    })
                    .collect();
                self.fill_rows(&sender);
            }
            ServicesInput::Switch(service, on) => {
                self.busy = true;
                sender.oneshot_command(async move {
                    let r = async {
                        let path = client::switch_service(&service, on).await?;
                        let end = client::follow(path.as_str(), |_| {}).await?;
                        match end.error_kind {
                            Some(kind) if end.failed() => Err(Failure::of(kind, end.error)),
                            _ => Ok(()),
                        }
                    };
                    ServicesCmd::Switched(r.await)
                });
            }
        }
    }

    fn update_cmd(&mut self, msg: ServicesCmd, sender: ComponentSender<Self>, _: &Self::Root) {
        match msg {
            ServicesCmd::Loaded(generation, r) if generation == self.generation => {
                self.busy = false;
                match r {
                    Ok(list) => self.list = list,
                    Err(f) => {
                        self.list.clear();
                        let _ = sender.output(ServicesOutput::Failed(f));
                    }
                }
                self.fill_rows(&sender);
            }
            ServicesCmd::Loaded(..) => {}
            ServicesCmd::Switched(r) => {
                if let Err(f) = r {
                    let _ = sender.output(ServicesOutput::Failed(f));
                }
                // The switches show what is, whether the change was done or not.
                self.load(&sender);
            }
        }
    }
}

impl Services {
    fn load(&mut self, sender: &ComponentSender<Self>) {
        self.generation += 1;
        let generation = self.generation;
        let Some(name) = self.name.clone() else {
            self.list.clear();
            self.fill_rows(sender);
            return;
        };
        sender.oneshot_command(async move {
            ServicesCmd::Loaded(generation, client::services(&name).await)
        });
    }

    fn fill_rows(&self, sender: &ComponentSender<Self>) {
        while let Some(child) = self.rows.first_child() {
            self.rows.remove(&child);
        }
        for s in self.list.iter().filter(|s| s.scope == "system") {
            let row = adw::ActionRow::builder()
                .title(format!("{}.{}", s.snap, s.app))
                .build();
            if self.planned {
                self.rows.append(&row);
                continue;
            }
            row.set_subtitle(&subtitle(s));
            let switch = gtk::Switch::builder()
                .valign(gtk::Align::Center)
                .active(s.active || s.enabled)
                .build();
            crate::a11y::set_label(
                &switch,
                &fill(&gettext("Run {service}"), &[("service", &s.app)]),
            );
            let service = format!("{}.{}", s.snap, s.app);
            let input = sender.input_sender().clone();
            switch.connect_state_set(move |_, on| {
                input.emit(ServicesInput::Switch(service.clone(), on));
                gtk::glib::Propagation::Stop
            });
            row.add_suffix(&switch);
            row.set_activatable_widget(Some(&switch));
            self.rows.append(&row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(active: bool, enabled: bool, activators: &[&str]) -> ServiceInfo {
        ServiceInfo {
            snap: "s".into(),
            app: "a".into(),
            active,
            enabled,
            activators: activators.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn subtitles_say_running_and_boot() {
        assert_eq!(subtitle(&svc(true, true, &[])), "Running, started at boot");
        assert_eq!(subtitle(&svc(false, false, &[])), "Stopped");
        assert_eq!(
            subtitle(&svc(false, true, &["snap.s.a.timer"])),
            "Stopped, started at boot (runs on a timer)"
        );
        assert_eq!(
            subtitle(&svc(true, false, &["snap.s.a.web.socket"])),
            "Running, not started at boot (starts on connection)"
        );
    }
}
