//! A question's shape: its stem and options ([`split`]) and the cues the `difficulty`
//! classifier scores ([`cues`]).

pub mod cues;
pub mod split;

pub use split::{Question, split};

/// Names of the [`values`], in order.
pub const CUES: [&str; 6] = ["length", "compound", "options", "negation", "quantitative", "symbolic"];

/// Every cue of `text`, in [`CUES`] order, each in `0..=1`.
pub fn values(text: &str) -> [f64; 6] {
    let q = split(text);
    [
        cues::length(&q),
        cues::compound(&q),
        cues::options(&q),
        cues::negation(&q),
        cues::quantitative(&q),
        cues::symbolic(&q),
    ]
}
