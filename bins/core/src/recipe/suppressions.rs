//! `dbgpipe suppressions [--python PATH]… [-- CMD…]`: baseline suppression files, one per
//! interpreter, and how the memcheck recipe picks one.
//!
//! A baseline covers what an interpreter reports on its own under Memcheck (startup, imports,
//! interned strings, shutdown), so that what is left is the extension's. Instead of a
//! half-megabyte file of one 12-frame entry per record, each entry is cut to the frames that
//! identify the interpreter's own caller (see `vg-filter --gen-suppressions`).
//!
//! Where a baseline comes from ([`baseline`]), for the interpreter a run's logs name:
//! 1. shipped: Debian's `/usr/bin/python3.11-dbg` and `/usr/bin/python3.11` have one built
//!    into dbgpipe (`suppressions/<name>.supp` in the checkout, remade by `cargo xtask
//!    suppressions` from the bundled example's clean run);
//! 2. made on first use: any other interpreter (pyenv's, a venv's base, a source build) is run
//!    bare on [`WORKLOAD`] under Memcheck once, and the result kept in the user's cache
//!    (`$XDG_CACHE_HOME/dbgpipe/suppressions/`, else `~/.cache/…`), keyed by the
//!    interpreter's path, size and modification time, so that an upgrade makes a new one.

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

use super::example;
use super::flags;
use super::memcheck::{self, Options};
use super::place::{Place, PlaceOpts};
use super::tools;
use super::{Status, Workspace};

/// The baselines built into dbgpipe: the interpreter's file name, and the file.
const SHIPPED: &[(&str, &str)] = &[
    (
        "python3.11-dbg",
        include_str!("../../../../suppressions/python3.11-dbg.supp"),
    ),
    (
        "python3.11",
        include_str!("../../../../suppressions/python3.11.supp"),
    ),
];

/// What a bare interpreter runs to make its baseline: startup, the import machinery and the
/// stdlib modules extensions use most, threads, exceptions, and shutdown; nothing of the
/// user's (whose own records must never be suppressed).
pub const WORKLOAD: &str = "\
import collections, ctypes, datetime, decimal, functools, io, itertools, json, os, re, \
struct, sys, threading, traceback, unittest, weakref
t = threading.Thread(target=lambda: json.loads(json.dumps({'a': [1, 2.0, None]})))
t.start(); t.join()
try:
    raise ValueError('x')
except ValueError:
    traceback.format_exc()
";

/// Where a baseline came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Built into dbgpipe, for Debian's interpreters.
    Shipped,
    /// Made on an earlier run, from the cache.
    Cached,
    /// Made now, with this many entries.
    Made(usize),
}

/// The baseline suppression file of one interpreter.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// The interpreter, as the log names it.
    pub interpreter: String,
    /// The file vg-filter reads.
    pub path: PathBuf,
    /// Where it came from.
    pub origin: Origin,
}

impl Baseline {
    /// One line for people: which baseline applied, and how to remake it.
    pub fn describe(&self) -> String {
        let (who, path) = (&self.interpreter, self.path.display());
        match self.origin {
            Origin::Shipped => format!("applied the shipped baseline for {who} ({path})"),
            Origin::Cached => format!(
                "applied the baseline made for {who} on first use ({path}; `dbgpipe \
                 suppressions --python {who}` remakes it)"
            ),
            Origin::Made(entries) => format!(
                "no baseline is shipped for {who}: made one from a bare run of it ({entries} \
                 entries, {path}) and applied it"
            ),
        }
    }
}

/// The shipped baseline for `program` at `place`, when it is Debian's interpreter: its name
/// and text. In an image, a bare name is Debian's unless the image's label says its debug
/// interpreter of that name lies elsewhere (a source build).
pub fn shipped_for(place: &Place, program: &str) -> Option<(&'static str, &'static str)> {
    // Here, a bare name is looked up on PATH and links are followed (python3.11-dbg links to
    // python3.11d; a pyenv python3.11 first on PATH is another build). In the image, the
    // names are Debian's.
    let path = match place {
        Place::Host if !program.contains('/') => tools::find_on_path(program)?,
        Place::Image(image) if !program.contains('/') => {
            match image_interpreter(image).filter(|i| i.file_name() == Some(program.as_ref())) {
                // A source build's own interpreter under Debian's name (the source recipe
                // links /usr/local/bin/python3.11-dbg): not Debian's build, so not its
                // baseline.
                Some(own) if own.parent() != Some(Path::new("/usr/bin")) => return None,
                _ => PathBuf::from(program),
            }
        }
        _ => PathBuf::from(program),
    };
    let resolved = match place {
        Place::Host => std::fs::canonicalize(&path).unwrap_or(path),
        Place::Image(_) => path,
    };
    let name = resolved.file_name()?.to_str()?;
    let name = if name == "python3.11d" {
        "python3.11-dbg"
    } else {
        name
    };
    let debian = resolved.parent() == Some(Path::new("/usr/bin")) || !program.contains('/');
    SHIPPED
        .iter()
        .find(|(n, _)| *n == name && debian)
        .map(|&(n, text)| (n, text))
}

