//! The `siloscope` command line: serve, sync, check-config, teams, demo. Parses arguments, sets up
//! logging and maps failures to exit codes (2 for usage and config errors, a source's configuration
//! the API refuses included; 1 for runtime errors; 3 for a `sync --once` interrupted by a signal).
//! Everything else lives in the library; no signal logic here.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use siloscope::config::{Config, SourceConfig, SourceSettings};
use siloscope::daemon::{self, AcceleratedClock, RunOptions, State};
use siloscope::mutex::lock;
use siloscope::sources::http::{Clock, SystemClock};
use siloscope::sources::simulator::SimulatorConfig;
use siloscope::store::sqlite::SqliteStore;

#[derive(Parser)]
#[command(
    name = "siloscope",
    version,
    about = "Cross-team collaboration signals from GitHub, GitLab and Jira, for Prometheus"
)]
struct Cli {
    /// Log format.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Log level: error, warn, info, debug, trace (or a tracing filter).
    #[arg(long = "log.level", default_value = "info", global = true)]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: sync sources on their schedules and serve /metrics.
    Serve {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Address to listen on (overrides [server] listen_address).
        #[arg(long = "web.listen-address", value_name = "HOST:PORT")]
        listen_address: Option<String>,
        /// TLS and basic auth for the listener, in the Prometheus exporter-toolkit format
        /// (tls_server_config, basic_auth_users with bcrypt hashes).
        #[arg(long = "web.config.file", value_name = "FILE")]
        web_config: Option<PathBuf>,
        /// The URL under which siloscope is reachable (e.g. behind a reverse proxy): its path is
        /// the prefix of every route, and the links siloscope writes start with it.
        #[arg(long = "web.external-url", value_name = "URL")]
        external_url: Option<String>,
    },
    /// Sync every source until it is caught up, then exit.
    Sync {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// One pass (a scheduler runs `serve`).
        #[arg(long)]
        once: bool,
        /// Print what a first backfill of each source will take (items from the APIs' counts,
        /// requests, rate-limit points, time at the token's current limits); reads no item and
        /// stores nothing.
        #[arg(long, conflicts_with = "once")]
        estimate: bool,
        /// When stderr is not a terminal: how often a progress line is logged per source
        /// (a duration such as 10s or 1m; 0s logs one after every step).
        #[arg(long, value_name = "DURATION", default_value = "10s")]
        progress_interval: String,
    },
    /// Validate a config file: every problem, with file, line and fix. Exit code 2 when invalid.
    #[command(alias = "validate")]
    CheckConfig {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Print the resolved team directory, how much of the activity it covers, and what looks wrong in it.
    Teams {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: Option<TeamsAction>,
    },
    /// Write a starting, commented config: the sources named by flags, with the teams, members,
    /// Jira projects and team-field values their APIs report (one sync step each, nothing stored).
    /// Tokens are given by reference (an environment variable or a file), never written.
    Init {
        /// The config file to write (refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The store's SQLite file, written as `[store] path` (default: siloscope.db).
        #[arg(long, value_name = "FILE")]
        store: Option<PathBuf>,
        /// Write the sources without asking their APIs for teams, projects and team-field values.
        #[arg(long)]
        no_discover: bool,
        /// A GitHub organisation to read (repeatable).
        #[arg(long = "github-org", value_name = "ORG")]
        github_orgs: Vec<String>,
        #[arg(long = "github-token-env", value_name = "VAR", default_value = "GITHUB_TOKEN")]
        github_token_env: String,
        #[arg(long = "github-token-file", value_name = "FILE")]
        github_token_file: Option<PathBuf>,
        /// GitHub Enterprise Server REST URL (https://ghe.acme.io/api/v3).
        #[arg(long = "github-api-url", value_name = "URL")]
        github_api_url: Option<String>,
        /// GitHub Enterprise Server GraphQL URL (https://ghe.acme.io/api/graphql).
        #[arg(long = "github-graphql-url", value_name = "URL")]
        github_graphql_url: Option<String>,
        /// A GitLab group to read, full path (repeatable).
        #[arg(long = "gitlab-group", value_name = "GROUP")]
        gitlab_groups: Vec<String>,
        /// A self-managed GitLab instance (default: https://gitlab.com).
        #[arg(long = "gitlab-url", value_name = "URL")]
        gitlab_url: Option<String>,
        #[arg(long = "gitlab-token-env", value_name = "VAR", default_value = "GITLAB_TOKEN")]
        gitlab_token_env: String,
        #[arg(long = "gitlab-token-file", value_name = "FILE")]
        gitlab_token_file: Option<PathBuf>,
        /// The Jira site (https://acme.atlassian.net or a Data Center URL).
        #[arg(long = "jira-url", value_name = "URL")]
        jira_url: Option<String>,
        /// cloud or data_center (default: cloud for *.atlassian.net).
        #[arg(long = "jira-flavor", value_name = "FLAVOR")]
        jira_flavor: Option<String>,
        /// Cloud: the account e-mail the API token belongs to.
        #[arg(long = "jira-email", value_name = "EMAIL")]
        jira_email: Option<String>,
        #[arg(long = "jira-token-env", value_name = "VAR", default_value = "JIRA_TOKEN")]
        jira_token_env: String,
        #[arg(long = "jira-token-file", value_name = "FILE")]
        jira_token_file: Option<PathBuf>,
        /// A Jira project key (repeatable; default: the projects of the first issues read).
        #[arg(long = "jira-project", value_name = "KEY")]
        jira_projects: Vec<String>,
        /// The Jira custom field naming the owning team, by id or name (its values are listed).
        #[arg(long = "jira-team-field", value_name = "FIELD")]
        jira_team_field: Option<String>,
    },
    /// Write the history of every signal series as OpenMetrics with timestamps, computed from the
    /// store by event time, for `promtool tsdb create-blocks-from openmetrics FILE DIR`.
    Backfill {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Output file (OpenMetrics text ending in `# EOF`).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// First day of the history: YYYY-MM-DD or an RFC 3339 time (default: the first stored event).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
        /// Time between two points: 30m, 1h, 1d… (Prometheus sees a backfilled point for 5 minutes).
        #[arg(long, value_name = "DURATION", default_value = "1h")]
        step: String,
        /// A label for every series, NAME=VALUE, repeatable: give the scrape target's job and
        /// instance so the backfilled series continue as the scraped ones.
        #[arg(long = "label", value_name = "NAME=VALUE")]
        labels: Vec<String>,
    },
    /// Write the cross-team alignment report of a period (HTML, Markdown or JSON), computed from
    /// the store by event time and compared with the period before.
    Report {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// A calendar period: a quarter (2026-Q3), a month (2026-07) or a year (2026).
        /// Without --period or --from/--to: the current quarter to date.
        #[arg(long, value_name = "PERIOD", conflicts_with_all = ["from", "to"])]
        period: Option<String>,
        /// First day of the period: YYYY-MM-DD, or an RFC 3339 time.
        #[arg(long, value_name = "DATE", requires = "to")]
        from: Option<String>,
        /// Last day of the period, included: YYYY-MM-DD (an RFC 3339 time is the excluded end).
        #[arg(long, value_name = "DATE", requires = "from")]
        to: Option<String>,
        /// Only these teams, comma-separated (pairs with at least one of them are kept).
        #[arg(long, value_name = "TEAM,…", value_delimiter = ',')]
        teams: Vec<String>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
        format: ReportFormat,
        /// Output file (default: standard output).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Name the people involved in the listed items (off by default: lists name items and teams).
        #[arg(long)]
        name_people: bool,
        /// The URL under which siloscope is reachable (as serve's flag): each list row of the
        /// report then links to its item's page, each team or pair figure to its list.
        #[arg(long = "web.external-url", value_name = "URL")]
        external_url: Option<String>,
    },
    /// Write the facts behind the figures, one kind a file, for analysts (polars, pandas, DuckDB):
    /// Parquet, CSV or NDJSON, with the teams folded by the privacy floor as the metrics fold them.
    /// Without --name-people no column names a person (the interactions' `person` column is left
    /// out). docs/facts.md documents every column.
    Export {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The kind of fact, one row each.
        #[arg(long, value_name = "KIND", value_parser = fact_kinds())]
        facts: String,
        /// First day of the facts kept (each kind by its own time): YYYY-MM-DD, or an RFC 3339 time.
        /// Without --from/--to: the whole history up to now.
        #[arg(long, value_name = "DATE", requires = "to")]
        from: Option<String>,
        /// Last day kept, included: YYYY-MM-DD (an RFC 3339 time is the excluded end). States
        /// (waiting, acknowledged, rehashed…) are taken at this end.
        #[arg(long, value_name = "DATE", requires = "from")]
        to: Option<String>,
        /// The file format; without it, the --out file's extension (.parquet, .csv, .ndjson or .jsonl).
        #[arg(long, value_enum)]
        format: Option<ExportFormat>,
        /// Output file; it must not exist (export never overwrites one).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
        /// Add the `person` column (directory names) where a fact has a person; off by default.
        #[arg(long)]
        name_people: bool,
    },
    /// Write the Prometheus rules of the config's working agreements: per agreement, recording
    /// rules (attainment, error budget left, burn rates) and one multi-window burn-rate alert per
    /// row of the alert policy, routed to the receiving team with a link to the handoffs that broke it.
    Rules {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Output file (default: standard output).
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
        /// The URL under which siloscope is reachable (as serve's flag): each alert's `list` link
        /// starts with it (without it the link is a path).
        #[arg(long = "web.external-url", value_name = "URL")]
        external_url: Option<String>,
    },
    /// Working agreements between teams ([[agreements]] of a config), as SLOs.
    Agreements {
        #[command(subcommand)]
        action: AgreementsAction,
    },
    /// Forget people (the GDPR erasure request): each IDENTITY becomes an anonymous placeholder
    /// (`forgotten:N`) everywhere in the store, keeping the team it was in at the time, and a
    /// tombstone makes later syncs do the same. Prints what changed; running it again changes nothing.
    /// Stop `serve` first, or restart it after: a running daemon still holds the identity in memory.
    Forget {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Delete the events the identities acted in instead of re-attributing them (team figures
        /// then lose them too), now and in every later sync.
        #[arg(long)]
        delete_events: bool,
        /// Identities as siloscope stores them: `github:alice`, `jira:5b10ac…`, `email:a@acme.io`.
        #[arg(value_name = "IDENTITY", required = true)]
        identities: Vec<String>,
    },
    /// Print everything the store holds about one identity, as JSON (the GDPR access request).
    Access {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(value_name = "IDENTITY")]
        identity: String,
    },
    /// Serve live metrics of a simulated organisation: no credentials, no config needed.
    Demo {
        #[arg(long = "web.listen-address", value_name = "HOST:PORT", default_value = "127.0.0.1:9731")]
        listen_address: String,
        /// Simulated seconds per real second once the 90 days of history are in.
        #[arg(long, default_value_t = 60.0)]
        speed: f64,
        /// Keep the demo's store in this SQLite file (default: in memory).
        #[arg(long, value_name = "FILE")]
        store: Option<PathBuf>,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 8)]
        teams: u32,
        #[arg(long, default_value_t = 120.0)]
        items_per_day: f64,
        /// Start the simulated clock at this instant instead of the current time (YYYY-MM-DD or
        /// an RFC 3339 time), for a reproducible demo: the history ends there, the report's
        /// quarter is that instant's.
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// TLS and basic auth for the listener, in the Prometheus exporter-toolkit format
        /// (tls_server_config, basic_auth_users with bcrypt hashes).
        #[arg(long = "web.config.file", value_name = "FILE")]
        web_config: Option<PathBuf>,
        /// The URL under which siloscope is reachable (e.g. behind a reverse proxy): its path is
        /// the prefix of every route, and the links siloscope writes start with it.
        #[arg(long = "web.external-url", value_name = "URL")]
        external_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum TeamsAction {
    /// Suggest directory entries from the stored data: identities that are probably one person
    /// (same e-mail, display name, username = login) and the likely team of active identities in
    /// no team, with evidence, as a TOML snippet to review and paste. Never edits the config.
    Suggest {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AgreementsAction {
    /// Back-test the config's agreements over the stored history before saving them: at every
    /// hour, attainment and error budget over each agreement's window, burn rates over the alert
    /// windows, the alerts that would have fired and when, and how often the objective was met.
    /// The same facts and aggregation as the exported series. Text: one row per day; JSON: every hour.
    Check {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// First hour tested: YYYY-MM-DD or an RFC 3339 time (default: the first stored event).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Last hour tested: YYYY-MM-DD (that day included) or an RFC 3339 time (default and at
        /// the latest: now).
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum CheckFormat {
    Text,
    Json,
}

/// A failure and its exit code.
struct Failure {
    code: u8,
    message: String,
}

fn runtime(message: impl Into<String>) -> Failure {
    Failure { code: 1, message: message.into() }
}

fn init_logging(format: LogFormat, level: &str) -> Result<(), Failure> {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .map_err(|e| Failure { code: 2, message: format!("invalid --log.level {level:?}: {e}") })?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    Ok(())
}

fn load_config(path: &Path) -> Result<Config, Failure> {
    Config::load(path).map_err(|e| Failure { code: 2, message: e.to_string() })
}

fn runtime_for(future: impl std::future::Future<Output = Result<(), Failure>>) -> Result<(), Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| runtime(format!("cannot start the async runtime: {e}")))?
        .block_on(future)
}

fn main() -> ExitCode {
    // One TLS crypto provider for every TLS client and server in the process: ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let result = init_logging(cli.log_format, &cli.log_level).and_then(|()| match cli.command {
        Command::CheckConfig { config } => check_config(&config),
        Command::Teams { config, action: None } => match config {
            Some(config) => teams(&config),
            None => Err(Failure { code: 2, message: "teams needs --config FILE".into() }),
        },
        Command::Teams { config, action: Some(TeamsAction::Suggest { config: own }) } => match own.or(config) {
            Some(config) => teams_suggest(&config),
            None => Err(Failure { code: 2, message: "teams suggest needs --config FILE".into() }),
        },
        Command::Serve { config, listen_address, web_config, external_url } => {
            serve(&config, listen_address, web_config.as_deref(), external_url.as_deref())
        }
        Command::Sync { config, estimate: true, .. } => estimate(&config),
        Command::Sync { config, once, progress_interval, .. } => sync(&config, once, &progress_interval),
        Command::Init {
            out,
            store,
            no_discover,
            github_orgs,
            github_token_env,
            github_token_file,
            github_api_url,
            github_graphql_url,
            gitlab_groups,
            gitlab_url,
            gitlab_token_env,
            gitlab_token_file,
            jira_url,
            jira_flavor,
            jira_email,
            jira_token_env,
            jira_token_file,
            jira_projects,
            jira_team_field,
        } => {
            use siloscope::init::{GithubInit, GitlabInit, InitOptions, JiraInit, TokenRef};
            let token = |env: String, file: Option<PathBuf>| match file {
                Some(f) => TokenRef::File(f),
                None => TokenRef::Env(env),
            };
            let flavor = match jira_flavor.as_deref() {
                None => Ok(None),
                Some("cloud") => Ok(Some(siloscope::sources::jira::Flavor::Cloud)),
                Some("data_center") => Ok(Some(siloscope::sources::jira::Flavor::DataCenter)),
                Some(other) => Err(Failure {
                    code: 2,
                    message: format!("invalid --jira-flavor {other:?}: use cloud or data_center"),
                }),
            };
            flavor.and_then(|flavor| {
                let opts = InitOptions {
                    store,
                    github: (!github_orgs.is_empty()).then(|| GithubInit {
                        organizations: github_orgs,
                        api_url: github_api_url,
                        graphql_url: github_graphql_url,
                        token: token(github_token_env, github_token_file),
                    }),
                    gitlab: (!gitlab_groups.is_empty()).then(|| GitlabInit {
                        groups: gitlab_groups,
                        url: gitlab_url,
                        token: token(gitlab_token_env, gitlab_token_file),
                    }),
                    jira: jira_url.map(|url| JiraInit {
                        url,
                        flavor,
                        email: jira_email,
                        token: token(jira_token_env, jira_token_file),
                        projects: jira_projects,
                        team_field: jira_team_field,
                    }),
                };
                init(&out, opts, !no_discover)
            })
        }
        Command::Backfill { config, out, since, step, labels } => {
            backfill(&config, &out, since.as_deref(), &step, &labels)
        }
        Command::Report { config, period, from, to, teams, format, out, name_people, external_url } => {
            report(&config, ReportArgs { period, from, to, teams, format, out, name_people, external_url })
        }
        Command::Export { config, facts, from, to, format, out, name_people } => {
            export(&config, ExportArgs { facts, from, to, format, out, name_people })
        }
        Command::Rules { config, out, external_url } => rules(&config, out.as_deref(), external_url.as_deref()),
        Command::Agreements { action: AgreementsAction::Check { config, from, to, format } } => {
            agreements_check(&config, from.as_deref(), to.as_deref(), format)
        }
        Command::Forget { config, delete_events, identities } => forget(&config, delete_events, &identities),
        Command::Access { config, identity } => access(&config, &identity),
        Command::Demo { listen_address, speed, store, seed, teams, items_per_day, now, web_config, external_url } => {
            let sim = SimulatorConfig { seed, teams, items_per_day, ..SimulatorConfig::default() };
            let web = WebOptions { config: web_config.as_deref(), external_url: external_url.as_deref() };
            demo(listen_address, speed, store, sim, now.as_deref(), web)
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("siloscope: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn check_config(path: &Path) -> Result<(), Failure> {
    let cfg = load_config(path)?;
    println!(
        "{}: valid ({} sources, {} teams, {} people)",
        path.display(),
        cfg.sources.len(),
        cfg.directory.teams.len(),
        cfg.directory.people.len()
    );
    if cfg.server.name_people {
        println!(
            "people: the pages and /report name the people of each item (server.name_people = true); the privacy floor still folds small teams"
        );
    }
    let agreements = &cfg.signals.agreements;
    if !agreements.is_empty() {
        let names: Vec<String> = agreements.iter().map(|a| format!("{} (to {})", a.name, a.to_team)).collect();
        println!(
            "agreements: {}; one whose receiving team has fewer than {} active people (the privacy floor) exports no series",
            names.join(", "),
            cfg.signals.privacy_floor
        );
    }
    Ok(())
}

fn teams(path: &Path) -> Result<(), Failure> {
    let cfg = load_config(path)?;
    let store = daemon::open_store_for_reading(&cfg).map_err(runtime)?;
    let state = State::new(cfg, store, Arc::new(SystemClock)).map_err(runtime)?;
    let dir = state.directory();
    let now = daemon::wall_now();
    let (analysis, signals, coverage) = {
        let mut frame = lock(&state.frame);
        frame.prepare();
        let (a, s) = siloscope::signals::compute(&frame, &dir, &state.config.signals, now);
        let unknown: Vec<(String, u64)> =
            a.unknown_identities.iter().map(|(sym, n)| (frame.syms.resolve(*sym).to_string(), *n)).collect();
        let coverage = siloscope::coverage::coverage_by_window(&frame, &dir, &state.config.signals.windows, now);
        (unknown, s, coverage)
    };
    println!("Teams (members now):");
    for (i, t) in dir.teams().iter().enumerate() {
        let members: Vec<&str> = dir.members_at(i as u16, now).map(|p| dir.person(p).name.as_str()).collect();
        let handles = if t.handles.is_empty() { String::new() } else { format!(" [{}]", t.handles.join(", ")) };
        println!("  {}{} — {} members: {}", t.name, handles, members.len(), members.join(", "));
    }
    println!("People:");
    for p in dir.people() {
        let ms: Vec<String> = p
            .memberships
            .iter()
            .map(|m| {
                let d = |t: Option<i64>| {
                    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(|d| d.date_naive().to_string())
                };
                format!(
                    "{} ({} → {})",
                    dir.team_name(m.team),
                    d(m.from).unwrap_or("…".into()),
                    d(m.until).unwrap_or("…".into())
                )
            })
            .collect();
        let bot = if p.bot { " (bot)" } else { "" };
        println!("  {}{bot}: {} — {}", p.name, p.identities.join(", "), ms.join("; "));
    }
    let mut warnings = coverage_lines(path, &coverage, &state.config.signals);
    for (p, a, b) in dir.overlapping_memberships() {
        warnings.push(format!(
            "{} is in two teams at once ({} and {}): attribution uses the first membership listed",
            dir.person(p).name,
            dir.team_name(a),
            dir.team_name(b)
        ));
    }
    let mut unknown = analysis;
    unknown.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    for (identity, n) in unknown.iter().take(20) {
        warnings
            .push(format!("unknown identity {identity} acted {n} times: add it to a [[people]] entry to attribute it"));
    }
    if unknown.len() > 20 {
        warnings.push(format!("… and {} more unknown identities", unknown.len() - 20));
    }
    for t in &signals.folded_teams {
        warnings.push(format!(
            "team {t} has fewer active people than the privacy floor ({}): its figures are folded into \"other\"",
            state.config.signals.privacy_floor
        ));
    }
    if warnings.is_empty() {
        println!("No warnings.");
    } else {
        println!("Warnings:");
        for w in warnings {
            println!("  - {w}");
        }
    }
    Ok(())
}

/// Prints the directory coverage per source and window; returns the warnings: sources whose share
/// of events resolved to a team, in the longest window, is under `[signals] coverage_warning`.
fn coverage_lines(
    path: &Path,
    coverage: &[(String, Vec<siloscope::coverage::SourceCoverage>)],
    cfg: &siloscope::signals::SignalsConfig,
) -> Vec<String> {
    use siloscope::coverage::percent;
    println!("Coverage (share of events / of active identities whose actor the directory resolves to a team):");
    let mut sources: Vec<&str> = coverage.iter().flat_map(|(_, s)| s.iter().map(|c| c.source.as_str())).collect();
    sources.sort_unstable();
    sources.dedup();
    if sources.is_empty() {
        println!(
            "  no activity in the windows ({})",
            cfg.windows.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    for source in &sources {
        let cells: Vec<String> = coverage
            .iter()
            .map(|(window, list)| match list.iter().find(|c| c.source == *source) {
                Some(c) => format!(
                    "{window}: {} of {} events, {} of {} identities",
                    percent(c.event_share()),
                    c.events,
                    percent(c.identity_share()),
                    c.identities
                ),
                None => format!("{window}: no activity"),
            })
            .collect();
        println!("  {source} — {}", cells.join("; "));
    }
    let (label, _) = siloscope::coverage::warning_window(&cfg.windows);
    let mut warnings = Vec::new();
    if let Some((_, list)) = coverage.iter().find(|(w, _)| *w == label) {
        for c in list.iter().filter(|c| c.below(cfg.coverage_warning)) {
            warnings.push(format!(
                "source {}: only {} of its events in the last {label} resolve to a team (warning under {}; {} active identities in no team): \
                 run `siloscope teams suggest --config {}`",
                c.source,
                percent(c.event_share()),
                percent(Some(cfg.coverage_warning)),
                c.unresolved_identities(),
                path.display()
            ));
        }
    }
    warnings
}

fn init(out: &Path, opts: siloscope::init::InitOptions, discover: bool) -> Result<(), Failure> {
    if out.exists() {
        return Err(Failure {
            code: 2,
            message: format!("{} exists: init never overwrites a config; give another --out", out.display()),
        });
    }
    let now = daemon::wall_now();
    let mut discovery = siloscope::init::Discovery::default();
    if discover {
        runtime_for(async {
            discovery = siloscope::init::discover(&opts, now, Arc::new(SystemClock)).await;
            Ok(())
        })?;
    }
    let generated = chrono::DateTime::from_timestamp(now, 0).map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string());
    let text = siloscope::init::render(&opts, &discovery, &generated.unwrap_or_default());
    std::fs::write(out, &text).map_err(|e| runtime(format!("cannot write {}: {e}", out.display())))?;
    for (source, error) in &discovery.failures {
        eprintln!("siloscope: {source}: discovery failed: {error}");
    }
    println!(
        "{}: written ({} teams from GitHub, {} from GitLab, {} Jira projects, {} team-field values); \
         check it with `siloscope check-config --config {}`",
        out.display(),
        discovery.github.as_ref().map_or(0, |s| s.teams.len()),
        discovery.gitlab.as_ref().map_or(0, |s| s.teams.len()),
        discovery.jira_projects.len(),
        discovery.jira_team_values.len(),
        out.display()
    );
    Ok(())
}

/// The config's directory merged with the stored snapshots, as the daemon resolves it.
fn stored_directory(
    cfg: &siloscope::config::Config,
    store: &dyn siloscope::store::Store,
) -> Result<siloscope::teams::Directory, Failure> {
    let mut builder = cfg.directory.builder();
    for (_, snapshot) in store.directory_snapshots().map_err(|e| runtime(e.to_string()))? {
        builder.snapshot(&snapshot);
    }
    Ok(builder.build())
}

fn forget(path: &Path, delete_events: bool, identities: &[String]) -> Result<(), Failure> {
    let cfg = load_config(path)?;
    let mut store = daemon::open_store(&cfg).map_err(runtime)?;
    let dir = stored_directory(&cfg, store.as_ref())?;
    let report = siloscope::privacy::forget(store.as_mut(), &dir, identities, delete_events, daemon::wall_now())
        .map_err(|e| runtime(e.to_string()))?;
    for (f, counts) in &report.identities {
        if counts.changed_anything() {
            println!(
                "{} -> {}: {} events re-attributed, {} events deleted, {} events naming it rewritten, \
                 {} items' author re-attributed{}",
                f.identity,
                f.placeholder,
                counts.events_reattributed,
                counts.events_deleted,
                counts.events_data_rewritten,
                counts.items_reattributed,
                if counts.tombstone_added { ", tombstone added" } else { "" }
            );
        } else {
            println!("{} -> {}: already forgotten, nothing left to change", f.identity, f.placeholder);
        }
        if cfg.directory.people.iter().any(|p| p.identities.iter().any(|i| i == &f.identity)) {
            println!(
                "  note: {} still lists {} in its [[people]]: remove it there (its team attribution is kept in the store)",
                path.display(),
                f.identity
            );
        }
    }
    println!("{} directory snapshots rewritten; store compacted", report.snapshots_rewritten);
    if report.identities.iter().any(|(_, c)| c.changed_anything()) {
        println!("restart a running `siloscope serve`: it still holds the forgotten identities in memory");
    }
    Ok(())
}

fn access(path: &Path, identity: &str) -> Result<(), Failure> {
    let cfg = load_config(path)?;
    let store = daemon::open_store(&cfg).map_err(runtime)?;
    let dir = stored_directory(&cfg, store.as_ref())?;
    let held = siloscope::privacy::access(store.as_ref(), &dir, identity).map_err(|e| runtime(e.to_string()))?;
    println!("{}", serde_json::to_string_pretty(&held).unwrap_or_default());
    Ok(())
}

fn teams_suggest(path: &Path) -> Result<(), Failure> {
    let cfg = load_config(path)?;
    let store = daemon::open_store_for_reading(&cfg).map_err(runtime)?;
    let snapshots = store.directory_snapshots().map_err(|e| runtime(e.to_string()))?;
    let state = State::new(cfg, store, Arc::new(SystemClock)).map_err(runtime)?;
    let dir = state.directory();
    let mut frame = lock(&state.frame);
    frame.prepare();
    let suggestions = siloscope::suggest::suggest(&frame, &dir, &state.config, &snapshots);
    print!("{}", siloscope::suggest::render_toml(&suggestions, &state.config, &dir));
    Ok(())
}

/// Reads `--web.config.file` (a bad one is a usage error, exit code 2).
fn load_web_config(path: Option<&Path>) -> Result<Option<Arc<siloscope::webconfig::WebConfig>>, Failure> {
    path.map(|p| siloscope::webconfig::load(p).map(Arc::new).map_err(|message| Failure { code: 2, message }))
        .transpose()
}

fn scheme(web: &Option<Arc<siloscope::webconfig::WebConfig>>) -> &'static str {
    if web.as_ref().is_some_and(|w| w.tls.is_some()) { "https" } else { "http" }
}

/// `--web.config.file` and `--web.external-url` of `serve` and `demo`.
struct WebOptions<'a> {
    config: Option<&'a Path>,
    external_url: Option<&'a str>,
}

/// Reads `--web.external-url` (a bad one is a usage error, exit code 2).
fn parse_external_url(url: Option<&str>) -> Result<Option<siloscope::pages::ExternalUrl>, Failure> {
    url.map(|u| siloscope::pages::ExternalUrl::parse(u).map_err(|message| Failure { code: 2, message })).transpose()
}

fn serve(
    path: &Path,
    listen_address: Option<String>,
    web_config: Option<&Path>,
    external_url: Option<&str>,
) -> Result<(), Failure> {
    let external_url = parse_external_url(external_url)?;
    let cfg = load_config(path)?;
    let web = load_web_config(web_config)?;
    let address = listen_address.unwrap_or_else(|| cfg.server.listen_address.clone());
    let mut store = daemon::open_store(&cfg).map_err(runtime)?;
    daemon::purge_at_start(&cfg, store.as_mut(), daemon::wall_now()).map_err(runtime)?;
    runtime_for(async move {
        let listener = siloscope::server::bind(&address).await.map_err(runtime)?;
        let clock: Arc<dyn siloscope::sources::http::Clock> = match siloscope::store::testhooks::stopped_clock() {
            Some(at) => Arc::new(AcceleratedClock { wall_start: daemon::wall_now(), sim_start: at, speed: 0.0 }),
            None => Arc::new(SystemClock),
        };
        let state = State::new(cfg, store, clock).map_err(runtime)?;
        println!(
            "siloscope serving {}://{}/metrics",
            scheme(&web),
            listener.local_addr().map(|a| a.to_string()).unwrap_or(address)
        );
        daemon::run(state, listener, RunOptions { web, external_url, ..RunOptions::default() }).await.map_err(runtime)
    })
}

/// `sync --estimate`: counts, never reads items; the store is not opened.
fn estimate(path: &Path) -> Result<(), Failure> {
    let cfg = load_config(path)?;
    runtime_for(async move {
        let mut failed = Vec::new();
        let now = daemon::wall_now();
        for sc in &cfg.sources {
            let mut source = daemon::make_source(sc, Arc::new(SystemClock));
            match siloscope::estimate::estimate(sc, source.as_mut(), now).await {
                Ok(Some(e)) => println!("{}", e.line()),
                Ok(None) => println!("{}: no estimate (this source has no API to count)", sc.name),
                Err(e) => {
                    eprintln!("{}: cannot count: {e}", sc.name);
                    failed.push(sc.name.clone());
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Failure { code: 1, message: format!("sources failed to count: {}", failed.join(", ")) })
        }
    })
}

fn sync(path: &Path, once: bool, progress_interval: &str) -> Result<(), Failure> {
    if !once {
        return Err(Failure {
            code: 2,
            message: "sync needs --once or --estimate (to sync on a schedule, run `siloscope serve`)".into(),
        });
    }
    let every =
        siloscope::config::parse_duration(progress_interval).ok().filter(|s| *s >= 0).ok_or_else(|| Failure {
            code: 2,
            message: format!(
                "invalid --progress-interval {progress_interval:?}: expected a duration such as 10s or 1m"
            ),
        })?;
    let cfg = load_config(path)?;
    let mut store = daemon::open_store(&cfg).map_err(runtime)?;
    daemon::purge_at_start(&cfg, store.as_mut(), daemon::wall_now()).map_err(runtime)?;
    // On a PostgreSQL store this run is a writer among the replicas: it syncs a source only
    // under its lease (renewed meanwhile), and refuses one a running replica holds.
    let replica = match &cfg.store.postgres {
        Some(pg) => {
            let keeper = siloscope::store::PostgresStore::open(pg).map_err(|e| runtime(e.to_string()))?;
            let period = std::time::Duration::from_secs(cfg.store.lease.max(1) as u64);
            let id = format!("sync-once:{}", siloscope::replica::Replica::new_id());
            Some(siloscope::replica::Replica::new(id, period, Box::new(keeper), cfg.sources.len()))
        }
        None => None,
    };
    runtime_for(async move {
        let state = State::new(cfg, store, Arc::new(SystemClock)).map_err(runtime)?;
        if let Some(replica) = replica {
            let _ = state.replica.set(replica);
            let renewing = state.clone();
            tokio::spawn(async move {
                let replica = renewing.replica.get().expect("set above");
                loop {
                    tokio::time::sleep(replica.tick_period()).await;
                    let state = renewing.clone();
                    let lost = tokio::task::spawn_blocking(move || state.replica.get().expect("set").renew()).await;
                    for unit in lost.unwrap_or_default() {
                        tracing::warn!(unit = %unit, "a lease was lost (not renewed in time): its sync stops at the next step");
                    }
                }
            });
        }
        let (tx, rx) = tokio::sync::watch::channel(false);
        let signal = daemon::shutdown_signal();
        tokio::spawn(async move {
            signal.await;
            let _ = tx.send(true);
        });
        let terminal = std::io::stderr().is_terminal();
        let bars = progress_bars(terminal, &state.config.sources);
        let mut failed = Vec::new();
        for (i, sc) in state.config.sources.clone().into_iter().enumerate() {
            if let Some(replica) = state.replica.get() {
                // A lease a crashed writer left expires within the period; a live replica's is
                // renewed all along, and the source is refused.
                let deadline = std::time::Instant::now() + replica.period + replica.tick_period();
                let mut held = replica.try_hold(&sc.name).map_err(runtime)?;
                while held.is_none() && std::time::Instant::now() < deadline {
                    tokio::time::sleep(replica.tick_period()).await;
                    held = replica.try_hold(&sc.name).map_err(runtime)?;
                }
                if held.is_none() {
                    let why = match replica.holder_of(&sc.name).map_err(runtime)? {
                        Some((holder, ms)) => format!(
                            "replica {holder} holds its lease ({:.0} s more, renewed while it syncs)",
                            (ms as f64 / 1000.0).ceil()
                        ),
                        None => "another replica took its lease just now".to_string(),
                    };
                    eprintln!(
                        "{}: not synced: {why}; a running `siloscope serve` syncs it already (stop the replicas \
                         first to sync it here)",
                        sc.name
                    );
                    if let Some((_, b)) = &bars {
                        b[i].finish();
                    }
                    failed.push((sc.name.clone(), false));
                    continue;
                }
            }
            let mut source = daemon::make_source(&sc, state.clock.clone());
            source.attach_health(state.telemetry.clone());
            state.prepare_source(source.as_ref()).map_err(runtime)?;
            let bar = bars.as_ref().map(|(_, b)| b[i].clone());
            let name = sc.name.clone();
            let health = state.telemetry.clone();
            let started = std::time::Instant::now();
            let mut tracker =
                siloscope::progress::Tracker::new(daemon::source_since(&sc), 0.0, health.tally(&name).requests);
            let mut logged: Option<f64> = None;
            let mut on_step = |s: &daemon::SyncSummary| {
                let at = started.elapsed().as_secs_f64();
                let f = tracker.observe(at, &daemon::observation(&health, &name, s));
                if let Some(bar) = &bar {
                    bar.set_position((f.ratio * 1000.0).floor() as u64);
                    bar.set_message(f.line());
                } else if s.caught_up || logged.is_none_or(|l| at - l >= every as f64) {
                    logged = Some(at);
                    tracing::info!(source = %name, steps = s.steps, items = s.items, new_events = s.new_events, "{}", f.line());
                }
            };
            let result = state.sync_source(source.as_mut(), &rx, &mut on_step).await;
            if let Some(bar) = bar {
                bar.finish();
            }
            if state.replica.get().is_some() {
                let releasing = state.clone();
                let name = sc.name.clone();
                let _ = tokio::task::spawn_blocking(move || releasing.replica.get().expect("set").release(&name)).await;
            }
            match result {
                Ok(s) if s.interrupted => {
                    println!(
                        "{}: interrupted after {} steps; {} new events are stored",
                        sc.name, s.steps, s.new_events
                    );
                    // Not caught up: a script running `sync --once` must not take it for done.
                    return Err(Failure {
                        code: 3,
                        message: format!(
                            "interrupted by a signal before {} was caught up; the next sync resumes from the last commit",
                            sc.name
                        ),
                    });
                }
                Ok(s) if s.handed_over => {
                    eprintln!(
                        "{}: not finished: its lease was lost after {} steps (a replica syncs it now; {} new events \
                         were stored here)",
                        sc.name, s.steps, s.new_events
                    );
                    failed.push((sc.name.clone(), false));
                }
                Ok(s) => println!(
                    "{}: caught up ({} steps, {} items, {} new events)",
                    sc.name, s.steps, s.items, s.new_events
                ),
                Err(e) => {
                    eprintln!("{}: sync failed: {e}", sc.name);
                    failed.push((sc.name.clone(), e.is_config()));
                }
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
        // A configuration the API shows cannot work is a config error (2), like one in the file.
        let code = if failed.iter().any(|(_, config)| *config) { 2 } else { 1 };
        Err(Failure { code, message: format!("sources failed: {}", names.join(", ")) })
    })
}

fn backfill(path: &Path, out: &Path, since: Option<&str>, step: &str, labels: &[String]) -> Result<(), Failure> {
    let usage = |message: String| Failure { code: 2, message };
    let labels = labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.to_string())),
            None => Err(usage(format!("invalid --label {l:?}: expected NAME=VALUE such as job=siloscope"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    siloscope::backfill::render_extra_labels(&labels).map_err(|e| usage(format!("invalid --label: {e}")))?;
    let step = siloscope::config::parse_duration(step).map_err(|e| usage(format!("invalid --step {step:?}: {e}")))?;
    if step <= 0 {
        return Err(usage("--step must be longer than 0s, e.g. --step 1h".into()));
    }
    if let Err(why) = siloscope::config::bounds::check_step(step) {
        return Err(usage(why));
    }
    let since = since
        .map(|d| siloscope::config::parse_date(d).map_err(|e| usage(format!("invalid --since {d:?}: {e}"))))
        .transpose()?;
    if since.is_some_and(|s| s > daemon::wall_now()) {
        return Err(usage("--since is in the future: give a date in the past, e.g. --since 2025-01-01".into()));
    }
    let cfg = load_config(path)?;
    let store = daemon::open_store_for_reading(&cfg).map_err(runtime)?;
    let file = std::fs::File::create(out).map_err(|e| runtime(format!("cannot create {}: {e}", out.display())))?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let terminal = std::io::stderr().is_terminal();
    let mut last_percent = usize::MAX;
    let mut progress = |done: usize, total: usize| {
        let percent = done * 100 / total.max(1);
        if terminal && percent != last_percent {
            eprint!("\rbackfill: {done}/{total} steps ({percent}%)");
            last_percent = percent;
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let opts = siloscope::backfill::BackfillOptions { since, step, now: clock.now_ts(), labels };
    let summary =
        siloscope::backfill::backfill_store(cfg, store, clock, &opts, &mut writer, &mut progress).map_err(runtime)?;
    std::io::Write::flush(&mut writer).map_err(|e| runtime(format!("cannot write {}: {e}", out.display())))?;
    if terminal {
        eprintln!();
    }
    let day = |t: i64| chrono::DateTime::from_timestamp(t, 0).map(|d| d.to_rfc3339()).unwrap_or_default();
    println!(
        "{}: {} series, {} steps from {} to {}, {} samples, {:.1} MiB (computed in {:.1} s, written in {:.1} s)",
        out.display(),
        summary.series,
        summary.steps,
        day(summary.from),
        day(summary.to),
        summary.samples,
        summary.bytes as f64 / (1024.0 * 1024.0),
        summary.compute_seconds,
        summary.write_seconds
    );
    println!("load it with: promtool tsdb create-blocks-from openmetrics {} <prometheus data dir>", out.display());
    Ok(())
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Html,
    #[value(name = "md", alias = "markdown")]
    Md,
    Json,
}

struct ReportArgs {
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    teams: Vec<String>,
    format: ReportFormat,
    out: Option<PathBuf>,
    name_people: bool,
    external_url: Option<String>,
}

fn report(path: &Path, args: ReportArgs) -> Result<(), Failure> {
    use siloscope::report::{self, Format, Period, ReportOptions};
    let usage = |message: String| Failure { code: 2, message };
    let now = daemon::wall_now();
    let pages = parse_external_url(args.external_url.as_deref())?.map(|url| url.join("", ""));
    let period = match (&args.period, &args.from, &args.to) {
        (Some(p), _, _) => Period::parse(p).map_err(usage)?,
        (None, Some(from), Some(to)) => Period::between(from, to).map_err(usage)?,
        _ => Period::quarter_to_date(now),
    };
    let cfg = load_config(path)?;
    let store = daemon::open_store_for_reading(&cfg).map_err(runtime)?;
    // The directory first: a mistyped team fails before a long load.
    let dir = report::load_directory(&*store, &cfg).map_err(runtime)?;
    report::select_teams(&dir, &args.teams).map_err(usage)?;
    let (frame, bar) = load_frame_with_progress(&*store, "computing the report")?;
    let history = store.history_starts().map_err(|e| runtime(e.to_string()))?;
    let opts = ReportOptions {
        teams: args.teams,
        name_people: args.name_people,
        history,
        pages,
        ..ReportOptions::new(period, now)
    };
    let computed = report::generate(&frame, &dir, &cfg.signals, &opts).map_err(runtime)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let format = match args.format {
        ReportFormat::Html => Format::Html,
        ReportFormat::Md => Format::Markdown,
        ReportFormat::Json => Format::Json,
    };
    let text = report::render(&computed, format);
    match &args.out {
        Some(out) => {
            std::fs::write(out, &text).map_err(|e| runtime(format!("cannot write {}: {e}", out.display())))?;
            println!(
                "{}: report for {} ({}), {} events on {} items",
                out.display(),
                computed.period.label,
                computed.period.dates(),
                computed.coverage.events_in_period,
                computed.coverage.items_in_period
            );
        }
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| runtime(format!("cannot write the report: {e}")))?;
        }
    }
    if !computed.has_data {
        eprintln!(
            "siloscope: no data in {} ({}): the report says so and shows what the store holds",
            computed.period.label,
            computed.period.dates()
        );
    }
    Ok(())
}

/// Loads the store's events into a prepared frame, with a progress bar on a terminal (left showing
/// `next` for the caller to finish).
fn load_frame_with_progress(
    store: &dyn siloscope::store::Store,
    next: &'static str,
) -> Result<(siloscope::signals::Frame, Option<indicatif::ProgressBar>), Failure> {
    let total = store.event_count().map_err(|e| runtime(e.to_string()))?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total);
        let style = indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} events ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message("loading the store");
        bar
    });
    let frame = siloscope::report::load_frame(store, &mut |n| {
        if let Some(bar) = &bar {
            bar.set_position(n);
        }
    })
    .map_err(runtime)?;
    if let Some(bar) = &bar {
        bar.set_message(next);
    }
    Ok((frame, bar))
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Parquet,
    Csv,
    Ndjson,
}

fn fact_kinds() -> clap::builder::PossibleValuesParser {
    use siloscope::export::FactKind;
    clap::builder::PossibleValuesParser::new(FactKind::ALL.map(|k| clap::builder::PossibleValue::new(k.as_str())))
}

struct ExportArgs {
    facts: String,
    from: Option<String>,
    to: Option<String>,
    format: Option<ExportFormat>,
    out: PathBuf,
    name_people: bool,
}

fn export(path: &Path, args: ExportArgs) -> Result<(), Failure> {
    use siloscope::export::{self, ExportOptions, FactKind, Format, TimeRange};
    use siloscope::report::{self, Period};
    let usage = |message: String| Failure { code: 2, message };
    let now = daemon::wall_now();
    let kind = FactKind::parse(&args.facts).ok_or_else(|| usage(format!("unknown --facts {:?}", args.facts)))?;
    let format = match args.format {
        Some(ExportFormat::Parquet) => Format::Parquet,
        Some(ExportFormat::Csv) => Format::Csv,
        Some(ExportFormat::Ndjson) => Format::Ndjson,
        None => export::format_of(&args.out).ok_or_else(|| {
            usage(format!(
                "cannot tell the format of {}: give --format parquet|csv|ndjson, or an --out ending in .parquet, .csv, .ndjson or .jsonl",
                args.out.display()
            ))
        })?,
    };
    let (range, as_of) = match (&args.from, &args.to) {
        (Some(from), Some(to)) => {
            let period = Period::between(from, to).map_err(usage)?;
            (TimeRange { from: Some(period.start), to: Some(period.end) }, period.last_second().min(now))
        }
        _ => (TimeRange::ALL, now),
    };
    // Fail before a long load.
    export::check_new(&args.out).map_err(usage)?;
    let cfg = load_config(path)?;
    let store = daemon::open_store_for_reading(&cfg).map_err(runtime)?;
    let dir = report::load_directory(&*store, &cfg).map_err(runtime)?;
    let (frame, bar) = load_frame_with_progress(&*store, "computing the facts")?;
    let opts = ExportOptions { kind, range, as_of, name_people: args.name_people };
    let mut df = export::table(&frame, &dir, &cfg.signals, &opts).map_err(runtime)?;
    if let Some(bar) = &bar {
        bar.set_length(df.height() as u64);
        bar.set_position(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} rows ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(format!("writing {}", args.out.display()));
    }
    let rows = export::write_new(&mut df, format, &args.out, &mut |n| {
        if let Some(bar) = &bar {
            bar.set_position(n as u64);
        }
    })
    .map_err(runtime)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    println!("{}: {rows} {} ({}), {} columns", args.out.display(), kind.as_str(), format.as_str(), df.width());
    Ok(())
}

fn rules(path: &Path, out: Option<&Path>, external_url: Option<&str>) -> Result<(), Failure> {
    let external_url = parse_external_url(external_url)?;
    let cfg = load_config(path)?;
    if cfg.signals.agreements.is_empty() {
        return Err(Failure {
            code: 2,
            message: format!(
                "{} has no [[agreements]] to write rules for: add one (config/siloscope.example.toml shows every key)",
                path.display()
            ),
        });
    }
    let text = siloscope::rules::generate(&cfg.signals.agreements, external_url.as_ref());
    match out {
        Some(file) => std::fs::write(file, text).map_err(|e| runtime(format!("cannot write {}: {e}", file.display()))),
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| runtime(format!("cannot write the rules: {e}")))
        }
    }
}

fn agreements_check(path: &Path, from: Option<&str>, to: Option<&str>, format: CheckFormat) -> Result<(), Failure> {
    use siloscope::agreements_check as check;
    use siloscope::report;
    let usage = |message: String| Failure { code: 2, message };
    let now = daemon::wall_now();
    let cfg = load_config(path)?;
    if cfg.signals.agreements.is_empty() {
        return Err(usage(format!(
            "{} has no [[agreements]] to back-test: add one (config/siloscope.example.toml shows every key)",
            path.display()
        )));
    }
    // Bad dates fail before the store is read.
    let (from, to) = check::bounds(from, to).map_err(usage)?;
    let store = daemon::open_store_for_reading(&cfg).map_err(runtime)?;
    let dir = report::load_directory(&*store, &cfg).map_err(runtime)?;
    let frame = report::load_frame(&*store, &mut |_| {}).map_err(runtime)?;
    let first = frame.events.iter().map(|e| e.at).min();
    let (from, to) = check::range(from, to, first, now).map_err(usage)?;
    let computed = check::check(&frame, &dir, &cfg.signals, from, to);
    let text = match format {
        CheckFormat::Text => check::text(&computed),
        CheckFormat::Json => {
            let mut s = serde_json::to_string_pretty(&check::json(&computed))
                .map_err(|e| runtime(format!("cannot encode the back-test: {e}")))?;
            s.push('\n');
            s
        }
    };
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| runtime(format!("cannot write the back-test: {e}")))
}

/// One bar per source (0..=1000: tenths of a percent of the history covered), on a terminal only.
fn progress_bars(
    terminal: bool,
    sources: &[SourceConfig],
) -> Option<(indicatif::MultiProgress, Vec<indicatif::ProgressBar>)> {
    terminal.then(|| {
        let multi = indicatif::MultiProgress::new();
        let style = indicatif::ProgressStyle::with_template("{prefix:>12} {bar:30} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        let bars = sources
            .iter()
            .map(|sc| {
                let bar = multi.add(indicatif::ProgressBar::new(1000));
                bar.set_style(style.clone());
                bar.set_prefix(sc.name.clone());
                bar.set_message("waiting");
                bar.enable_steady_tick(std::time::Duration::from_millis(250));
                bar
            })
            .collect();
        (multi, bars)
    })
}

/// The demo's two working agreements, so a newcomer sees them export, burn and alert (the
/// simulated organisation's teams come from its directory, so they are written here rather than
/// as `[[agreements]]` of a config, which names `[[teams]]`). As a config they read:
/// `name = "payments-reviews"`, `to_team = "payments"`, `kinds = ["review"]`, `within = "1d"`,
/// `objective = "90%"`; and `name = "platform-handoffs"`, `to_team = "platform"`,
/// `kinds = ["reassign", "transfer"]`, `within = "2d"`, `objective = "80%"`; both over 28 days.
fn demo_agreements() -> Vec<siloscope::signals::agreements::Agreement> {
    use siloscope::model::DAY;
    use siloscope::signals::HandoffKind;
    use siloscope::signals::agreements::{Agreement, DEFAULT_WINDOW};
    vec![
        Agreement {
            name: "payments-reviews".into(),
            to_team: "payments".into(),
            from_teams: vec![],
            kinds: vec![HandoffKind::Review],
            within: DAY,
            working_hours: false,
            objective: 0.9,
            window: DEFAULT_WINDOW,
        },
        Agreement {
            name: "platform-handoffs".into(),
            to_team: "platform".into(),
            from_teams: vec![],
            kinds: vec![HandoffKind::Reassign, HandoffKind::Transfer],
            within: 2 * DAY,
            working_hours: false,
            objective: 0.8,
            window: DEFAULT_WINDOW,
        },
    ]
}

fn demo(
    listen_address: String,
    speed: f64,
    store_path: Option<PathBuf>,
    sim: SimulatorConfig,
    sim_now: Option<&str>,
    web_options: WebOptions<'_>,
) -> Result<(), Failure> {
    let external_url = parse_external_url(web_options.external_url)?;
    if let Err(why) = siloscope::config::bounds::check_speed(speed) {
        return Err(Failure { code: 2, message: why });
    }
    // The same bounds as a `kind = "simulator"` source in a config file.
    if let Some((_, why)) = siloscope::config::bounds::simulator_problems(&sim, true).into_iter().next() {
        return Err(Failure { code: 2, message: why });
    }
    let sim_now = sim_now
        .map(|t| {
            siloscope::config::parse_date(t).map_err(|e| Failure { code: 2, message: format!("invalid --now: {e}") })
        })
        .transpose()?;
    let web = load_web_config(web_options.config)?;
    let mut cfg = Config::parse("", Path::new("<demo>")).map_err(|e| runtime(e.to_string()))?;
    let teams = sim.teams;
    let people = sim.teams * sim.people_per_team;
    let days = sim.history_days;
    cfg.sources.push(SourceConfig { name: "demo".into(), interval: 2, settings: SourceSettings::new(sim) });
    cfg.signals.agreements = demo_agreements();
    let store: Box<dyn siloscope::store::Store> = match &store_path {
        Some(p) => Box::new(SqliteStore::open_exclusive(p).map_err(|e| runtime(e.to_string()))?),
        None => Box::new(SqliteStore::open_in_memory().map_err(|e| runtime(e.to_string()))?),
    };
    runtime_for(async move {
        let listener = siloscope::server::bind(&listen_address).await.map_err(runtime)?;
        let now = daemon::wall_now();
        let clock = Arc::new(AcceleratedClock { wall_start: now, sim_start: sim_now.unwrap_or(now), speed });
        let state: Arc<State> = State::new(cfg, store, clock).map_err(runtime)?;
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or(listen_address);
        let scheme = scheme(&web);
        println!(
            "siloscope demo: serving {scheme}://{addr}/metrics — a simulated organisation of {teams} teams and {people} people, \
             {days} days of history being backfilled, then time runs {speed}× faster. Ctrl-C to stop."
        );
        let opts = RunOptions {
            recompute_min_gap: std::time::Duration::from_secs(1),
            recompute_period: std::time::Duration::from_secs(5),
            source_interval: Some(2),
            web,
            external_url,
        };
        daemon::run(state, listener, opts).await.map_err(runtime)
    })
}
