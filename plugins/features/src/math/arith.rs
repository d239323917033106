//! Checking the arithmetic an answer shows: `<<12*3=36>>` calculator annotations and chains
//! like `3 × 20 + 5 = 60 + 5 = 65` written in the text.
//!
//! Only what can be evaluated with certainty counts: an expression with anything but numbers,
//! `+ − × ÷ ( )` and percent signs is skipped, and a stated result that is the true value
//! rounded to 0, 1 or 2 decimals is right. A wrong step is strong evidence of a wrong answer;
//! a skipped one is no evidence either way.

/// One equation found in an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Equation {
    /// The equation as written, for the reason shown to operators; empty for correct ones
    /// (formatting every step would cost more than checking it).
    pub text: String,
    /// Whether the stated result is the true value (allowing rounding).
    pub correct: bool,
}

/// Every checkable equation of `answer`, in order.
pub fn equations(answer: &str) -> Vec<Equation> {
    let text = normalise(answer);
    let mut found = Vec::new();
    let mut rest = String::with_capacity(text.len());
    // Calculator annotations first (GSM8K style), then cut out of the text so their
    // `=` does not also read as a chain.
    let mut cursor = 0;
    while let Some(open) = text[cursor..].find("<<") {
        let start = cursor + open;
        let Some(close) = text[start + 2..].find(">>") else { break };
        let inner = &text[start + 2..start + 2 + close];
        rest.push_str(&text[cursor..start]);
        if let Some((expr, result)) = inner.split_once('=')
            && let (Some(value), Some(stated)) = (evaluate(expr), evaluate(result))
        {
            let correct = agrees(value.0, stated.0, false);
            let text = if correct { String::new() } else { format!("<<{inner}>>") };
            found.push(Equation { text, correct });
        }
        cursor = start + 2 + close + 2;
    }
    rest.push_str(&text[cursor..]);
    for line in rest.lines() {
        for span in spans(line) {
            chain(span, &mut found);
        }
    }
    found
}

/// Maths as models write it, in plain ASCII operators. Most answers need none of this, so
/// each rewrite runs only when its characters occur.
fn normalise(text: &str) -> std::borrow::Cow<'_, str> {
    let mut text = std::borrow::Cow::Borrowed(text);
    if text.contains('\\') {
        let t = text.replace("\\times", "*").replace("\\cdot", "*").replace("\\div", "/").replace("\\*", "*");
        text = t.replace('\\', "").into();
    }
    if text.contains(['×', '⋅', '·', '÷', '−', '–']) {
        text = text.replace(['×', '⋅', '·'], "*").replace('÷', "/").replace(['−', '–'], "-").into();
    }
    text
}

fn is_span_byte(b: u8) -> bool {
    b.is_ascii_digit()
        || matches!(b, b' ' | b'$' | b',' | b'.' | b'%' | b'+' | b'-' | b'*' | b'/' | b'x' | b'(' | b')' | b'=')
}

/// A letter or digit, or any byte of a non-ASCII character (letters of other scripts).
fn is_wordish(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// Maximal runs of arithmetic characters that start with a digit, `$` or `(` (not inside a
/// word) and end with a digit, `%` or `)`. Every such character is ASCII, so bytes will do.
fn spans(line: &str) -> Vec<&str> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_digit() || b == b'$' || b == b'(') || (i > 0 && is_wordish(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len() && is_span_byte(bytes[j]) {
            // An `x` is "times" only between spaces or digits, not a letter of a word.
            if bytes[j] == b'x' && bytes.get(j + 1).is_some_and(|n| n.is_ascii_alphabetic() || *n >= 0x80) {
                break;
            }
            j += 1;
        }
        let mut end = j;
        while end > i && !(bytes[end - 1].is_ascii_digit() || matches!(bytes[end - 1], b'%' | b')')) {
            end -= 1;
        }
        if end > i && bytes[i..end].contains(&b'=') {
            out.push(&line[i..end]);
        }
        i = j.max(i + 1);
    }
    out
}

/// `a = b = c`: each side that evaluates is compared with the next; a pair where neither side
/// has an operator (`5 = 5`, a restatement) proves nothing and is skipped.
fn chain(span: &str, found: &mut Vec<Equation>) {
    let parts: Vec<&str> = span.split('=').collect();
    if parts.len() < 2 {
        return;
    }
    let values: Vec<Option<(f64, bool, bool)>> = parts.iter().map(|p| evaluate(p)).collect();
    for (k, pair) in values.windows(2).enumerate() {
        let (Some(left), Some(right)) = (pair[0], pair[1]) else { continue };
        if !(left.2 || right.2) {
            continue;
        }
        let correct = agrees(left.0, right.0, left.1 || right.1);
        let text = if correct { String::new() } else { format!("{} = {}", parts[k].trim(), parts[k + 1].trim()) };
        found.push(Equation { text, correct });
    }
}

/// Whether `stated` is `value`, allowing rounding to 0–2 decimals and, when a percent sign
/// is involved, the factor of 100 between "20%" and "0.2".
pub fn agrees(value: f64, stated: f64, percent: bool) -> bool {
    let same = |a: f64, b: f64| {
        (a - b).abs() <= 1e-6 * a.abs().max(1.0)
            || [1.0, 10.0, 100.0].iter().any(|scale| ((a * scale).round() / scale - b).abs() < 1e-9)
    };
    same(value, stated) || (percent && (same(value * 100.0, stated) || same(value, stated * 100.0)))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Num(f64),
    Op(char),
    Open,
    Close,
}

