//! The main window: the four pages (Explore, Search, Installed, Updates), the snap page, permissions
//! and local-file pages pushed over them, the keyboard shortcuts, drag and drop of `.snap` files,
//! and errors as toasts whose details are one click away.

use std::path::PathBuf;

use relm4::adw::prelude::*;
use relm4::prelude::*;
use relm4::{adw, gtk};

use gettextrs::gettext;
use snapshelf_i18n::fill;

use crate::a11y::A11yExt;
use crate::client::{self, Failure};
use crate::explore::{Explore, ExploreInput, ExploreOutput};
use crate::installed::{Installed, InstalledInput, InstalledOutput};
use crate::local_file::{LocalFile, LocalFileInput, LocalFileOutput};
use crate::permissions::{Permissions, PermissionsInput, PermissionsOutput};
use crate::search::{Search, SearchInput, SearchOutput};
use crate::snap_page::{SnapPage, SnapPageInput, SnapPageOutput};
use crate::updates::{Updates, UpdatesInput, UpdatesOutput};
use crate::words;

/// The four top-level pages, in the order of Alt+1..4.
pub const PAGES: [&str; 4] = ["explore", "search", "installed", "updates"];

/// Where the window is: a top-level page or a page pushed over it. Pure.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    Browse,
    Snap(String),
    Permissions(String),
    File(PathBuf),
}

impl Place {
    pub fn child(&self) -> &'static str {
        match self {
            Place::Browse => "browse",
            Place::Snap(_) => "snap",
            Place::Permissions(_) => "permissions",
            Place::File(_) => "file",
        }
    }
}

/// Back-navigation: Escape and the back button pop; going to a top-level page clears.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    stack: Vec<Place>,
}

impl History {
    pub fn current(&self) -> Place {
        self.stack.last().cloned().unwrap_or(Place::Browse)
    }

    pub fn push(&mut self, p: Place) {
        if self.current() != p {
            self.stack.push(p);
        }
    }

    pub fn back(&mut self) -> Option<Place> {
        self.stack.pop().map(|_| self.current())
    }

    pub fn home(&mut self) {
        self.stack.clear();
    }
}

/// How the app starts.
#[derive(Debug, Default)]
pub struct AppInit {
    pub page: Option<String>,
    pub file: Option<PathBuf>,
    /// A snap whose page to open at once (the desktop's search opened it).
    pub snap: Option<String>,
    /// Words to search for at once.
    pub search: Option<String>,
    /// Benchmarks: open this many snap pages one after another, report memory, quit.
    pub browse: Option<usize>,
}

pub struct App {
    history: History,
    explore: Controller<Explore>,
    search: Controller<Search>,
    installed: Controller<Installed>,
    updates: Controller<Updates>,
    snap_page: Controller<SnapPage>,
    permissions: Controller<Permissions>,
    local_file: Controller<LocalFile>,
    toasts: adw::ToastOverlay,
    /// Apps' titles by name, for the header bar of their pages.
    titles: std::collections::HashMap<String, String>,
}

#[derive(Debug)]
pub enum AppInput {
    Page(usize),
    Search,
    Category(String),
    OpenSnap(String),
    OpenPermissions(String),
    Titled(String, String),
    OpenFile(PathBuf),
    ChooseFile,
    Back,
    Reload,
    SnapsChanged(Vec<String>),
    Changed,
    Failed(Failure),
    Quit,
}

#[derive(Debug)]
pub enum AppCmd {
    SnapsChanged(Vec<String>),
    BrowseList(Vec<String>),
}

#[relm4::component(pub)]
impl Component for App {
    type Init = AppInit;
    type Input = AppInput;
    type Output = ();
    type CommandOutput = AppCmd;

