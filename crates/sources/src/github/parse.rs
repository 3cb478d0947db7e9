//! Maps GitHub payloads (GraphQL nodes as the source's documents select them, and the REST
//! shapes other collectors read) to model items and events. Pure functions: no I/O, no clock.
//! A payload missing what an item needs is an error naming the item, never a panic.
//! Both shapes follow the same rules: a commit happens when it was authored, and the close that
//! comes with a merge (within `SETTLING` of it, before or after) is part of the merge.

use serde_json::Value;

use crate::model::{
    Event, EventKind, Identity, Item, ItemKind, ItemState, LinkRelation, ReviewState, Reviewer, SETTLING, Ts, identity,
};
use crate::sources::http::parse_time;
use crate::sources::text::team_mentions;

/// Why an item could not be read; `url` names it for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    pub url: String,
    pub why: String,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.url, self.why)
    }
}

/// The key of an item: `github:owner/repo#number`.
pub fn item_key(scope: &str, number: u64) -> String {
    format!("github:{scope}#{number}")
}

/// The identity of a GitHub actor object (`{login, __typename}`): lower-cased `github:<login>`,
/// bots with GitHub's `[bot]` suffix, deleted users (`ghost`, null) as None.
pub fn actor(v: &Value) -> Option<Identity> {
    let login = v.get("login")?.as_str()?.trim();
    if login.is_empty() || login.eq_ignore_ascii_case("ghost") {
        return None;
    }
    let bot = v.get("__typename").and_then(Value::as_str) == Some("Bot")
        || v.get("type").and_then(Value::as_str) == Some("Bot");
    if bot && !login.ends_with("[bot]") {
        Some(identity("github", &format!("{login}[bot]")))
    } else {
        Some(identity("github", login))
    }
}

/// The identity of a commit author: the GitHub user when linked, else the e-mail.
pub fn git_actor(v: &Value) -> Option<Identity> {
    if let Some(user) = v.get("user").filter(|u| !u.is_null())
        && let Some(id) = actor(user)
    {
        return Some(id);
    }
    v.get("email").and_then(Value::as_str).and_then(email_identity)
}

/// `email:<addr>` lower-cased, or `github:<login>` for GitHub's no-reply addresses
/// (`12345+login@users.noreply.github.com`).
pub fn email_identity(addr: &str) -> Option<Identity> {
    let addr = addr.trim().trim_matches(|c| c == '<' || c == '>').trim();
    if !addr.contains('@') {
        return None;
    }
    let lower = addr.to_ascii_lowercase();
    if let Some(local) = lower.strip_suffix("@users.noreply.github.com") {
        let login = local.rsplit('+').next().unwrap_or(local);
        if !login.is_empty() {
            return Some(identity("github", login));
        }
    }
    Some(identity("email", &lower))
}

/// `Co-authored-by: Name <addr>` trailers of a commit message, as identities, in order.
pub fn co_authors(message: &str) -> Vec<Identity> {
    let mut out: Vec<Identity> = Vec::new();
    for line in message.lines() {
        let line = line.trim();
        let Some((key, value)) = line.split_once(':') else { continue };
        if !key.trim().eq_ignore_ascii_case("co-authored-by") {
            continue;
        }
        let Some(start) = value.find('<') else { continue };
        let Some(end) = value[start..].find('>') else { continue };
        if let Some(id) = email_identity(&value[start + 1..start + end])
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    out
}

/// A reference to an item in a text: `#12`, `owner/repo#12` or a github URL to an issue/pull.
fn reference_at(text: &str, default_scope: &str) -> Option<(String, u64)> {
    let t = text.trim_start_matches([' ', ':', '\t']);
    let t = t.trim_start_matches("**").trim_start_matches([' ', ':']);
    if let Some(rest) = t.strip_prefix('#') {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        return digits.parse().ok().map(|n| (default_scope.to_string(), n));
    }
    if let Some(after_scheme) = t.strip_prefix("https://").or_else(|| t.strip_prefix("http://")) {
        let mut parts = after_scheme.split('/');
        let _host = parts.next()?;
        let (owner, repo, kind, num) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if kind != "issues" && kind != "pull" {
            return None;
        }
        let digits: String = num.chars().take_while(char::is_ascii_digit).collect();
        return digits.parse().ok().map(|n| (format!("{owner}/{repo}"), n));
    }
    let end = t.find(|c: char| c.is_whitespace() || c == ',' || c == ')').unwrap_or(t.len());
    let token = &t[..end];
    let (scope, num) = token.split_once('#')?;
    if scope.split('/').count() != 2 || scope.split('/').any(str::is_empty) {
        return None;
    }
    let digits: String = num.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().map(|n| (scope.to_string(), n))
}

/// Links written in a text: `supersedes #N`, `superseded by #N`, `duplicate of #N`,
/// `blocks #N` (case-insensitive; any reference form).
pub fn text_links(text: &str, default_scope: &str) -> Vec<(LinkRelation, String)> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    for (phrase, relation) in [
        ("superseded by", LinkRelation::SupersededBy),
        ("supersedes", LinkRelation::Supersedes),
        ("duplicate of", LinkRelation::Duplicates),
        ("blocks", LinkRelation::Blocks),
    ] {
        for (i, _) in lower.match_indices(phrase) {
            if i > 0 && lower.as_bytes()[i - 1].is_ascii_alphanumeric() {
                continue;
            }
            if let Some((scope, n)) = reference_at(&text[i + phrase.len()..], default_scope) {
                let target = item_key(&scope, n);
                if !out.contains(&(relation, target.clone())) {
                    out.push((relation, target));
                }
            }
        }
    }
    out
}

