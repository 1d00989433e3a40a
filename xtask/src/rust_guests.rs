//! Builds the Rust guests in `plugins/` and turns them into components.

use crate::component_tools::ComponentTools;
use crate::toolchain::{self, TARGET};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Plugin crates: every member of the plugins workspace that builds a
/// `cdylib` (the SDK and plain libraries such as `model-eval` do not).
fn plugin_crates(plugins: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(plugins)? {
        let dir = entry?.path();
        let name = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if name != "sdk" && manifest.contains("\"cdylib\"") {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Build every Rust plugin, or those of `only`; returns the component
/// paths written.
pub fn build(root: &Path, dist: &Path, only: Option<&[String]>) -> Result<Vec<PathBuf>> {
    let plugins = root.join("plugins");
    let mut crates = plugin_crates(&plugins)?;
    if let Some(only) = only {
        if let Some(unknown) = only.iter().find(|n| !crates.contains(n)) {
            bail!(
                "--only names '{unknown}', which is not a Rust plugin in plugins/ (they are: {})",
                crates.join(", ")
            );
        }
        crates.retain(|c| only.contains(c));
    }
    let tc = toolchain::pick()?;
    // component-tools compiles while the guests do: their final links
    // (one LTO codegen unit each) leave a core idle.
    let tools = ComponentTools::start_build(root)?;
    println!("building Rust plugins with {}", tc.name);
    let mut cmd = Command::new(&tc.cargo);
    cmd.current_dir(&plugins)
        .args(["build", "--release", "--target", TARGET])
        .args(&tc.args)
        // The host's target dir must not leak in: guests have their own.
        .env_remove("CARGO_TARGET_DIR")
        .env("CARGO_TARGET_DIR", plugins.join("target"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    if only.is_some() {
        for c in &crates {
            cmd.args(["-p", c]);
        }
    }
    for (k, v) in &tc.env {
        cmd.env(k, v);
    }
    let status = cmd.status().with_context(|| format!("running {}", tc.cargo))?;
    let tools = tools.finish()?;
    if !status.success() {
        bail!("building the Rust plugins failed ({status}); the compiler output above says why");
    }
    let out_dir = plugins.join("target").join(TARGET).join("release");
    let mut written = Vec::new();
    for name in crates {
        let module = out_dir.join(format!("{}.wasm", name.replace('-', "_")));
        if !module.exists() {
            bail!("{} was not built", module.display());
        }
        let out = dist.join(format!("{name}.wasm"));
        tools.component_new(&module, &out)?;
        written.push(out);
    }
    Ok(written)
}
