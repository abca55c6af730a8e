//! The `example` task: build the bundled extension `examples/dbgpipe_example` for one Python
//! interpreter.
//!
//! The extension plants one known defect per function (see its README), so the demos and the
//! end-to-end tests need it built with full debug information and no optimisation, against the
//! headers of the very interpreter that will import it: a module built for `python3.11-dbg`
//! (EXT_SUFFIX `.cpython-311d-x86_64-linux-gnu.so`) is not importable by the release
//! interpreter, and the other way round.
//!
//! `cargo xtask example [--python PATH]` builds into `target/dbgpipe/example/<interpreter file
//! name>/` and prints the path of the `.so`; the driver `examples/dbgpipe_example/run.py` looks
//! there by default, or in `$DBGPIPE_EXAMPLE_DIR`.
//!
//! [`build_via`] builds either example elsewhere, through a command prefix such as
//! `run-in-image --image TAG --`, with that side's interpreter headers and compiler: what the
//! recipes do when they run inside the debug image.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{bail, Context};
use serde::Deserialize;
use xshell::Shell;

/// The module's import name, and the stem of its source and of the built file.
pub const MODULE: &str = "dbgpipe_example";

/// The environment variable through which `run.py` is told where the built module is.
pub const DIR_ENV: &str = "DBGPIPE_EXAMPLE_DIR";

/// The debug interpreters that [`debug_python`] looks for, in order: Debian's `python3.11-dbg`
/// and the name it links to.
const DEBUG_PYTHONS: &[&str] = &["python3.11-dbg", "python3.11d"];

/// What the compiler is told, besides the include directory and the files. `-O0` and the frame
/// pointer keep every planted defect and every frame observable; `-Werror` keeps the source
/// honest about which defects are deliberate.
const CFLAGS: &[&str] = &[
    "-g",
    "-O0",
    "-fno-omit-frame-pointer",
    "-fPIC",
    "-shared",
    "-Wall",
    "-Werror",
];

/// A built example extension and everything needed to run it.
#[derive(Debug, Clone)]
pub struct Example {
    /// The built module, `<dir>/dbgpipe_example<EXT_SUFFIX>`.
    pub so: PathBuf,
    /// The directory holding `so`: what goes on `sys.path`, or into `$DBGPIPE_EXAMPLE_DIR`.
    pub dir: PathBuf,
    /// The interpreter it was built for (as given, or as found on `PATH`).
    pub python: PathBuf,
    /// `examples/dbgpipe_example/dbgpipe_example.c`.
    pub source: PathBuf,
    /// `examples/dbgpipe_example/run.py`, the driver that calls the planted functions by name.
    pub driver: PathBuf,
}

impl Example {
    /// `python run.py` with `$DBGPIPE_EXAMPLE_DIR` set to this build; add the function names
    /// (and `--rounds N`) as arguments.
    pub fn driver_command(&self) -> Command {
        let mut command = Command::new(&self.python);
        command.arg(&self.driver).env(DIR_ENV, &self.dir);
        command
    }
}

/// The root of the dbgpipe checkout this library was built from (`bins/core/../..`), where
/// the bundled example and the shipped suppressions live.
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

/// `examples/dbgpipe_example/` in the checkout.
pub fn source_dir() -> PathBuf {
    repo_root().join("examples").join(MODULE)
}

/// Where callers build the example for `python` by default:
/// `target/dbgpipe/example/<interpreter file name>/` under the checkout.
pub fn default_out_dir(python: &Path) -> PathBuf {
    let name = python.file_name().unwrap_or_else(|| OsStr::new("python"));
    repo_root()
        .join("target")
        .join("dbgpipe")
        .join("example")
        .join(name)
}

/// The debug interpreter when present (`python3.11-dbg` / `python3.11d` on `PATH`, or in
/// `/usr/bin`), else `None`.
pub fn debug_python() -> Option<PathBuf> {
    DEBUG_PYTHONS.iter().find_map(|name| {
        find_program(OsStr::new(name)).or_else(|| {
            let path = Path::new("/usr/bin").join(name);
            path.is_file().then_some(path)
        })
    })
}

