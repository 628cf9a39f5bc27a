//! Timings of a running helper over D-Bus: `helper_bench ADDRESS install NAME` (seconds from the
//! call to Done), `install-file PATH` (unsigned), `refresh` (every update as one change), `switch CHANNEL NAME…`, and
//! `helper_bench ADDRESS list N` (median of N ListInstalled calls, and the count), `connect
//! SNAP:PLUG SLOT_SNAP:SLOT…` (each connection to Done, in turn),
//! `helper_bench ADDRESS set-config NAME PATCH N` (median and 90th percentile of N SetConfig calls,
//! each from the call to Done, in ms).

use std::time::{Duration, Instant};

use snapshelf_dbus::proxy::{Change1ProxyBlocking, Helper1ProxyBlocking};
use snapshelf_dbus::types::Dict;

/// Poll a change until it is ready; it must end Done.
fn wait_done(conn: &zbus::blocking::Connection, path: zbus::zvariant::OwnedObjectPath) {
    let change = Change1ProxyBlocking::builder(conn)
        .path(path)
        .unwrap()
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .unwrap();
    while !change.ready().unwrap() {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        change.status().unwrap(),
        "Done",
        "{}",
        change.error().unwrap()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (address, what) = (&args[1], args[2].as_str());
    let conn = zbus::blocking::connection::Builder::address(address.as_str())
        .expect("bus address")
        .build()
        .expect("bus");
    let helper = Helper1ProxyBlocking::new(&conn).expect("helper proxy");
    match what {
        "install" => {
            let names: Vec<&str> = args[3..].iter().map(String::as_str).collect();
            let t = Instant::now();
            let path = helper.install(&names, Dict::new()).expect("install");
            wait_done(&conn, path);
            println!("{:.3}", t.elapsed().as_secs_f64());
        }
        "install-file" => {
            // An unsigned local file: call → Done.
            let f = std::fs::File::open(&args[3]).expect("snap file");
            let fd = zbus::zvariant::OwnedFd::from(std::os::fd::OwnedFd::from(f));
            let options: Dict = [(
                "unsigned".to_string(),
                zbus::zvariant::OwnedValue::from(true),
            )]
            .into_iter()
            .collect();
            let t = Instant::now();
            let path = helper.install_file(fd, options).expect("install-file");
            wait_done(&conn, path);
            println!("{:.3}", t.elapsed().as_secs_f64());
        }
        "refresh" => {
            // Every snap with an update, as one change: call → Done.
            let t = Instant::now();
            let path = helper.refresh(&[], Dict::new()).expect("refresh");
            wait_done(&conn, path);
            println!("{:.3}", t.elapsed().as_secs_f64());
        }
        "switch" => {
            for name in &args[4..] {
                let path = helper.switch(name, &args[3]).expect("switch");
                wait_done(&conn, path);
            }
        }
        "list" => {
            let n: usize = args[3].parse().unwrap();
            let mut times = Vec::new();
            let mut count = 0;
            for _ in 0..n {
                let t = Instant::now();
                count = helper.list_installed().unwrap().len();
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!("{:.2} {count}", times[times.len() / 2]);
        }
        "connect" => {
            for pair in args[3..].chunks(2) {
                let (snap, plug) = pair[0].split_once(':').expect("SNAP:PLUG");
                let (slot_snap, slot) = pair[1].split_once(':').expect("SLOT_SNAP:SLOT");
                let path = helper
                    .connect(snap, plug, slot_snap, slot)
                    .expect("connect");
                wait_done(&conn, path);
            }
        }
        "set-config" => {
            let (name, patch, n) = (&args[3], &args[4], args[5].parse::<usize>().unwrap());
            let mut times = Vec::new();
            for _ in 0..n {
                let t = Instant::now();
                let path = helper.set_config(name, patch).expect("set-config");
                wait_done(&conn, path);
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            times.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!("{:.2} {:.2}", times[n / 2], times[n * 9 / 10]);
        }
        other => panic!("unknown benchmark {other}"),
    }
}
