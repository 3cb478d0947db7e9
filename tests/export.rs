//! `siloscope export`: every fact kind in every format read back (CSV and NDJSON here, Parquet by
//! pyarrow in tests/export_reader.py) and compared cell for cell with the facts the library builds
//! for the same period; the privacy floor, people columns, the range's edges, hostile tracker text,
//! the format taken from the file's extension, and what the command refuses.
//!
//! One store serves every test (a simulated history plus a hand-made batch with hostile text and
//! items on the range's edges), made once; each test exports into a directory of its own.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};
use siloscope::export::polars::prelude::{AnyValue, DataType, NamedFrom, Series, TimeUnit};
use siloscope::export::{ColumnType, DataFrame, ExportOptions, FactKind, Format, TimeRange};
use siloscope::model::{Batch, DAY, Event, EventKind, HOUR, Item, ItemKind, ItemState, Ts};
use siloscope::store::Store;

const FORMATS: [&str; 3] = ["parquet", "csv", "ndjson"];
/// A team name an analyst's tools must keep as it is: a comma, quotes, markup, and a leading `=`
/// (which CSV guards with a `'`).
const HOSTILE_TEAM: &str = "=ops, \"night\" <script>alert(1)</script>";
const HOSTILE_PERSON: &str = "Ann \"the, one\" <script>alert(2)</script>";
/// An item key with every kind of text a CSV or JSON writer can get wrong; its line break is shown
/// by code point (`[U+000A]`) in every table, as on every surface.
const HOSTILE_KEY: &str = "gh:acme/x,\"y\"\n<script>alert(3)</script>#1";

struct Fixture {
    dir: PathBuf,
    /// Privacy floor 2 (every team above it) and 1000 (every team under it), one store.
    config: PathBuf,
    config_floor: PathBuf,
    from: String,
    to: String,
    /// The period's first second and its excluded end.
    start: Ts,
    end: Ts,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(make_fixture)
}

