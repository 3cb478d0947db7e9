//! `siloscope teams suggest`: from the stored data, identities that are probably one person
//! (same e-mail, same display name, a username equal to a login) and the most likely team of
//! active identities in no team, each with its evidence, rendered as a TOML snippet to review.
//! It only reads: it never edits the config, and what it prints stays on the operator's terminal.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::config::Config;
use crate::model::{DirectorySnapshot, Identity, Ts};
use crate::signals::Frame;
use crate::signals::frame::{Ev, NO_SYM, Sym};
use crate::teams::{Directory, PersonId, TeamId};

/// Why two identities are thought to be one person.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Match {
    /// Both profiles (or an `email:` identity) carry this address.
    SameEmail(String),
    SameDisplayName(String),
    /// A Data Center username equal to a login of the other identity.
    UsernameIsLogin(String),
}

impl Match {
    fn describe(&self) -> String {
        match self {
            Match::SameEmail(e) => format!("same e-mail {e}"),
            Match::SameDisplayName(n) => format!("same display name \"{n}\""),
            Match::UsernameIsLogin(u) => format!("username {u} equals a login"),
        }
    }
}

/// An active identity the directory resolves to no team, and what the data says about it.
#[derive(Debug, Clone, PartialEq)]
pub enum Suggestion {
    /// The identities belong to `person`, a person the directory already has.
    SamePerson {
        person: String,
        /// The person's identities as the directory holds them.
        known: Vec<Identity>,
        /// Whether the person is a `[[people]]` entry of the config (then the identities are
        /// added to that entry rather than pasted as a new one).
        in_config: bool,
        /// The new identities with their event counts and evidence.
        identities: Vec<(Identity, u64)>,
        evidence: Vec<(Identity, Identity, Match)>,
    },
    /// One person the directory lacks (possibly under several identities), with their most likely
    /// team (None when nothing points to one).
    NewPerson {
        name: String,
        identities: Vec<(Identity, u64)>,
        evidence: Vec<(Identity, Identity, Match)>,
        team: Option<String>,
        /// Items acted on per team, most first: (team, items, of which by team field).
        team_evidence: Vec<(String, u64, u64)>,
        items_acted_on: u64,
    },
}

impl Suggestion {
    pub fn events(&self) -> u64 {
        match self {
            Suggestion::SamePerson { identities, .. } | Suggestion::NewPerson { identities, .. } => {
                identities.iter().map(|(_, n)| n).sum()
            }
        }
    }
}

/// Profile facts of one identity gathered from every source's snapshot.
#[derive(Debug, Default, Clone)]
struct Facts {
    names: BTreeSet<String>,
    emails: BTreeSet<String>,
    usernames: BTreeSet<String>,
}

