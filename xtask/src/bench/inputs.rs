//! The bench's inputs, made deterministically from real captures and cached.
//!
//! Every input is a pure function of its sources (files of `tests/data/`, or the
//! system's C++ libraries for the symbols), its size and [`GEN_VERSION`]; a stamp beside it
//! records those, and a rerun with the same stamp reuses the file. A file is written under a
//! temporary name and renamed when complete, so an interrupted bench leaves no half input
//! that a later run would take for a whole one.

use anyhow::{bail, Context};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use xshell::{cmd, Shell};

/// Bumped whenever a generator changes what it writes, so that cached inputs are remade.
pub const GEN_VERSION: u32 = 1;

/// The repository's real inputs (`tests/data`, see its README).
pub fn corpus_dir() -> PathBuf {
    crate::example::repo_root().join("tests/data")
}

/// Reads a cached input's stamp; `true` when it matches `want` and the files it lists still
/// have the sizes it recorded.
fn cached(stamp: &Path, want: &Value) -> bool {
    let Ok(text) = std::fs::read_to_string(stamp) else {
        return false;
    };
    let Ok(have) = serde_json::from_str::<Value>(&text) else {
        return false;
    };
    if have.get("key") != Some(want) {
        return false;
    }
    let Some(files) = have.get("files").and_then(Value::as_array) else {
        return false;
    };
    files.iter().all(|f| {
        match (
            f.get("path").and_then(Value::as_str),
            f.get("bytes").and_then(Value::as_u64),
        ) {
            (Some(path), Some(bytes)) => std::fs::metadata(path).is_ok_and(|m| m.len() == bytes),
            _ => false,
        }
    })
}

fn write_stamp(stamp: &Path, key: &Value, files: &[PathBuf], facts: Value) -> anyhow::Result<()> {
    let files: Vec<Value> = files
        .iter()
        .map(|p| {
            let bytes = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            json!({ "path": p.display().to_string(), "bytes": bytes })
        })
        .collect();
    let doc = json!({ "key": key, "files": files, "facts": facts });
    std::fs::write(stamp, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("cannot write {}", stamp.display()))
}

/// What making an input counted, as its stamp recorded it: an error naming the stamp when
/// a fact is missing, rather than a zero in the report.
fn read_facts<T: DeserializeOwned>(stamp: &Path) -> anyhow::Result<T> {
    #[derive(Deserialize)]
    struct Stamp<T> {
        facts: T,
    }
    let text = std::fs::read_to_string(stamp)
        .with_context(|| format!("cannot read {}", stamp.display()))?;
    let recorded: Stamp<T> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not the facts this bench records", stamp.display()))?;
    Ok(recorded.facts)
}

/// The facts of a Memcheck input's stamp.
#[derive(Deserialize)]
struct MemcheckFacts {
    replicas: usize,
}

/// The facts of the symbols' stamp.
#[derive(Deserialize)]
struct SymbolFacts {
    lines: u64,
    unique: u64,
    sources: Vec<(String, u64)>,
}

/// The facts of the gdb log's stamp.
#[derive(Deserialize)]
struct GdbFacts {
    frames: u64,
    sessions: u64,
}

/// `gzip -dc` of a corpus file (the xtask has no decompressor of its own).
fn gunzip(sh: &Shell, path: &Path) -> anyhow::Result<Vec<u8>> {
    let out = cmd!(sh, "gzip -dc {path}")
        .quiet()
        .output()
        .with_context(|| format!("cannot decompress {}", path.display()))?;
    Ok(out.stdout)
}

