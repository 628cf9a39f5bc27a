//! Search: as you type, debounced; results replace the list as they arrive; a spinner only when
//! the store is slow. Also lists one category's apps. Enter in the entry opens the first result.

use crate::a11y::A11yExt;
use std::time::{Duration, Instant};

use relm4::adw::prelude::*;
use relm4::factory::FactoryVecDeque;
use relm4::prelude::*;
use relm4::{adw, gtk};

use gettextrs::gettext;
use snapshelf_i18n::fill;

use crate::client::{self, Failure};
use crate::explore::category_title;
use crate::snap_row::{RowData, SnapRow, SnapRowOutput};
use crate::timing;
use crate::words;

/// Quiet time after the last key before a search is sent.
pub const DEBOUNCE: Duration = Duration::from_millis(200);
/// A search slower than this shows a spinner.
const SLOW: Duration = Duration::from_millis(300);
const LIMIT: u32 = 50;
/// Rows drawn in the first frame of an answer: more than a window shows.
const FIRST_ROWS: usize = 12;

/// What the page is asked for, and which answer is still wanted. Pure; tested without a display.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Query {
    pub text: String,
    pub category: Option<String>,
    /// Bumped by every change; answers to older generations are dropped.
    pub generation: u64,
}

impl Query {
    pub fn set_text(&mut self, text: &str) -> u64 {
        self.text = text.trim().to_string();
        self.category = None;
        self.generation += 1;
        self.generation
    }

    pub fn set_category(&mut self, c: &str) -> u64 {
        self.text.clear();
        self.category = Some(c.to_string());
        self.generation += 1;
        self.generation
    }

    pub fn is_current(&self, generation: u64) -> bool {
        generation == self.generation
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.category.is_none()
    }
}

pub struct Search {
    query: Query,
    results: FactoryVecDeque<SnapRow>,
    first: Option<String>,
    pending: bool,
    /// Results after the first screenful, added once it is drawn.
    rest: Vec<RowData>,
    slow: bool,
    /// The last results came from installed apps only: the store was not reached.
    offline: bool,
    failure: Option<Failure>,
    entry: gtk::SearchEntry,
}

#[derive(Debug)]
pub enum SearchInput {
    Changed(String),
    Category(String),
    Fire(u64),
    Slow(u64),
    OpenFirst,
    Focus,
    /// Put these words in the entry and search (`--search`, the desktop's search).
    Query(String),
    More(u64),
    /// Ask again, after a failure.
    Retry,
}

#[derive(Debug)]
pub enum SearchOutput {
    Open(String),
}

#[derive(Debug)]
pub enum SearchCmd {
    Results {
        generation: u64,
        fired: Instant,
        result: Result<Vec<RowData>, Failure>,
        /// The store was not reached: the rows are installed apps only.
        offline: bool,
    },
}

#[relm4::component(pub)]
impl Component for Search {
    type Init = ();
    type Input = SearchInput;
    type Output = SearchOutput;
    type CommandOutput = SearchCmd;

