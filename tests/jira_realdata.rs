//! Real Jira payloads (Perceval fixtures of finosfoundation.atlassian.net, jira.fiware.org and
//! patternfly.atlassian.net) parse into the expected items and events, exact values.

use std::collections::HashMap;

use serde_json::Value;
use siloscope::model::{EventKind, ItemKind, ItemState, LinkRelation, StatusCategory};
use siloscope::sources::jira::parse::{self, Flavor, IssueContext, LinkNames};

fn realdata(path: &str) -> String {
    let dir = std::env::var("SILOSCOPE_REALDATA")
        .unwrap_or_else(|_| format!("{}/../shared/realdata", env!("CARGO_MANIFEST_DIR")));
    std::fs::read_to_string(format!("{dir}/{path}")).unwrap_or_else(|e| panic!("realdata {path} missing in {dir}: {e}"))
}

fn ctx<'a>(
    flavor: Flavor,
    team: Option<&'a str>,
    statuses: &'a HashMap<String, StatusCategory>,
    links: &'a LinkNames,
    done: &'a [String],
) -> IssueContext<'a> {
    IssueContext {
        source: "jira",
        flavor,
        web_base: "https://jira.test",
        team_field: team,
        links,
        status_categories: statuses,
        completed_resolutions: done,
    }
}

fn summary(events: &[siloscope::model::Event]) -> Vec<(String, i64, Option<String>, EventKind)> {
    events.iter().map(|e| (e.id.clone(), e.at, e.actor.clone(), e.kind.clone())).collect()
}

fn sc(from: Option<&str>, to: &str, category: Option<StatusCategory>) -> EventKind {
    EventKind::StatusChanged { from: from.map(str::to_string), to: to.into(), category }
}

#[test]
fn a_cloud_issue_with_status_and_assignee_histories() {
    let items: Vec<Value> = serde_json::from_str(&realdata("grimoirelab-elk/jira.json")).unwrap();
    let data = &items[4]["data"];
    assert_eq!(data["key"], "CONTRIB-11");
    let mut statuses = HashMap::new();
    statuses.insert("10015".to_string(), StatusCategory::Done);
    statuses.insert("10013".to_string(), StatusCategory::InProgress);
    statuses.insert("10012".to_string(), StatusCategory::ToDo);
    let (links, done) = (LinkNames::default(), parse::default_completed_resolutions());
    let comments = data["comments_data"].as_array().unwrap();
    let (item, events) =
        parse::issue(data, Some(comments), &ctx(Flavor::Cloud, None, &statuses, &links, &done)).unwrap();
    assert_eq!(item.key, "jira:CONTRIB#11");
    assert_eq!(item.url, "https://jira.test/browse/CONTRIB-11");
    assert_eq!((item.kind, item.state, item.scope.as_str()), (ItemKind::Ticket, ItemState::Closed, "CONTRIB"));
    assert_eq!(item.issue_type.as_deref(), Some("License Validation"));
    let peter = Some("jira:557058:887ce97e-9fbd-4873-8b09-669ce3b1e696".to_string());
    let maoo = Some("jira:557058:fbbe73fc-f16a-419c-8624-c5413dbb7288".to_string());
    assert_eq!(item.author, peter);
    // Created 2018-05-22T01:29:03+0200 = 1_526_945_343; histories are stored newest first.
    let created = 1_526_945_343;
    assert_eq!((item.created_at, item.updated_at), (created, 1_527_197_299));
    let id = |s: &str| format!("jira:CONTRIB#11/{s}");
    let expected = vec![
        (id("created/opened"), created, peter.clone(), EventKind::Opened),
        (id("created/status"), created, peter.clone(), sc(None, "Awaiting Code", Some(StatusCategory::ToDo))),
        // The 2018 payload still carries user keys in the assignee change's from/to.
        (id("created/assignee"), created, peter.clone(), EventKind::Assigned { assignee: "jira:peter".into() }),
        // 2018-05-22T01:31:51+0200 = 2018-05-21T23:31:51Z.
        (id("h10049/0/from"), 1_526_945_511, peter.clone(), EventKind::Unassigned { assignee: "jira:peter".into() }),
        (id("h10049/0/to"), 1_526_945_511, peter.clone(), EventKind::Assigned { assignee: "jira:maoo".into() }),
        (
            id("h10052/0"),
            1_527_196_902,
            maoo.clone(),
            sc(Some("Awaiting Code"), "License Check", Some(StatusCategory::InProgress)),
        ),
        // 2018-05-24T23:28:19+0200 = 21:28:19Z: into a done status, no resolution set → completed.
        (
            id("h10053/0"),
            1_527_197_299,
            peter.clone(),
            sc(Some("License Check"), "Licenses Validated", Some(StatusCategory::Done)),
        ),
        (id("h10053/0/closed"), 1_527_197_299, peter.clone(), EventKind::Closed { completed: true }),
        (id("c10020"), 1_527_196_705, maoo.clone(), EventKind::Commented { mentions: vec![] }),
        (id("c10021"), 1_527_197_011, maoo.clone(), EventKind::Commented { mentions: vec![] }),
    ];
    assert_eq!(summary(&events), expected);
}

