//! The sandbox's file system as planned, without root: a tree in memory stands for the host, the
//! base and the user's directories, and each test reads the operations the plan lists (one line
//! each, see `Op`'s `Display`). That the operations do what they say is checked, as root, by the
//! launches of `helper/tests/confine.rs`.

use std::collections::BTreeMap;

use snapshelf_confine::mount_plan::{plan, Origin, Plan, PlanInput, Probe, Stat};
use snapshelf_confine::sandbox::Power;
use snapshelf_confine::sys::Kind;
use snapshelf_snap::profile::{Profile, ProfileLayout, ProfilePlug};

const UID: u32 = 1000;

fn parts(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Sources in memory: every entry with its kind, mode, owner and (links) target.
#[derive(Default)]
struct Tree(BTreeMap<(Origin, Vec<String>), (Stat, Option<String>)>);

impl Tree {
    fn put(&mut self, o: Origin, path: &str, kind: Kind, mode: u32, uid: u32, to: Option<&str>) {
        let p = parts(path);
        for i in 1..p.len() {
            self.0.entry((o, p[..i].to_vec())).or_insert((
                Stat {
                    kind: Kind::Dir,
                    mode: 0o755,
                    uid: 0,
                    gid: 0,
                },
                None,
            ));
        }
        let st = Stat {
            kind,
            mode,
            uid,
            gid: uid,
        };
        self.0.insert((o, p), (st, to.map(str::to_string)));
    }
    fn dir(&mut self, o: Origin, path: &str) -> &mut Tree {
        self.put(o, path, Kind::Dir, 0o755, 0, None);
        self
    }
    fn file(&mut self, o: Origin, path: &str) -> &mut Tree {
        self.put(o, path, Kind::File, 0o644, 0, None);
        self
    }
    fn link(&mut self, o: Origin, path: &str, to: &str) -> &mut Tree {
        self.put(o, path, Kind::Symlink, 0o777, 0, Some(to));
        self
    }
    fn device(&mut self, path: &str) -> &mut Tree {
        self.put(Origin::Host, path, Kind::CharDevice, 0o666, 0, None);
        self
    }
    fn socket(&mut self, path: &str, uid: u32) -> &mut Tree {
        self.put(Origin::Host, path, Kind::Other, 0o777, uid, None);
        self
    }
}

impl Probe for Tree {
    fn stat(&self, origin: Origin, path: &[String]) -> Option<Stat> {
        // The helper's snapctl directory is there when the tree has its binary.
        if path.is_empty()
            && origin == Origin::Snapctl
            && !self.0.contains_key(&(origin, vec!["snapctl".to_string()]))
        {
            return None;
        }
        if path.is_empty() {
            let mode = if origin == Origin::Home { 0o750 } else { 0o755 };
            return Some(Stat {
                kind: Kind::Dir,
                mode,
                uid: if origin == Origin::Home { UID } else { 0 },
                gid: if origin == Origin::Home { UID } else { 0 },
            });
        }
        // Nothing is found through a link or a file.
        for i in 1..path.len() {
            let (st, _) = self.0.get(&(origin, path[..i].to_vec()))?;
            if st.kind != Kind::Dir {
                return None;
            }
        }
        self.0.get(&(origin, path.to_vec())).map(|(st, _)| *st)
    }
    fn list(&self, origin: Origin, path: &[String]) -> Vec<String> {
        self.0
            .keys()
            .filter(|(o, p)| *o == origin && p.len() == path.len() + 1 && p.starts_with(path))
            .map(|(_, p)| p[path.len()].clone())
            .collect()
    }
    fn readlink(&self, origin: Origin, path: &[String]) -> Option<String> {
        self.stat(origin, path)?;
        self.0.get(&(origin, path.to_vec()))?.1.clone()
    }
}

/// A base, a host and a snap `hello` at revision 7 as a small system has them.
fn system() -> Tree {
    let mut t = Tree::default();
    t.dir(Origin::Base, "usr/bin")
        .dir(Origin::Base, "usr/lib/x86_64-linux-gnu")
        .dir(Origin::Base, "usr/lib/snapd")
        .dir(Origin::Base, "usr/share/doc")
        .link(Origin::Base, "lib", "usr/lib")
        .link(Origin::Base, "usr/lib/os-release", "../share/os-release")
        .file(Origin::Base, "etc/nsswitch.conf")
        .dir(Origin::Base, "etc/alternatives")
        .dir(Origin::Base, "var/tmp")
        .dir(Origin::Base, "var/snap")
        .dir(Origin::Base, "opt/vendor")
        .dir(Origin::Base, "meta")
        .dir(Origin::Base, "home")
        .file(Origin::Host, "etc/nsswitch.conf")
        .file(Origin::Host, "etc/passwd")
        .dir(Origin::Host, "sys/kernel")
        .dir(Origin::Host, "var/tmp")
        .dir(Origin::Host, "proc/sys")
        .file(Origin::Host, "proc/sysrq-trigger")
        .dir(Origin::Host, "media/usb")
        .dir(Origin::Host, "mnt")
        .dir(Origin::Host, "usr/share/fonts")
        .dir(Origin::Host, "tmp/.X11-unix")
        .dir(Origin::SnapMounts, "hello/7/lib/themes")
        .file(Origin::SnapMounts, "hello/7/etc/hello.conf")
        .dir(Origin::SnapData, "7")
        .dir(Origin::SnapData, "common")
        .dir(Origin::Home, "Documents")
        .file(Origin::Home, "notes.txt")
        .link(Origin::Home, "docs", "Documents")
        .dir(Origin::PrivateTmp, ".X11-unix")
        .file(Origin::Snapctl, "snapctl");
    for d in [
        "null", "zero", "full", "random", "urandom", "tty", "video0", "sda",
    ] {
        t.device(&format!("dev/{d}"));
    }
    for d in ["pcmC0D0p", "pcmC0D0c", "controlC0", "hwC0D0"] {
        t.device(&format!("dev/snd/{d}"));
    }
    t.dir(Origin::Host, "dev/dri")
        .socket("run/user/1000/wayland-1", UID)
        .socket("run/user/1000/pulse/native", 0)
        .socket("run/user/1000/pipewire-0", UID);
    t
}

fn profile(plugs: &[&str], layouts: &[(&str, &str, &str)]) -> Profile {
    Profile {
        version: 1,
        snap: "hello".into(),
        app: "hello".into(),
        revision: "7".into(),
        snap_version: "1.0".into(),
        confinement: "strict".into(),
        base: "core22".into(),
        base_revision: "1".into(),
        architecture: "amd64".into(),
        command: vec!["bin/hello".into()],
        command_chain: Vec::new(),
        environment: Vec::new(),
        layouts: layouts
            .iter()
            .map(|(path, kind, source)| ProfileLayout {
                path: path.to_string(),
                kind: kind.to_string(),
                source: source.to_string(),
                mode: 0o755,
            })
            .collect(),
        plugs: plugs
            .iter()
            .map(|i| ProfilePlug {
                name: i.to_string(),
                interface: i.to_string(),
                connected: true,
                ..Default::default()
            })
            .collect(),
        bus_names: Default::default(),
        content: Vec::new(),
    }
}

struct Launch {
    power: Power,
    uid: u32,
    euid: u32,
    home_connected: bool,
    runtime: bool,
}

const WITH_CAPS: Launch = Launch {
    power: Power::Privileged,
    uid: UID,
    euid: UID,
    home_connected: false,
    runtime: true,
};

fn planned(l: &Launch, p: &Profile, tree: &Tree) -> Plan {
    let names: Vec<String> = vec!["Documents".into(), "docs".into(), "notes.txt".into()];
    let input = PlanInput {
        power: l.power,
        uid: l.uid,
        gid: l.uid,
        euid: l.euid,
        home: "/home/u/",
        profile: p,
        wayland_display: "wayland-1",
        user_snap: true,
        home_entries: l.home_connected.then_some(names.as_slice()),
        runtime: l.runtime,
        notify_socket: None,
    };
    plan(&input, tree).unwrap_or_else(|e| panic!("the plan fails: {e}"))
}

fn lines(l: &Launch, p: &Profile) -> Vec<String> {
    planned(l, p, &system()).lines()
}

/// Where `line` is in `lines`; fails the test, showing the plan, when it is not there.
fn at(lines: &[String], line: &str) -> usize {
    lines
        .iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("{line:?} is not in the plan:\n{}", lines.join("\n")))
}

