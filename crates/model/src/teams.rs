//! The team directory: people and their identities, teams with dated memberships, bots, and the
//! ownership maps that say which team holds an item. Answers "who is this, in which team, then?".
//! It reads no files (config.rs builds it) and computes no signal (signals/ asks it).

use std::collections::{HashMap, HashSet};

use crate::model::{DirectorySnapshot, Identity, Ts, looks_like_bot};

pub type TeamId = u16;
pub type PersonId = u32;

/// Label name for everything folded under the privacy floor (SIGNALS.md §7).
pub const OTHER_TEAM: &str = "other";

#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub name: String,
    /// Handles sources use for the team: `acme/payments` (GitHub team), `acme/payments` (GitLab
    /// group path). Review requests and mentions addressed to a handle go to the team.
    pub handles: Vec<String>,
    /// Working-hours calendar; when set, stall thresholds count working time only.
    pub calendar: Option<Calendar>,
}

/// A membership of a person in a team, valid in `[from, until)`; open ends are unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub team: TeamId,
    pub from: Option<Ts>,
    pub until: Option<Ts>,
}

impl Membership {
    pub fn holds_at(&self, at: Ts) -> bool {
        self.from.is_none_or(|f| f <= at) && self.until.is_none_or(|u| at < u)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub name: String,
    pub identities: Vec<Identity>,
    pub memberships: Vec<Membership>,
    pub bot: bool,
}

/// Which input decides custody, in the configured order (SIGNALS.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnershipRule {
    /// `team:<name>` labels or the configured label → team map.
    Label,
    /// Workflow status → team (Jira `In QA` → qa).
    Status,
    /// Component → team.
    Component,
    /// The tracker's own team field (Jira custom field), matched to team names and handles.
    TeamField,
    /// The team of the first current assignee.
    Assignee,
    /// The team that owns the repository / project.
    Scope,
}

impl OwnershipRule {
    pub const DEFAULT_ORDER: [OwnershipRule; 6] = [
        OwnershipRule::Label,
        OwnershipRule::Status,
        OwnershipRule::Component,
        OwnershipRule::TeamField,
        OwnershipRule::Assignee,
        OwnershipRule::Scope,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            OwnershipRule::Label => "label",
            OwnershipRule::Status => "status",
            OwnershipRule::Component => "component",
            OwnershipRule::TeamField => "team_field",
            OwnershipRule::Assignee => "assignee",
            OwnershipRule::Scope => "repository",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::DEFAULT_ORDER.into_iter().find(|r| r.as_str() == s)
    }
}

/// A repository / project pattern: exact, or with `*` wildcards (`acme/web-*`, `*/docs`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScopePattern(pub String);

impl ScopePattern {
    pub fn matches(&self, scope: &str) -> bool {
        glob_match(self.0.as_bytes(), scope.as_bytes())
    }
}

fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    // Iterative wildcard match with backtracking to the last `*`: linear for typical patterns.
    let (mut p, mut i, mut star, mut mark) = (0, 0, None, 0);
    while i < s.len() {
        if p < pat.len() && pat[p] != b'*' && pat[p].eq_ignore_ascii_case(&s[i]) {
            p += 1;
            i += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some(p);
            mark = i;
            p += 1;
        } else if let Some(sp) = star {
            p = sp + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// The maps custody is resolved with. Keys of `statuses` and `components` are lower-cased.
#[derive(Debug, Clone, PartialEq)]
pub struct Ownership {
    pub order: Vec<OwnershipRule>,
    /// Labels `<prefix><team name or handle>` give custody to that team.
    pub label_prefix: String,
    pub labels: HashMap<String, TeamId>,
    pub statuses: HashMap<String, TeamId>,
    pub components: HashMap<String, TeamId>,
    /// First match wins; config patterns come before source-provided owners.
    pub scopes: Vec<(ScopePattern, TeamId)>,
}

impl Default for Ownership {
    fn default() -> Self {
        Ownership {
            order: OwnershipRule::DEFAULT_ORDER.to_vec(),
            label_prefix: "team:".into(),
            labels: HashMap::new(),
            statuses: HashMap::new(),
            components: HashMap::new(),
            scopes: Vec::new(),
        }
    }
}

/// A working-hours calendar in a fixed UTC offset: which weekdays, which hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    pub utc_offset: Ts,
    /// Monday = 0 … Sunday = 6.
    pub workdays: [bool; 7],
    /// Working time of day in seconds since local midnight, `[start, end)`.
    pub start: Ts,
    pub end: Ts,
}

impl Calendar {
    /// Seconds of working time in `[from, to)`.
    pub fn working_seconds(&self, from: Ts, to: Ts) -> Ts {
        if to <= from || self.end <= self.start {
            return 0;
        }
        let (lf, lt) = (from + self.utc_offset, to + self.utc_offset);
        let (first_day, last_day) = (lf.div_euclid(crate::model::DAY), lt.div_euclid(crate::model::DAY));
        let per_day = self.end - self.start;
        let mut total = 0;
        let overlap = |day: Ts| {
            let (ds, de) = (day * crate::model::DAY + self.start, day * crate::model::DAY + self.end);
            (de.min(lt) - ds.max(lf)).max(0)
        };
        let workday = |day: Ts| self.workdays[(day + 3).rem_euclid(7) as usize]; // 1970-01-01 was a Thursday
        if first_day == last_day {
            return if workday(first_day) { overlap(first_day) } else { 0 };
        }
        if workday(first_day) {
            total += overlap(first_day);
        }
        if workday(last_day) {
            total += overlap(last_day);
        }
        // Whole days in between: whole weeks at once, then the remainder.
        let mut day = first_day + 1;
        let whole = last_day - day;
        let weeks = whole / 7;
        total += weeks * self.workdays.iter().filter(|w| **w).count() as Ts * per_day;
        day += weeks * 7;
        while day < last_day {
            if workday(day) {
                total += per_day;
            }
            day += 1;
        }
        total
    }
}

/// The resolved directory. Built once per config load (and when a source brings a new snapshot).
#[derive(Debug, Clone, Default)]
pub struct Directory {
    teams: Vec<Team>,
    team_index: HashMap<String, TeamId>,
    handle_index: HashMap<String, TeamId>,
    people: Vec<Person>,
    identity_index: HashMap<Identity, PersonId>,
    bots: HashSet<Identity>,
    pub ownership: Ownership,
}

impl Directory {
    pub fn teams(&self) -> &[Team] {
        &self.teams
    }
    pub fn team(&self, id: TeamId) -> &Team {
        &self.teams[id as usize]
    }
    pub fn team_name(&self, id: TeamId) -> &str {
        &self.teams[id as usize].name
    }
    pub fn people(&self) -> &[Person] {
        &self.people
    }
    pub fn person(&self, id: PersonId) -> &Person {
        &self.people[id as usize]
    }
    pub fn team_by_name(&self, name: &str) -> Option<TeamId> {
        self.team_index.get(&name.to_ascii_lowercase()).copied().or_else(|| {
            // A name shown neutralised (`pay[U+202E]…`) finds its team too.
            let shown = crate::untrusted::neutralize(name).to_ascii_lowercase();
            self.teams.iter().position(|t| t.name.to_ascii_lowercase() == shown).map(|i| i as TeamId)
        })
    }
    /// A team by a source handle (`acme/payments`) or, failing that, by its name.
    pub fn team_by_handle(&self, handle: &str) -> Option<TeamId> {
        let h = handle.trim_start_matches('@').to_ascii_lowercase();
        self.handle_index.get(&h).copied().or_else(|| self.team_index.get(&h).copied())
    }
    pub fn person_of(&self, identity: &str) -> Option<PersonId> {
        self.identity_index.get(identity).copied()
    }
    /// Bots never belong to a team and never count as a response.
    pub fn is_bot(&self, identity: &str) -> bool {
        looks_like_bot(identity)
            || self.bots.contains(identity)
            || self.person_of(identity).is_some_and(|p| self.people[p as usize].bot)
    }
    /// The team a person belonged to at `at` (the first membership that holds).
    pub fn team_of_person(&self, person: PersonId, at: Ts) -> Option<TeamId> {
        let p = &self.people[person as usize];
        if p.bot {
            return None;
        }
        p.memberships.iter().find(|m| m.holds_at(at)).map(|m| m.team)
    }
    pub fn team_of(&self, identity: &str, at: Ts) -> Option<TeamId> {
        if self.is_bot(identity) {
            return None;
        }
        self.person_of(identity).and_then(|p| self.team_of_person(p, at))
    }
    /// The owner team of a repository / project by the scope rules.
    pub fn scope_owner(&self, scope: &str) -> Option<TeamId> {
        self.ownership.scopes.iter().find(|(p, _)| p.matches(scope)).map(|(_, t)| *t)
    }
    /// The team a label gives custody to, if it is a team label.
    pub fn label_team(&self, label: &str) -> Option<TeamId> {
        if let Some(t) = self.ownership.labels.get(label) {
            return Some(*t);
        }
        let prefix = &self.ownership.label_prefix;
        if !prefix.is_empty() && label.len() > prefix.len() && label[..prefix.len()].eq_ignore_ascii_case(prefix) {
            return self.team_by_handle(&label[prefix.len()..]);
        }
        None
    }
    pub fn status_team(&self, status: &str) -> Option<TeamId> {
        self.ownership.statuses.get(&status.to_ascii_lowercase()).copied()
    }
    pub fn component_team(&self, component: &str) -> Option<TeamId> {
        self.ownership.components.get(&component.to_ascii_lowercase()).copied()
    }
    /// Members of a team at `at`, bots excluded.
    pub fn members_at(&self, team: TeamId, at: Ts) -> impl Iterator<Item = PersonId> + '_ {
        self.people.iter().enumerate().filter_map(move |(i, p)| {
            (!p.bot && p.memberships.iter().any(|m| m.team == team && m.holds_at(at))).then_some(i as PersonId)
        })
    }
    /// People whose memberships overlap in time (two teams at once): (person, team, team).
    pub fn overlapping_memberships(&self) -> Vec<(PersonId, TeamId, TeamId)> {
        let mut out = Vec::new();
        for (pi, p) in self.people.iter().enumerate() {
            for (i, a) in p.memberships.iter().enumerate() {
                for b in &p.memberships[i + 1..] {
                    let starts_before_b_ends = b.until.is_none_or(|u| a.from.is_none_or(|f| f < u));
                    let b_starts_before_a_ends = a.until.is_none_or(|u| b.from.is_none_or(|f| f < u));
                    if a.team != b.team && starts_before_b_ends && b_starts_before_a_ends {
                        out.push((pi as PersonId, a.team, b.team));
                    }
                }
            }
        }
        out
    }
}