#[test]
fn a_status_loop_is_kept_in_order_and_a_later_reopen_and_team_field_change_are_read() {
    // CONTRIB-4's real changelog (License Check → Fix Licenses → License Check) on CONTRIB-3's real
    // fields (CONTRIB-4 itself came without fields), as a Decision with a Team field history.
    let items: Vec<Value> = serde_json::from_str(&realdata("grimoirelab-elk/jira.json")).unwrap();
    let mut issue = items[2]["data"].clone();
    assert_eq!(issue["key"], "CONTRIB-3");
    issue["key"] = "CONTRIB-4".into();
    issue["fields"]["issuetype"]["name"] = "Decision".into();
    issue["changelog"] = items[1]["data"]["changelog"].clone();
    let mut histories = issue["changelog"]["histories"].as_array().unwrap().clone();
    // Reopened from the done status a day later, and handed to another team on the way.
    histories.push(serde_json::json!({"id": "10030", "created": "2018-05-15T23:59:02.635+0200",
        "author": histories[0]["author"].clone(),
        "items": [
            {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "10015", "fromString": "Licenses Validated", "to": "10013", "toString": "License Check"},
            {"field": "Team", "fieldtype": "custom", "fieldId": "customfield_10400", "from": null, "fromString": "Legal", "to": null, "toString": "Platform"}
        ]}));
    issue["changelog"]["histories"] = Value::Array(histories);
    let mut statuses = HashMap::new();
    statuses.insert("10013".to_string(), StatusCategory::InProgress);
    statuses.insert("10014".to_string(), StatusCategory::ToDo);
    statuses.insert("10015".to_string(), StatusCategory::Done);
    statuses.insert("awaiting code".to_string(), StatusCategory::ToDo);
    let (links, done) = (LinkNames::default(), parse::default_completed_resolutions());
    let (item, events) =
        parse::issue(&issue, Some(&[]), &ctx(Flavor::Cloud, Some("customfield_10400"), &statuses, &links, &done))
            .unwrap();
    assert_eq!((item.key.as_str(), item.issue_type.as_deref()), ("jira:CONTRIB#4", Some("Decision")));
    let kinds: Vec<(String, EventKind)> =
        events.iter().filter(|e| !e.id.contains("/created/")).map(|e| (e.id.clone(), e.kind.clone())).collect();
    let id = |s: &str| format!("jira:CONTRIB#4/{s}");
    use StatusCategory::*;
    assert_eq!(
        kinds,
        vec![
            (id("h10026/0"), sc(Some("Awaiting Code"), "License Check", Some(InProgress))),
            (id("h10027/0"), sc(Some("License Check"), "Fix Licenses", Some(ToDo))),
            (id("h10028/0"), sc(Some("Fix Licenses"), "License Check", Some(InProgress))),
            (id("h10029/0"), sc(Some("License Check"), "Licenses Validated", Some(Done))),
            (id("h10029/0/closed"), EventKind::Closed { completed: true }),
            (id("h10030/0"), sc(Some("Licenses Validated"), "License Check", Some(InProgress))),
            (id("h10030/0/reopened"), EventKind::Reopened),
            (id("h10030/1"), EventKind::TeamFieldChanged { to: Some("Platform".into()) }),
        ]
    );
    // The team the issue was created with is the first team change's "from".
    let initial: Vec<EventKind> =
        events.iter().filter(|e| e.id.ends_with("/created/team")).map(|e| e.kind.clone()).collect();
    assert_eq!(initial, vec![EventKind::TeamFieldChanged { to: Some("Legal".into()) }]);
}

#[test]
fn an_issue_without_fields_is_malformed_with_its_url() {
    let items: Vec<Value> = serde_json::from_str(&realdata("grimoirelab-elk/jira.json")).unwrap();
    let statuses = HashMap::new();
    let (links, done) = (LinkNames::default(), parse::default_completed_resolutions());
    let e = parse::issue(&items[1]["data"], None, &ctx(Flavor::Cloud, None, &statuses, &links, &done)).unwrap_err();
    assert_eq!((e.url.as_str(), e.why.as_str()), ("https://jira.test/browse/CONTRIB-4", "no fields"));
}

