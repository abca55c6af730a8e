//! Valgrind Massif's output (`massif.out.<pid>`) read as series, and the allocation sites
//! whose bytes grow.
//!
//! # The format (Massif 3.13 and later, as `ms_print` reads it)
//!
//! ```text
//! desc: --time-unit=i --detailed-freq=1
//! cmd: python3.11-dbg rounds.py
//! time_unit: i
//! #-----------
//! snapshot=0
//! #-----------
//! time=4424548
//! mem_heap_B=119023
//! mem_heap_extra_B=10769
//! mem_stacks_B=0
//! heap_tree=detailed
//! n2: 119023 (heap allocation functions) malloc/new/new[], --alloc-fns, etc.
//!  n1: 64000 0x53CE2B1: leak_definite (dbgpipe_example.c:50)
//!   n0: 64000 0x4ED3A1: cfunction_vectorcall_NOARGS (methodobject.c:486)
//!  n0: 55023 in 40 places, all below massif's threshold (1.00%)
//! ```
//!
//! `heap_tree` is `empty` (no tree), `detailed` or `peak` (a detailed snapshot at the peak).
//! A tree line is `<indent>n<children>: <bytes> <what>`; its parent is the line before it
//! indented one less. The root is the allocation functions; each child is a caller, so a
//! path from the root is a call stack read from the allocation outwards (innermost frame
//! first), and a node's bytes are those allocated through that stack and not yet freed.
//! Callers below `--threshold` percent of the heap are summed into one `in N places` line.
//!
//! # What rss-rounds makes of it
//!
//! **Rounds are snapshots.** The round of a snapshot's values is its number (`snapshot=N`):
//! snapshots are ordered samples. Massif culls its snapshots so that they stay evenly spaced
//! on its time axis (`--time-unit` i, ms or B), so for a plain run a round is one snapshot
//! interval of that axis, and since the trend test is on ranks the verdict is the one
//! Massif's time axis would give. When the workload takes a snapshot itself at the end of
//! each round (the `massif` recipe's harness asks Massif for one through a client request,
//! and [`combine`] puts them into one file in order), snapshot N is round N and the growth
//! is per round.
//!
//! **Series**, each a level in bytes: `heap_b` (`mem_heap_B`, the program's useful heap),
//! `heap_extra_b` (`mem_heap_extra_B`, the allocator's headers and rounding) and, when any
//! snapshot has stacks (`--stacks=yes`), `stacks_b`.
//!
//! **Sites.** Every node of the detailed snapshots' trees is a series of its own bytes (0 in
//! a detailed snapshot where it is absent: it was freed, or below the threshold). Nodes are
//! many, so each is judged by the same rules at `alpha / m`, where m is the number of nodes
//! whose bytes changed at all (Bonferroni), so that a thousand sites do not give ten false
//! leaks. Of the nodes that grow, the deepest ones (no child of theirs grows) are the
//! growing stacks. Each is named by its site frame: the first frame of the project, else the
//! first of a third-party library, else the first that is not an allocator (`malloc`,
//! CPython's `PyObject_Malloc`, `operator new`, …). Stacks with the same site frame are
//! summed into one series `site:FUNCTION[:FILE:LINE]`, judged like the others, and described
//! by a `site` record with the stack's frames, classed as bt-demangle classes them.

use crate::backtrace::classify::{self, Class};
use crate::project::Project;
use crate::rounds::trend::{self, Config, Kind, SeriesRef, Verdict};
use crate::Frame;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::digit1;
use nom::{IResult, Parser};
use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

/// Series name of `mem_heap_B`.
pub const HEAP: &str = "heap_b";
/// Series name of `mem_heap_extra_B`.
pub const EXTRA: &str = "heap_extra_b";
/// Series name of `mem_stacks_B`.
pub const STACKS: &str = "stacks_b";
/// Prefix of the growing sites' series.
pub const SITE_PREFIX: &str = "site:";

/// Most growing sites made into series and `site` records, the largest growth first; the
/// summary's `sites` counts them all.
pub const MAX_SITES: usize = 10;

/// Most tree points (a node's bytes in one detailed snapshot) kept, 16 bytes each; beyond
/// them a file's sites are judged on what was kept and the rest counted as dropped.
pub const MAX_TREE_POINTS: usize = 8_000_000;

/// Whether an input is Massif's output: it starts with its `desc:` line.
pub fn is_massif(head: &[u8]) -> bool {
    head.starts_with(b"desc:")
}

/// A snapshot's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// `heap_tree=empty`.
    Empty,
    /// `heap_tree=detailed`.
    Detailed,
    /// `heap_tree=peak`: a detailed snapshot at the peak.
    Peak,
}

