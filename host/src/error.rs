//! Typed errors that say whose fault a failure is and what to do.

use std::path::PathBuf;

/// A plugin file could not be loaded or configured. Every variant names the
/// file; the message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file could not be read.
    #[error("cannot read plugin {path}: {source}")]
    Unreadable {
        /// The plugin file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not WebAssembly at all.
    #[error("{path} is not a WebAssembly file: build a plugin with `cargo xtask plugins` or see docs/plugin-guide.md")]
    NotWasm {
        /// The plugin file.
        path: PathBuf,
    },
    /// A core module, not a component.
    #[error("{path} is a core WebAssembly module, not a component: turn it into one with `wasm-tools component new` (cargo xtask plugins does this for Rust plugins)")]
    CoreModule {
        /// The plugin file.
        path: PathBuf,
    },
    /// A component that wasmtime cannot compile.
    #[error("{path} is not a valid component: {detail}")]
    Invalid {
        /// The plugin file.
        path: PathBuf,
        /// What the compiler said.
        detail: String,
    },
    /// A component that does not target the `wasp:plugin` world.
    #[error("{path} does not implement the wasp:plugin/plugin world, version 0.2.0 or 0.1.0 ({detail}): build it against wit/plugin.wit")]
    WrongWorld {
        /// The plugin file.
        path: PathBuf,
        /// The missing import or export.
        detail: String,
    },
    /// The plugin refused its stage config.
    #[error("plugin {path} refused the config of stage '{stage}': {message}")]
    InitRefused {
        /// The plugin file.
        path: PathBuf,
        /// The stage name.
        stage: String,
        /// The plugin's explanation.
        message: String,
    },
    /// The plugin failed (trapped, ran out of time or memory) while starting.
    #[error("plugin {path} failed while starting for stage '{stage}': {fault}")]
    StartFailed {
        /// The plugin file.
        path: PathBuf,
        /// The stage name.
        stage: String,
        /// What happened.
        fault: crate::runtime::Fault,
    },
}
