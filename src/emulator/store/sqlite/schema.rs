//! The SQLite store's tables and their versions: `PRAGMA user_version` counts the migration
//! steps applied, and [`migrate`] applies the missing ones at open. Not here: the statements
//! that read and write the tables (`super::sql`).

use rusqlite::Connection;

use crate::emulator::store::StoreError;

/// The schema, one step per version: step `i` takes `user_version` from `i` to `i + 1`.
/// Never edit a released step; append a new one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: documents and the launch → feature/segment references.
    "CREATE TABLE resources (
         kind   TEXT NOT NULL,
         scope  TEXT NOT NULL,
         name   TEXT NOT NULL,
         status TEXT,
         doc    TEXT NOT NULL,
         PRIMARY KEY (kind, scope, name)
     ) WITHOUT ROWID;
     CREATE INDEX resources_by_status ON resources (kind, scope, status, name);
     CREATE TABLE refs (
         src_kind  TEXT NOT NULL,
         src_scope TEXT NOT NULL,
         src_name  TEXT NOT NULL,
         dst_kind  TEXT NOT NULL,
         dst_scope TEXT NOT NULL,
         dst_name  TEXT NOT NULL,
         PRIMARY KEY (src_kind, src_scope, src_name, dst_kind, dst_scope, dst_name)
     ) WITHOUT ROWID;
     CREATE INDEX refs_by_target ON refs (dst_kind, dst_scope, dst_name);",
    // 2: every create wrote four B-trees (the documents, the status index, the references by
    // source and by target), so each commit wrote about four pages per create. Now two:
    // * counts per (kind, scope) (status '') and per (kind, scope, status), kept by triggers,
    //   replace counting rows, and the status index goes (a list by status scans its scope);
    // * references are kept by target only; each source's own list of targets is a column of
    //   its row, which is written anyway.
    "CREATE TABLE counts (
         kind   TEXT NOT NULL,
         scope  TEXT NOT NULL,
         status TEXT NOT NULL,
         n      INTEGER NOT NULL,
         PRIMARY KEY (kind, scope, status)
     ) WITHOUT ROWID;
     INSERT INTO counts (kind, scope, status, n)
         SELECT kind, scope, '', count(*) FROM resources GROUP BY kind, scope;
     INSERT INTO counts (kind, scope, status, n)
         SELECT kind, scope, status, count(*) FROM resources WHERE status IS NOT NULL
         GROUP BY kind, scope, status;
     CREATE TRIGGER resources_counted AFTER INSERT ON resources BEGIN
         INSERT INTO counts (kind, scope, status, n) VALUES (NEW.kind, NEW.scope, '', 1)
             ON CONFLICT (kind, scope, status) DO UPDATE SET n = n + 1;
         INSERT INTO counts (kind, scope, status, n)
             SELECT NEW.kind, NEW.scope, NEW.status, 1 WHERE NEW.status IS NOT NULL
             ON CONFLICT (kind, scope, status) DO UPDATE SET n = n + 1;
     END;
     CREATE TRIGGER resources_recounted AFTER UPDATE OF status ON resources
     WHEN OLD.status IS NOT NEW.status BEGIN
         UPDATE counts SET n = n - 1
             WHERE kind = OLD.kind AND scope = OLD.scope AND status = OLD.status;
         INSERT INTO counts (kind, scope, status, n)
             SELECT NEW.kind, NEW.scope, NEW.status, 1 WHERE NEW.status IS NOT NULL
             ON CONFLICT (kind, scope, status) DO UPDATE SET n = n + 1;
     END;
     CREATE TRIGGER resources_uncounted AFTER DELETE ON resources BEGIN
         UPDATE counts SET n = n - 1
             WHERE kind = OLD.kind AND scope = OLD.scope AND status IN ('', OLD.status);
     END;
     DROP INDEX resources_by_status;
     ALTER TABLE resources ADD COLUMN refs TEXT;
     CREATE TABLE referrers (
         dst_kind  TEXT NOT NULL,
         dst_scope TEXT NOT NULL,
         dst_name  TEXT NOT NULL,
         src_kind  TEXT NOT NULL,
         src_scope TEXT NOT NULL,
         src_name  TEXT NOT NULL,
         PRIMARY KEY (dst_kind, dst_scope, dst_name, src_kind, src_scope, src_name)
     ) WITHOUT ROWID;
     INSERT INTO referrers SELECT dst_kind, dst_scope, dst_name, src_kind, src_scope, src_name
         FROM refs WHERE EXISTS (
             SELECT 1 FROM resources WHERE kind = refs.src_kind AND scope = refs.src_scope
               AND name = refs.src_name);
     UPDATE resources SET refs = (
         SELECT json_group_array(json_array(dst_kind, dst_scope, dst_name)) FROM refs
         WHERE src_kind = resources.kind AND src_scope = resources.scope
           AND src_name = resources.name)
     WHERE EXISTS (
         SELECT 1 FROM refs WHERE src_kind = resources.kind AND src_scope = resources.scope
           AND src_name = resources.name);
     DROP TABLE refs;",
];

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "evidently.db";

/// Applies the migration steps the database has not seen yet, each in its own transaction.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (version, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::store::{
        Key, Kind, Store,
        sqlite::{
            SqliteStore,
            testing::{counts, launch, referrers},
        },
    };

    #[tokio::test]
    async fn a_version_1_database_keeps_its_counts_and_references_after_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            conn.pragma_update(None, "journal_mode", "WAL").unwrap();
            let tx = conn.transaction().unwrap();
            tx.execute_batch(MIGRATIONS[0]).unwrap();
            tx.execute_batch(
                "INSERT INTO resources VALUES ('project', '', 'p', NULL, '{}');
                 INSERT INTO resources VALUES ('feature', 'p', 'f', NULL, '{}');
                 INSERT INTO resources VALUES ('launch', 'p', 'a', 'RUNNING', '{}');
                 INSERT INTO resources VALUES ('launch', 'p', 'b', 'CREATED', '{}');
                 INSERT INTO resources VALUES ('launch', 'p', 'c', 'CREATED', '{}');
                 INSERT INTO refs VALUES ('launch', 'p', 'a', 'feature', 'p', 'f');
                 INSERT INTO refs VALUES ('launch', 'p', 'b', 'feature', 'p', 'f');
                 INSERT INTO refs VALUES ('launch', 'p', 'b', 'segment', '', 's');
                 INSERT INTO refs VALUES ('launch', 'p', 'gone', 'feature', 'p', 'f');",
            )
            .unwrap();
            tx.pragma_update(None, "user_version", 1).unwrap();
            tx.commit().unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(counts(&store).await, (3, 2, 1));
        let f = Key::new(Kind::Feature, "p", "f");
        let s = Key::new(Kind::Segment, "", "s");
        // A reference whose launch is gone is not carried over: nothing could ever remove it.
        assert_eq!(referrers(&store, &f).await, vec![launch("a"), launch("b")]);
        assert_eq!(referrers(&store, &s).await, vec![launch("b")]);
        // Each launch's own list came along: replacing b's references drops both old ones.
        store
            .write(|tx| tx.set_refs(&launch("b"), &[]))
            .await
            .unwrap();
        assert_eq!(referrers(&store, &f).await, vec![launch("a")]);
        assert_eq!(referrers(&store, &s).await, Vec::<Key>::new());
    }

    #[test]
    fn the_database_is_in_wal_mode_with_the_latest_schema() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = Connection::open(store.path()).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_database_from_a_newer_emulator_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteStore::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            SqliteStore::open(dir.path()),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
    }
}