fn normalize_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The login part of an identity, for namespaces whose logins are usernames (not e-mail, not a
/// Jira account id).
fn login_of(identity: &str) -> Option<String> {
    let (ns, login) = identity.split_once(':')?;
    (ns != "email" && ns != "jira").then(|| login.to_ascii_lowercase())
}

/// A Jira Data Center username (`jira:alice`), as opposed to a Cloud account id
/// (`jira:5b10ac8d82e05b22cc7d4ef5`, `jira:557058:f5…`): Data Center names people by `name`.
fn data_center_username(identity: &str) -> Option<String> {
    let login = identity.strip_prefix("jira:")?;
    let account_id = login.contains(':') || (login.len() >= 24 && login.chars().all(|c| c.is_ascii_hexdigit()));
    (!account_id && !login.is_empty()).then(|| login.to_ascii_lowercase())
}

/// Computes the suggestions over the whole stored history (`frame` prepared).
pub fn suggest(
    frame: &Frame,
    dir: &Directory,
    config: &Config,
    snapshots: &[(String, DirectorySnapshot)],
) -> Vec<Suggestion> {
    let mut facts: HashMap<Identity, Facts> = HashMap::new();
    for (_, snap) in snapshots {
        for p in &snap.profiles {
            let f = facts.entry(p.identity.clone()).or_default();
            f.names.extend(p.display_name.iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()));
            f.emails.extend(p.emails.iter().map(|e| e.trim().to_ascii_lowercase()).filter(|e| e.contains('@')));
            f.usernames.extend(p.username.iter().map(|u| u.trim().to_ascii_lowercase()).filter(|u| !u.is_empty()));
        }
    }
    for id in facts.keys().cloned().collect::<Vec<_>>() {
        if let Some(email) = id.strip_prefix("email:") {
            facts.entry(id.clone()).or_default().emails.insert(email.to_ascii_lowercase());
        }
    }

    // Active identities the directory resolves to no team at their latest event, with counts.
    let mut latest: HashMap<Sym, (Ts, u64)> = HashMap::new();
    for e in &frame.events {
        if e.actor == NO_SYM {
            continue;
        }
        let entry = latest.entry(e.actor).or_insert((e.at, 0));
        entry.0 = entry.0.max(e.at);
        entry.1 += 1;
    }
    let mut unresolved: BTreeMap<Identity, (Sym, u64)> = BTreeMap::new();
    for (&sym, &(at, n)) in &latest {
        let id = frame.syms.resolve(sym);
        if dir.is_bot(id) {
            continue;
        }
        match dir.person_of(id) {
            None => {
                unresolved.insert(id.to_string(), (sym, n));
            }
            // A known person with no membership at all (not one whose membership ended).
            Some(p) if dir.person(p).memberships.is_empty() && dir.team_of_person(p, at).is_none() => {
                unresolved.insert(id.to_string(), (sym, n));
            }
            Some(_) => {}
        }
    }

    // Nodes: unresolved identities (unknown ones) and the directory's people. Facts per node.
    #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
    enum Node {
        Unknown(usize),
        Person(PersonId),
    }
    let unknown: Vec<&Identity> = unresolved.keys().filter(|id| dir.person_of(id).is_none()).collect();
    let node_facts = |node: Node| -> (Facts, BTreeSet<String>, Vec<Identity>) {
        let ids: Vec<Identity> = match node {
            Node::Unknown(i) => vec![unknown[i].clone()],
            Node::Person(p) => dir.person(p).identities.clone(),
        };
        let mut f = Facts::default();
        if let Node::Person(p) = node {
            f.names.insert(dir.person(p).name.clone());
        }
        let mut logins = BTreeSet::new();
        for id in &ids {
            if let Some(x) = facts.get(id) {
                f.names.extend(x.names.iter().cloned());
                f.emails.extend(x.emails.iter().cloned());
                f.usernames.extend(x.usernames.iter().cloned());
            }
            if let Some(email) = id.strip_prefix("email:") {
                f.emails.insert(email.to_ascii_lowercase());
            }
            f.usernames.extend(data_center_username(id));
            logins.extend(login_of(id));
        }
        (f, logins, ids)
    };
    let mut nodes: Vec<Node> = (0..unknown.len()).map(Node::Unknown).collect();
    nodes.extend((0..dir.people().len() as PersonId).filter(|p| !dir.person(*p).bot).map(Node::Person));
    let all: Vec<(Node, Facts, BTreeSet<String>, Vec<Identity>)> = nodes
        .iter()
        .map(|&n| {
            let (f, l, ids) = node_facts(n);
            (n, f, l, ids)
        })
        .collect();
    // Keys → nodes carrying them.
    let mut by_email: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_login: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (_, f, logins, _)) in all.iter().enumerate() {
        for e in &f.emails {
            by_email.entry(e).or_default().push(i);
        }
        for n in &f.names {
            let key = normalize_name(n);
            let v = by_name.entry(key).or_default();
            if !v.contains(&i) {
                v.push(i);
            }
        }
        for l in logins {
            by_login.entry(l).or_default().push(i);
        }
    }
    // Union-find over nodes; every edge keeps its evidence.
    let mut parent: Vec<usize> = (0..all.len()).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    // A key two unknown identities of one source carry names no single person: git's
    // placeholders (`root`, `you@example.com`), a shared mailbox, two namesakes on one tracker.
    let ambiguous = |v: &[usize]| {
        let mut namespaces = BTreeSet::new();
        v.iter()
            .filter(|i| matches!(all[**i].0, Node::Unknown(_)))
            .filter_map(|i| all[*i].3[0].split_once(':').map(|(ns, _)| ns))
            .any(|ns| !namespaces.insert(ns))
    };
    let mut edges: Vec<(usize, usize, Match)> = Vec::new();
    for (email, v) in &by_email {
        if ambiguous(v) {
            continue;
        }
        for w in v.windows(2) {
            edges.push((w[0], w[1], Match::SameEmail((*email).to_string())));
        }
    }
    for v in by_name.values() {
        // A name links only when it cannot be two people: at most one known person carries it.
        let people = v.iter().filter(|i| matches!(all[**i].0, Node::Person(_))).count();
        if v.len() < 2 || people > 1 || ambiguous(v) {
            continue;
        }
        let shown = all[v[0]].1.names.iter().find(|n| by_name.get(&normalize_name(n)) == Some(v)).cloned();
        for w in v.windows(2) {
            edges.push((w[0], w[1], Match::SameDisplayName(shown.clone().unwrap_or_default())));
        }
    }
    for (i, (_, f, _, _)) in all.iter().enumerate() {
        for u in &f.usernames {
            if let Some(v) = by_login.get(u.as_str()) {
                for &j in v.iter().filter(|j| **j != i) {
                    edges.push((i, j, Match::UsernameIsLogin(u.clone())));
                }
            }
        }
    }
    edges.sort_by(|a, b| (a.0.min(a.1), a.0.max(a.1), &a.2).cmp(&(b.0.min(b.1), b.0.max(b.1), &b.2)));
    edges.dedup();
    for (a, b, _) in &edges {
        let (ra, rb) = (find(&mut parent, *a), find(&mut parent, *b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..all.len() {
        let r = find(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }

    let item_teams = ItemTeams::new(frame, dir, unresolved.values().map(|(s, _)| *s).collect());
    let mut out = Vec::new();
    for members in groups.values() {
        let unknown_members: Vec<usize> =
            members.iter().copied().filter(|i| matches!(all[*i].0, Node::Unknown(_))).collect();
        let people: Vec<PersonId> =
            members.iter().filter_map(|i| if let Node::Person(p) = all[*i].0 { Some(p) } else { None }).collect();
        let evidence: Vec<(Identity, Identity, Match)> = edges
            .iter()
            .filter(|(a, _, _)| members.contains(a))
            .map(|(a, b, m)| (all[*a].3[0].clone(), all[*b].3[0].clone(), m.clone()))
            .collect();
        let counted = |idx: &[usize]| -> Vec<(Identity, u64)> {
            idx.iter().map(|i| all[*i].3[0].clone()).map(|id| (id.clone(), unresolved[&id].1)).collect()
        };
        match (people.as_slice(), unknown_members.is_empty()) {
            ([person], false) => {
                let p = dir.person(*person);
                let team_less = p.memberships.is_empty();
                if team_less {
                    // Matched to a person who is in no team either: guess the team for all.
                    let mut ids = counted(&unknown_members);
                    ids.extend(p.identities.iter().filter_map(|id| unresolved.get(id).map(|(_, n)| (id.clone(), *n))));
                    out.push(new_person(&item_teams, dir, &unresolved, p.name.clone(), ids, evidence));
                    continue;
                }
                out.push(Suggestion::SamePerson {
                    person: p.name.clone(),
                    known: p.identities.clone(),
                    in_config: config
                        .directory
                        .people
                        .iter()
                        .any(|c| c.identities.iter().any(|i| p.identities.contains(i))),
                    identities: counted(&unknown_members),
                    evidence,
                });
            }
            ([], false) => {
                let ids = counted(&unknown_members);
                let name = unknown_members
                    .iter()
                    .find_map(|i| all[*i].1.names.iter().next().cloned())
                    .unwrap_or_else(|| ids[0].0.split_once(':').map_or(ids[0].0.clone(), |(_, l)| l.to_string()));
                out.push(new_person(&item_teams, dir, &unresolved, name, ids, evidence));
            }
            ([person], true) if dir.person(*person).memberships.is_empty() => {
                let p = dir.person(*person);
                let ids: Vec<(Identity, u64)> =
                    p.identities.iter().filter_map(|id| unresolved.get(id).map(|(_, n)| (id.clone(), *n))).collect();
                if !ids.is_empty() {
                    out.push(new_person(&item_teams, dir, &unresolved, p.name.clone(), ids, evidence));
                }
            }
            _ => {
                // Several known people share the evidence: ambiguous, each unknown identity alone.
                for i in unknown_members {
                    let ids = counted(&[i]);
                    let name = all[i].1.names.iter().next().cloned().unwrap_or_else(|| ids[0].0.clone());
                    out.push(new_person(&item_teams, dir, &unresolved, name, ids, Vec::new()));
                }
            }
        }
    }
    out.sort_by(|a, b| b.events().cmp(&a.events()).then_with(|| format!("{a:?}").cmp(&format!("{b:?}"))));
    out
}

fn new_person(
    item_teams: &ItemTeams,
    dir: &Directory,
    unresolved: &BTreeMap<Identity, (Sym, u64)>,
    name: String,
    identities: Vec<(Identity, u64)>,
    evidence: Vec<(Identity, Identity, Match)>,
) -> Suggestion {
    let syms: Vec<Sym> = identities.iter().filter_map(|(id, _)| unresolved.get(id).map(|(s, _)| *s)).collect();
    let (per_team, items) = item_teams.of(&syms);
    let mut team_evidence: Vec<(String, u64, u64)> =
        per_team.iter().map(|(t, (n, by_field))| (dir.team_name(*t).to_string(), *n, *by_field)).collect();
    team_evidence.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    // The most likely team: the most items, and clearly so (a tie names no team).
    let team = match team_evidence.as_slice() {
        [first, second, ..] if first.1 == second.1 => None,
        [first, ..] => Some(first.0.clone()),
        [] => None,
    };
    Suggestion::NewPerson { name, identities, evidence, team, team_evidence, items_acted_on: items }
}

/// For each item an identity acted on, the team the item belonged to at its latest event by that
/// identity: its tracker team field, else its team label, else the repository / project owner.
struct ItemTeams {
    /// (actor, item) → (team, whether the team field said so)
    by_actor_item: HashMap<(Sym, u32), Option<(TeamId, bool)>>,
}

impl ItemTeams {
    fn new(frame: &Frame, dir: &Directory, actors: BTreeSet<Sym>) -> ItemTeams {
        let mut by_actor_item = HashMap::new();
        for (i, info) in frame.items.iter().enumerate() {
            let mut field: Option<TeamId> = None;
            let mut label: Option<(Sym, TeamId)> = None;
            let scope = if info.scope == NO_SYM { None } else { dir.scope_owner(frame.syms.resolve(info.scope)) };
            for e in frame.item_events(i as u32) {
                match e.kind {
                    Ev::TeamFieldChanged => {
                        field = (e.a != NO_SYM).then(|| dir.team_by_handle(frame.syms.resolve(e.a))).flatten()
                    }
                    Ev::Labeled => {
                        if let Some(t) = dir.label_team(frame.syms.resolve(e.a)) {
                            label = Some((e.a, t));
                        }
                    }
                    Ev::Unlabeled if label.is_some_and(|(l, _)| l == e.a) => label = None,
                    _ => {}
                }
                if actors.contains(&e.actor) {
                    let team =
                        field.map(|t| (t, true)).or(label.map(|(_, t)| (t, false))).or(scope.map(|t| (t, false)));
                    by_actor_item.insert((e.actor, i as u32), team);
                }
            }
        }
        ItemTeams { by_actor_item }
    }

    /// Items per team acted on by any of `actors` (an item counts once per identity group), and
    /// how many items they acted on in all.
    fn of(&self, actors: &[Sym]) -> (BTreeMap<TeamId, (u64, u64)>, u64) {
        // An item several of the identities acted on: the team field's team first, then the
        // lowest team id (whatever the hash order of the identities).
        let mut per_item: BTreeMap<u32, Option<(TeamId, bool)>> = BTreeMap::new();
        for ((actor, item), team) in &self.by_actor_item {
            if actors.contains(actor) {
                let e = per_item.entry(*item).or_insert(*team);
                let rank = |t: &Option<(TeamId, bool)>| t.map(|(id, by_field)| (!by_field, id));
                if team.is_some() && (e.is_none() || rank(team) < rank(e)) {
                    *e = *team;
                }
            }
        }
        let mut per_team: BTreeMap<TeamId, (u64, u64)> = BTreeMap::new();
        for (t, by_field) in per_item.values().flatten() {
            let e = per_team.entry(*t).or_default();
            e.0 += 1;
            e.1 += *by_field as u64;
        }
        (per_team, per_item.len() as u64)
    }
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Text from the trackers inside a `#` comment: control characters (a newline would end the
/// comment and inject TOML) become spaces.
fn comment_text(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn toml_list(items: impl IntoIterator<Item = String>) -> String {
    let v: Vec<String> = items.into_iter().map(|s| toml_string(&s)).collect();
    format!("[{}]", v.join(", "))
}

/// The snippet to paste: `[[teams]]` entries the suggestions need and the config lacks, then one
/// `[[people]]` entry per suggestion, each preceded by its evidence as comments.
pub fn render_toml(suggestions: &[Suggestion], config: &Config, dir: &Directory) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let same = suggestions.iter().filter(|s| matches!(s, Suggestion::SamePerson { .. })).count();
    let new = suggestions.len() - same;
    let _ = writeln!(
        o,
        "# siloscope teams suggest ({}): {same} people with identities the directory does not tie to them, \
         {new} active people in no team.",
        comment_text(&config.path.display().to_string())
    );
    if suggestions.is_empty() {
        o.push_str("# Nothing to suggest: every active identity resolves to a team.\n");
        return o;
    }
    o.push_str("# Review each entry (the evidence is above it), then paste what is right into the config.\n");
    o.push_str("# siloscope never edits the config itself.\n\n");
    let defined: BTreeSet<String> = config.directory.teams.iter().map(|t| t.name.to_ascii_lowercase()).collect();
    let mut needed: BTreeSet<String> = BTreeSet::new();
    for s in suggestions {
        if let Suggestion::NewPerson { team: Some(t), .. } = s
            && !defined.contains(&t.to_ascii_lowercase())
        {
            needed.insert(t.clone());
        }
    }
    for t in &needed {
        let handles = dir.team_by_name(t).map(|id| dir.team(id).handles.clone()).unwrap_or_default();
        let _ = writeln!(
            o,
            "# Team {} comes from a source's directory; the entries below need it defined here.",
            comment_text(t)
        );
        let _ = writeln!(o, "[[teams]]\nname = {}", toml_string(t));
        if !handles.is_empty() {
            let _ = writeln!(o, "handles = {}", toml_list(handles));
        }
        o.push('\n');
    }
    for s in suggestions {
        match s {
            Suggestion::SamePerson { person, known, in_config, identities, evidence } => {
                let _ = writeln!(
                    o,
                    "# {} is probably also {} ({} events):",
                    comment_text(person),
                    comment_text(&identities.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>().join(", ")),
                    s.events()
                );
                for (a, b, m) in evidence {
                    let _ =
                        writeln!(o, "#   {} ~ {}: {}", comment_text(a), comment_text(b), comment_text(&m.describe()));
                }
                let all: Vec<String> = known.iter().chain(identities.iter().map(|(i, _)| i)).cloned().collect();
                if *in_config {
                    let _ = writeln!(
                        o,
                        "# Add to the existing [[people]] entry {}:\n#   identities = {}\n",
                        comment_text(&toml_string(person)),
                        comment_text(&toml_list(identities.iter().map(|(i, _)| i.clone())))
                    );
                } else {
                    let _ =
                        writeln!(o, "[[people]]\nname = {}\nidentities = {}\n", toml_string(person), toml_list(all));
                }
            }
            Suggestion::NewPerson { name, identities, evidence, team, team_evidence, items_acted_on } => {
                let _ = writeln!(
                    o,
                    "# {} acted {} times and is in no team; acted on {} items:",
                    comment_text(&identities.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>().join(", ")),
                    s.events(),
                    items_acted_on
                );
                for (a, b, m) in evidence {
                    let _ =
                        writeln!(o, "#   {} ~ {}: {}", comment_text(a), comment_text(b), comment_text(&m.describe()));
                }
                for (t, n, by_field) in team_evidence.iter().take(3) {
                    let field = if *by_field > 0 {
                        format!(" ({by_field} by the tracker's team field)")
                    } else {
                        String::new()
                    };
                    let _ = writeln!(o, "#   {n} items of team {}{field}", comment_text(t));
                }
                let _ = writeln!(
                    o,
                    "[[people]]\nname = {}\nidentities = {}",
                    toml_string(name),
                    toml_list(identities.iter().map(|(i, _)| i.clone()))
                );
                match team {
                    Some(t) => {
                        let _ = writeln!(o, "team = {}\n", toml_string(t));
                    }
                    None => o.push_str("# team = \"…\"  (no team is clearly the most likely: choose one)\n\n"),
                }
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use super::*;
    use crate::coverage::coverage_where;
    use crate::model::{DAY, Event};
    use crate::sources::simulator::{Simulator, SimulatorConfig};

    const START: Ts = 1_767_225_600; // 2026-01-01

    /// Without any profile: a Jira Data Center username equal to a GitHub login ties the two; a
    /// Cloud account id never looks like a username.
    #[test]
    fn a_data_center_username_equal_to_a_login_is_the_same_person() {
        use crate::model::{EventKind, Item, ItemKind, ItemState};
        let text =
            "[[teams]]\nname = \"payments\"\n\n[[people]]\nname = \"Alice\"\ngithub = \"alice\"\nteam = \"payments\"\n";
        let cfg = config(text);
        let dir = cfg.directory.builder().build();
        let mut frame = Frame::new();
        frame.add_item(&Item {
            key: "jira:PAY#1".into(),
            source: "jira".into(),
            kind: ItemKind::Ticket,
            scope: "PAY".into(),
            url: "https://jira.example/browse/PAY-1".into(),
            title: "t".into(),
            author: None,
            created_at: START,
            updated_at: START,
            state: ItemState::Open,
            issue_type: None,
        });
        for (n, actor) in ["jira:Alice", "jira:Alice", "jira:5b10ac8d82e05b22cc7d4ef5"].iter().enumerate() {
            frame.add_event(&Event {
                id: format!("e{n}"),
                item: "jira:PAY#1".into(),
                at: START + n as Ts,
                actor: Some(actor.to_string()),
                kind: EventKind::Commented { mentions: vec![] },
            });
        }
        frame.prepare();
        let got = suggest(&frame, &dir, &cfg, &[]);
        assert_eq!(got.len(), 2, "{got:#?}");
        let Suggestion::SamePerson { person, in_config, identities, evidence, .. } = &got[0] else {
            panic!("{got:#?}")
        };
        assert_eq!((person.as_str(), *in_config), ("Alice", true));
        assert_eq!(identities, &vec![("jira:Alice".to_string(), 2)]);
        assert_eq!(evidence[0].2, Match::UsernameIsLogin("alice".into()));
        assert!(matches!(&got[1], Suggestion::NewPerson { team: None, .. }), "{got:#?}");
        let snippet = render_toml(&got, &cfg, &dir);
        assert!(
            snippet.contains("# Add to the existing [[people]] entry \"Alice\":\n#   identities = [\"jira:Alice\"]"),
            "{snippet}"
        );
        // The snippet is valid TOML that check-config accepts next to the config.
        config(&format!("{text}\n{snippet}"));
    }
    /// Git's placeholder identities (`root`, `you@example.com`) on two GitHub logins name no one:
    /// neither they nor a Jira account called `root` are tied together, while a real address
    /// shared by a GitHub login and a Jira account is.
    #[test]
    fn a_name_or_e_mail_two_identities_of_one_source_carry_ties_no_one() {
        use crate::model::{EventKind, IdentityProfile, Item, ItemKind, ItemState};
        let cfg = config("[[teams]]\nname = \"payments\"\n");
        let dir = cfg.directory.builder().build();
        let mut frame = Frame::new();
        frame.add_item(&Item {
            key: "github:acme/api#1".into(),
            source: "github".into(),
            kind: ItemKind::PullRequest,
            scope: "acme/api".into(),
            url: "https://github.com/acme/api/pull/1".into(),
            title: "t".into(),
            author: None,
            created_at: START,
            updated_at: START,
            state: ItemState::Open,
            issue_type: None,
        });
        let actors = ["github:ann", "github:bob", "jira:5b10ac8d82e05b22cc7d4ef5", "github:dana", "jira:557058:dana"];
        for (n, actor) in actors.iter().enumerate() {
            frame.add_event(&Event {
                id: format!("e{n}"),
                item: "github:acme/api#1".into(),
                at: START + n as Ts,
                actor: Some(actor.to_string()),
                kind: EventKind::Commented { mentions: vec![] },
            });
        }
        frame.prepare();
        let p = |id: &str, name: &str, email: &str| IdentityProfile {
            identity: id.into(),
            display_name: Some(name.into()),
            emails: vec![email.into()],
            username: None,
        };
        let snap = |profiles| DirectorySnapshot { profiles, ..DirectorySnapshot::default() };
        let github = snap(vec![
            p("github:ann", "root", "you@example.com"),
            p("github:bob", "root", "you@example.com"),
            p("github:dana", "Dana", "dana@acme.io"),
        ]);
        let jira = snap(vec![
            p("jira:5b10ac8d82e05b22cc7d4ef5", "root", "x@acme.io"),
            p("jira:557058:dana", "D. S.", "dana@acme.io"),
        ]);
        let got = suggest(&frame, &dir, &cfg, &[("github".into(), github), ("jira".into(), jira)]);
        let groups: Vec<Vec<&str>> = got
            .iter()
            .map(|s| match s {
                Suggestion::NewPerson { identities, .. } | Suggestion::SamePerson { identities, .. } => {
                    identities.iter().map(|(i, _)| i.as_str()).collect()
                }
            })
            .collect();
        assert_eq!(groups.len(), 4, "{got:#?}");
        assert!(groups.contains(&vec!["github:dana", "jira:557058:dana"]), "{groups:?}");
        for lone in ["github:ann", "github:bob", "jira:5b10ac8d82e05b22cc7d4ef5"] {
            assert!(groups.contains(&vec![lone]), "{lone} alone: {groups:?}");
        }
    }

    const DAYS: Ts = 45;

    fn simulate(left_out: u32, split: u32) -> (Frame, Vec<Event>, DirectorySnapshot) {
        let cfg = SimulatorConfig {
            start: Some(START),
            history_days: DAYS as u32,
            items_per_day: 60.0,
            left_out_people: left_out,
            split_people: split,
            ..SimulatorConfig::default()
        };
        let mut sim = Simulator::new("sim", cfg);
        let (items, events) = sim.generate(START, START, START + DAYS * DAY);
        let mut frame = Frame::new();
        for i in &items {
            frame.add_item(i);
        }
        for e in &events {
            frame.add_event(e);
        }
        frame.prepare();
        (frame, events, sim.directory(START))
    }

    fn directory(config: &Config, snap: &DirectorySnapshot) -> Directory {
        let mut b = config.directory.builder();
        b.snapshot(snap);
        b.build()
    }

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("siloscope.toml")).unwrap_or_else(|e| panic!("{e}\n---\n{text}"))
    }

    /// The simulated organisation with 5 people left out of the directory and 6 acting on tickets
    /// under a Jira account: coverage counts exactly the events of those identities as missing,
    /// `suggest` finds every one of them (right person, right team), and its snippet, pasted into
    /// the config, brings coverage to 100% and every signal to the full directory's.
    #[test]
    fn suggestions_close_every_gap_of_the_simulated_organisation() {
        let (full_frame, full_events, full_snap) = simulate(0, 0);
        let (frame, events, snap) = simulate(5, 6);
        assert_eq!(full_events.len(), events.len(), "the gaps change identities, not the activity");

        // Ground truth from the two runs: who is left out, and whose tracker account is whose.
        let listed: BTreeSet<&str> = snap.people.iter().flat_map(|p| p.identities.iter().map(String::as_str)).collect();
        let left_out: BTreeMap<String, String> = full_snap
            .people
            .iter()
            .filter(|p| !listed.contains(p.identities[0].as_str()))
            .map(|p| (p.identities[0].clone(), p.memberships[0].team.clone()))
            .collect();
        assert_eq!(left_out.len(), 5);
        let mut split: BTreeMap<String, String> = BTreeMap::new(); // jira account → sim login
        for (g, f) in events.iter().zip(&full_events) {
            assert_eq!(g.id, f.id);
            if let (Some(a), Some(b)) = (&g.actor, &f.actor)
                && a != b
            {
                assert!(a.starts_with("jira:"), "{a}");
                split.insert(a.clone(), b.clone());
            }
        }
        assert_eq!(split.len(), 6, "{split:?}");

        // Coverage with the gapped directory: exactly the events of those identities are missing.
        let empty = config("");
        let gapped = directory(&empty, &snap);
        let cov = coverage_where(&frame, &gapped, |_| true);
        assert_eq!(cov.len(), 1);
        let humans: Vec<&Event> =
            events.iter().filter(|e| e.actor.as_deref().is_some_and(|a| !gapped.is_bot(a))).collect();
        let missing = humans
            .iter()
            .filter(|e| e.actor.as_ref().is_some_and(|a| left_out.contains_key(a) || split.contains_key(a)))
            .count() as u64;
        assert!(missing > 0);
        assert_eq!(cov[0].events, humans.len() as u64);
        assert_eq!(cov[0].events_resolved, humans.len() as u64 - missing);
        assert_eq!(cov[0].identities - cov[0].identities_resolved, 11);

        // Every split person and every left-out identity, with the right person / team.
        let suggestions = suggest(&frame, &gapped, &empty, &[("sim".into(), snap.clone())]);
        let mut found_split = BTreeMap::new();
        let mut found_left = BTreeMap::new();
        for s in &suggestions {
            match s {
                Suggestion::SamePerson { known, identities, in_config, evidence, .. } => {
                    assert!(!in_config);
                    assert!(!evidence.is_empty());
                    for (id, n) in identities {
                        assert!(*n > 0);
                        found_split.insert(id.clone(), known[0].clone());
                    }
                }
                Suggestion::NewPerson { identities, team, .. } => {
                    for (id, _) in identities {
                        found_left.insert(id.clone(), team.clone().unwrap_or_default());
                    }
                }
            }
        }
        assert_eq!(found_split, split);
        assert_eq!(found_left, left_out);

        // The snippet passes the config check, and with it coverage is 100% and the signals are
        // those of the full directory.
        let snippet = render_toml(&suggestions, &empty, &gapped);
        println!("{snippet}");
        let fixed_config = config(&snippet);
        let fixed = directory(&fixed_config, &snap);
        let cov = coverage_where(&frame, &fixed, |_| true);
        assert_eq!(cov[0].events_resolved, cov[0].events);
        assert_eq!(cov[0].identities_resolved, cov[0].identities);
        let full = directory(&empty, &full_snap);
        let cfg = crate::signals::SignalsConfig::default();
        let now = START + DAYS * DAY;
        let want = crate::signals::compute(&full_frame, &full, &cfg, now).1;
        let got = crate::signals::compute(&frame, &fixed, &cfg, now).1;
        assert!(!want.handoffs_total.is_empty());
        assert_eq!(got, want);
        // And without the snippet they differ (the test can tell).
        assert_ne!(crate::signals::compute(&frame, &gapped, &cfg, now).1, want);
        // Nothing left to suggest.
        assert!(suggest(&frame, &fixed, &fixed_config, &[("sim".into(), snap)]).is_empty());
    }
}
