//! `hostile`: a classifier that misbehaves on purpose, for the host's sandbox tests.
//!
//! Its behaviour is chosen by the config's `mode` in `configure` and happens in `classify`
//! (except `init-fail`). Counters are per instance and count calls from 0, so a fresh
//! instance always starts with call 0.
//!
//! | mode               | what `classify` does                                                   |
//! |--------------------|------------------------------------------------------------------------|
//! | `ok` (default)     | returns one signal, `hostile.ok` = 1                                  |
//! | `spin`             | loops forever (the deadline must stop it)                             |
//! | `hog`              | allocates and touches 1 MiB chunks without bound (the memory cap must stop it) |
//! | `recurse`          | recurses without bound (stack overflow must trap)                     |
//! | `panic`            | panics                                                                 |
//! | `trap-every-other` | call 0, 2, 4… return `hostile.ok`; calls 1, 3, 5… panic               |
//! | `wasi-probe`       | reports what WASI granted it, as `probe.*` signals (below)            |
//! | `huge-output`      | returns 100 000 signals with ~200-byte names                          |
//! | `log-flood`        | calls the host's log 100 000 times, then returns `hostile.ok`         |
//! | `slow-sometimes`   | calls 2, 5, 8… busy-loop `spin_iterations` times (~50 ms) first       |
//! | `init-fail`        | `configure` returns `Err("bad config")`                                    |
//!
//! `wasi-probe` signals: `probe.wall_clock_secs` (SystemTime since the epoch, -1 on error),
//! `probe.monotonic_nanos` (Instant elapsed across a small loop), `probe.random` (the
//! instance's first `RandomState` hash of a constant, as f64: the same on every call of an
//! instance, and equal across instances when the host's randomness is fixed), `probe.env_count` (environment variables), `probe.file_read`
//! (1 if `/etc/passwd` could be read), `probe.dir_list` (1 if `/` could be listed),
//! `probe.tcp` (1 if `127.0.0.1:80` accepted a connection), `probe.stdout` (1 once a
//! `println!` returned).
//!
//! Config keys: `mode` (string, default `ok`), `spin_iterations` (integer, default
//! 50 000 000: the busy loop of `slow-sometimes`) and `trigger` (optional string: when set,
//! the mode's behaviour happens only on requests whose user text contains it, and other
//! requests get `hostile.ok`; this lets a hostile plugin pass the host's load-time self-test
//! and misbehave later, as a real one would).

use serde::Deserialize;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use switchyard_plugin_sdk::config::{self, ConfigCell};
use switchyard_plugin_sdk::{Classifier, Request, Signal};

/// Every mode `configure` accepts.
pub const MODES: &[&str] = &[
    "ok",
    "spin",
    "hog",
    "recurse",
    "panic",
    "trap-every-other",
    "wasi-probe",
    "huge-output",
    "log-flood",
    "slow-sometimes",
    "init-fail",
];

/// `{"mode": "...", "spin_iterations": N}`.
#[derive(Deserialize, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// One of [`MODES`].
    pub mode: String,
    /// Iterations of the `slow-sometimes` busy loop.
    pub spin_iterations: u64,
    /// Misbehave only on requests whose user text contains this.
    pub trigger: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config { mode: "ok".into(), spin_iterations: 50_000_000, trigger: None }
    }
}

static CONFIG: ConfigCell<Config> = ConfigCell::new();
static CALLS: AtomicU64 = AtomicU64::new(0);

/// Parses and checks the config (`init-fail` is accepted here and fails in `configure`).
pub fn parse_config(json: &str) -> Result<Config, String> {
    let config: Config = config::parse(json)?;
    if !MODES.contains(&config.mode.as_str()) {
        return Err(format!("config key `mode`: unknown mode `{}`, expected one of {}", config.mode, MODES.join(", ")));
    }
    Ok(config)
}

struct Hostile;

impl Classifier for Hostile {
    fn configure(config: String) -> Result<(), String> {
        let config = parse_config(&config)?;
        if config.mode == "init-fail" {
            return Err("bad config".into());
        }
        CONFIG.set(config);
        Ok(())
    }

    fn classify(req: Request) -> Result<Vec<Signal>, String> {
        let config = CONFIG.get()?;
        if let Some(trigger) = &config.trigger
            && !switchyard_plugin_sdk::text::user_text(&req.messages).contains(trigger.as_str())
        {
            return Ok(ok());
        }
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        run(&config, call)
    }
}

switchyard_plugin_sdk::export_classifier!(Hostile);

fn ok() -> Vec<Signal> {
    vec![Signal::new("hostile.ok", 1.0)]
}

