//! Checks an output's explicit partition against the topic's partition
//! count before it is produced, so an output to a partition that does not
//! exist dead-letters its input with a clear reason instead of failing in
//! the producer. Counts come from broker metadata, asked for only when a
//! plugin first names a partition of a topic, and asked again (at most
//! every few seconds) when a partition past the known count is named, since
//! topics can grow.

use rdkafka::client::{Client, ClientContext};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a metadata request may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
/// Least time between two metadata requests for one topic.
const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// Known partition counts per topic.
#[derive(Default)]
pub struct PartitionCounts {
    known: Mutex<HashMap<String, (i32, Instant)>>,
}

impl PartitionCounts {
    /// `Ok` when `partition` exists in `topic`; otherwise the reason.
    pub fn check<C: ClientContext>(
        &self,
        client: &Client<C>,
        topic: &str,
        partition: i32,
    ) -> Result<(), String> {
        if partition < 0 {
            return Err(format!(
                "plugin sent an output to partition {partition} of topic '{topic}': partitions \
                 are numbered from 0"
            ));
        }
        let lock = || self.known.lock().unwrap_or_else(|p| p.into_inner());
        let stale = match lock().get(topic) {
            Some(&(count, _)) if partition < count => return Ok(()),
            Some(&(_, asked)) => asked.elapsed() >= REFRESH_EVERY,
            None => true,
        };
        // Asked without the lock: a metadata request can take seconds, and
        // workers routing to topics already known must not wait for it.
        // Two workers may then ask at once; the answers agree.
        // A failed request is remembered too (count 0: unknown), so a topic
        // the broker does not report costs one request per few seconds,
        // not one per record.
        if stale {
            let answer = count_of(client, topic);
            let mut known = lock();
            let count = answer.or(known.get(topic).map(|&(c, _)| c)).unwrap_or(0);
            known.insert(topic.to_string(), (count, Instant::now()));
        }
        let known = lock();
        match known.get(topic) {
            Some(&(count, _)) if partition < count => Ok(()),
            Some(&(count, _)) if count > 0 => Err(format!(
                "plugin sent an output to partition {partition} of topic '{topic}', which has \
                 {count} partition(s) (0..={}); add partitions to the topic or fix the plugin's \
                 routing",
                count - 1
            )),
            _ => Err(format!(
                "plugin sent an output to partition {partition} of topic '{topic}', whose \
                 partitions the broker did not report; create the topic with enough partitions"
            )),
        }
    }
}

/// The topic's partition count from broker metadata; `None` when the broker
/// does not answer or does not know the topic.
pub(crate) fn count_of<C: ClientContext>(client: &Client<C>, topic: &str) -> Option<i32> {
    let md = client.fetch_metadata(Some(topic), METADATA_TIMEOUT).ok()?;
    let t = md.topics().iter().find(|t| t.name() == topic)?;
    if t.error().is_some() || t.partitions().is_empty() {
        return None;
    }
    i32::try_from(t.partitions().len()).ok()
}