    view! {
        gtk::Box {
            set_orientation: gtk::Orientation::Vertical,
            adw::Clamp {
                set_maximum_size: 720,
                set_margin_top: 12,
                set_margin_bottom: 6,
                set_margin_start: 12,
                set_margin_end: 12,
                #[local_ref]
                entry -> gtk::SearchEntry {
                    set_placeholder_text: Some(&gettext("Search apps")),
                    // The placeholder is not a name: a screen reader needs one.
                    set_a11y_label: &gettext("Search apps"),
                    set_hexpand: true,
                    connect_search_changed[sender] => move |e| {
                        sender.input(SearchInput::Changed(e.text().to_string()));
                    },
                    connect_activate => SearchInput::OpenFirst,
                },
            },
            gtk::Stack {
                set_vexpand: true,
                add_named[Some("hint")] = &crate::ui::status("system-search-symbolic", &gettext("Search for apps")) -> adw::StatusPage {
                    set_description: Some(&gettext("Type a name or a word from its description.")),
                },
                add_named[Some("spinner")] = &gtk::Spinner {
                    #[watch]
                    set_spinning: model.slow,
                    set_halign: gtk::Align::Center,
                    set_valign: gtk::Align::Center,
                    set_size_request: (32, 32),
                },
                add_named[Some("none")] = &crate::ui::status("edit-find-symbolic", &gettext("No apps found")) -> adw::StatusPage {
                    set_description: Some(&gettext("Try other words, or fewer of them.")),
                },
                add_named[Some("failed")] = &crate::ui::status("network-offline-symbolic", &gettext("Search is not available")) -> adw::StatusPage {
                    #[watch]
                    set_description: model.failure.as_ref().map(words::failure).as_deref(),
                    crate::ui::retry() -> gtk::Button {
                        connect_clicked => SearchInput::Retry,
                    },
                },
                add_named[Some("results")] = &gtk::ScrolledWindow {
                    set_hscrollbar_policy: gtk::PolicyType::Never,
                    adw::Clamp {
                        set_maximum_size: 720,
                        gtk::Box {
                            set_orientation: gtk::Orientation::Vertical,
                            set_spacing: 12,
                            set_margin_all: 12,
                            gtk::Label {
                                #[watch]
                                set_label: &model.heading(),
                                add_css_class: "heading",
                                set_halign: gtk::Align::Start,
                            },
                            #[local_ref]
                            list -> gtk::ListBox {},
                        },
                    },
                },
                #[watch]
                set_visible_child_name: model.visible(),
            },
        }
    }

    fn init(_: (), root: Self::Root, sender: ComponentSender<Self>) -> ComponentParts<Self> {
        let results = FactoryVecDeque::builder()
            .launch(crate::ui::boxed_list())
            .forward(sender.output_sender(), |o| match o {
                // Result rows have no button: Act never comes.
                SnapRowOutput::Open(n) | SnapRowOutput::Act(n) => SearchOutput::Open(n),
            });
        let model = Search {
            query: Query::default(),
            results,
            first: None,
            pending: false,
            rest: Vec::new(),
            slow: false,
            offline: false,
            failure: None,
            entry: gtk::SearchEntry::new(),
        };
        let entry = &model.entry;
        let list = model.results.widget();
        let widgets = view_output!();
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: SearchInput, sender: ComponentSender<Self>, _root: &Self::Root) {
        match msg {
            SearchInput::Changed(text) => {
                // No change of text, such as the Changed("") that clearing the entry for a
                // category sends after the category is set: the category stays.
                if text.trim() == self.query.text {
                    return;
                }
                let g = self.query.set_text(&text);
                self.schedule(g, DEBOUNCE, &sender);
            }
            SearchInput::Category(c) => {
                let g = self.query.set_category(&c);
                if !self.entry.text().is_empty() {
                    // Clearing the entry sends Changed(""), handled after this: it changes
                    // nothing, as the query's text is already empty.
                    self.entry.set_text("");
                }
                self.schedule(g, Duration::ZERO, &sender);
            }
            SearchInput::Fire(g) => {
                if !self.query.is_current(g) {
                    return;
                }
                if self.query.is_empty() {
                    self.pending = false;
                    self.results.guard().clear();
                    return;
                }
                self.pending = true;
                let (text, category) = (self.query.text.clone(), self.query.category.clone());
                let fired = Instant::now();
                sender.oneshot_command(async move {
                    let result = client::find(&text, category.as_deref(), LIMIT).await;
                    // Offline answers hold installed apps only: only then is the helper asked
                    // whether it reached the store (no extra call on the usual path).
                    let maybe_offline = result
                        .as_ref()
                        .is_ok_and(|list| list.iter().all(|r| r.installed));
                    let offline = maybe_offline && !client::store_reachable().await.unwrap_or(true);
                    let result = result.map(|list| {
                        list.into_iter()
                            .map(|r| RowData {
                                note: if r.installed {
                                    gettext("Installed")
                                } else {
                                    String::new()
                                },
                                name: r.name,
                                title: r.title,
                                summary: r.summary,
                                icon: r.icon_url,
                                action: String::new(),
                            })
                            .collect()
                    });
                    SearchCmd::Results {
                        generation: g,
                        fired,
                        result,
                        offline,
                    }
                });
                let s = sender.clone();
                relm4::gtk::glib::timeout_add_local_once(SLOW, move || {
                    s.input(SearchInput::Slow(g))
                });
            }
            SearchInput::Retry => {
                self.failure = None;
                self.schedule(self.query.generation, Duration::ZERO, &sender);
            }
            SearchInput::Slow(g) => {
                if self.query.is_current(g) && self.pending {
                    self.slow = true;
                }
            }
            SearchInput::OpenFirst => {
                if let Some(n) = &self.first {
                    let _ = sender.output(SearchOutput::Open(n.clone()));
                }
            }
            SearchInput::Query(text) => {
                // The entry's change signal starts the search, as typing does.
                self.entry.set_text(&text);
                self.entry.grab_focus();
            }
            SearchInput::Focus => {
                self.entry.grab_focus();
            }
            SearchInput::More(g) => {
                if self.query.is_current(g) {
                    let mut guard = self.results.guard();
                    for r in std::mem::take(&mut self.rest) {
                        guard.push_back(r);
                    }
                }
            }
        }
    }

