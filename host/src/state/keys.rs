//! The layout of the store's keys, and which changelog part each belongs to.
//!
//! Plugin keys live under `{pipeline}/{stage}/stage/…` and
//! `{pipeline}/{stage}/partition/{topic}/{partition}/…`. wasp's own keys
//! (input positions) live under `{pipeline}/{stage}:…`: a `:` cannot occur
//! in pipeline or stage names (`config::check_name`), so they are outside
//! every plugin's key space and outside the stage's quota, which counts
//! `{pipeline}/{stage}/`.

/// Where a key's writes go in the changelog.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// Stage-scoped keys and stage positions: one place for the pipeline.
    Stage,
    /// Partition-scoped keys of one input partition, and its position.
    Partition(String, i32),
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Stage => f.write_str("stage-scoped"),
            Part::Partition(t, p) => write!(f, "partition {t}/{p}'s"),
        }
    }
}

/// `{pipeline}/{stage}`: the stage's name in keys.
pub fn stage_name(pipeline: &str, stage: &str) -> String {
    format!("{pipeline}/{stage}")
}

/// A key of wasp's own (a position), not a plugin's: its stage segment
/// holds the `:` no stage name can.
pub fn is_host(key: &str) -> bool {
    key.split('/').nth(1).is_some_and(|stage| stage.contains(':'))
}

/// The stage-state key holding the next offset of `topic`/`partition`
/// whose writes this stage's state includes (what
/// [`StateScope::record_position`](super::StateScope::record_position)
/// sets).
pub fn position(stage: &str, topic: &str, partition: i32) -> String {
    format!("{stage}:pos/{topic}/{partition}")
}

/// The same for the partition-scoped state of `topic`/`partition`, which
/// lives in another changelog part and so keeps a position of its own.
pub fn partition_position(stage: &str, topic: &str, partition: i32) -> String {
    format!("{stage}:ppos/{topic}/{partition}")
}

/// The prefix of the partition-scoped plugin keys of one stage.
pub fn partition_prefix(stage: &str, topic: &str, partition: i32) -> String {
    format!("{stage}/partition/{topic}/{partition}/")
}

/// Encode a position value.
pub fn encode_position(next: i64) -> Vec<u8> {
    next.to_le_bytes().to_vec()
}

/// Decode a position value (`None` if it is not one).
pub fn decode_position(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_le_bytes(bytes.try_into().ok()?))
}

/// The part `key` belongs to. Keys that name no partition (state written
/// before a partition was set) belong to the stage.
pub fn part_of(key: &str) -> Part {
    let Some((_pipeline, rest)) = key.split_once('/') else { return Part::Stage };
    let end = rest.find(['/', ':']).unwrap_or(rest.len());
    let tail = &rest[end..];
    let located = if let Some(host) = tail.strip_prefix(':') {
        host.strip_prefix("ppos/")
    } else {
        tail.strip_prefix("/partition/")
    };
    let Some(located) = located else { return Part::Stage };
    let mut fields = located.splitn(3, '/');
    match (fields.next(), fields.next().and_then(|p| p.parse().ok())) {
        (Some(topic), Some(partition)) if !topic.is_empty() => {
            Part::Partition(topic.to_string(), partition)
        }
        _ => Part::Stage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_belongs_to_its_scope_s_part() {
        let p = |t: &str, n| Part::Partition(t.into(), n);
        assert_eq!(part_of("pl/st/stage/model/1"), Part::Stage);
        assert_eq!(part_of("pl/st/partition/in.put/3/window"), p("in.put", 3));
        assert_eq!(part_of(&partition_prefix("pl/st", "t", 0)), p("t", 0));
        assert_eq!(part_of(&position("pl/st", "t", 2)), Part::Stage);
        assert_eq!(part_of(&partition_position("pl/st", "t", 2)), p("t", 2));
        // Written before a partition was set (an instance's first `init`).
        assert_eq!(part_of("pl/st/partition/window"), Part::Stage);
        assert_eq!(decode_position(&encode_position(-5)), Some(-5));
        assert_eq!(decode_position(b"x"), None);
    }

    #[test]
    fn host_keys_are_told_from_plugin_keys_that_look_like_them() {
        assert!(is_host(&position("pl/st", "t", 0)));
        assert!(is_host(&partition_position("pl/st", "t", 0)));
        assert!(!is_host("pl/st/stage/a:pos/t/0"));
        assert!(!is_host("pl/st/partition/t/0/k"));
    }
}
