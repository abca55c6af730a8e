//! What vg-filter tells a person about a log besides its records.
//!
//! - **Module-lifetime allocations.** An extension's module init allocates what the module
//!   uses as long as it is loaded (exception types, tables, its state), and CPython does not
//!   unload extensions: at exit Memcheck reports those blocks as still reachable, possibly
//!   lost (CPython objects are pointed to past their GC header) or indirectly lost (pointed to
//!   by an interpreter object nobody freed). They are the module's design, not a leak that
//!   grows, so vg-filter keeps them, marks them `module_init` and does not fail on them by
//!   default. A block *definitely* lost in init is a real leak and still fails.
//! - **Logs that hide the project from `--project`.** Valgrind names source files by their
//!   base name unless run with `--fullpath-after=`, so a pattern for a path or an object
//!   cannot match them; and it cuts stacks at `--num-callers` (12 by default), so a project
//!   frame deeper than that is not in the log. Neither is visible in the records themselves:
//!   [`InputShape`] gathers what is needed to say so, once per input.

use crate::frame::{Frame, FrameFields};
use crate::memcheck::{reaches_root, Record};
use crate::project::Project;
use std::collections::HashMap;

/// The leak kinds that a module's init makes by design (see the module's documentation).
/// `Leak_DefinitelyLost` is not one: nothing points to such a block any more.
pub const MODULE_LIFETIME_KINDS: &[&str] = &[
    "Leak_PossiblyLost",
    "Leak_IndirectlyLost",
    "Leak_StillReachable",
];

/// CPython's function that runs a multi-phase module's `Py_mod_exec` slots
/// (`Objects/moduleobject.c`): the function it calls is the module's exec function.
const EXEC_DEF: &str = "PyModule_ExecDef";

/// Whether a record is a module-lifetime allocation: a leak of one of
/// [`MODULE_LIFETIME_KINDS`] whose allocation stack (the main stack) passes through a
/// module's init ([`passes_through_init`]).
pub fn module_init(kind: &str, stack: &[Frame]) -> bool {
    MODULE_LIFETIME_KINDS.contains(&kind) && passes_through_init(stack)
}

/// Whether a stack passes through a module's init: a frame `PyInit_<name>` (single-phase
/// init, which creates the module), or a frame called by CPython's `PyModule_ExecDef`
/// (multi-phase init: the module's `Py_mod_exec` slot, such as Cython's
/// `__pyx_pymod_exec_<name>`).
pub fn passes_through_init(stack: &[Frame]) -> bool {
    stack.iter().enumerate().any(|(i, f)| {
        let single = f
            .function
            .as_deref()
            .and_then(|name| name.strip_prefix("PyInit_"))
            .is_some_and(|module| !module.is_empty());
        single
            || stack
                .get(i + 1)
                .and_then(|caller| caller.function.as_deref())
                == Some(EXEC_DEF)
    })
}

/// What one input's frames look like, for the hints said about it.
#[derive(Debug, Default)]
pub struct InputShape {
    /// A frame named a source file.
    any_file: bool,
    /// A frame named its source file with a directory (`Objects/obmalloc.c`, not
    /// `obmalloc.c`).
    any_directory: bool,
    /// Records and fatal signals with a project frame.
    project_hits: u64,
    /// Records with no project frame, by the depth of each of their stacks that may have
    /// been cut (does not reach its thread's root); a record counts once per depth.
    not_project_depths: HashMap<usize, u64>,
    /// The deepest stack that may have been cut, and how many stacks have that depth.
    deepest: usize,
    deepest_stacks: u64,
}

/// Records cut at the run's stack limit with no project frame in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// The limit: Valgrind's `--num-callers`.
    pub limit: usize,
    /// Whether the input states it (else it is inferred from the deepest stacks).
    pub stated: bool,
    /// The records cut there with no project frame.
    pub records: u64,
}

impl InputShape {
    /// A record read (before it is judged): its frames' files and its stacks' depths. Gives
    /// its [`cut_candidates`], for [`InputShape::not_project`].
    pub fn see_record(&mut self, rec: &Record) -> Vec<usize> {
        self.see_record_in(rec, &rec.stack)
    }

