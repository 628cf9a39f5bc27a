//! Packing and reading a tree: ours against mksquashfs / unsquashfs with snapd's options.
//! Run in release: `cargo run --release -p snapshelf-snap --example squashfs_bench [DIR]`.
//! Without DIR it generates a mixed tree (many small text files, a few large ones).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use snapshelf_snap::squashfs::{pack, PackOptions, SnapFile};

fn generate(dir: &Path) {
    for i in 0..2000 {
        let d = dir.join(format!("d{}", i % 50));
        std::fs::create_dir_all(&d).unwrap();
        let text = format!("line {i} of a generated text file\n").repeat(40 + i % 200);
        std::fs::write(d.join(format!("f{i}.txt")), text).unwrap();
    }
    let mut x: u64 = 88172645463325252;
    let mut noise = vec![0u8; 48 << 20];
    for b in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    std::fs::write(dir.join("random.bin"), &noise).unwrap();
    let text: Vec<u8> = (0..(48u32 << 20))
        .map(|i| b"abcdefghij klmnop\n"[(i % 18) as usize])
        .collect();
    std::fs::write(dir.join("text.big"), text).unwrap();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn run(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let out = cmd
        .output()
        .expect("the peer tool is installed (squashfs-tools)");
    assert!(out.status.success(), "{:?} failed", cmd);
    t.elapsed().as_secs_f64()
}

fn main() {
    let tmp = std::env::temp_dir().join(format!("squashfs-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let src: PathBuf = match std::env::args().nth(1) {
        Some(d) => d.into(),
        None => {
            let d = tmp.join("tree");
            generate(&d);
            d
        }
    };
    let ours_img = tmp.join("ours.snap");
    let theirs_img = tmp.join("theirs.snap");
    let runs = 3;
    let pack_ours = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                pack(&src, &ours_img, &PackOptions::default()).unwrap();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let mk = |procs: Option<&str>| {
        median(
            (0..runs)
                .map(|_| {
                    let mut c = Command::new("mksquashfs");
                    c.arg(&src).arg(&theirs_img).args([
                        "-noappend",
                        "-comp",
                        "xz",
                        "-no-fragments",
                        "-all-root",
                        "-no-xattrs",
                        "-quiet",
                    ]);
                    if let Some(p) = procs {
                        c.args(["-processors", p]);
                    }
                    run(&mut c)
                })
                .collect(),
        )
    };
    let pack_mk = mk(None);
    let pack_mk1 = mk(Some("1"));
    let read_ours = median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                let snap = SnapFile::open(&ours_img).unwrap();
                let out = tmp.join("x-ours");
                let _ = std::fs::remove_dir_all(&out);
                snap.extract_to(&out).unwrap();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    );
    let read_un = median(
        (0..runs)
            .map(|_| {
                let out = tmp.join("x-theirs");
                let _ = std::fs::remove_dir_all(&out);
                run(Command::new("unsquashfs")
                    .arg("-q")
                    .arg("-n")
                    .arg("-d")
                    .arg(&out)
                    .arg(&theirs_img))
            })
            .collect(),
    );
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() / 1024;
    println!("pack:    snapshelf {pack_ours:.2} s ({} KiB) | mksquashfs {pack_mk:.2} s ({} KiB) | mksquashfs -processors 1 {pack_mk1:.2} s | ratio {:.2}x", size(&ours_img), size(&theirs_img), pack_ours / pack_mk);
    println!(
        "extract: snapshelf {read_ours:.2} s | unsquashfs {read_un:.2} s | ratio {:.2}x",
        read_ours / read_un
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