/// One line of a Massif file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// `desc: …` (Massif's options).
    Desc(&'a str),
    /// `cmd: …`.
    Cmd(&'a str),
    /// `time_unit: i|ms|B`.
    TimeUnit(&'a str),
    /// `#-----------`.
    Rule,
    /// `snapshot=N`.
    Snapshot(u64),
    /// `time=N`.
    Time(u64),
    /// `mem_heap_B=N`.
    Heap(u64),
    /// `mem_heap_extra_B=N`.
    Extra(u64),
    /// `mem_stacks_B=N`.
    Stacks(u64),
    /// `heap_tree=…`.
    HeapTree(Tree),
    /// A tree line.
    Node(Node<'a>),
}

/// A tree line: `<indent>n<children>: <bytes> <what>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node<'a> {
    /// Leading spaces: the depth (the root has none).
    pub indent: usize,
    /// Children it has.
    pub children: u64,
    /// Its bytes.
    pub bytes: u64,
    /// What it is.
    pub what: What<'a>,
}

/// What a tree line describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum What<'a> {
    /// The root, `(heap allocation functions) …` (or `(page allocation syscalls) …`).
    Root,
    /// A caller: `0x53CE2B1: leak_definite (dbgpipe_example.c:50)`, as Valgrind describes
    /// an address.
    Frame(&'a str),
    /// `in N places, all below massif's threshold (1.00%)`.
    BelowThreshold,
}

/// Reads one line (without its newline) of a Massif file; `None` when it is none of them.
pub fn parse_line(line: &[u8]) -> Option<Line<'_>> {
    let line = std::str::from_utf8(line).ok()?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    // The header's lines hold `=` of their own (`desc: --time-unit=B`): they go first.
    if let Some(rest) = line.strip_prefix("desc:") {
        return Some(Line::Desc(rest.trim()));
    }
    if let Some(rest) = line.strip_prefix("cmd:") {
        return Some(Line::Cmd(rest.trim()));
    }
    if let Some(rest) = line.strip_prefix("time_unit:") {
        return Some(Line::TimeUnit(rest.trim()));
    }
    if line.starts_with("#---") {
        return Some(Line::Rule);
    }
    if let Some((key, value)) = line.split_once('=') {
        let number = || value.parse::<u64>().ok();
        return Some(match key {
            "snapshot" => Line::Snapshot(number()?),
            "time" => Line::Time(number()?),
            "mem_heap_B" => Line::Heap(number()?),
            "mem_heap_extra_B" => Line::Extra(number()?),
            "mem_stacks_B" => Line::Stacks(number()?),
            "heap_tree" => Line::HeapTree(match value {
                "empty" => Tree::Empty,
                "detailed" => Tree::Detailed,
                "peak" => Tree::Peak,
                _ => return None,
            }),
            // A frame's function may hold `=` (`operator=`).
            _ => return node(line).map(Line::Node),
        });
    }
    node(line).map(Line::Node)
}

fn u64_number(input: &str) -> IResult<&str, u64> {
    let (rest, digits) = digit1(input)?;
    match digits.parse() {
        Ok(n) => Ok((rest, n)),
        Err(_) => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Digit,
        ))),
    }
}

/// `  n1: 64000 0x53CE2B1: leak_definite (dbgpipe_example.c:50)`
fn node(line: &str) -> Option<Node<'_>> {
    let indent = line.bytes().take_while(|&b| b == b' ').count();
    let parsed: IResult<&str, (_, u64, _, u64, _)> = (
        tag("n"),
        u64_number,
        tag(": "),
        u64_number,
        take_while1(|c| c == ' '),
    )
        .parse(&line[indent..]);
    let (rest, (_, children, _, bytes, _)) = parsed.ok()?;
    let what = if rest.starts_with('(') && indent == 0 {
        What::Root
    } else if rest.starts_with("in ") && rest.contains("below massif's threshold") {
        What::BelowThreshold
    } else if rest.starts_with("0x") {
        What::Frame(rest)
    } else {
        return None;
    };
    Some(Node {
        indent,
        children,
        bytes,
        what,
    })
}

/// A frame as Valgrind describes an address: `0x53CE2B1: leak_definite
/// (dbgpipe_example.c:50)`, `0x4C2FB55: malloc (in /usr/lib/…/vgpreload_massif.so)`,
/// `0x1234: ???`. Mangled names (Massif run with `--demangle=no`) are demangled.
pub fn frame(text: &str) -> Frame {
    let (addr, rest) = match text.split_once(": ") {
        Some((a, r)) if a.starts_with("0x") => (Some(a.to_string()), r),
        _ => (None, text),
    };
    let d = crate::frame::valgrind_location(rest.trim());
    Frame {
        addr,
        function: d
            .function
            .map(|f| crate::demangle::demangle(f).unwrap_or_else(|| f.to_string())),
        file: d.file.map(str::to_string),
        line: d.line,
        object: d.object.map(str::to_string),
    }
}

