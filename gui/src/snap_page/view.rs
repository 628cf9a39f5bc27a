//! The snap page as a component: its view, and how each message changes it. What follows from
//! the snap's state is in `model`; the channel rows, the dialogs and the launcher are beside it.

use std::sync::Arc;

use relm4::adw::prelude::*;
use relm4::factory::FactoryVecDeque;
use relm4::prelude::*;
use relm4::{adw, gtk};

use gettextrs::gettext;
use snapshelf_dbus::types::{ChannelInfo, InstalledSnap, SnapDetails, UpdateInfo};
use snapshelf_i18n::fill;

use super::channels::{ChannelRow, ChannelRowInit, ChannelRowOutput};
use super::dialogs::{
    self, ConsentAnswer, ConsentDialog, DialogInit, RemoveAnswer, RemoveDialog, RevertAnswer,
    RevertDialog,
};
use super::launcher;
use super::model::{SafetyData, SnapState};
use super::safety::{self, Access, Brought};
use super::services::{Services, ServicesInput, ServicesOutput};
use crate::a11y::A11yExt;
use crate::client::{self, Action, ChangeState, Failure};
use crate::icons::{self, Pixels};
use crate::loadable::{Loadable, Shown};
use crate::progress::{Progress, ProgressInput, ProgressOutput};
use crate::words;

pub struct SnapPage {
    generation: u64,
    /// Which snap's icon and screenshots are being fetched: a reload of the same snap (F5, the
    /// end of a change) must not drop them, as `generation` would.
    media_generation: u64,
    name: String,
    state: Option<SnapState>,
    load: Loadable,
    icon: Option<gtk::gdk::Texture>,
    busy: bool,
    progress: Controller<Progress>,
    channels: FactoryVecDeque<ChannelRow>,
    /// The radio group the channel rows join; never shown itself.
    channel_group: gtk::CheckButton,
    remove_dialog: Option<Controller<RemoveDialog>>,
    revert_dialog: Option<Controller<RevertDialog>>,
    consent_dialog: Option<Controller<ConsentDialog>>,
    services: Controller<Services>,
}

#[derive(Debug)]
pub enum SnapPageInput {
    Show(String),
    Reload,
    Install,
    /// A person said yes to a snap without the sandbox.
    InstallUnconfined,
    Launch,
    Update,
    Remove,
    RemoveConfirmed {
        purge: bool,
    },
    Revert,
    RevertConfirmed(String),
    Hold(bool),
    Pick(String),
    SwitchChannel,
    FocusChannels,
    Permissions,
    Ended(ChangeState),
    Failed(Failure),
}

#[derive(Debug)]
pub enum SnapPageOutput {
    Permissions(String),
    /// The page knows the snap's title (for the header bar).
    Titled {
        name: String,
        title: String,
    },
    Failed(Failure),
    /// Something was installed, removed or changed: other pages reload.
    Changed,
}

/// What a load brings: the snap, its channels, what is installed, and its update if it has one.
#[derive(Debug)]
pub struct LoadedSnap {
    details: SnapDetails,
    channels: Vec<ChannelInfo>,
    installed: Option<InstalledSnap>,
    update: Option<UpdateInfo>,
    safety: SafetyData,
}

type Loaded = Result<LoadedSnap, Failure>;

#[derive(Debug)]
pub enum SnapPageCmd {
    Loaded(u64, Box<Loaded>),
    Icon(u64, Option<Arc<Pixels>>),
    Screenshot(u64, usize, Option<Arc<Pixels>>),
    /// The hold asked for, once the helper has it.
    HoldDone(Result<bool, Failure>),
}

const PAGE_ICON: u32 = 128;
const SHOT_HEIGHT: u32 = 300;

#[relm4::component(pub)]
impl Component for SnapPage {
    type Init = ();
    type Input = SnapPageInput;
    type Output = SnapPageOutput;
    type CommandOutput = SnapPageCmd;

