//! A frame's class: whose code it is. The tables and rules behind `project`, `python`,
//! `system` and `unknown` (the order in which they are tried is the order of [`classify`]).
//!
//! - `project`: the frame's object or source file matches `--project[=PATTERN]` (without a
//!   pattern, or without the flag: it lies under the project root, the current directory);
//! - `python`: the interpreter: functions `Py…`/`_Py…` and CPython's static helpers, frames in
//!   `libpython*`, the `python*` binary or the standard library's `lib-dynload` modules, and
//!   CPython sources (`Python/`, `Objects/`, `Modules/`, …);
//! - `system`: libc, libstdc++, ld.so and anything else from `/lib`, `/usr/lib`; sources under
//!   `/usr/include` (inlined library templates) or glibc's tree; glibc's internal names;
//!   `<signal handler called>`;
//! - `unknown`: the rest (`?? ()` without an object, a third-party library).
//!
//! The rules read names as gdb printed them (`function_raw`), before demangling and
//! simplification, so that a class does not depend on `--no-simplify` or `--depth`.

use crate::project::Project;
use crate::Frame;
use serde::{Deserialize, Serialize};

/// A frame's class (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// The project's own code.
    Project,
    /// The Python interpreter.
    Python,
    /// libc, libstdc++, the dynamic loader and other system libraries.
    System,
    /// Anything else.
    Unknown,
}

impl Class {
    /// The name, as in the JSON lines and the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Project => "project",
            Class::Python => "python",
            Class::System => "system",
            Class::Unknown => "unknown",
        }
    }
}

/// The class of a frame whose `function` is as gdb printed it; `pseudo` for gdb's markers
/// (`<signal handler called>`), which are the system's.
pub fn classify(project: &mut Project, frame: &Frame, pseudo: bool) -> Class {
    if pseudo {
        return Class::System;
    }
    let func = frame.function.as_deref();
    let (file, object) = (frame.file.as_deref(), frame.object.as_deref());
    if (object.is_some() || file.is_some()) && project.frame_matches(frame) {
        Class::Project
    } else if is_python(func, file, object) {
        Class::Python
    } else if is_system(func, file, object) {
        Class::System
    } else {
        Class::Unknown
    }
}

