//! Identity profiles (display names, e-mails, Data Center usernames) read off the API answers a
//! source already receives, for `siloscope teams suggest` to tie one person's identities across
//! sources. It reads payloads and merges profiles; it never resolves teams, never requests
//! anything, and a profile is never a metric label or a log field.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::Value;

use crate::model::{Batch, DirectorySnapshot, Identity, IdentityProfile};
use crate::mutex::lock;
use crate::sources::jira::Flavor;

/// At most this many e-mails are kept per identity (a commit author's addresses over the years).
const MAX_EMAILS: usize = 8;

/// Which API's shapes to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shapes {
    /// GraphQL `GitActor` (`{name, email, user {login}}`), REST commits (`commit.author` with the
    /// account in `author`), REST users (`{login, type, name, email}`).
    Github,
    /// User objects (`{username, name}`, `public_email` / `email` where the API shows them) and
    /// commits (`author_name`, `author_email`).
    Gitlab,
    /// User objects (`displayName`, `emailAddress`; `accountId` on Cloud, `name` on Data Center).
    Jira(Flavor),
}

/// Display names that name no one: Jira's placeholders for deleted or anonymised accounts.
fn placeholder_name(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    n.is_empty() || n == "former user" || n == "unknown" || n == "anonymous" || n == "ghost" || n == "deleted user"
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A real address: not empty, has an `@`, not GitHub's no-reply address (which names the login).
fn address(v: &Value, key: &str) -> Option<String> {
    text(v, key)
        .map(|e| e.trim_matches(|c| c == '<' || c == '>').to_ascii_lowercase())
        .filter(|e| e.contains('@') && !e.ends_with("@users.noreply.github.com") && !e.ends_with("noreply.github.com"))
}

fn profile(
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
pub fn extract(shapes: Shapes, v: &Value) -> Vec<IdentityProfile> {
    let mut out = Vec::new();
    walk(shapes, v, &mut out);
    out.retain(|p| !p.identity.ends_with("[bot]") && (p.display_name.is_some() || !p.emails.is_empty()));
    out
}

fn walk(shapes: Shapes, v: &Value, out: &mut Vec<IdentityProfile>) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| walk(shapes, x, out)),
        Value::Object(o) => {
            match shapes {
                Shapes::Github => github_object(v, out),
                Shapes::Gitlab => gitlab_object(v, out),
                Shapes::Jira(flavor) => jira_object(v, flavor, out),
            }
            o.values().for_each(|x| walk(shapes, x, out));
        }
        _ => {}
    }
}

fn github_object(v: &Value, out: &mut Vec<IdentityProfile>) {
    use crate::sources::github::parse::{actor, email_identity};
    // GraphQL GitActor: the account in `user` (null when no account claims the e-mail).
    if v.get("email").is_some_and(Value::is_string) && v.get("user").is_some() && v.get("login").is_none() {
        let who = v["user"]
            .as_object()
            .and_then(|_| actor(&v["user"]))
            .or_else(|| text(v, "email").and_then(|e| email_identity(&e)));
        if let Some(id) = who {
            out.push(profile(id, text(v, "name"), address(v, "email"), None));
        }
        return;
    }
    // REST commit: the git author in `commit.author`, the account in `author`.
    if let Some(git) = v.get("commit").and_then(|c| c.get("author")).filter(|a| a.is_object())
        && v.get("sha").is_some()
    {
        let who = v.get("author").filter(|a| a.is_object()).and_then(actor);
        if let Some(id) = who.or_else(|| text(git, "email").and_then(|e| email_identity(&e))) {
            out.push(profile(id, text(git, "name"), address(git, "email"), None));
        }
        return;
    }
    // A user with profile fields (REST users/<login>; `name` and `email` are null when not public).
    if v.get("login").is_some()
        && (v.get("name").is_some_and(Value::is_string) || v.get("email").is_some_and(Value::is_string))
        && !matches!(
            v.get("type").or(v.get("__typename")).and_then(Value::as_str),
            Some("Bot" | "Organization" | "Team" | "Mannequin")
        )
        && let Some(id) = actor(v)
    {
        out.push(profile(id, text(v, "name"), address(v, "email"), None));
    }
}

