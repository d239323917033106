//! The report as a terminal table: the setup, the summaries per part (policy, random,
//! oracle), and the sweep points of the first part.

use std::fmt::Write as _;

use super::metrics::Summary;
use super::progress::{short, thousands};
use super::report::{PartReport, Report};

/// Renders the report for a terminal.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "switchyard eval · route `{}` of {}", report.route, report.config);
    let dropped = match (report.contaminated_dropped, report.incomplete_dropped) {
        (0, 0) => String::new(),
        (c, 0) => format!(" ({c} contaminated dropped)"),
        (0, i) => format!(" ({i} without every mapped model dropped)"),
        (c, i) => format!(" ({c} contaminated, {i} without every mapped model dropped)"),
    };
    let files = if report.data.len() <= 2 { report.data.join(", ") } else { format!("{} files", report.data.len()) };
    let _ = writeln!(out, "data     {files}: {} items{dropped}", thousands(report.items as u64));
    for (i, m) in report.models.iter().enumerate() {
        let role = if m.id == report.weak {
            "weak"
        } else if m.id == report.strong {
            "strong"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{}{:<6} {} = {} (${}/${} per M tokens)",
            if i == 0 { "models   " } else { "         " },
            role,
            m.id,
            m.data_name,
            m.input_price,
            m.output_price
        );
    }
    let points = report.parts.first().map_or(0, |p| p.points.len());
    match &report.knob {
        Some(knob) => {
            let _ = writeln!(out, "sweep    {knob}: {points} values");
        }
        None => {
            let _ = writeln!(
                out,
                "sweep    none: the route as configured (one point; pass --sweep PLUGIN.KEY=START:END:STEP)"
            );
        }
    }
    let t = &report.timing;
    let _ = writeln!(
        out,
        "replay   {} decisions in {:.2} s: {} decisions/s on {} thread{} ({:.1} plugin calls each); loading took {:.0} ms",
        thousands(t.decisions as u64),
        t.replay_ms / 1000.0,
        short(t.decisions_per_sec),
        t.threads,
        if t.threads == 1 { "" } else { "s" },
        t.plugin_calls as f64 / t.decisions.max(1) as f64,
        t.load_ms
    );
    if report.holdout_percent > 0 {
        let _ = writeln!(
            out,
            "split    {} % held out by prompt hash (tune on `dev`, judge on `holdout`)",
            report.holdout_percent
        );
    }

    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<9} {:>6} {:>7} {:>7} {:>7}   {:<8} {:>6} {:>9} {:>9} {:>8} {:>12}",
        "part", "items", "weak", "strong", "oracle", "router", "APGR", "CPT(50%)", "CPT(80%)", "PGR@50%", "$/1k@CPT50"
    );
    for part in &report.parts {
        summary_rows(&mut out, part);
    }
    let _ = writeln!(
        out,
        "  (CPT: strong calls needed to recover 50 % / 80 % of the weak→strong gap; PGR@50%: gap recovered at 50 % strong calls)"
    );

    if let Some(part) = report.parts.first().filter(|p| !p.points.is_empty()) {
        let _ = writeln!(out);
        let _ = writeln!(out, "sweep points ({}; cost in USD per 1,000 requests):", part.name);
        let _ = writeln!(
            out,
            "  {:>10} {:>8} {:>9} {:>9} {:>10}  {}",
            "value", "strong", "accuracy", "$/1k", "escalated", "notes"
        );
        for p in &part.points {
            let mut notes = Vec::new();
            if p.plugin_failures > 0 {
                notes.push(format!("{} plugin failures", p.plugin_failures));
            }
            if p.default_plan > 0 {
                notes.push(format!("{} default plans", p.default_plan));
            }
            for (n, what) in [(p.rejected, "rejected"), (p.no_answer, "unanswered"), (p.plugin_error, "plugin errors")]
            {
                if n > 0 {
                    notes.push(format!("{n} {what}"));
                }
            }
            if p.unmapped_steps > 0 {
                notes.push(format!("{} unmapped steps", p.unmapped_steps));
            }
            let value = match &p.value {
                serde_json::Value::Null => "-".to_string(),
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            let _ = writeln!(
                out,
                "  {:>10} {:>7.1}% {:>8.1}% {:>9.3} {:>9.1}%  {}",
                value,
                p.strong_calls * 100.0,
                p.accuracy * 100.0,
                p.cost * 1000.0,
                p.escalated * 100.0,
                notes.join(", ")
            );
        }
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    out
}

fn summary_rows(out: &mut String, part: &PartReport) {
    let rows: [(&str, &Summary); 3] = [("policy", &part.policy), ("random", &part.random), ("oracle", &part.oracle)];
    for (i, (name, s)) in rows.iter().enumerate() {
        let head = if i == 0 {
            format!(
                "{:<9} {:>6} {:>6.1}% {:>6.1}% {:>6.1}%",
                part.name,
                part.items,
                part.weak_accuracy * 100.0,
                part.strong_accuracy * 100.0,
                part.oracle_accuracy * 100.0
            )
        } else {
            format!("{:<9} {:>6} {:>7} {:>7} {:>7}", "", "", "", "", "")
        };
        let _ = writeln!(
            out,
            "{head}   {:<8} {:>6} {:>9} {:>9} {:>8} {:>12}",
            name,
            fixed(s.apgr, 3),
            pct(s.cpt50),
            pct(s.cpt80),
            pct(s.pgr_at_50),
            s.cost_at_cpt50.map_or("-".to_string(), |c| format!("{:.3}", c * 1000.0))
        );
    }
}

fn fixed(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.digits$}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0))
}
