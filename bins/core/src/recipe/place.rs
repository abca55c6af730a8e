//! Where a recipe runs: on this machine, or inside the debug-interpreter image.
//!
//! The rule, the same for every recipe (and printed in each one's help under WHERE IT RUNS):
//!
//! 1. `--host` runs on this machine; what it lacks is an error naming it and its package.
//! 2. `--image TAG` runs inside that image, through `run-in-image`.
//! 3. Otherwise the recipe runs here when this machine has everything it needs (the
//!    interpreter, valgrind or gdb, the headers and a compiler for the example), and inside
//!    the image when it does not but a container engine answers (`docker info`). The image is
//!    `$DBGPIPE_IMAGE`, else the default recipe's tag (`dbg-image tag`) when it exists, else
//!    the newest local `dbgpipe/python-dbg:3.11-*`, else `dbg-image build` makes it.
//! 4. When neither can, the error is one line naming what this machine lacks and that no
//!    engine answers.
//!
//! Inside the image, commands run through `run-in-image` from the current directory, which it
//! mounts at its own path; the checkout and the tools' directory are mounted too when they lie
//! elsewhere, so paths in the records are the same on both sides and the outputs land in
//! `target/dbgpipe/` as the invoking user's files. The filters that only read logs
//! (vg-filter, bt-demangle) always run here.

use anyhow::{bail, Context};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use xshell::{cmd, Shell};

use super::example::{self, repo_root, Example};
use super::records;
use super::tools;
use super::Workspace;

/// What the user asked about the place: `--host`, `--image TAG`, or neither (declared with
/// the other flags).
pub use super::flags::PlaceOpts;

/// Something a recipe needs on this machine: `Err` names what is missing and its package.
pub type Need = Box<dyn Fn() -> Result<(), String>>;

/// A program on `PATH` (or a path), brought by the Debian package `package`.
pub fn need_program(name: &str, package: &str) -> Need {
    let (name, package) = (name.to_string(), package.to_string());
    Box::new(move || {
        let found = if name.contains('/') {
            Path::new(&name).is_file()
        } else {
            tools::find_on_path(&name).is_some()
        };
        if found {
            Ok(())
        } else {
            Err(format!("no {name} (apt-get install {package})"))
        }
    })
}

/// The user's own command, `program` (on `PATH` or a path).
pub fn need_command(program: &str) -> Need {
    let program = program.to_string();
    Box::new(move || {
        let found = if program.contains('/') {
            Path::new(&program).is_file()
        } else {
            tools::find_on_path(&program).is_some()
        };
        if found {
            Ok(())
        } else {
            Err(format!("no {program} on PATH"))
        }
    })
}

/// What building the example for `python` needs: the interpreter, its headers, a compiler.
pub fn need_example(python: &Path, cpp: bool) -> Need {
    let python = python.to_path_buf();
    Box::new(move || example::can_build(&python, cpp))
}

/// The image a recipe runs in, and how to reach it.
#[derive(Debug, Clone)]
pub struct Image {
    /// The image's tag.
    pub tag: String,
    /// The engine that answered (docker or podman, as a path).
    pub engine: PathBuf,
    /// The run-in-image binary.
    pub runner: PathBuf,
    /// Host directories to mount at their own paths besides the current directory.
    pub mounts: Vec<PathBuf>,
}

/// Where a recipe runs.
#[derive(Debug, Clone)]
pub enum Place {
    /// On this machine.
    Host,
    /// Inside the debug image.
    Image(Image),
}

/// Applies the rule (see the module docs) for `task`, which needs `needs` on this machine.
pub fn choose(
    task: &str,
    needs: &[Need],
    opts: &PlaceOpts,
    ws: &Workspace,
) -> anyhow::Result<Place> {
    let missing = || needs.iter().find_map(|need| need().err());
    if opts.host {
        return match missing() {
            None => Ok(Place::Host),
            Some(what) => bail!("{what} here (--host)"),
        };
    }
    if let Some(tag) = &opts.image {
        let engine = engine_that_answers().with_context(|| {
            format!("no container engine answers to run {tag} (install docker.io or podman, or start its daemon)")
        })?;
        return image(engine, Some(tag), ws);
    }
    let Some(what) = missing() else {
        return Ok(Place::Host);
    };
    match engine_that_answers() {
        Some(engine) => {
            eprintln!("{task}: {what} here: running in the debug image");
            image(engine, None, ws)
        }
        None => bail!(
            "{what} here, and no container engine answers for the debug image (install \
             docker.io or podman, or start its daemon)"
        ),
    }
}

