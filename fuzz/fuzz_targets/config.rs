#![no_main]
libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = siloscope::config::Config::parse(text, std::path::Path::new("fuzz.toml")).map_err(|e| e.to_string());
});
