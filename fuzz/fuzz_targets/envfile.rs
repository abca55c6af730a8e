//! Env files (run-in-image --env-file): any text parses or gives a one-line error naming a
//! line of the file, never a panic; and what parses
//! - is in normal form: valid names, line numbers in order and within the file, no empty or
//!   adjacent literal pieces;
//! - written back as an env file (single-quoted literals, `${NAME}`, `${NAME:-word}`) parses
//!   to the same assignments;
//! - becomes expander steps that user text cannot subvert: each step is one of the
//!   expander's operations, none is the `--` that would end them early, and a model of the
//!   fixed `sh` program (`envfile::EXPANDER`, step by step) computes what [`envfile::expand`]
//!   computes. (Running the real `sh` agrees with `expand`: a unit test checks that.)
#![no_main]
use dbgpipe_core::image::envfile::{self, Assignment, Part};
use libfuzzer_sys::fuzz_target;

/// The env-file text of a value; `in_word` for the word of `${NAME:-word}`.
fn write_parts(parts: &[Part], out: &mut String) {
    for part in parts {
        match part {
            Part::Literal(text) => {
                out.push('\'');
                out.push_str(&text.replace('\'', r"'\''"));
                out.push('\'');
            }
            Part::Var(name) => out.push_str(&format!("${{{name}}}")),
            Part::Default {
                name,
                if_empty,
                word,
            } => {
                out.push_str(&format!("${{{name}{}", if *if_empty { ":-" } else { "-" }));
                write_parts(word, out);
                out.push('}');
            }
        }
    }
}

fn check_normal_form(parts: &[Part], nested: bool) {
    let mut previous_literal = false;
    for part in parts {
        match part {
            Part::Literal(text) => {
                assert!(!text.is_empty(), "{parts:?}");
                assert!(!previous_literal, "adjacent literals: {parts:?}");
                assert!(!text.contains('\n'), "{parts:?}");
            }
            Part::Var(name) => assert!(envfile::is_name(name), "{name:?}"),
            Part::Default { name, word, .. } => {
                assert!(envfile::is_name(name), "{name:?}");
                assert!(!nested, "nested default: {parts:?}");
                check_normal_form(word, true);
            }
        }
        previous_literal = matches!(part, Part::Literal(_));
    }
}

/// The expander's program, step by step, with `get` standing for `printenv`; `None` when a
/// value grows past [`envfile::MAX_VALUE`], where `expand` stops with an error.
fn model(
    steps: &[String],
    get: &dyn Fn(&[(String, String)], &str) -> Option<String>,
) -> Option<Vec<(String, String)>> {
    let mut env: Vec<(String, String)> = Vec::new();
    let (mut name, mut val, mut skip) = (String::new(), String::new(), false);
    for op in steps {
        assert_ne!(op, "--", "a step ends the steps early");
        if op == "d" {
            skip = false;
            continue;
        }
        if skip {
            continue;
        }
        let (code, rest) = op.split_at(1);
        match code {
            "=" => {
                name = rest.to_string();
                val.clear();
            }
            "L" => val.push_str(rest),
            "V" => val.push_str(&get(&env, rest).unwrap_or_default()),
            "D" => {
                if let Some(v) = get(&env, rest).filter(|v| !v.is_empty()) {
                    val.push_str(&v);
                    skip = true;
                }
            }
            "U" => {
                if let Some(v) = get(&env, rest) {
                    val.push_str(&v);
                    skip = true;
                }
            }
            "E" if rest.is_empty() => {
                env.retain(|(n, _)| n != &name);
                env.push((name.clone(), val.clone()));
            }
            _ => panic!("unknown expander step {op:?}"),
        }
        if val.len() > envfile::MAX_VALUE {
            return None;
        }
    }
    Some(env)
}

fn host(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/u".into()),
        "PATH" => Some("/usr/bin:/bin".into()),
        "EMPTY" => Some(String::new()),
        "A" => Some("a".into()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.lines().count() as u64;
    let parsed = match envfile::parse("f.env", text) {
        Ok(parsed) => parsed,
        Err(e) => {
            let line = e.line.expect("an env file error names its line");
            assert!((1..=lines).contains(&line), "line {line} of {lines}: {e}");
            assert!(!e.to_string().contains('\n'), "one line: {e}");
            return;
        }
    };
    let mut last = 0;
    for a in &parsed {
        assert!(envfile::is_name(&a.name), "{a:?}");
        assert!(a.line >= last && (1..=lines).contains(&a.line), "{a:?}");
        last = a.line;
        check_normal_form(&a.value, false);
    }

    let mut written = String::new();
    for a in &parsed {
        written.push_str(&format!("export {}=", a.name));
        write_parts(&a.value, &mut written);
        written.push('\n');
    }
    let again = envfile::parse("again", &written)
        .unwrap_or_else(|e| panic!("written back, it parses: {e}\n{written}"));
    let strip = |v: &[Assignment]| -> Vec<(String, Vec<Part>)> {
        v.iter()
            .map(|a| (a.name.clone(), a.value.clone()))
            .collect()
    };
    assert_eq!(strip(&again), strip(&parsed), "{written}");

    let steps = envfile::expander_args(&parsed);
    let get = |env: &[(String, String)], name: &str| {
        env.iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .or_else(|| host(name))
    };
    let by_model = model(&steps, &get);
    match envfile::expand(&parsed, host) {
        Ok(by_expand) => assert_eq!(by_model, Some(by_expand)),
        Err(e) => {
            assert!(by_model.is_none(), "{e}");
            assert!(!e.to_string().contains('\n'), "one line: {e}");
        }
    }
});
