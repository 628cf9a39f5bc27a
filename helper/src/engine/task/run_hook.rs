//! Run one hook of a snap in its sandbox, as root, through confine (`<snap>.hook.<name>`), as
//! snapd's `run-hook` task does: with a cookie of its own, by which `snapctl` inside reads and
//! changes the change's pending configuration; that configuration is committed, with the task,
//! only when the hook succeeds. A hook has a time limit; its output's tail is the error's end.
//! Undo puts the configuration back and stops a hook a crash left running. An interface hook
//! (`engine/iface_hooks.rs`) also sees its connection's attributes, and its undo runs the hook
//! that takes it back (`unprepare-plug-<plug>` for `prepare-plug-<plug>`…).

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::lang::gettext;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Ctx, Task};
use crate::engine::iface_hooks::{self, IfaceAttrs};
use crate::error::{Error, ErrorKind, Result};
use crate::io::IoContext;
use crate::snapconf::Transaction;
use crate::snapctl::{cookie, hooks::HookContext};
use crate::state::Health;

/// The hook whose report is the snap's health (snapd's `healthstate`).
pub const CHECK_HEALTH: &str = "check-health";

/// How much of a hook's output the error keeps (its end).
const TAIL: usize = 2048;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunHook {
    pub name: String,
    pub hook: String,
    /// A snap without the hook: nothing to do (install, refresh, remove hooks). Otherwise an
    /// error (`SetConfig`'s configure hook).
    pub optional: bool,
    /// A failure is logged and the change goes on (the remove hook).
    #[serde(default)]
    pub ignore_error: bool,
    /// Changes to the configuration the hook sees and commits (`SetConfig`'s patch).
    #[serde(default)]
    pub patch: Vec<(String, Value)>,
    /// The configuration before this task committed its own; set once it has.
    #[serde(default)]
    pub config_before: Option<Map<String, Value>>,
    /// Whether the snap had a configuration then, an empty one included: undo puts back exactly
    /// that (snapd tells `{}` from none). `None` in tasks recorded before this was kept, whose
    /// empty `config_before` is read as none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub had_config: Option<bool>,
    /// The confine process running the hook (pid, start time), recorded before it is waited for.
    #[serde(default)]
    pub process: Option<(i32, u64)>,
    /// An interface hook's connection attributes: as planned, then as the hook left them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iface: Option<IfaceAttrs>,
    /// The hook run when the change is undone after this one succeeded (its failure ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo_hook: Option<String>,
}

/// What a hook's configuration commits: its document when it set or unset anything (snapd's
/// commit writes only then, and what it writes is a configuration, `{}` included); else nothing.
fn committed(ctx: &HookContext) -> Option<Map<String, Value>> {
    let tx = ctx.tx();
    (!tx.is_empty()).then(|| tx.document())
}

impl RunHook {
    pub fn new(name: &str, hook: &str) -> Self {
        RunHook {
            name: name.to_string(),
            hook: hook.to_string(),
            optional: true,
            ignore_error: false,
            patch: Vec::new(),
            config_before: None,
            had_config: None,
            process: None,
            iface: None,
            undo_hook: None,
        }
    }

    pub fn summary(&self) -> String {
        // Translators: {hook} is a hook's technical name (install, configure, remove…).
        gettext("Run {hook} hook of \"{snap}\"")
            .replace("{hook}", &self.hook)
            .replace("{snap}", &self.name)
    }

    fn profile_exists(&self, cx: &Ctx, hook: &str) -> bool {
        let app = crate::engine::hooks::app_name(hook);
        let file = snapshelf_snap::profile::Profile::file_name(&self.name, &app);
        cx.paths().profiles_dir().join(file).is_file()
    }

