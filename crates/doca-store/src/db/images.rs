//! Images, their layers, tags and repository digests.

use super::{dig, DbError, Tx};
use crate::digest::Digest;
use rusqlite::{params, OptionalExtension};

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

impl Tx<'_> {
    pub fn images(&self) -> Result<Vec<ImageRow>, DbError> {
        // One query shape for all listings; the always-true condition binds the one parameter.
        self.images_where("removed = 0 AND ?1 = ?1", "")
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
        self.images_where("removed = 0 AND id LIKE ?1", &pat)
    }

    /// Hides an image that containers still use (see the `removed` column).
    pub fn mark_image_removed(&self, id: &Digest) -> Result<(), DbError> {
        self.tx.execute("UPDATE images SET removed = 1 WHERE id = ?1", [id.as_str()])?;
        Ok(())
    }

    /// Whether `id` is an image `rmi -f` hid (it goes with its last container).
    pub fn image_removed(&self, id: &Digest) -> Result<bool, DbError> {
        let removed: Option<i64> = self.tx.query_row("SELECT removed FROM images WHERE id = ?1", [id.as_str()], |r| r.get(0)).optional()?;
        Ok(removed == Some(1))
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
            // The same image again (pull, load, build): one `rmi -f` hid comes back.
            self.tx.execute("UPDATE images SET removed = 0 WHERE id = ?1", [img.id.as_str()])?;
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

    pub fn remove_repo_digest(&self, name: &str) -> Result<bool, DbError> {
        Ok(self.tx.execute("DELETE FROM repo_digests WHERE name = ?1", [name])? > 0)
    }

    pub fn repo_digest_target(&self, name: &str) -> Result<Option<Digest>, DbError> {
        let id: Option<String> = self.tx.query_row("SELECT image_id FROM repo_digests WHERE name = ?1", [name], |r| r.get(0)).optional()?;
        id.map(dig).transpose()
    }

    /// Every blob some image needs: manifests, configs and layers.
    pub fn referenced_blobs(&self) -> Result<std::collections::HashSet<Digest>, DbError> {
        let mut st =
            self.tx.prepare_cached("SELECT id FROM images UNION SELECT manifest FROM images UNION SELECT blob FROM image_layers")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| dig(r?)).collect()
    }
}
