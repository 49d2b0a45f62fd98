//! Metadata in SQLite (WAL). Every state change is one `BEGIN IMMEDIATE` transaction, so
//! concurrent doca processes serialize on the database instead of a daemon. The schema is
//! versioned with `PRAGMA user_version`; migrations run forward only, in one transaction.

use crate::digest::Digest;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

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

/// Forward-only migrations; index + 1 is the schema version after it runs.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE images (
    id              TEXT PRIMARY KEY,      -- config digest (docker's image id)
    manifest        TEXT NOT NULL,         -- manifest blob digest
    created         TEXT NOT NULL,         -- the config's `created`, RFC 3339, may be ''
    created_unix    INTEGER NOT NULL,
    size            INTEGER NOT NULL,      -- sum of the layers' unpacked content sizes
    labels          TEXT NOT NULL,         -- JSON object, for --filter label=
    added_unix      INTEGER NOT NULL
);
CREATE TABLE image_layers (
    image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    blob       TEXT NOT NULL,              -- layer blob digest as the manifest names it
    media_type TEXT NOT NULL,
    diff_id    TEXT NOT NULL,
    chain_id   TEXT NOT NULL,
    PRIMARY KEY (image_id, position)
);
CREATE INDEX image_layers_chain ON image_layers(chain_id);
CREATE INDEX image_layers_blob ON image_layers(blob);
CREATE TABLE tags (
    name       TEXT PRIMARY KEY,           -- fully qualified, e.g. docker.io/library/busybox:latest
    image_id   TEXT NOT NULL REFERENCES images(id),
    tagged_unix INTEGER NOT NULL
);
CREATE INDEX tags_image ON tags(image_id);
CREATE TABLE repo_digests (
    name       TEXT NOT NULL,              -- repository@digest, fully qualified
    image_id   TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    PRIMARY KEY (name, image_id)
);
CREATE TABLE snapshots (
    chain_id   TEXT PRIMARY KEY,
    diff_id    TEXT NOT NULL,
    size       INTEGER NOT NULL            -- bytes of file content, as docker reports layer sizes
);
"#,
    r#"
