//! Memcheck XML: any bytes give records or a one-line error with a line number, never a
//! panic or a hang.
#![no_main]
use dbgpipe_core::memcheck::{xml, ParseStats};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut stats = ParseStats::default();
    let mut n = 0u64;
    match xml::parse("fuzz", data, &mut stats, &mut |_| n += 1) {
        Ok(()) => assert_eq!(n, stats.records),
        Err(e) => {
            assert!(e.line.is_some(), "an XML error names its line: {e}");
            assert!(!e.to_string().contains('\n'), "one line: {e}");
        }
    }
});
