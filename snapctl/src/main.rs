//! `snapctl` inside a snap's sandbox (at `/usr/lib/snapd/snapctl`): hands its arguments and the
//! sandbox's `SNAP_COOKIE` to the helper over the socket bound beside it, then prints what the
//! helper answers and exits with its code. Everything is decided by the helper, which knows the
//! caller by the cookie and by the socket's peer credentials.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

/// Where confine binds the helper's snapctl directory in every sandbox.
const SOCKET: &str = "/usr/lib/snapd/snapctl.socket";

fn main() -> ExitCode {
    let cookie = std::env::var("SNAP_COOKIE")
        .or_else(|_| std::env::var("SNAP_CONTEXT"))
        .unwrap_or_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match call(&cookie, &args) {
        Ok((out, err, code)) => {
            let _ = std::io::stdout().write_all(out.as_bytes());
            let _ = std::io::stderr().write_all(err.as_bytes());
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn call(cookie: &str, args: &[String]) -> Result<(String, String, i64), String> {
    let mut s = UnixStream::connect(SOCKET)
        .map_err(|e| format!("cannot communicate with the helper at {SOCKET}: {e}"))?;
    let request = serde_json::json!({ "cookie": cookie, "args": args });
    s.write_all(request.to_string().as_bytes())
        .and_then(|()| s.shutdown(std::net::Shutdown::Write))
        .map_err(|e| format!("cannot send the request to {SOCKET}: {e}"))?;
    let mut answer = String::new();
    s.take(64 << 20)
        .read_to_string(&mut answer)
        .map_err(|e| format!("cannot read the answer from {SOCKET}: {e}"))?;
    let v: serde_json::Value = serde_json::from_str(&answer)
        .map_err(|e| format!("the helper's answer on {SOCKET} is not JSON: {e}"))?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let code = v.get("exit-code").and_then(|x| x.as_i64()).unwrap_or(1);
    Ok((text("stdout"), text("stderr"), code))
}