    view! {
        gtk::Stack {
            add_named[Some("loading")] = &crate::ui::spinner() -> gtk::Spinner {},
            add_named[Some("failed")] = &crate::ui::status("dialog-error-symbolic", &gettext("This app cannot be shown")) -> adw::StatusPage {
                #[watch]
                set_description: model.load.description().as_deref(),
                crate::ui::retry() -> gtk::Button {
                    connect_clicked => SnapPageInput::Reload,
                },
            },
            add_named[Some("ready")] = &gtk::ScrolledWindow {
                set_hscrollbar_policy: gtk::PolicyType::Never,
                adw::Clamp {
                    set_maximum_size: 860,
                    gtk::Box {
                        set_orientation: gtk::Orientation::Vertical,
                        set_spacing: 18,
                        set_margin_all: 24,

                        gtk::Box {
                            set_spacing: 18,
                            gtk::Image {
                                set_pixel_size: PAGE_ICON as i32,
                                set_icon_name: Some("application-x-executable"),
                                #[watch]
                                set_paintable: model.icon.as_ref(),
                                set_valign: gtk::Align::Start,
                            },
                            gtk::Box {
                                set_orientation: gtk::Orientation::Vertical,
                                set_spacing: 6,
                                set_hexpand: true,
                                set_valign: gtk::Align::Center,
                                gtk::Label {
                                    #[watch]
                                    set_label: &model.state.as_ref().map(SnapState::title).unwrap_or_default(),
                                    add_css_class: "title-1",
                                    set_halign: gtk::Align::Start,
                                    set_wrap: true,
                                    set_xalign: 0.0,
                                },
                                gtk::Box {
                                    set_spacing: 6,
                                    gtk::Label {
                                        #[watch]
                                        set_label: &model.field(|s| s.details.summary.publisher.clone()),
                                        add_css_class: "dim-label",
                                    },
                                    gtk::Image {
                                        set_icon_name: Some("emblem-ok-symbolic"),
                                        add_css_class: "accent",
                                        #[watch]
                                        set_visible: model.validation().is_some(),
                                        #[watch]
                                        set_tooltip_text: model.validation().as_deref(),
                                        #[watch]
                                        set_a11y_label: &model.validation().unwrap_or_default(),
                                    },
                                },
                                gtk::Label {
                                    #[watch]
                                    set_label: &model.field(|s| s.details.summary.summary.clone()),
                                    set_halign: gtk::Align::Start,
                                    set_wrap: true,
                                    set_xalign: 0.0,
                                },
                            },
                        },

                        gtk::Box {
                            set_spacing: 6,
                            gtk::Button {
                                set_label: &gettext("_Install"),
                                set_use_underline: true,
                                set_a11y_label: &crate::a11y::plain(&gettext("_Install")),
                                add_css_class: "suggested-action",
                                add_css_class: "pill",
                                #[watch]
                                set_visible: !model.installed(),
                                #[watch]
                                set_sensitive: !model.busy,
                                connect_clicked => SnapPageInput::Install,
                            },
                            gtk::Button {
                                set_label: &gettext("_Open"),
                                set_use_underline: true,
                                set_a11y_label: &crate::a11y::plain(&gettext("_Open")),
                                add_css_class: "suggested-action",
                                add_css_class: "pill",
                                #[watch]
                                set_visible: model.state.as_ref().and_then(SnapState::first_app).is_some(),
                                connect_clicked => SnapPageInput::Launch,
                            },
                            gtk::Button {
                                set_label: &gettext("_Update"),
                                set_use_underline: true,
                                set_a11y_label: &crate::a11y::plain(&gettext("_Update")),
                                add_css_class: "pill",
                                #[watch]
                                set_visible: model.state.as_ref().is_some_and(SnapState::has_update),
                                #[watch]
                                set_sensitive: !model.busy,
                                connect_clicked => SnapPageInput::Update,
                            },
                            gtk::Button {
                                set_label: &gettext("_Permissions"),
                                set_use_underline: true,
                                set_a11y_label: &crate::a11y::plain(&gettext("_Permissions")),
                                add_css_class: "pill",
                                #[watch]
                                set_visible: model.installed(),
                                connect_clicked => SnapPageInput::Permissions,
                            },
                            gtk::Button {
                                set_label: &gettext("Re_vert…"),
                                set_use_underline: true,
                                set_a11y_label: &crate::a11y::plain(&gettext("Re_vert…")),
                                add_css_class: "pill",
                                #[watch]
                                set_visible: model.state.as_ref().is_some_and(|s| !s.revert_targets().is_empty()),
                                #[watch]
                                set_sensitive: !model.busy,
                                connect_clicked => SnapPageInput::Revert,
                            },
                            gtk::Button {
                                set_label: &gettext("_Remove…"),
                                set_use_underline: true,
                                set_a11y_label: &crate::a11y::plain(&gettext("_Remove…")),
                                add_css_class: "destructive-action",
                                add_css_class: "pill",
                                #[watch]
                                set_visible: model.installed(),
                                #[watch]
                                set_sensitive: !model.busy,
                                connect_clicked => SnapPageInput::Remove,
                            },
                        },

                        append: model.progress.widget(),

                        // The context tiles: size, sandbox, what it may do (`safety`).
                        #[name = "tiles"]
                        gtk::FlowBox {
                            set_selection_mode: gtk::SelectionMode::None,
                            set_homogeneous: true,
                            set_min_children_per_line: 2,
                            set_max_children_per_line: 4,
                            set_column_spacing: 12,
                            set_row_spacing: 12,
                        },

                        gtk::ScrolledWindow {
                            set_vscrollbar_policy: gtk::PolicyType::Never,
                            set_min_content_height: SHOT_HEIGHT as i32,
                            #[watch]
                            set_visible: model.state.as_ref().is_some_and(|s| !s.details.extra.screenshots.is_empty()),
                            #[name = "shots"]
                            gtk::Box {
                                set_spacing: 12,
                            },
                        },

                        gtk::Label {
                            #[watch]
                            set_label: &model.field(|s| s.details.extra.description.trim().to_string()),
                            set_wrap: true,
                            set_xalign: 0.0,
                            set_selectable: true,
                        },

                        adw::PreferencesGroup {
                            set_title: &gettext("Details"),
                            adw::ActionRow {
                                set_title: &gettext("Version"),
                                #[watch]
                                set_subtitle: &model.field(SnapState::version_words),
                            },
                            adw::ActionRow {
                                set_title: &gettext("License"),
                                #[watch]
                                set_subtitle: &model.field(|s| s.details.summary.license.clone()),
                            },
                            adw::ActionRow {
                                set_title: &gettext("Download size"),
                                #[watch]
                                set_subtitle: &model.field(|s| words::size(s.details.summary.download_size)),
                            },
                            adw::ActionRow {
                                set_title: &gettext("Installed size"),
                                #[watch]
                                set_visible: model.installed(),
                                #[watch]
                                set_subtitle: &model.field(|s| s.installed.as_ref().map(|i| words::size(i.installed_size)).unwrap_or_default()),
                            },
                            adw::ActionRow {
                                set_title: &gettext("Sandbox"),
                                #[watch]
                                set_subtitle: &model.field(|s| words::confinement(&s.details.summary.confinement)),
                            },
                            adw::ActionRow {
                                set_title: &gettext("Website"),
                                #[watch]
                                set_subtitle: &model.field(|s| s.details.extra.website.clone()),
                            },
                            adw::ActionRow {
                                set_title: &gettext("_Hold updates"),
                                set_use_underline: true,
                                set_subtitle: &gettext("Keep this version until you update it yourself"),
                                #[watch]
                                set_visible: model.installed(),
                                set_activatable_widget: Some(&hold_switch),
                                #[name = "hold_switch"]
                                add_suffix = &gtk::Switch {
                                    set_valign: gtk::Align::Center,
                                    #[watch]
                                    #[block_signal(hold_handler)]
                                    set_active: model.state.as_ref().and_then(|s| s.installed.as_ref()).is_some_and(|i| i.held),
                                    connect_active_notify[sender] => move |s| {
                                        sender.input(SnapPageInput::Hold(s.is_active()));
                                    } @hold_handler,
                                },
                            },
                        },

                        append: model.services.widget(),

                        gtk::Box {
                            set_orientation: gtk::Orientation::Vertical,
                            set_spacing: 6,
                            gtk::Box {
                                set_spacing: 12,
                                gtk::Label {
                                    set_label: &gettext("Channels"),
                                    add_css_class: "heading",
                                    set_halign: gtk::Align::Start,
                                    set_hexpand: true,
                                },
                                gtk::Button {
                                    #[watch]
                                    set_label: &fill(&gettext("_Switch to {channel}"), &[("channel", &model.field(SnapState::channel))]),
                                    set_use_underline: true,
                                    #[watch]
                                    set_a11y_label: &crate::a11y::plain(&fill(&gettext("_Switch to {channel}"), &[("channel", &model.field(SnapState::channel))])),
                                    #[watch]
                                    set_visible: model.state.as_ref().is_some_and(SnapState::can_switch),
                                    #[watch]
                                    set_sensitive: !model.busy,
                                    connect_clicked => SnapPageInput::SwitchChannel,
                                },
                            },
                            #[local_ref]
                            channel_list -> gtk::ListBox {},
                        },
                    },
                },
            },
            #[watch]
            set_visible_child_name: model.load.face(if model.state.is_some() { Shown::Something } else { Shown::Nothing }).name(),
        }
    }

