//! Traces over OTLP/HTTP, received on loopback by a Python receiver that decodes them with the
//! official OpenTelemetry protobuf definitions (`opentelemetry-proto`): span names, parent
//! links, GenAI attributes, the client's `traceparent` honoured and passed upstream, and a
//! dead collector costing the requests nothing.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use switchyard_tests::observe::{self, EASY, HARD, ask};
use switchyard_tests::proxy::{Proxy, chat, closed_port, send_with};
use tokio::io::{AsyncBufReadExt, BufReader};

const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

/// The receiver process and the spans it has printed so far.
struct Receiver {
    port: u16,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    spans: Vec<Value>,
    _child: tokio::process::Child,
}

impl Receiver {
    /// Starts the receiver, or `None` (with a note) when the proto package is missing
    /// outside CI; in CI, scripts/test.sh installs it and a missing one fails.
    async fn start() -> Option<Receiver> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/otlp_receiver.py");
        let probe = std::process::Command::new("python3")
            .args(["-c", "import opentelemetry.proto.collector.trace.v1.trace_service_pb2"])
            .status();
        if !probe.is_ok_and(|s| s.success()) {
            assert!(
                std::env::var_os("CI").is_none(),
                "opentelemetry-proto is not installed (scripts/test.sh installs it)"
            );
            eprintln!("skipped: pip install -r tests/python/otlp-requirements.txt");
            return None;
        }
        let mut child = tokio::process::Command::new("python3")
            .arg(script)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await.unwrap().unwrap().unwrap();
        let port = first.strip_prefix("LISTENING ").expect("the receiver's first line").parse().unwrap();
        Some(Receiver { port, lines, spans: Vec::new(), _child: child })
    }

    /// Reads whatever else arrives within `quiet`.
    async fn settle(&mut self, quiet: Duration) -> &[Value] {
        while let Ok(line) = tokio::time::timeout(quiet, self.lines.next_line()).await {
            self.spans.push(serde_json::from_str(&line.unwrap().expect("the receiver exited")).unwrap());
        }
        &self.spans
    }

    fn otlp_config(&self) -> String {
        format!("[telemetry.otlp]\nendpoint = \"http://127.0.0.1:{}/v1/traces\"\ndelay_ms = 50\n", self.port)
    }

    /// Reads spans until `done` holds for what was received (at most 20 s).
    async fn until(&mut self, done: impl Fn(&[Value]) -> bool) -> &[Value] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !done(&self.spans) {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("spans not received in time; got {:#?}", self.spans))
                .unwrap()
                .expect("the receiver exited");
            self.spans.push(serde_json::from_str(&line).unwrap());
        }
        &self.spans
    }
}

fn in_trace<'a>(spans: &'a [Value], trace: &str) -> Vec<&'a Value> {
    spans.iter().filter(|s| s["trace_id"] == trace).collect()
}

fn named<'a>(spans: &[&'a Value], name: &str) -> Vec<&'a Value> {
    spans.iter().copied().filter(|s| s["name"] == name).collect()
}

#[tokio::test]
async fn a_cascaded_request_is_one_trace_with_genai_attributes() {
    let Some(mut receiver) = Receiver::start().await else { return };
    let proxy = observe::proxy(&receiver.otlp_config()).await;
    let traceparent = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
    let body = ask("auto", HARD).to_string();
    let url = format!("{}/v1/chat/completions", proxy.base);
    let reply = send_with("POST", &url, &[("traceparent", &traceparent)], body).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-switchyard-model"), "large");

    receiver.until(|s| in_trace(s, CLIENT_TRACE).len() >= 7).await;
    // Anything more (there should be nothing) would be in the next batches.
    let spans = receiver.settle(Duration::from_millis(500)).await;
    let trace = in_trace(spans, CLIENT_TRACE);
    let mut names: Vec<&str> = trace.iter().map(|s| s["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "chat auto",
            "chat sim-large",
            "chat sim-small",
            "classify complexity",
            "gate sanity",
            "gate sanity",
            "route cascade"
        ]
    );
    let root = named(&trace, "chat auto")[0];
    assert_eq!(root["parent_span_id"], CLIENT_SPAN, "the client's span is the request span's parent");
    assert_eq!(root["kind"], 2, "SPAN_KIND_SERVER");
    assert_eq!(root["resource"]["service.name"], "switchyard");
    let attrs = &root["attributes"];
    assert_eq!(attrs["gen_ai.operation.name"], "chat");
    assert_eq!(attrs["gen_ai.request.model"], "auto");
    assert_eq!(attrs["gen_ai.response.model"], "large");
    assert_eq!(attrs["switchyard.route"], "auto");
    assert_eq!(attrs["switchyard.snapshot"], 1);
    assert_eq!(attrs["switchyard.escalations"], 1);
    assert!(attrs["switchyard.cost_usd"].as_f64().unwrap() > 0.0);
    assert!(attrs["gen_ai.usage.output_tokens"].as_i64().unwrap() > 0);
    assert_eq!(attrs["switchyard.request.id"], reply.header("x-switchyard-request-id"));

    let root_id = root["span_id"].as_str().unwrap();
    for name in ["classify complexity", "route cascade", "chat sim-small", "chat sim-large"] {
        let span = named(&trace, name)[0];
        assert_eq!(span["parent_span_id"], root_id, "{name} is a child of the request");
        assert!(span["start_ns"].as_u64() >= root["start_ns"].as_u64(), "{name} starts inside the request");
    }
    let small = named(&trace, "chat sim-small")[0];
    assert_eq!(small["kind"], 3, "SPAN_KIND_CLIENT");
    let a = &small["attributes"];
    assert_eq!(a["gen_ai.operation.name"], "chat");
    assert_eq!(a["gen_ai.provider.name"], "sim");
    assert_eq!(a["gen_ai.request.model"], "sim-small");
    assert_eq!(a["gen_ai.response.model"], "sim-small");
    assert!(a["gen_ai.usage.input_tokens"].as_i64().unwrap() > 0);
    assert_eq!(a["switchyard.attempt.outcome"], "escalated");
    assert_eq!(a["switchyard.verdict"], "escalate");
    let gates = named(&trace, "gate sanity");
    let judged: Vec<&Value> = gates.iter().map(|g| &g["parent_span_id"]).collect();
    assert!(judged.contains(&&small["span_id"]), "a gate span is a child of the attempt it judged");
    let verdicts: Vec<&Value> = gates.iter().map(|g| &g["attributes"]["switchyard.verdict"]).collect();
    assert!(verdicts.contains(&&Value::from("escalate")) && verdicts.contains(&&Value::from("accept")), "{verdicts:?}");
    let classify = named(&trace, "classify complexity")[0];
    assert!(classify["attributes"]["switchyard.signals"].as_str().unwrap().contains("complexity.score="));

    // A request without a traceparent starts a trace of its own.
    let reply = chat(&proxy, ask("auto", EASY)).await;
    assert_eq!(reply.status, 200);
    let spans = receiver.until(|s| s.iter().any(|s| s["name"] == "chat auto" && s["trace_id"] != CLIENT_TRACE)).await;
    let own = spans.iter().find(|s| s["name"] == "chat auto" && s["trace_id"] != CLIENT_TRACE).unwrap();
    assert_eq!(own["parent_span_id"], "", "a root span");
}

