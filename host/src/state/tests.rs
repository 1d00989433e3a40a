//! The store API: quotas, held-back writes, scopes, the snapshot file.

use super::{StateScope, StateStore};

#[test]
fn a_stage_s_bytes_count_its_keys_and_values_in_every_scope_only() {
    let store = StateStore::in_memory();
    let mut a = StateScope::new(store.clone(), "p", "a");
    a.set_partition("t", 0);
    let mut b = StateScope::new(store, "p", "b");
    a.set(false, "model", vec![0; 100], usize::MAX).unwrap();
    a.set(true, "window", vec![0; 10], usize::MAX).unwrap();
    b.set(false, "other", vec![0; 1000], usize::MAX).unwrap();
    let keys = "p/a/stage/model".len() + "p/a/partition/t/0/window".len();
    assert_eq!(a.bytes(), keys + 110);
    a.delete(false, "model");
    assert_eq!(a.bytes(), "p/a/partition/t/0/window".len() + 10);
}

#[test]
fn held_back_writes_are_read_back_by_their_call_and_seen_by_others_only_on_commit() {
    let store = StateStore::in_memory();
    let mut call = StateScope::new(store.clone(), "p", "s");
    let other = StateScope::new(store.clone(), "p", "s");
    call.set(false, "kept", b"1".to_vec(), usize::MAX).unwrap();
    call.begin();
    call.set(false, "new", b"2".to_vec(), usize::MAX).unwrap();
    call.delete(false, "kept");
    assert_eq!(call.get(false, "new"), Some(b"2".to_vec()));
    assert_eq!(call.get(false, "kept"), None);
    assert_eq!(call.keys(false, ""), vec!["new".to_string()]);
    assert_eq!(other.keys(false, ""), vec!["kept".to_string()]);
    call.commit();
    assert_eq!(other.keys(false, ""), vec!["new".to_string()]);
    assert_eq!(other.bytes(), "p/s/stage/new".len() + 1);
}

#[test]
fn discarded_writes_leave_the_store_as_it_was() {
    let store = StateStore::in_memory();
    let mut call = StateScope::new(store.clone(), "p", "s");
    call.set(false, "kept", b"1".to_vec(), usize::MAX).unwrap();
    call.begin();
    call.set(false, "kept", b"changed".to_vec(), usize::MAX).unwrap();
    call.delete(false, "kept");
    call.set(false, "new", b"2".to_vec(), usize::MAX).unwrap();
    call.discard();
    assert_eq!(call.get(false, "kept"), Some(b"1".to_vec()));
    assert_eq!(call.keys(false, ""), vec!["kept".to_string()]);
    assert_eq!(store.keys("p/s/"), vec!["p/s/stage/kept".to_string()]);
}

#[test]
fn the_quota_counts_held_back_writes() {
    let store = StateStore::in_memory();
    let mut call = StateScope::new(store, "p", "s");
    call.begin();
    // "p/s/stage/a" is 11 bytes: 11 + 9 = 20 each.
    call.set(false, "a", vec![0; 9], 40).unwrap();
    call.set(false, "b", vec![0; 9], 40).unwrap();
    let err = call.set(false, "c", vec![0; 9], 40).unwrap_err();
    assert_eq!((err.used, err.wanted), (40, 20), "{err}");
    call.delete(false, "a");
    call.set(false, "c", vec![0; 9], 40).unwrap();
    call.commit();
    assert_eq!(call.bytes(), 40);
}

