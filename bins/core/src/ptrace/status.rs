//! `/proc/<pid>/status`: the lines that decide what a process may do to others (user and
//! group ids, effective capabilities, seccomp mode, `no_new_privs`).
//!
//! ptrace-fix reads them to tell why a debugger cannot trace, and run-in-image reads the
//! effective uid and gid to run the container as the invoking user. Reading them from the
//! file rather than through system calls keeps the tools free of `unsafe` and lets the tests
//! point them at fake trees.
//!
//! The format is one `Key:\tvalue` per line. Keys this module does not use are skipped; a
//! used key with a malformed value, or a line that is not `Key: value`, is an error naming
//! the line.

use crate::Error;
use nom::bytes::complete::take_while1;
use nom::character::complete::{char, space0};
use nom::{IResult, Parser as _};
use std::path::Path;

/// Bit of `CAP_SYS_PTRACE` in the capability sets (linux/capability.h).
pub const CAP_SYS_PTRACE: u32 = 19;

/// What the status file says, for the keys used here. `None` where the line is missing
/// (older kernels lack `Seccomp` and `NoNewPrivs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// `Uid:` real, effective, saved and filesystem user ids.
    pub uid: Option<[u32; 4]>,
    /// `Gid:` real, effective, saved and filesystem group ids.
    pub gid: Option<[u32; 4]>,
    /// `CapEff:` the effective capability set as a bit mask.
    pub cap_eff: Option<u64>,
    /// `Seccomp:` 0 none, 1 strict, 2 filter.
    pub seccomp: Option<u8>,
    /// `NoNewPrivs:` set by container engines and by `prctl(PR_SET_NO_NEW_PRIVS)`.
    pub no_new_privs: Option<bool>,
}

impl Status {
    /// The effective user id.
    pub fn euid(&self) -> Option<u32> {
        self.uid.map(|ids| ids[1])
    }

    /// The effective group id.
    pub fn egid(&self) -> Option<u32> {
        self.gid.map(|ids| ids[1])
    }

    /// Whether capability number `cap` is in the effective set.
    pub fn has_capability(&self, cap: u32) -> Option<bool> {
        self.cap_eff
            .map(|mask| cap < 64 && mask & (1u64 << cap) != 0)
    }
}

/// `Key:` then optional blanks; returns (key, value).
fn key_value(line: &str) -> IResult<&str, &str> {
    let (rest, (key, _, _)) = (
        take_while1(|c: char| c != ':' && c != '\t' && c != '\n'),
        char(':'),
        space0,
    )
        .parse(line)?;
    Ok((rest, key))
}

/// Parses a status file's text; `name` is used in errors.
pub fn parse(name: &str, text: &str) -> Result<Status, Error> {
    let mut status = Status::default();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |message: String| Error::at(name, Some(index as u64 + 1), message);
        let Ok((value, key)) = key_value(line) else {
            return Err(at(format!("not a `Key: value` line: {line:?}")));
        };
        let value = value.trim();
        match key {
            "Uid" => status.uid = Some(ids(value).ok_or_else(|| at(bad("Uid", value)))?),
            "Gid" => status.gid = Some(ids(value).ok_or_else(|| at(bad("Gid", value)))?),
            "CapEff" => {
                // Always 16 hex digits in practice; fewer are accepted, more cannot be a
                // 64-bit mask.
                let mask = u64::from_str_radix(value, 16)
                    .ok()
                    .filter(|_| value.len() <= 16)
                    .ok_or_else(|| at(bad("CapEff", value)))?;
                status.cap_eff = Some(mask);
            }
            "Seccomp" => {
                let mode = value
                    .parse::<u8>()
                    .ok()
                    .filter(|mode| *mode <= 2)
                    .ok_or_else(|| at(bad("Seccomp", value)))?;
                status.seccomp = Some(mode);
            }
            "NoNewPrivs" => {
                status.no_new_privs = Some(match value {
                    "0" => false,
                    "1" => true,
                    _ => return Err(at(bad("NoNewPrivs", value))),
                })
            }
            _ => {}
        }
    }
    Ok(status)
}

