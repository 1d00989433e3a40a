//! Picks a Rust toolchain that can build `wasm32-unknown-unknown`.
//!
//! rustup's prebuilt std for the target is preferred (seconds to install).
//! Where it cannot be downloaded, Debian's `rustc-web`/`cargo-web` with the
//! std sources (`rust-web-src`) build std from source with `-Zbuild-std`.
//! `WASP_WASM_TOOLCHAIN=debian` forces the second path so it can be tested.

use anyhow::{bail, Result};
use std::path::Path;
use std::process::Command;

/// The wasm target every Rust guest is built for.
pub const TARGET: &str = "wasm32-unknown-unknown";

/// How to invoke cargo for the guests.
pub struct Toolchain {
    /// Human-readable name for the build log.
    pub name: &'static str,
    /// The cargo binary.
    pub cargo: String,
    /// Extra environment (e.g. RUSTC for the Debian toolchain).
    pub env: Vec<(&'static str, String)>,
    /// Extra cargo arguments (e.g. -Zbuild-std).
    pub args: Vec<&'static str>,
}

fn rustup_has_target() -> bool {
    let out = Command::new("rustup").args(["target", "list", "--installed"]).output();
    matches!(out, Ok(o) if o.status.success()
        && String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == TARGET))
}

fn rustup_add_target() -> bool {
    Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn debian() -> Option<Toolchain> {
    let (rustc, cargo) = ("/usr/bin/rustc", "/usr/bin/cargo");
    let src = Path::new("/usr/lib/rustlib/src/rust/library");
    if !(Path::new(rustc).exists() && Path::new(cargo).exists() && src.exists()) {
        return None;
    }
    Some(Toolchain {
        name: "Debian rustc-web with -Zbuild-std",
        cargo: cargo.into(),
        env: vec![("RUSTC", rustc.into()), ("RUSTC_BOOTSTRAP", "1".into())],
        args: vec!["-Zbuild-std=std,panic_abort"],
    })
}

/// Find a working toolchain, installing rustup's target if needed.
pub fn pick() -> Result<Toolchain> {
    let forced_debian = std::env::var("WASP_WASM_TOOLCHAIN").as_deref() == Ok("debian");
    if !forced_debian && (rustup_has_target() || rustup_add_target()) {
        return Ok(Toolchain { name: "rustup", cargo: "cargo".into(), env: vec![], args: vec![] });
    }
    if let Some(t) = debian() {
        return Ok(t);
    }
    bail!(
        "no Rust toolchain can build {TARGET}: run `rustup target add {TARGET}`, or where that \
         cannot download, `apt-get install rustc-web cargo-web rust-web-src lld-22`"
    )
}
