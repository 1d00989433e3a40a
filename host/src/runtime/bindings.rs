//! The one place the `wasp:plugin` world is turned into Rust types.
//!
//! Everything else in the host uses these types, so a WIT change is a
//! compile error at every place that must follow it.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    // Host imports can fail (e.g. a poisoned lock); such a failure traps the guest.
    imports: { default: trappable },
});

pub use exports::wasp::plugin::processor::{BatchInfo, Message, PluginInfo, Verdict};
pub use wasp::plugin::types::{Destination, Header, Level, Output, Scope};
