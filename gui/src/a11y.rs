//! Screen-reader labels. GTK 4.8 has `gtk_accessible_update_property_value` and
//! `gtk_accessible_reset_relation` (since 4.0), but the Rust bindings expose them only for 4.10,
//! so these two calls are declared here.

use relm4::gtk;
use relm4::gtk::glib::translate::ToGlibPtr;
use relm4::gtk::prelude::*;

extern "C" {
    fn gtk_accessible_update_property_value(
        accessible: *mut gtk::ffi::GtkAccessible,
        n_properties: std::ffi::c_int,
        properties: *mut gtk::ffi::GtkAccessibleProperty,
        values: *const gtk::glib::gobject_ffi::GValue,
    );
    fn gtk_accessible_reset_relation(
        accessible: *mut gtk::ffi::GtkAccessible,
        relation: gtk::ffi::GtkAccessibleRelation,
    );
}

/// What a screen reader says for `widget` (icon-only buttons, switches, drop-downs): `text`, and
/// only it. GTK 4.8 reads a widget's name as its label property followed by the names of what it
/// is labelled by; a button with a mnemonic label is labelled by that label (GtkLabel's mnemonic
/// widget), so "_Try Again" came out as "Try Again Try Again". The relation goes: the label
/// property says it all.
pub fn set_label(widget: &impl IsA<gtk::Widget>, text: &str) {
    let accessible = ToGlibPtr::<*mut gtk::ffi::GtkWidget>::to_glib_none(widget.as_ref()).0
        as *mut gtk::ffi::GtkAccessible;
    // SAFETY: a live widget (every GtkWidget is a GtkAccessible) and a relation GTK defines;
    // resetting one that is not set does nothing.
    unsafe {
        gtk_accessible_reset_relation(accessible, gtk::ffi::GTK_ACCESSIBLE_RELATION_LABELLED_BY);
    }
    let value = text.to_value();
    let mut props = [gtk::ffi::GTK_ACCESSIBLE_PROPERTY_LABEL];
    // SAFETY: one property and one GValue holding a string, as GTK documents for LABEL; both
    // pointers live across the call. Every GtkWidget is a GtkAccessible.
    unsafe {
        gtk_accessible_update_property_value(
            accessible,
            1,
            props.as_mut_ptr(),
            value.to_glib_none().0,
        );
    }
}

/// `set_a11y_label: …` in `view!`.
pub trait A11yExt {
    fn set_a11y_label(&self, text: &str);
}

impl<W: IsA<gtk::Widget>> A11yExt for W {
    fn set_a11y_label(&self, text: &str) {
        set_label(self, text);
    }
}

/// A mnemonic label as a screen reader should say it: "Re_vert…" → "Revert…", "__" → "_".
/// GTK 4.8 names a button with a mnemonic label "_Label Label", so such buttons get this as their
/// accessible label (through [`set_label`], which also drops the relation that doubled it).
pub fn plain(mnemonic: &str) -> String {
    let mut out = String::with_capacity(mnemonic.len());
    let mut chars = mnemonic.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' {
            if chars.peek() == Some(&'_') {
                out.push('_');
                chars.next();
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn mnemonics_are_dropped_and_doubled_underscores_kept() {
        assert_eq!(super::plain("Re_vert…"), "Revert…");
        assert_eq!(
            super::plain("_Switch to latest/edge"),
            "Switch to latest/edge"
        );
        assert_eq!(super::plain("a__b"), "a_b");
        assert_eq!(super::plain(""), "");
    }
}
