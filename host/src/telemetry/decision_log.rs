//! The decision log: one JSON line per request, written off the request path.
//!
//! Requests hand their record to a bounded channel; a dedicated thread serialises and writes
//! them, flushing whenever it catches up. A full channel (the disk cannot keep up) drops the
//! record and counts it rather than slowing or growing without bound.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use crate::route::decision::DecisionRecord;

/// Records waiting to be written before new ones are dropped.
const QUEUE_CAPACITY: usize = 8192;

/// Where decision records go.
#[derive(Debug, Clone)]
pub enum DecisionSink {
    Off,
    Stdout,
    /// Appended to this file, one JSON object per line.
    File(PathBuf),
    /// Kept in memory (tests and embedding).
    Memory(Arc<Mutex<Vec<DecisionRecord>>>),
}

/// Handle to the log; cheap to clone and share.
#[derive(Clone)]
pub struct DecisionLog {
    inner: Arc<Inner>,
}

struct Inner {
    sender: Option<SyncSender<DecisionRecord>>,
    memory: Option<Arc<Mutex<Vec<DecisionRecord>>>>,
    dropped: AtomicU64,
}

/// The decision log's file could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the decision log {}: {source}", path.display())]
pub struct OpenError {
    path: PathBuf,
    source: std::io::Error,
}

impl DecisionLog {
    pub fn open(sink: DecisionSink) -> Result<Self, OpenError> {
        let (sender, memory) = match sink {
            DecisionSink::Off => (None, None),
            DecisionSink::Memory(records) => (None, Some(records)),
            DecisionSink::Stdout => (Some(spawn_writer(Box::new(std::io::stdout()))), None),
            DecisionSink::File(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| OpenError { path: path.clone(), source })?;
                }
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|source| OpenError { path, source })?;
                (Some(spawn_writer(Box::new(file))), None)
            }
        };
        Ok(DecisionLog { inner: Arc::new(Inner { sender, memory, dropped: AtomicU64::new(0) }) })
    }

    /// Queues one record. Never blocks.
    pub fn write(&self, record: DecisionRecord) {
        if let Some(memory) = &self.inner.memory {
            memory.lock().unwrap_or_else(|p| p.into_inner()).push(record);
            return;
        }
        let Some(sender) = &self.inner.sender else {
            return;
        };
        match sender.try_send(record) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let dropped = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(dropped, "decision log cannot keep up; records dropped");
                }
            }
        }
    }

    /// Records dropped because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }
}

fn spawn_writer(out: Box<dyn Write + Send>) -> SyncSender<DecisionRecord> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE_CAPACITY);
    let spawned =
        std::thread::Builder::new().name("switchyard-decisions".into()).spawn(move || write_loop(receiver, out));
    if let Err(error) = spawned {
        tracing::error!("cannot start the decision log writer: {error}; records will be dropped");
    }
    sender
}

fn write_loop(receiver: Receiver<DecisionRecord>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut line = Vec::with_capacity(2048);
    while let Ok(first) = receiver.recv() {
        let mut next = Some(first);
        while let Some(record) = next {
            line.clear();
            if serde_json::to_writer(&mut line, &record).is_ok() {
                line.push(b'\n');
                if let Err(error) = out.write_all(&line) {
                    tracing::warn!("cannot write the decision log: {error}");
                }
            }
            next = receiver.try_recv().ok();
        }
        // Caught up: make what we have visible to readers.
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sink_writes_one_json_line_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/decisions.jsonl");
        let log = DecisionLog::open(DecisionSink::File(path.clone())).unwrap();
        for i in 0..3 {
            log.write(DecisionRecord { id: format!("r{i}"), ..Default::default() });
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.lines().count() == 3 {
                let ids: Vec<String> = text
                    .lines()
                    .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
                    .collect();
                assert_eq!(ids, ["r0", "r1", "r2"]);
                break;
            }
            assert!(std::time::Instant::now() < deadline, "records not written: {text:?}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn an_unwritable_path_is_a_clear_error() {
        let err = DecisionLog::open(DecisionSink::File("/proc/definitely/not/here.jsonl".into())).err().unwrap();
        assert!(err.to_string().contains("/proc/definitely/not/here.jsonl"), "{err}");
    }
}