    /// [`InputShape::see_record`] of a record whose main stack is given apart (frames not
    /// yet made, see `memcheck::raw`).
    pub fn see_record_in<F: FrameFields>(&mut self, rec: &Record, main: &[F]) -> Vec<usize> {
        self.see_files(main);
        for a in &rec.aux {
            self.see_files(&a.stack);
        }
        let depths = cut_candidates_in(rec, main);
        for &stack in &depths {
            match stack.cmp(&self.deepest) {
                std::cmp::Ordering::Greater => {
                    self.deepest = stack;
                    self.deepest_stacks = 1;
                }
                std::cmp::Ordering::Equal => self.deepest_stacks += 1,
                std::cmp::Ordering::Less => {}
            }
        }
        depths
    }

    /// Adds what another piece of the same input showed.
    pub fn add(&mut self, other: InputShape) {
        self.any_file |= other.any_file;
        self.any_directory |= other.any_directory;
        self.project_hits += other.project_hits;
        for (depth, n) in other.not_project_depths {
            *self.not_project_depths.entry(depth).or_default() += n;
        }
        match other.deepest.cmp(&self.deepest) {
            std::cmp::Ordering::Greater => {
                self.deepest = other.deepest;
                self.deepest_stacks = other.deepest_stacks;
            }
            std::cmp::Ordering::Equal => self.deepest_stacks += other.deepest_stacks,
            std::cmp::Ordering::Less => {}
        }
    }

    /// A fatal signal's stack: its frames' files.
    pub fn see_stack(&mut self, stack: &[Frame]) {
        self.see_files(stack);
    }

    fn see_files<F: FrameFields>(&mut self, stack: &[F]) {
        // Either settles [`InputShape::base_names_hide_project`] for good.
        if self.any_directory || self.project_hits > 0 {
            return;
        }
        for file in stack.iter().filter_map(|f| f.file()) {
            self.any_file = true;
            if file.contains('/') {
                self.any_directory = true;
                return;
            }
        }
    }

    /// A record or report of this input had a project frame.
    pub fn project_hit(&mut self) {
        self.project_hits += 1;
    }

    /// A record judged not the project's (no project frame in any stack), by its
    /// [`cut_candidates`].
    pub fn not_project(&mut self, mut depths: Vec<usize>) {
        depths.sort_unstable();
        depths.dedup();
        for d in depths {
            *self.not_project_depths.entry(d).or_default() += 1;
        }
    }

    /// Every frame that names a source file names it without a directory (Valgrind run
    /// without `--fullpath-after=`), and none of the input's records had a project frame.
    pub fn base_names_hide_project(&self) -> bool {
        self.any_file && !self.any_directory && self.project_hits == 0
    }

    /// The records with no project frame whose stack is exactly as deep as the run's limit:
    /// `num_callers` when the input states it, else the deepest stack when at least two
    /// stacks reach it (one alone may simply be deep). None when the limit is unknown.
    pub fn cut(&self, num_callers: Option<u32>) -> Option<Cut> {
        let (limit, stated) = match num_callers {
            Some(n) => (n as usize, true),
            None if self.deepest > 0 && self.deepest_stacks >= 2 => (self.deepest, false),
            None => return None,
        };
        let records = self.not_project_depths.get(&limit).copied().unwrap_or(0);
        Some(Cut {
            limit,
            stated,
            records,
        })
    }
}

/// The depths of a record's stacks that Valgrind may have cut: those that do not reach
/// their thread's root. A record cut by the end of its input, or on purpose (`...`), says
/// nothing about the limit.
pub fn cut_candidates(rec: &Record) -> Vec<usize> {
    cut_candidates_in(rec, &rec.stack)
}