    fn init(_: (), root: Self::Root, sender: ComponentSender<Self>) -> ComponentParts<Self> {
        let progress = Progress::builder()
            .launch(())
            .forward(sender.input_sender(), |o| match o {
                ProgressOutput::Ended(s) => SnapPageInput::Ended(s),
                ProgressOutput::Failed(f) => SnapPageInput::Failed(f),
            });
        let list = gtk::ListBox::new();
        list.add_css_class("boxed-list");
        list.set_selection_mode(gtk::SelectionMode::None);
        let channels =
            FactoryVecDeque::builder()
                .launch(list)
                .forward(sender.input_sender(), |o| match o {
                    ChannelRowOutput::Picked(c) => SnapPageInput::Pick(c),
                });
        let services = Services::builder()
            .launch(())
            .forward(sender.input_sender(), |o| match o {
                ServicesOutput::Failed(f) => SnapPageInput::Failed(f),
            });
        let model = SnapPage {
            generation: 0,
            media_generation: 0,
            name: String::new(),
            state: None,
            // A failed reload leaves the snap shown (the failure goes to a toast).
            load: Loadable::keeping_shown(),
            icon: None,
            busy: false,
            progress,
            channels,
            channel_group: gtk::CheckButton::new(),
            remove_dialog: None,
            revert_dialog: None,
            consent_dialog: None,
            services,
        };
        let channel_list = model.channels.widget();
        let widgets = view_output!();
        // Alt+L puts the focus on the channel list (at the picked channel), for the keyboard; Alt+C
        // stays the Cancel of a change in progress.
        let keys = gtk::ShortcutController::new();
        keys.set_scope(gtk::ShortcutScope::Managed);
        let s = sender.clone();
        keys.add_shortcut(gtk::Shortcut::new(
            gtk::ShortcutTrigger::parse_string("<Alt>l"),
            Some(gtk::CallbackAction::new(move |_, _| {
                s.input(SnapPageInput::FocusChannels);
                gtk::glib::Propagation::Stop
            })),
        ));
        root.add_controller(keys);
        ComponentParts { model, widgets }
    }

