//! `snapctl set-health <status> [<message>] [--code=<code>]` with snapd's rules and words
//! (`overlord/hookstate/ctlcmd/health.go`): from a hook the report is kept with the hook and
//! stored when it succeeds; from an app (any user: snapd allows it) it is stored at once.

use super::commands::{Caller, Fail, Out};
use super::Reply;
use crate::engine::Engine;
use crate::error::Result;
use crate::state::Health;

const STATUSES: [&str; 5] = ["unknown", "okay", "waiting", "blocked", "error"];

/// The arguments as snapd's go-flags reads them: `--code=<c>` or `--code <c>`, then the status and
/// an optional message.
fn parse(args: &[String]) -> std::result::Result<(String, Option<String>, String), Fail> {
    let (mut code, mut pos) = (String::new(), Vec::new());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            pos.extend(it.by_ref().cloned());
        } else if let Some(c) = a.strip_prefix("--code=") {
            code = c.to_string();
        } else if a == "--code" {
            code = it
                .next()
                .cloned()
                .ok_or_else(|| Fail("expected argument for flag `--code'".into()))?;
        } else if let Some(flag) = a.strip_prefix("--") {
            let flag = flag.split('=').next().unwrap_or(flag);
            return Err(Fail(format!("unknown flag `{flag}'")));
        } else if a.len() > 1 && a.starts_with('-') {
            return Err(Fail(format!("unknown flag `{}'", &a[1..2])));
        } else {
            pos.push(a.clone());
        }
    }
    let mut pos = pos.into_iter();
    let status = pos
        .next()
        .ok_or_else(|| Fail("the required argument `<status>` was not provided".into()))?;
    let message = pos.next();
    if pos.next().is_some() {
        return Err(Fail("too many arguments for command".into()));
    }
    Ok((status, message, code))
}

/// A code is 3 to 30 characters of `[a-z](-?[a-z0-9])+`.
fn valid_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.first().is_some_and(u8::is_ascii_lowercase)
        && b.len() > 1
        && !code.ends_with('-')
        && !code.contains("--")
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// The report the arguments make, checked as snapd checks it (the message cut at 70 characters).
pub(super) fn report(args: &[String]) -> std::result::Result<(String, String, String), Fail> {
    let (status, message, code) = parse(args)?;
    let message = message.unwrap_or_default();
    if status == "okay" && (!message.is_empty() || !code.is_empty()) {
        return Err(Fail(
            "when status is \"okay\", message and code must be empty".into(),
        ));
    }
    if !STATUSES.contains(&status.as_str()) {
        let quoted: Vec<String> = STATUSES.iter().map(|s| format!("{s:?}")).collect();
        return Err(Fail(format!(
            "invalid status {status:?}, must be one of {}",
            quoted.join(", ")
        )));
    }
    if status == "unknown" {
        return Err(Fail("status cannot be manually set to \"unknown\"".into()));
    }
    if !code.is_empty() {
        let n = code.chars().count();
        if !(3..=30).contains(&n) {
            return Err(Fail(format!(
                "code must have between 3 and 30 characters, got {n}"
            )));
        }
        if !valid_code(&code) {
            return Err(Fail(format!("invalid code {code:?} (code must start with lowercase ASCII letters, and contain only ASCII letters and numbers, optionally separated by single dashes)")));
        }
    }
    let mut message = message;
    if status != "okay" {
        let n = message.chars().count();
        if n == 0 {
            return Err(Fail(
                "when status is not \"okay\", message is required".into(),
            ));
        }
        if n < 7 {
            return Err(Fail(format!(
                "message must be at least 7 characters long (got {n})"
            )));
        }
        if n > 70 {
            message = message.chars().take(69).chain(['…']).collect();
        }
    }
    Ok((status, message, code))
}

pub(super) fn set_health(engine: &Engine, caller: &Caller, args: &[String]) -> Out {
    let (status, message, code) = report(args)?;
    let revision = engine
        .snap(&caller.snap)?
        .map(|s| s.current)
        .unwrap_or_default();
    let health = Health {
        revision,
        timestamp: crate::state::now(),
        status,
        message,
        code,
    };
    match &caller.hook {
        Some(h) => h.set_health(health),
        None => engine.put_health(&caller.snap, Some(&health))?,
    }
    Ok(Reply::out(String::new()))
}

impl Engine {
    /// What the snap last reported of its health, if anything.
    pub fn health(&self, name: &str) -> Result<Option<Health>> {
        let st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        Ok(st.health(name)?)
    }

    pub fn put_health(&self, name: &str, health: Option<&Health>) -> Result<()> {
        let st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        Ok(st.put_health(name, health)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn refused(a: &[&str]) -> String {
        report(&args(a)).unwrap_err().0
    }

    #[test]
    fn reports_are_checked_with_snapds_words() {
        assert_eq!(
            report(&args(&["okay"])).unwrap(),
            ("okay".into(), String::new(), String::new())
        );
        let (s, m, c) = report(&args(&["waiting", "for the network", "--code=no-net"])).unwrap();
        assert_eq!(
            (s.as_str(), m.as_str(), c.as_str()),
            ("waiting", "for the network", "no-net")
        );
        let (_, _, c) = report(&args(&["--code", "a-b2", "error", "it is broken"])).unwrap();
        assert_eq!(c, "a-b2");
        let long = "x".repeat(80);
        let (_, m, _) = report(&args(&["blocked", &long])).unwrap();
        assert_eq!(m.chars().count(), 70);
        assert!(m.ends_with('…'));
        for (a, want) in [
            (&["okay", "all is fine"][..], "when status is \"okay\", message and code must be empty"),
            (&["okay", "--code=abc"], "when status is \"okay\", message and code must be empty"),
            (&["fine"], "invalid status \"fine\", must be one of \"unknown\", \"okay\", \"waiting\", \"blocked\", \"error\""),
            (&["unknown", "who knows"], "status cannot be manually set to \"unknown\""),
            (&["error", "it is broken", "--code=ab"], "code must have between 3 and 30 characters, got 2"),
            (&["error", "it is broken", "--code=Abc"], "invalid code \"Abc\""),
            (&["error", "it is broken", "--code=a--b"], "invalid code \"a--b\""),
            (&["error", "it is broken", "--code=ab-"], "invalid code \"ab-\""),
            (&["error"], "when status is not \"okay\", message is required"),
            (&["error", "short"], "message must be at least 7 characters long (got 5)"),
            (&[], "the required argument `<status>` was not provided"),
            (&["error", "it is broken", "more"], "too many arguments"),
            (&["error", "--colour=red"], "unknown flag `colour'"),
        ] {
            let e = refused(a);
            assert!(e.starts_with(want), "{a:?}: {e}");
        }
    }
}
