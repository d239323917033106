//! A fixed-iteration, deterministic stand-in for the cargo-fuzz targets (`fuzz/`), cheap enough
//! for every CI run: inputs mutated from the committed seed corpus (`fuzz/corpus/*/seed-*`)
//! and generated from a small grammar go through the same checks the fuzzers run
//! (`switchyard_tests::fuzz_checks`). A failure prints the input, so it can be added to the
//! corpus and replayed with `fuzz/run.sh replay`.
//!
//! `FUZZ_SMOKE_ITERS` (default 20000) sets the inputs per target; `FUZZ_SMOKE_SEED` the seed.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use serde_json::{Map, Value, json};
use switchyard_tests::fuzz_checks::{
    check_messages, check_request, check_sse, check_stream_translation, check_tool_deltas,
};

/// SplitMix64: deterministic, dependency-free, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn iterations() -> usize {
    std::env::var("FUZZ_SMOKE_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
}

fn rng() -> Rng {
    Rng(std::env::var("FUZZ_SMOKE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5717_c4ad))
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("seed-"))
        .map(|entry| (entry.file_name().to_string_lossy().into_owned(), std::fs::read(entry.path()).unwrap()))
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds.into_iter().map(|(_, bytes)| bytes).collect()
}

/// Runs `check` on `input`; on a panic, fails the test with the input to reproduce it.
fn run(target: &str, i: usize, input: &[u8], check: fn(&[u8])) {
    if catch_unwind(AssertUnwindSafe(|| check(input))).is_err() {
        panic!(
            "{target} input #{i} broke an invariant (see the panic above); input: {:?}",
            input.escape_ascii().to_string()
        );
    }
}

/// Byte-level mutations, the kind libFuzzer starts with.
fn mutate_bytes(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
    const TOKENS: &[&[u8]] = &[
        b"\"", b"{", b"}", b"[", b"]", b":", b",", b"\\", b"\\u", b"\\ud800", b"null", b"1e999", b"-0", b"\xff",
        b"\xc3", b"\r", b"\n", b"\r\n", b"data:", b"\0",
    ];
    match rng.below(6) {
        0 if !input.is_empty() => {
            let at = rng.below(input.len());
            input[at] ^= 1 << rng.below(8);
        }
        1 => {
            let at = rng.below(input.len() + 1);
            let token = rng.pick(TOKENS);
            input.splice(at..at, token.iter().copied());
        }
        2 if !input.is_empty() => {
            let at = rng.below(input.len());
            let len = rng.below(input.len() - at + 1);
            input.drain(at..at + len);
        }
        3 => input.truncate(rng.below(input.len() + 1)),
        4 if !input.is_empty() => {
            let at = rng.below(input.len());
            let len = rng.below((input.len() - at).min(64) + 1);
            let copy = input[at..at + len].to_vec();
            let to = rng.below(input.len() + 1);
            input.splice(to..to, copy);
        }
        _ => {
            let other = rng.pick(seeds);
            let from = rng.below(other.len() + 1);
            let at = rng.below(input.len() + 1);
            input.splice(at.., other[from..].iter().copied());
        }
    }
}

/// A JSON value of a random shape, including the extremes a client may send.
fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 3 { 9 } else { 12 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => json!(*rng.pick(&[0.0, -1.0, 1e300, -1e300, 3.5e38, 1e-320, f64::MAX, 2.0])),
        3 => json!(*rng.pick(&[0i64, -1, i64::MIN, i64::MAX, 4096])),
        4 => json!(u64::MAX),
        5 => Value::String(String::new()),
        6 => Value::String(
            rng.pick(&["user", "system", "auto", "\u{0}", "é😀\u{202e}", "json_object", "json_schema"]).to_string(),
        ),
        7 => Value::String("x".repeat(rng.below(5000))),
        8 => Value::String("a\r\nb".into()),
        9 => Value::Array((0..rng.below(4)).map(|_| random_value(rng, depth + 1)).collect()),
        10 => {
            let keys = ["role", "content", "text", "type", "schema", "json_schema", "include_usage", "tenant"];
            Value::Object(
                (0..rng.below(4)).map(|_| (rng.pick(&keys).to_string(), random_value(rng, depth + 1))).collect(),
            )
        }
        _ => json!([{"role": "user", "content": random_value(rng, depth + 1)}]),
    }
}

/// Replaces, adds or removes one node somewhere in `value`.
fn mutate_json(rng: &mut Rng, value: &mut Value, depth: usize) {
    const FIELDS: &[&str] = &[
        "model",
        "messages",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "response_format",
        "tools",
        "functions",
        "metadata",
        "user",
    ];
    match value {
        Value::Object(map) if !map.is_empty() && rng.below(3) != 0 => {
            let key = map.keys().nth(rng.below(map.len())).unwrap().clone();
            match rng.below(4) {
                0 => {
                    map.remove(&key);
                }
                1 => {
                    map.insert(key, random_value(rng, depth));
                }
                _ => mutate_json(rng, map.get_mut(&key).unwrap(), depth + 1),
            }
        }
        Value::Object(map) => {
            map.insert(rng.pick(FIELDS).to_string(), random_value(rng, depth));
        }
        Value::Array(items) if !items.is_empty() && rng.below(3) != 0 => {
            let at = rng.below(items.len());
            mutate_json(rng, &mut items[at], depth + 1);
        }
        Value::Array(items) => items.push(random_value(rng, depth)),
        other => *other = random_value(rng, depth),
    }
}

