//! A featured app on the Explore page: a card with its icon, title and summary. Clicking it (or
//! Enter on it) opens the snap page.

use std::sync::Arc;

use relm4::gtk::prelude::*;
use relm4::prelude::*;

use crate::a11y::A11yExt;
use crate::icons::{self, Pixels};
use crate::snap_row::RowData;

#[derive(Debug)]
pub struct FeatureCard {
    data: RowData,
    texture: Option<gtk::gdk::Texture>,
}

#[derive(Debug)]
pub enum FeatureCardOutput {
    Open(String),
}

#[derive(Debug)]
pub enum FeatureCardCmd {
    Icon(Option<Arc<Pixels>>),
}

const CARD_ICON: u32 = 64;

#[relm4::factory(pub)]
impl FactoryComponent for FeatureCard {
    type Init = RowData;
    type Input = ();
    type Output = FeatureCardOutput;
    type CommandOutput = FeatureCardCmd;
    type ParentWidget = gtk::FlowBox;

    view! {
        gtk::Button {
            add_css_class: "card",
            set_widget_name: &self.data.name,
            set_tooltip_text: Some(&self.data.summary),
            // A button whose child is a box has no name of its own for a screen reader.
            set_a11y_label: &format!("{}, {}", self.data.title, self.data.summary),
            connect_clicked[sender, name = self.data.name.clone()] => move |_| {
                let _ = sender.output(FeatureCardOutput::Open(name.clone()));
            },
            gtk::Box {
                set_orientation: gtk::Orientation::Vertical,
                set_spacing: 6,
                set_margin_all: 12,
                set_width_request: 180,
                gtk::Image {
                    set_pixel_size: CARD_ICON as i32,
                    set_icon_name: Some("application-x-executable"),
                    #[watch]
                    set_paintable: self.texture.as_ref(),
                },
                gtk::Label {
                    set_label: &self.data.title,
                    add_css_class: "heading",
                    set_ellipsize: gtk::pango::EllipsizeMode::End,
                },
                gtk::Label {
                    set_label: &self.data.summary,
                    add_css_class: "dim-label",
                    add_css_class: "caption",
                    set_wrap: true,
                    set_lines: 2,
                    set_ellipsize: gtk::pango::EllipsizeMode::End,
                    set_justify: gtk::Justification::Center,
                    set_max_width_chars: 24,
                },
            },
        }
    }

    fn init_model(data: Self::Init, _index: &DynamicIndex, sender: FactorySender<Self>) -> Self {
        let source = data.icon.clone();
        sender.oneshot_command(async move {
            FeatureCardCmd::Icon(icons::load(source, CARD_ICON).await)
        });
        FeatureCard {
            data,
            texture: None,
        }
    }

    fn update_cmd(&mut self, msg: Self::CommandOutput, _sender: FactorySender<Self>) {
        let FeatureCardCmd::Icon(p) = msg;
        self.texture = p.map(|p| icons::texture(&p));
    }
}
