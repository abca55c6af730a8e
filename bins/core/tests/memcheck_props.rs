//! Properties of the Memcheck parsers and of vg-filter's accounting, on generated logs.
//!
//! Records are generated, written out the way Valgrind writes them (text with `==PID==`
//! prefixes, and XML), and read back.

use dbgpipe_core::memcheck::filter::{FailOn, Filter, Options};
use dbgpipe_core::memcheck::records::Summary;
use dbgpipe_core::memcheck::{self, ParseStats, Record};
use dbgpipe_core::output::JsonLines;
use dbgpipe_core::output::Sink;
use dbgpipe_core::project::Project;
use dbgpipe_core::Frame;
use proptest::prelude::*;

/// A frame as Valgrind prints it: a function with a file and line, or an object only.
fn frame() -> impl Strategy<Value = Frame> {
    let func = prop::sample::select(vec![
        "malloc",
        "PyObject_Malloc",
        "_PyEval_EvalFrameDefault",
        "leak_definite",
        "std::vector<int, std::allocator<int> >::push_back(int const&)",
        "operator new(unsigned long)",
    ]);
    let file = prop::sample::select(vec!["ceval.c", "/proj/src/ext.c", "obmalloc.c"]);
    let obj = prop::sample::select(vec![
        "/usr/bin/python3.11",
        "/proj/build/ext.so",
        "/usr/lib/libc.so.6",
    ]);
    (
        0u32..0xffff,
        func,
        prop::option::of((file, 1u32..5000)),
        obj,
    )
        .prop_map(|(addr, func, loc, obj)| Frame {
            addr: Some(format!("0x{:X}", 0x400000 + addr)),
            function: Some(func.to_string()),
            object: if loc.is_none() {
                Some(obj.to_string())
            } else {
                None
            },
            file: loc.map(|(f, _)| f.to_string()),
            line: loc.map(|(_, l)| l),
        })
}

fn record() -> impl Strategy<Value = Record> {
    let kinds = prop::sample::select(vec![
        ("InvalidRead", "Invalid read of size 4"),
        (
            "UninitCondition",
            "Conditional jump or move depends on uninitialised value(s)",
        ),
        ("Leak_DefinitelyLost", "LEAK definitely lost"),
        ("Leak_PossiblyLost", "LEAK possibly lost"),
    ]);
    (
        kinds,
        1u32..4,
        prop::collection::vec(frame(), 1..8),
        prop::option::of(prop::collection::vec(frame(), 1..4)),
        1u64..10_000,
    )
        .prop_map(|((kind, what), pid, stack, aux, bytes)| {
            let leak = kind.starts_with("Leak_");
            let what = if leak {
                let how = if kind == "Leak_DefinitelyLost" {
                    "definitely"
                } else {
                    "possibly"
                };
                format!("{bytes} bytes in 1 blocks are {how} lost in loss record 1 of 9")
            } else {
                what.to_string()
            };
            Record {
                kind: kind.to_string(),
                pid: Some(pid),
                tid: None,
                what,
                bytes: leak.then_some(bytes),
                blocks: leak.then_some(1),
                loss_record: leak.then_some(1),
                loss_records_total: leak.then_some(9),
                aux: aux
                    .map(|stack| {
                        vec![memcheck::AuxStack {
                            what: "Address 0x1234 is 0 bytes after a block of size 8 alloc'd"
                                .into(),
                            stack,
                        }]
                    })
                    .into_iter()
                    .flatten()
                    .filter(|_| !leak)
                    .collect(),
                stack,
                ..Record::default()
            }
        })
}

fn text_frame(f: &Frame, first: bool) -> String {
    let loc = match (&f.file, f.line, &f.object) {
        (Some(file), Some(line), _) => format!(" ({file}:{line})"),
        (_, _, Some(obj)) => format!(" (in {obj})"),
        _ => String::new(),
    };
    format!(
        "   {} {}: {}{loc}",
        if first { "at" } else { "by" },
        f.addr.as_deref().unwrap_or("0x0"),
        f.function.as_deref().unwrap_or("???")
    )
}

/// The lines Valgrind writes for one record, without prefixes.
fn text_lines(r: &Record) -> Vec<String> {
    let mut v = vec![r.what.clone()];
    v.extend(
        r.stack
            .iter()
            .enumerate()
            .map(|(i, f)| text_frame(f, i == 0)),
    );
    for a in &r.aux {
        v.push(format!(" {}", a.what));
        v.extend(
            a.stack
                .iter()
                .enumerate()
                .map(|(i, f)| text_frame(f, i == 0)),
        );
    }
    v.push(String::new());
    v
}

