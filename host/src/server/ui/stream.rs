//! `GET /ui/api/stream`: decision records as server-sent events, as they finish.
//!
//! Each subscriber is a task forwarding the live view's broadcast into the response body.
//! A subscriber that falls behind skips ahead (and is told how many it missed) rather than
//! holding records back; one that disconnects ends its task at the next event or keep-alive.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use tokio::sync::broadcast::error::RecvError;

use super::super::body::{self, Body};
use crate::app::App;

/// Comment lines keep idle connections (and proxies between) from timing out.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Chunks buffered per subscriber before the forwarding task waits for the client.
const BODY_BUFFER: usize = 64;

pub fn decisions(app: &App) -> Response<Body> {
    let mut records = app.telemetry().live().subscribe();
    let (sender, response_body) = body::channel(BODY_BUFFER);
    tokio::spawn(async move {
        // An event right away, so the client knows the stream is open.
        if sender.send(Bytes::from_static(b"retry: 2000\nevent: ready\ndata: {}\n\n")).await.is_err() {
            return;
        }
        let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
        loop {
            let chunk = tokio::select! {
                received = records.recv() => match received {
                    Ok(summary) => Bytes::from(format!("event: decision\ndata: {summary}\n\n")),
                    Err(RecvError::Lagged(missed)) => Bytes::from(format!("event: lagged\ndata: {missed}\n\n")),
                    Err(RecvError::Closed) => return,
                },
                _ = keepalive.tick() => Bytes::from_static(b": keep-alive\n\n"),
                () = sender.closed() => return,
            };
            if sender.send(chunk).await.is_err() {
                return;
            }
        }
    });
    let mut response = Response::new(response_body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
