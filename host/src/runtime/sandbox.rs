//! The WASI context a plugin gets: nothing but its stdout and stderr.
//!
//! Python and JavaScript runtimes import WASI and cannot start without it,
//! so it is linked, but it grants no files (no preopens), no environment,
//! no arguments, no network, no stdin, and frozen clocks (unless the stage
//! grants `clock = "real"`), so a plugin's output depends only on its input,
//! config and state.
//! stdout and stderr go to wasp's log, line by line, under the plugin's
//! label (see [`super::stdio`]).

use super::limits::ClockGrant;
use super::logbudget::LogBudget;
use super::stdio::{PluginOutput, Stream};
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

/// What the frozen monotonic clock reads: one second, forever. Not zero,
/// because Go's runtime refuses to start on a monotonic clock that reads 0
/// ("nanotime returning zero"); a constant keeps outputs deterministic all
/// the same. See docs/sandbox.md.
const FROZEN_MONOTONIC_NS: u64 = 1_000_000_000;

/// A clock that never moves: the wall clock at the Unix epoch, the
/// monotonic clock at [`FROZEN_MONOTONIC_NS`].
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        FROZEN_MONOTONIC_NS
    }
}

/// A WASI context that grants nothing but, when the stage says so, the real
/// clocks; stdout and stderr are logged under `label`, within `budget`.
pub fn empty_wasi(label: Arc<str>, clock: ClockGrant, budget: LogBudget) -> WasiCtx {
    let mut b = WasiCtxBuilder::new();
    b.stdout(PluginOutput::new(label.clone(), Stream::Stdout, budget.clone()))
        .stderr(PluginOutput::new(label, Stream::Stderr, budget));
    if clock == ClockGrant::Frozen {
        b.wall_clock(FrozenClock).monotonic_clock(FrozenClock);
    }
    b.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false).build()
}
