//! Resident memory of a process tree, read from Linux's `/proc`.
//!
//! A tree is a process and every descendant, found through the parent pid in
//! `/proc/PID/stat`. Its RSS is the sum of `VmRSS` over the tree, and its peak the sum of
//! `VmHWM` (each process's own high-water mark): an upper bound of the tree's true peak
//! that, unlike sampling, also sees spikes between two samples. Processes that end while
//! being read are skipped.

use std::collections::HashMap;
use std::fs;

/// Memory of a set of processes, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Sum of `VmRSS`.
    pub rss: u64,
    /// Sum of `VmHWM`.
    pub peak: u64,
    /// Processes read.
    pub processes: usize,
}

/// `root` and its descendants (root first), by one scan of `/proc`.
pub fn tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(ppid) = parent(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            out.extend(kids.iter().copied().filter(|k| *k != root));
        }
        i += 1;
    }
    out
}

/// The parent pid from `/proc/PID/stat`: the field after the state, which follows the
/// command name in parentheses (a name that may itself hold spaces and parentheses, hence
/// the last `)`).
fn parent(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_ppid(&stat)
}

fn parse_ppid(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

/// Memory of these processes now.
pub fn usage(pids: &[u32]) -> Usage {
    let mut u = Usage::default();
    for &pid in pids {
        if let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) {
            let (rss, peak) = parse_status(&status);
            u.rss += rss;
            u.peak += peak.max(rss);
            u.processes += 1;
        }
    }
    u
}

/// `VmRSS` and `VmHWM` in bytes (0 when absent, as for a zombie).
fn parse_status(status: &str) -> (u64, u64) {
    let mut rss = 0;
    let mut hwm = 0;
    for line in status.lines() {
        let field = |prefix: &str| {
            line.strip_prefix(prefix)
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kib| kib * 1024)
        };
        if let Some(v) = field("VmRSS:") {
            rss = v;
        } else if let Some(v) = field("VmHWM:") {
            hwm = v;
        }
    }
    (rss, hwm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_strange_name() {
        assert_eq!(parse_ppid("42 (a) b (c)) S 17 42 42 0"), Some(17));
        assert_eq!(parse_ppid("garbage"), None);
    }

    #[test]
    fn status_fields() {
        let s = "Name:\tpython\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(parse_status(s), (10240 * 1024, 20480 * 1024));
        assert_eq!(parse_status("Name: zombie\n"), (0, 0));
    }

    #[test]
    fn this_process_has_memory() {
        let me = std::process::id();
        let t = tree(me);
        assert_eq!(t[0], me);
        let u = usage(&t);
        assert!(u.rss > 0 && u.peak >= u.rss, "{u:?}");
    }
}