    fn update_with_view(
        &mut self,
        widgets: &mut Self::Widgets,
        msg: SnapPageInput,
        sender: ComponentSender<Self>,
        root: &Self::Root,
    ) {
        match msg {
            SnapPageInput::Show(name) => {
                if name != self.name || self.state.is_none() {
                    self.state = None;
                    self.icon = None;
                    // The media of the snap shown before, still on its way, is not this one's.
                    self.media_generation += 1;
                    clear(&widgets.shots);
                }
                self.name = name;
                self.load.retry();
                self.load(&sender);
            }
            SnapPageInput::Reload => self.load(&sender),
            SnapPageInput::Install => match &self.state {
                Some(s) if s.needs_consent() => self.ask_consent(root, &sender),
                Some(s) => self.start(Action::Install {
                    names: vec![s.name().to_string()],
                    channel: Some(s.channel()),
                    classic: false,
                }),
                None => {}
            },
            SnapPageInput::InstallUnconfined => {
                if let Some(s) = self.state.as_ref().filter(|s| s.needs_consent()) {
                    self.start(Action::Install {
                        names: vec![s.name().to_string()],
                        channel: Some(s.channel()),
                        classic: true,
                    });
                }
            }
            SnapPageInput::Update => self.start(Action::Refresh {
                names: vec![self.name.clone()],
                channel: None,
            }),
            SnapPageInput::SwitchChannel => {
                if let Some(s) = &self.state {
                    self.start(Action::Refresh {
                        names: vec![s.name().to_string()],
                        channel: Some(s.channel()),
                    });
                }
            }
            SnapPageInput::Remove => self.ask_remove(root, &sender),
            SnapPageInput::RemoveConfirmed { purge } => self.start(Action::Remove {
                name: self.name.clone(),
                purge,
            }),
            SnapPageInput::Revert => self.ask_revert(root, &sender),
            SnapPageInput::RevertConfirmed(revision) => self.start(Action::Revert {
                name: self.name.clone(),
                revision: Some(revision),
            }),
            SnapPageInput::Hold(hold) => {
                let name = self.name.clone();
                sender.oneshot_command(async move {
                    SnapPageCmd::HoldDone(client::hold(&name, hold).await.map(|()| hold))
                });
            }
            SnapPageInput::Pick(channel) => {
                // Rows built for a reload report the channel already picked: nothing changes.
                if let Some(s) = self.state.as_mut().filter(|s| s.channel() != channel) {
                    s.picked = Some(channel);
                    // The size tile is the picked channel's.
                    fill_tiles(&widgets.tiles, s);
                }
            }
            SnapPageInput::FocusChannels => self.focus_channels(),
            SnapPageInput::Launch => self.launch(&sender),
            SnapPageInput::Permissions => {
                let _ = sender.output(SnapPageOutput::Permissions(self.name.clone()));
            }
            SnapPageInput::Ended(state) => {
                self.busy = false;
                if state.failed() {
                    if let Some(kind) = state.error_kind {
                        let _ =
                            sender.output(SnapPageOutput::Failed(Failure::of(kind, state.error)));
                    }
                }
                let _ = sender.output(SnapPageOutput::Changed);
                self.load(&sender);
            }
            SnapPageInput::Failed(f) => {
                self.busy = false;
                let _ = sender.output(SnapPageOutput::Failed(f));
            }
        }
        self.update_view(widgets, sender);
    }

