//! `provider_bench SESSION-ADDRESS N WORD…`: calls `GetInitialResultSet` as GNOME Shell does, N
//! times for each word (the first call of all, which may start the provider by D-Bus activation,
//! is reported on its own), and prints each word's median and worst time and result count.

use std::time::{Duration, Instant};

use snapshelf_search_provider::{BUS_NAME, OBJECT_PATH};

fn search(conn: &zbus::blocking::Connection, word: &str) -> Vec<String> {
    conn.call_method(
        Some(BUS_NAME),
        OBJECT_PATH,
        Some("org.gnome.Shell.SearchProvider2"),
        "GetInitialResultSet",
        &(vec![word],),
    )
    .expect("GetInitialResultSet")
    .body()
    .deserialize()
    .expect("a list of result IDs")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    assert!(
        args.len() >= 4,
        "usage: provider_bench SESSION-ADDRESS N WORD…"
    );
    let conn = zbus::blocking::connection::Builder::address(args[1].as_str())
        .expect("bus address")
        .build()
        .expect("session bus");
    let n: usize = args[2].parse().expect("N");
    let t = Instant::now();
    let first = search(&conn, &args[3]);
    println!(
        "first call (activation included): {:.1} ms, {} results",
        t.elapsed().as_secs_f64() * 1000.0,
        first.len()
    );
    for word in &args[3..] {
        let mut times: Vec<Duration> = Vec::with_capacity(n);
        let mut count = 0;
        for _ in 0..n {
            let t = Instant::now();
            count = search(&conn, word).len();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "{word:?}: {count} results, median {:.2} ms, worst {:.2} ms over {n} calls",
            times[n / 2].as_secs_f64() * 1000.0,
            times[n - 1].as_secs_f64() * 1000.0
        );
    }
}
