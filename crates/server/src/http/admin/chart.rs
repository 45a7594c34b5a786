//! Line charts for the dashboards: axes with units, a legend, each point's value on hover (an SVG
//! `<title>`, no script), gaps where there is no figure. Drawn on the server; every page shows
//! the same figures in a table beside the chart.

use askama::Template;

/// How a line is drawn, and what the legend says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The brand's own figure: solid, dark.
    Brand,
    /// The other brands together: dashed, amber.
    Others,
    /// The period before: faint.
    Earlier,
    /// A published market series: dotted, teal.
    Published,
}

impl Style {
    /// Colour, width, dash pattern, opacity: told apart by dash as well as colour.
    fn pen(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Self::Brand => ("#1f3a5f", "2.5", "none", "1"),
            Self::Others => ("#b45309", "2", "6 4", "1"),
            Self::Earlier => ("#64748b", "1.5", "none", "0.45"),
            Self::Published => ("#0f766e", "2", "2 3", "1"),
        }
    }
}

pub struct Line {
    pub name: String,
    /// What the line is, for the legend: "solid", "the other brands together", ….
    pub description: String,
    pub style: Style,
    /// One value per label of the chart; `None` leaves a gap.
    pub values: Vec<Option<f64>>,
    /// Where each point leads (the orders behind it); empty for none.
    pub links: Vec<String>,
}

pub struct LineChart {
    /// Unique on the page (element ids).
    pub id: String,
    pub title: String,
    pub unit: String,
    /// The x axis: one label per point.
    pub labels: Vec<String>,
    pub lines: Vec<Line>,
    /// Vertical markers: (position as a fractional point index, text), e.g. "2FA on".
    pub markers: Vec<(f64, String)>,
}

/// The SVG's size and plot area.
pub struct Frame {
    width: i64,
    height: i64,
    left: i64,
    right: i64,
    top: i64,
    bottom: i64,
}

// Room on the right for half of the last date under the axis.
const FRAME: Frame = Frame { width: 640, height: 230, left: 56, right: 600, top: 20, bottom: 196 };

struct Dot {
    x: i64,
    y: i64,
    value: String,
    tip: String,
    link: Option<String>,
}

struct Path {
    name: String,
    colour: &'static str,
    width: &'static str,
    dash: &'static str,
    opacity: &'static str,
    /// Polyline points of each unbroken run of values.
    segments: Vec<String>,
    dots: Vec<Dot>,
}

struct Legend {
    name: String,
    description: String,
    colour: &'static str,
    width: &'static str,
    dash: &'static str,
    opacity: &'static str,
}

#[derive(Template)]
#[template(path = "chart.html")]
struct ChartSvg<'a> {
    /// `img`, or `group` where points are links (an image's parts cannot be focused).
    role: &'static str,
    id: &'a str,
    title: &'a str,
    unit: &'a str,
    f: Frame,
    y_ticks: Vec<(i64, String)>,
    x_ticks: Vec<(i64, String)>,
    markers: Vec<(i64, &'a str)>,
    paths: Vec<Path>,
    legend: Vec<Legend>,
}

/// The axis for values up to `value`: its top, the smallest of 1, 2, 2.5, 5 × 10ⁿ at or above
/// it, and a round step between gridlines.
fn axis(value: f64) -> (f64, f64) {
    if !(value.is_finite() && value > 0.0) {
        return (1.0, 0.25);
    }
    let magnitude = 10_f64.powf(value.log10().floor());
    // Each top with the number of steps that keeps every gridline a round number.
    [(1.0, 4.0), (2.0, 4.0), (2.5, 5.0), (5.0, 5.0), (10.0, 5.0)]
        .iter()
        .map(|(m, steps)| (m * magnitude, m * magnitude / steps))
        .find(|(top, _)| *top >= value * (1.0 - 1e-9))
        .unwrap_or((value, value / 4.0))
}

/// A value with as many decimals as a step of `step` needs.
pub fn format_value(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 && step.fract() == 0.0 { 0 } else { ((-step.log10()).ceil() as usize + 1).min(3) };
    format!("{value:.decimals$}")
}

impl LineChart {
    fn x(&self, index: f64) -> i64 {
        let count = self.labels.len();
        if count <= 1 {
            return (FRAME.left + FRAME.right) / 2;
        }
        FRAME.left + (index * (FRAME.right - FRAME.left) as f64 / (count - 1) as f64).round() as i64
    }

