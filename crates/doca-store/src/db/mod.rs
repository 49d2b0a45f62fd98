//! Metadata in SQLite (WAL). Every state change is one `BEGIN IMMEDIATE` transaction, so
//! concurrent doca processes serialize on the database instead of a daemon. The schema is
//! versioned with `PRAGMA user_version`; migrations run forward only, in one transaction.
//! `Tx`'s queries are split by table family, one file each (as containerd splits its metadata
//! store): images, snapshots, containers, volumes, networks, build.

use crate::digest::Digest;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

mod build;
mod containers;
mod images;
mod networks;
mod schema;
mod snapshots;
mod volumes;

pub use containers::ContainerRow;
pub use images::{ImageRow, LayerRow};
pub use networks::{EndpointRow, NetworkRow};
use schema::MIGRATIONS;
pub use snapshots::SnapshotRow;
pub use volumes::VolumeRow;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("metadata database {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("metadata database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("metadata database: bad digest in row: {0}")]
    Corrupt(String),
    #[error("metadata database schema version {0} is newer than this doca understands ({1})")]
    TooNew(i64, i64),
}

pub struct Db {
    conn: Connection,
}

/// How long a doca process waits for another one's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

/// The WAL size at which a closing connection checkpoints and truncates it (see `Drop`).
const WAL_LIMIT: u64 = 1 << 20;

impl Drop for Db {
    /// Every doca command is a process of its own, usually the database's only connection.
    /// SQLite's first connection rebuilds the WAL index by reading the whole WAL ("recovery"),
    /// and recovery forgets what earlier checkpoints copied back, so the WAL never restarts:
    /// it grew with the store's history (24 MB after 1,000 `create`s), every command read all
    /// of it on open, and every commit past wal_autocheckpoint copied all of it again (`ps -a`
    /// with 1,000 containers: 28 ms, 18.5 ms with the WAL truncated). Checkpointing on every
    /// close costs an fsync per command (why NO_CKPT_ON_CLOSE is set), so it is done only once
    /// the WAL passes WAL_LIMIT, with TRUNCATE so that the next open reads nothing. Without
    /// waiting: if another process is using the database, it does this when it closes.
    fn drop(&mut self) {
        let wal = self.conn.path().map(|p| format!("{p}-wal"));
        if wal.and_then(|w| std::fs::metadata(w).ok()).is_some_and(|m| m.len() > WAL_LIMIT) {
            let _ = self.conn.busy_timeout(Duration::ZERO);
            let _ = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }
}

fn dig(s: String) -> Result<Digest, DbError> {
    s.parse().map_err(|_| DbError::Corrupt(s))
}

impl Db {
    pub fn open(path: &Path) -> Result<Self, DbError> {
        // Opening can meet SQLITE_BUSY that the busy handler does not cover (WAL recovery or
        // the journal-mode switch while other processes open the same file): retried here,
        // for as long as the busy timeout would have waited.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match Self::open_once(path) {
                Err(DbError::Open { source: rusqlite::Error::SqliteFailure(e, _), .. })
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                r => return r,
            }
        }
    }

    fn open_once(path: &Path) -> Result<Self, DbError> {
        let open_err = |source| DbError::Open { path: path.display().to_string(), source };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // WAL lets readers (images, inspect) run while another process writes.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        // The last connection to close would checkpoint the WAL into the database and fsync
        // it: ~5 ms at the end of every doca command. Writers checkpoint as the WAL grows
        // (wal_autocheckpoint) instead; the WAL is part of the database (never delete it).
        conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true).map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        let mut db = Db { conn };
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&mut self) -> Result<(), DbError> {
        let latest = MIGRATIONS.len() as i64;
        let current: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if current == latest {
            return Ok(());
        }
        if current > latest {
            return Err(DbError::TooNew(current, latest));
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another process may have migrated meanwhile.
        let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            tx.execute_batch(m)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs `f` in one immediate (write-locked) transaction.
    pub fn write<T>(&mut self, f: impl FnOnce(&Tx) -> Result<T, DbError>) -> Result<T, DbError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&Tx { tx: &tx })?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in one read transaction: a consistent snapshot across several queries.
    pub fn read<T>(&mut self, f: impl FnOnce(&Tx) -> Result<T, DbError>) -> Result<T, DbError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let out = f(&Tx { tx: &tx })?;
        tx.commit()?;
        Ok(out)
    }
}

