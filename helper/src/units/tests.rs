use std::path::Path;

use snapshelf_snap::yaml::SnapYaml;

use super::*;

const CONFINE: &str = "/usr/libexec/snapshelf/snapshelf-confine";

fn launch() -> Launch<'static> {
    Launch {
        confine: Path::new(CONFINE),
        root: None,
    }
}

fn services(yaml: &str) -> Result<Vec<Service>, UnitError> {
    let y = SnapYaml::parse(yaml).expect("test snap.yaml parses");
    snap_services("svc", "7", &y, &launch())
}

fn one(yaml: &str) -> Service {
    let mut s = services(yaml).expect("units");
    assert_eq!(s.len(), 1, "one daemon");
    s.remove(0)
}

#[test]
fn a_simple_daemon_runs_through_confine() {
    let s = one("name: svc\nversion: '1'\napps:\n  srv:\n    command: bin/srv\n    daemon: simple\n  tool:\n    command: bin/tool\n");
    assert_eq!(s.service.name, "snap.svc.srv.service");
    let t = &s.service.text;
    for line in [
        "Description=Service for snap application svc.srv",
        "After=snapshelf-helper.service network.target",
        &format!("ExecStart={CONFINE} svc.srv"),
        "SyslogIdentifier=svc.srv",
        "Restart=on-failure",
        "WorkingDirectory=/var/snap/svc/7",
        "TimeoutStopSec=30000000us",
        "Type=simple",
        "WantedBy=multi-user.target",
    ] {
        assert!(t.lines().any(|l| l == line), "{line:?} missing in\n{t}");
    }
    assert!(!t.contains("KillMode"), "{t}");
    assert!(s.activators.is_empty());
    assert!(s.enable_at_install && !s.endure);
    assert_eq!(s.started_units(), vec!["snap.svc.srv.service".to_string()]);
}

#[test]
fn every_field_maps_as_snapd_maps_it() {
    let s = one(concat!(
        "name: svc\nversion: '1'\napps:\n  srv:\n    command: bin/srv\n    daemon: oneshot\n",
        "    stop-command: bin/stop\n    reload-command: bin/reload\n    post-stop-command: bin/post\n",
        "    stop-mode: sighup\n    stop-timeout: 1m30s\n    start-timeout: 500ms\n",
        "    restart-condition: always\n    restart-delay: 2s\n    install-mode: disable\n",
        "    refresh-mode: endure\n    success-exit-status: [3, SIGUSR1]\n",
    ));
    let t = &s.service.text;
    for line in [
        String::from("KillMode=process"),
        "KillSignal=SIGHUP".into(),
        "TimeoutStopSec=90000000us".into(),
        "TimeoutStartSec=500000us".into(),
        // oneshot: never restarted, and kept active when it has a stop command.
        "Restart=no".into(),
        "RemainAfterExit=yes".into(),
        "RestartSec=2000000us".into(),
        "SuccessExitStatus=3 SIGUSR1".into(),
        "Type=oneshot".into(),
    ] {
        assert!(t.lines().any(|l| l == line), "{line:?} missing in\n{t}");
    }
    // The other commands run through confine, in the app's sandbox; never as written in snap.yaml.
    for (key, name) in [
        ("ExecStop", "stop"),
        ("ExecReload", "reload"),
        ("ExecStopPost", "post-stop"),
    ] {
        let want =
            format!("{key}=/usr/libexec/snapshelf/snapshelf-confine --command={name} svc.srv");
        assert!(t.lines().any(|l| l == want), "{want:?} missing in\n{t}");
    }
    assert!(!t.contains("bin/stop") && !t.contains("bin/post"), "{t}");
    assert!(!s.enable_at_install);
    assert!(s.endure);
}

#[test]
fn stop_modes_with_all_signal_the_whole_group() {
    for (mode, kill_mode, signal) in [
        ("sigterm", true, "SIGTERM"),
        ("sigterm-all", false, "SIGTERM"),
        ("sigusr1-all", false, "SIGUSR1"),
        ("sigusr2", true, "SIGUSR2"),
        ("sigint", true, "SIGINT"),
    ] {
        let s = one(&format!(
            "name: svc\nversion: '1'\napps:\n  srv:\n    command: bin/srv\n    daemon: simple\n    stop-mode: {mode}\n"
        ));
        let t = &s.service.text;
        assert_eq!(t.contains("KillMode=process\n"), kill_mode, "{mode}: {t}");
        assert!(t.contains(&format!("KillSignal={signal}\n")), "{mode}: {t}");
    }
}

