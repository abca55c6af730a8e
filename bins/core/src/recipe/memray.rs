//! `cargo xtask memray [--root DIR] [-- CMD…]`: native leaks with memray, and the `--leaks`
//! flamegraph.
//!
//! The manual recipe: install memray, `memray run --native --trace-python-allocators -o
//! out.bin script.py`, then `memray flamegraph --leaks out.bin`, open the HTML and hunt for
//! your function among the interpreter's. Here the same two commands run, and the capture is
//! also read with memray's own reader (`memray_leaks.py`, next to this file) to name the
//! functions that leaked native memory: each leaked allocation is attributed to the native
//! function that asked for it (the allocator's caller, past `operator new`, `std::`
//! allocators and `strdup`), and that function is the project's when its source lies under
//! the root (`--root`: the current directory for a command, the checkout for the example).
//! Python objects leaked by the project (a missing `Py_DECREF`) are
//! allocated by the interpreter's allocator and show in the flamegraph, but they are the
//! `refs` recipe's to judge.
//!
//! memray's wheels only load into a release interpreter, not into `python3.11-dbg`, so this
//! recipe uses the release `/usr/bin/python3.11`: memray lives in a venv of it,
//! `target/dbgpipe/venv` (made with `python3.11 -m venv` and `pip install memray==VERSION` on
//! first use), and the example is built for it. Inside the image memray is the image's
//! (`/opt/memray`, a venv of the image's release interpreter).
//!
//! Leaves `target/dbgpipe/memray/<name>.bin` (the capture), `<name>.html` (the flamegraph),
//! `<name>.leaks.jsonl` (leak sites, largest first, and a summary). Exit status: 0 no project
//! function leaks, 1 one does, 2 the recipe could not run.

use anyhow::{bail, Context};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use xshell::{cmd, Shell};

use super::example::{self, repo_root};
use super::flags;
use super::place::{self, Place, PlaceOpts};
use super::records::{self, FlamegraphData, Leak, LeakSummary, MemrayLeaks};
use super::tools;
use super::{Status, Workspace};

/// The memray release installed into the venv: the one the image pins (`dbg-image`'s
/// `MEMRAY_VERSION`; a test checks that `docker/Dockerfile.debian` says the same).
pub const MEMRAY_VERSION: &str = "1.20.0";

/// The release interpreter memray's wheels load into, on this machine and in the image.
pub const RELEASE_PYTHON: &str = "/usr/bin/python3.11";

/// memray's interpreter inside the image (`dbg-image`'s recipe: a venv in `/opt/memray`).
pub const IMAGE_MEMRAY_PYTHON: &str = "/opt/memray/bin/python";

/// The example's functions run when no command is given: the leaking one, the clean one.
pub const DEFAULT_FUNCTIONS: &[&str] = &["leak_definite", "clean"];

/// Calls of each function: enough that a leak's allocation count stands out (100 blocks).
pub const DEFAULT_ROUNDS: u32 = 100;

/// The script that reads a capture's leaks (see its header).
const LEAKS_SCRIPT: &str = include_str!("memray_leaks.py");

/// What to run under memray.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project, where the files go, and whether no command means the bundled example.
    pub ws: Workspace,
    /// Here, or in the image.
    pub place: PlaceOpts,
    /// The command: a script and its arguments, or `-m MODULE ...` (a leading `python…`
    /// is dropped: memray runs it with its own interpreter). Empty: the example's
    /// `run.py` on [`DEFAULT_FUNCTIONS`].
    pub command: Vec<String>,
    /// The project's root: a leak site whose source lies under it is the project's (default:
    /// the current directory for a command, the checkout for the example).
    pub root: Option<PathBuf>,
    /// Output directory name under the workspace's `out`.
    pub task: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ws: Workspace::default(),
            place: PlaceOpts::default(),
            command: Vec::new(),
            root: None,
            task: "memray".into(),
        }
    }
}

/// One captured run.
#[derive(Debug, Clone)]
pub struct Capture {
    /// `leak_definite`, `clean`, or `command`.
    pub name: String,
    /// memray's capture file.
    pub bin: PathBuf,
    /// The `--leaks` flamegraph.
    pub html: PathBuf,
    /// The leak sites and summary (`memray_leaks.py`).
    pub jsonl: PathBuf,
    /// The leak sites, largest first.
    pub sites: Vec<Leak>,
    /// The summary record.
    pub summary: LeakSummary,
    /// The program's exit status under memray.
    pub program_status: i32,
}

