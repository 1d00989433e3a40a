//! Project tasks that need more than one cargo invocation.
//!
//! `cargo xtask plugins` builds every plugin from source into `plugins/dist/`:
//! the Rust guests for `wasm32-unknown-unknown` (rustup's target, or Debian's
//! `rustc-web` with `-Zbuild-std` where the target cannot be downloaded), then
//! turns each core module into a component, then builds the non-Rust plugins
//! with their own scripts. It is idempotent: unchanged inputs cost seconds.
//!
//! `cargo xtask plugins --rust-only` builds the Rust plugins alone, with no
//! Python, JavaScript, C or Go toolchain; `--only knn,anomaly` builds just
//! the Rust plugins named (what the demo's pipelines use).
//!
//! The component encoder (and the C and Go builds' binding generator) is
//! the `component-tools` crate of this workspace, built beside the guests.

mod component_tools;
mod rust_guests;
mod toolchain;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flags: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    match (args.first().map(String::as_str), flags.as_slice()) {
        (Some("plugins"), []) => build_all(&root(), false, None),
        (Some("plugins"), ["--rust-only"]) => build_all(&root(), true, None),
        (Some("plugins"), ["--only", list]) => {
            let names: Vec<String> = list.split(',').map(str::to_string).collect();
            build_all(&root(), true, Some(&names))
        }
        _ => {
            eprintln!(
                "usage: cargo xtask plugins [--rust-only | --only NAME,NAME]\n  builds every \
                 plugin into plugins/dist/ (--rust-only: the Rust plugins only; --only: the \
                 Rust plugins named, e.g. knn,anomaly)"
            );
            std::process::exit(2);
        }
    }
}

/// The repository root (this crate lives in `<root>/xtask`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask has a parent").to_path_buf()
}

fn build_all(root: &Path, rust_only: bool, only: Option<&[String]>) -> Result<()> {
    let dist = root.join("plugins/dist");
    std::fs::create_dir_all(&dist).with_context(|| format!("creating {}", dist.display()))?;
    let built = rust_guests::build(root, &dist, only)?;
    for p in &built {
        println!("built {}", p.display());
    }
    if rust_only {
        return Ok(());
    }
    run_script(root, "scripts/build-python-plugins")?;
    run_script(root, "scripts/build-js-plugins")?;
    run_script(root, "scripts/build-c-plugins")?;
    run_script(root, "scripts/build-go-plugins")?;
    Ok(())
}

/// Run one of the per-language build scripts; a failure stops the build.
fn run_script(root: &Path, script: &str) -> Result<()> {
    let path = root.join(script);
    if !path.exists() {
        bail!("{} is missing: the checkout is incomplete", path.display());
    }
    let status = Command::new("bash")
        .arg(&path)
        .current_dir(root)
        .status()
        .with_context(|| format!("running {}", path.display()))?;
    if !status.success() {
        bail!("{script} failed ({status}); its output above says why");
    }
    Ok(())
}
