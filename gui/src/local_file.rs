//! A local `.snap` (file chooser, drag and drop, `snapshelf file.snap`): what is inside — name,
//! version, confinement, the permissions it asks for — and whether it is signed, before
//! installing. The file goes to the helper as a descriptor, never as a path.

use crate::a11y::A11yExt;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use relm4::adw::prelude::*;
use relm4::prelude::*;
use relm4::{adw, gtk};

use gettextrs::gettext;
use snapshelf_dbus::types::FileCheck;
use snapshelf_i18n::fill;

use crate::client::{self, ChangeState, Failure};
use crate::loadable::{Loadable, Shown};
use crate::progress::{Progress, ProgressInput, ProgressOutput};
use crate::words;

pub struct LocalFile {
    path: Option<PathBuf>,
    check: Option<FileCheck>,
    /// Human words of each interface the file's plugs name (from the helper's Interfaces()).
    labels: std::collections::HashMap<String, String>,
    load: Loadable,
    busy: bool,
    done: bool,
    progress: Controller<Progress>,
}

#[derive(Debug)]
pub enum LocalFileInput {
    Open(PathBuf),
    Install,
    Ended(ChangeState),
    Failed(Failure),
}

#[derive(Debug)]
pub enum LocalFileOutput {
    Failed(Failure),
    /// Installed: show its snap page.
    Installed(String),
}

#[derive(Debug)]
pub enum LocalFileCmd {
    /// What is inside, and the words for the interfaces (empty if they could not be had).
    Checked(
        Result<FileCheck, Failure>,
        std::collections::HashMap<String, String>,
    ),
}

fn open_fd(path: &PathBuf) -> Result<OwnedFd, Failure> {
    File::open(path).map(OwnedFd::from).map_err(|e| {
        Failure::of(
            snapshelf_dbus::ErrorKind::InvalidSnap,
            format!("{}: {e}", path.display()),
        )
    })
}

/// The sentence under the title: signed by the store, or not, and what installing means then.
pub fn signature_words(c: &FileCheck) -> String {
    if c.signed {
        fill(
            &gettext("Signed by the store (revision {revision})."),
            &[("revision", &c.revision)],
        )
    } else {
        gettext("Not signed: Snapshelf cannot tell who made this file. Install it only if you trust where it came from.")
    }
}

/// For a classic snap, the plain warning that it will run without a sandbox (the consent asked for
/// by `InstallFile`'s `classic` option is given by pressing Install with this shown).
pub fn sandbox_warning(c: &FileCheck) -> String {
    if c.confinement == "classic" {
        gettext("Not sandboxed: this app runs with full access to your files and your system, like any program you start yourself. Install it only if you trust it fully.")
    } else {
        String::new()
    }
}

/// What installing it will do.
pub fn install_words(c: &FileCheck) -> String {
    if c.installed_revision.is_empty() {
        gettext("_Install")
    } else {
        gettext("_Install as an Update")
    }
}

#[relm4::component(pub)]
impl Component for LocalFile {
    type Init = ();
    type Input = LocalFileInput;
    type Output = LocalFileOutput;
    type CommandOutput = LocalFileCmd;