    view! {
        main_window = adw::ApplicationWindow {
            set_title: Some("Snapshelf"),
            set_default_size: (1000, 760),

            #[local_ref]
            toasts -> adw::ToastOverlay {
                gtk::Box {
                    set_orientation: gtk::Orientation::Vertical,
                    adw::HeaderBar {
                        #[wrap(Some)]
                        set_title_widget = &gtk::Stack {
                            add_named[Some("switcher")] = &adw::ViewSwitcherTitle {
                                set_title: "Snapshelf",
                                set_stack: Some(&view_stack),
                            },
                            add_named[Some("title")] = &gtk::Label {
                                #[watch]
                                set_label: &model.place_title(),
                                add_css_class: "title",
                            },
                            #[watch]
                            set_visible_child_name: if model.history.current() == Place::Browse { "switcher" } else { "title" },
                        },
                        pack_start = &gtk::Button {
                            set_icon_name: "go-previous-symbolic",
                            set_tooltip_text: Some(&gettext("Back")),
                            set_a11y_label: &gettext("Back"),
                            #[watch]
                            set_visible: model.history.current() != Place::Browse,
                            connect_clicked => AppInput::Back,
                        },
                        pack_end = &gtk::Button {
                            set_icon_name: "document-open-symbolic",
                            set_tooltip_text: Some(&gettext("Open a snap file (Ctrl+O)")),
                            set_a11y_label: &gettext("Open a snap file"),
                            connect_clicked => AppInput::ChooseFile,
                        },
                        pack_end = &gtk::Button {
                            set_icon_name: "view-refresh-symbolic",
                            set_tooltip_text: Some(&gettext("Reload (F5)")),
                            set_a11y_label: &gettext("Reload"),
                            connect_clicked => AppInput::Reload,
                        },
                    },
                    gtk::Stack {
                        set_vexpand: true,
                        set_transition_type: gtk::StackTransitionType::SlideLeftRight,
                        add_named[Some("browse")] = &gtk::Box {
                            set_orientation: gtk::Orientation::Vertical,
                            #[name = "view_stack"]
                            adw::ViewStack {
                                set_vexpand: true,
                                add_titled_with_icon[Some("explore"), &gettext("Explore"), "starred-symbolic"] = model.explore.widget(),
                                add_titled_with_icon[Some("search"), &gettext("Search"), "system-search-symbolic"] = model.search.widget(),
                                add_titled_with_icon[Some("installed"), &gettext("Installed"), "view-grid-symbolic"] = model.installed.widget(),
                                add_titled_with_icon[Some("updates"), &gettext("Updates"), "software-update-available-symbolic"] = model.updates.widget(),
                            },
                        },
                        add_named[Some("snap")] = model.snap_page.widget(),
                        add_named[Some("permissions")] = model.permissions.widget(),
                        add_named[Some("file")] = model.local_file.widget(),
                        #[watch]
                        set_visible_child_name: model.history.current().child(),
                    },
                },
            },
        }
    }

