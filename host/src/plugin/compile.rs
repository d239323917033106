//! Making machine code: in this process for small components, in a short-lived worker process
//! for large ones.
//!
//! Why a worker: compiling a Python or JS component (CPython or StarlingMonkey, ~20 000
//! functions) peaks at hundreds of MB of compiler working memory, and the allocator keeps much
//! of what it touched. `bench/memory.sh` measured a proxy that had compiled three Python/JS
//! versions at 3-4x its warm-start RSS after every compile had finished, with mimalloc
//! purging at once, compile threads collected and every cache on disk. A child process gives
//! all of it back when it exits, and it puts a hard time and memory limit on compiling a
//! hostile component, outside the proxy. The child is this same binary (the hidden
//! `switchyard compile-worker`), building its engine from the same settings with the same
//! [`super::engine::tier_config`], so its artifact carries the engine's compatibility hash and
//! loads exactly like a disk-cache hit (wasmtime checks that hash on every load).
//!
//! Small components (Rust guests, a split component's glue, under [`WORKER_MIN_BYTES`])
//! compile in-process in ~20 ms: a worker would add its start-up to a hot reload for memory
//! they never use. The worker is used only when the running binary registered itself with
//! [`enable_worker`]; library users (tests, embedders) compile in-process unless they do.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::component::Component;
use wasmtime::{Engine, Module};

use super::engine::EngineSettings;
use super::tier::Tier;

/// The hidden subcommand the worker runs as.
pub const WORKER_SUBCOMMAND: &str = "compile-worker";

/// Components at least this large compile in the worker: Python and JS components are
/// 10-40 MB, Rust guests and split glue well under 1 MB.
pub(crate) const WORKER_MIN_BYTES: usize = 1 << 20;

/// The worker's exit status for "this wasm does not compile" (its reason on stderr), apart
/// from crashes and limits.
const EXIT_REFUSED: i32 = 3;
/// The worker's exit status for a bad request or an unwritable output file.
const EXIT_BROKEN: i32 = 2;
/// Of the worker's stderr, at most this much is kept for an error message.
const STDERR_KEPT_BYTES: u64 = 16 * 1024;

static WORKER_EXECUTABLE: OnceLock<PathBuf> = OnceLock::new();

/// Lets engines built from now on compile large components in `executable` (this binary,
/// which must run [`worker_main`] for [`WORKER_SUBCOMMAND`]). The first call wins.
pub fn enable_worker(executable: PathBuf) {
    let _ = WORKER_EXECUTABLE.set(executable);
}

/// Limits of one worker compile, from `[runtime]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkerLimits {
    /// Wall time for one compile; past it the worker is killed and the load fails.
    pub timeout: Duration,
    /// The worker's address space (RLIMIT_AS, so reservations count too); past it allocation
    /// fails and the worker exits.
    pub memory_bytes: u64,
}

impl Default for WorkerLimits {
    fn default() -> Self {
        // Cranelift on CPython peaks near 1 GB on 2 cores; a busy CI machine takes ~30 s.
        WorkerLimits { timeout: Duration::from_secs(300), memory_bytes: 4 << 30 }
    }
}

/// What kind of wasmtime artifact a compile makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ArtifactKind {
    Component,
    Module,
}

/// What the caches hold and compiles make: compiled components and compiled core modules.
pub(crate) trait Artifact: Sized {
    const KIND: ArtifactKind;
    fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self>;
    fn serialize(&self) -> wasmtime::Result<Vec<u8>>;
    /// # Safety
    /// As wasmtime's `deserialize_file`: `path` must hold an artifact wasmtime serialized.
    unsafe fn deserialize_file(engine: &Engine, path: &Path) -> wasmtime::Result<Self>;
}

impl Artifact for Component {
    const KIND: ArtifactKind = ArtifactKind::Component;
    fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self> {
        Component::new(engine, bytes)
    }
    fn serialize(&self) -> wasmtime::Result<Vec<u8>> {
        Component::serialize(self)
    }
    unsafe fn deserialize_file(engine: &Engine, path: &Path) -> wasmtime::Result<Self> {
        // SAFETY: passed on from the caller.
        unsafe { Component::deserialize_file(engine, path) }
    }
}