/// docker or podman, the first on `PATH` whose `info` succeeds.
///
/// `info` talks to the daemon, which running a container needs: a docker CLI whose daemon is
/// not running is on `PATH` but does not answer, and then podman may. The one found is passed
/// to run-in-image and dbg-image as `--engine`, so that they do not pick the silent one.
fn engine_that_answers() -> Option<PathBuf> {
    let sh = Shell::new().ok()?;
    ["docker", "podman"].iter().find_map(|name| {
        let program = tools::find_on_path(name)?;
        let answers = sh
            .cmd(&program)
            .arg("info")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .is_ok();
        answers.then_some(program)
    })
}

/// Whether `engine` has an image tagged `tag` locally.
fn image_exists(engine: &Path, tag: &str) -> bool {
    // A Go template's braces would be taken for interpolation by cmd!: pass it as a variable.
    const FORMAT: &str = "{{.Id}}";
    Shell::new().is_ok_and(|sh| {
        cmd!(sh, "{engine} image inspect --format {FORMAT} {tag}")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .is_ok()
    })
}

/// Finds (or builds) the image, per the rule, and the mounts its commands need.
fn image(engine: PathBuf, explicit: Option<&str>, ws: &Workspace) -> anyhow::Result<Place> {
    let tag = match explicit.map(str::to_string).or_else(|| {
        std::env::var("DBGPIPE_IMAGE")
            .ok()
            .filter(|t| !t.is_empty())
    }) {
        Some(tag) => {
            if !image_exists(&engine, &tag) {
                bail!(
                    "no image {tag} here: build it with `dbgpipe image`, or pass another --image"
                );
            }
            tag
        }
        None => default_image(&engine)?,
    };
    // run-in-image mounts the current directory. The project, the outputs' directory, the
    // checkout when the bundled example runs, and the tools' directory (rss-rounds and
    // ptrace-fix run inside) must be visible too, at their own paths, when they lie outside it.
    let cwd = std::env::current_dir().context("no current directory")?;
    let mut mounts = Vec::new();
    let bin_dir = tools::bin("run-in-image")?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut dirs = vec![ws.root.clone(), ws.out.clone(), bin_dir];
    if ws.bundled_example {
        dirs.push(repo_root());
    }
    // The outputs' directory may not exist yet: an engine would make it as root.
    std::fs::create_dir_all(&ws.out)
        .with_context(|| format!("cannot create {}", ws.out.display()))?;
    for dir in dirs {
        if !dir.starts_with(&cwd) && !mounts.iter().any(|m: &PathBuf| dir.starts_with(m)) {
            mounts.push(dir);
        }
    }
    Ok(Place::Image(Image {
        tag,
        engine,
        runner: tools::bin("run-in-image")?,
        mounts,
    }))
}

/// The default recipe's image when it exists, else the newest local 3.11 image, else a new
/// build of the default recipe.
fn default_image(engine: &Path) -> anyhow::Result<String> {
    let sh = Shell::new()?;
    let dbg_image = tools::bin("dbg-image")?;
    let default_tag = sh
        .cmd(&dbg_image)
        .args(["tag", "--python", "3.11"])
        .quiet()
        .read()
        .context("dbg-image tag")?;
    if image_exists(engine, &default_tag) {
        return Ok(default_tag);
    }
    // An image built on another base (`dbg-image build --base dbgpipe/debootstrap:bookworm`,
    // what CI does where no registry answers) has another tag but the same tools.
    let listed = sh
        .cmd(engine)
        .args([
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "dbgpipe/python-dbg",
        ])
        .quiet()
        .ignore_status()
        .read()
        .unwrap_or_default();
    if let Some(tag) = listed
        .lines()
        .map(str::trim)
        .find(|t| t.starts_with("dbgpipe/python-dbg:3.11-"))
    {
        return Ok(tag.to_string());
    }
    eprintln!(
        "dbgpipe: no debug image here: building it (dbg-image build; minutes the first time)"
    );
    let record = sh
        .cmd(&dbg_image)
        .arg("build")
        .arg("--engine")
        .arg(engine)
        .read()
        .context("dbg-image build")?;
    let record: records::Image =
        records::one("dbg-image build's output", "dbg-image", record.trim())?;
    Ok(record.tag)
}