    fn init(
        init: AppInit,
        root: Self::Root,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let explore = Explore::builder()
            .launch(())
            .forward(sender.input_sender(), |o| match o {
                ExploreOutput::Open(n) => AppInput::OpenSnap(n),
                ExploreOutput::Category(c) => AppInput::Category(c),
            });
        let search = Search::builder()
            .launch(())
            .forward(sender.input_sender(), |o| match o {
                SearchOutput::Open(n) => AppInput::OpenSnap(n),
            });
        let installed =
            Installed::builder()
                .launch(())
                .forward(sender.input_sender(), |o| match o {
                    InstalledOutput::Open(n) => AppInput::OpenSnap(n),
                });
        let updates = Updates::builder()
            .launch(())
            .forward(sender.input_sender(), |o| match o {
                UpdatesOutput::Open(n) => AppInput::OpenSnap(n),
                UpdatesOutput::Failed(f) => AppInput::Failed(f),
                UpdatesOutput::Changed => AppInput::Changed,
            });
        let snap_page =
            SnapPage::builder()
                .launch(())
                .forward(sender.input_sender(), |o| match o {
                    SnapPageOutput::Permissions(n) => AppInput::OpenPermissions(n),
                    SnapPageOutput::Titled { name, title } => AppInput::Titled(name, title),
                    SnapPageOutput::Failed(f) => AppInput::Failed(f),
                    SnapPageOutput::Changed => AppInput::Changed,
                });
        let permissions = Permissions::builder()
            .launch(())
            .forward(sender.input_sender(), |o| match o {
                PermissionsOutput::Failed(f) => AppInput::Failed(f),
            });
        let local_file =
            LocalFile::builder()
                .launch(())
                .forward(sender.input_sender(), |o| match o {
                    LocalFileOutput::Failed(f) => AppInput::Failed(f),
                    LocalFileOutput::Installed(n) => AppInput::OpenSnap(n),
                });
        let model = App {
            history: History::default(),
            explore,
            search,
            installed,
            updates,
            snap_page,
            permissions,
            local_file,
            toasts: adw::ToastOverlay::new(),
            titles: Default::default(),
        };
        gtk::Window::set_default_icon_name(crate::APP_ID);
        let toasts = &model.toasts;
        let widgets = view_output!();

        let pages = [
            gettext("Explore"),
            gettext("Search"),
            gettext("Installed"),
            gettext("Updates"),
        ];
        crate::timing::after_paint(&root, move || {
            tracing::info!(
                target: "ui",
                "window shown at {:.1} ms: {}",
                crate::timing::since_start_ms(),
                pages.join(" | ")
            );
        });
        shortcuts(&root, &sender);
        drop_target(&root, &sender);
        log_focus(&root);
        trim_image_cache();

        if let Some(p) = init
            .page
            .as_deref()
            .and_then(|p| PAGES.iter().position(|x| *x == p))
        {
            widgets.view_stack.set_visible_child_name(PAGES[p]);
        }
        if let Some(f) = init.file {
            sender.input(AppInput::OpenFile(f));
        }
        if let Some(q) = init.search {
            widgets.view_stack.set_visible_child_name("search");
            model.search.emit(SearchInput::Query(q));
        }
        if let Some(n) = init.snap {
            sender.input(AppInput::OpenSnap(n));
        }
        if let Some(n) = init.browse {
            sender.oneshot_command(async move {
                AppCmd::BrowseList(crate::bench::pages_to_browse(n).await)
            });
        }
        follow_snaps_changed(&sender);
        ComponentParts { model, widgets }
    }

    fn update_with_view(
        &mut self,
        widgets: &mut Self::Widgets,
        msg: AppInput,
        sender: ComponentSender<Self>,
        root: &Self::Root,
    ) {
        match msg {
            AppInput::Page(i) => {
                self.history.home();
                widgets.view_stack.set_visible_child_name(PAGES[i.min(3)]);
                if i == 1 {
                    self.search.emit(SearchInput::Focus);
                }
            }
            AppInput::Search => {
                self.history.home();
                widgets.view_stack.set_visible_child_name("search");
                self.search.emit(SearchInput::Focus);
            }
            AppInput::Category(c) => {
                widgets.view_stack.set_visible_child_name("search");
                self.search.emit(SearchInput::Category(c));
            }
            AppInput::OpenSnap(name) => {
                self.history.push(Place::Snap(name.clone()));
                self.snap_page.emit(SnapPageInput::Show(name));
            }
            AppInput::Titled(name, title) => {
                self.titles.insert(name, title);
            }
            AppInput::OpenPermissions(name) => {
                let title = self.title_of(&name);
                self.history.push(Place::Permissions(name.clone()));
                self.permissions
                    .emit(PermissionsInput::Show { name, title });
            }
            AppInput::OpenFile(path) => {
                self.history.push(Place::File(path.clone()));
                self.local_file.emit(LocalFileInput::Open(path));
            }
            AppInput::ChooseFile => choose_file(root, &sender),
            AppInput::Back => {
                self.history.back();
                if let Place::Snap(n) = self.history.current() {
                    self.snap_page.emit(SnapPageInput::Show(n));
                }
            }
            AppInput::Reload => {
                self.explore.emit(ExploreInput::Load);
                self.installed.emit(InstalledInput::Load);
                self.updates.emit(UpdatesInput::Load);
                match self.history.current() {
                    Place::Snap(_) => self.snap_page.emit(SnapPageInput::Reload),
                    Place::Permissions(_) => self.permissions.emit(PermissionsInput::Load),
                    _ => {}
                }
            }
            AppInput::SnapsChanged(names) => {
                tracing::debug!("snaps changed: {names:?}");
                self.installed.emit(InstalledInput::Load);
                self.updates.emit(UpdatesInput::Load);
            }
            AppInput::Changed => {
                self.installed.emit(InstalledInput::Load);
                self.updates.emit(UpdatesInput::Load);
            }
            AppInput::Failed(f) => {
                if f.is_dismissal() {
                    tracing::info!(target: "ui", "authorization dismissed");
                } else {
                    tracing::info!(target: "ui", "error shown: {:?} {}", f.kind, f.message);
                    self.toast(&f, root);
                }
            }
            AppInput::Quit => root.close(),
        }
        self.update_view(widgets, sender);
    }

