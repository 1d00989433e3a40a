//! The workspace's `component-tools` binary, which turns the guests' core
//! modules into components. The C and Go builds use it too
//! (scripts/lib/component-tools.sh); one build serves them all, where
//! xtask linking wit-component itself compiled that library stack a second
//! time with other features (docs/decisions.md, "Component tools").

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// `cargo build -p component-tools`, running.
pub struct ComponentTools {
    build: Child,
    binary: PathBuf,
}

/// The built binary.
pub struct Built {
    binary: PathBuf,
}

impl ComponentTools {
    /// Start building it in the checkout's own target dir, named on the
    /// command line so that no `CARGO_TARGET_DIR` or `build.target-dir`
    /// moves it, in the `tools` profile and with plain rustc, as
    /// scripts/lib/component-tools.sh does, so both share one build.
    pub fn start_build(root: &Path) -> Result<ComponentTools> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let target_dir = root.join("target");
        let build = Command::new(&cargo)
            .current_dir(root)
            .args(["build", "--quiet", "--profile", "tools", "-p", "component-tools"])
            .arg("--target-dir")
            .arg(&target_dir)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("CLIPPY_ARGS")
            .spawn()
            .with_context(|| format!("running {cargo} build --profile tools -p component-tools"))?;
        Ok(ComponentTools { build, binary: target_dir.join("tools/component-tools") })
    }

    /// Wait for the build.
    pub fn finish(mut self) -> Result<Built> {
        let status = self.build.wait().context("waiting for the component-tools build")?;
        if !status.success() {
            bail!("building component-tools failed ({status}); the compiler output above says why");
        }
        Ok(Built { binary: self.binary })
    }
}

impl Built {
    /// `component-tools component new MODULE -o OUT`: validated, and `OUT`
    /// left untouched when it already holds the same bytes.
    pub fn component_new(&self, module: &Path, out: &Path) -> Result<()> {
        let status = Command::new(&self.binary)
            .args(["component", "new"])
            .arg(module)
            .arg("-o")
            .arg(out)
            .status()
            .with_context(|| format!("running {}", self.binary.display()))?;
        if !status.success() {
            bail!("turning {} into a component failed ({status}); see above", module.display());
        }
        Ok(())
    }
}
