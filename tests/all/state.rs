//! State written by a plugin call counts only when the call succeeds, and a
//! new plugin version changes no state until it is accepted (issue 15,
//! items 3 and 5): the hostile plugin's `tally` counts each record in stage
//! state, so a write applied twice shows as 2; its `init_wipe` deletes every
//! key in `init`, as a model that resets itself on a new config would.

use crate::common::{plugin, temp_dir, write_pipeline};
use std::path::PathBuf;
use std::sync::Arc;
use wasp::config::PipelineConfig;
use wasp::pipeline::{Pipeline, PipelineInstance};
use wasp::record::{BatchInfo, Record};
use wasp::reload::{Outcome, Reloader};
use wasp::runtime::{Engine, EngineOptions};

fn records(ids: std::ops::RangeInclusive<u64>) -> Vec<Record> {
    ids.map(|id| Record {
        offset: id as i64,
        timestamp: None,
        key: None,
        value: Some(format!(r#"{{"id":{id}}}"#).into_bytes()),
        headers: vec![],
    })
    .collect()
}

fn pipeline_toml(config: &str) -> String {
    format!(
        "name = \"tally\"\n[[stage]]\nname = \"h\"\nplugin = \"{}\"\n[stage.config]\n{config}\n",
        plugin("hostile").display()
    )
}

/// The tallies in stage state, as (id, count) in key order.
fn tallies(pipeline: &Pipeline) -> Vec<(String, String)> {
    let prefix = "tally/h/stage/tally/";
    pipeline
        .state
        .keys(prefix)
        .into_iter()
        .map(|k| {
            let v = pipeline.state.get(&k).unwrap();
            (k[prefix.len()..].to_string(), String::from_utf8(v).unwrap())
        })
        .collect()
}

/// A pipeline of one hostile stage with `config`, in a directory of its
/// own, and one instance of it on [`info`]'s partition.
struct Started {
    path: PathBuf,
    cfg: PipelineConfig,
    engine: Engine,
    pipeline: Arc<Pipeline>,
    instance: PipelineInstance,
}

fn start(tag: &str, config: &str) -> Started {
    let path = write_pipeline(&temp_dir(tag), &pipeline_toml(config));
    let cfg = PipelineConfig::load(&path).unwrap();
    let engine = Engine::new(&EngineOptions::default()).unwrap();
    let pipeline = Arc::new(Pipeline::load(&engine, &cfg).unwrap());
    let mut instance = pipeline.instantiate().unwrap();
    instance.set_partition(&info().topic, info().partition);
    Started { path, cfg, engine, pipeline, instance }
}

fn info() -> BatchInfo {
    BatchInfo { topic: "t".into(), partition: 0 }
}

fn ones(ids: &[u64]) -> Vec<(String, String)> {
    let mut v: Vec<_> = ids.iter().map(|i| (i.to_string(), "1".to_string())).collect();
    v.sort();
    v
}

#[test]
fn a_call_that_traps_leaves_no_state_writes_and_the_retry_writes_each_record_once() {
    let Started { pipeline, mut instance, .. } = start(
        "state-trap",
        "mode = \"panic\"
poison_id = 5
tally = true",
    );

    // The batch call tallies 1..=4, then traps on 5: its writes are thrown
    // away, and the record-by-record retry tallies every record but 5 once.
    let outcomes = instance.process(&info(), &records(1..=10));
    let failed: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.failures.is_empty())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(failed, vec![4], "only record 5 fails: {outcomes:?}");
    assert_eq!(tallies(&pipeline), ones(&[1, 2, 3, 4, 6, 7, 8, 9, 10]));
}

#[test]
fn a_refused_reload_leaves_state_untouched_and_an_accepted_one_applies_on_swap() {
    let Started { path, cfg, engine, pipeline, mut instance } = start(
        "state-reload",
        "mode = \"panic\"
poison_id = 99
tally = true",
    );
    let dir = path.parent().unwrap().to_path_buf();
    instance.process(&info(), &records(1..=3));
    assert_eq!(tallies(&pipeline), ones(&[1, 2, 3]));
    let reloader = Reloader::new(engine, pipeline.clone(), &path, cfg);

    // A new config whose init wipes the state, then refuses itself (no
    // `every` or `poison_id`): refused, and the wipe never happened.
    write_pipeline(&dir, &pipeline_toml("mode = \"panic\"\ntally = true\ninit_wipe = true"));
    let outcomes = reloader.reload();
    assert!(matches!(outcomes.as_slice(), [Outcome::Refused { .. }]), "{outcomes:?}");
    assert_eq!(tallies(&pipeline), ones(&[1, 2, 3]), "a refused version changed state");

    // A config whose init wipes and is accepted: validating it changes
    // nothing; the wipe happens when a worker takes the new version up.
    write_pipeline(
        &dir,
        &pipeline_toml("mode = \"panic\"\npoison_id = 99\ntally = true\ninit_wipe = true"),
    );
    let outcomes = reloader.reload();
    assert!(matches!(outcomes.as_slice(), [Outcome::Swapped { .. }]), "{outcomes:?}");
    assert_eq!(tallies(&pipeline), ones(&[1, 2, 3]), "validation changed state");
    instance.process(&info(), &records(7..=7));
    assert_eq!(tallies(&pipeline), ones(&[7]), "the accepted version's init ran on the swap");
}
