//! siloscope-config: loads siloscope's TOML config into typed settings and reports every mistake at
//! once, each with file:line:column, what is wrong and how to fix it. Owns parsing and validation
//! only: it opens no connection, starts no source, and never echoes a secret value back.

use std::collections::HashMap;

// The file came from one crate where the modules below were `crate::…`; the aliases keep its paths.
use siloscope_engine as signals;
use siloscope_model as model;
use siloscope_model::teams;
use siloscope_sources as sources;
use siloscope_store as store;
use siloscope_store::privacy;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::model::{HOUR, Identity, MINUTE, Ts, identity};
use crate::signals::agreements::Agreement;
use crate::signals::{HandoffKind, SignalsConfig};
use crate::sources::configkit::{
    Checker, DeTable, DeValue, Value, closest, line_column, parse_two_digits, parse_utc_offset,
};
use crate::sources::registry;
use crate::sources::settings::CheckContext;
use crate::store::postgres::{PasswordRef, PostgresConfig, UrlProblem, check_url};
use crate::teams::{Calendar, DirectoryBuilder, Membership, OTHER_TEAM, Ownership, OwnershipRule, ScopePattern};

pub mod bounds;
pub use crate::sources::configkit::secrets;
pub use crate::sources::configkit::{ConfigErrors, ConfigProblem, parse_date, parse_duration};
/// Kind-specific settings of a source: one of `sources::registry`'s kinds.
pub use crate::sources::settings::SourceSettings;

/// The whole configuration, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    pub server: ServerConfig,
    pub store: StoreConfig,
    /// `[signals]` and `[decisions]`.
    pub signals: SignalsConfig,
    /// `[[teams]]`, `[[people]]`, `[ownership]` (including its bots).
    pub directory: DirectoryConfig,
    /// `[[sources]]`, in file order.
    pub sources: Vec<SourceConfig>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// `host:port` the HTTP server listens on; always parses as a `SocketAddr`.
    pub listen_address: String,
    /// Whether the drill-down pages and the daemon's `/report` name the people of each item
    /// (`name_people`, the daemon's `report --name-people`); off: teams and items only.
    pub name_people: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { listen_address: DEFAULT_LISTEN_ADDRESS.to_string(), name_people: false }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    /// The SQLite database file, already resolved against the config file's directory; the store
    /// unless `postgres` is set (the two are exclusive in the file).
    pub path: PathBuf,
    /// `url = "postgres://…"`: the store is that PostgreSQL database instead of the file.
    pub postgres: Option<PostgresConfig>,
    /// `keep = "400d"`: events older than this are deleted (at start and hourly); None keeps all.
    pub keep: Option<Ts>,
    /// `lease = "30s"`: with a PostgreSQL store, how long a replica's hold on a source (and the
    /// leader's role) lasts without renewal; a dead replica's sources pass on within it. Seconds.
    pub lease: Ts,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    pub name: String,
    /// Seconds between syncs.
    pub interval: Ts,
    pub settings: SourceSettings,
}

/// The explicit team directory of the config. Team references are already checked and hold the
/// team's name exactly as written in its `[[teams]]` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DirectoryConfig {
    pub teams: Vec<TeamConfig>,
    pub people: Vec<PersonConfig>,
    /// Identities (`github:ci-robot`) that are automation.
    pub bots: Vec<Identity>,
    pub ownership: OwnershipConfig,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TeamConfig {
    pub name: String,
    pub handles: Vec<String>,
    pub calendar: Option<Calendar>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PersonConfig {
    pub name: String,
    /// Normalised with [`crate::model::identity`], each claimed by this person only.
    pub identities: Vec<Identity>,
    pub memberships: Vec<MembershipConfig>,
    pub bot: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MembershipConfig {
    pub team: String,
    pub from: Option<Ts>,
    pub until: Option<Ts>,
}

/// Ownership maps by team name; [`DirectoryConfig::builder`] turns names into `TeamId`s.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnershipConfig {
    pub order: Vec<OwnershipRule>,
    pub label_prefix: String,
    /// Label (as written) → team.
    pub labels: Vec<(String, String)>,
    /// Lower-cased status → team.
    pub statuses: Vec<(String, String)>,
    /// Lower-cased component → team.
    pub components: Vec<(String, String)>,
    /// Repository pattern → team, first match wins.
    pub repositories: Vec<(ScopePattern, String)>,
}

impl Default for OwnershipConfig {
    fn default() -> Self {
        let defaults = Ownership::default();
        OwnershipConfig {
            order: defaults.order,
            label_prefix: defaults.label_prefix,
            labels: Vec::new(),
            statuses: Vec::new(),
            components: Vec::new(),
            repositories: Vec::new(),
        }
    }
}

impl DirectoryConfig {
    /// A directory builder holding the config's teams, people, bots and ownership maps; sources
    /// add their snapshots to it afterwards (the config comes first).
    pub fn builder(&self) -> DirectoryBuilder {
        let mut b = DirectoryBuilder::new();
        for team in &self.teams {
            b.team(&team.name, &team.handles, team.calendar);
        }
        for person in &self.people {
            let memberships = person
                .memberships
                .iter()
                .map(|m| Membership { team: b.team(&m.team, &[], None), from: m.from, until: m.until })
                .collect();
            b.person(&person.name, &person.identities, memberships, person.bot);
        }
        for bot in &self.bots {
            b.bot(bot.clone());
        }
        let own = &self.ownership;
        let mut by_team = |pairs: &[(String, String)]| -> HashMap<String, crate::teams::TeamId> {
            pairs.iter().map(|(key, team)| (key.clone(), b.team(team, &[], None))).collect()
        };
        let labels = by_team(&own.labels);
        let statuses = by_team(&own.statuses);
        let components = by_team(&own.components);
        let scopes =
            own.repositories.iter().map(|(pattern, team)| (pattern.clone(), b.team(team, &[], None))).collect();
        *b.ownership_mut() = Ownership {
            order: own.order.clone(),
            label_prefix: own.label_prefix.clone(),
            labels,
            statuses,
            components,
            scopes,
        };
        b
    }
}

const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0:9731";
const DEFAULT_STORE_PATH: &str = "siloscope.db";
const DEFAULT_SOURCE_INTERVAL: Ts = 5 * MINUTE;

impl Config {
    /// Reads and validates a config file. An unreadable file is one problem naming the OS error.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(err) => {
                let hint = if err.kind() == std::io::ErrorKind::InvalidData {
                    "save the file as UTF-8 text"
                } else {
                    "check that the file exists and is readable, or point siloscope at another config file"
                };
                Err(ConfigErrors {
                    problems: vec![ConfigProblem {
                        file: path.display().to_string(),
                        line: 0,
                        column: 0,
                        message: format!("cannot read the config file: {err}"),
                        hint: hint.to_string(),
                    }],
                })
            }
        }
    }

    /// Validates config text; `path` names the file in problems and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
        let mut c = Sections(Checker::new(text, path.display().to_string()));
        let (document, syntax_errors) = DeTable::parse_recoverable(text);
        if !syntax_errors.is_empty() {
            // A broken document recovers into a guessed tree; checking it would report noise.
            for err in &syntax_errors {
                let span = err.span().unwrap_or(0..0);
                c.report(span, format!("TOML syntax error: {}", err.message()), syntax_hint(err.message()));
            }
            return Err(c.0.finish());
        }
        let root = document.get_ref();
        c.inline_secrets(root, "");
        c.known_keys(root, "", ROOT_KEYS);

        let teams = c.teams(root.get("teams"));
        let index = TeamIndex::new(&teams);
        let server = c.server(root.get("server"));
        let store = c.store(root.get("store"), path);
        let mut signals = c.signals(root.get("signals"), &index);
        signals.decisions = c.decisions(root.get("decisions"));
        let (ownership, bots) = c.ownership(root.get("ownership"), &index);
        let people = c.people(root.get("people"), &index);
        let record_paths: Vec<String> = signals.decisions.record_paths.iter().map(|p| p.0.clone()).collect();
        let context = CheckContext { config_dir: path.parent().unwrap_or(Path::new(".")), record_paths: &record_paths };
        let sources = c.sources(root.get("sources"), &context);
        signals.agreements = c.agreements(root.get("agreements"), &index, &teams);

        if !c.problems.is_empty() {
            return Err(c.0.finish());
        }
        Ok(Config {
            path: path.to_path_buf(),
            server,
            store,
            signals,
            directory: DirectoryConfig { teams, people, bots, ownership },
            sources,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The schema: which keys each table accepts.

const ROOT_KEYS: &[&str] =
    &["server", "store", "signals", "decisions", "ownership", "teams", "people", "sources", "agreements"];
const AGREEMENT_KEYS: &[&str] =
    &["name", "to_team", "from_teams", "kinds", "within", "working_hours", "objective", "window"];
const SERVER_KEYS: &[&str] = &["listen_address", "name_people"];
const STORE_KEYS: &[&str] = &["path", "url", "password_env", "password_file", "keep", "lease"];
const SIGNALS_KEYS: &[&str] = &[
    "stall_after",
    "stall_in_working_hours",
    "bounce_window",
    "rehash_window",
    "rehash_comments",
    "rehash_comment_teams",
    "privacy_floor",
    "windows",
    "stall_after_by_team",
    "stall_after_by_kind",
    "coverage_warning",
];
const DECISIONS_KEYS: &[&str] = &["labels", "issue_types", "record_paths", "accepted_statuses", "superseded_statuses"];
const OWNERSHIP_KEYS: &[&str] = &["order", "label_prefix", "labels", "statuses", "components", "repositories", "bots"];
const REPOSITORY_KEYS: &[&str] = &["pattern", "team"];
const TEAM_KEYS: &[&str] = &["name", "handles", "calendar"];
const CALENDAR_KEYS: &[&str] = &["utc_offset", "days", "hours"];
/// `[[people]]` keys besides the registry's login keys (`github = "alice"`, after `name`).
const PERSON_KEYS_AFTER_LOGINS: &[&str] = &["emails", "identities", "team", "memberships", "bot"];
const MEMBERSHIP_KEYS: &[&str] = &["team", "from", "until"];

const WEEKDAYS: [(&str, &str); 7] = [
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];

/// The keys a `[[people]]` entry accepts: `name`, each source kind's login key, the rest.
fn person_keys() -> Vec<&'static str> {
    let logins = registry::person_keys().map(|(k, _)| k);
    std::iter::once("name").chain(logins).chain(PERSON_KEYS_AFTER_LOGINS.iter().copied()).collect()
}

/// Teams by lower-cased name and handle, for checking references.
struct TeamIndex {
    names: Vec<String>,
    by_key: HashMap<String, usize>,
}

impl TeamIndex {
    fn new(teams: &[TeamConfig]) -> Self {
        let mut by_key = HashMap::new();
        for (i, team) in teams.iter().enumerate() {
            by_key.entry(team.name.to_ascii_lowercase()).or_insert(i);
        }
        for (i, team) in teams.iter().enumerate() {
            for handle in &team.handles {
                by_key.entry(handle_key(handle)).or_insert(i);
            }
        }
        TeamIndex { names: teams.iter().map(|t| t.name.clone()).collect(), by_key }
    }

    /// The team's name as written in `[[teams]]`, found by name or handle, any case.
    fn resolve(&self, reference: &str) -> Option<&str> {
        self.by_key.get(&handle_key(reference)).map(|&i| self.names[i].as_str())
    }
}

fn handle_key(handle: &str) -> String {
    handle.trim().trim_start_matches('@').to_ascii_lowercase()
}

/// The config's own sections, walked with the toolkit's [`Checker`] (which the sources' checks
/// share); `[[sources]]` entries are checked by their kind's check (`sources::registry`).
struct Sections<'t>(Checker<'t>);

