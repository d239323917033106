//! `v010-gate`: a gate written against contract `switchyard:plugin@0.1.0` exactly as a
//! published plugin of that time was: its own bindings of `wit/0.1.0`, an `init` export, the
//! 0.1.0 `request` and `candidate` records. The host must keep loading it next to 0.2.0
//! plugins and hand it the 0.1.0 view of each request.
//!
//! It escalates when the last user message contains the configured `trigger` (default
//! `escalate-me`), and otherwise accepts with confidence 0.5. Either way the verdict (or the
//! log line) says what it saw, so a test can check the adapted fields.

#![allow(missing_docs)] // generated bindings

wit_bindgen::generate!({
    path: "../../../wit/0.1.0",
    world: "gate",
    generate_all,
});

use std::sync::OnceLock;

use switchyard::plugin::host::{Level, log};

static TRIGGER: OnceLock<String> = OnceLock::new();

struct V010Gate;

impl Guest for V010Gate {
    fn init(config: String) -> Result<(), String> {
        // No serde: a 0.1.0 plugin of the time could be this small.
        let trigger = match config.split("\"trigger\"").nth(1) {
            Some(rest) => rest.split('"').nth(1).ok_or("config key `trigger`: expected a string")?.to_string(),
            None => "escalate-me".to_string(),
        };
        let _ = TRIGGER.set(trigger);
        Ok(())
    }

    fn check(req: Request, answer: Candidate) -> Result<Verdict, String> {
        let trigger = TRIGGER.get().ok_or("check before init")?;
        let last_user = req.messages.iter().rev().find(|m| m.role == "user").map(|m| m.content.as_str()).unwrap_or("");
        let saw = format!(
            "v0.1.0 saw {} messages, has-tools {}, finish {}, {} chars",
            req.messages.len(),
            req.has_tools,
            answer.finish_reason,
            answer.content.len()
        );
        log(Level::Info, &saw);
        if last_user.contains(trigger.as_str()) {
            return Ok(Verdict::Escalate(format!("trigger `{trigger}` found; {saw}")));
        }
        Ok(Verdict::Accept(0.5))
    }
}

export!(V010Gate);
