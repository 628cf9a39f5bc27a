//! One snap in a list (search results, a category, Installed, Updates): icon, title, summary and
//! a trailing note, and on Updates a button that acts on that snap alone. Activating the row
//! (click, Enter) opens the snap page. Its icon is loaded by its own command, off the main thread.

use std::sync::Arc;

use relm4::adw::prelude::*;
use relm4::prelude::*;
use relm4::{adw, gtk};

use gettextrs::gettext;
use snapshelf_i18n::fill;

use crate::a11y::A11yExt;
use crate::icons::{self, Pixels};

/// What a row shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowData {
    pub name: String,
    pub title: String,
    pub summary: String,
    /// Store URL or local file; empty for none.
    pub icon: String,
    /// Right-hand note: version and size, "Installed", "On hold".
    pub note: String,
    /// Label of a button that acts on this snap alone ("Update"); empty for none.
    pub action: String,
}

#[derive(Debug)]
pub struct SnapRow {
    data: RowData,
    texture: Option<gtk::gdk::Texture>,
    /// A change is running: the row's button waits.
    busy: bool,
}

#[derive(Debug, Clone)]
pub enum SnapRowInput {
    Busy(bool),
}

#[derive(Debug)]
pub enum SnapRowOutput {
    Open(String),
    Act(String),
}

#[derive(Debug)]
pub enum SnapRowCmd {
    Icon(Option<Arc<Pixels>>),
}

pub const ROW_ICON: u32 = 48;

#[relm4::factory(pub)]
impl FactoryComponent for SnapRow {
    type Init = RowData;
    type Input = SnapRowInput;
    type Output = SnapRowOutput;
    type CommandOutput = SnapRowCmd;
    type ParentWidget = gtk::ListBox;

    view! {
        adw::ActionRow {
            set_title: &glib_markup(&self.data.title),
            set_subtitle: &glib_markup(&self.data.summary),
            set_activatable: true,
            set_widget_name: &self.data.name,
            connect_activated[sender, name = self.data.name.clone()] => move |_| {
                let _ = sender.output(SnapRowOutput::Open(name.clone()));
            },
            add_prefix = &gtk::Image {
                set_pixel_size: ROW_ICON as i32,
                set_icon_name: Some("application-x-executable"),
                #[watch]
                set_paintable: self.texture.as_ref(),
            },
            add_suffix = &gtk::Label {
                set_label: &self.data.note,
                add_css_class: "dim-label",
                set_visible: !self.data.note.is_empty(),
            },
            add_suffix = &gtk::Button {
                set_label: &self.data.action,
                set_visible: !self.data.action.is_empty(),
                set_widget_name: &format!("act:{}", self.data.name),
                set_valign: gtk::Align::Center,
                // A screen reader says which app the button is for, not just "Update".
                set_a11y_label: &fill(&gettext("{action}: {title}"), &[("action", &self.data.action.replace('_', "")), ("title", &self.data.title)]),
                #[watch]
                set_sensitive: !self.busy,
                connect_clicked[sender, name = self.data.name.clone()] => move |_| {
                    let _ = sender.output(SnapRowOutput::Act(name.clone()));
                },
            },
            add_suffix = &gtk::Image {
                set_icon_name: Some("go-next-symbolic"),
                set_visible: self.data.action.is_empty(),
            },
        }
    }

    fn init_model(data: Self::Init, _index: &DynamicIndex, sender: FactorySender<Self>) -> Self {
        let source = data.icon.clone();
        sender
            .oneshot_command(async move { SnapRowCmd::Icon(icons::load(source, ROW_ICON).await) });
        SnapRow {
            data,
            texture: None,
            busy: false,
        }
    }

    fn update(&mut self, msg: SnapRowInput, _sender: FactorySender<Self>) {
        let SnapRowInput::Busy(b) = msg;
        self.busy = b;
    }

    fn update_cmd(&mut self, msg: Self::CommandOutput, _sender: FactorySender<Self>) {
        let SnapRowCmd::Icon(p) = msg;
        self.texture = p.map(|p| icons::texture(&p));
    }
}

/// Titles and summaries are text, never markup.
fn glib_markup(s: &str) -> String {
    gtk::glib::markup_escape_text(s).to_string()
}
