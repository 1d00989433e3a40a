//! The host-owned key-value store behind the `state` import.
//!
//! Plugins keep models and windows here rather than in guest globals, so
//! that a recycled instance, a hot reload, a restart or another process
//! finds them again. One module per concern: [`store`] (the shared map and
//! how a write set is applied), [`scope`] (a stage's namespace and the
//! write set of its call in progress), [`keys`] (key layout and which
//! changelog part a key belongs to), [`codec`] (binary encodings),
//! [`backend`] (the changelog trait, in memory), [`changelog`] (the
//! changelog in Kafka), [`restore`] (reading a part back), [`follow`]
//! (other processes' stage writes, live), [`snapshot`]
//! (the local file). Guarantees and limits: docs/state.md.

pub mod backend;
pub mod changelog;
pub mod codec;
pub mod follow;
pub mod keys;
pub mod restore;
pub mod scope;
pub mod snapshot;
pub mod store;
#[cfg(test)]
mod tests;

pub use backend::Backend;
pub use scope::StateScope;
pub use store::{StateFull, StateStore};