/// What the interpreter says about itself, through `sysconfig` (the script's JSON: a missing
/// or `null` value is an error naming it).
#[derive(Debug, Deserialize)]
struct Interpreter {
    include: PathBuf,
    ext_suffix: String,
    version: String,
    debug: bool,
}

/// Asks `python` for its include directory, EXT_SUFFIX, version and build kind; `prefix` runs
/// it elsewhere (`run-in-image ... --`), empty runs it here.
fn query(sh: &Shell, prefix: &[OsString], python: &Path) -> anyhow::Result<Interpreter> {
    // -I: neither PYTHON* variables nor the user's site directory may change the answer.
    const SCRIPT: &str = "import json, sys, sysconfig; print(json.dumps({\
        'include': sysconfig.get_paths()['include'], \
        'ext_suffix': sysconfig.get_config_var('EXT_SUFFIX'), \
        'version': '%d.%d' % sys.version_info[:2], \
        'debug': hasattr(sys, 'gettotalrefcount')}))";
    let output = prefixed(sh, prefix, python)
        .args(["-I", "-c", SCRIPT])
        .ignore_status()
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !output.status.success() {
        // The command itself is long and says nothing useful; its first complaint does.
        bail!(
            "{} failed ({}) when asked for its sysconfig: {}",
            python.display(),
            output.status,
            first_diagnostic(&String::from_utf8_lossy(&output.stderr))
        );
    }
    let output = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&output).with_context(|| {
        format!(
            "{}'s sysconfig answer is not what xtask asked for: {output:?}",
            python.display()
        )
    })
}

/// `program` run through `prefix` (xshell cannot splat a program name): `prefix[0]` with the
/// rest of `prefix` and then `program` as arguments, or `program` itself when `prefix` is empty.
fn prefixed<'a>(sh: &'a Shell, prefix: &[OsString], program: &Path) -> xshell::Cmd<'a> {
    match prefix.split_first() {
        Some((first, rest)) => sh.cmd(first).args(rest).arg(program),
        None => sh.cmd(program),
    }
}

/// `program` itself when it is a path, else the first match on `PATH`.
fn find_program(program: &OsStr) -> Option<PathBuf> {
    let path = Path::new(program);
    if path.components().count() > 1 {
        return path.is_file().then(|| path.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The C compiler: `$CC` when set, else `cc`, else `gcc`.
fn compiler() -> anyhow::Result<PathBuf> {
    if let Some(cc) = std::env::var_os("CC").filter(|cc| !cc.is_empty()) {
        return find_program(&cc)
            .with_context(|| format!("CC={} is not an executable on PATH", cc.to_string_lossy()));
    }
    ["cc", "gcc"]
        .iter()
        .find_map(|name| find_program(OsStr::new(name)))
        .context("no C compiler (cc or gcc) on PATH: install gcc (apt-get install gcc)")
}

/// The modification time of `path`, or `None` when it cannot be read.
fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|meta| meta.modified()).ok()
}

/// The line of a failed command's stderr worth putting into a one-line error: the first one
/// that mentions an error (gcc's `error:`, Python's `...Error:`), else the first one.
fn first_diagnostic(stderr: &str) -> &str {
    let mut lines = stderr
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty());
    let first = lines.clone().next();
    lines
        .find(|line| line.to_ascii_lowercase().contains("error"))
        .or(first)
        .unwrap_or("no diagnostics")
}

/// Builds the example against the given interpreter's headers, into `out_dir`, rebuilding only
/// when the source is newer.
///
/// `python` is a path or a name looked up on `PATH`. The result is
/// `out_dir/dbgpipe_example<EXT_SUFFIX>`, compiled with the host `cc` (or `$CC`, or `gcc`) with
/// `-g -O0 -fno-omit-frame-pointer -fPIC -shared -Wall -Werror`. Every failure is a one-line
/// error naming what is missing and, where it is a Debian package, which one.
pub fn build(python: &Path, out_dir: &Path) -> anyhow::Result<Example> {
    build_module(python, out_dir, &module(None))
}

