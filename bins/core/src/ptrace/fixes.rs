//! The fixes ptrace-fix makes on request, root only, and only these:
//! - `--apply` lowers ptrace_scope 1 or 2 to 0 until reboot and remembers the previous value
//!   in `/run/dbgpipe/ptrace_scope.before` (`/run` is emptied at boot, as the setting is);
//! - `--persist` writes `/etc/sysctl.d/90-dbgpipe-ptrace.conf`;
//! - `--revert` undoes both, and only what ptrace-fix did: a value changed since `--apply`
//!   by someone else is left as it is.
//!
//! Each returns the [`Change`] records that say what was done (or found not needed) and how
//! to undo it. Inside a container these files are the host's: a read-only file there is an
//! error that says so.

use crate::ptrace::facts::Facts;
use crate::ptrace::records::{Action, Change};
use crate::ptrace::Paths;
use crate::Error;
use std::path::Path;

fn change(
    action: Action,
    path: &Path,
    changed: bool,
    from: Option<String>,
    to: Option<String>,
    message: String,
) -> Change {
    Change {
        action,
        path: path.display().to_string(),
        changed,
        from,
        to,
        message,
    }
}

fn require_root(facts: &Facts, flag: &str) -> Result<(), Error> {
    match facts.euid {
        Some(0) => Ok(()),
        Some(uid) => Err(Error::at(
            flag,
            None,
            format!("needs root (effective uid {uid}): run it with sudo"),
        )),
        None => Err(Error::at(
            flag,
            None,
            "cannot tell the effective uid from /proc/self/status",
        )),
    }
}

/// A write error in words: read-only in a container, refused without root.
fn write_error(path: &Path, e: &std::io::Error, container: bool) -> Error {
    let name = path.display().to_string();
    match e.raw_os_error() {
        Some(30) if container => Error::at(
            &name,
            None,
            "read-only inside a container: change it on the host",
        ),
        _ => Error::io(&name, e),
    }
}

/// `--apply`: ptrace_scope 1 or 2 → 0 until reboot.
pub fn apply(paths: &Paths, facts: &Facts) -> Result<Change, Error> {
    require_root(facts, "--apply")?;
    let yama = paths.yama();
    match facts.yama {
        None => Ok(change(
            Action::Apply,
            &yama,
            false,
            None,
            None,
            "Yama is absent: nothing to lower".into(),
        )),
        Some(0) => Ok(change(
            Action::Apply,
            &yama,
            false,
            Some("0".into()),
            Some("0".into()),
            "ptrace_scope is already 0".into(),
        )),
        Some(3) => Err(Error::at(
            "--apply",
            None,
            "ptrace_scope 3 cannot be lowered before a reboot: `ptrace-fix --persist`, then reboot",
        )),
        Some(n) => {
            let state = paths.state_file();
            // Keep the value from before the first --apply when applied twice.
            if !state.exists() {
                if let Some(dir) = state.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| write_error(dir, &e, facts.container.is_some()))?;
                }
                std::fs::write(&state, format!("{n}\n"))
                    .map_err(|e| write_error(&state, &e, facts.container.is_some()))?;
            }
            if let Err(e) = std::fs::write(&yama, "0\n") {
                let _ = std::fs::remove_file(&state);
                return Err(write_error(&yama, &e, facts.container.is_some()));
            }
            Ok(change(
                Action::Apply,
                &yama,
                true,
                Some(n.to_string()),
                Some("0".into()),
                format!("kernel.yama.ptrace_scope {n} -> 0 until reboot; undo: `ptrace-fix --revert` (or `sysctl -w kernel.yama.ptrace_scope={n}`)"),
            ))
        }
    }
}

/// What `--persist` writes.
pub const PERSIST_TEXT: &str =
    "# Written by `ptrace-fix --persist` (dbgpipe): let debuggers attach to processes of\n\
# the same user (Yama's classic mode). Undo: `ptrace-fix --revert`, or delete this file.\n\
kernel.yama.ptrace_scope = 0\n";

/// `--persist`: the sysctl.d file that sets ptrace_scope 0 at boot.
pub fn persist(paths: &Paths, facts: &Facts) -> Result<Change, Error> {
    require_root(facts, "--persist")?;
    let file = paths.persist_file();
    if facts.yama.is_none() {
        return Ok(change(
            Action::Persist,
            &file,
            false,
            None,
            None,
            "Yama is absent: nothing to persist".into(),
        ));
    }
    if std::fs::read_to_string(&file).is_ok_and(|t| t == PERSIST_TEXT) {
        return Ok(change(
            Action::Persist,
            &file,
            false,
            Some("0".into()),
            Some("0".into()),
            "already written".into(),
        ));
    }
    std::fs::create_dir_all(&paths.sysctl_dir)
        .map_err(|e| write_error(&paths.sysctl_dir, &e, facts.container.is_some()))?;
    std::fs::write(&file, PERSIST_TEXT)
        .map_err(|e| write_error(&file, &e, facts.container.is_some()))?;
    Ok(change(
        Action::Persist,
        &file,
        true,
        None,
        Some("0".into()),
        "kernel.yama.ptrace_scope = 0 from the next boot (now too: `sysctl --system` or `ptrace-fix --apply`); undo: `ptrace-fix --revert`, or delete the file".into(),
    ))
}

