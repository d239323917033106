//! Checks of a worked answer to a math word problem: the signals the `math-check` gate
//! weighs, computed here so that `switchyard train` and the `learned` plugin read answers
//! exactly as the gate does.

pub mod arith;
mod numbers;

pub use numbers::{final_answer, numbers};

/// Phrases of second thoughts and approximation (lowercase, straight apostrophes).
pub const DEFAULT_HEDGES: &[&str] = &[
    "however",
    "approximately",
    "roughly",
    "not possible",
    "can't have",
    "cannot have",
    "doesn't make sense",
    "does not make sense",
    "mistake",
    "let's re",
    "let me re",
    "but since",
    "not a whole number",
    "fraction of a",
    "i think",
    "probably",
    "it seems",
    "unclear",
    "ambiguous",
];

/// Markers after which the final answer follows (lowercase).
pub const DEFAULT_FINAL_MARKERS: &[&str] = &["####", "the answer is", "final answer"];

/// Names of [`Findings::values`], in order.
pub const CHECKS: [&str; 7] = [
    "arithmetic",
    "no_final_answer",
    "non_integer",
    "hedging",
    "unused_numbers",
    "question_length",
    "question_numbers",
];

/// What the checks found in one answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Findings {
    /// Each check's value in `0..=1`, in [`CHECKS`] order.
    pub values: [f64; 7],
    /// Why each non-zero check fired, for an escalation reason.
    pub notes: Vec<String>,
    /// The final answer's value, when there is a number to read.
    pub final_value: Option<f64>,
    /// Whether the final answer is one of the question's own numbers (an answer that copies
    /// a given quantity often skipped the work).
    pub final_in_question: bool,
    /// Checkable equations the answer shows (its worked steps).
    pub equations: usize,
    /// Numbers in the answer.
    pub answer_numbers: usize,
}

/// Lowercase with curly apostrophes made straight.
pub fn normalize(s: &str) -> String {
    s.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'")
}

/// Runs every check on `answer` to `question`. `final_markers` and `hedges` must be
/// [`normalize`]d.
pub fn inspect(question: &str, answer: &str, final_markers: &[String], hedges: &[String]) -> Findings {
    let lower = normalize(answer);
    let mut notes = Vec::new();

    let shown = arith::equations(answer);
    let equations = shown.len();
    let wrong: Vec<String> = shown.into_iter().filter(|e| !e.correct).map(|e| e.text).collect();
    let arithmetic = if let Some(first) = wrong.first() {
        notes.push(format!("wrong arithmetic `{first}`"));
        1.0
    } else {
        0.0
    };
    let (final_value, marked) = final_answer(&lower, final_markers);
    let no_final_answer = if marked {
        0.0
    } else {
        notes.push("no final answer".into());
        1.0
    };
    let non_integer = match final_value {
        Some(v) if (v - v.round()).abs() > 1e-9 => {
            notes.push(format!("final answer {v} is not a whole number"));
            1.0
        }
        _ => 0.0,
    };
    let hedging = match hedges.iter().find(|h| lower.contains(h.as_str())) {
        Some(h) => {
            notes.push(format!("hedges (\"{h}\")"));
            1.0
        }
        None => 0.0,
    };
    let asked = numbers(question);
    let used = numbers(answer);
    let mut unused: Vec<f64> = asked.iter().copied().filter(|q| !used.iter().any(|a| a == q)).collect();
    unused.sort_by(f64::total_cmp);
    unused.dedup();
    let unused_numbers = (unused.len() as f64 / 2.0).min(1.0);
    if !unused.is_empty() {
        notes.push(format!("{} question number(s) unused", unused.len()));
    }
    let chars = question.chars().count();
    let question_length = ((chars as f64 - 150.0) / 400.0).clamp(0.0, 1.0);
    if question_length > 0.0 {
        notes.push(format!("long question ({chars} characters)"));
    }
    let question_numbers = ((asked.len() as f64 - 2.0) / 5.0).clamp(0.0, 1.0);
    if question_numbers > 0.0 {
        notes.push(format!("{} numbers in the question", asked.len()));
    }
    let final_in_question = final_value.is_some_and(|v| asked.iter().any(|q| (q - v).abs() < 1e-9));
    Findings {
        values: [arithmetic, no_final_answer, non_integer, hedging, unused_numbers, question_length, question_numbers],
        notes,
        final_value,
        final_in_question,
        equations,
        answer_numbers: used.len(),
    }
}