fn make_fixture() -> Fixture {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("export-fixture");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("x.db");
    let sim = "teams = 3\nitems_per_day = 40\nhistory_days = 20";
    let plain = common::sim_config(&dir, "plain", &store, sim);
    let (code, _, err) = output(&["sync", "--once", "--config", plain.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    // A period that ended before the history did: the states are taken at its end, not at now.
    let today = chrono::Utc::now().date_naive();
    let (from, to) = ((today - chrono::Days::new(14)).to_string(), (today - chrono::Days::new(2)).to_string());
    let period = siloscope::report::Period::between(&from, &to).unwrap();
    let (start, end) = (period.start, period.end);
    hand_made_batch(&store, start, end);

    let mut directory = String::new();
    for (team, login) in [(HOSTILE_TEAM, "ops"), ("beta", "beta")] {
        directory.push_str(&format!("[[teams]]\nname = {}\n\n", toml_str(team)));
        for n in 1..=3 {
            let name = if login == "ops" && n == 1 { HOSTILE_PERSON.to_string() } else { format!("{login} {n}") };
            directory.push_str(&format!(
                "[[people]]\nname = {}\ngithub = \"{login}-{n}\"\nteam = {}\n\n",
                toml_str(&name),
                toml_str(team)
            ));
        }
    }
    let body = std::fs::read_to_string(&plain).unwrap();
    let write = |name: &str, floor: u32| {
        let path = dir.join(name);
        std::fs::write(&path, format!("[signals]\nprivacy_floor = {floor}\n\n{directory}{body}")).unwrap();
        path
    };
    let (config, config_floor) = (write("x.toml", 2), write("floor.toml", 1000));
    Fixture { dir, config, config_floor, from, to, start, end }
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn gh_item(key: &str, team: &str, at: Ts) -> Item {
    Item {
        key: key.into(),
        source: "gh".into(),
        kind: ItemKind::Issue,
        scope: format!("acme/{team}"),
        url: "https://github.example/acme/x/issues/1".into(),
        title: "Fix <script>alert(4)</script>, \"now\"".into(),
        author: Some("github:ops-1".into()),
        created_at: at,
        updated_at: at,
        state: ItemState::Open,
        issue_type: None,
    }
}

fn ev(events: &mut Vec<Event>, item: &str, at: Ts, actor: &str, kind: EventKind) {
    let id = format!("gh:e{}", events.len());
    events.push(Event { id, item: item.into(), at, actor: Some(format!("github:{actor}")), kind });
}

/// The hostile team (`ops-*`) hands items to beta: the hostile key in the period, acknowledged
/// by a comment; and one item on each side of both edges (a second before the start, the start,
/// the last second, the end). Everyone acts within the period, so both teams pass a floor of 2.
fn hand_made_batch(store: &Path, start: Ts, end: Ts) {
    let (mut items, mut events) = (Vec::new(), Vec::new());
    let ops = format!("team:{HOSTILE_TEAM}");
    let handoff = |items: &mut Vec<Item>, events: &mut Vec<Event>, key: &str, at: Ts| {
        items.push(gh_item(key, "ops", at - HOUR));
        ev(events, key, at - HOUR, "ops-1", EventKind::Opened);
        ev(events, key, at - HOUR, "ops-1", EventKind::Labeled { label: ops.clone() });
        ev(events, key, at, "ops-2", EventKind::Unlabeled { label: ops.clone() });
        ev(events, key, at, "ops-2", EventKind::Labeled { label: "team:beta".into() });
    };
    handoff(&mut items, &mut events, HOSTILE_KEY, start + DAY);
    ev(&mut events, HOSTILE_KEY, start + DAY + 2 * HOUR, "beta-1", EventKind::Commented { mentions: vec![] });
    for (name, at) in [("before", start - 1), ("start", start), ("last", end - 1), ("after", end)] {
        handoff(&mut items, &mut events, &format!("gh:acme/edge#{name}"), at);
    }
    for (team, login) in [("ops", "ops"), ("beta", "beta")] {
        let key = format!("gh:acme/{team}#100");
        let label = if team == "ops" { ops.clone() } else { "team:beta".into() };
        items.push(gh_item(&key, team, start));
        ev(&mut events, &key, start, &format!("{login}-1"), EventKind::Labeled { label });
        for n in 1..=3 {
            let at = end - 3 * DAY + n * HOUR;
            ev(&mut events, &key, at, &format!("{login}-{n}"), EventKind::Commented { mentions: vec![] });
        }
    }
    let mut store = siloscope::store::SqliteStore::open(store).unwrap();
    store.commit_batch(&Batch { source: "gh".into(), items, events, ..Batch::default() }).unwrap();
}

fn output(args: &[&str]) -> (i32, String, String) {
    let out = common::run(args);
    let (stdout, stderr) = (common::text(&out.stdout), common::text(&out.stderr));
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// Runs an export of `kind` over the fixture's period into `out`; `extra` adds arguments.
fn export(config: &Path, kind: FactKind, format: &str, out: &Path, extra: &[&str]) -> String {
    let f = fixture();
    let args = [
        "export",
        "--config",
        config.to_str().unwrap(),
        "--facts",
        kind.as_str(),
        "--from",
        &f.from,
        "--to",
        &f.to,
        "--format",
        format,
        "--out",
        out.to_str().unwrap(),
    ];
    let (code, stdout, err) = output(&[&args[..], extra].concat());
    assert_eq!(code, 0, "{} {format}: {err}", kind.as_str());
    stdout
}

struct Library {
    cfg: siloscope::config::Config,
    dir: siloscope::teams::Directory,
    frame: siloscope::signals::Frame,
}

fn library(config: &Path) -> Library {
    let cfg = siloscope::config::Config::load(config).unwrap();
    let store = siloscope::daemon::open_store_for_reading(&cfg).unwrap();
    let dir = siloscope::report::load_directory(&*store, &cfg).unwrap();
    let frame = siloscope::report::load_frame(&*store, &mut |_| {}).unwrap();
    Library { cfg, dir, frame }
}

impl Library {
    /// The library's table of `kind` over `[from, to)`, states at `to - 1`.
    fn table(&self, kind: FactKind, from: Ts, to: Ts, name_people: bool) -> DataFrame {
        let opts =
            ExportOptions { kind, range: TimeRange { from: Some(from), to: Some(to) }, as_of: to - 1, name_people };
        siloscope::export::table(&self.frame, &self.dir, &self.cfg.signals, &opts).unwrap()
    }
    fn team_names(&self) -> Vec<String> {
        self.dir.teams().iter().map(|t| t.name.clone()).collect()
    }
    fn person_names(&self) -> Vec<String> {
        self.dir.people().iter().map(|p| p.name.clone()).collect()
    }
}

/// A table in canonical form: column names and rows of JSON values, text as strings, integers and
/// booleans as such, times as integer milliseconds since the epoch, null as null.
#[derive(Debug, PartialEq)]
struct Canon {
    columns: Vec<String>,
    rows: Vec<Vec<Value>>,
}

impl Canon {
    fn column(&self, name: &str) -> Vec<&Value> {
        let i = self.columns.iter().position(|c| c == name).unwrap_or_else(|| panic!("no column {name}"));
        self.rows.iter().map(|r| &r[i]).collect()
    }
    /// Every text cell.
    fn texts(&self) -> impl Iterator<Item = &str> {
        self.rows.iter().flatten().filter_map(|v| v.as_str())
    }
    /// As the CSV writer guards text against spreadsheets (docs/facts.md): a `'` before a text
    /// starting with `=`, `+`, `-`, `@` or a tab.
    fn csv_guarded(&self) -> Canon {
        let guard = |v: &Value| match v {
            Value::String(s) if s.starts_with(['=', '+', '-', '@', '\t']) => Value::String(format!("'{s}")),
            other => other.clone(),
        };
        Canon { columns: self.columns.clone(), rows: self.rows.iter().map(|r| r.iter().map(guard).collect()).collect() }
    }
}

fn canon(df: &DataFrame) -> Canon {
    let columns: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    let series: Vec<_> = df.columns().iter().map(|c| c.as_materialized_series().clone()).collect();
    let rows = (0..df.height())
        .map(|r| {
            series
                .iter()
                .map(|s| match s.get(r).unwrap() {
                    AnyValue::Null => Value::Null,
                    AnyValue::String(v) => json!(v),
                    AnyValue::StringOwned(v) => json!(v.as_str()),
                    AnyValue::Int64(n) => json!(n),
                    AnyValue::Boolean(b) => json!(b),
                    AnyValue::Datetime(ms, TimeUnit::Milliseconds, None) => json!(ms),
                    other => panic!("unexpected cell {other:?} in {}", s.name()),
                })
                .collect()
        })
        .collect();
    Canon { columns, rows }
}

/// RFC 4180 over the whole text (a quoted field may hold line breaks); an empty unquoted field is
/// null, `""` the empty text.
fn parse_csv(text: &str) -> Vec<Vec<Option<String>>> {
    let (mut rows, mut fields, mut cur) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut was_quoted) = (false, false);
    let mut chars = text.chars().peekable();
    let field = |cur: &mut String, was_quoted: &mut bool| {
        let v = (!cur.is_empty() || *was_quoted).then(|| std::mem::take(cur));
        *was_quoted = false;
        v
    };
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) => (quoted, was_quoted) = (true, true),
            (',', false) => fields.push(field(&mut cur, &mut was_quoted)),
            ('\n', false) => {
                fields.push(field(&mut cur, &mut was_quoted));
                rows.push(std::mem::take(&mut fields));
            }
            (c, _) => cur.push(c),
        }
    }
    assert!(!quoted && cur.is_empty() && fields.is_empty(), "the CSV ends inside a row");
    rows
}

