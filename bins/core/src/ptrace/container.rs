//! Whether this process runs inside a container, told from `/proc` alone.
//!
//! A container changes what a debugger may do (the engine drops `CAP_SYS_PTRACE` and installs
//! a seccomp filter), and the fix is then a flag of the engine rather than a sysctl. Three
//! files are read, each a small format of its own, most specific first:
//! - `/proc/1/environ` (NUL-separated): podman, LXC and systemd-nspawn set `container=NAME`;
//! - `/proc/self/mountinfo`: the root mount of a Docker or Podman container is an overlay whose
//!   layers live under the engine's storage directory (this works with cgroup v2, where the
//!   cgroup paths below are all `/`);
//! - `/proc/1/cgroup`: with cgroup v1, paths name the engine (`/docker/<id>`, `/kubepods/…`).
//!
//! Unreadable files count as no evidence: `/proc/1/environ` is readable by root only.

use std::path::Path;

/// Why we think we are in a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The engine or kind: `docker`, `podman`, `kubernetes`, `containerd`, `lxc`, or what
    /// `container=` says.
    pub kind: String,
    /// The file and the part of it that says so.
    pub source: String,
}

/// Engine names as they appear in cgroup paths and overlay layer paths, most specific first.
const MARKERS: &[(&str, &str)] = &[
    ("kubepods", "kubernetes"),
    ("libpod", "podman"),
    ("containers/storage", "podman"),
    ("docker", "docker"),
    ("containerd", "containerd"),
    ("/lxc/", "lxc"),
];

fn marker(text: &str) -> Option<&'static str> {
    MARKERS
        .iter()
        .find(|(needle, _)| text.contains(needle))
        .map(|(_, kind)| *kind)
}

/// `container=NAME` in a NUL-separated environment block.
pub fn from_environ(environ: &[u8]) -> Option<String> {
    environ
        .split(|&b| b == 0)
        .filter_map(|entry| entry.strip_prefix(b"container="))
        .map(|value| String::from_utf8_lossy(value).into_owned())
        .find(|value| !value.is_empty())
}

/// The engine that owns the root mount, from a mountinfo text.
///
/// A line is `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTS`;
/// the last mount on `/` is the one in effect.
pub fn from_mountinfo(text: &str) -> Option<&'static str> {
    let root = text
        .lines()
        .rfind(|line| line.split_whitespace().nth(4) == Some("/"))?;
    let (_, after) = root.split_once(" - ")?;
    let mut fields = after.split_whitespace();
    let fstype = fields.next()?;
    let rest: Vec<&str> = fields.collect();
    if fstype != "overlay" && fstype != "fuse-overlayfs" {
        return None;
    }
    marker(&rest.join(" "))
}

/// The engine named by the cgroup paths of a `/proc/<pid>/cgroup` text (`N:CONTROLLERS:PATH`).
pub fn from_cgroup(text: &str) -> Option<&'static str> {
    text.lines()
        .filter_map(|line| line.splitn(3, ':').nth(2))
        .find_map(marker)
}

/// Looks at the files under `proc_root` (normally `/proc`).
pub fn detect(proc_root: &Path) -> Option<Evidence> {
    // Capped: under --proc-root these are any files. A host with thousands of mounts has a
    // mountinfo of a megabyte or two; sixteen is far beyond any real one.
    let read = |rel: &str| {
        crate::input::read_file_capped(&proc_root.join(rel), 16 * crate::input::MAX_SMALL_FILE).ok()
    };
    if let Some(kind) = read("1/environ").as_deref().and_then(from_environ) {
        return Some(Evidence {
            source: format!("/proc/1/environ: container={kind}"),
            kind,
        });
    }
    let text = |rel: &str| read(rel).map(|b| String::from_utf8_lossy(&b).into_owned());
    if let Some(kind) = text("self/mountinfo").as_deref().and_then(from_mountinfo) {
        return Some(Evidence {
            kind: kind.to_string(),
            source: format!("/proc/self/mountinfo: the root is an overlay of {kind}'s storage"),
        });
    }
    if let Some(kind) = text("1/cgroup").as_deref().and_then(from_cgroup) {
        return Some(Evidence {
            kind: kind.to_string(),
            source: format!("/proc/1/cgroup: a {kind} cgroup path"),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environ_table() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"PATH=/bin\0container=podman\0HOME=/", Some("podman")),
            (b"container=lxc\0", Some("lxc")),
            (b"container=\0", None),
            (b"PATH=/bin\0", None),
            (b"", None),
        ];
        for (input, want) in cases {
            assert_eq!(from_environ(input).as_deref(), *want, "{input:?}");
        }
    }

    #[test]
    fn mountinfo_table() {
        let docker = "1077 945 0:69 / / rw,relatime master:451 - overlay overlay rw,\
            lowerdir=/var/lib/docker/overlay2/l/ABC:/var/lib/docker/overlay2/l/DEF,\
            upperdir=/var/lib/docker/overlay2/x/diff,workdir=/var/lib/docker/overlay2/x/work\n\
            1078 1077 0:72 / /proc rw,nosuid - proc proc rw\n";
        let podman = "600 500 0:50 / / rw - overlay overlay rw,lowerdir=/home/u/.local/share/\
            containers/storage/overlay/l/A,upperdir=/x\n";
        let host = "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
            25 22 0:5 / /dev rw - devtmpfs udev rw\n";
        // A later mount on / shadows the first.
        let remounted = format!(
            "{host}90 22 0:80 / / rw - overlay overlay lowerdir=/var/lib/docker/overlay2/l/Q\n"
        );
        for (input, want) in [
            (docker, Some("docker")),
            (podman, Some("podman")),
            (host, None),
            (remounted.as_str(), Some("docker")),
            ("", None),
            ("garbage line\n", None),
        ] {
            assert_eq!(from_mountinfo(input), want, "{input}");
        }
    }

    #[test]
    fn cgroup_table() {
        for (input, want) in [
            ("12:pids:/docker/3be4ac50b4ac\n0::/\n", Some("docker")),
            ("0::/system.slice/docker-3be4ac.scope\n", Some("docker")),
            (
                "11:memory:/kubepods/burstable/pod1/abc\n",
                Some("kubernetes"),
            ),
            (
                "1:name=systemd:/machine.slice/libpod-abc.scope\n",
                Some("podman"),
            ),
            ("4:cpu:/lxc/box\n", Some("lxc")),
            ("9:name=systemd:/\n0::/\n", None),
            ("0::/user.slice/user-1000.slice/session-2.scope\n", None),
        ] {
            assert_eq!(from_cgroup(input), want, "{input}");
        }
    }

    #[test]
    fn fake_trees() {
        let dir = std::env::temp_dir().join(format!("dbgpipe-container-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("1")).unwrap();
        std::fs::create_dir_all(dir.join("self")).unwrap();
        assert_eq!(detect(&dir), None);
        std::fs::write(dir.join("1/cgroup"), "12:pids:/docker/abc\n").unwrap();
        assert_eq!(detect(&dir).unwrap().kind, "docker");
        std::fs::write(dir.join("1/environ"), b"container=podman\0").unwrap();
        let evidence = detect(&dir).unwrap();
        assert_eq!(evidence.kind, "podman");
        assert!(evidence.source.contains("/proc/1/environ"), "{evidence:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
