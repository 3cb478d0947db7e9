//! The recorded real GitLab payloads in ../shared/realdata/perceval/gitlab and
//! ../shared/realdata/grimoirelab-elk/gitlab.json (or under $SILOSCOPE_REALDATA) parse into
//! exactly these items and events. They are from GitLab versions before resource state events
//! (13.2): merges and closes are in system notes and the items' own fields, never twice.

use serde_json::{Value, json};
use siloscope::model::{Event, EventKind, ItemKind, ItemState, Ts};
use siloscope::sources::gitlab::parse;

fn realdata(path: &str) -> Value {
    let dir = std::env::var_os("SILOSCOPE_REALDATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realdata"));
    let path = dir.join(path);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}; set SILOSCOPE_REALDATA", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn ts(text: &str) -> Ts {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp()
}

/// (id, at, actor, kind) of events, for exact comparison.
fn rows(events: &[Event]) -> Vec<(String, Ts, Option<String>, EventKind)> {
    events.iter().map(|e| (e.id.clone(), e.at, e.actor.clone(), e.kind.clone())).collect()
}

fn who(login: &str) -> Option<String> {
    Some(format!("gitlab:{login}"))
}

/// Item and all events of one read: the payload, its notes and state events (none recorded:
/// these instances had no resource events).
fn read(data: &Value, kind: ItemKind, notes: &Value, states: &Value) -> (siloscope::model::Item, Vec<Event>) {
    let (item, opened) = parse::parse_item("gl", kind, data, None).unwrap();
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let events = parse::item_events(&item, opened, data, &list(notes), &list(states), &[]).unwrap();
    (item, events)
}

/// Item and all events of one perceval/elk record (`data` with `notes_data`).
fn parse_record(data: &Value, kind: ItemKind) -> (siloscope::model::Item, Vec<Event>) {
    read(data, kind, &data["notes_data"], &json!([]))
}

#[test]
fn perceval_issue_pages_and_notes() {
    let page = realdata("perceval/gitlab/issue_page_1");
    let (item, opened) = parse::parse_item("gl", ItemKind::Issue, &page[0], None).unwrap();
    assert_eq!(item.key, "gitlab:fdroid/fdroiddata#1");
    assert_eq!(item.scope, "fdroid/fdroiddata");
    assert_eq!(item.kind, ItemKind::Issue);
    assert_eq!(item.url, "https://gitlab.com/fdroid/fdroiddata/issues/639");
    assert_eq!(item.title, "bad directory permissions when building TTT?");
    assert_eq!(item.author, who("redfish64"));
    assert_eq!(item.state, ItemState::Closed);
    assert_eq!(item.created_at, ts("2017-03-17T03:44:12Z"));
    // The recording's updated_at (2016) is before created_at: clamped to the creation.
    assert_eq!(item.updated_at, ts("2017-03-17T03:44:12Z"));
    assert_eq!(item.issue_type, None);
    assert_eq!(opened.kind, EventKind::Opened);

    let notes = realdata("perceval/gitlab/notes_1");
    let (_, events) = read(&page[0], ItemKind::Issue, &notes, &json!([]));
    assert_eq!(
        rows(&events),
        vec![
            (
                "gitlab:fdroid/fdroiddata#1/opened".into(),
                ts("2017-03-17T03:44:12Z"),
                who("redfish64"),
                EventKind::Opened
            ),
            // Closed by its move: no note says so, and the item has no closed_at (GitLab 9):
            // the close is dated at the last thing read, the move.
            (
                "gitlab:fdroid/fdroiddata#1/closed/1".into(),
                ts("2017-03-18T14:44:19Z"),
                None,
                EventKind::Closed { completed: true }
            ),
            (
                "gitlab:fdroid/fdroiddata#1/note/1".into(),
                ts("2017-03-18T14:44:19Z"),
                who("redfish64"),
                EventKind::Moved { from_scope: "fdroid/fdroiddata".into(), to_scope: "fdroid/fdroidserver".into() }
            ),
            (
                "gitlab:fdroid/fdroiddata#1/note/2".into(),
                ts("2017-03-18T14:43:38Z"),
                who("redfish64"),
                EventKind::Commented { mentions: vec![] }
            ),
        ]
    );

    // The second page: issue 3 closed by a system note, its labels as the item shows them.
    let page = realdata("perceval/gitlab/issue_page_2");
    let notes = realdata("perceval/gitlab/notes_3");
    let (item, events) = read(&page[0], ItemKind::Issue, &notes, &json!([]));
    assert_eq!(item.key, "gitlab:fdroid/fdroiddata#3");
    assert_eq!(item.author, who("yoerinijs"), "usernames are lower-cased");
    let close = (
        "gitlab:fdroid/fdroiddata#3/closed/1".to_string(),
        ts("2017-03-18T19:29:36Z"),
        who("yoerinijs"),
        EventKind::Closed { completed: true },
    );
    assert_eq!(rows(&events[1..]), vec![close.clone()], "the note is the close; the item's state adds none");
    // The same close also as a state event (a later GitLab listing it, in the documented shape,
    // written a moment before the note): still one close, under the same id.
    let state = json!([{"id": 501, "user": notes[0]["author"], "created_at": "2017-03-18T19:29:36.590Z",
        "resource_type": "Issue", "resource_id": 4759442, "state": "closed"}]);
    let (_, events) = read(&page[0], ItemKind::Issue, &notes, &state);
    assert_eq!(rows(&events[1..]), vec![close]);
}

