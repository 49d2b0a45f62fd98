//! Unpacked layers (snapshots), by chain id.

use super::{dig, DbError, Tx};
use crate::digest::Digest;
use rusqlite::{params, OptionalExtension};

#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRow {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub size: i64,
}

impl Tx<'_> {
    pub fn insert_snapshot(&self, s: &SnapshotRow) -> Result<(), DbError> {
        self.tx.execute(
            "INSERT OR IGNORE INTO snapshots (chain_id, diff_id, size) VALUES (?1, ?2, ?3)",
            params![s.chain_id.as_str(), s.diff_id.as_str(), s.size],
        )?;
        Ok(())
    }

    pub fn snapshot(&self, chain_id: &Digest) -> Result<Option<SnapshotRow>, DbError> {
        let row: Option<(String, i64)> = self
            .tx
            .query_row("SELECT diff_id, size FROM snapshots WHERE chain_id = ?1", [chain_id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(d, size)| Ok(SnapshotRow { chain_id: chain_id.clone(), diff_id: dig(d)?, size })).transpose()
    }

    pub fn snapshots(&self) -> Result<Vec<SnapshotRow>, DbError> {
        let mut st = self.tx.prepare_cached("SELECT chain_id, diff_id, size FROM snapshots")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)))?;
        rows.map(|r| {
            let (c, d, size) = r?;
            Ok(SnapshotRow { chain_id: dig(c)?, diff_id: dig(d)?, size })
        })
        .collect()
    }

    pub fn delete_snapshot_row(&self, chain_id: &Digest) -> Result<(), DbError> {
        self.tx.execute("DELETE FROM snapshots WHERE chain_id = ?1", [chain_id.as_str()])?;
        Ok(())
    }

    pub fn referenced_snapshots(&self) -> Result<std::collections::HashSet<Digest>, DbError> {
        let mut st = self.tx.prepare_cached("SELECT DISTINCT chain_id FROM image_layers")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| dig(r?)).collect()
    }
}
