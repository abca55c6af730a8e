//! What this machine says about tracing, read from `/proc` (or a fake tree under
//! `--proc-root`): Yama's `ptrace_scope`, the capabilities, seccomp mode and user of this
//! process ([`crate::ptrace::status`]), whether it runs in a container
//! ([`crate::ptrace::container`]), and the kernel's release.
//!
//! Every file is read whole but capped ([`MAX_SMALL_FILE`]): under `--proc-root` they are any
//! files. A missing Yama file means the kernel has no Yama; a missing or malformed status
//! file is an error, since nothing can be decided without it.

use crate::input::{read_file_capped, read_to_end_capped, MAX_SMALL_FILE};
use crate::ptrace::container::{self, Evidence};
use crate::ptrace::status::{self, CAP_SYS_PTRACE};
use crate::ptrace::Paths;
use crate::Error;

/// What this machine says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Yama's ptrace_scope, `None` when Yama is absent.
    pub yama: Option<u8>,
    /// `CAP_SYS_PTRACE` in the effective set.
    pub cap_sys_ptrace: bool,
    /// Seccomp mode (0 none, 1 strict, 2 filter); `None` when the kernel does not say.
    pub seccomp: Option<u8>,
    /// `no_new_privs`.
    pub no_new_privs: Option<bool>,
    /// Effective uid.
    pub euid: Option<u32>,
    /// Why we think we are in a container.
    pub container: Option<Evidence>,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: Option<String>,
}

/// Reads the facts under `paths`.
pub fn gather(paths: &Paths) -> Result<Facts, Error> {
    let yama = yama(paths)?;
    let status = status::read(&paths.proc_root.join("self/status"))?;
    let kernel = read_file_capped(
        &paths.proc_root.join("sys/kernel/osrelease"),
        MAX_SMALL_FILE,
    )
    .ok()
    .map(|s| String::from_utf8_lossy(&s).trim().to_string())
    .filter(|s| !s.is_empty());
    Ok(Facts {
        yama,
        cap_sys_ptrace: status.has_capability(CAP_SYS_PTRACE).unwrap_or(false),
        seccomp: status.seccomp,
        no_new_privs: status.no_new_privs,
        euid: status.euid(),
        container: container::detect(&paths.proc_root),
        kernel,
    })
}

/// Yama's ptrace_scope, `None` when the file is missing (no Yama in the kernel).
fn yama(paths: &Paths) -> Result<Option<u8>, Error> {
    let path = paths.yama();
    let name = path.display().to_string();
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&name, &e)),
    };
    let bytes = read_to_end_capped(&name, file, MAX_SMALL_FILE)?;
    let text = String::from_utf8_lossy(&bytes);
    let value = text.trim();
    value
        .parse::<u8>()
        .ok()
        .filter(|v| *v <= 3)
        .map(Some)
        .ok_or_else(|| {
            Error::at(
                &name,
                Some(1),
                format!("malformed ptrace_scope {value:?} (expected 0 to 3)"),
            )
        })
}

/// `major.minor` of a kernel release string (`6.1.0-18-amd64`).
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions() {
        assert_eq!(kernel_version("6.18.44-fc"), Some((6, 18)));
        assert_eq!(kernel_version("4.4.0-210-generic"), Some((4, 4)));
        assert_eq!(kernel_version("x"), None);
    }

    #[test]
    fn the_real_machine_reads() {
        let facts = gather(&Paths::default()).unwrap();
        assert!(facts.euid.is_some());
        assert_eq!(
            facts.yama.is_some(),
            std::path::Path::new("/proc/sys/kernel/yama/ptrace_scope").exists()
        );
    }
}
