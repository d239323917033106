//! The request's journey through the routing core: a parsed request ([`request`]) on one
//! immutable [`snapshot`] goes through [`decide`] — classifiers → policy → plan → steps →
//! gates → outcome — with answers from an [`decide::Upstream`] ([`live`] for the proxy) and
//! the record kept by an [`decide::Observer`]. Route code returns [`RouteError`]; only
//! `server/` turns it into HTTP.

pub mod decide;
pub mod error;
pub mod governed;
pub mod live;
pub mod lower;
pub mod request;
pub mod slots;
pub mod snapshot;

pub use decide::{
    Admission, Answer, Ask, Observer, Plan, Served, Target, Unbounded, Upstream, decide, decide_admitted,
};
pub use error::{RouteError, Tried};
