//! The team directory's coverage and `teams suggest` through the command line, on a simulated
//! organisation with people left out of its directory and people split across identities:
//! coverage warns, the suggested snippet passes `check-config` and, pasted, brings coverage to 100%.

mod common;

use common::*;

fn stdout_of(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "{args:?} failed:\n{}\n{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn teams_shows_coverage_and_suggest_prints_a_snippet_that_closes_the_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let path = sim_config(
        dir.path(),
        "org",
        &store,
        "history_days = 30\nitems_per_day = 40.0\nleft_out_people = 3\nsplit_people = 3\n",
    );
    let config = path.to_str().unwrap();
    stdout_of(&["sync", "--once", "--config", config]);

    let before = stdout_of(&["teams", "--config", config]);
    assert!(before.contains("Coverage (share of events / of active identities"), "{before}");
    let line = before.lines().find(|l| l.trim_start().starts_with("sim — 7d:")).expect(&before);
    assert!(!line.contains("100.0%"), "{line}");
    assert!(before.contains("source sim: only "), "{before}");
    assert!(before.contains("run `siloscope teams suggest --config"), "{before}");

    let original = std::fs::read(&path).unwrap();
    let snippet = stdout_of(&["teams", "suggest", "--config", config]);
    assert_eq!(std::fs::read(&path).unwrap(), original, "suggest must not edit the config");
    assert!(
        snippet.contains("3 people with identities the directory does not tie to them, 3 active people in no team"),
        "{snippet}"
    );
    assert_eq!(snippet.matches("[[people]]").count(), 6, "{snippet}");

    let mut pasted = String::from_utf8(original).unwrap();
    pasted.push('\n');
    pasted.push_str(&snippet);
    std::fs::write(&path, pasted).unwrap();
    let check = stdout_of(&["check-config", "--config", config]);
    assert!(check.contains("valid"), "{check}");
    let after = stdout_of(&["teams", "--config", config]);
    let line = after.lines().find(|l| l.trim_start().starts_with("sim — 7d:")).expect(&after);
    assert_eq!(line.matches("100.0%").count(), 6, "{line}");
    assert!(!after.contains("source sim: only"), "{after}");
    let again = stdout_of(&["teams", "suggest", "--config", config]);
    assert!(again.contains("Nothing to suggest"), "{again}");
}

#[test]
fn teams_without_a_config_is_a_usage_error() {
    for args in [&["teams"][..], &["teams", "suggest"][..]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("needs --config FILE"), "{}", text(&out.stderr));
    }
}

#[test]
fn a_coverage_warning_written_as_a_percentage_names_line_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[signals]\ncoverage_warning = 95\n").unwrap();
    let out = run(&["check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("c.toml:2:"), "{err}");
    assert!(err.contains("`signals.coverage_warning` is 95, above 1"), "{err}");
    assert!(err.contains("coverage_warning = 0.95"), "{err}");
    std::fs::write(&path, "[signals]\ncoverage_warning = 0.8\n").unwrap();
    assert!(run(&["check-config", "--config", path.to_str().unwrap()]).status.success());
}