fn time_ms(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("time {s:?}: {e}")).timestamp_millis()
}

/// A text cell read back by its column's documented type.
fn typed(ty: ColumnType, v: Option<&str>) -> Value {
    let Some(v) = v else { return Value::Null };
    match ty {
        ColumnType::Text => json!(v),
        ColumnType::Time => json!(time_ms(v)),
        ColumnType::Seconds | ColumnType::Count => json!(v.parse::<i64>().unwrap_or_else(|e| panic!("{v:?}: {e}"))),
        ColumnType::Flag => json!(v.parse::<bool>().unwrap_or_else(|e| panic!("{v:?}: {e}"))),
    }
}

fn types_of(df: &DataFrame) -> Vec<ColumnType> {
    df.dtypes()
        .iter()
        .map(|t| match t {
            DataType::String => ColumnType::Text,
            DataType::Int64 => ColumnType::Count,
            DataType::Boolean => ColumnType::Flag,
            DataType::Datetime(TimeUnit::Milliseconds, None) => ColumnType::Time,
            other => panic!("unexpected column type {other}"),
        })
        .collect()
}

fn read_csv(path: &Path, types: &[ColumnType]) -> Canon {
    let mut rows = parse_csv(&std::fs::read_to_string(path).unwrap()).into_iter();
    let columns: Vec<String> = rows.next().unwrap().into_iter().map(Option::unwrap).collect();
    assert_eq!(columns.len(), types.len());
    let rows = rows
        .map(|r| {
            assert_eq!(r.len(), types.len(), "{}: a row of {} fields", path.display(), r.len());
            r.iter().zip(types).map(|(v, ty)| typed(*ty, v.as_deref())).collect()
        })
        .collect();
    Canon { columns, rows }
}

