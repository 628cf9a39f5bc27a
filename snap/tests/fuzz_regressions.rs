//! Inputs the fuzz targets (fuzz/, docs/fuzzing.md) found to crash, hang or exhaust a parser,
//! minimized, each with the behaviour it must have now: a clear error, never a panic.

use std::io::Write;

use snapshelf_snap::squashfs::{SnapFile, SnapFileError};

/// A squashfs 4.0 superblock that passes every other check, with the given block size and log.
fn superblock(block_size: u32, block_log: u16) -> Vec<u8> {
    let mut sb = vec![0u8; 96];
    sb[0..4].copy_from_slice(b"hsqs");
    sb[4..8].copy_from_slice(&1u32.to_le_bytes()); // inodes
    sb[12..16].copy_from_slice(&block_size.to_le_bytes());
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