/// Evaluates an arithmetic expression: `(value, had a percent sign, had an operator)`, or
/// `None` when the text is not pure arithmetic.
pub fn evaluate(text: &str) -> Option<(f64, bool, bool)> {
    let (tokens, percent) = tokenize(text)?;
    let has_op = tokens.iter().enumerate().any(|(i, t)| matches!(t, Token::Op(_)) && i > 0);
    let mut parser = Parser { tokens: &tokens, pos: 0, depth: 0 };
    let value = parser.expr()?;
    (parser.pos == tokens.len() && value.is_finite()).then_some((value, percent, has_op))
}

fn tokenize(text: &str) -> Option<(Vec<Token>, bool)> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::with_capacity(8);
    let mut percent = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'$' => i += 1,
            b'0'..=b'9' | b'.' => {
                let start = i;
                let mut separators = false;
                while i < bytes.len() {
                    let d = bytes[i];
                    if d.is_ascii_digit() || d == b'.' {
                        i += 1;
                    } else if d == b','
                        && bytes.get(i + 1..i + 4).is_some_and(|g| g.iter().all(u8::is_ascii_digit))
                        && !bytes.get(i + 4).is_some_and(u8::is_ascii_digit)
                    {
                        separators = true; // a thousands separator
                        i += 1;
                    } else {
                        break;
                    }
                }
                let digits = &text[start..i];
                let mut value: f64 =
                    if separators { digits.replace(',', "").parse().ok()? } else { digits.parse().ok()? };
                if bytes.get(i) == Some(&b'%') {
                    value /= 100.0;
                    percent = true;
                    i += 1;
                }
                tokens.push(Token::Num(value));
            }
            b'+' | b'-' | b'*' | b'/' | b'x' => {
                tokens.push(Token::Op(if c == b'x' { '*' } else { char::from(c) }));
                i += 1;
            }
            b'(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            b')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            _ => return None,
        }
    }
    (!tokens.is_empty()).then_some((tokens, percent))
}

/// Recursive descent with the usual precedence; depth-limited so hostile input cannot blow
/// the stack.
struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.pos).copied()
    }

    fn expr(&mut self) -> Option<f64> {
        let mut value = self.term()?;
        while let Some(Token::Op(op @ ('+' | '-'))) = self.peek() {
            self.pos += 1;
            let rhs = self.term()?;
            value = if op == '+' { value + rhs } else { value - rhs };
        }
        Some(value)
    }

    fn term(&mut self) -> Option<f64> {
        let mut value = self.factor()?;
        while let Some(Token::Op(op @ ('*' | '/'))) = self.peek() {
            self.pos += 1;
            let rhs = self.factor()?;
            if op == '/' {
                if rhs == 0.0 {
                    return None;
                }
                value /= rhs;
            } else {
                value *= rhs;
            }
        }
        Some(value)
    }

    fn factor(&mut self) -> Option<f64> {
        self.depth += 1;
        if self.depth > 64 {
            return None;
        }
        let value = match self.peek()? {
            Token::Num(v) => {
                self.pos += 1;
                Some(v)
            }
            Token::Op('-') => {
                self.pos += 1;
                self.factor().map(|v| -v)
            }
            Token::Open => {
                self.pos += 1;
                let v = self.expr()?;
                if self.peek() != Some(Token::Close) {
                    return None;
                }
                self.pos += 1;
                Some(v)
            }
            _ => None,
        };
        self.depth -= 1;
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrong(answer: &str) -> Vec<String> {
        equations(answer).into_iter().filter(|e| !e.correct).map(|e| e.text).collect()
    }

    #[test]
    fn evaluates_with_precedence_percent_and_separators() {
        assert_eq!(evaluate("2 + 3 * 4"), Some((14.0, false, true)));
        assert_eq!(evaluate("(2 + 3) x 4"), Some((20.0, false, true)));
        assert_eq!(evaluate("$1,350 + 6 * 350"), Some((3450.0, false, true)));
        assert_eq!(evaluate("20% * 50"), Some((10.0, true, true)));
        assert_eq!(evaluate("-5"), Some((-5.0, false, false)));
        assert_eq!(evaluate("7 / 0"), None);
        assert_eq!(evaluate("3 apples"), None);
        assert_eq!(evaluate(&"(".repeat(200)), None);
    }

    #[test]
    fn finds_wrong_annotations_and_chains() {
        let answer = "Seattle has 20 sheep, so Charleston has 20 x 4 = <<20*4=80>>80 sheep.\n\
                      Total: 5 + 10 + 10 + 2.5 + 2.5 = <<5+10+10+2.5+2.5=29.5>>29.5 minutes.\n\
                      Then 22 + 4 x 12 = 22 + 48 = 70, and 6 + 3 = -3.";
        // The annotated step is also written out, so it is found (and wrong) twice.
        assert_eq!(wrong(answer), ["<<5+10+10+2.5+2.5=29.5>>", "5 + 10 + 10 + 2.5 + 2.5 = 29.5", "6 + 3 = -3"]);
        assert_eq!(equations(answer).len(), 7);
    }

    #[test]
    fn rounding_restatements_and_words_are_not_errors() {
        assert!(wrong("10 / 3 = 3.33 and 2/3 = 0.67 and 50% - 25% = 25%").is_empty());
        assert!(wrong("So 5 = 5, and in 2020 = year").is_empty());
        assert!(wrong("The box has 6 boxes = 3 crates").is_empty());
        assert!(wrong("He pays \\$8 \\times 3 = \\$24.").is_empty());
        assert_eq!(wrong("He pays \\$8 \\times 3 = \\$25."), ["$8 * 3 = $25"]);
        assert!(agrees(0.2, 20.0, true));
        assert!(!agrees(0.2, 20.0, false));
    }
}
