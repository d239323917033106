//! A real `redis-server` (Debian's package; `scripts/test.sh` installs it) on a free loopback
//! port, with no persistence, killed when dropped. It can be killed and restarted on the
//! same port to test what the proxy does while Redis is away.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Redis.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one, or `None` (with a note) when `redis-server` is not installed and this is
    /// not CI. In CI (`CI` set) a missing server fails the test.
    pub fn start() -> Option<RedisServer> {
        if Command::new("redis-server").arg("--version").stdout(Stdio::null()).status().is_err() {
            assert!(std::env::var_os("CI").is_none(), "redis-server is not installed (scripts/test.sh installs it)");
            eprintln!("note: redis-server is not installed; skipping (apt-get install redis-server)");
            return None;
        }
        let mut server =
            RedisServer { child: None, port: crate::proxy::closed_port(), dir: tempfile::tempdir().unwrap() };
        server.spawn();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn spawn(&mut self) {
        let dir: PathBuf = self.dir.path().to_path_buf();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let started = Instant::now();
        while self.cli(&["PING"]).as_deref() != Some("PONG") {
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not start on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no goodbye to connected clients, like a crashed or partitioned Redis.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts it again on the same port (empty: nothing was persisted).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Runs one command through `redis-cli` and returns its output, trimmed.
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
        (output.status.success() && !text.starts_with("Could not connect")).then_some(text)
    }

    /// The sum of every counter bucket whose name contains `pattern`.
    pub fn counter_sum(&self, prefix: &str, pattern: &str) -> i64 {
        let keys = self.cli(&["--scan", "--pattern", &format!("{prefix}:c:*{pattern}*")]).unwrap_or_default();
        keys.lines()
            .filter(|k| !k.is_empty())
            .map(|k| self.cli(&["GET", k]).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0))
            .sum()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
