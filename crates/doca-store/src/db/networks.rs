//! Networks and endpoints (an endpoint row is its address's allocation).

use super::{DbError, Tx};
use rusqlite::params;

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

impl Tx<'_> {
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
}