#[test]
fn request_parsing_holds_its_invariants() {
    let seeds = seeds("request");
    let mut rng = rng();
    for (i, seed) in seeds.iter().enumerate() {
        run("request", i, seed, check_request);
    }
    // Nesting past serde_json's recursion limit, and a long flat array.
    run("request", 0, &[b'['; 100_000], check_request);
    let wide =
        format!(r#"{{"model":"m","messages":[{}]}}"#, vec![r#"{"role":"user","content":"hi"}"#; 10_000].join(","));
    run("request", 0, wide.as_bytes(), check_request);

    for i in 0..iterations() {
        let seed = rng.pick(&seeds).clone();
        let input = if rng.below(2) == 0 {
            let mut value: Value = serde_json::from_slice(&seed).unwrap_or_else(|_| Value::Object(Map::new()));
            for _ in 0..1 + rng.below(4) {
                mutate_json(&mut rng, &mut value, 0);
            }
            serde_json::to_vec(&value).unwrap()
        } else {
            let mut input = seed;
            for _ in 0..1 + rng.below(4) {
                mutate_bytes(&mut rng, &mut input, &seeds);
            }
            input
        };
        run("request", i, &input, check_request);
    }
}

/// A stream assembled from the pieces that matter to the parser, each line ended by a
/// random terminator.
fn generated_stream(rng: &mut Rng) -> Vec<u8> {
    const LINES: &[&[u8]] = &[
        b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}",
        b"data: [DONE]",
        b"data:",
        b"data",
        b"data:  two",
        b"event: message",
        b"event",
        b": keep-alive",
        b":",
        b"id: 1",
        b"retry: 10",
        b"unknown: x",
        b"",
        b"data: \xff\xfe\xc3",
        b"data: \xe2\x82",
        b"data: caf\xc3\xa9",
    ];
    const ENDS: &[&[u8]] = &[b"\n", b"\r\n", b"\r", b"\n\n", b"\r\n\r\n", b""];
    let mut out = rng.next().to_le_bytes()[..2].to_vec();
    for _ in 0..rng.below(24) {
        let (line, end) = (*rng.pick::<&[u8]>(LINES), *rng.pick::<&[u8]>(ENDS));
        out.extend_from_slice(line);
        out.extend_from_slice(end);
    }
    out
}

#[test]
fn sse_parsing_does_not_depend_on_chunking() {
    let seeds = seeds("sse");
    let mut rng = rng();
    for (i, seed) in seeds.iter().enumerate() {
        run("sse", i, seed, check_sse);
    }
    for i in 0..iterations() {
        let input = if rng.below(2) == 0 {
            generated_stream(&mut rng)
        } else {
            let mut input = rng.pick(&seeds).clone();
            for _ in 0..1 + rng.below(4) {
                mutate_bytes(&mut rng, &mut input, &seeds);
            }
            input
        };
        run("sse", i, &input, check_sse);
    }
}

/// A Messages body mutated at the JSON level (blocks, tools, roles swapped for odd values)
/// or the byte level, behind the one byte that picks `count_tokens` parsing.
#[test]
fn messages_parsing_and_translation_hold_their_invariants() {
    let seeds = seeds("messages");
    let mut rng = rng();
    for (i, seed) in seeds.iter().enumerate() {
        run("messages", i, seed, check_messages);
    }
    for i in 0..iterations() {
        let seed = rng.pick(&seeds).clone();
        let input = if rng.below(2) == 0 {
            let (mode, body) = seed.split_first().map_or((0, &[][..]), |(m, b)| (*m, b));
            let mut value: Value = serde_json::from_slice(body).unwrap_or_else(|_| Value::Object(Map::new()));
            for _ in 0..1 + rng.below(4) {
                mutate_json(&mut rng, &mut value, 0);
            }
            let mut input = vec![mode];
            input.extend(serde_json::to_vec(&value).unwrap());
            input
        } else {
            let mut input = seed;
            for _ in 0..1 + rng.below(4) {
                mutate_bytes(&mut rng, &mut input, &seeds);
            }
            input
        };
        run("messages", i, &input, check_messages);
    }
}

/// Event streams of either dialect, mutated, through both stream translators.
#[test]
fn stream_translation_keeps_anthropics_event_order() {
    let seeds = seeds("stream_translate");
    let mut rng = rng();
    for (i, seed) in seeds.iter().enumerate() {
        run("stream_translate", i, seed, check_stream_translation);
    }
    for i in 0..iterations() {
        let mut input = rng.pick(&seeds).clone();
        for _ in 0..1 + rng.below(4) {
            mutate_bytes(&mut rng, &mut input, &seeds);
        }
        run("stream_translate", i, &input, check_stream_translation);
    }
}

/// The tool-call delta assembler on the seed and mutated inputs (the `tool_deltas` target).
#[test]
fn tool_deltas_survive_mutated_inputs() {
    let seed = br#"{"role":"assistant","tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}
{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]}
{"tool_calls":[{"index":1,"id":"call_b","function":{"name":"now","arguments":"{}"}}]}
{"tool_calls":[{"index":0,"function":{"arguments":"ty\":1}"}}]}
{"function_call":{"name":"legacy","arguments":"{}"}}
{"refusal":"no"}"#;
    check_tool_deltas(seed);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        let mut input = seed.to_vec();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state as usize) % input.len();
            input[at] = (state >> 32) as u8;
        }
        check_tool_deltas(&input);
    }
    let many: String = (0..300).map(|i| format!("{{\"tool_calls\":[{{\"index\":{i},\"id\":\"c{i}\"}}]}}\n")).collect();
    check_tool_deltas(many.as_bytes());
}
