//! The request's journey: classify → plan → cascade with gates → decision record.

pub mod cascade;
pub mod decision;
pub mod gates;
pub mod lower;
pub mod pipeline;
pub mod recorder;
pub mod request;
pub mod respond;
pub mod snapshot;
