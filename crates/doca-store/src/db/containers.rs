//! Containers: the engine's JSON config and state, by id and unique name.

use super::{dig, DbError, Tx};
use crate::digest::Digest;
use rusqlite::params;

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

impl Tx<'_> {
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
}