    fn update_cmd(&mut self, msg: AppCmd, sender: ComponentSender<Self>, _root: &Self::Root) {
        match msg {
            AppCmd::SnapsChanged(names) => sender.input(AppInput::SnapsChanged(names)),
            AppCmd::BrowseList(names) => crate::bench::browse(names, sender),
        }
    }
}

impl App {
    fn title_of(&self, name: &str) -> String {
        self.titles
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_string())
    }

    fn place_title(&self) -> String {
        match self.history.current() {
            Place::Browse => "Snapshelf".into(),
            Place::Snap(n) => self.title_of(&n),
            Place::Permissions(n) => fill(
                &gettext("Permissions of {name}"),
                &[("name", &self.title_of(&n))],
            ),
            Place::File(p) => p
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }

    fn toast(&self, f: &Failure, root: &adw::ApplicationWindow) {
        let t = adw::Toast::new(&words::failure(f));
        t.set_timeout(8);
        if !f.message.is_empty() {
            t.set_button_label(Some(&gettext("_Details")));
            let (text, window, sentence) = (f.message.clone(), root.clone(), words::failure(f));
            t.connect_button_clicked(move |_| {
                let d = adw::MessageDialog::new(Some(&window), Some(&sentence), Some(&text));
                d.add_response("close", &gettext("_Close"));
                d.present();
            });
        }
        self.toasts.add_toast(t);
    }
}

/// The image cache is kept within bounds once per start, off the main thread.
fn trim_image_cache() {
    std::thread::spawn(|| {
        let dir = crate::icons::cache_dir();
        match crate::icons::trim_cache(&dir, crate::icons::CACHE_MAX, crate::icons::CACHE_KEEP) {
            Ok(0) | Err(_) => {}
            Ok(n) => tracing::info!("image cache trimmed by {n} bytes"),
        }
    });
}

/// Other clients (snapshelfctl, scripts) change snaps too: follow the helper's signal.
fn follow_snaps_changed(sender: &ComponentSender<App>) {
    sender.command(|out, shutdown| {
        shutdown
            .register(async move {
                let _ = client::snaps_changed(|names| {
                    let _ = out.send(AppCmd::SnapsChanged(names));
                })
                .await;
            })
            .drop_on_shutdown()
    });
}

