//! Binary encodings of state: write sets (changelog records) and snapshots
//! (the local file), both with postcard (docs/decisions.md, "State
//! encoding"). A version byte leads each, so a later format can still read
//! these; snapshot files of the JSON format before it are still read.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The store's map: full key → value.
pub type Map = BTreeMap<String, Vec<u8>>;

/// One write set: full key → new value, `None` for a delete.
pub type Writes = BTreeMap<String, Option<Vec<u8>>>;

/// Leads a write-set record.
const SET_FORMAT: u8 = 1;
/// Leads a snapshot file; `{` would be the JSON format before it.
const SNAPSHOT_MAGIC: &[u8] = b"wasp-state\x01";

#[derive(Serialize, Deserialize)]
struct Set {
    writes: Vec<(String, Option<Vec<u8>>)>,
}

/// Encode a write set as one changelog record value.
pub fn encode_set(writes: &Writes) -> Vec<u8> {
    let set = Set { writes: writes.iter().map(|(k, v)| (k.clone(), v.clone())).collect() };
    let mut out = vec![SET_FORMAT];
    out.extend(postcard::to_stdvec(&set).expect("a write set always encodes"));
    out
}

/// Decode a changelog record value into its writes.
pub fn decode_set(bytes: &[u8]) -> Result<Vec<(String, Option<Vec<u8>>)>> {
    match bytes.split_first() {
        Some((&SET_FORMAT, rest)) => {
            let set: Set = postcard::from_bytes(rest).context("a corrupt state write set")?;
            Ok(set.writes)
        }
        Some((v, _)) => bail!(
            "a state write set of format {v}, which this wasp cannot read (it reads format \
             {SET_FORMAT}): run the newer wasp that wrote it"
        ),
        None => bail!("an empty state write set"),
    }
}

/// The changelog record key of a write set: a digest of the keys it
/// writes. A later set writing the same keys replaces every value of an
/// earlier one, so a compacting broker keeping only the last record per
/// record key keeps the state exact.
pub fn set_key(writes: &Writes) -> String {
    let mut h = Sha256::new();
    for k in writes.keys() {
        h.update(k.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..16])
}

/// Encode the whole map for the snapshot file.
pub fn encode_snapshot(map: &Map) -> Vec<u8> {
    let mut out = SNAPSHOT_MAGIC.to_vec();
    out.extend(postcard::to_stdvec(map).expect("a map always encodes"));
    out
}

/// Decode a snapshot file: this format, or the JSON of earlier versions.
pub fn decode_snapshot(bytes: &[u8]) -> Result<Map> {
    if let Some(rest) = bytes.strip_prefix(SNAPSHOT_MAGIC) {
        return postcard::from_bytes(rest).context("the binary snapshot does not decode");
    }
    if bytes.trim_ascii_start().starts_with(b"{") {
        return serde_json::from_slice(bytes).context("the JSON state file does not parse");
    }
    if bytes.starts_with(&SNAPSHOT_MAGIC[..SNAPSHOT_MAGIC.len() - 1]) {
        bail!("a state snapshot of a newer format than this wasp reads");
    }
    bail!("not a wasp state file (neither its binary snapshot nor the older JSON)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_and_snapshots_round_trip_and_old_json_files_are_read() {
        let mut w = Writes::new();
        w.insert("p/s/stage/a".into(), Some(vec![0, 255, 7]));
        w.insert("p/s/stage/b".into(), None);
        let back = decode_set(&encode_set(&w)).unwrap();
        assert_eq!(back, w.clone().into_iter().collect::<Vec<_>>());
        let mut other = Writes::new();
        other.insert("p/s/stage/a".into(), None);
        other.insert("p/s/stage/b".into(), Some(vec![1]));
        assert_eq!(set_key(&w), set_key(&other), "same keys, same record key");
        other.insert("p/s/stage/c".into(), None);
        assert_ne!(set_key(&w), set_key(&other));

        let map: Map = [("k".to_string(), vec![1u8, 2, 3])].into();
        let bin = encode_snapshot(&map);
        assert!(bin.len() < 20, "{} bytes: values are not number arrays", bin.len());
        assert_eq!(decode_snapshot(&bin).unwrap(), map);
        assert_eq!(decode_snapshot(br#" {"k":[1,2,3]}"#).unwrap(), map);
        assert!(decode_snapshot(b"garbage").is_err());
        assert!(decode_set(&[9, 1]).unwrap_err().to_string().contains("format 9"));
    }
}
