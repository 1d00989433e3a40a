//! A deliberately hostile plugin for testing wasp's sandbox and fault
//! isolation. Every record passes unchanged except the "poison" ones, on
//! which the plugin misbehaves the way its config says.
//!
//! A record is poison when its JSON value has a numeric field `id` that is
//! divisible by `every`, or equal to `poison_id`. Config:
//!
//! ```toml
//! [stage.config]
//! mode = "loop"      # loop | alloc | panic | stack | outputs | huge | reject | topic
//!                    # | state | log | counters
//! every = 1000       # and/or
//! poison_id = 42
//! outputs = 10000    # modes "outputs", "log", "counters": how many outputs,
//!                    # log lines or counter names
//! huge_mib = 100     # modes "huge", "reject", "state": size of the value,
//!                    # reason or state value, in MiB
//! tally = true       # every record first adds 1 to stage state `tally/<id>`
//!                    # (so a write applied twice shows as 2)
//! init_wipe = true   # `init` deletes every stage key before it checks
//!                    # `every`/`poison_id` (as a model that resets itself on
//!                    # a config change, then refuses the config)
//! ```
//!
//! Never use it in a real pipeline.
use serde::Deserialize;
use std::hint::black_box;
use wasp_sdk::{BatchInfo, Level, Message, Output, Plugin, PluginInfo, Verdict};

/// What to do on a poison record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Spin forever.
    Loop,
    /// Allocate (and touch) memory until the allocator fails.
    Alloc,
    /// `panic!` (a trap: Rust plugins are built with `panic = "abort"`).
    Panic,
    /// Recurse until the Wasm stack overflows.
    Stack,
    /// Emit `outputs` outputs for the one record.
    Outputs,
    /// Return a value of `huge_mib` MiB.
    Huge,
    /// Reject the record with a reason of `huge_mib` MiB.
    Reject,
    /// Emit to a topic whose name is far longer than Kafka allows.
    Topic,
    /// Store `huge_mib` MiB of state under a key of its own, then pass.
    State,
    /// Log `outputs` lines, then pass.
    Log,
    /// Add to `outputs` counters with names of their own, then pass.
    Counters,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    mode: Mode,
    every: Option<u64>,
    poison_id: Option<u64>,
    #[serde(default = "default_outputs")]
    outputs: usize,
    #[serde(default = "default_huge_mib")]
    huge_mib: usize,
    #[serde(default)]
    tally: bool,
    #[serde(default)]
    init_wipe: bool,
}

fn default_outputs() -> usize {
    10_000
}

fn default_huge_mib() -> usize {
    100
}

/// The hostile plugin.
#[derive(Debug)]
pub struct Hostile {
    config: Config,
}

impl Hostile {
    /// Whether the record with this value is one to misbehave on.
    pub fn is_poison(&self, value: Option<&[u8]>) -> Option<u64> {
        let v: serde_json::Value = serde_json::from_slice(value?).ok()?;
        let id = v.get("id")?.as_u64()?;
        let by_every = self.config.every.is_some_and(|e| e > 0 && id % e == 0);
        let by_id = self.config.poison_id == Some(id);
        (by_every || by_id).then_some(id)
    }

