//! One stage version as every worker shares it: plugin, files, config,
//! limits, fault policy, and the health record that disables it.

use super::health::StageHealth;
use crate::error::PluginError;
use crate::metrics::StageMetrics;
use crate::runtime::{
    Fault, FaultPolicy, InstanceContext, Limits, OnDisabled, Plugin, PluginInstance, StageFiles,
};
use crate::state::StateScope;
use std::sync::Arc;

/// One stage, shared by all workers.
pub struct StageSpec {
    /// Stage name.
    pub name: String,
    /// Plugin version in use.
    pub plugin: Arc<Plugin>,
    /// The stage version: the plugin's content hash, combined with the
    /// files' when the stage has files; shared by every output it produces.
    pub version: Arc<str>,
    /// Config JSON for `init`.
    pub config_json: String,
    /// Limits.
    pub limits: Limits,
    /// Counters.
    pub metrics: Arc<StageMetrics>,
    /// State namespace.
    pub state: StateScope,
    /// The files the pipeline gives the stage.
    pub files: Arc<StageFiles>,
    /// When the stage is disabled and what happens then.
    pub faults: FaultPolicy,
    /// Whether this version still calls its plugin. Every spec starts
    /// enabled, so a hot reload (a new spec) enables a disabled stage again.
    pub health: StageHealth,
}

impl StageSpec {
    /// A stage at start: a fresh record, enabled.
    pub fn new(
        name: String,
        plugin: Arc<Plugin>,
        files: Arc<StageFiles>,
        config_json: String,
        limits: Limits,
        faults: FaultPolicy,
        state: StateScope,
    ) -> StageSpec {
        StageSpec {
            version: files.version(plugin.version()).into(),
            name,
            plugin,
            config_json,
            limits,
            metrics: Arc::default(),
            state,
            files,
            faults,
            health: StageHealth::default(),
        }
    }

    /// The same stage with another plugin version, files, config or limits;
    /// state and counters carry over, so a reload keeps what the plugin
    /// learned.
    pub fn with(
        &self,
        plugin: Arc<Plugin>,
        files: Arc<StageFiles>,
        config_json: String,
        limits: Limits,
        faults: FaultPolicy,
    ) -> StageSpec {
        StageSpec {
            name: self.name.clone(),
            version: files.version(plugin.version()).into(),
            plugin,
            files,
            config_json,
            limits,
            metrics: self.metrics.clone(),
            state: self.state.clone(),
            faults,
            // A new version (or policy) starts with a clean record, so a
            // reload is how an operator re-enables a disabled stage.
            health: StageHealth::default(),
        }
    }

    /// Start and initialise an instance, as a worker would.
    pub fn start_instance(&self) -> Result<PluginInstance, PluginError> {
        self.plugin.instantiate(self.context())
    }

    /// Check that this version starts with its config, changing no state:
    /// what `init` writes is applied only by the workers' instances, once
    /// the version is accepted.
    pub fn validate(&self) -> Result<(), PluginError> {
        self.plugin.validate(self.context())
    }

    fn context(&self) -> InstanceContext {
        InstanceContext {
            stage: self.name.clone(),
            config_json: self.config_json.clone(),
            limits: self.limits,
            state: self.state.clone(),
            metrics: self.metrics.clone(),
            files: self.files.clone(),
        }
    }

    pub(crate) fn plugin_name(&self) -> String {
        self.plugin.path().file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Count one record's result towards the failure streak; disable the
    /// stage when the streak reaches the policy's threshold.
    pub(crate) fn track(&self, failure: Option<&Fault>) {
        let Some(fault) = failure else {
            return self.health.succeeded();
        };
        let n = self.health.failed();
        let max = self.faults.max_consecutive_failures;
        if max == 0 || n < max {
            return;
        }
        let reason = format!(
            "stage '{}' is disabled: plugin {} failed {n} records in a row \
             ([stage.faults] max_consecutive_failures = {max}); the last failure was {fault}",
            self.name,
            self.plugin_name(),
        );
        if self.health.disable(reason.clone()) {
            let then = match self.faults.on_disabled {
                OnDisabled::Stop => "on_disabled = \"stop\": the pipeline stops",
                OnDisabled::DeadLetter => {
                    "on_disabled = \"dead-letter\": every record reaching the stage now goes \
                     to the dead-letter topic (kind \"disabled\") without calling the plugin"
                }
            };
            tracing::error!(
                stage = %self.name,
                "STAGE DISABLED: {reason}. {then}. Fix the plugin, its config or its limits, \
                 then restart wasp or hot-reload the stage"
            );
        }
    }
}
