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
    /// The text checked, for the reason shown to operators.
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
            found.push(Equation { text: format!("<<{inner}>>"), correct: agrees(value.0, stated.0, false) });
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

/// Maths as models write it, in plain ASCII operators.
fn normalise(text: &str) -> String {
    text.replace("\\times", "*")
        .replace("\\cdot", "*")
        .replace("\\div", "/")
        .replace("\\*", "*")
        .replace('\\', "")
        .replace(['×', '⋅', '·'], "*")
        .replace('÷', "/")
        .replace(['−', '–'], "-")
}

fn is_span_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, ' ' | '$' | ',' | '.' | '%' | '+' | '-' | '*' | '/' | 'x' | '(' | ')' | '=')
}

/// Maximal runs of arithmetic characters that start with a digit, `$` or `(` and end with a
/// digit, `%` or `)`.
fn spans(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if !(c.is_ascii_digit() || c == '$' || c == '(') || (i > 0 && chars[i - 1].1.is_alphanumeric()) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && is_span_char(chars[j].1) {
            // An `x` is "times" only between spaces or digits, not a letter of a word.
            if chars[j].1 == 'x' && chars.get(j + 1).is_some_and(|n| n.1.is_alphabetic()) {
                break;
            }
            j += 1;
        }
        let mut end = j;
        while end > i && !(chars[end - 1].1.is_ascii_digit() || matches!(chars[end - 1].1, '%' | ')')) {
            end -= 1;
        }
        if end > i {
            let end_byte = chars.get(end).map_or(line.len(), |c| c.0);
            out.push(&line[start..end_byte]);
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
        let percent = left.1 || right.1;
        found.push(Equation {
            text: format!("{} = {}", parts[k].trim(), parts[k + 1].trim()),
            correct: agrees(left.0, right.0, percent),
        });
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
    let chars: Vec<char> = text.trim().chars().collect();
    let mut tokens = Vec::new();
    let mut percent = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '$' => i += 1,
            '0'..='9' | '.' => {
                let mut digits = String::new();
                while i < chars.len() {
                    let d = chars[i];
                    if d.is_ascii_digit() || d == '.' {
                        digits.push(d);
                        i += 1;
                    } else if d == ','
                        && chars.get(i + 1..i + 4).is_some_and(|g| g.iter().all(char::is_ascii_digit))
                        && !chars.get(i + 4).is_some_and(char::is_ascii_digit)
                    {
                        i += 1; // a thousands separator
                    } else {
                        break;
                    }
                }
                let mut value: f64 = digits.parse().ok()?;
                if chars.get(i) == Some(&'%') {
                    value /= 100.0;
                    percent = true;
                    i += 1;
                }
                tokens.push(Token::Num(value));
            }
            '+' | '-' | '*' | '/' | 'x' => {
                tokens.push(Token::Op(if c == 'x' { '*' } else { c }));
                i += 1;
            }
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
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
