//! A change in progress: starts the call, follows the change object, shows its stage, bytes and
//! speed, and a Cancel that calls the change's Cancel (the helper undoes what was done).

use crate::a11y::A11yExt;
use std::os::fd::OwnedFd;
use std::time::Instant;

use relm4::gtk::prelude::*;
use relm4::prelude::*;

use gettextrs::gettext;
use snapshelf_i18n::fill;

use crate::client::{self, Action, ChangeState, Failure};
use crate::words::{self, SpeedMeter};

pub struct Progress {
    state: Option<ChangeState>,
    speed: SpeedMeter,
    started: Instant,
    cancelling: bool,
}

#[derive(Debug)]
pub enum ProgressInput {
    Start(Action),
    StartFile(OwnedFd, bool, bool),
    Cancel,
}

#[derive(Debug)]
pub enum ProgressOutput {
    /// The change is ready (Done, Error, Cancelled, Undone).
    Ended(ChangeState),
    /// The call itself failed: no change was made (not authorized, a conflict…).
    Failed(Failure),
}

#[derive(Debug)]
pub enum ProgressCmd {
    State(ChangeState),
    Lost(Failure),
    CancelFailed(Failure),
}

/// "Downloading · 12 MB of 100 MB · 2.5 MB/s".
pub fn describe(state: &ChangeState, rate: Option<f64>) -> String {
    let mut parts = Vec::new();
    if !state.label.is_empty() {
        parts.push(state.label.clone());
    } else if !state.summary.is_empty() {
        parts.push(state.summary.clone());
    }
    if state.bytes_total > 0 && state.bytes_done < state.bytes_total {
        parts.push(fill(
            &gettext("{done} of {total}"),
            &[
                ("done", &words::size(state.bytes_done)),
                ("total", &words::size(state.bytes_total)),
            ],
        ));
        if let Some(r) = rate {
            parts.push(words::speed(r));
        }
    }
    parts.join(" · ")
}

#[relm4::component(pub)]
impl Component for Progress {
    type Init = ();
    type Input = ProgressInput;
    type Output = ProgressOutput;
    type CommandOutput = ProgressCmd;

    view! {
        gtk::Box {
            set_spacing: 12,
            #[watch]
            set_visible: model.state.as_ref().is_some_and(|s| !s.ready),
            gtk::Box {
                set_orientation: gtk::Orientation::Vertical,
                set_spacing: 6,
                set_hexpand: true,
                set_valign: gtk::Align::Center,
                #[name = "bar"]
                gtk::ProgressBar {
                    #[watch]
                    set_fraction: model.state.as_ref().map(|s| s.progress.clamp(0.0, 1.0)).unwrap_or(0.0),
                },
                gtk::Label {
                    #[watch]
                    set_label: &model.state.as_ref().map(|s| describe(s, model.speed.rate())).unwrap_or_default(),
                    set_halign: gtk::Align::Start,
                    add_css_class: "caption",
                    set_ellipsize: gtk::pango::EllipsizeMode::End,
                },
            },
            gtk::Button {
                set_label: &gettext("_Cancel"),
                set_use_underline: true,
                set_a11y_label: &crate::a11y::plain(&gettext("_Cancel")),
                set_valign: gtk::Align::Center,
                #[watch]
                set_sensitive: model.state.as_ref().is_some_and(|s| s.allow_cancel) && !model.cancelling,
                connect_clicked => ProgressInput::Cancel,
            },
        }
    }

    fn init(_: (), root: Self::Root, _sender: ComponentSender<Self>) -> ComponentParts<Self> {
        let model = Progress {
            state: None,
            speed: SpeedMeter::default(),
            started: Instant::now(),
            cancelling: false,
        };
        let widgets = view_output!();
        ComponentParts { model, widgets }
    }