/// Adds `offset` to every `0x…` hexadecimal number in `line` and appends the result to
/// `out`, keeping the case of the digits: Valgrind prints code addresses in capitals and
/// data addresses in small letters, and a replica should look like another real run.
pub fn shift_hex(line: &[u8], offset: u64, out: &mut Vec<u8>) {
    let mut i = 0;
    while i < line.len() {
        let starts = line[i] == b'0'
            && line.get(i + 1) == Some(&b'x')
            && (i == 0 || !line[i - 1].is_ascii_alphanumeric());
        if starts {
            let digits_start = i + 2;
            let mut end = digits_start;
            while end < line.len() && line[end].is_ascii_hexdigit() {
                end += 1;
            }
            let digits = &line[digits_start..end];
            // At most 15 digits, so that adding the offset cannot overflow.
            let value = (1..=15)
                .contains(&digits.len())
                .then(|| std::str::from_utf8(digits).ok())
                .flatten()
                .and_then(|d| u64::from_str_radix(d, 16).ok());
            if let Some(value) = value {
                let shifted = value.wrapping_add(offset);
                if digits.iter().any(|b| (b'a'..=b'f').contains(b)) {
                    out.extend_from_slice(format!("0x{shifted:x}").as_bytes());
                } else {
                    out.extend_from_slice(format!("0x{shifted:X}").as_bytes());
                }
                i = end;
                continue;
            }
        }
        out.push(line[i]);
        i += 1;
    }
}

/// Splits `==PID==` (or `--PID--`, `**PID**`) off a Memcheck text line: (marker, rest).
fn split_pid(line: &[u8]) -> Option<(u8, &[u8])> {
    let mark = *line.first()?;
    if !matches!(mark, b'=' | b'-' | b'*') || line.get(1) != Some(&mark) {
        return None;
    }
    let digits = line[2..].iter().take_while(|b| b.is_ascii_digit()).count();
    let after = 2 + digits;
    if digits == 0 || line.get(after) != Some(&mark) || line.get(after + 1) != Some(&mark) {
        return None;
    }
    Some((mark, &line[after + 2..]))
}

/// One process's log, rewritten as process `pid` with addresses moved by `offset`, cut into
/// chunks that each end with a record's closing blank line (Valgrind writes a record in one
/// piece, so processes sharing a stream interleave at these boundaries).
fn text_replica(source: &[u8], pid: u32, offset: u64) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut chunk = Vec::new();
    for line in source.split_inclusive(|&b| b == b'\n') {
        match split_pid(line) {
            Some((mark, rest)) => {
                let m = mark as char;
                chunk.extend_from_slice(format!("{m}{m}{pid}{m}{m}").as_bytes());
                shift_hex(rest, offset, &mut chunk);
                if rest.iter().all(u8::is_ascii_whitespace) {
                    chunks.push(std::mem::take(&mut chunk));
                }
            }
            None => shift_hex(line, offset, &mut chunk),
        }
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    chunks
}

/// One process's XML log, rewritten as process `pid` with addresses moved by `offset`.
fn xml_replica(source: &[u8], pid: u32, offset: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(source.len() + source.len() / 50);
    for line in source.split_inclusive(|&b| b == b'\n') {
        let trimmed = line.trim_ascii();
        if trimmed.starts_with(b"<pid>") && trimmed.ends_with(b"</pid>") {
            out.extend_from_slice(format!("<pid>{pid}</pid>\n").as_bytes());
        } else if trimmed.starts_with(b"<ppid>") && trimmed.ends_with(b"</ppid>") {
            out.extend_from_slice(format!("<ppid>{}</ppid>\n", pid - 1).as_bytes());
        } else {
            shift_hex(line, offset, &mut out);
        }
    }
    out
}

/// The Memcheck logs of the corpus that the logs are made of, in the order replicas take
/// them: the small run first, so that the smallest input is one whole small log.
const MEMCHECK_SOURCES: &[&str] = &["py311-leaky-malloc-all", "py311-big-malloc-all"];

/// PID and address offset of replica `i`: distinct PIDs, addresses 64 KiB apart.
fn replica_identity(i: usize) -> (u32, u64) {
    (20_000 + 2 * i as u32, (i as u64 + 1) * 0x1_0000)
}

/// A generated Memcheck input: the text log, and the same records as XML, one file per
/// process as `valgrind --xml=yes --xml-file=vg.%p.xml` writes them.
#[derive(Debug, Clone)]
pub struct MemcheckInput {
    /// The text log (every replica in one file, as `--trace-children=yes` writes one stream).
    pub text: PathBuf,
    /// Its size in bytes.
    pub text_bytes: u64,
    /// The XML files, one per replica (empty when not asked for).
    pub xml: Vec<PathBuf>,
    /// Their total size in bytes.
    pub xml_bytes: u64,
    /// Number of replicas (processes).
    pub replicas: usize,
}