/// The item a revert pull request reverts: GitHub's revert button writes `Reverts owner/repo#N`.
pub fn reverted_target(body: &str, default_scope: &str) -> Option<String> {
    let lower = body.to_ascii_lowercase();
    for (i, _) in lower.match_indices("reverts") {
        if i > 0 && lower.as_bytes()[i - 1].is_ascii_alphanumeric() {
            continue;
        }
        if let Some((scope, n)) = reference_at(&body[i + "reverts".len()..], default_scope) {
            return Some(item_key(&scope, n));
        }
    }
    None
}

/// The status of a decision record: a `Status: X` line (also `* Status:`, `**Status:** X`) or
/// the first line under a `Status` heading (Nygard / MADR).
pub fn record_status(text: &str) -> Option<String> {
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let bare = line.trim_start_matches(['*', '-', '>', ' ']).replace("**", "");
        let bare = bare.trim();
        if bare.len() > 7 && bare[..7].eq_ignore_ascii_case("status:") {
            let value = bare[7..].trim().trim_matches('*').trim();
            if !value.is_empty() {
                return Some(first_word_group(value));
            }
        }
        let heading = line.trim_start_matches('#').trim();
        if line.starts_with('#') && heading.eq_ignore_ascii_case("status") {
            for next in lines.by_ref() {
                let next = next.trim_start_matches(['*', '-', ' ']).trim();
                if next.is_empty() {
                    continue;
                }
                if next.starts_with('#') {
                    return None;
                }
                return Some(first_word_group(next));
            }
        }
    }
    None
}

/// "Accepted (2024-05-01)" → "Accepted"; "Superseded by [ADR-9](…)" → "Superseded".
fn first_word_group(value: &str) -> String {
    let word: String = value.chars().take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_').collect();
    if word.is_empty() { value.to_string() } else { word }
}

// ---------------------------------------------------------------------------------------------
// GraphQL items.

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn time_at(v: &Value, key: &str) -> Option<Ts> {
    str_at(v, key).and_then(parse_time)
}

fn obj<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// Key scope of an item in another repository (`owner/repo`) or this one.
fn subject_key(subject: &Value) -> Option<String> {
    let number = subject.get("number")?.as_u64()?;
    let scope = obj(subject, "repository").and_then(|r| str_at(r, "nameWithOwner"))?;
    Some(item_key(scope, number))
}

/// What the source knows about where an item lives.
#[derive(Debug, Clone)]
pub struct ItemContext<'a> {
    /// Configured source name (`Item.source`).
    pub source: &'a str,
    /// The scope used in keys: the repository's name when the source first saw it, so that a
    /// renamed repository keeps its items' keys.
    pub key_scope: &'a str,
}

/// A node id as an event id. Nodes without an id (old recorded payloads) fall back to their URL.
fn event_id(node: &Value) -> Option<String> {
    str_at(node, "id").or_else(|| str_at(node, "url")).map(|id| format!("github:{id}"))
}

/// Reads one issue or pull request (GraphQL `IssueItem` / `PullItem`, with its timeline
/// already completed by follow-up pages) into the item and its events, in timeline order.
pub fn graphql_item(v: &Value, ctx: &ItemContext<'_>) -> Result<(Item, Vec<Event>), Malformed> {
    let url = str_at(v, "url").unwrap_or("(no url)").to_string();
    let bad = |why: &str| Malformed { url: url.clone(), why: why.to_string() };
    let typename = str_at(v, "__typename").unwrap_or("Issue");
    let kind = match typename {
        "Issue" => ItemKind::Issue,
        "PullRequest" => ItemKind::PullRequest,
        other => return Err(bad(&format!("unexpected item type {other:?}"))),
    };
    let node_id = str_at(v, "id").ok_or_else(|| bad("no id"))?;
    let number = v.get("number").and_then(Value::as_u64).ok_or_else(|| bad("no number"))?;
    let scope = obj(v, "repository").and_then(|r| str_at(r, "nameWithOwner")).ok_or_else(|| bad("no repository"))?;
    let created_at = time_at(v, "createdAt").ok_or_else(|| bad("no valid createdAt"))?;
    let updated_at = time_at(v, "updatedAt").ok_or_else(|| bad("no valid updatedAt"))?;
    let title = str_at(v, "title").unwrap_or("").to_string();
    let author = obj(v, "author").and_then(actor);
    // Pull requests alias `prState: state` (its enum differs from an issue's `state`).
    let state = match (kind, str_at(v, "state").or_else(|| str_at(v, "prState"))) {
        (_, Some("MERGED")) => ItemState::Merged,
        (_, Some("CLOSED")) => ItemState::Closed,
        (_, Some("OPEN")) => ItemState::Open,
        _ => return Err(bad("no valid state")),
    };
    let key = item_key(ctx.key_scope, number);
    let item = Item {
        key: key.clone(),
        source: ctx.source.to_string(),
        kind,
        scope: scope.to_string(),
        url: url.clone(),
        title,
        author: author.clone(),
        created_at,
        updated_at,
        state,
        issue_type: None,
    };
    let nodes = v
        .get("timelineItems")
        .and_then(|t| t.get("nodes"))
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no timelineItems"))?;

    let mut events = vec![Event {
        id: format!("github:{node_id}#opened"),
        item: key.clone(),
        at: created_at,
        actor: author.clone(),
        kind: EventKind::Opened,
    }];
    let merged_at = time_at(v, "mergedAt");
    let body = str_at(v, "body").unwrap_or("");
    for (relation, target) in text_links(body, scope) {
        events.push(Event {
            id: format!("github:{node_id}#link:{}:{target}", relation_name(relation)),
            item: key.clone(),
            at: created_at,
            actor: author.clone(),
            kind: EventKind::Linked { relation, target },
        });
    }
    if kind == ItemKind::PullRequest {
        // Opened as a draft: GitHub records no ConvertToDraftEvent, only a later ReadyForReview.
        let first_draft_event = nodes
            .iter()
            .filter_map(|n| str_at(n, "__typename"))
            .find(|t| *t == "ReadyForReviewEvent" || *t == "ConvertToDraftEvent");
        let opened_as_draft = match first_draft_event {
            Some(t) => t == "ReadyForReviewEvent",
            None => v.get("isDraft").and_then(Value::as_bool) == Some(true),
        };
        if opened_as_draft {
            events.push(Event {
                id: format!("github:{node_id}#draft"),
                item: key.clone(),
                at: created_at,
                actor: author.clone(),
                kind: EventKind::ConvertedToDraft,
            });
        }
        // A merged revert pull request marks what it reverts.
        if let (Some(target), Some(at)) = (reverted_target(body, scope), merged_at)
            && v.get("merged").and_then(Value::as_bool) != Some(false)
            && target != key
        {
            events.push(Event {
                id: format!("github:{node_id}#reverts"),
                item: target,
                at,
                actor: obj(v, "mergedBy").and_then(actor),
                kind: EventKind::Reverted { by: Some(key.clone()) },
            });
        }
    }
    let ctx_item = TimelineContext { key: &key, scope, kind, merged_at };
    timeline_into(nodes, &ctx_item, &mut events).map_err(|why| bad(&why))?;
    Ok((item, events))
}