/// [`cut_candidates`] of a record whose main stack is given apart.
fn cut_candidates_in<F: FrameFields>(rec: &Record, main: &[F]) -> Vec<usize> {
    if rec.truncated || rec.elided {
        return Vec::new();
    }
    let mut depths = Vec::new();
    if !main.is_empty() && !reaches_root(main) {
        depths.push(depth(main));
    }
    for s in rec.aux.iter().map(|a| &a.stack[..]) {
        if !s.is_empty() && !reaches_root(s) {
            depths.push(depth(s));
        }
    }
    depths
}

/// A stack's depth as `--num-callers` counts it: in code addresses. Valgrind prints the
/// functions inlined at an address as frames of their own, with that same address, so a
/// stack of 12 addresses may show 14 frames.
pub fn depth<F: FrameFields>(stack: &[F]) -> usize {
    stack
        .iter()
        .enumerate()
        .filter(
            |(i, f)| match (f.addr(), (*i > 0).then(|| stack[i - 1].addr())) {
                (Some(addr), Some(Some(before))) => !same_from_the_end(addr, before),
                _ => true,
            },
        )
        .count()
}

/// `a == b`, compared from the last byte: two addresses of a stack have the same length and
/// differ in their last digits, where a compare call would start from the front.
fn same_from_the_end(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().rev().eq(b.bytes().rev())
}

/// The hint for an input whose frames name source files by base name only, when `project`
/// could therefore not find its frames (see [`InputShape::base_names_hide_project`]); none
/// when the project can still be found: without `--project`, or with `--project` alone
/// (a root), where the names are looked up under a root that holds source files.
pub fn base_names_hint(input: &str, project: &mut Project) -> Option<String> {
    match project {
        Project::Everything => None,
        Project::Patterns(patterns) => {
            let flags: Vec<String> = patterns.iter().map(|p| format!("--project={p}")).collect();
            Some(format!(
                "{input}: frames name source files without directories, so {} sees only file \
                 names; rerun valgrind with --fullpath-after= (or use --project --root DIR)",
                flags.join(" ")
            ))
        }
        // With a root, bare names are looked up under it: only an empty root hides them.
        Project::Under(root) | Project::Either(_, root) => (!root.has_sources()).then(|| {
            format!(
                "{input}: frames name source files without directories and {} holds no \
                 source file to look their names up in, so --project finds no project frame; \
                 rerun valgrind with --fullpath-after= (or give --root your source tree)",
                root.dir().display()
            )
        }),
    }
}