    view! {
        gtk::Stack {
            add_named[Some("loading")] = &crate::ui::spinner() -> gtk::Spinner {},
            add_named[Some("failed")] = &crate::ui::status("dialog-error-symbolic", &gettext("This file cannot be opened")) -> adw::StatusPage {
                #[watch]
                set_description: model.load.description().as_deref(),
            },
            add_named[Some("ready")] = &gtk::ScrolledWindow {
                set_hscrollbar_policy: gtk::PolicyType::Never,
                adw::Clamp {
                    set_maximum_size: 720,
                    gtk::Box {
                        set_orientation: gtk::Orientation::Vertical,
                        set_spacing: 18,
                        set_margin_all: 24,
                        gtk::Label {
                            #[watch]
                            set_label: &model.field(|c| if c.title.is_empty() { c.name.clone() } else { c.title.clone() }),
                            add_css_class: "title-1",
                            set_halign: gtk::Align::Start,
                        },
                        gtk::Label {
                            #[watch]
                            set_label: &model.field(|c| c.summary.clone()),
                            set_halign: gtk::Align::Start,
                            set_wrap: true,
                        },
                        gtk::Box {
                            set_spacing: 6,
                            gtk::Image {
                                #[watch]
                                set_icon_name: Some(if model.check.as_ref().is_some_and(|c| c.signed) { "security-high-symbolic" } else { "dialog-warning-symbolic" }),
                            },
                            gtk::Label {
                                #[watch]
                                set_label: &model.field(signature_words),
                                set_wrap: true,
                                set_hexpand: true,
                                set_xalign: 0.0,
                            },
                        },
                        gtk::Box {
                            set_spacing: 6,
                            #[watch]
                            set_visible: model.check.as_ref().is_some_and(|c| c.confinement == "classic"),
                            gtk::Image {
                                set_icon_name: Some("dialog-warning-symbolic"),
                            },
                            gtk::Label {
                                #[watch]
                                set_label: &model.field(sandbox_warning),
                                add_css_class: "warning",
                                set_wrap: true,
                                set_hexpand: true,
                                set_xalign: 0.0,
                            },
                        },
                        gtk::Box {
                            set_spacing: 6,
                            gtk::Button {
                                #[watch]
                                set_label: &model.install_label(),
                                set_use_underline: true,
                                #[watch]
                                set_a11y_label: &crate::a11y::plain(&model.install_label()),
                                add_css_class: "suggested-action",
                                add_css_class: "pill",
                                #[watch]
                                set_sensitive: !model.busy && !model.done,
                                connect_clicked => LocalFileInput::Install,
                            },
                        },
                        append: model.progress.widget(),
                        adw::PreferencesGroup {
                            set_title: &gettext("Inside the file"),
                            adw::ActionRow {
                                set_title: &gettext("Name"),
                                #[watch]
                                set_subtitle: &model.field(|c| c.name.clone()),
                            },
                            adw::ActionRow {
                                set_title: &gettext("Version"),
                                #[watch]
                                set_subtitle: &model.field(|c| c.version.clone()),
                            },
                            adw::ActionRow {
                                set_title: &gettext("Sandbox"),
                                #[watch]
                                set_subtitle: &model.field(|c| words::confinement(&c.confinement)),
                            },
                            adw::ActionRow {
                                set_title: &gettext("Asks for"),
                                #[watch]
                                set_subtitle: &model.field(|c| plug_words(&c.plugs, &model.labels)),
                            },
                            adw::ActionRow {
                                set_title: &gettext("Size"),
                                #[watch]
                                set_subtitle: &model.field(|c| words::size(c.size)),
                            },
                            adw::ActionRow {
                                set_title: &gettext("File"),
                                #[watch]
                                set_subtitle: &model.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                            },
                        },
                    },
                },
            },
            #[watch]
            set_visible_child_name: model.load.face(if model.check.is_some() { Shown::Something } else { Shown::Nothing }).name(),
        }
    }