/// Makes (or reuses) a Memcheck text log of at least `min_bytes`, and with `xml` its XML
/// twin: replicas of the corpus's raw CPython 3.11 logs taken in turn, each with its own PID
/// and its addresses moved, two processes at a time interleaved record by record.
pub fn memcheck(
    sh: &Shell,
    dir: &Path,
    label: &str,
    min_bytes: u64,
    xml: bool,
) -> anyhow::Result<MemcheckInput> {
    let corpus = corpus_dir().join("memcheck-logs");
    let mut sources = Vec::new();
    for name in MEMCHECK_SOURCES {
        let log = corpus.join(format!("{name}.log.gz"));
        let xml_path = corpus.join(format!("{name}.xml.gz"));
        for p in [&log, &xml_path] {
            if !p.is_file() {
                bail!(
                    "{} is missing: the bench replicates the Memcheck logs of tests/data",
                    p.display()
                );
            }
        }
        sources.push((log, xml_path));
    }
    let key = json!({
        "generator": "memcheck",
        "version": GEN_VERSION,
        "min_bytes": min_bytes,
        "xml": xml,
        "sources": sources.iter().map(|(l, x)| json!([
            l.display().to_string(), std::fs::metadata(l).map(|m| m.len()).unwrap_or(0),
            x.display().to_string(), std::fs::metadata(x).map(|m| m.len()).unwrap_or(0),
        ])).collect::<Vec<_>>(),
    });
    let text_path = dir.join(format!("memcheck-{label}.log"));
    let xml_dir = dir.join(format!("memcheck-{label}-xml"));
    let stamp = dir.join(format!("memcheck-{label}.stamp.json"));
    if cached(&stamp, &key) {
        return input_from_stamp(&stamp, text_path, xml_dir);
    }
    eprintln!(
        "  bench: making {} (≥ {:.0} MiB)",
        text_path.display(),
        min_bytes as f64 / MIB
    );
    let texts: Vec<Vec<u8>> = sources
        .iter()
        .map(|(l, _)| gunzip(sh, l))
        .collect::<Result<_, _>>()?;
    let xmls: Vec<Vec<u8>> = if xml {
        sources
            .iter()
            .map(|(_, x)| gunzip(sh, x))
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    // How many replicas reach the size: whole logs only, so every record is complete.
    let mut replicas = 0;
    let mut planned = 0u64;
    while planned < min_bytes || replicas == 0 {
        planned += texts[replicas % texts.len()].len() as u64;
        replicas += 1;
    }

    let tmp = text_path.with_extension("log.tmp");
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
    let mut i = 0;
    while i < replicas {
        let (pid_a, off_a) = replica_identity(i);
        let a = text_replica(&texts[i % texts.len()], pid_a, off_a);
        let b = if i + 1 < replicas {
            let (pid_b, off_b) = replica_identity(i + 1);
            text_replica(&texts[(i + 1) % texts.len()], pid_b, off_b)
        } else {
            Vec::new()
        };
        // Two processes writing to one stream: their records alternate.
        let (mut ia, mut ib) = (a.into_iter(), b.into_iter());
        loop {
            let (ca, cb) = (ia.next(), ib.next());
            if ca.is_none() && cb.is_none() {
                break;
            }
            for c in [ca, cb].into_iter().flatten() {
                out.write_all(&c)?;
            }
        }
        i += 2;
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, &text_path)?;

    let mut files = vec![text_path.clone()];
    if xml {
        if xml_dir.exists() {
            std::fs::remove_dir_all(&xml_dir)?;
        }
        std::fs::create_dir_all(&xml_dir)?;
        for i in 0..replicas {
            let (pid, offset) = replica_identity(i);
            let path = xml_dir.join(format!("vg.{pid}.xml"));
            std::fs::write(&path, xml_replica(&xmls[i % xmls.len()], pid, offset))?;
            files.push(path);
        }
    }
    write_stamp(&stamp, &key, &files, json!({ "replicas": replicas }))?;
    input_from_stamp(&stamp, text_path, xml_dir)
}

fn input_from_stamp(
    stamp: &Path,
    text: PathBuf,
    xml_dir: PathBuf,
) -> anyhow::Result<MemcheckInput> {
    let replicas = read_facts::<MemcheckFacts>(stamp)?.replicas;
    let text_bytes = std::fs::metadata(&text)?.len();
    let mut xml = Vec::new();
    if xml_dir.is_dir() {
        for i in 0..replicas {
            let (pid, _) = replica_identity(i);
            xml.push(xml_dir.join(format!("vg.{pid}.xml")));
        }
    }
    let xml_bytes = xml
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    Ok(MemcheckInput {
        text,
        text_bytes,
        xml,
        xml_bytes,
        replicas,
    })
}

/// Bytes in a MiB, for messages.
pub const MIB: f64 = 1024.0 * 1024.0;

/// A list of mangled C++ symbols, one per line.
#[derive(Debug, Clone)]
pub struct Symbols {
    /// The file.
    pub path: PathBuf,
    /// Lines in it.
    pub lines: u64,
    /// Distinct symbols among them (fewer than `lines` when the list was repeated).
    pub unique: u64,
    /// Each library read and the new symbols it gave, in order.
    pub sources: Vec<(String, u64)>,
}

/// The C++ libraries the symbols come from, in the order they are read: the ones the issue
/// names first (libstdc++, gdb, the rustup toolchains' libLLVM), then other large C++
/// libraries of the system; reading stops as soon as the wanted number is found.
fn symbol_sources() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut primary = vec![
        PathBuf::from("/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
        PathBuf::from("/usr/bin/gdb"),
    ];
    let rustup = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")));
    if let Some(rustup) = rustup {
        primary.extend(glob_files(&rustup.join("toolchains"), &["lib"], "libLLVM"));
    }
    let mut secondary = glob_files(Path::new("/usr/lib/x86_64-linux-gnu"), &[], "libLLVM");
    secondary.extend(glob_files(Path::new("/usr/lib"), &["lib"], "libclang-cpp"));
    secondary.extend(glob_files(
        Path::new("/usr/lib/x86_64-linux-gnu"),
        &[],
        "libprotobuf.",
    ));
    secondary.extend(glob_files(
        Path::new("/usr/lib/x86_64-linux-gnu"),
        &[],
        "libz3.",
    ));
    // The same library under several names (symlinks) is read once.
    let mut seen = std::collections::HashSet::new();
    let mut dedupe = |v: Vec<PathBuf>| -> Vec<PathBuf> {
        v.into_iter()
            .filter(|p| p.is_file())
            .filter(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())))
            .collect()
    };
    let primary = dedupe(primary);
    let secondary = dedupe(secondary);
    (primary, secondary)
}

