//! The app page: icon, screenshots, title, summary, description, version, publisher with its
//! mark, license, sizes, channels; Install / Open / Update / Remove / Revert / Permissions, Hold
//! updates, and the change in progress with its Cancel.

use std::sync::Arc;

use relm4::adw::prelude::*;
use relm4::prelude::*;
use relm4::{adw, gtk};

use gettextrs::gettext;
use snapshelf_dbus::types::{ChannelInfo, InstalledSnap, SnapDetails};

use crate::a11y::A11yExt;
use crate::client::{self, Action, ChangeState, Failure};
use crate::icons::{self, Pixels};
use crate::progress::{Progress, ProgressInput, ProgressOutput};
use crate::words;

/// What the page knows of one app. Pure; the buttons follow from it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppState {
    pub details: SnapDetails,
    pub channels: Vec<ChannelInfo>,
    pub installed: Option<InstalledSnap>,
    /// The channel a person picked on the page; the tracked one (or latest/stable) otherwise.
    pub picked: Option<String>,
}

impl AppState {
    pub fn name(&self) -> &str {
        &self.details.summary.name
    }

    pub fn is_installed(&self) -> bool {
        self.installed.is_some()
    }

    pub fn tracking(&self) -> String {
        let t = &self.details.extra.tracking_channel;
        if t.is_empty() {
            "latest/stable".into()
        } else {
            t.clone()
        }
    }

    pub fn channel(&self) -> String {
        self.picked.clone().unwrap_or_else(|| self.tracking())
    }

    /// Installed, and the picked channel is not the one tracked: the page offers to switch.
    pub fn can_switch(&self) -> bool {
        self.is_installed() && self.channel() != self.tracking()
    }

    /// The tracked channel holds another revision than the installed one, and it is not held.
    pub fn has_update(&self) -> bool {
        let Some(i) = &self.installed else {
            return false;
        };
        if i.held {
            return false;
        }
        let tracking = self.tracking();
        self.channels
            .iter()
            .find(|c| c.channel == tracking)
            .is_some_and(|c| c.revision != i.revision)
    }

    /// Kept revisions other than the current one, newest first: what Revert can go back to.
    pub fn revert_targets(&self) -> Vec<String> {
        let Some(i) = &self.installed else {
            return Vec::new();
        };
        let mut v: Vec<String> = i
            .revisions
            .iter()
            .filter(|r| **r != i.revision)
            .cloned()
            .collect();
        v.sort_by_key(|r| std::cmp::Reverse(revision_order(r)));
        v
    }

    /// "version 1.0 (revision 1)" where the store says which version a revision is.
    pub fn describe_revision(&self, revision: &str) -> String {
        match self.channels.iter().find(|c| c.revision == revision) {
            Some(c) => gettext("version {version} (revision {revision})")
                .replace("{version}", &c.version)
                .replace("{revision}", revision),
            None => gettext("revision {revision}").replace("{revision}", revision),
        }
    }

    /// What the Revert dialog says will happen.
    pub fn revert_body(&self, target: &str) -> String {
        gettext("{title} goes back to {revision}. Its data goes back to how it was with that version; the current version stays kept, so you can come back to it. Updates wait until you update it yourself.")
            .replace("{title}", &self.title())
            .replace("{revision}", &self.describe_revision(target))
    }

    pub fn title(&self) -> String {
        let t = &self.details.summary.title;
        if t.is_empty() {
            self.name().to_string()
        } else {
            t.clone()
        }
    }
}

/// Store revisions are numbers, local ones x1, x2…; order by number within each kind.
fn revision_order(r: &str) -> (bool, u64) {
    match r.strip_prefix('x') {
        Some(n) => (false, n.parse().unwrap_or(0)),
        None => (true, r.parse().unwrap_or(0)),
    }
}

pub struct AppPage {
    generation: u64,
    /// Which app's icon and screenshots are being fetched: a reload of the same app (F5, the end
    /// of a change) must not drop them, as `generation` would.
    media_generation: u64,
    name: String,
    state: Option<AppState>,
    failure: Option<Failure>,
    icon: Option<gtk::gdk::Texture>,
    busy: bool,
    progress: Controller<Progress>,
    channel_checks: Vec<(String, gtk::CheckButton, adw::ActionRow)>,
}