/// The C++ example's module name: `examples/dbgpipe_cpp/dbgpipe_cpp.cpp`, an extension that
/// crashes inside `std::unordered_map` (see its README).
pub const CPP_MODULE: &str = "dbgpipe_cpp";

/// What the C++ example is compiled with, besides `-g` for the variant with debug
/// information. `-O1` inlines the faulty hasher into `_Hashtable::_M_emplace`, so that frame
/// #0 is the library template, as in real reports; the frame pointer keeps every frame.
const CXXFLAGS: &[&str] = &[
    "-std=c++17",
    "-O1",
    "-fno-omit-frame-pointer",
    "-fPIC",
    "-shared",
    "-Wall",
    "-Werror",
];

/// `examples/dbgpipe_cpp/` in the checkout.
pub fn cpp_source_dir() -> PathBuf {
    repo_root().join("examples").join(CPP_MODULE)
}

/// Builds the C++ example (`examples/dbgpipe_cpp`) like [`build`] builds the C one: against
/// `python`'s headers, into `out_dir`, with the host `c++` (or `$CXX`, or `g++`) and
/// `-std=c++17 -O1 -fno-omit-frame-pointer -fPIC -shared -Wall -Werror`, plus `-g` when
/// `debug_info`. The two variants must go to different
/// directories: a build is reused while it is newer than the source, whatever its flags.
/// The `Example`'s driver is `examples/dbgpipe_cpp/run.py`.
pub fn build_cpp(python: &Path, out_dir: &Path, debug_info: bool) -> anyhow::Result<Example> {
    build_module(python, out_dir, &module(Some(debug_info)))
}

/// The C++ compiler: `$CXX` when set, else `c++`, else `g++`.
fn cxx_compiler() -> anyhow::Result<PathBuf> {
    if let Some(cxx) = std::env::var_os("CXX").filter(|cxx| !cxx.is_empty()) {
        return find_program(&cxx).with_context(|| {
            format!("CXX={} is not an executable on PATH", cxx.to_string_lossy())
        });
    }
    ["c++", "g++"]
        .iter()
        .find_map(|name| find_program(OsStr::new(name)))
        .context("no C++ compiler (c++ or g++) on PATH: install g++ (apt-get install g++)")
}

/// One extension module to build: its sources and how to compile them.
struct Module {
    name: &'static str,
    source: PathBuf,
    driver: PathBuf,
    compiler: fn() -> anyhow::Result<PathBuf>,
    /// The compiler's name where [`build_via`] runs it.
    compiler_name: &'static str,
    flags: Vec<String>,
}

/// Where the interpreter and the compiler of a build run.
#[derive(Clone, Copy)]
enum Runner<'a> {
    /// On this machine: the interpreter and the compiler are looked up here, and a missing
    /// header is named before compiling.
    Here,
    /// Through a command prefix such as `run-in-image --image TAG --`: the programs are named
    /// as they are there, and only they can tell what is missing.
    Via(&'a [OsString]),
}

/// Builds `module` for `python` into `out_dir` (see [`build`]).
fn build_module(python: &Path, out_dir: &Path, module: &Module) -> anyhow::Result<Example> {
    build_module_with(Runner::Here, python, out_dir, module)
}

