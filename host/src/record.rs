//! The host's own record and verdict types.
//!
//! Sources, the pipeline, the router and sinks speak these; the types
//! generated from each contract version stay at the Wasm boundary
//! (`runtime::abi`), so a contract change is one adapter, not a change to
//! every layer, and two contract versions can run side by side.

/// A Kafka record header. Kafka allows repeated names; order is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name (names that are not UTF-8 arrive lossily converted).
    pub key: String,
    /// Header bytes (a Kafka null header value is empty).
    pub value: Vec<u8>,
}

/// One input record of a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Offset in its partition.
    pub offset: i64,
    /// Milliseconds since the Unix epoch, when the producer or broker set one.
    pub timestamp: Option<i64>,
    /// Key; `None` for a record without one.
    pub key: Option<Vec<u8>>,
    /// Value; `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers, in order.
    pub headers: Vec<Header>,
}

impl Record {
    /// The same record without its value, which is about to be replaced
    /// (saves copying the old value).
    pub fn without_value(&self) -> Record {
        Record {
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.clone(),
            value: None,
            headers: self.headers.clone(),
        }
    }
}

/// Where a batch came from: every record of a batch shares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInfo {
    /// Input topic.
    pub topic: String,
    /// Input partition.
    pub partition: i32,
}

/// Where a plugin's output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The next stage, or the output topic after the last one.
    Next,
    /// The pipeline's feedback topic.
    Feedback,
    /// A topic the plugin named (allow-listed by the pipeline).
    Topic(String),
}

/// A record a plugin produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Where it goes.
    pub destination: Destination,
    /// The destination partition; `None` lets the producer choose by key.
    pub partition: Option<i32>,
    /// Key; `None` keeps the input's key.
    pub key: Option<Vec<u8>>,
    /// Value; `None` writes a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers added after the input's.
    pub headers: Vec<Header>,
}

/// A plugin's decision for one input record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Forward the input unchanged.
    Pass,
    /// Forward the input with this value.
    Value(Vec<u8>),
    /// Produce these outputs.
    Emit(Vec<Output>),
    /// Produce nothing.
    Drop,
    /// Dead-letter the input with this reason.
    Reject(String),
}

/// A plugin's name, version and description (`wasp check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginInfo {
    /// Short name.
    pub name: String,
    /// The plugin's own version string.
    pub version: String,
    /// One line saying what it does.
    pub description: String,
}
