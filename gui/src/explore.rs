//! Explore: the store's featured apps as cards, and its categories. Picking a category lists its
//! apps on the Search page.

use relm4::adw::prelude::*;
use relm4::factory::FactoryVecDeque;
use relm4::prelude::*;
use relm4::{adw, gtk};

use gettextrs::gettext;

use crate::client::{self, Failure};
use crate::feature_card::{FeatureCard, FeatureCardOutput};
use crate::loadable::{Loadable, Shown};
use crate::snap_row::RowData;

pub struct Explore {
    cards: FactoryVecDeque<FeatureCard>,
    categories: Vec<String>,
    loading: bool,
    load: Loadable,
}

#[derive(Debug)]
pub enum ExploreInput {
    Load,
}

#[derive(Debug)]
pub enum ExploreOutput {
    Open(String),
    Category(String),
}

#[derive(Debug)]
pub enum ExploreCmd {
    Loaded(Result<(Vec<RowData>, Vec<String>), Failure>),
}

/// A category id ("art-and-design") in words: the Snap Store's own categories are translated,
/// another store's read as their id.
pub fn category_title(id: &str) -> String {
    let known = match id {
        "art-and-design" => Some(gettext("Art and design")),
        "books-and-reference" => Some(gettext("Books and reference")),
        "development" => Some(gettext("Development")),
        "devices-and-iot" => Some(gettext("Devices and IoT")),
        "education" => Some(gettext("Education")),
        "entertainment" => Some(gettext("Entertainment")),
        "featured" => Some(gettext("Featured")),
        "finance" => Some(gettext("Finance")),
        "games" => Some(gettext("Games")),
        "health-and-fitness" => Some(gettext("Health and fitness")),
        "music-and-audio" => Some(gettext("Music and audio")),
        "news-and-weather" => Some(gettext("News and weather")),
        "personalisation" => Some(gettext("Personalisation")),
        "photo-and-video" => Some(gettext("Photo and video")),
        "productivity" => Some(gettext("Productivity")),
        "science" => Some(gettext("Science")),
        "security" => Some(gettext("Security")),
        "server-and-cloud" => Some(gettext("Server and cloud")),
        "social" => Some(gettext("Social")),
        "utilities" => Some(gettext("Utilities")),
        _ => None,
    };
    known.unwrap_or_else(|| {
        let mut s = id.replace('-', " ");
        if let Some(first) = s.get(0..1) {
            let upper = first.to_uppercase();
            s.replace_range(0..1, &upper);
        }
        s
    })
}

#[relm4::component(pub)]
impl Component for Explore {
    type Init = ();
    type Input = ExploreInput;
    type Output = ExploreOutput;
    type CommandOutput = ExploreCmd;

    view! {
        gtk::Stack {
            set_transition_type: gtk::StackTransitionType::Crossfade,

            add_named[Some("loading")] = &crate::ui::spinner() -> gtk::Spinner {},
            add_named[Some("failed")] = &crate::ui::status("network-offline-symbolic", &gettext("The store cannot be reached")) -> adw::StatusPage {
                #[watch]
                set_description: model.load.description().as_deref(),
                crate::ui::retry() -> gtk::Button {
                    connect_clicked => ExploreInput::Load,
                },
            },
            add_named[Some("ready")] = &gtk::ScrolledWindow {
                set_hscrollbar_policy: gtk::PolicyType::Never,
                adw::Clamp {
                    set_maximum_size: 960,
                    gtk::Box {
                        set_orientation: gtk::Orientation::Vertical,
                        set_spacing: 12,
                        set_margin_all: 24,
                        gtk::Label {
                            set_label: &gettext("Featured"),
                            add_css_class: "title-2",
                            set_halign: gtk::Align::Start,
                        },
                        #[local_ref]
                        card_box -> gtk::FlowBox {
                            set_selection_mode: gtk::SelectionMode::None,
                            set_homogeneous: true,
                            set_max_children_per_line: 4,
                            set_min_children_per_line: 2,
                            set_row_spacing: 12,
                            set_column_spacing: 12,
                        },
                        gtk::Label {
                            set_label: &gettext("Categories"),
                            add_css_class: "title-2",
                            set_halign: gtk::Align::Start,
                            set_margin_top: 12,
                        },
                        #[name = "category_box"]
                        gtk::FlowBox {
                            set_selection_mode: gtk::SelectionMode::None,
                            set_homogeneous: true,
                            set_max_children_per_line: 4,
                            set_min_children_per_line: 2,
                            set_row_spacing: 6,
                            set_column_spacing: 6,
                        },
                    },
                },
            },
            #[watch]
            set_visible_child_name: model.load.face(if model.loading && model.cards.is_empty() { Shown::Nothing } else { Shown::Something }).name(),
        }
    }

