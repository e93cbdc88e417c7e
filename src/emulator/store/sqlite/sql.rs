//! The SQL of reads and writes: a connection inside a transaction, seen through the store
//! traits ([`Reader`], [`Tx`]). Counts are kept by triggers and references by target in their
//! own table, each source's own list of targets in its row (see `super::schema`). Not here:
//! transactions (`super::writer` begins and commits them, the store's reads open theirs).

use rusqlite::{Connection, OptionalExtension, params};

use crate::emulator::store::{Key, Kind, Reader, Record, StoreError, Tx, storable_status};

/// A connection inside a transaction, seen through the store traits.
pub(super) struct Conn<'a>(pub(super) &'a Connection);

impl Reader for Conn<'_> {
    fn get(&self, key: &Key) -> Result<Option<String>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT doc FROM resources WHERE kind = ?1 AND scope = ?2 AND name = ?3",
        )?;
        Ok(stmt
            .query_row(params![key.kind.as_str(), key.scope, key.name], |row| {
                row.get(0)
            })
            .optional()?)
    }

    fn list(
        &self,
        kind: Kind,
        scope: &str,
        after: Option<&str>,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT name, doc FROM resources
             WHERE kind = ?1 AND scope = ?2 AND name > ?3 AND (?4 IS NULL OR status = ?4)
             ORDER BY name LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![
                kind.as_str(),
                scope,
                after.unwrap_or(""),
                status,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |row| {
                Ok(Record {
                    name: row.get(0)?,
                    doc: row.get(1)?,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count(&self, kind: Kind, scope: &str, status: Option<&str>) -> Result<u64, StoreError> {
        // Kept by triggers; status '' is the count of all.
        let n: i64 = self
            .0
            .prepare_cached("SELECT n FROM counts WHERE kind = ?1 AND scope = ?2 AND status = ?3")?
            .query_row(
                params![kind.as_str(), scope, status.unwrap_or_default()],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or_default())
    }

    fn referrers(&self, target: &Key) -> Result<Vec<Key>, StoreError> {
        let mut stmt = self.0.prepare_cached(
            "SELECT src_kind, src_scope, src_name FROM referrers
             WHERE dst_kind = ?1 AND dst_scope = ?2 AND dst_name = ?3
             ORDER BY src_kind, src_scope, src_name",
        )?;
        let rows = stmt.query_map(
            params![target.kind.as_str(), target.scope, target.name],
            |row| Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?)),
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, scope, name) = row?;
            out.push(Key {
                kind: Kind::parse(&kind)?,
                scope,
                name,
            });
        }
        Ok(out)
    }
}

/// References as the `refs` column stores them: `[kind, scope, name]` triples.
fn ref_triples(targets: &[Key]) -> Vec<(&str, &str, &str)> {
    targets
        .iter()
        .map(|t| (t.kind.as_str(), t.scope.as_str(), t.name.as_str()))
        .collect()
}

impl Conn<'_> {
    /// Runs `sql` (parameters: target kind, scope, name, then source kind, scope, name) once
    /// per target of `source`: adds or removes `referrers` rows.
    fn referrer_rows<'t>(
        &self,
        sql: &str,
        source: &Key,
        targets: impl IntoIterator<Item = (&'t str, &'t str, &'t str)>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        for (kind, scope, name) in targets {
            stmt.execute(params![
                kind,
                scope,
                name,
                source.kind.as_str(),
                source.scope,
                source.name
            ])?;
        }
        Ok(())
    }
}

/// Adds a `referrers` row (target first, then source).
const ADD_REFERRER: &str = "INSERT OR IGNORE INTO referrers
     (dst_kind, dst_scope, dst_name, src_kind, src_scope, src_name)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// Removes a `referrers` row (target first, then source).
const REMOVE_REFERRER: &str = "DELETE FROM referrers
     WHERE dst_kind = ?1 AND dst_scope = ?2 AND dst_name = ?3
     AND src_kind = ?4 AND src_scope = ?5 AND src_name = ?6";

