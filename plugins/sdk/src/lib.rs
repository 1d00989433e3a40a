//! The Rust SDK for wasp processor plugins.
//!
//! A plugin is a type implementing [`Plugin`] plus one [`export_plugin!`] line.
//! The SDK hides the generated component bindings: the host calls the
//! plugin with batches, the SDK keeps one plugin value per instance and calls
//! [`Plugin::process`] once per record (or [`Plugin::process_batch`] when the
//! plugin overrides it).
//!
//! Host imports ([`log`], [`state`], [`counter_add`], [`files`]) work
//! natively too: off Wasm they use an in-process stub so plugin logic can be
//! unit-tested with plain `cargo test`.
//!
//! The SDK targets `wasp:plugin@0.2.0`, where a batch crosses the boundary
//! in a few buffers; [`Message`] and [`Verdict`] are the SDK's own types:
//! a message's key and value borrow the batch's buffer (nothing is copied
//! per record), and the verdicts are turned into the reply's buffers by the
//! export glue.
#![deny(missing_docs)]

#[doc(hidden)]
pub mod abi;
pub mod config;
mod host;
mod types;

pub use host::{counter_add, files, log, state};
pub use types::{BatchInfo, Destination, Header, Message, Output, Verdict};

/// The generated bindings for the `wasp:plugin` world. Plugin authors rarely
/// need this; it is public for the export macro.
#[doc(hidden)]
pub mod bindings {
    // What `wit_bindgen::generate!` would write, checked in
    // (scripts/rust-bindings; docs/decisions.md, "The Rust bindings are files").
    include!("bindings.rs");
}

pub use bindings::wasp::plugin::types::{Level, PluginInfo, Scope};

/// A processor plugin. One value lives per plugin instance, created by
/// [`Plugin::init`] from the stage's config.
pub trait Plugin: Sized + 'static {
    /// Name, version and description shown by `wasp check`.
    fn info() -> PluginInfo;

    /// Build the plugin from the stage's config, given as JSON (`{}` when
    /// the pipeline gives none). Return a message saying what is wrong and
    /// how to fix it to refuse the config.
    fn init(config: &str) -> Result<Self, String>;

    /// Decide what happens to one record.
    fn process(&mut self, info: &BatchInfo, record: Message<'_>) -> Verdict;

    /// Decide what happens to a batch; one verdict per record, in order.
    /// Override to amortise work across a batch.
    fn process_batch(&mut self, info: &BatchInfo, batch: Vec<Message<'_>>) -> Vec<Verdict> {
        batch.into_iter().map(|m| self.process(info, m)).collect()
    }

    /// Learn from one record of the corrections topic. The default ignores it.
    fn learn(&mut self, _info: &BatchInfo, _record: Message<'_>) -> Verdict {
        Verdict::Drop
    }
}

/// Parse a JSON config into `T`, with an error message that names the
/// problem. Unknown fields are refused when `T` says `deny_unknown_fields`.
pub fn parse_config<T: serde::de::DeserializeOwned>(config: &str) -> Result<T, String> {
    let text = if config.trim().is_empty() { "{}" } else { config };
    serde_json::from_str(text).map_err(|e| format!("invalid config: {e}"))
}

/// An output to `destination` with a value, the input's key, no headers
/// and the producer's choice of partition.
pub fn output_to(destination: Destination, value: Vec<u8>) -> Output {
    Output { destination, partition: None, key: None, value: Some(value), headers: Vec::new() }
}

/// Build a `next` output with a new value and the input key.
pub fn output(value: Vec<u8>) -> Output {
    output_to(Destination::Next, value)
}

/// Build a `feedback` output with a value and the input key.
pub fn feedback(value: Vec<u8>) -> Output {
    output_to(Destination::Feedback, value)
}

/// Build an output to the allow-listed `topic` with a value and the input key.
pub fn to_topic(topic: &str, value: Vec<u8>) -> Output {
    output_to(Destination::Topic(topic.to_string()), value)
}

#[doc(hidden)]
pub mod __private {
    //! Glue used by [`export_plugin!`](crate::export_plugin); not API.
    use super::*;
    use std::cell::RefCell;

    /// The running plugin value. A component instance is single-threaded,
    /// so a thread-local cell is the whole story.
    pub struct Slot<P>(pub RefCell<Option<P>>);

    impl<P: Plugin> Slot<P> {
        pub fn init(&self, config: &str) -> Result<(), String> {
            *self.0.borrow_mut() = Some(P::init(config)?);
            Ok(())
        }

        pub fn with<R>(&self, f: impl FnOnce(&mut P) -> R) -> R {
            let mut slot = self.0.borrow_mut();
            // The host always calls init first; a missing value is a host bug.
            let plugin = slot.as_mut().expect("wasp host called the plugin before init");
            f(plugin)
        }
    }
}

/// Export a [`Plugin`] type as the component's `processor` interface.
///
/// ```text
/// struct Upper;
/// impl wasp_sdk::Plugin for Upper { /* ... */ }
/// wasp_sdk::export_plugin!(Upper);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::exports::wasp::plugin::processor::Guest;
            use $crate::bindings::wasp::plugin::types::{Batch, Reply};
            use $crate::PluginInfo;

            thread_local! {
                static SLOT: $crate::__private::Slot<$plugin> =
                    $crate::__private::Slot(::std::cell::RefCell::new(None));
            }

            struct Export;

            impl Guest for Export {
                fn info() -> PluginInfo {
                    <$plugin as $crate::Plugin>::info()
                }
                fn init(config: String) -> Result<(), String> {
                    SLOT.with(|s| s.init(&config))
                }
                fn process(batch: Batch) -> Reply {
                    let (info, messages) = $crate::abi::decode(&batch);
                    let verdicts = SLOT
                        .with(|s| s.with(|p| $crate::Plugin::process_batch(p, &info, messages)));
                    $crate::abi::encode(verdicts)
                }
                fn learn(batch: Batch) -> Reply {
                    let (info, messages) = $crate::abi::decode(&batch);
                    let verdicts = SLOT.with(|s| {
                        s.with(|p| {
                            messages
                                .into_iter()
                                .map(|m| $crate::Plugin::learn(p, &info, m))
                                .collect()
                        })
                    });
                    $crate::abi::encode(verdicts)
                }
            }

    $crate::bindings::__export_plugin_world!(Export with_types_in $crate::bindings);
        };
    };
}
