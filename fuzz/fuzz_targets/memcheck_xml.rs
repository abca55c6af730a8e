//! Memcheck XML: any bytes give records or a one-line error with a line number, never a
//! panic or a hang; every record is counted (fatal signals and error counts are events
//! of their own).
#![no_main]
use dbgpipe_core::memcheck::{xml, Event, ParseStats};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut stats = ParseStats::default();
    let mut n = 0u64;
    match xml::parse("fuzz", data, &mut stats, &mut |e| {
        n += u64::from(matches!(e, Event::Record(_)))
    }) {
        Ok(()) => assert_eq!(n, stats.records),
        Err(e) => {
            assert!(e.line.is_some(), "an XML error names its line: {e}");
            assert!(!e.to_string().contains('\n'), "one line: {e}");
        }
    }
});
