//! One stack frame, as every tool reports it.
//!
//! Valgrind, gdb and Massif all describe a call stack as a list of frames; this is the one
//! shape they share, so that what works on frames (project matching, suppressions,
//! classification, signatures) works on any of them, and a script written against one tool's
//! frames reads another's.
//!
//! Wire format (schema 2; field order is stable, absent values are `null`):
//! `{"addr":"0x53C826E","function":"uninit","file":"/src/leaky.c","line":14,"object":"/x/leaky.so"}`.
//! A record that has more to say about a frame (bt-demangle's `args`, `inlined`, `class`)
//! adds its fields after these, in the same object.

use serde::{Deserialize, Serialize};

/// A stack frame. Fields that the input does not give are `None` (written as JSON `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Frame {
    /// Instruction pointer as printed (`0x53C826E`; Valgrind's filtered outputs print
    /// `0x........`); `None` where the tool prints none (gdb's inlined frames).
    pub addr: Option<String>,
    /// Function name, demangled; `None` where the tool printed `???` or `??`.
    pub function: Option<String>,
    /// Source file: the path as the tool printed it (a base name when Valgrind ran without
    /// `--fullpath-after=`; Valgrind's XML gives the directory apart, and it is joined here).
    pub file: Option<String>,
    /// Source line.
    pub line: Option<u32>,
    /// The executable or shared object the address lies in.
    pub object: Option<String>,
}

impl Frame {
    /// What identifies this frame when addresses and lines differ between runs: the function
    /// name, or the object for frames without symbols.
    pub fn identity(&self) -> &str {
        self.function
            .as_deref()
            .or(self.object.as_deref())
            .unwrap_or("???")
    }

    /// The source file's base name (`leaky.c` of `/src/leaky.c`).
    pub fn file_name(&self) -> Option<&str> {
        self.file
            .as_deref()
            .map(|f| f.rsplit('/').next().unwrap_or(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_format_is_stable() {
        let f = Frame {
            addr: Some("0x1".into()),
            function: Some("f".into()),
            file: Some("/src/a.c".into()),
            line: Some(3),
            object: None,
        };
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"addr":"0x1","function":"f","file":"/src/a.c","line":3,"object":null}"#
        );
        assert_eq!(serde_json::from_str::<Frame>(&json).unwrap(), f);
        assert_eq!(f.file_name(), Some("a.c"));
        assert_eq!(f.identity(), "f");
        assert_eq!(Frame::default().identity(), "???");
    }
}
