#![no_main]
libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = siloscope::webconfig::parse(text, std::path::Path::new("/nonexistent/web.yml"));
});
