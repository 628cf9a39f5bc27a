//! One channel of the snap page's list (Alt+L): a radio button with the channel, its version,
//! revision and size. Picking one only marks it; Install or "Switch to" acts on it.

use relm4::adw::prelude::*;
use relm4::prelude::*;
use relm4::{adw, gtk};

/// What a row shows, worked out by the page's model.
#[derive(Debug, Clone)]
pub struct ChannelRowInit {
    pub channel: String,
    pub words: String,
    pub picked: bool,
    /// The page's radio group: every row's button joins it, so one is picked at a time.
    pub group: gtk::CheckButton,
}

#[derive(Debug)]
pub struct ChannelRow {
    init: ChannelRowInit,
}

#[derive(Debug)]
pub enum ChannelRowOutput {
    Picked(String),
}

#[relm4::factory(pub)]
impl FactoryComponent for ChannelRow {
    type Init = ChannelRowInit;
    type Input = ();
    type Output = ChannelRowOutput;
    type CommandOutput = ();
    type ParentWidget = gtk::ListBox;

    view! {
        adw::ActionRow {
            set_title: &self.init.channel,
            set_subtitle: &self.init.words,
            set_widget_name: &self.init.channel,
            add_prefix: check = &gtk::CheckButton {
                set_group: Some(&self.init.group),
                set_active: self.init.picked,
                connect_toggled[sender, channel = self.init.channel.clone()] => move |b| {
                    if b.is_active() {
                        let _ = sender.output(ChannelRowOutput::Picked(channel.clone()));
                    }
                },
            },
            set_activatable_widget: Some(&check),
        }
    }

    fn init_model(
        init: ChannelRowInit,
        _index: &DynamicIndex,
        _sender: FactorySender<Self>,
    ) -> Self {
        ChannelRow { init }
    }
}
