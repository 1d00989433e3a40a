//! The hot-swap slot of a stage: the version workers should run, replaced
//! by a reload and picked up by each worker at its next batch boundary.

use super::spec::StageSpec;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The current version of one stage. Hot reload replaces the spec and
/// bumps the generation; each worker notices at its next batch boundary.
pub struct StageSlot {
    spec: RwLock<Arc<StageSpec>>,
    generation: AtomicU64,
}

impl StageSlot {
    pub(crate) fn new(spec: StageSpec) -> Self {
        StageSlot { spec: RwLock::new(Arc::new(spec)), generation: AtomicU64::new(0) }
    }

    /// The spec workers should run.
    pub fn current(&self) -> Arc<StageSpec> {
        self.spec.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Bumped on every swap.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Make `spec` the stage's version; workers switch at their next batch.
    pub fn swap(&self, spec: StageSpec) {
        *self.spec.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(spec);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}