    fn init(_: (), root: Self::Root, sender: ComponentSender<Self>) -> ComponentParts<Self> {
        let cards = FactoryVecDeque::builder()
            .launch(gtk::FlowBox::default())
            .forward(sender.output_sender(), |o| match o {
                FeatureCardOutput::Open(n) => ExploreOutput::Open(n),
            });
        let model = Explore {
            cards,
            categories: Vec::new(),
            loading: true,
            load: Loadable::new(),
        };
        let card_box = model.cards.widget();
        let widgets = view_output!();
        sender.input(ExploreInput::Load);
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: ExploreInput, sender: ComponentSender<Self>, _root: &Self::Root) {
        match msg {
            ExploreInput::Load => {
                self.loading = true;
                self.load.retry();
                sender.oneshot_command(async {
                    // Offline the helper lists what is installed: not the store's featured apps.
                    let featured = match client::find("", None, 24).await {
                        Ok(f) => client::from_store(f).await,
                        Err(e) => Err(e),
                    };
                    let categories = client::categories().await;
                    ExploreCmd::Loaded(featured.and_then(|f| {
                        let rows = f
                            .into_iter()
                            .map(|r| RowData {
                                name: r.name,
                                title: r.title,
                                summary: r.summary,
                                icon: r.icon_url,
                                note: String::new(),
                                action: String::new(),
                            })
                            .collect();
                        Ok((rows, categories?))
                    }))
                });
            }
        }
    }

    fn update_cmd_with_view(
        &mut self,
        widgets: &mut Self::Widgets,
        msg: ExploreCmd,
        sender: ComponentSender<Self>,
        _root: &Self::Root,
    ) {
        let ExploreCmd::Loaded(r) = msg;
        self.loading = false;
        match r {
            Ok((rows, categories)) => {
                {
                    let mut g = self.cards.guard();
                    g.clear();
                    for r in rows {
                        g.push_back(r);
                    }
                }
                if categories != self.categories {
                    while let Some(c) = widgets.category_box.first_child() {
                        widgets.category_box.remove(&c);
                    }
                    // "featured" is the cards above, not a category of its own.
                    for c in categories.iter().filter(|c| *c != "featured") {
                        let b = gtk::Button::with_label(&category_title(c));
                        b.set_widget_name(c);
                        let (s, c) = (sender.clone(), c.clone());
                        b.connect_clicked(move |_| {
                            let _ = s.output(ExploreOutput::Category(c.clone()));
                        });
                        widgets.category_box.insert(&b, -1);
                    }
                    self.categories = categories;
                }
                self.load.succeeded();
                tracing::info!(target: "ui", "explore loaded: {} featured", self.cards.len());
            }
            Err(f) => {
                tracing::info!(target: "ui", "explore failed: {:?}", f.kind);
                self.load.failed(f);
            }
        }
        self.update_view(widgets, sender);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn category_ids_read_as_words() {
        assert_eq!(super::category_title("art-and-design"), "Art and design");
        assert_eq!(super::category_title("games"), "Games");
        assert_eq!(super::category_title("home-brew-tools"), "Home brew tools");
        assert_eq!(super::category_title(""), "");
    }
}
