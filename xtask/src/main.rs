//! `cargo xtask dashboards`: writes dashboards/*.json from the metric catalogue (xtask/src/dashboards.rs).
//! `cargo xtask dashboards --check` only compares, and exits 1 when a committed board differs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask dashboards [--check]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["dashboards"] => dashboards(false),
        ["dashboards", "--check"] => dashboards(true),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn dashboards(check: bool) -> ExitCode {
    let dir = repository_root().join("dashboards");
    let mut stale = 0;
    for (name, text) in xtask::dashboards::boards() {
        let path = dir.join(name);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(text.as_str()) {
            println!("dashboards/{name} is up to date");
            continue;
        }
        if check {
            eprintln!("dashboards/{name} differs from what xtask/src/dashboards.rs writes");
            stale += 1;
            continue;
        }
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote dashboards/{name}");
    }
    if stale > 0 {
        eprintln!("run `cargo xtask dashboards` to write them");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The workspace root: xtask/ sits in it.
fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").to_path_buf()
}
