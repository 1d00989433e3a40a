//! SIGINT/SIGTERM start a graceful shutdown; a second signal exits at once.

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set by the first signal, for code that waits where the run's own flag
/// does not reach (a table sink retrying an unreachable database).
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Whether a signal asked the process to stop.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Set `flag` on the first SIGINT or SIGTERM; exit(130) on the second.
pub fn on_shutdown(flag: Arc<AtomicBool>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("starting the signal listener")?;
    std::thread::Builder::new().name("wasp-signals".into()).spawn(move || {
        rt.block_on(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) =
                (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
            else {
                tracing::error!("cannot listen for signals; stop wasp with SIGKILL");
                return;
            };
            for n in 0.. {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
                if n > 0 {
                    eprintln!("wasp: second signal, exiting without draining");
                    std::process::exit(130);
                }
                tracing::info!("signal received: draining, flushing and committing (signal again to exit at once)");
                flag.store(true, Ordering::Relaxed);
                REQUESTED.store(true, Ordering::Relaxed);
            }
        })
    })?;
    Ok(())
}
