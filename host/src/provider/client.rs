//! One provider's connection pool: a hyper-util legacy client over HTTP or HTTPS.
//! TLS uses rustls with the `ring` provider and the Mozilla roots compiled in
//! (`webpki-roots`), so the binary does not depend on the host's CA store or on cmake.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The pooled client type used for every provider.
pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// How long an idle pooled connection is kept. Shorter than the usual upstream keep-alive
/// (OpenAI and most load balancers: 60+ s) so we rarely reuse a connection the server
/// is about to close.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds a pooled client whose TCP connects give up after `connect_timeout`.
pub(crate) fn build(connect_timeout: Duration) -> Result<HttpClient, rustls::Error> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let https = HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).pool_idle_timeout(POOL_IDLE_TIMEOUT).build(https))
}

/// An error and its causes, joined with `: ` (hyper's top-level messages alone, like
/// "client error (Connect)", do not say what happened).
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
