//! Text helpers over a request's messages.

use crate::types::{Message, Request};

/// The content of the last message whose role is `user`.
pub fn last_user_message(messages: &[Message]) -> Option<&str> {
    messages.iter().rev().find(|m| m.role == "user").map(|m| m.content.as_str())
}

/// Every `user` message's content, joined by blank lines.
pub fn user_text(messages: &[Message]) -> String {
    join_role(messages, |role| role == "user")
}

/// Every message's content (all roles), joined by blank lines.
pub fn all_text(messages: &[Message]) -> String {
    join_role(messages, |_| true)
}

fn join_role(messages: &[Message], keep: impl Fn(&str) -> bool) -> String {
    let mut out = String::new();
    for m in messages.iter().filter(|m| keep(&m.role)) {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&m.content);
    }
    out
}

/// A rough token count for `text`: about four characters a token, like the host's estimate.
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count();
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

/// The value of metadata key `key` (first occurrence), e.g. `tenant` or a hint that arrived
/// as an `x-switchyard-KEY` header.
pub fn meta<'a>(req: &'a Request, key: &str) -> Option<&'a str> {
    req.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_helpers() {
        let mut r = Request::from_user("first");
        r.messages.insert(0, Message::new("system", "be nice"));
        r.messages.push(Message::new("assistant", "ok"));
        r.messages.push(Message::new("user", "second"));
        assert_eq!(r.last_user_message(), Some("second"));
        assert_eq!(r.user_text(), "first\n\nsecond");
        assert_eq!(all_text(&r.messages), "be nice\n\nfirst\n\nok\n\nsecond");
        assert_eq!(estimate_tokens("abcde"), 2);
        r.metadata.push(("tenant".into(), "acme".into()));
        assert_eq!(r.meta("tenant"), Some("acme"));
        assert_eq!(r.meta("tier"), None);
    }
}
