//! Tracker text is untrusted (issue 17, item 8): team names with NUL and bidirectional overrides,
//! item titles with overrides, item URLs that are not http(s) or that smuggle a second link. No
//! surface (HTML and Markdown report, JSON report, metric labels) may carry a hostile character
//! raw or turn a non-http(s) URL into a link.

use siloscope::exporter::{Exporter, Snapshot};
use siloscope::model::{DAY, Event, EventKind, HOUR, HistoryStart, Item, ItemKind, ItemState, Ts};
use siloscope::report::{self, Format, Period, ReportOptions};
use siloscope::signals::{Frame, SignalsConfig};
use siloscope::teams::{Directory, DirectoryBuilder, Membership, ScopePattern};

/// 2026-01-05T00:00:00Z, a Monday.
const P: Ts = 1_767_571_200;
const RLO: char = '\u{202E}';

/// Two teams as a tracker could name them: one with a right-to-left override, one with a NUL.
fn directory() -> Directory {
    directory_named(&format!("pay{RLO}stnem"), "ops\0x")
}

/// The two teams under the given names: `pay` hands its items to `ops`.
fn directory_named(pay: &str, ops: &str) -> Directory {
    let mut b = DirectoryBuilder::new();
    let pay = b.team(pay, &["acme/pay".into()], None);
    let ops = b.team(ops, &["acme/ops".into()], None);
    b.ownership_mut().scopes.push((ScopePattern("acme/pay-repo".into()), pay));
    b.ownership_mut().scopes.push((ScopePattern("acme/ops-repo".into()), ops));
    for (team, login) in [(pay, "p1"), (pay, "p2"), (ops, "o1"), (ops, "o2")] {
        b.person(login, &[format!("github:{login}")], vec![Membership { team, from: None, until: None }], false);
    }
    b.build()
}

/// Items of pay handed to ops and never acknowledged (stalled, so listed with title and URL).
fn frame() -> Frame {
    frame_with_first_title(&format!("Invoice {RLO}fdp.exe"))
}

/// The same items, the first one titled `first_title`.
fn frame_with_first_title(first_title: &str) -> Frame {
    let items = [
        ("gh:acme/pay-repo#1", first_title.to_string(), "https://example.test/1\n<javascript:alert(1)>"),
        ("gh:acme/pay-repo#2", "Plain title".to_string(), "javascript:alert(2)"),
        ("gh:acme/pay-repo#3", "Good link".to_string(), "https://example.test/3"),
    ];
    let mut f = Frame::new();
    for (n, (key, title, url)) in items.iter().enumerate() {
        let at = P + n as Ts * HOUR;
        f.add_item(&Item {
            key: key.to_string(),
            source: "gh".into(),
            kind: ItemKind::Issue,
            scope: "acme/pay-repo".into(),
            url: url.to_string(),
            title: title.clone(),
            author: Some("github:p1".into()),
            created_at: at,
            updated_at: at,
            state: ItemState::Open,
            issue_type: None,
        });
        let ev = |i: usize, at: Ts, kind: EventKind| Event {
            id: format!("{key}/{i}"),
            item: key.to_string(),
            at,
            actor: Some("github:p1".into()),
            kind,
        };
        f.add_event(&ev(0, at, EventKind::Opened));
        f.add_event(&Event { actor: Some("github:p2".into()), ..ev(1, at, EventKind::Commented { mentions: vec![] }) });
        f.add_event(&ev(2, at + HOUR, EventKind::Labeled { label: "team:acme/ops".into() }));
    }
    // ops is active too (above the privacy floor of 2), on its own item.
    let key = "gh:acme/ops-repo#1";
    f.add_item(&Item {
        key: key.into(),
        source: "gh".into(),
        kind: ItemKind::Issue,
        scope: "acme/ops-repo".into(),
        url: "https://example.test/ops".into(),
        title: "Ops work".into(),
        author: Some("github:o1".into()),
        created_at: P,
        updated_at: P,
        state: ItemState::Open,
        issue_type: None,
    });
    for (i, who) in ["o1", "o2"].into_iter().enumerate() {
        let kind = if i == 0 { EventKind::Opened } else { EventKind::Commented { mentions: vec![] } };
        f.add_event(&Event {
            id: format!("{key}/{i}"),
            item: key.into(),
            at: P + i as Ts,
            actor: Some(format!("github:{who}")),
            kind,
        });
    }
    f.prepare();
    f
}

fn cfg() -> SignalsConfig {
    SignalsConfig { privacy_floor: 2, ..SignalsConfig::default() }
}

fn report_in(format: Format) -> String {
    report_of(&frame(), &directory(), format)
}