fn absent(lines: &[String], needle: &str) {
    assert!(
        !lines.iter().any(|l| l.contains(needle)),
        "nothing with {needle:?} should be in the plan:\n{}",
        lines.join("\n")
    );
}

#[test]
fn the_base_gives_the_top_level_and_the_host_its_etc() {
    let l = lines(&WITH_CAPS, &profile(&[], &[]));
    // What the sandbox makes itself comes first, given to root (we only borrow capabilities).
    assert_eq!(l[0], "mkdir /dev 755 0:0");
    let usr = at(&l, "rbind base:/usr /usr");
    assert_eq!(l[usr - 1], "mkdir /usr 755 0:0");
    assert_eq!(l[usr + 1], "ro /usr");
    at(&l, "symlink /lib -> usr/lib 0:0");
    // The base's meta, and its directories the sandbox makes itself, are not taken.
    absent(&l, "base:/meta");
    absent(&l, "base:/home");
    absent(&l, "rbind base:/etc");
    let etc = at(&l, "rbind host:/etc /etc");
    assert_eq!(l[etc + 1], "ro /etc");
    // The base's name-service configuration over the host's, where both have one of a kind.
    assert!(at(&l, "bind base:/etc/nsswitch.conf /etc/nsswitch.conf") > etc);
    absent(&l, "/etc/alternatives");
    let proc = at(&l, "proc /proc");
    absent(&l, "/proc/sys");
    assert_eq!(l[at(&l, "rbind host:/sys /sys") + 1], "ro /sys");
    assert!(at(&l, "rbind host:/var/tmp /var/tmp") > proc);
}

#[test]
fn an_app_run_as_root_sees_the_kernels_knobs_read_only() {
    let root = Launch {
        uid: 0,
        euid: 0,
        ..WITH_CAPS
    };
    let l = lines(&root, &profile(&[], &[]));
    // Root needs no chown: what it makes is root's already.
    assert_eq!(l[0], "mkdir /dev 755");
    let proc = at(&l, "proc /proc");
    let sys = at(&l, "rbind sandbox:/proc/sys /proc/sys");
    assert!(sys > proc);
    assert_eq!(l[sys + 1], "ro /proc/sys");
    let trigger = at(&l, "bind sandbox:/proc/sysrq-trigger /proc/sysrq-trigger");
    assert_eq!(l[trigger + 1], "ro /proc/sysrq-trigger");
    // Knobs this kernel does not have are not planned.
    absent(&l, "/proc/irq");
}