impl Capture {
    /// The leak sites in the project's code.
    pub fn project_sites(&self) -> impl Iterator<Item = &Leak> {
        self.sites.iter().filter(|s| s.project)
    }

    /// Whether a project function leaked.
    pub fn leaks(&self) -> bool {
        self.project_sites().next().is_some()
    }
}

/// What a run left behind.
#[derive(Debug)]
pub struct Outcome {
    /// `target/dbgpipe/<task>/`.
    pub dir: PathBuf,
    /// Where it ran.
    pub place: String,
    /// One per command, in order.
    pub captures: Vec<Capture>,
}

impl Outcome {
    /// Findings when a project function leaks.
    pub fn status(&self) -> Status {
        Status::findings_if(self.captures.iter().any(Capture::leaks))
    }

    /// The capture called `name`.
    pub fn get(&self, name: &str) -> Option<&Capture> {
        self.captures.iter().find(|c| c.name == name)
    }
}

/// The venv of the release interpreter memray is installed into: in the user's cache
/// (`$XDG_CACHE_HOME/dbgpipe/venv-memray`), shared by all their projects; `target/dbgpipe/venv`
/// in this checkout.
pub fn venv_dir(ws: &Workspace) -> PathBuf {
    if ws.bundled_example {
        return ws.out.join("venv");
    }
    super::suppressions::cache_dir(ws)
        .parent()
        .map_or_else(|| ws.out.join("venv"), |cache| cache.join("venv-memray"))
}

/// Whether `python` imports memray.
fn imports_memray(sh: &Shell, python: &Path) -> bool {
    cmd!(sh, "{python} -c 'import memray'")
        .quiet()
        .ignore_stderr()
        .run()
        .is_ok()
}

/// What running memray on this machine needs: memray in the venv already, or the release
/// interpreter with `venv` to make it.
fn need_memray(ws: &Workspace) -> place::Need {
    let venv_python = venv_dir(ws).join("bin").join("python");
    Box::new(move || {
        let sh = Shell::new().map_err(|e| e.to_string())?;
        if venv_python.is_file() && imports_memray(&sh, &venv_python) {
            return Ok(());
        }
        if !Path::new(RELEASE_PYTHON).is_file() {
            return Err(format!(
                "no {RELEASE_PYTHON} for memray (apt-get install python3.11)"
            ));
        }
        cmd!(sh, "{RELEASE_PYTHON} -c 'import venv, ensurepip'")
            .quiet()
            .ignore_stderr()
            .run()
            .map_err(|_| {
                format!("{RELEASE_PYTHON} cannot make a venv (apt-get install python3.11-venv)")
            })
    })
}

/// memray's interpreter on this machine: the venv's, made and filled on first use (pip as
/// [`tools::pip_install`] runs it).
pub fn ensure_memray(ws: &Workspace) -> anyhow::Result<PathBuf> {
    let sh = Shell::new()?;
    let venv = venv_dir(ws);
    let python = venv.join("bin").join("python");
    if python.is_file() && imports_memray(&sh, &python) {
        return Ok(python);
    }
    if !python.is_file() {
        eprintln!(
            "memray: making {} ({RELEASE_PYTHON} -m venv)",
            venv.display()
        );
        cmd!(sh, "{RELEASE_PYTHON} -m venv {venv}")
            .quiet()
            .run()
            .with_context(|| {
                format!("{RELEASE_PYTHON} -m venv failed (apt-get install python3.11-venv)")
            })?;
    }
    eprintln!(
        "memray: pip install memray=={MEMRAY_VERSION} into {}",
        venv.display()
    );
    let spec = format!("memray=={MEMRAY_VERSION}");
    tools::pip_install(&python, &[&spec]).context("or use --image")?;
    if !imports_memray(&sh, &python) {
        bail!(
            "memray was installed into {} but does not import",
            venv.display()
        );
    }
    Ok(python)
}

