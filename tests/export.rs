//! `siloscope export`: a simulated history exported as handoffs in each format, read back (CSV and
//! NDJSON here, Parquet by pyarrow in tests/export_reader.py when it is installed) and compared
//! with the facts the library builds for the same period; and what the command refuses.

mod common;

use std::path::Path;

use serde_json::Value;
use siloscope::export::polars::prelude::AnyValue;
use siloscope::export::{DataFrame, ExportOptions, FactKind, TimeRange};

fn output(args: &[&str]) -> (i32, String, String) {
    let out = common::run(args);
    let (stdout, stderr) = (common::text(&out.stdout), common::text(&out.stderr));
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// A cell as the text formats write it: RFC 3339 times, null as None.
fn cell(df: &DataFrame, col: &str, row: usize) -> Option<String> {
    let v = df.column(col).unwrap().as_materialized_series().get(row).unwrap();
    match v {
        AnyValue::Null => None,
        AnyValue::String(s) => Some(s.to_string()),
        AnyValue::StringOwned(s) => Some(s.to_string()),
        AnyValue::Int64(n) => Some(n.to_string()),
        AnyValue::Boolean(b) => Some(b.to_string()),
        AnyValue::Datetime(ms, _, _) => {
            Some(chrono::DateTime::from_timestamp(ms / 1000, 0).unwrap().format("%Y-%m-%dT%H:%M:%SZ").to_string())
        }
        other => panic!("unexpected cell {other:?} in {col}"),
    }
}

fn rows(df: &DataFrame) -> Vec<Vec<Option<String>>> {
    let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    (0..df.height()).map(|r| names.iter().map(|c| cell(df, c, r)).collect()).collect()
}

/// RFC 4180 with empty fields as null.
fn parse_csv(text: &str) -> Vec<Vec<Option<String>>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let (mut fields, mut cur, mut quoted, mut was_quoted) = (Vec::new(), String::new(), false, false);
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    chars.next();
                    cur.push('"');
                }
                ('"', true) => quoted = false,
                ('"', false) => (quoted, was_quoted) = (true, true),
                (',', false) => {
                    fields.push((!cur.is_empty() || was_quoted).then(|| std::mem::take(&mut cur)));
                    was_quoted = false;
                }
                (c, _) => cur.push(c),
            }
        }
        fields.push((!cur.is_empty() || was_quoted).then_some(cur));
        out.push(fields);
    }
    out
}