/// A text log of several processes, their records' lines interleaved line by line in the
/// order `order` gives (each process's own lines keep their order).
fn text_log(recs: &[Record], order: &[usize]) -> String {
    let mut per_pid: std::collections::BTreeMap<u32, Vec<String>> = Default::default();
    for r in recs {
        let pid = r.pid.unwrap_or(0);
        per_pid
            .entry(pid)
            .or_default()
            .extend(text_lines(r).into_iter().map(|l| format!("=={pid}== {l}")));
    }
    let mut queues: Vec<std::collections::VecDeque<String>> =
        per_pid.into_values().map(Into::into).collect();
    let mut out = String::new();
    let mut k = 0;
    while queues.iter().any(|q| !q.is_empty()) {
        let n = queues.len();
        let pick = order.get(k).copied().unwrap_or(0) % n;
        k += 1;
        let q = (0..n)
            .map(|i| (pick + i) % n)
            .find(|&i| !queues[i].is_empty())
            .unwrap();
        out.push_str(&queues[q].pop_front().unwrap());
        out.push('\n');
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn xml_stack(stack: &[Frame]) -> String {
    let mut s = String::from("  <stack>\n");
    for f in stack {
        s.push_str("    <frame>\n");
        if let Some(a) = &f.addr {
            s.push_str(&format!("      <ip>{a}</ip>\n"));
        }
        if let Some(o) = &f.object {
            s.push_str(&format!("      <obj>{}</obj>\n", esc(o)));
        }
        if let Some(func) = &f.function {
            s.push_str(&format!("      <fn>{}</fn>\n", esc(func)));
        }
        if let (Some(file), Some(line)) = (&f.file, f.line) {
            s.push_str(&format!(
                "      <file>{}</file>\n      <line>{line}</line>\n",
                esc(file)
            ));
        }
        s.push_str("    </frame>\n");
    }
    s.push_str("  </stack>\n");
    s
}

/// One XML document per process.
fn xml_docs(recs: &[Record]) -> String {
    let mut per_pid: std::collections::BTreeMap<u32, Vec<&Record>> = Default::default();
    for r in recs {
        per_pid.entry(r.pid.unwrap_or(0)).or_default().push(r);
    }
    let mut out = String::new();
    for (pid, recs) in per_pid {
        out.push_str(&format!(
            "<?xml version=\"1.0\"?>\n<valgrindoutput>\n<protocolversion>4</protocolversion>\n<pid>{pid}</pid>\n"
        ));
        for r in recs {
            out.push_str(&format!(
                "<error>\n  <unique>0x1</unique>\n  <kind>{}</kind>\n",
                r.kind
            ));
            if r.is_leak() {
                out.push_str(&format!(
                    "  <xwhat>\n    <text>{}</text>\n    <leakedbytes>{}</leakedbytes>\n  </xwhat>\n",
                    esc(&r.what),
                    r.bytes.unwrap_or(0)
                ));
            } else {
                out.push_str(&format!("  <what>{}</what>\n", esc(&r.what)));
            }
            out.push_str(&xml_stack(&r.stack));
            for a in &r.aux {
                out.push_str(&format!("  <auxwhat>{}</auxwhat>\n", esc(&a.what)));
                out.push_str(&xml_stack(&a.stack));
            }
            out.push_str("</error>\n");
        }
        out.push_str("</valgrindoutput>\n");
    }
    out
}

fn parse(data: &str) -> (Vec<Record>, ParseStats) {
    let mut recs = Vec::new();
    let mut stats = ParseStats::default();
    let bytes = data.as_bytes();
    match memcheck::detect(bytes) {
        memcheck::Format::Text => memcheck::text::parse("t", bytes, &mut stats, &mut |e| {
            recs.extend(e.into_record())
        }),
        memcheck::Format::Xml => memcheck::xml::parse("x", bytes, &mut stats, &mut |e| {
            recs.extend(e.into_record())
        }),
    }
    .unwrap();
    // Only XML numbers its errors for <errorcounts>.
    for r in &mut recs {
        r.unique = None;
    }
    (recs, stats)
}

fn sorted(mut v: Vec<Record>) -> Vec<Record> {
    v.sort_by_key(|r| format!("{r:?}"));
    v
}

fn filter(project: Project, inputs: &[(&str, &str)]) -> (Summary, String) {
    filter_against(project, inputs, None)
}

/// [`filter`] with `--baseline`: `baseline`'s inputs read first by a filter of the same
/// options, as vg-filter does.
fn filter_against(
    project: Project,
    inputs: &[(&str, &str)],
    baseline: Option<(Project, &[(&str, &str)])>,
) -> (Summary, String) {
    let options = |project| {
        Options {
        project,
        suppressions: dbgpipe_core::memcheck::suppressions::parse(
            "s",
            "{\n   s1\n   Memcheck:Cond\n   fun:malloc\n}\n{\n   s2\n   Memcheck:Leak\n   fun:PyObject_Malloc\n}\n",
        )
        .unwrap(),
        show_suppressed: false,
        fail_on: FailOn::Default,
        merge: true,
        gen_suppressions: false,
    }
    };
    let mut f = Filter::new(options(project));
    if let Some((project, inputs)) = baseline {
        let mut earlier = Filter::new(options(project));
        let mut sink = Vec::new();
        let mut printer = JsonLines::new(Sink::new(&mut sink, false));
        for (name, data) in inputs {
            earlier.read(name, data.as_bytes(), &mut printer).unwrap();
        }
        f.set_baseline(earlier.into_baseline());
    }
    let mut out = Vec::new();
    let summary = {
        let mut printer = JsonLines::new(Sink::new(&mut out, false));
        for (name, data) in inputs {
            f.read(name, data.as_bytes(), &mut printer).unwrap();
        }
        f.finish(&mut printer).unwrap()
    };
    (summary, String::from_utf8(out).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Written as text (processes interleaved in any order) and as XML, the same records
    /// come back from both parsers.
    #[test]
    fn text_and_xml_of_the_same_records_agree(recs in prop::collection::vec(record(), 0..12), order in prop::collection::vec(0usize..8, 0..400)) {
        let (from_text, tstats) = parse(&text_log(&recs, &order));
        let (from_xml, _) = parse(&xml_docs(&recs));
        prop_assert_eq!(tstats.unparsed_lines, 0);
        prop_assert_eq!(sorted(from_text), sorted(recs.clone()));
        prop_assert_eq!(sorted(from_xml), sorted(recs));
    }

    /// Every record read is kept, suppressed or not the project's, whatever the pattern.
    #[test]
    fn counts_are_conserved(recs in prop::collection::vec(record(), 0..12), pattern in prop::sample::select(vec!["ext", "python", "*.so", "nothing", "/proj"])) {
        let (s, _) = filter(Project::Patterns(vec![pattern.to_string()].into()), &[("a", &text_log(&recs, &[]))]);
        prop_assert_eq!(s.records, recs.len() as u64);
        prop_assert_eq!(s.records, s.kept + s.suppressed + s.not_project);
    }

    /// Merging does not depend on the order of the inputs.
    #[test]
    fn merging_is_order_independent(a in prop::collection::vec(record(), 0..8), b in prop::collection::vec(record(), 0..8)) {
        let (ta, tb) = (text_log(&a, &[]), text_log(&b, &[]));
        let (s1, out1) = filter(Project::Everything, &[("a", &ta), ("b", &tb)]);
        let (s2, out2) = filter(Project::Everything, &[("b", &tb), ("a", &ta)]);
        prop_assert_eq!(s1.kept, s2.kept);
        prop_assert_eq!(s1.distinct, s2.distinct);
        let norm = |out: &str| {
            let mut v: Vec<String> = out.lines().filter(|l| l.contains("\"type\":\"error\"")).map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                // What the first record of a merge group brings (its addresses, lines, first
                // PID's thread) may differ; what merging sums and collects may not.
                let keep = serde_json::json!({
                    "kind": v["kind"], "count": v["count"], "bytes": v["bytes"], "blocks": v["blocks"],
                    "pids": v["pids"], "inputs": v["inputs"], "fingerprint": v["fingerprint"],
                    "fns": v["stack"].as_array_mut().unwrap().iter().map(|f| f["function"].clone()).collect::<Vec<_>>(),
                });
                keep.to_string()
            }).collect();
            v.sort();
            v
        };
        prop_assert_eq!(norm(&out1), norm(&out2));
    }

    /// Inputs filtered one by one and merged from their JSON lines give exactly what one pass
    /// over all of them gives (records, counts, bytes, PIDs, inputs and the summary), and so
    /// does feeding that output back in.
    #[test]
    fn shard_outputs_merge_into_one_pass(shards in prop::collection::vec(prop::collection::vec(record(), 0..6), 1..4), pattern in prop::sample::select(vec!["ext", "python", "*.so", "nothing"])) {
        let logs: Vec<(String, String)> = shards.iter().enumerate()
            .map(|(i, recs)| (format!("vg.{i}.log"), text_log(recs, &[])))
            .collect();
        let all: Vec<(&str, &str)> = logs.iter().map(|(n, l)| (n.as_str(), l.as_str())).collect();
        let project = || Project::Patterns(vec![pattern.to_string()].into());
        let (one, one_out) = filter(project(), &all);
        let outs: Vec<(String, String)> = logs.iter()
            .map(|(n, l)| (format!("{n}.jsonl"), filter(project(), &[(n.as_str(), l.as_str())]).1))
            .collect();
        let shard_outs: Vec<(&str, &str)> = outs.iter().map(|(n, o)| (n.as_str(), o.as_str())).collect();
        let (merged, merged_out) = filter(project(), &shard_outs);
        prop_assert_eq!(&merged_out, &one_out);
        prop_assert_eq!(merged.records, one.records);
        let (again, again_out) = filter(project(), &[("one.jsonl", one_out.as_str())]);
        prop_assert_eq!(&again_out, &one_out);
        prop_assert_eq!(again.failing, one.failing);
    }

    /// A baseline splits a run's kept records exactly: known ones are the baseline's
    /// fingerprints, new ones the rest (the only ones that fail), and the baseline's records
    /// the run does not have are fixed; a run against its own output is all known, and
    /// neither the order of the inputs nor merging shard outputs first changes the answer.
    #[test]
    fn a_baseline_tells_new_known_and_fixed(a in prop::collection::vec(record(), 0..8), b in prop::collection::vec(record(), 0..8)) {
        let (ta, tb) = (text_log(&a, &[]), text_log(&b, &[]));
        let fps = |out: &str, kind: &str| -> std::collections::BTreeSet<String> {
            out.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .filter(|v| v["type"] == kind)
                .map(|v| v["fingerprint"].as_str().unwrap().to_string())
                .collect()
        };
        let (_, a_out) = filter(Project::Everything, &[("a", &ta)]);
        let (_, b_out) = filter(Project::Everything, &[("b", &tb)]);
        let (in_a, in_b) = (fps(&a_out, "error"), fps(&b_out, "error"));

        let base: &[(&str, &str)] = &[("a.jsonl", &a_out)];
        let (s, out) = filter_against(Project::Everything, &[("b", &tb)], Some((Project::Everything, base)));
        let marked = |mark: &str| -> std::collections::BTreeSet<String> {
            out.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .filter(|v| v["type"] == "error" && v["baseline"] == mark)
                .map(|v| v["fingerprint"].as_str().unwrap().to_string())
                .collect()
        };
        prop_assert_eq!(marked("known"), in_b.intersection(&in_a).cloned().collect());
        prop_assert_eq!(marked("new"), in_b.difference(&in_a).cloned().collect());
        prop_assert_eq!(fps(&out, "fixed"), in_a.difference(&in_b).cloned().collect());
        prop_assert_eq!(s.fixed, in_a.difference(&in_b).count() as u64);
        prop_assert!(s.failing <= s.new);

        // Against itself: nothing new, nothing fixed, nothing fails.
        let (own, _) = filter_against(Project::Everything, &[("a", &ta)], Some((Project::Everything, base)));
        prop_assert_eq!((own.new, own.fixed, own.failing), (0, 0, 0));

        // The baseline made of the logs in the other order, or of the logs themselves.
        let both: &[(&str, &str)] = &[("b", &tb), ("a", &ta)];
        let (_, ab) = filter_against(Project::Everything, &[("a", &ta), ("b", &tb)], Some((Project::Everything, base)));
        let (_, ba) = filter_against(Project::Everything, both, Some((Project::Everything, &[("a", &ta)])));
        prop_assert_eq!(fps(&ab, "fixed"), fps(&ba, "fixed"));
        let count = |o: &str, mark: &str| o.matches(&format!("\"baseline\":\"{mark}\"")).count();
        prop_assert_eq!(count(&ab, "new"), count(&ba, "new"));
        prop_assert_eq!(count(&ab, "known"), count(&ba, "known"));
    }

    /// A log split at any byte and read as two inputs loses at most the one record that was
    /// cut, and says so (a truncated record, or unparsed lines at the start of the second).
    #[test]
    fn a_log_split_anywhere_loses_at_most_the_cut_record(recs in prop::collection::vec(record(), 1..8), at in 0.0f64..1.0) {
        let log = text_log(&recs, &[]);
        let cut = ((log.len() as f64) * at) as usize;
        let (first, second) = log.split_at(cut);
        let (r1, s1) = parse(first);
        let (r2, s2) = parse(second);
        let whole: Vec<Record> = r1.iter().chain(&r2).filter(|r| !r.truncated).cloned().collect();
        let lost = recs.len() as i64 - whole.len() as i64;
        prop_assert!((0..=1).contains(&lost), "lost {} records", lost);
        if lost == 1 {
            let said = s1.truncated_records + s2.unparsed_lines + s2.other_lines;
            prop_assert!(said > 0, "a record was lost silently");
        }
        // Records that were not cut come back exactly.
        for r in &whole {
            prop_assert!(recs.contains(r) || r.stack.is_empty() || r2.contains(r));
        }
    }
}