#[test]
fn scopes_do_not_see_each_other_and_state_survives_reopen() {
    let dir = std::env::temp_dir().join(format!("wasp-state-{}", std::process::id()));
    let path = dir.join("state.json");
    let store = StateStore::open(&path).unwrap();
    let mut a = StateScope::new(store.clone(), "p", "knn");
    let b = StateScope::new(store.clone(), "p", "other");
    a.set(false, "model/1", b"x".to_vec(), usize::MAX).unwrap();
    a.set_partition("t", 3);
    a.set(true, "window", b"w".to_vec(), usize::MAX).unwrap();
    assert_eq!(b.get(false, "model/1"), None);
    assert_eq!(a.keys(false, "model/"), vec!["model/1".to_string()]);
    store.flush().unwrap();
    let again = StateScope::new(StateStore::open(&path).unwrap(), "p", "knn");
    assert_eq!(again.get(false, "model/1"), Some(b"x".to_vec()));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_quota_counts_every_scope_of_the_stage_and_deleting_makes_room() {
    let store = StateStore::in_memory();
    let mut a = StateScope::new(store.clone(), "p", "s");
    let mut other = StateScope::new(store.clone(), "p", "t");
    // "p/s/stage/k" is 11 bytes; with a 10-byte value 21.
    a.set(false, "k", vec![0; 10], 60).unwrap();
    a.set_partition("topic", 0);
    a.set(true, "w", vec![0; 10], 60).unwrap(); // "p/s/partition/topic/0/w" = 23 + 10
    let err = a.set(false, "k2", vec![0; 10], 60).unwrap_err();
    assert_eq!((err.used, err.wanted, err.quota), (54, 22, 60), "{err}");
    assert!(err.to_string().contains("state_mib"), "{err}");
    // Other stages have their own quota.
    other.set(false, "k", vec![0; 30], 50).unwrap();
    // Replacing with a smaller value is taken even when over quota.
    a.set(false, "k", vec![0; 5], 10).unwrap();
    a.delete(true, "w");
    a.set(false, "k2", vec![0; 10], 50).unwrap();
    assert_eq!(a.keys(false, ""), vec!["k".to_string(), "k2".to_string()]);
    // A store written around the scope (state loaded from a file, say)
    // is counted again.
    store.set("p/s/stage/big".into(), vec![0; 100]);
    assert!(a.set(false, "k3", vec![0], 100).is_err());
}

mod changelog {
    use crate::offsets::OffsetTracker;
    use crate::state::backend::Memory;
    use crate::state::keys::Part;
    use crate::state::restore::restore;
    use crate::state::{StateScope, StateStore};
    use std::sync::Arc;

    fn scope(store: &StateStore, stage: &str) -> StateScope {
        let mut s = StateScope::new(store.clone(), "p", stage);
        s.set_partition("in", 2);
        s
    }

    /// One call of a Kafka batch on the inputs before `next`.
    fn call(s: &mut StateScope, next: i64, writes: &[(bool, &str, &str)]) -> usize {
        let tracker = Arc::new(OffsetTracker::default());
        s.set_batch(Some(tracker.hold(0)));
        s.begin_inputs(Some(next));
        for (partition, k, v) in writes {
            s.set(*partition, k, v.as_bytes().to_vec(), usize::MAX).unwrap();
        }
        let replayed = s.commit();
        s.set_batch(None);
        replayed
    }

    #[test]
    fn a_recorded_position_is_applied_with_its_call_and_restored_elsewhere() {
        let log = Arc::new(Memory::default());
        let store = StateStore::with_backend(log.clone());
        let mut s = scope(&store, "learn");
        s.begin();
        s.set(false, "row/1", b"x".to_vec(), usize::MAX).unwrap();
        s.record_position("corrections", 0, 41);
        assert_eq!(s.position("corrections", 0), Some(41), "read back within the call");
        assert_eq!(scope(&store, "learn").position("corrections", 0), None, "not before commit");
        s.commit();
        assert_eq!(log.len(&Part::Stage), 1, "one record: the row and the position together");

        // A process with nothing of its own restores both from the log.
        let fresh = StateStore::with_backend(log.clone());
        restore(&fresh, &Part::Stage).unwrap();
        let again = scope(&fresh, "learn");
        assert_eq!(again.position("corrections", 0), Some(41));
        assert_eq!(again.get(false, "row/1"), Some(b"x".to_vec()));
        assert_eq!(again.position("corrections", 1), None);
        assert_eq!(scope(&fresh, "other").position("corrections", 0), None, "per stage");
    }

    #[test]
    fn writes_of_replayed_inputs_are_dropped_per_part() {
        let log = Arc::new(Memory::default());
        let store = StateStore::with_backend(log.clone());
        let mut s = scope(&store, "a");
        assert_eq!(call(&mut s, 10, &[(true, "n", "1"), (false, "m", "1")]), 0);
        assert_eq!(s.replay_bounds(), vec![10, 10]);
        // Inputs up to 9 replayed (after a crash or a move): dropped.
        assert_eq!(call(&mut s, 8, &[(true, "n", "2"), (false, "m", "2")]), 2);
        assert_eq!(call(&mut s, 10, &[(true, "n", "2")]), 1);
        assert_eq!(s.get(true, "n"), Some(b"1".to_vec()));
        // New inputs apply.
        assert_eq!(call(&mut s, 12, &[(true, "n", "3")]), 0);
        assert_eq!(s.get(true, "n"), Some(b"3".to_vec()));
        assert_eq!(s.get(false, "m"), Some(b"1".to_vec()));
        let partition = Part::Partition("in".into(), 2);
        assert_eq!((log.len(&Part::Stage), log.len(&partition)), (1, 2));

        // Each part restores alone, with its own position: the partition
        // moves to another process, which goes on with it...
        let other = StateStore::with_backend(log.clone());
        restore(&other, &partition).unwrap();
        let mut moved = scope(&other, "a");
        assert_eq!(moved.get(true, "n"), Some(b"3".to_vec()));
        assert_eq!(moved.get(false, "m"), None, "stage state is another part");
        assert_eq!(moved.replay_bounds(), vec![12]);
        let tracker = Arc::new(OffsetTracker::default());
        moved.set_batch(Some(tracker.hold(12)));
        moved.begin_inputs(Some(13));
        moved.delete(true, "n");
        moved.set(true, "k", b"1".to_vec(), usize::MAX).unwrap();
        moved.commit();
        // ...and back: what the first process held of it is replaced.
        restore(&store, &partition).unwrap();
        assert_eq!(s.get(true, "n"), None, "a restore replaces the partition's state");
        assert_eq!(s.get(true, "k"), Some(b"1".to_vec()));
        assert_eq!(s.get(false, "m"), Some(b"1".to_vec()), "stage state untouched");
    }

    #[test]
    fn a_partition_assigned_later_catches_up_its_stage_positions() {
        use crate::state::restore::restore_partition;
        let log = Arc::new(Memory::default());
        // B started (restored the stage part) before A wrote anything.
        let b = StateStore::with_backend(log.clone());
        restore(&b, &Part::Stage).unwrap();
        let a = StateStore::with_backend(log.clone());
        let mut on_a = scope(&a, "s");
        call(&mut on_a, 10, &[(false, "seen/1", "x")]);
        // A dies before committing input offsets below 10; B takes the
        // partition over and is handed them again.
        restore_partition(&b, "in", 2).unwrap();
        let mut on_b = scope(&b, "s");
        assert_eq!(on_b.replay_bounds(), vec![10]);
        assert_eq!(call(&mut on_b, 9, &[(false, "seen/1", "y")]), 1, "replayed: dropped");
        assert_eq!(call(&mut on_b, 11, &[(false, "seen/2", "z")]), 0);
        let fresh = StateStore::with_backend(log.clone());
        restore(&fresh, &Part::Stage).unwrap();
        assert_eq!(fresh.get("p/s/stage/seen/1"), Some(b"x".to_vec()), "applied once");
        assert_eq!(fresh.get("p/s/stage/seen/2"), Some(b"z".to_vec()));
    }

    #[test]
    fn without_a_batch_no_position_is_recorded() {
        // `wasp test` and in-process runs number records from 0 each time:
        // they must never be taken for replays.
        let store = StateStore::in_memory();
        let mut s = scope(&store, "a");
        s.begin_inputs(Some(5));
        s.set(true, "n", b"1".to_vec(), usize::MAX).unwrap();
        s.commit();
        assert!(s.replay_bounds().is_empty());
        s.begin_inputs(Some(5));
        s.set(true, "n", b"2".to_vec(), usize::MAX).unwrap();
        assert_eq!(s.commit(), 0);
        assert_eq!(s.get(true, "n"), Some(b"2".to_vec()));
    }
}