/// What call number `call` (from 0) does in `config.mode`.
pub fn run(config: &Config, call: u64) -> Result<Vec<Signal>, String> {
    match config.mode.as_str() {
        "ok" => Ok(ok()),
        "spin" => spin(),
        "hog" => hog(),
        "recurse" => Ok(vec![Signal::new("hostile.depth", recurse(0) as f64)]),
        "panic" => panic!("hostile guest panics on purpose"),
        "trap-every-other" => {
            if call % 2 == 1 {
                panic!("hostile guest panics on odd call {call}");
            }
            Ok(ok())
        }
        "wasi-probe" => Ok(probe()),
        "huge-output" => Ok(huge_output()),
        "log-flood" => {
            for i in 0..100_000 {
                switchyard_plugin_sdk::info!("hostile log line {i}");
            }
            Ok(ok())
        }
        "slow-sometimes" => {
            if call % 3 == 2 {
                busy(config.spin_iterations);
            }
            Ok(ok())
        }
        other => Err(format!("mode `{other}` has no classify behaviour")),
    }
}

fn spin() -> ! {
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

fn hog() -> ! {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        for i in (0..chunk.len()).step_by(4096) {
            chunk[i] = 1;
        }
        chunks.push(black_box(chunk));
    }
}

/// Recursion the optimiser cannot turn into a loop: each frame keeps a live buffer and uses
/// the callee's result.
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 32]);
    if black_box(depth) == u64::MAX {
        return frame[0];
    }
    recurse(black_box(depth + 1)).wrapping_add(frame[7])
}

/// Busy-loops `iterations` times; returns the (meaningless) sum so the loop stays.
pub fn busy(iterations: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..iterations {
        acc = black_box(acc.wrapping_add(i));
    }
    acc
}

fn huge_output() -> Vec<Signal> {
    let tail = "x".repeat(200);
    (0..100_000).map(|i| Signal::new(format!("hostile.huge.{i:06}.{tail}"), 1.0)).collect()
}

fn probe() -> Vec<Signal> {
    use std::hash::{BuildHasher, Hasher};
    let flag = |b: bool| if b { 1.0 } else { 0.0 };

    let wall =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(-1.0);
    let start = std::time::Instant::now();
    busy(10_000);
    let mono = start.elapsed().as_nanos() as f64;
    // std derives each RandomState from per-thread keys it draws once and then increments,
    // so only the instance's first one reflects WASI's randomness: keep that one.
    static FIRST_RANDOM: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let random = *FIRST_RANDOM.get_or_init(|| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(42);
        hasher.finish()
    }) as f64;
    let env_count = std::env::vars().count() as f64;
    let file_read = std::fs::read_to_string("/etc/passwd").is_ok();
    let dir_list = std::fs::read_dir("/").is_ok();
    let tcp = std::net::TcpStream::connect("127.0.0.1:80").is_ok();
    println!("hostile guest writes to stdout");

    vec![
        Signal::new("probe.wall_clock_secs", wall),
        Signal::new("probe.monotonic_nanos", mono),
        Signal::new("probe.random", random),
        Signal::new("probe.env_count", env_count),
        Signal::new("probe.file_read", flag(file_read)),
        Signal::new("probe.dir_list", flag(dir_list)),
        Signal::new("probe.tcp", flag(tcp)),
        Signal::new("probe.stdout", 1.0),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(mode: &str) -> Config {
        parse_config(&format!(r#"{{"mode": "{mode}"}}"#)).unwrap()
    }

    #[test]
    fn config() {
        assert_eq!(parse_config("{}").unwrap().mode, "ok");
        assert!(parse_config(r#"{"mode": "nope"}"#).unwrap_err().contains("unknown mode"));
        assert!(parse_config(r#"{"mood": "ok"}"#).is_err());
    }

    #[test]
    fn harmless_modes() {
        assert_eq!(run(&cfg("ok"), 0).unwrap(), ok());
        assert_eq!(run(&cfg("trap-every-other"), 0).unwrap(), ok());
        assert!(std::panic::catch_unwind(|| run(&cfg("trap-every-other"), 1)).is_err());
        assert!(std::panic::catch_unwind(|| run(&cfg("panic"), 0)).is_err());
        let mut slow = cfg("slow-sometimes");
        slow.spin_iterations = 10;
        assert_eq!(run(&slow, 2).unwrap(), ok());
        assert_eq!(run(&cfg("huge-output"), 0).unwrap().len(), 100_000);
        assert_eq!(run(&cfg("wasi-probe"), 0).unwrap().len(), 8);
    }
}