    fn update_cmd_with_view(
        &mut self,
        widgets: &mut Self::Widgets,
        msg: SnapPageCmd,
        sender: ComponentSender<Self>,
        _root: &Self::Root,
    ) {
        match msg {
            SnapPageCmd::Loaded(g, r) if g == self.generation => match *r {
                Ok(l) => self.loaded(l, widgets, &sender),
                Err(f) => self.load.failed(f),
            },
            SnapPageCmd::Icon(g, p) if g == self.media_generation => {
                self.icon = p.map(|p| icons::texture(&p));
            }
            SnapPageCmd::Screenshot(g, i, p) if g == self.media_generation => {
                if let (Some(p), Some(pic)) = (p, nth_child(&widgets.shots, i)) {
                    if let Ok(pic) = pic.downcast::<gtk::Picture>() {
                        pic.set_paintable(Some(&icons::texture(&p)));
                        pic.set_size_request(p.width as i32, p.height as i32);
                    }
                }
            }
            // Answers for a snap or a load no longer shown.
            SnapPageCmd::Loaded(..) | SnapPageCmd::Icon(..) | SnapPageCmd::Screenshot(..) => {}
            SnapPageCmd::HoldDone(r) => {
                match r {
                    Ok(hold) => tracing::info!(target: "ui", "hold set: {} held={hold}", self.name),
                    Err(f) => {
                        let _ = sender.output(SnapPageOutput::Failed(f));
                    }
                }
                // The switch shows what the helper now says, whether the call worked or not.
                self.load(&sender);
            }
        }
        self.update_view(widgets, sender);
    }
}