#[test]
fn before_and_after_name_the_other_services() {
    let s = services(concat!(
        "name: svc\nversion: '1'\napps:\n",
        "  a:\n    command: bin/a\n    daemon: simple\n    before: [b]\n",
        "  b:\n    command: bin/b\n    daemon: forking\n    after: [a]\n",
    ))
    .unwrap();
    assert!(s[0].service.text.contains("\nBefore=snap.svc.b.service\n"));
    assert!(s[1]
        .service
        .text
        .contains("\nAfter=snapshelf-helper.service network.target snap.svc.a.service\n"));
}

#[test]
fn an_order_naming_no_daemon_of_the_snap_is_refused_with_its_field() {
    for (key, other) in [("after", "tool"), ("before", "srv")] {
        let e = services(&format!(
            "name: svc\nversion: '1'\napps:\n  srv:\n    command: bin/srv\n    daemon: simple\n    {key}: [{other}]\n  tool:\n    command: bin/t\n"
        ))
        .unwrap_err();
        assert_eq!(e.field, format!("apps.srv.{key}"), "{e}");
        assert!(e.message.contains(other), "{e}");
    }
}

#[test]
fn timers_and_sockets_are_the_activators() {
    let s = one(concat!(
        "name: svc\nversion: '1'\napps:\n  srv:\n    command: bin/srv\n    daemon: simple\n",
        "    timer: mon,10:00,,fri,15:00-17:00/2\n",
        "    sockets:\n      web:\n        listen-stream: $SNAP_DATA/web.sock\n        socket-mode: 0660\n",
        "      port:\n        listen-stream: 127.0.0.1:8080\n",
    ));
    let names: Vec<&str> = s.activators.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "snap.svc.srv.timer",
            "snap.svc.srv.port.socket",
            "snap.svc.srv.web.socket"
        ]
    );
    let timer = &s.activators[0].text;
    assert!(timer.contains("Unit=snap.svc.srv.service\n"), "{timer}");
    assert!(
        timer.contains(
            "OnCalendar=Mon *-*-* 10:00\nOnCalendar=Fri *-*-* 15:00\nOnCalendar=Fri *-*-* 16:00\n"
        ),
        "{timer}"
    );
    assert!(timer.contains("WantedBy=timers.target"));
    let web = &s.activators[2].text;
    assert!(
        web.contains("ListenStream=/var/snap/svc/7/web.sock\nSocketMode=0660\n"),
        "{web}"
    );
    assert!(s.activators[1]
        .text
        .contains("ListenStream=127.0.0.1:8080\n"));
    // An activated service is started by its activators, not installed itself.
    assert!(!s.service.text.contains("[Install]"));
    assert_eq!(s.started_units().len(), 3);
}

#[test]
fn user_daemons_go_to_the_default_target() {
    let s = one("name: svc\nversion: '1'\napps:\n  srv:\n    command: bin/srv\n    daemon: simple\n    daemon-scope: user\n");
    assert_eq!(s.scope, Scope::User);
    assert!(s.service.text.contains("WantedBy=default.target"));
    assert!(!s.service.text.contains("snapshelf-helper.service"));
}

#[test]
fn a_root_other_than_slash_is_passed_to_confine() {
    let y = SnapYaml::parse(
        "name: svc\nversion: '1'\napps:\n  srv:\n    command: bin/srv\n    daemon: simple\n",
    )
    .unwrap();
    let l = Launch {
        confine: Path::new(CONFINE),
        root: Some(Path::new("/tmp/root")),
    };
    let s = snap_services("svc", "x1", &y, &l).unwrap();
    assert!(s[0]
        .service
        .text
        .contains(&format!("ExecStart={CONFINE} --root /tmp/root svc.srv\n")));
    let l = Launch {
        confine: Path::new(CONFINE),
        root: Some(Path::new("/tmp/a b%n")),
    };
    assert_eq!(
        snap_services("svc", "x1", &y, &l).unwrap_err().field,
        "root"
    );
}

