//! The decision log: one JSON line per request, written off the request path.
//!
//! Requests hand their record to a bounded channel; a dedicated thread serialises and writes
//! them, flushing whenever it catches up. A full channel (the disk cannot keep up) drops the
//! record and counts it rather than slowing or growing without bound.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::telemetry::decision::DecisionRecord;

/// Records waiting to be written before new ones are dropped.
const QUEUE_CAPACITY: usize = 8192;

/// How long the writer lets records pile up after the first one arrives. Waking the writer
/// thread once per request costs a context switch per request (on a busy core, as much as
/// serialising the record); waking it at most once per `BATCH_DELAY` costs ~100 wake-ups
/// a second under any load, and a record still reaches the file within ~10 ms.
const BATCH_DELAY: Duration = Duration::from_millis(10);

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
    queue: Option<Arc<Queue>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    memory: Option<Arc<Mutex<Vec<DecisionRecord>>>>,
    dropped: AtomicU64,
}

/// Records handed over to the writer thread.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    /// Wakes the writer: first record of a batch, a flush request, or close.
    ready: Condvar,
    /// Wakes `flush` callers: a batch was written.
    written: Condvar,
}

#[derive(Default)]
struct QueueState {
    records: Vec<Arc<DecisionRecord>>,
    /// The log handle is gone: write what is queued and stop.
    closed: bool,
    /// Flushes asked for, and the last one the writer has completed.
    flush_requested: u64,
    flushed: u64,
}

impl Drop for Inner {
    /// Writes what is queued before the handle goes away.
    fn drop(&mut self) {
        if let Some(queue) = &self.queue {
            queue.state.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
            queue.ready.notify_one();
        }
        if let Some(writer) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = writer.join();
        }
    }
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
        let (queue, memory) = match sink {
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
        let (queue, writer) = match queue {
            Some((queue, writer)) => (Some(queue), writer),
            None => (None, None),
        };
        Ok(DecisionLog {
            inner: Arc::new(Inner { queue, writer: Mutex::new(writer), memory, dropped: AtomicU64::new(0) }),
        })
    }

    /// Queues one record. Never blocks. Shared with the live view, so not copied.
    pub fn write(&self, record: impl Into<Arc<DecisionRecord>>) {
        let record = record.into();
        if let Some(memory) = &self.inner.memory {
            memory.lock().unwrap_or_else(|p| p.into_inner()).push(Arc::unwrap_or_clone(record));
            return;
        }
        let Some(queue) = &self.inner.queue else {
            return;
        };
        let mut state = queue.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.records.len() >= QUEUE_CAPACITY {
            drop(state);
            let dropped = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "decision log cannot keep up; records dropped");
            }
            return;
        }
        let was_empty = state.records.is_empty();
        state.records.push(record);
        drop(state);
        // Only the first record of a batch wakes the writer; it then waits BATCH_DELAY.
        if was_empty {
            queue.ready.notify_one();
        }
    }

    /// Blocks until every record queued before the call is written and flushed (at most
    /// `limit`). For shutdown: records are written in batches, up to ~10 ms after they are
    /// queued.
    pub fn flush(&self, limit: Duration) {
        let Some(queue) = &self.inner.queue else {
            return;
        };
        let mut state = queue.state.lock().unwrap_or_else(|p| p.into_inner());
        state.flush_requested += 1;
        let ticket = state.flush_requested;
        queue.ready.notify_one();
        let (_state, _timeout) = queue
            .written
            .wait_timeout_while(state, limit, |s| s.flushed < ticket && !s.closed)
            .unwrap_or_else(|p| p.into_inner());
    }

    /// Records dropped because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }
}

fn spawn_writer(out: Box<dyn Write + Send>) -> (Arc<Queue>, Option<std::thread::JoinHandle<()>>) {
    let queue = Arc::new(Queue::default());
    let writer = queue.clone();
    let spawned =
        std::thread::Builder::new().name("switchyard-decisions".into()).spawn(move || write_loop(&writer, out));
    match spawned {
        Ok(handle) => (queue, Some(handle)),
        Err(error) => {
            // Nobody will drain the queue: it fills up and what follows is counted as dropped.
            tracing::error!("cannot start the decision log writer: {error}; records will be dropped");
            (queue, None)
        }
    }
}

fn write_loop(queue: &Queue, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut batch = Vec::new();
    let mut line = Vec::with_capacity(2048);
    let urgent = |s: &QueueState| s.closed || s.flush_requested > s.flushed;
    loop {
        let mut state = queue.state.lock().unwrap_or_else(|p| p.into_inner());
        while state.records.is_empty() && !urgent(&state) {
            state = queue.ready.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        if !urgent(&state) {
            // Let the batch fill up before taking it (see BATCH_DELAY); a flush or close
            // cuts the wait short.
            state =
                queue.ready.wait_timeout_while(state, BATCH_DELAY, |s| !urgent(s)).unwrap_or_else(|p| p.into_inner()).0;
        }
        let closed = state.closed;
        let flush_ticket = state.flush_requested;
        std::mem::swap(&mut batch, &mut state.records);
        drop(state);
        for record in batch.drain(..) {
            line.clear();
            if serde_json::to_writer(&mut line, &*record).is_ok() {
                line.push(b'\n');
                if let Err(error) = out.write_all(&line) {
                    tracing::warn!("cannot write the decision log: {error}");
                }
            }
        }
        // Caught up: make what we have visible to readers.
        let _ = out.flush();
        queue.state.lock().unwrap_or_else(|p| p.into_inner()).flushed = flush_ticket;
        queue.written.notify_all();
        if closed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sink_writes_one_json_line_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/decisions.jsonl");
        {
            // Dropping the last handle writes what is queued.
            let log = DecisionLog::open(DecisionSink::File(path.clone())).unwrap();
            log.write(DecisionRecord { id: "first".into(), ..Default::default() });
            log.flush(std::time::Duration::from_secs(5));
            assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1, "flush writes");
            log.write(DecisionRecord { id: "second".into(), ..Default::default() });
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2, "drop writes");
        std::fs::remove_file(&path).unwrap();
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