#[test]
fn dev_holds_the_basic_nodes_and_what_interfaces_grant() {
    let l = lines(&WITH_CAPS, &profile(&[], &[]));
    let dev = at(&l, "tmpfs /dev 755 0:0 noexec");
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        let bind = at(&l, &format!("rbind host:/dev/{node} /dev/{node}"));
        assert_eq!(l[bind - 1], format!("touch /dev/{node} 644"));
        assert!(bind > dev);
    }
    absent(&l, "video0");
    absent(&l, "/dev/snd");
    absent(&l, "/dev/dri");
    absent(&l, "/dev/sda");
    at(&l, "devpts /dev/pts gid=5");
    at(&l, "tmpfs /dev/shm 1777");
    at(&l, "symlink /dev/ptmx -> pts/ptmx 0:0");
    assert_eq!(
        l[at(&l, "symlink /dev/stderr -> /proc/self/fd/2 0:0") + 1],
        "ro /dev"
    );

    let l = lines(
        &WITH_CAPS,
        &profile(&["camera", "opengl", "audio-playback"], &[]),
    );
    at(&l, "rbind host:/dev/video0 /dev/video0");
    assert_eq!(
        l[at(&l, "rbind host:/dev/dri /dev/dri") - 1],
        "mkdir /dev/dri 755"
    );
    at(&l, "mkdir /dev/snd 755");
    at(&l, "bind host:/dev/snd/pcmC0D0p /dev/snd/pcmC0D0p");
    at(&l, "bind host:/dev/snd/controlC0 /dev/snd/controlC0");
    // Playback only: no capture node, and nothing that is neither.
    absent(&l, "pcmC0D0c");
    absent(&l, "hwC0D0");
    absent(&l, "/dev/sda");
}

#[test]
fn private_tmp_run_snap_and_the_snaps_own_data() {
    let l = lines(&WITH_CAPS, &profile(&[], &[]));
    at(&l, "bind private-tmp:/ /tmp");
    let run = at(&l, "tmpfs /run 755 0:0");
    let dir = at(&l, "mkdir /run/user/1000/snap.hello 700 0:0");
    assert!(dir > run);
    assert_eq!(l[dir + 1], "chown /run/user/1000/snap.hello 1000:1000");
    assert_eq!(l[dir + 2], "bind runtime:/ /run/user/1000/snap.hello");
    assert_eq!(l[at(&l, "rbind snap-mounts:/ /snap") + 1], "ro /snap");
    // The base has /var/snap: it is covered, and only this snap's directory is put in.
    let var_snap = at(&l, "tmpfs /var/snap 755 0:0");
    assert_eq!(l[var_snap + 1], "mkdir /var/snap/hello 755 0:0");
    assert_eq!(l[var_snap + 2], "rbind snap-data:/ /var/snap/hello");

    // In a user namespace root cannot be named, and without a runtime directory on the host
    // the sandbox's own stays empty.
    let userns = Launch {
        power: Power::UserNamespace,
        runtime: false,
        ..WITH_CAPS
    };
    let l = lines(&userns, &profile(&[], &[]));
    at(&l, "tmpfs /run 755");
    at(&l, "mkdir /run/user/1000/snap.hello 700");
    absent(&l, "chown");
    absent(&l, "runtime:");
    at(&l, "devpts /dev/pts");
}

#[test]
fn without_home_only_the_snaps_own_directory_of_the_home_is_there() {
    let l = lines(&WITH_CAPS, &profile(&[], &[]));
    at(&l, "mkdir /home/u 755 0:0");
    at(&l, "mkdir /home/u/snap 755 0:0");
    let mine = at(&l, "mkdir /home/u/snap/hello 755 0:0");
    assert_eq!(l[mine + 1], "rbind user-snap:/ /home/u/snap/hello");
    absent(&l, "home:");
    absent(&l, "tmpfs /home");
}

#[test]
fn with_home_the_top_level_is_ours_and_read_only() {
    let with_home = Launch {
        home_connected: true,
        ..WITH_CAPS
    };
    let l = lines(&with_home, &profile(&["home"], &[]));
    // The real home's mode, the user's own.
    let top = at(&l, "tmpfs /home/u 750 1000:1000");
    assert_eq!(l[top - 1], "mkdir /home/u 755 0:0");
    assert_eq!(l[top + 1], "mkdir /home/u/snap 700");
    let docs = at(&l, "rbind home:/Documents /home/u/Documents");
    assert_eq!(l[docs - 1], "mkdir /home/u/Documents 755");
    assert_eq!(
        l[at(&l, "bind home:/notes.txt /home/u/notes.txt") - 1],
        "touch /home/u/notes.txt 644"
    );
    at(&l, "symlink /home/u/docs -> Documents");
    let snaps = at(&l, "tmpfs /home/u/snap 700 1000:1000");
    assert!(snaps > docs);
    assert_eq!(l[snaps + 1], "mkdir /home/u/snap/hello 755");
    assert_eq!(l[snaps + 2], "rbind user-snap:/ /home/u/snap/hello");
    // Read-only last: nothing can be planted at the top, not even by the sandbox.
    assert_eq!(l[snaps + 3], "ro /home/u");
    // Only the entries the launch listed (the hidden ones are not).
    assert_eq!(l.iter().filter(|x| x.contains(" home:/")).count(), 2);
}