/// One snapshot's values, handed over when its `heap_tree` line is read (or at its end, when
/// a cut file has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// `snapshot=N`: the round of its values.
    pub n: u64,
    /// `time=`, in the file's time unit.
    pub time: Option<u64>,
    /// `mem_heap_B`.
    pub heap: u64,
    /// `mem_heap_extra_B`.
    pub extra: Option<u64>,
    /// `mem_stacks_B`.
    pub stacks: Option<u64>,
    /// Its tree, when its `heap_tree` line was read.
    pub tree: Option<Tree>,
}

/// What [`Reader::line`] made of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Part of the format; nothing to hand over yet.
    Read,
    /// Part of the format, and it completed a snapshot.
    Snapshot(Snapshot),
    /// Not Massif's format (counted as unmatched).
    Unmatched,
}

/// A partial snapshot: the values read since its `snapshot=` line.
#[derive(Debug, Default, Clone, Copy)]
struct Partial {
    n: Option<u64>,
    time: Option<u64>,
    heap: Option<u64>,
    extra: Option<u64>,
    stacks: Option<u64>,
    handed: bool,
}

/// Reads one Massif file line by line: snapshots out, every detailed snapshot's tree into
/// its [`Sites`].
#[derive(Debug, Default)]
pub struct Reader {
    /// `time_unit:`.
    pub time_unit: Option<String>,
    /// `cmd:`.
    pub cmd: Option<String>,
    /// Whether the lines now read continue the `cmd:` line (an argument with newlines in it,
    /// such as `python -c SCRIPT`'s, is written as it is), up to `time_unit:`.
    in_cmd: bool,
    partial: Partial,
    /// Whether the tree lines now read belong to a detailed snapshot.
    in_tree: bool,
    /// The node ids of the current line's ancestors, by indent.
    path: Vec<u32>,
    /// Snapshots handed over.
    pub snapshots: u64,
    /// The trees.
    pub sites: Sites,
}

impl Reader {
    /// Takes one line (without its newline).
    pub fn line(&mut self, line: &[u8]) -> Step {
        let parsed = parse_line(line);
        if self.in_cmd && !matches!(parsed, Some(Line::TimeUnit(_))) {
            if let Some(cmd) = &mut self.cmd {
                cmd.push('\n');
                cmd.push_str(&String::from_utf8_lossy(line));
            }
            return Step::Read;
        }
        let Some(parsed) = parsed else {
            return Step::Unmatched;
        };
        match parsed {
            Line::Desc(_) | Line::Rule => {}
            Line::Cmd(c) => {
                self.cmd = Some(c.to_string());
                self.in_cmd = true;
            }
            Line::TimeUnit(u) => {
                self.time_unit = Some(u.to_string());
                self.in_cmd = false;
            }
            Line::Snapshot(n) => {
                let pending = self.end_snapshot();
                self.partial = Partial {
                    n: Some(n),
                    ..Partial::default()
                };
                if let Some(s) = pending {
                    return Step::Snapshot(s);
                }
            }
            Line::Time(t) => self.partial.time = Some(t),
            Line::Heap(b) => self.partial.heap = Some(b),
            Line::Extra(b) => self.partial.extra = Some(b),
            Line::Stacks(b) => self.partial.stacks = Some(b),
            Line::HeapTree(tree) => {
                let Some(mut s) = self.snapshot() else {
                    return Step::Unmatched;
                };
                s.tree = Some(tree);
                self.partial.handed = true;
                self.snapshots += 1;
                self.in_tree = tree != Tree::Empty;
                if self.in_tree {
                    self.sites.start_snapshot(s.n);
                    self.path.clear();
                }
                return Step::Snapshot(s);
            }
            Line::Node(node) => {
                if !self.in_tree || node.indent > self.path.len() {
                    return Step::Unmatched;
                }
                self.path.truncate(node.indent);
                let parent = self.path.last().copied();
                let id = match node.what {
                    What::Root => None,
                    What::BelowThreshold => None,
                    What::Frame(text) => self.sites.node(parent, text, node.bytes),
                };
                // A line without an id of its own (the root, a `below threshold` sum, a
                // node over the cap) still takes its place, so that its children's indents
                // line up; their parent is then the nearest node kept.
                self.path.push(id.or(parent).unwrap_or(NO_NODE));
            }
        }
        Step::Read
    }

