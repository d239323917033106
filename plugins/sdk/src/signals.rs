//! Looking signals up by name.
//!
//! A policy receives the signals of every classifier on the route, concatenated in route
//! order. When a name occurs more than once the **last** occurrence wins, so a later
//! classifier can refine an earlier one.

use crate::types::Signal;

/// The last signal called `name`.
pub fn signal<'a>(signals: &'a [Signal], name: &str) -> Option<&'a Signal> {
    signals.iter().rev().find(|s| s.name == name)
}

/// The value of the last signal called `name`, if present and finite.
pub fn signal_value(signals: &[Signal], name: &str) -> Option<f64> {
    signal(signals, name).map(|s| s.value).filter(|v| v.is_finite())
}

/// The label of the last signal called `name`, if it has one.
pub fn signal_label<'a>(signals: &'a [Signal], name: &str) -> Option<&'a str> {
    signal(signals, name).and_then(|s| s.label.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_wins_and_nan_is_absent() {
        let s = vec![
            Signal::new("a", 0.1),
            Signal::labelled("d", 1.0, "code"),
            Signal::new("a", 0.9),
            Signal::new("n", f64::NAN),
        ];
        assert_eq!(signal_value(&s, "a"), Some(0.9));
        assert_eq!(signal_label(&s, "d"), Some("code"));
        assert_eq!(signal_value(&s, "n"), None);
        assert_eq!(signal_value(&s, "zz"), None);
    }
}
