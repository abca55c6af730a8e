//! Memcheck text logs: any bytes give records and counts, never a panic; every record
//! produced is counted; and vg-filter's accounting adds up on them, with a project pattern
//! and suppressions: records = kept + suppressed + not_project, and each input line is
//! counted once.
#![no_main]
use dbgpipe_core::input::Content;
use dbgpipe_core::memcheck::filter::{FailOn, Filter, Options};
use dbgpipe_core::memcheck::suppressions::{self, Suppression};
use dbgpipe_core::memcheck::{self, text, Event, ParseStats};
use dbgpipe_core::output::JsonLines;
use dbgpipe_core::output::Sink;
use dbgpipe_core::project::Project;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// A few suppressions of each frame kind, parsed once.
fn suppressions() -> Vec<Suppression> {
    static SUPPS: OnceLock<Vec<Suppression>> = OnceLock::new();
    SUPPS
        .get_or_init(|| {
            suppressions::parse(
                "fuzz.supp",
                "{\n   malloc\n   Memcheck:Leak\n   match-leak-kinds: definite,possible\n   fun:malloc\n   ...\n   obj:*python*\n}\n\
                 {\n   cond\n   Memcheck:Cond\n   src:ceval.c\n}\n\
                 {\n   read\n   Memcheck:Addr4\n   fun:_Z*\n   fun:f\n}\n",
            )
            .expect("the fuzz suppressions parse")
        })
        .clone()
}

/// Parses `data`: the records (fatal signals and Valgrind failures are not counted in
/// `stats.records`) and the counts.
fn parse(data: &[u8]) -> (u64, ParseStats) {
    let mut stats = ParseStats::default();
    let mut n = 0u64;
    text::parse("fuzz", data, &mut stats, &mut |e| {
        n += u64::from(matches!(e, Event::Record(_)))
    })
    .expect("reading a slice cannot fail");
    (n, stats)
}

fuzz_target!(|data: &[u8]| {
    let (n, stats) = parse(data);
    assert_eq!(n, stats.records);
    assert!(stats.truncated_records <= stats.records);
    assert!(stats.unparsed_lines + stats.other_lines <= stats.lines);
    // A pasted copy (quoted, indented) of anything reads without panic and counts the same
    // lines; that it gives the same records is the property test's, on real logs.
    for lead in ["> ", "    "] {
        let mut pasted = Vec::with_capacity(data.len() * 2);
        for line in data.split_inclusive(|&b| b == b'\n') {
            pasted.extend_from_slice(lead.as_bytes());
            pasted.extend_from_slice(line);
        }
        let (m, copy) = parse(&pasted);
        assert_eq!(m, copy.records);
        assert_eq!(copy.lines, stats.lines, "{lead:?}");
    }
    // vg-filter tells the formats apart by the first bytes; XML is the other target's.
    if memcheck::detect(data) != memcheck::Format::Text {
        return;
    }

    let opts = Options {
        project: Project::Patterns(vec!["ext".into(), "*.so".into()].into()),
        suppressions: suppressions(),
        show_suppressed: true,
        fail_on: FailOn::Default,
        merge: true,
        gen_suppressions: true,
    };
    let mut filter = Filter::new(opts);
    let mut out = Vec::new();
    let mut printer = JsonLines::new(Sink::new(&mut out, false));
    if let Err(e) = filter.read("fuzz", data, &mut printer) {
        // Only what is no log at all (binary data, an ELF file, JSON lines of a record this
        // version cannot read) is refused, with one line.
        let content = Content::of(&data[..data.len().min(4096)]);
        assert!(
            content.refuse("fuzz").is_some() || content == Content::JsonLines,
            "{content:?}: {e}"
        );
        assert!(!e.to_string().contains('\n'));
        return;
    }
    // Generating suppressions from what was read must not fail either.
    let _ = filter.generated_suppressions("fuzz");
    let summary = filter
        .finish(&mut printer)
        .expect("writing to a Vec cannot fail");
    drop(printer);
    assert_eq!(summary.records, stats.records);
    assert_eq!(
        summary.records,
        summary.kept + summary.suppressed + summary.not_project
    );
});