/// Files named `prefix*` in `dir` (or in `dir/*/<sub...>`), sorted.
fn glob_files(dir: &Path, sub: &[&str], prefix: &str) -> Vec<PathBuf> {
    let dirs: Vec<PathBuf> = if sub.is_empty() {
        vec![dir.to_path_buf()]
    } else {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|e| {
                e.flatten()
                    .map(|e| sub.iter().fold(e.path(), |p, s| p.join(s)))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let mut out = Vec::new();
    for d in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .map(|e| {
                e.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        out.extend(files);
    }
    out
}

/// The mangled C++ names in `nm`'s and `nm -D`'s output for `lib`: the last field of each
/// line, without a symbol version (`@@GLIBCXX_3.4`), when it starts with `_Z`.
fn nm_symbols(sh: &Shell, lib: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dynamic in [false, true] {
        let flag: &[&str] = if dynamic { &["-D"] } else { &[] };
        // A stripped binary has no static table: nm says so and exits non-zero.
        let Ok(o) = cmd!(sh, "nm {flag...} {lib}")
            .quiet()
            .ignore_status()
            .output()
        else {
            continue;
        };
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            let Some(name) = line.split_whitespace().last() else {
                continue;
            };
            let name = name.split('@').next().unwrap_or(name);
            if name.starts_with("_Z") {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// Makes (or reuses) a list of `want` mangled symbols from the system's C++ libraries,
/// distinct ones first; when the libraries hold fewer, the list is repeated to `want` lines.
pub fn symbols(sh: &Shell, dir: &Path, want: u64) -> anyhow::Result<Symbols> {
    let (primary, secondary) = symbol_sources();
    let fingerprint: Vec<Value> = primary
        .iter()
        .chain(&secondary)
        .map(|p| {
            let m = std::fs::metadata(p);
            json!([
                p.display().to_string(),
                m.as_ref().map(|m| m.len()).unwrap_or(0),
                m.ok()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            ])
        })
        .collect();
    let key = json!({ "generator": "symbols", "version": GEN_VERSION, "want": want, "libraries": fingerprint });
    let path = dir.join(format!("symbols-{want}.txt"));
    let stamp = dir.join(format!("symbols-{want}.stamp.json"));
    if !cached(&stamp, &key) {
        eprintln!(
            "  bench: making {} from nm of the system's C++ libraries",
            path.display()
        );
        let mut seen = std::collections::HashSet::new();
        let mut list: Vec<String> = Vec::new();
        let mut sources = Vec::new();
        for lib in primary.iter().chain(&secondary) {
            if list.len() as u64 >= want {
                break;
            }
            let before = list.len();
            for s in nm_symbols(sh, lib) {
                if (list.len() as u64) < want && seen.insert(s.clone()) {
                    list.push(s);
                }
            }
            sources.push(json!([lib.display().to_string(), list.len() - before]));
        }
        if list.is_empty() {
            bail!("no mangled C++ symbol found with nm (apt-get install binutils)");
        }
        let unique = list.len() as u64;
        let tmp = path.with_extension("txt.tmp");
        let mut out = BufWriter::new(File::create(&tmp)?);
        let mut lines = 0u64;
        'fill: loop {
            for s in &list {
                if lines >= want {
                    break 'fill;
                }
                writeln!(out, "{s}")?;
                lines += 1;
            }
        }
        out.flush()?;
        drop(out);
        std::fs::rename(&tmp, &path)?;
        write_stamp(
            &stamp,
            &key,
            std::slice::from_ref(&path),
            json!({ "lines": lines, "unique": unique, "sources": sources }),
        )?;
    }
    let facts: SymbolFacts = read_facts(&stamp)?;
    Ok(Symbols {
        path,
        lines: facts.lines,
        unique: facts.unique,
        sources: facts.sources,
    })
}

/// The gdb backtraces replicated into the long gdb log: the two complete captures of the
/// corpus (CPython + C++ through ctypes, two threads; a C++ program with debug info).
const GDB_SOURCES: &[&str] = &[
    "local_python_ctypes_hashtable.txt",
    "local_cpp_debuginfo.txt",
];

/// A generated gdb log.
#[derive(Debug, Clone)]
pub struct GdbLog {
    /// The file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Frame lines (`#N …`) in it.
    pub frames: u64,
    /// Backtrace captures (gdb sessions) replicated.
    pub sessions: u64,
}

/// Makes (or reuses) a gdb log of at least `min_frames` frames: the corpus's complete
/// captures in turn, each with its addresses moved and its thread ids (LWP) changed.
pub fn gdb_log(dir: &Path, min_frames: u64) -> anyhow::Result<GdbLog> {
    let corpus = corpus_dir().join("gdb");
    let mut sources = Vec::new();
    for name in GDB_SOURCES {
        let p = corpus.join(name);
        let text = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
        // The corpus's provenance line is not gdb output.
        let body: Vec<u8> = text
            .split_inclusive(|&b| b == b'\n')
            .filter(|l| !l.starts_with(b"# source:"))
            .flatten()
            .copied()
            .collect();
        sources.push(body);
    }
    let frames_in = |t: &[u8]| -> u64 {
        t.split(|&b| b == b'\n')
            .filter(|l| l.first() == Some(&b'#') && l.get(1).is_some_and(u8::is_ascii_digit))
            .count() as u64
    };
    let key = json!({
        "generator": "gdb", "version": GEN_VERSION, "min_frames": min_frames,
        "sources": sources.iter().map(|s| s.len()).collect::<Vec<_>>(),
    });
    let path = dir.join(format!("gdb-{min_frames}.txt"));
    let stamp = dir.join(format!("gdb-{min_frames}.stamp.json"));
    if !cached(&stamp, &key) {
        let tmp = path.with_extension("txt.tmp");
        let mut out = BufWriter::new(File::create(&tmp)?);
        let (mut frames, mut sessions) = (0u64, 0u64);
        while frames < min_frames {
            let src = &sources[sessions as usize % sources.len()];
            let mut buf = Vec::with_capacity(src.len() + 256);
            // 4 KiB pages apart: gdb's addresses are page-aligned mappings plus offsets.
            shift_hex(src, (sessions + 1) * 0x1000, &mut buf);
            let text =
                String::from_utf8_lossy(&buf).replace("(LWP ", &format!("(LWP 1{sessions:05}"));
            out.write_all(text.as_bytes())?;
            out.write_all(b"\n")?;
            frames += frames_in(src);
            sessions += 1;
        }
        out.flush()?;
        drop(out);
        std::fs::rename(&tmp, &path)?;
        write_stamp(
            &stamp,
            &key,
            std::slice::from_ref(&path),
            json!({ "frames": frames, "sessions": sessions }),
        )?;
    }
    let facts: GdbFacts = read_facts(&stamp)?;
    Ok(GdbLog {
        bytes: std::fs::metadata(&path)?.len(),
        path,
        frames: facts.frames,
        sessions: facts.sessions,
    })
}

/// Makes (or reuses) `lines` lines of `Round N Max RSS: X`, the output of the usual
/// leak-test script: X is `ru_maxrss / 1024` (KiB as MiB), a base of 40 MiB that grows
/// steadily by 10 MiB over the run (a leak at any length, which the bench checks
/// rss-rounds finds), plus up to 63 KiB of noise from a fixed linear congruential generator.
pub fn rss_lines(dir: &Path, lines: u64) -> anyhow::Result<(PathBuf, u64)> {
    let key =
        json!({ "generator": "rss", "version": GEN_VERSION, "lines": lines, "growth_mib": 10 });
    let path = dir.join(format!("rss-{lines}.log"));
    let stamp = dir.join(format!("rss-{lines}.stamp.json"));
    if !cached(&stamp, &key) {
        eprintln!("  bench: making {}", path.display());
        let tmp = path.with_extension("log.tmp");
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        for round in 1..=lines {
            // Knuth's MMIX constants: any fixed generator would do, this one is well known.
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let noise = (state >> 58) as f64;
            let growth = (10 * 1024 * round / lines) as f64;
            let kib = 40.0 * 1024.0 + growth + noise;
            writeln!(out, "Round {round} Max RSS: {}", kib / 1024.0)?;
        }
        out.flush()?;
        drop(out);
        std::fs::rename(&tmp, &path)?;
        write_stamp(&stamp, &key, std::slice::from_ref(&path), json!({}))?;
    }
    let bytes = std::fs::metadata(&path)?.len();
    Ok((path, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shifted(line: &str, offset: u64) -> String {
        let mut out = Vec::new();
        shift_hex(line.as_bytes(), offset, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn addresses_move_and_keep_their_case() {
        assert_eq!(
            shifted("==1==    at 0x4F61C6: f (a.c:1)", 0x10000),
            "==1==    at 0x5061C6: f (a.c:1)"
        );
        assert_eq!(
            shifted(" Address 0x52b8a68 is 0 bytes after", 0x10),
            " Address 0x52b8a78 is 0 bytes after"
        );
        assert_eq!(shifted("<ip>0x100</ip>", 1), "<ip>0x101</ip>");
        // Not a number: left alone.
        assert_eq!(shifted("a0x12 0x 0xg", 1), "a0x12 0x 0xg");
    }

    #[test]
    fn replicas_get_their_own_pid_and_end_chunks_at_blank_lines() {
        let log = b"==7== Invalid read of size 1\n==7==    at 0x10: f (a.c:1)\n==7== \n==7== x\n";
        let chunks = text_replica(log, 42, 0x100);
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            String::from_utf8_lossy(&chunks[0]),
            "==42== Invalid read of size 1\n==42==    at 0x110: f (a.c:1)\n==42== \n"
        );
        let xml = xml_replica(b"<pid>7</pid>\n<ppid>6</ppid>\n<ip>0x10</ip>\n", 42, 1);
        assert_eq!(
            String::from_utf8_lossy(&xml),
            "<pid>42</pid>\n<ppid>41</ppid>\n<ip>0x11</ip>\n"
        );
    }
}