#[test]
fn perceval_merge_requests_pages_and_full() {
    let page = realdata("perceval/gitlab/merge_page_1");
    let keys: Vec<String> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|v| parse::parse_item("gl", ItemKind::MergeRequest, v, None).unwrap().0.key)
        .collect();
    assert_eq!(keys, vec!["gitlab:fdroid/fdroiddata!1", "gitlab:fdroid/fdroiddata!2"]);
    let full = realdata("perceval/gitlab/merge_1");
    let (item, opened) = parse::parse_item("gl", ItemKind::MergeRequest, &full, None).unwrap();
    // Merged in 2014: the payload says so with neither `merged_at` nor `merged_by`, and there
    // are no notes: the merge is dated at the last activity, the latest it can have been.
    let (_, events) = read(&full, ItemKind::MergeRequest, &json!([]), &json!([]));
    assert_eq!(
        rows(&events[1..]),
        vec![("gitlab:fdroid/fdroiddata!1/merged/1".into(), ts("2014-04-03T16:50:32Z"), None, EventKind::Merged)]
    );
    assert_eq!(item.key, "gitlab:fdroid/fdroiddata!1");
    assert_eq!(item.state, ItemState::Merged);
    assert_eq!(item.author, who("redfish64"));
    assert_eq!(item.title, "Update OpenWLANMap/Mini & Vespucci");
    assert_eq!((opened.at, opened.actor.clone()), (ts("2014-04-03T15:27:02Z"), who("redfish64")));
    assert!(!parse::is_draft(&full), "work_in_progress: false");
    let merge3 = realdata("perceval/gitlab/merge_3");
    assert_eq!(
        parse::parse_item("gl", ItemKind::MergeRequest, &merge3, None).unwrap().0.key,
        "gitlab:fdroid/fdroiddata!3"
    );
}

