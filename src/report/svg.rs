//! Inline SVG charts for the HTML report: bar and line charts with a title, a legend, gridlines,
//! labelled axes and no script, as plain strings. Owns drawing only: it knows nothing of signals
//! or of which figures the report shows, and never fetches anything (no fonts, no images).

use std::fmt::Write;

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

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
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

/// Opens the SVG, draws the title, legend, grid and axes; returns the plot frame.
fn open(c: &Chart, data_max: f64, legend: &[(&str, &str)], out: &mut String) -> Frame {
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
    let title = escape(c.title);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{id}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{title}" font-family="inherit">"#,
        id = escape(c.id),
        w = c.width,
        h = c.height,
    );
    let _ = write!(
        out,
        r#"<title>{title}</title><text x="0" y="14" font-size="13" font-weight="600" fill="{INK}">{title}</text>"#
    );
    // Legend on its own line under the title, left-aligned.
    let mut lx = MARGIN_LEFT;
    for (name, color) in legend {
        let _ = write!(
            out,
            r#"<rect x="{lx}" y="20" width="10" height="10" rx="2" fill="{color}"/><text x="{tx}" y="29" font-size="11" fill="{MUTED}">{name}</text>"#,
            tx = lx + 14.0,
            name = escape(name)
        );
        lx += 14.0 + 6.4 * name.chars().count() as f64 + 14.0;
    }
    // Grid and y ticks.
    let mut v = 0.0;
    while v <= top + step * 1e-6 {
        let y = f.y(v);
        let _ = write!(
            out,
            r#"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="{GRID}" stroke-width="1"/><text x="{tx}" y="{ty:.1}" font-size="10" fill="{MUTED}" text-anchor="end">{label}</text>"#,
            x0 = f.x0,
            x1 = f.x1,
            tx = f.x0 - 6.0,
            ty = y + 3.5,
            label = escape(&(c.y_format)(v))
        );
        v += step;
    }
    // X axis and labels (thinned so they never overlap).
    let _ = write!(
        out,
        r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{MUTED}" stroke-width="1"/>"#,
        f.x0, f.y1, f.x1, f.y1
    );
    let widest = c.x_labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as f64 * 6.0 + 8.0;
    let every = ((widest / f.band()).ceil() as usize).max(1);
    for (i, label) in c.x_labels.iter().enumerate() {
        if i % every == 0 {
            let _ = write!(
                out,
                r#"<text x="{x:.1}" y="{y}" font-size="10" fill="{MUTED}" text-anchor="middle">{label}</text>"#,
                x = f.x(i),
                y = c.height - 6.0,
                label = escape(label)
            );
        }
    }
    f
}

/// A bar chart; partial buckets are drawn lighter. Values are written above the bars when there
/// is room.
pub fn bars(c: &Chart, color: &str, values: &[f64]) -> String {
    let mut out = String::new();
    let max = values.iter().copied().fold(0.0, f64::max);
    let f = open(c, max, &[], &mut out);
    let width = f.band() * 0.68;
    let labels = f.band() >= 22.0;
    for (i, v) in values.iter().enumerate() {
        let (x, y) = (f.x(i) - width / 2.0, f.y(*v));
        let opacity = if c.partial.get(i).copied().unwrap_or(false) { 0.4 } else { 1.0 };
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{h:.1}" rx="1.5" fill="{color}" fill-opacity="{opacity}"><title>{label}: {value}</title></rect>"#,
            h = (f.y1 - y).max(0.0),
            label = escape(c.x_labels.get(i).map_or("", String::as_str)),
            value = escape(&(c.y_format)(*v))
        );
        if labels && *v > 0.0 {
            let _ = write!(
                out,
                r#"<text x="{x:.1}" y="{ty:.1}" font-size="9" fill="{INK}" text-anchor="middle">{value}</text>"#,
                x = f.x(i),
                ty = y - 3.0,
                value = escape(&(c.y_format)(*v))
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// A line chart of one or more series (gaps where a value is missing), with a legend when there
/// is more than one series.
pub fn lines(c: &Chart, series: &[Series]) -> String {
    let mut out = String::new();
    let max = series.iter().flat_map(|s| s.values.iter().flatten()).copied().fold(0.0, f64::max);
    let legend: Vec<(&str, &str)> =
        if series.len() > 1 { series.iter().map(|s| (s.name, s.color)).collect() } else { Vec::new() };
    let f = open(c, max, &legend, &mut out);
    for s in series {
        let mut path = String::new();
        let mut pen_down = false;
        for (i, v) in s.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let _ = write!(path, "{}{:.1} {:.1} ", if pen_down { "L" } else { "M" }, f.x(i), f.y(*v));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !path.is_empty() {
            let _ = write!(
                out,
                r#"<path d="{}" fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>"#,
                path.trim_end(),
                s.color
            );
        }
        for (i, v) in s.values.iter().enumerate() {
            if let Some(v) = v {
                let fill = if c.partial.get(i).copied().unwrap_or(false) { "#fff" } else { s.color };
                let _ = write!(
                    out,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.8" fill="{fill}" stroke="{}" stroke-width="1.4"><title>{} {}: {}</title></circle>"#,
                    f.x(i),
                    f.y(*v),
                    s.color,
                    escape(s.name),
                    escape(c.x_labels.get(i).map_or("", String::as_str)),
                    escape(&(c.y_format)(*v))
                );
            }
        }
    }
    out.push_str("</svg>");
    out
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
        let svg = bars(&c, PALETTE[0], &[1.0, 5.0, 0.0]);
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
        );
        // One path per series (the gap splits p50's into two sub-paths); the legend names both.
        assert_eq!(s.matches("<path").count(), 2);
        assert!(s.contains(">p50</text>") && s.contains(">p75</text>"));
        assert_eq!(s.matches("<circle").count(), 5);
    }
}
