//! Proxy fixtures (filled in with the proxy tests).
