//! The Wasm side of wasp: engine, plugin loading, instances and limits.
//!
//! The public surface is small on purpose: [`Engine`] (one per process),
//! [`Plugin`] (a compiled, checked plugin version) and [`PluginInstance`]
//! (one store, owned by one worker). wasmtime types stay inside.

mod abi;
mod bindings;
mod engine;
mod fault;
mod files;
mod host;
mod instance;
mod limits;
mod logbudget;
mod plugin;
mod sandbox;
mod stdio;

pub use abi::CONTRACTS;
pub use engine::{Engine, EngineOptions};
pub use fault::{Fault, FaultKind, FaultPolicy, OnDisabled};
pub use files::{FilesError, StageFiles};
pub use instance::{Footprint, InstanceContext, PluginInstance};
pub use limits::{ClockGrant, Limits};
pub use plugin::Plugin;