/// Values that would add lines, specifiers or words to a unit: each refused with its field.
#[test]
fn injection_through_any_field_is_refused() {
    let base = SnapYaml::parse(
        "name: svc\nversion: '1'\napps:\n  srv:\n    command: bin/srv\n    daemon: simple\n",
    )
    .unwrap();
    type Edit = fn(&mut App);
    let cases: Vec<(&str, Edit)> = vec![
        ("apps.srv.stop-timeout", |a| {
            a.stop_timeout = Some("1s\nExecStartPre=/bin/sh".into())
        }),
        ("apps.srv.start-timeout", |a| {
            a.start_timeout = Some("%n".into())
        }),
        ("apps.srv.restart-delay", |a| {
            a.restart_delay = Some("1s;2".into())
        }),
        ("apps.srv.watchdog-timeout", |a| {
            a.watchdog_timeout = Some("\"1s\"".into())
        }),
        ("apps.srv.stop-mode", |a| {
            a.stop_mode = Some("sigterm\nUser=root".into())
        }),
        ("apps.srv.success-exit-status", |a| {
            a.success_exit_status = vec!["1 2; rm".into()]
        }),
        ("apps.srv.daemon-scope", |a| {
            a.daemon_scope = Some("user\n".into())
        }),
        ("apps.srv.timer", |a| {
            a.timer = Some("10:00\nOnCalendar=*".into())
        }),
        ("apps.srv.timer", |a| a.timer = Some("%H:00".into())),
        ("apps.srv.sockets.s.listen-stream", |a| {
            a.sockets
                .insert("s".into(), sock("$SNAP_DATA/x\nExecStart=/bin/sh"));
        }),
        ("apps.srv.sockets.s.listen-stream", |a| {
            a.sockets.insert("s".into(), sock("$SNAP_DATA/%h"));
        }),
        ("apps.srv.sockets.s.listen-stream", |a| {
            a.sockets.insert("s".into(), sock("$SNAP_DATA/../../etc/x"));
        }),
        ("apps.srv.sockets.s.listen-stream", |a| {
            a.sockets.insert("s".into(), sock("/run/other.sock"));
        }),
        ("apps.srv.sockets.s.listen-stream", |a| {
            a.sockets.insert("s".into(), sock("'8080'"));
        }),
        ("apps.srv.before", |a| a.before = vec!["srv;b".into()]),
        ("apps.srv.after", |a| a.after = vec!["x\ny".into()]),
    ];
    for (field, edit) in cases {
        let mut y = base.clone();
        edit(y.apps.get_mut("srv").unwrap());
        let e = snap_services("svc", "1", &y, &launch()).expect_err(field);
        assert_eq!(e.field, field, "{e}");
    }
    let mut y = base.clone();
    let mut app = y.apps.remove("srv").unwrap();
    app.daemon = Some(Daemon::Dbus);
    app.bus_name = Some("org.example;x".into());
    y.apps.insert("srv".into(), app.clone());
    assert_eq!(
        snap_services("svc", "1", &y, &launch()).unwrap_err().field,
        "apps.srv.bus-name"
    );
    y.apps.remove("srv");
    y.apps.insert("bad\nname".into(), app);
    assert_eq!(
        snap_services("svc", "1", &y, &launch()).unwrap_err().field,
        "apps.bad\nname"
    );
}

fn sock(listen: &str) -> snapshelf_snap::yaml::Socket {
    snapshelf_snap::yaml::Socket {
        listen_stream: listen.into(),
        socket_mode: None,
    }
}

#[test]
fn a_dbus_daemon_names_its_bus() {
    let s = one("name: svc\nversion: '1'\napps:\n  srv:\n    command: bin/srv\n    daemon: dbus\n    bus-name: org.example.Svc\n");
    assert!(s.service.text.contains("\nBusName=org.example.Svc\n"));
}

#[test]
fn durations_become_microseconds() {
    assert_eq!(micros("1m30s", "f").unwrap(), "90000000us");
    assert_eq!(micros("1.5h", "f").unwrap(), "5400000000us");
    assert_eq!(micros("10", "f").unwrap(), "10000000us");
    assert_eq!(micros("500ns", "f").unwrap(), "1us");
    assert!(micros("", "f").is_err());
    assert!(micros("10d", "f").is_err());
    assert!(micros("99999999999h", "f").is_err());
}

