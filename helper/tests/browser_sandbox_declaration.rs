//! `browser-support` with `allow-sandbox: true` connects by itself only when the snap's own
//! snap-declaration allows it (snapd's base declaration denies the auto-connection; a
//! snap-declaration's `plugs: browser-support: allow-auto-connection:` rule overrides it). The
//! test store (snapshelf-store) signs the declarations; the helper installs from it.

mod common;

use std::path::Path;

use common::sandbox::{launch_as, write, Mode};
use common::{Env, RUNNER};
use snapshelf_dbus::types::Dict;

/// A browser-like snap: a `browser-support` plug with `allow-sandbox: true`, and an app on it
/// that tries to make a user namespace (what Chromium's sandbox does).
fn pack_browser(work: &Path, name: &str, out: &Path) {
    let src = work.join(format!("src-{name}"));
    write(
        &src.join("meta/snap.yaml"),
        &format!(
            "name: {name}\nversion: '1'\nsummary: A browser\nbase: shelf-base\n\
             plugs:\n  browser-sandbox:\n    interface: browser-support\n    allow-sandbox: true\n\
             apps:\n  {name}:\n    command: bin/sandbox\n    plugs: [browser-sandbox]\n"
        ),
        0o644,
    );
    write(
        &src.join("bin/sandbox"),
        "#!/bin/sh\nif unshare -U true 2>/dev/null; then echo own-namespace; \
         else echo no-namespace; fi\n",
        0o755,
    );
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    snapshelf_snap::squashfs::pack(&src, out, &Default::default()).unwrap();
}

fn profile(env: &Env, name: &str) -> snapshelf_snap::profile::Profile {
    let path = env
        .root
        .join(format!("var/lib/snapshelf/profiles/{name}.{name}.json"));
    snapshelf_snap::profile::Profile::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn a_declaration_rule_lets_the_browser_sandbox_connect_at_install() {
    if !common::require_root() {
        return;
    }
    let catalog = tempfile::tempdir().unwrap();
    common::copy_dir(common::catalog(), catalog.path());
    let work = tempfile::tempdir().unwrap();
    let snaps = catalog.path().join("snaps");
    pack_browser(
        work.path(),
        "shelf-webby",
        &snaps.join("shelf-webby_1.snap"),
    );
    pack_browser(
        work.path(),
        "shelf-plainweb",
        &snaps.join("shelf-plainweb_1.snap"),
    );
    let mut toml = std::fs::read_to_string(catalog.path().join("catalog.toml")).unwrap();
    for (name, extra) in [
        (
            "shelf-webby",
            "declaration-plugs = { browser-support = { allow-auto-connection = \
             { plug-attributes = { allow-sandbox = \"true\" } } } }",
        ),
        ("shelf-plainweb", ""),
    ] {
        toml.push_str(&format!(
            "\n[[snap]]\nname = \"{name}\"\npublisher = \"netcraft\"\ncategories = \
             [\"development\"]\nlicense = \"MIT\"\nchannels = {{ \"latest/stable\" = 1 }}\n{extra}\n"
        ));
    }
    std::fs::write(catalog.path().join("catalog.toml"), toml).unwrap();

    let mut env = Env::with_catalog(catalog.path());
    env.start_helper();
    let c = env.proxy().install(&["shelf-base"], Dict::new()).unwrap();
    assert_eq!(env.wait_change(c.as_str()).0, "Done");
    env.done(
        env.proxy()
            .install(&["shelf-webby", "shelf-plainweb"], Dict::new()),
    );

    // The declaration's rule: connected at install, with its attribute in the profile.
    let webby = profile(&env, "shelf-webby");
    assert!(webby.browser_sandbox(), "{:?}", webby.plugs);
    // Without a rule the plug is installed but waits for a person.
    let plain = profile(&env, "shelf-plainweb");
    assert!(!plain.browser_sandbox(), "{:?}", plain.plugs);
    let plug = plain
        .plugs
        .iter()
        .find(|p| p.name == "browser-sandbox")
        .expect("the plug is installed");
    assert!(!plug.connected && plug.attrs.allow_sandbox, "{plug:?}");

    // And in a real sandbox: only the declared browser may make its own namespaces.
    let out = |name: &str| {
        let o = launch_as(&env, Mode::UserNs, RUNNER, name, &[]);
        String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
    };
    let webby_out = out("shelf-webby");
    let plain_out = out("shelf-plainweb");
    assert!(webby_out.contains("own-namespace"), "{webby_out}");
    assert!(plain_out.contains("no-namespace"), "{plain_out}");
}
