//! One stack frame, as every tool reports it.
//!
//! Valgrind, gdb and the Python harness all describe a call stack as a list of frames; this is
//! the one shape they share, so that filters downstream (project matching, suppressions,
//! signatures) work on any of them.

use serde::{Deserialize, Serialize};

/// A stack frame. Fields that the input does not give are `None` (written as JSON `null`).
///
/// Wire format (field order is stable):
/// `{"addr":"0x53C826E","fn":"uninit","obj":"/x/leaky.so","dir":"/x","file":"leaky.c","line":14}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Frame {
    /// Instruction pointer as printed (`0x53C826E`; Valgrind's filtered outputs print `0x........`).
    pub addr: Option<String>,
    /// Function name as printed (demangled by Valgrind/gdb unless told otherwise); `???` is kept
    /// as `None`.
    #[serde(rename = "fn")]
    pub func: Option<String>,
    /// Object (executable or shared library) the address lies in.
    pub obj: Option<String>,
    /// Directory of the source file, when the input gives it separately (Valgrind XML).
    pub dir: Option<String>,
    /// Source file as printed: a base name, or a path when Valgrind ran with `--fullpath-after=`.
    pub file: Option<String>,
    /// Source line.
    pub line: Option<u32>,
}

impl Frame {
    /// The source file joined to its directory when both are known.
    pub fn source_path(&self) -> Option<String> {
        match (&self.dir, &self.file) {
            (Some(dir), Some(file)) if !file.starts_with('/') => Some(format!("{dir}/{file}")),
            (_, Some(file)) => Some(file.clone()),
            _ => None,
        }
    }

    /// What identifies this frame when addresses and lines differ between runs: the function
    /// name, or the object for frames without symbols.
    pub fn identity(&self) -> &str {
        self.func
            .as_deref()
            .or(self.obj.as_deref())
            .unwrap_or("???")
    }
}