    /// The snapshot being read, when it has its number and heap.
    fn snapshot(&self) -> Option<Snapshot> {
        let p = &self.partial;
        Some(Snapshot {
            n: p.n?,
            time: p.time,
            heap: p.heap?,
            extra: p.extra,
            stacks: p.stacks,
            tree: None,
        })
    }

    /// A snapshot whose `heap_tree` line never came (a cut file), handed over at its end.
    fn end_snapshot(&mut self) -> Option<Snapshot> {
        self.in_tree = false;
        if self.partial.handed {
            return None;
        }
        let s = self.snapshot()?;
        self.partial.handed = true;
        self.snapshots += 1;
        Some(s)
    }

    /// The end of the file: a snapshot still pending.
    pub fn finish(&mut self) -> Option<Snapshot> {
        self.end_snapshot()
    }
}

/// The id of "no node" in a reader's path (the root's place).
const NO_NODE: u32 = u32::MAX;

/// One node of the trees: a call stack from the allocation function out to this caller.
#[derive(Debug)]
struct NodeData {
    parent: Option<u32>,
    /// The line's text after the bytes (`0x…: fn (file:line)`).
    text: Box<str>,
    /// (detailed snapshot index, bytes).
    points: Vec<(u32, u64)>,
}

/// The nodes of every detailed snapshot's tree, each with its bytes per snapshot.
#[derive(Debug, Default)]
pub struct Sites {
    ids: HashMap<(u32, Box<str>), u32>,
    nodes: Vec<NodeData>,
    /// The snapshot number of each detailed snapshot, in order.
    rounds: Vec<u64>,
    points: usize,
    /// Points over [`MAX_TREE_POINTS`], not kept.
    pub dropped: u64,
}

/// A growing allocation site, as judged.
#[derive(Debug, Clone)]
pub struct Growing {
    /// The series it is judged as (`site:leak_definite:dbgpipe_example.c:50`).
    pub series: String,
    /// Its stack, innermost first, each frame with its class (of the largest stack merged).
    pub frames: Vec<(Frame, Class)>,
    /// Index of the site frame in `frames`.
    pub site_frame: usize,
    /// Growing stacks merged into it.
    pub stacks: usize,
    /// (round, bytes) per detailed snapshot.
    pub points: Vec<(u64, u64)>,
    /// Theil–Sen growth per round (snapshot), as judged at the corrected alpha.
    pub growth_per_round: f64,
}

impl Sites {
    fn start_snapshot(&mut self, n: u64) {
        self.rounds.push(n);
    }

    /// Records a node's bytes in the current detailed snapshot; its id, or `None` past the
    /// cap.
    fn node(&mut self, parent: Option<u32>, text: &str, bytes: u64) -> Option<u32> {
        let parent = parent.filter(|&p| p != NO_NODE);
        if self.points >= MAX_TREE_POINTS {
            self.dropped += 1;
            return None;
        }
        let key = (parent.unwrap_or(NO_NODE), Box::<str>::from(text));
        let next = self.nodes.len() as u32;
        let id = *self.ids.entry(key).or_insert(next);
        if id == next {
            self.nodes.push(NodeData {
                parent,
                text: text.into(),
                points: Vec::new(),
            });
        }
        let snapshot = (self.rounds.len() - 1) as u32;
        let points = &mut self.nodes[id as usize].points;
        match points.last_mut() {
            // The same stack twice in one snapshot (inlined frames of one address): sum.
            Some((s, b)) if *s == snapshot => *b = b.saturating_add(bytes),
            _ => points.push((snapshot, bytes)),
        }
        self.points += 1;
        Some(id)
    }

    /// Detailed snapshots read.
    pub fn detailed(&self) -> usize {
        self.rounds.len()
    }

    /// The node's bytes in every detailed snapshot (0 where absent).
    fn dense(&self, node: &NodeData) -> Vec<f64> {
        let mut values = vec![0.0; self.rounds.len()];
        for &(s, b) in &node.points {
            values[s as usize] = b as f64;
        }
        values
    }

    /// The node's stack, innermost first (the root's child, the allocation function's
    /// caller, first).
    fn stack(&self, mut id: u32) -> Vec<Frame> {
        let mut frames = Vec::new();
        loop {
            let node = &self.nodes[id as usize];
            frames.push(frame(&node.text));
            match node.parent {
                Some(p) => id = p,
                None => break,
            }
        }
        frames.reverse();
        frames
    }

