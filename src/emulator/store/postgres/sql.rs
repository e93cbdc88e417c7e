//! The SQL of reads and writes: a transaction seen through the store traits ([`Reader`],
//! [`Tx`]), each statement prepared once per connection and blocking on the runtime. Counts
//! are counted (an index serves them), and references are rows of their own that go with their
//! source (`ON DELETE CASCADE`). Not here: transactions (`super::writer` and the store's reads
//! begin and end them).

use deadpool_postgres::Transaction;
use tokio::runtime::Handle;
use tokio_postgres::{Row, types::ToSql};

use super::availability::pg_error;
use crate::emulator::store::{Key, Kind, Reader, Record, StoreError, Tx, storable_status};

/// A transaction seen through the store traits; its methods block on the runtime.
pub(super) struct Conn<'a> {
    pub(super) handle: &'a Handle,
    pub(super) tx: &'a Transaction<'a>,
    /// Whether anything was written (only then do other replicas hear of it).
    pub(super) wrote: bool,
}

impl Conn<'_> {
    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        self.handle
            .block_on(async {
                let statement = self.tx.prepare_cached(sql).await?;
                self.tx.query(&statement, params).await
            })
            .map_err(pg_error)
    }

    fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        self.wrote = true;
        self.handle
            .block_on(async {
                let statement = self.tx.prepare_cached(sql).await?;
                self.tx.execute(&statement, params).await
            })
            .map_err(pg_error)
    }
}

impl Reader for Conn<'_> {
    fn get(&self, key: &Key) -> Result<Option<String>, StoreError> {
        let rows = self.query(
            "SELECT doc FROM resources WHERE kind = $1 AND scope = $2 AND name = $3",
            &[&key.kind.as_str(), &key.scope, &key.name],
        )?;
        Ok(rows.first().map(|row| row.get(0)))
    }

    fn list(
        &self,
        kind: Kind,
        scope: &str,
        after: Option<&str>,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.query(
            "SELECT name, doc FROM resources
             WHERE kind = $1 AND scope = $2 AND name > $3 AND ($4::text IS NULL OR status = $4)
             ORDER BY name LIMIT $5",
            &[
                &kind.as_str(),
                &scope,
                &after.unwrap_or(""),
                &status,
                &limit,
            ],
        )?;
        Ok(rows
            .iter()
            .map(|row| Record {
                name: row.get(0),
                doc: row.get(1),
            })
            .collect())
    }

    fn count(&self, kind: Kind, scope: &str, status: Option<&str>) -> Result<u64, StoreError> {
        let rows = self.query(
            "SELECT count(*) FROM resources
             WHERE kind = $1 AND scope = $2 AND ($3::text IS NULL OR status = $3)",
            &[&kind.as_str(), &scope, &status],
        )?;
        let n: i64 = rows.first().map(|row| row.get(0)).unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or_default())
    }

    fn referrers(&self, target: &Key) -> Result<Vec<Key>, StoreError> {
        let rows = self.query(
            "SELECT src_kind, src_scope, src_name FROM refs
             WHERE dst_kind = $1 AND dst_scope = $2 AND dst_name = $3
             ORDER BY src_kind, src_scope, src_name",
            &[&target.kind.as_str(), &target.scope, &target.name],
        )?;
        rows.iter()
            .map(|row| {
                Ok(Key {
                    kind: Kind::parse(row.get(0))?,
                    scope: row.get(1),
                    name: row.get(2),
                })
            })
            .collect()
    }
}

const ADD_REF: &str =
    "INSERT INTO refs (src_kind, src_scope, src_name, dst_kind, dst_scope, dst_name)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING";

impl Conn<'_> {
    fn add_refs(&mut self, source: &Key, targets: &[Key]) -> Result<(), StoreError> {
        for t in targets {
            self.execute(
                ADD_REF,
                &[
                    &source.kind.as_str(),
                    &source.scope,
                    &source.name,
                    &t.kind.as_str(),
                    &t.scope,
                    &t.name,
                ],
            )?;
        }
        Ok(())
    }
}

impl Tx for Conn<'_> {
    fn put(&mut self, key: &Key, status: Option<&str>, doc: &str) -> Result<(), StoreError> {
        storable_status(status)?;
        self.execute(
            "INSERT INTO resources (kind, scope, name, status, doc) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (kind, scope, name)
             DO UPDATE SET status = excluded.status, doc = excluded.doc",
            &[&key.kind.as_str(), &key.scope, &key.name, &status, &doc],
        )?;
        Ok(())
    }

    fn set_refs(&mut self, source: &Key, targets: &[Key]) -> Result<(), StoreError> {
        if !targets.is_empty() && self.get(source)?.is_none() {
            return Err(StoreError::NotStored(source.clone()));
        }
        self.execute(
            "DELETE FROM refs WHERE src_kind = $1 AND src_scope = $2 AND src_name = $3",
            &[&source.kind.as_str(), &source.scope, &source.name],
        )?;
        self.add_refs(source, targets)
    }

    fn insert(
        &mut self,
        key: &Key,
        status: Option<&str>,
        doc: &str,
        refs: &[Key],
    ) -> Result<(), StoreError> {
        storable_status(status)?;
        self.execute(
            "INSERT INTO resources (kind, scope, name, status, doc) VALUES ($1, $2, $3, $4, $5)",
            &[&key.kind.as_str(), &key.scope, &key.name, &status, &doc],
        )?;
        self.add_refs(key, refs)
    }

    fn delete(&mut self, key: &Key) -> Result<bool, StoreError> {
        // The references go with the row (ON DELETE CASCADE).
        let n = self.execute(
            "DELETE FROM resources WHERE kind = $1 AND scope = $2 AND name = $3",
            &[&key.kind.as_str(), &key.scope, &key.name],
        )?;
        Ok(n > 0)
    }
}
