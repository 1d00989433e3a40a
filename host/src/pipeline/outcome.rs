//! What became of one input record: records to write, with their routes,
//! and the reasons it goes to the dead-letter topic.

use crate::record::Header;
use std::sync::Arc;

/// Where a produced record goes, before topic names are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The pipeline's output topic.
    Output,
    /// The pipeline's feedback topic.
    Feedback,
    /// A topic the plugin named (checked against the allow-list by the router).
    Topic(String),
}

/// A record produced for one input.
#[derive(Debug, Clone)]
pub struct Produced {
    /// Where it goes.
    pub route: Route,
    /// The partition the plugin chose; `None` lets the producer choose by key.
    pub partition: Option<i32>,
    /// Key (the input's unless the plugin set one).
    pub key: Option<Vec<u8>>,
    /// Value.
    pub value: Option<Vec<u8>>,
    /// Headers: the input's, then those the plugins added.
    pub headers: Vec<Header>,
    /// Content hash of the plugin version of the stage that produced it.
    pub version: Arc<str>,
}

/// Why an input record goes to the dead-letter topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Stage name.
    pub stage: String,
    /// Plugin file name.
    pub plugin: String,
    /// `rejected` for a plugin's own verdict, else the fault kind name.
    pub kind: String,
    /// Human-readable reason.
    pub reason: String,
}

/// Everything that became of one input record.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Records to write.
    pub produced: Vec<Produced>,
    /// Dead-letter reasons (the input record is written once per failure).
    pub failures: Vec<Failure>,
}

impl Outcome {
    /// True when nothing was produced and nothing failed: the record was dropped.
    pub fn is_dropped(&self) -> bool {
        self.produced.is_empty() && self.failures.is_empty()
    }
}