fn shortcuts(root: &adw::ApplicationWindow, sender: &ComponentSender<App>) {
    let keys = gtk::ShortcutController::new();
    keys.set_scope(gtk::ShortcutScope::Global);
    let add = |trigger: &str, msg: fn() -> AppInput| {
        let s = sender.clone();
        keys.add_shortcut(gtk::Shortcut::new(
            gtk::ShortcutTrigger::parse_string(trigger),
            Some(gtk::CallbackAction::new(move |_, _| {
                s.input(msg());
                gtk::glib::Propagation::Stop
            })),
        ));
    };
    add("<Control>f", || AppInput::Search);
    add("<Alt>1", || AppInput::Page(0));
    add("<Alt>2", || AppInput::Page(1));
    add("<Alt>3", || AppInput::Page(2));
    add("<Alt>4", || AppInput::Page(3));
    add("Escape", || AppInput::Back);
    add("<Alt>Left", || AppInput::Back);
    add("F5", || AppInput::Reload);
    add("<Control>r", || AppInput::Reload);
    add("<Control>o", || AppInput::ChooseFile);
    add("<Control>q", || AppInput::Quit);
    root.add_controller(keys);
}

fn drop_target(root: &adw::ApplicationWindow, sender: &ComponentSender<App>) {
    let target = gtk::DropTarget::new(gtk::gio::File::static_type(), gtk::gdk::DragAction::COPY);
    let s = sender.clone();
    target.connect_drop(move |_, value, _, _| {
        match value.get::<gtk::gio::File>().ok().and_then(|f| f.path()) {
            Some(p) => {
                s.input(AppInput::OpenFile(p));
                true
            }
            None => false,
        }
    });
    root.add_controller(target);
}

/// Where the keyboard focus goes, at debug level (`RUST_LOG=ui::focus=debug`): the end-to-end
/// tests follow Tab through the window with it, as a keyboard user would.
fn log_focus(root: &adw::ApplicationWindow) {
    root.connect_focus_widget_notify(|w| {
        if !tracing::enabled!(target: "ui::focus", tracing::Level::DEBUG) {
            return;
        }
        if let Some(f) = gtk::prelude::GtkWindowExt::focus(w) {
            let label = f
                .downcast_ref::<gtk::Button>()
                .and_then(|b| b.label())
                .unwrap_or_default();
            tracing::debug!(
                target: "ui::focus",
                "focus: {} {} {label:?}",
                f.type_().name(),
                f.widget_name()
            );
        }
    });
}

fn choose_file(root: &adw::ApplicationWindow, sender: &ComponentSender<App>) {
    let chooser = gtk::FileChooserNative::new(
        Some(&gettext("Open a Snap File")),
        Some(root),
        gtk::FileChooserAction::Open,
        Some(&gettext("_Open")),
        Some(&gettext("_Cancel")),
    );
    let filter = gtk::FileFilter::new();
    filter.set_name(Some(&gettext("Snap packages")));
    filter.add_mime_type("application/vnd.snap");
    filter.add_pattern("*.snap");
    chooser.add_filter(&filter);
    let s = sender.clone();
    // GTK keeps no reference to a native dialog: without this one it is freed when this function
    // returns and never appears. The handler lets go of it once it has answered.
    let keep = std::cell::RefCell::new(Some(chooser.clone()));
    chooser.connect_response(move |c, r| {
        if r == gtk::ResponseType::Accept {
            if let Some(p) = c.file().and_then(|f| f.path()) {
                s.input(AppInput::OpenFile(p));
            }
        }
        c.destroy();
        keep.borrow_mut().take();
    });
    tracing::info!(target: "ui", "file chooser shown");
    chooser.show();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_goes_where_you_came_from() {
        let mut h = History::default();
        assert_eq!(h.current(), Place::Browse);
        h.push(Place::Snap("a".into()));
        h.push(Place::Snap("a".into()));
        h.push(Place::Permissions("a".into()));
        assert_eq!(h.current().child(), "permissions");
        assert_eq!(h.back(), Some(Place::Snap("a".into())));
        assert_eq!(h.back(), Some(Place::Browse));
        assert_eq!(h.back(), None);
        h.push(Place::File("/tmp/x.snap".into()));
        h.home();
        assert_eq!(h.current(), Place::Browse);
    }
}
