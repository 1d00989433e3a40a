//! A monotonic clock for timing fits.
//!
//! Rust plugins target `wasm32-unknown-unknown`, which has no clock (std's
//! `Instant` panics there), so in Wasm this imports WASI's
//! `monotonic-clock.now`, which wasp links for every plugin. Under the
//! default sandbox it is frozen (it always reads one second), so a fit
//! measures 0 and the status event says `"fit_ms": null`; a stage granted
//! `[stage.limits] clock = "real"` gets real fit times.

/// Nanoseconds on a monotonic clock with an arbitrary origin.
pub fn now_ns() -> u64 {
    imp::now_ns()
}

/// Milliseconds from `start_ns` to now; `None` when the clock did not move
/// (the sandbox's frozen clock: no real fit takes zero nanoseconds).
pub fn elapsed_ms(start_ns: u64) -> Option<f64> {
    let ns = now_ns().saturating_sub(start_ns);
    (ns > 0).then(|| ns as f64 / 1e6)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    // clock.wit's bindings, checked in (scripts/rust-bindings).
    include!("clock_bindings.rs");

    pub fn now_ns() -> u64 {
        wasi::clocks::monotonic_clock::now()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::sync::OnceLock;
    use std::time::Instant;

    static ORIGIN: OnceLock<Instant> = OnceLock::new();

    pub fn now_ns() -> u64 {
        // Not zero at the first read, like WASI's clock, so that an
        // elapsed time is never mistaken for a frozen clock's.
        ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
    }
}
