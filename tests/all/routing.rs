//! Seed 002 as a wasp pipeline (`examples/iris-route.toml`): Iris records
//! routed by class to topics and partitions, read back by partition with
//! `wasp consume`, and the topics a pipeline declares created (or refused)
//! by `wasp run`. Real broker, real router plugin.

use crate::broker::{self, Wasp};
use crate::common::{assert_clean_failure, iris_rows, plugin, root, temp_dir, text, wasp};
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The seed's topics for one test, with fresh names.
struct Seed002 {
    pipeline: PathBuf,
    raw: String,
    vs: String,
    vc: String,
    unrouted: String,
    dlq: String,
}

/// `examples/iris-route.toml` with fresh topic and pipeline names and the
/// plugin path made absolute.
fn seed002(dir: &Path) -> Seed002 {
    let s = Seed002 {
        pipeline: dir.join("iris-route.toml"),
        raw: broker::unique("iris-raw"),
        vs: broker::unique("virginicasetosa"),
        vc: broker::unique("versicolor"),
        unrouted: broker::unique("iris-unrouted"),
        dlq: broker::unique("iris-route-dlq"),
    };
    let mut text = std::fs::read_to_string(root().join("examples/iris-route.toml")).unwrap();
    for (from, to) in [
        ("iris-raw", &s.raw),
        ("virginicasetosa", &s.vs),
        ("versicolor", &s.vc),
        ("iris-unrouted", &s.unrouted),
        ("iris-route-dead-letter", &s.dlq),
        ("iris-route", &broker::unique("iris-route")),
        ("../plugins/dist/router.wasm", &plugin("router").display().to_string()),
    ] {
        let quoted = format!("\"{from}\"");
        assert!(text.contains(&quoted), "examples/iris-route.toml no longer names {quoted}");
        text = text.replace(&quoted, &format!("\"{to}\""));
    }
    std::fs::write(&s.pipeline, text).unwrap();
    s
}

/// Produce the 150 flowers and one of an unknown species, and route them.
fn route_iris(s: &Seed002) -> Vec<Value> {
    let mut rows = iris_rows();
    rows.push(
        serde_json::json!({"sepal_length": 1.0, "sepal_width": 1.0, "species": "Iris-unknown"}),
    );
    let records: Vec<(String, Vec<u8>)> =
        rows.iter().enumerate().map(|(i, r)| (i.to_string(), r.to_string().into_bytes())).collect();
    broker::create(&[&s.raw], 1);
    broker::produce(&s.raw, &records, None);
    let n = records.len().to_string();
    Wasp::start(&s.pipeline, &["--max-records", &n, "--until-idle", "20", "--no-watch"], "run")
        .wait_ok(Duration::from_secs(120));
    rows
}

fn values(records: &[wasp::kafka::admin::Record]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap_or_default()).unwrap())
        .collect();
    v.sort();
    v
}

fn of_class(rows: &[Value], class: &str) -> Vec<String> {
    let mut v: Vec<String> =
        rows.iter().filter(|r| r["species"] == class).map(Value::to_string).collect();
    v.sort();
    v
}

/// Partition count of `topic` as the broker reports it (0 when unknown).
fn partition_count(topic: &str) -> usize {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker::bootstrap())
        .create()
        .unwrap();
    let md = c.fetch_metadata(Some(topic), Duration::from_secs(10)).unwrap();
    md.topics().iter().filter(|t| t.name() == topic).map(|t| t.partitions().len()).sum()
}

#[test]
fn routing_lands_every_iris_record_in_its_seed_topic_and_partition() {
    let s = seed002(&temp_dir("routing"));
    let rows = route_iris(&s);
    let idle = Duration::from_secs(3);

    let vs = broker::read(&s.vs, idle);
    let (p0, p1): (Vec<_>, Vec<_>) = vs.iter().cloned().partition(|r| r.partition == 0);
    assert_eq!(
        values(&p0),
        of_class(&rows, "Iris-virginica"),
        "virginicasetosa p0: every virginica, nothing else"
    );
    assert_eq!(
        values(&p1),
        of_class(&rows, "Iris-setosa"),
        "virginicasetosa p1: every setosa, nothing else"
    );
    assert!(p1.iter().all(|r| r.partition == 1));
    assert_eq!(p0.len(), 50);
    assert_eq!(p1.len(), 50);

    let vc = broker::read(&s.vc, idle);
    assert_eq!(
        values(&vc),
        of_class(&rows, "Iris-versicolor"),
        "versicolor: every versicolor, nothing else"
    );
    assert_eq!(vc.len(), 50);

    let dead = broker::read(&s.dlq, idle);
    assert_eq!(dead.len(), 1, "only the unknown species is dead-lettered");
    assert_eq!(dead[0].header("wasp.error.kind").as_deref(), Some("rejected"));
    let reason = dead[0].header("wasp.error.reason").unwrap();
    assert!(reason.contains("no route for species 'Iris-unknown'"), "{reason}");
    assert!(broker::read(&s.unrouted, Duration::from_secs(1)).is_empty(), "nothing unrouted");
}