CREATE TABLE containers (
    id         TEXT PRIMARY KEY,           -- 64 hex digits
    name       TEXT NOT NULL UNIQUE,       -- without docker's leading '/'
    image_id   TEXT NOT NULL REFERENCES images(id),
    created    TEXT NOT NULL,              -- RFC 3339 with nanoseconds
    config     TEXT NOT NULL,              -- JSON: what the container was created with (the engine's type)
    state      TEXT NOT NULL               -- JSON: its lifecycle state (the engine's type)
);
CREATE INDEX containers_image ON containers(image_id);
"#,
    r#"
CREATE TABLE volumes (
    name       TEXT PRIMARY KEY,
    driver     TEXT NOT NULL,
    created    TEXT NOT NULL,              -- RFC 3339
    labels     TEXT NOT NULL,              -- JSON object
    options    TEXT NOT NULL,              -- JSON object (driver options, -o)
    anonymous  INTEGER NOT NULL            -- made for one container (VOLUME, -v /path)
);
"#,
    r#"
CREATE TABLE networks (
    id         TEXT PRIMARY KEY,           -- 64 hex digits
    name       TEXT NOT NULL UNIQUE,
    driver     TEXT NOT NULL,
    created    TEXT NOT NULL,              -- RFC 3339 with nanoseconds
    config     TEXT NOT NULL               -- JSON: subnet, gateway, bridge, options (the engine's type)
);
CREATE TABLE endpoints (
    network_id   TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL,
    ip           TEXT NOT NULL,            -- one address per network: allocation is this row
    config       TEXT NOT NULL,            -- JSON: mac, interface names, aliases, ports (the engine's type)
    PRIMARY KEY (network_id, container_id),
    UNIQUE (network_id, ip)
);
CREATE INDEX endpoints_container ON endpoints(container_id);
"#,
    r#"
CREATE TABLE build_cache (
    key          TEXT PRIMARY KEY,         -- the builder's key of a step (hex sha256)
    image_id     TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    created_unix INTEGER NOT NULL,
    used_unix    INTEGER NOT NULL
);
CREATE INDEX build_cache_image ON build_cache(image_id);
CREATE TABLE build_files (
    path       TEXT PRIMARY KEY,           -- a build context file, absolute
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    ctime_ns   INTEGER NOT NULL,
    ino        INTEGER NOT NULL,
    digest     TEXT NOT NULL               -- sha256 of its content when it had this stat
);
"#,
];

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

/// An image as the metadata knows it; the config and manifest themselves stay in blobs.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRow {
    pub id: Digest,
    pub manifest: Digest,
    pub created: String,
    pub created_unix: i64,
    pub size: i64,
    pub labels: serde_json::Map<String, serde_json::Value>,
    pub added_unix: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LayerRow {
    pub blob: Digest,
    pub media_type: String,
    pub diff_id: Digest,
    pub chain_id: Digest,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRow {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub size: i64,
}

/// A volume's record; its data is `volumes/<name>/_data` under the store root.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeRow {
    pub name: String,
    pub driver: String,
    pub created: String,
    pub labels: String,
    pub options: String,
    pub anonymous: bool,
}

/// A network's record; its config is the engine's JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkRow {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub created: String,
    pub config: String,
}

/// A container's attachment to a network while it runs: the row is the address's allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointRow {
    pub network_id: String,
    pub container_id: String,
    pub ip: String,
    pub config: String,
}

/// A container's record; config and state are the engine's JSON, the store only keeps them.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRow {
    pub id: String,
    pub name: String,
    pub image_id: Digest,
    pub created: String,
    pub config: String,
    pub state: String,
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

impl Tx<'_> {
    pub fn images(&self) -> Result<Vec<ImageRow>, DbError> {
        // One query shape for all listings; the always-true condition binds the one parameter.
        self.images_where("?1 = ?1", "")
    }

    pub fn image(&self, id: &Digest) -> Result<Option<ImageRow>, DbError> {
        Ok(self.images_where("id = ?1", id.as_str())?.pop())
    }

    fn images_where(&self, cond: &str, arg: &str) -> Result<Vec<ImageRow>, DbError> {
        let sql = format!("SELECT id, manifest, created, created_unix, size, labels, added_unix FROM images WHERE {cond}");
        let mut st = self.tx.prepare_cached(&sql)?;
        let rows = st.query_map([arg], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, String>(5)?, r.get(6)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, manifest, created, created_unix, size, labels, added_unix) = row?;
            out.push(ImageRow {
                id: dig(id)?,
                manifest: dig(manifest)?,
                created,
                created_unix,
                size,
                labels: serde_json::from_str(&labels).unwrap_or_default(),
                added_unix,
            });
        }
        Ok(out)
    }

    /// Images whose id starts with `sha256:<prefix>`.
    pub fn images_by_prefix(&self, hex_prefix: &str) -> Result<Vec<ImageRow>, DbError> {
        // Escape LIKE metacharacters: the prefix was validated as hex by the caller, but be safe.
        let pat = format!("sha256:{}%", hex_prefix.replace(['%', '_', '\\'], ""));
        self.images_where("id LIKE ?1", &pat)
    }

    pub fn insert_image(&self, img: &ImageRow, layers: &[LayerRow]) -> Result<bool, DbError> {
        let n = self.tx.execute(
            "INSERT OR IGNORE INTO images (id, manifest, created, created_unix, size, labels, added_unix) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                img.id.as_str(),
                img.manifest.as_str(),
                img.created,
                img.created_unix,
                img.size,
                serde_json::Value::Object(img.labels.clone()).to_string(),
                img.added_unix
            ],
        )?;
        if n == 0 {
            return Ok(false);
        }
        let mut st = self.tx.prepare_cached(
            "INSERT INTO image_layers (image_id, position, blob, media_type, diff_id, chain_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (i, l) in layers.iter().enumerate() {
            st.execute(params![img.id.as_str(), i as i64, l.blob.as_str(), l.media_type, l.diff_id.as_str(), l.chain_id.as_str()])?;
        }
        Ok(true)
    }

    pub fn delete_image(&self, id: &Digest) -> Result<(), DbError> {
        self.tx.execute("DELETE FROM tags WHERE image_id = ?1", [id.as_str()])?;
        self.tx.execute("DELETE FROM images WHERE id = ?1", [id.as_str()])?;
        Ok(())
    }

    pub fn layers(&self, id: &Digest) -> Result<Vec<LayerRow>, DbError> {
        let mut st =
            self.tx.prepare_cached("SELECT blob, media_type, diff_id, chain_id FROM image_layers WHERE image_id = ?1 ORDER BY position")?;
        let rows =
            st.query_map([id.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (blob, media_type, diff_id, chain_id) = row?;
            out.push(LayerRow { blob: dig(blob)?, media_type, diff_id: dig(diff_id)?, chain_id: dig(chain_id)? });
        }
        Ok(out)
    }

    /// All (tag, image id) pairs.
    pub fn tags(&self) -> Result<Vec<(String, Digest, i64)>, DbError> {
        let mut st = self.tx.prepare_cached("SELECT name, image_id, tagged_unix FROM tags")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?;
        rows.map(|r| {
            let (n, id, t) = r?;
            Ok((n, dig(id)?, t))
        })
        .collect()
    }

    pub fn tag_target(&self, name: &str) -> Result<Option<Digest>, DbError> {
        let id: Option<String> = self.tx.query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| r.get(0)).optional()?;
        id.map(dig).transpose()
    }

    pub fn tags_of(&self, id: &Digest) -> Result<Vec<String>, DbError> {
        let mut st = self.tx.prepare_cached("SELECT name FROM tags WHERE image_id = ?1 ORDER BY name")?;
        let rows = st.query_map([id.as_str()], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Points `name` at `id`; returns the image it pointed at before, if another.
    pub fn set_tag(&self, name: &str, id: &Digest, now: i64) -> Result<Option<Digest>, DbError> {
        let old = self.tag_target(name)?;
        self.tx.execute(
            "INSERT INTO tags (name, image_id, tagged_unix) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, tagged_unix = excluded.tagged_unix",
            params![name, id.as_str(), now],
        )?;
        Ok(old.filter(|o| o != id))
    }

    pub fn remove_tag(&self, name: &str) -> Result<bool, DbError> {
        Ok(self.tx.execute("DELETE FROM tags WHERE name = ?1", [name])? > 0)
    }

    pub fn repo_digests_of(&self, id: &Digest) -> Result<Vec<String>, DbError> {
        let mut st = self.tx.prepare_cached("SELECT name FROM repo_digests WHERE image_id = ?1 ORDER BY name")?;
        let rows = st.query_map([id.as_str()], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every (repository@digest, image id) pair, for listing without a query per image.
    pub fn repo_digests(&self) -> Result<Vec<(String, Digest)>, DbError> {
        let mut st = self.tx.prepare_cached("SELECT name, image_id FROM repo_digests ORDER BY name")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        rows.map(|r| {
            let (n, id) = r?;
            Ok((n, dig(id)?))
        })
        .collect()
    }

    pub fn add_repo_digest(&self, name: &str, id: &Digest) -> Result<(), DbError> {
        self.tx.execute("INSERT OR IGNORE INTO repo_digests (name, image_id) VALUES (?1, ?2)", params![name, id.as_str()])?;
        Ok(())
    }

    pub fn repo_digest_target(&self, name: &str) -> Result<Option<Digest>, DbError> {
        let id: Option<String> = self.tx.query_row("SELECT image_id FROM repo_digests WHERE name = ?1", [name], |r| r.get(0)).optional()?;
        id.map(dig).transpose()
    }

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

    fn containers_where(&self, cond: &str, arg: &str) -> Result<Vec<ContainerRow>, DbError> {
        let sql = format!("SELECT id, name, image_id, created, config, state FROM containers WHERE {cond} ORDER BY created");
        let mut st = self.tx.prepare_cached(&sql)?;
        let rows = st.query_map([arg], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?;
        rows.map(|r| {
            let (id, name, image_id, created, config, state) = r?;
            Ok(ContainerRow { id, name, image_id: dig(image_id)?, created, config, state })
        })
        .collect()
    }

    /// Every container, oldest first.
    pub fn containers(&self) -> Result<Vec<ContainerRow>, DbError> {
        self.containers_where("?1 = ?1", "")
    }

    pub fn container(&self, id: &str) -> Result<Option<ContainerRow>, DbError> {
        Ok(self.containers_where("id = ?1", id)?.pop())
    }

    pub fn container_by_name(&self, name: &str) -> Result<Option<ContainerRow>, DbError> {
        Ok(self.containers_where("name = ?1", name)?.pop())
    }

    /// Containers whose id starts with `hex_prefix`.
    pub fn containers_by_prefix(&self, hex_prefix: &str) -> Result<Vec<ContainerRow>, DbError> {
        self.containers_where("id LIKE ?1", &format!("{}%", hex_prefix.replace(['%', '_', '\\'], "")))
    }

    /// Ids of the containers made from `image`.
    pub fn containers_of_image(&self, image: &Digest) -> Result<Vec<String>, DbError> {
        Ok(self.containers_where("image_id = ?1", image.as_str())?.into_iter().map(|c| c.id).collect())
    }

    /// Inserts a new container; `false` when the name is taken.
    pub fn insert_container(&self, c: &ContainerRow) -> Result<bool, DbError> {
        if self.container_by_name(&c.name)?.is_some() {
            return Ok(false);
        }
        self.tx.execute(
            "INSERT INTO containers (id, name, image_id, created, config, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![c.id, c.name, c.image_id.as_str(), c.created, c.config, c.state],
        )?;
        Ok(true)
    }

    pub fn set_container_state(&self, id: &str, state: &str) -> Result<(), DbError> {
        self.tx.execute("UPDATE containers SET state = ?2 WHERE id = ?1", params![id, state])?;
        Ok(())
    }

    pub fn set_container_config(&self, id: &str, config: &str) -> Result<(), DbError> {
        self.tx.execute("UPDATE containers SET config = ?2 WHERE id = ?1", params![id, config])?;
        Ok(())
    }

    /// Renames a container; `false` when the new name is taken.
    pub fn rename_container(&self, id: &str, name: &str) -> Result<bool, DbError> {
        if self.container_by_name(name)?.is_some() {
            return Ok(false);
        }
        self.tx.execute("UPDATE containers SET name = ?2 WHERE id = ?1", params![id, name])?;
        Ok(true)
    }

    pub fn delete_container(&self, id: &str) -> Result<(), DbError> {
        self.tx.execute("DELETE FROM containers WHERE id = ?1", [id])?;
        Ok(())
    }

    pub fn volumes(&self) -> Result<Vec<VolumeRow>, DbError> {
        let mut st = self.tx.prepare_cached("SELECT name, driver, created, labels, options, anonymous FROM volumes ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(VolumeRow {
                name: r.get(0)?,
                driver: r.get(1)?,
                created: r.get(2)?,
                labels: r.get(3)?,
                options: r.get(4)?,
                anonymous: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn volume(&self, name: &str) -> Result<Option<VolumeRow>, DbError> {
        Ok(self.volumes()?.into_iter().find(|v| v.name == name))
    }

    /// Inserts a volume; `false` when one of that name exists.
    pub fn insert_volume(&self, v: &VolumeRow) -> Result<bool, DbError> {
        let n = self.tx.execute(
            "INSERT OR IGNORE INTO volumes (name, driver, created, labels, options, anonymous) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![v.name, v.driver, v.created, v.labels, v.options, v.anonymous],
        )?;
        Ok(n == 1)
    }

    pub fn delete_volume(&self, name: &str) -> Result<(), DbError> {
        self.tx.execute("DELETE FROM volumes WHERE name = ?1", [name])?;
        Ok(())
    }

    pub fn networks(&self) -> Result<Vec<NetworkRow>, DbError> {
        let mut st = self.tx.prepare_cached("SELECT id, name, driver, created, config FROM networks ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(NetworkRow { id: r.get(0)?, name: r.get(1)?, driver: r.get(2)?, created: r.get(3)?, config: r.get(4)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Inserts a network; `false` when the name is taken.
    pub fn insert_network(&self, n: &NetworkRow) -> Result<bool, DbError> {
        let c = self.tx.execute(
            "INSERT OR IGNORE INTO networks (id, name, driver, created, config) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![n.id, n.name, n.driver, n.created, n.config],
        )?;
        Ok(c == 1)
    }

    pub fn delete_network(&self, id: &str) -> Result<(), DbError> {
        self.tx.execute("DELETE FROM networks WHERE id = ?1", [id])?;
        Ok(())
    }

    pub fn endpoints(&self) -> Result<Vec<EndpointRow>, DbError> {
        let mut st = self.tx.prepare_cached("SELECT network_id, container_id, ip, config FROM endpoints ORDER BY network_id, ip")?;
        let rows =
            st.query_map([], |r| Ok(EndpointRow { network_id: r.get(0)?, container_id: r.get(1)?, ip: r.get(2)?, config: r.get(3)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records an endpoint; `false` when its address (or the container on that network) is
    /// taken, so two processes can never hand out one address twice.
    pub fn insert_endpoint(&self, e: &EndpointRow) -> Result<bool, DbError> {
        let c = self.tx.execute(
            "INSERT OR IGNORE INTO endpoints (network_id, container_id, ip, config) VALUES (?1, ?2, ?3, ?4)",
            params![e.network_id, e.container_id, e.ip, e.config],
        )?;
        Ok(c == 1)
    }

    pub fn delete_endpoint(&self, network_id: &str, container_id: &str) -> Result<(), DbError> {
        self.tx.execute("DELETE FROM endpoints WHERE network_id = ?1 AND container_id = ?2", [network_id, container_id])?;
        Ok(())
    }

    /// The image a build step's key made, if it is still there; marks the entry used.
    pub fn build_cache_get(&self, key: &str, now: i64) -> Result<Option<Digest>, DbError> {
        let id: Option<String> = self.tx.query_row("SELECT image_id FROM build_cache WHERE key = ?1", [key], |r| r.get(0)).optional()?;
        if id.is_some() {
            self.tx.execute("UPDATE build_cache SET used_unix = ?2 WHERE key = ?1", params![key, now])?;
        }
        id.map(dig).transpose()
    }

    pub fn build_cache_put(&self, key: &str, image: &Digest, now: i64) -> Result<(), DbError> {
        self.tx.execute(
            "INSERT OR REPLACE INTO build_cache (key, image_id, created_unix, used_unix) VALUES (?1, ?2, ?3, ?3)",
            params![key, image.as_str(), now],
        )?;
        Ok(())
    }

    /// Every image the build cache holds, with when it was last used.
    pub fn build_cache_images(&self) -> Result<Vec<(Digest, i64)>, DbError> {
        let mut st = self.tx.prepare_cached("SELECT image_id, MAX(used_unix) FROM build_cache GROUP BY image_id")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        rows.map(|r| r.map_err(DbError::from).and_then(|(id, used)| Ok((dig(id)?, used)))).collect()
    }

    /// Forgets the cache entries of one image (the image itself stays).
    pub fn build_cache_forget(&self, image: &Digest) -> Result<usize, DbError> {
        Ok(self.tx.execute("DELETE FROM build_cache WHERE image_id = ?1", [image.as_str()])?)
    }

    /// The content digest of a context file recorded with exactly this stat.
    pub fn build_file_digest(&self, path: &str, size: i64, mtime_ns: i64, ctime_ns: i64, ino: i64) -> Result<Option<String>, DbError> {
        Ok(self
            .tx
            .query_row(
                "SELECT digest FROM build_files WHERE path = ?1 AND size = ?2 AND mtime_ns = ?3 AND ctime_ns = ?4 AND ino = ?5",
                params![path, size, mtime_ns, ctime_ns, ino],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_build_file_digest(
        &self,
        path: &str,
        size: i64,
        mtime_ns: i64,
        ctime_ns: i64,
        ino: i64,
        digest: &str,
    ) -> Result<(), DbError> {
        self.tx.execute(
            "INSERT OR REPLACE INTO build_files (path, size, mtime_ns, ctime_ns, ino, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![path, size, mtime_ns, ctime_ns, ino, digest],
        )?;
        Ok(())
    }

    pub fn clear_build_files(&self) -> Result<usize, DbError> {
        Ok(self.tx.execute("DELETE FROM build_files", [])?)
    }

    /// Every blob some image needs: manifests, configs and layers.
    pub fn referenced_blobs(&self) -> Result<std::collections::HashSet<Digest>, DbError> {
        let mut st =
            self.tx.prepare_cached("SELECT id FROM images UNION SELECT manifest FROM images UNION SELECT blob FROM image_layers")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| dig(r?)).collect()
    }

    pub fn referenced_snapshots(&self) -> Result<std::collections::HashSet<Digest>, DbError> {
        let mut st = self.tx.prepare_cached("SELECT DISTINCT chain_id FROM image_layers")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| dig(r?)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            created_unix: n as i64,
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
