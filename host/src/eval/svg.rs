//! The report as an SVG plot, written by hand (no plotting dependency): for each part of the
//! data, accuracy against % strong calls (left) and against cost per 1,000 requests (right),
//! with the policy's curve, random routing, the oracle and each single model.

use std::fmt::Write as _;

use super::metrics::Point;
use super::report::{PartReport, Report};

const WIDTH: f64 = 1000.0;
const ROW: f64 = 380.0;
const HEADER: f64 = 64.0;
const PANEL_W: f64 = 500.0;
/// Plot area inside a panel: left, top, right, bottom margins.
const MARGIN: (f64, f64, f64, f64) = (64.0, 36.0, 24.0, 52.0);

const POLICY: &str = "#1f6feb";
const RANDOM: &str = "#8c959f";
const ORACLE: &str = "#1a7f37";
const MODEL: &str = "#cf222e";

/// Renders the whole report.
pub fn render(report: &Report) -> String {
    let height = HEADER + ROW * report.parts.len() as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let knob = report.knob.as_deref().unwrap_or("route as configured");
    let _ = writeln!(
        out,
        r#"<text x="20" y="26" font-size="16" font-weight="bold">switchyard eval · route {} · sweep {}</text>"#,
        esc(&report.route),
        esc(knob)
    );
    legend(&mut out, 20.0, 48.0);
    for (row, part) in report.parts.iter().enumerate() {
        let top = HEADER + ROW * row as f64;
        panel(&mut out, part, 0.0, top, Axis::Strong);
        panel(&mut out, part, PANEL_W, top, Axis::Cost);
    }
    out.push_str("</svg>\n");
    out
}

fn legend(out: &mut String, x: f64, y: f64) {
    let items = [(POLICY, "", "policy (sweep)"), (RANDOM, "6 4", "random"), (ORACLE, "2 3", "oracle")];
    let mut at = x;
    for (color, dash, label) in items {
        let _ = writeln!(
            out,
            r#"<line x1="{at}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="2.5" stroke-dasharray="{dash}"/><text x="{}" y="{}">{label}</text>"#,
            at + 28.0,
            at + 34.0,
            y + 4.0
        );
        at += 140.0;
    }
    let _ = writeln!(
        out,
        r#"<circle cx="{}" cy="{y}" r="5" fill="{MODEL}"/><text x="{}" y="{}">single model</text>"#,
        at + 14.0,
        at + 24.0,
        y + 4.0
    );
}

#[derive(Clone, Copy, PartialEq)]
enum Axis {
    Strong,
    Cost,
}

/// Maps data coordinates into one panel's plot area.
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x: (f64, f64),
    y: (f64, f64),
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        self.left + (x - self.x.0) / (self.x.1 - self.x.0) * self.width
    }
    fn py(&self, y: f64) -> f64 {
        self.top + self.height - (y - self.y.0) / (self.y.1 - self.y.0) * self.height
    }
    fn path(&self, points: &[(f64, f64)]) -> String {
        points.iter().map(|(x, y)| format!("{:.1},{:.1}", self.px(*x), self.py(*y))).collect::<Vec<_>>().join(" ")
    }
}

