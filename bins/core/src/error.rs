//! The library's error type: what went wrong, in which input, and where.

use std::fmt;

/// An error reading or parsing one input. Displayed as one line:
/// `vg.1234.log:17: unexpected end of XML element <stack>`.
#[derive(Debug)]
pub struct Error {
    /// The input's name as the user gave it (`-` or `<stdin>` for standard input).
    pub input: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// What went wrong.
    pub message: String,
}

impl Error {
    /// An error at a line of an input.
    pub fn at(input: &str, line: Option<u64>, message: impl Into<String>) -> Self {
        Error {
            input: input.to_string(),
            line,
            message: message.into(),
        }
    }

    /// An I/O error while reading an input.
    pub fn io(input: &str, err: &std::io::Error) -> Self {
        Error::at(input, None, err.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.input, line, self.message),
            None => write!(f, "{}: {}", self.input, self.message),
        }
    }
}

impl std::error::Error for Error {}
