//! The cues, each a plain scan of the text (no regex, linear time), each in `0..=1`.

use super::split::Question;

/// Words, as maximal runs of letters and digits (apostrophes kept inside words).
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'')).filter(|w| !w.is_empty())
}

/// Stem length: `(characters − 80) / 920`, clamped. Long fact patterns and passages are
/// where a small model loses the thread.
pub fn length(q: &Question) -> f64 {
    ((q.stem.chars().count() as f64 - 80.0) / 920.0).clamp(0.0, 1.0)
}

/// Mean option length: `(characters − 10) / 90`, clamped; 0 without options. Long options
/// are near-miss statements to weigh against each other, not facts to recall.
pub fn options(q: &Question) -> f64 {
    if q.options.is_empty() {
        return 0.0;
    }
    let mean = q.options.iter().map(|o| o.chars().count()).sum::<usize>() as f64 / q.options.len() as f64;
    ((mean - 10.0) / 90.0).clamp(0.0, 1.0)
}

/// 1 for a multi-part judgement: options that combine verdicts on several statements
/// ("True, False", "Wrong, Not wrong"), Roman-numeral combinations ("I and III only"), or a
/// stem presenting "Statement 1 … Statement 2" / "Scenario 1 … Scenario 2". Every part must
/// be right for the answer to be, so errors compound.
pub fn compound(q: &Question) -> f64 {
    let paired = q.options.len() >= 3 && {
        let parts: Vec<Vec<String>> = q
            .options
            .iter()
            .map(|o| o.trim_end_matches('.').split(',').map(|p| p.trim().to_lowercase()).collect())
            .collect();
        let mut vocabulary: Vec<&String> = parts.iter().flatten().collect();
        vocabulary.sort();
        vocabulary.dedup();
        parts.iter().all(|p| p.len() == 2 && p.iter().all(|w| !w.is_empty())) && vocabulary.len() <= 2
    };
    let roman = q.options.iter().filter(|o| roman_combination(o)).count() >= 2;
    let numbered = |kind: &str| q.stem.contains(&format!("{kind} 1")) && q.stem.contains(&format!("{kind} 2"));
    if paired || roman || numbered("Statement") || numbered("Scenario") { 1.0 } else { 0.0 }
}

/// `I and II`, `II, III and IV only`, `I only`.
fn roman_combination(option: &str) -> bool {
    let tokens: Vec<&str> = words(option).collect();
    let is_roman = |w: &str| matches!(w, "I" | "II" | "III" | "IV" | "V");
    let romans = tokens.iter().filter(|w| is_roman(w)).count();
    romans >= 1
        && tokens.iter().all(|w| is_roman(w) || matches!(*w, "and" | "only" | "or" | "both" | "all"))
        && (romans >= 2 || tokens.contains(&"only"))
}

/// 1 for a capitalised NOT / EXCEPT / LEAST / FALSE / INCORRECT; 0.6 for "is not",
/// "except", "least", "incorrect", "false" in lower case; else 0.
pub fn negation(q: &Question) -> f64 {
    let mut best: f64 = 0.0;
    let tokens: Vec<&str> = words(&q.stem).collect();
    for (i, w) in tokens.iter().enumerate() {
        if matches!(*w, "NOT" | "EXCEPT" | "LEAST" | "FALSE" | "INCORRECT") {
            return 1.0;
        }
        let lower = w.to_lowercase();
        let auxiliary = i > 0
            && matches!(
                tokens[i - 1].to_lowercase().as_str(),
                "is" | "are" | "was" | "were" | "does" | "do" | "would" | "could"
            );
        if (lower == "not" && auxiliary) || matches!(lower.as_str(), "except" | "least" | "incorrect" | "false") {
            best = 0.6;
        }
    }
    best
}

