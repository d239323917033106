//! Numbers in text as a reader would see them: `1,350`, `$12.50`, `30%`, `-4`; not the `2`
//! of `x2` or of `v1.2`.

/// Every number in `text`, in order (percent signs dropped: `30%` is 30).
pub fn numbers(text: &str) -> Vec<f64> {
    spans(text).into_iter().map(|(value, _)| value).collect()
}

/// (value, byte offset just past it) of every number.
fn spans(text: &str) -> Vec<(f64, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit()
            && !(i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b'.'));
        if !starts {
            i += 1;
            continue;
        }
        // `-4` and `-$4` are negative; the `-` of `well-3` or `3-4` is not a sign.
        let minus_before =
            |at: usize| at > 0 && bytes[at - 1] == b'-' && !(at > 1 && bytes[at - 2].is_ascii_alphanumeric());
        let negative = minus_before(i) || (i > 0 && bytes[i - 1] == b'$' && minus_before(i - 1));
        let start = i;
        let mut j = i;
        let mut separators = false;
        while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b',') {
            separators |= bytes[j] == b',';
            j += 1;
        }
        // A trailing comma ends the sentence, not the number.
        while j > start && bytes[j - 1] == b',' {
            j -= 1;
        }
        if j + 1 < bytes.len() && bytes[j] == b'.' && bytes[j + 1].is_ascii_digit() {
            j += 1;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
        }
        let digits = &text[start..j];
        let parsed = if separators { digits.replace(',', "").parse::<f64>() } else { digits.parse::<f64>() };
        if let Ok(value) = parsed {
            out.push((if negative { -value } else { value }, j));
        }
        // Skip the rest of a token like `1.2.3` so its pieces are not read as numbers.
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'.') && bytes[j] != b' ' {
            if bytes[j] == b'.' && !bytes.get(j + 1).is_some_and(u8::is_ascii_alphanumeric) {
                break;
            }
            j += 1;
        }
        i = j.max(i + 1);
    }
    out
}

/// The final answer of a lowercased answer text and whether a marker announced it: the first
/// number after the last marker on its line, or else the last number of the text.
pub fn final_answer(lower: &str, markers: &[String]) -> (Option<f64>, bool) {
    let last_marker = markers.iter().filter_map(|m| lower.rfind(m.as_str()).map(|at| at + m.len())).max();
    match last_marker {
        Some(after) => {
            let line = lower[after..].lines().next().unwrap_or_default();
            (numbers(line).first().copied(), true)
        }
        None => (numbers(lower).last().copied(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_like_a_person() {
        assert_eq!(numbers("He paid $1,350 for 30% of 12.5 kg, i.e. -4 (x2, v1.2)."), [1350.0, 30.0, 12.5, -4.0]);
        assert_eq!(numbers("3, 4 and 5."), [3.0, 4.0, 5.0]);
        assert_eq!(numbers("well-3"), [3.0]);
        assert!(numbers("no digits").is_empty());
    }

    #[test]
    fn final_answers() {
        let markers = vec!["####".to_string(), "the answer is".to_string()];
        assert_eq!(final_answer("so 3 + 4 = 7.\n#### 7\n", &markers), (Some(7.0), true));
        assert_eq!(final_answer("#### $1,000.50 dollars", &markers), (Some(1000.5), true));
        assert_eq!(final_answer("the answer is 12. later 5", &markers), (Some(12.0), true));
        assert_eq!(final_answer("it takes 2 + 1/2 = 2.5", &markers), (Some(2.5), false));
        assert_eq!(final_answer("####\n", &markers), (None, true));
        assert_eq!(final_answer("nothing", &markers), (None, false));
    }
}
