//! The sandbox's namespaces: made with capabilities, or in an unprivileged user namespace that
//! maps the user to itself.

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};

use crate::error::{Context, Error, Result};
use crate::sandbox::Power;

/// The namespaces of a sandbox: mounts, PIDs (so that `/proc` shows the app's own processes only),
/// and with `private_network` the network (see [`crate::landlock`]). The PID namespace takes
/// effect for the children made after this call.
pub fn enter_namespace(power: Power, uid: u32, gid: u32, private_network: bool) -> Result<()> {
    let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID;
    if private_network {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    match power {
        Power::Privileged => unshare(flags).map_err(|errno| Error::Unsupported {
            what: "cannot create the sandbox's mount, PID and network namespaces".into(),
            errno,
        })?,
        Power::UserNamespace => {
            unshare(CloneFlags::CLONE_NEWUSER | flags).map_err(|errno| Error::Unsupported {
                what: "cannot create a user namespace (unprivileged user namespaces may be \
                           disabled: sysctl kernel.unprivileged_userns_clone or \
                           user.max_user_namespaces; or install snapshelf-confine with its file \
                           capabilities)"
                    .into(),
                errno,
            })?;
            let write = |file: &str, text: String| {
                std::fs::write(format!("/proc/self/{file}"), text).map_err(|e| {
                    Error::setup(
                        format!("cannot write /proc/self/{file}"),
                        Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                    )
                })
            };
            write("setgroups", "deny".into())?;
            write("uid_map", format!("{uid} {uid} 1"))?;
            write("gid_map", format!("{gid} {gid} 1"))?;
        }
    }
    // Nothing we mount goes back to the host; what the host mounts later (a USB stick) still
    // reaches us.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .what(|| "cannot make the mount namespace a slave of the host's".into())
}