/// An upstream that answers every chat call and keeps the `traceparent` it was sent.
async fn recording_upstream() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let record = record.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let header = request.headers().get("traceparent").and_then(|v| v.to_str().ok());
                    record.lock().unwrap().push(header.unwrap_or("").to_string());
                    let body = r#"{"id":"c1","object":"chat.completion","created":1,"model":"recorded","choices":[{"index":0,"message":{"role":"assistant","content":"Paris."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#;
                    async move {
                        let mut response = http::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                        response.headers_mut().insert("content-type", "application/json".parse().unwrap());
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn the_clients_trace_reaches_the_upstream_under_the_attempts_span() {
    let Some(mut receiver) = Receiver::start().await else { return };
    let (upstream, seen) = recording_upstream().await;
    let extra = format!(
        "{}\n[providers.recorder]\nbase_url = \"http://{upstream}/v1\"\n[models.recorded]\nprovider = \"recorder\"\ninput_price = 1.0\noutput_price = 2.0\n",
        receiver.otlp_config()
    );
    let proxy = observe::proxy(&extra).await;
    let traceparent = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
    let url = format!("{}/v1/chat/completions", proxy.base);
    let reply = send_with("POST", &url, &[("traceparent", &traceparent)], ask("recorded", EASY).to_string()).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);

    let sent = seen.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let parts: Vec<&str> = sent[0].split('-').collect();
    assert_eq!((parts[0], parts[1], parts[3]), ("00", CLIENT_TRACE, "01"), "{}", sent[0]);
    assert_ne!(parts[2], CLIENT_SPAN, "the upstream's parent is our attempt, not the client");

    let spans = receiver.until(|s| in_trace(s, CLIENT_TRACE).len() >= 2).await;
    let trace = in_trace(spans, CLIENT_TRACE);
    let attempt = named(&trace, "chat recorded").into_iter().find(|s| s["kind"] == 3).unwrap();
    assert_eq!(attempt["span_id"], parts[2], "the upstream call carries the attempt span's id");
    let root = named(&trace, "chat recorded").into_iter().find(|s| s["kind"] == 2).unwrap();
    assert_eq!(root["parent_span_id"], CLIENT_SPAN);

    // An unsampled client trace is honoured: not exported, still propagated unsampled.
    let unsampled = "00-11111111111111111111111111111111-2222222222222222-00";
    let reply = send_with("POST", &url, &[("traceparent", unsampled)], ask("recorded", EASY).to_string()).await;
    assert_eq!(reply.status, 200);
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert!(last.starts_with("00-11111111111111111111111111111111-") && last.ends_with("-00"), "{last}");
}

#[tokio::test]
async fn a_dead_collector_costs_requests_nothing() {
    let extra = format!(
        "[telemetry.otlp]\nendpoint = \"http://127.0.0.1:{}/v1/traces\"\ntimeout_ms = 200\ndelay_ms = 20\nmax_queue_spans = 64\nbatch_spans = 16\n",
        closed_port()
    );
    let proxy: Proxy = observe::proxy(&extra).await;
    // Far more spans than the queue holds, sent while every export fails.
    let sent = observe::traffic(&proxy, 8).await;
    assert_eq!(sent.requests, 40);
    let health = switchyard_tests::proxy::send("GET", &format!("{}/healthz", proxy.base), "").await;
    assert_eq!(health.status, 200);
}