    /// The configured misbehaviour. Only `outputs`, `huge`, `reject`,
    /// `topic`, `state`, `log` and `counters` return.
    pub fn misbehave(&self, id: u64) -> Verdict {
        match self.config.mode {
            Mode::Loop => spin(),
            Mode::Alloc => hoard(),
            Mode::Panic => panic!("hostile plugin panics on record id {id}"),
            Mode::Stack => {
                let depth = dive(id);
                Verdict::Value(depth.to_string().into_bytes())
            }
            Mode::Outputs => Verdict::Emit(
                (0..self.config.outputs)
                    .map(|i| wasp_sdk::output(format!(r#"{{"id":{id},"copy":{i}}}"#).into_bytes()))
                    .collect::<Vec<Output>>(),
            ),
            Mode::Huge => Verdict::Value(vec![b'x'; self.config.huge_mib << 20]),
            Mode::Reject => Verdict::Reject("r".repeat(self.config.huge_mib << 20)),
            Mode::Topic => {
                Verdict::Emit(vec![wasp_sdk::to_topic(&"t".repeat(10_000), b"{}".to_vec())])
            }
            Mode::State => {
                let key = format!("hoard/{id}");
                wasp_sdk::state::set(
                    wasp_sdk::Scope::Stage,
                    &key,
                    &vec![1; self.config.huge_mib << 20],
                );
                Verdict::Pass
            }
            Mode::Log => {
                for i in 0..self.config.outputs {
                    wasp_sdk::log(Level::Info, &format!("record {id}: line {i}"));
                }
                Verdict::Pass
            }
            Mode::Counters => {
                for i in 0..self.config.outputs {
                    wasp_sdk::counter_add(&format!("c-{id}-{i}"), 1);
                }
                Verdict::Pass
            }
        }
    }
}

fn spin() -> ! {
    let mut i: u64 = 0;
    loop {
        i = black_box(i.wrapping_add(1));
    }
}

fn hoard() -> ! {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        // Filled with ones, not zeros, so every page is really touched.
        kept.push(black_box(vec![1u8; 1 << 20]));
    }
}

#[allow(unconditional_recursion)]
fn dive(n: u64) -> u64 {
    let frame = black_box([n; 32]);
    dive(frame[0].wrapping_add(1)).wrapping_add(frame[31])
}

impl Plugin for Hostile {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "misbehaves on chosen records to test the sandbox; never use in production".into(),
        }
    }

    fn init(config: &str) -> Result<Self, String> {
        let config: Config = wasp_sdk::parse_config(config)?;
        if config.init_wipe {
            for key in wasp_sdk::state::keys(wasp_sdk::Scope::Stage, "") {
                wasp_sdk::state::delete(wasp_sdk::Scope::Stage, &key);
            }
        }
        if config.every.is_none() && config.poison_id.is_none() {
            return Err("set `every` (misbehave on ids divisible by it) or `poison_id`".into());
        }
        // The message of a panic would otherwise be lost (panic = "abort"
        // traps with `unreachable`); log it, so the host quotes it in the
        // fault's reason. (Not "panicked at": the tests look for that word
        // in wasp's own output to catch a panic of the host.)
        std::panic::set_hook(Box::new(|p| {
            let what = p
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.payload().downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            let at =
                p.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
            wasp_sdk::log(Level::Error, &format!("plugin panic{at}: {what}"));
        }));
        Ok(Hostile { config })
    }

    fn process(&mut self, _info: &BatchInfo, record: Message) -> Verdict {
        if self.config.tally {
            tally(record.value.as_deref());
        }
        match self.is_poison(record.value.as_deref()) {
            Some(id) => self.misbehave(id),
            None => Verdict::Pass,
        }
    }
}

/// Add 1 to the stage state `tally/<id>` (a decimal count) of a record
/// with a numeric `id`.
fn tally(value: Option<&[u8]>) {
    let id = value
        .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
        .and_then(|v| v.get("id").and_then(|id| id.as_u64()));
    let Some(id) = id else { return };
    let key = format!("tally/{id}");
    let seen = wasp_sdk::state::get(wasp_sdk::Scope::Stage, &key)
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    wasp_sdk::state::set(wasp_sdk::Scope::Stage, &key, (seen + 1).to_string().as_bytes());
}

wasp_sdk::export_plugin!(Hostile);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_poison_records() {
        let h = Hostile::init(r#"{"mode":"panic","every":3,"poison_id":7}"#).unwrap();
        let ids: Vec<u64> = (0..10)
            .filter_map(|i| h.is_poison(Some(format!(r#"{{"id":{i}}}"#).as_bytes())))
            .collect();
        assert_eq!(ids, vec![0, 3, 6, 7, 9]);
        assert_eq!(h.is_poison(Some(b"not json")), None);
        assert_eq!(h.is_poison(None), None);
        assert!(Hostile::init(r#"{"mode":"loop"}"#).is_err());
        assert!(Hostile::init(r#"{"mode":"sing","every":1}"#).is_err());
    }

    #[test]
    fn outputs_and_huge_return() {
        let h = Hostile::init(r#"{"mode":"outputs","every":1,"outputs":5}"#).unwrap();
        assert!(matches!(h.misbehave(1), Verdict::Emit(o) if o.len() == 5));
        let h = Hostile::init(r#"{"mode":"huge","every":1,"huge_mib":2}"#).unwrap();
        assert!(matches!(h.misbehave(1), Verdict::Value(v) if v.len() == 2 << 20));
    }
}
