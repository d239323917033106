//! A question split into its stem and its answer options, when it has the usual
//! multiple-choice shape (`A. …` / `A) …` / `(A) …` lines); otherwise all stem.

/// The parts of a question.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Question<'a> {
    /// The text without the option lines and a trailing `Answer:` cue.
    pub stem: String,
    /// The options' texts, without their letters.
    pub options: Vec<&'a str>,
}

/// Splits `text` into stem and options. Fewer than two option-like lines are not options (a
/// sentence may well start with "A. Smith").
pub fn split(text: &str) -> Question<'_> {
    let multiple_choice = text.lines().filter(|l| option_text(l.trim()).is_some()).count() >= 2;
    let mut stem = String::new();
    let mut options = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(option) = option_text(trimmed).filter(|_| multiple_choice) {
            options.push(option);
        } else if !trimmed.eq_ignore_ascii_case("answer:") {
            if !stem.is_empty() {
                stem.push('\n');
            }
            stem.push_str(line);
        }
    }
    Question { stem, options }
}

/// `A. text`, `A) text` or `(A) text` with a letter A–J: the option's text.
fn option_text(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    let letter = |b: u8| (b'A'..=b'J').contains(&b);
    let rest = match bytes {
        [b'(', l, b')', b' ', ..] if letter(*l) => &line[4..],
        [l, b'.' | b')', b' ', ..] if letter(*l) => &line[3..],
        _ => return None,
    };
    Some(rest.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_multiple_choice() {
        let q = split("Which is largest?\nA. 1\nB) 2\n(C) 3\nD. four\nAnswer:");
        assert_eq!(q.stem, "Which is largest?");
        assert_eq!(q.options, ["1", "2", "3", "four"]);
        let plain = split("A. Smith wrote this.\nHow long is a piece of string?");
        assert!(plain.options.is_empty());
        assert_eq!(plain.stem, "A. Smith wrote this.\nHow long is a piece of string?");
        assert_eq!(split("No options here.").options.len(), 0);
    }
}
