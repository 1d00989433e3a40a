//! The one place the `wasp:plugin` worlds are turned into Rust types: one
//! module per contract version the host runs. Nothing outside `runtime`
//! sees these types; `runtime::abi` converts them to and from the host's
//! own (`crate::record`).
#![allow(missing_docs)]

/// `wasp:plugin@0.1.0`: a list per field per record (kept so 0.1 plugins
/// run unchanged).
pub mod v1 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1",
        world: "plugin",
        // Host imports can fail (e.g. a poisoned lock); such a failure traps the guest.
        imports: { default: trappable },
    });
    pub use exports::wasp::plugin::processor::{BatchInfo, Message, Verdict};
    pub use wasp::plugin::types::{Destination, Header, Level, Scope};
}

/// `wasp:plugin@0.2.0`: a batch in a few buffers, output partitions, files.
pub mod v2 {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "plugin",
        imports: { default: trappable },
    });
    pub use exports::wasp::plugin::processor::{Batch, Reply};
    pub use wasp::plugin::types::{
        Destination, Header, Level, Message, Output, Scope, Span, Verdict,
    };
}