/// Runs the recipe.
pub fn memray(opts: &Options) -> anyhow::Result<Outcome> {
    let release = PathBuf::from(RELEASE_PYTHON);
    let mut needs = vec![need_memray(&opts.ws)];
    if opts.command.is_empty() {
        if !opts.ws.bundled_example {
            anyhow::bail!(
                "no command: give the script to run after `--` (e.g. dbgpipe memray -- \
                 python3.11 t.py)"
            );
        }
        needs.push(place::need_example(&release, false));
    }
    let place = place::choose("memray", &needs, &opts.place, &opts.ws)?;
    let mpython: PathBuf = match &place {
        Place::Host => ensure_memray(&opts.ws)?,
        Place::Image(_) => IMAGE_MEMRAY_PYTHON.into(),
    };
    // (name, memray run's arguments after its options, env)
    type Run = (String, Vec<OsString>, Vec<(String, OsString)>);
    let (runs, default_root): (Vec<Run>, PathBuf) = if opts.command.is_empty() {
        // In the image memray's venv is made from the image's python3.11: build for that one.
        let ex = match &place {
            Place::Host => place.example(&release)?,
            Place::Image(_) => place.example(Path::new("python3.11"))?,
        };
        let runs = DEFAULT_FUNCTIONS
            .iter()
            .map(|f| {
                (
                    f.to_string(),
                    vec![
                        ex.driver.clone().into(),
                        OsString::from(f),
                        "--rounds".into(),
                        DEFAULT_ROUNDS.to_string().into(),
                    ],
                    vec![(example::DIR_ENV.to_string(), ex.dir.clone().into())],
                )
            })
            .collect();
        (runs, repo_root())
    } else {
        let mut argv: Vec<OsString> = opts.command.iter().map(OsString::from).collect();
        let is_python = Path::new(&opts.command[0])
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("python"));
        if is_python {
            eprintln!(
                "memray: running `{}` with memray's interpreter ({}), not {}",
                opts.command[1..].join(" "),
                mpython.display(),
                opts.command[0]
            );
            argv.remove(0);
        }
        let mut env = Vec::new();
        if place.is_image() {
            if let Some(path) = std::env::var_os("PYTHONPATH") {
                env.push(("PYTHONPATH".to_string(), path));
            }
        }
        (vec![("command".into(), argv, env)], opts.ws.root.clone())
    };
    let root = opts.root.clone().unwrap_or(default_root);

    let dir = opts.ws.recipe_dir(&opts.task)?;
    let sh = Shell::new()?;
    let mut captures = Vec::new();
    for (name, args, env) in runs {
        let bin = dir.join(format!("{name}.bin"));
        let html = dir.join(format!("{name}.html"));
        let jsonl = dir.join(format!("{name}.leaks.jsonl"));
        let mut argv: Vec<OsString> = vec![
            mpython.clone().into(),
            "-m".into(),
            "memray".into(),
            "run".into(),
            "--native".into(),
            "--trace-python-allocators".into(),
            "--quiet".into(),
            "-o".into(),
            bin.clone().into(),
        ];
        argv.extend(args.iter().cloned());
        let mut command = place.command(&argv, &env, false)?;
        command
            .stdout(tools::stderr_as_stdout())
            .stderr(Stdio::inherit());
        eprintln!(
            "memray: memray run --native --trace-python-allocators {} ({})",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            place.describe()
        );
        // A test suite under memray runs for minutes: poll, and report the capture's size.
        let watched = bin.clone();
        let status = tools::run_with_progress(
            "memray run",
            command,
            &|| std::fs::metadata(&watched).map(|m| m.len()).unwrap_or(0),
            Duration::from_secs(10),
        )?;
        tools::check_ran("memray run", place.is_image(), &status)?;
        if !bin.is_file() {
            bail!(
                "memray run wrote no capture ({}): its message is above",
                bin.display()
            );
        }
        let flamegraph: Vec<OsString> = vec![
            mpython.clone().into(),
            "-m".into(),
            "memray".into(),
            "flamegraph".into(),
            "--leaks".into(),
            "--force".into(),
            "-o".into(),
            html.clone().into(),
            bin.clone().into(),
        ];
        place
            .cmd(&sh, &flamegraph, &[])?
            .quiet()
            .ignore_stdout()
            .run()
            .context("memray flamegraph --leaks")?;
        let read_leaks: Vec<OsString> = vec![
            mpython.clone().into(),
            "-c".into(),
            LEAKS_SCRIPT.into(),
            bin.clone().into(),
            root.clone().into(),
        ];
        let text = place
            .cmd(&sh, &read_leaks, &[])?
            .quiet()
            .read()
            .context("reading the capture's leaks with memray's FileReader")?;
        std::fs::write(&jsonl, format!("{text}\n"))
            .with_context(|| format!("cannot write {}", jsonl.display()))?;
        let output = records::read::<MemrayLeaks>(&jsonl)?;
        captures.push(Capture {
            name,
            bin,
            html,
            jsonl,
            sites: output.records,
            summary: output.summary,
            program_status: tools::code_of(&status),
        });
    }
    Ok(Outcome {
        dir,
        place: place.describe(),
        captures,
    })
}

