//! Request classes bind tiers: a plan is clamped to the key's class before any call. A step
//! above the ceiling, or on a model the key may not use, is dropped and the decision record
//! says which and why. "Each request class is bound to a model tier; agents cannot escalate
//! without routing approval": the ceiling rises to the class's `approval_tier` only with an
//! approval (the key's own flag, or a header the key is allowed to send).

use std::collections::BTreeMap;

use super::identity::Identity;
use crate::config::ModelConfig;

/// The request header that asks for escalation above the class, for keys with
/// `escalation = "header"`.
pub const APPROVAL_HEADER: &str = "x-switchyard-approve-escalation";

pub use crate::telemetry::governance::DroppedStep;

/// The plan after the clamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Clamped {
    pub steps: Vec<String>,
    pub dropped: Vec<DroppedStep>,
    /// The tier ceiling applied, when the key has a class.
    pub ceiling: Option<u32>,
    /// Why the ceiling is above the class's own tier, when an approval raised it.
    pub approval: Option<&'static str>,
}

/// Clamps `steps` to what `identity` may reach. Steps keep their order.
pub fn clamp(
    steps: &[String],
    identity: &Identity,
    models: &BTreeMap<String, ModelConfig>,
    header_approval: bool,
) -> Clamped {
    let ceiling = identity.ceiling(header_approval);
    let class_name = identity.class.as_ref().map(|(n, _)| n.as_str()).unwrap_or_default();
    let mut kept = Vec::with_capacity(steps.len());
    let mut dropped = Vec::new();
    for step in steps {
        let tier = models.get(step).map_or(0, |m| m.tier);
        if !identity.may_use_model(step) {
            dropped.push(DroppedStep {
                model: step.clone(),
                tier,
                why: format!("key `{}` may not use model `{step}`", identity.name),
            });
        } else if let Some((max, _)) = ceiling
            && tier > max
        {
            dropped.push(DroppedStep {
                model: step.clone(),
                tier,
                why: format!("tier {tier} is above class `{class_name}`'s ceiling of tier {max}"),
            });
        } else {
            kept.push(step.clone());
        }
    }
    Clamped { steps: kept, dropped, ceiling: ceiling.map(|(t, _)| t), approval: ceiling.and_then(|(_, a)| a) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClassConfig, Escalation, KeyConfig, TeamConfig};

    fn models() -> BTreeMap<String, ModelConfig> {
        let model = |tier| ModelConfig {
            provider: "p".into(),
            upstream: None,
            tier,
            input_price: Some(1.0),
            output_price: Some(1.0),
            cached_input_price: None,
            context_window: 1000,
            tags: vec![],
        };
        [("small".to_string(), model(0)), ("mid".to_string(), model(1)), ("large".to_string(), model(2))].into()
    }

    fn identity(escalation: Escalation, allowed: &[&str]) -> Identity {
        Identity {
            id: "k".into(),
            name: "k".into(),
            team: "t".into(),
            key: KeyConfig {
                escalation,
                models: allowed.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            team_config: TeamConfig::default(),
            class: Some(("basic".into(), ClassConfig { max_tier: 0, approval_tier: Some(1) })),
            source: "config",
        }
    }

    fn plan() -> Vec<String> {
        vec!["small".into(), "mid".into(), "large".into()]
    }

    #[test]
    fn steps_above_the_class_are_dropped_with_a_reason() {
        let c = clamp(&plan(), &identity(Escalation::Never, &[]), &models(), true);
        assert_eq!(c.steps, vec!["small".to_string()]);
        assert_eq!(c.dropped.len(), 2);
        assert!(c.dropped[0].why.contains("above class `basic`'s ceiling of tier 0"), "{:?}", c.dropped);
        assert_eq!((c.ceiling, c.approval), (Some(0), None));
    }

    #[test]
    fn approval_raises_the_ceiling_only_to_the_approval_tier() {
        let by_header = identity(Escalation::Header, &[]);
        assert_eq!(clamp(&plan(), &by_header, &models(), false).steps, vec!["small".to_string()]);
        let c = clamp(&plan(), &by_header, &models(), true);
        assert_eq!(c.steps, vec!["small".to_string(), "mid".to_string()]);
        assert!(c.approval.unwrap().contains("header"));
        let flagged = clamp(&plan(), &identity(Escalation::Approved, &[]), &models(), false);
        assert_eq!(flagged.steps.len(), 2);
        assert_eq!(flagged.dropped[0].model, "large");
    }

    #[test]
    fn models_outside_the_key_allowlist_are_dropped() {
        let c = clamp(&plan(), &identity(Escalation::Approved, &["mid"]), &models(), false);
        assert_eq!(c.steps, vec!["mid".to_string()]);
        assert!(c.dropped[0].why.contains("may not use model `small`"));
    }
}