#[test]
fn interfaces_bring_their_mounts_and_variables() {
    let p = profile(
        &[
            "removable-media",
            "wayland",
            "audio-playback",
            "desktop",
            "x11",
        ],
        &[],
    );
    let plan = planned(&WITH_CAPS, &p, &system());
    let l = plan.lines();
    at(&l, "rbind host:/media /media");
    at(&l, "rbind host:/mnt /mnt");
    absent(&l, "/run/media");
    let wl = at(
        &l,
        "bind host:/run/user/1000/wayland-1 /run/user/1000/wayland-1",
    );
    assert_eq!(l[wl - 1], "touch /run/user/1000/wayland-1 644 0:0");
    at(
        &l,
        "bind host:/run/user/1000/pipewire-0 /run/user/1000/pipewire-0",
    );
    // Root's socket in the user's runtime directory is not the user's to hand on.
    absent(&l, "pulse");
    let fonts = at(&l, "rbind host:/usr/share/fonts /usr/share/fonts");
    assert_eq!(l[fonts + 1], "ro /usr/share/fonts");
    // The base has no /usr/share/fonts: its /usr/share is mimicked to make the mount point.
    assert_eq!(l[fonts - 1], "mkdir /usr/share/fonts 755 0:0");
    assert_eq!(l[fonts - 2], "mimic /usr/share 755 0:0 [doc/]");
    absent(&l, "icons");
    at(&l, "bind host:/tmp/.X11-unix /tmp/.X11-unix");
    assert_eq!(
        plan.env,
        vec![(
            "WAYLAND_DISPLAY".to_string(),
            "/run/user/1000/wayland-1".to_string()
        )]
    );

    let none = lines(&WITH_CAPS, &profile(&[], &[]));
    for gone in [
        "host:/media",
        "host:/mnt",
        "wayland",
        "pipewire",
        "fonts",
        "X11",
        "mimic",
    ] {
        absent(&none, gone);
    }
}

#[test]
fn layouts_make_what_they_need_under_writable_mimics() {
    let p = profile(
        &[],
        &[
            ("/opt/hello", "bind", "$SNAP/lib"),
            ("/opt/hello/themes", "tmpfs", ""),
            ("/etc/hello.conf", "bind-file", "$SNAP/etc/hello.conf"),
            ("/usr/lib/hello", "symlink", "$SNAP_DATA/lib"),
            ("/var/cache/hello", "bind", "$SNAP_DATA/cache"),
        ],
    );
    let l = lines(&WITH_CAPS, &p);
    // /etc is the host's: a mimic with the host's entries put back, then the mount point.
    let etc = at(&l, "mimic /etc 755 0:0 [nsswitch.conf passwd]");
    assert_eq!(l[etc + 1], "touch /etc/hello.conf 644 0:0");
    assert_eq!(
        l[etc + 2],
        "bind sandbox:/snap/hello/7/etc/hello.conf /etc/hello.conf"
    );
    // /opt is the base's: mimicked once; what is made in the mimic needs no second one.
    let opt = at(&l, "mimic /opt 755 0:0 [vendor/]");
    assert!(opt > etc);
    assert_eq!(l[opt + 1], "mkdir /opt/hello 755 0:0");
    assert_eq!(l[opt + 2], "rbind sandbox:/snap/hello/7/lib /opt/hello");
    // The tmpfs lands in what the bind brought ($SNAP/lib has themes/): no mimic of $SNAP needed.
    assert_eq!(l[opt + 3], "tmpfs /opt/hello/themes 755 0:0");
    assert_eq!(l.iter().filter(|x| x.starts_with("mimic /opt")).count(), 1);
    // A link in the base's /usr/lib, whose own links are recreated in the mimic.
    let usr_lib = at(
        &l,
        "mimic /usr/lib 755 0:0 [os-release->../share/os-release snapd/ x86_64-linux-gnu/]",
    );
    assert_eq!(
        l[usr_lib + 1],
        "symlink /usr/lib/hello -> /var/snap/hello/7/lib 0:0"
    );
    // The snap's own data is written in place: its missing source is made, no mimic.
    at(&l, "mkdir /var/snap/hello/7/cache 755 0:0");
    assert_eq!(
        l[at(&l, "mimic /var 755 0:0 [snap/ tmp/]") + 1],
        "mkdir /var/cache 755 0:0"
    );
}

#[test]
fn a_mimic_in_a_user_namespace_keeps_root_unnamed() {
    let userns = Launch {
        power: Power::UserNamespace,
        ..WITH_CAPS
    };
    let l = lines(&userns, &profile(&[], &[("/opt/hello", "tmpfs", "")]));
    // The base's /opt is root's: the user namespace cannot say so, the tmpfs is left unnamed.
    let opt = at(&l, "mimic /opt 755 [vendor/]");
    assert_eq!(l[opt + 1], "mkdir /opt/hello 755");
    assert_eq!(l[opt + 2], "tmpfs /opt/hello 755");
}

#[test]
fn a_layout_that_cannot_be_laid_out_fails_before_anything_is_mounted() {
    for (layout, says) in [
        (("/lib/hello", "tmpfs", ""), "/lib is a symbolic link"),
        (
            ("/usr/bin/hello", "bind-file", "$SNAP/lib"),
            "$SNAP/lib is a directory",
        ),
        (
            ("/usr/share/doc", "symlink", "$SNAP/doc"),
            "not a symbolic link",
        ),
    ] {
        let p = profile(&[], &[layout]);
        let input = PlanInput {
            power: Power::Privileged,
            uid: UID,
            gid: UID,
            euid: UID,
            home: "/home/u",
            profile: &p,
            wayland_display: "wayland-0",
            user_snap: false,
            home_entries: None,
            runtime: false,
            notify_socket: None,
        };
        let err = plan(&input, &system()).expect_err("the layout is refused");
        assert_eq!(err.exit_code(), 65, "{layout:?}: {err}");
        let text = err.to_string().replace("/snap/hello/7", "$SNAP");
        assert!(text.contains(says), "{layout:?}: {err}");
    }
}

