//! The accept loop: one task per connection, header-read timeout against slow-loris
//! clients, graceful shutdown that lets requests in flight finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::router;
use crate::app::App;

/// Serves `app` on `listener` until `shutdown` completes, then waits (up to `drain`) for open
/// connections to finish their requests.
///
/// On shutdown every connection is told to close gracefully: an idle keep-alive connection
/// closes at once, and one with a request in flight closes after its response. Without this,
/// one client holding an idle connection kept the process alive for the whole drain time.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    let header_timeout = app.limits().header_read_timeout;
    let connections = tokio_util_free::ConnectionTracker::default();
    tokio::pin!(shutdown);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let guard = connections.enter();
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let app = app.clone();
                async move { Ok::<_, std::convert::Infallible>(router::route(app, request).await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = async { let _ = stopping.wait_for(|stop| *stop).await; } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = ended
                && !error.is_incomplete_message()
            {
                tracing::debug!(%peer, "connection ended: {error}");
            }
            drop(guard);
        });
    }
    let _ = stop.send(true);
    connections.wait(drain).await;
    // Records are written in batches: write the last ones before the process exits.
    let decisions = app.decisions().clone();
    let _ = tokio::task::spawn_blocking(move || decisions.flush(Duration::from_secs(2))).await;
    let traces = app.clone();
    let _ = tokio::task::spawn_blocking(move || traces.telemetry().flush()).await;
    Ok(())
}

/// Counting open connections so shutdown can wait for them, without another dependency.
mod tokio_util_free {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::sync::Notify;

    #[derive(Default, Clone)]
    pub struct ConnectionTracker {
        inner: Arc<(AtomicUsize, Notify)>,
    }

    pub struct Guard(Arc<(AtomicUsize, Notify)>);

    impl ConnectionTracker {
        pub fn enter(&self) -> Guard {
            self.inner.0.fetch_add(1, Ordering::SeqCst);
            Guard(self.inner.clone())
        }

        /// Waits until no connection is open, or `limit` passes.
        pub async fn wait(&self, limit: Duration) {
            let all_closed = async {
                while self.inner.0.load(Ordering::SeqCst) > 0 {
                    let notified = self.inner.1.notified();
                    if self.inner.0.load(Ordering::SeqCst) == 0 {
                        break;
                    }
                    notified.await;
                }
            };
            let _ = tokio::time::timeout(limit, all_closed).await;
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            if self.0.0.fetch_sub(1, Ordering::SeqCst) == 1 {
                self.0.1.notify_waiters();
            }
        }
    }
}
