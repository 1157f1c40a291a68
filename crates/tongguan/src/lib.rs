//! Tongguan (统管): the binary's library half. It owns configuration, wiring of the engines, the
//! deployment pack, the demo seed and serving; `main.rs` is only the command line.

pub mod config;
pub mod pack;
pub mod seed;
pub mod web;

use anyhow::{bail, Context, Result};
use config::Config;
use pack::Pack;
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tg_api::{ApiConfig, AppState, SystemInfo};
use tg_db::{Db, DbOptions};
use tg_iam::{AuditKey, Iam};
use tg_kernel::Clock;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// All migrations of all engines, in dependency order.
pub fn migrations() -> Vec<tg_db::Migration> {
    tg_iam::MIGRATIONS.to_vec()
}

/// A running installation: database, engines and the pack.
#[derive(Clone, Debug)]
pub struct App {
    pub iam: Iam,
    pub config: Arc<Config>,
    pub pack: Arc<Pack>,
}

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("audit.key")
}

fn write_secret(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

/// Loads the audit-chain key, creating it only for a database whose audit trail is still empty.
async fn audit_key(db: &Db, data_dir: &Path) -> Result<AuditKey> {
    let path = key_path(data_dir);
    if !path.exists() {
        let rows: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log").fetch_one(db.pool()).await?.try_get(0)?;
        if rows > 0 {
            bail!("the audit key {} is missing but the audit trail has {rows} rows: restore the key file", path.display());
        }
        write_secret(&path, &hex::encode(tg_iam::crypto::random_bytes::<32>()))?;
        tracing::info!(path = %path.display(), "created audit chain key");
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let bytes = hex::decode(text.trim()).context("audit key is not hex")?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| anyhow::anyhow!("audit key must be 32 bytes"))?;
    Ok(AuditKey::from_bytes(arr))
}

impl App {
    /// Connects, migrates, loads the pack's regions and the built-in roles.
    pub async fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
        let url = config.database_url();
        let db = Db::connect(&url, &DbOptions { max_connections: config.database.max_connections, ..Default::default() })
            .await
            .with_context(|| format!("cannot open database {}", config::redact_url(&url)))?;
        tg_db::migrate(&db, &migrations()).await?;
        let key = audit_key(&db, &config.data_dir).await?;
        let pack = Pack::embedded()?;
        let iam = Iam::new(db, clock, key, config.policy());
        iam.load_regions(pack.regions_csv).await.context("loading regions from the pack")?;
        iam.ensure_builtin_roles().await?;
        Ok(Self { iam, config: Arc::new(config), pack: Arc::new(pack) })
    }

    pub fn state(&self) -> AppState {
        let s = &self.config.server;
        AppState {
            iam: self.iam.clone(),
            config: Arc::new(ApiConfig {
                cookie_secure: s.cookie_secure,
                trust_forwarded_for: s.trust_forwarded_for,
                body_limit_bytes: s.body_limit_bytes,
                request_timeout_secs: s.request_timeout_secs,
                ..ApiConfig::default()
            }),
            info: Arc::new(SystemInfo {
                name: self.pack.info.title.clone(),
                city_code: self.pack.info.city_code.clone(),
                city_name: self.pack.info.city_name.clone(),
                version: VERSION.into(),
                demo: false,
            }),
        }
    }

    /// The whole HTTP application: the API plus the web app as fallback.
    pub fn router(&self) -> axum::Router {
        tg_api::build(self.state()).fallback(web::serve)
    }

    /// Seeds the demo data when this is the embedded default with an empty database.
    pub async fn seed_if_empty(&self) -> Result<bool> {
        if self.config.is_embedded_default() && self.config.demo.seed_on_empty && self.iam.user_count().await? == 0 {
            let r = seed::seed_demo(&self.iam, &self.pack).await?;
            tracing::info!(departments = r.departments, grids = r.grids, accounts = r.accounts, "seeded demo data");
            return Ok(true);
        }
        Ok(false)
    }
}

/// Serves until `shutdown` resolves; in-flight requests finish first.
pub async fn serve(
    app: &App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let router = app.router();
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).with_graceful_shutdown(shutdown).await?;
    Ok(())
}
