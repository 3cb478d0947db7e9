//! The simulated organisation: a seeded, deterministic source of realistic cross-team activity.
//! It backs `siloscope demo` and the benchmarks. It must stay a source like any other (batches and
//! a cursor), and produce the same events however its time range is split into steps.
//! It computes no signal: it only makes handoffs, reviews, decisions and rework *happen*.

pub mod config;

use std::collections::VecDeque;

use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{Rng as _, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::model::{
    Batch, DAY, DirectorySnapshot, Event, EventKind, HOUR, IdentityProfile, Item, ItemKind, ItemState, LinkRelation,
    MINUTE, ReviewState, Reviewer, SnapshotMembership, SnapshotPerson, SnapshotTeam, StatusCategory, Ts,
};
use crate::sources::{Source, SourceError, StepFuture, SyncStep};

/// Size and dynamics of the simulated organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulatorConfig {
    pub seed: u64,
    pub teams: u32,
    pub people_per_team: u32,
    pub repos_per_team: u32,
    /// New work items (issues, pull requests, tickets) per simulated day.
    pub items_per_day: f64,
    /// Days of history generated before the first sync's `now`, when no `start` is set.
    pub history_days: u32,
    /// Fixed start of the simulated history (epoch seconds); None = `now - history_days` at the first sync.
    pub start: Option<crate::model::Ts>,
    /// People the published directory leaves out (in no team, as someone missing from every
    /// team list), one per team in turn, never one who changes team. Their activity is unchanged.
    #[serde(default)]
    pub left_out_people: u32,
    /// People who act on tickets under a second, tracker identity (`jira:<account id>`) that the
    /// published directory does not list, as a Jira account not tied to its owner's login. The
    /// tracker profile matches them by e-mail, by display name or by a username equal to the login.
    #[serde(default)]
    pub split_people: u32,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            seed: 42,
            teams: 8,
            people_per_team: 7,
            repos_per_team: 2,
            items_per_day: 120.0,
            history_days: 90,
            start: None,
            left_out_people: 0,
            split_people: 0,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dynamics. Every rate of the simulation lives here, so a reader can see what the demo shows.
// Probabilities are per item (or per handoff / per review request where said); durations are
// medians of lognormal draws, in seconds, with the spread `sigma` next to them.
// ---------------------------------------------------------------------------------------------

/// No event of an item is later than this after its creation: `generate(from, to)` only needs
/// items created in `(from - MAX_LIFETIME, to]`.
const MAX_LIFETIME: Ts = 45 * DAY;
/// Anchors are clamped to ±2^40 s (±34,000 years) so time arithmetic cannot overflow.
const MAX_START: Ts = 1 << 40;
/// More items a day than this is clamped: regular item numbers then stay below
/// `COMPANION_NUMBER_BASE` for the first 1000 days.
const MAX_ITEMS_PER_DAY: f64 = 1_000_000.0;
/// Companion items (revert pull requests, superseding decisions) belong to the item that spawns
/// them; their numbers start here so they never collide with the regular `index + 1` numbers.
const COMPANION_NUMBER_BASE: u64 = 1_000_000_000;
/// Item `i` is created within the first 90% of its slot of `DAY / items_per_day` seconds.
const CREATION_JITTER: f64 = 0.9;

/// Shares of item kinds: issues, then pull requests; the rest are tickets.
const SHARE_ISSUE: f64 = 0.55;
const SHARE_PULL_REQUEST: f64 = 0.35;

/// Share of people who change team once, between 30% and 70% of the history.
const TEAM_CHANGE_SHARE: f64 = 0.05;

/// Issues: opened in another team's repository (a cross-team request).
const P_CROSS_TEAM_REQUEST: f64 = 0.45;
/// Issues: labelled `team:<owner>` at opening.
const P_INITIAL_TEAM_LABEL: f64 = 0.5;
/// Tickets: requested from another team than the requester's.
const P_TICKET_OTHER_TEAM: f64 = 0.7;
/// Issues and tickets: how many handoffs (0, 1, 2, 3) an item goes through.
const HANDOFF_COUNT_WEIGHTS: [f64; 4] = [0.40, 0.32, 0.18, 0.10];
/// Per handoff: the receiving team never reacts and the item stays open (a stall).
const P_NEVER_ACKNOWLEDGED: f64 = 0.08;
/// Per never-acknowledged handoff: the handing team gives up and closes the item, after a
/// lognormal wait around `STALL_GIVE_UP_AFTER` (else it stays open and stalled for ever).
const P_STALL_GIVEN_UP: f64 = 0.9;
const STALL_GIVE_UP_AFTER: f64 = 12.0 * DAY as f64;
/// Per handoff: the receiving team sends it back (ping-pong), within `BOUNCE_MAX`.
const P_BOUNCE: f64 = 0.10;
const BOUNCE_LATENCY_FACTOR: f64 = 0.5;
const BOUNCE_MAX: Ts = 4 * DAY;
/// Per comment: it mentions another team's handle.
const P_COMMENT_MENTION: f64 = 0.15;
/// Per comment during work: written by the author / by the holding team / by a third team.
const P_COMMENT_BY_AUTHOR: f64 = 0.25;
const P_COMMENT_BY_THIRD_TEAM: f64 = 0.15;
/// Per acknowledgement of an issue: the receiver self-assigns instead of commenting.
const P_ACK_BY_SELF_ASSIGN: f64 = 0.5;
/// Per relabelling handoff: the old assignee is removed too.
const P_UNASSIGN_ON_RELABEL: f64 = 0.5;
/// Per handoff of an unlabelled, unassigned issue: by assigning a member of the receiving team
/// (else by adding its team label).
const P_HAND_OVER_BY_ASSIGNEE: f64 = 0.5;
/// Per bounce: the receiving team says why before sending the item back.
const P_BOUNCE_COMMENT: f64 = 0.5;
/// Per reopen: by the author (else by the holding team).
const P_AUTHOR_REOPENS: f64 = 0.6;
/// Issues and tickets: closed as done (the rest: won't do / duplicate).
const P_CLOSED_COMPLETED: f64 = 0.8;
/// Issues: closed by their author rather than by the holding team.
const P_AUTHOR_CLOSES: f64 = 0.3;
/// Issues and tickets (not decisions): reopened after close (rework).
const P_REOPEN: f64 = 0.04;
/// Bots: release-robot labels an issue; deploy-bot comments on a merged pull request.
const P_RELEASE_ROBOT_LABEL: f64 = 0.06;
const P_DEPLOY_BOT_COMMENT: f64 = 0.35;

/// Issues carrying a decision label (`decision` 60%, `adr` 20%, `rfc` 20%; see `DECISION_LABELS`).
const P_DECISION: f64 = 0.05;
/// Decisions closed as accepted (made).
const P_DECISION_ACCEPTED: f64 = 0.92;
/// Made decisions later reopened / discussed again (3+ comments from 2 teams) / superseded by a
/// new decision item linking it. Exclusive outcomes; the rest stay settled.
const P_DECISION_REOPENED: f64 = 0.07;
const P_DECISION_RENEWED: f64 = 0.10;
const P_DECISION_SUPERSEDED: f64 = 0.12;

/// Pull requests: opened in another team's repository; of those, merged by the owning team.
const P_PR_OTHER_REPO: f64 = 0.15;
const P_MERGED_BY_REPO_OWNER: f64 = 0.5;
/// Pull requests: opened as draft; of those, review requested while still a draft.
const P_DRAFT: f64 = 0.2;
const P_REQUEST_WHILE_DRAFT: f64 = 0.3;
/// Review requests: a teammate; another team (chosen by review propensity); as a team handle.
const P_SAME_TEAM_REVIEW: f64 = 0.85;
const P_CROSS_TEAM_REVIEW: f64 = 0.4;
const P_TEAM_HANDLE_REQUEST: f64 = 0.4;
/// Per request: a teammate reviews; another team reviews with base + span × propensity.
const P_SAME_TEAM_REVIEWS: f64 = 0.92;
const CROSS_REVIEW_BASE: f64 = 0.3;
const CROSS_REVIEW_SPAN: f64 = 0.65;
/// Review verdicts: approved, changes requested, the rest commented.
const P_APPROVED: f64 = 0.65;
const P_CHANGES_REQUESTED: f64 = 0.2;
/// Cross-team reviewers also leave a comment.
const P_REVIEWER_COMMENTS: f64 = 0.3;
/// Per commit: a co-author from another team.
const P_CO_AUTHOR: f64 = 0.1;
/// Pull requests merged; closed unmerged (the rest stay open).
const P_MERGED: f64 = 0.88;
const P_PR_CLOSED_UNMERGED: f64 = 0.08;
/// Merged pull requests reverted later by a revert pull request.
const P_REVERT: f64 = 0.03;
/// Tickets closed as "Won't Do".
const P_TICKET_WONT_DO: f64 = 0.1;

/// Spread of every handoff / pickup latency around its pair median.
const SIGMA_LATENCY: f64 = 0.9;
const SAME_TEAM_RESPONSE: f64 = 2.0 * HOUR as f64;
const SAME_TEAM_PICKUP: f64 = 3.0 * HOUR as f64;
const WORK_STEP: f64 = 10.0 * HOUR as f64;
const COMMENT_GAP: f64 = 5.0 * HOUR as f64;
const CLOSE_AFTER: f64 = 1.5 * DAY as f64;
const REOPEN_AFTER: f64 = 3.0 * DAY as f64;
const DECISION_RECONSIDER_AFTER: f64 = 6.0 * DAY as f64;
const SUPERSEDE_AFTER: f64 = 8.0 * DAY as f64;
const COMMIT_GAP: f64 = 40.0 * MINUTE as f64;
const DRAFT_DURATION: f64 = 18.0 * HOUR as f64;
const FIX_AFTER_REVIEW: f64 = 5.0 * HOUR as f64;
const MERGE_AFTER_REVIEW: f64 = 2.0 * HOUR as f64;
const REVERT_AFTER: f64 = 1.5 * DAY as f64;
const REVERT_REVIEW: f64 = HOUR as f64;
const REVERT_MERGE: f64 = 20.0 * MINUTE as f64;
const ABANDON_AFTER: f64 = 2.0 * DAY as f64;
const LINK_AFTER_OPEN: f64 = 5.0 * MINUTE as f64;
const TICKET_STAGE: f64 = 8.0 * HOUR as f64;
const BOT_DELAY: f64 = 15.0 * MINUTE as f64;

/// Per (from, to) team pair, the median handoff latency falls in one of three bands: fast
/// (40% of pairs), medium (35%) or slow (25%). `(share, low, high)` in seconds.
const LATENCY_BANDS: [(f64, f64, f64); 3] = [
    (0.40, 40.0 * MINUTE as f64, 2.0 * HOUR as f64),
    (0.35, 4.0 * HOUR as f64, 14.0 * HOUR as f64),
    (0.25, 1.5 * DAY as f64, 3.0 * DAY as f64),
];

// ---------------------------------------------------------------------------------------------
// Names.
// ---------------------------------------------------------------------------------------------

const ORG: &str = "sim-org";
const TEAM_NAMES: [&str; 8] = ["payments", "platform", "mobile", "data", "search", "identity", "growth", "infra"];
const FIRST_NAMES: [&str; 40] = [
    "alice", "bruno", "chen", "dana", "emeka", "farah", "gustav", "hana", "ines", "jonas", "kavya", "luis", "mei",
    "nadia", "omar", "priya", "quentin", "rosa", "sami", "tariq", "uma", "viktor", "wen", "xavier", "yara", "zoltan",
    "amara", "bilal", "carmen", "dmitri", "elif", "femi", "greta", "hugo", "ivana", "jae", "kofi", "lena", "mateo",
    "noor",
];
const SURNAMES: [&str; 24] = [
    "Okafor",
    "Lindqvist",
    "Tanaka",
    "Moreau",
    "Silva",
    "Novak",
    "Haddad",
    "Kowalski",
    "Nguyen",
    "Rossi",
    "Mensah",
    "Fischer",
    "Ortiz",
    "Petrov",
    "Sato",
    "Dubois",
    "Khan",
    "Larsen",
    "Costa",
    "Yilmaz",
    "Walsh",
    "Iyer",
    "Keller",
    "Banda",
];
const DEPLOY_BOT: &str = "sim:deploy-bot[bot]";
const RELEASE_ROBOT: &str = "sim:release-robot";
const DECISION_LABELS: [&str; 3] = ["decision", "adr", "rfc"];
const DECISION_PREFIXES: [&str; 3] = ["Decision", "ADR", "RFC"];
const BOT_LABELS: [&str; 2] = ["needs-triage", "release-notes"];
/// Ticket workflow: name and category. Indexes are the `STATUS_*` constants.
const STATUSES: [(&str, StatusCategory); 5] = [
    ("To Do", StatusCategory::ToDo),
    ("In Progress", StatusCategory::InProgress),
    ("In Review", StatusCategory::InProgress),
    ("Done", StatusCategory::Done),
    ("Won't Do", StatusCategory::Done),
];
const STATUS_TO_DO: u8 = 0;
const STATUS_IN_PROGRESS: u8 = 1;
const STATUS_IN_REVIEW: u8 = 2;
const STATUS_DONE: u8 = 3;
const STATUS_WONT_DO: u8 = 4;
const STATUS_NONE: u8 = u8::MAX;
const TICKET_TYPES: [&str; 3] = ["Task", "Bug", "Story"];
const ISSUE_VERBS: [&str; 8] =
    ["Fix", "Investigate", "Support", "Improve", "Document", "Speed up", "Clean up", "Handle errors in"];
const PR_VERBS: [&str; 6] = ["Add", "Refactor", "Fix", "Remove", "Migrate", "Simplify"];
const OBJECTS: [&str; 16] = [
    "webhook retries",
    "the checkout flow",
    "login rate limits",
    "search ranking",
    "the billing export",
    "push notifications",
    "the feature flag client",
    "session expiry",
    "CSV imports",
    "the deploy pipeline",
    "cache invalidation",
    "the mobile release train",
    "audit logging",
    "the metrics dashboard",
    "password reset e-mails",
    "the data warehouse sync",
];
const DECISION_OBJECTS: [&str; 8] = [
    "adopt OpenTelemetry for tracing",
    "move sessions to Redis",
    "one on-call rotation per domain",
    "version public APIs in the URL",
    "use Postgres for the event store",
    "ship mobile releases every two weeks",
    "retire the legacy auth service",
    "own feature flags per team",
];

// ---------------------------------------------------------------------------------------------
// The PRNG: SplitMix64 (Steele, Lea, Flood 2014) of rand_xoshiro, a fixed reference algorithm
// (its test pins the reference outputs), so the simulation never changes with a crate version.
// Every item gets its own stream seeded from (seed, stream, index), so items never depend on
// each other's draws and any subset can be generated alone. The draws below are written out for
// the same reason: rand's distributions may change their sampling between versions.
// ---------------------------------------------------------------------------------------------

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
const STREAM_ORG: u64 = 1;
const STREAM_CREATED: u64 = 2;
const STREAM_ITEM: u64 = 3;
const STREAM_PAIR_LATENCY: u64 = 4;
const STREAM_REVIEW_PROPENSITY: u64 = 5;

/// SplitMix64's output function of `z`: the first draw of a generator whose state is one step
/// before `z`.
fn mix64(z: u64) -> u64 {
    SplitMix64::seed_from_u64(z.wrapping_sub(GOLDEN_GAMMA)).next_u64()
}

#[derive(Debug, Clone)]
struct Rng(SplitMix64);

impl Rng {
    fn for_stream(seed: u64, stream: u64, index: u64) -> Rng {
        let state = mix64(mix64(seed ^ stream.wrapping_mul(GOLDEN_GAMMA)) ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Rng(SplitMix64::seed_from_u64(state))
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Uniform in [0, n); 0 when n is 0.
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    /// Standard normal by Box-Muller (the cosine half; the sine half is dropped to keep the
    /// stream stateless).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // (0, 1]: ln is finite
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }
}

// ---------------------------------------------------------------------------------------------
// The organisation: teams, people with dated memberships, repositories, pair latencies and the
// asymmetric review propensities. A pure function of (config, anchor).
// ---------------------------------------------------------------------------------------------

type TeamIx = u16;
type PersonIx = u32;

#[derive(Debug, Clone, Copy)]
struct Tenure {
    person: PersonIx,
    team: TeamIx,
    /// `[from, until)`; `Ts::MIN` / `Ts::MAX` for open ends.
    from: Ts,
    until: Ts,
}

impl Tenure {
    fn holds_at(&self, at: Ts) -> bool {
        self.from <= at && at < self.until
    }
}

#[derive(Debug)]
struct TeamInfo {
    name: String,
    handle: String,
    label: String,
    repos: Vec<String>,
}

#[derive(Debug)]
struct PersonInfo {
    name: String,
    identity: String,
    email: Option<String>,
    tenures: Vec<Tenure>,
    /// Left out of the published directory (`left_out_people`).
    left_out: bool,
    /// The tracker identity this person acts under on tickets, and how its profile reads
    /// (`split_people`).
    tracker: Option<(String, TrackerProfile)>,
}

/// How a split person's tracker profile can be matched to their login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrackerProfile {
    /// Another form of the name, and the same e-mail address.
    SameEmail,
    /// The same display name, no e-mail (hidden by the tracker's privacy settings).
    SameDisplayName,
    /// A Data Center username equal to the login, an abbreviated display name, no e-mail.
    UsernameIsLogin,
}

#[derive(Debug)]
struct Org {
    teams: Vec<TeamInfo>,
    people: Vec<PersonInfo>,
    tenures_by_team: Vec<Vec<Tenure>>,
    /// When people change team (one entry per mover).
    team_changes: Vec<Ts>,
    /// Median handoff latency in seconds, `[from * teams + to]`.
    pair_median: Vec<f64>,
    /// How readily members of a team review another team's pull requests, `[reviewer * teams + author]`.
    review_propensity: Vec<f64>,
}

fn team_name(i: usize) -> String {
    match TEAM_NAMES.get(i) {
        Some(name) => (*name).to_string(),
        None => format!("team-{}", i + 1),
    }
}

fn person_login(p: usize) -> String {
    let first = FIRST_NAMES[p % FIRST_NAMES.len()];
    match p / FIRST_NAMES.len() {
        0 => first.to_string(),
        round => format!("{first}{}", round + 1),
    }
}

fn person_name(p: usize) -> String {
    let first = FIRST_NAMES[p % FIRST_NAMES.len()];
    let mut name = String::with_capacity(first.len() + 12);
    let mut chars = first.chars();
    if let Some(c) = chars.next() {
        name.push(c.to_ascii_uppercase());
        name.push_str(chars.as_str());
    }
    name.push(' ');
    name.push_str(SURNAMES[(p * 7 + p / FIRST_NAMES.len()) % SURNAMES.len()]);
    name
}

impl Org {
    fn build(cfg: &SimulatorConfig, anchor: Ts) -> Org {
        let team_count = cfg.teams as usize;
        let per_team = cfg.people_per_team as usize;
        let teams: Vec<TeamInfo> = (0..team_count)
            .map(|i| {
                let name = team_name(i);
                TeamInfo {
                    handle: format!("{ORG}/{name}"),
                    label: format!("team:{name}"),
                    repos: (1..=cfg.repos_per_team).map(|n| format!("{ORG}/{name}-{n}")).collect(),
                    name,
                }
            })
            .collect();
        let people_count = team_count * per_team;
        let mut people: Vec<PersonInfo> = (0..people_count)
            .map(|p| {
                let login = person_login(p);
                PersonInfo {
                    name: person_name(p),
                    identity: format!("sim:{login}"),
                    // One or two people also commit with an e-mail identity (co-author trailers),
                    // so the directory has to unify identities.
                    email: (p == 1 || p == 1 + per_team).then(|| format!("email:{login}@sim.example")),
                    tenures: vec![Tenure {
                        person: p as PersonIx,
                        team: (p / per_team) as TeamIx,
                        from: Ts::MIN,
                        until: Ts::MAX,
                    }],
                    left_out: false,
                    tracker: None,
                }
            })
            .collect();

        let mut rng = Rng::for_stream(cfg.seed, STREAM_ORG, 0);
        let mut team_changes = Vec::new();
        if team_count >= 2 && people_count >= 2 {
            let movers = ((people_count as f64 * TEAM_CHANGE_SHARE).round() as usize).clamp(1, people_count);
            let span = cfg.history_days.max(1) as f64 * DAY as f64;
            let mut order: Vec<usize> = (0..people_count).collect();
            for k in 0..movers {
                let pick = k + rng.below((people_count - k) as u64) as usize;
                order.swap(k, pick);
                let p = order[k];
                let at = anchor + (span * (0.3 + 0.4 * rng.unit())) as Ts;
                let old = people[p].tenures[0].team;
                let new = ((old as u64 + 1 + rng.below(team_count as u64 - 1)) % team_count as u64) as TeamIx;
                people[p].tenures = vec![
                    Tenure { person: p as PersonIx, team: old, from: Ts::MIN, until: at },
                    Tenure { person: p as PersonIx, team: new, from: at, until: Ts::MAX },
                ];
                team_changes.push(at);
            }
        }
        // Directory gaps: people who never change team, the last members of each team first.
        let steady: Vec<usize> = (0..per_team)
            .flat_map(|r| (0..team_count).map(move |t| t * per_team + per_team - 1 - r))
            .filter(|&p| people[p].tenures.len() == 1)
            .collect();
        let left_out = (cfg.left_out_people as usize).min(steady.len());
        let split = (cfg.split_people as usize).min(steady.len() - left_out);
        for &p in &steady[..left_out] {
            people[p].left_out = true;
        }
        for (k, &p) in steady[left_out..left_out + split].iter().enumerate() {
            let account = format!("jira:{:012x}{:012x}", mix64(cfg.seed ^ p as u64) >> 16, mix64(p as u64 + 1) >> 16);
            let profile =
                [TrackerProfile::SameEmail, TrackerProfile::SameDisplayName, TrackerProfile::UsernameIsLogin][k % 3];
            people[p].tracker = Some((account, profile));
        }
        let mut tenures_by_team = vec![Vec::new(); team_count];
        for person in &people {
            for t in &person.tenures {
                tenures_by_team[t.team as usize].push(*t);
            }
        }

        let mut pair_median = vec![SAME_TEAM_RESPONSE; team_count * team_count];
        let mut review_propensity = vec![1.0; team_count * team_count];
        for a in 0..team_count {
            for b in 0..team_count {
                if a == b {
                    continue;
                }
                let pair = (a * team_count + b) as u64;
                let mut r = Rng::for_stream(cfg.seed, STREAM_PAIR_LATENCY, pair);
                let (band, position) = (r.unit(), r.unit());
                let mut acc = 0.0;
                for (i, (share, low, high)) in LATENCY_BANDS.into_iter().enumerate() {
                    acc += share;
                    if band < acc || i == LATENCY_BANDS.len() - 1 {
                        // Log-uniform inside the band.
                        pair_median[a * team_count + b] = (low.ln() + position * (high.ln() - low.ln())).exp();
                        break;
                    }
                }
                // Squared uniform: most pairs review each other little, a few a lot, and the two
                // directions of a pair are drawn independently (asymmetric reciprocity).
                let u = Rng::for_stream(cfg.seed, STREAM_REVIEW_PROPENSITY, pair).unit();
                review_propensity[a * team_count + b] = 0.03 + 0.97 * u * u;
            }
        }
        Org { teams, people, tenures_by_team, team_changes, pair_median, review_propensity }
    }

    fn team_count(&self) -> usize {
        self.teams.len()
    }

    fn pair_median(&self, from: TeamIx, to: TeamIx) -> f64 {
        self.pair_median[from as usize * self.team_count() + to as usize]
    }

    fn propensity(&self, reviewer: TeamIx, author: TeamIx) -> f64 {
        self.review_propensity[reviewer as usize * self.team_count() + author as usize]
    }

    /// A member of `team` at `at`, other than `except`.
    fn pick_member(&self, team: TeamIx, at: Ts, except: Option<PersonIx>, rng: &mut Rng) -> Option<PersonIx> {
        let tenures = &self.tenures_by_team[team as usize];
        let eligible = |t: &&Tenure| t.holds_at(at) && Some(t.person) != except;
        let count = tenures.iter().filter(eligible).count();
        if count == 0 {
            return None;
        }
        let k = rng.below(count as u64) as usize;
        tenures.iter().filter(eligible).nth(k).map(|t| t.person)
    }

    /// A member of `team` at `at`, or (when moves emptied the team) of the next team that has one.
    fn member(&self, team: TeamIx, at: Ts, rng: &mut Rng) -> PersonIx {
        let n = self.team_count();
        (0..n).find_map(|k| self.pick_member(((team as usize + k) % n) as TeamIx, at, None, rng)).unwrap_or(0)
    }

    fn snapshot(&self) -> DirectorySnapshot {
        let teams = self.teams.iter().map(|t| SnapshotTeam { name: t.name.clone(), handles: vec![t.handle.clone()] });
        let mut people: Vec<SnapshotPerson> = self
            .people
            .iter()
            .filter(|p| !p.left_out)
            .map(|p| SnapshotPerson {
                name: p.name.clone(),
                identities: std::iter::once(p.identity.clone()).chain(p.email.clone()).collect(),
                memberships: p
                    .tenures
                    .iter()
                    .map(|t| SnapshotMembership {
                        team: self.teams[t.team as usize].name.clone(),
                        from: (t.from != Ts::MIN).then_some(t.from),
                        until: (t.until != Ts::MAX).then_some(t.until),
                    })
                    .collect(),
                bot: false,
            })
            .collect();
        for (name, identity) in [("deploy-bot", DEPLOY_BOT), ("release-robot", RELEASE_ROBOT)] {
            people.push(SnapshotPerson {
                name: name.to_string(),
                identities: vec![identity.to_string()],
                memberships: Vec::new(),
                bot: true,
            });
        }
        let scope_owners =
            self.teams.iter().flat_map(|t| t.repos.iter().map(|r| (r.clone(), t.name.clone()))).collect();
        DirectorySnapshot { teams: teams.collect(), people, scope_owners, profiles: self.profiles() }
    }

    /// Profiles of the identities the organisation's people act under: the code host's name and
    /// e-mail of every login; the tracker's account details of split people. Empty without gaps,
    /// so the default simulation publishes what it always did.
    fn profiles(&self) -> Vec<IdentityProfile> {
        if !self.people.iter().any(|p| p.left_out || p.tracker.is_some()) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for p in &self.people {
            let login = p.identity.trim_start_matches("sim:");
            out.push(IdentityProfile {
                identity: p.identity.clone(),
                display_name: Some(p.name.clone()),
                emails: vec![format!("{login}@sim.example")],
                username: None,
            });
            if let Some((account, kind)) = &p.tracker {
                let (first, last) = p.name.split_once(' ').unwrap_or((p.name.as_str(), ""));
                out.push(match kind {
                    TrackerProfile::SameEmail => IdentityProfile {
                        identity: account.clone(),
                        display_name: Some(format!("{last}, {first}")),
                        emails: vec![format!("{}@SIM.example", login)],
                        username: None,
                    },
                    TrackerProfile::SameDisplayName => IdentityProfile {
                        identity: account.clone(),
                        display_name: Some(p.name.clone()),
                        ..IdentityProfile::default()
                    },
                    TrackerProfile::UsernameIsLogin => IdentityProfile {
                        identity: account.clone(),
                        display_name: Some(format!("{first} {}.", last.chars().next().unwrap_or('X'))),
                        username: Some(login.to_string()),
                        ..IdentityProfile::default()
                    },
                });
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Simulated items: compact events (indexes instead of strings) kept in the cache, turned into
// model events only when emitted.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Actor {
    Person(PersonIx),
    DeployBot,
    ReleaseRobot,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Label {
    Team(TeamIx),
    Decision(u8),
    Bot(u8),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SimReviewer {
    Person(PersonIx),
    Team(TeamIx),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SimKind {
    Opened,
    Assigned(PersonIx),
    Unassigned(PersonIx),
    Labeled(Label),
    Unlabeled(Label),
    Status {
        from: u8,
        to: u8,
    },
    TeamField(TeamIx),
    ReviewRequested(SimReviewer),
    Reviewed(ReviewState),
    Commented {
        mention: Option<TeamIx>,
    },
    Committed {
        co_author: Option<PersonIx>,
    },
    Closed {
        completed: bool,
    },
    Reopened,
    Merged,
    /// Reverted by the item at this position of the same slot.
    Reverted {
        by: u8,
    },
    /// Supersedes the item at this position of the same slot.
    Supersedes {
        target: u8,
    },
    ConvertedToDraft,
    ReadyForReview,
}

#[derive(Debug, Clone, Copy)]
struct SimEvent {
    at: Ts,
    actor: Actor,
    kind: SimKind,
}

#[derive(Debug, Clone, Copy)]
struct Repo {
    team: TeamIx,
    n: u16,
}

#[derive(Debug, Clone, Copy)]
enum Title {
    Work { kind: ItemKind, seed: u32 },
    Decision { variant: u8, seed: u32 },
    Supersede { variant: u8, seed: u32 },
    Revert { seed: u32 },
}

#[derive(Debug, Clone)]
struct SimItem {
    kind: ItemKind,
    number: u64,
    repo: Repo,
    author: PersonIx,
    title: Title,
    created: Ts,
    /// In time order, none later than the slot's lifetime.
    events: Vec<SimEvent>,
}

/// Everything item `index` brings: the item and its companion, if any.
#[derive(Debug, Clone)]
struct Slot {
    items: Vec<SimItem>,
    /// Time of the slot's first and last event, so emission skips quiet slots at a glance.
    first_at: Ts,
    last_at: Ts,
}

impl Slot {
    fn new(items: Vec<SimItem>) -> Slot {
        let first_at = items.iter().filter_map(|i| i.events.first()).map(|e| e.at).min().unwrap_or(Ts::MAX);
        let last_at = items.iter().filter_map(|i| i.events.last()).map(|e| e.at).max().unwrap_or(Ts::MIN);
        Slot { items, first_at, last_at }
    }
}

/// Custody state of an issue or ticket while its story is written.
struct Tracked {
    ticket: bool,
    label: Option<TeamIx>,
    assignee: Option<PersonIx>,
    status: u8,
    holder: TeamIx,
}

/// Writes the story of one slot from its own random stream.
struct Story<'o> {
    org: &'o Org,
    rng: Rng,
    events: Vec<SimEvent>,
    /// No event after this (creation + MAX_LIFETIME).
    limit: Ts,
}

impl<'o> Story<'o> {
    fn by(&mut self, at: Ts, person: PersonIx, kind: SimKind) {
        self.events.push(SimEvent { at, actor: Actor::Person(person), kind });
    }

    /// A lognormal duration in whole seconds (at least one).
    fn wait(&mut self, median: f64, sigma: f64) -> Ts {
        (self.rng.lognormal(median, sigma).round() as Ts).clamp(1, 2 * MAX_LIFETIME)
    }

    fn team(&mut self) -> TeamIx {
        self.rng.below(self.org.team_count() as u64) as TeamIx
    }

    /// Another team than `team` (the same one in a one-team organisation).
    fn other_team(&mut self, team: TeamIx) -> TeamIx {
        let n = self.org.team_count() as u64;
        if n < 2 {
            return team;
        }
        ((team as u64 + 1 + self.rng.below(n - 1)) % n) as TeamIx
    }

    fn member(&mut self, team: TeamIx, at: Ts) -> PersonIx {
        self.org.member(team, at, &mut self.rng)
    }

    fn repo_of(&mut self, team: TeamIx) -> Repo {
        let n = self.org.teams[team as usize].repos.len() as u64;
        Repo { team, n: self.rng.below(n) as u16 }
    }

    fn mention(&mut self, besides: TeamIx) -> Option<TeamIx> {
        if self.rng.chance(P_COMMENT_MENTION) {
            let t = self.other_team(besides);
            (t != besides).then_some(t)
        } else {
            None
        }
    }

    fn comment_by_team(&mut self, at: Ts, team: TeamIx) {
        let m = self.member(team, at);
        let mention = self.mention(team);
        self.by(at, m, SimKind::Commented { mention });
    }

    fn commit(&mut self, at: Ts, author: PersonIx, team: TeamIx) {
        let mut co_author = None;
        if self.rng.chance(P_CO_AUTHOR) {
            let other = self.other_team(team);
            if other != team {
                co_author = Some(self.member(other, at));
            }
        }
        self.by(at, author, SimKind::Committed { co_author });
    }

    fn set_status(&mut self, at: Ts, actor: PersonIx, w: &mut Tracked, to: u8) {
        self.by(at, actor, SimKind::Status { from: w.status, to });
        w.status = to;
    }

    /// Takes the events written so far as one finished item: time-ordered (stable, so events
    /// of the same second keep their causal order) and cut at the slot's lifetime.
    fn finish(
        &mut self,
        kind: ItemKind,
        number: u64,
        repo: Repo,
        author: PersonIx,
        title: Title,
        created: Ts,
    ) -> SimItem {
        let mut events = std::mem::take(&mut self.events);
        events.sort_by_key(|e| e.at);
        let keep = events.partition_point(|e| e.at <= self.limit);
        events.truncate(keep);
        SimItem { kind, number, repo, author, title, created, events }
    }

    /// Moves custody of an issue or ticket to `to`, done by `actor` (a member of the holder).
    /// The new owner is added before the old one is removed, in the same second, so custody
    /// goes straight from the holder to `to` whatever rule the reader applies to two labels.
    fn hand_over(&mut self, w: &mut Tracked, at: Ts, actor: PersonIx, to: TeamIx) {
        if w.ticket {
            if w.status == STATUS_IN_PROGRESS || w.status == STATUS_IN_REVIEW {
                self.set_status(at, actor, w, STATUS_TO_DO);
            }
            self.by(at, actor, SimKind::TeamField(to));
        } else if let Some(old) = w.label {
            self.by(at, actor, SimKind::Labeled(Label::Team(to)));
            self.by(at, actor, SimKind::Unlabeled(Label::Team(old)));
            w.label = Some(to);
            if let Some(assignee) = w.assignee
                && self.rng.chance(P_UNASSIGN_ON_RELABEL)
            {
                self.by(at, actor, SimKind::Unassigned(assignee));
                w.assignee = None;
            }
        } else if w.assignee.is_some() || self.rng.chance(P_HAND_OVER_BY_ASSIGNEE) {
            let new = self.member(to, at);
            self.by(at, actor, SimKind::Assigned(new));
            if let Some(old) = w.assignee {
                self.by(at, actor, SimKind::Unassigned(old));
            }
            w.assignee = Some(new);
        } else {
            self.by(at, actor, SimKind::Labeled(Label::Team(to)));
            w.label = Some(to);
        }
        w.holder = to;
    }

    /// A member of `team` reacts to the item (a comment, a self-assignment or a status change).
    fn acknowledge(&mut self, w: &mut Tracked, at: Ts, team: TeamIx) {
        let m = self.member(team, at);
        if w.ticket {
            if w.status == STATUS_TO_DO {
                self.set_status(at, m, w, STATUS_IN_PROGRESS);
            } else {
                let mention = self.mention(team);
                self.by(at, m, SimKind::Commented { mention });
            }
            return;
        }
        let assignee_in_team = w
            .assignee
            .is_some_and(|p| self.org.people[p as usize].tenures.iter().any(|t| t.team == team && t.holds_at(at)));
        if !assignee_in_team && self.rng.chance(P_ACK_BY_SELF_ASSIGN) {
            self.by(at, m, SimKind::Assigned(m));
            if let Some(old) = w.assignee {
                self.by(at, m, SimKind::Unassigned(old));
            }
            w.assignee = Some(m);
        } else {
            let mention = self.mention(team);
            self.by(at, m, SimKind::Commented { mention });
        }
    }

    /// `n` comments after `*t`, by the author, the holding team or a third team.
    fn chatter(&mut self, t: &mut Ts, holder: TeamIx, author: PersonIx, n: u64) {
        for _ in 0..n {
            *t += self.wait(COMMENT_GAP, 1.0);
            let r = self.rng.unit();
            if r < P_COMMENT_BY_AUTHOR {
                let mention = self.mention(holder);
                self.by(*t, author, SimKind::Commented { mention });
            } else if r < 1.0 - P_COMMENT_BY_THIRD_TEAM {
                self.comment_by_team(*t, holder);
            } else {
                let third = self.other_team(holder);
                self.comment_by_team(*t, third);
            }
        }
    }

    /// Closes an issue (one event) or a ticket (status walk, then close). Returns the close time.
    fn close(&mut self, w: &mut Tracked, mut t: Ts, author: PersonIx, completed: bool) -> Ts {
        if !w.ticket {
            let closer = if self.rng.chance(P_AUTHOR_CLOSES) { author } else { self.member(w.holder, t) };
            self.by(t, closer, SimKind::Closed { completed });
            return t;
        }
        let m = self.member(w.holder, t);
        if !completed {
            self.set_status(t, m, w, STATUS_WONT_DO);
            self.by(t, m, SimKind::Closed { completed: false });
            return t;
        }
        if w.status == STATUS_TO_DO {
            self.set_status(t, m, w, STATUS_IN_PROGRESS);
            t += self.wait(TICKET_STAGE, 1.0);
        }
        let m = self.member(w.holder, t);
        self.set_status(t, m, w, STATUS_IN_REVIEW);
        t += self.wait(TICKET_STAGE, 1.0);
        let m = self.member(w.holder, t);
        self.set_status(t, m, w, STATUS_DONE);
        self.by(t, m, SimKind::Closed { completed: true });
        t
    }

    fn reopen(&mut self, w: &mut Tracked, at: Ts, by: PersonIx) {
        if w.ticket {
            self.set_status(at, by, w, STATUS_TO_DO);
        }
        self.by(at, by, SimKind::Reopened);
    }

    /// First response, handoffs (with stalls and bounces), chatter and close of an issue or a
    /// ticket requested by `author` of team `requester`. Returns when it was closed as completed
    /// (for decisions: made), or None when it stalled or was closed otherwise.
    fn work(
        &mut self,
        w: &mut Tracked,
        created: Ts,
        requester: TeamIx,
        author: PersonIx,
        decision: bool,
    ) -> Option<Ts> {
        let owner = w.holder;
        let first_response =
            if requester != owner { self.org.pair_median(requester, owner) } else { SAME_TEAM_RESPONSE };
        let mut t = created + self.wait(first_response, SIGMA_LATENCY);
        self.acknowledge(w, t, owner);

        let r = self.rng.unit();
        let mut acc = 0.0;
        let handoffs = HANDOFF_COUNT_WEIGHTS.iter().take_while(|p| {
            acc += **p;
            r >= acc
        });
        let handoffs = handoffs.count();
        for _ in 0..handoffs {
            t += self.wait(WORK_STEP, 1.0);
            let from = w.holder;
            let to = self.other_team(from);
            if to == from {
                break;
            }
            let actor = self.member(from, t);
            self.hand_over(w, t, actor, to);
            let outcome = self.rng.unit();
            if outcome < P_NEVER_ACKNOWLEDGED {
                // Nobody in `to` ever reacts. Most such items end with the handing team giving up
                // and closing them weeks later; the rest stay open for ever (long-stalled work).
                if self.rng.chance(P_STALL_GIVEN_UP) {
                    let give_up =
                        (t + self.wait(STALL_GIVE_UP_AFTER, 0.6)).min(created + MAX_LIFETIME - DAY).max(t + 1);
                    let m = self.member(from, give_up);
                    self.by(give_up, m, SimKind::Closed { completed: false });
                }
                return None;
            }
            if outcome < P_NEVER_ACKNOWLEDGED + P_BOUNCE {
                let latency = self.wait(self.org.pair_median(from, to) * BOUNCE_LATENCY_FACTOR, 0.8);
                let back = t + latency.min(BOUNCE_MAX);
                let m = self.member(to, back);
                if self.rng.chance(P_BOUNCE_COMMENT) {
                    self.by(back, m, SimKind::Commented { mention: None });
                }
                self.hand_over(w, back, m, from);
                t = back + self.wait(self.org.pair_median(to, from), SIGMA_LATENCY);
                self.acknowledge(w, t, from);
            } else {
                t += self.wait(self.org.pair_median(from, to), SIGMA_LATENCY);
                self.acknowledge(w, t, to);
            }
        }

        let comments = if decision { 2 + self.rng.below(3) } else { self.rng.below(3) };
        if decision {
            // A decision is discussed by the requester's team and the owner's before it is made.
            t += self.wait(COMMENT_GAP, 1.0);
            self.comment_by_team(t, requester);
        }
        self.chatter(&mut t, w.holder, author, comments);
        t += self.wait(CLOSE_AFTER, 1.0);
        let p_completed = if decision {
            P_DECISION_ACCEPTED
        } else if w.ticket {
            1.0 - P_TICKET_WONT_DO
        } else {
            P_CLOSED_COMPLETED
        };
        let completed = self.rng.chance(p_completed);
        let closed = self.close(w, t, author, completed);
        if !decision && self.rng.chance(P_REOPEN) {
            let at = closed + self.wait(REOPEN_AFTER, 0.8);
            let by = if self.rng.chance(P_AUTHOR_REOPENS) { author } else { self.member(w.holder, at) };
            self.reopen(w, at, by);
            let ack = at + self.wait(SAME_TEAM_RESPONSE, SIGMA_LATENCY);
            self.acknowledge(w, ack, w.holder);
            let again = ack + self.wait(CLOSE_AFTER, 1.0);
            self.close(w, again, author, true);
            return None;
        }
        completed.then_some(closed)
    }

    fn issue(&mut self, number: u64, created: Ts) -> Vec<SimItem> {
        let requester = self.team();
        let author = self.member(requester, created);
        let owner = if self.rng.chance(P_CROSS_TEAM_REQUEST) { self.other_team(requester) } else { requester };
        let repo = self.repo_of(owner);
        let seed = self.rng.next_u64() as u32;
        let decision = if self.rng.chance(P_DECISION) {
            // `decision` 3 in 5, `adr` 1 in 5, `rfc` 1 in 5.
            Some(match self.rng.below(5) {
                0 => 1,
                1 => 2,
                _ => 0,
            })
        } else {
            None
        };
        self.by(created, author, SimKind::Opened);
        if let Some(variant) = decision {
            self.by(created, author, SimKind::Labeled(Label::Decision(variant)));
        }
        let mut w = Tracked { ticket: false, label: None, assignee: None, status: STATUS_NONE, holder: owner };
        if self.rng.chance(P_INITIAL_TEAM_LABEL) {
            self.by(created, author, SimKind::Labeled(Label::Team(owner)));
            w.label = Some(owner);
        }
        if self.rng.chance(P_RELEASE_ROBOT_LABEL) {
            let at = created + self.wait(BOT_DELAY, 1.0);
            let label = self.rng.below(BOT_LABELS.len() as u64) as u8;
            self.events.push(SimEvent { at, actor: Actor::ReleaseRobot, kind: SimKind::Labeled(Label::Bot(label)) });
        }
        let made = self.work(&mut w, created, requester, author, decision.is_some());

        let mut supersede_after = None;
        if let (Some(_), Some(made)) = (decision, made) {
            let outcome = self.rng.unit();
            if outcome < P_DECISION_REOPENED {
                let at = made + self.wait(DECISION_RECONSIDER_AFTER, 0.7);
                let doubter_team = self.team();
                let doubter = self.member(doubter_team, at);
                self.by(at, doubter, SimKind::Reopened);
                let mut t = at + self.wait(COMMENT_GAP, 1.0);
                self.comment_by_team(t, doubter_team);
                t += self.wait(COMMENT_GAP, 1.0);
                self.comment_by_team(t, w.holder);
                t += self.wait(CLOSE_AFTER, 1.0);
                self.close(&mut w, t, author, true);
            } else if outcome < P_DECISION_REOPENED + P_DECISION_RENEWED {
                // Discussion resumes: 3–5 comments alternating between two teams.
                let teams = [w.holder, self.other_team(w.holder)];
                let n = 3 + self.rng.below(3);
                let mut t = made + self.wait(DECISION_RECONSIDER_AFTER, 0.7);
                for k in 0..n {
                    let m = self.member(teams[k as usize % 2], t);
                    self.by(t, m, SimKind::Commented { mention: None });
                    t += self.wait(COMMENT_GAP, 1.0);
                }
            } else if outcome < P_DECISION_REOPENED + P_DECISION_RENEWED + P_DECISION_SUPERSEDED {
                supersede_after = Some(made);
            }
        }
        let title = match decision {
            Some(variant) => Title::Decision { variant, seed },
            None => Title::Work { kind: ItemKind::Issue, seed },
        };
        let holder = w.holder;
        let mut items = vec![self.finish(ItemKind::Issue, number, repo, author, title, created)];

        // A later decision supersedes this one: a companion issue in the same repository.
        if let (Some(made), Some(variant)) = (supersede_after, decision) {
            let opened = made + self.wait(SUPERSEDE_AFTER, 0.6);
            let linked = opened + self.wait(LINK_AFTER_OPEN, 0.8).min(HOUR);
            if linked <= self.limit {
                let team = self.team();
                let b = self.member(team, opened);
                self.by(opened, b, SimKind::Opened);
                self.by(opened, b, SimKind::Labeled(Label::Decision(variant)));
                self.by(linked, b, SimKind::Supersedes { target: 0 });
                let mut t = linked + self.wait(COMMENT_GAP, 1.0);
                self.comment_by_team(t, holder);
                t += self.wait(COMMENT_GAP, 1.0);
                self.comment_by_team(t, team);
                t += self.wait(CLOSE_AFTER, 1.0);
                let closer = self.member(team, t);
                self.by(t, closer, SimKind::Closed { completed: true });
                let title = Title::Supersede { variant, seed };
                items.push(self.finish(ItemKind::Issue, COMPANION_NUMBER_BASE + number, repo, b, title, opened));
            }
        }
        items
    }

    fn ticket(&mut self, number: u64, created: Ts) -> Vec<SimItem> {
        let requester = self.team();
        let author = self.member(requester, created);
        let owner = if self.rng.chance(P_TICKET_OTHER_TEAM) { self.other_team(requester) } else { requester };
        let repo = self.repo_of(owner);
        let seed = self.rng.next_u64() as u32;
        let mut w = Tracked { ticket: true, label: None, assignee: None, status: STATUS_NONE, holder: owner };
        self.by(created, author, SimKind::Opened);
        self.set_status(created, author, &mut w, STATUS_TO_DO);
        self.by(created, author, SimKind::TeamField(owner));
        self.work(&mut w, created, requester, author, false);
        vec![self.finish(ItemKind::Ticket, number, repo, author, Title::Work { kind: ItemKind::Ticket, seed }, created)]
    }

    /// Picks the team asked for a cross-team review of `author_team`'s pull request, weighted by
    /// how readily each team reviews that team's work.
    fn reviewer_team(&mut self, author_team: TeamIx) -> TeamIx {
        let n = self.org.team_count() as TeamIx;
        let total: f64 = (0..n).filter(|z| *z != author_team).map(|z| self.org.propensity(z, author_team)).sum();
        let mut r = self.rng.unit() * total;
        for z in (0..n).filter(|z| *z != author_team) {
            r -= self.org.propensity(z, author_team);
            if r < 0.0 {
                return z;
            }
        }
        self.other_team(author_team)
    }

    fn pull_request(&mut self, number: u64, created: Ts) -> Vec<SimItem> {
        let team = self.team();
        let author = self.member(team, created);
        let repo_team = if self.rng.chance(P_PR_OTHER_REPO) { self.other_team(team) } else { team };
        let repo = self.repo_of(repo_team);
        let seed = self.rng.next_u64() as u32;
        self.by(created, author, SimKind::Opened);
        let draft = self.rng.chance(P_DRAFT);
        if draft {
            self.by(created, author, SimKind::ConvertedToDraft);
        }
        let mut t = created;
        for _ in 0..1 + self.rng.below(3) {
            self.commit(t, author, team);
            t += self.wait(COMMIT_GAP, 1.0);
        }
        let ready = if draft { t + self.wait(DRAFT_DURATION, 0.8) } else { t };
        let request_at = if draft && self.rng.chance(P_REQUEST_WHILE_DRAFT) { t } else { ready };

        let mut requests: Vec<(SimReviewer, TeamIx)> = Vec::with_capacity(2);
        if self.rng.chance(P_SAME_TEAM_REVIEW)
            && let Some(mate) = self.org.pick_member(team, request_at, Some(author), &mut self.rng)
        {
            requests.push((SimReviewer::Person(mate), team));
        }
        let cross = if repo_team != team {
            Some(repo_team)
        } else if self.org.team_count() > 1 && self.rng.chance(P_CROSS_TEAM_REVIEW) {
            Some(self.reviewer_team(team))
        } else {
            None
        };
        if let Some(z) = cross {
            let reviewer = if self.rng.chance(P_TEAM_HANDLE_REQUEST) {
                SimReviewer::Team(z)
            } else {
                SimReviewer::Person(self.member(z, request_at))
            };
            requests.push((reviewer, z));
        }
        for (reviewer, _) in &requests {
            self.by(request_at, author, SimKind::ReviewRequested(*reviewer));
        }
        if draft {
            self.by(ready, author, SimKind::ReadyForReview);
        }

        let mut last = ready;
        for (reviewer, z) in requests {
            let same = z == team;
            let p = if same {
                P_SAME_TEAM_REVIEWS
            } else {
                CROSS_REVIEW_BASE + CROSS_REVIEW_SPAN * self.org.propensity(z, team)
            };
            if !self.rng.chance(p) {
                continue;
            }
            let median = if same { SAME_TEAM_PICKUP } else { self.org.pair_median(team, z) };
            let at = ready + self.wait(median, SIGMA_LATENCY);
            let who = match reviewer {
                SimReviewer::Person(p) => p,
                SimReviewer::Team(z) => self.member(z, at),
            };
            let r = self.rng.unit();
            let state = if r < P_APPROVED {
                ReviewState::Approved
            } else if r < P_APPROVED + P_CHANGES_REQUESTED {
                ReviewState::ChangesRequested
            } else {
                ReviewState::Commented
            };
            if !same && self.rng.chance(P_REVIEWER_COMMENTS) {
                self.by(at, who, SimKind::Commented { mention: None });
            }
            self.by(at, who, SimKind::Reviewed(state));
            last = last.max(at);
            if state == ReviewState::ChangesRequested {
                let fix = at + self.wait(FIX_AFTER_REVIEW, 1.0);
                self.commit(fix, author, team);
                let again = fix + self.wait(median * 0.5, SIGMA_LATENCY);
                self.by(again, who, SimKind::Reviewed(ReviewState::Approved));
                last = last.max(again);
            }
        }

        let mut revert = None;
        let outcome = self.rng.unit();
        if outcome < P_MERGED {
            let merged = last + self.wait(MERGE_AFTER_REVIEW, 1.0);
            let merger = if repo_team != team && self.rng.chance(P_MERGED_BY_REPO_OWNER) {
                self.member(repo_team, merged)
            } else {
                author
            };
            self.by(merged, merger, SimKind::Merged);
            if self.rng.chance(P_DEPLOY_BOT_COMMENT) {
                let at = merged + self.wait(BOT_DELAY, 1.0);
                self.events.push(SimEvent { at, actor: Actor::DeployBot, kind: SimKind::Commented { mention: None } });
            }
            if self.rng.chance(P_REVERT) {
                let opened = merged + self.wait(REVERT_AFTER, 0.8);
                let reverter = self.member(team, opened);
                let approver = self.org.pick_member(team, opened, Some(reverter), &mut self.rng);
                let approved = opened + self.wait(REVERT_REVIEW, 0.8);
                let revert_merged = approved + self.wait(REVERT_MERGE, 0.8);
                if revert_merged <= self.limit {
                    self.by(revert_merged, reverter, SimKind::Reverted { by: 1 });
                    revert = Some((opened, reverter, approver, approved, revert_merged));
                }
            }
        } else if outcome < P_MERGED + P_PR_CLOSED_UNMERGED {
            let at = last + self.wait(ABANDON_AFTER, 1.0);
            self.by(at, author, SimKind::Closed { completed: false });
        }
        let mut items = vec![self.finish(
            ItemKind::PullRequest,
            number,
            repo,
            author,
            Title::Work { kind: ItemKind::PullRequest, seed },
            created,
        )];
        if let Some((opened, reverter, approver, approved, merged)) = revert {
            self.by(opened, reverter, SimKind::Opened);
            self.by(opened, reverter, SimKind::Committed { co_author: None });
            if let Some(approver) = approver {
                self.by(opened, reverter, SimKind::ReviewRequested(SimReviewer::Person(approver)));
                self.by(approved, approver, SimKind::Reviewed(ReviewState::Approved));
            }
            self.by(merged, reverter, SimKind::Merged);
            let number = COMPANION_NUMBER_BASE + number;
            items.push(self.finish(ItemKind::PullRequest, number, repo, reverter, Title::Revert { seed }, opened));
        }
        items
    }
}

// ---------------------------------------------------------------------------------------------
// The world of one anchor: the organisation and the cache of simulated slots.
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct World {
    anchor: Ts,
    seed: u64,
    /// Seconds between item creations; None when no items are created.
    spacing: Option<f64>,
    org: Org,
    /// Slot index of `slots[0]`.
    first: u64,
    /// A contiguous run of simulated slots, so a backfill in small steps simulates each item once.
    slots: VecDeque<Slot>,
}

impl World {
    fn new(cfg: &SimulatorConfig, anchor: Ts) -> World {
        let spacing = (cfg.items_per_day > 0.0).then(|| DAY as f64 / cfg.items_per_day);
        World { anchor, seed: cfg.seed, spacing, org: Org::build(cfg, anchor), first: 0, slots: VecDeque::new() }
    }

    fn created_at(&self, index: u64, spacing: f64) -> Ts {
        let jitter = Rng::for_stream(self.seed, STREAM_CREATED, index).unit() * CREATION_JITTER;
        self.anchor + 1 + ((index as f64 + jitter) * spacing).floor() as Ts
    }

    /// Slot indexes that cover every item created in `(after, until]` (a few more at the edges).
    fn index_range(&self, after: Ts, until: Ts) -> (u64, u64) {
        let Some(spacing) = self.spacing else {
            return (0, 0);
        };
        if until <= self.anchor {
            return (0, 0);
        }
        let first = (after.saturating_sub(self.anchor + 1) as f64 / spacing).floor() - 1.0;
        let end = (until.saturating_sub(self.anchor + 1) as f64 / spacing).floor() + 2.0;
        (first.max(0.0) as u64, end.max(0.0) as u64)
    }

    fn simulate(&self, index: u64) -> Slot {
        let Some(spacing) = self.spacing else {
            return Slot::new(Vec::new());
        };
        let created = self.created_at(index, spacing);
        let mut story = Story {
            org: &self.org,
            rng: Rng::for_stream(self.seed, STREAM_ITEM, index),
            events: Vec::with_capacity(24),
            limit: created + MAX_LIFETIME,
        };
        let number = index + 1;
        let kind = story.rng.unit();
        let items = if kind < SHARE_ISSUE {
            story.issue(number, created)
        } else if kind < SHARE_ISSUE + SHARE_PULL_REQUEST {
            story.pull_request(number, created)
        } else {
            story.ticket(number, created)
        };
        Slot::new(items)
    }

    /// Makes the cache hold slots `[lo, hi)`, simulating only the ones it lacks.
    fn cover(&mut self, lo: u64, hi: u64) {
        if lo >= hi {
            return;
        }
        let end = self.first + self.slots.len() as u64;
        if self.slots.is_empty() || hi <= self.first || lo >= end {
            self.slots.clear();
            self.first = lo;
        }
        while self.first > lo {
            let slot = self.simulate(self.first - 1);
            self.slots.push_front(slot);
            self.first -= 1;
        }
        while self.first + (self.slots.len() as u64) < hi {
            let slot = self.simulate(self.first + self.slots.len() as u64);
            self.slots.push_back(slot);
        }
    }

    /// Drops cached slots below `keep_from`.
    fn forget_before(&mut self, keep_from: u64) {
        while self.first < keep_from && !self.slots.is_empty() {
            self.slots.pop_front();
            self.first += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Emission: compact events → model events.
// ---------------------------------------------------------------------------------------------

fn push_decimal(s: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        s.push(b as char);
    }
}

struct Emitter<'a> {
    source: &'a str,
    org: &'a Org,
}

impl Emitter<'_> {
    fn repo(&self, repo: Repo) -> &str {
        &self.org.teams[repo.team as usize].repos[repo.n as usize]
    }

    fn key(&self, item: &SimItem) -> String {
        let repo = self.repo(item.repo);
        let mut key = String::with_capacity(self.source.len() + repo.len() + 12);
        key.push_str(self.source);
        key.push(':');
        key.push_str(repo);
        key.push('#');
        push_decimal(&mut key, item.number);
        key
    }

    fn identity(&self, person: PersonIx) -> String {
        self.org.people[person as usize].identity.clone()
    }

    /// The identity `person` acts under on an item: on tickets, a split person's tracker account.
    fn identity_on(&self, person: PersonIx, ticket: bool) -> String {
        match &self.org.people[person as usize].tracker {
            Some((account, _)) if ticket => account.clone(),
            _ => self.identity(person),
        }
    }

    fn label(&self, label: Label) -> String {
        match label {
            Label::Team(t) => self.org.teams[t as usize].label.clone(),
            Label::Decision(v) => DECISION_LABELS[v as usize].to_string(),
            Label::Bot(v) => BOT_LABELS[v as usize].to_string(),
        }
    }

    fn title(&self, item: &SimItem) -> String {
        let pick = |list: &[&'static str], seed: u32, salt: u32| list[(seed.rotate_left(salt) as usize) % list.len()];
        match item.title {
            Title::Work { kind: ItemKind::PullRequest, seed } => {
                format!("{} {}", pick(&PR_VERBS, seed, 0), pick(&OBJECTS, seed, 8))
            }
            Title::Work { kind: ItemKind::Ticket, seed } => {
                format!(
                    "{} {} for {}",
                    pick(&ISSUE_VERBS, seed, 0),
                    pick(&OBJECTS, seed, 8),
                    self.org.teams[item.repo.team as usize].name
                )
            }
            Title::Work { seed, .. } => format!("{} {}", pick(&ISSUE_VERBS, seed, 0), pick(&OBJECTS, seed, 8)),
            Title::Decision { variant, seed } => {
                format!("{}: {}", DECISION_PREFIXES[variant as usize], pick(&DECISION_OBJECTS, seed, 4))
            }
            Title::Supersede { variant, seed } => {
                format!("{}: revisit \"{}\"", DECISION_PREFIXES[variant as usize], pick(&DECISION_OBJECTS, seed, 4))
            }
            Title::Revert { seed } => format!("Revert \"{} {}\"", pick(&PR_VERBS, seed, 0), pick(&OBJECTS, seed, 8)),
        }
    }

    fn kind(&self, kind: SimKind, keys: &[String], ticket: bool) -> EventKind {
        let status = |s: u8| STATUSES[s as usize];
        match kind {
            SimKind::Opened => EventKind::Opened,
            SimKind::Assigned(p) => EventKind::Assigned { assignee: self.identity_on(p, ticket) },
            SimKind::Unassigned(p) => EventKind::Unassigned { assignee: self.identity_on(p, ticket) },
            SimKind::Labeled(l) => EventKind::Labeled { label: self.label(l) },
            SimKind::Unlabeled(l) => EventKind::Unlabeled { label: self.label(l) },
            SimKind::Status { from, to } => EventKind::StatusChanged {
                from: (from != STATUS_NONE).then(|| status(from).0.to_string()),
                to: status(to).0.to_string(),
                category: Some(status(to).1),
            },
            SimKind::TeamField(t) => EventKind::TeamFieldChanged { to: Some(self.org.teams[t as usize].name.clone()) },
            SimKind::ReviewRequested(r) => EventKind::ReviewRequested {
                reviewer: match r {
                    SimReviewer::Person(p) => Reviewer::Person(self.identity_on(p, ticket)),
                    SimReviewer::Team(t) => Reviewer::Team(self.org.teams[t as usize].handle.clone()),
                },
            },
            SimKind::Reviewed(state) => EventKind::Reviewed { state },
            SimKind::Commented { mention } => EventKind::Commented {
                mentions: mention.map(|t| vec![self.org.teams[t as usize].handle.clone()]).unwrap_or_default(),
            },
            SimKind::Committed { co_author } => EventKind::Committed {
                co_authors: co_author
                    .map(|p| {
                        let person = &self.org.people[p as usize];
                        vec![person.email.clone().unwrap_or_else(|| person.identity.clone())]
                    })
                    .unwrap_or_default(),
            },
            SimKind::Closed { completed } => EventKind::Closed { completed },
            SimKind::Reopened => EventKind::Reopened,
            SimKind::Merged => EventKind::Merged,
            SimKind::Reverted { by } => EventKind::Reverted { by: keys.get(by as usize).cloned() },
            SimKind::Supersedes { target } => EventKind::Linked {
                relation: LinkRelation::Supersedes,
                target: keys.get(target as usize).cloned().unwrap_or_default(),
            },
            SimKind::ConvertedToDraft => EventKind::ConvertedToDraft,
            SimKind::ReadyForReview => EventKind::ReadyForReview,
        }
    }

    /// Emits the events of `slot` in `(from, to]` and the items they touch, as of `to`.
    fn slot(&self, slot: &Slot, from: Ts, to: Ts, items: &mut Vec<Item>, events: &mut Vec<Event>) {
        if slot.last_at <= from || slot.first_at > to {
            return;
        }
        let keys: Vec<String> = slot.items.iter().map(|it| self.key(it)).collect();
        for (item, key) in slot.items.iter().zip(&keys) {
            let start = item.events.partition_point(|e| e.at <= from);
            let end = item.events.partition_point(|e| e.at <= to);
            if start >= end {
                continue;
            }
            let mut prefix = String::with_capacity(self.source.len() + 12);
            prefix.push_str(self.source);
            prefix.push(':');
            push_decimal(&mut prefix, item.number);
            prefix.push('/');
            for (n, e) in item.events.iter().enumerate().take(end).skip(start) {
                let mut id = String::with_capacity(prefix.len() + 3);
                id.push_str(&prefix);
                push_decimal(&mut id, n as u64 + 1);
                let ticket = item.kind == ItemKind::Ticket;
                let actor = match e.actor {
                    Actor::Person(p) => self.identity_on(p, ticket),
                    Actor::DeployBot => DEPLOY_BOT.to_string(),
                    Actor::ReleaseRobot => RELEASE_ROBOT.to_string(),
                };
                events.push(Event {
                    id,
                    item: key.clone(),
                    at: e.at,
                    actor: Some(actor),
                    kind: self.kind(e.kind, &keys, ticket),
                });
            }
            let state = item.events[..end].iter().fold(ItemState::Open, |state, e| match e.kind {
                SimKind::Closed { .. } => ItemState::Closed,
                SimKind::Reopened => ItemState::Open,
                SimKind::Merged => ItemState::Merged,
                _ => state,
            });
            let repo = self.repo(item.repo);
            let path = if item.kind == ItemKind::PullRequest { "pull" } else { "issues" };
            items.push(Item {
                key: key.clone(),
                source: self.source.to_string(),
                kind: item.kind,
                scope: repo.to_string(),
                url: format!("https://sim.example/{repo}/{path}/{}", item.number),
                title: self.title(item),
                author: Some(self.identity_on(item.author, item.kind == ItemKind::Ticket)),
                created_at: item.created,
                updated_at: item.events[end - 1].at,
                state,
                issue_type: match item.title {
                    Title::Work { kind: ItemKind::Ticket, seed } => {
                        Some(TICKET_TYPES[seed as usize % TICKET_TYPES.len()].to_string())
                    }
                    _ => None,
                },
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The source.
// ---------------------------------------------------------------------------------------------

/// The sync position: where the history starts, and up to when it has been delivered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct SimCursor {
    anchor: Ts,
    until: Ts,
}

/// A simulated organisation, seeded and deterministic, served as a source.
#[derive(Debug)]
pub struct Simulator {
    source: String,
    /// The configuration, with sizes clamped to what the simulation supports.
    cfg: SimulatorConfig,
    world: Option<World>,
    /// Where simulated API requests are counted, once the daemon attaches its health metrics.
    health: Option<std::sync::Arc<crate::sources::telemetry::SourceTelemetry>>,
    /// (hour of the steps' `now`, requests made in it) for the simulated rate limit.
    budget: (i64, i64),
}

impl Simulator {
    /// A simulator named `source_name` (the `source` label and the prefix of keys and ids).
    /// Sizes are clamped to at least one team, person and repository per team (at most 1000
    /// each); a negative or non-finite `items_per_day` means no items (at most 1M a day).
    pub fn new(source_name: &str, cfg: SimulatorConfig) -> Simulator {
        let items_per_day =
            if cfg.items_per_day.is_finite() { cfg.items_per_day.clamp(0.0, MAX_ITEMS_PER_DAY) } else { 0.0 };
        let cfg = SimulatorConfig {
            teams: cfg.teams.clamp(1, 1000),
            people_per_team: cfg.people_per_team.clamp(1, 1000),
            repos_per_team: cfg.repos_per_team.clamp(1, 1000),
            items_per_day,
            history_days: cfg.history_days.min(36_500),
            start: cfg.start.map(|s| s.clamp(-MAX_START, MAX_START)),
            ..cfg
        };
        Simulator { source: source_name.to_string(), cfg, world: None, health: None, budget: (0, 0) }
    }

    pub fn config(&self) -> &SimulatorConfig {
        &self.cfg
    }

    /// Where a fresh history starts for a first sync at `now`: `start`, or `now - history_days`
    /// rounded down to a whole (UTC) day.
    pub fn anchor_for(&self, now: Ts) -> Ts {
        let now = now.clamp(-MAX_START, MAX_START);
        self.cfg.start.unwrap_or_else(|| (now - self.cfg.history_days as Ts * DAY).div_euclid(DAY) * DAY)
    }

    /// The organisation: teams (`payments`, `platform`, … then `team-9`…, handles `sim-org/<team>`),
    /// people (`sim:<login>`, two also with an `email:` identity) with dated memberships (about
    /// 5% change team once mid-history), repository owners and two bots.
    pub fn directory(&self, anchor: Ts) -> DirectorySnapshot {
        let anchor = anchor.clamp(-MAX_START, MAX_START);
        match &self.world {
            Some(world) if world.anchor == anchor => world.org.snapshot(),
            _ => Org::build(&self.cfg, anchor).snapshot(),
        }
    }

    /// When people change team in the history that starts at `anchor` (sorted).
    pub fn team_changes(&mut self, anchor: Ts) -> Vec<Ts> {
        let mut changes = self.world_for(anchor).org.team_changes.clone();
        changes.sort_unstable();
        changes
    }

    fn world_for(&mut self, anchor: Ts) -> &mut World {
        let anchor = anchor.clamp(-MAX_START, MAX_START);
        if self.world.as_ref().is_some_and(|w| w.anchor != anchor) {
            self.world = None;
        }
        self.world.get_or_insert_with(|| World::new(&self.cfg, anchor))
    }

    /// All items and events whose event time is in `(from, to]`, for the history that starts at
    /// `anchor`. Deterministic and split-invariant: `generate(a, c)` yields exactly the events of
    /// `generate(a, b)` and `generate(b, c)`; items are reported as of `to`, so the last report
    /// of an item equals the one-shot report. Items come in creation order, each item's events
    /// in time order.
    pub fn generate(&mut self, anchor: Ts, from: Ts, to: Ts) -> (Vec<Item>, Vec<Event>) {
        let mut items = Vec::new();
        let mut events = Vec::new();
        if to <= from {
            return (items, events);
        }
        self.world_for(anchor);
        let source = self.source.as_str();
        let Some(world) = self.world.as_mut() else {
            return (items, events);
        };
        let (lo, hi) = world.index_range(from.saturating_sub(MAX_LIFETIME), to);
        if lo >= hi {
            return (items, events);
        }
        world.cover(lo, hi);
        let emitter = Emitter { source, org: &world.org };
        let in_range = || world.slots.iter().skip((lo - world.first) as usize).take((hi - lo) as usize);
        // Counting first lets the (large) output vectors be allocated once.
        let (mut item_count, mut event_count) = (0, 0);
        for slot in in_range().filter(|s| s.last_at > from && s.first_at <= to) {
            for item in &slot.items {
                let n = item.events.partition_point(|e| e.at <= to) - item.events.partition_point(|e| e.at <= from);
                item_count += (n > 0) as usize;
                event_count += n;
            }
        }
        items.reserve_exact(item_count);
        events.reserve_exact(event_count);
        for slot in in_range() {
            emitter.slot(slot, from, to, &mut items, &mut events);
        }
        // The next step starts at `to`: it needs nothing created before `to - MAX_LIFETIME`.
        let (keep_from, _) = world.index_range(to.saturating_sub(MAX_LIFETIME), to);
        world.forget_before(keep_from);
        (items, events)
    }

    /// One sync step, synchronously: at most one simulated day after the cursor, up to `now`.
    /// The directory comes with the first step and with every step in which someone changes team.
    pub fn sync_step(&mut self, cursor: Option<&str>, now: Ts) -> Result<SyncStep, SourceError> {
        let position = match cursor {
            None => {
                let anchor = self.anchor_for(now);
                SimCursor { anchor, until: anchor }
            }
            Some(text) => {
                let bad = |why: String| SourceError {
                    kind: "malformed",
                    message: format!(
                        "simulator source {:?}: stored cursor {text:?} is not {{\"anchor\":<ts>,\"until\":<ts>}} \
                         ({why}); delete the source's cursor to restart the simulation",
                        self.source
                    ),
                };
                let c = serde_json::from_str::<SimCursor>(text).map_err(|e| bad(e.to_string()))?;
                let valid = -MAX_START..=MAX_START;
                if !valid.contains(&c.anchor) || !valid.contains(&c.until) {
                    return Err(bad(format!("times beyond ±{MAX_START} s")));
                }
                c
            }
        };
        let (anchor, from) = (position.anchor, position.until);
        let until = from.max(now.min(from.saturating_add(DAY)));
        let (items, events) = self.generate(anchor, from, until);
        let membership_changed = self.world_for(anchor).org.team_changes.iter().any(|&t| from < t && t <= until);
        let directory = (cursor.is_none() || membership_changed).then(|| self.directory(anchor));
        let next = SimCursor { anchor, until };
        let cursor = format!("{{\"anchor\":{},\"until\":{}}}", next.anchor, next.until);
        Ok(SyncStep {
            batch: Batch {
                source: self.source.clone(),
                items,
                events,
                directory,
                cursor: Some(cursor),
                ..Batch::default()
            },
            caught_up: until >= now,
        })
    }
}

/// The simulated API's budget: like GitHub's primary limit, requests per clock hour, on the clock
/// of the step's `now` (the daemon's: the wall clock when serving, the demo's simulated time in
/// the demo). Each step counts as one request, so the health metrics of a simulated source move
/// like a real one's.
const SIMULATED_REQUESTS_PER_HOUR: i64 = 5000;

impl Source for Simulator {
    fn name(&self) -> &str {
        &self.source
    }

    /// One part, from the organisation's start (the anchor) to now.
    fn pass_position(&self, cursor: &str, now: Ts) -> Option<crate::sources::PassPosition> {
        let c = serde_json::from_str::<SimCursor>(cursor).ok()?;
        Some(crate::sources::PassPosition {
            parts: 1,
            parts_done: u32::from(c.until >= now),
            from: Some(c.anchor),
            reached: Some(c.until),
            until: now,
        })
    }

    fn step<'a>(&'a mut self, cursor: Option<&'a str>, now: Ts) -> StepFuture<'a> {
        Box::pin(async move {
            let result = self.sync_step(cursor, now);
            if let Some(health) = &self.health {
                let hour = now.div_euclid(HOUR);
                if self.budget.0 != hour {
                    self.budget = (hour, 0);
                }
                self.budget.1 += 1;
                health.record_request(&self.source, if result.is_ok() { "200" } else { "500" });
                health.set_rate_limit_remaining(&self.source, (SIMULATED_REQUESTS_PER_HOUR - self.budget.1).max(0));
            }
            result
        })
    }

    fn attach_health(&mut self, health: std::sync::Arc<crate::sources::telemetry::SourceTelemetry>) {
        self.health = Some(health);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

    use super::*;
    use crate::teams::{Directory, DirectoryBuilder, TeamId};

    /// 2023-11-15T00:00:00Z, a whole day.
    const T0: Ts = 1_700_006_400;

    fn fixed(days_of_history: u32) -> SimulatorConfig {
        SimulatorConfig { start: Some(T0), history_days: days_of_history, ..SimulatorConfig::default() }
    }

    fn directory_of(sim: &Simulator, anchor: Ts) -> Directory {
        let mut b = DirectoryBuilder::new();
        b.snapshot(&sim.directory(anchor));
        b.build()
    }

    fn is_companion(key: &str) -> bool {
        key.rsplit('#').next().and_then(|n| n.parse::<u64>().ok()).is_some_and(|n| n > COMPANION_NUMBER_BASE)
    }

    fn by_id(events: &[Event]) -> BTreeMap<String, Event> {
        events.iter().map(|e| (e.id.clone(), e.clone())).collect()
    }

    fn last_reports(items: impl IntoIterator<Item = Item>) -> BTreeMap<String, Item> {
        items.into_iter().map(|i| (i.key.clone(), i)).collect()
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // Reference outputs of SplitMix64 from state 0 (Vigna's splitmix64.c).
        let mut rng = Rng(SplitMix64::seed_from_u64(0));
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
        let mut r = Rng::for_stream(7, 3, 11);
        assert!((0..1000).all(|_| r.below(5) < 5));
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn lognormal_draws_have_the_asked_median() {
        let mut rng = Rng::for_stream(1, 2, 3);
        let mut draws: Vec<f64> = (0..20_001).map(|_| rng.lognormal(3600.0, 0.9)).collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[10_000];
        assert!((3300.0..3900.0).contains(&median), "median {median}");
        let normals: Vec<f64> = (0..20_000).map(|_| rng.normal()).collect();
        let mean = normals.iter().sum::<f64>() / 20_000.0;
        let var = normals.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 20_000.0;
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.05, "mean {mean} var {var}");
    }

    #[test]
    fn items_are_created_one_slot_apart_after_the_anchor() {
        // 24 items a day: item n (1-based) is created in [T0 + 1 + (n-1)h, T0 + 1 + (n-1)h + 0.9h].
        let mut sim = Simulator::new("sim", SimulatorConfig { items_per_day: 24.0, ..fixed(10) });
        let (items, events) = sim.generate(T0, T0, T0 + DAY);
        let opened: Vec<&Event> =
            events.iter().filter(|e| e.kind == EventKind::Opened && !is_companion(&e.item)).collect();
        assert_eq!(opened.len(), 24);
        for e in &opened {
            let n: i64 = e.item.rsplit('#').next().unwrap().parse().unwrap();
            let slot_start = T0 + 1 + (n - 1) * HOUR;
            assert!(e.at >= slot_start && e.at <= slot_start + 3240, "item {n} at {}", e.at - T0);
            let item = items.iter().find(|i| i.key == e.item).unwrap();
            assert_eq!(item.created_at, e.at);
            assert_eq!(e.id, format!("sim:{n}/1"));
        }
    }

    #[test]
    fn same_seed_gives_the_same_history_and_another_seed_another() {
        let (a_items, a_events) = Simulator::new("sim", fixed(20)).generate(T0, T0, T0 + 20 * DAY);
        let (b_items, b_events) = Simulator::new("sim", fixed(20)).generate(T0, T0, T0 + 20 * DAY);
        assert!(a_events.len() > 10_000, "{}", a_events.len());
        assert_eq!(a_events, b_events);
        assert_eq!(a_items, b_items);
        let (_, c_events) =
            Simulator::new("sim", SimulatorConfig { seed: 43, ..fixed(20) }).generate(T0, T0, T0 + 20 * DAY);
        assert_ne!(a_events, c_events);
    }

    #[test]
    fn generation_is_split_invariant() {
        let end = T0 + 30 * DAY;
        let mut sim = Simulator::new("sim", fixed(30));
        let (one_items, one_events) = sim.generate(T0, T0, end);
        let one = by_id(&one_events);
        assert_eq!(one.len(), one_events.len(), "event ids are unique");

        // The same simulator (its cache now ahead of the steps), then a fresh one with odd steps.
        let mut daily_events = Vec::new();
        let mut daily_items = Vec::new();
        for day in 0..30 {
            let (items, events) = sim.generate(T0, T0 + day * DAY, T0 + (day + 1) * DAY);
            daily_items.extend(items);
            daily_events.extend(events);
        }
        assert_eq!(daily_events.len(), one_events.len());
        assert_eq!(by_id(&daily_events), one);
        assert_eq!(last_reports(daily_items), last_reports(one_items.clone()));

        let mut fresh = Simulator::new("sim", fixed(30));
        let (mut odd_items, mut odd_events) = (Vec::new(), Vec::new());
        let mut t = T0;
        while t < end {
            let next = (t + 7 * HOUR + 13 * MINUTE).min(end);
            let (items, events) = fresh.generate(T0, t, next);
            assert!(events.iter().all(|e| e.at > t && e.at <= next));
            odd_items.extend(items);
            odd_events.extend(events);
            t = next;
        }
        assert_eq!(by_id(&odd_events), one);
        assert_eq!(last_reports(odd_items), last_reports(one_items));
    }

    #[test]
    fn steps_until_caught_up_reproduce_one_shot_generation() {
        let now = T0 + 10 * DAY + 12 * HOUR + 123;
        let cfg = SimulatorConfig { history_days: 10, ..SimulatorConfig::default() };
        let mut sim = Simulator::new("sim-demo", cfg.clone());
        let anchor = T0; // now - 10 days, rounded down to a whole day
        assert_eq!(sim.anchor_for(now), anchor);

        let mut cursor: Option<String> = None;
        let mut steps = Vec::new();
        loop {
            let step = sim.sync_step(cursor.as_deref(), now).unwrap();
            cursor = step.batch.cursor.clone();
            let caught_up = step.caught_up;
            steps.push(step);
            if caught_up {
                break;
            }
            assert!(steps.len() < 20, "never caught up");
        }
        assert_eq!(steps.len(), 11, "10 whole days, then the last half day");
        assert_eq!(cursor.as_deref(), Some(format!("{{\"anchor\":{anchor},\"until\":{now}}}").as_str()));
        assert_eq!(
            steps[0].batch.cursor.as_deref(),
            Some(format!("{{\"anchor\":{anchor},\"until\":{}}}", anchor + DAY).as_str())
        );
        assert!(steps[0].batch.directory.is_some());
        assert!(steps.iter().all(|s| s.batch.source == "sim-demo"));

        // The directory comes again exactly in the steps where someone changes team.
        let changes = sim.team_changes(anchor);
        assert_eq!(changes.len(), 3, "5% of 56 people");
        for (k, step) in steps.iter().enumerate().skip(1) {
            let (from, to) = (anchor + k as Ts * DAY, (anchor + (k as Ts + 1) * DAY).min(now));
            let expected = changes.iter().any(|&t| from < t && t <= to);
            assert_eq!(step.batch.directory.is_some(), expected, "step {k}");
        }

        let stepped: Vec<Event> = steps.iter().flat_map(|s| s.batch.events.clone()).collect();
        let stepped_items = last_reports(steps.iter().flat_map(|s| s.batch.items.clone()));
        let (items, events) = Simulator::new("sim-demo", cfg).generate(anchor, anchor, now);
        assert_eq!(by_id(&stepped), by_id(&events));
        assert_eq!(stepped_items, last_reports(items));

        // Caught up and nothing new: an empty, valid step.
        let again = sim.sync_step(cursor.as_deref(), now).unwrap();
        assert!(again.caught_up && again.batch.events.is_empty() && again.batch.items.is_empty());
        assert_eq!(again.batch.cursor, cursor);
        // Live: two more hours bring the events of those two hours only.
        let live = sim.sync_step(cursor.as_deref(), now + 2 * HOUR).unwrap();
        assert!(live.caught_up && !live.batch.events.is_empty());
        assert!(live.batch.events.iter().all(|e| e.at > now && e.at <= now + 2 * HOUR));

        let err = sim.sync_step(Some("{\"until\":5}"), now).unwrap_err();
        assert_eq!(err.kind, "malformed");
        assert!(err.message.contains("missing field `anchor`"), "{}", err.message);
        assert!(err.message.contains("delete the source's cursor"), "{}", err.message);
        let err = sim.sync_step(Some(&format!("{{\"anchor\":{},\"until\":0}}", i64::MAX)), now).unwrap_err();
        assert_eq!(err.kind, "malformed");
    }

    #[test]
    fn the_directory_names_teams_people_repositories_and_bots() {
        let sim = Simulator::new("sim", SimulatorConfig { teams: 10, ..fixed(90) });
        let snap = sim.directory(T0);
        let names: Vec<&str> = snap.teams.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["payments", "platform", "mobile", "data", "search", "identity", "growth", "infra", "team-9", "team-10"]
        );
        assert_eq!(snap.teams[0].handles, ["sim-org/payments"]);
        assert_eq!(snap.people.len(), 70 + 2);
        assert_eq!(snap.people[0].identities, ["sim:alice"]);
        assert_eq!(snap.people[1].identities, ["sim:bruno", "email:bruno@sim.example"]);
        assert_eq!(snap.people.iter().filter(|p| p.identities.len() == 2).count(), 2);
        let bots: Vec<&SnapshotPerson> = snap.people.iter().filter(|p| p.bot).collect();
        assert_eq!(bots.len(), 2);
        assert_eq!(bots[0].identities, [DEPLOY_BOT]);
        assert_eq!(bots[1].identities, ["sim:release-robot"]);
        let movers: Vec<&SnapshotPerson> = snap.people.iter().filter(|p| p.memberships.len() == 2).collect();
        assert_eq!(movers.len(), 4, "round(5% of 70)");
        for m in movers {
            let (a, b) = (&m.memberships[0], &m.memberships[1]);
            assert_ne!(a.team, b.team);
            assert_eq!(a.until, b.from);
            let at = a.until.unwrap();
            assert!((T0 + 27 * DAY..=T0 + 63 * DAY).contains(&at), "mid-history");
        }
        assert_eq!(snap.scope_owners.len(), 20);
        assert_eq!(snap.scope_owners[0], ("sim-org/payments-1".to_string(), "payments".to_string()));
        assert_eq!(snap.scope_owners[19], ("sim-org/team-10-2".to_string(), "team-10".to_string()));
    }

    #[test]
    fn every_actor_is_a_bot_or_a_member_at_event_time_and_events_are_well_formed() {
        let end = T0 + 60 * DAY;
        let mut sim = Simulator::new("sim", fixed(60));
        let dir = directory_of(&sim, T0);
        let (items, events) = sim.generate(T0, T0, end);
        let items = last_reports(items);
        let mut last_at: HashMap<&str, Ts> = HashMap::new();
        let mut ids = HashSet::new();
        for e in &events {
            assert!(ids.insert(e.id.as_str()), "duplicate id {}", e.id);
            assert!(e.at > T0 && e.at <= end);
            let item = &items[&e.item];
            assert!(e.at >= item.created_at && e.at <= item.created_at + MAX_LIFETIME, "{}", e.id);
            let prev = last_at.insert(e.item.as_str(), e.at).unwrap_or(Ts::MIN);
            assert!(prev <= e.at, "events of {} out of order", e.item);
            let actor = e.actor.as_deref().unwrap();
            if dir.is_bot(actor) {
                assert!(actor == DEPLOY_BOT || actor == RELEASE_ROBOT, "{actor}");
            } else {
                assert!(dir.team_of(actor, e.at).is_some(), "{actor} has no team at {}", e.at);
            }
            match &e.kind {
                EventKind::Assigned { assignee } | EventKind::Unassigned { assignee } => {
                    assert!(dir.team_of(assignee, e.at).is_some(), "{assignee}")
                }
                EventKind::ReviewRequested { reviewer: Reviewer::Person(p) } => assert!(dir.person_of(p).is_some()),
                EventKind::ReviewRequested { reviewer: Reviewer::Team(h) } => assert!(dir.team_by_handle(h).is_some()),
                EventKind::Commented { mentions } => {
                    assert!(mentions.iter().all(|h| dir.team_by_handle(h).is_some()))
                }
                EventKind::Committed { co_authors } => {
                    assert!(co_authors.iter().all(|c| dir.team_of(c, e.at).is_some()), "{co_authors:?}")
                }
                EventKind::Labeled { label } if label.starts_with("team:") => {
                    assert!(dir.label_team(label).is_some())
                }
                EventKind::TeamFieldChanged { to } => {
                    assert!(dir.team_by_name(to.as_deref().unwrap()).is_some())
                }
                _ => {}
            }
        }
        for item in items.values() {
            assert!(item.url.starts_with("https://sim.example/sim-org/"));
            assert!(dir.scope_owner(&item.scope).is_some(), "{}", item.scope);
            let path = if item.kind == ItemKind::PullRequest { "/pull/" } else { "/issues/" };
            assert!(item.url.contains(path), "{}", item.url);
            assert_eq!(item.updated_at, last_at[item.key.as_str()]);
        }
    }

    struct Handoff {
        item: String,
        from: TeamId,
        to: TeamId,
        at: Ts,
        acked_at: Option<Ts>,
    }

    /// Replays custody as SIGNALS.md §2 describes it (first team label, team field, first
    /// assignee, repository owner) and records handoffs and their first reaction by the receiver.
    fn replay_handoffs(dir: &Directory, items: &BTreeMap<String, Item>, events: &[Event]) -> Vec<Handoff> {
        let mut by_item: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
        for e in events {
            by_item.entry(&e.item).or_default().push(e);
        }
        let mut out = Vec::new();
        for (key, evs) in by_item {
            let item = &items[key];
            if item.kind.is_change_request() {
                continue;
            }
            let (mut labels, mut field, mut assignees) = (Vec::<TeamId>::new(), None, Vec::<String>::new());
            let scope = dir.scope_owner(&item.scope);
            let custody = |labels: &Vec<TeamId>, field: Option<TeamId>, assignees: &Vec<String>, at: Ts| {
                labels
                    .first()
                    .copied()
                    .or(field)
                    .or_else(|| assignees.first().and_then(|a| dir.team_of(a, at)))
                    .or(scope)
            };
            let mut holder = custody(&labels, field, &assignees, item.created_at);
            let first = out.len();
            for e in evs {
                let actor = e.actor.as_deref().unwrap();
                if let Some(team) = dir.team_of(actor, e.at) {
                    for h in out[first..].iter_mut().filter(|h: &&mut Handoff| h.acked_at.is_none() && h.to == team) {
                        h.acked_at = Some(e.at);
                    }
                }
                match &e.kind {
                    EventKind::Labeled { label } => labels.extend(dir.label_team(label)),
                    EventKind::Unlabeled { label } => {
                        let t = dir.label_team(label);
                        labels.retain(|l| Some(*l) != t);
                    }
                    EventKind::TeamFieldChanged { to } => field = to.as_deref().and_then(|t| dir.team_by_name(t)),
                    EventKind::Assigned { assignee } => assignees.push(assignee.clone()),
                    EventKind::Unassigned { assignee } => assignees.retain(|a| a != assignee),
                    _ => {}
                }
                let now = custody(&labels, field, &assignees, e.at);
                if let (Some(from), Some(to)) = (holder, now)
                    && from != to
                {
                    out.push(Handoff { item: key.to_string(), from, to, at: e.at, acked_at: None });
                }
                holder = now;
            }
        }
        out
    }

    #[test]
    fn sixty_days_show_handoffs_stalls_bounces_reviews_rework_and_decisions() {
        let end = T0 + 60 * DAY;
        let mut sim = Simulator::new("sim", fixed(60));
        let dir = directory_of(&sim, T0);
        let (items, events) = sim.generate(T0, T0, end);
        let items = last_reports(items);
        let count = |pred: &dyn Fn(&Event) -> bool| events.iter().filter(|e| pred(e)).count();

        // Kinds.
        let regular: Vec<&Item> = items.values().filter(|i| !is_companion(&i.key)).collect();
        let share = |k: ItemKind| regular.iter().filter(|i| i.kind == k).count() as f64 / regular.len() as f64;
        assert_eq!(regular.len(), 7200, "60 days of 120 items");
        assert!((share(ItemKind::Issue) - 0.55).abs() < 0.03, "{}", share(ItemKind::Issue));
        assert!((share(ItemKind::PullRequest) - 0.35).abs() < 0.03);
        assert!((share(ItemKind::Ticket) - 0.10).abs() < 0.02);

        // Handoffs: many pairs, pair-dependent latency, stalls (some recent), bounces.
        let handoffs = replay_handoffs(&dir, &items, &events);
        let pairs: BTreeSet<(TeamId, TeamId)> = handoffs.iter().map(|h| (h.from, h.to)).collect();
        assert!(pairs.len() >= 40, "{} pairs", pairs.len());
        let stalled: Vec<&Handoff> =
            handoffs.iter().filter(|h| h.acked_at.is_none() && items[&h.item].state == ItemState::Open).collect();
        let stalled_share = stalled.len() as f64 / handoffs.len() as f64;
        assert!((0.04..0.14).contains(&stalled_share), "{stalled_share} of {}", handoffs.len());
        assert!(stalled.iter().any(|h| h.at > end - 6 * DAY && h.at < end - 2 * DAY), "a recent stall");
        let bounces = handoffs
            .iter()
            .enumerate()
            .filter(|(k, h)| {
                handoffs[k + 1..]
                    .iter()
                    .take_while(|n| n.item == h.item)
                    .next()
                    .is_some_and(|n| n.from == h.to && n.to == h.from && n.at - h.at <= 7 * DAY)
            })
            .count();
        assert!(bounces as f64 > 0.05 * handoffs.len() as f64, "{bounces} bounces");
        let mut latencies: BTreeMap<(TeamId, TeamId), Vec<Ts>> = BTreeMap::new();
        for h in &handoffs {
            if let Some(a) = h.acked_at {
                latencies.entry((h.from, h.to)).or_default().push(a - h.at);
            }
        }
        let medians: Vec<Ts> = latencies
            .values_mut()
            .filter(|l| l.len() >= 8)
            .map(|l| {
                l.sort_unstable();
                l[l.len() / 2]
            })
            .collect();
        assert!(medians.iter().any(|m| *m < 3 * HOUR), "a fast pair: {medians:?}");
        assert!(medians.iter().any(|m| *m > DAY), "a slow pair: {medians:?}");

        // Reviews across teams, with asymmetric give and take.
        let mut given: HashMap<(TeamId, TeamId), u32> = HashMap::new();
        for e in events.iter().filter(|e| matches!(e.kind, EventKind::Reviewed { .. })) {
            let reviewer = dir.team_of(e.actor.as_deref().unwrap(), e.at).unwrap();
            let author = dir.team_of(items[&e.item].author.as_deref().unwrap(), e.at).unwrap();
            if reviewer != author {
                *given.entry((reviewer, author)).or_default() += 1;
            }
        }
        assert!(given.len() >= 30, "{} cross-team review pairs", given.len());
        let lopsided =
            given.iter().filter(|((a, b), g)| **g >= 10 && **g >= 3 * given.get(&(*b, *a)).copied().unwrap_or(0));
        assert!(lopsided.count() >= 1, "{given:?}");
        assert!(count(&|e| matches!(&e.kind, EventKind::ReviewRequested { reviewer: Reviewer::Team(_) })) > 50);
        assert!(count(&|e| e.kind == EventKind::ConvertedToDraft) > 100);
        assert!(count(&|e| e.kind == EventKind::ReadyForReview) > 100);

        // Rework: reverts by revert pull requests, reopens.
        let reverts: Vec<&Event> = events.iter().filter(|e| matches!(e.kind, EventKind::Reverted { .. })).collect();
        assert!(reverts.len() >= 10, "{} reverts", reverts.len());
        for r in &reverts {
            let EventKind::Reverted { by: Some(by) } = &r.kind else { panic!("revert without its pull request") };
            let revert = &items[by];
            assert!(revert.title.starts_with("Revert \"") && revert.state == ItemState::Merged);
            assert!(revert.created_at < r.at && items[&r.item].state == ItemState::Merged);
        }
        assert!(count(&|e| e.kind == EventKind::Reopened) >= 30);

        // Decisions: made, reopened, superseded by a later item, discussed again by two teams.
        let decision_items: HashSet<&str> = events
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::Labeled { label } if DECISION_LABELS.contains(&label.as_str())))
            .map(|e| e.item.as_str())
            .collect();
        let made: HashMap<&str, Ts> = events
            .iter()
            .filter(|e| decision_items.contains(e.item.as_str()) && e.kind == EventKind::Closed { completed: true })
            .fold(HashMap::new(), |mut m, e| {
                m.entry(e.item.as_str()).or_insert(e.at);
                m
            });
        assert!(made.len() >= 100, "{} decisions made", made.len());
        let supersedes: Vec<&Event> = events.iter().filter(|e| matches!(e.kind, EventKind::Linked { .. })).collect();
        assert!(supersedes.len() >= 5, "{} superseding links", supersedes.len());
        for s in &supersedes {
            let EventKind::Linked { relation: LinkRelation::Supersedes, target } = &s.kind else { unreachable!() };
            assert!(decision_items.contains(s.item.as_str()));
            assert!(made[target.as_str()] < items[&s.item].created_at, "made before the new item is opened");
        }
        let reopened_after_made = events
            .iter()
            .filter(|e| e.kind == EventKind::Reopened && made.get(e.item.as_str()).is_some_and(|m| *m < e.at))
            .count();
        assert!(reopened_after_made >= 3, "{reopened_after_made}");
        let renewed = made
            .iter()
            .filter(|(item, at)| {
                let later: Vec<&Event> = events
                    .iter()
                    .filter(|e| e.item == **item && e.at > **at && matches!(e.kind, EventKind::Commented { .. }))
                    .collect();
                let teams: HashSet<TeamId> =
                    later.iter().filter_map(|e| dir.team_of(e.actor.as_deref().unwrap(), e.at)).collect();
                later.len() >= 3 && teams.len() >= 2
            })
            .count();
        assert!(renewed >= 5, "{renewed} decisions discussed again");

        // Engagement details and bots.
        assert!(count(&|e| matches!(&e.kind, EventKind::Commented { mentions } if !mentions.is_empty())) > 100);
        let co_authored = count(&|e| matches!(&e.kind, EventKind::Committed { co_authors } if !co_authors.is_empty()));
        assert!(co_authored > 50, "{co_authored}");
        assert!(count(&|e| matches!(&e.kind, EventKind::TeamFieldChanged { .. })) > 500);
        assert!(count(&|e| matches!(&e.kind, EventKind::StatusChanged { .. })) > 1000);
        assert!(count(&|e| e.actor.as_deref() == Some(DEPLOY_BOT)) > 100);
        assert!(count(&|e| e.actor.as_deref() == Some(RELEASE_ROBOT)) > 50);
        // People who changed team acted for both teams.
        let snap = sim.directory(T0);
        let movers: Vec<&SnapshotPerson> = snap.people.iter().filter(|p| p.memberships.len() == 2).collect();
        assert_eq!(movers.len(), 3);
        for m in movers {
            let acted: HashSet<TeamId> = events
                .iter()
                .filter(|e| e.actor.as_deref() == Some(m.identities[0].as_str()))
                .filter_map(|e| dir.team_of(&m.identities[0], e.at))
                .collect();
            assert_eq!(acted.len(), 2, "{} acted for {acted:?}", m.name);
        }
    }

    #[test]
    fn odd_configurations_do_not_panic() {
        let tiny =
            SimulatorConfig { teams: 1, people_per_team: 1, repos_per_team: 0, items_per_day: 50.0, ..fixed(20) };
        let (items, events) = Simulator::new("sim", tiny).generate(T0, T0, T0 + 20 * DAY);
        assert!(!items.is_empty() && !events.is_empty());
        assert!(
            events.iter().all(|e| { e.actor.as_deref().is_some_and(|a| a == "sim:alice" || a.starts_with("sim:")) })
        );
        for items_per_day in [0.0, -3.0, f64::NAN, f64::INFINITY] {
            let mut sim = Simulator::new("sim", SimulatorConfig { items_per_day, ..fixed(5) });
            let (items, events) = sim.generate(T0, T0, T0 + 5 * DAY);
            assert!(items.is_empty() && events.is_empty(), "{items_per_day}");
        }
        // Empty and backward ranges, also with a warm cache ahead of them.
        let mut sim = Simulator::new("sim", fixed(5));
        assert!(!sim.generate(T0, T0 + 3 * DAY, T0 + 4 * DAY).1.is_empty());
        assert_eq!(sim.generate(T0, T0 + DAY, T0), (Vec::new(), Vec::new()));
        assert_eq!(sim.generate(T0, T0 - 10 * DAY, T0), (Vec::new(), Vec::new()));
        assert!(!sim.generate(T0, T0, T0 + HOUR).1.is_empty());
        // Absurd clocks are survived, not trusted.
        let mut live = Simulator::new("sim", SimulatorConfig { items_per_day: 5.0, ..SimulatorConfig::default() });
        for now in [i64::MIN, -1, i64::MAX] {
            let step = live.sync_step(None, now).unwrap();
            assert!(step.batch.cursor.is_some());
        }
    }

    /// The simulated budget counts the requests of each hour of the steps' `now` (the daemon's
    /// clock, which the demo accelerates or stops): a new hour starts a full budget, whatever
    /// the wall clock reads.
    #[test]
    fn the_simulated_budget_resets_with_the_hour_of_the_steps_now() {
        let telemetry = std::sync::Arc::new(crate::sources::telemetry::SourceTelemetry::default());
        let mut sim = Simulator::new("sim", fixed(2));
        sim.attach_health(telemetry.clone());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut step_at = |now: Ts| {
            runtime.block_on(sim.step(None, now)).unwrap();
            telemetry.tally("sim").rate_limit.map(|r| r.remaining)
        };
        let hour = T0 + 2 * DAY;
        assert_eq!(step_at(hour), Some(SIMULATED_REQUESTS_PER_HOUR - 1));
        assert_eq!(step_at(hour + HOUR - 1), Some(SIMULATED_REQUESTS_PER_HOUR - 2));
        assert_eq!(step_at(hour + HOUR), Some(SIMULATED_REQUESTS_PER_HOUR - 1), "a new hour of `now`");
    }
}