/// Numbers to work with: `min(1, numbers in the stem / 6) · 0.6`, plus 0.4 when at least
/// three options are short numeric answers.
pub fn quantitative(q: &Question) -> f64 {
    let in_stem = count_numbers(&q.stem);
    let numeric = q.options.iter().filter(|o| o.chars().count() < 25 && o.chars().any(|c| c.is_ascii_digit())).count();
    ((in_stem as f64 / 6.0).min(1.0) * 0.6 + if numeric >= 3 { 0.4 } else { 0.0 }).min(1.0)
}

fn count_numbers(text: &str) -> usize {
    let mut count = 0;
    let mut in_number = false;
    for c in text.chars() {
        let digit = c.is_ascii_digit() || (in_number && c == '.');
        if digit && !in_number {
            count += 1;
        }
        in_number = digit;
    }
    count
}

/// Formal notation: logic and math symbols, LaTeX commands, comparison operators and
/// exponents, `min(1, count / 4)`.
pub fn symbolic(q: &Question) -> f64 {
    let text = q.options.iter().fold(q.stem.clone(), |mut t, o| {
        t.push(' ');
        t.push_str(o);
        t
    });
    let mut count = 0usize;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '⊃' | '≡' | '∨' | '∧' | '∃' | '∀' | '¬' | '→' | '↔' | '∼' | '~' | '•' | '^' => {
                count += 1
            }
            '=' | '<' | '>' => {
                count += 1;
                if chars.get(i + 1) == Some(&'=') {
                    i += 1;
                }
            }
            '\\' if chars.get(i + 1).is_some_and(char::is_ascii_alphabetic) => {
                count += 1;
                while chars.get(i + 1).is_some_and(char::is_ascii_alphabetic) {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    (count as f64 / 4.0).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::super::split::split;
    use super::*;

    #[test]
    fn compound_judgements() {
        let moral = split(
            "For which of these two scenarios is the main character wrong? Scenario 1 | I lied. Scenario 2 | I paid.\nA. Wrong, Wrong\nB. Wrong, Not wrong\nC. Not wrong, Wrong\nD. Not wrong, Not wrong\nAnswer:",
        );
        assert_eq!(compound(&moral), 1.0);
        let pairs = split("Which is right?\nA. True, True\nB. False, False\nC. True, False\nD. False, True");
        assert_eq!(compound(&pairs), 1.0);
        let roman = split("Which hold?\nI. a\nA. I only\nB. II and III\nC. I, II and III\nD. None of these");
        assert_eq!(compound(&roman), 1.0);
        let plain = split("Capital of France?\nA. Paris\nB. Rome\nC. Madrid, Spain\nD. Berlin");
        assert_eq!(compound(&plain), 0.0);
    }

    #[test]
    fn length_options_negation() {
        let text = format!("{}\nA. x\nB. y", "word ".repeat(100));
        let q = split(&text);
        assert!((length(&q) - (500.0 - 80.0) / 920.0).abs() < 1e-9);
        assert_eq!(options(&q), 0.0);
        let text = format!("Q?\nA. {}\nB. {}", "a".repeat(100), "b".repeat(100));
        let long = split(&text);
        assert_eq!(options(&long), 1.0);
        assert_eq!(negation(&split("All of these are true EXCEPT")), 1.0);
        assert_eq!(negation(&split("Which of these is not a mammal?")), 0.6);
        assert_eq!(negation(&split("Not all who wander are lost.")), 0.0);
    }

    #[test]
    fn numbers_and_notation() {
        let q = split("A car goes 60 km in 1.5 h, then 30 km in 0.5 h. Mean speed?\nA. 45\nB. 50\nC. 40\nD. 60");
        assert!((quantitative(&q) - (0.4 + 0.4)).abs() < 1e-9, "{}", quantitative(&q));
        assert_eq!(symbolic(&split("(∃x){Fx • (∀y)[Dy ⊃ Rxy]}")), 1.0);
        assert_eq!(symbolic(&split("\\frac{1}{2} <= x")), 0.5);
        assert_eq!(symbolic(&split("plain words")), 0.0);
    }
}