    /// The growing sites, largest growth first, and how many stacks were tested (the `m` of
    /// the correction). Every node is judged by `cfg`'s rules at `alpha / m`.
    pub fn growing(&self, cfg: &Config, project: &mut Project) -> (Vec<Growing>, usize) {
        let rounds: Vec<f64> = self.rounds.iter().map(|&r| r as f64).collect();
        // A node changes when it is absent from a detailed snapshot (0 there) while present
        // with bytes in another, or its bytes differ between two.
        let changes = |n: &NodeData| {
            let absent = n.points.len() < self.rounds.len();
            n.points.windows(2).any(|w| w[0].1 != w[1].1)
                || (absent && n.points.iter().any(|p| p.1 > 0))
        };
        let changing: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| changes(&self.nodes[i]))
            .collect();
        let m = changing.len();
        if m == 0 || rounds.len() < cfg.min_points {
            return (Vec::new(), m);
        }
        let strict = Config {
            alpha: cfg.alpha / m as f64,
            ..cfg.clone()
        };
        let warmup = cfg.warmup.points(rounds.len()).min(rounds.len() - 1);
        let mut grows = vec![false; self.nodes.len()];
        let mut slope = vec![0.0; self.nodes.len()];
        for &i in &changing {
            let v = &self.dense(&self.nodes[i]);
            // Most nodes are not larger at the end than after warm-up: no test needed.
            if v[v.len() - 1] <= v[warmup] {
                continue;
            }
            let a = trend::analyze(
                SeriesRef {
                    rounds: &rounds,
                    values: v,
                    kind: Kind::Level,
                    baseline: 0.0,
                },
                &strict,
            );
            if a.verdict == Verdict::Leak {
                grows[i] = true;
                slope[i] = a.growth_per_round.unwrap_or(0.0);
            }
        }
        // The deepest growing nodes: none of their children grows.
        let mut has_growing_child = vec![false; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            if let (true, Some(p)) = (grows[i], node.parent) {
                has_growing_child[p as usize] = true;
            }
        }
        let mut by_site: Vec<Growing> = Vec::new();
        for i in (0..self.nodes.len()).filter(|&i| grows[i] && !has_growing_child[i]) {
            let frames: Vec<(Frame, Class)> = self
                .stack(i as u32)
                .into_iter()
                .map(|f| {
                    let class = classify::classify(project, &f, false);
                    (f, class)
                })
                .collect();
            let site_frame = site_frame(&frames);
            let series = series_name(&frames[site_frame].0);
            let points: Vec<(u64, u64)> = self
                .rounds
                .iter()
                .zip(&self.dense(&self.nodes[i]))
                .map(|(&r, &b)| (r, b as u64))
                .collect();
            match by_site.iter_mut().find(|g| g.series == series) {
                Some(g) => {
                    for (p, (_, b)) in g.points.iter_mut().zip(&points) {
                        p.1 = p.1.saturating_add(*b);
                    }
                    g.stacks += 1;
                    if slope[i] > g.growth_per_round {
                        g.frames = frames;
                        g.site_frame = site_frame;
                    }
                    g.growth_per_round += slope[i];
                }
                None => by_site.push(Growing {
                    series,
                    frames,
                    site_frame,
                    stacks: 1,
                    points,
                    growth_per_round: slope[i],
                }),
            }
        }
        by_site.sort_by(|a, b| b.growth_per_round.total_cmp(&a.growth_per_round));
        (by_site, m)
    }
}

/// Allocation functions and wrappers, which name no site: the caller that asked is the site.
const ALLOCATORS: &[&str] = &[
    "malloc",
    "calloc",
    "realloc",
    "reallocarray",
    "memalign",
    "posix_memalign",
    "aligned_alloc",
    "valloc",
    "strdup",
    "strndup",
    "operator new",
    "operator new[]",
    "_PyMem_",
    "PyMem_",
    "_PyObject_Malloc",
    "_PyObject_Calloc",
    "_PyObject_Realloc",
    "PyObject_Malloc",
    "PyObject_Calloc",
    "PyObject_Realloc",
    "_PyObject_GC_",
    "PyObject_GC_",
    "gc_alloc",
    "_PyObject_New",
    "PyType_GenericAlloc",
    "_PyType_AllocNoTrack",
    "g_malloc",
    "g_realloc",
    "__gnu_cxx::new_allocator",
    "std::allocator",
    "std::__new_allocator",
];

fn is_allocator(function: &str) -> bool {
    ALLOCATORS.iter().any(|a| {
        if a.ends_with('_') {
            function.starts_with(a)
        } else {
            function == *a
                || function
                    .strip_prefix(a)
                    .is_some_and(|rest| rest.starts_with(['(', '<', ':']))
        }
    })
}

