//! Which time buckets a counter spans at a given moment.
//!
//! Calendar periods (a UTC day, a UTC month) are one bucket named after the period, so every
//! replica agrees on the bucket without talking. Sliding windows are 12 buckets of a twelfth
//! of the window each; a counter's value is the sum of the current bucket and the 11 before
//! it, so it covers between 11/12 and all of the window. The algorithm's tolerance follows:
//! within any span of one window, at most the limit plus one bucket's worth is admitted.

/// Buckets a sliding window is cut into.
pub const SLIDING_BUCKETS: u64 = 12;

const DAY_MS: u64 = 86_400_000;
/// Buckets outlive their period by this much, so a settlement that arrives just after the
/// period ended still finds its bucket.
const GRACE_MS: u64 = 3_600_000;

/// The time shape of a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Day,
    Month,
    Sliding { window_ms: u64 },
}

/// A counter's buckets now: suffixes (the current one first), when the current one may be
/// dropped, and when the counter next frees room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub suffixes: Vec<String>,
    pub expire_at_ms: u64,
    pub reset_at_ms: u64,
}

/// The buckets of `window` at `now_ms`.
pub fn span(window: Window, now_ms: u64) -> Span {
    match window {
        Window::Day => {
            let day = now_ms / DAY_MS;
            let reset = (day + 1) * DAY_MS;
            Span { suffixes: vec![format!("d{day}")], expire_at_ms: reset + GRACE_MS, reset_at_ms: reset }
        }
        Window::Month => {
            let (year, month, _) = civil_from_days((now_ms / DAY_MS) as i64);
            let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
            let reset = days_from_civil(next_year, next_month, 1).max(0) as u64 * DAY_MS;
            Span { suffixes: vec![format!("m{year:04}{month:02}")], expire_at_ms: reset + GRACE_MS, reset_at_ms: reset }
        }
        Window::Sliding { window_ms } => {
            let bucket_ms = window_ms.div_ceil(SLIDING_BUCKETS).max(1);
            let current = now_ms / bucket_ms;
            let suffixes =
                (0..SLIDING_BUCKETS.min(current + 1)).map(|back| format!("s{bucket_ms}:{}", current - back)).collect();
            Span {
                suffixes,
                expire_at_ms: (current + SLIDING_BUCKETS + 1) * bucket_ms,
                reset_at_ms: (current + 1) * bucket_ms,
            }
        }
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-01T23:00:00Z
    const NOW: u64 = 1_796_166_000_000;

    #[test]
    fn calendar_periods_reset_at_utc_boundaries() {
        let day = span(Window::Day, NOW);
        assert_eq!(day.reset_at_ms, 1_796_169_600_000); // 2026-12-02T00:00Z
        assert_eq!(day.suffixes.len(), 1);
        let month = span(Window::Month, NOW);
        assert_eq!(month.suffixes, vec!["m202612".to_string()]);
        assert_eq!(month.reset_at_ms, 1_798_761_600_000); // 2027-01-01T00:00Z
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(days_from_civil(1970, 1, 1), 0);
    }

    #[test]
    fn sliding_windows_cover_twelve_buckets_current_first() {
        let s = span(Window::Sliding { window_ms: 60_000 }, 1_000_012_345);
        assert_eq!(s.suffixes.len(), 12);
        assert_eq!(s.suffixes[0], "s5000:200002");
        assert_eq!(s.suffixes[11], "s5000:199991");
        assert_eq!(s.reset_at_ms, 200_003 * 5000);
        assert!(s.expire_at_ms >= 1_000_012_345 + 60_000);
        // Near the epoch there are fewer buckets, never an underflow.
        assert_eq!(span(Window::Sliding { window_ms: 60_000 }, 1).suffixes.len(), 1);
    }
}