/// Builds `module` for `python` into `out_dir`, running the interpreter and the compiler as
/// `runner` says.
fn build_module_with(
    runner: Runner<'_>,
    python: &Path,
    out_dir: &Path,
    module: &Module,
) -> anyhow::Result<Example> {
    let python = match runner {
        Runner::Here => find_program(python.as_os_str()).with_context(|| {
            format!(
                "no Python interpreter {}: install python3.11 or python3.11-dbg, or pass --python PATH",
                python.display()
            )
        })?,
        Runner::Via(_) => python.to_path_buf(),
    };
    let prefix: &[OsString] = match runner {
        Runner::Here => &[],
        Runner::Via(prefix) => prefix,
    };
    let (name, source) = (module.name, &module.source);
    let source_time = modified(source)
        .with_context(|| format!("the example source {} is missing", source.display()))?;

    let sh = Shell::new()?;
    let interpreter = query(&sh, prefix, &python)?;
    let so = out_dir.join(format!("{name}{}", interpreter.ext_suffix));
    let example = Example {
        so: so.clone(),
        dir: out_dir.to_path_buf(),
        python: python.clone(),
        source: source.clone(),
        driver: module.driver.clone(),
    };
    if modified(&so).is_some_and(|built| built >= source_time) {
        return Ok(example);
    }

    let include = &interpreter.include;
    let cc = match runner {
        Runner::Here => {
            if !include.join("Python.h").is_file() {
                let package = header_package(&interpreter);
                bail!(
                    "no Python.h in {} for {}: install the {package} headers (apt-get install {package})",
                    include.display(),
                    python.display()
                );
            }
            (module.compiler)()?
        }
        Runner::Via(_) => PathBuf::from(module.compiler_name),
    };
    sh.create_dir(out_dir)?;

    // Compile to a private name and rename, so that a concurrent build or a test importing the
    // module never sees half a file.
    let partial = out_dir.join(format!(
        ".{name}{}.{}.partial",
        interpreter.ext_suffix,
        std::process::id()
    ));
    let flags = &module.flags;
    let output = prefixed(&sh, prefix, &cc)
        .args(flags)
        .arg(format!("-I{}", include.display()))
        .arg("-o")
        .arg(&partial)
        .arg(source)
        .ignore_status()
        .output()?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&partial);
        bail!(
            "{} could not compile {} for {}: {}",
            cc.display(),
            source.display(),
            python.display(),
            first_diagnostic(&String::from_utf8_lossy(&output.stderr))
        );
    }
    std::fs::rename(&partial, &so)
        .with_context(|| format!("cannot move the built module to {}", so.display()))?;
    Ok(example)
}

/// The Debian package that brings an interpreter's headers.
fn header_package(interpreter: &Interpreter) -> String {
    format!(
        "python{}-{}",
        interpreter.version,
        if interpreter.debug { "dbg" } else { "dev" }
    )
}

/// Builds the C example, or with `cpp = Some(debug_info)` the C++ one, for the interpreter
/// `python` as it is named where `prefix` runs commands (e.g. `run-in-image --image TAG --`),
/// with that side's headers and compiler (`gcc`, `g++`), into `out_dir`.
///
/// `out_dir` must be visible at the same path on both sides (run-in-image mounts the current
/// directory at its own path). The flags are those of [`build`] and [`build_cpp`].
pub fn build_via(
    prefix: &[OsString],
    python: &Path,
    out_dir: &Path,
    cpp: Option<bool>,
) -> anyhow::Result<Example> {
    build_module_with(Runner::Via(prefix), python, out_dir, &module(cpp))
}

/// Whether this machine can build the example (`cpp = true`: the C++ one) for `python`:
/// `Err` names the first thing missing and the package that brings it, in one line.
pub fn can_build(python: &Path, cpp: bool) -> Result<(), String> {
    let found = find_program(python.as_os_str()).ok_or_else(|| {
        format!(
            "no Python interpreter {} (apt-get install python3.11-dbg)",
            python.display()
        )
    })?;
    let sh = Shell::new().map_err(|e| e.to_string())?;
    let interpreter = query(&sh, &[], &found).map_err(|e| format!("{e:#}"))?;
    if !interpreter.include.join("Python.h").is_file() {
        let package = header_package(&interpreter);
        return Err(format!(
            "no Python.h for {} (apt-get install {package})",
            found.display()
        ));
    }
    let compiler = if cpp { cxx_compiler } else { compiler };
    compiler().map(drop).map_err(|e| format!("{e:#}"))
}