#[test]
fn a_data_center_search_page_v2_with_names_and_a_resolved_issue() {
    let page: Value = serde_json::from_str(&realdata("perceval/jira/jira_issues_page_1.json")).unwrap();
    let mut statuses = HashMap::new();
    let issues = page["issues"].as_array().unwrap();
    parse::learn_statuses(&mut statuses, &issues.iter().map(|i| i["fields"]["status"].clone()).collect::<Vec<_>>());
    let (links, done) = (LinkNames::default(), parse::default_completed_resolutions());
    let c = ctx(Flavor::DataCenter, None, &statuses, &links, &done);
    let (item, events) = parse::issue(&issues[1], None, &c).unwrap();
    assert_eq!(item.key, "jira:HELP#6042");
    assert_eq!(
        (item.state, item.issue_type.as_deref(), item.scope.as_str()),
        (ItemState::Closed, Some("extRequest"), "HELP")
    );
    // Data Center names people by user name. No changelog was asked for in this page: the
    // current status and assignee are dated at creation.
    let got: Vec<EventKind> = events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(got[0], EventKind::Opened);
    assert_eq!(got[1], sc(None, "Closed", Some(StatusCategory::Done)));
    assert!(events.iter().all(|e| e.actor.as_deref().is_none_or(|a| !a.contains('@'))));
    // Without a status history the issue sat in "Closed" (done) from its creation: closed then.
    assert_eq!(
        closes(&events),
        vec![(
            "jira:HELP#6042/created/closed".into(),
            item.created_at,
            item.author.clone(),
            EventKind::Closed { completed: true }
        )]
    );
}

/// The patternfly.atlassian.net issues of `jira_raw_fields.json` (one ES hit per line), by key.
fn patternfly(key: &str) -> Value {
    let text = realdata("grimoirelab-elk/jira_raw_fields.json");
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map(|hit| hit.unwrap()["_source"]["data"].clone())
        .find(|d| d["key"] == key)
        .unwrap_or_else(|| panic!("{key} not in jira_raw_fields.json"))
}

/// patternfly's `/status` as far as its issues show it: To Do, In Progress, Done.
fn patternfly_statuses() -> HashMap<String, StatusCategory> {
    let mut statuses = HashMap::new();
    statuses.insert("10000".to_string(), StatusCategory::ToDo);
    statuses.insert("3".to_string(), StatusCategory::InProgress);
    statuses.insert("10001".to_string(), StatusCategory::Done);
    statuses
}

fn closes(events: &[siloscope::model::Event]) -> Vec<(String, i64, Option<String>, EventKind)> {
    summary(events)
        .into_iter()
        .filter(|(_, _, _, k)| matches!(k, EventKind::Closed { .. } | EventKind::Reopened))
        .collect()
}

const JHAINES: &str = "jira:557058:16e3657f-912c-4bd8-a20e-ac938868c379";
const SDOYLE: &str = "jira:557058:995e7c37-9893-4c21-94ec-4a017d06ba00";

#[test]
fn a_resolution_listed_before_the_move_to_done_in_one_history_is_one_close() {
    // OSUX-161: history 86210 lists `resolution` (→ Done) before `status` (In Progress → Done).
    let issue = patternfly("OSUX-161");
    let statuses = patternfly_statuses();
    let (links, done) = (LinkNames::default(), parse::default_completed_resolutions());
    let (item, events) = parse::issue(&issue, None, &ctx(Flavor::Cloud, None, &statuses, &links, &done)).unwrap();
    assert_eq!(item.state, ItemState::Closed);
    // 2017-10-31T15:02:58.683-0400.
    assert_eq!(
        closes(&events),
        vec![(
            "jira:OSUX#161/h86210/1/closed".into(),
            1_509_476_578,
            Some(JHAINES.into()),
            EventKind::Closed { completed: true }
        )]
    );
}

