//! The request's journey: classify → plan → cascade with gates → decision record.

pub mod decision;
pub mod request;