fn report_of(frame: &Frame, directory: &Directory, format: Format) -> String {
    let period = Period::between("2026-01-05", "2026-01-18").unwrap();
    let opts = ReportOptions {
        history: vec![("gh".into(), HistoryStart::From(P - 30 * DAY))],
        ..ReportOptions::new(period, P + 13 * DAY)
    };
    let r = report::generate(frame, directory, &cfg(), &opts).expect("the report");
    report::render(&r, format)
}

fn assert_no_hostile_character(surface: &str, text: &str) {
    for c in text.chars() {
        let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}');
        let control = c.is_control() && c != '\n' && c != '\t';
        assert!(!bidi && !control, "{surface} carries U+{:04X} raw", c as u32);
    }
}

#[test]
fn team_names_and_titles_go_out_neutralised_on_every_surface() {
    for format in [Format::Html, Format::Markdown, Format::Json] {
        // Markdown escapes the brackets (`\\[U+202E\\]`): compare without its escapes.
        let text = report_in(format).replace("\\[", "[").replace("\\]", "]");
        let surface = format!("the {format:?} report");
        assert_no_hostile_character(&surface, &text);
        // A JSON string may escape the NUL as \u0000: that is still the character.
        assert!(!text.contains("\\u0000") && !text.contains("\\u202e") && !text.contains("\\u202E"), "{surface}");
        assert!(text.contains("pay[U+202E]stnem") && text.contains("ops[U+0000]x"), "{surface}: {text}");
        assert!(text.contains("Invoice [U+202E]fdp.exe"), "{surface}");
    }
    let now = P + 13 * DAY;
    let f = frame();
    let (_, signals) = siloscope::signals::compute(&f, &directory(), &cfg(), now);
    let exporter = Exporter::new();
    exporter.publish(Snapshot {
        signals,
        items: Vec::new(),
        events_stored: 11,
        computed_at: now,
        compute_seconds: 0.0,
    });
    let metrics = exporter.render();
    assert_no_hostile_character("/metrics", &metrics);
    assert!(metrics.contains("pay[U+202E]stnem") && metrics.contains("ops[U+0000]x"), "{metrics}");
}

#[test]
fn only_http_and_https_urls_become_links() {
    let html = report_in(Format::Html);
    let markdown = report_in(Format::Markdown);
    let json = report_in(Format::Json);
    // The good URL is linked in both human formats …
    assert!(html.contains("<a href=\"https://example.test/3\">Good link</a>"), "{html}");
    assert!(markdown.contains("[Good link](https://example.test/3)"), "{markdown}");
    // … the others never, nor smuggled as a second (auto)link, nor handed to a JSON consumer.
    for (surface, text) in [("HTML", &html), ("Markdown", &markdown), ("JSON", &json)] {
        assert!(!text.to_ascii_lowercase().contains("javascript:"), "{surface} carries a javascript: URL:\n{text}");
        assert!(!text.contains("example.test/1"), "{surface} links the URL with a newline in it");
    }
    // The items themselves are still listed, as text.
    assert!(html.contains("Plain title") && markdown.contains("Plain title"));
}

#[test]
fn markup_in_titles_and_team_names_is_text_in_the_html_and_as_is_in_the_json() {
    const TITLE: &str = "<script>alert(1)</script>";
    const TEAM: &str = "<b>&\"'";
    let (frame, directory) = (frame_with_first_title(TITLE), directory_named("pay", TEAM));
    let html = report_of(&frame, &directory, Format::Html);
    // The title is listed (the stalled handoffs), escaped; the page has no script at all.
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
    assert!(!html.to_ascii_lowercase().contains("<script"), "the HTML report carries a script tag:\n{html}");
    // The team is named in text (its table rows, the stalled list) and in attributes (the pair
    // matrices' hover titles, the silo chart's label): escaped everywhere, never raw.
    let escaped = "&lt;b&gt;&amp;&quot;'";
    assert!(!html.contains(TEAM), "the HTML report carries the team name raw:\n{html}");
    assert!(html.contains(&format!("<td><b>{escaped}</b></td>")), "the teams table: {html}");
    assert!(html.contains(&format!("title=\"pay → {escaped}: ")), "a pair matrix's hover title: {html}");
    assert!(html.contains(&format!("aria-label=\"{escaped}\"")), "the silo chart: {html}");
    // The JSON report hands both to its consumer as they are (JSON escaping only).
    let json: serde_json::Value = serde_json::from_str(&report_of(&frame, &directory, Format::Json)).unwrap();
    fn strings<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::String(s) => out.push(s),
            serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    strings(&json, &mut all);
    assert!(all.contains(&TITLE), "the JSON report lists the title as it is");
    assert!(all.contains(&TEAM), "the JSON report names the team as it is");
}
