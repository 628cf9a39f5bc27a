//! Inputs that crashed, hung or exhausted a parser, found while fuzzing it (fuzz/, docs/fuzzing.md),
//! minimized, each with the behaviour it must have now: a clear error or a quick answer, never a
//! panic. Inputs too large for the fuzzers' length limit (the quadratic cases) are generated here.

use std::io::Write;
use std::time::{Duration, Instant};

use snapshelf_snap::squashfs::{SnapFile, SnapFileError};
use snapshelf_snap::yaml::SnapYaml;

/// Far above what the linear parsers need for the inputs below even in a debug build on a busy
/// machine (well under a second), far below what the quadratic ones took (minutes).
const QUICK: Duration = Duration::from_secs(15);

/// A squashfs 4.0 superblock that passes every other check, with the given block size and log.
fn superblock(block_size: u32, block_log: u16) -> Vec<u8> {
    let mut sb = vec![0u8; 96];
    sb[0..4].copy_from_slice(b"hsqs");
    sb[4..8].copy_from_slice(&1u32.to_le_bytes()); // inodes
    sb[12..16].copy_from_slice(&block_size.to_le_bytes());
    sb[20..22].copy_from_slice(&1u16.to_le_bytes()); // gzip, a compression the reader knows
    sb[22..24].copy_from_slice(&block_log.to_le_bytes());
    sb[28..30].copy_from_slice(&4u16.to_le_bytes());
    sb[30..32].copy_from_slice(&0u16.to_le_bytes());
    sb[40..48].copy_from_slice(&96u64.to_le_bytes()); // bytes used
    for off in [48, 64, 72, 80, 88] {
        sb[off..off + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    }
    sb
}

fn open_bytes(data: &[u8]) -> Result<SnapFile, SnapFileError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(data).unwrap();
    SnapFile::open(f.path())
}

/// squashfs: a block_log of 32 or more made `1 << block_log` overflow (a panic in debug builds,
/// before the reader's panic guard).
#[test]
fn squashfs_block_log_out_of_range_is_an_error() {
    for log in [32u16, 40, 255, u16::MAX] {
        let e = open_bytes(&superblock(131072, log)).unwrap_err();
        assert!(
            e.to_string().contains("invalid block size 131072"),
            "block_log {log}: {e}"
        );
    }
    // The same superblock with the right log gets past the check (and fails later, on the tables).
    let e = open_bytes(&superblock(131072, 17)).unwrap_err();
    assert!(!e.to_string().contains("invalid block size"), "{e}");
}

/// snap.yaml: duplicate keys were found by comparing each new key with every earlier one of its map;
/// 60,000 keys (under 1 MiB, the snap.yaml cap) took minutes.
#[test]
fn snap_yaml_with_a_huge_map_parses_quickly() {
    let mut text = String::from("name: big\nversion: 1\nx-big:\n");
    for i in 0..60_000 {
        text.push_str(&format!("  k{i:06}: v\n"));
    }
    assert!(text.len() < 1 << 20);
    let start = Instant::now();
    let y = SnapYaml::parse(&text).expect("a large but valid snap.yaml parses");
    let took = start.elapsed();
    assert_eq!(y.extra.len(), 1);
    assert!(took < QUICK, "parsing took {took:?}");
    // A duplicate is still found, and named, at the end of a large map.
    text.push_str("  k000007: again\n");
    let e = SnapYaml::parse(&text).unwrap_err();
    assert_eq!(e.field, "k000007", "{e}");
    assert!(e.message.contains("duplicate key"), "{e}");
}

/// Layouts: each layout was checked against every other (with an allocation per pair) for "under
/// another layout"; 20,000 layouts took minutes.
#[test]
fn many_layouts_validate_quickly() {
    let mut text = String::from("name: big\nversion: 1\nlayout:\n");
    for i in 0..20_000 {
        text.push_str(&format!("  /opt/d{i:05}:\n    type: tmpfs\n"));
    }
    let start = Instant::now();
    let y = SnapYaml::parse(&text).expect("many valid layouts parse");
    let took = start.elapsed();
    assert_eq!(y.layout.len(), 20_000);
    assert!(took < QUICK, "validating took {took:?}");
    // A layout under another is still refused, naming both.
    text.push_str("  /opt/d00042/x:\n    type: tmpfs\n");
    let e = SnapYaml::parse(&text).unwrap_err();
    assert_eq!(e.field, "layout./opt/d00042/x", "{e}");
    assert!(e.message.contains("under the layout /opt/d00042"), "{e}");
}
