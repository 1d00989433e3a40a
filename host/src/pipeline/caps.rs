//! Host-side caps on what a plugin may produce per input record.

use crate::record::{Destination, Verdict};

/// Host-side caps on what a plugin may produce per input record, so a plugin
/// cannot exhaust the host's memory or the producer queue.
#[derive(Debug, Clone, Copy)]
pub struct OutputCaps {
    /// Most outputs for one input record.
    pub max_outputs: usize,
    /// Largest value, in bytes (Kafka's default max message is 1 MiB; 8 MiB
    /// leaves room for brokers configured larger).
    pub max_value_bytes: usize,
    /// Most headers per output.
    pub max_headers: usize,
}

impl Default for OutputCaps {
    fn default() -> Self {
        OutputCaps { max_outputs: 1000, max_value_bytes: 8 << 20, max_headers: 64 }
    }
}

/// Longest topic name Kafka allows.
const MAX_TOPIC_NAME: usize = 249;

impl OutputCaps {
    /// Why a verdict is over the caps, if it is. Keys and the bytes of an
    /// output's headers are held to the value cap too, so no part of an
    /// output can be unbounded.
    pub fn check(&self, verdict: &Verdict) -> Result<(), String> {
        let too_big = |what: &str, size: usize| {
            format!(
                "{what} of {size} bytes, more than the output cap of {} bytes",
                self.max_value_bytes
            )
        };
        match verdict {
            Verdict::Value(v) if v.len() > self.max_value_bytes => {
                Err(too_big("returned a value", v.len()))
            }
            Verdict::Emit(outputs) => {
                if outputs.len() > self.max_outputs {
                    return Err(format!(
                        "emitted {} outputs for one record, more than the cap of {} outputs per input record",
                        outputs.len(),
                        self.max_outputs
                    ));
                }
                for o in outputs {
                    let value = o.value.as_ref().map_or(0, Vec::len);
                    if value > self.max_value_bytes {
                        return Err(too_big("emitted a value", value));
                    }
                    let key = o.key.as_ref().map_or(0, Vec::len);
                    if key > self.max_value_bytes {
                        return Err(too_big("emitted a key", key));
                    }
                    if o.headers.len() > self.max_headers {
                        return Err(format!(
                            "emitted {} headers on one output, more than the cap of {}",
                            o.headers.len(),
                            self.max_headers
                        ));
                    }
                    if let Destination::Topic(t) = &o.destination {
                        if t.len() > MAX_TOPIC_NAME {
                            return Err(format!(
                                "emitted to a topic name of {} bytes; Kafka allows {MAX_TOPIC_NAME}",
                                t.len()
                            ));
                        }
                    }
                    let headers: usize =
                        o.headers.iter().map(|h| h.key.len() + h.value.len()).sum();
                    if headers > self.max_value_bytes {
                        return Err(too_big("emitted headers", headers));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
