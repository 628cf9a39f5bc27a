//! `--bench-browse N` (scripts/bench.sh gui): open N different snap pages one after another, the
//! way a person clicking through the store would, then log the resident memory and quit.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use relm4::prelude::*;

use crate::app::{App, AppInput};
use crate::client;

/// N app names: the featured ones, then each category's, without repeats.
pub async fn pages_to_browse(n: usize) -> Vec<String> {
    let mut names: Vec<String> = client::find("", None, n as u32)
        .await
        .map(|l| l.into_iter().map(|r| r.name).collect())
        .unwrap_or_default();
    for c in client::categories().await.unwrap_or_default() {
        if names.len() >= n {
            break;
        }
        for r in client::find("", Some(&c), n as u32)
            .await
            .unwrap_or_default()
        {
            if names.len() < n && !names.contains(&r.name) {
                names.push(r.name);
            }
        }
    }
    names
}

/// Resident memory of this process, in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// One page every 300 ms (its details, icon and screenshots arrive in that time from a local
/// store), then the figure.
pub fn browse(names: Vec<String>, sender: ComponentSender<App>) {
    let total = names.len();
    let left = Rc::new(RefCell::new(names.into_iter()));
    tracing::info!(target: "ui", "browsing {total} app pages; RSS at start {} KiB", rss_kib());
    relm4::gtk::glib::timeout_add_local(Duration::from_millis(300), move || {
        match left.borrow_mut().next() {
            Some(n) => {
                sender.input(AppInput::OpenSnap(n));
                relm4::gtk::glib::ControlFlow::Continue
            }
            None => {
                let s = sender.clone();
                relm4::gtk::glib::timeout_add_local_once(Duration::from_secs(1), move || {
                    tracing::info!(target: "ui", "browsed {total} app pages: RSS {} KiB", rss_kib());
                    s.input(AppInput::Quit);
                });
                relm4::gtk::glib::ControlFlow::Break
            }
        }
    });
}