/// The frame that names a stack's site: the first of the project, else the first of a
/// third-party library, else the first that is not an allocator, else the first.
fn site_frame(frames: &[(Frame, Class)]) -> usize {
    let not_allocator = |f: &Frame| !f.function.as_deref().is_some_and(is_allocator);
    frames
        .iter()
        .position(|(_, c)| *c == Class::Project)
        .or_else(|| {
            frames
                .iter()
                .position(|(f, c)| *c == Class::Unknown && f.function.is_some() && not_allocator(f))
        })
        .or_else(|| frames.iter().position(|(f, _)| not_allocator(f)))
        .unwrap_or(0)
}

/// `site:FUNCTION:FILE:LINE` (file's base name), `site:FUNCTION`, or the object's base name
/// or the address when there is no function.
fn series_name(f: &Frame) -> String {
    let mut s = String::from(SITE_PREFIX);
    match (&f.function, &f.object, &f.addr) {
        (Some(function), _, _) => s.push_str(function),
        (None, Some(object), _) => s.push_str(object.rsplit('/').next().unwrap_or(object)),
        (None, None, Some(addr)) => s.push_str(addr),
        (None, None, None) => s.push_str("???"),
    }
    if let (Some(file), Some(line)) = (f.file_name(), f.line) {
        s.push_str(&format!(":{file}:{line}"));
    }
    s
}

