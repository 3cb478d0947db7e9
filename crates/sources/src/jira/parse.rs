//! Jira payloads (REST v2 and v3 issues with `expand=changelog`, comments, Perceval items) turned
//! into items and events. Pure functions over `serde_json::Value`: no HTTP, no cursor, no clock.
//! Histories come in any order (Perceval stores them newest first): they are sorted here.
//!
//! Closed or open (docs/signals.md "Jira"): an issue is closed while its resolution is set or its
//! status is in the done category. A close is the history that makes it so (the one that sets the
//! resolution, at its time, by its author, wherever the status goes later), a reopen the one that
//! undoes it; an issue's events never depend on other issues, on page order or on which statuses
//! today's `/status` still lists.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::model::{
    Event, EventKind, Identity, Item, ItemKind, ItemState, LinkRelation, SETTLING, StatusCategory, Ts, identity,
};

/// Which Jira answers: Cloud names people by `accountId`, Data Center / Server by `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Cloud,
    DataCenter,
}

impl Flavor {
    /// The REST API version the source reads (`3` on Cloud, `2` on Data Center).
    pub fn api_version(self) -> u8 {
        match self {
            Flavor::Cloud => 3,
            Flavor::DataCenter => 2,
        }
    }
}

/// Link phrases (lower-case, as Jira writes them: `blocks`, `is superseded by`) per relation.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkNames {
    pub supersedes: Vec<String>,
    pub superseded_by: Vec<String>,
    pub duplicates: Vec<String>,
    pub blocks: Vec<String>,
}

impl Default for LinkNames {
    fn default() -> Self {
        LinkNames {
            supersedes: vec!["supersedes".into()],
            superseded_by: vec!["is superseded by".into()],
            duplicates: vec!["duplicates".into()],
            blocks: vec!["blocks".into()],
        }
    }
}

impl LinkNames {
    pub fn relation(&self, phrase: &str) -> Option<LinkRelation> {
        let p = phrase.trim().to_lowercase();
        let has = |list: &[String]| list.iter().any(|n| n.trim().to_lowercase() == p);
        if has(&self.superseded_by) {
            Some(LinkRelation::SupersededBy)
        } else if has(&self.supersedes) {
            Some(LinkRelation::Supersedes)
        } else if has(&self.duplicates) {
            Some(LinkRelation::Duplicates)
        } else if has(&self.blocks) {
            Some(LinkRelation::Blocks)
        } else {
            None
        }
    }
}

/// What parsing needs besides the payload.
#[derive(Debug, Clone)]
pub struct IssueContext<'a> {
    /// Configured source name.
    pub source: &'a str,
    pub flavor: Flavor,
    /// Web base for item URLs (`https://acme.atlassian.net`).
    pub web_base: &'a str,
    /// The team field: a custom field id (`customfield_10400`) or its name (`Team`).
    pub team_field: Option<&'a str>,
    pub links: &'a LinkNames,
    /// Status id or lower-cased status name → category, from `/status` (which omits statuses
    /// deleted from a workflow; the issue's own status carries its category itself).
    pub status_categories: &'a HashMap<String, StatusCategory>,
    /// Resolutions counted as done (lower-case): `done`, `fixed`…
    pub completed_resolutions: &'a [String],
}

/// Resolutions that mean the work was done, unless configured otherwise.
pub fn default_completed_resolutions() -> Vec<String> {
    ["done", "fixed", "resolved", "complete", "completed"].iter().map(|s| s.to_string()).collect()
}

/// Why an issue was skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    pub url: String,
    pub why: String,
}

/// Epoch seconds of a Jira time (`2018-05-14T23:56:02.246+0200`, or RFC 3339).
pub fn parse_jira_time(text: &str) -> Option<Ts> {
    chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.timestamp())
}

/// A status category from Jira's `statusCategory.key`.
pub fn category_of_key(key: &str) -> Option<StatusCategory> {
    match key {
        "new" => Some(StatusCategory::ToDo),
        "indeterminate" => Some(StatusCategory::InProgress),
        "done" => Some(StatusCategory::Done),
        _ => None,
    }
}