#[test]
fn resolved_in_a_status_deleted_since_and_tidied_up_later_closes_at_the_resolution() {
    // OSUX-161 as many sites have it: sdoyle resolves it in "Resolved" (id 5, deleted from the
    // workflow since: /status omits it) on 2017-10-20; jhaines moves it to Done eleven days later.
    let mut issue = patternfly("OSUX-161");
    let histories = issue["changelog"]["histories"].as_array_mut().unwrap();
    let tidy = histories.iter_mut().find(|h| h["id"] == "86210").unwrap();
    let mut resolve = tidy.clone();
    let sdoyle = serde_json::json!({"accountId": "557058:995e7c37-9893-4c21-94ec-4a017d06ba00", "name": "sdoyle"});
    resolve["id"] = "86100".into();
    resolve["created"] = "2017-10-20T10:00:00.000-0400".into();
    resolve["author"] = sdoyle;
    resolve["items"][1]["to"] = "5".into();
    resolve["items"][1]["toString"] = "Resolved".into();
    tidy["items"] = serde_json::json!([{"fieldtype": "jira", "field": "status", "fieldId": "status",
        "from": "5", "fromString": "Resolved", "to": "10001", "toString": "Done"}]);
    histories.push(resolve);
    issue["fields"]["resolutiondate"] = "2017-10-20T10:00:00.000-0400".into();
    let statuses = patternfly_statuses();
    assert!(!statuses.contains_key("5") && !statuses.contains_key("resolved"));
    let (links, done) = (LinkNames::default(), parse::default_completed_resolutions());
    let (item, events) = parse::issue(&issue, None, &ctx(Flavor::Cloud, None, &statuses, &links, &done)).unwrap();
    assert_eq!(item.state, ItemState::Closed);
    // 2017-10-20T14:00:00Z, by the resolver; the tidy-up is a status change only.
    assert_eq!(
        closes(&events),
        vec![(
            "jira:OSUX#161/h86100/1/closed".into(),
            1_508_508_000,
            Some(SDOYLE.into()),
            EventKind::Closed { completed: true }
        )]
    );
    let moves: Vec<EventKind> = events
        .iter()
        .filter(|e| !e.id.contains("/created/") && matches!(e.kind, EventKind::StatusChanged { .. }))
        .map(|e| e.kind.clone())
        .collect();
    assert_eq!(
        moves,
        vec![
            sc(Some("To Do"), "In Progress", Some(StatusCategory::InProgress)),
            sc(Some("In Progress"), "Resolved", None),
            sc(Some("Resolved"), "Done", Some(StatusCategory::Done)),
        ]
    );
}

#[test]
fn a_reopen_clears_the_resolution_and_a_resolution_cleared_in_a_done_status_leaves_it_closed() {
    let mut issue = patternfly("OSUX-161");
    let author = issue["changelog"]["histories"][0]["author"].clone();
    let histories = issue["changelog"]["histories"].as_array_mut().unwrap();
    // An admin clears the resolution and leaves the status Done: still done, not a reopen.
    histories.push(serde_json::json!({"id": "86300", "created": "2017-11-01T09:00:00.000-0400", "author": author,
        "items": [{"fieldtype": "jira", "field": "resolution", "fieldId": "resolution",
                   "from": "10000", "fromString": "Done", "to": null, "toString": null}]}));
    let statuses = patternfly_statuses();
    let (links, done) = (LinkNames::default(), parse::default_completed_resolutions());
    let c = ctx(Flavor::Cloud, None, &statuses, &links, &done);
    issue["fields"]["resolution"] = Value::Null;
    issue["fields"]["resolutiondate"] = Value::Null;
    let (item, events) = parse::issue(&issue, None, &c).unwrap();
    assert_eq!(item.state, ItemState::Closed);
    assert_eq!(closes(&events).len(), 1);
    // Then someone moves it back to To Do: reopened then, by them.
    let histories = issue["changelog"]["histories"].as_array_mut().unwrap();
    histories.push(serde_json::json!({"id": "86301", "created": "2017-11-02T09:00:00.000-0400", "author": author,
        "items": [{"fieldtype": "jira", "field": "status", "fieldId": "status",
                   "from": "10001", "fromString": "Done", "to": "10000", "toString": "To Do"}]}));
    issue["fields"]["status"] = issue["fields"]["issuetype"].clone(); // not a status: fall back on /status
    let (item, events) = parse::issue(&issue, None, &c).unwrap();
    assert_eq!(item.state, ItemState::Open);
    let got = closes(&events);
    assert_eq!(got.len(), 2);
    // 2017-11-02T13:00:00Z.
    assert_eq!(
        got[1],
        ("jira:OSUX#161/h86301/0/reopened".into(), 1_509_627_600, Some(JHAINES.into()), EventKind::Reopened)
    );
    // Clearing the resolution with the move out of Done (Jira's "Reopen" transition) reopens there.
    let histories = issue["changelog"]["histories"].as_array_mut().unwrap();
    histories.retain(|h| h["id"] != "86300");
    histories.last_mut().unwrap()["items"].as_array_mut().unwrap().push(serde_json::json!({"fieldtype": "jira",
        "field": "resolution", "fieldId": "resolution", "from": "10000", "fromString": "Done", "to": null, "toString": null}));
    let (_, events) = parse::issue(&issue, None, &c).unwrap();
    assert_eq!(closes(&events)[1].0, "jira:OSUX#161/h86301/0/reopened");
}

