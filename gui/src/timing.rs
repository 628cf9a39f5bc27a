//! When things reach the screen: the benchmarks (scripts/bench.sh gui) and the end-to-end test read
//! these `ui` log lines instead of guessing with sleeps.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Instant;

use relm4::gtk;
use relm4::gtk::prelude::*;

static START: OnceLock<Instant> = OnceLock::new();

/// Call first thing in `main`.
pub fn mark_start() {
    let _ = START.set(Instant::now());
}

/// Milliseconds since `mark_start`.
pub fn since_start_ms() -> f64 {
    START
        .get()
        .map(|s| s.elapsed().as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// Run `f` once, after the next frame that paints `widget`'s window.
pub fn after_paint(widget: &impl IsA<gtk::Widget>, f: impl FnOnce() + 'static) {
    let widget = widget.as_ref().clone();
    let f = Rc::new(Cell::new(Some(f)));
    // A tick callback first: the frame clock only exists once the widget is realized.
    widget.add_tick_callback(move |w, _| {
        if let Some(clock) = w.frame_clock() {
            let id: Rc<Cell<Option<gtk::glib::SignalHandlerId>>> = Rc::new(Cell::new(None));
            let (f, id2, clock2) = (f.clone(), id.clone(), clock.clone());
            id.set(Some(clock.connect_after_paint(move |_| {
                if let Some(f) = f.take() {
                    f();
                }
                if let Some(id) = id2.take() {
                    clock2.disconnect(id);
                }
            })));
        }
        gtk::glib::ControlFlow::Break
    });
}