/// Adds the categories of a `/status` list (or one issue's `fields.status`) to `map`, keyed by
/// id and by lower-cased name.
pub fn learn_statuses(map: &mut HashMap<String, StatusCategory>, statuses: &[Value]) {
    for s in statuses {
        let Some(cat) = s["statusCategory"]["key"].as_str().and_then(category_of_key) else { continue };
        if let Some(id) = s["id"].as_str() {
            map.insert(id.to_string(), cat);
        }
        if let Some(name) = s["name"].as_str() {
            map.insert(name.to_lowercase(), cat);
        }
    }
}

/// The identity of a Jira user object: `jira:<accountId>` on Cloud, `jira:<name>` on Data Center.
pub fn user_identity(user: &Value, flavor: Flavor) -> Option<Identity> {
    let login = match flavor {
        Flavor::Cloud => user["accountId"].as_str(),
        Flavor::DataCenter => user["name"].as_str().or(user["key"].as_str()),
    }?;
    (!login.is_empty()).then(|| identity("jira", login))
}

/// The item key of an issue key: `PAY-12` → `jira:PAY#12`.
pub fn item_key(issue_key: &str) -> String {
    match issue_key.rsplit_once('-') {
        Some((project, number)) => format!("jira:{project}#{number}"),
        None => format!("jira:{issue_key}"),
    }
}

/// A field's value as the text the changelog would print: strings, `{value}`, `{name}`, and the
/// `{name, value, id}` wrappers Perceval adds.
fn field_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => {
            if o.contains_key("value") && o.contains_key("id") && o.contains_key("name") && !o.contains_key("self") {
                return field_text(&o["value"]); // Perceval's {name, value, id} wrapper
            }
            o.get("value").and_then(field_text).or_else(|| o.get("name").and_then(field_text))
        }
        Value::Array(a) => a.first().and_then(field_text),
        _ => None,
    }
}

/// One changelog entry item, with its history's time, author and id.
struct Change<'v> {
    /// The event id of this item: `<item key>/h<history id>/<index>`.
    id: String,
    history: String,
    at: Ts,
    actor: Option<Identity>,
    item: &'v Value,
}

impl Change<'_> {
    fn field(&self) -> &str {
        self.item["field"].as_str().unwrap_or("")
    }
    fn field_id(&self) -> &str {
        self.item["fieldId"].as_str().unwrap_or("")
    }
    fn old_text(&self) -> Option<String> {
        self.item["fromString"].as_str().filter(|s| !s.is_empty()).map(str::to_string)
    }
    fn new_text(&self) -> Option<String> {
        self.item["toString"].as_str().filter(|s| !s.is_empty()).map(str::to_string)
    }
    fn old_raw(&self) -> Option<String> {
        self.item["from"].as_str().filter(|s| !s.is_empty()).map(str::to_string)
    }
    fn new_raw(&self) -> Option<String> {
        self.item["to"].as_str().filter(|s| !s.is_empty()).map(str::to_string)
    }
    fn is(&self, name: &str) -> bool {
        self.field_id() == name || self.field().eq_ignore_ascii_case(name)
    }
}

fn words(s: Option<String>) -> BTreeSet<String> {
    s.map(|s| s.split_whitespace().map(str::to_string).collect()).unwrap_or_default()
}