/// `wasp consume` lines, parsed.
fn consume(args: &[&str]) -> Vec<Value> {
    let o = wasp(&[&["consume", "--idle", "3"], args].concat());
    let (out, err) = text(&o);
    assert!(o.status.success(), "wasp consume {args:?} failed: {err}");
    out.lines().map(|l| serde_json::from_str(l).expect("consume prints JSON lines")).collect()
}

#[test]
fn consume_partition_1_from_beginning_prints_exactly_that_partition() {
    let s = seed002(&temp_dir("consume-partition"));
    let rows = route_iris(&s);

    // Consumer 2 of the seed: partition 1 of virginicasetosa.
    let p1 = consume(&[&s.vs, "--partition", "1", "--from-beginning"]);
    assert_eq!(p1.len(), 50, "{p1:?}");
    let offsets: Vec<i64> = p1.iter().map(|r| r["offset"].as_i64().unwrap()).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "offsets in order: {offsets:?}");
    for r in &p1 {
        assert_eq!((r["topic"].as_str(), r["partition"].as_i64()), (Some(s.vs.as_str()), Some(1)));
        assert_eq!(r["value"]["species"], "Iris-setosa");
    }
    let mut got: Vec<String> = p1.iter().map(|r| r["value"].to_string()).collect();
    got.sort();
    assert_eq!(got, of_class(&rows, "Iris-setosa"));

    // Consumer 3: partition 0 from an offset, and a record budget.
    let p0 = consume(&[&s.vs, "--partition", "0", "--from-offset", "10"]);
    assert_eq!(p0.len(), 40);
    assert_eq!(p0[0]["offset"], 10);
    assert!(p0.iter().all(|r| r["partition"] == 0 && r["value"]["species"] == "Iris-virginica"));
    assert_eq!(consume(&[&s.vs, "--partition", "0", "--max", "5"]).len(), 5);
    // `--from-end` is not checked here: it starts at the broker's end
    // offsets, which Tansu undercounts (docs/broker.md), so against it some
    // older records print too.

    // Consumer 1: everything, both topics.
    let all = consume(&[&s.vs, &s.vc]);
    assert_eq!(all.len(), 150);
    assert_eq!(all.iter().filter(|r| r["topic"] == s.vc.as_str()).count(), 50);

    let o = wasp(&["consume", &s.vs, "--partition", "2", "--idle", "1"]);
    assert_clean_failure(&o, &[&format!("topic {} has no partition 2: it has 2", s.vs)]);
}

#[test]
fn declared_topics_are_created_with_their_partition_counts() {
    let dir = temp_dir("declared");
    let (input, three, two, dlq) = (
        broker::unique("declared-in"),
        broker::unique("declared-three"),
        broker::unique("declared-two"),
        broker::unique("declared-dlq"),
    );
    for t in [&three, &two] {
        assert_eq!(partition_count(t), 0, "{t} should not exist yet");
    }
    let topics = format!(
        "input = [\"{input}\"]\noutput = \"{two}\"\ndead_letter = \"{dlq}\"\n\
         [topics.partitions]\n\"{input}\" = 1\n\"{three}\" = 3\n\"{two}\" = 2\n"
    );
    let p = broker::pipeline(&dir, "declared", &topics, &broker::stage("id", "identity", ""));
    let o = wasp(&["run", p.to_str().unwrap(), "--max-records", "0", "--no-watch"]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert_eq!(partition_count(&three), 3);
    assert_eq!(partition_count(&two), 2);
    assert_eq!(partition_count(&input), 1);
    // A second start finds them and starts again.
    let o = wasp(&["run", p.to_str().unwrap(), "--max-records", "0", "--no-watch"]);
    assert!(o.status.success(), "{}", text(&o).1);
}

#[test]
fn a_declared_topic_with_fewer_partitions_refuses_the_start() {
    let dir = temp_dir("declared-fewer");
    let (input, out, dlq) =
        (broker::unique("fewer-in"), broker::unique("fewer-out"), broker::unique("fewer-dlq"));
    broker::create(&[&out], 1);
    let topics = format!(
        "input = [\"{input}\"]\noutput = \"{out}\"\ndead_letter = \"{dlq}\"\n\
         [topics.partitions]\n\"{out}\" = 2\n"
    );
    let p = broker::pipeline(&dir, "fewer", &topics, &broker::stage("id", "identity", ""));
    let o = wasp(&["run", p.to_str().unwrap(), "--max-records", "0", "--no-watch"]);
    assert_clean_failure(
        &o,
        &[
            &format!("topic '{out}' has 1 partition(s) but the pipeline declares 2"),
            "add partitions",
        ],
    );
    assert_eq!(partition_count(&out), 1, "the existing topic is left alone");
}

#[test]
fn a_route_to_a_topic_outside_the_allow_list_refuses_the_start() {
    let dir = temp_dir("route-allow");
    let s = seed002(&dir);
    let text = std::fs::read_to_string(&s.pipeline).unwrap();
    let narrowed = text.replace(&format!("allowed = [\"{}\", ", s.vs), "allowed = [");
    assert_ne!(text, narrowed);
    std::fs::write(&s.pipeline, narrowed).unwrap();
    let o = wasp(&["run", s.pipeline.to_str().unwrap(), "--max-records", "0"]);
    assert_clean_failure(&o, &[&format!("to topic '{}', which is not in topics.allowed", s.vs)]);
}
