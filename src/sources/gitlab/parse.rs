//! Maps GitLab REST v4 payloads (issues, merge requests, notes, resource state and label events,
//! group members) to model items and events. Pure functions: no I/O, no clock.
//! A payload missing what an item needs is an error naming the item, never a panic.

use serde_json::Value;

use crate::model::{
    DirectorySnapshot, Event, EventKind, Identity, Item, ItemKind, ItemState, ReviewState, Reviewer,
    SnapshotMembership, SnapshotPerson, SnapshotTeam, Ts, identity,
};
use crate::sources::http::parse_time;

/// The key of an issue (`gitlab:group/project#12`) or merge request (`gitlab:group/project!12`).
pub fn item_key(project: &str, kind: ItemKind, iid: u64) -> String {
    let sep = if kind == ItemKind::MergeRequest { '!' } else { '#' };
    format!("gitlab:{project}{sep}{iid}")
}

/// The identity of a GitLab user object (`{username, …}`): lower-cased `gitlab:<username>`.
/// GitLab's placeholder for deleted users (`ghost`) and a missing user are None.
pub fn user(v: &Value) -> Option<Identity> {
    let name = v.get("username")?.as_str()?.trim();
    if name.is_empty() || name.eq_ignore_ascii_case("ghost") {
        return None;
    }
    Some(identity("gitlab", name))
}

fn time(v: &Value, field: &str) -> Option<Ts> {
    v.get(field).and_then(Value::as_str).and_then(parse_time)
}

/// The project path of an item: `references.full` (`group/sub/project#12`) where GitLab sends
/// it, else read from `web_url` (`https://host/group/sub/project/-/issues/12`, with or without `/-`).
pub fn project_path(v: &Value) -> Option<String> {
    if let Some(full) = v.pointer("/references/full").and_then(Value::as_str)
        && let Some(cut) = full.rfind(['#', '!'])
        && cut > 0
    {
        return Some(full[..cut].to_string());
    }
    let url = v.get("web_url")?.as_str()?;
    let rest = url.split_once("://")?.1;
    let path = &rest[rest.find('/')? + 1..];
    let end = ["/-/issues/", "/-/merge_requests/", "/issues/", "/merge_requests/"]
        .iter()
        .filter_map(|marker| path.find(marker))
        .min()?;
    (end > 0).then(|| path[..end].to_string())
}

/// An issue (`kind = Issue`) or merge request (`MergeRequest`) and its `Opened` event.
/// `project` overrides the path read from the payload (keys stay stable after a rename).
pub fn parse_item(source: &str, kind: ItemKind, v: &Value, project: Option<&str>) -> Result<(Item, Event), String> {
    let url = v.get("web_url").and_then(Value::as_str).unwrap_or("(no web_url)").to_string();
    let fail = |why: &str| format!("{url}: {why}");
    let iid = v.get("iid").and_then(Value::as_u64).ok_or_else(|| fail("no iid"))?;
    let project = match project {
        Some(p) => p.to_string(),
        None => project_path(v).ok_or_else(|| fail("no project path in references.full or web_url"))?,
    };
    let created_at = time(v, "created_at").ok_or_else(|| fail("no valid created_at"))?;
    // Recorded data has `updated_at` before `created_at`; an item is never updated before it exists.
    let updated_at = time(v, "updated_at").unwrap_or(created_at).max(created_at);
    let state = match v.get("state").and_then(Value::as_str) {
        Some("opened" | "reopened" | "locked") => ItemState::Open,
        Some("closed") => ItemState::Closed,
        Some("merged") => ItemState::Merged,
        other => return Err(fail(&format!("unknown state {other:?}"))),
    };
    let author = v.get("author").and_then(user);
    let key = item_key(&project, kind, iid);
    let issue_type = match kind {
        ItemKind::Issue => v.get("issue_type").and_then(Value::as_str).filter(|t| *t != "issue").map(str::to_string),
        _ => None,
    };
    let opened = Event {
        id: format!("{key}/opened"),
        item: key.clone(),
        at: created_at,
        actor: author.clone(),
        kind: EventKind::Opened,
    };
    let item = Item {
        key,
        source: source.to_string(),
        kind,
        scope: project,
        url,
        title: v.get("title").and_then(Value::as_str).unwrap_or("").to_string(),
        author,
        created_at,
        updated_at,
        state,
        issue_type,
    };
    Ok((item, opened))
}

