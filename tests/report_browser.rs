//! The HTML report of the demo organisation's quarter, rendered by headless Chromium (Debian's
//! `chromium`; `tests/run` installs it with poppler-utils when missing) to a PNG and a PDF: the
//! page loads without a console error, every chart is in the rendered DOM, and the PDF has the
//! expected sections, each major one starting a page. The files are left in the target
//! directory's test tmpdir to look at.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use siloscope::model::{DAY, Ts};
use siloscope::report::{self, Format, Period, ReportOptions};
use siloscope::signals::{Frame, SignalsConfig};
use siloscope::sources::simulator::{Simulator, SimulatorConfig};
use siloscope::teams::DirectoryBuilder;

/// 2025-10-01T00:00:00Z: two quarters of history (2025-Q4, 2026-Q1), the report is on 2026-Q1.
const START: Ts = 1_759_276_800;
const DAYS: i64 = 182;

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn need(tool: &str) {
    let found =
        Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    assert!(found, "{tool} is not installed: run the suite with tests/run, which installs chromium and poppler-utils");
}

/// Runs a command with a deadline (a hung browser must not hang the suite). Output goes through
/// files: a page's DOM is larger than a pipe's buffer.
fn run(cmd: &mut Command, timeout: Duration) -> Output {
    let spool = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (spool.path().join("stdout"), spool.path().join("stderr"));
    let mut child = cmd
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("starting the command");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output { status, stdout: std::fs::read(&out_path).unwrap(), stderr: std::fs::read(&err_path).unwrap() }
}

/// Headless Chromium with a throwaway profile and nothing reaching the network.
fn chromium(profile: &Path, args: &[&str], page: &Path) -> Output {
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display())).args(args).arg(format!("file://{}", page.display()));
    let out = run(&mut cmd, Duration::from_secs(120));
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Console messages and uncaught errors in Chromium's log (its own D-Bus/GPU noise aside).
fn console_errors(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("console.error"))
        .map(str::to_string)
        .collect()
}

/// The demo organisation (8 teams of 7, 120 items a day) over two quarters, as the daemon's frame.
fn demo_report() -> report::Report {
    let mut sim = Simulator::new(
        "demo",
        SimulatorConfig { start: Some(START), history_days: DAYS as u32, ..SimulatorConfig::default() },
    );
    let mut frame = Frame::new();
    for d in 0..DAYS {
        let (items, events) = sim.generate(START, START + d * DAY, START + (d + 1) * DAY);
        for i in &items {
            frame.add_item(i);
        }
        for e in &events {
            frame.add_event(e);
        }
    }
    frame.prepare();
    let mut b = DirectoryBuilder::new();
    b.snapshot(&sim.directory(START));
    let dir = b.build();
    let opts = ReportOptions::new(Period::parse("2026-Q1").unwrap(), START + DAYS * DAY);
    report::generate(&frame, &dir, &demo_signals(), &opts).expect("the demo report")
}

/// The demo's two working agreements (src/main.rs `demo_agreements`), so the report has its
/// agreements section.
fn demo_signals() -> SignalsConfig {
    use siloscope::signals::HandoffKind;
    use siloscope::signals::agreements::{Agreement, DEFAULT_WINDOW};
    let agreement = |name: &str, to: &str, kinds: Vec<HandoffKind>, within: Ts, objective: f64| Agreement {
        name: name.into(),
        to_team: to.into(),
        from_teams: vec![],
        kinds,
        within,
        working_hours: false,
        objective,
        window: DEFAULT_WINDOW,
    };
    SignalsConfig {
        agreements: vec![
            agreement("payments-reviews", "payments", vec![HandoffKind::Review], DAY, 0.9),
            agreement(
                "platform-handoffs",
                "platform",
                vec![HandoffKind::Reassign, HandoffKind::Transfer],
                2 * DAY,
                0.8,
            ),
        ],
        ..SignalsConfig::default()
    }
}