/// The debug interpreter an image was built with, from its `org.dbgpipe.interpreter` label
/// (dbg-image writes it); none when the engine cannot say.
fn image_interpreter(image: &super::place::Image) -> Option<PathBuf> {
    let engine = crate::image::engine::Engine::find(image.engine.to_str()).ok()?;
    let labels = engine.labels(&image.tag).ok()?;
    labels
        .get("org.dbgpipe.interpreter")?
        .as_str()
        .map(PathBuf::from)
}

/// The user's cache for made baselines: `$XDG_CACHE_HOME/dbgpipe/suppressions`, else
/// `~/.cache/dbgpipe/suppressions`, else under the workspace's output.
pub fn cache_dir(ws: &Workspace) -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    match base {
        Some(base) => base.join("dbgpipe").join("suppressions"),
        None => ws.out.join("suppressions-cache"),
    }
}

/// The cache file for `program` run at `place`: its name, and a hash of where it runs, its
/// path, size and modification time (an upgraded interpreter gets a new baseline).
fn cached_path(place: &Place, program: &str, ws: &Workspace) -> PathBuf {
    let meta = std::fs::metadata(program)
        .ok()
        .filter(|_| !place.is_image())
        .map(|m| {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            format!("{}:{mtime}", m.len())
        })
        .unwrap_or_default();
    let key = format!("{}\n{program}\n{meta}", place.describe());
    let hash = Sha256::digest(key.as_bytes());
    let short: String = hash.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let name = Path::new(program)
        .file_name()
        .map_or_else(|| "python".into(), |n| n.to_string_lossy().into_owned());
    cache_dir(ws).join(format!("{name}-{short}.supp"))
}

/// The baseline for `program` (as a log's `Command:` line names it) run at `place`: shipped,
/// cached, or made now (see the module docs).
pub fn baseline(place: &Place, program: &str, ws: &Workspace) -> anyhow::Result<Baseline> {
    if let Some((name, text)) = shipped_for(place, program) {
        let path = ws.out.join("baselines").join(format!("{name}.supp"));
        std::fs::create_dir_all(path.parent().unwrap_or(&ws.out))?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(Baseline {
            interpreter: program.to_string(),
            path,
            origin: Origin::Shipped,
        });
    }
    let path = cached_path(place, program, ws);
    if path.is_file() {
        return Ok(Baseline {
            interpreter: program.to_string(),
            path,
            origin: Origin::Cached,
        });
    }
    eprintln!("memcheck: no baseline for {program} yet: making one (a bare run under valgrind)");
    let entries = make(place, program, ws, &path)?;
    Ok(Baseline {
        interpreter: program.to_string(),
        path,
        origin: Origin::Made(entries),
    })
}

/// Runs `program` bare on [`WORKLOAD`] under Memcheck at `place` and writes what it reports
/// as a suppression file at `dest`; returns the entry count.
pub fn make(place: &Place, program: &str, ws: &Workspace, dest: &Path) -> anyhow::Result<usize> {
    let opts = PlaceOpts {
        host: !place.is_image(),
        image: match place {
            Place::Image(image) => Some(image.tag.clone()),
            Place::Host => None,
        },
    };
    let command = vec![program.to_string(), "-c".to_string(), WORKLOAD.to_string()];
    write(program, &command, opts, ws, dest, "the bare interpreter")
}

