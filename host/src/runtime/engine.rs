//! The process-wide wasmtime engine: one per process, shared by every
//! worker, with the epoch ticker that wakes deadline checks and an on-disk
//! cache of compiled code so a restart does not recompile plugins.

use super::bindings::{v1, v2};
use super::host::HostState;
use anyhow::{Context, Result};

/// wasmtime has its own error type; this turns it into `anyhow` for context.
fn ah(e: wasmtime::Error) -> anyhow::Error {
    e.into()
}
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker};

/// How often the epoch advances. A deadline check costs nothing until an
/// epoch passes, so 10 ms keeps the check cheap and the reaction quick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Engine settings.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Where compiled code is cached; `None` uses `$WASP_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/wasp`, else `~/.cache/wasp`.
    pub cache_dir: Option<PathBuf>,
    /// Disable the compiled-code cache (benchmarks of compile time).
    pub no_cache: bool,
    /// Enable fuel metering. Needed when any stage sets `limits.fuel`; off
    /// otherwise because metering slows every plugin down.
    pub fuel: bool,
    /// Use wasmtime's pooling instance allocator: memories, tables and
    /// instances come from slots reserved up front, so instantiation (and
    /// recycling a poisoned instance) costs less. Off by default: the pool
    /// reserves address space at start (about 1.6 TiB, not committed).
    pub pooling: bool,
}

/// The pool used when [`EngineOptions::pooling`] is set. Sized for 16
/// workers × several stages with room for hot reloads; a memory slot's
/// maximum is left at wasmtime's 4 GiB so the per-stage cap
/// (`limits.memory_mib`, enforced by the store limiter) stays the only
/// memory limit a plugin sees. About 1.6 TiB of address space is reserved
/// (not committed).
fn pooling_config() -> wasmtime::PoolingAllocationConfig {
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_component_instances(256)
        .total_core_instances(1024)
        .total_memories(400)
        .total_tables(400)
        // Interpreted-language runtimes have large function tables.
        .table_elements(100_000)
        .max_unused_warm_slots(64);
    pool
}

/// Advances the engine's epoch until dropped, then joins its thread.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: wasmtime::Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wasp-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker { stop, thread: Some(thread) }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Inner {
    engine: wasmtime::Engine,
    linker: Linker<HostState>,
    fuel: bool,
    _ticker: EpochTicker,
}

/// The shared engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WASP_CACHE_DIR") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("wasp")
}

impl Engine {
    /// Build the engine, its linker and its epoch ticker.
    pub fn new(opts: &EngineOptions) -> Result<Self> {
        let mut config = wasmtime::Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .consume_fuel(opts.fuel)
            .parallel_compilation(true);
        if opts.pooling {
            config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(
                pooling_config(),
            ));
        }
        if !opts.no_cache {
            let dir = opts.cache_dir.clone().unwrap_or_else(default_cache_dir);
            let mut cc = wasmtime::CacheConfig::new();
            cc.with_directory(&dir);
            let cache = wasmtime::Cache::new(cc).map_err(ah).with_context(|| {
                format!("opening the compiled-plugin cache in {}", dir.display())
            })?;
            config.cache(Some(cache));
        }
        let engine =
            wasmtime::Engine::new(&config).map_err(ah).context("creating the wasmtime engine")?;
        let mut linker = Linker::new(&engine);
        // Both contract versions' imports: their interface names differ by
        // version, so one linker serves 0.1 and 0.2 plugins.
        v1::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(ah)
            .context("linking the wasp:plugin@0.1.0 imports")?;
        v2::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(ah)
            .context("linking the wasp:plugin@0.2.0 imports")?;
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(ah).context("linking WASI")?;
        let ticker = EpochTicker::start(engine.clone());
        Ok(Engine { inner: Arc::new(Inner { engine, linker, fuel: opts.fuel, _ticker: ticker }) })
    }

    /// Whether fuel metering is on.
    pub fn fuel_enabled(&self) -> bool {
        self.inner.fuel
    }

    /// The wasmtime engine.
    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.engine
    }

    /// The linker with every import a plugin may use.
    pub fn linker(&self) -> &Linker<HostState> {
        &self.inner.linker
    }
}