/// `--revert`: puts back the value `--apply` replaced and removes `--persist`'s file.
pub fn revert(paths: &Paths, facts: &Facts) -> Result<Vec<Change>, Error> {
    let state = paths.state_file();
    let file = paths.persist_file();
    let mut out = Vec::new();
    if state.exists() || file.exists() {
        require_root(facts, "--revert")?;
    }
    if state.exists() {
        let yama = paths.yama();
        let text = std::fs::read_to_string(&state)
            .map_err(|e| Error::io(&state.display().to_string(), &e))?;
        let before = text
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|v| *v <= 3)
            .ok_or_else(|| {
                Error::at(
                    &state.display().to_string(),
                    Some(1),
                    format!("malformed saved value {:?}", text.trim()),
                )
            })?;
        match facts.yama {
            Some(0) => {
                std::fs::write(&yama, format!("{before}\n"))
                    .map_err(|e| write_error(&yama, &e, facts.container.is_some()))?;
                out.push(change(
                    Action::Revert,
                    &yama,
                    true,
                    Some("0".into()),
                    Some(before.to_string()),
                    format!("kernel.yama.ptrace_scope 0 -> {before}, as before --apply"),
                ));
            }
            now => out.push(change(
                Action::Revert,
                &yama,
                false,
                now.map(|n| n.to_string()),
                now.map(|n| n.to_string()),
                "ptrace_scope changed since --apply (or Yama is gone): left as it is".into(),
            )),
        }
        std::fs::remove_file(&state)
            .map_err(|e| write_error(&state, &e, facts.container.is_some()))?;
    }
    if file.exists() {
        std::fs::remove_file(&file)
            .map_err(|e| write_error(&file, &e, facts.container.is_some()))?;
        out.push(change(
            Action::Revert,
            &file,
            true,
            Some("0".into()),
            None,
            "removed: the next boot uses the system's own setting".into(),
        ));
    }
    if out.is_empty() {
        out.push(change(
            Action::Revert,
            &paths.yama(),
            false,
            None,
            None,
            "nothing to revert: ptrace-fix changed nothing here".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake machine as root with Yama at `yama`.
    fn tree(name: &str, yama: u8) -> (Paths, Facts) {
        let dir = std::env::temp_dir().join(format!("dbgpipe-fixes-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let paths = Paths {
            proc_root: dir.join("proc"),
            sysctl_dir: dir.join("sysctl.d"),
            run_dir: dir.join("run"),
        };
        std::fs::create_dir_all(paths.yama().parent().unwrap()).unwrap();
        std::fs::write(paths.yama(), format!("{yama}\n")).unwrap();
        let facts = Facts {
            yama: Some(yama),
            cap_sys_ptrace: true,
            seccomp: Some(0),
            no_new_privs: Some(false),
            euid: Some(0),
            container: None,
            kernel: None,
        };
        (paths, facts)
    }

    /// `--revert` undoes only what `--apply` did: a value someone changed since is theirs.
    #[test]
    fn a_value_changed_since_apply_is_left_alone() {
        let (paths, mut facts) = tree("changed", 2);
        let c = apply(&paths, &facts).unwrap();
        assert_eq!((c.action, c.changed), (Action::Apply, true));
        std::fs::write(paths.yama(), "1\n").unwrap();
        facts.yama = Some(1);
        let c = revert(&paths, &facts).unwrap();
        assert_eq!(c.len(), 1);
        assert!(!c[0].changed, "{c:?}");
        assert!(c[0].message.contains("left as it is"), "{c:?}");
        assert_eq!(std::fs::read_to_string(paths.yama()).unwrap(), "1\n");
        assert!(!paths.state_file().exists(), "the saved value is spent");
        std::fs::remove_dir_all(paths.proc_root.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_saved_value_that_is_no_scope_is_an_error_naming_it() {
        let (paths, mut facts) = tree("malformed", 1);
        apply(&paths, &facts).unwrap();
        facts.yama = Some(0);
        std::fs::write(paths.state_file(), "seven\n").unwrap();
        let e = revert(&paths, &facts).unwrap_err().to_string();
        assert!(
            e.contains("ptrace_scope.before:1: malformed saved value"),
            "{e}"
        );
        std::fs::remove_dir_all(paths.proc_root.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_read_only_file_in_a_container_says_where_to_change_it() {
        let e = std::io::Error::from_raw_os_error(30);
        let msg = write_error(Path::new("/proc/sys/x"), &e, true).to_string();
        assert_eq!(
            msg,
            "/proc/sys/x: read-only inside a container: change it on the host"
        );
        assert!(write_error(Path::new("/x"), &e, false)
            .to_string()
            .contains("Read-only file system"));
    }
}
