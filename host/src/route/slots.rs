//! A route's plugin slots: which plugin fills each, typed by the world it implements, with the
//! fail mode of that world.
//!
//! The routing core calls plugins through three small traits instead of the loaded
//! component type, for one reason: so the core's unit tests can put fakes in the slots and
//! cover every fail mode of every kind in milliseconds. The proxy and eval fill them with
//! loaded components ([`Plugin`]), the only implementation outside tests.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::config::{ClassifierFailMode, GateFailMode, PolicyFailMode};
use crate::plugin::{CallError, Candidate, ModelInfo, Plan, Plugin, Request, Signal, Verdict};

/// A classifier-world plugin.
pub trait Classify: Send + Sync + fmt::Debug {
    fn name(&self) -> &str;
    fn classify<'a>(&'a self, request: &'a Request) -> BoxFuture<'a, Result<Vec<Signal>, CallError>>;
}

/// A policy-world plugin.
pub trait PlanRoute: Send + Sync + fmt::Debug {
    fn name(&self) -> &str;
    fn route<'a>(
        &'a self,
        request: &'a Request,
        signals: &'a [Signal],
        models: &'a [ModelInfo],
    ) -> BoxFuture<'a, Result<Plan, CallError>>;
}

/// A gate-world plugin.
pub trait Judge: Send + Sync + fmt::Debug {
    fn name(&self) -> &str;
    fn check<'a>(&'a self, request: &'a Request, candidate: &'a Candidate)
    -> BoxFuture<'a, Result<Verdict, CallError>>;
}

impl Classify for Plugin {
    fn name(&self) -> &str {
        Plugin::name(self)
    }
    fn classify<'a>(&'a self, request: &'a Request) -> BoxFuture<'a, Result<Vec<Signal>, CallError>> {
        Box::pin(Plugin::classify(self, request))
    }
}

impl PlanRoute for Plugin {
    fn name(&self) -> &str {
        Plugin::name(self)
    }
    fn route<'a>(
        &'a self,
        request: &'a Request,
        signals: &'a [Signal],
        models: &'a [ModelInfo],
    ) -> BoxFuture<'a, Result<Plan, CallError>> {
        Box::pin(Plugin::route(self, request, signals, models))
    }
}

impl Judge for Plugin {
    fn name(&self) -> &str {
        Plugin::name(self)
    }
    fn check<'a>(
        &'a self,
        request: &'a Request,
        candidate: &'a Candidate,
    ) -> BoxFuture<'a, Result<Verdict, CallError>> {
        Box::pin(Plugin::check(self, request, candidate))
    }
}

/// A classifier in a route, and what its failure means.
#[derive(Debug, Clone)]
pub struct ClassifierSlot {
    pub plugin: Arc<dyn Classify>,
    pub on_failure: ClassifierFailMode,
}

/// A route's policy, and what its failure means.
#[derive(Debug, Clone)]
pub struct PolicySlot {
    pub plugin: Arc<dyn PlanRoute>,
    pub on_failure: PolicyFailMode,
}

/// A gate in a route, and the verdict its failure stands for.
#[derive(Debug, Clone)]
pub struct GateSlot {
    pub plugin: Arc<dyn Judge>,
    pub on_failure: GateFailMode,
}