    pub(super) async fn run(self, cx: &Ctx) -> Result<Self> {
        if self.config_before.is_some() {
            return Ok(self); // done before a crash: its configuration is committed
        }
        if cx.snap(&self.name)?.is_none() || !self.profile_exists(cx, &self.hook) {
            if self.optional {
                return Ok(self);
            }
            return Err(Error::invalid(
                crate::lang::gettext("snap \"{snap}\" has no \"{hook}\" hook")
                    .replace("{snap}", &self.name)
                    .replace("{hook}", &self.hook),
            ));
        }
        cx.progress(self.summary());
        let had = cx.state().config_entry(&self.name)?.is_some();
        let stored = cx.engine.config(&self.name)?;
        let mut tx = Transaction::new(&self.name, stored.clone());
        for (k, v) in &self.patch {
            tx.set(k, v.clone())
                .map_err(|e| Error::invalid(e.to_string()))?;
        }
        // An interface hook starts from the attributes the change's earlier hooks left.
        let iface = match &self.iface {
            Some(a) => Some(iface_hooks::gathered(cx, &a.plug_snap, &a.plug)?.unwrap_or(a.clone())),
            None => None,
        };
        let ctx = Arc::new(HookContext::new(&self.name, &self.hook, tx).with_iface(iface));
        let task = self.clone();
        let shared = ctx.clone();
        let outcome = cx
            .blocking(move |cx| task.invoke(&cx, &task.hook, shared, true))
            .await;
        match outcome {
            Ok(()) => {
                let doc = committed(&ctx);
                let queued = ctx.take_queued();
                let health = self.health_after(cx, ctx.take_health());
                let done = RunHook {
                    config_before: Some(stored),
                    had_config: Some(had),
                    process: None,
                    iface: ctx.iface().map(|a| a.clone()),
                    ..self
                };
                cx.commit(&Task::RunHook(done.clone()), |st| {
                    if let Some(doc) = &doc {
                        st.set_config(&done.name, Some(doc))?;
                    }
                    if let Some(h) = &health {
                        st.put_health(&done.name, Some(h))?;
                    }
                    st.append_tasks(cx.change, &queued)
                })?;
                Ok(done)
            }
            Err(e) if self.ignore_error => {
                tracing::warn!(snap = %self.name, hook = %self.hook, "ignoring failure in hook {:?}: {}", self.hook, e.message);
                Ok(RunHook {
                    process: None,
                    ..self
                })
            }
            Err(e) => {
                // snapd's health handler: a failed check-health hook leaves the health unknown,
                // and the hook's error still fails the change.
                if self.hook == CHECK_HEALTH {
                    let h = self.unknown_health(cx, "snapd-hook-failed", "hook failed");
                    cx.engine.put_health(&self.name, Some(&h))?;
                }
                Err(e)
            }
        }
    }

    /// The health to store once the hook succeeded: what it reported with `snapctl
    /// set-health`; for check-health, unknown when it reported nothing (as snapd).
    fn health_after(&self, cx: &Ctx, reported: Option<Health>) -> Option<Health> {
        match reported {
            Some(h) => Some(h),
            None if self.hook == CHECK_HEALTH => Some(self.unknown_health(
                cx,
                "snapd-hook-no-health-set",
                "hook did not call set-health",
            )),
            None => None,
        }
    }

    fn unknown_health(&self, cx: &Ctx, code: &str, message: &str) -> Health {
        let revision = cx
            .snap(&self.name)
            .ok()
            .flatten()
            .map(|s| s.current)
            .unwrap_or_default();
        Health {
            revision,
            timestamp: crate::state::now(),
            status: "unknown".into(),
            message: message.into(),
            code: code.into(),
        }
    }

    /// Run the hook inside another task (`auto_connect_hooks`), which records it: its
    /// configuration is committed at once, and the answer is the hook as done (`config_before`,
    /// the attributes it left). A snap without the hook: `None`.
    pub(super) fn run_inline(&self, cx: &Ctx) -> Result<Option<RunHook>> {
        if cx.snap(&self.name)?.is_none() || !self.profile_exists(cx, &self.hook) {
            return Ok(None);
        }
        cx.progress(self.summary());
        let had = cx.state().config_entry(&self.name)?.is_some();
        let stored = cx.engine.config(&self.name)?;
        let tx = Transaction::new(&self.name, stored.clone());
        let ctx =
            Arc::new(HookContext::new(&self.name, &self.hook, tx).with_iface(self.iface.clone()));
        self.invoke(cx, &self.hook, ctx.clone(), false)?;
        if let Some(doc) = committed(&ctx) {
            cx.state().set_config(&self.name, Some(&doc))?;
        }
        if let Some(h) = ctx.take_health() {
            cx.engine.put_health(&self.name, Some(&h))?;
        }
        Ok(Some(RunHook {
            config_before: Some(stored),
            had_config: Some(had),
            iface: ctx.iface().map(|a| a.clone()),
            ..self.clone()
        }))
    }