/// The `refs` column of a source with these targets (NULL for none).
fn refs_column(targets: &[(&str, &str, &str)]) -> Result<Option<String>, StoreError> {
    Ok((!targets.is_empty())
        .then(|| serde_json::to_string(targets))
        .transpose()?)
}

impl Tx for Conn<'_> {
    fn put(&mut self, key: &Key, status: Option<&str>, doc: &str) -> Result<(), StoreError> {
        storable_status(status)?;
        let mut stmt = self.0.prepare_cached(
            "INSERT INTO resources (kind, scope, name, status, doc) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (kind, scope, name) DO UPDATE SET status = excluded.status, doc = excluded.doc",
        )?;
        stmt.execute(params![key.kind.as_str(), key.scope, key.name, status, doc])?;
        Ok(())
    }

    fn set_refs(&mut self, source: &Key, targets: &[Key]) -> Result<(), StoreError> {
        let src = params![source.kind.as_str(), source.scope, source.name];
        let stored: Option<Option<String>> = self
            .0
            .prepare_cached(
                "SELECT refs FROM resources WHERE kind = ?1 AND scope = ?2 AND name = ?3",
            )?
            .query_row(src, |row| row.get(0))
            .optional()?;
        let old = match stored {
            Some(refs) => refs,
            None if targets.is_empty() => return Ok(()),
            None => {
                return Err(StoreError::NotStored(source.clone()));
            }
        };
        let old: Vec<(String, String, String)> = match old {
            Some(text) => serde_json::from_str(&text)?,
            None => Vec::new(),
        };
        let old_targets = old
            .iter()
            .map(|(k, s, n)| (k.as_str(), s.as_str(), n.as_str()));
        self.referrer_rows(REMOVE_REFERRER, source, old_targets)?;
        let new = ref_triples(targets);
        self.referrer_rows(ADD_REFERRER, source, new.iter().copied())?;
        if !(old.is_empty() && new.is_empty()) {
            let text = refs_column(&new)?;
            self.0
                .prepare_cached(
                    "UPDATE resources SET refs = ?4 WHERE kind = ?1 AND scope = ?2 AND name = ?3",
                )?
                .execute(params![
                    source.kind.as_str(),
                    source.scope,
                    source.name,
                    text
                ])?;
        }
        Ok(())
    }

    /// One row with its `refs` column, then one referrers row per target: no reading back the
    /// row just written and no second update of it, as `put` + `set_refs` would need.
    fn insert(
        &mut self,
        key: &Key,
        status: Option<&str>,
        doc: &str,
        refs: &[Key],
    ) -> Result<(), StoreError> {
        storable_status(status)?;
        let targets = ref_triples(refs);
        let text = refs_column(&targets)?;
        self.0
            .prepare_cached(
                "INSERT INTO resources (kind, scope, name, status, doc, refs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                key.kind.as_str(),
                key.scope,
                key.name,
                status,
                doc,
                text
            ])?;
        self.referrer_rows(ADD_REFERRER, key, targets)
    }

    fn delete(&mut self, key: &Key) -> Result<bool, StoreError> {
        self.set_refs(key, &[])?;
        let mut stmt = self
            .0
            .prepare_cached("DELETE FROM resources WHERE kind = ?1 AND scope = ?2 AND name = ?3")?;
        Ok(stmt.execute(params![key.kind.as_str(), key.scope, key.name])? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::store::{
        Store,
        sqlite::{
            SqliteStore,
            testing::{counts, hold_writer, launch, referrers},
        },
    };

    #[tokio::test]
    async fn counts_follow_inserts_status_changes_deletes_and_rolled_back_closures() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        for name in ["a", "b", "c"] {
            store
                .write(move |tx| tx.put(&launch(name), Some("CREATED"), "{}"))
                .await
                .unwrap();
        }
        // A rewrite is not a new document; a status change moves it between statuses.
        store
            .write(|tx| tx.put(&launch("a"), Some("RUNNING"), "{\"v\":2}"))
            .await
            .unwrap();
        store
            .write(|tx| tx.put(&launch("a"), Some("RUNNING"), "{\"v\":3}"))
            .await
            .unwrap();
        assert_eq!(counts(&store).await, (3, 2, 1));
        // '' is the count of all: no document may have it as its status.
        let empty = store
            .write(|tx| tx.put(&launch("z"), Some(""), "{}"))
            .await
            .unwrap_err();
        assert!(empty.to_string().contains("empty status"), "{empty}");
        assert!(store.write(|tx| tx.delete(&launch("b"))).await.unwrap());
        assert!(!store.write(|tx| tx.delete(&launch("b"))).await.unwrap());
        assert_eq!(counts(&store).await, (2, 1, 1));
        // A failed closure's insert is rolled back with its count, its batch neighbour's kept.
        let (held, release) = hold_writer(&store);
        let kept = store.write(|tx| tx.put(&launch("d"), Some("CREATED"), "{}"));
        let failed = store.write(|tx| {
            tx.put(&launch("e"), Some("CREATED"), "{}")?;
            tx.delete(&launch("a"))?;
            Err::<(), StoreError>(StoreError::Closed)
        });
        release.send(()).unwrap();
        let (held, kept, failed) = tokio::join!(held, kept, failed);
        held.unwrap();
        kept.unwrap();
        assert!(failed.is_err());
        assert_eq!(counts(&store).await, (3, 2, 1));
        // Other kinds and scopes are counted apart.
        store
            .write(|tx| tx.put(&Key::new(Kind::Launch, "q", "a"), Some("CREATED"), "{}"))
            .await
            .unwrap();
        store
            .write(|tx| tx.put(&Key::new(Kind::Feature, "p", "f"), None, "{}"))
            .await
            .unwrap();
        assert_eq!(counts(&store).await, (3, 2, 1));
        let features = store
            .read(|r| r.count(Kind::Feature, "p", None))
            .await
            .unwrap();
        assert_eq!(features, 1);
    }

    #[tokio::test]
    async fn references_are_inserted_replaced_and_need_a_stored_source() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let f = Key::new(Kind::Feature, "p", "f");
        let g = Key::new(Kind::Feature, "p", "g");
        let s = Key::new(Kind::Segment, "", "s");
        let err = store
            .write(|tx| tx.set_refs(&launch("ghost"), &[Key::new(Kind::Feature, "p", "f")]))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::NotStored(k) if *k == launch("ghost")),
            "{err}"
        );
        let put_with_refs = |name: &'static str, targets: Vec<Key>| {
            store.write(move |tx| {
                tx.put(&launch(name), Some("CREATED"), "{}")?;
                tx.set_refs(&launch(name), &targets)
            })
        };
        put_with_refs("a", vec![f.clone(), s.clone()])
            .await
            .unwrap();
        // `insert` stores the same references in one step, readable by `set_refs` and `delete`.
        let targets = vec![g.clone(), s.clone()];
        store
            .write(move |tx| tx.insert(&launch("b"), Some("CREATED"), "{\"v\":1}", &targets))
            .await
            .unwrap();
        let again = store
            .write(|tx| tx.insert(&launch("b"), Some("CREATED"), "{\"v\":2}", &[]))
            .await;
        assert!(again.is_err(), "a second insert of the same key must fail");
        let b = launch("b");
        let doc = store.read(move |r| r.get(&b)).await.unwrap();
        assert_eq!(doc.as_deref(), Some("{\"v\":1}"));
        assert_eq!(referrers(&store, &f).await, vec![launch("a")]);
        assert_eq!(referrers(&store, &s).await, vec![launch("a"), launch("b")]);
        // Replacing drops the old targets; deleting drops them all.
        let targets = vec![g.clone()];
        store
            .write(move |tx| tx.set_refs(&launch("a"), &targets))
            .await
            .unwrap();
        assert_eq!(referrers(&store, &f).await, Vec::<Key>::new());
        assert_eq!(referrers(&store, &g).await, vec![launch("a"), launch("b")]);
        assert_eq!(referrers(&store, &s).await, vec![launch("b")]);
        assert!(store.write(|tx| tx.delete(&launch("b"))).await.unwrap());
        assert_eq!(referrers(&store, &g).await, vec![launch("a")]);
        assert_eq!(referrers(&store, &s).await, Vec::<Key>::new());
    }
}
