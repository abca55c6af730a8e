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

impl std::error::Error for Error {}

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
}
