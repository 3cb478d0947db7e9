//! Config loading as the CLI sees it: a file on disk, every problem reported with file:line:column.

use std::io::Write;

use siloscope::config::Config;
use siloscope::sources::simulator::SimulatorConfig;

fn write_config(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().expect("temp file");
    file.write_all(text.as_bytes()).expect("write config");
    file
}

#[test]
fn a_file_with_many_mistakes_lists_each_on_its_own_line() {
    let file = write_config(
        r#"[server]
listen_adress = "0.0.0.0:9731"

[signals]
stall_after = "two days"
windows = ["7d", 28]

[[teams]]
name = "payments"
calendar = { utc_offset = "+25:00", days = "mon-fri" }

[[people]]
name = "Alice"
github = "alice"
memberships = [ { team = "paymnets" } ]

[[sources]]
name = "acme"
kind = "jora"
token = "s3cr3t-value"
"#,
    );
    let err = Config::load(file.path()).expect_err("config has mistakes");
    let report = err.to_string();
    println!("{report}");
    let path = file.path().display().to_string();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 7, "{report}");
    let expected_prefixes = [
        format!("{path}:2:1: unknown key `server.listen_adress`; fix: did you mean `listen_address`?"),
        format!("{path}:5:15: `signals.stall_after` is not a valid duration"),
        format!("{path}:6:18: `signals.windows` must be a duration string with a unit"),
        format!("{path}:10:27: `teams.calendar.utc_offset` is not a UTC offset"),
        format!("{path}:15:26: `people.memberships.team` names team \"paymnets\""),
        format!("{path}:19:8: unknown source kind 'jora'; fix: did you mean `jira`?"),
        format!("{path}:20:1: `sources.token` holds a secret inline"),
    ];
    for (line, prefix) in lines.iter().zip(&expected_prefixes) {
        assert!(line.starts_with(prefix.as_str()), "\n got: {line}\nwant: {prefix}…");
    }
    assert!(lines[4].ends_with("fix: did you mean `payments`?"), "{}", lines[4]);
    assert!(!report.contains("s3cr3t-value"), "a secret leaked into the report");
}

#[test]
fn the_example_config_loads_from_disk_with_its_simulator() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/siloscope.example.toml");
    let config = Config::load(&path).unwrap_or_else(|e| panic!("example config:\n{e}"));
    assert_eq!(config.store.path, path.parent().unwrap().join("siloscope.db"));
    assert_eq!(config.sources.len(), 1);
    let sim = config.sources[0].settings.get::<SimulatorConfig>().expect("a simulator source");
    assert_eq!((sim.seed, sim.teams, sim.items_per_day), (42, 8, 120.0));
    let directory = config.directory.builder().build();
    let qa = directory.team_by_name("qa").expect("qa team");
    assert_eq!(directory.status_team("in qa"), Some(qa));
    assert_eq!(directory.scope_owner("acme/web-shop"), directory.team_by_name("frontend"));
    assert_eq!(config.signals.stall_after_by_team.get("qa"), Some(&86_400));
}
