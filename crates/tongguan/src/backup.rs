//! Encrypted logical backup and restore (等保 §8.1.4.9 备份恢复), the same on SQLite and PostgreSQL.
//!
//! File layout: `TGBAK1\n`, one JSON manifest line (engine, migrations, per-table row counts and SM3
//! digests, SM3 of the whole payload, the backup key wrapped by the root key), then SM4-GCM chunks
//! (`u32 length ‖ ciphertext‖tag`), each with nonce = chunk counter and the manifest line as associated
//! data, so neither the manifest nor the order of chunks can change unnoticed.
//!
//! The payload is JSON lines `{"t": table, "r": [values…]}` read inside one read-only snapshot
//! transaction (an online backup: writers are not blocked). Restore needs an empty database and the
//! same root key (the key hierarchy is inside the backup, wrapped by it); it checks every digest
//! before it writes, and writes everything in one transaction.

use crate::config::Config;
use crate::App;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sqlx::{Column, Row};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use tg_db::{Backend, Db, DbOptions};

const MAGIC: &[u8] = b"TGBAK1\n";
const CHUNK: usize = 1 << 20;
/// Parents before children; every other table follows alphabetically.
const ORDER: &[&str] = &["regions", "departments", "users", "roles", "role_permissions", "user_roles"];

#[derive(Debug, Serialize, Deserialize)]
pub struct TableEntry {
    pub rows: u64,
    pub sm3: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub created_at: String,
    pub engine: String,
    pub migrations: Vec<String>,
    pub tables: BTreeMap<String, TableEntry>,
    pub payload_sm3: String,
    pub root_kcv: String,
    pub wrapped_key: String,
    pub backup_id: String,
}

impl Manifest {
    pub fn total_rows(&self) -> u64 {
        self.tables.values().map(|t| t.rows).sum()
    }
}

async fn table_names(db: &Db, conn: &mut sqlx::AnyConnection) -> Result<Vec<String>> {
    let sql = match db.backend() {
        Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        Backend::Postgres => "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
    };
    let mut names: Vec<String> = sqlx::query(sql).fetch_all(&mut *conn).await?.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
    // The job library's own tables (SQLite; on PostgreSQL they live in schema `apalis`) are not data:
    // restored deadlines are re-scheduled from `wf_tasks` at the next start.
    names.retain(|n| !matches!(n.as_str(), "tg_schema_migrations" | "Jobs" | "Workers" | "_sqlx_migrations"));
    // Full-text indexes (SQLite FTS5 virtual tables and their shadow tables) are derived data: triggers
    // rebuild them from the restored rows.
    if db.backend() == Backend::Sqlite {
        let virtuals: Vec<String> = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        names.retain(|n| !virtuals.iter().any(|v| n == v || n.starts_with(&format!("{v}_"))));
    }
    names.sort_by_key(|n| (ORDER.iter().position(|o| o == n).unwrap_or(ORDER.len()), n.clone()));
    Ok(names)
}

fn value_of(row: &sqlx::any::AnyRow, i: usize) -> serde_json::Value {
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return v.map(serde_json::Value::from).unwrap_or(serde_json::Value::Null);
    }
    if let Ok(v) = row.try_get::<Option<String>, _>(i) {
        return v.map(serde_json::Value::from).unwrap_or(serde_json::Value::Null);
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
        return v.map(serde_json::Value::from).unwrap_or(serde_json::Value::Null);
    }
    if let Ok(Some(v)) = row.try_get::<Option<Vec<u8>>, _>(i) {
        return serde_json::json!({"$hex": hex::encode(v)});
    }
    serde_json::Value::Null
}

async fn migrations_applied(conn: &mut sqlx::AnyConnection) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT component, version FROM tg_schema_migrations ORDER BY component, version").fetch_all(&mut *conn).await?;
    rows.iter().map(|r| Ok(format!("{}/{}", r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?))).collect()
}

