//! `switchyard train`'s terminal summary.

use std::fmt::Write as _;

use switchyard_features::model::Estimate;

use super::Trained;

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.1} %", v * 100.0))
}

fn num(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.3}"))
}

fn interval(e: &Estimate, f: fn(Option<f64>) -> String) -> String {
    format!("{} [{}, {}]", f(e.value), f(e.low), f(e.high))
}

/// The summary: data, what was fitted, each candidate's cross-validated scores.
pub fn render(t: &Trained, written: Option<(&str, usize)>) -> String {
    let m = &t.model;
    let tr = &m.training;
    let mut out = String::new();
    let _ = writeln!(out, "data      {}", tr.data.join(", "));
    let _ = writeln!(
        out,
        "trained   {} items ({} labelled 1: {}), {} held out by prompt hash ({} %)",
        tr.items, tr.positives, m.predicts, t.held_out, tr.holdout_percent
    );
    let _ = writeln!(
        out,
        "model     {:?}, {} named features + {} hashed n-gram buckets (2^{} space), alpha {}",
        m.kind,
        m.named.len(),
        m.buckets.len(),
        m.features.bits,
        t.chosen_alpha
    );
    let _ = writeln!(
        out,
        "cv        {} folds by prompt hash, {} bootstrap resamples (95 % intervals)",
        tr.cv.folds, tr.cv.resamples
    );
    let _ = writeln!(out, "\n| alpha | APGR | CPT(50%) | CPT(80%) | AUC |\n|---|---|---|---|---|");
    for c in &t.candidates {
        let mark = if c.alpha == t.chosen_alpha { " (kept)" } else { "" };
        let _ = writeln!(
            out,
            "| {}{mark} | {} | {} | {} | {} |",
            c.alpha,
            interval(&c.cv.apgr, num),
            interval(&c.cv.cpt50, pct),
            interval(&c.cv.cpt80, pct),
            interval(&c.cv.auc, num)
        );
    }
    if t.candidates.len() > 1 {
        let _ = writeln!(
            out,
            "\n(alpha was picked by the cross-validated APGR above, which makes the kept row slightly \
             optimistic; the held-out part of `eval --holdout` is the unbiased check)"
        );
    }
    let mut strongest: Vec<_> = m.named.iter().collect();
    strongest.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
    let top: Vec<String> = strongest.iter().take(5).map(|n| format!("{} {:+.2}", n.name, n.weight)).collect();
    let _ = writeln!(out, "\nstrongest named features (weight per standard deviation): {}", top.join(", "));
    if let Some((path, bytes)) = written {
        let _ = writeln!(out, "wrote     {path} ({:.0} KB)", bytes as f64 / 1024.0);
    }
    let _ = writeln!(out, "took      {:.1} s", t.elapsed.as_secs_f64());
    out
}
