//! The container engine: `docker`, or `podman`, whose command lines are the same for what
//! dbg-image and run-in-image do (build, import, image inspect, run).

use crate::Error;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Which engine a program is; decides the few flags that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Docker (or a compatible CLI).
    Docker,
    /// Podman: rootless by default, so the user mapping differs.
    Podman,
}

/// A container engine found on this machine.
#[derive(Debug, Clone)]
pub struct Engine {
    /// The program to run.
    pub program: PathBuf,
    /// What it is.
    pub kind: Kind,
}

/// The engines looked for, in order, when none is chosen.
const ENGINES: &[&str] = &["docker", "podman"];

/// A program on `PATH` (or the path itself when it has a `/`).
pub fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = Path::new(name);
        return path.is_file().then(|| path.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

impl Engine {
    /// The engine named by `choice` (`docker`, `podman`, or a path to either), or the first
    /// of docker and podman on `PATH`.
    pub fn find(choice: Option<&str>) -> Result<Engine, Error> {
        let (program, name) = match choice {
            Some(name) => (
                find_program(name).ok_or_else(|| {
                    Error::at(
                        "engine",
                        None,
                        format!(
                            "{name} not found: install it (apt-get install {}) or pass --engine PATH",
                            if name.contains("podman") { "podman" } else { "docker.io" }
                        ),
                    )
                })?,
                name.to_string(),
            ),
            None => ENGINES
                .iter()
                .find_map(|name| find_program(name).map(|p| (p, name.to_string())))
                .ok_or_else(|| {
                    Error::at(
                        "engine",
                        None,
                        "no container engine on PATH: install docker (apt-get install docker.io) or podman, or pass --engine PATH",
                    )
                })?,
        };
        let base = Path::new(&name)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kind = if base.contains("podman") {
            Kind::Podman
        } else {
            Kind::Docker
        };
        Ok(Engine { program, kind })
    }

    /// The engine's short name, for messages and records.
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Docker => "docker",
            Kind::Podman => "podman",
        }
    }

    /// A command running the engine.
    pub fn command(&self) -> Command {
        Command::new(&self.program)
    }

    /// Runs the engine with `args`, stdin closed, and returns its stdout; a failure is an
    /// error carrying the engine's own first complaint.
    pub fn capture<I, S>(&self, args: I) -> Result<String, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<S> = args.into_iter().collect();
        let what = format!(
            "{} {}",
            self.name(),
            args.first()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let out = self
            .command()
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                Error::at(
                    &what,
                    None,
                    format!("cannot run {}: {e}", self.program.display()),
                )
            })?;
        if !out.status.success() {
            return Err(Error::at(
                &what,
                None,
                format!("failed ({}): {}", out.status, first_line(&out.stderr)),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The id of a local image, `None` when there is no such image. Any other failure (the
    /// daemon is not running) is an error.
    pub fn image_id(&self, tag: &str) -> Result<Option<String>, Error> {
        let out = self
            .command()
            .args(["image", "inspect", "--format", "{{.Id}}", tag])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                Error::at(
                    &format!("{} image inspect", self.name()),
                    None,
                    format!("cannot run {}: {e}", self.program.display()),
                )
            })?;
        if out.status.success() {
            return Ok(Some(
                String::from_utf8_lossy(&out.stdout).trim().to_string(),
            ));
        }
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        if err.contains("no such image")
            || err.contains("image not known")
            || err.contains("no such object")
        {
            return Ok(None);
        }
        Err(Error::at(
            &format!("{} image inspect {tag}", self.name()),
            None,
            first_line(&out.stderr),
        ))
    }

    /// The labels of a local image.
    pub fn labels(&self, tag: &str) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        let text = self.capture([
            "image",
            "inspect",
            "--format",
            "{{json .Config.Labels}}",
            tag,
        ])?;
        Ok(match serde_json::from_str(text.trim()) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        })
    }
}

/// The first non-empty line of a command's stderr, for a one-line error.
pub fn first_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_engine_is_an_error_naming_it_and_the_package() {
        let error = Engine::find(Some("/nonexistent/docker"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/docker not found"), "{error}");
        assert!(error.contains("apt-get install docker.io"), "{error}");
    }

    #[test]
    fn the_kind_follows_the_name() {
        let sh = find_program("sh").unwrap();
        assert_eq!(
            Engine::find(Some(sh.to_str().unwrap())).unwrap().kind,
            Kind::Docker
        );
        assert_eq!(
            first_line(b"\n  Error: no such image: x\nmore"),
            "Error: no such image: x"
        );
        assert_eq!(first_line(b""), "no message");
    }
}
