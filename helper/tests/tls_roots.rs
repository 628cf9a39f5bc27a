//! TLS (issue 13): the store client trusts the system's CA store as well as the bundled web
//! roots, so a store behind a proxy or mirror with its own CA (a company's) can be reached. The
//! system store is pointed at a CA made here with `SSL_CERT_FILE`, which the system-store loader
//! honours as OpenSSL does; an `openssl s_server` with a certificate of that CA plays the store.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use snapshelf_helper::store::StoreClient;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn make_certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Snapshelf test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path) -> (Server, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-WWW",
            "-cert",
            "server.pem",
            "-key",
            "server.key",
        ])
        .args(["-accept", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server starts");
    let server = Server(child);
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "s_server did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, port)
}

#[test]
fn a_ca_in_the_system_store_is_trusted() {
    if Command::new("openssl").arg("version").output().is_err() {
        panic!("this test needs the openssl command (Debian: openssl)");
    }
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    // `-WWW` serves files under its directory: the store's categories answer.
    std::fs::create_dir_all(dir.path().join("v2/snaps")).unwrap();
    std::fs::write(
        dir.path().join("v2/snaps/categories"),
        r#"{"categories":[{"name":"featured"},{"name":"games"}]}"#,
    )
    .unwrap();
    let (_server, port) = serve(dir.path());
    let url = format!("https://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // The CA is in neither the bundled roots nor the system store: refused.
    std::env::set_var("SSL_CERT_FILE", dir.path().join("nothing.pem"));
    let e = rt
        .block_on(StoreClient::new(&url).unwrap().categories())
        .unwrap_err();
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");

    // The system store has it: trusted.
    std::env::set_var("SSL_CERT_FILE", dir.path().join("ca.pem"));
    let categories = rt
        .block_on(StoreClient::new(&url).unwrap().categories())
        .unwrap();
    assert_eq!(categories, ["featured", "games"]);
}