/// The hint for records cut at the stack limit with no project frame in them.
pub fn cut_hint(input: &str, cut: &Cut) -> String {
    let records = if cut.records == 1 {
        "1 record was".to_string()
    } else {
        format!("{} records were", cut.records)
    };
    let inferred = if cut.stated {
        ""
    } else {
        " (the deepest stacks in it)"
    };
    let rerun = if cut.limit < crate::memcheck::MAX_FRAMES {
        let more = (cut.limit * 2).clamp(50, crate::memcheck::MAX_FRAMES);
        format!("; rerun valgrind with --num-callers={more}")
    } else {
        String::new()
    };
    format!(
        "{input}: {records} cut at {} frames{inferred} with no project frame in them{rerun}",
        cut.limit
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memcheck::AuxStack;

    fn f(function: &str) -> Frame {
        Frame {
            function: Some(function.into()),
            ..Frame::default()
        }
    }

    fn stack(names: &[&str]) -> Vec<Frame> {
        names.iter().map(|n| f(n)).collect()
    }

    #[test]
    fn module_init_is_single_or_multi_phase_init() {
        // As python3.11-dbg's stacks have them (tests/fixtures/module_init).
        let single = stack(&[
            "malloc",
            "PyInit_single_phase",
            "_PyImport_LoadDynamicModuleWithSpec",
        ]);
        let multi = stack(&[
            "malloc",
            "exec_multi_phase",
            "PyModule_ExecDef",
            "exec_builtin_or_dynamic",
        ]);
        let call = stack(&["malloc", "keep", "cfunction_vectorcall_NOARGS"]);
        for kind in MODULE_LIFETIME_KINDS {
            assert!(module_init(kind, &single), "{kind}");
            assert!(module_init(kind, &multi), "{kind}");
            assert!(!module_init(kind, &call), "{kind}");
        }
        assert!(!module_init("Leak_DefinitelyLost", &single));
        assert!(!module_init("InvalidRead", &multi));
        assert!(!passes_through_init(&stack(&["PyInit_", "main"])));
        assert!(!passes_through_init(&stack(&["PyModule_ExecDef"])));
        assert!(passes_through_init(&stack(&[
            "PyMem_Malloc",
            "PyModule_ExecDef"
        ])));
    }

    fn record(stack: Vec<Frame>) -> Record {
        Record {
            kind: "Leak_PossiblyLost".into(),
            stack,
            ..Record::default()
        }
    }

    #[test]
    fn cut_records_are_counted_at_the_stated_or_inferred_limit() {
        let cut = record(stack(&["malloc", "a", "b", "c"]));
        let whole = record(stack(&["malloc", "a", "main", "(below main)"]));
        let short = record(stack(&["malloc", "a"]));
        let mut shape = InputShape::default();
        for r in [&cut, &whole, &short] {
            let depths = shape.see_record(r);
            shape.not_project(depths);
        }
        // One stack of 4 that may be cut: no limit to infer.
        assert_eq!(shape.cut(None), None);
        assert_eq!(
            shape.cut(Some(4)),
            Some(Cut {
                limit: 4,
                stated: true,
                records: 1
            })
        );
        let mut aux = record(stack(&["x", "y"]));
        aux.aux.push(AuxStack {
            what: "Address 0x1 is 0 bytes inside a block".into(),
            stack: stack(&["malloc", "a", "b", "c"]),
        });
        let depths = shape.see_record(&aux);
        shape.not_project(depths);
        assert_eq!(
            shape.cut(None),
            Some(Cut {
                limit: 4,
                stated: false,
                records: 2
            })
        );
        let at = |addr: &str| Frame {
            addr: Some(addr.into()),
            ..f("inlined")
        };
        assert_eq!(depth(&[at("0x1"), at("0x1"), at("0x2"), f("x"), f("y")]), 4);
        // Same length, differing before the last digit; then a longer one ending alike.
        assert_eq!(depth(&[at("0x12"), at("0x22"), at("0x22"), at("0x122")]), 3);
        let mut truncated = cut.clone();
        truncated.truncated = true;
        assert!(cut_candidates(&truncated).is_empty());
        assert_eq!(
            cut_hint("vg.log", &shape.cut(None).unwrap()),
            "vg.log: 2 records were cut at 4 frames (the deepest stacks in it) with no \
             project frame in them; rerun valgrind with --num-callers=50"
        );
        assert_eq!(
            cut_hint(
                "vg.log",
                &Cut {
                    limit: 40,
                    stated: true,
                    records: 1
                }
            ),
            "vg.log: 1 record was cut at 40 frames with no project frame in them; rerun \
             valgrind with --num-callers=80"
        );
    }

    #[test]
    fn base_names_hide_the_project_only_when_all_are_bare_and_nothing_matched() {
        let file = |name: &str| Frame {
            function: Some("f".into()),
            file: Some(name.into()),
            line: Some(1),
            ..Frame::default()
        };
        let mut shape = InputShape::default();
        assert!(!shape.base_names_hide_project(), "no file named");
        shape.see_record(&record(vec![file("ceval.c"), file("mymod.c")]));
        assert!(shape.base_names_hide_project());
        let mut full = InputShape::default();
        full.see_record(&record(vec![file("/src/mymod.c"), file("ceval.c")]));
        assert!(
            !full.base_names_hide_project(),
            "--fullpath-after= was given"
        );
        shape.project_hit();
        assert!(!shape.base_names_hide_project(), "the project was found");
        let mut patterns = Project::Patterns(vec!["native-core.so".into()].into());
        assert_eq!(
            base_names_hint("vg.log", &mut patterns).unwrap(),
            "vg.log: frames name source files without directories, so \
             --project=native-core.so sees only file names; rerun valgrind with \
             --fullpath-after= (or use --project --root DIR)"
        );
        assert_eq!(base_names_hint("vg.log", &mut Project::Everything), None);
    }
}