/// Resource state events (`/resource_state_events`): closed → `Closed` (completed for issues
/// and for MRs closed by a merge; an MR closed unmerged is not completed), reopened, merged.
/// `opened` (the creation) is already the item's `Opened` event.
pub fn state_events(key: &str, kind: ItemKind, list: &[Value]) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    for e in list {
        let id = e.get("id").and_then(Value::as_u64).ok_or_else(|| format!("{key}: a state event without id"))?;
        let at = time(e, "created_at").ok_or_else(|| format!("{key}: state event {id} without created_at"))?;
        let kind = match e.get("state").and_then(Value::as_str) {
            Some("closed") => EventKind::Closed { completed: kind == ItemKind::Issue },
            Some("reopened") => EventKind::Reopened,
            Some("merged") => EventKind::Merged,
            _ => continue,
        };
        out.push(Event {
            id: format!("{key}/state/{id}"),
            item: key.to_string(),
            at,
            actor: e.get("user").and_then(user),
            kind,
        });
    }
    Ok(out)
}

/// Resource label events (`/resource_label_events`): add → `Labeled`, remove → `Unlabeled`.
/// Events of a deleted label (`label: null`) carry no name and are skipped.
pub fn label_events(key: &str, list: &[Value]) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    for e in list {
        let id = e.get("id").and_then(Value::as_u64).ok_or_else(|| format!("{key}: a label event without id"))?;
        let at = time(e, "created_at").ok_or_else(|| format!("{key}: label event {id} without created_at"))?;
        let Some(label) = e.pointer("/label/name").and_then(Value::as_str) else { continue };
        let kind = match e.get("action").and_then(Value::as_str) {
            Some("add") => EventKind::Labeled { label: label.to_string() },
            Some("remove") => EventKind::Unlabeled { label: label.to_string() },
            _ => continue,
        };
        out.push(Event {
            id: format!("{key}/label/{id}"),
            item: key.to_string(),
            at,
            actor: e.get("user").and_then(user),
            kind,
        });
    }
    Ok(out)
}

/// How notes are read. The source reads state and label changes from resource events, so their
/// system notes are ignored; recorded data without resource events reads them from notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoteMode {
    pub state_from_notes: bool,
}

/// Notes of one item: user notes → `Commented` with team mentions; system notes → the events
/// the resource-event APIs do not offer (review requests, assignees, draft, approvals, moves).
pub fn note_events(
    key: &str,
    kind: ItemKind,
    project: &str,
    list: &[Value],
    mode: NoteMode,
) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    for n in list {
        let id = n.get("id").and_then(Value::as_u64).ok_or_else(|| format!("{key}: a note without id"))?;
        let at = time(n, "created_at").ok_or_else(|| format!("{key}: note {id} without created_at"))?;
        let actor = n.get("author").and_then(user);
        let body = n.get("body").and_then(Value::as_str).unwrap_or("");
        let kinds = if n.get("system").and_then(Value::as_bool).unwrap_or(false) {
            system_note(body, kind, project, mode)
        } else {
            vec![EventKind::Commented { mentions: team_mentions(body) }]
        };
        for (i, k) in kinds.into_iter().enumerate() {
            let id = if i == 0 { format!("{key}/note/{id}") } else { format!("{key}/note/{id}/{i}") };
            out.push(Event { id, item: key.to_string(), at, actor: actor.clone(), kind: k });
        }
    }
    Ok(out)
}

