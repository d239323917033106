//! The cascade distribution per route since the proxy started: the share of requests
//! answered at each tier, the share that escalated or fell back, and the cost saved against
//! sending everything to the route's most expensive model.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::telemetry::decision::{AttemptOutcome, DecisionRecord};

/// What the tally needs to know about the models: their tier and prices (per million
/// tokens), and the models a route plans over by default.
pub trait Catalog {
    fn model(&self, id: &str) -> Option<ModelFacts>;
    fn route_models(&self, route: &str) -> &[String];
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelFacts {
    pub tier: u32,
    /// Input and output price per million tokens; `None` for an unpriced model.
    pub prices: Option<(f64, f64)>,
}

/// Routes tallied before new ones are counted under `other` (routes come from the config, so
/// this only guards against a config that keeps renaming them).
const MAX_ROUTES: usize = 64;
/// Models (and tiers) tallied per route, likewise.
const MAX_MODELS: usize = 64;

/// One route's tally.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RouteTally {
    pub requests: u64,
    pub errors: u64,
    /// Requests answered, by the tier of the model that answered.
    pub answered_by_tier: BTreeMap<u32, u64>,
    pub answered_by_model: BTreeMap<String, u64>,
    /// Requests in which a gate escalated at least once.
    pub escalated: u64,
    /// Requests in which an upstream failed and the next step was tried.
    pub fell_back: u64,
    pub cost_usd: f64,
    /// What the answered requests would have cost on the route's most expensive model.
    pub ceiling_usd: f64,
    /// The model the ceiling was priced at (the latest one seen).
    pub ceiling_model: Option<String>,
}

impl RouteTally {
    pub fn saved_usd(&self) -> f64 {
        self.ceiling_usd - self.cost_usd
    }
}

/// Every route's tally.
#[derive(Debug, Default)]
pub struct Tallies {
    routes: BTreeMap<String, RouteTally>,
}

impl Tallies {
    pub fn add(&mut self, record: &DecisionRecord, catalog: &dyn Catalog) {
        let Some(route) = record.route.as_deref() else {
            return; // a concrete model: no cascade to speak of
        };
        let key = if self.routes.len() < MAX_ROUTES || self.routes.contains_key(route) { route } else { "other" };
        let tally = self.routes.entry(key.to_string()).or_default();
        tally.requests += 1;
        let paid = record.cost_usd.unwrap_or(0.0);
        tally.cost_usd += paid;
        if record.escalations() > 0 {
            tally.escalated += 1;
        }
        if record.fallbacks() > 0 {
            tally.fell_back += 1;
        }
        let answered = record.attempts.iter().rev().find(|a| a.outcome == AttemptOutcome::Returned);
        let (Some(attempt), "ok") = (answered, record.outcome.status.as_str()) else {
            tally.errors += 1;
            return;
        };
        if let Some(facts) = catalog.model(&attempt.model) {
            let tiers = tally.answered_by_tier.len();
            if tiers < MAX_MODELS || tally.answered_by_tier.contains_key(&facts.tier) {
                *tally.answered_by_tier.entry(facts.tier).or_default() += 1;
            }
        }
        if tally.answered_by_model.len() < MAX_MODELS || tally.answered_by_model.contains_key(&attempt.model) {
            *tally.answered_by_model.entry(attempt.model.clone()).or_default() += 1;
        }
        // The counterfactual: the answer's tokens, priced at the dearest model the route
        // could have sent it to (its default plan and this request's plan).
        let dearest = catalog
            .route_models(route)
            .iter()
            .chain(record.plan.steps.iter())
            .filter_map(|id| catalog.model(id).and_then(|facts| facts.prices).map(|prices| (id, prices)))
            .max_by(|(_, a), (_, b)| (a.0 + a.1).total_cmp(&(b.0 + b.1)));
        match dearest {
            Some((id, (input_price, output_price))) => {
                let ceiling = (f64::from(attempt.input_tokens) * input_price
                    + f64::from(attempt.output_tokens) * output_price)
                    / 1_000_000.0;
                // Never below what was actually paid (retries of the dearest model itself).
                tally.ceiling_usd += ceiling.max(paid);
                if tally.ceiling_model.as_deref() != Some(id.as_str()) {
                    tally.ceiling_model = Some(id.clone());
                }
            }
            None => tally.ceiling_usd += paid,
        }
    }

