//! The PostgreSQL store's tables and their versions: `emulator_schema_version` holds one row
//! per migration step applied, and [`migrate`] applies the missing ones at connect, once
//! however many replicas start together. Not here: the statements that read and write the
//! tables (`super::sql`).

use crate::emulator::store::StoreError;

use super::availability::pg_error;

/// The schema, one step per version: step `i` takes the version from `i` to `i + 1`, recorded
/// in `emulator_schema_version`. Never edit a released step; append a new one. Names compare
/// byte by byte (`COLLATE "C"`), as in SQLite, whatever the database's default collation: list
/// order and pagination tokens must not depend on the server's locale.
const MIGRATIONS: &[&str] = &[
    // 1: documents, and the references from launches to the features and segments they use.
    "CREATE TABLE resources (
         kind   text COLLATE \"C\" NOT NULL,
         scope  text COLLATE \"C\" NOT NULL,
         name   text COLLATE \"C\" NOT NULL,
         status text COLLATE \"C\",
         doc    text NOT NULL,
         PRIMARY KEY (kind, scope, name)
     );
     CREATE INDEX resources_by_status ON resources (kind, scope, status, name);
     CREATE TABLE refs (
         src_kind  text COLLATE \"C\" NOT NULL,
         src_scope text COLLATE \"C\" NOT NULL,
         src_name  text COLLATE \"C\" NOT NULL,
         dst_kind  text COLLATE \"C\" NOT NULL,
         dst_scope text COLLATE \"C\" NOT NULL,
         dst_name  text COLLATE \"C\" NOT NULL,
         PRIMARY KEY (src_kind, src_scope, src_name, dst_kind, dst_scope, dst_name),
         FOREIGN KEY (src_kind, src_scope, src_name)
             REFERENCES resources (kind, scope, name) ON DELETE CASCADE
     );
     CREATE INDEX refs_by_target ON refs (dst_kind, dst_scope, dst_name);",
];

/// Advisory lock of the migrations, so that replicas starting together migrate once.
const MIGRATION_LOCK: i64 = 0x4c61_756e_6368_0002;

/// Applies the steps the database has not seen yet, in one transaction under
/// [`MIGRATION_LOCK`] (PostgreSQL's DDL is transactional: a failed step leaves nothing).
pub(super) async fn migrate(client: &mut tokio_postgres::Client) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let tx = client.transaction().await.map_err(pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS emulator_schema_version (
             version    integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(pg_error)?;
    let found: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0)::bigint FROM emulator_schema_version",
            &[],
        )
        .await
        .map_err(pg_error)?
        .get(0);
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    for (version, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(step).await.map_err(pg_error)?;
        tx.execute(
            "INSERT INTO emulator_schema_version (version) VALUES ($1)",
            &[&(version as i32 + 1)],
        )
        .await
        .map_err(pg_error)?;
    }
    tx.commit().await.map_err(pg_error)
}
