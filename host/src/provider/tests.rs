//! Integration tests of the provider against the simulator over loopback.
