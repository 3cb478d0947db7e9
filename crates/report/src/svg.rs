//! Inline SVG charts for the HTML report: bar and line charts with a title, a legend, gridlines,
//! labelled axes and no script, as maud markup (maud escapes every label). Owns drawing only: it
//! knows nothing of signals or of which figures the report shows, and never fetches anything.

use std::fmt::Write;

use maud::{Markup, html};

/// Colours that stay distinguishable for common colour-vision deficiencies (Okabe–Ito based).
pub const PALETTE: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#7F7F7F", "#332288"];

/// One line of a line chart; `None` leaves a gap.
pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub values: Vec<Option<f64>>,
}

/// What every chart needs besides its data.
pub struct Chart<'a> {
    /// Stable name, as `data-chart` (tests and print styles find charts by it).
    pub id: &'a str,
    pub title: &'a str,
    /// Labels of the x positions (buckets), in order.
    pub x_labels: &'a [String],
    pub width: f64,
    pub height: f64,
    /// Formats a y tick value.
    pub y_format: &'a dyn Fn(f64) -> String,
    /// A fixed top of the y axis (ratios: 1.0); otherwise a round number above the data.
    pub y_max: Option<f64>,
    /// Buckets cut short (drawn lighter / hollow); may be empty.
    pub partial: &'a [bool],
}

/// A round tick step and the axis top for data up to `max` (about 4 ticks).
pub fn nice_ticks(max: f64) -> (f64, f64) {
    if !(max.is_finite() && max > 0.0) {
        return (1.0, 4.0);
    }
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    (step, (max / step).ceil().max(1.0) * step)
}

const MARGIN_LEFT: f64 = 46.0;
const MARGIN_RIGHT: f64 = 10.0;
const MARGIN_TOP: f64 = 34.0;
const MARGIN_BOTTOM: f64 = 22.0;
const INK: &str = "#1f2937";
const MUTED: &str = "#6b7280";
const GRID: &str = "#e5e7eb";

/// Plot geometry shared by both chart kinds.
struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    top: f64,
    n: usize,
}

impl Frame {
    fn band(&self) -> f64 {
        (self.x1 - self.x0) / self.n.max(1) as f64
    }
    fn x(&self, i: usize) -> f64 {
        self.x0 + self.band() * (i as f64 + 0.5)
    }
    fn y(&self, v: f64) -> f64 {
        self.y1 - (v / self.top).clamp(0.0, 1.0) * (self.y1 - self.y0)
    }
}

/// The plot frame and the y tick step of a chart whose data reach `data_max`.
fn frame(c: &Chart, data_max: f64) -> (Frame, f64) {
    let (step, top) = match c.y_max {
        // Small charts get fewer gridlines so their labels never crowd.
        Some(m) => (if c.height < 170.0 { m / 2.0 } else { m / 4.0 }, m),
        None => nice_ticks(data_max),
    };
    let f = Frame {
        x0: MARGIN_LEFT,
        x1: c.width - MARGIN_RIGHT,
        y0: MARGIN_TOP,
        y1: c.height - MARGIN_BOTTOM,
        top,
        n: c.x_labels.len(),
    };
    (f, step)
}

/// A coordinate with one decimal, as the charts write them.
fn d1(v: f64) -> String {
    format!("{v:.1}")
}

/// The SVG element around `plot`, with the title, legend, grid and axes drawn under it. SVG's
/// empty elements are written `<rect …></rect>`: inside HTML, `<rect …>` would not close.
fn chart(c: &Chart, f: &Frame, step: f64, legend: &[(&str, &str)], plot: Markup) -> Markup {
    // Legend on its own line under the title, left-aligned.
    let mut lx = MARGIN_LEFT;
    let legend: Vec<(f64, &str, &str)> = legend
        .iter()
        .map(|(name, color)| {
            let at = lx;
            lx += 14.0 + 6.4 * name.chars().count() as f64 + 14.0;
            (at, *name, *color)
        })
        .collect();
    let mut ticks = Vec::new();
    let mut v = 0.0;
    while v <= f.top + step * 1e-6 {
        ticks.push(v);
        v += step;
    }
    // X labels thinned so they never overlap.
    let widest = c.x_labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as f64 * 6.0 + 8.0;
    let every = ((widest / f.band()).ceil() as usize).max(1);
    html! {
        svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart=(c.id) viewBox=(format!("0 0 {} {}", c.width, c.height))
            width=(c.width) height=(c.height) role="img" aria-label=(c.title) font-family="inherit" {
            title { (c.title) }
            text x="0" y="14" font-size="13" font-weight="600" fill=(INK) { (c.title) }
            @for (lx, name, color) in legend {
                rect x=(lx) y="20" width="10" height="10" rx="2" fill=(color) {}
                text x=(lx + 14.0) y="29" font-size="11" fill=(MUTED) { (name) }
            }
            @for v in ticks {
                @let y = f.y(v);
                line x1=(f.x0) y1=(d1(y)) x2=(f.x1) y2=(d1(y)) stroke=(GRID) stroke-width="1" {}
                text x=(f.x0 - 6.0) y=(d1(y + 3.5)) font-size="10" fill=(MUTED) text-anchor="end" { ((c.y_format)(v)) }
            }
            line x1=(f.x0) y1=(f.y1) x2=(f.x1) y2=(f.y1) stroke=(MUTED) stroke-width="1" {}
            @for (i, label) in c.x_labels.iter().enumerate() {
                @if i % every == 0 {
                    text x=(d1(f.x(i))) y=(c.height - 6.0) font-size="10" fill=(MUTED) text-anchor="middle" { (label) }
                }
            }
            (plot)
        }
    }
}

