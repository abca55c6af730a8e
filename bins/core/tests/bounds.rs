//! The caps that keep every parser's memory bounded whatever it reads, and the counters that
//! say when one was hit. (The caps of bt-demangle and rss-rounds are tested beside their
//! code; the line cap in `input.rs`.)

use dbgpipe_core::memcheck::text::MAX_PIDS;
use dbgpipe_core::memcheck::{text, xml, ParseStats, Record, MAX_AUX};

fn parse_text(log: &str) -> (Vec<Record>, ParseStats) {
    let mut stats = ParseStats::default();
    let mut records = Vec::new();
    text::parse("t.log", log.as_bytes(), &mut stats, &mut |e| {
        records.extend(e.into_record())
    })
    .expect("a slice reads");
    (records, stats)
}

/// A record with more auxiliary descriptions than any Memcheck writes keeps the first
/// [`MAX_AUX`]; the rest, and their frames, are counted.
#[test]
fn text_records_keep_at_most_max_aux_descriptions() {
    let mut log = String::from("==1== Invalid read of size 4\n==1==    at 0x1: f (a.c:1)\n");
    for i in 0..MAX_AUX + 30 {
        log.push_str(&format!(
            "==1==  Address 0x{i:x} is on thread 1's stack\n==1==    at 0x2: g (a.c:{i})\n"
        ));
    }
    log.push_str("==1== \n");
    let (records, stats) = parse_text(&log);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].aux.len(), MAX_AUX);
    assert!(records[0].aux.iter().all(|a| a.stack.len() == 1));
    assert_eq!((stats.dropped_aux, stats.dropped_frames), (30, 30));
    // The next record starts afresh.
    let (records, stats) = parse_text(&format!(
        "{log}==1== Invalid write of size 1\n==1==  Address 0x0 is not stack'd\n==1==    at 0x3: h (b.c:2)\n==1== \n"
    ));
    assert_eq!(records[1].aux.len(), 1);
    assert_eq!(records[1].aux[0].stack.len(), 1);
    assert_eq!(stats.dropped_aux, 30);
}

#[test]
fn xml_records_keep_at_most_max_aux_descriptions() {
    let frame = "<stack><frame><ip>0x1</ip><fn>g</fn></frame></stack>";
    let mut doc = format!(
        "<?xml version=\"1.0\"?>\n<valgrindoutput><error><kind>InvalidRead</kind><what>Invalid read of size 4</what>{frame}"
    );
    for i in 0..MAX_AUX + 30 {
        doc.push_str(&format!(
            "<auxwhat>Address 0x{i:x} is on thread 1's stack</auxwhat>{frame}\n"
        ));
    }
    doc.push_str("</error></valgrindoutput>\n");
    let mut stats = ParseStats::default();
    let mut records = Vec::new();
    xml::parse("t.xml", doc.as_bytes(), &mut stats, &mut |e| {
        records.extend(e.into_record())
    })
    .expect("valid XML");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].aux.len(), MAX_AUX);
    assert_eq!((stats.dropped_aux, stats.dropped_frames), (30, 30));
}

/// An interleaved log naming more processes than [`MAX_PIDS`], each leaving a record open:
/// the states are not kept without bound, and no record is lost (the ones closed early are
/// flagged as cut).
#[test]
fn more_processes_than_max_pids_lose_no_record() {
    let n = MAX_PIDS + 50;
    let mut log = String::new();
    for pid in 1..=n {
        log.push_str(&format!(
            "=={pid}== Invalid read of size 4\n=={pid}==    at 0x1: f (a.c:1)\n"
        ));
    }
    let (records, stats) = parse_text(&log);
    assert_eq!(records.len(), n);
    assert_eq!(stats.records, n as u64);
    assert_eq!(stats.truncated_records, n as u64);
    // Idle processes are let go without a trace: a long log of short-lived processes.
    let mut log = String::new();
    for pid in 1..=n {
        log.push_str(&format!(
            "=={pid}== Invalid read of size 4\n=={pid}==    at 0x1: f (a.c:1)\n=={pid}== \n"
        ));
    }
    let (records, stats) = parse_text(&log);
    assert_eq!(records.len(), n);
    assert_eq!(stats.truncated_records, 0);
}
