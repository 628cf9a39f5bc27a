//! The faces of a page that loads what it shows: a spinner (or nothing) until the first answer,
//! the failure with its words, the "nothing here" page, and what was loaded. Explore, Installed,
//! Updates, Permissions, a local file and the snap page each keep one [`Loadable`] and name their
//! `gtk::Stack`'s children after [`Face::name`].

use crate::client::Failure;
use crate::words;

/// Which child of a loading page's stack is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Loading,
    Failed,
    Empty,
    Ready,
}

impl Face {
    /// The stack child's name.
    pub fn name(self) -> &'static str {
        match self {
            Face::Loading => "loading",
            Face::Failed => "failed",
            Face::Empty => "empty",
            Face::Ready => "ready",
        }
    }
}

/// What the page has on screen, as far as the face is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Nothing yet (or nothing worth keeping up while a load is on its way).
    Nothing,
    /// An answer that has nothing in it.
    Empty,
    Something,
}

/// Whether a page has had its answer, and the failure of the last one. Pure.
#[derive(Debug, Default)]
pub struct Loadable {
    answered: bool,
    failure: Option<Failure>,
    /// A failure over something shown keeps it (the failure went to a toast); otherwise the
    /// failure replaces it.
    keeps_shown: bool,
}

impl Loadable {
    /// A failure replaces what the page showed.
    pub fn new() -> Loadable {
        Loadable::default()
    }

    /// A failure is a page of its own only when there is nothing to show; over a list, the list
    /// stays.
    pub fn keeping_shown() -> Loadable {
        Loadable {
            keeps_shown: true,
            ..Loadable::default()
        }
    }

    /// Something else is to be shown: back to loading.
    pub fn restart(&mut self) {
        self.answered = false;
        self.failure = None;
    }

    /// Asking again: the failure is forgotten; what was shown stays until the answer.
    pub fn retry(&mut self) {
        self.failure = None;
    }

    pub fn succeeded(&mut self) {
        self.answered = true;
        self.failure = None;
    }

    pub fn failed(&mut self, failure: Failure) {
        self.answered = true;
        self.failure = Some(failure);
    }

    pub fn failure(&self) -> Option<&Failure> {
        self.failure.as_ref()
    }

    /// The failure in words, for the failed page's description.
    pub fn description(&self) -> Option<String> {
        self.failure.as_ref().map(words::failure)
    }

    /// The failure (unless it keeps what is shown), then loading until the first answer, then
    /// empty or ready.
    pub fn face(&self, shown: Shown) -> Face {
        let failure_shows =
            self.failure.is_some() && !(self.keeps_shown && shown == Shown::Something);
        if failure_shows {
            Face::Failed
        } else if !self.answered || shown == Shown::Nothing {
            Face::Loading
        } else if shown == Shown::Empty {
            Face::Empty
        } else {
            Face::Ready
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapshelf_dbus::ErrorKind;

    fn offline() -> Failure {
        Failure::of(ErrorKind::NetworkError, "no route")
    }

    #[test]
    fn loading_then_empty_or_ready() {
        let mut l = Loadable::new();
        assert_eq!(l.face(Shown::Something), Face::Loading, "no answer yet");
        l.succeeded();
        assert_eq!(l.face(Shown::Empty), Face::Empty);
        assert_eq!(l.face(Shown::Something), Face::Ready);
        assert_eq!(l.face(Shown::Nothing), Face::Loading);
        l.restart();
        assert_eq!(l.face(Shown::Something), Face::Loading);
    }

    #[test]
    fn a_failure_replaces_what_was_shown_unless_the_page_keeps_it() {
        let mut l = Loadable::new();
        l.succeeded();
        l.failed(offline());
        assert_eq!(l.face(Shown::Something), Face::Failed);
        assert!(l.description().is_some());

        let mut k = Loadable::keeping_shown();
        k.failed(offline());
        assert_eq!(k.face(Shown::Nothing), Face::Failed);
        assert_eq!(k.face(Shown::Empty), Face::Failed);
        assert_eq!(k.face(Shown::Something), Face::Ready, "the list stays");
    }

    #[test]
    fn retrying_forgets_the_failure_and_keeps_the_rest() {
        let mut l = Loadable::new();
        l.failed(offline());
        l.retry();
        assert!(l.failure().is_none());
        assert_eq!(l.face(Shown::Nothing), Face::Loading);
        assert_eq!(
            l.face(Shown::Empty),
            Face::Empty,
            "the last answer was empty"
        );
        l.succeeded();
        assert_eq!(l.face(Shown::Something), Face::Ready);
    }
}
