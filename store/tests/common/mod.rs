//! What every store test needs: a real `snapshelf-store` process on 127.0.0.1, and requests with
//! the headers snapd sends.

// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use reqwest::blocking::{Client, RequestBuilder};

pub const BIN: &str = env!("CARGO_BIN_EXE_snapshelf-store");

/// A running store; killed when dropped (and its catalog removed, when it owns one).
pub struct Server {
    child: Child,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// The process started (the store, or what runs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait for the process to end by itself.
    pub fn wait(&mut self) {
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the sample catalog into `dir`, with a small (fast) test key chain.
pub fn sample_catalog(dir: &Path) {
    let out = Command::new(BIN)
        .args(["sample-catalog", "--key-bits", "2048"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sample-catalog failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Serves the catalog in `dir` with these extra arguments; the store's stderr goes to `stderr`.
pub fn serve_with(dir: &Path, extra: &[&str], stderr: Stdio) -> Server {
    serve_under(Command::new(BIN), dir, extra, stderr)
}

/// The same, the store started by `runner` (`snapshelf-store`, or a tracer whose last argument
/// is it).
pub fn serve_under(runner: Command, dir: &Path, extra: &[&str], stderr: Stdio) -> Server {
    let (child, url) = snapshelf_snap::testdata::serve_store(runner, dir, extra, stderr);
    Server {
        child,
        url,
        _dir: None,
    }
}

/// Serves the catalog in `dir`, the store's stderr shown with the test's.
pub fn serve(dir: &Path) -> Server {
    serve_with(dir, &[], Stdio::inherit())
}

/// A fresh sample catalog of its own, served; removed when the server is dropped.
pub fn serve_sample() -> Server {
    let dir = tempfile::tempdir().unwrap();
    sample_catalog(dir.path());
    let mut s = serve(dir.path());
    s._dir = Some(dir);
    s
}

/// A GET of `path` on the store, as snapd sends it (series 16).
pub fn get_request(s: &Server, path: &str) -> RequestBuilder {
    Client::new()
        .get(format!("{}{path}", s.url))
        .header("Snap-Device-Series", "16")
}

/// A POST to the refresh endpoint, as snapd sends it (series 16, this architecture).
pub fn refresh_request(s: &Server, arch: &str) -> RequestBuilder {
    Client::new()
        .post(format!("{}/v2/snaps/refresh", s.url))
        .header("Snap-Device-Series", "16")
        .header("Snap-Device-Architecture", arch)
}

/// One HTTP/1.1 response off a (kept-alive) connection: status line, lower-case headers, body
/// (by its content-length, which every answer of the store has).
pub fn read_response(r: &mut impl BufRead) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap();
        headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .expect("every answer has a content-length");
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    (status.trim_end().to_string(), headers, body)
}
