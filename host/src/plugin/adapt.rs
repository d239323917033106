//! Contract versions, and the 0.1.0 view of the host's (0.2.0) data.
//!
//! A component says which contract it implements by what it exports: 0.2.0 exports
//! `configure`, 0.1.0 exported `init`. For a 0.1.0 component the host hands over exactly the
//! fields 0.1.0 had, taken from the 0.2.0 values; what 0.2.0 added (tools, tool calls, parts,
//! refusal) is simply not shown, so an old plugin answers exactly as it did before.

use super::bindings::types as new;
use super::bindings::v010::types as old;

/// The contract version a component was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Contract {
    #[serde(rename = "0.1.0")]
    V010,
    #[serde(rename = "0.2.0")]
    V020,
}

impl Contract {
    /// The configuration export's name in this version.
    pub fn configure_export(self) -> &'static str {
        match self {
            Contract::V010 => "init",
            Contract::V020 => "configure",
        }
    }

    /// The version whose configuration export `exports` has; 0.2.0 wins if both are there.
    pub fn detect<'a>(exports: impl IntoIterator<Item = &'a str>) -> Option<Contract> {
        let mut found = None;
        for name in exports {
            match name {
                "configure" => return Some(Contract::V020),
                "init" => found = Some(Contract::V010),
                _ => {}
            }
        }
        found
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Contract::V010 => "0.1.0",
            Contract::V020 => "0.2.0",
        }
    }
}

impl std::fmt::Display for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) fn request(r: &new::Request) -> old::Request {
    old::Request {
        id: r.id.clone(),
        model: r.model.clone(),
        messages: r
            .messages
            .iter()
            .map(|m| old::Message { role: m.role.clone(), content: m.content.clone() })
            .collect(),
        max_tokens: r.max_tokens,
        temperature: r.temperature,
        streaming: r.streaming,
        wants_json: r.wants_json,
        json_schema: r.json_schema.clone(),
        has_tools: r.has_tools,
        input_tokens: r.input_tokens,
        metadata: r.metadata.clone(),
    }
}

pub(crate) fn candidate(c: &new::Candidate) -> old::Candidate {
    old::Candidate {
        model: c.model.clone(),
        content: c.content.clone(),
        finish_reason: c.finish_reason.clone(),
        input_tokens: c.input_tokens,
        output_tokens: c.output_tokens,
        mean_logprob: c.mean_logprob,
        last_step: c.last_step,
    }
}

pub(crate) fn signals(signals: &[new::Signal]) -> Vec<old::Signal> {
    signals.iter().map(|s| old::Signal { name: s.name.clone(), value: s.value, label: s.label.clone() }).collect()
}

pub(crate) fn models(models: &[new::ModelInfo]) -> Vec<old::ModelInfo> {
    models
        .iter()
        .map(|m| old::ModelInfo {
            id: m.id.clone(),
            tier: m.tier,
            input_price: m.input_price,
            output_price: m.output_price,
            context_window: m.context_window,
            tags: m.tags.clone(),
            healthy: m.healthy,
            p50_ms: m.p50_ms,
            error_rate: m.error_rate,
        })
        .collect()
}

pub(crate) fn signals_back(signals: Vec<old::Signal>) -> Vec<new::Signal> {
    signals.into_iter().map(|s| new::Signal { name: s.name, value: s.value, label: s.label }).collect()
}

pub(crate) fn plan_back(plan: old::Plan) -> new::Plan {
    new::Plan { steps: plan.steps, reason: plan.reason }
}

pub(crate) fn verdict_back(verdict: old::Verdict) -> new::Verdict {
    match verdict {
        old::Verdict::Accept(c) => new::Verdict::Accept(c),
        old::Verdict::Escalate(why) => new::Verdict::Escalate(why),
        old::Verdict::Reject(why) => new::Verdict::Reject(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_version_by_its_configure_export() {
        assert_eq!(Contract::detect(["init", "classify"]), Some(Contract::V010));
        assert_eq!(Contract::detect(["classify", "configure"]), Some(Contract::V020));
        assert_eq!(Contract::detect(["init", "configure", "check"]), Some(Contract::V020));
        assert_eq!(Contract::detect(["classify"]), None);
    }

    #[test]
    fn the_old_view_keeps_every_old_field() {
        let mut r = crate::plugin::samples::requests().remove(0);
        r.tools.push(new::Tool {
            name: "f".into(),
            description: String::new(),
            parameters: "{}".into(),
            strict: false,
        });
        r.messages[0].tool_calls.push(new::ToolCall { id: "c".into(), name: "f".into(), arguments: "{}".into() });
        let o = request(&r);
        assert_eq!(
            (o.id.as_str(), o.model.as_str(), o.input_tokens),
            (r.id.as_str(), r.model.as_str(), r.input_tokens)
        );
        assert_eq!(o.messages.len(), r.messages.len());
        assert_eq!(o.messages[0].content, r.messages[0].content);
        assert_eq!(o.metadata, r.metadata);
        let c = crate::plugin::samples::candidate(&r);
        let oc = candidate(&c);
        assert_eq!(
            (oc.content.as_str(), oc.finish_reason.as_str(), oc.last_step),
            (c.content.as_str(), c.finish_reason.as_str(), c.last_step)
        );
    }
}
