//! The snap page's questions, each a component over an `adw::MessageDialog`: Remove (keep the
//! data, the default, or delete it too), Revert (to which kept revision, and what that means) and,
//! before installing a snap that runs without the sandbox, consent. Each is launched when asked
//! and answers through its `Output`.

use relm4::adw::prelude::*;
use relm4::prelude::*;
use relm4::{adw, gtk};

use gettextrs::gettext;
use snapshelf_i18n::fill;

use super::model::SnapState;

/// The window a dialog belongs to.
pub fn window_of(w: &impl IsA<gtk::Widget>) -> Option<gtk::Window> {
    w.root().and_then(|r| r.downcast::<gtk::Window>().ok())
}

/// What the dialogs are given: the snap and the window they sit over.
#[derive(Debug)]
pub struct DialogInit {
    pub state: SnapState,
    pub parent: Option<gtk::Window>,
}

pub struct RemoveDialog;

#[derive(Debug)]
pub enum RemoveAnswer {
    Remove { purge: bool },
}

#[relm4::component(pub)]
impl SimpleComponent for RemoveDialog {
    type Init = DialogInit;
    type Input = ();
    type Output = RemoveAnswer;

    view! {
        adw::MessageDialog {
            set_transient_for: init.parent.as_ref(),
            set_modal: true,
            set_heading: Some(&fill(&gettext("Remove {title}?"), &[("title", &init.state.title())])),
            set_body: &gettext("Its data is kept, so installing it again brings it back, unless you delete the data too."),
            // Keeping the data is the default (Enter); deleting it is its own, explicit answer.
            add_response: ("cancel", &gettext("_Cancel")),
            add_response: ("purge", &gettext("Remove and _Delete Data")),
            add_response: ("remove", &gettext("_Remove")),
            set_response_appearance: ("purge", adw::ResponseAppearance::Destructive),
            set_response_appearance: ("remove", adw::ResponseAppearance::Destructive),
            set_default_response: Some("remove"),
            set_close_response: "cancel",
            connect_response: (None, move |_, r| {
                if r == "remove" || r == "purge" {
                    let _ = sender.output(RemoveAnswer::Remove { purge: r == "purge" });
                }
            }),
        }
    }

    fn init(
        init: DialogInit,
        root: Self::Root,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let widgets = view_output!();
        tracing::info!(target: "ui", "dialog shown: remove {}", init.state.name());
        root.present();
        ComponentParts {
            model: RemoveDialog,
            widgets,
        }
    }

    fn update(&mut self, _: (), _: ComponentSender<Self>) {}
}

/// Revert: which kept revision, newest first; the body says what going back to it means.
pub struct RevertDialog {
    state: SnapState,
    targets: Vec<String>,
    selected: usize,
}

#[derive(Debug)]
pub enum RevertInput {
    Selected(usize),
    Confirmed,
}

#[derive(Debug)]
pub enum RevertAnswer {
    Revert(String),
}

#[relm4::component(pub)]
impl SimpleComponent for RevertDialog {
    type Init = DialogInit;
    type Input = RevertInput;
    type Output = RevertAnswer;

    view! {
        adw::MessageDialog {
            set_transient_for: init.parent.as_ref(),
            set_modal: true,
            set_heading: Some(&gettext("Go back to an earlier version?")),
            #[watch]
            set_body: &model.body(),
            add_response: ("cancel", &gettext("_Cancel")),
            add_response: ("revert", &gettext("_Revert")),
            set_response_appearance: ("revert", adw::ResponseAppearance::Suggested),
            set_default_response: Some("revert"),
            set_close_response: "cancel",
            connect_response: (None, move |_, r| {
                if r == "revert" {
                    input.emit(RevertInput::Confirmed);
                }
            }),
        }
    }

    fn init(
        init: DialogInit,
        root: Self::Root,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let targets = init.state.revert_targets();
        let model = RevertDialog {
            state: init.state.clone(),
            targets,
            selected: 0,
        };
        let input = sender.input_sender().clone();
        let widgets = view_output!();
        // A choice only when there is one to make.
        if model.targets.len() > 1 {
            let words: Vec<String> = model
                .targets
                .iter()
                .map(|r| model.state.describe_revision(r))
                .collect();
            let choice =
                gtk::DropDown::from_strings(&words.iter().map(String::as_str).collect::<Vec<_>>());
            crate::a11y::set_label(&choice, &gettext("Version to go back to"));
            let s = sender.clone();
            choice.connect_selected_notify(move |c| {
                s.input(RevertInput::Selected(c.selected() as usize))
            });
            root.set_extra_child(Some(&choice));
        }
        tracing::info!(target: "ui", "dialog shown: revert {}", model.state.name());
        root.present();
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: RevertInput, sender: ComponentSender<Self>) {
        match msg {
            RevertInput::Selected(i) => self.selected = i.min(self.targets.len().saturating_sub(1)),
            RevertInput::Confirmed => {
                if let Some(t) = self.targets.get(self.selected) {
                    let _ = sender.output(RevertAnswer::Revert(t.clone()));
                }
            }
        }
    }
}

impl RevertDialog {
    fn body(&self) -> String {
        self.targets
            .get(self.selected)
            .map(|t| self.state.revert_body(t))
            .unwrap_or_default()
    }
}

/// Install a classic (or devmode) snap: it runs without the sandbox, so a person says yes first.
/// Cancel is the default, so Enter alone never installs it.
pub struct ConsentDialog;

#[derive(Debug)]
pub enum ConsentAnswer {
    Install,
}

#[relm4::component(pub)]
impl SimpleComponent for ConsentDialog {
    type Init = DialogInit;
    type Input = ();
    type Output = ConsentAnswer;

    view! {
        adw::MessageDialog {
            set_transient_for: init.parent.as_ref(),
            set_modal: true,
            set_heading: Some(&fill(&gettext("Install {title} without a sandbox?"), &[("title", &init.state.title())])),
            set_body: &init.state.consent_body(),
            add_response: ("cancel", &gettext("_Cancel")),
            add_response: ("install", &gettext("_Install Anyway")),
            set_response_appearance: ("install", adw::ResponseAppearance::Destructive),
            set_default_response: Some("cancel"),
            set_close_response: "cancel",
            connect_response: (None, move |_, r| {
                if r == "install" {
                    let _ = sender.output(ConsentAnswer::Install);
                }
            }),
        }
    }

    fn init(
        init: DialogInit,
        root: Self::Root,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let widgets = view_output!();
        tracing::info!(target: "ui", "dialog shown: classic {}", init.state.name());
        root.present();
        ComponentParts {
            model: ConsentDialog,
            widgets,
        }
    }

    fn update(&mut self, _: (), _: ComponentSender<Self>) {}
}