    fn update_cmd(&mut self, msg: SearchCmd, sender: ComponentSender<Self>, _root: &Self::Root) {
        let SearchCmd::Results {
            generation,
            fired,
            result,
            offline,
        } = msg;
        if !self.query.is_current(generation) {
            return;
        }
        self.offline = offline;
        self.pending = false;
        self.slow = false;
        match result {
            Ok(rows) => {
                self.failure = None;
                self.first = rows.first().map(|r| r.name.clone());
                let n = rows.len();
                // A screenful first, drawn at once; the rest follow right after that frame, so a
                // long answer never holds the first results back.
                let mut rows = rows.into_iter();
                {
                    let mut g = self.results.guard();
                    g.clear();
                    for r in rows.by_ref().take(FIRST_ROWS) {
                        g.push_back(r);
                    }
                }
                self.rest = rows.collect();
                let what = self
                    .query
                    .category
                    .clone()
                    .unwrap_or_else(|| self.query.text.clone());
                timing::after_paint(self.results.widget(), move || {
                    tracing::info!(
                        target: "ui",
                        "search drawn: {n} results for {what:?} in {:.1} ms after the debounce",
                        fired.elapsed().as_secs_f64() * 1000.0
                    );
                    sender.input(SearchInput::More(generation));
                });
            }
            Err(f) => {
                self.first = None;
                self.failure = Some(f);
            }
        }
    }
}

impl Search {
    fn schedule(&mut self, generation: u64, after: Duration, sender: &ComponentSender<Self>) {
        let s = sender.clone();
        relm4::gtk::glib::timeout_add_local_once(after, move || {
            s.input(SearchInput::Fire(generation))
        });
    }

    fn visible(&self) -> &'static str {
        // An empty entry is a fresh start, whatever the last search met.
        if self.query.is_empty() {
            "hint"
        } else if self.failure.is_some() {
            "failed"
        } else if self.pending && self.results.is_empty() {
            "spinner"
        } else if self.results.is_empty() && !self.pending {
            "none"
        } else {
            "results"
        }
    }

    fn heading(&self) -> String {
        let h = match &self.query.category {
            Some(c) => category_title(c),
            None => fill(
                &gettext("Results for “{query}”"),
                &[("query", &self.query.text)],
            ),
        };
        if self.offline {
            fill(
                &gettext("{heading} — offline: installed apps only"),
                &[("heading", &h)],
            )
        } else {
            h
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_query_is_answered() {
        let mut q = Query::default();
        assert!(q.is_empty());
        let a = q.set_text(" cl ");
        assert_eq!(q.text, "cl");
        let b = q.set_text("clock");
        assert!(!q.is_current(a) && q.is_current(b));
        let c = q.set_category("games");
        assert!(q.text.is_empty() && q.category.as_deref() == Some("games"));
        assert!(!q.is_current(b) && q.is_current(c) && !q.is_empty());
        q.set_text("");
        assert!(q.is_empty());
    }
}