/// A bar chart; partial buckets are drawn lighter. Values are written above the bars when there
/// is room.
pub fn bars(c: &Chart, color: &str, values: &[f64]) -> Markup {
    let max = values.iter().copied().fold(0.0, f64::max);
    let (f, step) = frame(c, max);
    let width = f.band() * 0.68;
    let labels = f.band() >= 22.0;
    let plot = html! {
        @for (i, v) in values.iter().enumerate() {
            @let (x, y) = (f.x(i) - width / 2.0, f.y(*v));
            @let opacity = if c.partial.get(i).copied().unwrap_or(false) { 0.4 } else { 1.0 };
            rect x=(d1(x)) y=(d1(y)) width=(d1(width)) height=(d1((f.y1 - y).max(0.0))) rx="1.5" fill=(color) fill-opacity=(opacity) {
                title { (c.x_labels.get(i).map_or("", String::as_str)) ": " ((c.y_format)(*v)) }
            }
            @if labels && *v > 0.0 {
                text x=(d1(f.x(i))) y=(d1(y - 3.0)) font-size="9" fill=(INK) text-anchor="middle" { ((c.y_format)(*v)) }
            }
        }
    };
    chart(c, &f, step, &[], plot)
}

/// A line chart of one or more series (gaps where a value is missing), with a legend when there
/// is more than one series.
pub fn lines(c: &Chart, series: &[Series]) -> Markup {
    let max = series.iter().flat_map(|s| s.values.iter().flatten()).copied().fold(0.0, f64::max);
    let legend: Vec<(&str, &str)> =
        if series.len() > 1 { series.iter().map(|s| (s.name, s.color)).collect() } else { Vec::new() };
    let (f, step) = frame(c, max);
    let plot = html! {
        @for s in series {
            @let path = line_path(&f, &s.values);
            @if !path.is_empty() {
                path d=(path) fill="none" stroke=(s.color) stroke-width="2" stroke-linejoin="round" stroke-linecap="round" {}
            }
            @for (i, v) in s.values.iter().enumerate() {
                @if let Some(v) = v {
                    @let fill = if c.partial.get(i).copied().unwrap_or(false) { "#fff" } else { s.color };
                    circle cx=(d1(f.x(i))) cy=(d1(f.y(*v))) r="2.8" fill=(fill) stroke=(s.color) stroke-width="1.4" {
                        title { (s.name) " " (c.x_labels.get(i).map_or("", String::as_str)) ": " ((c.y_format)(*v)) }
                    }
                }
            }
        }
    };
    chart(c, &f, step, &legend, plot)
}

/// The `d` of a series' path: `M x y L x y …`, a new `M` after each gap.
fn line_path(f: &Frame, values: &[Option<f64>]) -> String {
    let mut path = String::new();
    let mut pen_down = false;
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => {
                let _ = write!(path, "{}{:.1} {:.1} ", if pen_down { "L" } else { "M" }, f.x(i), f.y(*v));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    path.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_ticks(7.0), (2.0, 8.0));
        assert_eq!(nice_ticks(100.0), (25.0, 100.0));
        assert_eq!(nice_ticks(0.0), (1.0, 4.0));
        assert_eq!(nice_ticks(3.3), (1.0, 4.0));
    }

    #[test]
    fn charts_are_well_formed_and_escape_text() {
        let labels = vec!["6 Jul".to_string(), "13 Jul".to_string(), "<x>".to_string()];
        let fmt = |v: f64| format!("{v:.0}");
        let partial = [false, false, true];
        let c = Chart {
            id: "t",
            title: "A & B",
            x_labels: &labels,
            width: 300.0,
            height: 150.0,
            y_format: &fmt,
            y_max: None,
            partial: &partial,
        };
        let svg = bars(&c, PALETTE[0], &[1.0, 5.0, 0.0]).into_string();
        assert!(svg.contains(r#"fill-opacity="0.4""#), "the partial bucket is lighter");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("A &amp; B") && svg.contains("&lt;x&gt;") && !svg.contains("<x>"));
        assert_eq!(svg.matches("<rect").count(), 3);
        let s = lines(
            &c,
            &[
                Series { name: "p50", color: PALETTE[0], values: vec![Some(1.0), None, Some(3.0)] },
                Series { name: "p75", color: PALETTE[1], values: vec![Some(2.0), Some(4.0), Some(5.0)] },
            ],
        )
        .into_string();
        // One path per series (the gap splits p50's into two sub-paths); the legend names both.
        assert_eq!(s.matches("<path").count(), 2);
        assert!(s.contains(">p50</text>") && s.contains(">p75</text>"));
        assert_eq!(s.matches("<circle").count(), 5);
    }
}