/// Group handles mentioned in a comment: `@group/sub` (a path with a slash cannot be a user),
/// lower-cased, each once, in order.
pub fn team_mentions(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (handle, _) in at_handles(body) {
        if handle.contains('/') && !out.contains(&handle) {
            out.push(handle);
        }
    }
    out
}

/// `@handle`s in a text with their byte offsets, trailing punctuation removed, lower-cased.
fn at_handles(text: &str) -> Vec<(String, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'_' | b'.' | b'@'));
        if bytes[i] == b'@' && boundary {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len()
                && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'_' | b'.' | b'-' | b'/'))
            {
                end += 1;
            }
            let handle = text[start..end].trim_end_matches(['.', '/', '-']);
            if !handle.is_empty() {
                out.push((handle.to_ascii_lowercase(), i));
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fn persons(segment: &str) -> Vec<Identity> {
    at_handles(segment).into_iter().filter(|(h, _)| !h.contains('/')).map(|(h, _)| identity("gitlab", &h)).collect()
}

/// The events a system note stands for. GitLab writes them in English in a fixed form
/// (`requested review from @a and @b`, `assigned to @a and unassigned @b`, `marked this merge
/// request as **draft**`, `approved this merge request`, `moved to group/project#12`…).
/// Cross-references (`mentioned in !3`), title and description edits and commits added are not
/// events of the model and yield nothing.
pub fn system_note(body: &str, kind: ItemKind, project: &str, mode: NoteMode) -> Vec<EventKind> {
    let text = body.trim();
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    if mode.state_from_notes {
        if lower == "closed" || lower.starts_with("closed via") {
            out.push(EventKind::Closed { completed: kind == ItemKind::Issue || lower.starts_with("closed via") });
            return out;
        }
        if lower == "reopened" {
            return vec![EventKind::Reopened];
        }
        if lower == "merged" || lower.starts_with("merged manually") {
            return vec![EventKind::Merged];
        }
    }
    if lower.starts_with("approved this merge request") {
        return vec![EventKind::Reviewed { state: ReviewState::Approved }];
    }
    if lower.contains("as **draft**") || lower.contains("as a **work in progress**") {
        return if lower.starts_with("unmarked") {
            vec![EventKind::ReadyForReview]
        } else {
            vec![EventKind::ConvertedToDraft]
        };
    }
    if lower.contains("as **ready**") {
        return vec![EventKind::ReadyForReview];
    }
    if let Some(rest) = lower.strip_prefix("moved to ") {
        let reference = rest.split_whitespace().next().unwrap_or("");
        if let Some(to_scope) = referenced_project(reference, project) {
            return vec![EventKind::Moved { from_scope: project.to_string(), to_scope }];
        }
        return out;
    }
    // Review requests and assignees; one note may carry several clauses.
    for clause in split_clauses(&lower) {
        if let Some(who) = clause.strip_prefix("requested review from ") {
            out.extend(persons(who).into_iter().map(|p| EventKind::ReviewRequested { reviewer: Reviewer::Person(p) }));
        } else if let Some(who) = clause.strip_prefix("removed review request for ") {
            out.extend(
                persons(who).into_iter().map(|p| EventKind::ReviewRequestRemoved { reviewer: Reviewer::Person(p) }),
            );
        } else if let Some(who) = clause.strip_prefix("assigned to ").or_else(|| clause.strip_prefix("reassigned to "))
        {
            out.extend(persons(who).into_iter().map(|p| EventKind::Assigned { assignee: p }));
        } else if let Some(who) = clause.strip_prefix("unassigned ") {
            out.extend(persons(who).into_iter().map(|p| EventKind::Unassigned { assignee: p }));
        }
    }
    out
}

/// Splits `assigned to @a and unassigned @b` into its clauses: a new clause starts at a verb.
fn split_clauses(text: &str) -> Vec<String> {
    const VERBS: [&str; 5] =
        ["requested review from ", "removed review request for ", "assigned to ", "reassigned to ", "unassigned "];
    let mut starts: Vec<usize> = Vec::new();
    for v in VERBS {
        let mut from = 0;
        while let Some(p) = text[from..].find(v) {
            let at = from + p;
            // `assigned to` inside `reassigned to` / `unassigned` is the same clause.
            let inside = at > 0 && text.as_bytes()[at - 1].is_ascii_alphabetic();
            if !inside && !starts.contains(&at) {
                starts.push(at);
            }
            from = at + v.len();
        }
    }
    starts.sort_unstable();
    starts
        .iter()
        .enumerate()
        .map(|(i, &s)| text[s..starts.get(i + 1).copied().unwrap_or(text.len())].to_string())
        .collect()
}

/// The project of a reference (`group/project#12`, `project#12` in the same namespace).
fn referenced_project(reference: &str, here: &str) -> Option<String> {
    let cut = reference.rfind(['#', '!'])?;
    let path = reference[..cut].trim();
    if path.is_empty() {
        return None;
    }
    if path.contains('/') {
        return Some(path.to_string());
    }
    match here.rsplit_once('/') {
        Some((namespace, _)) => Some(format!("{namespace}/{path}")),
        None => Some(path.to_string()),
    }
}

/// The `ConvertedToDraft` of a merge request opened as a draft, which GitLab records no note for:
/// the first draft note is `ready`, or there is none and the MR is a draft now.
pub fn opened_as_draft(opened: &Event, mr: &Value, events: &[Event]) -> Option<Event> {
    let first = events.iter().find(|e| matches!(e.kind, EventKind::ConvertedToDraft | EventKind::ReadyForReview));
    let as_draft = match first {
        Some(e) => e.kind == EventKind::ReadyForReview,
        None => is_draft(mr),
    };
    as_draft.then(|| Event {
        id: format!("{}/draft", opened.item),
        kind: EventKind::ConvertedToDraft,
        ..opened.clone()
    })
}

/// Draft status of a merge request payload (`draft`, or `work_in_progress` before GitLab 14).
pub fn is_draft(v: &Value) -> bool {
    v.get("draft").or_else(|| v.get("work_in_progress")).and_then(Value::as_bool).unwrap_or(false)
}

/// Group memberships as a directory: one team per group (its `full_path`, also its mention
/// and review handle), people as `gitlab:<username>`. `groups` are (full_path, direct members).
/// Blocked users are left out; memberships carry no dates (GitLab keeps none for past members).
pub fn directory(groups: &[(String, Vec<Value>)]) -> DirectorySnapshot {
    let mut snap = DirectorySnapshot::default();
    let mut people: std::collections::BTreeMap<Identity, SnapshotPerson> = std::collections::BTreeMap::new();
    for (path, members) in groups {
        let team = path.to_ascii_lowercase();
        snap.teams.push(SnapshotTeam { name: team.clone(), handles: vec![team.clone()] });
        for m in members {
            if m.get("state").and_then(Value::as_str) == Some("blocked") {
                continue;
            }
            let Some(id) = user(m) else { continue };
            let person = people.entry(id.clone()).or_insert_with(|| SnapshotPerson {
                name: id.trim_start_matches("gitlab:").to_string(),
                identities: vec![id.clone()],
                memberships: Vec::new(),
                bot: m.get("bot").and_then(Value::as_bool).unwrap_or(false),
            });
            if !person.memberships.iter().any(|x| x.team == team) {
                person.memberships.push(SnapshotMembership { team: team.clone(), from: None, until: None });
            }
        }
    }
    snap.people = people.into_values().collect();
    snap
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE: NoteMode = NoteMode { state_from_notes: false };

    fn sys(body: &str) -> Vec<EventKind> {
        system_note(body, ItemKind::MergeRequest, "acme/pay/api", ISSUE)
    }

    #[test]
    fn review_and_assignee_system_notes() {
        let p = |s: &str| Reviewer::Person(format!("gitlab:{s}"));
        assert_eq!(
            sys("requested review from @Alice and @bob"),
            vec![
                EventKind::ReviewRequested { reviewer: p("alice") },
                EventKind::ReviewRequested { reviewer: p("bob") }
            ]
        );
        assert_eq!(
            sys("removed review request for @carol"),
            vec![EventKind::ReviewRequestRemoved { reviewer: p("carol") }]
        );
        assert_eq!(
            sys("assigned to @dan and unassigned @erin"),
            vec![
                EventKind::Assigned { assignee: "gitlab:dan".into() },
                EventKind::Unassigned { assignee: "gitlab:erin".into() }
            ]
        );
        assert_eq!(sys("unassigned @erin"), vec![EventKind::Unassigned { assignee: "gitlab:erin".into() }]);
        assert_eq!(sys("reassigned to @dan"), vec![EventKind::Assigned { assignee: "gitlab:dan".into() }]);
        assert_eq!(sys("marked this merge request as **draft**"), vec![EventKind::ConvertedToDraft]);
        assert_eq!(sys("marked this merge request as **ready**"), vec![EventKind::ReadyForReview]);
        assert_eq!(sys("marked as a **Work In Progress**"), vec![EventKind::ConvertedToDraft]);
        assert_eq!(sys("unmarked as a **Work In Progress**"), vec![EventKind::ReadyForReview]);
        assert_eq!(sys("approved this merge request"), vec![EventKind::Reviewed { state: ReviewState::Approved }]);
        assert_eq!(sys("mentioned in !12"), vec![]);
        assert_eq!(sys("closed"), vec![], "state comes from resource state events");
        assert_eq!(
            sys("moved to fdroidserver#268"),
            vec![EventKind::Moved { from_scope: "acme/pay/api".into(), to_scope: "acme/pay/fdroidserver".into() }]
        );
    }

    #[test]
    fn resource_state_and_label_events_in_the_documented_shapes() {
        let root = serde_json::json!({"id": 1, "name": "Administrator", "username": "Root", "state": "active"});
        let states = serde_json::json!([
            {"id": 142, "user": root, "created_at": "2018-08-20T13:38:20.077Z", "resource_type": "MergeRequest", "resource_id": 11, "state": "opened"},
            {"id": 143, "user": root, "created_at": "2018-08-21T14:38:20.077Z", "resource_type": "MergeRequest", "resource_id": 11, "state": "closed"},
            {"id": 144, "user": null, "created_at": "2018-08-22T14:38:20.077Z", "resource_type": "MergeRequest", "resource_id": 11, "state": "reopened"},
            {"id": 145, "user": root, "created_at": "2018-08-23T14:38:20.077Z", "resource_type": "MergeRequest", "resource_id": 11, "state": "merged"}
        ]);
        let key = "gitlab:g/p!11";
        let got = state_events(key, ItemKind::MergeRequest, states.as_array().unwrap()).unwrap();
        let rows: Vec<_> = got.iter().map(|e| (e.id.as_str(), e.at, e.actor.as_deref(), e.kind.clone())).collect();
        assert_eq!(
            rows,
            vec![
                ("gitlab:g/p!11/state/143", 1_534_862_300, Some("gitlab:root"), EventKind::Closed { completed: false }),
                ("gitlab:g/p!11/state/144", 1_534_948_700, None, EventKind::Reopened),
                ("gitlab:g/p!11/state/145", 1_535_035_100, Some("gitlab:root"), EventKind::Merged),
            ]
        );
        let labels = serde_json::json!([
            {"id": 7, "user": root, "created_at": "2018-08-20T13:38:20Z", "resource_type": "Issue", "resource_id": 253,
             "label": {"id": 73, "name": "team::payments", "color": "#34495E", "description": ""}, "action": "add"},
            {"id": 8, "user": root, "created_at": "2018-08-20T13:40:20Z", "resource_type": "Issue", "resource_id": 253,
             "label": {"id": 73, "name": "team::payments", "color": "#34495E", "description": ""}, "action": "remove"},
            {"id": 9, "user": root, "created_at": "2018-08-20T13:41:20Z", "resource_type": "Issue", "resource_id": 253,
             "label": null, "action": "add"}
        ]);
        let got = label_events("gitlab:g/p#3", labels.as_array().unwrap()).unwrap();
        let kinds: Vec<_> = got.iter().map(|e| (e.id.as_str(), e.kind.clone())).collect();
        assert_eq!(
            kinds,
            vec![
                ("gitlab:g/p#3/label/7", EventKind::Labeled { label: "team::payments".into() }),
                ("gitlab:g/p#3/label/8", EventKind::Unlabeled { label: "team::payments".into() }),
            ]
        );
        let issue_close = serde_json::json!([{"id": 1, "created_at": "2018-08-20T13:38:20Z", "state": "closed"}]);
        assert_eq!(
            state_events("gitlab:g/p#3", ItemKind::Issue, issue_close.as_array().unwrap()).unwrap()[0].kind,
            EventKind::Closed { completed: true }
        );
        assert!(state_events(key, ItemKind::Issue, &[serde_json::json!({"state": "closed"})]).is_err());
    }

    #[test]
    fn group_members_become_teams_by_full_path() {
        let groups = vec![
            ("acme".to_string(), vec![serde_json::json!({"username": "Alice", "state": "active"})]),
            (
                "acme/Pay".to_string(),
                vec![
                    serde_json::json!({"username": "alice", "state": "active"}),
                    serde_json::json!({"username": "bob", "state": "blocked"}),
                ],
            ),
        ];
        let snap = directory(&groups);
        let teams: Vec<_> = snap.teams.iter().map(|t| (t.name.as_str(), t.handles.clone())).collect();
        assert_eq!(teams, vec![("acme", vec!["acme".to_string()]), ("acme/pay", vec!["acme/pay".to_string()])]);
        assert_eq!(snap.people.len(), 1, "blocked bob is left out");
        assert_eq!(snap.people[0].identities, vec!["gitlab:alice"]);
        let teams: Vec<_> = snap.people[0].memberships.iter().map(|m| m.team.as_str()).collect();
        assert_eq!(teams, vec!["acme", "acme/pay"]);
    }

    #[test]
    fn a_merge_request_opened_as_draft_is_a_draft_from_its_creation() {
        let opened = Event { id: "k/opened".into(), item: "k".into(), at: 5, actor: None, kind: EventKind::Opened };
        let ev = |kind| Event { id: "k/note/1".into(), item: "k".into(), at: 9, actor: None, kind };
        let draft = serde_json::json!({"draft": true});
        let ready = serde_json::json!({"draft": false});
        let got = opened_as_draft(&opened, &ready, &[ev(EventKind::ReadyForReview)]).unwrap();
        assert_eq!((got.id.as_str(), got.at, got.kind), ("k/draft", 5, EventKind::ConvertedToDraft));
        assert!(opened_as_draft(&opened, &draft, &[]).is_some(), "a draft now with no note was opened as one");
        assert!(opened_as_draft(&opened, &ready, &[]).is_none());
        assert!(opened_as_draft(&opened, &draft, &[ev(EventKind::ConvertedToDraft)]).is_none());
    }

    #[test]
    fn only_slashed_mentions_are_teams() {
        assert_eq!(
            team_mentions("cc @acme/Payments, @bob and @acme/pay/core. mail a@b/c"),
            vec!["acme/payments", "acme/pay/core"]
        );
    }

    #[test]
    fn project_path_from_references_or_web_url() {
        let v = serde_json::json!({"references": {"full": "g/sub/p!4"}});
        assert_eq!(project_path(&v).as_deref(), Some("g/sub/p"));
        let v = serde_json::json!({"web_url": "https://gitlab.example.com/g/p/-/issues/3"});
        assert_eq!(project_path(&v).as_deref(), Some("g/p"));
    }
}