fn relation_name(r: LinkRelation) -> &'static str {
    match r {
        LinkRelation::Supersedes => "supersedes",
        LinkRelation::SupersededBy => "superseded_by",
        LinkRelation::Duplicates => "duplicates",
        LinkRelation::Blocks => "blocks",
    }
}

/// The item a timeline belongs to.
#[derive(Debug, Clone)]
pub struct TimelineContext<'a> {
    pub key: &'a str,
    /// The repository's current `owner/name`.
    pub scope: &'a str,
    pub kind: ItemKind,
    /// When the pull request was merged (its `mergedAt`): the `ClosedEvent` that comes with the
    /// merge is part of it, not a close of its own.
    pub merged_at: Option<Ts>,
}

/// Events of a list of timeline nodes (GraphQL `timelineItems.nodes`; also Perceval's
/// recorded pages, which name the type `eventType`). Errors name the first bad node.
pub fn timeline_events(nodes: &[Value], ctx: &TimelineContext<'_>) -> Result<Vec<Event>, String> {
    let mut events = Vec::new();
    timeline_into(nodes, ctx, &mut events)?;
    Ok(events)
}

fn timeline_into(nodes: &[Value], ctx: &TimelineContext<'_>, out: &mut Vec<Event>) -> Result<(), String> {
    let of_merge = merge_closes(nodes, ctx);
    for (node, of_merge) in nodes.iter().zip(of_merge) {
        if !of_merge {
            timeline_node(node, ctx, out)?;
        }
    }
    Ok(())
}

/// Whether a pull request's close at `closed` comes with its merge at `merged`. GitHub closes a
/// pull request as it merges it, in the same second or the next, and lists the two in either
/// order; `SETTLING` is the tolerance every parser pairs such events with.
pub fn closes_with_merge(closed: Ts, merged: Ts) -> bool {
    (closed - merged).abs() <= SETTLING
}

fn node_type(node: &Value) -> Option<&str> {
    str_at(node, "__typename").or_else(|| str_at(node, "eventType"))
}

/// For each node, whether it is the `ClosedEvent` of a merge of this pull request (a
/// `MergedEvent` of the same nodes, else the item's `mergedAt`): within `SETTLING` of it, before
/// or after, with no `ReopenedEvent` between the two. Any other close is one of its own.
fn merge_closes(nodes: &[Value], ctx: &TimelineContext<'_>) -> Vec<bool> {
    let mut out = vec![false; nodes.len()];
    if ctx.kind != ItemKind::PullRequest {
        return out;
    }
    let of_type = |t: &'static str| {
        nodes
            .iter()
            .enumerate()
            .filter(move |(_, n)| node_type(n) == Some(t))
            .filter_map(|(i, n)| time_at(n, "createdAt").map(|at| (i, at)))
    };
    // The MergedEvent when these nodes hold it, else the item's mergedAt (a page without it).
    let mut merges: Vec<(Option<usize>, Ts)> = of_type("MergedEvent").map(|(i, at)| (Some(i), at)).collect();
    if merges.is_empty() {
        merges.extend(ctx.merged_at.map(|at| (None, at)));
    }
    if merges.is_empty() {
        return out;
    }
    let reopens: Vec<(usize, Ts)> = of_type("ReopenedEvent").collect();
    for (i, closed) in of_type("ClosedEvent") {
        out[i] = merges.iter().any(|&(m, merged)| {
            closes_with_merge(closed, merged)
                && !reopens.iter().any(|&(r, reopened)| match m {
                    // Timeline order where both are nodes; else time (a reopen the same second counts).
                    Some(m) => i.min(m) < r && r < i.max(m),
                    None => closed.min(merged) <= reopened && reopened <= closed.max(merged),
                })
        });
    }
    out
}

