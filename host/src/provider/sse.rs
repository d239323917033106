//! Server-sent events: an incremental parser for upstream streams and the writer the
//! server uses to stream to clients.
//!
//! The parser follows the WHATWG event-stream rules that matter for LLM APIs: lines end in
//! `\n`, `\r\n` or `\r`; a blank line dispatches the event; several `data:` lines join
//! with `\n`; lines starting with `:` are comments (keep-alives); one space after the colon
//! is dropped. Network chunks split lines and events anywhere, including between `\r` and
//! `\n`, so the parser buffers bytes and only decodes complete lines.

use bytes::Bytes;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, when the server sent one (OpenAI does not).
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// A line longer than this is treated as a broken stream rather than buffered forever.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// The stream broke the event-stream format in a way that cannot be recovered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server-sent event line longer than {MAX_LINE_BYTES} bytes")]
pub struct LineTooLong;

/// Incremental parser: feed it bytes as they arrive with [`SseParser::push`].
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    /// Bytes at the start of `buf` already scanned for a line end (none found), so a long
    /// line arriving in many small chunks is scanned once, not once per chunk (which was
    /// quadratic: an 8 MB line in 1 KB chunks cost ~30 billion byte compares).
    scanned: usize,
    data: Option<String>,
    event: Option<String>,
}

impl SseParser {
    /// A parser with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one network chunk; returns the events it completed, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, LineTooLong> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        let mut i = self.scanned;
        while i < self.buf.len() {
            match self.buf[i] {
                b'\n' => {
                    self.line_at(start, i, &mut events);
                    i += 1;
                    start = i;
                }
                b'\r' => {
                    // A `\r` at the end of the buffer may be half of `\r\n`: wait for more.
                    let Some(&next) = self.buf.get(i + 1) else {
                        break;
                    };
                    self.line_at(start, i, &mut events);
                    i += if next == b'\n' { 2 } else { 1 };
                    start = i;
                }
                _ => i += 1,
            }
        }
        self.buf.drain(..start);
        // `i` stopped at the end, or on a final `\r` that must be looked at again.
        self.scanned = i - start;
        if self.buf.len() > MAX_LINE_BYTES {
            self.buf.clear();
            self.scanned = 0;
            return Err(LineTooLong);
        }
        Ok(events)
    }

    /// The stream ended: completes a last line or event that lacked its terminator
    /// (lenient: some servers omit the final blank line).
    pub fn finish(&mut self) -> Option<SseEvent> {
        let rest = std::mem::take(&mut self.buf);
        self.scanned = 0;
        let rest = rest.strip_suffix(b"\r").unwrap_or(&rest);
        let mut events = Vec::new();
        if !rest.is_empty() {
            self.line(rest, &mut events);
        }
        self.line(b"", &mut events);
        events.pop()
    }

    fn line_at(&mut self, start: usize, end: usize, events: &mut Vec<SseEvent>) {
        let line = self.buf[start..end].to_vec();
        self.line(&line, events);
    }

    fn line(&mut self, line: &[u8], events: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                events.push(SseEvent { event: self.event.take(), data });
            }
            self.event = None;
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match field {
            b"data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(&value);
                }
                None => self.data = Some(value.into_owned()),
            },
            b"event" => self.event = Some(value.into_owned()),
            _ => {} // id, retry and unknown fields do not matter to a proxy
        }
    }
}

/// One `data:` event carrying `json`, ready to write to a client.
pub fn event(json: &serde_json::Value) -> Bytes {
    Bytes::from(format!("data: {json}\n\n"))
}

/// The `data: [DONE]` terminator OpenAI clients wait for.
pub fn done() -> Bytes {
    Bytes::from_static(b"data: [DONE]\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn parses_lf_and_crlf_and_cr() {
        let mut p = SseParser::new();
        let ev = p.push(b"data: a\n\ndata: b\r\n\r\ndata: c\r\rdata:d\n\n").unwrap();
        assert_eq!(data(&ev), ["a", "b", "c", "d"]);
    }

    #[test]
    fn events_split_anywhere_across_chunks() {
        let stream =
            b"data: {\"x\":1}\r\n\r\n: keep-alive\r\n\r\nevent: e\r\ndata: l1\r\ndata: l2\r\n\r\ndata: [DONE]\r\n\r\n";
        for split in 0..stream.len() {
            for split2 in split..stream.len() {
                let mut p = SseParser::new();
                let mut ev = p.push(&stream[..split]).unwrap();
                ev.extend(p.push(&stream[split..split2]).unwrap());
                ev.extend(p.push(&stream[split2..]).unwrap());
                assert_eq!(data(&ev), ["{\"x\":1}", "l1\nl2", "[DONE]"], "split at {split},{split2}");
                assert_eq!(ev[1].event.as_deref(), Some("e"));
                assert_eq!(p.finish(), None);
            }
        }
    }

    #[test]
    fn comments_and_unknown_fields_are_ignored() {
        let mut p = SseParser::new();
        let ev = p.push(b": hello\nid: 7\nretry: 10\nfoo\n\ndata:x\n\n").unwrap();
        assert_eq!(data(&ev), ["x"]);
    }

    #[test]
    fn finish_flushes_an_unterminated_event() {
        let mut p = SseParser::new();
        assert!(p.push(b"data: tail").unwrap().is_empty());
        assert_eq!(p.finish().unwrap().data, "tail");
        let mut p = SseParser::new();
        p.push(b"data: tail\r").unwrap();
        assert_eq!(p.finish().unwrap().data, "tail");
    }

    #[test]
    fn invalid_utf8_and_overlong_lines_do_not_panic() {
        let mut p = SseParser::new();
        let ev = p.push(b"data: \xff\xfe\n\n").unwrap();
        assert_eq!(ev[0].data, "\u{fffd}\u{fffd}");
        let big = vec![b'a'; MAX_LINE_BYTES + 1];
        assert_eq!(p.push(&big), Err(LineTooLong));
    }

    #[test]
    fn a_long_line_in_small_chunks_is_scanned_once() {
        // 2 MB in 16-byte chunks: rescanning the buffer per chunk took minutes.
        let started = std::time::Instant::now();
        let mut p = SseParser::new();
        p.push(b"data: ").unwrap();
        let chunk = [b'x'; 16];
        for _ in 0..(2 << 20) / chunk.len() {
            assert!(p.push(&chunk).unwrap().is_empty());
        }
        p.push(b"\r").unwrap();
        let ev = p.push(b"\n\r\n").unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].data.len(), 2 << 20);
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    }

    #[test]
    fn writer_round_trips() {
        let v = serde_json::json!({"a": "line\nbreak"});
        let mut bytes = event(&v).to_vec();
        bytes.extend_from_slice(&done());
        let ev = SseParser::new().push(&bytes).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&ev[0].data).unwrap(), v);
        assert_eq!(ev[1].data, "[DONE]");
    }
}