#[derive(Debug)]
pub enum AppPageInput {
    Show(String),
    Reload,
    Install,
    Launch,
    Update,
    Remove,
    RemoveConfirmed { purge: bool },
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
pub enum AppPageOutput {
    Permissions(String),
    /// The page knows the app's title (for the header bar).
    Titled {
        name: String,
        title: String,
    },
    Failed(Failure),
    /// Something was installed, removed or changed: other pages reload.
    Changed,
}

type Loaded = Result<(SnapDetails, Vec<ChannelInfo>, Option<InstalledSnap>), Failure>;

#[derive(Debug)]
pub enum AppPageCmd {
    Loaded(u64, Box<Loaded>),
    Icon(u64, Option<Arc<Pixels>>),
    Screenshot(u64, usize, Option<Arc<Pixels>>),
    /// The hold asked for, once the helper has it.
    HoldDone(Result<bool, Failure>),
}

const PAGE_ICON: u32 = 128;
const SHOT_HEIGHT: u32 = 300;

#[relm4::component(pub)]
impl Component for AppPage {
    type Init = ();
    type Input = AppPageInput;
    type Output = AppPageOutput;
    type CommandOutput = AppPageCmd;

    view! {
        gtk::Stack {
            add_named[Some("loading")] = &crate::ui::spinner() -> gtk::Spinner {},
            add_named[Some("failed")] = &crate::ui::status("dialog-error-symbolic", &gettext("This app cannot be shown")) -> adw::StatusPage {
                #[watch]
                set_description: model.failure.as_ref().map(words::failure).as_deref(),
                crate::ui::retry() -> gtk::Button {
                    connect_clicked => AppPageInput::Reload,
                },
            },
            add_named[Some("page")] = &gtk::ScrolledWindow {
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
                                    set_label: &model.state.as_ref().map(AppState::title).unwrap_or_default(),
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
                                add_css_class: "suggested-action",
                                add_css_class: "pill",
                                #[watch]
                                set_visible: !model.installed(),
                                #[watch]
                                set_sensitive: !model.busy,
                                connect_clicked => AppPageInput::Install,
                            },
                            gtk::Button {
                                set_label: &gettext("_Open"),
                                set_use_underline: true,
                                add_css_class: "suggested-action",
                                add_css_class: "pill",
                                #[watch]
                                set_visible: model.installed() && model.state.as_ref().is_some_and(|s| s.installed.as_ref().is_some_and(|i| !i.apps.is_empty())),
                                connect_clicked => AppPageInput::Launch,
                            },
                            gtk::Button {
                                set_label: &gettext("_Update"),
                                set_use_underline: true,
                                add_css_class: "pill",
                                #[watch]
                                set_visible: model.state.as_ref().is_some_and(AppState::has_update),
                                #[watch]
                                set_sensitive: !model.busy,
                                connect_clicked => AppPageInput::Update,
                            },
                            gtk::Button {
                                set_label: &gettext("_Permissions"),
                                set_use_underline: true,
                                add_css_class: "pill",
                                #[watch]
                                set_visible: model.installed(),
                                connect_clicked => AppPageInput::Permissions,
                            },
                            gtk::Button {
                                set_label: &gettext("Re_vert…"),
                                set_use_underline: true,
                                add_css_class: "pill",
                                #[watch]
                                set_visible: model.state.as_ref().is_some_and(|s| !s.revert_targets().is_empty()),
                                #[watch]
                                set_sensitive: !model.busy,
                                connect_clicked => AppPageInput::Revert,
                            },
                            gtk::Button {
                                set_label: &gettext("_Remove…"),
                                set_use_underline: true,
                                add_css_class: "destructive-action",
                                add_css_class: "pill",
                                #[watch]
                                set_visible: model.installed(),
                                #[watch]
                                set_sensitive: !model.busy,
                                connect_clicked => AppPageInput::Remove,
                            },
                        },

                        append: model.progress.widget(),

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
                                set_subtitle: &model.version(),
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
                                        sender.input(AppPageInput::Hold(s.is_active()));
                                    } @hold_handler,
                                },
                            },
                        },

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
                                    set_label: &gettext("_Switch to {channel}").replace("{channel}", &model.field(AppState::channel)),
                                    set_use_underline: true,
                                    #[watch]
                                    set_visible: model.state.as_ref().is_some_and(AppState::can_switch),
                                    #[watch]
                                    set_sensitive: !model.busy,
                                    connect_clicked => AppPageInput::SwitchChannel,
                                },
                            },
                            #[name = "channel_list"]
                            gtk::ListBox {
                                add_css_class: "boxed-list",
                                set_selection_mode: gtk::SelectionMode::None,
                            },
                        },
                    },
                },
            },
            #[watch]
            set_visible_child_name: if model.failure.is_some() && model.state.is_none() { "failed" } else if model.state.is_none() { "loading" } else { "page" },
        }
    }

    fn init(_: (), root: Self::Root, sender: ComponentSender<Self>) -> ComponentParts<Self> {
        let progress = Progress::builder()
            .launch(())
            .forward(sender.input_sender(), |o| match o {
                ProgressOutput::Ended(s) => AppPageInput::Ended(s),
                ProgressOutput::Failed(f) => AppPageInput::Failed(f),
            });
        let model = AppPage {
            generation: 0,
            media_generation: 0,
            name: String::new(),
            state: None,
            failure: None,
            icon: None,
            busy: false,
            progress,
            channel_checks: Vec::new(),
        };
        let widgets = view_output!();
        // Alt+L puts the focus on the channel list (at the picked channel), for the keyboard; Alt+C
        // stays the Cancel of a change in progress.
        let keys = gtk::ShortcutController::new();
        keys.set_scope(gtk::ShortcutScope::Managed);
        let s = sender.clone();
        keys.add_shortcut(gtk::Shortcut::new(
            gtk::ShortcutTrigger::parse_string("<Alt>l"),
            Some(gtk::CallbackAction::new(move |_, _| {
                s.input(AppPageInput::FocusChannels);
                gtk::glib::Propagation::Stop
            })),
        ));
        root.add_controller(keys);
        ComponentParts { model, widgets }
    }

    fn update_with_view(
        &mut self,
        widgets: &mut Self::Widgets,
        msg: AppPageInput,
        sender: ComponentSender<Self>,
        root: &Self::Root,
    ) {
        match msg {
            AppPageInput::Show(name) => {
                if name != self.name || self.state.is_none() {
                    self.state = None;
                    self.icon = None;
                    // The media of the app shown before, still on its way, is not this app's.
                    self.media_generation += 1;
                    clear(&widgets.shots);
                }
                self.name = name;
                self.failure = None;
                self.load(&sender);
            }
            AppPageInput::Reload => self.load(&sender),
            AppPageInput::Install => {
                if let Some(s) = &self.state {
                    self.start(Action::Install {
                        names: vec![s.name().to_string()],
                        channel: Some(s.channel()),
                        classic: false,
                    });
                }
            }
            AppPageInput::Update => self.start(Action::Refresh {
                names: vec![self.name.clone()],
                channel: None,
            }),
            AppPageInput::SwitchChannel => {
                if let Some(s) = &self.state {
                    self.start(Action::Refresh {
                        names: vec![s.name().to_string()],
                        channel: Some(s.channel()),
                    });
                }
            }
            AppPageInput::Remove => self.confirm_remove(root, &sender),
            AppPageInput::RemoveConfirmed { purge } => self.start(Action::Remove {
                name: self.name.clone(),
                purge,
            }),
            AppPageInput::Revert => self.confirm_revert(root, &sender),
            AppPageInput::RevertConfirmed(revision) => self.start(Action::Revert {
                name: self.name.clone(),
                revision: Some(revision),
            }),
            AppPageInput::Hold(hold) => {
                let name = self.name.clone();
                sender.oneshot_command(async move {
                    AppPageCmd::HoldDone(client::hold(&name, hold).await.map(|()| hold))
                });
            }
            AppPageInput::Pick(channel) => {
                if let Some(s) = &mut self.state {
                    s.picked = Some(channel);
                }
            }
            AppPageInput::FocusChannels => {
                let picked = self.state.as_ref().map(AppState::channel);
                if let Some((_, _, row)) = self
                    .channel_checks
                    .iter()
                    .find(|(c, ..)| Some(c) == picked.as_ref())
                    .or(self.channel_checks.first())
                {
                    row.grab_focus();
                }
            }
            AppPageInput::Launch => self.launch(&sender),
            AppPageInput::Permissions => {
                let _ = sender.output(AppPageOutput::Permissions(self.name.clone()));
            }
            AppPageInput::Ended(state) => {
                self.busy = false;
                if state.failed() {
                    if let Some(kind) = state.error_kind {
                        let _ =
                            sender.output(AppPageOutput::Failed(Failure::of(kind, state.error)));
                    }
                }
                let _ = sender.output(AppPageOutput::Changed);
                self.load(&sender);
            }
            AppPageInput::Failed(f) => {
                self.busy = false;
                let _ = sender.output(AppPageOutput::Failed(f));
            }
        }
        self.update_view(widgets, sender);
    }

    fn update_cmd_with_view(
        &mut self,
        widgets: &mut Self::Widgets,
        msg: AppPageCmd,
        sender: ComponentSender<Self>,
        _root: &Self::Root,
    ) {
        match msg {
            AppPageCmd::Loaded(g, r) if g == self.generation => match *r {
                Ok((details, channels, installed)) => {
                    let picked = self.state.as_ref().and_then(|s| s.picked.clone());
                    let first = self.state.is_none();
                    let state = AppState {
                        details,
                        channels,
                        installed,
                        picked: None,
                    };
                    let mut state = state;
                    // Keep a pick that is still possible and not already tracked.
                    state.picked = picked.filter(|p| {
                        state.channels.iter().any(|c| &c.channel == p) && *p != state.tracking()
                    });
                    if first {
                        self.load_media(&state, widgets, &sender);
                    }
                    self.fill_channels(&state, widgets, &sender);
                    tracing::info!(
                        target: "ui",
                        "app page shown: {} installed={} revision={}",
                        state.name(),
                        state.is_installed(),
                        state.installed.as_ref().map(|i| i.revision.as_str()).unwrap_or("")
                    );
                    let _ = sender.output(AppPageOutput::Titled {
                        name: state.name().to_string(),
                        title: state.title(),
                    });
                    self.state = Some(state);
                    self.failure = None;
                }
                Err(f) => self.failure = Some(f),
            },
            AppPageCmd::Loaded(..) => {}
            AppPageCmd::Icon(g, p) if g == self.media_generation => {
                self.icon = p.map(|p| icons::texture(&p));
            }
            AppPageCmd::Icon(..) => {}
            AppPageCmd::Screenshot(g, i, p) if g == self.media_generation => {
                if let (Some(p), Some(pic)) = (p, nth_child(&widgets.shots, i)) {
                    if let Ok(pic) = pic.downcast::<gtk::Picture>() {
                        pic.set_paintable(Some(&icons::texture(&p)));
                        pic.set_size_request(p.width as i32, p.height as i32);
                    }
                }
            }
            AppPageCmd::Screenshot(..) => {}
            AppPageCmd::HoldDone(r) => {
                match r {
                    Ok(hold) => tracing::info!(target: "ui", "hold set: {} held={hold}", self.name),
                    Err(f) => {
                        let _ = sender.output(AppPageOutput::Failed(f));
                    }
                }
                // The switch shows what the helper now says, whether the call worked or not.
                self.load(&sender);
            }
        }
        self.update_view(widgets, sender);
    }
}

