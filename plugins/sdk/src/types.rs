//! The record and verdict types plugin authors use. They are the SDK's
//! own, not the contract's generated ones: the contract passes a batch in a
//! few shared buffers (`wasp:plugin@0.2.0`), and the SDK turns that into
//! one [`Message`] per record whose key and value borrow the batch's buffer
//! (no copy per record), and turns the owned verdicts into a reply.

use std::borrow::Cow;

/// A Kafka record header. Kafka allows repeated names; order is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name (a name that is not UTF-8 arrives lossily converted).
    pub key: String,
    /// Header bytes (a Kafka null header value is empty).
    pub value: Vec<u8>,
}

/// One input record. Inside wasp its key and value borrow the batch
/// (`Cow::Borrowed`), so reading them copies nothing; tests and native
/// callers can give owned bytes (`Some(bytes.into())`). Keep a key or value
/// past the call with `into_owned()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// Offset of the record in its partition.
    pub offset: i64,
    /// Milliseconds since the Unix epoch, if the producer or broker set one.
    pub timestamp: Option<i64>,
    /// Record key; `None` for a record without a key.
    pub key: Option<Cow<'a, [u8]>>,
    /// Record value; `None` for a tombstone.
    pub value: Option<Cow<'a, [u8]>>,
    /// Record headers, in order (owned: a record with headers copies them).
    pub headers: Vec<Header>,
}

/// Where a batch came from: every record of a batch shares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInfo {
    /// Input topic.
    pub topic: String,
    /// Input partition.
    pub partition: i32,
}

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The next stage, or the pipeline's output topic after the last stage.
    Next,
    /// The pipeline's feedback topic; later stages do not see it.
    Feedback,
    /// A topic the pipeline allow-lists (`topics.allowed`).
    Topic(String),
}

/// A record produced by a plugin. Build one with [`output`](crate::output),
/// [`feedback`](crate::feedback) or [`to_topic`](crate::to_topic) and set
/// the other fields as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Where the output goes.
    pub destination: Destination,
    /// The destination topic's partition; `None` lets the producer choose
    /// by key. A partition the topic does not have dead-letters the input.
    pub partition: Option<i32>,
    /// Output key; `None` keeps the input record's key.
    pub key: Option<Vec<u8>>,
    /// Output value; `None` writes a tombstone.
    pub value: Option<Vec<u8>>,
    /// Headers added after the input record's headers.
    pub headers: Vec<Header>,
}

/// The plugin's decision for one input record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Forward the input record unchanged.
    Pass,
    /// Forward the input record with this value; key and headers are kept.
    Value(Vec<u8>),
    /// Produce zero or more outputs, each to its own destination.
    Emit(Vec<Output>),
    /// Produce nothing.
    Drop,
    /// The record is bad: it goes to the dead-letter topic with this reason.
    Reject(String),
}