    fn init(_: (), root: Self::Root, sender: ComponentSender<Self>) -> ComponentParts<Self> {
        let progress = Progress::builder()
            .launch(())
            .forward(sender.input_sender(), |o| match o {
                ProgressOutput::Ended(s) => LocalFileInput::Ended(s),
                ProgressOutput::Failed(f) => LocalFileInput::Failed(f),
            });
        let model = LocalFile {
            path: None,
            check: None,
            labels: Default::default(),
            // The file stays shown if a later step fails: that failure goes to a toast.
            load: Loadable::keeping_shown(),
            busy: false,
            done: false,
            progress,
        };
        let widgets = view_output!();
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: LocalFileInput, sender: ComponentSender<Self>, _root: &Self::Root) {
        match msg {
            LocalFileInput::Open(path) => {
                self.check = None;
                self.load.restart();
                self.done = false;
                match open_fd(&path) {
                    Ok(fd) => sender.oneshot_command(async move {
                        let check = client::check_file(fd).await;
                        let labels = client::interface_labels().await.unwrap_or_default();
                        LocalFileCmd::Checked(check, labels)
                    }),
                    Err(f) => self.load.failed(f),
                }
                self.path = Some(path);
            }
            LocalFileInput::Install => {
                let (Some(path), Some(check)) = (&self.path, &self.check) else {
                    return;
                };
                match open_fd(path) {
                    Ok(fd) => {
                        self.busy = true;
                        self.progress.emit(ProgressInput::StartFile(
                            fd,
                            !check.signed,
                            check.confinement == "classic",
                        ));
                    }
                    Err(f) => {
                        let _ = sender.output(LocalFileOutput::Failed(f));
                    }
                }
            }
            LocalFileInput::Ended(state) => {
                self.busy = false;
                if state.failed() {
                    if let Some(kind) = state.error_kind {
                        let _ =
                            sender.output(LocalFileOutput::Failed(Failure::of(kind, state.error)));
                    }
                } else if let Some(c) = &self.check {
                    self.done = true;
                    let _ = sender.output(LocalFileOutput::Installed(c.name.clone()));
                }
            }
            LocalFileInput::Failed(f) => {
                self.busy = false;
                let _ = sender.output(LocalFileOutput::Failed(f));
            }
        }
    }

    fn update_cmd(
        &mut self,
        msg: LocalFileCmd,
        _sender: ComponentSender<Self>,
        _root: &Self::Root,
    ) {
        let LocalFileCmd::Checked(r, labels) = msg;
        self.labels = labels;
        match r {
            Ok(c) => {
                tracing::info!(target: "ui", "file checked: {} signed={}", c.name, c.signed);
                self.check = Some(c);
                self.load.succeeded();
            }
            Err(f) => self.load.failed(f),
        }
    }
}

/// One line per plug: what it lets the app do, in words, then its name.
pub fn plug_words(plugs: &[String], labels: &std::collections::HashMap<String, String>) -> String {
    if plugs.is_empty() {
        return gettext("No permissions");
    }
    plugs
        .iter()
        .map(|p| match labels.get(p) {
            // The helper's words, in the person's language (the app's SetLocale).
            Some(l) if !l.is_empty() => format!("{l} ({p})"),
            _ => p.clone(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl LocalFile {
    /// The Install button's words, named before any file is checked too (screen readers).
    fn install_label(&self) -> String {
        self.check
            .as_ref()
            .map(install_words)
            .unwrap_or_else(|| gettext("_Install"))
    }

    fn field(&self, f: impl Fn(&FileCheck) -> String) -> String {
        self.check.as_ref().map(f).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugs_are_said_in_words_then_named() {
        let labels: std::collections::HashMap<String, String> = [(
            "home".to_string(),
            "Read and write files in your home folder".to_string(),
        )]
        .into_iter()
        .collect();
        assert_eq!(
            plug_words(&["home".into(), "odd-plug".into()], &labels),
            "Read and write files in your home folder (home)\nodd-plug"
        );
        assert_eq!(plug_words(&[], &labels), "No permissions");
    }

    #[test]
    fn a_classic_file_says_it_is_not_sandboxed() {
        let mut c = FileCheck {
            confinement: "strict".into(),
            ..Default::default()
        };
        assert_eq!(sandbox_warning(&c), "");
        c.confinement = "classic".into();
        assert!(sandbox_warning(&c).starts_with("Not sandboxed: "));
    }

    #[test]
    fn signature_and_install_words() {
        let mut c = FileCheck {
            name: "shelf-hello".into(),
            signed: true,
            revision: "1".into(),
            ..Default::default()
        };
        assert_eq!(signature_words(&c), "Signed by the store (revision 1).");
        assert_eq!(install_words(&c), "_Install");
        c.signed = false;
        c.installed_revision = "1".into();
        assert!(signature_words(&c).starts_with("Not signed"));
        assert_eq!(install_words(&c), "_Install as an Update");
    }
}