impl AppPage {
    fn installed(&self) -> bool {
        self.state.as_ref().is_some_and(AppState::is_installed)
    }

    fn field(&self, f: impl Fn(&AppState) -> String) -> String {
        self.state.as_ref().map(f).unwrap_or_default()
    }

    fn validation(&self) -> Option<String> {
        self.state
            .as_ref()
            .and_then(|s| words::validation(&s.details.summary.publisher_validation))
    }

    fn version(&self) -> String {
        self.field(|s| match &s.installed {
            Some(i) => gettext("{version} (revision {revision}), tracking {channel}")
                .replace("{version}", &i.version)
                .replace("{revision}", &i.revision)
                .replace("{channel}", &s.tracking()),
            None => s.details.summary.version.clone(),
        })
    }

    fn load(&mut self, sender: &ComponentSender<Self>) {
        self.generation += 1;
        let (g, name) = (self.generation, self.name.clone());
        sender.oneshot_command(async move {
            let r = async {
                let (details, channels) = client::info(&name).await?;
                let installed = if details.extra.installed_revision.is_empty() {
                    None
                } else {
                    client::list_installed()
                        .await?
                        .into_iter()
                        .find(|s| s.name == name)
                };
                Ok((details, channels, installed))
            };
            AppPageCmd::Loaded(g, Box::new(r.await))
        });
    }

