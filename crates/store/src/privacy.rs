//! What siloscope does for a person's rights: tombstones and the redaction of every identity a
//! batch carries before it is stored, `forget` (placeholders that keep team attribution), `access`
//! (everything the store holds about one identity, as JSON) and the retention horizon. Owns no SQL
//! (that is `store::forget`); it must never log an identity, nor store a forgotten one in clear.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::model::{
    Batch, DAY, DirectorySnapshot, EventKind, Identity, Reviewer, SnapshotMembership, SnapshotPerson, Ts,
};
use crate::store::{ForgetCounts, ForgetPlan, Forgotten, PurgeOutcome, Store, StoreError, Tombstone};
use crate::teams::Directory;

/// The directory snapshot that holds the placeholders' team memberships (never a source's name:
/// source names cannot contain `:`).
pub const FORGOTTEN_SOURCE: &str = "siloscope:forgotten";

/// The shortest `[store] keep`: the 90-day windows, the privacy floor's window and the 90-day
/// report periods all read 90 days back, and would silently count less with less.
pub const MIN_KEEP: Ts = 91 * DAY;

/// SHA-256 of an identity, lower-case hex: what a tombstone stores instead of the identity.
pub fn digest(identity: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, identity.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The tombstones, by digest: what a commit replaces.
#[derive(Debug, Clone, Default)]
pub struct Tombstones {
    by_digest: HashMap<String, (String, bool)>,
}

/// One batch's lookups: each distinct identity is hashed once.
struct Lookup<'a> {
    tombstones: &'a Tombstones,
    seen: HashMap<String, Option<(&'a str, bool)>>,
}

impl<'a> Lookup<'a> {
    fn check(&mut self, identity: &str) -> Option<(&'a str, bool)> {
        if let Some(found) = self.seen.get(identity) {
            return *found;
        }
        let found = self.tombstones.by_digest.get(&digest(identity)).map(|(p, d)| (p.as_str(), *d));
        self.seen.insert(identity.to_string(), found);
        found
    }

    /// Replaces `identity` by its placeholder if it is tombstoned; true if it was.
    fn replace(&mut self, identity: &mut Identity) -> bool {
        match self.check(identity) {
            Some((placeholder, _)) => {
                *identity = placeholder.to_string();
                true
            }
            None => false,
        }
    }
}

impl Tombstones {
    pub fn new(tombstones: &[Tombstone]) -> Tombstones {
        Tombstones {
            by_digest: tombstones.iter().map(|t| (t.digest.clone(), (t.placeholder.clone(), t.drop_events))).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    fn lookup(&self) -> Lookup<'_> {
        Lookup { tombstones: self, seen: HashMap::new() }
    }

    /// The placeholder of `identity`, if it is tombstoned.
    pub fn placeholder(&self, identity: &str) -> Option<&str> {
        self.by_digest.get(&digest(identity)).map(|(p, _)| p.as_str())
    }

    /// Replaces every tombstoned identity of `batch` (event actors, assignees, reviewers,
    /// co-authors, item authors, the directory snapshot's people and profiles) by its placeholder,
    /// and drops the events of identities whose tombstone says so (the batch's complete-history
    /// ranges follow). Returns how many identities were replaced or events dropped.
    pub fn redact_batch(&self, batch: &mut Batch) -> usize {
        if self.is_empty() {
            return 0;
        }
        let mut lookup = self.lookup();
        let mut changed = 0;
        let mut keep = vec![true; batch.events.len()];
        for (index, event) in batch.events.iter_mut().enumerate() {
            if let Some(actor) = &mut event.actor {
                match lookup.check(actor) {
                    Some((_, true)) => {
                        keep[index] = false;
                        changed += 1;
                        continue;
                    }
                    Some((placeholder, false)) => {
                        *actor = placeholder.to_string();
                        changed += 1;
                    }
                    None => {}
                }
            }
            changed += match &mut event.kind {
                EventKind::Assigned { assignee } | EventKind::Unassigned { assignee } => {
                    usize::from(lookup.replace(assignee))
                }
                EventKind::ReviewRequested { reviewer: Reviewer::Person(p) }
                | EventKind::ReviewRequestRemoved { reviewer: Reviewer::Person(p) } => usize::from(lookup.replace(p)),
                EventKind::Committed { co_authors } => {
                    co_authors.iter_mut().map(|c| usize::from(lookup.replace(c))).sum()
                }
                _ => 0,
            };
        }
        if keep.contains(&false) {
            // Index of each old position in the kept events, to move the complete ranges.
            let mut before = Vec::with_capacity(keep.len() + 1);
            let mut n = 0;
            for k in &keep {
                before.push(n);
                n += usize::from(*k);
            }
            before.push(n);
            for history in &mut batch.complete {
                let end = history.events.end.min(keep.len());
                history.events = before[history.events.start.min(end)]..before[end];
            }
            let mut flags = keep.iter();
            batch.events.retain(|_| *flags.next().unwrap_or(&true));
        }
        for item in &mut batch.items {
            if let Some(author) = &mut item.author {
                changed += usize::from(lookup.replace(author));
            }
        }
        if let Some(snapshot) = &mut batch.directory {
            changed += redact_snapshot(&mut lookup, snapshot);
        }
        if !batch.profiles.is_empty() {
            let mut loose =
                DirectorySnapshot { profiles: std::mem::take(&mut batch.profiles), ..DirectorySnapshot::default() };
            changed += redact_snapshot(&mut lookup, &mut loose);
            batch.profiles = loose.profiles;
        }
        changed
    }

    /// [`Tombstones::redact_batch`] for one directory snapshot; true if anything changed.
    pub fn redact_snapshot(&self, snapshot: &mut DirectorySnapshot) -> bool {
        !self.is_empty() && redact_snapshot(&mut self.lookup(), snapshot) > 0
    }
}

/// A person holding a tombstoned identity takes the placeholder for it and, as name, the first
/// placeholder (their name is theirs); a profile of a tombstoned identity goes, and so does an
/// e-mail whose `email:` identity is tombstoned.
fn redact_snapshot(lookup: &mut Lookup<'_>, snapshot: &mut DirectorySnapshot) -> usize {
    let mut changed = 0;
    for person in &mut snapshot.people {
        let mut first: Option<String> = None;
        for identity in &mut person.identities {
            if lookup.replace(identity) {
                changed += 1;
                first.get_or_insert_with(|| identity.clone());
            }
        }
        if let Some(placeholder) = first {
            person.name = placeholder;
        }
    }
    let before = snapshot.profiles.len();
    snapshot.profiles.retain(|p| lookup.check(&p.identity).is_none());
    changed += before - snapshot.profiles.len();
    for profile in &mut snapshot.profiles {
        let before = profile.emails.len();
        profile.emails.retain(|e| lookup.check(&crate::model::identity("email", e)).is_none());
        changed += before - profile.emails.len();
    }
    changed
}

/// What `forget` did, per identity given (in order, repeats removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForgetReport {
    pub identities: Vec<(Forgotten, ForgetCounts)>,
    pub snapshots_rewritten: u64,
}

/// Forgets `identities`: each gets a tombstone and a placeholder (`forgotten:N`, the same one
/// every time), every stored trace of it is replaced (or its events deleted with `drop_events`),
/// the directory snapshots are rewritten, the placeholders join the teams the person was in
/// (from `directory`, config and snapshots, with their dates) so team figures stay as they were,
/// and the store is compacted so the old bytes are gone. Running it again changes nothing.
pub fn forget(
    store: &mut dyn Store,
    directory: &Directory,
    identities: &[String],
    drop_events: bool,
    now: Ts,
) -> Result<ForgetReport, StoreError> {
    let existing = store.tombstones()?;
    let mut next = existing
        .iter()
        .filter_map(|t| t.placeholder.strip_prefix("forgotten:")?.parse::<u64>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let mut plan = ForgetPlan { drop_events, at: now, ..ForgetPlan::default() };
    let mut all = existing.clone();
    for identity in identities {
        if plan.identities.iter().any(|f| &f.identity == identity) {
            continue;
        }
        let digest = digest(identity);
        let placeholder = match existing.iter().find(|t| t.digest == digest) {
            Some(t) => t.placeholder.clone(),
            None => {
                let p = format!("forgotten:{next}");
                next += 1;
                all.push(Tombstone { digest: digest.clone(), placeholder: p.clone(), drop_events, forgotten_at: now });
                p
            }
        };
        plan.identities.push(Forgotten { identity: identity.clone(), digest, placeholder });
    }
    let tombstones = Tombstones::new(&all);
    let encode = |source: &str, snapshot: &DirectorySnapshot| {
        serde_json::to_string(snapshot).map_err(|source_err| StoreError::Encode {
            store: "the store".into(),
            what: format!("the directory of source {source}"),
            source: source_err,
        })
    };
    let snapshots = store.directory_snapshots()?;
    let mut own = DirectorySnapshot::default();
    for (source, snapshot) in snapshots {
        if source == FORGOTTEN_SOURCE {
            own = snapshot;
            continue;
        }
        let mut snapshot = snapshot;
        if tombstones.redact_snapshot(&mut snapshot) {
            plan.snapshots.push((source.clone(), encode(&source, &snapshot)?));
        }
    }
    // The placeholders of one person stay one person, in the teams the person was in, then.
    let mut own_changed = false;
    let mut by_person: Vec<(crate::teams::PersonId, Vec<String>)> = Vec::new();
    for f in &plan.identities {
        let Some(person) = directory.person_of(&f.identity) else { continue };
        if own.people.iter().any(|p| p.identities.contains(&f.placeholder)) {
            continue;
        }
        match by_person.iter_mut().find(|(p, _)| *p == person) {
            Some((_, placeholders)) => placeholders.push(f.placeholder.clone()),
            None => by_person.push((person, vec![f.placeholder.clone()])),
        }
    }
    for (person, placeholders) in by_person {
        let p = directory.person(person);
        own.people.push(SnapshotPerson {
            name: placeholders[0].clone(),
            identities: placeholders,
            memberships: p
                .memberships
                .iter()
                .map(|m| SnapshotMembership {
                    team: directory.team_name(m.team).to_string(),
                    from: m.from,
                    until: m.until,
                })
                .collect(),
            bot: p.bot,
        });
        own_changed = true;
    }
    if own_changed {
        plan.snapshots.push((FORGOTTEN_SOURCE.to_string(), encode(FORGOTTEN_SOURCE, &own)?));
    }
    let outcome = store.forget(&plan)?;
    store.compact()?;
    Ok(ForgetReport {
        identities: plan.identities.into_iter().zip(outcome.per_identity).collect(),
        snapshots_rewritten: outcome.snapshots_rewritten,
    })
}

fn utc(at: Ts) -> String {
    chrono::DateTime::from_timestamp(at, 0).map(|d| d.to_rfc3339()).unwrap_or_default()
}

/// Everything the store holds about `identity` (the GDPR access request): the person the
/// directory resolves it to and their teams, the items they authored, the events they acted in,
/// the events that name them, and what each directory snapshot holds about them.
pub fn access(store: &dyn Store, directory: &Directory, identity: &str) -> Result<Value, StoreError> {
    let tombstones = Tombstones::new(&store.tombstones()?);
    let person = directory.person_of(identity).map(|id| {
        let p = directory.person(id);
        json!({
            "name": p.name,
            "identities": p.identities,
            "bot": p.bot,
            "teams": p.memberships.iter().map(|m| json!({
                "team": directory.team_name(m.team),
                "from": m.from.map(utc),
                "until": m.until.map(utc),
            })).collect::<Vec<_>>(),
        })
    });
    let mut items = Vec::new();
    store.for_each_item(&mut |item| {
        if item.author.as_deref() == Some(identity) {
            items.push(json!({
                "key": item.key, "source": item.source, "kind": item.kind, "url": item.url,
                "title": item.title, "created_at": utc(item.created_at), "updated_at": utc(item.updated_at),
                "state": item.state,
            }));
        }
    })?;
    let quoted = Value::String(identity.to_string()).to_string();
    let (mut acted, mut named) = (Vec::new(), Vec::new());
    store.for_each_event(&mut |event| {
        let as_actor = event.actor.as_deref() == Some(identity);
        let names = serde_json::to_string(&event.kind).is_ok_and(|k| k.contains(&quoted));
        if as_actor || names {
            let mut value = serde_json::to_value(&event).unwrap_or(Value::Null);
            if let Some(map) = value.as_object_mut() {
                map.insert("at_utc".into(), Value::String(utc(event.at)));
            }
            if as_actor { acted.push(value) } else { named.push(value) }
        }
    })?;
    let mut snapshots = Vec::new();
    for (source, snapshot) in store.directory_snapshots()? {
        let people: Vec<&SnapshotPerson> =
            snapshot.people.iter().filter(|p| p.identities.iter().any(|i| i == identity)).collect();
        let profiles: Vec<_> = snapshot.profiles.iter().filter(|p| p.identity == identity).collect();
        if !people.is_empty() || !profiles.is_empty() {
            snapshots.push(json!({ "source": source, "people": people, "profiles": profiles }));
        }
    }
    Ok(json!({
        "identity": identity,
        "forgotten_as": tombstones.placeholder(identity),
        "person": person,
        "items_authored": items,
        "events_as_actor": acted,
        "events_naming_them": named,
        "directory_snapshots": snapshots,
        "not_held": "siloscope stores no comment, description or commit text; titles are stored as the \
                     tracker shows them; the config file and the trackers themselves are outside the store",
    }))
}

/// Deletes what is past `keep` at `now` (see [`Store::purge_before`]), logging what went.
pub fn purge_expired(store: &mut dyn Store, keep: Ts, now: Ts) -> Result<PurgeOutcome, StoreError> {
    let horizon = now - keep;
    let outcome = store.purge_before(horizon)?;
    if outcome.events_deleted + outcome.items_deleted > 0 {
        tracing::info!(target: "siloscope::privacy", events = outcome.events_deleted, items = outcome.items_deleted, horizon = %utc(horizon),
            "retention: deleted events and items past [store] keep");
    }
    Ok(outcome)
}