impl SnapPage {
    fn installed(&self) -> bool {
        self.state.as_ref().is_some_and(SnapState::is_installed)
    }

    fn field(&self, f: impl Fn(&SnapState) -> String) -> String {
        self.state.as_ref().map(f).unwrap_or_default()
    }

    fn validation(&self) -> Option<String> {
        self.state
            .as_ref()
            .and_then(|s| words::validation(&s.details.summary.publisher_validation))
    }

    fn load(&mut self, sender: &ComponentSender<Self>) {
        self.generation += 1;
        let (g, name) = (self.generation, self.name.clone());
        let picked = self.state.as_ref().map(SnapState::channel);
        sender.oneshot_command(async move {
            let r = async {
                let (details, channels) = client::info(&name).await?;
                let all = client::list_installed().await?;
                let installed = all.iter().find(|s| s.name == name).cloned();
                let update = match &installed {
                    Some(i) if !i.held => match client::list_updates().await {
                        Ok(list) => list.into_iter().find(|u| u.name == name),
                        // The page still shows the snap; only Update waits for a later load.
                        Err(f) => {
                            tracing::warn!("no updates known for {name}: {}", f.message);
                            None
                        }
                    },
                    _ => None,
                };
                let channel = picked.unwrap_or_else(|| "latest/stable".to_string());
                let safety =
                    safety_data(&name, &details, installed.is_some(), &all, &channel).await;
                Ok(LoadedSnap {
                    details,
                    channels,
                    installed,
                    update,
                    safety,
                })
            };
            SnapPageCmd::Loaded(g, Box::new(r.await))
        });
    }

    /// The snap's state arrived: keep the channel picked before, fetch the media the first time.
    fn loaded(
        &mut self,
        l: LoadedSnap,
        widgets: &mut SnapPageWidgets,
        sender: &ComponentSender<Self>,
    ) {
        let picked = self.state.as_ref().and_then(|s| s.picked.clone());
        let first = self.state.is_none();
        let state = SnapState {
            details: l.details,
            channels: l.channels,
            installed: l.installed,
            picked: None,
            update: l.update,
            safety: l.safety,
        }
        .reloaded(picked);
        if first {
            self.load_media(&state, widgets, sender);
        }
        self.fill_channels(&state);
        fill_tiles(&widgets.tiles, &state);
        self.services.emit(if state.is_installed() {
            ServicesInput::Show(Some(state.name().to_string()))
        } else {
            ServicesInput::Planned(state.name().to_string(), state.safety.services.clone())
        });
        // The end-to-end test waits for these words.
        tracing::info!(
            target: "ui",
            "app page shown: {} installed={} revision={} update={} tiles={}",
            state.name(),
            state.is_installed(),
            state.installed.as_ref().map(|i| i.revision.as_str()).unwrap_or(""),
            state.has_update(),
            safety::tiles(&state.facts())
                .iter()
                .map(|t| format!("{:?}", t.kind))
                .collect::<Vec<_>>()
                .join(",")
        );
        let _ = sender.output(SnapPageOutput::Titled {
            name: state.name().to_string(),
            title: state.title(),
        });
        self.state = Some(state);
        self.load.succeeded();
    }

    fn load_media(
        &mut self,
        state: &SnapState,
        widgets: &mut SnapPageWidgets,
        sender: &ComponentSender<Self>,
    ) {
        self.media_generation += 1;
        let g = self.media_generation;
        let icon = match &state.installed {
            Some(i) if !i.icon_path.is_empty() => i.icon_path.clone(),
            _ => state.details.summary.icon_url.clone(),
        };
        sender.oneshot_command(
            async move { SnapPageCmd::Icon(g, icons::load(icon, PAGE_ICON).await) },
        );
        clear(&widgets.shots);
        for (i, url) in state.details.extra.screenshots.iter().enumerate() {
            let pic = gtk::Picture::new();
            pic.set_can_shrink(true);
            pic.set_content_fit(gtk::ContentFit::Contain);
            pic.set_alternative_text(Some(&fill(
                &gettext("Screenshot {n} of {title}"),
                &[("n", &(i + 1)), ("title", &state.title())],
            )));
            widgets.shots.append(&pic);
            let url = url.clone();
            sender.oneshot_command(async move {
                SnapPageCmd::Screenshot(g, i, icons::load(url, SHOT_HEIGHT * 16 / 9).await)
            });
        }
    }

