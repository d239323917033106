//! Whether the remote state is answering. A failed or slow call marks it down; while down,
//! requests skip it at once (their limits follow their fail modes without waiting for
//! another timeout) and a background probe asks it every probe period; the probe alone
//! brings it back up, after the amounts counted locally meanwhile have been handed over.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

/// The remote state's reachability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Up,
    /// Down since this instant.
    Down(Instant),
}

/// Reachability and how often it changed.
#[derive(Debug)]
pub struct Link {
    state: Mutex<LinkState>,
    outages: AtomicU64,
    recoveries: AtomicU64,
}

impl Default for Link {
    fn default() -> Self {
        Link { state: Mutex::new(LinkState::Up), outages: AtomicU64::new(0), recoveries: AtomicU64::new(0) }
    }
}

impl Link {
    pub fn state(&self) -> LinkState {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_up(&self) -> bool {
        self.state() == LinkState::Up
    }

    /// A call failed: down from now (an outage already in progress keeps its start).
    pub fn failed(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if *state == LinkState::Up {
            *state = LinkState::Down(Instant::now());
            self.outages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("shared state unreachable: limits follow their fail modes until it answers");
        }
    }

    /// The probe got an answer and the backlog is handed over: up again. Returns how long
    /// the outage lasted, when there was one.
    pub fn recovered(&self) -> Option<std::time::Duration> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match *state {
            LinkState::Down(since) => {
                *state = LinkState::Up;
                self.recoveries.fetch_add(1, Ordering::Relaxed);
                let outage = since.elapsed();
                tracing::info!(outage_ms = outage.as_millis() as u64, "shared state answering again");
                Some(outage)
            }
            LinkState::Up => None,
        }
    }

    /// (outages, recoveries) so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.outages.load(Ordering::Relaxed), self.recoveries.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn an_outage_keeps_its_start_and_ends_once() {
        let link = Link::default();
        assert!(link.is_up());
        link.failed();
        let LinkState::Down(since) = link.state() else { panic!("down") };
        tokio::time::advance(Duration::from_millis(300)).await;
        link.failed(); // a second failure during the same outage
        assert_eq!(link.state(), LinkState::Down(since));
        tokio::time::advance(Duration::from_millis(200)).await;
        assert_eq!(link.recovered(), Some(Duration::from_millis(500)));
        assert_eq!(link.recovered(), None);
        assert_eq!(link.counts(), (1, 1));
    }
}