fn read_ndjson(path: &Path, columns: &[String], types: &[ColumnType]) -> Canon {
    let text = std::fs::read_to_string(path).unwrap();
    let rows = text
        .lines()
        .map(|l| {
            let v: serde_json::Map<String, Value> = serde_json::from_str(l).unwrap();
            assert_eq!(v.len(), columns.len(), "{l}");
            columns
                .iter()
                .zip(types)
                .map(|(c, ty)| match (&v[c], ty) {
                    (Value::String(s), ColumnType::Time) => json!(time_ms(s)),
                    (Value::Null, _) => Value::Null,
                    (Value::String(_), ColumnType::Text)
                    | (Value::Number(_), ColumnType::Count | ColumnType::Seconds)
                    | (Value::Bool(_), ColumnType::Flag) => v[c].clone(),
                    (other, ty) => panic!("{c}: {other} is not a {}", ty.as_str()),
                })
                .collect()
        })
        .collect();
    Canon { columns: columns.to_vec(), rows }
}

/// The Parquet files by pyarrow, in one run: the interpreter tests/run provides
/// (SILOSCOPE_TEST_PYTHON, which must have pyarrow), else a python3 that has it; None without one.
fn read_parquet(paths: &[&Path]) -> Option<BTreeMap<PathBuf, (Canon, Vec<String>)>> {
    let python = std::env::var("SILOSCOPE_TEST_PYTHON").ok().or_else(|| {
        std::process::Command::new("python3")
            .args(["-c", "import pyarrow"])
            .status()
            .is_ok_and(|s| s.success())
            .then(|| "python3".to_string())
    });
    let Some(python) = python else {
        eprintln!(
            "no python3 with pyarrow (tests/run provides one): the Parquet files are only checked for their framing"
        );
        for p in paths {
            let bytes = std::fs::read(p).unwrap();
            assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
        }
        return None;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/export_reader.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .args(paths)
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e}"));
    assert!(out.status.success(), "{python} cannot read the Parquet back: {}", common::text(&out.stderr));
    let v: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        v.into_iter()
            .map(|(path, t)| {
                let strings = |v: &Value| -> Vec<String> {
                    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
                };
                let rows = t["rows"].as_array().unwrap().iter().map(|r| r.as_array().unwrap().clone()).collect();
                (PathBuf::from(path), (Canon { columns: strings(&t["columns"]), rows }, strings(&t["types"])))
            })
            .collect(),
    )
}

/// The Arrow type a reader should see for each documented column type.
fn arrow_type_ok(ty: ColumnType, arrow: &str) -> bool {
    match ty {
        ColumnType::Text => arrow.contains("string"),
        // Milliseconds, and no time zone: the instant's UTC milliseconds.
        ColumnType::Time => arrow == "timestamp[ms]",
        ColumnType::Seconds | ColumnType::Count => arrow == "int64",
        ColumnType::Flag => arrow == "bool",
    }
}