impl Place {
    /// `host`, or `image TAG`: for summaries.
    pub fn describe(&self) -> String {
        match self {
            Place::Host => "host".into(),
            Place::Image(image) => format!("image {}", image.tag),
        }
    }

    /// The debug interpreter a recipe runs: `given` (`--python`), else the one found here on
    /// the host, else in the image the image's `python3.11-dbg` (a path found here need
    /// not exist there).
    pub fn debug_python(&self, given: Option<&Path>) -> PathBuf {
        match (given, self) {
            (Some(python), _) => python.to_path_buf(),
            (None, Place::Host) => debug_python(),
            (None, Place::Image(_)) => PathBuf::from("python3.11-dbg"),
        }
    }

    /// Whether this is the image.
    pub fn is_image(&self) -> bool {
        matches!(self, Place::Image(_))
    }

    /// What goes before a command to run it here (nothing) or in the image
    /// (`run-in-image --engine E --image TAG [--ptrace] [--mount D:D]... [-e K=V]... --`).
    /// `env` is set inside through `-e`; here the caller sets it on the command.
    pub fn prefix(&self, env: &[(String, OsString)], ptrace: bool) -> Vec<OsString> {
        let Place::Image(image) = self else {
            return Vec::new();
        };
        let mut argv: Vec<OsString> = vec![
            image.runner.clone().into(),
            "--engine".into(),
            image.engine.clone().into(),
            "--image".into(),
            image.tag.clone().into(),
        ];
        if ptrace {
            argv.push("--ptrace".into());
        }
        for dir in &image.mounts {
            argv.push("--mount".into());
            let mut spec = dir.clone().into_os_string();
            spec.push(":");
            spec.push(dir);
            argv.push(spec);
        }
        for (key, value) in env {
            argv.push("-e".into());
            let mut kv = OsString::from(key);
            kv.push("=");
            kv.push(value);
            argv.push(kv);
        }
        argv.push("--".into());
        argv
    }

    /// A std `Command` running `argv` with `env` here or in the image, stdin closed: for the
    /// steps whose output goes to a file or which are polled for a progress line, neither of
    /// which xshell 0.2 can do.
    pub fn command(
        &self,
        argv: &[OsString],
        env: &[(String, OsString)],
        ptrace: bool,
    ) -> anyhow::Result<Command> {
        let mut full = self.prefix(env, ptrace);
        full.extend(argv.iter().cloned());
        let (program, args) = full.split_first().context("an empty command")?;
        let mut command = Command::new(program);
        command.args(args).stdin(Stdio::null());
        if !self.is_image() {
            command.envs(env.iter().map(|(k, v)| (k, v)));
        }
        Ok(command)
    }

    /// An xshell command running `argv` with `env` here or in the image (for the steps that
    /// simply run; xshell cannot splat a program name, hence `cmd` and `args`).
    pub fn cmd<'a>(
        &self,
        sh: &'a Shell,
        argv: &[OsString],
        env: &[(String, OsString)],
    ) -> anyhow::Result<xshell::Cmd<'a>> {
        let mut full = self.prefix(env, false);
        full.extend(argv.iter().cloned());
        let (program, args) = full.split_first().context("an empty command")?;
        let mut cmd = sh.cmd(program).args(args);
        if !self.is_image() {
            for (key, value) in env {
                cmd = cmd.env(key, value);
            }
        }
        Ok(cmd)
    }

    /// The C example built for `python` here or in the image. Inside, it is built by the
    /// image's compiler for the image's interpreter into `target/dbgpipe/image-example/TAG/`:
    /// one directory per image, since two images' interpreters of one name (Debian's
    /// python3.11-dbg and a source build's) are not the same build.
    pub fn example(&self, python: &Path) -> anyhow::Result<Example> {
        match self {
            Place::Host => example::build(python, &example::default_out_dir(python)),
            Place::Image(image) => example::build_via(
                &self.prefix(&[], false),
                python,
                &image_out_dir("image-example", &image.tag, python),
                None,
            ),
        }
    }

    /// The C++ example (with debug information) built for `python` here or in the image,
    /// into `target/dbgpipe/example-cpp/` or `target/dbgpipe/image-example-cpp/TAG/`.
    pub fn example_cpp(&self, python: &Path) -> anyhow::Result<Example> {
        match self {
            Place::Host => example::build_cpp(python, &task_out_dir("example-cpp", python), true),
            Place::Image(image) => example::build_via(
                &self.prefix(&[], false),
                python,
                &image_out_dir("image-example-cpp", &image.tag, python),
                Some(true),
            ),
        }
    }
}

