//! A progress line on stderr for long replays: shown only on a terminal (a log file or a
//! pipe gets nothing), redrawn at most ten times a second, erased when done.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts finished units of work; [`Progress::draw`] renders the line.
#[derive(Debug)]
pub struct Progress {
    total: usize,
    done: AtomicUsize,
    started: Instant,
    visible: bool,
}

impl Progress {
    /// Shown when stderr is a terminal and `enabled`.
    pub fn new(total: usize, enabled: bool) -> Self {
        Progress {
            total,
            done: AtomicUsize::new(0),
            started: Instant::now(),
            visible: enabled && std::io::stderr().is_terminal(),
        }
    }

    pub fn add(&self, n: usize) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    pub fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    /// How often the caller should call [`Progress::draw`].
    pub const INTERVAL: Duration = Duration::from_millis(100);

    /// Redraws the line (after the first half second, so short runs stay quiet).
    pub fn draw(&self) {
        let elapsed = self.started.elapsed();
        if !self.visible || elapsed < Duration::from_millis(500) {
            return;
        }
        let done = self.done().min(self.total);
        let _ = write!(std::io::stderr(), "\r{}\x1b[K", line(done, self.total, elapsed));
    }

    /// Erases the line.
    pub fn finish(&self) {
        if self.visible && self.started.elapsed() >= Duration::from_millis(500) {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}

/// `eval [#########.........]  45% 15,000/33,000 decisions · 27k/s · 0:01 left`
pub fn line(done: usize, total: usize, elapsed: Duration) -> String {
    const WIDTH: usize = 24;
    let share = if total == 0 { 1.0 } else { done as f64 / total as f64 };
    let filled = ((share * WIDTH as f64) as usize).min(WIDTH);
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let left = if rate > 0.0 { (total - done) as f64 / rate } else { 0.0 };
    format!(
        "eval [{}{}] {:>3.0}% {}/{} decisions · {}/s · {}:{:02} left",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        share * 100.0,
        thousands(done as u64),
        thousands(total as u64),
        short(rate),
        (left as u64) / 60,
        (left as u64) % 60
    )
}

/// `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `950`, `27k`, `1.2M`.
pub fn short(n: f64) -> String {
    if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1e4 {
        format!("{:.0}k", n / 1e3)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(short(950.0), "950");
        assert_eq!(short(27_400.0), "27k");
        assert_eq!(
            line(15_000, 30_000, Duration::from_secs(1)),
            "eval [############............]  50% 15,000/30,000 decisions · 15k/s · 0:01 left"
        );
    }
}