/// Plain text of a comment body: v2 strings as they are, v3 Atlassian documents flattened.
pub fn comment_text(body: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => out.push_str(s),
            Value::Object(o) => {
                if let Some(t) = o.get("text").and_then(Value::as_str) {
                    out.push_str(t);
                }
                if let Some(content) = o.get("content").and_then(Value::as_array) {
                    for c in content {
                        walk(c, out);
                        out.push(' ');
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = String::new();
    walk(body, &mut out);
    out
}

/// Team handles mentioned in a comment (`@acme/payments`), as on the other sources. Jira's own
/// mentions name people (`[~user]`, ADF mention nodes), which are not teams, so they are left out.
fn mentions_of(body: &Value) -> Vec<String> {
    crate::sources::text::team_mentions(&comment_text(body))
}

/// Parses one issue. `comments` overrides `fields.comment.comments` (when read in full
/// separately, or Perceval's `comments_data`); histories beyond the embedded page must already be
/// merged into `changelog.histories`.
pub fn issue(v: &Value, comments: Option<&[Value]>, ctx: &IssueContext) -> Result<(Item, Vec<Event>), Malformed> {
    let url_of = |key: &str| format!("{}/browse/{key}", ctx.web_base.trim_end_matches('/'));
    let fail = |why: &str| Malformed {
        url: v["key"].as_str().map(url_of).or_else(|| v["self"].as_str().map(str::to_string)).unwrap_or_default(),
        why: why.to_string(),
    };
    let issue_key = v["key"].as_str().ok_or_else(|| fail("no key"))?;
    let f = &v["fields"];
    if !f.is_object() {
        return Err(fail("no fields"));
    }
    let created = f["created"].as_str().and_then(parse_jira_time).ok_or_else(|| fail("no valid created time"))?;
    let updated = f["updated"].as_str().and_then(parse_jira_time).unwrap_or(created);
    let project = f["project"]["key"]
        .as_str()
        .map(str::to_string)
        .or_else(|| issue_key.rsplit_once('-').map(|(p, _)| p.to_string()))
        .ok_or_else(|| fail("no project"))?;
    let key = item_key(issue_key);
    let flavor = ctx.flavor;
    let author = user_identity(&f["reporter"], flavor).or_else(|| user_identity(&f["creator"], flavor));
    // The issue's own status carries its category: it wins over `/status` for that status (which
    // may have been deleted from the workflow since), and nothing is learnt from other issues, so
    // an issue reads the same on any page.
    let own = &f["status"];
    let own_category = own["statusCategory"]["key"].as_str().and_then(category_of_key);
    let category_of = |id: Option<&str>, name: Option<&str>| -> Option<StatusCategory> {
        if let Some(cat) = own_category {
            let same = match (id, own["id"].as_str()) {
                (Some(a), Some(b)) => a == b,
                _ => name.zip(own["name"].as_str()).is_some_and(|(a, b)| a.eq_ignore_ascii_case(b)),
            };
            if same {
                return Some(cat);
            }
        }
        id.and_then(|i| ctx.status_categories.get(i))
            .or_else(|| name.and_then(|n| ctx.status_categories.get(&n.to_lowercase())))
            .copied()
    };

    // Changelog, oldest first.
    let histories = v["changelog"]["histories"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let mut sorted: Vec<(Ts, i64, &Value)> = Vec::new();
    for h in histories {
        let at =
            h["created"].as_str().and_then(parse_jira_time).ok_or_else(|| fail("a history without a valid time"))?;
        let id_num = h["id"].as_str().and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
        sorted.push((at, id_num, h));
    }
    sorted.sort_by_key(|(at, id, _)| (*at, *id));
    // A resolution that no changelog item set (the changelog was not asked for, or the issue was
    // created or imported resolved) was set at `resolutiondate`, by someone unknown.
    let resolved_without_history = json!({
        "field": "resolution", "fieldId": "resolution", "from": null, "fromString": null,
        "to": f["resolution"]["id"], "toString": f["resolution"]["name"],
    });
    let mut changes: Vec<Change> = Vec::new();
    for (at, _, h) in &sorted {
        let history = h["id"].as_str().map(str::to_string).ok_or_else(|| fail("a history without id"))?;
        let actor = user_identity(&h["author"], flavor);
        for (index, item) in h["items"].as_array().map(Vec::as_slice).unwrap_or(&[]).iter().enumerate() {
            let id = format!("{key}/h{history}/{index}");
            changes.push(Change { id, history: history.clone(), at: *at, actor: actor.clone(), item });
        }
    }
    if f["resolution"]["name"].as_str().is_some_and(|n| !n.is_empty()) && !changes.iter().any(|c| c.is("resolution")) {
        let at = f["resolutiondate"].as_str().and_then(parse_jira_time).unwrap_or(created).max(created);
        let pos = changes.partition_point(|c| c.at <= at);
        let change = Change {
            id: format!("{key}/resolved"),
            history: "resolutiondate".into(),
            at,
            actor: None,
            item: &resolved_without_history,
        };
        changes.insert(pos, change);
    }
    let team_field = ctx.team_field.filter(|t| !t.is_empty());
    let is_team = |c: &Change| team_field.is_some_and(|t| c.is(t));
    let assignee_raw = |c: &Change, to: bool| {
        // Cloud and Data Center both put the account id / user name in from/to.
        if to { c.new_raw() } else { c.old_raw() }
    };

    let mut events: Vec<Event> = Vec::new();
    let ev = |id: String, at: Ts, actor: &Option<Identity>, kind: EventKind| Event {
        id,
        item: key.clone(),
        at,
        actor: actor.clone(),
        kind,
    };

    // What the issue was created with: the first change's "from", else the current value.
    let first = |pred: &dyn Fn(&Change) -> bool| changes.iter().find(|c| pred(c));
    let initial_status = match first(&|c| c.is("status")) {
        Some(c) => (c.old_raw(), c.old_text()),
        None => (own["id"].as_str().map(str::to_string), own["name"].as_str().map(str::to_string)),
    };
    let initial_assignee = match first(&|c| c.is("assignee")) {
        Some(c) => assignee_raw(c, false).map(|a| identity("jira", &a)),
        None => user_identity(&f["assignee"], flavor),
    };
    let initial_team = match team_field {
        None => None,
        Some(t) => match first(&|c| is_team(c)) {
            Some(c) => c.old_text(),
            None => {
                let by_id = f.get(t).and_then(field_text);
                by_id.or_else(|| {
                    // The field given by name: find it in the `names` map of the answer.
                    v["names"].as_object().and_then(|names| {
                        names
                            .iter()
                            .find(|(_, n)| n.as_str().is_some_and(|n| n.eq_ignore_ascii_case(t)))
                            .and_then(|(id, _)| f.get(id).and_then(field_text))
                    })
                })
            }
        },
    };
    // Without a resolution item the issue was created unresolved (see `resolved_without_history`).
    let initial_resolution = first(&|c| c.is("resolution")).and_then(|c| c.old_text());
    // Labels and components: undo the changelog from the current sets.
    let mut labels: BTreeSet<String> = f["labels"]
        .as_array()
        .map(|a| a.iter().filter_map(|l| l.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let mut components: Vec<String> = f["components"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    for c in changes.iter().rev() {
        if c.is("labels") {
            for l in words(c.new_text()) {
                labels.remove(&l);
            }
            labels.extend(words(c.old_text()));
        } else if c.is("Component") || c.is("components") {
            if let Some(to) = c.new_text() {
                components.retain(|x| x != &to);
            }
            if let Some(from) = c.old_text()
                && !components.contains(&from)
            {
                components.push(from);
            }
        }
    }

    // The close state: the resolution, and whether the status is in the done category (a status
    // of unknown category, deleted from the workflow since, is not known to be done).
    let closed = |resolution: &Option<String>, done: bool| resolution.is_some() || done;
    let completed = |resolution: Option<&str>| {
        resolution.is_none_or(|r| ctx.completed_resolutions.iter().any(|d| d.eq_ignore_ascii_case(r)))
    };
    let mut resolution = initial_resolution;
    let mut done = false;

    let base = format!("{key}/created");
    events.push(ev(format!("{base}/opened"), created, &author, EventKind::Opened));
    if let Some(name) = &initial_status.1 {
        let category = category_of(initial_status.0.as_deref(), Some(name));
        done = category == Some(StatusCategory::Done);
        events.push(ev(
            format!("{base}/status"),
            created,
            &author,
            EventKind::StatusChanged { from: None, to: name.clone(), category },
        ));
    }
    if let Some(a) = &initial_assignee {
        events.push(ev(format!("{base}/assignee"), created, &author, EventKind::Assigned { assignee: a.clone() }));
    }
    for c in &components {
        events.push(ev(
            format!("{base}/component/{c}"),
            created,
            &author,
            EventKind::ComponentChanged { from: None, to: Some(c.clone()) },
        ));
    }
    for l in &labels {
        events.push(ev(format!("{base}/label/{l}"), created, &author, EventKind::Labeled { label: l.clone() }));
    }
    if let Some(t) = &initial_team {
        events.push(ev(format!("{base}/team"), created, &author, EventKind::TeamFieldChanged { to: Some(t.clone()) }));
    }
    if closed(&resolution, done) {
        // Created closed (created in a done status, or imported resolved).
        let kind = EventKind::Closed { completed: completed(resolution.as_deref()) };
        events.push(ev(format!("{base}/closed"), created, &author, kind));
    }

    // Links added in the changelog and not removed since: (relation, target) → event position.
    let mut links: HashMap<(LinkRelation, String), usize> = HashMap::new();
    let mut undone: BTreeSet<usize> = BTreeSet::new();
    let link_of = |text: Option<String>, target: Option<String>| {
        let (text, target) = (text?, target?);
        let phrase = text.trim_start_matches("This issue ").trim_end_matches(target.as_str()).trim();
        ctx.links.relation(phrase).map(|relation| (relation, target))
    };
    let mut start = 0;
    while start < changes.len() {
        let end = start + changes[start..].iter().take_while(|c| c.history == changes[start].history).count();
        let history = &changes[start..end];
        // What the whole history does to the close state, whatever the order of its items.
        let (mut resolution_after, mut done_after) = (resolution.clone(), done);
        let (mut status_at, mut resolution_at) = (None, None);
        for (k, c) in history.iter().enumerate() {
            if c.is("resolution") {
                resolution_after = c.new_text();
                resolution_at = Some(k);
            } else if c.is("status") {
                let category = category_of(c.new_raw().as_deref(), c.new_text().as_deref());
                done_after = category == Some(StatusCategory::Done);
                status_at = Some(k);
            }
        }
        let flips = closed(&resolution, done) != closed(&resolution_after, done_after);
        let anchor = status_at.or(resolution_at);
        for (k, c) in history.iter().enumerate() {
            let id = c.id.clone();
            if c.is("resolution") {
                // Read above.
            } else if c.is("status") {
                let to = c.new_text().ok_or_else(|| fail("a status change without a target status"))?;
                let category = category_of(c.new_raw().as_deref(), Some(&to));
                events.push(ev(
                    id.clone(),
                    c.at,
                    &c.actor,
                    EventKind::StatusChanged { from: c.old_text(), to, category },
                ));
            } else if c.is("assignee") {
                if let Some(a) = assignee_raw(c, false) {
                    events.push(ev(
                        format!("{id}/from"),
                        c.at,
                        &c.actor,
                        EventKind::Unassigned { assignee: identity("jira", &a) },
                    ));
                }
                if let Some(a) = assignee_raw(c, true) {
                    events.push(ev(
                        format!("{id}/to"),
                        c.at,
                        &c.actor,
                        EventKind::Assigned { assignee: identity("jira", &a) },
                    ));
                }
            } else if c.is("Component") || c.is("components") {
                events.push(ev(
                    id.clone(),
                    c.at,
                    &c.actor,
                    EventKind::ComponentChanged { from: c.old_text(), to: c.new_text() },
                ));
            } else if c.is("labels") {
                let (before, after) = (words(c.old_text()), words(c.new_text()));
                for l in after.difference(&before) {
                    events.push(ev(format!("{id}/+{l}"), c.at, &c.actor, EventKind::Labeled { label: l.clone() }));
                }
                for l in before.difference(&after) {
                    events.push(ev(format!("{id}/-{l}"), c.at, &c.actor, EventKind::Unlabeled { label: l.clone() }));
                }
            } else if is_team(c) {
                events.push(ev(id.clone(), c.at, &c.actor, EventKind::TeamFieldChanged { to: c.new_text() }));
            } else if c.is("Link") {
                // Added: "This issue is superseded by PAY-9" in toString, the key in `to`; removed:
                // the same in fromString / `from`, `to` null. A removed link is undone.
                if let Some(link) = link_of(c.old_text(), c.old_raw())
                    && let Some(pos) = links.remove(&link)
                {
                    undone.insert(pos);
                }
                if let Some((relation, target)) = link_of(c.new_text(), c.new_raw()) {
                    links.insert((relation, target.clone()), events.len());
                    events.push(ev(
                        id.clone(),
                        c.at,
                        &c.actor,
                        EventKind::Linked { relation, target: item_key(&target) },
                    ));
                }
            }
            if flips && anchor == Some(k) {
                let kind = if closed(&resolution_after, done_after) {
                    // How it was closed: its resolution, or one set within the settling window
                    // after a move into a done status (automation rules set it a moment later).
                    let named = resolution_after.clone().or_else(|| {
                        changes[end..]
                            .iter()
                            .take_while(|o| o.at <= c.at + SETTLING)
                            .find(|o| o.is("resolution"))
                            .and_then(Change::new_text)
                    });
                    (format!("{id}/closed"), EventKind::Closed { completed: completed(named.as_deref()) })
                } else {
                    (format!("{id}/reopened"), EventKind::Reopened)
                };
                events.push(ev(kind.0, c.at, &c.actor, kind.1));
            }
        }
        resolution = resolution_after;
        done = done_after;
        start = end;
    }
    // Links present now but not in the changelog (made at creation): dated at creation.
    for l in f["issuelinks"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let (phrase, target) = if let Some(t) = l["outwardIssue"]["key"].as_str() {
            (l["type"]["outward"].as_str(), t)
        } else if let Some(t) = l["inwardIssue"]["key"].as_str() {
            (l["type"]["inward"].as_str(), t)
        } else {
            continue;
        };
        let Some(relation) = phrase.and_then(|p| ctx.links.relation(p)) else { continue };
        if let std::collections::hash_map::Entry::Vacant(slot) = links.entry((relation, target.to_string())) {
            slot.insert(usize::MAX);
            events.push(ev(
                format!("{base}/link/{target}"),
                created,
                &author,
                EventKind::Linked { relation, target: item_key(target) },
            ));
        }
    }
    if !undone.is_empty() {
        let mut pos = 0;
        events.retain(|_| {
            pos += 1;
            !undone.contains(&(pos - 1))
        });
    }

    // Comments.
    let embedded = f["comment"]["comments"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for c in comments.unwrap_or(embedded) {
        let Some(cid) = c["id"].as_str() else { return Err(fail("a comment without id")) };
        let at =
            c["created"].as_str().and_then(parse_jira_time).ok_or_else(|| fail("a comment without a valid time"))?;
        events.push(ev(
            format!("{key}/c{cid}"),
            at,
            &user_identity(&c["author"], flavor),
            EventKind::Commented { mentions: mentions_of(&c["body"]) },
        ));
    }
    let item = Item {
        key: key.clone(),
        source: ctx.source.to_string(),
        kind: ItemKind::Ticket,
        scope: project,
        url: url_of(issue_key),
        title: f["summary"].as_str().unwrap_or("").to_string(),
        author,
        created_at: created,
        updated_at: updated,
        // The same rule as the events: resolved, or (without a resolution) in a done status.
        state: if closed(&resolution, done) { ItemState::Closed } else { ItemState::Open },
        issue_type: f["issuetype"]["name"].as_str().map(str::to_string),
    };
    Ok((item, events))
}
