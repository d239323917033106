//! An offline upstream for tests, demos and `switchyard eval`, speaking OpenAI chat
//! completions (`/v1/chat/completions`) and Anthropic Messages (`/v1/messages`): no
//! network, no keys, deterministic answers. Ask it for `sim-small` or `sim-large` to see a
//! cascade work, or for one of the fault models ([`faults::Behavior`]) to exercise
//! retries, fallbacks and stream handling.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! switchyard::sim::serve(listener, switchyard::sim::SimOptions::default()).await
//! # }
//! ```

pub mod answer;
pub mod faults;
pub mod messages;
mod respond;
pub mod tools;
pub mod wire;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// Simulator settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimOptions {
    /// Multiplies every simulated generation latency: 1.0 is "realistic", 0 answers at
    /// once (tests). Default 1.0. `slow-<ms>` models ignore it: their delay is the point.
    pub latency_scale: f64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions { latency_scale: 1.0 }
    }
}

/// Serves the simulator on `listener` until the task is dropped or accepting fails.
pub async fn serve(listener: tokio::net::TcpListener, options: SimOptions) -> std::io::Result<()> {
    let options = Arc::new(options);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            // Per-connection errors (the peer gave up before accept, fd pressure) must not
            // stop the server; back off briefly so fd exhaustion does not spin.
            Err(e) if is_transient(&e) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let options = options.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let options = options.clone();
                async move {
                    match respond::handle(req, *options).await {
                        Some(response) => Ok::<_, respond::Reset>(response),
                        None => Err(respond::Reset),
                    }
                }
            });
            // Errors here are the simulated faults (reset, cut-stream) or clients going
            // away; neither is the simulator's problem.
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// Binds a loopback port and serves the simulator on it in a background task; returns
/// the address and the task (abort it to stop). The usual way to use it in tests.
pub async fn spawn(
    options: SimOptions,
) -> std::io::Result<(std::net::SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    Ok((addr, tokio::spawn(serve(listener, options))))
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted | WouldBlock)
        || e.raw_os_error() == Some(24) // EMFILE
        || e.raw_os_error() == Some(23) // ENFILE
}
