//! Jira payloads (REST v2 and v3 issues with `expand=changelog`, comments, Perceval items) turned
//! into items and events. Pure functions over `serde_json::Value`: no HTTP, no cursor, no clock.
//! Histories come in any order (Perceval stores them newest first): they are sorted here.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::model::{Event, EventKind, Identity, Item, ItemKind, ItemState, LinkRelation, StatusCategory, Ts, identity};

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
    /// Status id or lower-cased status name → category (from `/status` and issues' own status).
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
    history_id: String,
    index: usize,
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
    crate::sources::github::parse::team_mentions(&comment_text(body))
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
    let category_of = |id: Option<&str>, name: Option<&str>| {
        id.and_then(|i| ctx.status_categories.get(i))
            .or_else(|| name.and_then(|n| ctx.status_categories.get(&n.to_lowercase())))
            .copied()
    };
    let current_category = f["status"]["statusCategory"]["key"]
        .as_str()
        .and_then(category_of_key)
        .or_else(|| category_of(f["status"]["id"].as_str(), f["status"]["name"].as_str()));
    let item = Item {
        key: key.clone(),
        source: ctx.source.to_string(),
        kind: ItemKind::Ticket,
        scope: project,
        url: url_of(issue_key),
        title: f["summary"].as_str().unwrap_or("").to_string(),
        author: author.clone(),
        created_at: created,
        updated_at: updated,
        state: if current_category == Some(StatusCategory::Done) { ItemState::Closed } else { ItemState::Open },
        issue_type: f["issuetype"]["name"].as_str().map(str::to_string),
    };

    // Changelog, oldest first.
    let mut changes: Vec<Change> = Vec::new();
    let histories = v["changelog"]["histories"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let mut sorted: Vec<(Ts, i64, &Value)> = Vec::new();
    for h in histories {
        let at =
            h["created"].as_str().and_then(parse_jira_time).ok_or_else(|| fail("a history without a valid time"))?;
        let id_num = h["id"].as_str().and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
        sorted.push((at, id_num, h));
    }
    sorted.sort_by_key(|(at, id, _)| (*at, *id));
    for (at, _, h) in &sorted {
        let history_id = h["id"].as_str().map(str::to_string).ok_or_else(|| fail("a history without id"))?;
        let actor = user_identity(&h["author"], flavor);
        for (index, item) in h["items"].as_array().map(Vec::as_slice).unwrap_or(&[]).iter().enumerate() {
            changes.push(Change { history_id: history_id.clone(), index, at: *at, actor: actor.clone(), item });
        }
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
        None => (f["status"]["id"].as_str().map(str::to_string), f["status"]["name"].as_str().map(str::to_string)),
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
    let initial_resolution = match first(&|c| c.is("resolution")) {
        Some(c) => c.old_text(),
        None => f["resolution"]["name"].as_str().map(str::to_string),
    };
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

    let base = format!("{key}/created");
    events.push(ev(format!("{base}/opened"), created, &author, EventKind::Opened));
    let mut category = None;
    if let Some(name) = &initial_status.1 {
        category = category_of(initial_status.0.as_deref(), Some(name));
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

    let mut resolution = initial_resolution;
    let mut linked: BTreeSet<String> = BTreeSet::new();
    for (pos, c) in changes.iter().enumerate() {
        let id = format!("{key}/h{}/{}", c.history_id, c.index);
        if c.is("resolution") {
            resolution = c.new_text();
        } else if c.is("status") {
            let to = c.new_text().ok_or_else(|| fail("a status change without a target status"))?;
            let to_category = category_of(c.new_raw().as_deref(), Some(&to));
            let from_category = category_of(c.old_raw().as_deref(), c.old_text().as_deref()).or(category);
            events.push(ev(
                id.clone(),
                c.at,
                &c.actor,
                EventKind::StatusChanged { from: c.old_text(), to, category: to_category },
            ));
            // The resolution set in the same history counts, wherever it is listed.
            let same_history_resolution = changes
                .iter()
                .skip(pos + 1)
                .take_while(|o| o.history_id == c.history_id)
                .find(|o| o.is("resolution"))
                .map(|o| o.new_text());
            let resolution_now = same_history_resolution.unwrap_or_else(|| resolution.clone());
            if to_category == Some(StatusCategory::Done) && from_category != Some(StatusCategory::Done) {
                let completed = resolution_now
                    .as_deref()
                    .is_none_or(|r| ctx.completed_resolutions.iter().any(|d| d.eq_ignore_ascii_case(r)));
                events.push(ev(format!("{id}/closed"), c.at, &c.actor, EventKind::Closed { completed }));
            } else if from_category == Some(StatusCategory::Done)
                && to_category.is_some()
                && to_category != Some(StatusCategory::Done)
            {
                events.push(ev(format!("{id}/reopened"), c.at, &c.actor, EventKind::Reopened));
            }
            category = to_category;
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
            events.push(ev(id, c.at, &c.actor, EventKind::ComponentChanged { from: c.old_text(), to: c.new_text() }));
        } else if c.is("labels") {
            let (before, after) = (words(c.old_text()), words(c.new_text()));
            for l in after.difference(&before) {
                events.push(ev(format!("{id}/+{l}"), c.at, &c.actor, EventKind::Labeled { label: l.clone() }));
            }
            for l in before.difference(&after) {
                events.push(ev(format!("{id}/-{l}"), c.at, &c.actor, EventKind::Unlabeled { label: l.clone() }));
            }
        } else if is_team(c) {
            events.push(ev(id, c.at, &c.actor, EventKind::TeamFieldChanged { to: c.new_text() }));
        } else if c.is("Link") {
            // "This issue is superseded by PAY-9", with the target key in `to`.
            if let (Some(text), Some(target)) = (c.new_text(), c.new_raw()) {
                let phrase = text.trim_start_matches("This issue ").trim_end_matches(target.as_str()).trim();
                if let Some(relation) = ctx.links.relation(phrase) {
                    linked.insert(target.clone());
                    events.push(ev(id, c.at, &c.actor, EventKind::Linked { relation, target: item_key(&target) }));
                }
            }
        }
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
        if linked.insert(target.to_string()) {
            events.push(ev(
                format!("{base}/link/{target}"),
                created,
                &author,
                EventKind::Linked { relation, target: item_key(target) },
            ));
        }
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
    Ok((item, events))
}