impl<'t> std::ops::Deref for Sections<'t> {
    type Target = Checker<'t>;
    fn deref(&self) -> &Checker<'t> {
        &self.0
    }
}

impl std::ops::DerefMut for Sections<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Sections<'_> {
    /// Resolves a team reference to the team's name, or reports an unknown team.
    fn team_ref(&mut self, index: &TeamIndex, reference: &str, span: Range<usize>, path: &str) -> Option<String> {
        if let Some(name) = index.resolve(reference) {
            return Some(name.to_string());
        }
        let known: Vec<&str> = index.names.iter().map(String::as_str).collect();
        let hint = match closest(reference, &known) {
            Some(close) => format!("did you mean `{close}`?"),
            None if known.is_empty() => {
                format!("define it in a [[teams]] block with `name = \"{reference}\"`")
            }
            None => format!(
                "define it in a [[teams]] block with `name = \"{reference}\"`, or use one of: {}",
                known.join(", ")
            ),
        };
        self.report(span, format!("`{path}` names team \"{reference}\", which no [[teams]] entry defines"), hint);
        None
    }

    /// A `key → team` table, keys optionally lower-cased; duplicates after lower-casing are errors.
    fn team_map(
        &mut self,
        value: &Value<'_>,
        path: &str,
        index: &TeamIndex,
        lowercase_keys: bool,
        example: &str,
    ) -> Vec<(String, String)> {
        let Some(table) = self.table(value, path, example) else {
            return Vec::new();
        };
        let mut out: Vec<(String, String)> = Vec::new();
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        for (key, team_value) in table.iter() {
            let raw = key.get_ref().as_ref();
            let entry_path = format!("{path}.\"{raw}\"");
            let map_key = if lowercase_keys { raw.to_ascii_lowercase() } else { raw.to_string() };
            if let Some(first) = seen.get(&map_key) {
                let (line, _) = line_column(self.text, first.start);
                self.report(
                    key.span(),
                    format!("`{entry_path}` repeats a key of line {line} (keys here ignore case)"),
                    "keep one of the two entries",
                );
                continue;
            }
            seen.insert(map_key.clone(), key.span());
            let Some(team) = self.nonempty_string(team_value, &entry_path, &format!("\"{raw}\" = \"payments\"")) else {
                continue;
            };
            if let Some(name) = self.team_ref(index, &team, team_value.span(), &entry_path) {
                out.push((map_key, name));
            }
        }
        out
    }

    // --- sections -----------------------------------------------------------------------------

    fn server(&mut self, value: Option<&Value<'_>>) -> ServerConfig {
        let mut server = ServerConfig::default();
        let Some(table) = value.and_then(|v| self.table(v, "server", "[server]")) else {
            return server;
        };
        self.known_keys(table, "server", SERVER_KEYS);
        if let Some(v) = table.get("listen_address") {
            let example = "listen_address = \"0.0.0.0:9731\"";
            if let Some(address) = self.string(v, "server.listen_address", example) {
                if address.parse::<SocketAddr>().is_ok() {
                    server.listen_address = address;
                } else {
                    self.report(
                        v.span(),
                        format!("`server.listen_address` \"{address}\" is not an IP address and port"),
                        "write `IP:port` with a numeric IP, e.g. \"0.0.0.0:9731\", \"127.0.0.1:9731\" or \"[::]:9731\"",
                    );
                }
            }
        }
        if let Some(v) = table.get("name_people") {
            if let Some(on) = self.boolean(v, "server.name_people", "name_people = true") {
                server.name_people = on;
            }
        }
        server
    }

    fn store(&mut self, value: Option<&Value<'_>>, config_path: &Path) -> StoreConfig {
        let mut relative = PathBuf::from(DEFAULT_STORE_PATH);
        let base = config_path.parent().unwrap_or(Path::new(""));
        let mut postgres = None;
        let mut keep = None;
        let mut lease = bounds::LEASE_DEFAULT;
        if let Some(table) = value.and_then(|v| self.table(v, "store", "[store]")) {
            if let Some(v) = table.get("lease")
                && let Some(d) = self.duration(v, "store.lease", "lease = \"30s\"")
            {
                let (least, most) = bounds::LEASE;
                if (least..=most).contains(&d) {
                    lease = d;
                } else {
                    self.report(
                        v.span(),
                        format!(
                            "`store.lease` must be from {} to {}, found {}: shorter, a replica's pause (a \
                             slow commit, a garbage-collecting database) loses its sources; longer, a dead \
                             replica's sources wait that long",
                            bounds::human(least),
                            bounds::human(most),
                            bounds::human(d)
                        ),
                        "write e.g. `lease = \"30s\"`",
                    );
                }
                if !table.contains_key("url") {
                    self.report(
                        v.span(),
                        "`store.lease` is set but the store is a SQLite file, which one process writes: only \
                         replicas on a PostgreSQL store (`url`) lease their sources",
                        "remove `lease`, or set `url = \"postgres://…\"` to run replicas",
                    );
                }
            }
            if let Some(v) = table.get("keep") {
                keep = self.duration(v, "store.keep", "keep = \"400d\"");
                if let Some(k) = keep.filter(|k| *k < crate::privacy::MIN_KEEP) {
                    self.report(
                        v.span(),
                        format!(
                            "`store.keep` is {} days, shorter than the 91 days siloscope needs: the 90-day \
                             windows, the privacy floor's window and 90-day report periods read 90 days \
                             back and would silently count less",
                            k / crate::model::DAY
                        ),
                        "keep at least \"91d\", e.g. `keep = \"400d\"` (13 months, to compare a quarter \
                         with the same one a year before)"
                            .to_string(),
                    );
                    keep = None;
                }
            }
            self.known_keys(table, "store", STORE_KEYS);
            if let Some(v) = table.get("path")
                && let Some(p) = self.nonempty_string(v, "store.path", "path = \"siloscope.db\"")
            {
                relative = PathBuf::from(p);
            }
            postgres = self.postgres_store(table, base);
        }
        StoreConfig { path: base.join(relative), postgres, keep, lease }
    }

    /// `url` (with `password_env` or `password_file`) of `[store]`: a PostgreSQL store.
    fn postgres_store(&mut self, table: &DeTable<'_>, base: &Path) -> Option<PostgresConfig> {
        const URL_EXAMPLE: &str = "url = \"postgres://siloscope@db.example.com:5432/siloscope\"";
        let password_env = table.get("password_env").and_then(|v| {
            let name = self.nonempty_string(v, "store.password_env", "password_env = \"SILOSCOPE_DB_PASSWORD\"")?;
            if secrets::pasted_token(&name) {
                self.report(
                    v.span(),
                    "`store.password_env` holds what looks like the password itself, not the name of an environment variable (the value is not shown)",
                    "put the password in a variable and name it: `password_env = \"SILOSCOPE_DB_PASSWORD\"` (or `password_file = \"path\"`)",
                );
                return None;
            }
            if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                Some((v.span(), PasswordRef::Env(name)))
            } else {
                self.report(
                    v.span(),
                    format!("`store.password_env` must name an environment variable, found \"{name}\""),
                    "write it like `password_env = \"SILOSCOPE_DB_PASSWORD\"`",
                );
                None
            }
        });
        let password_file = table.get("password_file").and_then(|v| {
            let file =
                self.nonempty_string(v, "store.password_file", "password_file = \"/run/secrets/db-password\"")?;
            Some((v.span(), PasswordRef::File(base.join(file))))
        });
        let password = match (password_env, password_file) {
            (Some(_), Some((span, _))) => {
                self.report(
                    span,
                    "`[store]` names two passwords (password_env and password_file)",
                    "keep one: `password_env = \"VAR\"` or `password_file = \"path\"`",
                );
                None
            }
            (env, file) => env.or(file),
        };
        let Some(url_value) = table.get("url") else {
            if let Some((span, _)) = password {
                self.report(
                    span,
                    "`[store]` has a password but no `url`: only a PostgreSQL store takes one",
                    format!("add `{URL_EXAMPLE}`, or remove the password (a SQLite store needs none)"),
                );
            }
            return None;
        };
        let url = self.nonempty_string(url_value, "store.url", URL_EXAMPLE)?;
        if let Some(path) = table.get("path") {
            self.report(
                path.span(),
                "`[store]` sets both `path` (a SQLite file) and `url` (a PostgreSQL database)",
                "keep one: `path` for the embedded SQLite store, or `url` for PostgreSQL",
            );
        }
        // The URL is never echoed: it may hold the very password being refused.
        let problem = match check_url(&url) {
            Ok(()) => return Some(PostgresConfig { url, password: password.map(|(_, p)| p) }),
            Err(UrlProblem::NotPostgres) => (
                "`store.url` is not a PostgreSQL URL (it must start with postgres:// or postgresql://)".to_string(),
                format!("write it like `{URL_EXAMPLE}`"),
            ),
            Err(UrlProblem::InlinePassword) => (
                "`store.url` holds a password inline in the config file".to_string(),
                "remove it from the URL (postgres://user@host:5432/database) and say where to read it: \
                 `password_env = \"VAR\"` (an environment variable) or `password_file = \"path\"` (a file)"
                    .to_string(),
            ),
            Err(UrlProblem::TlsRequired) => (
                "`store.url` asks for sslmode=require, and this build connects to PostgreSQL without TLS".to_string(),
                "on a trusted network leave sslmode out (or write sslmode=disable); across an untrusted one, \
                 reach the server through a TLS tunnel"
                    .to_string(),
            ),
            Err(UrlProblem::Invalid(why)) => {
                (format!("`store.url` is not a valid PostgreSQL URL: {why}"), format!("write it like `{URL_EXAMPLE}`"))
            }
        };
        self.report(url_value.span(), problem.0, problem.1);
        None
    }

    fn signals(&mut self, value: Option<&Value<'_>>, index: &TeamIndex) -> SignalsConfig {
        let mut s = SignalsConfig::default();
        let Some(table) = value.and_then(|v| self.table(v, "signals", "[signals]")) else {
            return s;
        };
        self.known_keys(table, "signals", SIGNALS_KEYS);
        if let Some(v) = table.get("stall_after")
            && let Some(d) = self.duration(v, "signals.stall_after", "stall_after = \"2d\"")
        {
            s.stall_after = d;
        }
        if let Some(v) = table.get("stall_in_working_hours")
            && let Some(b) = self.boolean(v, "signals.stall_in_working_hours", "stall_in_working_hours = true")
        {
            s.stall_in_working_hours = b;
        }
        if let Some(v) = table.get("bounce_window")
            && let Some(d) = self.duration(v, "signals.bounce_window", "bounce_window = \"7d\"")
        {
            s.bounce_window = d;
        }
        if let Some(v) = table.get("rehash_window")
            && let Some(d) = self.duration(v, "signals.rehash_window", "rehash_window = \"90d\"")
        {
            s.rehash_window = d;
        }
        if let Some(v) = table.get("rehash_comments")
            && let Some(n) = self.u32_at_least(v, "signals.rehash_comments", 1, "rehash_comments = 3")
        {
            s.rehash_comments = n;
        }
        if let Some(v) = table.get("rehash_comment_teams")
            && let Some(n) = self.u32_at_least(v, "signals.rehash_comment_teams", 1, "rehash_comment_teams = 2")
        {
            s.rehash_comment_teams = n;
        }
        if let Some(v) = table.get("privacy_floor") {
            s.privacy_floor = self.privacy_floor(v).unwrap_or(s.privacy_floor);
        }
        if let Some(v) = table.get("windows")
            && let Some(windows) = self.windows(v)
        {
            s.windows = windows;
        }
        if let Some(v) = table.get("stall_after_by_team") {
            s.stall_after_by_team = self.stall_after_by_team(v, index);
        }
        if let Some(v) = table.get("stall_after_by_kind") {
            s.stall_after_by_kind = self.stall_after_by_kind(v);
        }
        if let Some(v) = table.get("coverage_warning")
            && let Some(share) = self.share(v, "signals.coverage_warning", "coverage_warning = 0.95")
        {
            s.coverage_warning = share;
        }
        s
    }

    fn privacy_floor(&mut self, v: &Value<'_>) -> Option<u32> {
        let path = "signals.privacy_floor";
        let n = self.integer(v, path, i128::MIN, i128::MAX, "privacy_floor = 5")?;
        if n < 2 {
            self.report(
                v.span(),
                format!("`{path}` is {n}, below the minimum of 2"),
                "set it to 2 or more (default 5): smaller teams would let a metric single out one person",
            );
            return None;
        }
        match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                self.report(v.span(), format!("`{path}` is too large"), "use a team size like `privacy_floor = 5`");
                None
            }
        }
    }

    fn windows(&mut self, v: &Value<'_>) -> Option<Vec<(String, Ts)>> {
        let path = "signals.windows";
        let example = "windows = [\"7d\", \"28d\", \"90d\"]";
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(v, path, "an array of durations", example);
            return None;
        };
        if items.is_empty() {
            self.report(v.span(), format!("`{path}` is empty"), format!("list at least one window, like `{example}`"));
            return None;
        }
        let mut windows: Vec<(String, Ts)> = Vec::new();
        let mut ok = true;
        for item in items.iter() {
            let Some(seconds) = self.duration(item, path, example) else {
                ok = false;
                continue;
            };
            let label = item.get_ref().as_str().unwrap_or_default().to_string();
            if windows.iter().any(|(l, _)| *l == label) {
                self.report(item.span(), format!("`{path}` lists \"{label}\" twice"), "remove the repeated window");
                ok = false;
                continue;
            }
            windows.push((label, seconds));
        }
        ok.then_some(windows)
    }

    fn stall_after_by_team(&mut self, v: &Value<'_>, index: &TeamIndex) -> HashMap<String, Ts> {
        let path = "signals.stall_after_by_team";
        let mut out = HashMap::new();
        let Some(table) = self.table(v, path, "[signals.stall_after_by_team]") else {
            return out;
        };
        for (key, value) in table.iter() {
            let team = key.get_ref().as_ref();
            let entry_path = format!("{path}.\"{team}\"");
            let duration = self.duration(value, &entry_path, &format!("{team} = \"1d\""));
            let Some(name) = self.team_ref(index, team, key.span(), &entry_path) else {
                continue;
            };
            let name = name.to_ascii_lowercase();
            if out.contains_key(&name) {
                self.report(
                    key.span(),
                    format!("`{entry_path}` sets team \"{name}\" a second time"),
                    "keep one entry per team",
                );
                continue;
            }
            if let Some(d) = duration {
                out.insert(name, d);
            }
        }
        out
    }

    fn stall_after_by_kind(&mut self, v: &Value<'_>) -> HashMap<HandoffKind, Ts> {
        let path = "signals.stall_after_by_kind";
        let mut out = HashMap::new();
        let Some(table) = self.table(v, path, "[signals.stall_after_by_kind]") else {
            return out;
        };
        let kinds: Vec<&str> = HandoffKind::ALL.iter().map(|k| k.as_str()).collect();
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            let entry_path = format!("{path}.{name}");
            let duration = self.duration(value, &entry_path, &format!("{name} = \"1d\""));
            match HandoffKind::parse(name) {
                Some(kind) => {
                    if let Some(d) = duration {
                        out.insert(kind, d);
                    }
                }
                None => {
                    let hint = match closest(name, &kinds) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("use one of: {}", kinds.join(", ")),
                    };
                    self.report(key.span(), format!("`{entry_path}`: \"{name}\" is not a handoff kind"), hint);
                }
            }
        }
        out
    }

    fn decisions(&mut self, value: Option<&Value<'_>>) -> crate::signals::DecisionSelector {
        let mut d = crate::signals::DecisionSelector::default();
        let Some(table) = value.and_then(|v| self.table(v, "decisions", "[decisions]")) else {
            return d;
        };
        self.known_keys(table, "decisions", DECISIONS_KEYS);
        if let Some(v) = table.get("labels")
            && let Some(list) = self.strings_lowercase(v, "decisions.labels", "labels = [\"decision\", \"adr\"]")
        {
            d.labels = list;
        }
        if let Some(v) = table.get("issue_types")
            && let Some(list) = self.strings_lowercase(v, "decisions.issue_types", "issue_types = [\"Decision\"]")
        {
            d.issue_types = list;
        }
        if let Some(v) = table.get("record_paths")
            && let Some(list) = self.strings(v, "decisions.record_paths", "record_paths = [\"docs/adr/*.md\"]")
        {
            d.record_paths = list.into_iter().map(|(p, _)| ScopePattern(p)).collect();
        }
        if let Some(v) = table.get("accepted_statuses")
            && let Some(list) =
                self.strings_lowercase(v, "decisions.accepted_statuses", "accepted_statuses = [\"Accepted\"]")
        {
            d.accepted_statuses = list;
        }
        if let Some(v) = table.get("superseded_statuses")
            && let Some(list) =
                self.strings_lowercase(v, "decisions.superseded_statuses", "superseded_statuses = [\"Superseded\"]")
        {
            d.superseded_statuses = list;
        }
        d
    }

    fn ownership(&mut self, value: Option<&Value<'_>>, index: &TeamIndex) -> (OwnershipConfig, Vec<Identity>) {
        let mut own = OwnershipConfig::default();
        let mut bots = Vec::new();
        let Some(table) = value.and_then(|v| self.table(v, "ownership", "[ownership]")) else {
            return (own, bots);
        };
        self.known_keys(table, "ownership", OWNERSHIP_KEYS);
        if let Some(v) = table.get("order")
            && let Some(order) = self.ownership_order(v)
        {
            own.order = order;
        }
        if let Some(v) = table.get("label_prefix")
            && let Some(prefix) = self.string(v, "ownership.label_prefix", "label_prefix = \"team:\"")
        {
            own.label_prefix = prefix;
        }
        if let Some(v) = table.get("labels") {
            own.labels =
                self.team_map(v, "ownership.labels", index, false, "labels = { \"area/payments\" = \"payments\" }");
        }
        if let Some(v) = table.get("statuses") {
            own.statuses = self.team_map(v, "ownership.statuses", index, true, "statuses = { \"In QA\" = \"qa\" }");
        }
        if let Some(v) = table.get("components") {
            own.components =
                self.team_map(v, "ownership.components", index, true, "components = { \"Billing\" = \"payments\" }");
        }
        if let Some(v) = table.get("repositories") {
            own.repositories = self.repositories(v, index);
        }
        if let Some(v) = table.get("bots")
            && let Some(list) = self.strings(v, "ownership.bots", "bots = [\"github:ci-robot\"]")
        {
            for (raw, span) in list {
                if let Some(id) = self.identity(&raw, span, "ownership.bots")
                    && !bots.contains(&id)
                {
                    bots.push(id);
                }
            }
        }
        (own, bots)
    }

    fn ownership_order(&mut self, v: &Value<'_>) -> Option<Vec<OwnershipRule>> {
        let path = "ownership.order";
        let list = self.strings(v, path, "order = [\"label\", \"status\", \"assignee\", \"repository\"]")?;
        let rules: Vec<&str> = OwnershipRule::DEFAULT_ORDER.iter().map(|r| r.as_str()).collect();
        if list.is_empty() {
            self.report(
                v.span(),
                format!("`{path}` is empty, so no item would ever have an owner team"),
                format!("list rules in the order they decide custody, from: {}", rules.join(", ")),
            );
            return None;
        }
        let mut order = Vec::new();
        let mut ok = true;
        for (name, span) in list {
            match OwnershipRule::parse(&name.to_ascii_lowercase()) {
                Some(rule) if order.contains(&rule) => {
                    self.report(span, format!("`{path}` lists \"{name}\" twice"), "remove the repeated rule");
                    ok = false;
                }
                Some(rule) => order.push(rule),
                None => {
                    let hint = match closest(&name, &rules) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("use rules from: {}", rules.join(", ")),
                    };
                    self.report(span, format!("`{path}`: \"{name}\" is not an ownership rule"), hint);
                    ok = false;
                }
            }
        }
        ok.then_some(order)
    }

    fn repositories(&mut self, v: &Value<'_>, index: &TeamIndex) -> Vec<(ScopePattern, String)> {
        let path = "ownership.repositories";
        let example = "repositories = [ { pattern = \"acme/web-*\", team = \"frontend\" } ]";
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(v, path, "an array of { pattern, team } tables", example);
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            let DeValue::Table(entry) = item.get_ref() else {
                self.wrong_type_of(item, &format!("every entry of `{path}`"), "a { pattern, team } table", example);
                continue;
            };
            self.known_keys(entry, path, REPOSITORY_KEYS);
            let pattern = match entry.get("pattern") {
                Some(p) => self.nonempty_string(p, &format!("{path}.pattern"), "pattern = \"acme/web-*\""),
                None => {
                    self.missing(item, &format!("{path}.pattern"), "pattern = \"acme/web-*\"");
                    None
                }
            };
            let team = match entry.get("team") {
                Some(t) => self
                    .nonempty_string(t, &format!("{path}.team"), "team = \"frontend\"")
                    .and_then(|name| self.team_ref(index, &name, t.span(), &format!("{path}.team"))),
                None => {
                    self.missing(item, &format!("{path}.team"), "team = \"frontend\"");
                    None
                }
            };
            if let (Some(pattern), Some(team)) = (pattern, team) {
                out.push((ScopePattern(pattern), team));
            }
        }
        out
    }

    /// Checks a `namespace:login` identity and normalises it.
    fn identity(&mut self, raw: &str, span: Range<usize>, path: &str) -> Option<Identity> {
        match raw.split_once(':') {
            Some((ns, login))
                if !ns.is_empty()
                    && !login.trim().is_empty()
                    && ns.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                Some(identity(&ns.to_ascii_lowercase(), login.trim()))
            }
            _ => {
                self.report(
                    span,
                    format!("`{path}`: \"{raw}\" is not an identity of the form `namespace:login`"),
                    "write it like \"github:ci-robot\", \"jira:automation\" or \"email:bot@acme.io\"",
                );
                None
            }
        }
    }

    /// `[[agreements]]`: working agreements between teams (engine `agreements.rs`).
    fn agreements(&mut self, value: Option<&Value<'_>>, index: &TeamIndex, teams: &[TeamConfig]) -> Vec<Agreement> {
        let mut out: Vec<Agreement> = Vec::new();
        let Some(value) = value else {
            return out;
        };
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        for (entry_value, entry) in self.tables(value, "agreements", "[[agreements]]") {
            self.known_keys(entry, "agreements", AGREEMENT_KEYS);
            let mut ok = true;
            let name = match entry.get("name") {
                Some(v) => self.agreement_name(v).map(|n| (n, v.span())),
                None => {
                    self.missing(entry_value, "agreements.name", "name = \"payments-reviews\"");
                    None
                }
            };
            if let Some((n, span)) = &name {
                if let Some(first) = seen.get(n) {
                    let (line, _) = line_column(self.text, first.start);
                    self.report(
                        span.clone(),
                        format!("agreement \"{n}\" is defined twice (first on line {line})"),
                        "give every [[agreements]] entry its own name",
                    );
                    ok = false;
                } else {
                    seen.insert(n.clone(), span.clone());
                }
            }
            let to_team = match entry.get("to_team") {
                Some(v) => self
                    .nonempty_string(v, "agreements.to_team", "to_team = \"payments\"")
                    .and_then(|t| self.team_ref(index, &t, v.span(), "agreements.to_team").map(|n| (n, v.span()))),
                None => {
                    self.missing(entry_value, "agreements.to_team", "to_team = \"payments\"");
                    None
                }
            };
            let mut from_teams: Vec<String> = Vec::new();
            if let Some(v) = entry.get("from_teams")
                && let Some(list) = self.strings(v, "agreements.from_teams", "from_teams = [\"platform\"]")
            {
                if list.is_empty() {
                    self.report(
                        v.span(),
                        "`agreements.from_teams` is empty, so the agreement would cover no handoff",
                        "list the sending teams, like `from_teams = [\"platform\"]`, or remove the key to cover handoffs from any team",
                    );
                    ok = false;
                }
                for (team, span) in list {
                    let Some(team) = self.team_ref(index, &team, span.clone(), "agreements.from_teams") else {
                        ok = false;
                        continue;
                    };
                    if to_team.as_ref().is_some_and(|(t, _)| *t == team) {
                        self.report(
                            span,
                            format!("`agreements.from_teams` lists the receiving team \"{team}\""),
                            "a handoff goes from one team to another: remove it from from_teams",
                        );
                        ok = false;
                        continue;
                    }
                    if !from_teams.contains(&team) {
                        from_teams.push(team);
                    }
                }
            }
            let mut kinds: Vec<HandoffKind> = Vec::new();
            if let Some(v) = entry.get("kinds")
                && let Some(list) = self.strings(v, "agreements.kinds", "kinds = [\"review\"]")
            {
                let known: Vec<&str> = HandoffKind::ALL.iter().map(|k| k.as_str()).collect();
                if list.is_empty() {
                    self.report(
                        v.span(),
                        "`agreements.kinds` is empty, so the agreement would cover no handoff",
                        format!("list handoff kinds ({}), or remove the key to cover every kind", known.join(", ")),
                    );
                    ok = false;
                }
                for (kind, span) in list {
                    match HandoffKind::parse(&kind.to_ascii_lowercase()) {
                        Some(k) if !kinds.contains(&k) => kinds.push(k),
                        Some(_) => {}
                        None => {
                            let hint = match closest(&kind, &known) {
                                Some(close) => format!("did you mean `{close}`?"),
                                None => format!("use one of: {}", known.join(", ")),
                            };
                            self.report(span, format!("`agreements.kinds`: \"{kind}\" is not a handoff kind"), hint);
                            ok = false;
                        }
                    }
                }
            }
            let within = match entry.get("within") {
                Some(v) => self.duration(v, "agreements.within", "within = \"1d\"").map(|d| (d, v.span())),
                None => {
                    self.missing(entry_value, "agreements.within", "within = \"1d\"");
                    None
                }
            };
            let mut working_hours = false;
            if let Some(v) = entry.get("working_hours")
                && let Some(b) = self.boolean(v, "agreements.working_hours", "working_hours = true")
            {
                working_hours = b;
                if let Some((team, _)) = &to_team
                    && b
                    && teams.iter().find(|t| t.name == *team).is_some_and(|t| t.calendar.is_none())
                {
                    self.report(
                        v.span(),
                        format!("`agreements.working_hours` counts the promise in team \"{team}\"'s working hours, but the team has no calendar"),
                        format!(
                            "give the [[teams]] entry of \"{team}\" a calendar, like `calendar = {{ utc_offset = \"+01:00\", days = \"mon-fri\", hours = \"09:00-17:00\" }}`, or set `working_hours = false`"
                        ),
                    );
                    ok = false;
                }
            }
            let objective = match entry.get("objective") {
                Some(v) => self.objective(v),
                None => {
                    self.missing(entry_value, "agreements.objective", "objective = \"90%\"");
                    None
                }
            };
            let mut window = crate::signals::agreements::DEFAULT_WINDOW;
            if let Some(v) = entry.get("window") {
                match self.duration(v, "agreements.window", "window = \"28d\"") {
                    Some(w) => {
                        if let Some((within, _)) = &within
                            && *within >= w
                        {
                            self.report(
                                v.span(),
                                format!(
                                    "`agreements.window` ({}) is not longer than the promise `within` ({}): no handoff could be decided inside one window",
                                    bounds::human(w),
                                    bounds::human(*within)
                                ),
                                "make the window several times the promise, like `within = \"1d\"` with `window = \"28d\"`",
                            );
                            ok = false;
                        }
                        window = w;
                    }
                    None => ok = false,
                }
            } else if let Some((within, span)) = within.clone()
                && within >= window
            {
                self.report(
                    span,
                    format!(
                        "`agreements.within` ({}) is not shorter than the default window of 28d",
                        bounds::human(within)
                    ),
                    "promise a shorter time, or set a longer `window = \"90d\"`",
                );
                ok = false;
            }
            if let (true, Some((name, _)), Some((to_team, _)), Some((within, _)), Some(objective)) =
                (ok, name, to_team, within, objective)
            {
                out.push(Agreement { name, to_team, from_teams, kinds, within, working_hours, objective, window });
            }
        }
        out
    }

    /// An agreement's name: `[a-z0-9][a-z0-9_-]*`, the `agreement` label of its series.
    fn agreement_name(&mut self, v: &Value<'_>) -> Option<String> {
        let name = self.nonempty_string(v, "agreements.name", "name = \"payments-reviews\"")?;
        let well_formed = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !well_formed {
            let suggestion: String = name
                .to_ascii_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' })
                .collect::<String>()
                .trim_start_matches(['-', '_'])
                .to_string();
            let suggestion = if suggestion.is_empty() { "payments-reviews".to_string() } else { suggestion };
            self.report(
                v.span(),
                format!("agreement name \"{name}\" is not a label value siloscope accepts"),
                format!(
                    "use lower-case letters, digits, `-` and `_`, starting with a letter or digit, like `name = \"{suggestion}\"`"
                ),
            );
            return None;
        }
        Some(name)
    }

    /// `objective = "90%"` or `objective = 0.9`: a share strictly between 0 and 1.
    fn objective(&mut self, v: &Value<'_>) -> Option<f64> {
        let path = "agreements.objective";
        let share = match v.get_ref() {
            DeValue::String(text) => {
                let text = text.trim();
                let parsed = match text.strip_suffix('%') {
                    Some(pct) => pct.trim().parse::<f64>().ok().map(|p| p / 100.0),
                    None => text.parse::<f64>().ok(),
                };
                match parsed {
                    Some(p) if p.is_finite() => p,
                    _ => {
                        self.report(
                            v.span(),
                            format!("`{path}` is not a percentage or a share: \"{text}\""),
                            "write it like `objective = \"90%\"` or `objective = 0.9`",
                        );
                        return None;
                    }
                }
            }
            DeValue::Float(_) | DeValue::Integer(_) => self.non_negative_number(v, path, "objective = 0.9")?,
            _ => {
                self.wrong_type(v, path, "a percentage string or a share", "objective = \"90%\"");
                return None;
            }
        };
        if !(share > 0.0 && share < 1.0) {
            let hint = if share >= 1.0 && share < 100.0 && !matches!(v.get_ref(), DeValue::String(_)) {
                format!(
                    "a share is between 0 and 1: write `objective = \"{share}%\"` or `objective = {}`",
                    share / 100.0
                )
            } else {
                "an objective is above 0% and below 100% (100% leaves no error budget), like `objective = \"90%\"`"
                    .to_string()
            };
            self.report(v.span(), format!("`{path}` must be above 0 and below 1 (0% and 100%), found {share}"), hint);
            return None;
        }
        Some(share)
    }

    fn teams(&mut self, value: Option<&Value<'_>>) -> Vec<TeamConfig> {
        let mut teams: Vec<TeamConfig> = Vec::new();
        let Some(value) = value else {
            return teams;
        };
        let mut seen_names: HashMap<String, Range<usize>> = HashMap::new();
        let mut seen_handles: HashMap<String, (String, Range<usize>)> = HashMap::new();
        for (entry_value, entry) in self.tables(value, "teams", "[[teams]]") {
            self.known_keys(entry, "teams", TEAM_KEYS);
            let name = match entry.get("name") {
                Some(v) => self.nonempty_string(v, "teams.name", "name = \"payments\"").map(|n| (n, v.span())),
                None => {
                    self.missing(entry_value, "teams.name", "name = \"payments\"");
                    None
                }
            };
            let mut handles = Vec::new();
            if let Some(v) = entry.get("handles")
                && let Some(list) = self.strings(v, "teams.handles", "handles = [\"acme/payments\"]")
            {
                for (handle, span) in list {
                    let key = handle_key(&handle);
                    let owner = name.as_ref().map_or_else(String::new, |(n, _)| n.clone());
                    if let Some((other, first)) = seen_handles.get(&key) {
                        if !other.eq_ignore_ascii_case(&owner) {
                            let (line, _) = line_column(self.text, first.start);
                            self.report(
                                span,
                                format!("handle \"{handle}\" is already claimed by team \"{other}\" (line {line})"),
                                "give each handle to one team only",
                            );
                        }
                        continue;
                    }
                    seen_handles.insert(key, (owner, span));
                    handles.push(handle);
                }
            }
            let calendar = entry.get("calendar").and_then(|v| self.calendar(v));
            let Some((name, span)) = name else {
                continue;
            };
            let key = name.to_ascii_lowercase();
            if key == OTHER_TEAM {
                self.report(
                    span,
                    format!("team name \"{name}\" is reserved for small teams folded under the privacy floor"),
                    "rename the team",
                );
                continue;
            }
            if let Some(first) = seen_names.get(&key) {
                let (line, _) = line_column(self.text, first.start);
                self.report(
                    span,
                    format!("team \"{name}\" is defined twice (first on line {line}; names ignore case)"),
                    "merge the two [[teams]] entries or rename one",
                );
                continue;
            }
            seen_names.insert(key, span);
            teams.push(TeamConfig { name, handles, calendar });
        }
        teams
    }

    fn calendar(&mut self, v: &Value<'_>) -> Option<Calendar> {
        let example = "calendar = { utc_offset = \"+01:00\", days = \"mon-fri\", hours = \"09:00-17:00\" }";
        let table = self.table(v, "teams.calendar", example)?;
        self.known_keys(table, "teams.calendar", CALENDAR_KEYS);
        let mut calendar = Calendar {
            utc_offset: 0,
            workdays: [true, true, true, true, true, false, false],
            start: 9 * HOUR,
            end: 17 * HOUR,
        };
        let mut ok = true;
        if let Some(v) = table.get("utc_offset")
            && let Some(text) = self.string(v, "teams.calendar.utc_offset", "utc_offset = \"+01:00\"")
        {
            match parse_utc_offset(&text) {
                Ok(offset) => calendar.utc_offset = offset,
                Err(why) => {
                    self.report(
                        v.span(),
                        format!("`teams.calendar.utc_offset` is not a UTC offset: {why}"),
                        "write it like \"+01:00\", \"-05:30\" or \"Z\"",
                    );
                    ok = false;
                }
            }
        }
        if let Some(v) = table.get("days")
            && let Some(text) = self.string(v, "teams.calendar.days", "days = \"mon-fri\"")
        {
            match parse_weekdays(&text) {
                Ok(days) => calendar.workdays = days,
                Err(why) => {
                    self.report(
                        v.span(),
                        format!("`teams.calendar.days` is not a list of weekdays: {why}"),
                        "write day ranges and lists like \"mon-fri\", \"sun-thu\" or \"mon,tue,thu\"",
                    );
                    ok = false;
                }
            }
        }
        if let Some(v) = table.get("hours")
            && let Some(text) = self.string(v, "teams.calendar.hours", "hours = \"09:00-17:00\"")
        {
            match parse_hours(&text) {
                Ok((start, end)) => (calendar.start, calendar.end) = (start, end),
                Err(why) => {
                    self.report(
                        v.span(),
                        format!("`teams.calendar.hours` is not a range of hours: {why}"),
                        "write local working hours like \"09:00-17:00\" (end after start, up to 24:00)",
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(calendar)
    }

    fn people(&mut self, value: Option<&Value<'_>>, index: &TeamIndex) -> Vec<PersonConfig> {
        let mut people = Vec::new();
        let Some(value) = value else {
            return people;
        };
        // identity → (person name, where it was claimed)
        let mut claimed: HashMap<Identity, (String, Range<usize>)> = HashMap::new();
        for (entry_value, entry) in self.tables(value, "people", "[[people]]") {
            self.known_keys(entry, "people", &person_keys());
            let name = match entry.get("name") {
                Some(v) => self.nonempty_string(v, "people.name", "name = \"Alice Example\""),
                None => {
                    self.missing(entry_value, "people.name", "name = \"Alice Example\"");
                    None
                }
            };
            let display_name = name.clone().unwrap_or_else(|| "(unnamed)".to_string());

            let mut found: Vec<(Identity, Range<usize>)> = Vec::new();
            for (ns, example) in registry::person_keys() {
                if let Some(v) = entry.get(ns)
                    && let Some(login) = self.nonempty_string(v, &format!("people.{ns}"), example)
                {
                    if login.contains(char::is_whitespace) {
                        self.report(
                            v.span(),
                            format!("`people.{ns}` \"{login}\" contains a space"),
                            format!("write the login alone, like `{example}`"),
                        );
                    } else {
                        found.push((identity(ns, &login), v.span()));
                    }
                }
            }
            if let Some(v) = entry.get("emails")
                && let Some(list) = self.strings(v, "people.emails", "emails = [\"alice@acme.io\"]")
            {
                for (email, span) in list {
                    if email.contains('@') && !email.contains(char::is_whitespace) {
                        found.push((identity("email", &email), span));
                    } else {
                        self.report(
                            span,
                            format!("`people.emails`: \"{email}\" is not an e-mail address"),
                            "write it like \"alice@acme.io\"",
                        );
                    }
                }
            }
            if let Some(v) = entry.get("identities")
                && let Some(list) = self.strings(v, "people.identities", "identities = [\"ghe:alice\"]")
            {
                for (raw, span) in list {
                    if let Some(id) = self.identity(&raw, span.clone(), "people.identities") {
                        found.push((id, span));
                    }
                }
            }
            let mut identities: Vec<Identity> = Vec::new();
            for (id, span) in found {
                if identities.contains(&id) {
                    continue;
                }
                if let Some((owner, first)) = claimed.get(&id) {
                    let (line, _) = line_column(self.text, first.start);
                    self.report(
                        span,
                        format!("identity `{id}` of \"{display_name}\" is already claimed by \"{owner}\" (line {line})"),
                        "an identity belongs to one person: remove it from one of them, or merge the two [[people]] entries",
                    );
                    continue;
                }
                claimed.insert(id.clone(), (display_name.clone(), span));
                identities.push(id);
            }
            if identities.is_empty() && name.is_some() && !self.has_identity_keys(entry) {
                self.report(
                    entry_value.span(),
                    format!("person \"{display_name}\" has no identity, so no activity can be matched to them"),
                    format!(
                        "add at least one of {}, `emails` or `identities`",
                        registry::person_keys().map(|(k, _)| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                    ),
                );
            }

            let memberships = self.memberships(entry, index);
            let bot = entry.get("bot").and_then(|v| self.boolean(v, "people.bot", "bot = false")).unwrap_or(false);
            if let Some(name) = name {
                people.push(PersonConfig { name, identities, memberships, bot });
            }
        }
        people
    }

    fn has_identity_keys(&self, entry: &DeTable<'_>) -> bool {
        registry::person_keys().map(|(k, _)| k).chain(["emails", "identities"]).any(|k| entry.get(k).is_some())
    }

    fn memberships(&mut self, entry: &DeTable<'_>, index: &TeamIndex) -> Vec<MembershipConfig> {
        let mut out = Vec::new();
        let team = entry.get("team");
        let list = entry.get("memberships");
        if let (Some(_), Some(list_value)) = (team, list) {
            let key_span =
                entry.iter().find(|(k, _)| k.get_ref() == "memberships").map_or(list_value.span(), |(k, _)| k.span());
            self.report(
                key_span,
                "`people.team` and `people.memberships` are both set",
                "use `team = \"…\"` for one open membership, or `memberships = [ … ]` for dated ones, not both",
            );
        }
        if let Some(v) = team
            && let Some(name) = self.nonempty_string(v, "people.team", "team = \"payments\"")
            && let Some(team) = self.team_ref(index, &name, v.span(), "people.team")
            && list.is_none()
        {
            out.push(MembershipConfig { team, from: None, until: None });
        }
        let Some(list_value) = list else {
            return out;
        };
        let path = "people.memberships";
        let example = "memberships = [ { team = \"payments\", until = \"2025-06-01\" } ]";
        let DeValue::Array(items) = list_value.get_ref() else {
            self.wrong_type(list_value, path, "an array of { team, from, until } tables", example);
            return out;
        };
        for item in items.iter() {
            let DeValue::Table(m) = item.get_ref() else {
                self.wrong_type_of(item, &format!("every entry of `{path}`"), "a { team, from, until } table", example);
                continue;
            };
            self.known_keys(m, path, MEMBERSHIP_KEYS);
            let team = match m.get("team") {
                Some(v) => self
                    .nonempty_string(v, &format!("{path}.team"), "team = \"payments\"")
                    .and_then(|name| self.team_ref(index, &name, v.span(), &format!("{path}.team"))),
                None => {
                    self.missing(item, &format!("{path}.team"), "team = \"payments\"");
                    None
                }
            };
            let from = m.get("from").map(|v| self.date(v, &format!("{path}.from"), "from = \"2025-06-01\""));
            let until = m.get("until").map(|v| self.date(v, &format!("{path}.until"), "until = \"2025-06-01\""));
            if let (Some(Some(f)), Some(Some(u))) = (from, until)
                && f >= u
                && let Some(until_value) = m.get("until")
            {
                self.report(
                    until_value.span(),
                    format!("`{path}.until` is not after `from`: the membership would hold for no time at all"),
                    "make `until` later than `from` (the membership holds from `from` up to, not including, `until`)",
                );
                continue;
            }
            if let Some(team) = team
                && from.is_none_or(|f| f.is_some())
                && until.is_none_or(|u| u.is_some())
            {
                out.push(MembershipConfig { team, from: from.flatten(), until: until.flatten() });
            }
        }
        out
    }

    fn sources(&mut self, value: Option<&Value<'_>>, context: &CheckContext<'_>) -> Vec<SourceConfig> {
        let mut sources = Vec::new();
        let Some(value) = value else {
            return sources;
        };
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        for (entry_value, entry) in self.tables(value, "sources", "[[sources]]") {
            let name = match entry.get("name") {
                Some(v) => self.source_name(v),
                None => {
                    self.missing(entry_value, "sources.name", "name = \"github-acme\"");
                    None
                }
            };
            if let (Some(name), Some(v)) = (&name, entry.get("name")) {
                let key = name.to_ascii_lowercase();
                if let Some(first) = seen.get(&key) {
                    let (line, _) = line_column(self.text, first.start);
                    self.report(
                        v.span(),
                        format!("source name \"{name}\" is used twice (first on line {line}; names ignore case)"),
                        "give every [[sources]] entry its own name",
                    );
                } else {
                    seen.insert(key, v.span());
                }
            }
            let interval = match entry.get("interval") {
                Some(v) => self.duration(v, "sources.interval", "interval = \"5m\"").and_then(|d| {
                    if d <= bounds::MAX_INTERVAL {
                        return Some(d);
                    }
                    let most = bounds::human(bounds::MAX_INTERVAL);
                    self.report(
                        v.span(),
                        format!("`sources.interval` is longer than {most}, the longest time between two syncs"),
                        format!("use at most {most}, like `interval = \"5m\"`"),
                    );
                    None
                }),
                None => Some(DEFAULT_SOURCE_INTERVAL),
            };
            let Some(kind_value) = entry.get("kind") else {
                self.missing(entry_value, "sources.kind", "kind = \"simulator\"");
                continue;
            };
            let Some(kind) = self.nonempty_string(kind_value, "sources.kind", "kind = \"simulator\"") else {
                continue;
            };
            let settings = match registry::kind(&kind) {
                Some(k) => (k.check)(&mut self.0, entry_value, entry, context),
                None if registry::PLANNED.contains(&kind.as_str()) => {
                    self.report(
                        kind_value.span(),
                        format!("source kind '{kind}' is not supported by this build yet"),
                        format!(
                            "remove this [[sources]] entry or use a supported kind: {}",
                            registry::names().join(", ")
                        ),
                    );
                    None
                }
                None => {
                    let kinds = registry::names();
                    let hint = match closest(&kind, &kinds) {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => format!("supported kinds: {}", kinds.join(", ")),
                    };
                    self.report(kind_value.span(), format!("unknown source kind '{kind}'"), hint);
                    None
                }
            };
            if let (Some(name), Some(interval), Some(settings)) = (name, interval, settings) {
                sources.push(SourceConfig { name, interval, settings });
            }
        }
        sources
    }

    fn source_name(&mut self, v: &Value<'_>) -> Option<String> {
        let name = self.nonempty_string(v, "sources.name", "name = \"github-acme\"")?;
        if name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            Some(name)
        } else {
            self.report(
                v.span(),
                format!("source name \"{name}\" has characters other than letters, digits, '-', '_' and '.'"),
                "it becomes a metric label and a database key: use a name like \"github-acme\"",
            );
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Small parsers and text helpers.

fn weekday(name: &str) -> Option<usize> {
    let n = name.trim().to_ascii_lowercase();
    WEEKDAYS.iter().position(|(short, long)| n == *short || n == *long)
}

/// `mon-fri`, `sun-thu` (ranges wrap around the week), `mon,wed,fri`, `mon-thu,sat`.
fn parse_weekdays(text: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    for part in text.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(format!("\"{text}\" has an empty entry"));
        }
        let unknown = |d: &str| format!("\"{}\" is not a weekday (mon, tue, wed, thu, fri, sat, sun)", d.trim());
        match part.split_once('-') {
            Some((a, b)) => {
                let first = weekday(a).ok_or_else(|| unknown(a))?;
                let last = weekday(b).ok_or_else(|| unknown(b))?;
                let mut d = first;
                loop {
                    days[d] = true;
                    if d == last {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[weekday(part).ok_or_else(|| unknown(part))?] = true,
        }
    }
    Ok(days)
}

/// `09:00-17:00` → seconds since local midnight, `[start, end)`; `24:00` is allowed as the end.
fn parse_hours(text: &str) -> Result<(Ts, Ts), String> {
    let (a, b) = text.split_once('-').ok_or_else(|| format!("\"{text}\" is not HH:MM-HH:MM"))?;
    let time = |s: &str| -> Option<Ts> {
        let (h, m) = s.trim().split_once(':')?;
        let (h, m) = (parse_two_digits(h)?, parse_two_digits(m)?);
        ((h < 24 && m < 60) || (h == 24 && m == 0)).then_some(h * HOUR + m * MINUTE)
    };
    let start = time(a).ok_or_else(|| format!("\"{}\" is not a time HH:MM", a.trim()))?;
    let end = time(b).ok_or_else(|| format!("\"{}\" is not a time HH:MM", b.trim()))?;
    if end <= start {
        return Err(format!("\"{text}\" ends before it starts"));
    }
    Ok((start, end))
}

fn syntax_hint(message: &str) -> String {
    let m = message.to_ascii_lowercase();
    if m.contains("duplicate key") {
        "a key may appear only once per table: remove or rename the repeated key".into()
    } else if m.contains("quoted") || m.contains("string") {
        "put text values in double quotes, e.g. `name = \"payments\"`, and close every quote".into()
    } else if m.contains("table") {
        "each table header ([name] or [[name]]) may appear once and must not redefine a key set earlier".into()
    } else {
        "fix the TOML syntax at this spot (see https://toml.io): `key = value` per line, strings in quotes".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DAY;
    use crate::sources::simulator::SimulatorConfig;

    fn parse(text: &str) -> Result<Config, ConfigErrors> {
        Config::parse(text, Path::new("/etc/siloscope/siloscope.toml"))
    }

    fn problems(text: &str) -> Vec<ConfigProblem> {
        match parse(text) {
            Ok(_) => panic!("expected problems, the config was accepted"),
            Err(e) => e.problems,
        }
    }

    /// (line, message) pairs, for exact assertions.
    fn lines(text: &str) -> Vec<(usize, String)> {
        problems(text).into_iter().map(|p| (p.line, p.message)).collect()
    }

    const FULL: &str = r#"
[server]
listen_address = "127.0.0.1:9000"

[store]
path = "data/siloscope.db"

[signals]
stall_after = "1d12h"
stall_in_working_hours = true
privacy_floor = 3
windows = ["7d", "30d"]

[signals.stall_after_by_team]
QA = "1d"

[signals.stall_after_by_kind]
review = "4h"

[decisions]
labels = ["Decision", "ADR"]
issue_types = ["Decision"]

[ownership]
order = ["label", "status", "repository"]
labels = { "area/payments" = "payments" }
statuses = { "In QA" = "qa" }
components = { "Billing" = "acme/payments" }
repositories = [ { pattern = "acme/web-*", team = "qa" } ]
bots = ["GitHub:CI-Robot"]

[[teams]]
name = "payments"
handles = ["acme/payments"]
calendar = { utc_offset = "+01:00", days = "mon-fri", hours = "09:00-17:00" }

[[teams]]
name = "qa"

[[people]]
name = "Alice Example"
github = "Alice"
emails = ["alice@acme.io"]
memberships = [ { team = "payments", until = "2025-06-01" }, { team = "qa", from = 2025-06-01 } ]

[[people]]
name = "Bob"
jira = "557058:f5"
team = "QA"

[[sources]]
name = "demo"
kind = "simulator"
seed = 7
items_per_day = 50
start = "2025-01-01"
"#;

    #[test]
    fn full_config_resolves_into_structs() {
        let c = parse(FULL).expect("valid config");
        assert_eq!(c.server.listen_address, "127.0.0.1:9000");
        assert_eq!(c.store.path, PathBuf::from("/etc/siloscope/data/siloscope.db"));
        assert_eq!(c.signals.stall_after, DAY + 12 * HOUR);
        assert!(c.signals.stall_in_working_hours);
        assert_eq!(c.signals.privacy_floor, 3);
        assert_eq!(c.signals.windows, vec![("7d".to_string(), 7 * DAY), ("30d".to_string(), 30 * DAY)]);
        assert_eq!(c.signals.stall_after_by_team.get("qa"), Some(&DAY));
        assert_eq!(c.signals.stall_after_by_kind.get(&HandoffKind::Review), Some(&(4 * HOUR)));
        assert_eq!(c.signals.bounce_window, 7 * DAY, "unset keys keep their defaults");
        assert_eq!(c.signals.decisions.labels, vec!["decision", "adr"]);
        assert_eq!(c.signals.decisions.issue_types, vec!["decision"]);
        assert_eq!(c.signals.decisions.accepted_statuses, vec!["accepted"]);

        let d = &c.directory;
        let cal = d.teams[0].calendar.expect("payments has a calendar");
        assert_eq!(cal.utc_offset, HOUR);
        assert_eq!(cal.workdays, [true, true, true, true, true, false, false]);
        assert_eq!((cal.start, cal.end), (9 * HOUR, 17 * HOUR));
        assert_eq!(d.teams[1].calendar, None);
        // 2025-06-01T00:00:00Z = 1748736000
        assert_eq!(
            d.people[0].memberships,
            vec![
                MembershipConfig { team: "payments".into(), from: None, until: Some(1_748_736_000) },
                MembershipConfig { team: "qa".into(), from: Some(1_748_736_000), until: None },
            ]
        );
        assert_eq!(d.people[0].identities, vec!["github:alice", "email:alice@acme.io"]);
        assert_eq!(d.people[1].memberships, vec![MembershipConfig { team: "qa".into(), from: None, until: None }]);
        assert_eq!(d.people[1].identities, vec!["jira:557058:f5"]);
        assert_eq!(d.bots, vec!["github:ci-robot"]);
        assert_eq!(d.ownership.statuses, vec![("in qa".to_string(), "qa".to_string())]);
        assert_eq!(d.ownership.components, vec![("billing".to_string(), "payments".to_string())]);

        assert_eq!(c.sources.len(), 1);
        assert_eq!(c.sources[0].name, "demo");
        assert_eq!(c.sources[0].interval, 5 * MINUTE);
        let sim = c.sources[0].settings.get::<SimulatorConfig>().expect("a simulator source");
        assert_eq!(sim.seed, 7);
        assert_eq!(sim.items_per_day, 50.0);
        assert_eq!(sim.teams, 8, "unset simulator keys keep their defaults");
        assert_eq!(sim.start, Some(1_735_689_600)); // 2025-01-01T00:00:00Z
    }

    #[test]
    fn builder_resolves_names_to_team_ids() {
        let c = parse(FULL).expect("valid config");
        let dir = c.directory.builder().build();
        let payments = dir.team_by_name("payments").unwrap();
        let qa = dir.team_by_name("qa").unwrap();
        assert_eq!(dir.status_team("IN QA"), Some(qa));
        assert_eq!(dir.component_team("billing"), Some(payments));
        assert_eq!(dir.label_team("area/payments"), Some(payments));
        assert_eq!(dir.scope_owner("acme/web-shop"), Some(qa));
        assert_eq!(dir.ownership.order, vec![OwnershipRule::Label, OwnershipRule::Status, OwnershipRule::Scope]);
        assert_eq!(dir.team_of("github:alice", 1_748_735_999), Some(payments));
        assert_eq!(dir.team_of("email:alice@acme.io", 1_748_736_000), Some(qa));
        assert_eq!(dir.team_of("jira:557058:f5", 0), Some(qa));
        assert!(dir.is_bot("github:ci-robot"));
        assert_eq!(dir.team(payments).calendar.map(|c| c.utc_offset), Some(HOUR));
    }

    #[test]
    fn store_url_gives_a_postgres_store_with_its_password_by_reference() {
        let c = parse(
            "[store]\nurl = \"postgres://siloscope@db.example.com:5432/siloscope\"\npassword_file = \"secrets/db\"\n",
        )
        .expect("valid config");
        assert_eq!(
            c.store.postgres,
            Some(PostgresConfig {
                url: "postgres://siloscope@db.example.com:5432/siloscope".into(),
                password: Some(PasswordRef::File(PathBuf::from("/etc/siloscope/secrets/db"))),
            })
        );
        let c = parse("[store]\nurl = \"postgresql://127.0.0.1/test?application_name=x\"\npassword_env = \"PGPASS\"\n")
            .expect("valid config");
        assert_eq!(c.store.postgres.unwrap().password, Some(PasswordRef::Env("PGPASS".into())));
        assert_eq!(parse("").unwrap().store.postgres, None, "SQLite by default");
    }

    #[test]
    fn a_password_in_the_store_url_is_refused_without_echoing_it() {
        for url in ["postgres://siloscope:hunter2@db:5432/s", "postgres://db:5432/s?sslmode=disable&password=hunter2"] {
            let text = format!("[store]\n\nurl = \"{url}\"\n");
            let found = problems(&text);
            assert_eq!(found.len(), 1, "{found:?}");
            let shown = found[0].to_string();
            assert!(
                shown.starts_with("/etc/siloscope/siloscope.toml:3:7: `store.url` holds a password inline"),
                "{shown}"
            );
            assert!(shown.contains("password_env = \"VAR\"") && shown.contains("password_file"), "{shown}");
            assert!(!shown.contains("hunter2"), "the password is echoed: {shown}");
        }
        // An inline `password` key is refused as every inline secret is.
        let found = problems("[store]\nurl = \"postgres://db/s\"\npassword = \"hunter2\"\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("`store.password` holds a secret inline"), "{}", found[0]);
    }

    #[test]
    fn store_url_mistakes_are_each_reported_with_a_fix() {
        let one = |text: &str| -> (usize, String) {
            let found = problems(text);
            assert_eq!(found.len(), 1, "{found:?}");
            (found[0].line, found[0].message.clone())
        };
        let (line, message) = one("[store]\npath = \"x.db\"\nurl = \"postgres://db/s\"\n");
        assert_eq!((line, message.contains("sets both `path`")), (2, true), "{message}");
        let (line, message) = one("[store]\npassword_env = \"PGPASS\"\n");
        assert_eq!((line, message.contains("a password but no `url`")), (2, true), "{message}");
        let (line, message) = one("[store]\nurl = \"mysql://db/s\"\n");
        assert_eq!((line, message.contains("not a PostgreSQL URL")), (2, true), "{message}");
        let (line, message) = one("[store]\nurl = \"postgres://db/s?sslmode=require\"\n");
        assert_eq!((line, message.contains("without TLS")), (2, true), "{message}");
        let (line, message) = one("[store]\nurl = \"postgres://db/s?sslmode=sometimes\"\n");
        assert_eq!((line, message.contains("not a valid PostgreSQL URL")), (2, true), "{message}");
        let (line, message) = one("[store]\nurl = \"postgres://db/s\"\npassword_env = \"PG-PASS\"\n");
        assert_eq!((line, message.contains("must name an environment variable")), (3, true), "{message}");
        let (line, message) =
            one("[store]\nurl = \"postgres://db/s\"\npassword_env = \"A\"\npassword_file = \"/run/p\"\n");
        assert_eq!((line, message.contains("two passwords")), (4, true), "{message}");
    }

    #[test]
    fn the_lease_of_replicas_is_bounded_and_needs_a_postgres_store() {
        assert_eq!(parse("").unwrap().store.lease, 30, "30 s unless set");
        let c = parse("[store]\nurl = \"postgres://db/s\"\nlease = \"1m\"\n").unwrap();
        assert_eq!(c.store.lease, 60);
        for (text, line, says) in [
            ("[store]\nurl = \"postgres://db/s\"\nlease = \"2s\"\n", 3, "must be from 3s to 10m, found 2s"),
            ("[store]\nurl = \"postgres://db/s\"\nlease = \"1h\"\n", 3, "must be from 3s to 10m, found 1h"),
            ("[store]\nurl = \"postgres://db/s\"\nlease = 30\n", 3, "must be a duration string"),
            ("[store]\nlease = \"30s\"\n", 2, "the store is a SQLite file, which one process writes"),
        ] {
            let found = problems(text);
            assert_eq!(found.len(), 1, "{text}: {found:?}");
            assert_eq!(found[0].line, line, "{text}");
            assert!(found[0].message.contains(says), "{text}: {}", found[0].message);
        }
    }

    #[test]
    fn empty_file_is_a_default_config() {
        let c = parse("").expect("empty config is valid");
        assert_eq!(c.server.listen_address, "0.0.0.0:9731");
        assert_eq!(c.store.path, PathBuf::from("/etc/siloscope/siloscope.db"));
        assert_eq!(c.signals, SignalsConfig::default());
        assert!(c.sources.is_empty() && c.directory.teams.is_empty());
        let rel = Config::parse("", Path::new("siloscope.toml")).unwrap();
        assert_eq!(rel.store.path, PathBuf::from("siloscope.db"));
    }

    #[test]
    fn every_mistake_is_reported_with_its_line() {
        let text = r#"[server]
listen_address = "localhost"
[signals]
stall_after = "2x"
privacy_floor = 1
windows = []
[signals.stall_after_by_team]
qaa = "1d"
[ownership]
statuses = { "In QA" = "qa" }
[[teams]]
name = "qa"
[[teams]]
name = "QA"
[[people]]
name = "A"
github = "alice"
team = "qa"
memberships = [ { team = "qa", from = "2025-06-01", until = "2025-01-01" } ]
[[people]]
name = "B"
github = "ALICE"
[[sources]]
name = "s"
kind = "simulator"
token = "ghp_secret"
[[sources]]
name = "s"
kind = "gitlab"
"#;
        let found = lines(text);
        let got: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(got, vec![2, 4, 5, 6, 8, 14, 19, 19, 22, 26, 27, 27, 28], "{found:#?}");
        assert!(found[0].1.contains("listen_address"));
        assert!(found[1].1.contains("unknown unit \"x\""));
        assert!(found[2].1.contains("below the minimum of 2"));
        assert!(found[3].1.contains("`signals.windows` is empty"));
        assert!(found[4].1.contains("team \"qaa\""));
        assert!(found[5].1.contains("defined twice (first on line 12"));
        assert!(found[6].1.contains("both set"));
        assert!(found[7].1.contains("not after `from`"));
        assert!(found[8].1.contains("already claimed by \"A\" (line 17)"));
        assert!(found[9].1.contains("secret inline") && !found[9].1.contains("ghp_secret"));
        assert!(found[10].1.contains("GitLab source has no credential"));
        assert!(found[11].1.contains("GitLab source reads nothing"));
        assert!(found[12].1.contains("used twice (first on line 24"));
    }

    #[test]
    fn unknown_key_suggests_the_close_one_with_line_and_column() {
        let p = problems("[signals]\n  stal_after = \"1d\"\n");
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].line, p[0].column), (2, 3));
        assert_eq!(p[0].message, "unknown key `signals.stal_after`");
        assert_eq!(p[0].hint, "did you mean `stall_after`?");
        assert_eq!(
            p[0].to_string(),
            "/etc/siloscope/siloscope.toml:2:3: unknown key `signals.stal_after`; fix: did you mean `stall_after`?"
        );
        let far = problems("[server]\nport = 80\n");
        assert_eq!(far[0].hint, "remove it; keys allowed here: listen_address, name_people");
    }

    #[test]
    fn syntax_error_has_a_line() {
        let p = problems("[server]\nlisten_address = \"0.0.0.0:1\"\n\n[store]\npath = \n");
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].line, p[0].column), (5, 8));
        assert!(p[0].message.starts_with("TOML syntax error"), "{}", p[0].message);
    }

    #[test]
    fn wrong_types_and_references_name_what_to_write() {
        let p = problems(
            "[signals]\nstall_after = 2\nrehash_comments = \"3\"\n[ownership]\norder = [\"labels\"]\nrepositories = [ { pattern = \"x/*\", team = \"ghost\" } ]\n",
        );
        let got: Vec<(usize, &str)> = p.iter().map(|p| (p.line, p.hint.as_str())).collect();
        assert_eq!(got[0].0, 2);
        assert!(got[0].1.contains("\"2s\""), "{}", got[0].1);
        assert_eq!(got[1], (3, "write it like `rehash_comments = 3`"));
        assert_eq!(got[2], (5, "did you mean `label`?"));
        assert_eq!(got[3], (6, "define it in a [[teams]] block with `name = \"ghost\"`"));
    }

    #[test]
    fn unsupported_and_unknown_source_kinds() {
        let p =
            problems("[[sources]]\nname = \"x\"\nkind = \"simulater\"\n[[sources]]\nname = \"y\"\nkind = \"svn\"\n");
        assert_eq!(p[0].hint, "did you mean `simulator`?");
        assert_eq!(p[1].hint, "supported kinds: simulator, github, gitlab, jira");
        assert_eq!(p[1].line, 6);
    }

    /// Every registered kind is reached from a config file: its check runs (a bare entry is
    /// either valid or refused by the kind's own problems, never as an unknown kind), and the
    /// settings it returns build a source of that name.
    #[test]
    fn every_registered_kind_is_checked_by_its_own_check() {
        for kind in registry::KINDS {
            assert!(!kind.about.is_empty() && kind.name.chars().all(|c| c.is_ascii_lowercase()), "{kind:?}");
            let text = format!("[[sources]]\nname = \"x\"\nkind = \"{}\"\n", kind.name);
            match parse(&text) {
                Ok(c) => assert_eq!(
                    c.sources[0]
                        .settings
                        .build("x", std::sync::Arc::new(crate::sources::http::ManualClock::new(0.0)))
                        .name(),
                    "x"
                ),
                Err(e) => assert!(e.problems.iter().all(|p| !p.message.contains("source kind")), "{}: {e}", kind.name),
            }
        }
        let names = registry::names();
        assert_eq!(names, ["simulator", "github", "gitlab", "jira"], "the order error messages list them in");
    }

    #[test]
    fn secrets_are_rejected_wherever_they_are_and_never_echoed() {
        let p = problems("[[sources]]\nname = \"gl\"\nkind = \"gitlab\"\npassword = \"hunter2\"\n");
        // The GitLab source has no credential and reads nothing; the inline password is its own problem.
        assert_eq!(p.len(), 3);
        assert_eq!(p[2].line, 4);
        assert!(p[2].hint.contains("password_env = \"VAR\"") && p[2].hint.contains("password_file = \"path\""));
        assert!(!p.iter().any(|p| p.to_string().contains("hunter2")));
        // An env-var reference is not a secret.
        assert!(parse("[[sources]]\nname = \"d\"\nkind = \"simulator\"\n").is_ok());
    }

    #[test]
    fn durations_and_dates() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("5m"), Ok(300));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert_eq!(parse_duration("1w"), Ok(604_800));
        assert_eq!(parse_duration("1d12h"), Ok(129_600));
        assert_eq!(parse_duration("1h 30m"), Ok(5400));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5").unwrap_err().contains("no unit"));
        assert!(parse_duration("5y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert!(parse_duration("9999999999999999d").is_err());
        assert_eq!(parse_date("2025-06-01"), Ok(1_748_736_000));
        assert_eq!(parse_date("2025-06-01T02:00:00+02:00"), Ok(1_748_736_000));
        assert!(parse_date("2025-13-01").is_err());
        assert!(parse_date("June 1st").is_err());
    }

    #[test]
    fn calendar_parts() {
        assert_eq!(parse_weekdays("sun-tue"), Ok([true, true, false, false, false, false, true]));
        assert_eq!(parse_weekdays("Mon, wed,friday"), Ok([true, false, true, false, true, false, false]));
        assert!(parse_weekdays("mon-fry").is_err());
        assert_eq!(parse_hours("08:30-24:00"), Ok((8 * HOUR + 30 * MINUTE, 24 * HOUR)));
        assert!(parse_hours("17:00-09:00").is_err());
        assert_eq!(parse_utc_offset("-05:30"), Ok(-(5 * HOUR + 30 * MINUTE)));
        assert_eq!(parse_utc_offset("Z"), Ok(0));
        assert!(parse_utc_offset("+1").is_err());
    }

    #[test]
    fn odd_inputs_never_panic() {
        for text in [
            "teams = 5",
            "[teams]\nname = 1",
            "people = [1, \"x\", {}]",
            "sources = [{}]",
            "[[people]]\nmemberships = 3\nteam = []",
            "[ownership]\nlabels = []\nstatuses = { a = 1 }\nrepositories = [ 1, {} ]",
            "[signals]\nwindows = [1, \"0s\", \"7d\", \"7d\"]\nprivacy_floor = 99999999999999999999",
            "[[teams]]\nname = \"é\"\ncalendar = { days = \"\", hours = \"ü\" }",
            "server = \"x\"\nstore = []\n[decisions]\nlabels = [[]]",
            "[[sources]]\nname = \"a b\"\nkind = 3\n[[sources]]\nkind = \"simulator\"\nseed = -1\nitems_per_day = nan",
            "\u{feff}[server]",
            "x = \"\u{1F600}\"\n  é = 1",
        ] {
            let _ = parse(text);
        }
        // Columns count characters, not bytes: the value "x" starts at character 18.
        let p = problems("[ownership]\nlabels = { \"é\" = \"x\" }");
        assert_eq!((p[0].line, p[0].column), (2, 18));
    }

    #[test]
    fn server_name_people_is_off_unless_set_and_must_be_a_boolean() {
        assert!(!parse("").unwrap().server.name_people);
        assert!(!parse("[server]\nname_people = false\n").unwrap().server.name_people);
        assert!(parse("[server]\nname_people = true\n").unwrap().server.name_people);
        let err = parse("[server]\nlisten_address = \"0.0.0.0:9731\"\nname_people = \"yes\"\n").unwrap_err();
        let line = err.to_string();
        assert!(line.starts_with("/etc/siloscope/siloscope.toml:3:15: `server.name_people`"), "{line}");
        assert!(line.contains("true or false") && line.contains("name_people = true"), "{line}");
        let err = parse("[server]\nname_pepole = true\n").unwrap_err().to_string();
        assert!(err.contains("did you mean `name_people`?"), "{err}");
    }

    #[test]
    fn load_reports_an_unreadable_file() {
        let err = Config::load(Path::new("/nonexistent/siloscope.toml")).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        let line = err.to_string();
        assert!(line.starts_with("/nonexistent/siloscope.toml: cannot read the config file:"), "{line}");
    }

    const AGREEMENT_TEAMS: &str = "[[teams]]\nname = \"Payments\"\ncalendar = { days = \"mon-fri\", hours = \"09:00-17:00\" }\n[[teams]]\nname = \"platform\"\nhandles = [\"acme/platform\"]\n[[teams]]\nname = \"qa\"\n";

    #[test]
    fn agreements_resolve_teams_kinds_durations_and_objectives() {
        let text = format!(
            "{AGREEMENT_TEAMS}[[agreements]]\nname = \"payments-reviews\"\nto_team = \"payments\"\nfrom_teams = [\"@acme/platform\", \"QA\"]\nkinds = [\"review\", \"Reassign\"]\nwithin = \"1d\"\nworking_hours = true\nobjective = \"90%\"\nwindow = \"14d\"\n[[agreements]]\nname = \"qa_2\"\nto_team = \"qa\"\nwithin = \"4h\"\nobjective = 0.95\n"
        );
        let cfg = parse(&text).unwrap();
        let a = &cfg.signals.agreements;
        assert_eq!(a.len(), 2);
        assert_eq!(
            a[0],
            Agreement {
                name: "payments-reviews".into(),
                to_team: "Payments".into(),
                from_teams: vec!["platform".into(), "qa".into()],
                kinds: vec![HandoffKind::Review, HandoffKind::Reassign],
                within: DAY,
                working_hours: true,
                objective: 0.9,
                window: 14 * DAY,
            }
        );
        // Omitted: any sending team, every kind, wall time, the 28-day window.
        assert_eq!(
            a[1],
            Agreement {
                name: "qa_2".into(),
                to_team: "qa".into(),
                from_teams: vec![],
                kinds: vec![],
                within: 4 * HOUR,
                working_hours: false,
                objective: 0.95,
                window: 28 * DAY,
            }
        );
        assert!(parse("").unwrap().signals.agreements.is_empty());
    }

    #[test]
    fn agreement_mistakes_each_name_their_line_and_a_fix() {
        let text = format!(
            "{AGREEMENT_TEAMS}[[agreements]]\nname = \"Payments Reviews\"\nto_team = \"paymnts\"\nfrom_teams = [\"ghost\"]\nkinds = [\"reviews\"]\nwithin = \"1 day\"\nobjective = \"100%\"\nwindows = \"28d\"\n[[agreements]]\nname = \"qa\"\nto_team = \"qa\"\nwithin = \"1d\"\nworking_hours = true\nobjective = 90\n[[agreements]]\nname = \"qa\"\nto_team = \"qa\"\nfrom_teams = [\"qa\"]\nwithin = \"2d\"\nobjective = 0.9\nwindow = \"1d\"\n[[agreements]]\nto_team = \"qa\"\n"
        );
        let got: Vec<(usize, String, String)> =
            problems(&text).into_iter().map(|p| (p.line, p.message, p.hint)).collect();
        let at = |line: usize| -> Vec<&(usize, String, String)> { got.iter().filter(|g| g.0 == line).collect() };
        assert!(at(10)[0].1.contains("\"Payments Reviews\" is not a label value"), "{got:#?}");
        assert!(at(10)[0].2.contains("`name = \"payments-reviews\"`"), "{got:#?}");
        assert_eq!(at(11)[0].2, "did you mean `Payments`?");
        assert!(at(12)[0].1.contains("names team \"ghost\""), "{got:#?}");
        assert_eq!(at(13)[0].2, "did you mean `review`?");
        assert!(at(14)[0].1.contains("`agreements.within` is not a valid duration"), "{got:#?}");
        assert!(at(15)[0].1.contains("above 0 and below 1"), "{got:#?}");
        assert!(at(15)[0].2.contains("100% leaves no error budget"), "{got:#?}");
        assert_eq!(at(16)[0].1, "unknown key `agreements.windows`");
        assert_eq!(at(16)[0].2, "did you mean `window`?");
        // qa has no calendar; 90 is a percentage written as a share.
        assert!(at(21)[0].1.contains("team \"qa\"'s working hours, but the team has no calendar"), "{got:#?}");
        assert!(at(22)[0].2.contains("`objective = \"90%\"` or `objective = 0.9`"), "{got:#?}");
        // The name repeats; from_teams holds the receiving team; the window is shorter than the promise.
        assert!(at(24)[0].1.contains("agreement \"qa\" is defined twice (first on line 18)"), "{got:#?}");
        assert!(at(26)[0].1.contains("lists the receiving team \"qa\""), "{got:#?}");
        assert!(
            at(29)[0].1.contains("`agreements.window` (1d) is not longer than the promise `within` (2d)"),
            "{got:#?}"
        );
        // An entry without the required keys names each.
        let missing: Vec<&str> = at(30).iter().map(|g| g.1.as_str()).collect();
        assert_eq!(
            missing,
            ["`agreements.name` is missing", "`agreements.within` is missing", "`agreements.objective` is missing"]
        );
        assert_eq!(got.len(), 15, "{got:#?}");
    }

    #[test]
    fn example_config_parses_cleanly() {
        let text = include_str!("../../../config/siloscope.example.toml");
        if let Err(e) = Config::parse(text, Path::new("config/siloscope.example.toml")) {
            panic!("example config has problems:\n{e}");
        }
    }
}