#[test]
fn timers_follow_snapds_schedules() {
    let on = |s: &str| timer::on_calendar(s).unwrap();
    assert_eq!(on("mon"), ["Mon *-*-*"]);
    assert_eq!(on("mon-fri,10:00"), ["Mon,Tue,Wed,Thu,Fri *-*-* 10:00"]);
    assert_eq!(on("sat-mon,23:30"), ["Sat,Sun,Mon *-*-* 23:30"]);
    assert_eq!(on("0:00-24:00/96").len(), 96);
    assert_eq!(on("0:00-24:00/96")[1], "*-*-* 00:15");
    assert_eq!(on("22:00-02:00/2"), ["*-*-* 22:00", "*-*-* 00:00"]);
    assert_eq!(on("mon1,10:00"), ["Mon *-*-01..07 10:00"]);
    assert_eq!(on("fri5"), ["Fri *-*-22..31"]);
    assert_eq!(on("mon2-fri"), ["*-*-15..21", "*-*-08..14"]);
    let spread = on("0:00~10:00");
    assert_eq!(spread.len(), 1);
    let hour: u32 = spread[0][6..8].parse().unwrap();
    assert!(hour < 10, "{spread:?}");
    // snapd's own test snap: every schedule of test-snapd-timer-service is accepted.
    for s in [
        "0:00-24:00/96",
        "0:00~24:00/96",
        "mon2-fri,0:00~10:00,,mon5-fri,0:00-10:00",
        "mon",
    ] {
        assert!(timer::on_calendar(s).is_ok(), "{s}");
    }
}

#[test]
fn timer_specs_systemd_would_reject_are_refused() {
    for s in [
        "",
        "25:00",
        "10:60",
        "10",
        "monday",
        "mon6",
        "mon1-fri2",
        "10:00/2",
        "0:00-1:00/0",
        "mon,,",
        "10:00;11:00",
        "*-*-* 10:00",
    ] {
        assert!(timer::on_calendar(s).is_err(), "{s:?} accepted");
    }
}

#[test]
fn daemons_come_in_their_start_order_and_cycles_are_refused() {
    let s = services(concat!(
        "name: svc\nversion: '1'\napps:\n",
        "  a-last:\n    command: bin/a\n    daemon: oneshot\n    after: [b-middle]\n",
        "  b-middle:\n    command: bin/b\n    daemon: oneshot\n    after: [c-first]\n",
        "  c-first:\n    command: bin/c\n    daemon: oneshot\n    before: [b-middle]\n",
    ))
    .unwrap();
    let order: Vec<&str> = s.iter().map(|s| s.app.as_str()).collect();
    assert_eq!(order, ["c-first", "b-middle", "a-last"]);
    let e = services(concat!(
        "name: svc\nversion: '1'\napps:\n",
        "  a:\n    command: bin/a\n    daemon: simple\n    after: [b]\n",
        "  b:\n    command: bin/b\n    daemon: simple\n    after: [a]\n",
    ))
    .unwrap_err();
    assert_eq!(e.field, "apps");
    assert!(e.message.contains("cycle"), "{e}");
}

/// The whole text of two daemons that use every field, byte for byte (split by section, the
/// text must stay what it was).
#[test]
fn the_whole_unit_text_is_pinned() {
    let s = services(concat!(
        "name: svc\nversion: '1'\napps:\n",
        "  a:\n    command: bin/a\n    daemon: notify\n    before: [b]\n",
        "    watchdog-timeout: 10s\n    restart-condition: on-watchdog\n    restart-delay: 1s\n",
        "    stop-command: bin/stop\n    reload-command: bin/reload\n    post-stop-command: bin/post\n",
        "    stop-mode: sigusr1-all\n    stop-timeout: 5s\n    start-timeout: 2s\n",
        "    success-exit-status: [3]\n",
        "  b:\n    command: bin/b\n    daemon: dbus\n    bus-name: org.example.B\n    after: [a]\n",
        "    timer: 00:00-24:00/2\n",
    ))
    .unwrap();
    let a = concat!(
        "[Unit]\n",
        "# Written by snapshelf-helper; it is rewritten at each install and refresh.\n",
        "Description=Service for snap application svc.a\n",
        "Wants=network.target snapshelf-helper.service\n",
        "After=snapshelf-helper.service network.target\n",
        "Before=snap.svc.b.service\n",
        "X-Snapshelf=yes\n",
        "\n",
        "[Service]\n",
        "ExecStart=/usr/libexec/snapshelf/snapshelf-confine svc.a\n",
        "SyslogIdentifier=svc.a\n",
        "Restart=on-watchdog\n",
        "RestartSec=1000000us\n",
        "SuccessExitStatus=3\n",
        "WorkingDirectory=/var/snap/svc/7\n",
        "ExecStop=/usr/libexec/snapshelf/snapshelf-confine --command=stop svc.a\n",
        "ExecReload=/usr/libexec/snapshelf/snapshelf-confine --command=reload svc.a\n",
        "ExecStopPost=/usr/libexec/snapshelf/snapshelf-confine --command=post-stop svc.a\n",
        "TimeoutStopSec=5000000us\n",
        "TimeoutStartSec=2000000us\n",
        "Type=notify\n",
        "NotifyAccess=all\n",
        "WatchdogSec=10000000us\n",
        "KillSignal=SIGUSR1\n",
        "\n",
        "[Install]\n",
        "WantedBy=multi-user.target\n",
    );
    let b = concat!(
        "[Unit]\n",
        "# Written by snapshelf-helper; it is rewritten at each install and refresh.\n",
        "Description=Service for snap application svc.b\n",
        "Wants=network.target snapshelf-helper.service\n",
        "After=snapshelf-helper.service network.target snap.svc.a.service\n",
        "X-Snapshelf=yes\n",
        "\n",
        "[Service]\n",
        "ExecStart=/usr/libexec/snapshelf/snapshelf-confine svc.b\n",
        "SyslogIdentifier=svc.b\n",
        "Restart=on-failure\n",
        "WorkingDirectory=/var/snap/svc/7\n",
        "TimeoutStopSec=30000000us\n",
        "Type=dbus\n",
        "BusName=org.example.B\n",
    );
    assert_eq!(s[0].service.text, a);
    assert_eq!(s[1].service.text, b);
}

