//! The command line, as `snapshelf-confine` parses it.

use std::ffi::OsString;
use std::path::PathBuf;

use snapshelf_confine::args::parse_args;

fn os(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

#[test]
fn command_lines() {
    let i = parse_args(os(&["--root", "/r", "hello.world", "-x", "--root"])).unwrap();
    assert_eq!(i.root, Some(PathBuf::from("/r")));
    assert_eq!((i.snap.as_str(), i.app.as_str()), ("hello", "world"));
    assert_eq!(i.args, vec!["-x", "--root"]);
    assert!(!i.shell);
    let i = parse_args(os(&["hello"])).unwrap();
    assert_eq!((i.snap.as_str(), i.app.as_str()), ("hello", "hello"));
    // `--shell` is confine's only before the target; after it, it is the app's (or the shell's).
    let i = parse_args(os(&["--shell", "hello.world", "-c", "--shell"])).unwrap();
    assert!(i.shell);
    assert_eq!(i.args, vec!["-c", "--shell"]);
    // `--command` names one of a daemon's other commands.
    let i = parse_args(os(&["--command=stop", "hello.world"])).unwrap();
    assert_eq!(i.command.as_deref(), Some("stop"));
    let i = parse_args(os(&["--command", "post-stop", "hello.world", "x"])).unwrap();
    assert_eq!(i.command.as_deref(), Some("post-stop"));
    assert_eq!(i.args, vec!["x"]);
    for bad in [
        &[][..],
        &["--command=start", "a.b"],
        &["--command"],
        &["--command=stop", "--shell", "a.b"],
        &["--command=reload", "a.hook.configure"],
        &["--root"],
        &["--bogus", "a.b"],
        &["../etc.x"],
        &["Hello.x"],
        &["a.b/c"],
    ] {
        let e = parse_args(os(bad)).unwrap_err();
        assert_eq!(e.exit_code(), 64, "{bad:?}: {e}");
    }
}