impl Artifact for Module {
    const KIND: ArtifactKind = ArtifactKind::Module;
    fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Self> {
        Module::new(engine, bytes)
    }
    fn serialize(&self) -> wasmtime::Result<Vec<u8>> {
        Module::serialize(self)
    }
    unsafe fn deserialize_file(engine: &Engine, path: &Path) -> wasmtime::Result<Self> {
        // SAFETY: passed on from the caller.
        unsafe { Module::deserialize_file(engine, path) }
    }
}

/// How one tier's engine compiles.
pub(crate) struct Compiler {
    tier: Tier,
    settings: EngineSettings,
    worker: Option<Worker>,
    /// Shared by both tiers of an engine.
    counters: Arc<WorkerCounters>,
}

struct Worker {
    executable: PathBuf,
    limits: WorkerLimits,
}

/// What the workers of one engine have done, for `/admin/memory`.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    compiles: AtomicU64,
    failures: AtomicU64,
    fallbacks: AtomicU64,
    last_ms: AtomicU64,
}

/// The compile workers' record: the admin API's `caches.compile_worker`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WorkerReport {
    /// Whether large components compile in a worker process here.
    pub enabled: bool,
    pub timeout_ms: u64,
    pub memory_limit_bytes: u64,
    /// Compiles the workers finished, refused or were stopped at a limit.
    pub compiles: u64,
    pub failures: u64,
    /// Compiles done in-process because no worker could run (logged as warnings).
    pub fallbacks: u64,
    pub last_compile_ms: u64,
    /// The largest resident size any worker reached (the kernel's `ru_maxrss` of this
    /// process's children): memory this process did not have to hold.
    pub peak_worker_resident_bytes: u64,
}

/// Why a worker compile did not produce an artifact.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkerError {
    /// No worker could run, or its artifact does not load here; compiled in-process instead.
    #[error("the compile worker is unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Refused(String),
    #[error("compiling took longer than the compile worker's limit of {0:?}; the worker was stopped")]
    TimedOut(Duration),
    #[error("the compile worker died ({status}) without an artifact; its memory limit is {limit_mib} MiB{detail}")]
    Died { status: String, limit_mib: u64, detail: String },
}

impl Compiler {
    pub(crate) fn new(tier: Tier, settings: &EngineSettings, counters: Arc<WorkerCounters>) -> Self {
        let worker = match (settings.compile_worker, WORKER_EXECUTABLE.get()) {
            (Some(limits), Some(executable)) => Some(Worker { executable: executable.clone(), limits }),
            _ => None,
        };
        Compiler { tier, settings: settings.clone(), worker, counters }
    }

    /// What this engine's workers have done, and the limits they run under.
    pub(crate) fn report(&self) -> WorkerReport {
        let limits = self.worker.as_ref().map_or(WorkerLimits::default(), |w| w.limits);
        let counters = &self.counters;
        WorkerReport {
            enabled: self.worker.is_some(),
            timeout_ms: limits.timeout.as_millis() as u64,
            memory_limit_bytes: limits.memory_bytes,
            compiles: counters.compiles.load(Ordering::Relaxed),
            failures: counters.failures.load(Ordering::Relaxed),
            fallbacks: counters.fallbacks.load(Ordering::Relaxed),
            last_compile_ms: counters.last_ms.load(Ordering::Relaxed),
            peak_worker_resident_bytes: children_peak_resident_bytes(),
        }
    }