/// The strings of a `memray flamegraph` HTML file's data (`const packed_data = {...}`):
/// function names, files and source lines of every frame it draws.
pub fn flamegraph_strings(html: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(html).with_context(|| format!("cannot read {}", html.display()))?;
    const MARK: &str = "const packed_data = ";
    let start = text
        .find(MARK)
        .with_context(|| format!("{} holds no `{MARK}`", html.display()))?;
    // The object is followed by more script: read exactly one JSON value.
    let data: FlamegraphData = serde_json::Deserializer::from_str(&text[start + MARK.len()..])
        .into_iter()
        .next()
        .with_context(|| format!("{}: packed_data is empty", html.display()))?
        .with_context(|| format!("{}: packed_data has no string table", html.display()))?;
    Ok(data.strings)
}

/// A byte count for a person.
fn bytes(n: u64) -> String {
    if n >= 10_000 {
        format!("{:.1} kB", n as f64 / 1000.0)
    } else {
        format!("{n} B")
    }
}

/// `function (file:line)` of a leak site.
fn site_name(site: &Leak) -> String {
    let function = &site.function;
    match (&site.file, site.line) {
        (Some(file), Some(line)) => {
            let base = Path::new(file)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{function} ({base}:{line})")
        }
        _ => function.to_string(),
    }
}

/// The short human summary: per run the project's leaking functions, the largest leak sites
/// overall, and the flamegraph's path.
pub fn report(o: &Outcome) -> String {
    let mut s = String::new();
    let width = o.captures.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &o.captures {
        let project: Vec<String> = c
            .project_sites()
            .map(|site| {
                format!(
                    "{}: {} in {} blocks",
                    site_name(site),
                    bytes(site.bytes),
                    site.allocations
                )
            })
            .collect();
        let verdict = if project.is_empty() {
            "no leak in the project's native code".to_string()
        } else {
            format!("LEAK  {}", project.join("; "))
        };
        s.push_str(&format!("  {:<width$}  {verdict}\n", c.name));
        let top: Vec<String> = c
            .sites
            .iter()
            .take(3)
            .map(|site| format!("{} {}", site.function, bytes(site.bytes)))
            .collect();
        s.push_str(&format!(
            "  {:<width$}  largest leak sites: {} (of {} leaked in all)\n",
            "",
            top.join(", "),
            bytes(c.summary.leaked_bytes)
        ));
    }
    let leaks = o.captures.iter().filter(|c| c.leaks()).count();
    s.push_str(&format!(
        "memray: {leaks} of {} run(s) leak in the project's native code ({})\n",
        o.captures.len(),
        o.place
    ));
    for c in &o.captures {
        s.push_str(&format!(
            "memray: flamegraph {} (leak sites in {})\n",
            c.html.display(),
            c.jsonl.display()
        ));
    }
    s
}

/// `dbgpipe memray`, in `ws`.
pub fn run(flags: flags::Memray, ws: Workspace) -> anyhow::Result<Status> {
    let opts = Options {
        ws,
        place: flags.place,
        command: flags.command.argv,
        ..Options::default()
    };
    let o = memray(&opts)?;
    tools::print(&report(&o))?;
    Ok(o.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_memray_is_the_images() {
        let dockerfile = repo_root().join("docker").join("Dockerfile.debian");
        let text = std::fs::read_to_string(&dockerfile).unwrap();
        assert!(
            text.contains(&format!("memray=={MEMRAY_VERSION}")),
            "{} pins another memray than {MEMRAY_VERSION}",
            dockerfile.display()
        );
        assert!(text.contains("python3.11 -m venv /opt/memray"), "{text}");
        assert!(IMAGE_MEMRAY_PYTHON.starts_with("/opt/memray/"));
    }

    #[test]
    fn sizes_and_sites_read_well() {
        assert_eq!(bytes(6400), "6400 B");
        assert_eq!(bytes(82168), "82.2 kB");
        let site = Leak {
            function: "leak_definite".into(),
            file: Some("/x/dbgpipe_example.c".into()),
            line: Some(50),
            project: true,
            bytes: 64,
            allocations: 1,
        };
        assert_eq!(site_name(&site), "leak_definite (dbgpipe_example.c:50)");
        let bare = Leak {
            file: None,
            line: None,
            function: "f".into(),
            ..site
        };
        assert_eq!(site_name(&bare), "f");
    }
}