#[test]
fn without_resolutions_the_done_category_closes_and_a_resolution_set_by_automation_names_how() {
    // CONTRIB-11's workflow sets no resolution: the move into a done status is the close.
    let items: Vec<Value> = serde_json::from_str(&realdata("grimoirelab-elk/jira.json")).unwrap();
    let mut data = items[4]["data"].clone();
    assert_eq!(data["key"], "CONTRIB-11");
    let mut statuses = HashMap::new();
    statuses.insert("10013".to_string(), StatusCategory::InProgress);
    statuses.insert("10012".to_string(), StatusCategory::ToDo);
    // "Licenses Validated" (10015) is not in /status: the issue's own status says done.
    let (links, done) = (LinkNames::default(), parse::default_completed_resolutions());
    let c = ctx(Flavor::Cloud, None, &statuses, &links, &done);
    let (item, events) = parse::issue(&data, Some(&[]), &c).unwrap();
    assert_eq!(item.state, ItemState::Closed);
    let peter = Some("jira:557058:887ce97e-9fbd-4873-8b09-669ce3b1e696".to_string());
    let close = (
        "jira:CONTRIB#11/h10053/0/closed".to_string(),
        1_527_197_299,
        peter.clone(),
        EventKind::Closed { completed: true },
    );
    assert_eq!(closes(&events), vec![close.clone()]);
    // An automation rule sets "Won't Do" two seconds after the move: still peter's close, not done.
    let bot = serde_json::json!({"accountId": "557058:automation", "displayName": "Automation for Jira"});
    data["changelog"]["histories"].as_array_mut().unwrap().push(serde_json::json!({"id": "10054",
        "created": "2018-05-24T23:28:21.654+0200", "author": bot,
        "items": [{"field": "resolution", "fieldtype": "jira", "fieldId": "resolution", "from": null,
                   "fromString": null, "to": "10001", "toString": "Won't Do"}]}));
    data["fields"]["resolution"] = serde_json::json!({"id": "10001", "name": "Won't Do"});
    let (_, events) = parse::issue(&data, Some(&[]), &c).unwrap();
    assert_eq!(closes(&events), vec![(close.0, close.1, close.2, EventKind::Closed { completed: false })]);
}

#[test]
fn a_link_removed_in_the_changelog_is_undone() {
    // OSUX-206's real link histories: "clones OSUX-181" and "is cloned by OSUX-207".
    let mut issue = patternfly("OSUX-206");
    let links =
        LinkNames { blocks: vec!["clones".into()], duplicates: vec!["is cloned by".into()], ..LinkNames::default() };
    let (statuses, done) = (patternfly_statuses(), parse::default_completed_resolutions());
    let c = ctx(Flavor::Cloud, None, &statuses, &links, &done);
    let linked = |events: &[siloscope::model::Event]| -> Vec<(String, EventKind)> {
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Linked { .. }))
            .map(|e| (e.id.clone(), e.kind.clone()))
            .collect()
    };
    let (_, events) = parse::issue(&issue, None, &c).unwrap();
    let to_181 = (
        "jira:OSUX#206/h85320/0".to_string(),
        EventKind::Linked { relation: LinkRelation::Blocks, target: "jira:OSUX#181".into() },
    );
    let to_207 = (
        "jira:OSUX#206/h85328/0".to_string(),
        EventKind::Linked { relation: LinkRelation::Duplicates, target: "jira:OSUX#207".into() },
    );
    assert_eq!(linked(&events), vec![to_181, to_207.clone()], "the current issuelinks are the changelog's, not twice");
    // Removed a week later, as Jira writes it: from/fromString set, to/toString null.
    let author = issue["changelog"]["histories"][0]["author"].clone();
    issue["changelog"]["histories"].as_array_mut().unwrap().push(serde_json::json!({"id": "86500",
        "created": "2017-10-23T10:00:00.000-0400", "author": author,
        "items": [{"fieldtype": "jira", "field": "Link", "from": "OSUX-181", "fromString": "This issue clones OSUX-181",
                   "to": null, "toString": null}]}));
    issue["fields"]["issuelinks"].as_array_mut().unwrap().retain(|l| l["outwardIssue"]["key"] != "OSUX-181");
    let (_, events) = parse::issue(&issue, None, &c).unwrap();
    assert_eq!(linked(&events), vec![to_207]);
}
