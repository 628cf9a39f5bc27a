//! `provider_bench SESSION-ADDRESS N WORD…`: calls `GetInitialResultSet` as GNOME Shell does, N
//! times for each word (the first call of all, which may start the provider by D-Bus activation,
//! is reported on its own), and prints each word's median and worst time and result count; then
//! the whole query as the Shell makes it before it can draw: `GetInitialResultSet`, then
//! `GetResultMetas` of its results.

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

/// The metas of `ids` (name, description, icon), as the Shell asks before drawing the results.
fn metas(conn: &zbus::blocking::Connection, ids: &[String]) -> usize {
    let metas: Vec<std::collections::HashMap<String, zbus::zvariant::OwnedValue>> = conn
        .call_method(
            Some(BUS_NAME),
            OBJECT_PATH,
            Some("org.gnome.Shell.SearchProvider2"),
            "GetResultMetas",
            &(ids,),
        )
        .expect("GetResultMetas")
        .body()
        .deserialize()
        .expect("a list of metas");
    metas.len()
}

/// Median and worst of `times`, in ms.
fn spread(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(times[times.len() / 2]), ms(times[times.len() - 1]))
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
        let (mut initial, mut query) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut count, mut described) = (0, 0);
        for _ in 0..n {
            let t = Instant::now();
            let ids = search(&conn, word);
            initial.push(t.elapsed());
            described = metas(&conn, &ids);
            query.push(t.elapsed());
            count = ids.len();
        }
        let (median, worst) = spread(&mut initial);
        let (q_median, q_worst) = spread(&mut query);
        println!(
            "{word:?}: {count} results, median {median:.2} ms, worst {worst:.2} ms over {n} calls; \
             with GetResultMetas ({described} metas): median {q_median:.2} ms, worst {q_worst:.2} ms"
        );
    }
}
