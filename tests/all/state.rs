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

/// [`start`] with a stage that tallies every record in stage state and
/// traps on `poison_id`.
fn start_tally(tag: &str, poison_id: u64) -> Started {
    start(tag, &format!("mode = \"panic\"\npoison_id = {poison_id}\ntally = true"))
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
    let Started { pipeline, mut instance, .. } = start_tally("state-trap", 5);

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
    let Started { path, cfg, engine, pipeline, mut instance } = start_tally("state-reload", 99);
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

#[test]
fn a_replayed_batch_applies_no_state_twice_and_the_position_says_where_to_resume() {
    let Started { pipeline, mut instance, .. } = start_tally("state-replay", 99);
    // As a Kafka worker runs a batch: a hold on its inputs, positions
    // recorded with the writes.
    let tracker = std::sync::Arc::new(wasp::offsets::OffsetTracker::default());
    let batch = |instance: &mut PipelineInstance, ids| {
        instance.set_batch(Some(tracker.hold(0)));
        instance.process(&info(), &records(ids));
        instance.set_batch(None);
    };
    batch(&mut instance, 1..=6);
    assert_eq!(pipeline.learned_from(&info().topic, info().partition), Some(7));
    // After a crash the uncommitted tail comes again, overlapping what the
    // state holds: 4..=6 are not tallied twice, 7..=8 are new.
    batch(&mut instance, 4..=8);
    assert_eq!(tallies(&pipeline), ones(&[1, 2, 3, 4, 5, 6, 7, 8]));
    assert_eq!(pipeline.learned_from(&info().topic, info().partition), Some(9));
    assert_eq!(pipeline.learned_from("other", 0), None);
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

/// A pipeline with state in the changelog, in a directory of its own:
/// fresh input (`partitions` partitions), output and dead-letter topics,
/// `rest` after `[state]` (stages). Returns the file, input and output.
fn changelog_pipeline(tag: &str, partitions: i32, rest: &str) -> (PathBuf, String, String) {
    let (input, output, dlq) = (
        broker::unique(&format!("{tag}-in")),
        broker::unique(&format!("{tag}-out")),
        broker::unique(&format!("{tag}-dlq")),
    );
    broker::create(&[&input], partitions);
    broker::create(&[&output, &dlq], 1);
    let p = broker::pipeline(
        &temp_dir(tag),
        tag,
        &format!("input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\""),
        &format!("[state]\nchangelog = true\n{rest}"),
    );
    (p, input, output)
}

#[test]
fn a_partition_moved_by_kill_9_keeps_its_anomaly_detector_past_warm_up() {
    let detect = broker::stage(
        "detect",
        "anomaly",
        "features = [\"x\"]\nwarmup = 20\ntrees = 20\nsample_size = 16",
    );
    let (p, input, output) = changelog_pipeline("state-move", 2, &detect);
    let a = Wasp::start(&p, &[], "a");
    assert!(a.wait_for_log("partition assigned", Duration::from_secs(30)), "{}", a.log());
    let b = Wasp::start(&p, &[], "b");
    assert!(b.wait_for_log("partition assigned", Duration::from_secs(30)), "{}", b.log());
    // Ids 0..25 on partition 0, 100..125 on partition 1: 20 warm-up
    // records each, then scores.
    broker::produce_to(&input, 0, &readings(0..25));
    broker::produce_to(&input, 1, &readings(100..125));
    assert!(
        broker::wait_for_ids(&output, 0..25, Duration::from_secs(60))
            && broker::wait_for_ids(&output, 100..125, Duration::from_secs(10)),
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
        broker::wait_for_ids(&output, 25..35, Duration::from_secs(60))
            && broker::wait_for_ids(&output, 125..135, Duration::from_secs(10)),
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

/// Wait until the output holds an id with `prediction` `want` (ids from
/// `first` on are sent one by one, `x` = 4, until one is).
fn classify_until(input: &str, output: &str, first: u64, want: &str) -> Option<u64> {
    let start = Instant::now();
    let mut id = first;
    while start.elapsed() < Duration::from_secs(60) {
        broker::produce(input, &[(id.to_string(), format!(r#"{{"id":{id},"x":4}}"#).into())], None);
        let waited = Instant::now();
        while waited.elapsed() < Duration::from_secs(10) {
            if let Some(v) = outputs_by_id(output).get(&id) {
                if v["prediction"] == want {
                    return Some(id);
                }
                break;
            }
        }
        id += 1;
    }
    None
}

#[test]
fn a_process_with_no_local_files_restores_a_learned_correction_from_kafka() {
    let (input, output, corrections, dlq) = (
        broker::unique("sk-in"),
        broker::unique("sk-out"),
        broker::unique("sk-fix"),
        broker::unique("sk-dlq"),
    );
    broker::create(&[&input, &output, &corrections, &dlq], 1);
    // k = 1 over two rows: x = 4 is an "a" until a correction says "b".
    let knn = broker::stage(
        "knn",
        "knn",
        "features = [\"x\"]\nk = 1\nid_field = \"id\"\n\
         training = [{x = 0, label = \"a\"}, {x = 10, label = \"b\"}]",
    );
    let topics = format!("input = [\"{input}\"]\noutput = \"{output}\"\ndead_letter = \"{dlq}\"");
    let learning = broker::pipeline(
        &temp_dir("state-knn-a"),
        "state-knn",
        &format!("{topics}\ncorrections = \"{corrections}\""),
        &format!("[state]\nchangelog = true\n{knn}"),
    );
    let a = Wasp::start(&learning, &[], "a");
    assert!(a.wait_for_log("partition assigned", Duration::from_secs(30)), "{}", a.log());
    assert_eq!(classify_until(&input, &output, 1, "a"), Some(1), "{}", a.log());
    broker::produce(
        &corrections,
        &[("1".into(), br#"{"id":1,"correct_label":"b"}"#.to_vec())],
        None,
    );
    let learned = classify_until(&input, &output, 2, "b");
    assert!(learned.is_some(), "the correction was never learned:\n{}", a.log());
    // Learned just before a kill -9: no graceful stop, no state file.
    a.kill9();

    // Another machine, as it were: an empty directory, the same pipeline
    // name (its changelog), and no corrections topic, so the correction
    // can only come from Kafka.
    let fresh = temp_dir("state-knn-b");
    let text = std::fs::read_to_string(&learning)
        .unwrap()
        .replace(&format!("corrections = \"{corrections}\"\n"), "");
    let restarted = fresh.join("restarted.toml");
    std::fs::write(&restarted, text).unwrap();
    assert_eq!(std::fs::read_dir(&fresh).unwrap().count(), 1, "only the pipeline file");
    let b = Wasp::start(&restarted, &[], "b");
    assert!(b.wait_for_log("partition assigned", Duration::from_secs(60)), "{}", b.log());
    let next = learned.unwrap() + 1000;
    assert_eq!(classify_until(&input, &output, next, "b"), Some(next), "{}", b.log());
    b.sigterm();
    let log = b.wait_ok(Duration::from_secs(30));
    assert!(log.contains("over 3 training rows (1 learned)"), "learned once, not twice:\n{log}");
}

#[test]
fn a_stage_that_writes_state_then_traps_leaves_nothing_of_that_call_in_the_changelog() {
    let hostile = broker::stage("h", "hostile", "mode = \"panic\"\npoison_id = 5\ntally = true");
    // A longer linger, so that the ten records make one batch.
    let (p, input, _) = changelog_pipeline("state-trap-log", 1, &hostile);
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replace("[state]", "[batch]\nlinger_ms = 200\n[state]")).unwrap();
    broker::produce(&input, &crate::broker::numbered(10), None);
    let w = Wasp::start(&p, &["--until-idle", "3"], "run");
    w.wait_ok(Duration::from_secs(60));

    // Every write set in the changelog, decoded: the batch that trapped on
    // record 5 wrote tallies for the records before it, and none of them
    // is there; the record-by-record retry wrote each other record once.
    let cfg = PipelineConfig::load(&p).unwrap();
    let log = wasp::state::changelog::stage_topic(&cfg);
    let mut seen: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in broker::read(&log, Duration::from_secs(2)) {
        if r.key.as_deref() == Some(b"wasp:barrier") {
            continue;
        }
        for (k, v) in wasp::state::codec::decode_set(r.value.as_ref().unwrap()).unwrap() {
            if let Some(id) = k.split("/stage/tally/").nth(1) {
                seen.entry(id.to_string())
                    .or_default()
                    .push(String::from_utf8(v.unwrap_or_default()).unwrap());
            }
        }
    }
    let want: std::collections::BTreeMap<String, Vec<String>> =
        (0..10).filter(|&i| i != 5).map(|i| (i.to_string(), vec!["1".to_string()])).collect();
    assert_eq!(seen, want, "each tally written once, as 1; nothing of record 5");
}

#[test]
fn a_changelog_topic_with_another_partition_count_than_its_input_is_refused() {
    let (p, input, _) = changelog_pipeline("state-count", 2, &broker::stage("h", "identity", ""));
    // Left over from a time the input had 1 partition: partition 1's state
    // would have nowhere to go.
    let log = wasp::state::changelog::partition_topic(&PipelineConfig::load(&p).unwrap(), &input);
    broker::create(&[&log], 1);
    let (status, out) =
        Wasp::start(&p, &["--until-idle", "2"], "run").wait_exit(Duration::from_secs(60));
    assert!(!status.success(), "{out}");
    assert!(
        out.contains(&format!("'{log}' has 1 partition(s) but needs 2")),
        "the error names the topic and the counts:\n{out}"
    );
}
