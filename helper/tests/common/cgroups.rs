//! Cgroups of the tests' own: a test that starts a service manager (`systemd --user`, a container's
//! systemd) gives it a cgroup of its own in each hierarchy, so that two running at once never
//! manage the same one, and removes it afterwards.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The cgroup hierarchies systemd tracks units in on this host: systemd's named v1 hierarchy and
/// the unified one on a hybrid host, the unified one alone at `/sys/fs/cgroup` on a v2 host.
pub fn hierarchies() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    let hybrid: Vec<PathBuf> = ["systemd", "unified"]
        .iter()
        .map(|h| base.join(h))
        .filter(|h| h.join("cgroup.procs").is_file())
        .collect();
    if !hybrid.is_empty() {
        return hybrid;
    }
    if base.join("cgroup.controllers").is_file() {
        return vec![base.to_path_buf()];
    }
    Vec::new()
}

/// A shell snippet that moves the shell running it into the cgroups whose `cgroup.procs` are given.
pub fn join_script(procs: &[PathBuf]) -> String {
    procs
        .iter()
        .map(|p| format!("echo $$ > {} &&", p.display()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every process in `dir` and below, killed; then the cgroups removed, deepest first.
pub fn kill_and_remove(dir: &Path) {
    let mut all = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(e.path());
            }
        }
        all.push(d);
    }
    for _ in 0..50 {
        let mut any = false;
        for d in &all {
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                any = true;
                // SAFETY: a signal to a process of the test's own cgroup.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        if !any {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    all.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in all {
        let _ = std::fs::remove_dir(&d);
    }
}