fn panel(out: &mut String, part: &PartReport, left: f64, top: f64, axis: Axis) {
    let x_of = |p: &Point| match axis {
        Axis::Strong => p.strong * 100.0,
        Axis::Cost => p.cost * 1000.0,
    };
    let weak = &part.single[0];
    let strong = &part.single[part.single.len() - 1];
    let random = [
        Point { strong: 0.0, accuracy: weak.accuracy, cost: weak.cost },
        Point { strong: 1.0, accuracy: strong.accuracy, cost: strong.cost },
    ];
    let measured: Vec<Point> =
        part.points.iter().map(|p| Point { strong: p.strong_calls, accuracy: p.accuracy, cost: p.cost }).collect();
    let policy: Vec<Point> = match axis {
        Axis::Strong => part.policy_curve.clone(),
        Axis::Cost => {
            let mut by_cost = measured.clone();
            by_cost.sort_by(|a, b| a.cost.total_cmp(&b.cost));
            by_cost
        }
    };
    let singles: Vec<(f64, f64, &str)> = part
        .single
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let share = if i + 1 == part.single.len() { 100.0 } else { 0.0 };
            let x = if axis == Axis::Strong { share } else { m.cost * 1000.0 };
            (x, m.accuracy, m.id.as_str())
        })
        .collect();

    let all_y =
        policy.iter().chain(&part.oracle_curve).chain(&measured).map(|p| p.accuracy).chain(singles.iter().map(|s| s.1));
    let (y_min, y_max) = all_y.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let (y_min, y_max) = if y_min.is_finite() { (y_min, y_max) } else { (0.0, 1.0) };
    let y_step = nice_step((y_max - y_min).max(0.02) / 5.0);
    let y_range = ((y_min / y_step).floor() * y_step, ((y_max / y_step).ceil() * y_step).max(y_min + y_step));
    let x_range = match axis {
        Axis::Strong => (0.0, 100.0),
        Axis::Cost => {
            let hi = policy
                .iter()
                .chain(&part.oracle_curve)
                .map(&x_of)
                .chain(singles.iter().map(|s| s.0))
                .fold(0.0, f64::max);
            let step = nice_step(hi.max(1e-9) / 5.0);
            (0.0, ((hi * 1.04) / step).ceil() * step)
        }
    };
    let (ml, mt, mr, mb) = MARGIN;
    let frame = Frame {
        left: left + ml,
        top: top + mt,
        width: PANEL_W - ml - mr,
        height: ROW - mt - mb,
        x: x_range,
        y: y_range,
    };

    let title = match axis {
        Axis::Strong => format!("{} ({} items): accuracy vs strong-model calls", part.name, part.items),
        Axis::Cost => format!("{}: accuracy vs cost", part.name),
    };
    let _ = writeln!(out, r#"<text x="{}" y="{}" font-weight="bold">{}</text>"#, frame.left, top + 22.0, esc(&title));
    grid(out, &frame, axis, y_step);

    let oracle: Vec<(f64, f64)> = part.oracle_curve.iter().map(|p| (x_of(p), p.accuracy)).collect();
    let random: Vec<(f64, f64)> = random.iter().map(|p| (x_of(p), p.accuracy)).collect();
    let policy: Vec<(f64, f64)> = policy.iter().map(|p| (x_of(p), p.accuracy)).collect();
    for (points, color, dash) in [(&oracle, ORACLE, "2 3"), (&random, RANDOM, "6 4"), (&policy, POLICY, "")] {
        let _ = writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2.2" stroke-dasharray="{dash}"/>"#,
            frame.path(points)
        );
    }
    for p in &measured {
        let _ = writeln!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="2.8" fill="{POLICY}"/>"#,
            frame.px(x_of(p)),
            frame.py(p.accuracy)
        );
    }
    for (x, y, id) in &singles {
        let (cx, cy) = (frame.px(*x), frame.py(*y));
        let anchor = if cx > frame.left + frame.width / 2.0 { "end" } else { "start" };
        let dx = if anchor == "end" { -8.0 } else { 8.0 };
        // Below the point in the lower half, above it in the upper half: off the curves.
        let dy = if cy > frame.top + frame.height / 2.0 { 18.0 } else { -8.0 };
        let _ = writeln!(
            out,
            r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="5" fill="{MODEL}"/><text x="{:.1}" y="{:.1}" text-anchor="{anchor}" fill="{MODEL}">{} {:.1}%</text>"#,
            cx + dx,
            cy + dy,
            esc(id),
            y * 100.0
        );
    }
    if axis == Axis::Strong
        && let Some(apgr) = part.policy.apgr
    {
        let cpt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0));
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="{POLICY}">APGR {apgr:.3} · CPT(50%) {} · CPT(80%) {}</text>"#,
            frame.left + frame.width - 4.0,
            frame.top + frame.height - 8.0,
            cpt(part.policy.cpt50),
            cpt(part.policy.cpt80)
        );
    }
}

fn grid(out: &mut String, frame: &Frame, axis: Axis, y_step: f64) {
    let (x0, x1) = frame.x;
    let x_step = match axis {
        Axis::Strong => 20.0,
        Axis::Cost => nice_step((x1 - x0) / 5.0),
    };
    let bottom = frame.top + frame.height;
    let mut x = x0;
    while x <= x1 + x_step * 1e-6 {
        let px = frame.px(x);
        let label = match axis {
            Axis::Strong => format!("{x:.0}%"),
            Axis::Cost => format!("${}", trim_number(x)),
        };
        let _ = writeln!(
            out,
            r##"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{bottom:.1}" stroke="#eaeef2"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" fill="#57606a">{label}</text>"##,
            frame.top,
            bottom + 16.0
        );
        x += x_step;
    }
    let (y0, y1) = frame.y;
    let mut y = y0;
    while y <= y1 + y_step * 1e-6 {
        let py = frame.py(y);
        let _ = writeln!(
            out,
            r##"<line x1="{:.1}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#eaeef2"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#57606a">{}%</text>"##,
            frame.left,
            frame.left + frame.width,
            frame.left - 6.0,
            py + 4.0,
            trim_number(y * 100.0)
        );
        y += y_step;
    }
    let _ = writeln!(
        out,
        r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#8c959f"/>"##,
        frame.left, frame.top, frame.width, frame.height
    );
    let x_label = match axis {
        Axis::Strong => "strong-model calls (% of requests)",
        Axis::Cost => "cost (USD per 1,000 requests)",
    };
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#24292f">{x_label}</text>"##,
        frame.left + frame.width / 2.0,
        bottom + 36.0
    );
    let _ = writeln!(
        out,
        r##"<text transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle" fill="#24292f">accuracy</text>"##,
        frame.left - 46.0,
        frame.top + frame.height / 2.0
    );
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    let unit = raw / power;
    let nice = if unit <= 1.0 {
        1.0
    } else if unit <= 2.0 {
        2.0
    } else if unit <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * power
}

/// `0.5`, `12`, `0.025`: no trailing zeros.
fn trim_number(v: f64) -> String {
    let text = format!("{:.4}", (v * 1e4).round() / 1e4);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Escapes text for XML.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_numbers() {
        assert_eq!(nice_step(0.03), 0.05);
        assert_eq!(nice_step(0.011), 0.02);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(trim_number(0.5), "0.5");
        assert_eq!(trim_number(12.0), "12");
        assert_eq!(trim_number(70.00000001), "70");
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
