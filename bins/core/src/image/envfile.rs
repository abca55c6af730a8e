//! The `export K=V` shell files that leak-hunting recipes `source` before running a test
//! (`.env`, `scripts/env.sh`), read without a shell.
//!
//! run-in-image must set these variables for a command inside a container, where `$PATH`,
//! `$HOME` and `$PWD` mean the container's values, not the host's. Sourcing the file there
//! would hand user text to a shell; instead the file is parsed here into [`Assignment`]s made
//! of literal text and variable references, and expanded either
//! - inside the container, by [`EXPANDER`], a fixed `sh` program that receives the parsed
//!   assignments as separate arguments ([`expander_args`]) and never evaluates them: it
//!   reads variables with `printenv NAME`, appends text, `export`s `"$name=$value"` and
//!   finally `exec "$@"`s the command; or
//! - on the host (`run-in-image --host`), by [`expand`], with the same rules.
//!
//! The dialect, a subset of POSIX `sh` assignments:
//! - blank lines and `#` comments (also after a value: `export A=1  # why`);
//! - `export NAME=VALUE`, `NAME=VALUE`, several per line (`export A=1 B=2`), and
//!   `export NAME` without a value, which keeps the variable as it is;
//! - values: unquoted text with `\` escapes, `'literal'`, `"double quoted"` (where `\` escapes
//!   only `$ " \` and the backquote), `$NAME`, `${NAME}`, `${NAME:-word}` (word when NAME is
//!   unset or empty), `${NAME-word}` (when unset), and `~` at the start of a value or after a
//!   `:` (`$HOME`). Values are not split into words, as in any assignment. Every variable
//!   is exported, also those assigned without `export` (docker's env files have none).
//! - Everything else is rejected with the line and what is not supported: command
//!   substitution (`$(…)`, backquotes), arithmetic, other `${…}` operators, special
//!   parameters (`$1`, `$?`), `~user`, control operators (`;`, `&`, `|`, `<`, `>`, `(`),
//!   line continuations and quotes left open at the end of a line.

use crate::Error;

/// One piece of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text taken as it is.
    Literal(String),
    /// `$NAME` or `${NAME}`: the variable's value, empty when unset.
    Var(String),
    /// `${NAME:-word}` (`if_empty`) or `${NAME-word}`: the variable's value, or `word` when it
    /// is unset (or, with `if_empty`, empty). `word` holds only literals and variables.
    Default {
        /// The variable.
        name: String,
        /// `:-` rather than `-`.
        if_empty: bool,
        /// The replacement.
        word: Vec<Part>,
    },
}

/// `NAME=VALUE` from line `line` of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The variable.
    pub name: String,
    /// The value's pieces, in order.
    pub value: Vec<Part>,
    /// 1-based line number.
    pub line: u64,
}

/// Prefix of the [`EXPANDER`]'s own shell variables; env files may not assign such names.
pub const RESERVED: &str = "_dbgpipe_";

/// True for a valid shell variable name.
pub fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Parses an env file's text; `name` is used in errors (`scripts/.env:3: …`).
pub fn parse(name: &str, text: &str) -> Result<Vec<Assignment>, Error> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index as u64 + 1;
        Line::new(name, number, line).parse(&mut out)?;
    }
    Ok(out)
}

/// Reads and parses an env file.
pub fn read(path: &std::path::Path) -> Result<Vec<Assignment>, Error> {
    let name = path.display().to_string();
    let bytes = crate::input::read_file_capped(path, crate::input::MAX_SMALL_FILE)?;
    let text = String::from_utf8(bytes).map_err(|_| Error::at(&name, None, "is not UTF-8 text"))?;
    parse(&name, &text)
}

/// A cursor over one line, which knows where it is so that its errors name the file and the
/// line.
struct Line<'a> {
    chars: Vec<char>,
    pos: usize,
    text: &'a str,
    /// The file's name, for errors.
    input: &'a str,
    /// 1-based line number, for errors and assignments.
    number: u64,
}

impl<'a> Line<'a> {
    fn new(input: &'a str, number: u64, text: &'a str) -> Self {
        let text = text.strip_suffix('\r').unwrap_or(text);
        Line {
            chars: text.chars().collect(),
            pos: 0,
            text,
            input,
            number,
        }
    }