    /// Compiles `bytes` for `engine` (this compiler's tier). With `keep_at` (a disk-cache
    /// path), the artifact is written there and returned mapped from that file, so its
    /// machine code is file-backed memory: resident only while it runs and reclaimable by the
    /// kernel. Blocking.
    pub(crate) fn compile<T: Artifact>(
        &self,
        engine: &Engine,
        bytes: &[u8],
        keep_at: Option<&Path>,
    ) -> wasmtime::Result<T> {
        let counters = &self.counters;
        if let Some(worker) = self.worker.as_ref().filter(|_| bytes.len() >= WORKER_MIN_BYTES) {
            let started = Instant::now();
            match worker.compile::<T>(self, engine, bytes, keep_at) {
                Ok(artifact) => {
                    counters.compiles.fetch_add(1, Ordering::Relaxed);
                    counters.last_ms.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
                    return Ok(artifact);
                }
                Err(WorkerError::Unavailable(reason)) => {
                    counters.fallbacks.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("compiling in this process: the compile worker is unavailable: {reason}");
                }
                Err(error) => {
                    counters.failures.fetch_add(1, Ordering::Relaxed);
                    return Err(wasmtime::Error::msg(error.to_string()));
                }
            }
        }
        let compiled = T::compile(engine, bytes)?;
        Ok(match keep_at {
            Some(path) => keep(engine, path, compiled),
            None => compiled,
        })
    }
}

/// Writes `compiled` to `path` and returns it mapped from there; the artifact itself when
/// writing fails (a warning says why).
fn keep<T: Artifact>(engine: &Engine, path: &Path, compiled: T) -> T {
    let written =
        compiled.serialize().map_err(|e| e.to_string().into()).and_then(|b| super::cache::write_atomically(path, &b));
    if let Err(error) = written {
        tracing::warn!(path = %path.display(), "cannot write compiled artifact to the cache: {error}");
        return compiled;
    }
    // SAFETY: `path` was just written whole (temp file + rename) from an artifact this engine
    // compiled; see `cache::DiskStore::read` for why cache files are trusted.
    unsafe { T::deserialize_file(engine, path) }.unwrap_or(compiled)
}

/// A file name no other write uses: this process, and a counter.
fn unique_name(stem: &str) -> String {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    format!(".{stem}.{}.{}.worker.tmp", std::process::id(), WRITES.fetch_add(1, Ordering::Relaxed))
}

impl Worker {
    fn compile<T: Artifact>(
        &self,
        compiler: &Compiler,
        engine: &Engine,
        bytes: &[u8],
        keep_at: Option<&Path>,
    ) -> Result<T, WorkerError> {
        let out = match keep_at {
            Some(path) => {
                let dir = path.parent().ok_or_else(|| WorkerError::Unavailable("cache path has no parent".into()))?;
                std::fs::create_dir_all(dir)
                    .map_err(|e| WorkerError::Unavailable(format!("{}: {e}", dir.display())))?;
                dir.join(unique_name("artifact"))
            }
            None => std::env::temp_dir().join(unique_name("switchyard-artifact")),
        };
        let outcome = self.run(compiler, T::KIND, bytes, &out).and_then(|()| {
            // SAFETY: the file was written by this binary's worker (`worker_main`), for this
            // engine's settings and tier, into a name only this call uses. wasmtime checks its
            // header and compatibility hash and refuses a mismatch.
            unsafe { T::deserialize_file(engine, &out) }
                .map_err(|e| WorkerError::Unavailable(format!("its artifact does not load here: {e:#}")))
        });
        // The mapping stays valid whether the file is then moved into the cache or unlinked.
        let kept = outcome.is_ok() && keep_at.is_some_and(|path| std::fs::rename(&out, path).is_ok());
        if !kept {
            let _ = std::fs::remove_file(&out);
        }
        outcome
    }