fn bad(key: &str, value: &str) -> String {
    format!("malformed {key} value {value:?}")
}

/// Four whitespace-separated decimal ids.
fn ids(value: &str) -> Option<[u32; 4]> {
    let mut out = [0u32; 4];
    let mut fields = value.split_whitespace();
    for slot in &mut out {
        *slot = fields.next()?.parse().ok()?;
    }
    fields.next().is_none().then_some(out)
}

/// Reads and parses a status file (`/proc/self/status`, or one in a fake tree).
pub fn read(path: &Path) -> Result<Status, Error> {
    let name = path.display().to_string();
    let text = crate::input::read_file_capped(path, crate::input::MAX_SMALL_FILE)?;
    parse(&name, &String::from_utf8_lossy(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str =
        "Name:\tcat\nUmask:\t0022\nState:\tR (running)\nUid:\t1000\t1000\t1000\t1000\n\
        Gid:\t100\t101\t102\t103\nCapInh:\t0000000000000000\nCapEff:\t000001fffeffffff\n\
        NoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n";

    #[test]
    fn a_real_status_file_gives_ids_capabilities_and_seccomp() {
        let status = parse("status", HOST).unwrap();
        assert_eq!(status.uid, Some([1000; 4]));
        assert_eq!(status.euid(), Some(1000));
        assert_eq!(status.egid(), Some(101));
        assert_eq!(status.cap_eff, Some(0x1fffeffffff));
        assert_eq!(status.has_capability(CAP_SYS_PTRACE), Some(true));
        assert_eq!(status.seccomp, Some(0));
        assert_eq!(status.no_new_privs, Some(false));
    }

    #[test]
    fn table_of_values() {
        // (line, expected field check)
        type Check = fn(&Status) -> bool;
        let cases: &[(&str, Check)] = &[
            // Docker's default capability set: no CAP_SYS_PTRACE (bit 19).
            ("CapEff:\t00000000a80425fb", |s| {
                s.has_capability(CAP_SYS_PTRACE) == Some(false)
            }),
            ("CapEff:\t0000000000080000", |s| {
                s.has_capability(CAP_SYS_PTRACE) == Some(true)
            }),
            ("CapEff: 0", |s| s.cap_eff == Some(0)),
            ("Seccomp:\t2", |s| s.seccomp == Some(2)),
            ("Seccomp:\t1", |s| s.seccomp == Some(1)),
            ("NoNewPrivs:\t1", |s| s.no_new_privs == Some(true)),
            ("Uid:\t0\t0\t0\t0", |s| s.euid() == Some(0)),
            ("Uid:\t1\t2\t3\t4", |s| s.euid() == Some(2)),
            ("Groups:\t4 24 27", |s| *s == Status::default()),
            ("", |s| *s == Status::default()),
            // An old kernel: none of the optional lines.
            ("Name:\tx", |s| {
                s.seccomp.is_none() && s.no_new_privs.is_none()
            }),
        ];
        for (line, check) in cases {
            let status = parse("t", line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert!(check(&status), "{line:?} gave {status:?}");
        }
    }

    #[test]
    fn malformed_values_are_errors_naming_the_line() {
        for (text, needle) in [
            ("Name:\tx\nCapEff:\tzz", "t:2: malformed CapEff"),
            ("CapEff:\t00000000000000000001", "malformed CapEff"),
            ("Seccomp:\t3", "malformed Seccomp"),
            ("Uid:\t0\t0\t0", "malformed Uid"),
            ("Uid:\t0\t0\t0\t0\t0", "malformed Uid"),
            ("Gid:\t-1\t0\t0\t0", "malformed Gid"),
            ("NoNewPrivs:\tyes", "malformed NoNewPrivs"),
            ("no colon here", "t:1: not a `Key: value` line"),
        ] {
            let error = parse("t", text).unwrap_err().to_string();
            assert!(error.contains(needle), "{text:?}: {error}");
        }
    }

    #[test]
    fn the_real_file_parses() {
        let status = read(Path::new("/proc/self/status")).unwrap();
        assert!(status.euid().is_some());
        assert!(status.cap_eff.is_some());
    }
}