    /// An error at this line.
    fn error(&self, message: impl Into<String>) -> Error {
        Error::at(self.input, Some(self.number), message)
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    /// True at the end of the line or of its trailing comment.
    fn at_end(&mut self) -> bool {
        self.skip_blanks();
        matches!(self.peek(), None | Some('#'))
    }

    fn parse(mut self, out: &mut Vec<Assignment>) -> Result<(), Error> {
        if self.at_end() {
            return Ok(());
        }
        let first = self.name();
        let mut exported = false;
        if first == "export" && matches!(self.peek(), Some(' ' | '\t')) {
            exported = true;
            self.skip_blanks();
            if matches!(self.peek(), Some('-')) {
                return Err(self.error("`export` options are not supported"));
            }
        } else {
            self.pos = 0;
        }
        let mut any = false;
        while !self.at_end() {
            let word_start = self.pos;
            let name = self.name();
            if name.is_empty() {
                return Err(self.unsupported(word_start));
            }
            self.reserved(&name)?;
            match self.peek() {
                Some('=') => {
                    self.pos += 1;
                    let value = self.value(false)?;
                    out.push(Assignment {
                        name,
                        value,
                        line: self.number,
                    });
                }
                None | Some(' ' | '\t' | '#') if exported => {}
                _ => return Err(self.unsupported(word_start)),
            }
            any = true;
        }
        if !any {
            return Err(self.error("`export` without a variable"));
        }
        Ok(())
    }

    /// A shell name at the cursor (possibly empty).
    fn name(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let ok =
                c == '_' || c.is_ascii_alphabetic() || (self.pos > start && c.is_ascii_digit());
            if !ok {
                break;
            }
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// What the line holds where an assignment was expected, at `start`.
    fn unsupported(&self, start: usize) -> Error {
        let word: String = self.chars[start..]
            .iter()
            .take_while(|c| !c.is_whitespace())
            .collect();
        self.error(
            if let Some(c) = word.chars().next().filter(|c| ";&|<>()".contains(*c)) {
                format!("shell syntax `{c}` is not supported: only assignments are")
            } else if start == 0 {
                format!("not an assignment: {:?}", self.text)
            } else {
                format!("not an assignment: {word:?}")
            },
        )
    }

    /// A value up to unquoted whitespace (or, `in_word`, up to the `}` closing `${…-word}`).
    fn value(&mut self, in_word: bool) -> Result<Vec<Part>, Error> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let start = self.pos;
        while let Some(c) = self.peek() {
            // `~` is $HOME at the start of a value and after an unquoted `:`.
            let tilde_here = c == '~'
                && !in_word
                && (self.pos == start || self.chars.get(self.pos - 1) == Some(&':'));
            match c {
                ' ' | '\t' if !in_word => break,
                '}' if in_word => break,
                '\'' => {
                    self.pos += 1;
                    loop {
                        match self.peek() {
                            None => {
                                return Err(self.error("a single quote is not closed on this line"))
                            }
                            Some('\'') => break,
                            Some(c) => lit.push(c),
                        }
                        self.pos += 1;
                    }
                    self.pos += 1;
                    continue;
                }
                '"' => {
                    self.pos += 1;
                    self.double_quoted(&mut parts, &mut lit)?;
                    continue;
                }
                '\\' => match self.peek_at(1) {
                    None => {
                        return Err(
                            self.error("line continuations (`\\` at the end) are not supported")
                        )
                    }
                    Some(next) => {
                        lit.push(next);
                        self.pos += 2;
                        continue;
                    }
                },
                '$' => {
                    self.dollar(&mut parts, &mut lit)?;
                    continue;
                }
                '`' => return Err(self.error("command substitution (backquotes) is not supported")),
                ';' | '&' | '|' | '<' | '>' | '(' | ')' => {
                    return Err(self.error(format!(
                        "shell syntax `{c}` is not supported: only assignments are"
                    )))
                }
                '~' if tilde_here => {
                    match self.peek_at(1) {
                        None | Some('/' | ':' | ' ' | '\t') => {}
                        Some(_) => return Err(self.error("`~user` is not supported, only `~`")),
                    }
                    flush(&mut parts, &mut lit);
                    parts.push(Part::Var("HOME".into()));
                    self.pos += 1;
                    continue;
                }
                c => lit.push(c),
            }
            self.pos += 1;
        }
        flush(&mut parts, &mut lit);
        Ok(parts)
    }

    /// The inside of `"…"`, the opening quote consumed.
    fn double_quoted(&mut self, parts: &mut Vec<Part>, lit: &mut String) -> Result<(), Error> {
        loop {
            match self.peek() {
                None => return Err(self.error("a double quote is not closed on this line")),
                Some('"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some('\\') => match self.peek_at(1) {
                    Some(c @ ('$' | '"' | '\\' | '`')) => {
                        lit.push(c);
                        self.pos += 2;
                    }
                    None => {
                        return Err(
                            self.error("line continuations (`\\` at the end) are not supported")
                        )
                    }
                    Some(_) => {
                        lit.push('\\');
                        self.pos += 1;
                    }
                },
                Some('$') => self.dollar(parts, lit)?,
                Some('`') => {
                    return Err(self.error("command substitution (backquotes) is not supported"))
                }
                Some(c) => {
                    lit.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `$…` at the cursor.
    fn dollar(&mut self, parts: &mut Vec<Part>, lit: &mut String) -> Result<(), Error> {
        self.pos += 1;
        match self.peek() {
            Some('(') => Err(self.error("command substitution `$(…)` is not supported")),
            Some('{') => {
                self.pos += 1;
                let name = self.name();
                if name.is_empty() {
                    return Err(self.error(
                        "only `${NAME}`, `${NAME:-word}` and `${NAME-word}` are supported",
                    ));
                }
                self.reserved(&name)?;
                let if_empty = match (self.peek(), self.peek_at(1)) {
                    (Some('}'), _) => {
                        self.pos += 1;
                        flush(parts, lit);
                        parts.push(Part::Var(name));
                        return Ok(());
                    }
                    (Some(':'), Some('-')) => {
                        self.pos += 2;
                        true
                    }
                    (Some('-'), _) => {
                        self.pos += 1;
                        false
                    }
                    _ => {
                        return Err(self.error(format!(
                            "`${{{name}…}}`: only `${{NAME}}`, `${{NAME:-word}}` and `${{NAME-word}}` are supported"
                        )))
                    }
                };
                let word = self.value(true)?;
                if self.peek() != Some('}') {
                    return Err(self.error(format!("`${{{name}` is not closed")));
                }
                self.pos += 1;
                if word.iter().any(|p| matches!(p, Part::Default { .. })) {
                    return Err(self.error("a `${…:-word}` inside another one is not supported"));
                }
                flush(parts, lit);
                parts.push(Part::Default {
                    name,
                    if_empty,
                    word,
                });
                Ok(())
            }
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                let name = self.name();
                self.reserved(&name)?;
                flush(parts, lit);
                parts.push(Part::Var(name));
                Ok(())
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                Err(self.error(format!("the special parameter `${c}` is not supported")))
            }
            // A `$` before anything else is a literal dollar, as in sh.
            _ => {
                lit.push('$');
                Ok(())
            }
        }
    }
}

impl Line<'_> {
    /// Names the expander keeps for itself cannot be assigned nor read: inside the container
    /// they would be the expander's state, not the environment's.
    fn reserved(&self, name: &str) -> Result<(), Error> {
        if name.starts_with(RESERVED) {
            return Err(self.error(format!(
                "`{name}`: names starting with {RESERVED} are run-in-image's own"
            )));
        }
        Ok(())
    }
}

fn flush(parts: &mut Vec<Part>, lit: &mut String) {
    if !lit.is_empty() {
        match parts.last_mut() {
            Some(Part::Literal(prev)) => prev.push_str(lit),
            _ => parts.push(Part::Literal(std::mem::take(lit))),
        }
        lit.clear();
    }
}

/// Longest value [`expand`] builds, in bytes: Linux refuses to start a program with a longer
/// environment string (`MAX_ARG_STRLEN`, 32 pages). Lines such as `X=$X$X` double a value
/// each time, so thirty of them would otherwise ask for gigabytes.
pub const MAX_VALUE: usize = 128 << 10;

/// Expands the assignments in order against an environment (the host's for `--host`), each
/// later one seeing the earlier ones; returns the variables to set, in order. A value longer
/// than [`MAX_VALUE`] is an error naming its line (the input is named `env file`: the
/// assignments of several files may be expanded together).
pub fn expand(
    assignments: &[Assignment],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, Error> {
    let mut set: Vec<(String, String)> = Vec::new();
    let get = |set: &[(String, String)], name: &str| {
        set.iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| lookup(name))
    };
    for a in assignments {
        let mut value = String::new();
        for part in &a.value {
            append(&mut value, part, &|name| get(&set, name));
            if value.len() > MAX_VALUE {
                return Err(Error::at(
                    "env file",
                    Some(a.line),
                    format!(
                        "the value of {} would be longer than {} KiB, the most Linux passes in one variable",
                        a.name,
                        MAX_VALUE >> 10
                    ),
                ));
            }
        }
        set.retain(|(n, _)| n != &a.name);
        set.push((a.name.clone(), value));
    }
    Ok(set)
}

fn append(value: &mut String, part: &Part, get: &dyn Fn(&str) -> Option<String>) {
    match part {
        Part::Literal(text) => value.push_str(text),
        Part::Var(name) => value.push_str(&get(name).unwrap_or_default()),
        Part::Default {
            name,
            if_empty,
            word,
        } => match get(name) {
            Some(v) if !(*if_empty && v.is_empty()) => value.push_str(&v),
            _ => word.iter().for_each(|p| append(value, p, get)),
        },
    }
}

/// The fixed program that expands assignments inside the container, run as
/// `sh -c EXPANDER run-in-image ARGS… -- CMD…` with [`expander_args`] as `ARGS`.
///
/// Each argument is one step: `=NAME` starts an assignment, `LTEXT` appends text, `VNAME`
/// appends a variable, `DNAME`/`UNAME` append a variable that is set and non-empty / set and
/// skip the steps up to `d` (the default word) when it is, `E` exports the assignment. The
/// program's text is constant; user data only ever arrives as `$1`, is compared, cut with
/// `${op#?}` and assigned, and is never evaluated. `printenv` is found with `command -p`
/// (the standard PATH), so an env file that sets PATH cannot hide it; `printenv NAME && echo .`
/// keeps a value's trailing newlines. Exit status 125 marks a failure of the expander itself,
/// as docker uses it for its own failures. Its own variables all start with [`RESERVED`]: a
/// shell variable is the environment variable of the same name, so a plain `name` or `val`
/// would be overwritten by the loop (an env file's `export val=x` came out as the last
/// value expanded, and any exported `op` as `--`).
pub const EXPANDER: &str = r#"_dbgpipe_get() { _dbgpipe_v=$(command -p printenv "$1" && echo .) || return 1; _dbgpipe_v=${_dbgpipe_v%?}; _dbgpipe_v=${_dbgpipe_v%?}; }
_dbgpipe_name= _dbgpipe_val= _dbgpipe_skip=
while [ "$#" -gt 0 ]; do
  _dbgpipe_op=$1; shift
  case $_dbgpipe_op in
    --) exec "$@" ;;
    d) _dbgpipe_skip=; continue ;;
  esac
  [ -n "$_dbgpipe_skip" ] && continue
  case $_dbgpipe_op in
    =*) _dbgpipe_name=${_dbgpipe_op#=}; _dbgpipe_val= ;;
    L*) _dbgpipe_val=$_dbgpipe_val${_dbgpipe_op#L} ;;
    V*) if _dbgpipe_get "${_dbgpipe_op#V}"; then _dbgpipe_val=$_dbgpipe_val$_dbgpipe_v; fi ;;
    D*) if _dbgpipe_get "${_dbgpipe_op#D}" && [ -n "$_dbgpipe_v" ]; then _dbgpipe_val=$_dbgpipe_val$_dbgpipe_v; _dbgpipe_skip=1; fi ;;
    U*) if _dbgpipe_get "${_dbgpipe_op#U}"; then _dbgpipe_val=$_dbgpipe_val$_dbgpipe_v; _dbgpipe_skip=1; fi ;;
    E) export "$_dbgpipe_name=$_dbgpipe_val" || exit 125 ;;
    *) echo "run-in-image: unknown expander step" >&2; exit 125 ;;
  esac