    fn run(&self, compiler: &Compiler, kind: ArtifactKind, bytes: &[u8], out: &Path) -> Result<(), WorkerError> {
        let request =
            WorkerRequest { settings: compiler.settings.clone(), tier: compiler.tier, kind, out: out.to_path_buf() };
        let request = serde_json::to_string(&request).map_err(|e| WorkerError::Unavailable(e.to_string()))?;
        let mut child = Command::new(&self.executable)
            .arg(WORKER_SUBCOMMAND)
            .arg("--request")
            .arg(request)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| WorkerError::Unavailable(format!("cannot start {}: {e}", self.executable.display())))?;
        let stderr = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut kept = String::new();
                let _ = (&mut pipe).take(STDERR_KEPT_BYTES).read_to_string(&mut kept);
                let _ = std::io::copy(&mut pipe, &mut std::io::sink());
                kept
            })
        });
        // A worker that dies before reading everything closes the pipe; its status says why.
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(bytes);
        }
        let status = wait_until(&mut child, Instant::now() + self.limits.timeout);
        let stderr = stderr.and_then(|reader| reader.join().ok()).unwrap_or_default();
        let status = status.ok_or(WorkerError::TimedOut(self.limits.timeout))?;
        match status.code() {
            Some(0) => Ok(()),
            Some(EXIT_REFUSED) => Err(WorkerError::Refused(stderr.trim().to_string())),
            Some(EXIT_BROKEN) => Err(WorkerError::Unavailable(stderr.trim().to_string())),
            _ => Err(WorkerError::Died {
                status: describe(status),
                limit_mib: self.limits.memory_bytes >> 20,
                detail: match stderr.trim() {
                    "" => String::new(),
                    text => format!(": {}", text.lines().last().unwrap_or(text)),
                },
            }),
        }
    }
}

/// The child's exit status, or `None` when it ran past `deadline` (it is then killed).
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        _ => status.to_string(),
    }
}

/// The kernel's largest resident size among this process's finished children.
fn children_peak_resident_bytes() -> u64 {
    // SAFETY: getrusage writes one plain struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        return 0;
    }
    (usage.ru_maxrss.max(0) as u64) * 1024
}

/// What the parent asks of a worker; the wasm bytes come on stdin.
#[derive(serde::Serialize, serde::Deserialize)]
struct WorkerRequest {
    settings: EngineSettings,
    tier: Tier,
    kind: ArtifactKind,
    out: PathBuf,
}

/// The worker process: reads a request and the wasm bytes, compiles, writes the artifact, and
/// returns its exit status (0, or [`EXIT_REFUSED`] with the reason on stderr, or
/// [`EXIT_BROKEN`]).
pub fn worker_main(request: &str) -> i32 {
    let request: WorkerRequest = match serde_json::from_str(request) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("bad compile request: {error}");
            return EXIT_BROKEN;
        }
    };
    if let Some(limits) = request.settings.compile_worker {
        limit_address_space(limits.memory_bytes);
    }
    let mut bytes = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut bytes) {
        eprintln!("cannot read the component: {error}");
        return EXIT_BROKEN;
    }
    let engine = match super::engine::worker_engine(&request.settings, request.tier) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("{error}");
            return EXIT_BROKEN;
        }
    };
    let compiled = match request.kind {
        ArtifactKind::Component => engine.precompile_component(&bytes),
        ArtifactKind::Module => engine.precompile_module(&bytes),
    };
    match compiled {
        Ok(artifact) => match std::fs::write(&request.out, artifact) {
            Ok(()) => 0,
            Err(error) => {
                eprintln!("cannot write {}: {error}", request.out.display());
                EXIT_BROKEN
            }
        },
        Err(error) => {
            eprintln!("{error:#}");
            EXIT_REFUSED
        }
    }
}

/// Caps this process's address space, so a compile that would exceed it fails allocation and
/// exits instead of growing without bound. The address space rather than RLIMIT_DATA:
/// mimalloc maps its first arena (1 GiB) before this runs, and writable memory inside it never
/// meets a data limit; the worker's engine reserves no instance pool, so its address space is
/// its heap, its code and its threads' stacks.
fn limit_address_space(bytes: u64) {
    let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
    // SAFETY: setrlimit reads one plain struct; failing leaves the process unlimited, which
    // the timeout still bounds.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) } != 0 {
        eprintln!("warning: cannot limit the compile worker's memory: {}", std::io::Error::last_os_error());
    }
}