    fn load_media(
        &mut self,
        state: &AppState,
        widgets: &mut AppPageWidgets,
        sender: &ComponentSender<Self>,
    ) {
        self.media_generation += 1;
        let g = self.media_generation;
        let icon = match &state.installed {
            Some(i) if !i.icon_path.is_empty() => i.icon_path.clone(),
            _ => state.details.summary.icon_url.clone(),
        };
        sender.oneshot_command(
            async move { AppPageCmd::Icon(g, icons::load(icon, PAGE_ICON).await) },
        );
        clear(&widgets.shots);
        for (i, url) in state.details.extra.screenshots.iter().enumerate() {
            let pic = gtk::Picture::new();
            pic.set_can_shrink(true);
            pic.set_content_fit(gtk::ContentFit::Contain);
            pic.set_alternative_text(Some(
                &gettext("Screenshot {n} of {title}")
                    .replace("{n}", &(i + 1).to_string())
                    .replace("{title}", &state.title()),
            ));
            widgets.shots.append(&pic);
            let url = url.clone();
            sender.oneshot_command(async move {
                AppPageCmd::Screenshot(g, i, icons::load(url, SHOT_HEIGHT * 16 / 9).await)
            });
        }
    }

    fn fill_channels(
        &mut self,
        state: &AppState,
        widgets: &mut AppPageWidgets,
        sender: &ComponentSender<Self>,
    ) {
        while let Some(row) = widgets.channel_list.row_at_index(0) {
            widgets.channel_list.remove(&row);
        }
        self.channel_checks.clear();
        let mut group: Option<gtk::CheckButton> = None;
        let picked = state.channel();
        let tracking = state.tracking();
        for c in &state.channels {
            let check = gtk::CheckButton::new();
            if let Some(g) = &group {
                check.set_group(Some(g));
            } else {
                group = Some(check.clone());
            }
            check.set_active(c.channel == picked);
            let row = adw::ActionRow::new();
            row.set_title(&c.channel);
            let mut sub = gettext("{version} · revision {revision} · {size}")
                .replace("{version}", &c.version)
                .replace("{revision}", &c.revision)
                .replace("{size}", &words::size(c.size));
            if state.is_installed() && c.channel == tracking {
                sub = gettext("{details} · tracked").replace("{details}", &sub);
            }
            row.set_subtitle(&sub);
            row.add_prefix(&check);
            row.set_activatable_widget(Some(&check));
            row.set_widget_name(&c.channel);
            let (s, ch) = (sender.clone(), c.channel.clone());
            check.connect_toggled(move |b| {
                if b.is_active() {
                    s.input(AppPageInput::Pick(ch.clone()));
                }
            });
            widgets.channel_list.append(&row);
            self.channel_checks.push((c.channel.clone(), check, row));
        }
    }

