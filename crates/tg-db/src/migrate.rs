//! A small, strict migration runner: each component (crate) owns numbered migrations with one SQL
//! text per engine. Applied migrations are recorded with an SM3 checksum; an edited migration that
//! was already applied stops start-up instead of silently diverging.

use crate::{Backend, Db};
use sm3::{Digest, Sm3};

#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub component: &'static str,
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

impl Migration {
    fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("migration {component}/{version} ({name}) was changed after it was applied")]
    Modified { component: String, version: i64, name: String },
    #[error("migration {component}/{version} ({name}) failed: {source}")]
    Failed { component: String, version: i64, name: String, source: sqlx::Error },
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

fn checksum(sql: &str) -> String {
    hex::encode(Sm3::digest(sql.as_bytes()))
}

/// Applies every pending migration in order, each in its own transaction. Returns how many ran.
pub async fn migrate(db: &Db, migrations: &[Migration]) -> Result<usize, MigrationError> {
    let mut conn = db.pool().acquire().await?;
    if db.backend() == Backend::Postgres {
        // Serialise concurrent start-ups of several nodes.
        sqlx::query("SELECT pg_advisory_lock(7400453)").execute(&mut *conn).await?;
    }
    let result = run(db, &mut conn, migrations).await;
    if db.backend() == Backend::Postgres {
        let _ = sqlx::query("SELECT pg_advisory_unlock(7400453)").execute(&mut *conn).await;
    }
    result
}

async fn run(db: &Db, conn: &mut sqlx::pool::PoolConnection<sqlx::Any>, migrations: &[Migration]) -> Result<usize, MigrationError> {
    use sqlx::{Connection, Row};
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS tg_schema_migrations (
            component VARCHAR(64) NOT NULL,
            version BIGINT NOT NULL,
            name VARCHAR(200) NOT NULL,
            checksum VARCHAR(64) NOT NULL,
            applied_at VARCHAR(40) NOT NULL,
            PRIMARY KEY (component, version))",
    )
    .execute(&mut **conn)
    .await?;
    let mut applied = 0;
    for m in migrations {
        let sql = m.sql(db.backend());
        let row = sqlx::query("SELECT checksum FROM tg_schema_migrations WHERE component = $1 AND version = $2")
            .bind(m.component)
            .bind(m.version)
            .fetch_optional(&mut **conn)
            .await?;
        if let Some(row) = row {
            let sum: String = row.try_get(0)?;
            if sum != checksum(sql) {
                return Err(MigrationError::Modified { component: m.component.into(), version: m.version, name: m.name.into() });
            }
            continue;
        }
        let fail = |source| MigrationError::Failed { component: m.component.into(), version: m.version, name: m.name.into(), source };
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(fail)?;
        sqlx::query("INSERT INTO tg_schema_migrations (component, version, name, checksum, applied_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(m.component)
            .bind(m.version)
            .bind(m.name)
            .bind(checksum(sql))
            .bind(now_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(component = m.component, version = m.version, name = m.name, "migration applied");
        applied += 1;
    }
    Ok(applied)
}

fn now_string() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    secs.to_string()
}
