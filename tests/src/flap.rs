//! An upstream that flaps: a loopback TCP forwarder in front of another server that goes
//! down (listener closed, every open connection dropped) and comes back on the same port,
//! on a schedule. Unlike a fault model inside the simulator, this breaks the proxy's pooled
//! keep-alive connections and refuses new ones, as a restarting provider does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A running flapper; stops (and drops every connection) when [`Flapper::stop`] is awaited.
pub struct Flapper {
    /// Where clients connect (the port stays the same across restarts).
    pub addr: SocketAddr,
    /// Completed down phases so far.
    pub downs: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Flapper {
    /// Forwards to `target`, up for `up`, then down for `down`, repeatedly.
    pub async fn start(target: SocketAddr, up: Duration, down: Duration) -> Flapper {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the flapper");
        let addr = listener.local_addr().unwrap();
        let (stop, downs) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let task = tokio::spawn(run(listener, target, up, down, stop.clone(), downs.clone()));
        Flapper { addr, downs, stop, task }
    }

    /// Stops flapping and closes every connection.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
    }
}

async fn run(
    mut listener: TcpListener,
    target: SocketAddr,
    up: Duration,
    down: Duration,
    stop: Arc<AtomicBool>,
    downs: Arc<AtomicU64>,
) {
    let addr = listener.local_addr().unwrap();
    loop {
        let mut connections = JoinSet::new();
        let up_until = tokio::time::sleep(up);
        tokio::pin!(up_until);
        loop {
            tokio::select! {
                _ = &mut up_until => break,
                accepted = listener.accept() => {
                    if let Ok((inbound, _)) = accepted {
                        connections.spawn(forward(inbound, target));
                    }
                }
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        // Down: refuse new connections and cut the open ones.
        drop(listener);
        connections.shutdown().await;
        if stop.load(Ordering::Relaxed) {
            return;
        }
        tokio::time::sleep(down).await;
        downs.fetch_add(1, Ordering::Relaxed);
        // SO_REUSEADDR (tokio sets it) lets the port be bound again despite TIME_WAIT.
        listener = loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
    }
}

async fn forward(mut inbound: TcpStream, target: SocketAddr) {
    if let Ok(mut outbound) = TcpStream::connect(target).await {
        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
    }
}