    fn fill_channels(&mut self, state: &SnapState) {
        let picked = state.channel();
        let mut rows = self.channels.guard();
        rows.clear();
        for c in &state.channels {
            rows.push_back(ChannelRowInit {
                channel: c.channel.clone(),
                words: state.channel_words(c),
                picked: c.channel == picked,
                group: self.channel_group.clone(),
            });
        }
    }

    /// Alt+L: the picked channel's row, or the first.
    fn focus_channels(&self) {
        let picked = self.state.as_ref().map(SnapState::channel);
        let index = self
            .state
            .as_ref()
            .and_then(|s| {
                s.channels
                    .iter()
                    .position(|c| Some(&c.channel) == picked.as_ref())
            })
            .unwrap_or(0);
        if let Some(row) = self.channels.widget().row_at_index(index as i32) {
            row.grab_focus();
        }
    }

    fn start(&mut self, action: Action) {
        self.busy = true;
        self.progress.emit(ProgressInput::Start(action));
    }

    fn dialog_init(&self, root: &gtk::Stack) -> Option<DialogInit> {
        Some(DialogInit {
            state: self.state.clone()?,
            parent: dialogs::window_of(root),
        })
    }

    fn ask_remove(&mut self, root: &gtk::Stack, sender: &ComponentSender<Self>) {
        let Some(init) = self.dialog_init(root) else {
            return;
        };
        self.remove_dialog = Some(
            RemoveDialog::builder()
                .launch(init)
                .forward(sender.input_sender(), |RemoveAnswer::Remove { purge }| {
                    SnapPageInput::RemoveConfirmed { purge }
                }),
        );
    }

    fn ask_consent(&mut self, root: &gtk::Stack, sender: &ComponentSender<Self>) {
        let Some(init) = self.dialog_init(root) else {
            return;
        };
        self.consent_dialog = Some(
            ConsentDialog::builder()
                .launch(init)
                .forward(sender.input_sender(), |ConsentAnswer::Install| {
                    SnapPageInput::InstallUnconfined
                }),
        );
    }

    fn ask_revert(&mut self, root: &gtk::Stack, sender: &ComponentSender<Self>) {
        let Some(init) = self.dialog_init(root) else {
            return;
        };
        if init.state.revert_targets().is_empty() {
            return;
        }
        self.revert_dialog = Some(
            RevertDialog::builder()
                .launch(init)
                .forward(sender.input_sender(), |RevertAnswer::Revert(r)| {
                    SnapPageInput::RevertConfirmed(r)
                }),
        );
    }

    /// Open the snap's first app in its sandbox.
    fn launch(&self, sender: &ComponentSender<Self>) {
        let Some(app) = self.state.as_ref().and_then(SnapState::first_app) else {
            return;
        };
        if let Err(e) = launcher::launch(&launcher::target(&self.name, app)) {
            let _ = sender.output(SnapPageOutput::Failed(Failure::of(
                snapshelf_dbus::ErrorKind::Internal,
                e,
            )));
        }
    }
}