    pub fn routes(&self) -> &BTreeMap<String, RouteTally> {
        &self.routes
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::telemetry::decision::{Attempt, Outcome};

    /// Two models: `small` (tier 0, $1/$2 per million) and `large` (tier 1, $10/$20).
    pub(crate) struct TwoModels(pub Vec<String>);

    impl Catalog for TwoModels {
        fn model(&self, id: &str) -> Option<ModelFacts> {
            match id {
                "small" => Some(ModelFacts { tier: 0, prices: Some((1.0, 2.0)) }),
                "large" => Some(ModelFacts { tier: 1, prices: Some((10.0, 20.0)) }),
                _ => None,
            }
        }
        fn route_models(&self, _route: &str) -> &[String] {
            &self.0
        }
    }

    fn attempt(model: &str, outcome: AttemptOutcome, cost_usd: f64) -> Attempt {
        Attempt {
            model: model.into(),
            outcome,
            input_tokens: 1000,
            output_tokens: 500,
            cost_usd: Some(cost_usd),
            ..Default::default()
        }
    }

    #[test]
    fn tallies_tiers_escalations_fallbacks_and_savings() {
        let catalog = TwoModels(vec!["small".into(), "large".into()]);
        let mut tallies = Tallies::default();
        let ok =
            |model: &str| Outcome { status: "ok".into(), http_status: 200, model: Some(model.into()), error: None };
        // Answered by the small model: $0.002 paid, $0.02 at the large model's prices.
        let cheap = DecisionRecord {
            route: Some("auto".into()),
            outcome: ok("small"),
            attempts: vec![attempt("small", AttemptOutcome::Returned, 0.002)],
            cost_usd: Some(0.002),
            ..Default::default()
        };
        // Escalated to the large model: paid both.
        let escalated = DecisionRecord {
            route: Some("auto".into()),
            outcome: ok("large"),
            attempts: vec![
                attempt("small", AttemptOutcome::Escalated, 0.002),
                attempt("large", AttemptOutcome::Returned, 0.02),
            ],
            cost_usd: Some(0.022),
            ..Default::default()
        };
        let failed = DecisionRecord {
            route: Some("auto".into()),
            outcome: Outcome { status: "error".into(), http_status: 502, model: None, error: Some("x".into()) },
            attempts: vec![attempt("small", AttemptOutcome::UpstreamError, 0.0)],
            ..Default::default()
        };
        for record in [&cheap, &cheap, &escalated, &failed] {
            tallies.add(record, &catalog);
        }
        tallies.add(&DecisionRecord { route: None, ..cheap.clone() }, &catalog);
        let auto = &tallies.routes()["auto"];
        assert_eq!(tallies.routes().len(), 1, "direct requests are not a cascade");
        assert_eq!((auto.requests, auto.errors, auto.escalated, auto.fell_back), (4, 1, 1, 1));
        assert_eq!(auto.answered_by_tier, BTreeMap::from([(0, 2), (1, 1)]));
        assert_eq!(auto.answered_by_model["small"], 2);
        assert!((auto.cost_usd - 0.026).abs() < 1e-12, "{}", auto.cost_usd);
        // Ceiling: three answers at $0.02 each, except the escalated one paid $0.022.
        assert!((auto.ceiling_usd - 0.062).abs() < 1e-12, "{}", auto.ceiling_usd);
        assert!((auto.saved_usd() - 0.036).abs() < 1e-12);
        assert_eq!(auto.ceiling_model.as_deref(), Some("large"));
    }
}
