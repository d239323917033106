//! Instances of one plugin version: pre-instantiated once per load, then either created fresh
//! for every call or kept warm in a small pool and reused.

use std::sync::Arc;

use wasmtime::component::{Component, InstancePre};
use wasmtime::{Module, Store};

use super::PluginKind;
use super::adapt::Contract;
use super::bindings::classifier::{Classifier, ClassifierPre};
use super::bindings::gate::{Gate, GatePre};
use super::bindings::policy::{Policy, PolicyPre};
use super::bindings::v010;
use super::engine::PluginEngine;
use super::store::HostState;
use super::tier::Tier;

/// How a plugin's calls get an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStrategy {
    /// Reuse instances from a per-plugin pool (the default: a call costs ~1-2 µs instead of
    /// ~20-40 µs for a Rust guest and ~1 ms for Python/JS). Global state survives between
    /// calls of one instance; a trap discards the instance.
    #[default]
    Warm,
    /// A new instance per call: nothing survives a call, the strongest isolation.
    Fresh,
}

/// The pre-instantiated world of one plugin version: imports resolved, exports type-checked.
/// The `*010` variants are components built against contract 0.1.0 ([`super::adapt`]).
pub(crate) enum WorldPre {
    Classifier(ClassifierPre<HostState>),
    Policy(PolicyPre<HostState>),
    Gate(GatePre<HostState>),
    Classifier010(v010::classifier::ClassifierPre<HostState>),
    Policy010(v010::policy::PolicyPre<HostState>),
    Gate010(v010::gate::GatePre<HostState>),
}

/// The typed exports of one live instance.
pub(crate) enum Exports {
    Classifier(Classifier),
    Policy(Policy),
    Gate(Gate),
    Classifier010(v010::classifier::Classifier),
    Policy010(v010::policy::Policy),
    Gate010(v010::gate::Gate),
}

impl Exports {
    /// The world these exports implement.
    pub fn kind(&self) -> PluginKind {
        match self {
            Exports::Classifier(_) | Exports::Classifier010(_) => PluginKind::Classifier,
            Exports::Policy(_) | Exports::Policy010(_) => PluginKind::Policy,
            Exports::Gate(_) | Exports::Gate010(_) => PluginKind::Gate,
        }
    }

    /// The error for calling these exports as another world's: [`Plugin`](super::Plugin)
    /// checks the kind before taking an instance, so this names the mismatch if a version's
    /// exports ever disagree with its declared kind.
    pub fn called_as(&self, asked: PluginKind) -> wasmtime::Error {
        wasmtime::Error::msg(format!("a {} component's exports were called as a {asked}", self.kind()))
    }
}

/// One live instance and its store.
pub(crate) struct Instance {
    pub store: Store<HostState>,
    pub exports: Exports,
    /// Calls served, so warm instances can be recycled before guest-side leaks add up.
    pub uses: u64,
}

impl WorldPre {
    /// The contract version the component implements.
    pub fn contract(&self) -> Contract {
        match self {
            WorldPre::Classifier(_) | WorldPre::Policy(_) | WorldPre::Gate(_) => Contract::V020,
            _ => Contract::V010,
        }
    }

    /// Links `component` (compiled for `tier`) against the host's imports and checks its exports against `kind`'s
    /// world. Errors say which import or export did not fit.
    /// `shared` are the core modules split out of the component, by the import name the
    /// rewritten component expects them under.
    pub fn new(
        engine: &PluginEngine,
        tier: Tier,
        component: &Component,
        kind: PluginKind,
        contract: Contract,
        shared: &[(String, Module)],
    ) -> wasmtime::Result<Self> {
        let linker = &engine.backend(tier).linker;
        let pre: InstancePre<HostState> = if shared.is_empty() {
            linker.instantiate_pre(component)?
        } else {
            let mut linker = linker.clone();
            for (name, module) in shared {
                linker.root().module(name, module)?;
            }
            linker.instantiate_pre(component)?
        };
        Ok(match (contract, kind) {
            (Contract::V020, PluginKind::Classifier) => WorldPre::Classifier(ClassifierPre::new(pre)?),
            (Contract::V020, PluginKind::Policy) => WorldPre::Policy(PolicyPre::new(pre)?),
            (Contract::V020, PluginKind::Gate) => WorldPre::Gate(GatePre::new(pre)?),
            (Contract::V010, PluginKind::Classifier) => {
                WorldPre::Classifier010(v010::classifier::ClassifierPre::new(pre)?)
            }
            (Contract::V010, PluginKind::Policy) => WorldPre::Policy010(v010::policy::PolicyPre::new(pre)?),
            (Contract::V010, PluginKind::Gate) => WorldPre::Gate010(v010::gate::GatePre::new(pre)?),
        })
    }

    /// Instantiates into `store` and runs the plugin's `configure` (0.1.0: `init`) with its configuration. The
    /// outer error is a trap; the inner one is the plugin refusing its configuration.
    pub async fn instantiate(
        &self,
        store: &mut Store<HostState>,
        config_json: &str,
    ) -> wasmtime::Result<Result<Exports, String>> {
        Ok(match self {
            WorldPre::Classifier(pre) => {
                let exports = pre.instantiate_async(&mut *store).await?;
                exports.call_configure(&mut *store, config_json).await?.map(|()| Exports::Classifier(exports))
            }
            WorldPre::Policy(pre) => {
                let exports = pre.instantiate_async(&mut *store).await?;
                exports.call_configure(&mut *store, config_json).await?.map(|()| Exports::Policy(exports))
            }
            WorldPre::Gate(pre) => {
                let exports = pre.instantiate_async(&mut *store).await?;
                exports.call_configure(&mut *store, config_json).await?.map(|()| Exports::Gate(exports))
            }
            WorldPre::Classifier010(pre) => {
                let exports = pre.instantiate_async(&mut *store).await?;
                exports.call_init(&mut *store, config_json).await?.map(|()| Exports::Classifier010(exports))
            }
            WorldPre::Policy010(pre) => {
                let exports = pre.instantiate_async(&mut *store).await?;
                exports.call_init(&mut *store, config_json).await?.map(|()| Exports::Policy010(exports))
            }
            WorldPre::Gate010(pre) => {
                let exports = pre.instantiate_async(&mut *store).await?;
                exports.call_init(&mut *store, config_json).await?.map(|()| Exports::Gate010(exports))
            }
        })
    }
}

/// Idle warm instances of one plugin version. A plain mutex around a vector: the critical
/// section is a push or a pop, far shorter than any call.
pub(crate) struct WarmPool {
    idle: std::sync::Mutex<Vec<Instance>>,
    capacity: usize,
}

/// Calls after which a warm instance is retired and replaced by a fresh one.
pub(crate) const MAX_USES_PER_INSTANCE: u64 = 100_000;

impl WarmPool {
    pub fn new(capacity: usize) -> Self {
        WarmPool { idle: std::sync::Mutex::new(Vec::with_capacity(capacity)), capacity }
    }

    pub fn take(&self) -> Option<Instance> {
        self.lock().pop()
    }

    /// Returns an instance for reuse; dropped instead when the pool is full or it is worn out.
    pub fn give_back(&self, instance: Instance) {
        if instance.uses >= MAX_USES_PER_INSTANCE {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < self.capacity {
            idle.push(instance);
        }
    }

    /// The most idle instances kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn idle(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        // Push and pop cannot leave the vector half-updated, so poison carries no risk.
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Shared name type for a plugin, cheap to clone into every store.
pub(crate) type PluginName = Arc<str>;