    fn update(&mut self, msg: ProgressInput, sender: ComponentSender<Self>, _root: &Self::Root) {
        match msg {
            ProgressInput::Start(action) => {
                self.begin();
                tracing::info!(target: "ui", "change requested: {action:?}");
                sender.command(move |out, shutdown| {
                    shutdown
                        .register(async move {
                            match client::start(&action).await {
                                Ok(path) => follow(path.to_string(), out).await,
                                Err(f) => {
                                    let _ = out.send(ProgressCmd::Lost(f));
                                }
                            }
                        })
                        .drop_on_shutdown()
                });
            }
            ProgressInput::StartFile(fd, unsigned, classic) => {
                self.begin();
                tracing::info!(target: "ui", "change requested: install a file (unsigned: {unsigned}, classic: {classic})");
                sender.command(move |out, shutdown| {
                    shutdown
                        .register(async move {
                            match client::install_file(fd, unsigned, classic).await {
                                Ok(path) => follow(path.to_string(), out).await,
                                Err(f) => {
                                    let _ = out.send(ProgressCmd::Lost(f));
                                }
                            }
                        })
                        .drop_on_shutdown()
                });
            }
            ProgressInput::Cancel => {
                if let Some(s) = &self.state {
                    self.cancelling = true;
                    let path = s.path.clone();
                    tracing::info!(target: "ui", "cancel requested: {path}");
                    sender.oneshot_command(async move {
                        match client::cancel(&path).await {
                            Ok(()) => ProgressCmd::State(ChangeState::default()),
                            Err(f) => ProgressCmd::CancelFailed(f),
                        }
                    });
                }
            }
        }
    }

    fn update_cmd(&mut self, msg: ProgressCmd, sender: ComponentSender<Self>, _root: &Self::Root) {
        match msg {
            ProgressCmd::State(s) if s.path.is_empty() => {}
            ProgressCmd::State(s) => {
                self.speed
                    .add(self.started.elapsed().as_secs_f64(), s.bytes_done);
                if self.state.as_ref().is_none_or(|o| o.label != s.label) && !s.ready {
                    tracing::info!(target: "ui", "change stage: {} ({} of {} bytes)", s.label, s.bytes_done, s.bytes_total);
                }
                if s.ready {
                    tracing::info!(target: "ui", "change ended: {} {} {}", s.path, s.status, s.error);
                    let _ = sender.output(ProgressOutput::Ended(s.clone()));
                }
                self.state = Some(s);
            }
            ProgressCmd::Lost(f) => {
                tracing::info!(target: "ui", "change refused: {:?} {}", f.kind, f.message);
                self.state = None;
                let _ = sender.output(ProgressOutput::Failed(f));
            }
            ProgressCmd::CancelFailed(f) => {
                self.cancelling = false;
                let _ = sender.output(ProgressOutput::Failed(f));
            }
        }
    }
}

impl Progress {
    fn begin(&mut self) {
        self.speed = SpeedMeter::default();
        self.started = Instant::now();
        self.cancelling = false;
        self.state = Some(ChangeState {
            label: gettext("Waiting for authorization…"),
            progress: 0.0,
            ..Default::default()
        });
    }
}

async fn follow(path: String, out: relm4::Sender<ProgressCmd>) {
    let o = out.clone();
    if let Err(f) = client::follow(&path, move |s| {
        let _ = o.send(ProgressCmd::State(s));
    })
    .await
    {
        let _ = out.send(ProgressCmd::Lost(f));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_reads_stage_bytes_and_speed() {
        let mut s = ChangeState {
            label: "Downloading".into(),
            bytes_done: 12_000_000,
            bytes_total: 100_000_000,
            ..Default::default()
        };
        assert_eq!(
            describe(&s, Some(2_500_000.0)),
            "Downloading · 12 MB of 100 MB · 2.5 MB/s"
        );
        assert_eq!(describe(&s, None), "Downloading · 12 MB of 100 MB");
        s.bytes_done = s.bytes_total;
        s.label.clear();
        s.summary = "Install \"x\"".into();
        assert_eq!(describe(&s, None), "Install \"x\"");
    }
}