#[test]
fn a_resolv_conf_that_links_into_run_finds_its_file() {
    let mut t = system();
    t.link(
        Origin::Host,
        "etc/resolv.conf",
        "../run/systemd/resolve/stub-resolv.conf",
    )
    .file(Origin::Host, "run/systemd/resolve/stub-resolv.conf");
    let l = planned(&WITH_CAPS, &profile(&["network"], &[]), &t).lines();
    let bind = at(&l, "bind host:/run/systemd/resolve /run/systemd/resolve");
    assert_eq!(l[bind - 1], "mkdir /run/systemd/resolve 755 0:0");
    assert_eq!(l[bind + 1], "ro /run/systemd/resolve");
    // After /run is made (the tmpfs would hide it).
    assert!(at(&l, "tmpfs /run 755 0:0") < bind);
    // Without network, no resolver; a regular resolv.conf needs nothing; a link that climbs out
    // of the root or leads elsewhere than /run binds nothing.
    absent(
        &planned(&WITH_CAPS, &profile(&[], &[]), &t).lines(),
        "resolve",
    );
    absent(
        &lines(&WITH_CAPS, &profile(&["network"], &[])),
        "/run/systemd",
    );
    let mut out = system();
    out.link(Origin::Host, "etc/resolv.conf", "../../../../run/x/r.conf")
        .file(Origin::Host, "run/x/r.conf");
    absent(
        &planned(&WITH_CAPS, &profile(&["network"], &[]), &out).lines(),
        "/run/x",
    );
    // /run itself is never bound from the host.
    let mut top = system();
    top.link(Origin::Host, "etc/resolv.conf", "/run/resolv.conf")
        .file(Origin::Host, "run/resolv.conf");
    absent(
        &planned(&WITH_CAPS, &profile(&["network"], &[]), &top).lines(),
        "host:/run ",
    );
}

#[test]
fn desktop_brings_the_local_fonts_and_the_font_cache() {
    let mut t = system();
    t.dir(Origin::Host, "usr/local/share/fonts")
        .dir(Origin::Host, "var/cache/fontconfig")
        .dir(Origin::Base, "var/cache");
    let l = planned(&WITH_CAPS, &profile(&["desktop"], &[]), &t).lines();
    let local = at(
        &l,
        "rbind host:/usr/local/share/fonts /usr/local/share/fonts",
    );
    assert_eq!(l[local + 1], "ro /usr/local/share/fonts");
    let cache = at(&l, "rbind host:/var/cache/fontconfig /var/cache/fontconfig");
    assert_eq!(l[cache + 1], "ro /var/cache/fontconfig");
    let without = planned(&WITH_CAPS, &profile(&["x11"], &[]), &t).lines();
    absent(&without, "fontconfig");
    absent(&without, "/usr/local");
}

#[test]
fn desktop_lets_the_app_read_the_users_gtk_settings_and_folders() {
    let mut t = system();
    t.put(
        Origin::Host,
        "home/u/.config/gtk-3.0",
        Kind::Dir,
        0o755,
        UID,
        None,
    );
    t.put(
        Origin::Host,
        "home/u/.config/user-dirs.dirs",
        Kind::File,
        0o644,
        UID,
        None,
    );
    // A link is never followed: gtk-4.0 is left out.
    t.put(
        Origin::Host,
        "home/u/.config/gtk-4.0",
        Kind::Symlink,
        0o777,
        UID,
        Some("/etc"),
    );
    for home_connected in [false, true] {
        let l = Launch {
            home_connected,
            ..WITH_CAPS
        };
        let plan = planned(&l, &profile(&["desktop"], &[]), &t).lines();
        let gtk = at(
            &plan,
            "rbind host:/home/u/.config/gtk-3.0 /home/u/.config/gtk-3.0",
        );
        assert_eq!(plan[gtk + 1], "ro /home/u/.config/gtk-3.0");
        let dirs = at(
            &plan,
            "bind host:/home/u/.config/user-dirs.dirs /home/u/.config/user-dirs.dirs",
        );
        assert_eq!(plan[dirs + 1], "ro /home/u/.config/user-dirs.dirs");
        absent(&plan, "gtk-4.0");
        if home_connected {
            // Before the home's top level is made read-only.
            assert!(dirs < at(&plan, "ro /home/u"), "{}", plan.join("\n"));
        }
    }
    absent(
        &planned(&WITH_CAPS, &profile(&["x11"], &[]), &t).lines(),
        ".config",
    );
}

#[test]
fn opengl_offers_the_hosts_nvidia_libraries_where_snapd_does() {
    let mut t = system();
    t.dir(Origin::Base, "var/lib/misc")
        .file(
            Origin::Host,
            "usr/lib/x86_64-linux-gnu/libnvidia-glcore.so.535.1",
        )
        .link(
            Origin::Host,
            "usr/lib/x86_64-linux-gnu/libnvidia-glcore.so",
            "libnvidia-glcore.so.535.1",
        )
        .link(
            Origin::Host,
            "usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0",
            "/opt/elsewhere/libGLX_nvidia.so.0",
        )
        .file(Origin::Host, "usr/lib/x86_64-linux-gnu/libEGL.so.1")
        .file(Origin::Host, "usr/lib/x86_64-linux-gnu/libc.so.6");
    let l = planned(&WITH_CAPS, &profile(&["opengl"], &[]), &t).lines();
    let gl = "/var/lib/snapd/lib/gl";
    let core = at(
        &l,
        &format!(
            "bind host:/usr/lib/x86_64-linux-gnu/libnvidia-glcore.so.535.1 \
             {gl}/libnvidia-glcore.so.535.1"
        ),
    );
    assert_eq!(l[core + 1], format!("ro {gl}/libnvidia-glcore.so.535.1"));
    at(
        &l,
        &format!("symlink {gl}/libnvidia-glcore.so -> libnvidia-glcore.so.535.1 0:0"),
    );
    at(
        &l,
        &format!("bind host:/usr/lib/x86_64-linux-gnu/libEGL.so.1 {gl}/libEGL.so.1"),
    );
    // Made under a mimic of the base's /var/lib; a link out of the farm and other libraries are
    // not offered.
    at(&l, "mimic /var/lib 755 0:0 [misc/]");
    absent(&l, "libGLX_nvidia");
    absent(&l, "libc.so");
    // Without NVIDIA's libraries (GLVND's alone), or without opengl: nothing.
    let mut mesa = system();
    mesa.file(Origin::Host, "usr/lib/x86_64-linux-gnu/libEGL.so.1");
    absent(
        &planned(&WITH_CAPS, &profile(&["opengl"], &[]), &mesa).lines(),
        "snapd/lib",
    );
    absent(
        &planned(&WITH_CAPS, &profile(&[], &[]), &t).lines(),
        "snapd/lib",
    );
}

