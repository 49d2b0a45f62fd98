//! The build cache (step key → intermediate image) and the context's file digests.

use super::{dig, DbError, Tx};
use crate::digest::Digest;
use rusqlite::{params, OptionalExtension};

impl Tx<'_> {
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
}