fn gitlab_object(v: &Value, out: &mut Vec<IdentityProfile>) {
    if v.get("username").is_some()
        && let Some(id) = crate::sources::gitlab::parse::user(v)
    {
        let email = address(v, "public_email").or_else(|| address(v, "email"));
        out.push(profile(id, text(v, "name"), email, None));
    } else if let Some(email) = address(v, "author_email") {
        out.push(profile(crate::model::identity("email", &email), text(v, "author_name"), Some(email), None));
    }
}

fn jira_object(v: &Value, flavor: Flavor, out: &mut Vec<IdentityProfile>) {
    if v.get("displayName").is_none() {
        return;
    }
    let Some(id) = crate::sources::jira::parse::user_identity(v, flavor) else { return };
    // Cloud hides e-mails by default (absent, or ""), Data Center shows them.
    let username = match flavor {
        Flavor::DataCenter => text(v, "name").map(|n| n.to_ascii_lowercase()),
        Flavor::Cloud => None,
    };
    out.push(profile(id, text(v, "displayName"), address(v, "emailAddress"), username));
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
    pub fn see(&self, shapes: Shapes, v: &Value) {
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
    fn a_graphql_commit_author_gives_the_login_its_name_and_e_mail() {
        let v = json!({"commit": {"oid": "abc", "author": {"name": "Dana Scully", "email": "Dana@Acme.io", "user": {"login": "DScully"}}}});
        let got = extract(Shapes::Github, &v);
        assert_eq!(
            got,
            vec![IdentityProfile {
                identity: "github:dscully".into(),
                display_name: Some("Dana Scully".into()),
                emails: vec!["dana@acme.io".into()],
                username: None
            }]
        );
        // No account: the e-mail identity; a no-reply address is no e-mail; bots are left out.
        let v = json!([{"name": "Dana", "email": "dana@acme.io", "user": null},
                       {"name": "Fox", "email": "7+fox@users.noreply.github.com", "user": null},
                       {"name": "dependabot[bot]", "email": "49699333+dependabot[bot]@users.noreply.github.com",
                        "user": {"__typename": "Bot", "login": "dependabot"}}]);
        let got = extract(Shapes::Github, &v);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].identity.as_str(), got[0].emails.len()), ("email:dana@acme.io", 1));
        assert_eq!((got[1].identity.as_str(), got[1].emails.len()), ("github:fox", 0));
    }

    /// GraphQL actors (`ActorFields`: `... on User { name }`) and team members: a name when the
    /// user set one (null otherwise); a bot's login is no person.
    #[test]
    fn graphql_users_give_their_name() {
        let v = json!({"author": {"__typename": "User", "login": "Lin-Wu", "name": "Lin Wu"},
                       "members": {"nodes": [{"login": "ann", "name": null}, {"login": "bo", "name": "Bo"}]},
                       "actor": {"__typename": "Bot", "login": "renovate"}});
        let got: Vec<(String, Option<String>)> =
            extract(Shapes::Github, &v).into_iter().map(|p| (p.identity, p.display_name)).collect();
        assert_eq!(got, vec![("github:lin-wu".into(), Some("Lin Wu".into())), ("github:bo".into(), Some("Bo".into()))]);
    }

    #[test]
    fn jira_placeholders_and_hidden_e_mails_are_no_evidence() {
        let v = json!({"author": {"accountId": "5b10", "displayName": "Former user", "emailAddress": ""},
                       "assignee": {"accountId": "5b11", "displayName": "Lin Wu", "emailAddress": ""}});
        let got = extract(Shapes::Jira(Flavor::Cloud), &v);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].identity.as_str(), got[0].display_name.as_deref()), ("jira:5b11", Some("Lin Wu")));
        assert!(got[0].emails.is_empty() && got[0].username.is_none());
    }

    #[test]
    fn a_source_hands_each_new_fact_once_and_the_store_keeps_teams_and_old_profiles() {
        let log = ProfileLog::default();
        let user = json!({"username": "lin", "name": "Lin Wu"});
        log.see(Shapes::Gitlab, &json!([user, user]));
        assert_eq!(log.take().len(), 1);
        log.see(Shapes::Gitlab, &user);
        assert!(log.take().is_empty(), "already handed over");
        log.see(Shapes::Gitlab, &json!({"username": "lin", "name": "Lin Wu", "public_email": "lin@acme.io"}));
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
