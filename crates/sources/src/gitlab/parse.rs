//! Maps GitLab REST v4 payloads (issues, merge requests, notes, resource state and label events,
//! group members) to model items and events. Pure functions: no I/O, no clock.
//! A payload missing what an item needs is an error naming the item, never a panic.
//!
//! Merges, closes and reopens live in three places, by GitLab version: resource state events
//! (13.2 and later), system notes (`closed`, `merged`; `Status changed to closed` before 9.0),
//! and the item's own `merged_at` / `closed_at` (its last change only). [`state_changes`] reads
//! each occurrence once, from the first place that has it, under an id of its own.

use std::collections::HashMap;

use serde_json::Value;

use crate::model::{
    DirectorySnapshot, Event, EventKind, Identity, Item, ItemKind, ItemState, ReviewState, Reviewer, SETTLING,
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

/// Everything one read of an item says, as its events: `opened` (from [`parse_item`]), the
/// opening as a draft, its merges, closes and reopens ([`state_changes`]), label events, and what
/// its notes say ([`note_events`]). `notes`, `states` and `labels` are the item's `/notes`,
/// `/resource_state_events` and `/resource_label_events`, empty where the instance has none.
pub fn item_events(
    item: &Item,
    opened: Event,
    payload: &Value,
    notes: &[Value],
    states: &[Value],
    labels: &[Value],
) -> Result<Vec<Event>, String> {
    let key = item.key.as_str();
    let (noted, from_notes): (Vec<Event>, Vec<Event>) =
        note_events(key, item.kind, &item.scope, notes)?.into_iter().partition(|e| is_state_change(&e.kind));
    let recorded = state_events(key, item.kind, states)?;
    let labels = label_events(key, labels)?;
    let last_read = recorded.iter().chain(&noted).chain(&from_notes).chain(&labels).map(|e| e.at).max();
    let mut out = vec![opened];
    if item.kind == ItemKind::MergeRequest
        && let Some(draft) = opened_as_draft(&out[0], payload, &from_notes)
    {
        out.push(draft);
    }
    out.extend(state_changes(item, payload, recorded, noted, last_read));
    out.extend(labels);
    out.extend(from_notes);
    Ok(out)
}

/// GitLab's clocks (application servers, database) may differ by a second or two: an event
/// that little before its item's creation is jitter, not a contradiction.
const CLOCK_SKEW: Ts = 2;

/// What in one read of an item contradicts itself, for the source to log and count: events dated
/// before the item's creation (an issue moved from another project keeps the copied notes' and
/// events' dates; imports keep theirs), and an `updated_at` before `created_at` (recorded
/// gitlab.com data has one). Such events are kept as they are; `None` when nothing contradicts.
pub fn inconsistency(item: &Item, payload: &Value, events: &[Event]) -> Option<String> {
    let mut why = Vec::new();
    let early: Vec<&Event> = events.iter().filter(|e| e.at < item.created_at - CLOCK_SKEW).collect();
    if let Some(first) = early.iter().min_by_key(|e| e.at) {
        why.push(format!(
            "{} event(s) dated before the item's creation at {}, the earliest {} at {}",
            early.len(),
            format_ts(item.created_at),
            first.id,
            format_ts(first.at)
        ));
    }
    if let Some(updated) = time(payload, "updated_at")
        && updated < item.created_at - CLOCK_SKEW
    {
        why.push(format!("updated_at {} is before created_at {}", format_ts(updated), format_ts(item.created_at)));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

fn format_ts(ts: Ts) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map_or_else(|| ts.to_string(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn is_state_change(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Closed { .. } | EventKind::Reopened | EventKind::Merged)
}

fn same_change(a: &EventKind, b: &EventKind) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// An item's merges, closes and reopens, each occurrence once:
/// 1. every resource state event (`recorded`);
/// 2. every state system note (`noted`) that no state event of the same change within
///    [`SETTLING`] already stands for (an instance upgraded to 13.2 records the changes before
///    the upgrade as notes, those after as events);
/// 3. the item's own fields, when the history read so far does not end in the item's state: a
///    merged item's `merged_at` / `merge_user` (`merged_by` before 14.7), a closed item's
///    `closed_at` / `closed_by`. Where the field is missing (merge requests of 2014 have none) or
///    earlier than the last change read, the change is dated at the item's last activity
///    (`updated_at`, or `last_read` where that is later): the latest it can have happened.
///
/// A merge request's close within [`SETTLING`] of its merge, with no reopen between, is part of
/// the merge, not a close of its own.
///
/// Ids are `<item>/merged/<n>`, `<item>/closed/<n>`, `<item>/reopened/<n>`: the n-th occurrence of
/// that change in the item's history, whichever place it was read from. History only grows, so a
/// merge read first from the item's fields (its state event not yet written) and later from its
/// state event keeps its id, and the store holds it once.
pub fn state_changes(
    item: &Item,
    payload: &Value,
    recorded: Vec<Event>,
    noted: Vec<Event>,
    last_read: Option<Ts>,
) -> Vec<Event> {
    let from_events = recorded.len();
    let mut story = recorded;
    let mut matched = vec![false; from_events];
    for e in noted {
        let twin = (0..from_events)
            .filter(|&i| !matched[i] && same_change(&story[i].kind, &e.kind) && (story[i].at - e.at).abs() <= SETTLING)
            .min_by_key(|&i| (story[i].at - e.at).abs());
        match twin {
            Some(i) => matched[i] = true,
            None => story.push(e),
        }
    }
    story.sort_by_key(|e| e.at);
    if item.kind.is_change_request() {
        let merges: Vec<Ts> = story.iter().filter(|e| e.kind == EventKind::Merged).map(|e| e.at).collect();
        let reopened_between =
            |a: Ts, b: Ts| story.iter().any(|e| e.kind == EventKind::Reopened && e.at > a.min(b) && e.at < a.max(b));
        let part_of_a_merge = |e: &Event| {
            matches!(e.kind, EventKind::Closed { .. })
                && merges.iter().any(|&m| (m - e.at).abs() <= SETTLING && !reopened_between(m, e.at))
        };
        story = story.iter().filter(|e| !part_of_a_merge(e)).cloned().collect();
    }
    let from_fields = match payload.get("state").and_then(Value::as_str) {
        Some("merged") => Some((EventKind::Merged, "merged_at", &["merge_user", "merged_by"][..])),
        Some("closed") => {
            Some((EventKind::Closed { completed: item.kind == ItemKind::Issue }, "closed_at", &["closed_by"][..]))
        }
        _ => None,
    };
    if let Some((kind, at_field, by_fields)) = from_fields
        && !story.last().is_some_and(|e| same_change(&e.kind, &kind))
    {
        let floor = story.last().map_or(item.created_at, |e| e.at);
        let last_activity = item.updated_at.max(last_read.unwrap_or(item.updated_at));
        let at = time(payload, at_field).filter(|&t| t >= floor).unwrap_or(last_activity.max(floor));
        let actor = by_fields.iter().find_map(|f| payload.get(*f).and_then(user));
        story.push(Event { id: String::new(), item: item.key.clone(), at, actor, kind });
    }
    let mut seen: HashMap<&'static str, u32> = HashMap::new();
    for e in &mut story {
        let n = seen.entry(e.kind.name()).or_insert(0);
        *n += 1;
        e.id = format!("{}/{}/{n}", item.key, e.kind.name());
    }
    story
}

/// Resource state events (`/resource_state_events`, GitLab 13.2 and later): closed → `Closed`
/// (completed for issues; a merge request closed unmerged is not completed), reopened, merged.
/// `opened` (the creation) is already the item's `Opened` event. Ids are the events' own; see
/// [`state_changes`] for the ids they are stored under.
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

/// Notes of one item: user notes → `Commented` with team mentions; system notes → what
/// [`system_note`] reads in them (state changes included: [`item_events`] weighs them against the
/// state events). An approval later withdrawn (`unapproved this merge request`, or reset by a
/// push) and not given again by then is no approval: it stays a review without a verdict
/// (`Reviewed { state: Commented }`) under its note's id, since the reviewer did respond.
pub fn note_events(key: &str, kind: ItemKind, project: &str, list: &[Value]) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    // (time, note id, whose approvals it withdraws), resolved below in time order.
    let mut withdrawals: Vec<(Ts, u64, Vec<Identity>)> = Vec::new();
    for n in list {
        let id = n.get("id").and_then(Value::as_u64).ok_or_else(|| format!("{key}: a note without id"))?;
        let at = time(n, "created_at").ok_or_else(|| format!("{key}: note {id} without created_at"))?;
        let actor = n.get("author").and_then(user);
        let body = n.get("body").and_then(Value::as_str).unwrap_or("");
        let kinds = if n.get("system").and_then(Value::as_bool).unwrap_or(false) {
            if let Some(whose) = withdrawn_approvals(body) {
                let whose = if whose.is_empty() { actor.iter().cloned().collect() } else { whose };
                withdrawals.push((at, id, whose));
            }
            system_note(body, kind, project)
        } else {
            vec![EventKind::Commented { mentions: team_mentions(body) }]
        };
        for (i, k) in kinds.into_iter().enumerate() {
            let event_id = if i == 0 { format!("{key}/note/{id}") } else { format!("{key}/note/{id}/{i}") };
            out.push((id, Event { id: event_id, item: key.to_string(), at, actor: actor.clone(), kind: k }));
        }
    }
    if !withdrawals.is_empty() {
        // Approvals and withdrawals in time order (recorded lists are not always sorted).
        enum Step {
            Approval(usize),
            Withdrawal(usize),
        }
        let approved = EventKind::Reviewed { state: ReviewState::Approved };
        let mut steps: Vec<(Ts, u64, Step)> = out
            .iter()
            .enumerate()
            .filter(|(_, (_, e))| e.kind == approved)
            .map(|(i, (note, e))| (e.at, *note, Step::Approval(i)))
            .collect();
        steps.extend(withdrawals.iter().enumerate().map(|(w, (at, note, _))| (*at, *note, Step::Withdrawal(w))));
        steps.sort_by_key(|(at, note, _)| (*at, *note));
        let mut standing: HashMap<Identity, usize> = HashMap::new();
        for (_, _, step) in steps {
            match step {
                Step::Approval(i) => {
                    if let Some(who) = out[i].1.actor.clone() {
                        standing.insert(who, i);
                    }
                }
                Step::Withdrawal(w) => {
                    for who in &withdrawals[w].2 {
                        if let Some(i) = standing.remove(who) {
                            out[i].1.kind = EventKind::Reviewed { state: ReviewState::Commented };
                        }
                    }
                }
            }
        }
    }
    Ok(out.into_iter().map(|(_, e)| e).collect())
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
/// request as **draft**`, `approved this merge request`, `moved to group/project#12`, `closed`,
/// `merged`, `reopened`; before GitLab 9.0 `Status changed to closed by <ref>`). State changes
/// are events here; [`state_changes`] weighs them against the state events.
/// Cross-references (`mentioned in !3`), title and description edits, commits added and
/// withdrawn approvals ([`withdrawn_approvals`]) are not events of the model and yield nothing.
pub fn system_note(body: &str, kind: ItemKind, project: &str) -> Vec<EventKind> {
    let text = body.trim();
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let state = lower.strip_prefix("status changed to ").unwrap_or(&lower);
    if state == "closed" || state.starts_with("closed via ") || state.starts_with("closed by ") {
        let via = state != "closed";
        return vec![EventKind::Closed { completed: kind == ItemKind::Issue || via }];
    }
    if state == "reopened" {
        return vec![EventKind::Reopened];
    }
    if kind == ItemKind::MergeRequest && (state == "merged" || state.starts_with("merged manually")) {
        return vec![EventKind::Merged];
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

/// Whose approvals a system note withdraws: `Some([])` for the note's author
/// (`unapproved this merge request`; `revoked approval for this merge request` in later
/// versions), the people named for `reset approvals from @a, @b, and @c by pushing to the
/// branch` (a push with "reset approvals on push" on), `None` for any other note.
pub fn withdrawn_approvals(body: &str) -> Option<Vec<Identity>> {
    let lower = body.trim().to_ascii_lowercase();
    if lower.starts_with("unapproved this merge request")
        || lower.starts_with("revoked approval for this merge request")
    {
        return Some(Vec::new());
    }
    let rest = lower.strip_prefix("reset approvals from ")?;
    let named = persons(rest.split(" by ").next().unwrap_or(rest));
    (!named.is_empty()).then_some(named)
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

    fn sys(body: &str) -> Vec<EventKind> {
        system_note(body, ItemKind::MergeRequest, "acme/pay/api")
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
        assert_eq!(sys("unapproved this merge request"), vec![], "a withdrawal is no event of its own");
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

    #[test]
    fn state_system_notes_of_every_version() {
        let issue = |b: &str| system_note(b, ItemKind::Issue, "g/p");
        let done = EventKind::Closed { completed: true };
        // 9.0 and later (recorded gitlab.com data: "closed", "merged").
        assert_eq!(issue("closed"), vec![done.clone()]);
        assert_eq!(issue("closed via merge request !12"), vec![done.clone()]);
        assert_eq!(issue("closed via commit 1a2b3c4d"), vec![done.clone()]);
        assert_eq!(issue("reopened"), vec![EventKind::Reopened]);
        assert_eq!(sys("closed"), vec![EventKind::Closed { completed: false }], "a merge request closed unmerged");
        assert_eq!(sys("merged"), vec![EventKind::Merged]);
        // Before 9.0.
        assert_eq!(issue("Status changed to closed"), vec![done.clone()]);
        assert_eq!(issue("Status changed to closed by bc17db76"), vec![done.clone()]);
        assert_eq!(issue("Status changed to reopened"), vec![EventKind::Reopened]);
        assert_eq!(sys("Status changed to merged"), vec![EventKind::Merged]);
        // Not state changes.
        assert_eq!(issue("merged"), vec![], "an issue does not merge");
        assert_eq!(sys("closed the discussion"), vec![]);
        assert_eq!(sys("mentioned in merge request !7 closed"), vec![]);
    }

    #[test]
    fn withdrawn_approvals_name_whose() {
        assert_eq!(withdrawn_approvals("unapproved this merge request"), Some(vec![]));
        assert_eq!(withdrawn_approvals("revoked approval for this merge request"), Some(vec![]));
        assert_eq!(
            withdrawn_approvals("reset approvals from @Ann, @bo.b, and @cy by pushing to the branch"),
            Some(vec!["gitlab:ann".to_string(), "gitlab:bo.b".into(), "gitlab:cy".into()])
        );
        assert_eq!(
            withdrawn_approvals("reset approvals from @ann by pushing to the branch"),
            Some(vec!["gitlab:ann".into()])
        );
        assert_eq!(withdrawn_approvals("approved this merge request"), None);
        assert_eq!(withdrawn_approvals("unapproved"), None);
    }

    fn note(id: u64, at: &str, who: &str, body: &str, system: bool) -> Value {
        serde_json::json!({"id": id, "body": body, "system": system, "created_at": at,
            "author": {"id": id, "username": who, "name": who, "state": "active"}})
    }

    #[test]
    fn a_withdrawn_approval_is_a_review_without_a_verdict_until_approved_again() {
        let notes = vec![
            note(1, "2024-03-01T10:00:00.100Z", "ann", "approved this merge request", true),
            note(2, "2024-03-01T10:05:00.000Z", "bob", "approved this merge request", true),
            note(3, "2024-03-01T11:00:00.000Z", "ann", "unapproved this merge request", true),
            note(4, "2024-03-02T09:00:00.000Z", "ann", "approved this merge request", true),
            // A push resets both standing approvals; bob approves again, ann does not.
            note(
                6,
                "2024-03-03T09:00:00.000Z",
                "dev",
                "reset approvals from @ann and @bob by pushing to the branch",
                true,
            ),
            note(7, "2024-03-03T09:30:00.000Z", "bob", "approved this merge request", true),
            // Recorded lists are not always in time order: an approval withdrawn in the same
            // second it was given is read by note id.
            note(9, "2024-03-04T08:00:00.000Z", "cy", "unapproved this merge request", true),
            note(8, "2024-03-04T08:00:00.000Z", "cy", "approved this merge request", true),
            // Someone else's withdrawal does not touch an approval.
            note(10, "2024-03-04T09:00:00.000Z", "dee", "approved this merge request", true),
            note(11, "2024-03-04T09:10:00.000Z", "eve", "unapproved this merge request", true),
        ];
        let got = note_events("gitlab:g/p!1", ItemKind::MergeRequest, "g/p", &notes).unwrap();
        let review = |e: &Event| match &e.kind {
            EventKind::Reviewed { state } => Some((e.id.trim_start_matches("gitlab:g/p!1/note/").to_string(), *state)),
            _ => None,
        };
        let rows: Vec<_> = got.iter().filter_map(review).collect();
        use ReviewState::{Approved, Commented};
        assert_eq!(
            rows,
            [("1", Commented), ("2", Commented), ("4", Commented), ("7", Approved), ("8", Commented), ("10", Approved)]
                .map(|(id, s)| (id.to_string(), s))
                .to_vec()
        );
        assert_eq!(got.len(), 6, "withdrawals are no events: {got:?}");
    }

    fn mr(state: &str, extra: Value) -> (Item, Value) {
        let mut v = serde_json::json!({
            "iid": 5, "state": state, "web_url": "https://gitlab.example.com/g/p/-/merge_requests/5",
            "created_at": "2024-03-01T10:00:00.000Z", "updated_at": "2024-03-09T10:00:00.000Z",
            "merged_at": null, "merged_by": null, "closed_at": null, "closed_by": null,
            "references": {"full": "g/p!5"}
        });
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        (parse_item("gl", ItemKind::MergeRequest, &v, None).unwrap().0, v)
    }

    fn change(at: &str, who: &str, kind: EventKind) -> Event {
        Event {
            id: format!("from/{at}"),
            item: "gitlab:g/p!5".into(),
            at: parse_time(at).unwrap(),
            actor: Some(format!("gitlab:{who}")),
            kind,
        }
    }

    fn rows(events: &[Event]) -> Vec<(String, Ts, Option<String>, EventKind)> {
        events.iter().map(|e| (e.id.clone(), e.at, e.actor.clone(), e.kind.clone())).collect()
    }

    #[test]
    fn one_merge_whether_state_events_notes_or_the_item_say_so() {
        let who = |s: &str| Some(format!("gitlab:{s}"));
        let merged_at = "2024-03-08T16:24:07.606Z";
        let (item, v) = mr("merged", serde_json::json!({"merged_at": merged_at, "merged_by": {"username": "Mimi"}}));
        let event = change("2024-03-08T16:24:07.650Z", "mimi", EventKind::Merged);
        // The note is written a little after the state, in the next second.
        let noted = change("2024-03-08T16:24:08.020Z", "mimi", EventKind::Merged);
        let key = "gitlab:g/p!5/merged/1".to_string();
        let at = parse_time(merged_at).unwrap();
        for (recorded, noted) in
            [(vec![event.clone()], vec![noted.clone()]), (vec![], vec![noted.clone()]), (vec![], vec![])]
        {
            let got = state_changes(&item, &v, recorded.clone(), noted.clone(), None);
            let from = if !recorded.is_empty() { &recorded[0] } else { noted.first().unwrap_or(&event) };
            let want_at = if recorded.is_empty() && noted.is_empty() { at } else { from.at };
            assert_eq!(rows(&got), vec![(key.clone(), want_at, who("mimi"), EventKind::Merged)]);
        }
        // `merge_user` (14.7 and later) is preferred to `merged_by`.
        let (item, v) = mr(
            "merged",
            serde_json::json!({"merged_at": merged_at, "merge_user": {"username": "lu"}, "merged_by": {"username": "mimi"}}),
        );
        assert_eq!(state_changes(&item, &v, vec![], vec![], None)[0].actor, who("lu"));
    }

    #[test]
    fn a_close_next_to_the_merge_is_part_of_it_and_an_earlier_close_is_not() {
        let (item, v) = mr("merged", serde_json::json!({"merged_at": "2024-03-08T16:24:07Z"}));
        let closed = EventKind::Closed { completed: false };
        let recorded = vec![
            change("2024-03-02T09:00:00Z", "ann", closed.clone()),
            change("2024-03-03T09:00:00Z", "ann", EventKind::Reopened),
            change("2024-03-08T16:24:06Z", "bot", closed.clone()),
            change("2024-03-08T16:24:07Z", "mimi", EventKind::Merged),
        ];
        let got = state_changes(&item, &v, recorded, vec![], None);
        let kinds: Vec<_> = got.iter().map(|e| (e.id.rsplit_once("!5/").unwrap().1, e.kind.clone())).collect();
        assert_eq!(
            kinds,
            vec![("closed/1", closed.clone()), ("reopened/1", EventKind::Reopened), ("merged/1", EventKind::Merged)]
        );
        // A close, a reopen and a merge within a minute: the close is its own.
        let recorded = vec![
            change("2024-03-08T16:23:30Z", "ann", closed.clone()),
            change("2024-03-08T16:23:50Z", "ann", EventKind::Reopened),
            change("2024-03-08T16:24:07Z", "mimi", EventKind::Merged),
        ];
        assert_eq!(state_changes(&item, &v, recorded, vec![], None).len(), 3);
    }

    #[test]
    fn notes_before_an_upgrade_and_state_events_after_it_make_one_history() {
        let (item, v) =
            mr("closed", serde_json::json!({"closed_at": "2024-03-06T12:00:00.800Z", "closed_by": {"username": "bo"}}));
        let closed = EventKind::Closed { completed: false };
        let noted = vec![
            change("2024-03-02T09:00:00Z", "ann", closed.clone()),
            change("2024-03-03T09:00:00Z", "ann", EventKind::Reopened),
        ];
        let recorded = vec![
            change("2024-03-05T09:00:00Z", "cy", closed.clone()),
            change("2024-03-05T10:00:00Z", "cy", EventKind::Reopened),
            change("2024-03-06T12:00:01Z", "bo", closed.clone()),
        ];
        let got = state_changes(&item, &v, recorded, noted, None);
        let ids: Vec<_> = got.iter().map(|e| (e.id.rsplit_once("!5/").unwrap().1, e.actor.clone().unwrap())).collect();
        assert_eq!(
            ids,
            vec![
                ("closed/1", "gitlab:ann".to_string()),
                ("reopened/1", "gitlab:ann".into()),
                ("closed/2", "gitlab:cy".into()),
                ("reopened/2", "gitlab:cy".into()),
                ("closed/3", "gitlab:bo".into()),
            ],
            "the item's closed_at is the last close, not a fourth"
        );
    }

    #[test]
    fn the_items_fields_date_its_last_change_when_nothing_else_does() {
        // Reopened then closed again with nothing recorded after the reopen: the item's fields
        // tell the last close.
        let (item, v) = mr("closed", serde_json::json!({"closed_at": "2024-03-07T08:00:00Z", "closed_by": null}));
        let noted = vec![
            change("2024-03-02T09:00:00Z", "ann", EventKind::Closed { completed: false }),
            change("2024-03-03T09:00:00Z", "ann", EventKind::Reopened),
        ];
        let got = state_changes(&item, &v, vec![], noted.clone(), None);
        assert_eq!(
            rows(&got[2..]),
            vec![(
                "gitlab:g/p!5/closed/2".into(),
                parse_time("2024-03-07T08:00:00Z").unwrap(),
                None,
                EventKind::Closed { completed: false }
            )]
        );
        // A closed_at before the last change read contradicts it: the close is dated at the
        // item's last activity.
        let (item, v) = mr("closed", serde_json::json!({"closed_at": "2024-03-02T09:00:00Z"}));
        let got = state_changes(&item, &v, vec![], noted, None);
        assert_eq!(got[2].at, parse_time("2024-03-09T10:00:00Z").unwrap());
        // A merge request of 2014 says it merged, not when (recorded gitlab.com data).
        let (item, v) = mr("merged", serde_json::json!({}));
        let got = state_changes(&item, &v, vec![], vec![], Some(parse_time("2024-03-10T00:00:00Z").unwrap()));
        assert_eq!(
            rows(&got),
            vec![(
                "gitlab:g/p!5/merged/1".into(),
                parse_time("2024-03-10T00:00:00Z").unwrap(),
                None,
                EventKind::Merged
            )],
            "the last thing read is later than updated_at: that is the latest the merge can be"
        );
        let (item, v) = mr("opened", serde_json::json!({"closed_at": "2024-03-02T09:00:00Z"}));
        assert!(
            state_changes(&item, &v, vec![], vec![], None).is_empty(),
            "an open item's stale closed_at is no close"
        );
    }

    #[test]
    fn events_before_the_creation_are_reported_with_the_earliest() {
        let (item, v) = mr("opened", serde_json::json!({}));
        let at = |t: &str| change(t, "ann", EventKind::Commented { mentions: vec![] });
        let events = vec![
            at("2024-02-01T00:00:00Z"),
            at("2024-01-15T00:00:00Z"),
            at("2024-03-01T09:59:59Z"),
            at("2024-03-02T00:00:00Z"),
        ];
        let why = inconsistency(&item, &v, &events).unwrap();
        assert_eq!(
            why,
            "2 event(s) dated before the item's creation at 2024-03-01T10:00:00Z, the earliest from/2024-01-15T00:00:00Z at 2024-01-15T00:00:00Z"
        );
        assert_eq!(inconsistency(&item, &v, &events[2..]), None, "a second early is clock jitter");
    }
}