/// A simple daemon with a watchdog pings from inside the sandbox, not as the main process.
#[test]
fn a_watchdog_is_fed_from_the_sandbox() {
    let s = one("name: svc\nversion: '1'\napps:\n  srv:\n    command: bin/srv\n    daemon: simple\n    watchdog-timeout: 2s\n");
    let t = &s.service.text;
    for line in ["Type=simple", "NotifyAccess=all", "WatchdogSec=2000000us"] {
        assert!(t.lines().any(|l| l == line), "{line:?} missing in\n{t}");
    }
    let s =
        one("name: svc\nversion: '1'\napps:\n  srv:\n    command: bin/srv\n    daemon: simple\n");
    assert!(
        !s.service.text.contains("NotifyAccess"),
        "{}",
        s.service.text
    );
}

/// snapd's dbus-activation-system and -session test snap: daemons started by their slot's name.
const ACTIVATED: &str = "name: svc\nversion: '1'\nslots:\n  sys:\n    interface: dbus\n    \
    bus: system\n    name: io.example.Sys\n  ses:\n    interface: dbus\n    bus: session\n    \
    name: io.example.Ses\napps:\n  system:\n    command: bin/s\n    daemon: dbus\n    \
    activates-on: [sys]\n  session:\n    command: bin/u\n    daemon: simple\n    \
    daemon-scope: user\n    activates-on: [ses]\n";

#[test]
fn an_activated_daemon_has_an_activation_file_and_is_not_started_at_install() {
    let list = services(ACTIVATED).unwrap();
    let sys = list.iter().find(|s| s.app == "system").unwrap();
    assert_eq!(sys.scope, Scope::System);
    assert_eq!(sys.activation.len(), 1);
    let f = &sys.activation[0];
    assert_eq!(f.name, "io.example.Sys.service");
    assert_eq!(
        f.text,
        format!(
            "# Written by snapshelf-helper; removed with the snap.\n[D-BUS Service]\n\
             Name=io.example.Sys\nComment=Bus name for snap application svc.system\n\
             SystemdService=snap.svc.system.service\nExec={CONFINE} svc.system\nUser=root\n\
             X-Snapshelf-Snap=svc\n"
        )
    );
    assert_eq!(activation::owner(&f.text), Some("svc"));
    // `daemon: dbus` without bus-name: the slot's name; no [Install]: only a call starts it.
    let t = &sys.service.text;
    assert!(t.lines().any(|l| l == "BusName=io.example.Sys"), "{t}");
    assert!(!t.contains("[Install]"), "{t}");
    assert!(sys.started_units().is_empty());

    let usr = list.iter().find(|s| s.app == "session").unwrap();
    assert_eq!(usr.scope, Scope::User);
    assert_eq!(usr.activation[0].name, "io.example.Ses.service");
    assert!(!usr.activation[0].text.contains("User="));
    assert!(!usr.service.text.contains("[Install]"));
    assert!(usr.started_units().is_empty());
}

#[test]
fn a_bad_activates_on_names_its_field() {
    let yaml = ACTIVATED.replace("activates-on: [sys]", "activates-on: [ses]");
    let e = services(&yaml).unwrap_err();
    assert_eq!(e.field, "apps.system.activates-on");
    assert!(
        e.message
            .contains("bus \"session\" does not match daemon-scope \"system\""),
        "{e}"
    );
}