/// The C example, or with `Some(debug_info)` the C++ one.
fn module(cpp: Option<bool>) -> Module {
    match cpp {
        None => {
            let dir = source_dir();
            Module {
                name: MODULE,
                source: dir.join(format!("{MODULE}.c")),
                driver: dir.join("run.py"),
                compiler,
                compiler_name: "gcc",
                flags: CFLAGS.iter().map(|f| f.to_string()).collect(),
            }
        }
        Some(debug_info) => {
            let dir = cpp_source_dir();
            let mut flags: Vec<String> = CXXFLAGS.iter().map(|f| f.to_string()).collect();
            if debug_info {
                flags.insert(0, "-g".to_string());
            }
            Module {
                name: CPP_MODULE,
                source: dir.join(format!("{CPP_MODULE}.cpp")),
                driver: dir.join("run.py"),
                compiler: cxx_compiler,
                compiler_name: "g++",
                flags,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xshell::cmd;

    fn debug_interpreter() -> PathBuf {
        debug_python()
            .expect("these tests need the debug interpreter: apt-get install python3.11-dbg")
    }

    #[test]
    fn builds_for_the_debug_interpreter_which_imports_it_and_calls_clean() {
        let python = debug_interpreter();
        let sh = Shell::new().unwrap();
        let tmp = sh.create_temp_dir().unwrap();
        let example = build(&python, tmp.path()).unwrap();

        assert_eq!(example.dir, tmp.path());
        assert!(
            example.so.is_file(),
            "{} was not built",
            example.so.display()
        );
        let name = example.so.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("dbgpipe_example.cpython-311d"), "{name}");

        let so = &example.so;
        let dir = &example.dir;
        let imported = cmd!(
            sh,
            "{python} -I -c 'import sys; sys.path.insert(0, sys.argv[1]); import dbgpipe_example as m; print(m.__file__, m.clean())' {dir}"
        )
        .read()
        .unwrap();
        assert_eq!(imported, format!("{} 2016", so.display()));

        let driven = example.driver_command().arg("clean").output().unwrap();
        assert!(driven.status.success(), "{driven:?}");
        assert_eq!(String::from_utf8_lossy(&driven.stdout), "called clean x1\n");

        // Nothing changed, so nothing is rebuilt.
        let before = modified(so).unwrap();
        build(&python, tmp.path()).unwrap();
        assert_eq!(modified(so).unwrap(), before);
    }

    #[test]
    fn builds_the_cpp_example_which_imports() {
        let python = debug_interpreter();
        let sh = Shell::new().unwrap();
        let tmp = sh.create_temp_dir().unwrap();
        let example = build_cpp(&python, tmp.path(), false).unwrap();
        let name = example.so.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("dbgpipe_cpp.cpython-311d"), "{name}");
        assert!(example.driver.ends_with("examples/dbgpipe_cpp/run.py"));
        let dir = &example.dir;
        let imported = cmd!(
            sh,
            "{python} -I -c 'import sys; sys.path.insert(0, sys.argv[1]); import dbgpipe_cpp as m; print(m.crash_map.__doc__)' {dir}"
        )
        .read()
        .unwrap();
        assert!(imported.contains("unordered_map"), "{imported}");
    }

    #[test]
    fn a_missing_interpreter_is_a_one_line_error_naming_it() {
        let sh = Shell::new().unwrap();
        let tmp = sh.create_temp_dir().unwrap();
        let error = build(Path::new("/nonexistent/python3.11-dbg"), tmp.path()).unwrap_err();
        let message = format!("{error:#}");
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains("/nonexistent/python3.11-dbg"), "{message}");
        assert!(message.contains("install python3.11"), "{message}");
    }

    #[test]
    fn the_first_diagnostic_is_the_first_error_line() {
        let gcc = "x.c: In function 'f':\nx.c:3:5: error: expected ';'\nx.c:4:1: error: other\n";
        assert_eq!(first_diagnostic(gcc), "x.c:3:5: error: expected ';'");
        let python = "Traceback (most recent call last):\n  File...\nModuleNotFoundError: no x\n";
        assert_eq!(first_diagnostic(python), "ModuleNotFoundError: no x");
        assert_eq!(first_diagnostic("\n  warning only\n"), "warning only");
        assert_eq!(first_diagnostic(""), "no diagnostics");
    }

    #[test]
    fn the_default_out_dir_is_named_after_the_interpreter() {
        assert_eq!(
            default_out_dir(Path::new("/usr/bin/python3.11-dbg")),
            repo_root().join("target/dbgpipe/example/python3.11-dbg")
        );
        assert!(source_dir().join("dbgpipe_example.c").is_file());
        assert!(source_dir().join("run.py").is_file());
    }
}
