#![no_main]
libfuzzer_sys::fuzz_target!(|text: &str| {
    if let Ok(p) = siloscope::report::Period::parse(text) {
        assert!(p.end > p.start, "{text:?}");
    }
});