#[test]
fn grimoirelab_elk_records_parse_into_exact_items_and_events() {
    let records = realdata("grimoirelab-elk/gitlab.json");
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 8);

    // Issue with no author (deleted user) and no notes.
    let (item, events) = parse_record(&records[4]["data"], ItemKind::Issue);
    assert_eq!(item.key, "gitlab:gitlab-org/gitlab#106422");
    assert_eq!((item.author.clone(), item.state), (None, ItemState::Open));
    assert_eq!(
        rows(&events),
        vec![("gitlab:gitlab-org/gitlab#106422/opened".into(), ts("2019-12-16T03:46:58Z"), None, EventKind::Opened)]
    );

    // `/-/` URL form.
    let (item, _) = parse_record(&records[1]["data"], ItemKind::Issue);
    assert_eq!((item.key.as_str(), item.scope.as_str()), ("gitlab:fdroid/fdroiddata#2", "fdroid/fdroiddata"));

    // A merged MR: comments, system notes that are no model events (commits added, description
    // changed, mentioned in commit) yield nothing, the `merged` note is the merge.
    let (item, events) = parse_record(&records[5]["data"], ItemKind::MergeRequest);
    let key = "gitlab:fdroid/fdroiddata!3148";
    assert_eq!(item.key, key);
    assert_eq!((item.state, item.author.clone()), (ItemState::Merged, who("grote")));
    assert_eq!(
        rows(&events),
        vec![
            (format!("{key}/opened"), ts("2018-05-09T17:15:35Z"), who("grote"), EventKind::Opened),
            (format!("{key}/merged/1"), ts("2018-05-16T14:17:20Z"), who("bubu"), EventKind::Merged),
            (
                format!("{key}/note/72392352"),
                ts("2018-05-09T20:15:32Z"),
                who("bubu"),
                EventKind::Commented { mentions: vec![] }
            ),
            (
                format!("{key}/note/72400736"),
                ts("2018-05-09T21:40:49Z"),
                who("grote"),
                EventKind::Commented { mentions: vec![] }
            ),
        ]
    );
    // The payload (merged_at 14:17:20.522, merged_by Bubu), the note (14:17:20.625) and a state
    // event of a later GitLab for the same merge are one merge.
    let data = &records[5]["data"];
    let state = json!([{"id": 9001, "user": data["merged_by"], "created_at": "2018-05-16T14:17:20.600Z",
        "resource_type": "MergeRequest", "resource_id": data["id"], "state": "merged"}]);
    let (_, events) = read(data, ItemKind::MergeRequest, &data["notes_data"], &state);
    let merges: Vec<_> = events.iter().filter(|e| e.kind == EventKind::Merged).map(|e| e.id.as_str()).collect();
    assert_eq!(merges, vec![format!("{key}/merged/1")]);

    // Labels on the payload are current state, not events; title changes are not events.
    let (item, events) = parse_record(&records[7]["data"], ItemKind::MergeRequest);
    assert_eq!(item.key, "gitlab:fdroid/fdroiddata!3126");
    assert_eq!(item.author, who("marc.nause"));
    let kinds: Vec<(EventKind, Option<String>)> = events.iter().map(|e| (e.kind.clone(), e.actor.clone())).collect();
    assert_eq!(kinds, vec![(EventKind::Opened, who("marc.nause")), (EventKind::Merged, who("mimi89999"))]);

    // Every merged record has exactly one merge, every closed one exactly one close.
    for r in records {
        let kind = if r["category"] == "merge_request" { ItemKind::MergeRequest } else { ItemKind::Issue };
        let (item, events) = parse_record(&r["data"], kind);
        let count = |name: &str| events.iter().filter(|e| e.kind.name() == name).count();
        let want = match item.state {
            ItemState::Merged => (1, 0),
            ItemState::Closed => (0, 1),
            ItemState::Open => (0, 0),
        };
        assert_eq!((count("merged"), count("closed")), want, "{}", item.url);
    }

    // Every record parses; events are unique by id.
    let mut ids = std::collections::HashSet::new();
    for r in records {
        let kind = if r["category"] == "merge_request" { ItemKind::MergeRequest } else { ItemKind::Issue };
        let (_, events) = parse_record(&r["data"], kind);
        for e in events {
            assert!(ids.insert(e.id.clone()), "duplicate id {}", e.id);
        }
    }
}

/// The recordings' contradictions: issue 639's `updated_at` (2016) is a year before its
/// `created_at` (2017); its award emoji (not read) predate it too. Notes and events read are all
/// after their item's creation, so that is all that is reported.
#[test]
fn the_recordings_contradictions_are_reported_once_each() {
    let records = realdata("grimoirelab-elk/gitlab.json");
    let mut found = Vec::new();
    for r in records.as_array().unwrap() {
        let kind = if r["category"] == "merge_request" { ItemKind::MergeRequest } else { ItemKind::Issue };
        let (item, events) = parse_record(&r["data"], kind);
        if let Some(why) = parse::inconsistency(&item, &r["data"], &events) {
            found.push((item.url.clone(), why));
        }
    }
    assert_eq!(
        found,
        vec![(
            "https://gitlab.com/fdroid/fdroiddata/issues/639".to_string(),
            "updated_at 2016-03-18T14:44:19Z is before created_at 2017-03-17T03:44:12Z".to_string()
        )]
    );
    // The perceval page of the same issue, with its notes: the same, and nothing else.
    let page = realdata("perceval/gitlab/issue_page_1");
    let (item, events) = read(&page[0], ItemKind::Issue, &realdata("perceval/gitlab/notes_1"), &json!([]));
    assert_eq!(
        parse::inconsistency(&item, &page[0], &events).as_deref(),
        Some("updated_at 2016-03-18T14:44:19Z is before created_at 2017-03-17T03:44:12Z")
    );
}
