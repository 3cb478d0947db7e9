//! Issue 17 item 6: sizes and durations a config (or the demo's flags) lets through are bounded,
//! and the error says the bound. Before: `teams = 4294967295` passed check-config and `sync`
//! aborted on a memory allocation failure; windows of i64::MAX seconds were accepted.

mod common;

use common::*;

fn check(toml: &str) -> (String, String, Option<i32>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, toml).unwrap();
    let out = run(&["check-config", "--config", path.to_str().unwrap()]);
    (path.display().to_string(), text(&out.stderr), out.status.code())
}

fn refused(text: &str, line: usize, needles: &[&str]) {
    let (file, err, code) = check(text);
    assert_eq!(code, Some(2), "check-config accepted:\n{text}\n{err}");
    assert!(err.contains(&format!("{file}:{line}:")), "names the line {line}:\n{err}");
    for n in needles {
        assert!(err.contains(n), "lacks {n:?}:\n{err}");
    }
    for bad in ["panicked", "memory allocation", "backtrace"] {
        assert!(!err.contains(bad), "{err}");
    }
}

fn sim(extra: &str) -> String {
    format!("[[sources]]\nname = \"demo\"\nkind = \"simulator\"\n{extra}")
}

#[test]
fn simulator_sizes_are_bounded_and_the_error_says_the_bound() {
    refused(&sim("teams = 4294967295\n"), 4, &["sources.teams", "from 1 to 200"]);
    refused(&sim("people_per_team = 1000\n"), 4, &["from 1 to 100"]);
    refused(&sim("repos_per_team = 51\n"), 4, &["from 1 to 50"]);
    refused(&sim("history_days = 100000\n"), 4, &["from 0 to 3650"]);
    refused(&sim("items_per_day = 1e9\n"), 4, &["above 10000"]);
    refused(&sim("history_days = 3650\nitems_per_day = 5000.0\n"), 5, &["500000"]);
    // Within the bounds: accepted.
    let (_, err, code) = check(&sim("teams = 200\npeople_per_team = 100\nhistory_days = 30\n"));
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn durations_and_intervals_are_bounded() {
    refused("[signals]\nwindows = [\"7d\", \"106751991167300d\"]\n", 2, &["signals.windows", "3650d"]);
    refused("[signals]\nstall_after = \"5000d\"\n", 2, &["signals.stall_after", "3650d"]);
    refused(&sim("interval = \"30d\"\n"), 4, &["sources.interval", "7d"]);
    let (_, err, code) = check("[signals]\nwindows = [\"7d\", \"3650d\"]\n");
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn the_demo_flags_follow_the_same_bounds() {
    for (args, needle) in [
        (vec!["--teams", "4294967295"], "--teams must be a whole number from 1 to 200"),
        (vec!["--teams", "0"], "--teams must be a whole number from 1 to 200"),
        (vec!["--items-per-day", "1e12"], "--items-per-day must be a number from 0 to 10000"),
        (vec!["--items-per-day", "NaN"], "--items-per-day"),
        (vec!["--speed", "1e300"], "--speed must be a number above 0 and at most 1000000"),
    ] {
        let mut all = vec!["demo", "--web.listen-address", "127.0.0.1:0"];
        all.extend(args.iter().copied());
        let out = run(&all);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("memory allocation"), "{err}");
    }
}

#[test]
fn backfill_step_is_bounded() {
    for (step, needle) in [("1s", "--step must be from 1m to 366d"), ("100000d", "--step must be from 1m to 366d")] {
        let out = run(&["backfill", "--config", "/nonexistent/c.toml", "--out", "/nonexistent/o.om", "--step", step]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{step}: {err}");
        assert!(err.contains(needle), "{step}: {err}");
    }
}
