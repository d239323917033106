//! The binary's log lines: no colour codes when stderr is not a terminal, and one JSON object
//! per line with `--log-format json`. Runs the real binary (`switchyard simulate`, which logs
//! one line at start) with stderr piped, as a process manager or log shipper would.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The first log line `switchyard simulate` writes, then the process is stopped.
fn first_line(extra: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(extra)
        .args(["simulate", "--listen", "127.0.0.1:0"])
        .env_remove("SWITCHYARD_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the switchyard binary runs");
    let stderr = child.stderr.take().unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stderr).read_line(&mut line);
        let _ = send.send(line);
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let line = receive.recv_timeout(deadline - Instant::now()).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    line
}

#[test]
fn text_logs_have_no_colour_codes_off_a_terminal() {
    let line = first_line(&[]);
    assert!(line.contains("upstream simulator serving"), "{line:?}");
    assert!(!line.contains('\u{1b}'), "ANSI escape in {line:?}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let line = first_line(&["--log-format", "json"]);
    let value: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert_eq!(value["level"], "INFO");
    assert!(value["fields"]["message"].as_str().unwrap().contains("upstream simulator serving"), "{value}");
}