#[test]
fn the_demo_quarter_renders_in_chromium_to_png_and_pdf() {
    need("chromium");
    need("pdftotext");
    let dir = artifacts();
    let profile = tempfile::tempdir().unwrap();

    // The detector works: a page that logs an error is caught.
    let bad = dir.join("console-error.html");
    std::fs::write(&bad, "<!doctype html><p>x</p><script>console.error('boom'); undefinedFunction();</script>")
        .unwrap();
    let out = chromium(profile.path(), &["--dump-dom"], &bad);
    let errors = console_errors(&out.stderr);
    assert!(errors.iter().any(|l| l.contains("boom")) && errors.iter().any(|l| l.contains("Uncaught")), "{errors:?}");

    let r = demo_report();
    assert!(r.has_data && r.has_previous_data);
    assert_eq!(r.teams.len(), 8, "the demo's 8 teams, none under the privacy floor");
    assert!(r.agreements.iter().all(|a| !a.suppressed && !a.broke_it_most.is_empty()), "{:?}", r.agreements);
    let html = report::render(&r, Format::Html);
    let page = dir.join("report.html");
    std::fs::write(&page, &html).unwrap();
    // Every chart the page should have: 6 trends and one silo-index chart per team.
    let mut charts: Vec<String> =
        ["handoffs", "latency", "stalled", "bounces", "reviews", "joint-wins"].map(String::from).to_vec();
    charts.extend(r.teams.iter().map(|t| format!("silo-{}", t.team)));
    assert_eq!(html.matches("<svg ").count(), charts.len());

    // Loaded: no console error, and every chart is an SVG element of the rendered DOM.
    let out = chromium(profile.path(), &["--dump-dom", "--window-size=1280,4000"], &page);
    assert_eq!(console_errors(&out.stderr), Vec::<String>::new());
    let dom = String::from_utf8_lossy(&out.stdout);
    for chart in &charts {
        assert!(dom.contains(&format!("data-chart=\"{chart}\"")), "chart {chart} missing from the rendered page");
    }
    assert!(dom.contains("<h1>2026-Q1"), "the headline comes first");

    // Screenshot.
    let png = dir.join("report.png");
    let _ = std::fs::remove_file(&png);
    let out = chromium(profile.path(), &[&format!("--screenshot={}", png.display()), "--window-size=1280,4000"], &page);
    assert_eq!(console_errors(&out.stderr), Vec::<String>::new());
    let bytes = std::fs::read(&png).expect("the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 50_000, "a real PNG ({} bytes)", bytes.len());

    // PDF, then its text.
    let pdf = dir.join("report.pdf");
    let _ = std::fs::remove_file(&pdf);
    let out =
        chromium(profile.path(), &[&format!("--print-to-pdf={}", pdf.display()), "--no-pdf-header-footer"], &page);
    assert_eq!(console_errors(&out.stderr), Vec::<String>::new());
    assert!(std::fs::read(&pdf).expect("the PDF").starts_with(b"%PDF"));
    let text = run(Command::new("pdftotext").args(["-layout"]).arg(&pdf).arg("-"), Duration::from_secs(60));
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    let pages: Vec<&str> = text.split('\x0c').filter(|p| !p.trim().is_empty()).collect();
    assert!(pages.len() >= 5, "{} pages", pages.len());
    for section in [
        "At a glance",
        "What changed, team by team",
        "Trends",
        "Silo index per team and week",
        "Between teams",
        "Handoff volume",
        "Review reciprocity",
        "Teams",
        "Working agreements",
        "payments-reviews: the handoffs that broke it most",
        "Worth a look",
        "Handoffs stalled at the period's end",
        "The worst bounces",
        "Rehashed decisions",
        "Joint wins",
        "About the data",
        "Definitions",
    ] {
        assert!(text.contains(section), "section {section:?} missing from the PDF");
    }
    // Chart text is real text in the PDF (titles and axis labels of the SVGs).
    for title in ["Handoffs between teams per week", "Handoff latency per week", "Joint wins per week"] {
        assert!(text.contains(title), "chart {title:?} missing from the PDF");
    }
    // Major sections start a page.
    for heading in ["Trends", "Between teams", "Working agreements", "Worth a look"] {
        let starts = pages.iter().any(|p| p.trim_start().starts_with(heading));
        assert!(starts, "{heading:?} does not start a page");
    }
    // The title is on the first page, before anything else.
    assert!(pages[0].contains("2026-Q1") && pages[0].contains("At a glance"));
}