    /// Run the hook outside any change (the `gate-auto-refresh` hook, while an automatic
    /// refresh is planned: `plan/gating.rs`): nothing is recorded, and the configuration is not
    /// committed. `Ok(false)`: the snap has no such hook.
    pub(crate) fn run_detached(&self, cx: &Ctx, ctx: Arc<HookContext>) -> Result<bool> {
        if cx.snap(&self.name)?.is_none() || !self.profile_exists(cx, &self.hook) {
            return Ok(false);
        }
        self.invoke(cx, &self.hook, ctx, false)?;
        Ok(true)
    }

    /// Run `hook` with a cookie of its own tied to `ctx`, for as long as it runs.
    fn invoke(&self, cx: &Ctx, hook: &str, ctx: Arc<HookContext>, record: bool) -> Result<()> {
        let secret = cookie::random()?;
        let file = cookie::hook_file(cx.paths(), &self.name);
        cookie::write(&file, &secret)?;
        cx.engine.hooks().register(&secret, ctx);
        let outcome = self.execute(cx, hook, record);
        cx.engine.hooks().unregister(&secret);
        let _ = std::fs::remove_file(&file);
        outcome
    }

    /// Start confine on the hook, record the process (`record`: not while undoing), wait for it
    /// within the time limit.
    fn execute(&self, cx: &Ctx, hook: &str, record: bool) -> Result<()> {
        let launcher = &cx.engine.inner.cfg.launcher;
        let (read, write) = pipe()?;
        let mut cmd = Command::new(&launcher.confine);
        if let Some(root) = &launcher.root {
            cmd.arg("--root").arg(root);
        }
        cmd.arg(format!("{}.hook.{hook}", self.name))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::from(write.try_clone().what(
                "duplicate",
                std::path::Path::new("a hook's output pipe"),
            )?))
            .stderr(Stdio::from(write));
        // SAFETY: prctl only sets a flag of the new process. Killing confine kills the hook's
        // whole sandbox (its first process goes with confine), and the helper's death kills confine.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                Ok(())
            });
        }
        let mut child = cmd.spawn().what("start", &launcher.confine)?;
        drop(cmd); // its copies of the pipe's writing end
        let pid = child.id() as i32;
        if record {
            let recorded = RunHook {
                process: start_time(pid).map(|t| (pid, t)),
                ..self.clone()
            };
            cx.record(&Task::RunHook(recorded))?;
        }
        let reader = std::thread::spawn(move || tail_of(read));
        let limit = Duration::from_secs(cx.engine.inner.cfg.config.hook_timeout);
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        let (status, why) = loop {
            if let Some(st) = child.try_wait().what("wait for", &launcher.confine)? {
                break (Some(st), None);
            }
            let why = if started.elapsed() > limit {
                Some(format!("exceeded maximum runtime of {}s", limit.as_secs()))
            } else if cx.cancel.is_cancelled() {
                Some("cancelled".to_string())
            } else {
                None
            };
            if let Some(why) = why {
                let _ = child.kill();
                let _ = child.wait();
                break (None, Some(why));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        };
        let output = reader.join().unwrap_or_default();
        let output = output.trim();
        match (status, why) {
            (Some(st), _) if st.success() => Ok(()),
            (_, Some(why)) if why == "cancelled" => Err(Error::new(
                ErrorKind::Cancelled,
                crate::lang::gettext("cancelled"),
            )),
            (status, why) => {
                let what = why.unwrap_or_else(|| match status.and_then(|s| s.code()) {
                    Some(code) => crate::lang::gettext("exit status {code}")
                        .replace("{code}", &code.to_string()),
                    None => crate::lang::gettext("killed by a signal"),
                });
                // Translators: {hook} is the hook's name (install, configure…); {why} how it failed.
                let mut message = crate::lang::gettext("run hook \"{hook}\": {why}")
                    .replace("{hook}", hook)
                    .replace("{why}", &what);
                if !output.is_empty() {
                    message.push_str(&format!("\n-----\n{output}\n-----"));
                }
                Err(Error::new(ErrorKind::HookFailed, message))
            }
        }
    }

    pub(super) fn undo(&self, cx: &Ctx) -> Result<()> {
        // A hook a crash left running is stopped first (only that very process: same start time).
        if let Some((pid, started)) = self.process {
            if start_time(pid) == Some(started) {
                // SAFETY: a signal to a process we started and identified by its start time.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = std::fs::remove_file(cookie::hook_file(cx.paths(), &self.name));
        if let Some(before) = &self.config_before {
            // What was there: none (a failed install's configure hook must not leave an empty
            // one behind, which a refresh would keep as a revision's), or `{}` as `{}`.
            let before = match self.had_config {
                Some(had) => had.then_some(before),
                None => (!before.is_empty()).then_some(before),
            };
            cx.state().set_config(&self.name, before)?;
            if let Some(undo) = &self.undo_hook {
                self.run_undo_hook(cx, undo);
            }
        }
        Ok(())
    }

    /// Take back an interface hook that ran: `unprepare-…` after `prepare-…`, `disconnect-…`
    /// after `connect-…`. As in snapd, it is optional and its failure is only logged; what it
    /// sets in the configuration is not kept (the change is being undone).
    fn run_undo_hook(&self, cx: &Ctx, undo: &str) {
        if cx.snap(&self.name).ok().flatten().is_none() || !self.profile_exists(cx, undo) {
            return;
        }
        let tx = match cx.engine.config(&self.name) {
            Ok(doc) => Transaction::new(&self.name, doc),
            Err(e) => {
                tracing::warn!(snap = %self.name, hook = undo, "cannot read the configuration for an undo hook: {}", e.message);
                return;
            }
        };
        let ctx = Arc::new(HookContext::new(&self.name, undo, tx).with_iface(self.iface.clone()));
        // Undo runs on the change's async task: the wait must not hold up the runtime's other
        // work (the snapctl socket answers the hook).
        let run = || self.invoke(cx, undo, ctx, false);
        let outcome = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
            _ => run(),
        };
        if let Err(e) = outcome {
            tracing::warn!(snap = %self.name, hook = undo, "ignoring failure in hook {undo:?}: {}", e.message);
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::internal(format!(
            "cannot make a pipe for a hook's output: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: both were just made and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Read to the end, keeping only the last `TAIL` bytes: a hook that floods its output costs no
/// memory.
fn tail_of(fd: OwnedFd) -> String {
    let mut f = std::fs::File::from(fd);
    let mut keep: Vec<u8> = Vec::with_capacity(2 * TAIL);
    let mut buf = [0u8; 8192];
    loop {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                keep.extend_from_slice(&buf[..n]);
                if keep.len() > 2 * TAIL {
                    keep.drain(..keep.len() - TAIL);
                }
            }
        }
    }
    if keep.len() > TAIL {
        keep.drain(..keep.len() - TAIL);
    }
    String::from_utf8_lossy(&keep).into_owned()
}

/// A process's start time, to tell it from a later one with the same pid.
fn start_time(pid: i32) -> Option<u64> {
    crate::running::start_time(u32::try_from(pid).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_end_of_a_flood() {
        let (r, w) = pipe().unwrap();
        let writer = std::thread::spawn(move || {
            let mut f = std::fs::File::from(w);
            for i in 0..100_000 {
                std::io::Write::write_all(&mut f, format!("line {i}\n").as_bytes()).unwrap();
            }
        });
        let tail = tail_of(r);
        writer.join().unwrap();
        assert!(tail.len() <= TAIL);
        assert!(tail.ends_with("line 99999\n"), "{tail}");
    }

    #[test]
    fn start_times_tell_processes_apart() {
        let me = std::process::id() as i32;
        assert!(start_time(me).is_some());
        assert_eq!(start_time(me), start_time(me));
        assert_eq!(start_time(i32::MAX), None);
    }
}