/// `target/dbgpipe/<kind>/<image tag, / and : as _>/<interpreter file name>/`.
fn image_out_dir(kind: &str, tag: &str, python: &Path) -> PathBuf {
    let tag: String = tag
        .chars()
        .map(|c| if c == '/' || c == ':' { '_' } else { c })
        .collect();
    task_out_dir(&format!("{kind}/{tag}"), python)
}

/// `target/dbgpipe/<kind>/<interpreter file name>/`.
fn task_out_dir(kind: &str, python: &Path) -> PathBuf {
    let name = python.file_name().unwrap_or_else(|| OsStr::new("python"));
    repo_root()
        .join("target")
        .join("dbgpipe")
        .join(kind)
        .join(name)
}

/// Whether `python` at `place` is a debug build (has `sys.gettotalrefcount`); `None` when it
/// could not be asked.
pub fn is_debug_build(place: &Place, python: &str) -> Option<bool> {
    let argv: Vec<OsString> = vec![
        python.into(),
        "-c".into(),
        "import sys; print(hasattr(sys, 'gettotalrefcount'))".into(),
    ];
    let output = place
        .command(&argv, &[], false)
        .ok()?
        .stderr(Stdio::null())
        .output()
        .ok()?;
    match String::from_utf8_lossy(&output.stdout).trim() {
        "True" => Some(true),
        "False" => Some(false),
        _ => None,
    }
}

/// The interpreter a recipe uses by default: the debug one found here, else its name (which
/// the image has; on this machine its absence is a [`Need`] that sends the recipe there).
pub fn debug_python() -> PathBuf {
    example::debug_python().unwrap_or_else(|| PathBuf::from("python3.11-dbg"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forcing_the_host_names_what_it_lacks_in_one_line() {
        let needs = vec![
            need_program("sh", "dash"),
            need_program("no-such-debugger-xyz", "gdb"),
        ];
        let opts = PlaceOpts {
            host: true,
            image: None,
        };
        let error = format!(
            "{:#}",
            choose("segv", &needs, &opts, &Workspace::checkout()).unwrap_err()
        );
        assert_eq!(
            error,
            "no no-such-debugger-xyz (apt-get install gdb) here (--host)"
        );
        assert!(matches!(
            choose(
                "segv",
                &needs[..1],
                &PlaceOpts::default(),
                &Workspace::checkout()
            )
            .unwrap(),
            Place::Host
        ));
    }

    #[test]
    fn the_image_prefix_passes_env_mounts_and_ptrace() {
        let place = Place::Image(Image {
            tag: "dbgpipe/python-dbg:3.11-x".into(),
            engine: "/usr/bin/docker".into(),
            runner: "/t/run-in-image".into(),
            mounts: vec!["/src".into()],
        });
        let argv = place
            .command(
                &["gdb".into(), "-batch".into()],
                &[("K".into(), "v w".into())],
                true,
            )
            .unwrap();
        let args: Vec<_> = argv.get_args().map(|a| a.to_string_lossy()).collect();
        assert_eq!(argv.get_program(), "/t/run-in-image");
        assert_eq!(
            args,
            [
                "--engine",
                "/usr/bin/docker",
                "--image",
                "dbgpipe/python-dbg:3.11-x",
                "--ptrace",
                "--mount",
                "/src:/src",
                "-e",
                "K=v w",
                "--",
                "gdb",
                "-batch"
            ]
        );
        assert!(Place::Host
            .prefix(&[("K".into(), "v".into())], true)
            .is_empty());
    }
}