fn reviewer_of(v: &Value) -> Option<Reviewer> {
    match str_at(v, "__typename") {
        Some("Team") => str_at(v, "combinedSlug").map(|s| Reviewer::Team(s.to_ascii_lowercase())),
        _ => actor(v).map(Reviewer::Person),
    }
}

fn timeline_node(node: &Value, ctx: &TimelineContext<'_>, out: &mut Vec<Event>) -> Result<(), String> {
    let Some(typename) = node_type(node) else {
        return Err("a timeline node without __typename".into());
    };
    let needs_id = |node: &Value| event_id(node).ok_or_else(|| format!("a {typename} without id"));
    let at_of =
        |node: &Value, key: &str| time_at(node, key).ok_or_else(|| format!("a {typename} without a valid {key}"));
    let who = obj(node, "actor").and_then(actor);
    let mut push = |id: String, at: Ts, actor: Option<Identity>, kind: EventKind| {
        out.push(Event { id, item: ctx.key.to_string(), at, actor, kind });
    };
    match typename {
        "AssignedEvent" | "UnassignedEvent" => {
            let Some(assignee) = obj(node, "assignee").and_then(actor) else { return Ok(()) };
            let kind = if typename == "AssignedEvent" {
                EventKind::Assigned { assignee }
            } else {
                EventKind::Unassigned { assignee }
            };
            push(needs_id(node)?, at_of(node, "createdAt")?, who, kind);
        }
        "LabeledEvent" | "UnlabeledEvent" => {
            let label = obj(node, "label")
                .and_then(|l| str_at(l, "name"))
                .ok_or_else(|| format!("a {typename} without label"))?;
            let kind = if typename == "LabeledEvent" {
                EventKind::Labeled { label: label.to_string() }
            } else {
                EventKind::Unlabeled { label: label.to_string() }
            };
            push(needs_id(node)?, at_of(node, "createdAt")?, who, kind);
        }
        "IssueComment" => {
            let id = needs_id(node)?;
            let at = at_of(node, "createdAt")?;
            let author = obj(node, "author").and_then(actor);
            let body = str_at(node, "body").unwrap_or("");
            push(id.clone(), at, author.clone(), EventKind::Commented { mentions: team_mentions(body) });
            for (relation, target) in text_links(body, ctx.scope) {
                push(
                    format!("{id}#link:{}:{target}", relation_name(relation)),
                    at,
                    author.clone(),
                    EventKind::Linked { relation, target },
                );
            }
        }
        "ClosedEvent" => {
            // The close that comes with a merge never gets here (`merge_closes`).
            let at = at_of(node, "createdAt")?;
            if ctx.kind == ItemKind::PullRequest {
                push(needs_id(node)?, at, who, EventKind::Closed { completed: false });
            } else {
                let completed = !matches!(str_at(node, "stateReason"), Some("NOT_PLANNED") | Some("DUPLICATE"));
                push(needs_id(node)?, at, who, EventKind::Closed { completed });
            }
        }
        "ReopenedEvent" => push(needs_id(node)?, at_of(node, "createdAt")?, who, EventKind::Reopened),
        "MergedEvent" => push(needs_id(node)?, at_of(node, "createdAt")?, who, EventKind::Merged),
        "ReadyForReviewEvent" => push(needs_id(node)?, at_of(node, "createdAt")?, who, EventKind::ReadyForReview),
        "ConvertToDraftEvent" => push(needs_id(node)?, at_of(node, "createdAt")?, who, EventKind::ConvertedToDraft),
        "TransferredEvent" => {
            let from =
                obj(node, "fromRepository").and_then(|r| str_at(r, "nameWithOwner")).unwrap_or("(deleted repository)");
            push(
                needs_id(node)?,
                at_of(node, "createdAt")?,
                who,
                EventKind::Moved { from_scope: from.to_string(), to_scope: ctx.scope.to_string() },
            );
        }
        "ReviewRequestedEvent" | "ReviewRequestRemovedEvent" => {
            let Some(reviewer) = obj(node, "requestedReviewer").and_then(reviewer_of) else { return Ok(()) };
            let kind = if typename == "ReviewRequestedEvent" {
                EventKind::ReviewRequested { reviewer }
            } else {
                EventKind::ReviewRequestRemoved { reviewer }
            };
            push(needs_id(node)?, at_of(node, "createdAt")?, who, kind);
        }
        "PullRequestReview" => {
            let state = match str_at(node, "state") {
                Some("PENDING") => return Ok(()),
                Some("APPROVED") => ReviewState::Approved,
                Some("CHANGES_REQUESTED") => ReviewState::ChangesRequested,
                // A dismissed review was still given; its verdict no longer stands.
                Some("COMMENTED") | Some("DISMISSED") => ReviewState::Commented,
                other => return Err(format!("a review with state {other:?}")),
            };
            let at =
                time_at(node, "submittedAt").or_else(|| time_at(node, "createdAt")).ok_or("a review without a time")?;
            let author = obj(node, "author").and_then(actor);
            push(needs_id(node)?, at, author, EventKind::Reviewed { state });
            if let Some(comments) = node.get("comments").and_then(|c| c.get("nodes")).and_then(Value::as_array) {
                for c in comments {
                    let id = event_id(c).ok_or("a review comment without id")?;
                    let at = time_at(c, "createdAt").ok_or("a review comment without a valid createdAt")?;
                    let body = str_at(c, "body").unwrap_or("");
                    push(
                        id,
                        at,
                        obj(c, "author").and_then(actor),
                        EventKind::Commented { mentions: team_mentions(body) },
                    );
                }
            }
        }
        "PullRequestCommit" => {
            // When the work was done: a rebase or an amend moves the committed date, by weeks.
            let commit = obj(node, "commit").ok_or("a PullRequestCommit without commit")?;
            let at = time_at(commit, "authoredDate")
                .or_else(|| time_at(commit, "committedDate"))
                .ok_or("a commit without a valid authoredDate")?;
            let author = obj(commit, "author").and_then(git_actor);
            let mut co = co_authors(str_at(commit, "message").unwrap_or(""));
            co.retain(|c| Some(c) != author.as_ref());
            push(needs_id(node)?, at, author, EventKind::Committed { co_authors: co });
        }
        "CrossReferencedEvent" => {
            // A merged pull request whose text says it reverts this item.
            let Some(source) = obj(node, "source") else { return Ok(()) };
            if str_at(source, "__typename") != Some("PullRequest")
                || source.get("merged").and_then(Value::as_bool) != Some(true)
            {
                return Ok(());
            }
            let Some(source_scope) = obj(source, "repository").and_then(|r| str_at(r, "nameWithOwner")) else {
                return Ok(());
            };
            let body = str_at(source, "body").unwrap_or("");
            let (Some(target), Some(source_id), Some(source_key), Some(at)) = (
                reverted_target(body, source_scope),
                str_at(source, "id"),
                subject_key(source),
                time_at(source, "mergedAt"),
            ) else {
                return Ok(());
            };
            if target == ctx.key {
                out.push(Event {
                    id: format!("github:{source_id}#reverts"),
                    item: target,
                    at,
                    actor: obj(source, "mergedBy").and_then(actor),
                    kind: EventKind::Reverted { by: Some(source_key) },
                });
            }
        }
        "MarkedAsDuplicateEvent" => {
            let (Some(canonical), duplicate) =
                (obj(node, "canonical").and_then(subject_key), obj(node, "duplicate").and_then(subject_key))
            else {
                return Ok(());
            };
            if canonical == ctx.key || duplicate.is_some_and(|d| d != ctx.key) {
                return Ok(()); // recorded on the duplicate's side
            }
            push(
                needs_id(node)?,
                at_of(node, "createdAt")?,
                who,
                EventKind::Linked { relation: LinkRelation::Duplicates, target: canonical },
            );
        }
        // Project boards, mentions, subscriptions…: nothing the signals read.
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// REST shapes (what REST collectors read; the stand-in serves them too). No source reads REST
// yet, so only tests and the fuzzers call these: behind `test-support`, out of a release build.

/// An issue or pull request from `GET /repos/{o}/{r}/issues` (or `/pulls`, `/pulls/{n}`) with its
/// `Opened` event, `Merged` when the pull request says when, and `Closed` when it is closed by
/// other than its merge (`closed_at` more than `SETTLING` from `merged_at`, as in the timeline).
/// REST lists carry no history (only the last close); comments, reviews and commits come from
/// their own endpoints.
#[cfg(any(test, feature = "test-support"))]
pub fn rest_item(v: &Value, source: &str) -> Result<(Item, Vec<Event>), Malformed> {
    let url = str_at(v, "html_url").unwrap_or("(no url)").to_string();
    let bad = |why: &str| Malformed { url: url.clone(), why: why.to_string() };
    let number = v.get("number").and_then(Value::as_u64).ok_or_else(|| bad("no number"))?;
    let scope = scope_of_html_url(&url).ok_or_else(|| bad("html_url is not a GitHub issue or pull URL"))?;
    let is_pull = v.get("pull_request").is_some() || v.get("merged").is_some() || url.contains("/pull/");
    let created_at = time_at(v, "created_at").ok_or_else(|| bad("no valid created_at"))?;
    let updated_at = time_at(v, "updated_at").ok_or_else(|| bad("no valid updated_at"))?;
    // `/pulls` says `merged` / `merged_at`; `/issues` lists say it in `pull_request.merged_at`
    // (older recordings not at all: whether such a closed pull request merged is unknown).
    let listed_pull = obj(v, "pull_request");
    let merged_at = time_at(v, "merged_at").or_else(|| listed_pull.and_then(|p| time_at(p, "merged_at")));
    let merged = v.get("merged").and_then(Value::as_bool) == Some(true) || merged_at.is_some();
    let merge_known = !is_pull
        || merged
        || v.get("merged").is_some()
        || v.get("merged_at").is_some()
        || listed_pull.is_some_and(|p| p.get("merged_at").is_some());
    let state = match str_at(v, "state") {
        Some("open") => ItemState::Open,
        Some("closed") if merged => ItemState::Merged,
        Some("closed") => ItemState::Closed,
        _ => return Err(bad("no valid state")),
    };
    let author = obj(v, "user").and_then(actor);
    let key = item_key(&scope, number);
    let node = str_at(v, "node_id").map(str::to_string).unwrap_or_else(|| {
        let id = v.get("id").and_then(Value::as_u64).unwrap_or(number);
        format!("{}/{id}", if is_pull { "pull" } else { "issue" })
    });
    let item = Item {
        key: key.clone(),
        source: source.to_string(),
        kind: if is_pull { ItemKind::PullRequest } else { ItemKind::Issue },
        scope: scope.clone(),
        url,
        title: str_at(v, "title").unwrap_or("").to_string(),
        author: author.clone(),
        created_at,
        updated_at,
        state,
        issue_type: None,
    };
    let mut events = vec![Event {
        id: format!("github:{node}#opened"),
        item: key.clone(),
        at: created_at,
        actor: author,
        kind: EventKind::Opened,
    }];
    if let Some(at) = merged_at {
        events.push(Event {
            id: format!("github:{node}#merged"),
            item: key.clone(),
            at,
            actor: obj(v, "merged_by").and_then(actor),
            kind: EventKind::Merged,
        });
    }
    // A merged pull request without its merge time (an anonymised record) was closed by the merge.
    let closed_at = time_at(v, "closed_at").filter(|_| state != ItemState::Open && merge_known);
    if let Some(at) = closed_at
        && !(merged && merged_at.is_none_or(|m| closes_with_merge(at, m)))
    {
        let completed = !is_pull && !matches!(str_at(v, "state_reason"), Some("not_planned") | Some("duplicate"));
        events.push(Event {
            id: format!("github:{node}#closed"),
            item: key,
            at,
            actor: obj(v, "closed_by").and_then(actor),
            kind: EventKind::Closed { completed },
        });
    }
    Ok((item, events))
}

/// `owner/repo` of `https://github.com/owner/repo/issues/1` (or `/pull/1`).
#[cfg(any(test, feature = "test-support"))]
pub fn scope_of_html_url(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let mut parts = rest.split('/');
    let _host = parts.next()?;
    let (owner, repo) = (parts.next()?, parts.next()?);
    (!owner.is_empty() && !repo.is_empty()).then(|| format!("{owner}/{repo}"))
}

#[cfg(any(test, feature = "test-support"))]
fn rest_id(v: &Value, kind: &str) -> Option<String> {
    str_at(v, "node_id")
        .map(|n| format!("github:{n}"))
        .or_else(|| v.get("id").and_then(Value::as_u64).map(|n| format!("github:{kind}/{n}")))
}

/// Issue comments (`/issues/{n}/comments`) or review comments (`/pulls/{n}/comments`).
#[cfg(any(test, feature = "test-support"))]
pub fn rest_comments(list: &Value, item: &str) -> Result<Vec<Event>, String> {
    let arr = list.as_array().ok_or("comments are not a list")?;
    let mut out = Vec::new();
    for c in arr {
        let kind = if c.get("pull_request_review_id").is_some() || c.get("diff_hunk").is_some() {
            "reviewcomment"
        } else {
            "issuecomment"
        };
        let id = rest_id(c, kind).ok_or("a comment without id")?;
        let at = time_at(c, "created_at").ok_or("a comment without a valid created_at")?;
        let body = str_at(c, "body").unwrap_or("");
        out.push(Event {
            id,
            item: item.to_string(),
            at,
            actor: obj(c, "user").and_then(actor),
            kind: EventKind::Commented { mentions: team_mentions(body) },
        });
    }
    Ok(out)
}

/// Reviews (`/pulls/{n}/reviews`); pending reviews are left out.
#[cfg(any(test, feature = "test-support"))]
pub fn rest_reviews(list: &Value, item: &str) -> Result<Vec<Event>, String> {
    let arr = list.as_array().ok_or("reviews are not a list")?;
    let mut out = Vec::new();
    for r in arr {
        let state = match str_at(r, "state") {
            Some("PENDING") => continue,
            Some("APPROVED") => ReviewState::Approved,
            Some("CHANGES_REQUESTED") => ReviewState::ChangesRequested,
            Some("COMMENTED") | Some("DISMISSED") => ReviewState::Commented,
            other => return Err(format!("a review with state {other:?}")),
        };
        let id = rest_id(r, "review").ok_or("a review without id")?;
        let at = time_at(r, "submitted_at").ok_or("a review without a valid submitted_at")?;
        out.push(Event {
            id,
            item: item.to_string(),
            at,
            actor: obj(r, "user").and_then(actor),
            kind: EventKind::Reviewed { state },
        });
    }
    Ok(out)
}

/// Commits of a pull request (`/pulls/{n}/commits`).
#[cfg(any(test, feature = "test-support"))]
pub fn rest_commits(list: &Value, item: &str) -> Result<Vec<Event>, String> {
    let arr = list.as_array().ok_or("commits are not a list")?;
    let mut out = Vec::new();
    for c in arr {
        let sha = str_at(c, "sha").ok_or("a commit without sha")?;
        let commit = obj(c, "commit").ok_or("a commit without details")?;
        // The authored date, as in the GraphQL timeline (a rebase moves the committer's).
        let at = obj(commit, "author")
            .and_then(|x| time_at(x, "date"))
            .or_else(|| obj(commit, "committer").and_then(|x| time_at(x, "date")))
            .ok_or("a commit without a valid date")?;
        let author = obj(c, "author")
            .and_then(actor)
            .or_else(|| obj(commit, "author").and_then(|a| str_at(a, "email")).and_then(email_identity));
        let mut co = co_authors(str_at(commit, "message").unwrap_or(""));
        co.retain(|x| Some(x) != author.as_ref());
        let id = str_at(c, "node_id").map(|n| format!("github:{n}")).unwrap_or_else(|| format!("github:commit/{sha}"));
        out.push(Event {
            id: format!("{id}@{item}"),
            item: item.to_string(),
            at,
            actor: author,
            kind: EventKind::Committed { co_authors: co },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identities_fold_case_mark_bots_and_drop_ghosts() {
        assert_eq!(actor(&json!({"login": "Alice", "__typename": "User"})), Some("github:alice".into()));
        assert_eq!(actor(&json!({"login": "dependabot", "__typename": "Bot"})), Some("github:dependabot[bot]".into()));
        assert_eq!(actor(&json!({"login": "renovate[bot]", "type": "Bot"})), Some("github:renovate[bot]".into()));
        assert_eq!(actor(&json!({"login": "ghost"})), None);
        assert_eq!(actor(&json!({})), None);
        assert_eq!(email_identity("12345+Bob@users.noreply.github.com"), Some("github:bob".into()));
        assert_eq!(email_identity("<Carol@Example.COM>"), Some("email:carol@example.com".into()));
    }

    #[test]
    fn co_author_trailers_and_team_mentions() {
        let msg = "Fix it\n\nCo-authored-by: Dana <dana@acme.io>\nco-authored-by: Eve <7+eve@users.noreply.github.com>\nCo-authored-by: Dana <DANA@acme.io>";
        assert_eq!(co_authors(msg), vec!["email:dana@acme.io".to_string(), "github:eve".to_string()]);
        let text = "cc @Acme/Payments and @acme/platform-team. Not bob@acme/x nor `@a/b`; @alice alone is a person.";
        assert_eq!(team_mentions(text), vec!["acme/payments".to_string(), "acme/platform-team".to_string()]);
    }

    #[test]
    fn links_and_reverts_in_text() {
        let t = "Supersedes #12. Also superseded by acme/web#3; Duplicate of https://github.com/acme/api/issues/9";
        assert_eq!(
            text_links(t, "acme/api"),
            vec![
                (LinkRelation::SupersededBy, "github:acme/web#3".to_string()),
                (LinkRelation::Supersedes, "github:acme/api#12".to_string()),
                (LinkRelation::Duplicates, "github:acme/api#9".to_string()),
            ]
        );
        assert_eq!(reverted_target("Reverts acme/api#41", "acme/web"), Some("github:acme/api#41".into()));
        assert_eq!(reverted_target("This reverts #7.", "acme/web"), Some("github:acme/web#7".into()));
        assert_eq!(reverted_target("no revert here", "acme/web"), None);
    }

    #[test]
    fn record_status_lines_and_headings() {
        assert_eq!(record_status("# ADR 7\n\nStatus: Accepted\n"), Some("Accepted".into()));
        assert_eq!(record_status("* **Status:** Superseded by [ADR-9](0009.md)"), Some("Superseded".into()));
        assert_eq!(record_status("# Title\n\n## Status\n\nProposed\n\n## Context"), Some("Proposed".into()));
        assert_eq!(record_status("# Title\n\nNo status here"), None);
    }

    fn pr(timeline: Value, extra: Value) -> Value {
        let mut v = json!({
            "__typename": "PullRequest", "id": "PR_1", "number": 5, "title": "Add x", "url": "https://github.com/acme/api/pull/5",
            "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-03T00:00:00Z", "state": "MERGED",
            "isDraft": false, "merged": true, "mergedAt": "2024-01-02T00:00:00Z", "body": "",
            "author": {"__typename": "User", "login": "Alice"}, "mergedBy": {"__typename": "User", "login": "bob"},
            "repository": {"id": "R_1", "nameWithOwner": "acme/api"},
            "timelineItems": {"pageInfo": {"hasNextPage": false, "endCursor": null}, "nodes": timeline}
        });
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            for (k, x) in e {
                o.insert(k.clone(), x.clone());
            }
        }
        v
    }

    #[test]
    fn a_pull_request_timeline_maps_to_events() {
        let v = pr(
            json!([
                {"__typename": "ReadyForReviewEvent", "id": "RFR", "createdAt": "2024-01-01T01:00:00Z", "actor": {"login": "alice"}},
                {"__typename": "ReviewRequestedEvent", "id": "RR1", "createdAt": "2024-01-01T01:00:00Z", "actor": {"login": "alice"},
                 "requestedReviewer": {"__typename": "Team", "combinedSlug": "acme/Payments"}},
                {"__typename": "ReviewRequestedEvent", "id": "RR2", "createdAt": "2024-01-01T01:00:00Z", "actor": {"login": "alice"}, "requestedReviewer": null},
                {"__typename": "PullRequestReview", "id": "REV0", "state": "PENDING", "createdAt": "2024-01-01T01:30:00Z", "submittedAt": null, "author": {"login": "carol"}},
                {"__typename": "PullRequestReview", "id": "REV1", "state": "CHANGES_REQUESTED", "createdAt": "2024-01-01T02:00:00Z",
                 "submittedAt": "2024-01-01T02:00:05Z", "author": {"login": "carol"},
                 "comments": {"pageInfo": {"hasNextPage": false}, "nodes": [{"id": "RC1", "createdAt": "2024-01-01T02:00:00Z", "body": "ask @acme/db", "author": {"login": "carol"}}]}},
                {"__typename": "PullRequestCommit", "id": "PRC1", "commit": {"oid": "abc", "committedDate": "2024-01-01T03:00:00Z",
                 "message": "fix\n\nCo-authored-by: Carol <carol@acme.io>", "author": {"email": "a@acme.io", "user": {"login": "alice"}}}},
                {"__typename": "MergedEvent", "id": "ME", "createdAt": "2024-01-02T00:00:00Z", "actor": {"login": "bob"}},
                {"__typename": "ClosedEvent", "id": "CE", "createdAt": "2024-01-02T00:00:00Z", "actor": {"login": "bob"}, "stateReason": null},
                {"__typename": "SubscribedEvent", "id": "SE", "createdAt": "2024-01-02T00:00:00Z"}
            ]),
            json!({}),
        );
        let (item, events) = graphql_item(&v, &ItemContext { source: "gh", key_scope: "acme/api" }).unwrap();
        assert_eq!(
            (item.key.as_str(), item.state, item.author.as_deref()),
            ("github:acme/api#5", ItemState::Merged, Some("github:alice"))
        );
        let got: Vec<(&str, Ts, Option<&str>, EventKind)> =
            events.iter().map(|e| (e.id.as_str(), e.at - 1_704_067_200, e.actor.as_deref(), e.kind.clone())).collect();
        assert_eq!(
            got,
            vec![
                ("github:PR_1#opened", 0, Some("github:alice"), EventKind::Opened),
                ("github:PR_1#draft", 0, Some("github:alice"), EventKind::ConvertedToDraft),
                ("github:RFR", 3600, Some("github:alice"), EventKind::ReadyForReview),
                (
                    "github:RR1",
                    3600,
                    Some("github:alice"),
                    EventKind::ReviewRequested { reviewer: Reviewer::Team("acme/payments".into()) }
                ),
                (
                    "github:REV1",
                    7205,
                    Some("github:carol"),
                    EventKind::Reviewed { state: ReviewState::ChangesRequested }
                ),
                ("github:RC1", 7200, Some("github:carol"), EventKind::Commented { mentions: vec!["acme/db".into()] }),
                (
                    "github:PRC1",
                    10800,
                    Some("github:alice"),
                    EventKind::Committed { co_authors: vec!["email:carol@acme.io".into()] }
                ),
                ("github:ME", 86400, Some("github:bob"), EventKind::Merged),
            ]
        );
    }

    #[test]
    fn issue_closes_transfers_duplicates_and_reverts() {
        let v = json!({
            "__typename": "Issue", "id": "I_1", "number": 9, "title": "t", "url": "https://github.com/acme/web/issues/9",
            "createdAt": "2024-01-01T00:00:00Z", "updatedAt": "2024-01-05T00:00:00Z", "state": "CLOSED", "body": "Supersedes #3",
            "author": null, "repository": {"id": "R_2", "nameWithOwner": "acme/web"},
            "timelineItems": {"pageInfo": {"hasNextPage": false}, "nodes": [
                {"__typename": "TransferredEvent", "id": "T1", "createdAt": "2024-01-01T00:10:00Z", "actor": {"login": "dan"}, "fromRepository": {"nameWithOwner": "acme/api"}},
                {"__typename": "MarkedAsDuplicateEvent", "id": "D1", "createdAt": "2024-01-02T00:00:00Z", "actor": {"login": "dan"},
                 "canonical": {"__typename": "Issue", "number": 2, "repository": {"nameWithOwner": "acme/web"}},
                 "duplicate": {"__typename": "Issue", "number": 9, "repository": {"nameWithOwner": "acme/web"}}},
                {"__typename": "ClosedEvent", "id": "C1", "createdAt": "2024-01-02T00:00:00Z", "actor": {"login": "dan"}, "stateReason": "DUPLICATE"},
                {"__typename": "ReopenedEvent", "id": "O1", "createdAt": "2024-01-03T00:00:00Z", "actor": {"login": "ghost"}},
                {"__typename": "ClosedEvent", "id": "C2", "createdAt": "2024-01-04T00:00:00Z", "actor": {"login": "dan"}, "stateReason": "COMPLETED"},
                {"__typename": "CrossReferencedEvent", "id": "X1", "createdAt": "2024-01-04T00:00:00Z", "actor": {"login": "eve"},
                 "source": {"__typename": "PullRequest", "id": "PR_9", "number": 44, "title": "Revert \"x\"", "body": "Reverts acme/web#9",
                  "merged": true, "mergedAt": "2024-01-04T12:00:00Z", "mergedBy": {"login": "eve"}, "repository": {"nameWithOwner": "acme/web"}}}
            ]}
        });
        let (item, events) = graphql_item(&v, &ItemContext { source: "gh", key_scope: "acme/web" }).unwrap();
        assert_eq!((item.author, item.state), (None, ItemState::Closed));
        let kinds: Vec<(String, EventKind)> = events.iter().map(|e| (e.id.clone(), e.kind.clone())).collect();
        assert_eq!(
            kinds,
            vec![
                ("github:I_1#opened".into(), EventKind::Opened),
                (
                    "github:I_1#link:supersedes:github:acme/web#3".into(),
                    EventKind::Linked { relation: LinkRelation::Supersedes, target: "github:acme/web#3".into() }
                ),
                ("github:T1".into(), EventKind::Moved { from_scope: "acme/api".into(), to_scope: "acme/web".into() }),
                (
                    "github:D1".into(),
                    EventKind::Linked { relation: LinkRelation::Duplicates, target: "github:acme/web#2".into() }
                ),
                ("github:C1".into(), EventKind::Closed { completed: false }),
                ("github:O1".into(), EventKind::Reopened),
                ("github:C2".into(), EventKind::Closed { completed: true }),
                ("github:PR_9#reverts".into(), EventKind::Reverted { by: Some("github:acme/web#44".into()) }),
            ]
        );
        assert_eq!(events[5].actor, None, "a deleted user (ghost) is no actor");
    }

    #[test]
    fn a_broken_item_is_an_error_naming_its_url() {
        let mut v = pr(
            json!([{"__typename": "LabeledEvent", "id": "L", "createdAt": "nope", "label": {"name": "x"}}]),
            json!({}),
        );
        let e = graphql_item(&v, &ItemContext { source: "gh", key_scope: "acme/api" }).unwrap_err();
        assert_eq!(e.url, "https://github.com/acme/api/pull/5");
        assert!(e.why.contains("LabeledEvent"), "{e}");
        v["number"] = Value::Null;
        assert_eq!(
            graphql_item(&v, &ItemContext { source: "gh", key_scope: "acme/api" }).unwrap_err().why,
            "no number"
        );
    }
}