fn json_cell(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn facts(config: &Path, from: &str, to: &str, kind: FactKind) -> DataFrame {
    let cfg = siloscope::config::Config::load(config).unwrap();
    let store = siloscope::daemon::open_store_for_reading(&cfg).unwrap();
    let dir = siloscope::report::load_directory(&*store, &cfg).unwrap();
    let frame = siloscope::report::load_frame(&*store, &mut |_| {}).unwrap();
    let period = siloscope::report::Period::between(from, to).unwrap();
    let opts = ExportOptions {
        kind,
        range: TimeRange { from: Some(period.start), to: Some(period.end) },
        as_of: period.last_second(),
        name_people: false,
    };
    siloscope::export::table(&frame, &dir, &cfg.signals, &opts).unwrap()
}

#[test]
fn handoffs_export_in_every_format_with_the_rows_of_the_facts() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("x.db");
    let config = common::sim_config(tmp.path(), "x", &store, "teams = 3\nitems_per_day = 40\nhistory_days = 20");
    let config = config.to_str().unwrap();
    let (code, _, err) = output(&["sync", "--once", "--config", config]);
    assert_eq!(code, 0, "{err}");
    // A period that ended before the history did: the states are taken at its end, not at now.
    let today = chrono::Utc::now().date_naive();
    let (from, to) = ((today - chrono::Days::new(14)).to_string(), (today - chrono::Days::new(2)).to_string());
    let expected = facts(Path::new(config), &from, &to, FactKind::Handoffs);
    assert!(expected.height() > 20, "the simulated history has handoffs: {}", expected.height());
    let names: Vec<String> = expected.get_column_names().iter().map(|n| n.to_string()).collect();
    let schema: Vec<&str> = FactKind::Handoffs.columns(false).iter().map(|c| c.name).collect();
    assert_eq!(names, schema);
    let expected_rows = rows(&expected);

    let mut files = Vec::new();
    for format in ["parquet", "csv", "ndjson"] {
        let out = tmp.path().join(format!("handoffs.{format}"));
        let out_s = out.to_str().unwrap();
        let args =
            ["export", "--config", config, "--facts", "handoffs", "--from", &from, "--to", &to, "--format", format];
        let (code, stdout, err) = output(&[&args[..], &["--out", out_s]].concat());
        assert_eq!(code, 0, "{format}: {err}");
        assert!(stdout.contains(&format!("{} handoffs ({format})", expected.height())), "{stdout}");
        // Never overwrites: exit 2, the file unchanged.
        let before = std::fs::read(&out).unwrap();
        let (code, _, err) = output(&[&args[..], &["--out", out_s]].concat());
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("exists already"), "{err}");
        assert_eq!(std::fs::read(&out).unwrap(), before);
        files.push(out);
    }

    let csv = parse_csv(&std::fs::read_to_string(&files[1]).unwrap());
    let header: Vec<Option<String>> = names.iter().cloned().map(Some).collect();
    assert_eq!(csv[0], header);
    assert_eq!(&csv[1..], &expected_rows[..], "the CSV rows are the facts");

    let ndjson = std::fs::read_to_string(&files[2]).unwrap();
    let parsed: Vec<Vec<Option<String>>> = ndjson
        .lines()
        .map(|l| {
            let v: serde_json::Map<String, Value> = serde_json::from_str(l).unwrap();
            assert_eq!(v.keys().cloned().collect::<Vec<_>>().len(), names.len());
            names.iter().map(|n| json_cell(&v[n])).collect()
        })
        .collect();
    assert_eq!(parsed, expected_rows, "the NDJSON rows are the facts");

    // The Parquet by an independent reader: pyarrow under the python tests/run provides
    // (SILOSCOPE_TEST_PYTHON, which must have it); outside tests/run a python3 with pyarrow if
    // there is one, else only the file's framing is checked, and the test says so.
    let python = std::env::var("SILOSCOPE_TEST_PYTHON").ok().or_else(|| {
        std::process::Command::new("python3")
            .args(["-c", "import pyarrow"])
            .status()
            .is_ok_and(|s| s.success())
            .then(|| "python3".to_string())
    });
    if let Some(python) = python {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/export_reader.py");
        let out = std::process::Command::new(&python)
            .arg(script)
            .arg(&files[0])
            .output()
            .unwrap_or_else(|e| panic!("running {python}: {e}"));
        assert!(out.status.success(), "{python} cannot read the Parquet back: {}", common::text(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["rows"], serde_json::json!(expected.height()));
        assert_eq!(v["columns"], serde_json::json!(names));
        let items: Vec<Option<String>> = expected_rows.iter().map(|r| r[0].clone()).collect();
        assert_eq!(v["item"], serde_json::json!(items));
    } else {
        eprintln!("no python3 with pyarrow (tests/run provides one): the Parquet file is only checked for its framing");
    }
    let parquet = std::fs::read(&files[0]).unwrap();
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"));
}

#[test]
fn export_refuses_unknown_kinds_bad_dates_and_an_existing_file_before_reading_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.toml");
    let missing = missing.to_str().unwrap();
    let out = tmp.path().join("o.csv");
    let out_s = out.to_str().unwrap();
    let base = ["export", "--config", missing, "--format", "csv", "--out", out_s];
    let (code, _, err) = output(&[&base[..], &["--facts", "nope"]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("handoffs"), "{err}");
    let (code, _, err) =
        output(&[&base[..], &["--facts", "handoffs", "--from", "2026-03-31", "--to", "2026-03-01"]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("empty period"), "{err}");
    std::fs::write(&out, "keep").unwrap();
    let (code, _, err) = output(&[&base[..], &["--facts", "handoffs"]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("exists already"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep");
}
