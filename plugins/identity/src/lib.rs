//! Forwards every record unchanged. The baseline for boundary-cost benchmarks.
use wasp_sdk::{BatchInfo, Message, Plugin, PluginInfo, Verdict};

/// The identity plugin: every record passes.
pub struct Identity;

impl Plugin for Identity {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "identity".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "forwards every record unchanged".into(),
        }
    }
    fn init(_config: &str) -> Result<Self, String> {
        Ok(Identity)
    }
    fn process(&mut self, _info: &BatchInfo, _record: Message) -> Verdict {
        Verdict::Pass
    }
}

wasp_sdk::export_plugin!(Identity);