/// Runs `command` under Memcheck with no suppressions and writes the records that are not
/// the project's as a suppression file at `dest`, with a header saying how it was made;
/// returns the entry count.
fn write(
    name: &str,
    command: &[String],
    place: PlaceOpts,
    ws: &Workspace,
    dest: &Path,
    workload: &str,
) -> anyhow::Result<usize> {
    let short = Path::new(name)
        .file_name()
        .map_or_else(|| "python".into(), |n| n.to_string_lossy().into_owned());
    let body = ws
        .out
        .join(format!("suppressions-{short}"))
        .join("generated.supp");
    std::fs::create_dir_all(body.parent().unwrap_or(&ws.out))?;
    let o = memcheck::memcheck(&Options {
        ws: ws.clone(),
        python: Some(PathBuf::from(&command[0])),
        // Generate from the unsuppressed run: the old file must not hide what it should cover.
        suppressions: Some(Vec::new()),
        command: command.to_vec(),
        example_args: vec!["clean".into()],
        task: format!("suppressions-{short}"),
        filter_args: vec![
            format!("--gen-suppressions={}", body.display()),
            format!("--supp-name={short}"),
        ],
        place,
        ..Options::default()
    })?;
    let generated = std::fs::read_to_string(&body)
        .with_context(|| format!("vg-filter wrote no {}", body.display()))?;
    let entries = generated.lines().filter(|l| *l == "{").count();
    let valgrind = std::process::Command::new("valgrind")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let text = format!(
        "# Baseline Memcheck suppressions for {name}, {valgrind}.\n\
         # Made by dbgpipe: PYTHONMALLOC=malloc valgrind --leak-check=full\n\
         # --show-leak-kinds=all on {workload}, then vg-filter --project --gen-suppressions.\n\
         # They cover what the interpreter reports on its own ({} of {} records), and none of\n\
         # the project's. Regenerate after the interpreter or valgrind is upgraded.\n{generated}",
        o.summary.not_project, o.summary.records
    );
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(dest, text).with_context(|| format!("cannot write {}", dest.display()))?;
    Ok(entries)
}

/// The interpreters a baseline is made for by default: the debug build and the release
/// build, where installed.
pub fn default_pythons() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = example::debug_python().into_iter().collect();
    let release = PathBuf::from("/usr/bin/python3.11");
    if release.is_file() {
        v.push(release);
    }
    v
}

/// Remakes the shipped `suppressions/<name>.supp` of this checkout for one interpreter from a
/// run of `command` (empty: the bundled example's clean entry point), leaving out the records
/// of the project under the workspace's root; returns its path and entry count.
pub fn remake_shipped(
    python: &Path,
    command: &[String],
    ws: &Workspace,
) -> anyhow::Result<(PathBuf, usize)> {
    let name = python
        .file_name()
        .context("interpreter path has no file name")?
        .to_string_lossy()
        .into_owned();
    let dest = example::repo_root()
        .join("suppressions")
        .join(format!("{name}.supp"));
    let workload = if command.is_empty() {
        "`examples/dbgpipe_example/run.py clean`".to_string()
    } else {
        format!("`{}`", command.join(" "))
    };
    // The baseline is this machine's interpreter's: never another one's in an image.
    let entries = write(
        &python.display().to_string(),
        command,
        PlaceOpts {
            host: true,
            image: None,
        },
        ws,
        &dest,
        &workload,
    )?;
    Ok((dest, entries))
}

/// `dbgpipe suppressions`: makes the baseline of each interpreter into the user's cache,
/// where `dbgpipe memcheck` finds it; `cargo xtask suppressions` remakes the shipped files.
pub fn run(flags: flags::Suppressions, ws: Workspace) -> anyhow::Result<Status> {
    let mut pythons = flags.pythons.paths;
    if pythons.is_empty() {
        pythons = default_pythons();
    }
    if pythons.is_empty() {
        anyhow::bail!("no python3.11-dbg or python3.11 found: apt-get install python3.11-dbg");
    }
    for python in &pythons {
        let (path, entries) = if ws.bundled_example {
            remake_shipped(python, &flags.command.argv, &ws)?
        } else {
            let program = python.display().to_string();
            let dest = cached_path(&Place::Host, &program, &ws);
            let entries = if flags.command.argv.is_empty() {
                make(&Place::Host, &program, &ws, &dest)?
            } else {
                let workload = format!("`{}`", flags.command.argv.join(" "));
                let host = PlaceOpts {
                    host: true,
                    image: None,
                };
                write(&program, &flags.command.argv, host, &ws, &dest, &workload)?
            };
            (dest, entries)
        };
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        tools::print(&format!(
            "suppressions: {} ({entries} entries, {size} bytes)\n",
            path.display()
        ))?;
    }
    Ok(Status::Clean)
}