#[test]
fn etc_ssl_is_the_bases_unless_a_debian_host_runs_a_core_base() {
    let mut t = system();
    t.dir(Origin::Base, "etc/ssl/certs")
        .dir(Origin::Host, "etc/ssl/certs");
    let line = "rbind base:/etc/ssl /etc/ssl";
    let core = profile(&[], &[]);
    assert_eq!(core.base, "core22");
    let mut other = profile(&[], &[]);
    other.base = "shelf-base".into();
    // Not Debian-like: the base's certificates.
    at(&planned(&WITH_CAPS, &core, &t).lines(), line);
    // Debian-like: the host's with a core base, the base's with any other.
    t.file(Origin::Host, "etc/debian_version");
    absent(&planned(&WITH_CAPS, &core, &t).lines(), "/etc/ssl");
    at(&planned(&WITH_CAPS, &other, &t).lines(), line);
    // A base without /etc/ssl leaves the host's.
    let mut bare = system();
    bare.dir(Origin::Host, "etc/ssl/certs");
    absent(&planned(&WITH_CAPS, &other, &bare).lines(), "/etc/ssl");
}

/// Issue 15's interfaces with files and devices (snapd's `pulseaudio.go`, `joystick.go`,
/// `cups_control.go`, `hardware_observe.go`, `gsettings.go`): what each adds, and nothing when
/// it is not connected.
#[test]
fn desktop_service_interfaces_bring_their_sockets_devices_and_state() {
    let mut t = system();
    t.device("dev/input/js0")
        .device("dev/input/event3")
        .device("dev/input/jsx")
        .socket("run/cups/cups.sock", 0)
        .dir(Origin::Host, "run/udev/data")
        .put(
            Origin::Host,
            "run/user/1000/dconf",
            Kind::Dir,
            0o700,
            UID,
            None,
        );
    t.dir(Origin::Home, ".config/dconf")
        .file(Origin::Home, ".config/dconf/user");
    let ifaces = [
        "pulseaudio",
        "joystick",
        "cups-control",
        "hardware-observe",
        "gsettings",
    ];
    for home_connected in [false, true] {
        let l = Launch {
            home_connected,
            ..WITH_CAPS
        };
        let with = planned(&l, &profile(&ifaces, &[]), &t).lines();
        for line in [
            // (the fixture's PulseAudio socket is root's: only the user's own is bound)
            "bind host:/run/user/1000/pipewire-0 /run/user/1000/pipewire-0",
            "bind host:/dev/snd/pcmC0D0c /dev/snd/pcmC0D0c",
            "bind host:/dev/snd/pcmC0D0p /dev/snd/pcmC0D0p",
            "bind host:/dev/input/js0 /dev/input/js0",
            "bind host:/run/cups/cups.sock /run/cups/cups.sock",
            "bind host:/run/udev/data /run/udev/data",
            "bind home:/.config/dconf/user /home/u/.config/dconf/user",
            "bind host:/run/user/1000/dconf /run/user/1000/dconf",
        ] {
            at(&with, line);
        }
        assert_eq!(
            with[at(&with, "bind host:/run/udev/data /run/udev/data") + 1],
            "ro /run/udev/data"
        );
        absent(&with, "event3");
        absent(&with, "jsx");
        absent(&with, "home:/.config/dconf/user-");
        let without = planned(&l, &profile(&[], &[]), &t).lines();
        for needle in [
            "pipewire",
            "/dev/snd",
            "/dev/input",
            "cups",
            "udev",
            "dconf",
        ] {
            absent(&without, needle);
        }
    }
}

/// u2f-devices (snapd's `u2f_devices.go`): the hidraw nodes of listed security keys only, told by
/// the HID device their sysfs link names; a keyboard's node stays out.
#[test]
fn u2f_devices_bring_security_keys_and_no_other_hid_node() {
    let mut t = system();
    t.device("dev/hidraw0").device("dev/hidraw1").link(
        Origin::Host,
        "sys/class/hidraw/hidraw0",
        "../../devices/pci0000:00/usb1/1-1/1-1:1.0/0003:046D:C52B.0001/hidraw/hidraw0",
    );
    t.link(
        Origin::Host,
        "sys/class/hidraw/hidraw1",
        "../../devices/pci0000:00/usb1/1-2/1-2:1.1/0003:1050:0407.0002/hidraw/hidraw1",
    );
    let with = planned(&WITH_CAPS, &profile(&["u2f-devices"], &[]), &t).lines();
    at(&with, "bind host:/dev/hidraw1 /dev/hidraw1");
    absent(&with, "hidraw0");
    let without = planned(&WITH_CAPS, &profile(&[], &[]), &t).lines();
    absent(&without, "hidraw");
}

