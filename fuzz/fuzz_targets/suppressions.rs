//! Suppression files: any text parses or gives a one-line error; what parses writes back
//! to text that parses to the same entries.
#![no_main]
use dbgpipe_core::memcheck::suppressions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(supps) = suppressions::parse("fuzz", &text) {
        let written: String = supps.iter().map(|s| s.to_text()).collect();
        let again = suppressions::parse("again", &written).expect("written suppressions parse");
        assert_eq!(supps.len(), again.len());
        for (a, b) in supps.iter().zip(&again) {
            assert_eq!(
                (&a.name, &a.kind, &a.aux, &a.leak_kinds, &a.frames),
                (&b.name, &b.kind, &b.aux, &b.leak_kinds, &b.frames)
            );
        }
    }
});