/// Writes an encrypted backup of the whole database to `out`.
pub async fn backup(app: &App, out: &Path) -> Result<Manifest> {
    let db = app.iam.db();
    let mut conn = db.pool().acquire().await?;
    let begin = match db.backend() {
        Backend::Sqlite => "BEGIN",
        Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    };
    sqlx::query(begin).execute(&mut *conn).await?;
    let names = table_names(db, &mut conn).await?;
    let migrations = migrations_applied(&mut conn).await?;
    let mut payload: Vec<u8> = Vec::new();
    let mut tables = BTreeMap::new();
    for t in &names {
        let order = if t == "regions" { " ORDER BY LENGTH(code), code" } else { "" };
        let rows = sqlx::query(&format!("SELECT * FROM {t}{order}")).fetch_all(&mut *conn).await?;
        let mut section = Vec::new();
        if let Some(first) = rows.first() {
            let cols: Vec<String> = first.columns().iter().map(|c| c.name().to_owned()).collect();
            serde_json::to_writer(&mut section, &serde_json::json!({"t": t, "c": cols}))?;
            section.push(b'\n');
        }
        for r in &rows {
            let vals: Vec<serde_json::Value> = (0..r.len()).map(|i| value_of(r, i)).collect();
            serde_json::to_writer(&mut section, &serde_json::json!({"t": t, "r": vals}))?;
            section.push(b'\n');
        }
        tables.insert(t.clone(), TableEntry { rows: rows.len() as u64, sm3: tg_crypto::sm3_hex(&section) });
        payload.extend_from_slice(&section);
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    drop(conn);

    let provider = crate::key_provider(&app.config, false)?;
    let key = zeroize::Zeroizing::new(tg_crypto::random_bytes::<16>());
    let backup_id = tg_crypto::random_token()[..16].to_owned();
    let wrapped = provider.wrap(format!("tongguan-backup-v1|{backup_id}").as_bytes(), key.as_ref())?;
    let manifest = Manifest {
        format: "tongguan-backup-v1".into(),
        created_at: tg_kernel::clock::to_rfc3339(app.iam.now()),
        engine: format!("{:?}", db.backend()).to_lowercase(),
        migrations,
        tables,
        payload_sm3: tg_crypto::sm3_hex(&payload),
        root_kcv: provider.root_kcv(),
        wrapped_key: hex::encode(wrapped),
        backup_id,
    };
    let header = serde_json::to_vec(&manifest)?;
    let tmp = out.with_extension("partial");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?);
    f.write_all(MAGIC)?;
    f.write_all(&header)?;
    f.write_all(b"\n")?;
    for (i, chunk) in payload.chunks(CHUNK).enumerate() {
        let sealed = tg_crypto::sm4_gcm_seal(&key, &nonce(i as u64), &header, chunk);
        f.write_all(&(sealed.len() as u32).to_be_bytes())?;
        f.write_all(&sealed)?;
    }
    f.flush()?;
    drop(f);
    std::fs::rename(&tmp, out)?;
    let ctx = tg_iam::AuditCtx::cli("backup");
    app.iam
        .audit_alone(
            &ctx,
            tg_iam::AuditEvent::success("system.backup", out.display().to_string()).with_detail(format!(
                "{} 张表，{} 行，SM3 {}",
                manifest.tables.len(),
                manifest.total_rows(),
                manifest.payload_sm3
            )),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(manifest)
}

fn nonce(i: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&i.to_be_bytes());
    n
}