    fn start(&mut self, action: Action) {
        self.busy = true;
        self.progress.emit(ProgressInput::Start(action));
    }

    fn confirm_remove(&self, root: &gtk::Stack, sender: &ComponentSender<Self>) {
        let Some(state) = &self.state else { return };
        let d = adw::MessageDialog::new(
            window_of(root).as_ref(),
            Some(&gettext("Remove {title}?").replace("{title}", &state.title())),
            Some(&gettext("Its data is kept, so installing it again brings it back, unless you delete the data too.")),
        );
        // Keeping the data is the default (Enter); deleting it is its own, explicit answer.
        d.add_response("cancel", &gettext("_Cancel"));
        d.add_response("purge", &gettext("Remove and _Delete Data"));
        d.add_response("remove", &gettext("_Remove"));
        d.set_response_appearance("purge", adw::ResponseAppearance::Destructive);
        d.set_response_appearance("remove", adw::ResponseAppearance::Destructive);
        d.set_default_response(Some("remove"));
        d.set_close_response("cancel");
        let s = sender.clone();
        d.connect_response(None, move |_, r| {
            if r == "remove" || r == "purge" {
                s.input(AppPageInput::RemoveConfirmed {
                    purge: r == "purge",
                });
            }
        });
        tracing::info!(target: "ui", "dialog shown: remove {}", state.name());
        d.present();
    }