/// Puts per-round snapshot files (each holding the one snapshot Massif's
/// `detailed_snapshot` monitor command writes) into one Massif file at `out`, in the order
/// given, renumbered from 0: the header of the first, then each file's snapshot. The parts
/// are left in place. `ms_print` reads the result like any Massif file: a `cmd:` line that
/// an argument's newlines broke (`python -c SCRIPT`) is joined with spaces, as `ms_print`
/// reads one line.
pub fn combine(parts: &[PathBuf], out: &Path) -> io::Result<()> {
    let mut w = io::BufWriter::new(std::fs::File::create(out)?);
    let mut line = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let mut r = io::BufReader::new(std::fs::File::open(part)?);
        let mut in_header = true;
        let mut in_cmd = false;
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            if line.starts_with(b"#---") {
                in_header = false;
            }
            if in_header {
                if i == 0 {
                    let text = line.strip_suffix(b"\n").unwrap_or(&line);
                    if in_cmd && !text.starts_with(b"time_unit:") {
                        // A continuation of `cmd:`, joined to it.
                        w.write_all(b" ")?;
                        w.write_all(text)?;
                    } else {
                        if in_cmd {
                            w.write_all(b"\n")?;
                        }
                        in_cmd = text.starts_with(b"cmd:");
                        w.write_all(text)?;
                        if !in_cmd {
                            w.write_all(b"\n")?;
                        }
                    }
                }
            } else if line.starts_with(b"snapshot=") {
                writeln!(w, "snapshot={i}")?;
            } else {
                w.write_all(&line)?;
            }
        }
        if in_header {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: holds no snapshot", part.display()),
            ));
        }
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_of_the_format() {
        let cases: &[(&str, Option<Line>)] = &[
            ("desc: --time-unit=B", Some(Line::Desc("--time-unit=B"))),
            ("desc: (none)", Some(Line::Desc("(none)"))),
            ("cmd: ./basic", Some(Line::Cmd("./basic"))),
            ("time_unit: i", Some(Line::TimeUnit("i"))),
            ("#-----------", Some(Line::Rule)),
            ("snapshot=12", Some(Line::Snapshot(12))),
            ("time=4424548", Some(Line::Time(4424548))),
            ("mem_heap_B=119023", Some(Line::Heap(119023))),
            ("mem_heap_extra_B=10769\r", Some(Line::Extra(10769))),
            ("mem_stacks_B=0", Some(Line::Stacks(0))),
            ("heap_tree=peak", Some(Line::HeapTree(Tree::Peak))),
            ("heap_tree=empty", Some(Line::HeapTree(Tree::Empty))),
            ("heap_tree=odd", None),
            ("snapshot=x", None),
            ("time=-1", None),
            ("mem_heap_B=99999999999999999999999", None),
            (
                "n2: 1000 (heap allocation functions) malloc/new/new[], --alloc-fns, etc.",
                Some(Line::Node(Node {
                    indent: 0,
                    children: 2,
                    bytes: 1000,
                    what: What::Root,
                })),
            ),
            (
                "  n0: 64 0x53CE2B1: leak_definite (dbgpipe_example.c:50)",
                Some(Line::Node(Node {
                    indent: 2,
                    children: 0,
                    bytes: 64,
                    what: What::Frame("0x53CE2B1: leak_definite (dbgpipe_example.c:50)"),
                })),
            ),
            (
                " n0: 0 in 1 place, below massif's threshold (1.00%)",
                Some(Line::Node(Node {
                    indent: 1,
                    children: 0,
                    bytes: 0,
                    what: What::BelowThreshold,
                })),
            ),
            ("n1: x 0x1: f", None),
            ("Round 1 Max RSS: 4", None),
            ("", None),
        ];
        for (line, want) in cases {
            assert_eq!(parse_line(line.as_bytes()), *want, "{line:?}");
        }
    }

    #[test]
    fn frames_as_valgrind_describes_addresses() {
        let f = frame("0x53CE2B1: leak_definite (dbgpipe_example.c:50)");
        assert_eq!(f.addr.as_deref(), Some("0x53CE2B1"));
        assert_eq!(f.function.as_deref(), Some("leak_definite"));
        assert_eq!(
            (f.file.as_deref(), f.line),
            (Some("dbgpipe_example.c"), Some(50))
        );
        let f =
            frame("0x4848899: malloc (in /usr/libexec/valgrind/vgpreload_massif-amd64-linux.so)");
        assert_eq!(f.function.as_deref(), Some("malloc"));
        assert_eq!(
            f.object.as_deref(),
            Some("/usr/libexec/valgrind/vgpreload_massif-amd64-linux.so")
        );
        let f = frame("0x10919A: ???");
        assert_eq!((f.function, f.file), (None, None));
        let f = frame("0x1093F5: std::vector<int, std::allocator<int> >::push_back(int const&) (stl_vector.h:1198)");
        assert_eq!(
            f.function.as_deref(),
            Some("std::vector<int, std::allocator<int> >::push_back(int const&)")
        );
        assert_eq!(f.line, Some(1198));
        let f = frame("0x109F0E: _Z1fv (a.cpp:3)");
        assert_eq!(f.function.as_deref(), Some("f()"));
    }

    #[test]
    fn allocators_name_no_site() {
        for f in [
            "malloc",
            "_PyMem_RawMalloc",
            "PyObject_Malloc",
            "operator new(unsigned long)",
            "_PyObject_GC_New",
        ] {
            assert!(is_allocator(f), "{f}");
        }
        for f in [
            "leak_definite",
            "mallocator",
            "PyList_New",
            "new_keys_object",
        ] {
            assert!(!is_allocator(f), "{f}");
        }
    }

    fn read(text: &str) -> (Reader, Vec<Snapshot>, u64) {
        let mut r = Reader::default();
        let mut snapshots = Vec::new();
        let mut unmatched = 0;
        for line in text.lines() {
            match r.line(line.as_bytes()) {
                Step::Snapshot(s) => snapshots.push(s),
                Step::Unmatched => unmatched += 1,
                Step::Read => {}
            }
        }
        snapshots.extend(r.finish());
        (r, snapshots, unmatched)
    }

    /// A tree per snapshot in which one stack grows by 64 bytes a snapshot and another stays.
    fn growing_file(snapshots: u64) -> String {
        let mut s = String::from("desc: --detailed-freq=1\ncmd: ./leak\ntime_unit: i\n");
        for n in 0..snapshots {
            let leak = 64 * n;
            let total = 1000 + leak;
            s.push_str(&format!(
                "#-----------\nsnapshot={n}\n#-----------\ntime={}\nmem_heap_B={total}\n\
                 mem_heap_extra_B=8\nmem_stacks_B=0\nheap_tree=detailed\n\
                 n2: {total} (heap allocation functions) malloc/new/new[], --alloc-fns, etc.\n \
                 n1: 1000 0x10: PyObject_Malloc (obmalloc.c:1)\n  \
                 n0: 1000 0x11: PyDict_New (dictobject.c:2)\n \
                 n1: {leak} 0x20: leaky (leaky.c:5)\n  \
                 n0: {leak} 0x21: main (main.c:9)\n",
                n * 1000
            ));
        }
        s
    }

    #[test]
    fn snapshots_and_trees_are_read() {
        let (r, snapshots, unmatched) = read(&growing_file(3));
        assert_eq!(unmatched, 0);
        assert_eq!(snapshots.len(), 3);
        assert_eq!(
            snapshots[2],
            Snapshot {
                n: 2,
                time: Some(2000),
                heap: 1128,
                extra: Some(8),
                stacks: Some(0),
                tree: Some(Tree::Detailed)
            }
        );
        assert_eq!(r.sites.detailed(), 3);
        assert_eq!(r.sites.nodes.len(), 4);
        assert_eq!(r.time_unit.as_deref(), Some("i"));
    }

    #[test]
    fn the_growing_stack_is_named_by_its_first_frame_that_is_no_allocator() {
        let (r, _, _) = read(&growing_file(40));
        let mut project = Project::Patterns(vec!["no-such-project".into()].into());
        let (growing, tested) = r.sites.growing(&Config::default(), &mut project);
        assert_eq!(tested, 2, "the two nodes of the growing stack changed");
        assert_eq!(growing.len(), 1);
        let g = &growing[0];
        assert_eq!(g.series, "site:leaky:leaky.c:5");
        assert_eq!(g.growth_per_round, 64.0);
        assert_eq!(g.site_frame, 0);
        let names: Vec<_> = g.frames.iter().map(|(f, _)| f.identity()).collect();
        assert_eq!(names, ["leaky", "main"]);
        assert_eq!(g.points[39], (39, 64 * 39));

        let mut project = Project::Patterns(vec!["main.c".into()].into());
        let (growing, _) = r.sites.growing(&Config::default(), &mut project);
        assert_eq!(
            growing[0].series, "site:main:main.c:9",
            "the project's frame"
        );
        assert_eq!(growing[0].frames[1].1, Class::Project);
    }

    /// `python -c SCRIPT` under Massif: the script's lines are part of the `cmd:` line.
    #[test]
    fn a_command_with_newlines_is_one_cmd() {
        let text =
            "desc: (none)\ncmd: python3 -c import os\n\n# snapshot=1\nprint(1) x\ntime_unit: ms\n\
                    #-----------\nsnapshot=0\n#-----------\ntime=1\nmem_heap_B=0\n\
                    mem_heap_extra_B=0\nmem_stacks_B=0\nheap_tree=empty\n";
        let (r, snapshots, unmatched) = read(text);
        assert_eq!((snapshots.len(), unmatched), (1, 0));
        assert_eq!(
            r.cmd.as_deref(),
            Some("python3 -c import os\n\n# snapshot=1\nprint(1) x")
        );
        assert_eq!(r.time_unit.as_deref(), Some("ms"));
    }

    #[test]
    fn a_cut_file_hands_over_what_it_has() {
        let text = "desc: x\ncmd: y\ntime_unit: B\n#-----------\nsnapshot=0\n#-----------\n\
                    time=0\nmem_heap_B=5\nmem_heap_extra_B=0\n#-----------\nsnapshot=1\n\
                    #-----------\ntime=3\nmem_heap_B=7\nmem_heap_extra_B=1\nmem_stacks_B=0\n\
                    heap_tree=detailed\nn1: 7 (heap allocation functions) malloc\n  n0: 7 0x1: f (a.c:1)\n\
                    #-----------\nsnapshot=2\n#-----------\ntime=5\n";
        let (_, snapshots, unmatched) = read(text);
        assert_eq!(snapshots.len(), 2, "the third has no heap");
        assert_eq!((snapshots[0].heap, snapshots[0].tree), (5, None));
        assert_eq!(unmatched, 1, "a node indented past its parent");
    }

    #[test]
    fn per_round_files_combine_into_one() {
        let dir = std::env::temp_dir().join(format!("dbgpipe-massif-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let one = |n: u64| {
            format!(
                "desc: --time-unit=i\ncmd: python3 -c 1\n2\ntime_unit: i\n#-----------\nsnapshot=0\n\
                 #-----------\ntime={}\nmem_heap_B={}\nmem_heap_extra_B=0\nmem_stacks_B=0\n\
                 heap_tree=detailed\nn0: {} (heap allocation functions) malloc/new/new[], --alloc-fns, etc.\n",
                n * 10,
                n * 64,
                n * 64
            )
        };
        let parts: Vec<PathBuf> = (0..3)
            .map(|n| {
                let p = dir.join(format!("round.{n}"));
                std::fs::write(&p, one(n)).unwrap();
                p
            })
            .collect();
        let out = dir.join("combined");
        combine(&parts, &out).unwrap();
        let (r, snapshots, unmatched) = read(&std::fs::read_to_string(&out).unwrap());
        assert_eq!(unmatched, 0);
        let got: Vec<(u64, u64)> = snapshots.iter().map(|s| (s.n, s.heap)).collect();
        assert_eq!(got, [(0, 0), (1, 64), (2, 128)]);
        assert_eq!(
            r.cmd.as_deref(),
            Some("python3 -c 1 2"),
            "joined for ms_print"
        );
        std::fs::write(&parts[1], "desc: x\n").unwrap();
        let e = combine(&parts, &out).unwrap_err();
        assert!(e.to_string().ends_with("round.1: holds no snapshot"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