/// `hello` with content plugs connected to `prov` (revision 3): `(target, source, writable)`.
fn with_content(layouts: &[(&str, &str, &str)], binds: &[(&str, &str, bool)]) -> Profile {
    use snapshelf_snap::profile::{ProfileBind, ProfileContent};
    Profile {
        content: vec![ProfileContent {
            plug: "lib".into(),
            provider: "prov".into(),
            slot: "lib".into(),
            provider_revision: "3".into(),
            binds: binds
                .iter()
                .map(|(target, source, writable)| ProfileBind {
                    source: source.to_string(),
                    target: target.to_string(),
                    writable: *writable,
                })
                .collect(),
        }],
        ..profile(&[], layouts)
    }
}

fn content_system() -> Tree {
    let mut t = system();
    t.dir(Origin::SnapMounts, "prov/3/usr/lib")
        .dir(Origin::VarSnap, "prov/3/shared")
        .dir(Origin::VarSnap, "prov/common/sock")
        .link(Origin::SnapMounts, "prov/3/linked", "usr")
        .file(Origin::SnapMounts, "prov/3/a-file");
    t
}

/// snapd's content interface as snap-update-ns lays it out: read paths bound read-only, write
/// paths read-write, a missing target in `$SNAP` made under a writable mimic of `$SNAP` (its
/// entries put back), targets in `$SNAP_DATA` made in place; all before the layouts.
#[test]
fn content_is_bound_from_the_provider_before_layouts() {
    let p = with_content(
        &[("/opt/lib", "bind", "$SNAP/content/usr")],
        &[
            ("$SNAP/content", "$SNAP", false),
            ("$SNAP_DATA/shared", "$SNAP_DATA/shared", true),
            ("$SNAP_COMMON/sock", "$SNAP_COMMON/sock", true),
        ],
    );
    let l = planned(&WITH_CAPS, &p, &content_system()).lines();
    let mimic = at(&l, "mimic /snap/hello/7 755 0:0 [etc/ lib/]");
    assert_eq!(l[mimic + 1], "mkdir /snap/hello/7/content 755 0:0");
    assert_eq!(
        l[mimic + 2],
        "rbind snap-mounts:/prov/3 /snap/hello/7/content"
    );
    assert_eq!(l[mimic + 3], "ro /snap/hello/7/content");
    let data = at(&l, "mkdir /var/snap/hello/7/shared 755 0:0");
    assert_eq!(
        l[data + 1],
        "rbind var-snap:/prov/3/shared /var/snap/hello/7/shared"
    );
    assert_ne!(l[data + 2], "ro /var/snap/hello/7/shared");
    at(
        &l,
        "rbind var-snap:/prov/common/sock /var/snap/hello/common/sock",
    );
    // The layout sees what content brought.
    let layout = at(&l, "rbind sandbox:/snap/hello/7/content/usr /opt/lib");
    assert!(layout > mimic + 3);
}

#[test]
fn content_sources_that_are_links_files_or_missing() {
    for (source, says) in [
        (
            "$SNAP/linked",
            "is a symbolic link, which content never follows",
        ),
        (
            "$SNAP/linked/lib",
            "is a symbolic link, which content never follows",
        ),
        ("$SNAP/a-file", "is not a directory"),
        ("$SNAP/../hello", "not clean"),
        ("$HOME/x", "unknown variable"),
    ] {
        let p = with_content(&[], &[("$SNAP/content", source, false)]);
        let input = PlanInput {
            power: Power::Privileged,
            uid: UID,
            gid: UID,
            euid: UID,
            home: "/home/u",
            profile: &p,
            wayland_display: "wayland-0",
            user_snap: false,
            home_entries: None,
            runtime: false,
            notify_socket: None,
        };
        let e = plan(&input, &content_system()).unwrap_err().to_string();
        assert!(e.contains(says) && e.contains("hello:lib"), "{source}: {e}");
    }
    // Targets outside the snap's own directories never reach a mount.
    for target in ["/etc", "$SNAP_USER_DATA/x", "$SNAP/.."] {
        let p = with_content(&[], &[(target, "$SNAP", false)]);
        let input = PlanInput {
            power: Power::Privileged,
            uid: UID,
            gid: UID,
            euid: UID,
            home: "/home/u",
            profile: &p,
            wayland_display: "wayland-0",
            user_snap: false,
            home_entries: None,
            runtime: false,
            notify_socket: None,
        };
        match plan(&input, &content_system()) {
            // A path without a variable is under $SNAP, as snapd reads it.
            Ok(pl) => assert!(
                pl.lines()
                    .iter()
                    .any(|x| x == "rbind snap-mounts:/prov/3 /snap/hello/7/etc"),
                "{target}"
            ),
            Err(e) => assert!(e.to_string().contains("hello:lib"), "{target}: {e}"),
        }
    }
    // A missing source is left out, as snap-update-ns leaves it.
    let p = with_content(&[], &[("$SNAP/content", "$SNAP/nothing", false)]);
    let l = planned(&WITH_CAPS, &p, &content_system()).lines();
    absent(&l, "/snap/hello/7/content");
}

