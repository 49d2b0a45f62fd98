//! Volumes (the local driver's records).

use super::{DbError, Tx};
use rusqlite::params;

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

impl Tx<'_> {
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
}
