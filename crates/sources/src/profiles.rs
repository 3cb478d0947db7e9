//! Identity profiles (display names, e-mails, Data Center usernames) read off the API answers a
//! source already receives, for `siloscope teams suggest` to tie one person's identities across
//! sources. It reads payloads and merges profiles; it never resolves teams, never requests
//! anything, and a profile is never a metric label or a log field.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::Value;

use crate::model::{Batch, DirectorySnapshot, Identity, IdentityProfile};
use crate::mutex::lock;

/// At most this many e-mails are kept per identity (a commit author's addresses over the years).
const MAX_EMAILS: usize = 8;

/// How one API's answers show people: each source's folder implements it for its API's shapes
/// (`github::profiles::Shapes`, …); this module walks the answer and merges what they find.
pub trait Shapes {
    /// Pushes the profile `v` (one JSON object of an answer) shows, if it shows one.
    fn object(&self, v: &Value, out: &mut Vec<IdentityProfile>);
}

/// Display names that name no one: Jira's placeholders for deleted or anonymised accounts.
fn placeholder_name(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    n.is_empty() || n == "former user" || n == "unknown" || n == "anonymous" || n == "ghost" || n == "deleted user"
}

/// A non-empty string field, trimmed.
pub fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A real address: not empty, has an `@`, not GitHub's no-reply address (which names the login).
pub fn address(v: &Value, key: &str) -> Option<String> {
    text(v, key)
        .map(|e| e.trim_matches(|c| c == '<' || c == '>').to_ascii_lowercase())
        .filter(|e| e.contains('@') && !e.ends_with("@users.noreply.github.com") && !e.ends_with("noreply.github.com"))
}

/// A profile; a placeholder display name is none.
pub fn profile(
    identity: Identity,
    name: Option<String>,
    email: Option<String>,
    username: Option<String>,
) -> IdentityProfile {
    IdentityProfile {
        identity,
        display_name: name.filter(|n| !placeholder_name(n)),
        emails: email.into_iter().collect(),
        username,
    }
}

/// The profiles `v` (one API answer) shows, in document order; identities may repeat.
pub fn extract(shapes: &dyn Shapes, v: &Value) -> Vec<IdentityProfile> {
    let mut out = Vec::new();
    walk(shapes, v, &mut out);
    out.retain(|p| !p.identity.ends_with("[bot]") && (p.display_name.is_some() || !p.emails.is_empty()));
    out
}

fn walk(shapes: &dyn Shapes, v: &Value, out: &mut Vec<IdentityProfile>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| walk(shapes, x, out)),
        Value::Object(o) => {
            shapes.object(v, out);
            o.values().for_each(|x| walk(shapes, x, out));
        }
        _ => {}
    }
}

/// Merges `new` into `into` (by identity: a new display name or username replaces the old, e-mails
/// add up). Returns whether anything changed. `into` stays ordered by identity.
pub fn merge(into: &mut Vec<IdentityProfile>, new: &[IdentityProfile]) -> bool {
    let mut by_id: BTreeMap<Identity, IdentityProfile> = into.drain(..).map(|p| (p.identity.clone(), p)).collect();
    let mut changed = false;
    for p in new {
        let e = by_id
            .entry(p.identity.clone())
            .or_insert_with(|| IdentityProfile { identity: p.identity.clone(), ..IdentityProfile::default() });
        changed |= absorb(e, p);
    }
    into.extend(by_id.into_values());
    changed
}

fn absorb(into: &mut IdentityProfile, p: &IdentityProfile) -> bool {
    let mut changed = false;
    if p.display_name.is_some() && into.display_name != p.display_name {
        into.display_name = p.display_name.clone();
        changed = true;
    }
    if p.username.is_some() && into.username != p.username {
        into.username = p.username.clone();
        changed = true;
    }
    for e in &p.emails {
        if !into.emails.contains(e) && into.emails.len() < MAX_EMAILS {
            into.emails.push(e.clone());
            into.emails.sort();
            changed = true;
        }
    }
    changed
}

