//! Widgets every page builds the same way, for `view!` (`&ui::spinner() -> gtk::Spinner {}`).

use relm4::adw::prelude::*;
use relm4::{adw, gtk};

use gettextrs::gettext;

/// A centred spinner for a page that is loading.
pub fn spinner() -> gtk::Spinner {
    let s = gtk::Spinner::new();
    s.set_spinning(true);
    s.set_halign(gtk::Align::Center);
    s.set_valign(gtk::Align::Center);
    s.set_size_request(32, 32);
    s
}

/// A status page: an empty list, or a failure whose sentence the page watches.
pub fn status(icon: &str, title: &str) -> adw::StatusPage {
    let p = adw::StatusPage::new();
    p.set_icon_name(Some(icon));
    p.set_title(title);
    p
}

/// "Try Again" under a failure.
pub fn retry() -> gtk::Button {
    let b = gtk::Button::with_mnemonic(&gettext("_Try Again"));
    crate::a11y::set_label(&b, &crate::a11y::plain(&gettext("_Try Again")));
    b.set_halign(gtk::Align::Center);
    b.add_css_class("pill");
    b
}

/// A heading over a section of a page.
pub fn heading(text: &str) -> gtk::Label {
    let l = gtk::Label::new(Some(text));
    l.add_css_class("heading");
    l.set_halign(gtk::Align::Start);
    l
}

/// The rounded list the rows of a page sit in (GNOME's boxed list).
pub fn boxed_list() -> gtk::ListBox {
    let l = gtk::ListBox::new();
    l.add_css_class("boxed-list");
    l.set_selection_mode(gtk::SelectionMode::None);
    l.set_valign(gtk::Align::Start);
    l
}