fn kinds_dir(name: &str) -> PathBuf {
    let d = fixture().dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_kind_in_every_format_reads_back_cell_for_cell_as_the_facts() {
    let f = fixture();
    let lib = library(&f.config);
    let out_dir = kinds_dir("every");
    let people = lib.person_names();
    let mut expected = Vec::new();
    for kind in FactKind::ALL {
        let table = lib.table(kind, f.start, f.end, false);
        assert!(table.height() > 0, "the fixture has {} in the period", kind.as_str());
        let schema: Vec<&str> = kind.columns(false).iter().map(|c| c.name).collect();
        assert_eq!(table.get_column_names(), schema, "{}", kind.as_str());
        let documented: Vec<ColumnType> = kind.columns(false).iter().map(|c| c.ty).collect();
        let types = types_of(&table);
        for (d, t) in documented.iter().zip(&types) {
            let same = d == t || matches!((d, t), (ColumnType::Seconds, ColumnType::Count));
            assert!(same, "{}: {d:?} documented, {t:?} built", kind.as_str());
        }
        for format in FORMATS {
            let out = out_dir.join(format!("{}.{format}", kind.as_str()));
            let stdout = export(&f.config, kind, format, &out, &[]);
            assert!(stdout.contains(&format!("{} {} ({format})", table.height(), kind.as_str())), "{stdout}");
        }
        expected.push((kind, canon(&table), documented));
    }
    // The hostile team and key are in the facts as given (the key's line break by code point).
    let handoffs = &expected[0].1;
    assert!(handoffs.column("from_team").contains(&&json!(HOSTILE_TEAM)), "{:?}", handoffs.column("from_team"));
    let shown_key = HOSTILE_KEY.replace('\n', "[U+000A]");
    assert!(handoffs.column("item").contains(&&json!(shown_key)));

    let parquet: Vec<PathBuf> = FactKind::ALL.iter().map(|k| out_dir.join(format!("{}.parquet", k.as_str()))).collect();
    let parquet_read = read_parquet(&parquet.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    for (kind, want, types) in &expected {
        let name = kind.as_str();
        let csv = read_csv(&out_dir.join(format!("{name}.csv")), types);
        assert_eq!(csv, want.csv_guarded(), "{name}: the CSV is the facts");
        let ndjson = read_ndjson(&out_dir.join(format!("{name}.ndjson")), &want.columns, types);
        assert_eq!(&ndjson, want, "{name}: the NDJSON is the facts");
        if let Some(read) = &parquet_read {
            let (got, arrow) = &read[&out_dir.join(format!("{name}.parquet"))];
            assert_eq!(got, want, "{name}: the Parquet, by pyarrow, is the facts");
            for ((ty, arrow), col) in types.iter().zip(arrow).zip(&want.columns) {
                assert!(arrow_type_ok(*ty, arrow), "{name}.{col}: {ty:?} read as {arrow}");
            }
        }
        // No cell names a person without --name-people.
        for t in want.texts() {
            assert!(!people.iter().any(|p| p == t), "{name} names {t:?}");
        }
    }
    // The hostile text is in the files as the facts hold it (CSV: guarded).
    assert!(csv_text(&out_dir.join("handoffs.csv")).contains(&format!("\"'{}\"", HOSTILE_TEAM.replace('"', "\"\""))));

    // Never overwrites: exit 2, the file unchanged.
    let out = out_dir.join("handoffs.csv");
    let before = std::fs::read(&out).unwrap();
    let args =
        ["export", "--config", f.config.to_str().unwrap(), "--facts", "handoffs", "--out", out.to_str().unwrap()];
    let (code, _, err) = output(&args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("exists already"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), before);
}

fn csv_text(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn a_privacy_floor_above_every_team_folds_every_team_of_every_kind_into_other() {
    let f = fixture();
    let lib = library(&f.config_floor);
    let teams = lib.team_names();
    assert!(teams.iter().any(|t| t == HOSTILE_TEAM) && teams.iter().any(|t| t == "payments"), "{teams:?}");
    let out_dir = kinds_dir("floor");
    let mut paths = Vec::new();
    for kind in FactKind::ALL {
        let out = out_dir.join(format!("{}.parquet", kind.as_str()));
        export(&f.config_floor, kind, "parquet", &out, &["--name-people"]);
        paths.push((kind, out));
    }
    let read = read_parquet(&paths.iter().map(|(_, p)| p.as_path()).collect::<Vec<_>>());
    for (kind, path) in &paths {
        let want = canon(&lib.table(*kind, f.start, f.end, true));
        let got = match &read {
            Some(read) => &read[path].0,
            None => &{
                // Without pyarrow: the NDJSON of the same export.
                let nd = path.with_extension("ndjson");
                export(&f.config_floor, *kind, "ndjson", &nd, &["--name-people"]);
                read_ndjson(&nd, &want.columns, &types_of(&lib.table(*kind, f.start, f.end, true)))
            },
        };
        assert_eq!(got, &want, "{}: the export is the facts under the floor", kind.as_str());
        let team_columns: Vec<&String> = got.columns.iter().filter(|c| *c == "team" || c.ends_with("_team")).collect();
        assert!(!team_columns.is_empty(), "{}", kind.as_str());
        for c in team_columns {
            for v in got.column(c) {
                assert_eq!(v, &json!("other"), "{}.{c}: a team under the floor is shown", kind.as_str());
            }
        }
        for t in got.texts() {
            assert!(!teams.iter().any(|team| team == t), "{} shows team {t:?} under the floor", kind.as_str());
        }
    }
    // Handoffs between teams that are all `other` are still handoffs: the rows stay.
    let handoffs = lib.table(FactKind::Handoffs, f.start, f.end, false);
    assert!(handoffs.height() > 20, "{}", handoffs.height());
}

#[test]
fn the_person_column_is_there_only_with_name_people() {
    let f = fixture();
    let lib = library(&f.config);
    let out_dir = kinds_dir("people");
    let (without, with) = (out_dir.join("without.ndjson"), out_dir.join("with.parquet"));
    export(&f.config, FactKind::Interactions, "ndjson", &without, &[]);
    export(&f.config, FactKind::Interactions, "parquet", &with, &["--name-people"]);
    let with_csv = out_dir.join("with.csv");
    export(&f.config, FactKind::Interactions, "csv", &with_csv, &["--name-people"]);

    let plain = lib.table(FactKind::Interactions, f.start, f.end, false);
    let named = lib.table(FactKind::Interactions, f.start, f.end, true);
    let columns = |np| FactKind::Interactions.columns(np).iter().map(|c| c.name.to_string()).collect::<Vec<_>>();
    assert_eq!(columns(false), ["team", "owner_team", "interacted_at"]);
    assert_eq!(columns(true)[0], "person");
    let text = std::fs::read_to_string(&without).unwrap();
    assert!(!text.contains("\"person\""), "{}", &text[..text.len().min(300)]);
    let got = read_ndjson(&without, &columns(false), &types_of(&plain));
    assert_eq!(got, canon(&plain));
    assert_eq!(plain.height(), named.height());

    let want = canon(&named);
    assert_eq!(want.columns, columns(true));
    let persons = want.column("person");
    assert!(persons.contains(&&json!(HOSTILE_PERSON)), "the hand-made batch's hostile name acts in the period");
    let known = lib.person_names();
    assert!(persons.iter().all(|p| known.iter().any(|k| json!(k) == **p)), "every person is a directory name");
    assert_eq!(read_csv(&with_csv, &types_of(&named)), want.csv_guarded());
    if let Some(read) = read_parquet(&[&with]) {
        assert_eq!(read[&with].0, want, "the named Parquet, by pyarrow, is the facts");
    }
}

#[test]
fn from_and_to_keep_the_start_and_the_last_second_and_leave_out_what_is_outside() {
    let f = fixture();
    let out_dir = kinds_dir("edges");
    let items = |path: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["item"].as_str().unwrap().to_string())
            .filter(|i| i.starts_with("gh:acme/edge#"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let days = out_dir.join("days.ndjson");
    export(&f.config, FactKind::Handoffs, "ndjson", &days, &[]);
    assert_eq!(items(&days), ["gh:acme/edge#last", "gh:acme/edge#start"], "whole days: --to's day included");
    // RFC 3339 instants: --from included, --to excluded.
    let rfc = |t: Ts| chrono::DateTime::from_timestamp(t, 0).unwrap().to_rfc3339();
    let instants = out_dir.join("instants.ndjson");
    let args = [
        "export",
        "--config",
        f.config.to_str().unwrap(),
        "--facts",
        "handoffs",
        "--from",
        &rfc(f.start - 1),
        "--to",
        &rfc(f.end - 1),
        "--out",
        instants.to_str().unwrap(),
    ];
    let (code, _, err) = output(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(items(&instants), ["gh:acme/edge#before", "gh:acme/edge#start"]);
    // And the rows are the library's for that range, states at its last second.
    let lib = library(&f.config);
    let want = canon(&lib.table(FactKind::Handoffs, f.start - 1, f.end - 1, false));
    let types: Vec<ColumnType> = FactKind::Handoffs.columns(false).iter().map(|c| c.ty).collect();
    assert_eq!(read_ndjson(&instants, &want.columns, &types), want);
}

#[test]
fn tracker_text_with_commas_quotes_line_breaks_and_markup_survives_every_format() {
    let texts: Vec<Option<&str>> = vec![
        Some("a,b"),
        Some("say \"hi\", twice"),
        Some("line one\nline two\r\nthree"),
        Some("<script>alert('x')</script>"),
        Some(""),
        None,
        Some(" padded "),
        Some("=1+1"),
        Some("ünïcødé — 団隊"),
    ];
    let n = texts.len();
    let ints: Vec<Option<i64>> = (0..n as i64).map(|i| (i != 2).then_some(i * 1000 - 3)).collect();
    let times: Vec<Option<i64>> = (0..n as i64).map(|i| (i != 4).then_some(1_782_898_200_000 + i * 1000)).collect();
    let flags: Vec<bool> = (0..n).map(|i| i % 2 == 0).collect();
    let df = DataFrame::new_infer_height(vec![
        Series::new("text".into(), texts).into(),
        Series::new("n".into(), ints).into(),
        Series::new("at".into(), times).into_datetime(TimeUnit::Milliseconds, None).into(),
        Series::new("flag".into(), flags).into(),
    ])
    .unwrap();
    let want = canon(&df);
    let types = types_of(&df);
    let out_dir = kinds_dir("text");
    let path = |format: &str| out_dir.join(format!("t.{format}"));
    for format in FORMATS {
        let mut df = df.clone();
        let rows =
            siloscope::export::write_new(&mut df, Format::parse(format).unwrap(), &path(format), &mut |_| {}).unwrap();
        assert_eq!(rows, n);
    }
    assert_eq!(read_csv(&path("csv"), &types), want.csv_guarded());
    assert_eq!(read_ndjson(&path("ndjson"), &want.columns, &types), want);
    if let Some(read) = read_parquet(&[&path("parquet")]) {
        assert_eq!(read[&path("parquet")].0, want);
    }
}

#[test]
fn the_format_comes_from_the_out_files_extension_when_not_given() {
    let f = fixture();
    let out_dir = kinds_dir("ext");
    let config = f.config.to_str().unwrap();
    for (file, starts) in [("r.CSV", &b"item,"[..]), ("r.jsonl", b"{\"item\":"), ("r.parquet", b"PAR1")] {
        let out = out_dir.join(file);
        let args = ["export", "--config", config, "--facts", "rework", "--out", out.to_str().unwrap()];
        let (code, _, err) = output(&args);
        assert_eq!(code, 0, "{file}: {err}");
        assert!(std::fs::read(&out).unwrap().starts_with(starts), "{file}");
    }
    // --format wins over the extension.
    let out = out_dir.join("r2.csv");
    let args =
        ["export", "--config", config, "--facts", "rework", "--format", "ndjson", "--out", out.to_str().unwrap()];
    assert_eq!(output(&args).0, 0);
    assert!(std::fs::read_to_string(&out).unwrap().starts_with("{\"item\":"));
    // Neither: exit 2 before reading anything, no file.
    let out = out_dir.join("r.txt");
    let (code, _, err) = output(&["export", "--config", config, "--facts", "rework", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--format parquet|csv|ndjson"), "{err}");
    assert!(!out.exists());
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