/// What the tiles need: the plugs (connected now, or connecting by themselves once installed)
/// and the snaps an install brings. What cannot be found out is left unknown, never guessed; the
/// page shows without it.
async fn safety_data(
    name: &str,
    details: &SnapDetails,
    installed: bool,
    all: &[InstalledSnap],
    channel: &str,
) -> SafetyData {
    if installed {
        let plugs = match client::connections(name).await {
            Ok(list) => {
                let mut seen = std::collections::BTreeMap::new();
                for c in list.into_iter().filter(|c| c.plug_snap == name) {
                    *seen.entry((c.plug, c.interface)).or_insert(false) |= c.connected;
                }
                Some(
                    seen.into_iter()
                        .map(|((_, interface), on)| Access { interface, on })
                        .collect(),
                )
            }
            Err(f) => {
                tracing::warn!("the permissions of {name}: {}", f.message);
                None
            }
        };
        return SafetyData {
            plugs,
            brings: Vec::new(),
            services: Vec::new(),
        };
    }
    let needs = match client::store_address().await {
        Ok((store, arch)) => crate::store_plugs::needs(&store, &arch, name, channel)
            .await
            .map_err(|e| tracing::warn!("the plugs of {name}: {e}"))
            .ok(),
        Err(f) => {
            tracing::warn!("the store's address: {}", f.message);
            None
        }
    };
    let defaults = client::interface_defaults().await.unwrap_or_default();
    let plugs = needs.as_ref().map(|n| {
        n.interfaces
            .iter()
            // A content plug brings its provider (counted in the size), not an access.
            .filter(|i| *i != "content")
            .map(|i| Access {
                interface: i.clone(),
                on: defaults.get(i).copied().unwrap_or(false),
            })
            .collect()
    });
    let mut wanted: Vec<String> = Vec::new();
    if !details.extra.base.is_empty() {
        wanted.push(details.extra.base.clone());
    }
    let services = needs
        .as_ref()
        .map(|n| n.services.clone())
        .unwrap_or_default();
    wanted.extend(needs.map(|n| n.providers).unwrap_or_default());
    let mut brings = Vec::new();
    for other in wanted {
        if all.iter().any(|s| s.name == other) || brings.iter().any(|b: &Brought| b.name == other) {
            continue;
        }
        match client::info(&other).await {
            Ok((_, channels)) => {
                let c = channels
                    .iter()
                    .find(|c| c.channel == "latest/stable")
                    .or(channels.first());
                if let Some(c) = c {
                    brings.push(Brought {
                        name: other,
                        size: c.size,
                    });
                }
            }
            Err(f) => tracing::warn!("the size of {other}, which {name} needs: {}", f.message),
        }
    }
    SafetyData {
        plugs,
        brings,
        services,
    }
}

/// Lay the tiles out: a card each, its icon and heading, a line per fact.
fn fill_tiles(flow: &gtk::FlowBox, state: &SnapState) {
    while let Some(c) = flow.first_child() {
        flow.remove(&c);
    }
    for t in safety::tiles(&state.facts()) {
        let card = gtk::Box::new(gtk::Orientation::Vertical, 6);
        card.add_css_class("card");
        card.set_valign(gtk::Align::Fill);
        let inner = gtk::Box::new(gtk::Orientation::Vertical, 4);
        inner.set_margin_top(12);
        inner.set_margin_bottom(12);
        inner.set_margin_start(12);
        inner.set_margin_end(12);
        let head = gtk::Box::new(gtk::Orientation::Horizontal, 8);
        let icon = gtk::Image::from_icon_name(t.icon);
        icon.set_pixel_size(24);
        let title = gtk::Label::new(Some(&t.title));
        title.add_css_class("heading");
        title.set_wrap(true);
        title.set_xalign(0.0);
        if t.warning {
            icon.add_css_class("warning");
            title.add_css_class("warning");
        }
        head.append(&icon);
        head.append(&title);
        inner.append(&head);
        for line in &t.lines {
            let l = gtk::Label::new(Some(line));
            l.set_wrap(true);
            l.set_xalign(0.0);
            l.add_css_class("dim-label");
            l.add_css_class("caption");
            inner.append(&l);
        }
        card.append(&inner);
        crate::a11y::set_label(&card, &format!("{}: {}", t.title, t.lines.join(". ")));
        flow.append(&card);
    }
}

fn clear(container: &impl IsA<gtk::Widget>) {
    let container = container.as_ref();
    while let Some(c) = container.first_child() {
        c.unparent();
    }
}

fn nth_child(container: &gtk::Box, n: usize) -> Option<gtk::Widget> {
    let mut c = container.first_child();
    for _ in 0..n {
        c = c?.next_sibling();
    }
    c
}
