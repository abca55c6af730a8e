//! The library's error type: what went wrong, in which input, and where.
//!
//! Every fallible function of the library returns [`Error`]; binaries add context with
//! `anyhow` and print the chain as one line (`crate::cli::main`).

use std::fmt;
use std::io;

/// An error reading or parsing one input, or writing the output. Displayed as one line:
/// `vg.1234.log:17: unexpected end of XML element <stack>`.
#[derive(Debug)]
pub struct Error {
    /// The input's name as the user gave it (`<stdin>` for standard input), or what was being
    /// written (`<stdout>`).
    pub input: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// What went wrong.
    pub message: String,
    /// The I/O error underneath, kept so that a closed pipe can be told from a failure.
    source: Option<io::Error>,
}

impl Error {
    /// An error at a line of an input.
    pub fn at(input: &str, line: Option<u64>, message: impl Into<String>) -> Self {
        Error {
            input: input.to_string(),
            line,
            message: message.into(),
            source: None,
        }
    }

    /// An I/O error while reading an input.
    pub fn io(input: &str, err: &io::Error) -> Self {
        Error::at(input, None, err.to_string())
    }

    /// An I/O error while writing the output (a closed pipe among others).
    pub fn output(err: io::Error) -> Self {
        Error {
            input: "<stdout>".into(),
            line: None,
            message: err.to_string(),
            source: Some(err),
        }
    }

    /// True when writing failed because the reader went away (`| head`).
    pub fn is_broken_pipe(&self) -> bool {
        self.source
            .as_ref()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Writing is what fails with a bare I/O error inside a filter: reading errors are made with
/// the input's name ([`Error::io`]).
impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        Error::output(err)
    }
}

impl fmt::Display for Error {
    /// One line whatever the parts hold: control characters (a newline in a file name, or in
    /// the text a parser quotes from a hostile input) are written escaped, as `\n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        one_line(f, &self.input)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        f.write_str(": ")?;
        one_line(f, &self.message)
    }
}

fn one_line(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    if !text.contains(char::is_control) {
        return f.write_str(text);
    }
    for c in text.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_one_line() {
        let e = Error::at("a\nb.log", Some(3), "expected `</tid>`, found `</ti\nd>`\r");
        assert_eq!(
            e.to_string(),
            r"a\nb.log:3: expected `</tid>`, found `</ti\nd>`\r"
        );
        assert_eq!(Error::at("x", None, "plain").to_string(), "x: plain");
    }

    #[test]
    fn a_closed_pipe_is_told_apart() {
        let e = Error::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(e.is_broken_pipe());
        assert!(crate::output::is_broken_pipe(&e));
        assert!(!Error::at("x", None, "y").is_broken_pipe());
    }
}