    pub fn render(&self) -> String {
        let highest = self.lines.iter().flat_map(|l| l.values.iter().flatten()).fold(0.0_f64, |a, b| a.max(*b));
        let (top, step) = axis(highest);
        let y = |value: f64| FRAME.bottom - (value / top * (FRAME.bottom - FRAME.top) as f64).round() as i64;
        let steps = (top / step).round() as i32;
        let y_ticks = (0..=steps).map(|i| (y(step * f64::from(i)), format_value(step * f64::from(i), step))).collect();
        let every = self.labels.len().div_ceil(8).max(1);
        let x_ticks = self
            .labels
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(i, label)| (self.x(i as f64), label.clone()))
            .collect();
        let paths = self
            .lines
            .iter()
            .map(|line| {
                let (colour, width, dash, opacity) = line.style.pen();
                let mut segments = vec![String::new()];
                let mut dots = Vec::new();
                for (i, value) in line.values.iter().enumerate() {
                    let Some(value) = value else {
                        segments.push(String::new());
                        continue;
                    };
                    let (px, py) = (self.x(i as f64), y(*value));
                    if let Some(run) = segments.last_mut() {
                        run.push_str(&format!("{px},{py} "));
                    }
                    let label = self.labels.get(i).map_or("", String::as_str);
                    let shown = format_value(*value, step / 10.0);
                    let tip = format!("{label} · {}: {shown} {}", line.name, self.unit);
                    let link = line.links.get(i).cloned();
                    dots.push(Dot { x: px, y: py, value: shown, tip, link });
                }
                segments.retain(|s| s.split_whitespace().count() > 1);
                Path { name: line.name.clone(), colour, width, dash, opacity, segments, dots }
            })
            .collect();
        let legend = self
            .lines
            .iter()
            .map(|line| {
                let (colour, width, dash, opacity) = line.style.pen();
                Legend { name: line.name.clone(), description: line.description.clone(), colour, width, dash, opacity }
            })
            .collect();
        let markers = self.markers.iter().map(|(at, text)| (self.x(*at), text.as_str())).collect();
        let linked = self.lines.iter().any(|l| !l.links.is_empty());
        ChartSvg {
            role: if linked { "group" } else { "img" },
            id: &self.id,
            title: &self.title,
            unit: &self.unit,
            f: FRAME,
            y_ticks,
            x_ticks,
            markers,
            paths,
            legend,
        }
        .render()
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(values: Vec<Option<f64>>) -> LineChart {
        LineChart {
            id: "c".into(),
            title: "Confirmed fraud".into(),
            unit: "per 1,000 orders".into(),
            labels: (1..=values.len()).map(|d| format!("2026-11-{d:02}")).collect(),
            lines: vec![Line {
                name: "Nordtel".into(),
                description: "solid".into(),
                style: Style::Brand,
                values,
                links: vec!["/admin/orders?a=1&b=2".into()],
            }],
            markers: vec![(1.5, "2FA on".into())],
        }
    }

    #[test]
    fn the_axis_ends_at_a_round_number() {
        assert_eq!(
            (axis(0.0), axis(3.2), axis(2.1), axis(100.0)),
            ((1.0, 0.25), (5.0, 1.0), (2.5, 0.5), (100.0, 25.0))
        );
        assert_eq!(axis(18.0), (20.0, 5.0));
        assert_eq!(
            (format_value(2.5, 2.5), format_value(10.0, 5.0), format_value(0.125, 0.025)),
            ("2.5".into(), "10".into(), "0.125".into())
        );
    }

    #[test]
    fn points_carry_their_value_and_gaps_break_the_line() {
        let svg = chart(vec![Some(1.0), Some(4.0), None, Some(2.0), Some(3.0)]).render();
        assert!(svg.contains("<title>2026-11-02 · Nordtel: 4.00 per 1,000 orders</title>"), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 2, "two runs either side of the gap");
        assert_eq!(svg.matches("<circle").count(), 4);
        assert_eq!(
            svg.matches("<a href=\"/admin/orders?a=1&#38;b=2\">").count()
                + svg.matches("<a href=\"/admin/orders?a=1&amp;b=2\">").count(),
            1,
            "{svg}"
        );
        assert!(svg.contains(">2FA on</text>") && svg.contains(">per 1,000 orders</text>"));
        assert!(svg.contains(">5</text>") && svg.contains(">4</text>"), "the axis' gridlines: {svg}");
        let escaped = LineChart { title: "<b>".into(), ..chart(vec![Some(1.0)]) }.render();
        assert!(escaped.contains("&#60;b&#62;") || escaped.contains("&lt;b&gt;"), "{escaped}");
    }
}
