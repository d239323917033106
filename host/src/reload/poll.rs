//! Polling registry tags: every plugin whose `source` is a tag with a `poll_interval_ms` is
//! asked, at that interval, which digest its tag points at (one HEAD request). A moved tag
//! triggers an ordinary [`crate::reload::reload`], so the new version goes through the same
//! verify → validate → swap as a changed file, and a refused one leaves the serving version
//! in place (the refusal is in the reload status and the metrics).
//!
//! A registry that fails (down, refusing credentials, timing out) is retried with
//! exponential backoff from the poll interval up to [`MAX_BACKOFF`]; the serving version is
//! untouched meanwhile. A digest that was refused is not retried until the tag moves again,
//! unless it was refused because the registry failed halfway.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::app::App;
use crate::package::registry::{Registry, RegistryError, parse_reference};
use crate::plugin::LoadError;
use crate::reload::ReloadError;
use crate::route::snapshot::SnapshotError;

/// The longest wait between two polls of a failing registry.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often the poller looks at the snapshot for tags to poll when it has none.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// Keeps the poller running; dropping it stops polling.
pub struct PollHandle {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PollHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts polling the tags of `app`'s serving snapshot (and of every snapshot after it).
pub fn spawn(app: Arc<App>) -> PollHandle {
    PollHandle { task: tokio::spawn(run(app)) }
}

/// The wait before the next poll after `failures` consecutive failures.
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    if failures == 0 {
        return interval;
    }
    let factor = 1u32 << failures.min(16);
    interval.saturating_mul(factor).min(MAX_BACKOFF.max(interval))
}

struct Tag {
    reference: String,
    registry: Registry,
    due: Instant,
    failures: u32,
    /// A digest refused for a reason other than the registry failing: not retried until the
    /// tag points elsewhere.
    refused: Option<String>,
}

async fn run(app: Arc<App>) {
    let mut tags: HashMap<String, Tag> = HashMap::new();
    loop {
        let snapshot = app.snapshot();
        let polled: Vec<(String, String, Duration, Option<String>)> = snapshot
            .config
            .plugins
            .iter()
            .filter_map(|(name, p)| {
                let reference = p.oci_reference()?;
                let interval = p.poll_interval()?;
                let serving = p.package.as_ref().map(|pkg| pkg.digest.clone());
                Some((name.clone(), reference.to_string(), interval, serving))
            })
            .collect();
        drop(snapshot);
        tags.retain(|name, tag| polled.iter().any(|(n, r, ..)| n == name && *r == tag.reference));
        if polled.is_empty() {
            tokio::time::sleep(IDLE_CHECK).await;
            continue;
        }
        for (name, reference, interval, serving) in &polled {
            if !tags.contains_key(name) {
                let Ok(parsed) = parse_reference(reference) else { continue };
                let registry = Registry::shared(&parsed, crate::package::resolve::registry_timeout());
                let due = Instant::now() + *interval;
                tags.insert(
                    name.clone(),
                    Tag { reference: reference.clone(), registry, due, failures: 0, refused: None },
                );
            }
            let tag = tags.get_mut(name).expect("inserted above");
            if Instant::now() < tag.due {
                continue;
            }
            let Ok(parsed) = parse_reference(reference) else { continue };
            match tag.registry.digest(&parsed).await {
                Ok(digest) if Some(&digest) == serving.as_ref() || Some(&digest) == tag.refused.as_ref() => {
                    tag.failures = 0;
                    tag.due = Instant::now() + *interval;
                }
                Ok(digest) => {
                    tracing::info!(plugin = %name, %digest, "tag {reference} moved; reloading");
                    let outcome = crate::reload::reload(&app, "poll").await;
                    tag.failures = 0;
                    tag.refused = None;
                    if let Err(ReloadError::Snapshot(SnapshotError::Plugin(LoadError::Package {
                        name: failed,
                        reason,
                        ..
                    }))) = &outcome
                        && failed == name
                    {
                        // A registry failing halfway, or a signature not pushed yet (cosign
                        // pushes it after the image): try again after a backoff.
                        if *reason == "registry" || *reason == "unsigned" {
                            tag.failures = 1;
                        } else {
                            tag.refused = Some(digest);
                        }
                    }
                    tag.due = Instant::now() + backoff(*interval, tag.failures);
                }
                Err(error) => {
                    tag.failures += 1;
                    let reason = match &error {
                        RegistryError::Timeout(_) => "timeout",
                        RegistryError::Auth(_) => "auth",
                        RegistryError::NotFound(_) => "not_found",
                        _ => "error",
                    };
                    app.metrics().observe_registry_error(name, reason);
                    let wait = backoff(*interval, tag.failures);
                    tracing::warn!(plugin = %name, "polling {reference} failed ({error}); the serving version stays, retrying in {wait:?}");
                    tag.due = Instant::now() + wait;
                }
            }
        }
        let next = tags.values().map(|t| t.due).min().unwrap_or_else(|| Instant::now() + IDLE_CHECK);
        tokio::time::sleep_until(next.min(Instant::now() + IDLE_CHECK)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let second = Duration::from_secs(1);
        assert_eq!(backoff(second, 0), second);
        assert_eq!(backoff(second, 1), 2 * second);
        assert_eq!(backoff(second, 3), 8 * second);
        assert_eq!(backoff(second, 30), MAX_BACKOFF);
        // An interval longer than the cap is never shortened.
        assert_eq!(backoff(Duration::from_secs(600), 2), Duration::from_secs(600));
    }
}
