//! Turns routes into topic names and failures into dead-letter headers.
//!
//! The allow-list is checked here, at the last moment before a write, so
//! no path through the pipeline can reach an unlisted topic.

use crate::config::Topics;
use crate::pipeline::{Failure, Route};
use crate::redact::Redaction;
use std::borrow::Cow;
use std::collections::HashSet;

/// Header names on dead-letter records.
pub mod headers {
    /// Stage that failed the record.
    pub const STAGE: &str = "wasp.error.stage";
    /// Plugin file of that stage.
    pub const PLUGIN: &str = "wasp.error.plugin";
    /// `rejected`, `trap`, `deadline`, `memory-limit`, `fuel`, `contract`, `routing`, `input`.
    pub const KIND: &str = "wasp.error.kind";
    /// Human-readable reason.
    pub const REASON: &str = "wasp.error.reason";
    /// Topic the input came from.
    pub const ORIGIN_TOPIC: &str = "wasp.origin.topic";
    /// Partition the input came from.
    pub const ORIGIN_PARTITION: &str = "wasp.origin.partition";
    /// Offset of the input.
    pub const ORIGIN_OFFSET: &str = "wasp.origin.offset";
    /// Content hash of the plugin version that produced an output.
    pub const PLUGIN_VERSION: &str = "wasp.plugin.version";
}

/// Where a route leads: a Kafka topic or a table (`[tables.NAME]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination<'a> {
    /// A Kafka topic (or, in `wasp test`, a line naming it).
    Topic(&'a str),
    /// A table destination, by its `[tables.NAME]` name.
    Table(&'a str),
}

/// Destination names for each route.
#[derive(Debug, Clone)]
pub struct Router {
    output: String,
    feedback: Option<String>,
    dead_letter: String,
    allowed: HashSet<String>,
    tables: HashSet<String>,
    redaction: Redaction,
}

impl Router {
    /// Build from the pipeline's topics and the names of its tables, with
    /// defaults for a file run.
    pub fn new<'a>(t: &Topics, tables: impl IntoIterator<Item = &'a String>) -> Self {
        Router {
            output: t.output.clone().unwrap_or_else(|| "output".into()),
            feedback: t.feedback.clone(),
            dead_letter: t.dead_letter.clone().unwrap_or_else(|| "dead-letter".into()),
            allowed: t.allowed.iter().cloned().collect(),
            tables: tables.into_iter().cloned().collect(),
            redaction: Redaction::new(&t.dead_letter_redact),
        }
    }

    /// The destination of a route, or the reason it may not be written. A
    /// table is reached by `topics.output` naming it or by a plugin's
    /// `topic("NAME")`; a declared table needs no `topics.allowed` entry.
    pub fn destination<'a>(&'a self, route: &'a Route) -> Result<Destination<'a>, String> {
        let named = |t: &'a str| match self.tables.contains(t) {
            true => Destination::Table(t),
            false => Destination::Topic(t),
        };
        match route {
            Route::Output => Ok(named(&self.output)),
            Route::Feedback => self.feedback.as_deref().map(Destination::Topic).ok_or_else(|| {
                "plugin sent a record to feedback but the pipeline has no topics.feedback".into()
            }),
            Route::Topic(t) if self.tables.contains(t) => Ok(Destination::Table(t)),
            Route::Topic(t) if self.allowed.contains(t) => Ok(Destination::Topic(t)),
            Route::Topic(t) => Err(format!(
                "plugin wrote to topic '{t}', which is not in the pipeline's topics.allowed"
            )),
        }
    }

    /// The Kafka topic of a route, or the reason it may not be written
    /// there (table routes are written by the table sink, never here).
    pub fn topic<'a>(&'a self, route: &'a Route) -> Result<&'a str, String> {
        match self.destination(route)? {
            Destination::Topic(t) => Ok(t),
            Destination::Table(t) => Err(format!("'{t}' is a table, not a Kafka topic")),
        }
    }

    /// The dead-letter topic.
    pub fn dead_letter(&self) -> &str {
        &self.dead_letter
    }

    /// The value a dead letter of `input` carries: the input's, without
    /// the fields of `topics.dead_letter_redact`.
    pub fn dead_letter_value<'a>(&self, input: Option<&'a [u8]>) -> Option<Cow<'a, [u8]>> {
        self.redaction.apply(input)
    }

    /// A routing failure, dead-lettered like a plugin failure.
    pub fn routing_failure(reason: String) -> Failure {
        Failure { stage: String::new(), plugin: String::new(), kind: "routing".into(), reason }
    }

    /// Headers describing a failure and where the input came from.
    pub fn failure_headers(
        f: &Failure,
        topic: &str,
        partition: i32,
        offset: i64,
    ) -> Vec<(&'static str, String)> {
        vec![
            (headers::STAGE, f.stage.clone()),
            (headers::PLUGIN, f.plugin.clone()),
            (headers::KIND, f.kind.clone()),
            (headers::REASON, f.reason.clone()),
            (headers::ORIGIN_TOPIC, topic.to_string()),
            (headers::ORIGIN_PARTITION, partition.to_string()),
            (headers::ORIGIN_OFFSET, offset.to_string()),
        ]
    }
}
