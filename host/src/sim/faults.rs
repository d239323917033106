//! The simulated models, by upstream name: two well-behaved ones and a set of faults that
//! tests use to drive every error path of the provider and the router.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::answer::Quality;

/// How the simulator behaves for one requested model name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Answer with the given quality (`sim-small`, `sim-large`).
    Answer(Quality),
    /// `fail-500`, `fail-502`, `fail-503`: that status with an OpenAI error body.
    Status(u16),
    /// `fail-429`: rate limited, with `retry-after: 1`.
    RateLimited,
    /// `hang`: accept the request and never answer.
    Hang,
    /// `slow-<ms>`: answer like `sim-small` after that many ms (not scaled).
    Slow(u64),
    /// `reset`: close the connection without any response.
    Reset,
    /// `cut-stream`: stream two chunks, then drop the connection.
    CutStream,
    /// `bad-json`: a 200 whose body is not JSON.
    BadJson,
    /// `no-choices`: a 200 `chat.completion` with `"choices": []`.
    NoChoices,
    /// `flaky-<n>`: 503 on every n-th call (process-wide counter), else like `sim-small`.
    Flaky(u64),
    /// `echo`: the answer content is the request body as received.
    Echo,
}

/// Names listed by `/v1/models` (the parameterised ones with an example value).
pub const LISTED: &[&str] = &[
    "sim-small",
    "sim-large",
    "fail-500",
    "fail-502",
    "fail-503",
    "fail-429",
    "hang",
    "slow-100",
    "reset",
    "cut-stream",
    "bad-json",
    "no-choices",
    "flaky-3",
    "echo",
];

/// The behavior for `model`, or `None` for an unknown model (404).
pub fn behavior(model: &str) -> Option<Behavior> {
    Some(match model {
        "sim-small" => Behavior::Answer(Quality::Small),
        "sim-large" => Behavior::Answer(Quality::Large),
        "fail-500" => Behavior::Status(500),
        "fail-502" => Behavior::Status(502),
        "fail-503" => Behavior::Status(503),
        "fail-429" => Behavior::RateLimited,
        "hang" => Behavior::Hang,
        "reset" => Behavior::Reset,
        "cut-stream" => Behavior::CutStream,
        "bad-json" => Behavior::BadJson,
        "no-choices" => Behavior::NoChoices,
        "echo" => Behavior::Echo,
        _ => {
            if let Some(ms) = model.strip_prefix("slow-") {
                Behavior::Slow(ms.parse().ok()?)
            } else if let Some(n) = model.strip_prefix("flaky-") {
                Behavior::Flaky(n.parse().ok().filter(|n| *n > 0)?)
            } else {
                return None;
            }
        }
    })
}

/// Calls to `flaky-*` models so far, across all servers in the process, so a test can
/// predict which call fails regardless of connection reuse.
static FLAKY_CALLS: AtomicU64 = AtomicU64::new(0);

/// Counts one call to a `flaky-<n>` model; true when this call must fail.
pub fn flaky_fails(n: u64) -> bool {
    let call = FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    n > 0 && call.is_multiple_of(n)
}

/// Simulated generation time: a base plus a per-token cost, `sim-large` 3x slower,
/// multiplied by `scale` (tests use 0).
pub fn latency(quality: Quality, completion_tokens: u32, scale: f64) -> Duration {
    let ms = 20.0 + 0.5 * f64::from(completion_tokens);
    let ms = if quality == Quality::Large { ms * 3.0 } else { ms };
    let scaled = ms * scale;
    if scaled.is_finite() && scaled > 0.0 {
        Duration::from_secs_f64((scaled / 1000.0).min(3600.0))
    } else {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for name in LISTED {
            assert!(behavior(name).is_some(), "{name}");
        }
        assert_eq!(behavior("slow-250"), Some(Behavior::Slow(250)));
        assert_eq!(behavior("flaky-0"), None);
        assert_eq!(behavior("slow-x"), None);
        assert_eq!(behavior("gpt-4o"), None);
    }

    #[test]
    fn latencies_scale() {
        assert_eq!(latency(Quality::Small, 100, 0.0), Duration::ZERO);
        assert_eq!(latency(Quality::Small, 40, 1.0), Duration::from_millis(40));
        assert_eq!(latency(Quality::Large, 40, 1.0), Duration::from_millis(120));
        assert_eq!(latency(Quality::Small, 1, f64::NAN), Duration::ZERO);
    }
}