/// Reads and fully verifies a backup file; returns the manifest and the decrypted payload.
pub fn read_backup(config: &Config, input: &Path) -> Result<(Manifest, Vec<u8>)> {
    let mut f = std::io::BufReader::new(std::fs::File::open(input).with_context(|| format!("cannot open {}", input.display()))?);
    let mut magic = [0u8; 7];
    f.read_exact(&mut magic).context("not a Tongguan backup")?;
    if magic != MAGIC {
        bail!("not a Tongguan backup (bad magic)");
    }
    let mut header = Vec::new();
    loop {
        let mut b = [0u8; 1];
        f.read_exact(&mut b).context("truncated backup header")?;
        if b[0] == b'\n' {
            break;
        }
        header.push(b[0]);
        if header.len() > 16 << 20 {
            bail!("backup header too large");
        }
    }
    let manifest: Manifest = serde_json::from_slice(&header).context("backup manifest is not valid")?;
    let provider = crate::key_provider(config, false)?;
    if provider.root_kcv() != manifest.root_kcv {
        bail!(
            "this backup was made under another root key (KCV {}); this installation's root key has KCV {}",
            manifest.root_kcv,
            provider.root_kcv()
        );
    }
    let key = provider
        .unwrap(format!("tongguan-backup-v1|{}", manifest.backup_id).as_bytes(), &hex::decode(&manifest.wrapped_key)?)
        .context("cannot unwrap the backup key")?;
    let key: [u8; 16] = key[..].try_into().context("backup key has the wrong length")?;
    let mut payload = Vec::new();
    let mut i = 0u64;
    loop {
        let mut len = [0u8; 4];
        match f.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e.into()),
        }
        let n = u32::from_be_bytes(len) as usize;
        if n > CHUNK + 16 {
            bail!("backup chunk {i} is too large");
        }
        let mut sealed = vec![0u8; n];
        f.read_exact(&mut sealed).with_context(|| format!("backup chunk {i} is truncated"))?;
        let plain = tg_crypto::sm4_gcm_open(&key, &nonce(i), &header, &sealed)
            .map_err(|_| anyhow::anyhow!("backup chunk {i} failed SM4-GCM authentication"))?;
        payload.extend_from_slice(&plain);
        i += 1;
    }
    if tg_crypto::sm3_hex(&payload) != manifest.payload_sm3 {
        bail!("backup payload SM3 does not match its manifest (truncated or reordered)");
    }
    Ok((manifest, payload))
}

/// The integer columns of a table in the target schema.
async fn integer_columns(db: &Db, tx: &mut tg_db::Tx, table: &str) -> Result<Vec<String>> {
    let sql = match db.backend() {
        Backend::Sqlite => format!("SELECT name, type FROM pragma_table_info('{table}')"),
        Backend::Postgres => format!(
            "SELECT column_name::text, data_type::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{table}'"
        ),
    };
    let rows = sqlx::query(&sql).fetch_all(&mut **tx).await?;
    let mut out = Vec::new();
    for r in rows {
        let name: String = r.try_get(0)?;
        let ty: String = r.try_get(1)?;
        if ty.to_lowercase().contains("int") {
            out.push(name);
        }
    }
    Ok(out)
}

