//! SHA3-384 of a file: ours against `sha3sum -a 384` (if installed) and `openssl dgst -sha3-384`.
//! Run in release: `cargo run --release -p snapshelf-snap --example digest_bench -- FILE`.

use std::process::Command;
use std::time::Instant;

fn time_cmd(cmd: &str, args: &[&str]) -> Option<f64> {
    let t = Instant::now();
    let ok = Command::new(cmd).args(args).output().ok()?.status.success();
    ok.then(|| t.elapsed().as_secs_f64())
}

fn main() {
    let file = std::env::args().nth(1).expect("usage: digest_bench FILE");
    let size = std::fs::metadata(&file).expect("file").len() as f64 / (1 << 20) as f64;
    let _ = std::fs::read(&file); // warm the page cache
    let best = |f: &dyn Fn() -> Option<f64>| (0..3).filter_map(|_| f()).fold(f64::MAX, f64::min);
    let ours = best(&|| {
        let t = Instant::now();
        snapshelf_snap::digest::digest_file(std::path::Path::new(&file)).ok()?;
        Some(t.elapsed().as_secs_f64())
    });
    println!("snapshelf digest: {:.0} MiB/s", size / ours);
    let openssl = best(&|| time_cmd("openssl", &["dgst", "-sha3-384", &file]));
    if openssl < f64::MAX {
        println!("openssl dgst -sha3-384: {:.0} MiB/s", size / openssl);
    }
    let sha3sum = best(&|| time_cmd("sha3sum", &["-a", "384", &file]));
    if sha3sum < f64::MAX {
        println!("sha3sum -a 384: {:.0} MiB/s", size / sha3sum);
    }
}