/// What a source has read of profiles: those not yet handed to a batch, and those handed (so
/// the same profile is not sent again with every step).
#[derive(Debug, Default)]
pub struct ProfileLog {
    state: Mutex<(HashMap<Identity, IdentityProfile>, Vec<IdentityProfile>)>,
}

impl ProfileLog {
    /// Reads the profiles of one API answer.
    pub fn see(&self, shapes: &dyn Shapes, v: &Value) {
        let found = extract(shapes, v);
        if found.is_empty() {
            return;
        }
        let mut guard = lock(&self.state);
        let (sent, pending) = &mut *guard;
        for p in found {
            let known = sent
                .entry(p.identity.clone())
                .or_insert_with(|| IdentityProfile { identity: p.identity.clone(), ..IdentityProfile::default() });
            if absorb(known, &p) {
                pending.push(p);
            }
        }
    }

    /// The profiles read since the last call, merged per identity, for the step's batch.
    pub fn take(&self) -> Vec<IdentityProfile> {
        let mut guard = lock(&self.state);
        let pending = std::mem::take(&mut guard.1);
        let mut out = Vec::new();
        merge(&mut out, &pending);
        out
    }
}

/// Before a batch commits: its profiles join the source's stored snapshot (`stored`), and a new
/// snapshot the batch carries keeps the profiles stored before it (a team sync reads none). A
/// batch whose profiles add nothing to what is stored leaves `directory` None (no rewrite).
pub fn fold_into_directory(batch: &mut Batch, stored: Option<&DirectorySnapshot>) {
    let before = stored.map(|s| s.profiles.as_slice()).unwrap_or(&[]);
    match &mut batch.directory {
        Some(snap) => {
            let mut all = before.to_vec();
            merge(&mut all, &std::mem::take(&mut snap.profiles));
            merge(&mut all, &batch.profiles);
            snap.profiles = all;
        }
        None if batch.profiles.is_empty() => {}
        None => {
            let mut snap = stored.cloned().unwrap_or_default();
            if merge(&mut snap.profiles, &batch.profiles) {
                batch.directory = Some(snap);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_source_hands_each_new_fact_once_and_the_store_keeps_teams_and_old_profiles() {
        let log = ProfileLog::default();
        let user = json!({"username": "lin", "name": "Lin Wu"});
        log.see(&crate::sources::gitlab::profiles::Shapes, &json!([user, user]));
        assert_eq!(log.take().len(), 1);
        log.see(&crate::sources::gitlab::profiles::Shapes, &user);
        assert!(log.take().is_empty(), "already handed over");
        log.see(
            &crate::sources::gitlab::profiles::Shapes,
            &json!({"username": "lin", "name": "Lin Wu", "public_email": "lin@acme.io"}),
        );
        assert_eq!(log.take()[0].emails, vec!["lin@acme.io".to_string()]);

        let stored = DirectorySnapshot {
            teams: vec![crate::model::SnapshotTeam { name: "t".into(), handles: vec![] }],
            profiles: vec![profile("gitlab:ann".into(), Some("Ann".into()), None, None)],
            ..DirectorySnapshot::default()
        };
        let mut batch =
            Batch { profiles: vec![profile("gitlab:lin".into(), Some("Lin".into()), None, None)], ..Batch::default() };
        fold_into_directory(&mut batch, Some(&stored));
        let snap = batch.directory.clone().unwrap();
        assert_eq!(snap.teams, stored.teams);
        assert_eq!(snap.profiles.len(), 2);
        // Nothing new: no rewrite of the snapshot.
        let mut again =
            Batch { profiles: vec![profile("gitlab:lin".into(), Some("Lin".into()), None, None)], ..Batch::default() };
        fold_into_directory(&mut again, Some(&snap));
        assert!(again.directory.is_none());
        // A team sync's snapshot keeps the stored profiles.
        let mut teams = Batch { directory: Some(DirectorySnapshot::default()), ..Batch::default() };
        fold_into_directory(&mut teams, Some(&snap));
        assert_eq!(teams.directory.unwrap().profiles, snap.profiles);
    }
}
