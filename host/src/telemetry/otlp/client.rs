//! The exporter's HTTP client: the proxy's own hyper client (the one providers use), run on
//! the proxy's tokio runtime.
//!
//! The SDK's batch processor exports from a plain OS thread, where hyper (which needs a tokio
//! reactor) cannot run. So each export is spawned onto the runtime and the thread waits for
//! the result; any executor can await a tokio `JoinHandle`. This keeps reqwest, and a second
//! HTTP stack, out of the build.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use opentelemetry_http::{HttpClient, HttpError};

use crate::provider::client::{self, HttpClient as Pool};

/// Largest collector reply read (replies are a few bytes; a partial-success message more).
const MAX_REPLY_BYTES: usize = 1 << 20;

#[derive(Clone)]
pub struct RuntimeClient {
    pool: Pool,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
}

impl std::fmt::Debug for RuntimeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeClient").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

/// The collector did not answer within the export timeout.
#[derive(Debug, thiserror::Error)]
#[error("the OTLP collector did not answer within {0:?}")]
pub struct Timeout(Duration);

impl RuntimeClient {
    pub fn new(runtime: tokio::runtime::Handle, timeout: Duration) -> Result<RuntimeClient, rustls::Error> {
        Ok(RuntimeClient { pool: client::build(timeout)?, runtime, timeout })
    }
}

#[async_trait::async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let pool = self.pool.clone();
        let timeout = self.timeout;
        let exchange = async move {
            let response = pool.request(request.map(Full::new)).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_REPLY_BYTES).collect().await?.to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        let task = self.runtime.spawn(async move {
            match tokio::time::timeout(timeout, exchange).await {
                Ok(result) => result,
                Err(_) => Err(Box::new(Timeout(timeout)) as HttpError),
            }
        });
        task.await?
    }
}