/// Queries and updates inside one transaction.
pub struct Tx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::params;

    /// Regression: the WAL grew with every process's writes and was read whole by the next
    /// process's open (a doca command per process). Many short-lived connections that each
    /// write keep it under the limit.
    #[test]
    fn the_wal_stays_bounded_across_processes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doca.db");
        for n in 0..400u32 {
            let mut db = Db::open(&path).unwrap();
            let img = ImageRow { id: Digest::of(&n.to_le_bytes()), manifest: Digest::of(&[1]), ..row(0) };
            db.write(|tx| tx.insert_image(&img, &[]).map(|_| ())).unwrap();
        }
        let wal = std::fs::metadata(dir.path().join("doca.db-wal")).map(|m| m.len()).unwrap_or(0);
        assert!(wal <= WAL_LIMIT + (64 << 10), "the WAL grew to {wal} bytes");
        let mut db = Db::open(&path).unwrap();
        assert_eq!(db.read(|tx| tx.images()).unwrap().len(), 400);
    }

    fn row(n: u8) -> ImageRow {
        ImageRow {
            id: Digest::of(&[n]),
            manifest: Digest::of(&[n, 1]),
            created: String::new(),
            created_unix: i64::from(n),
            size: 10,
            labels: Default::default(),
            added_unix: 0,
        }
    }

    /// A store written by an older doca: its schema at `version`, with a row in every table
    /// that version had, written as that version wrote them (old schemas never change).
    fn store_at_version(path: &Path, version: usize) {
        let conn = Connection::open(path).unwrap();
        for (i, m) in MIGRATIONS[..version].iter().enumerate() {
            conn.execute_batch(m).unwrap();
            conn.pragma_update(None, "user_version", (i + 1) as i64).unwrap();
        }
        let image = Digest::of(b"image").to_string();
        conn.execute(
            "INSERT INTO images (id, manifest, created, created_unix, size, labels, added_unix) VALUES (?1, ?2, '', 0, 10, '{}', 0)",
            params![image, Digest::of(b"manifest").to_string()],
        )
        .unwrap();
        conn.execute("INSERT INTO tags (name, image_id, tagged_unix) VALUES ('docker.io/library/db:10', ?1, 0)", params![image]).unwrap();
        if version >= 2 {
            conn.execute(
                "INSERT INTO containers (id, name, image_id, created, config, state) VALUES (?1, 'pg', ?2, '', '{}', '{}')",
                params!["ab".repeat(32), image],
            )
            .unwrap();
        }
        if version >= 3 {
            conn.execute(
                "INSERT INTO volumes (name, driver, created, labels, options, anonymous) VALUES ('pgdata', 'local', '', '{}', '{}', 0)",
                [],
            )
            .unwrap();
        }
        if version >= 4 {
            conn.execute("INSERT INTO networks (id, name, driver, created, config) VALUES ('n1', 'backend', 'bridge', '', '{}')", [])
                .unwrap();
        }
        if version >= 5 {
            conn.execute("INSERT INTO build_cache (key, image_id, created_unix, used_unix) VALUES ('k1', ?1, 0, 0)", params![image])
                .unwrap();
        }
    }

    #[test]
    fn stores_of_every_earlier_version_upgrade_with_their_data() {
        for version in 1..=MIGRATIONS.len() {
            let t = tempfile::tempdir().unwrap();
            let path = t.path().join("doca.db");
            store_at_version(&path, version);
            let mut db = Db::open(&path).unwrap();
            let now: i64 = db.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
            assert_eq!(now, MIGRATIONS.len() as i64);
            db.read(|tx| {
                assert_eq!(tx.tag_target("docker.io/library/db:10")?, Some(Digest::of(b"image")), "from version {version}");
                assert_eq!(tx.containers()?.len(), usize::from(version >= 2), "from version {version}");
                assert_eq!(tx.volume("pgdata")?.is_some(), version >= 3, "from version {version}");
                assert_eq!(tx.networks()?.len(), usize::from(version >= 4), "from version {version}");
                assert_eq!(tx.build_cache_get("k1", 1)?.is_some(), version >= 5, "from version {version}");
                Ok(())
            })
            .unwrap();
        }
        // A store from a newer doca is refused, not rewritten.
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("doca.db");
        Connection::open(&path).unwrap().pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1).unwrap();
        assert!(matches!(Db::open(&path), Err(DbError::TooNew(..))));
    }

    #[test]
    fn images_tags_and_references() {
        let t = tempfile::tempdir().unwrap();
        let mut db = Db::open(&t.path().join("doca.db")).unwrap();
        let layer = LayerRow { blob: Digest::of(b"l"), media_type: "x".into(), diff_id: Digest::of(b"l"), chain_id: Digest::of(b"l") };
        db.write(|tx| {
            assert!(tx.insert_image(&row(1), std::slice::from_ref(&layer))?);
            assert!(!tx.insert_image(&row(1), std::slice::from_ref(&layer))?);
            assert_eq!(tx.set_tag("a:latest", &row(1).id, 0)?, None);
            Ok(())
        })
        .unwrap();
        // reopening migrates nothing and keeps data
        let mut db = Db::open(&t.path().join("doca.db")).unwrap();
        db.read(|tx| {
            assert_eq!(tx.images()?.len(), 1);
            assert_eq!(tx.tags_of(&row(1).id)?, vec!["a:latest".to_string()]);
            let blobs = tx.referenced_blobs()?;
            assert!(blobs.contains(&layer.blob) && blobs.contains(&row(1).manifest));
            assert_eq!(tx.images_by_prefix(&row(1).id.hex()[..4])?.len(), 1);
            Ok(())
        })
        .unwrap();
        let c = ContainerRow {
            id: "ab".repeat(32),
            name: "web".into(),
            image_id: row(1).id,
            created: "2026-11-30T00:00:00Z".into(),
            config: "{}".into(),
            state: "{}".into(),
        };
        db.write(|tx| {
            assert!(tx.insert_container(&c)?);
            assert!(!tx.insert_container(&ContainerRow { id: "cd".repeat(32), ..c.clone() })?, "names are unique");
            assert_eq!(tx.containers_by_prefix("abab")?.len(), 1);
            assert_eq!(tx.containers_of_image(&row(1).id)?, vec![c.id.clone()]);
            tx.set_container_state(&c.id, r#"{"s":1}"#)?;
            assert!(tx.rename_container(&c.id, "api")?);
            assert_eq!(tx.container_by_name("api")?.unwrap().state, r#"{"s":1}"#);
            // An image in use by a container cannot vanish under it.
            assert!(tx.delete_image(&row(1).id).is_err());
            tx.delete_container(&c.id)
        })
        .unwrap();
        db.write(|tx| tx.delete_image(&row(1).id)).unwrap();
        db.read(|tx| {
            assert!(tx.referenced_blobs()?.is_empty());
            assert!(tx.tags()?.is_empty());
            Ok(())
        })
        .unwrap();
    }
}