/// Builds a [`Directory`] from the config's explicit entries and source snapshots. The config
/// comes first: a snapshot person already known by one of their identities keeps the config's
/// memberships and only adds identities.
#[derive(Debug, Default)]
pub struct DirectoryBuilder {
    dir: Directory,
}

impl DirectoryBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a team (or returns the existing one of that name), registering its handles.
    pub fn team(&mut self, name: &str, handles: &[String], calendar: Option<Calendar>) -> TeamId {
        let key = name.to_ascii_lowercase();
        let id = match self.dir.team_index.get(&key) {
            Some(id) => *id,
            None => {
                let id = self.dir.teams.len() as TeamId;
                self.dir.teams.push(Team { name: name.to_string(), handles: Vec::new(), calendar });
                self.dir.team_index.insert(key, id);
                id
            }
        };
        for h in handles {
            let hk = h.trim_start_matches('@').to_ascii_lowercase();
            self.dir.handle_index.entry(hk).or_insert(id);
            if !self.dir.teams[id as usize].handles.contains(h) {
                self.dir.teams[id as usize].handles.push(h.clone());
            }
        }
        if calendar.is_some() {
            self.dir.teams[id as usize].calendar = calendar;
        }
        id
    }

    pub fn team_id(&self, name: &str) -> Option<TeamId> {
        self.dir.team_by_name(name)
    }

    /// Adds a person; identities already claimed by someone else merge into that person.
    pub fn person(&mut self, name: &str, identities: &[Identity], memberships: Vec<Membership>, bot: bool) -> PersonId {
        if let Some(existing) = identities.iter().find_map(|i| self.dir.identity_index.get(i).copied()) {
            let p = &mut self.dir.people[existing as usize];
            for i in identities {
                if !p.identities.contains(i) {
                    p.identities.push(i.clone());
                }
            }
            if p.memberships.is_empty() {
                p.memberships = memberships;
            }
            p.bot |= bot;
            for i in identities {
                self.dir.identity_index.entry(i.clone()).or_insert(existing);
            }
            return existing;
        }
        let id = self.dir.people.len() as PersonId;
        self.dir.people.push(Person { name: name.to_string(), identities: identities.to_vec(), memberships, bot });
        for i in identities {
            self.dir.identity_index.insert(i.clone(), id);
        }
        id
    }

    pub fn bot(&mut self, identity: Identity) {
        self.dir.bots.insert(identity);
    }

    pub fn ownership_mut(&mut self) -> &mut Ownership {
        &mut self.dir.ownership
    }

    /// Merges a source's snapshot after the config entries. A source team joins the config team
    /// that claims one of its handles (`acme/payments`), else the team of the same name.
    pub fn snapshot(&mut self, snap: &DirectorySnapshot) {
        let mut by_name: HashMap<String, TeamId> = HashMap::new();
        for t in &snap.teams {
            let claimed = t
                .handles
                .iter()
                .find_map(|h| self.dir.handle_index.get(&h.trim_start_matches('@').to_ascii_lowercase()).copied());
            let id = match claimed {
                Some(id) => {
                    let name = self.dir.teams[id as usize].name.clone();
                    self.team(&name, &t.handles, None)
                }
                None => self.team(&t.name, &t.handles, None),
            };
            by_name.insert(t.name.to_ascii_lowercase(), id);
        }
        let resolve = |b: &mut Self, name: &str| match by_name.get(&name.to_ascii_lowercase()) {
            Some(id) => *id,
            None => b.team(name, &[], None),
        };
        for p in &snap.people {
            let ms = p
                .memberships
                .iter()
                .map(|m| Membership { team: resolve(self, &m.team), from: m.from, until: m.until })
                .collect();
            self.person(&p.name, &p.identities, ms, p.bot);
        }
        for (scope, team) in &snap.scope_owners {
            let t = resolve(self, team);
            self.dir.ownership.scopes.push((ScopePattern(scope.clone()), t));
        }
    }

    /// The directory, with every team and person name made safe to show (control and
    /// bidirectional characters by code point: names come from trackers and reach every surface).
    pub fn build(mut self) -> Directory {
        for t in &mut self.dir.teams {
            if let std::borrow::Cow::Owned(safe) = crate::untrusted::neutralize(&t.name) {
                t.name = safe;
            }
        }
        for p in &mut self.dir.people {
            if let std::borrow::Cow::Owned(safe) = crate::untrusted::neutralize(&p.name) {
                p.name = safe;
            }
        }
        self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DAY, HOUR};

    fn dir() -> Directory {
        let mut b = DirectoryBuilder::new();
        let pay = b.team("payments", &["acme/payments".into()], None);
        let plat = b.team("platform", &[], None);
        b.person(
            "Alice",
            &["github:alice".into(), "jira:abc".into()],
            vec![
                Membership { team: pay, from: None, until: Some(1000) },
                Membership { team: plat, from: Some(1000), until: None },
            ],
            false,
        );
        b.ownership_mut().scopes.push((ScopePattern("acme/web-*".into()), plat));
        b.build()
    }

    #[test]
    fn membership_at_event_time() {
        let d = dir();
        assert_eq!(d.team_of("github:alice", 999), d.team_by_name("payments"));
        assert_eq!(d.team_of("jira:abc", 1000), d.team_by_name("platform"));
        assert_eq!(d.team_of("github:nobody", 5), None);
        assert!(d.overlapping_memberships().is_empty());
    }

    #[test]
    fn labels_handles_and_scopes_resolve_to_teams() {
        let d = dir();
        assert_eq!(d.label_team("team:payments"), d.team_by_name("payments"));
        assert_eq!(d.label_team("Team:acme/payments"), d.team_by_name("payments"));
        assert_eq!(d.label_team("bug"), None);
        assert_eq!(d.scope_owner("acme/web-shop"), d.team_by_name("platform"));
        assert_eq!(d.scope_owner("acme/api"), None);
        assert!(glob_match(b"*/docs", b"acme/docs"));
        assert!(!glob_match(b"a*c", b"abd"));
    }

    #[test]
    fn bots_have_no_team() {
        let mut b = DirectoryBuilder::new();
        let t = b.team("x", &[], None);
        b.person("ci", &["github:ci-robot".into()], vec![Membership { team: t, from: None, until: None }], true);
        let d = b.build();
        assert!(d.is_bot("github:ci-robot") && d.is_bot("github:renovate[bot]"));
        assert_eq!(d.team_of("github:ci-robot", 0), None);
    }

    #[test]
    fn source_teams_merge_with_config_teams_by_handle() {
        use crate::model::{SnapshotMembership, SnapshotPerson, SnapshotTeam};
        let mut b = DirectoryBuilder::new();
        let pay = b.team("Payments Squad", &["acme/payments".into()], None);
        b.snapshot(&DirectorySnapshot {
            teams: vec![SnapshotTeam { name: "payments".into(), handles: vec!["acme/payments".into()] }],
            people: vec![SnapshotPerson {
                name: "bob".into(),
                identities: vec!["github:bob".into()],
                memberships: vec![SnapshotMembership { team: "payments".into(), from: None, until: None }],
                bot: false,
            }],
            scope_owners: vec![("acme/pay-api".into(), "payments".into())],
            ..Default::default()
        });
        let d = b.build();
        assert_eq!(d.teams().len(), 1, "the source's team merged into the config team");
        assert_eq!(d.team_of("github:bob", 0), Some(pay));
        assert_eq!(d.scope_owner("acme/pay-api"), Some(pay));
    }

    #[test]
    fn working_seconds_skip_nights_and_weekends() {
        // Mon–Fri 09:00–17:00 UTC. 1970-01-05 was a Monday.
        let cal = Calendar {
            utc_offset: 0,
            workdays: [true, true, true, true, true, false, false],
            start: 9 * HOUR,
            end: 17 * HOUR,
        };
        let monday = 4 * DAY;
        assert_eq!(cal.working_seconds(monday + 8 * HOUR, monday + 10 * HOUR), HOUR);
        // Friday 16:00 → Monday 10:00 = 1h Friday + 1h Monday.
        let friday = monday + 4 * DAY;
        assert_eq!(cal.working_seconds(friday + 16 * HOUR, friday + 3 * DAY + 10 * HOUR), 2 * HOUR);
        // Three whole weeks = 15 working days of 8h.
        assert_eq!(cal.working_seconds(monday, monday + 21 * DAY), 15 * 8 * HOUR);
        // A +02:00 team: 07:00 UTC is 09:00 local.
        let cal2 = Calendar { utc_offset: 2 * HOUR, ..cal };
        assert_eq!(cal2.working_seconds(monday + 7 * HOUR, monday + 8 * HOUR), HOUR);
    }
}