done
echo "run-in-image: no command to run" >&2
exit 125"#;

/// The steps for [`EXPANDER`], without the closing `--`.
pub fn expander_args(assignments: &[Assignment]) -> Vec<String> {
    let mut out = Vec::new();
    for a in assignments {
        out.push(format!("={}", a.name));
        for part in &a.value {
            push_part(&mut out, part);
        }
        out.push("E".into());
    }
    out
}

fn push_part(out: &mut Vec<String>, part: &Part) {
    match part {
        Part::Literal(text) => out.push(format!("L{text}")),
        Part::Var(name) => out.push(format!("V{name}")),
        Part::Default {
            name,
            if_empty,
            word,
        } => {
            out.push(format!("{}{name}", if *if_empty { 'D' } else { 'U' }));
            word.iter().for_each(|p| push_part(out, p));
            out.push("d".into());
        }
    }
}

/// A literal assignment (for `--env K=V` given beside an env file, which must win over it).
pub fn literal(name: &str, value: &str) -> Assignment {
    Assignment {
        name: name.to_string(),
        value: vec![Part::Literal(value.to_string())],
        line: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn lit(s: &str) -> Part {
        Part::Literal(s.into())
    }
    fn var(s: &str) -> Part {
        Part::Var(s.into())
    }

    fn one(line: &str) -> Vec<(String, Vec<Part>)> {
        parse("t", line)
            .unwrap_or_else(|e| panic!("{line:?}: {e}"))
            .into_iter()
            .map(|a| (a.name, a.value))
            .collect()
    }

    #[test]
    fn table_of_accepted_lines() {
        type Case = (&'static str, Vec<(&'static str, Vec<Part>)>);
        let cases: Vec<Case> = vec![
            ("export A=1", vec![("A", vec![lit("1")])]),
            ("A=1", vec![("A", vec![lit("1")])]),
            ("  export   A=1   # comment", vec![("A", vec![lit("1")])]),
            (
                "export A=1 B=2",
                vec![("A", vec![lit("1")]), ("B", vec![lit("2")])],
            ),
            ("export A=", vec![("A", vec![])]),
            (
                "export PATH=$PATH:$PWD/bin",
                vec![("PATH", vec![var("PATH"), lit(":"), var("PWD"), lit("/bin")])],
            ),
            (
                "export P=${PATH}x",
                vec![("P", vec![var("PATH"), lit("x")])],
            ),
            (
                "export Q='a $B \"c\"'",
                vec![("Q", vec![lit("a $B \"c\"")])],
            ),
            (
                "export Q=\"a $B 'c' \\$d \\\\ \\x\"",
                vec![("Q", vec![lit("a "), var("B"), lit(" 'c' $d \\ \\x")])],
            ),
            ("export Q=a\\ b", vec![("Q", vec![lit("a b")])]),
            ("export Q=a#b", vec![("Q", vec![lit("a#b")])]),
            (
                "export Q=$ X=5$",
                vec![("Q", vec![lit("$")]), ("X", vec![lit("5$")])],
            ),
            ("export Q=$/x", vec![("Q", vec![lit("$/x")])]),
            (
                "export H=~/bin:~",
                vec![("H", vec![var("HOME"), lit("/bin:"), var("HOME")])],
            ),
            ("export H=a~b", vec![("H", vec![lit("a~b")])]),
            ("export H='~'", vec![("H", vec![lit("~")])]),
            (
                "export D=${X:-/opt/$Y}",
                vec![(
                    "D",
                    vec![Part::Default {
                        name: "X".into(),
                        if_empty: true,
                        word: vec![lit("/opt/"), var("Y")],
                    }],
                )],
            ),
            (
                "export D=${X-}",
                vec![(
                    "D",
                    vec![Part::Default {
                        name: "X".into(),
                        if_empty: false,
                        word: vec![],
                    }],
                )],
            ),
            (
                "export D=\"${X:-a b}\"",
                vec![(
                    "D",
                    vec![Part::Default {
                        name: "X".into(),
                        if_empty: true,
                        word: vec![lit("a b")],
                    }],
                )],
            ),
            ("export KEEP", vec![]),
            ("export KEEP A=1", vec![("A", vec![lit("1")])]),
            ("# only a comment", vec![]),
            ("", vec![]),
            ("export A=1\r", vec![("A", vec![lit("1")])]),
            ("export _x9=ü", vec![("_x9", vec![lit("ü")])]),
        ];
        for (line, want) in cases {
            let want: Vec<(String, Vec<Part>)> =
                want.into_iter().map(|(n, v)| (n.to_string(), v)).collect();
            assert_eq!(one(line), want, "{line:?}");
        }
    }

    #[test]
    fn table_of_rejected_lines() {
        for (line, needle) in [
            ("export A=$(id)", "command substitution `$(…)`"),
            ("export A=$((1+2))", "command substitution"),
            ("export A=`id`", "backquotes"),
            ("export A=\"`id`\"", "backquotes"),
            ("export A=1; rm -rf /", "shell syntax `;`"),
            ("export A=1 && echo", "shell syntax `&`"),
            ("export A=a|b", "shell syntax `|`"),
            ("export A=>f", "shell syntax `>`"),
            ("source other.env", "not an assignment"),
            ("if true; then", "not an assignment"),
            ("unset A", "not an assignment"),
            ("export", "not an assignment"),
            ("export -n A", "options are not supported"),
            ("export 1A=2", "not an assignment"),
            ("export A-B=2", "not an assignment"),
            ("export A='open", "single quote is not closed"),
            ("export A=\"open", "double quote is not closed"),
            ("export A=x\\", "line continuations"),
            ("export A=$1", "special parameter `$1`"),
            ("export A=$?", "special parameter `$?`"),
            ("export A=${#B}", "only `${NAME}`"),
            ("export A=${B:=c}", "`${B…}`: only"),
            ("export A=${B/x/y}", "`${B…}`: only"),
            ("export A=${B:-x", "is not closed"),
            ("export A=${B:-${C:-d}}", "inside another one"),
            ("export A=~root/x", "`~user` is not supported"),
            ("A=1 cmd", "not an assignment: \"cmd\""),
        ] {
            let error = parse("f.env", line).unwrap_err().to_string();
            assert!(error.starts_with("f.env:1: "), "{line:?}: {error}");
            assert!(error.contains(needle), "{line:?}: {error}");
        }
        let error = parse("f.env", "export A=1\n\nexport B=$(x)").unwrap_err();
        assert_eq!(error.line, Some(3));
    }

    #[test]
    fn expansion_sees_earlier_lines_and_the_environment() {
        let file = "export PATH=$PATH:$PWD/bin\nexport A=$HOME/x\nexport B=\"$A and ${A}\"\n\
            export C=${UNSET:-dflt} D=${EMPTY:-dflt} E=${EMPTY-dflt} F=${A:-no}\nexport A=again";
        let parsed = parse("t", file).unwrap();
        let env = |name: &str| match name {
            "PATH" => Some("/usr/bin".to_string()),
            "PWD" => Some("/work".to_string()),
            "HOME" => Some("/root".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let got = expand(&parsed, env).unwrap();
        let want = [
            ("PATH", "/usr/bin:/work/bin"),
            ("B", "/root/x and /root/x"),
            ("C", "dflt"),
            ("D", "dflt"),
            ("E", ""),
            ("F", "/root/x"),
            ("A", "again"),
        ];
        let got: Vec<(&str, &str)> = got.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(got, want);
    }

    /// The shell expander, run by the host's `sh`, gives what [`expand`] gives, for values
    /// that would break any program that pasted them into a shell string.
    #[test]
    fn the_sh_expander_agrees_with_expand() {
        let file = r#"export PATH=$PATH:$PWD/bin
export A=$HOME/x
export B="$A and ${A}"
export C=${UNSET:-dflt} D=${EMPTY:-dflt} E=${EMPTY-dflt} F=${A:-no} G=${A-no}
export TRICK='$(touch /tmp/dbgpipe-pwned) `id` ; exit 3 "'"'"' \n'
export NL="$MULTI"
export SPACES='  two  spaces  '
export A=again
"#;
        let parsed = parse("t", file).unwrap();
        let base: Vec<(&str, &str)> = vec![
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/home/u"),
            ("EMPTY", ""),
            ("MULTI", "line1\nline2\n\n"),
        ];
        let dir = std::env::temp_dir();
        let want = expand(&parsed, |name| {
            if name == "PWD" {
                return Some(dir.display().to_string());
            }
            base.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(EXPANDER).arg("run-in-image");
        cmd.args(expander_args(&parsed)).arg("--");
        cmd.args(["env", "-0"]);
        cmd.env_clear().envs(base.iter().copied()).current_dir(&dir);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let env: Vec<(String, String)> = out
            .stdout
            .split(|&b| b == 0)
            .filter(|e| !e.is_empty())
            .map(|e| {
                let e = String::from_utf8_lossy(e);
                let (n, v) = e.split_once('=').unwrap();
                (n.to_string(), v.to_string())
            })
            .collect();
        for (name, value) in &want {
            let got = env.iter().find(|(n, _)| n == name).map(|(_, v)| v);
            assert_eq!(got, Some(value), "{name}");
        }
        assert!(!Path::new("/tmp/dbgpipe-pwned").exists());
        assert!(want
            .iter()
            .any(|(n, v)| n == "TRICK" && v.starts_with("$(touch")));
        assert!(want
            .iter()
            .any(|(n, v)| n == "NL" && v == "line1\nline2\n\n"));
    }

    use std::path::Path;

    /// Regression: the expander's loop variables were plain `name`, `val`, `skip`, `op` and
    /// `_v`, which are the environment variables of those names once exported, so `export
    /// val=x` reached the command as the last value expanded and `export op=1` as `--`.
    #[test]
    fn variables_named_like_the_expanders_state_keep_their_values() {
        let file = "export name=n val=v skip=s op=o _v=u get=g\nexport B=$val$op\nexport C=later\n";
        let parsed = parse("t", file).unwrap();
        let want = expand(&parsed, |_| None).unwrap();
        let out = Command::new("sh")
            .args(["-c", EXPANDER, "run-in-image"])
            .args(expander_args(&parsed))
            .args(["--", "env", "-0"])
            .env_clear()
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let env = String::from_utf8(out.stdout).unwrap();
        for (name, value) in &want {
            let entry = format!("{name}={value}");
            assert!(env.split('\0').any(|e| e == entry), "{entry} in {env:?}");
        }
        assert!(want.contains(&("B".to_string(), "vo".to_string())));
    }

    #[test]
    fn the_expanders_own_names_are_refused() {
        for line in [
            "export _dbgpipe_val=1",
            "export A=$_dbgpipe_v",
            "export A=${_dbgpipe_op:-x}",
            "export _dbgpipe_name",
        ] {
            let error = parse("f.env", line).unwrap_err().to_string();
            assert!(error.contains("run-in-image's own"), "{line}: {error}");
        }
    }

    /// Found by the `envfile` fuzz target: 30 lines of `X=$X$X=X` ask `expand` for
    /// 2^30 bytes. Values are capped at the kernel's limit for one variable.
    #[test]
    fn doubling_values_stop_at_the_kernels_limit() {
        let file = "X=x\n".to_string() + &"X=$X$X=X\n".repeat(40);
        let parsed = parse("t", &file).unwrap();
        let error = expand(&parsed, |_| None).unwrap_err();
        // 1, 4, 10, 22, … 3·2^(n-1) - 2 bytes: line 17 is the first over 128 KiB.
        assert_eq!(error.line, Some(17), "{error}");
        assert!(error.to_string().contains("longer than 128 KiB"), "{error}");
        let fine = parse("t", &"X=$X$X=X\n".repeat(10)).unwrap();
        assert!(expand(&fine, |_| None).is_ok());
    }

    #[test]
    fn the_expander_passes_the_exit_status_and_argv_through() {
        let status = Command::new("sh")
            .args(["-c", EXPANDER, "run-in-image", "=A", "Lx", "E", "--"])
            .args([
                "sh",
                "-c",
                "test \"$A\" = x && test \"$1\" = 'a b;c' && exit 7",
                "-",
                "a b;c",
            ])
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(7));
        let status = Command::new("sh")
            .args(["-c", EXPANDER, "run-in-image", "Xbogus", "--", "true"])
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(125));
    }
}