/// Restores a verified backup into an empty database. Returns the number of rows restored.
pub async fn restore(config: &Config, input: &Path) -> Result<u64> {
    let (manifest, payload) = read_backup(config, input)?;
    let mut sections: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for line in payload.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line)?;
        let t = v["t"].as_str().context("backup line without table")?.to_owned();
        let s = sections.entry(t).or_default();
        s.extend_from_slice(line);
        s.push(b'\n');
    }
    for (t, e) in &manifest.tables {
        let got = sections.get(t).map(|s| tg_crypto::sm3_hex(s)).unwrap_or_else(|| tg_crypto::sm3_hex(b""));
        if got != e.sm3 {
            bail!("table {t}: SM3 does not match the manifest");
        }
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let url = config.database_url();
    let db = Db::connect(&url, &DbOptions { max_connections: 2, ..Default::default() }).await?;
    tg_db::migrate(&db, &crate::migrations()).await?;
    let mut conn = db.pool().acquire().await?;
    let applied = migrations_applied(&mut conn).await?;
    drop(conn);
    if applied != manifest.migrations {
        bail!("schema versions differ: backup {:?}, this binary {:?}", manifest.migrations, applied);
    }
    let users: i64 = sqlx::query("SELECT COUNT(*) FROM users").fetch_one(db.pool()).await?.try_get(0)?;
    let audit: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log").fetch_one(db.pool()).await?.try_get(0)?;
    if users > 0 || audit > 0 {
        bail!("restore needs an empty database: this one has {users} users and {audit} audit records");
    }
    let mut tx = db.begin().await?;
    let mut total = 0u64;
    let order: Vec<&String> = {
        let mut names: Vec<&String> = manifest.tables.keys().collect();
        names.sort_by_key(|n| (ORDER.iter().position(|o| o == n).unwrap_or(ORDER.len()), (*n).clone()));
        names
    };
    for t in order {
        if !t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            bail!("invalid table name {t} in backup");
        }
        sqlx::query(&format!("DELETE FROM {t}")).execute(&mut *tx).await?;
        let Some(section) = sections.get(t) else { continue };
        let integer_cols = integer_columns(&db, &mut tx, t).await?;
        let mut cols: Vec<String> = Vec::new();
        for line in section.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_slice(line)?;
            if let Some(c) = v.get("c") {
                cols = serde_json::from_value(c.clone())?;
                if cols.iter().any(|c| !c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')) {
                    bail!("invalid column name in backup table {t}");
                }
                continue;
            }
            let vals = v["r"].as_array().context("backup row without values")?;
            if vals.len() != cols.len() {
                bail!("table {t}: row has {} values for {} columns", vals.len(), cols.len());
            }
            let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
            let sql = format!("INSERT INTO {t} ({}) VALUES ({})", cols.join(", "), placeholders.join(", "));
            let mut q = sqlx::query(&sql);
            for (v, col) in vals.iter().zip(&cols) {
                q = match v {
                    // NULLs carry the column's type (PostgreSQL will not cast a text NULL to BIGINT).
                    serde_json::Value::Null if integer_cols.contains(col) => q.bind(None::<i64>),
                    serde_json::Value::Null => q.bind(None::<String>),
                    serde_json::Value::Number(n) if n.is_i64() => q.bind(n.as_i64()),
                    serde_json::Value::Number(n) => q.bind(n.as_f64()),
                    serde_json::Value::String(s) => q.bind(s.clone()),
                    serde_json::Value::Object(o) if o.contains_key("$hex") => {
                        let bytes =
                            hex::decode(o["$hex"].as_str().unwrap_or("")).with_context(|| format!("table {t}: bad binary value"))?;
                        q.bind(bytes)
                    }
                    other => q.bind(other.to_string()),
                };
            }
            q.execute(&mut *tx).await.with_context(|| format!("restoring a row of {t}"))?;
            total += 1;
        }
        if db.backend() == Backend::Postgres && integer_cols.iter().any(|c| c == "id") {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{t}', 'id'), GREATEST(COALESCE((SELECT MAX(id) FROM {t}), 0), 1)) \
                 WHERE pg_get_serial_sequence('{t}', 'id') IS NOT NULL"
            ))
            .execute(&mut *tx)
            .await?;
        }
    }
    // Deadlines of open steps are scheduled again at the next start (the job tables are not restored).
    sqlx::query("UPDATE wf_tasks SET jobs_scheduled = 0 WHERE status IN ('open', 'waiting', 'delegated') AND due_date IS NOT NULL")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if total != manifest.total_rows() {
        bail!("restored {total} rows but the manifest lists {}", manifest.total_rows());
    }
    db.close().await;
    // Open the restored installation: the keys unwrap under this root key and the chain verifies.
    let app = App::open(config.clone(), std::sync::Arc::new(tg_kernel::SystemClock)).await?;
    let v = tg_iam::audit::verify(app.iam.db(), app.iam.keys()).await?;
    if !v.ok {
        bail!("restored audit chain does not verify at seq {:?}: {:?}", v.first_broken_seq, v.reason);
    }
    app.iam
        .audit_alone(
            &tg_iam::AuditCtx::cli("restore"),
            tg_iam::AuditEvent::success("system.restore", input.display().to_string())
                .with_detail(format!("{total} 行，备份 {}", manifest.created_at)),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    app.iam.db().close().await;
    Ok(total)
}
