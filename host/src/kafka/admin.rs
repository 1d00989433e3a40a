//! Small Kafka tools used by the demo and the tests, and handy for users:
//! create topics, produce a JSON-lines file, read a topic back.
//!
//! Reading stops when the topic has been quiet for a while rather than at
//! the end offsets, because some Kafka-compatible brokers report those
//! imprecisely.

use anyhow::{bail, Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use serde_json::{json, Value};
use std::io::BufRead;
use std::time::{Duration, Instant};

fn client(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    c
}

/// Create topics with `partitions` partitions; existing topics are fine.
pub fn create_topics(bootstrap: &str, names: &[String], partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        client(bootstrap).create().context("creating the Kafka admin client")?;
    let topics: Vec<NewTopic<'_>> =
        names.iter().map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1))).collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let results = rt.block_on(admin.create_topics(&topics, &opts)).context("creating topics")?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => bail!("cannot create topic {name}: {code}"),
        }
    }
    Ok(())
}

/// Produce each line of `input` as one record to `topic`; the key is the
/// JSON field `key_field` of the line when given. Returns the count.
pub fn produce_lines(
    bootstrap: &str,
    topic: &str,
    input: impl BufRead,
    key_field: Option<&str>,
) -> Result<u64> {
    let producer: ThreadedProducer<DefaultProducerContext> = client(bootstrap)
        .set("linger.ms", "5")
        .set("message.max.bytes", "16777216")
        .create()
        .context("creating the Kafka producer")?;
    let mut n = 0u64;
    for line in input.lines() {
        let line = line.context("reading the input")?;
        let key = key_field.and_then(|f| {
            let v: Value = serde_json::from_str(&line).ok()?;
            Some(match v.get(f)? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        });
        let mut rec = BaseRecord::<str, str>::to(topic).payload(&line);
        if let Some(k) = &key {
            rec = rec.key(k);
        }
        send(&producer, rec)?;
        n += 1;
    }
    producer.flush(Duration::from_secs(60)).context("delivering the records")?;
    Ok(n)
}

/// Send, waiting while the local queue is full.
pub fn send<K, P>(
    producer: &ThreadedProducer<DefaultProducerContext>,
    mut rec: BaseRecord<'_, K, P>,
) -> Result<()>
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match producer.send(rec) {
            Ok(()) => return Ok(()),
            Err((
                rdkafka::error::KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
                back,
            )) => {
                rec = back;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((e, _)) => bail!("producing a record: {e}"),
        }
    }
}

/// A record read back from a topic.
#[derive(Debug, Clone)]
pub struct Record {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp (ms since the epoch), when the record has one.
    pub timestamp: Option<i64>,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub value: Option<Vec<u8>>,
    /// Headers (a null header value reads as empty).
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Record {
    /// The record as one JSON object (values shown as JSON when they are).
    pub fn to_json(&self) -> Value {
        let show = |b: &Option<Vec<u8>>| match b {
            None => Value::Null,
            Some(b) => serde_json::from_slice(b)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into_owned())),
        };
        let headers: serde_json::Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(String::from_utf8_lossy(v).into_owned())))
            .collect();
        json!({"topic": self.topic, "partition": self.partition, "offset": self.offset,
               "key": show(&self.key), "value": show(&self.value), "headers": headers})
    }

    /// The value of header `name`, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

/// Where reading starts in each partition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadFrom {
    /// The first record still held.
    #[default]
    Beginning,
    /// This offset (the next record at or after it).
    Offset(i64),
    /// After the last record: only records produced from now on.
    End,
}

/// What to read: topics, optionally one partition of each, and from where.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Topics to read.
    pub topics: Vec<String>,
    /// Only this partition of each topic; all partitions when `None`.
    pub partition: Option<i32>,
    /// Where to start.
    pub from: ReadFrom,
}

/// When reading stops.
#[derive(Debug, Clone, Copy)]
pub struct Until {
    /// Nothing new arrived for this long.
    pub idle: Duration,
    /// This many records were read.
    pub max: Option<usize>,
}

/// Read every partition of `topic` from the beginning until nothing new
/// arrived for `idle` (or `max` records were read).
pub fn read_topic(
    bootstrap: &str,
    topic: &str,
    idle: Duration,
    max: Option<usize>,
) -> Result<Vec<Record>> {
    let sel =
        Selection { topics: vec![topic.to_string()], partition: None, from: ReadFrom::Beginning };
    let mut out = Vec::new();
    read(bootstrap, &sel, Until { idle, max }, |r| out.push(r))?;
    Ok(out)
}

/// Read the selected partitions, handing each record to `each` as it
/// arrives, until `until` says stop. Returns the count read. A partition
/// asked for that the topic does not have is an error naming the count.
pub fn read(
    bootstrap: &str,
    sel: &Selection,
    until: Until,
    mut each: impl FnMut(Record),
) -> Result<usize> {
    let consumer: BaseConsumer = client(bootstrap)
        .set("group.id", "wasp-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.message.max.bytes", "16777216")
        .create()
        .context("creating the Kafka consumer")?;
    let offset = match sel.from {
        ReadFrom::Beginning => Offset::Beginning,
        ReadFrom::Offset(o) => Offset::Offset(o),
        ReadFrom::End => Offset::End,
    };
    let mut tpl = TopicPartitionList::new();
    for topic in &sel.topics {
        let partitions = partitions_of(&consumer, topic)?;
        match sel.partition {
            Some(p) if !partitions.contains(&p) => bail!(
                "topic {topic} has no partition {p}: it has {} (0..={})",
                partitions.len(),
                partitions.len() as i32 - 1
            ),
            Some(p) => tpl.add_partition_offset(topic, p, offset)?,
            None => {
                for p in &partitions {
                    tpl.add_partition_offset(topic, *p, offset)?;
                }
            }
        }
    }
    consumer.assign(&tpl)?;
    let mut n = 0;
    let mut last = Instant::now();
    while last.elapsed() < until.idle && until.max.is_none_or(|m| n < m) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let headers = super::headers::raw(&m)
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            String::from_utf8_lossy(k).into_owned(),
                            v.map(<[u8]>::to_vec).unwrap_or_default(),
                        )
                    })
                    .collect();
                each(Record {
                    topic: m.topic().to_string(),
                    partition: m.partition(),
                    offset: m.offset(),
                    timestamp: m.timestamp().to_millis(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    headers,
                });
                n += 1;
                last = Instant::now();
            }
            Some(Err(e)) => tracing::debug!("reading {:?}: {e}", sel.topics),
            None => {}
        }
    }
    Ok(n)
}

/// The partition ids of `topic`; an error when the broker reports none.
fn partitions_of(consumer: &BaseConsumer, topic: &str) -> Result<Vec<i32>> {
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .with_context(|| format!("reading metadata of topic {topic}"))?;
    let partitions: Vec<i32> =
        md.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
    if partitions.is_empty() {
        bail!("topic {topic} has no partitions (does it exist?)");
    }
    Ok(partitions)
}

/// Headers from (name, value) pairs.
pub fn headers(pairs: &[(&str, &[u8])]) -> OwnedHeaders {
    pairs.iter().fold(OwnedHeaders::new(), |h, (k, v)| {
        h.insert(rdkafka::message::Header { key: k, value: Some(*v) })
    })
}