    fn confirm_revert(&self, root: &gtk::Stack, sender: &ComponentSender<Self>) {
        let Some(state) = &self.state else { return };
        let targets = state.revert_targets();
        let Some(first) = targets.first() else { return };
        let d = adw::MessageDialog::new(
            window_of(root).as_ref(),
            Some(&gettext("Go back to an earlier version?")),
            Some(&state.revert_body(first)),
        );
        let choice = gtk::DropDown::from_strings(
            &targets
                .iter()
                .map(|r| state.describe_revision(r))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        crate::a11y::set_label(&choice, &gettext("Version to go back to"));
        if targets.len() > 1 {
            d.set_extra_child(Some(&choice));
            let (d2, st, t) = (d.clone(), state.clone(), targets.clone());
            choice.connect_selected_notify(move |c| {
                if let Some(r) = t.get(c.selected() as usize) {
                    d2.set_body(&st.revert_body(r));
                }
            });
        }
        d.add_response("cancel", &gettext("_Cancel"));
        d.add_response("revert", &gettext("_Revert"));
        d.set_response_appearance("revert", adw::ResponseAppearance::Suggested);
        d.set_default_response(Some("revert"));
        d.set_close_response("cancel");
        let s = sender.clone();
        d.connect_response(None, move |_, r| {
            if r == "revert" {
                if let Some(t) = targets.get(choice.selected() as usize) {
                    s.input(AppPageInput::RevertConfirmed(t.clone()));
                }
            }
        });
        tracing::info!(target: "ui", "dialog shown: revert {}", state.name());
        d.present();
    }

    /// Open the app in its sandbox, as its desktop file would.
    fn launch(&self, sender: &ComponentSender<Self>) {
        let Some(app) = self
            .state
            .as_ref()
            .and_then(|s| s.installed.as_ref())
            .and_then(|i| i.apps.first().cloned())
        else {
            return;
        };
        let target = if app == self.name {
            app.clone()
        } else {
            format!("{}.{}", self.name, app)
        };
        let mut cmd = std::process::Command::new(crate::confine_path());
        if let Some(root) = std::env::var_os("SNAPSHELF_ROOT") {
            cmd.arg("--root").arg(root);
        }
        cmd.arg(&target).stdin(std::process::Stdio::null());
        tracing::info!(target: "ui", "launching {target}");
        match cmd.spawn() {
            Ok(mut child) => {
                // Reap it when it ends; the app outlives nothing of ours.
                std::thread::spawn(move || child.wait());
            }
            Err(e) => {
                let _ = sender.output(AppPageOutput::Failed(Failure::of(
                    snapshelf_dbus::ErrorKind::Internal,
                    format!("cannot start {target}: {e}"),
                )));
            }
        }
    }
}

fn window_of(w: &impl IsA<gtk::Widget>) -> Option<gtk::Window> {
    w.root().and_then(|r| r.downcast::<gtk::Window>().ok())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(c: &str, v: &str, r: &str) -> ChannelInfo {
        ChannelInfo {
            channel: c.into(),
            version: v.into(),
            revision: r.into(),
            size: 1000,
            released_at: String::new(),
        }
    }

    fn clock(installed: Option<(&str, &[&str], bool)>, tracking: &str) -> AppState {
        let mut s = AppState::default();
        s.details.summary.name = "shelf-clock".into();
        s.details.summary.title = "Shelf Clock".into();
        s.details.extra.tracking_channel = tracking.into();
        s.channels = vec![
            channel("latest/stable", "1.0", "1"),
            channel("latest/candidate", "1.1~rc1", "2"),
        ];
        s.installed = installed.map(|(rev, revs, held)| InstalledSnap {
            name: "shelf-clock".into(),
            revision: rev.into(),
            revisions: revs.iter().map(|r| r.to_string()).collect(),
            held,
            ..Default::default()
        });
        s
    }

    #[test]
    fn buttons_follow_the_state() {
        let s = clock(None, "");
        assert!(!s.is_installed() && !s.has_update() && !s.can_switch());
        assert_eq!(s.channel(), "latest/stable");
        assert!(s.revert_targets().is_empty());

        let mut s = clock(Some(("1", &["1"], false)), "latest/stable");
        assert!(!s.has_update());
        s.picked = Some("latest/candidate".into());
        assert!(s.can_switch());

        let s = clock(Some(("1", &["1"], false)), "latest/candidate");
        assert!(s.has_update(), "candidate holds revision 2");
        let s = clock(Some(("1", &["1"], true)), "latest/candidate");
        assert!(!s.has_update(), "held apps wait");
    }

    #[test]
    fn revert_offers_kept_revisions_newest_first_and_says_what_happens() {
        let s = clock(
            Some(("3", &["1", "x2", "2", "3", "10"], false)),
            "latest/stable",
        );
        assert_eq!(s.revert_targets(), ["10", "2", "1", "x2"]);
        assert_eq!(s.describe_revision("1"), "version 1.0 (revision 1)");
        assert_eq!(s.describe_revision("x2"), "revision x2");
        let body = s.revert_body("1");
        assert!(body.starts_with("Shelf Clock goes back to version 1.0 (revision 1)."));
        assert!(body.contains("stays kept"));
    }
}
