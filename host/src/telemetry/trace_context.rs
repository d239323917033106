//! W3C Trace Context (`traceparent`): read from the client's request, written on each upstream
//! call. The ids are chosen when the request arrives, before anything runs, so the upstream
//! call can name its span; the spans themselves are built from the finished decision record
//! (see `telemetry::otlp`), which is why the ids live in the record.

use http::HeaderValue;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

/// The trace a request belongs to. The zero value means "no trace" (records built outside
/// the proxy, e.g. by `eval`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: u128,
    /// The request's own span.
    pub span_id: u64,
    /// The client's span, when the request carried a `traceparent`.
    pub parent_span_id: Option<u64>,
    /// The sampled flag: the client's when it sent one, otherwise set.
    pub sampled: bool,
}

impl TraceContext {
    /// The request's context: a child of the client's `traceparent` when it sent a valid
    /// one, otherwise the root of a new trace. An invalid header is ignored, as the
    /// specification asks (a new trace is started).
    pub fn for_request(traceparent: Option<&HeaderValue>) -> TraceContext {
        let ids = RandomIdGenerator::default();
        let span_id = span_u64(ids.new_span_id());
        match traceparent.and_then(|v| v.to_str().ok()).and_then(parse) {
            Some(parent) => TraceContext {
                trace_id: parent.trace_id,
                span_id,
                parent_span_id: Some(parent.span_id),
                sampled: parent.sampled,
            },
            None => TraceContext {
                trace_id: u128::from_be_bytes(ids.new_trace_id().to_bytes()),
                span_id,
                parent_span_id: None,
                sampled: true,
            },
        }
    }

    pub fn is_set(&self) -> bool {
        self.trace_id != 0
    }

    /// A fresh span id for a child of this request (one upstream attempt).
    pub fn new_child_span() -> u64 {
        span_u64(RandomIdGenerator::default().new_span_id())
    }

    /// The `traceparent` an upstream call made as span `span_id` carries.
    pub fn header_for(&self, span_id: u64) -> Option<HeaderValue> {
        if !self.is_set() {
            return None;
        }
        let flags = u8::from(self.sampled);
        HeaderValue::from_str(&format!("00-{:032x}-{span_id:016x}-{flags:02x}", self.trace_id)).ok()
    }
}

fn span_u64(id: SpanId) -> u64 {
    u64::from_be_bytes(id.to_bytes())
}

/// The parts of a valid `traceparent` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: u128,
    pub span_id: u64,
    pub sampled: bool,
}

/// Parses `version-traceid-parentid-flags`. Version 00 must be exactly that; a later version
/// may append fields after another `-` (the specification's forward compatibility rule).
/// Ids must be lowercase hex and not all zeros; version `ff` is invalid.
pub fn parse(header: &str) -> Option<TraceParent> {
    let header = header.trim();
    let bytes = header.as_bytes();
    if bytes.len() < 55 || !bytes[..55].is_ascii() {
        return None;
    }
    let (version, rest) = (&header[..2], &header[2..]);
    if !is_lower_hex(version) || version == "ff" || (version == "00" && bytes.len() != 55) {
        return None;
    }
    if bytes.len() > 55 && bytes[55] != b'-' {
        return None;
    }
    let fields = &rest[..53];
    let mut parts = fields.split('-');
    let (Some(""), Some(trace), Some(span), Some(flags), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if trace.len() != 32 || span.len() != 16 || flags.len() != 2 {
        return None;
    }
    if ![trace, span, flags].iter().all(|p| is_lower_hex(p)) {
        return None;
    }
    let trace_id = u128::from_str_radix(trace, 16).ok()?;
    let span_id = u64::from_str_radix(span, 16).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some(TraceParent { trace_id, span_id, sampled: flags & 1 == 1 })
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl TraceContext {
    pub fn trace_id(&self) -> TraceId {
        TraceId::from_bytes(self.trace_id.to_be_bytes())
    }
}

impl Serialize for TraceContext {
    /// Hex ids, as every trace viewer shows them, so a decision line can be looked up there.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("TraceContext", 4)?;
        s.serialize_field("trace_id", &format!("{:032x}", self.trace_id))?;
        s.serialize_field("span_id", &format!("{:016x}", self.span_id))?;
        match self.parent_span_id {
            Some(parent) => s.serialize_field("parent_span_id", &format!("{parent:016x}"))?,
            None => s.skip_field("parent_span_id")?,
        }
        s.serialize_field("sampled", &self.sampled)?;
        s.end()
    }
}

/// Serialises a span id as 16 hex digits.
pub fn hex_span<S: Serializer>(id: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{id:016x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_the_specification_example() {
        let parsed = parse(VALID).unwrap();
        assert_eq!(parsed.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(parsed.span_id, 0x00f067aa0ba902b7);
        assert!(parsed.sampled);
        assert!(!parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap().sampled);
    }

    #[test]
    fn refuses_what_the_specification_calls_invalid() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
            "0€-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        // A later version may carry more fields.
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever").is_some());
    }

    #[test]
    fn a_request_joins_the_clients_trace_and_passes_it_on() {
        let header = HeaderValue::from_static(VALID);
        let ctx = TraceContext::for_request(Some(&header));
        assert_eq!(ctx.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(ctx.parent_span_id, Some(0x00f067aa0ba902b7));
        assert_ne!(ctx.span_id, 0);
        let child = TraceContext::new_child_span();
        let out = ctx.header_for(child).unwrap();
        let out = parse(out.to_str().unwrap()).unwrap();
        assert_eq!((out.trace_id, out.span_id, out.sampled), (ctx.trace_id, child, true));

        let fresh = TraceContext::for_request(Some(&HeaderValue::from_static("garbage")));
        assert!(fresh.is_set() && fresh.parent_span_id.is_none() && fresh.sampled);
        assert_ne!(fresh.trace_id, ctx.trace_id);
        assert_eq!(TraceContext::default().header_for(1), None);
    }
}
