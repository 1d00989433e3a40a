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

// ---- State in Kafka (issue 15, items 1, 3 and 4): `wasp run` processes
// over the broker with `[state] changelog = true`.

use crate::broker::{self, Wasp};
use std::time::{Duration, Instant};

/// `{"id":i,"x":…}` records keyed by id, with values spread enough for a
/// forest to fit.
fn readings(ids: std::ops::Range<u64>) -> Vec<(String, Vec<u8>)> {
    ids.map(|i| (i.to_string(), format!(r#"{{"id":{i},"x":{}}}"#, (i * 37) % 101).into_bytes()))
        .collect()
}

/// Output values by id (the last one read for an id wins).
fn outputs_by_id(topic: &str) -> std::collections::BTreeMap<u64, serde_json::Value> {
    broker::read(topic, Duration::from_secs(2))
        .iter()
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(r.value.as_ref()?).ok())
        .filter_map(|v| Some((v["id"].as_u64()?, v)))
        .collect()
}

/// Wait until the output holds every id of `ids`.
fn wait_for_ids(topic: &str, ids: std::ops::Range<u64>, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        let got = outputs_by_id(topic);
        if ids.clone().all(|i| got.contains_key(&i)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    false
}

#[test]
fn a_partition_moved_by_kill_9_keeps_its_anomaly_detector_past_warm_up() {
    let _b = broker::shared();
    let dir = temp_dir("state-move");
    let (input, output, dlq) =
        (broker::unique("sm-in"), broker::unique("sm-out"), broker::unique("sm-dlq"));
    broker::create(&[&input], 2);
    broker::create(&[&output, &dlq], 1);
    let p = broker::pipeline(
        &dir,
        "state-move",
        &format!("input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\""),
        &format!(
            "[state]\nchangelog = true\n{}",
            broker::stage("detect", "anomaly", "features = [\"x\"]\nwarmup = 20\ntrees = 20\nsample_size = 16")
        ),
    );
    let a = Wasp::start(&p, &[], "a");
    assert!(a.wait_for_log("partition assigned", Duration::from_secs(30)), "{}", a.log());
    let b = Wasp::start(&p, &[], "b");
    assert!(b.wait_for_log("partition assigned", Duration::from_secs(30)), "{}", b.log());
    // Ids 0..25 on partition 0, 100..125 on partition 1: 20 warm-up
    // records each, then scores.
    broker::produce_to(&input, 0, &readings(0..25));
    broker::produce_to(&input, 1, &readings(100..125));
    assert!(
        wait_for_ids(&output, 0..25, Duration::from_secs(60))
            && wait_for_ids(&output, 100..125, Duration::from_secs(10)),
        "first records not processed:\nA:\n{}\nB:\n{}",
        a.log(),
        b.log()
    );
    // Both processes own a partition; A dies without a word, with its last
    // offsets perhaps uncommitted (then its tail is replayed by B).
    let a_log = a.log();
    a.kill9();
    broker::produce_to(&input, 0, &readings(25..35));
    broker::produce_to(&input, 1, &readings(125..135));
    assert!(
        wait_for_ids(&output, 25..35, Duration::from_secs(60))
            && wait_for_ids(&output, 125..135, Duration::from_secs(10)),
        "records after the kill not processed:\nA:\n{a_log}\nB:\n{}",
        b.log()
    );
    let out = outputs_by_id(&output);
    for id in (25..35).chain(125..135) {
        let v = &out[&id];
        assert!(
            v["status"] != "WARMUP" && v["anomaly_score"].is_number(),
            "record {id} after the move was not scored: the detector warmed up again: {v}\nB:\n{}",
            b.log()
        );
    }
    assert!(
        b.log().contains("partition state restored from the changelog"),
        "B did not restore the moved partition:\n{}",
        b.log()
    );
    b.sigterm();
    b.wait_ok(Duration::from_secs(30));
}