#[test]
fn snapctl_is_bound_read_only_where_core_bases_link_it() {
    let p = profile(&[], &[("/usr/lib/hello", "symlink", "$SNAP_DATA/lib")]);
    // A base with /usr/lib/snapd (as core bases have): bound onto it, after the layouts' mimic.
    let l = planned(&WITH_CAPS, &p, &system()).lines();
    let bind = at(&l, "bind snapctl:/ /usr/lib/snapd");
    assert!(bind > at(&l, "symlink /usr/lib/hello -> /var/snap/hello/7/lib 0:0"));
    assert_eq!(l[bind + 1], "ro /usr/lib/snapd");
    // A base without it: the mount point is made under a mimic of /usr/lib.
    let mut tree = system();
    tree.0.remove(&(
        Origin::Base,
        vec!["usr".into(), "lib".into(), "snapd".into()],
    ));
    let l = planned(&WITH_CAPS, &profile(&[], &[]), &tree).lines();
    let mimic = at(
        &l,
        "mimic /usr/lib 755 0:0 [os-release->../share/os-release x86_64-linux-gnu/]",
    );
    assert_eq!(l[mimic + 1], "mkdir /usr/lib/snapd 755 0:0");
    assert_eq!(l[mimic + 2], "bind snapctl:/ /usr/lib/snapd");
    // No helper directory on the host: nothing planned.
    let mut tree = system();
    tree.0
        .remove(&(Origin::Snapctl, vec!["snapctl".to_string()]));
    absent(&planned(&WITH_CAPS, &p, &tree).lines(), "snapctl");
}

/// desktop-legacy: the accessibility bus's folder (at-spi2-core's `bus_<display>` socket is made in
/// it when the bus starts, perhaps after the launch), only when it is the user's own; bound
/// writable (connecting to a socket is writing to it).
#[test]
fn desktop_legacy_brings_the_users_accessibility_bus_folder() {
    let mut t = system();
    t.put(
        Origin::Host,
        "run/user/1000/at-spi",
        Kind::Dir,
        0o700,
        UID,
        None,
    );
    let with = planned(&WITH_CAPS, &profile(&["desktop-legacy"], &[]), &t).lines();
    let bind = at(
        &with,
        "bind host:/run/user/1000/at-spi /run/user/1000/at-spi",
    );
    assert_ne!(
        with.get(bind + 1).map(String::as_str),
        Some("ro /run/user/1000/at-spi")
    );
    absent(
        &planned(&WITH_CAPS, &profile(&["unity7"], &[]), &t).lines(),
        "at-spi",
    );
    // Another user's folder, or one that is a link, is not bound.
    for (kind, uid, to) in [(Kind::Dir, 0, None), (Kind::Symlink, UID, Some("/tmp"))] {
        let mut t = system();
        t.put(Origin::Host, "run/user/1000/at-spi", kind, 0o700, uid, to);
        absent(
            &planned(&WITH_CAPS, &profile(&["desktop-legacy"], &[]), &t).lines(),
            "at-spi",
        );
    }
}

/// desktop: the document portal's view for the snap (`doc/by-app/snap.<name>` of xdg-document-portal's
/// FUSE file system) at `/run/user/<uid>/doc`, where the portal's paths point; nothing when the
/// portal does not run, without `desktop`, or when the view is not the user's folder.
#[test]
fn desktop_brings_the_document_portals_view_for_the_snap() {
    let view = "run/user/1000/doc/by-app/snap.hello";
    let mut t = system();
    t.put(Origin::Host, view, Kind::Dir, 0o700, UID, None);
    t.put(
        Origin::Host,
        "run/user/1000/doc/by-app/snap.other",
        Kind::Dir,
        0o700,
        UID,
        None,
    );
    let with = planned(&WITH_CAPS, &profile(&["desktop"], &[]), &t).lines();
    at(&with, &format!("bind host:/{view} /run/user/1000/doc"));
    absent(&with, "snap.other");
    absent(
        &planned(&WITH_CAPS, &profile(&["x11"], &[]), &t).lines(),
        "/doc",
    );
    for (kind, uid, to) in [(Kind::Dir, 0, None), (Kind::Symlink, UID, Some("/tmp"))] {
        let mut t = system();
        t.put(Origin::Host, view, kind, 0o700, uid, to);
        absent(
            &planned(&WITH_CAPS, &profile(&["desktop"], &[]), &t).lines(),
            "/doc",
        );
    }
    absent(
        &planned(&WITH_CAPS, &profile(&["desktop"], &[]), &system()).lines(),
        "/doc",
    );
}

/// A service's `$NOTIFY_SOCKET` (`daemon: notify`): the socket alone is bound in at its path in
/// the sandbox's own `/run`; nothing without the variable, for a path that is not a socket, or
/// outside `/run`.
#[test]
fn the_notify_socket_of_a_service_is_bound_in() {
    let mut t = system();
    t.socket("run/systemd/notify", 0)
        .file(Origin::Host, "run/systemd/plain");
    let p = profile(&[], &[]);
    let with = |socket: Option<&str>| {
        let input = PlanInput {
            power: Power::Privileged,
            uid: UID,
            gid: UID,
            euid: UID,
            home: "/home/u",
            profile: &p,
            wayland_display: "wayland-0",
            user_snap: false,
            home_entries: None,
            runtime: false,
            notify_socket: socket,
        };
        plan(&input, &t).unwrap().lines()
    };
    let lines = with(Some("/run/systemd/notify"));
    let bind = at(&lines, "bind host:/run/systemd/notify /run/systemd/notify");
    assert!(at(&lines, "tmpfs /run 755 0:0") < bind, "{lines:#?}");
    for socket in [
        None,
        Some("/run/systemd/plain"),
        Some("/run/systemd/missing"),
        Some("@abstract/notify"),
        Some("/etc/notify"),
    ] {
        absent(&with(socket), "notify");
        absent(&with(socket), "plain");
    }
}
