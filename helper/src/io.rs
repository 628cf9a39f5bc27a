//! I/O errors that say which file and what was being done to it ("cannot create
//! /var/lib/snapshelf/blobs: Permission denied"), as confine's `.what(..)` does for syscalls. A
//! full disk keeps its own kind, so the app can say what to do about it.

use std::path::Path;

use crate::error::{Error, ErrorKind, Result};

pub trait IoContext<T> {
    /// `op` is a verb ("create", "read", "rename … to"), `path` the file it was done to.
    fn what(self, op: &str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn what(self, op: &str, path: &Path) -> Result<T> {
        self.map_err(|e| {
            let kind = if e.raw_os_error() == Some(libc::ENOSPC) {
                ErrorKind::InsufficientSpace
            } else {
                ErrorKind::Internal
            };
            // The verb, the path and the system's words stay English (technical); the frame
            // around them is in the caller's language.
            // Translators: {op} is an English verb such as "create" or "rename … to", {path} a
            // file's path, {why} the system's message; keep all three as they are.
            let message = crate::lang::gettext("cannot {op} {path}: {why}")
                .replace("{op}", op)
                .replace("{path}", &path.display().to_string())
                .replace("{why}", &e.to_string());
            Error::new(kind, message)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_and_the_operation() {
        let missing = Path::new("/nonexistent/snapshelf-test");
        let e = std::fs::read(missing).what("read", missing).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Internal);
        assert!(
            e.message
                .starts_with("cannot read /nonexistent/snapshelf-test: "),
            "{}",
            e.message
        );
        let full: std::io::Result<()> = Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        let e = full.what("write", Path::new("/x")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InsufficientSpace);
    }
}
