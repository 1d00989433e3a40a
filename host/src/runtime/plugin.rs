//! A plugin file compiled, checked against the world, and ready to
//! instantiate many times.

use super::abi::Pre;
use super::engine::Engine;
use super::instance::{InstanceContext, PluginInstance};
use crate::error::PluginError;
use crate::record::PluginInfo;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The first bytes of every Wasm binary; the next four say module or component.
const WASM_MAGIC: &[u8; 4] = b"\0asm";
/// Version/layer word of a core module.
const CORE_MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];

/// A loaded plugin version. Cheap to share between workers.
pub struct Plugin {
    path: PathBuf,
    version: String,
    pre: Pre,
    engine: Engine,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("path", &self.path).field("version", &self.version).finish()
    }
}

fn check_header(path: &Path, bytes: &[u8]) -> Result<(), PluginError> {
    if bytes.len() < 8 || &bytes[..4] != WASM_MAGIC {
        return Err(PluginError::NotWasm { path: path.into() });
    }
    if bytes[4..8] == CORE_MODULE_VERSION {
        return Err(PluginError::CoreModule { path: path.into() });
    }
    Ok(())
}

impl Plugin {
    /// Read, compile (or fetch from the cache) and type-check a plugin file.
    pub fn load(engine: &Engine, path: &Path) -> Result<Arc<Plugin>, PluginError> {
        let bytes = std::fs::read(path)
            .map_err(|source| PluginError::Unreadable { path: path.into(), source })?;
        Self::from_bytes(engine, path, &bytes)
    }

    /// Compile and type-check plugin bytes; `path` names them in errors.
    pub fn from_bytes(
        engine: &Engine,
        path: &Path,
        bytes: &[u8],
    ) -> Result<Arc<Plugin>, PluginError> {
        check_header(path, bytes)?;
        let component = wasmtime::component::Component::new(engine.wasmtime(), bytes)
            .map_err(|e| PluginError::Invalid { path: path.into(), detail: format!("{e:#}") })?;
        let wrong_world = |e: wasmtime::Error| PluginError::WrongWorld {
            path: path.into(),
            detail: format!("{e:#}"),
        };
        let instance_pre = engine.linker().instantiate_pre(&component).map_err(wrong_world)?;
        let pre = Pre::new(instance_pre)
            .map_err(|detail| PluginError::WrongWorld { path: path.into(), detail })?;
        let digest = Sha256::digest(bytes);
        Ok(Arc::new(Plugin {
            path: path.into(),
            version: hex::encode(&digest[..6]),
            pre,
            engine: engine.clone(),
        }))
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Content hash (12 hex digits) identifying this version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The engine it was compiled for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn pre(&self) -> &Pre {
        &self.pre
    }

    /// The contract version the plugin implements, e.g. `0.2.0`.
    pub fn contract(&self) -> &'static str {
        self.pre.contract()
    }

    /// Start an instance and initialise it with the stage's config.
    pub fn instantiate(
        self: &Arc<Self>,
        ctx: InstanceContext,
    ) -> Result<PluginInstance, PluginError> {
        PluginInstance::start(self.clone(), ctx)
    }

    /// Check that an instance starts and accepts the stage's config,
    /// leaving the state as it was (a version being validated may still be
    /// refused).
    pub fn validate(self: &Arc<Self>, ctx: InstanceContext) -> Result<(), PluginError> {
        PluginInstance::validate(self.clone(), ctx)
    }

    /// Ask a fresh, unconfigured instance for the plugin's info.
    pub fn info(self: &Arc<Self>) -> Result<PluginInfo, PluginError> {
        PluginInstance::probe_info(self.clone())
    }
}
