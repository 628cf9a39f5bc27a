//! The snap page: icon, screenshots, title, summary, description, version, publisher with its
//! mark, license, sizes, channels; Install / Open / Update / Remove / Revert / Permissions, Hold
//! updates, and the change in progress with its Cancel.
//!
//! `model` is what the page knows of the snap (pure, tested without a display), `view` the
//! component, `channels` the channel rows (a factory), `dialogs` the Remove and Revert questions,
//! `launcher` what Open runs, `safety` the context tiles (size, sandbox, what it may do), `services`
//! the background services with a switch each.

mod channels;
mod dialogs;
mod launcher;
mod model;
mod safety;
mod services;
mod view;

pub use model::SnapState;
pub use view::{SnapPage, SnapPageInput, SnapPageOutput};