/// The class of a Python frame of `py-bt`: the project's when its file is, else the
/// interpreter's.
pub fn classify_python(project: &mut Project, file: Option<&str>) -> Class {
    let probe = Frame {
        file: file.map(str::to_string),
        ..Frame::default()
    };
    if file.is_some() && project.frame_matches(&probe) {
        Class::Project
    } else {
        Class::Python
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `./x`, `../../x` and `build/../x` → `x`: the relative prefixes of build trees.
fn source_tail(file: &str) -> &str {
    let mut f = file;
    loop {
        if let Some(rest) = f.strip_prefix("./").or_else(|| f.strip_prefix("../")) {
            f = rest;
        } else if let Some(i) = f.find("/../") {
            f = &f[i + 4..];
        } else {
            return f;
        }
    }
}

/// CPython's static helpers that appear in native backtraces between `Py…` functions.
const INTERPRETER_FUNCTIONS: &[&str] = &[
    "cfunction_vectorcall_",
    "cfunction_call",
    "method_vectorcall",
    "function_code_fastcall",
    "call_function",
    "do_call_core",
    "slot_tp_",
    "type_call",
    "vectorcall_",
    "builtin_",
    "run_mod",
    "run_eval_code_obj",
    "pyrun_",
    "pymain_",
    "wrapper_call",
    "thread_run",
    "pythread_wrapper",
    "time_sleep",
    "pysleep",
];

/// CPython's source directories, as its build prints them (relative).
const INTERPRETER_DIRS: &[&str] = &[
    "Python/",
    "Objects/",
    "Modules/",
    "Include/",
    "Parser/",
    "Programs/",
];

fn is_python(func: Option<&str>, file: Option<&str>, object: Option<&str>) -> bool {
    if let Some(lib) = object {
        let base = basename(lib);
        return base.starts_with("libpython")
            || is_python_binary(base)
            || lib.contains("/lib-dynload/");
    }
    if let Some(file) = file {
        let tail = source_tail(file);
        if !file.starts_with('/') && INTERPRETER_DIRS.iter().any(|d| tail.starts_with(d)) {
            return true;
        }
    }
    func.is_some_and(|f| {
        let f = f.strip_prefix('_').unwrap_or(f);
        (f.starts_with("Py") && f[2..].starts_with(|c: char| c.is_ascii_uppercase() || c == '_'))
            || INTERPRETER_FUNCTIONS.iter().any(|p| f.starts_with(p))
    })
}

/// `python`, `python3`, `python3.11`, `python3.11-dbg`, `python3.11d`.
fn is_python_binary(base: &str) -> bool {
    base.strip_prefix("python").is_some_and(|rest| {
        let rest = rest.strip_suffix("-dbg").unwrap_or(rest);
        let rest = rest.strip_suffix('d').unwrap_or(rest);
        rest.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    })
}

/// Shared objects of the C and C++ runtimes, wherever they are installed.
const SYSTEM_LIBRARIES: &[&str] = &[
    "libc.so",
    "libc-",
    "libstdc++",
    "libm.so",
    "libm-",
    "libpthread",
    "libdl",
    "librt",
    "libgcc_s",
    "ld-linux",
    "ld64.so",
    "ld-musl",
    "libresolv",
    "libutil",
];

/// Top directories of glibc's source tree, as its debug information names them (`./nptl/…`,
/// `../sysdeps/…`).
const GLIBC_DIRS: &[&str] = &[
    "nptl/",
    "sysdeps/",
    "stdlib/",
    "malloc/",
    "csu/",
    "string/",
    "libio/",
    "signal/",
    "posix/",
    "elf/",
    "misc/",
    "assert/",
    "dlfcn/",
    "io/",
    "time/",
    "stdio-common/",
];

/// glibc and C++ runtime functions, seen without a library when their debug information is
/// installed.
const SYSTEM_PREFIXES: &[&str] = &[
    "__GI_",
    "__libc_",
    "__pthread_",
    "pthread_",
    "__new_sem",
    "__clock_",
    "_dl_",
    "__cxa_",
    "__gxx_",
    "_Unwind_",
    "__malloc",
    "_int_",
    "__memcpy",
    "__memmove",
    "__memset",
    "__strlen",
    "__strcmp",
    "__restore_rt",
    "std::terminate",
    "__gnu_cxx::__verbose_terminate_handler",
];

const SYSTEM_FUNCTIONS: &[&str] = &[
    "raise",
    "abort",
    "malloc",
    "free",
    "calloc",
    "realloc",
    "sysmalloc",
    "start_thread",
    "clone",
    "clone3",
    "_start",
    "memcpy",
    "memmove",
    "memset",
    "strlen",
    "strcmp",
];

fn is_system(func: Option<&str>, file: Option<&str>, object: Option<&str>) -> bool {
    if let Some(lib) = object {
        let base = basename(lib);
        return SYSTEM_LIBRARIES.iter().any(|p| base.starts_with(p))
            || ((lib.starts_with("/lib/")
                || lib.starts_with("/lib64/")
                || lib.starts_with("/usr/lib/")
                || lib.starts_with("/usr/lib64/"))
                && !lib.contains("-packages/"));
    }
    if let Some(file) = file {
        if file.starts_with("/usr/include/")
            || file.contains("libstdc++-v3/")
            || file.contains("/glibc-")
        {
            return true;
        }
        if (file.starts_with("./") || file.starts_with("../"))
            && GLIBC_DIRS.iter().any(|d| source_tail(file).starts_with(d))
        {
            return true;
        }
    }
    func.is_some_and(|f| {
        SYSTEM_PREFIXES.iter().any(|p| f.starts_with(p)) || SYSTEM_FUNCTIONS.contains(&f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let mut project = Project::Patterns(vec!["myext".into()].into());
        let frame = |func: Option<&str>, file: Option<&str>, object: Option<&str>| Frame {
            function: func.map(Into::into),
            file: file.map(Into::into),
            object: object.map(Into::into),
            ..Frame::default()
        };
        let cases = [
            (
                frame(
                    Some("crash"),
                    None,
                    Some("/x/myext.cpython-311-x86_64-linux-gnu.so"),
                ),
                Class::Project,
            ),
            (
                frame(Some("f"), Some("/src/myext/f.c"), None),
                Class::Project,
            ),
            (
                frame(
                    Some("_PyEval_EvalFrameDefault"),
                    Some("../Python/ceval.c"),
                    None,
                ),
                Class::Python,
            ),
            (frame(Some("PyEval_EvalFrameEx"), None, None), Class::Python),
            (
                frame(
                    Some("cfunction_vectorcall_NOARGS"),
                    Some("/usr/src/x.c"),
                    None,
                ),
                Class::Python,
            ),
            (
                frame(
                    None,
                    None,
                    Some("/usr/lib/x86_64-linux-gnu/libpython3.12.so.1.0"),
                ),
                Class::Python,
            ),
            (
                frame(Some("main"), Some("../Programs/python.c"), None),
                Class::Python,
            ),
            (
                frame(
                    Some("PyCFuncPtr_call"),
                    None,
                    Some("/usr/lib/python3.11/lib-dynload/_ctypes.so"),
                ),
                Class::Python,
            ),
            (
                frame(
                    Some("ffi_call"),
                    None,
                    Some("/lib/x86_64-linux-gnu/libffi.so.8"),
                ),
                Class::System,
            ),
            (
                frame(
                    Some("__GI_raise"),
                    Some("../sysdeps/unix/sysv/linux/raise.c"),
                    None,
                ),
                Class::System,
            ),
            (
                frame(Some("sysmalloc"), Some("malloc.c"), None),
                Class::System,
            ),
            (
                frame(Some("start_thread"), Some("./nptl/pthread_create.c"), None),
                Class::System,
            ),
            (
                frame(
                    Some("std::_Hashtable<…>::_M_emplace"),
                    Some("/usr/include/c++/12/bits/hashtable.h"),
                    None,
                ),
                Class::System,
            ),
            (
                frame(
                    Some("operator new"),
                    None,
                    Some("/opt/gcc/lib64/libstdc++.so.6"),
                ),
                Class::System,
            ),
            (frame(None, None, None), Class::Unknown),
            (
                frame(
                    Some("dispatcher_dealloc"),
                    None,
                    Some("/venv/lib/python3.13/site-packages/numpy/x.so"),
                ),
                Class::Unknown,
            ),
            (
                frame(
                    Some("lib_fn"),
                    None,
                    Some("/usr/lib/python3/dist-packages/x.so"),
                ),
                Class::Unknown,
            ),
        ];
        for (f, want) in cases {
            assert_eq!(classify(&mut project, &f, false), want, "{f:?}");
        }
        let marker = frame(Some("<signal handler called>"), None, None);
        assert_eq!(classify(&mut project, &marker, true), Class::System);
    }
}
