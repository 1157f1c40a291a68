//! Tongguan (统管): the binary's library half. It owns configuration, wiring of the engines, the
//! deployment pack, the demo seed and serving; `main.rs` is only the command line.

pub mod backup;
pub mod config;
pub mod pack;
pub mod release;
pub mod seed;
pub mod syslog;
pub mod web;

use anyhow::{bail, Context, Result};
use config::Config;
use pack::Pack;
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tg_api::{ApiConfig, AppState, SystemInfo};
use tg_db::{Db, DbOptions};
use tg_iam::Iam;
use tg_kernel::Clock;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// All migrations of all engines, in dependency order.
pub fn migrations() -> Vec<tg_db::Migration> {
    let mut all = tg_iam::MIGRATIONS.to_vec();
    all.extend_from_slice(tg_map::MIGRATIONS);
    all.extend_from_slice(tg_indicators::MIGRATIONS);
    all.extend_from_slice(tg_workflow::MIGRATIONS);
    all.extend_from_slice(tg_invest::MIGRATIONS);
    all
}

/// A running installation: database, engines and the pack.
#[derive(Clone, Debug)]
pub struct App {
    pub iam: Iam,
    pub map: tg_map::MapService,
    pub ind: tg_indicators::IndService,
    pub wf: tg_workflow::WfService,
    pub inv: tg_invest::InvService,
    pub config: Arc<Config>,
    pub pack: Arc<Pack>,
}

/// Writes a new file readable by the owner only (mode 0600); never overwrites.
pub fn write_secret(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
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

/// The legacy plaintext audit key of installations made before the key hierarchy.
fn legacy_audit_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("audit.key")
}

/// The root of the key hierarchy: the local key file (sealed with `TONGGUAN_ROOT_KEY_PASSPHRASE` when
/// set). Production replaces this with a cipher machine or KMS behind the same `KeyProvider` trait.
pub fn key_provider(config: &Config, create: bool) -> Result<Arc<dyn tg_crypto::KeyProvider>> {
    let passphrase = std::env::var("TONGGUAN_ROOT_KEY_PASSPHRASE").ok().filter(|s| !s.is_empty());
    let path = config.root_key_file();
    let p = tg_crypto::LocalFileProvider::open(&path, passphrase.as_deref(), create)
        .with_context(|| format!("opening the root key file {}", path.display()))?;
    if !p.is_sealed() {
        tracing::warn!(path = %path.display(), "the root key file is not sealed: set TONGGUAN_ROOT_KEY_PASSPHRASE, or use a cipher machine in production");
    }
    Ok(Arc::new(p))
}

/// Loads the key hierarchy, adopting a legacy audit key file and creating missing keys. A database
/// whose audit trail has rows but no audit key refuses to start.
async fn keyring(db: &Db, config: &Config, now: i64) -> Result<Arc<tg_iam::Keyring>> {
    let rows: i64 = sqlx::query("SELECT COUNT(*) FROM crypto_keys").fetch_one(db.pool()).await?.try_get(0)?;
    let provider = key_provider(config, rows == 0)?;
    let ring = tg_iam::Keyring::load(db, provider).await.map_err(|e| anyhow::anyhow!("{e}: {e:?}"))?;
    if ring.current(tg_iam::Purpose::Audit, tg_iam::audit::AUDIT_DOMAIN).is_err() {
        let legacy = legacy_audit_key_path(&config.data_dir);
        if legacy.exists() {
            let text = std::fs::read_to_string(&legacy).with_context(|| format!("cannot read {}", legacy.display()))?;
            let bytes = hex::decode(text.trim()).context("legacy audit key is not hex")?;
            ring.import_v1(db, tg_iam::Purpose::Audit, tg_iam::audit::AUDIT_DOMAIN, &bytes, now)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            std::fs::remove_file(&legacy)?;
            tracing::info!("moved the legacy plaintext audit key into the key hierarchy");
        } else {
            let audit_rows: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log").fetch_one(db.pool()).await?.try_get(0)?;
            if audit_rows > 0 {
                bail!("the audit key is missing but the audit trail has {audit_rows} rows: restore the database together with its keys");
            }
        }
    }
    for (purpose, domain) in tg_iam::keys::BUILTIN_DOMAINS {
        ring.ensure(db, *purpose, domain, now).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    Ok(Arc::new(ring))
}

impl App {
    /// Connects, migrates, loads the pack's regions and the built-in roles.
    pub async fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
        let url = config.database_url();
        let db = Db::connect(&url, &DbOptions { max_connections: config.pool_size(), ..Default::default() })
            .await
            .with_context(|| format!("cannot open database {}", config::redact_url(&url)))?;
        tg_db::migrate(&db, &migrations()).await?;
        let keys = keyring(&db, &config, clock.now_ms()).await?;
        let pack = Pack::embedded()?;
        let iam = Iam::new(db, clock, keys, config.policy());
        iam.load_regions(pack.regions_csv).await.context("loading regions from the pack")?;
        iam.secure_legacy_rows().await?;
        iam.ensure_builtin_roles().await?;
        let map = tg_map::MapService::new(iam.clone());
        map.ensure_boundaries(&tg_iam::AuditCtx::cli("system"), pack.boundaries_geojson)
            .await
            .map_err(|e| anyhow::anyhow!("loading the pack's boundaries: {e}"))?;
        let ind = tg_indicators::IndService::new(iam.clone(), &pack.info.city_code);
        ind.sync_pack(&pack.indicators).await.map_err(|e| anyhow::anyhow!("loading the pack's indicator library: {e}"))?;
        let wf = tg_workflow::WfService::new(iam.clone(), &pack.info.city_code);
        wf.sync_pack(pack::WORKFLOW_FILES, pack::CALENDAR_FILES)
            .await
            .map_err(|e| anyhow::anyhow!("loading the pack's workflows and calendar: {e}"))?;
        wf.attach_jobs(&url).await.with_context(|| "opening the workflow job storage")?;
        let inv = tg_invest::InvService::new(iam.clone(), wf.clone());
        Ok(Self { iam, map, ind, wf, inv, config: Arc::new(config), pack: Arc::new(pack) })
    }

    pub fn state(&self) -> AppState {
        let s = &self.config.server;
        AppState {
            iam: self.iam.clone(),
            map: self.map.clone(),
            ind: self.ind.clone(),
            wf: self.wf.clone(),
            inv: self.inv.clone(),
            config: Arc::new(ApiConfig {
                cookie_secure: s.cookie_secure,
                require_https: s.require_https,
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

    /// The whole HTTP application: the API plus the web app as fallback, under the security headers.
    pub fn router(&self) -> axum::Router {
        tg_api::security_headers_with(tg_api::build(self.state()).fallback(web::serve), &self.config.server.basemap_origins)
    }

    /// Background duties of a serving node: the daily SM2-signed audit checkpoint and syslog shipping.
    pub fn spawn_jobs(&self) {
        let inv = self.inv.clone();
        tokio::spawn(async move {
            match inv.reindex_search().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(projects = n, "招商 keyword index filled in"),
                Err(e) => tracing::error!(error = %e, "filling in the 招商 keyword index failed"),
            }
        });
        let wf = self.wf.clone();
        tokio::spawn(async move {
            if let Err(e) = wf.start_worker().await {
                tracing::error!(error = %e, "starting the workflow timeout worker failed");
            }
        });
        if let Some(addr) = syslog::parse_addr(&self.config.security.syslog_addr) {
            let iam = self.iam.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
                loop {
                    tick.tick().await;
                    if let Err(e) = syslog::forward_once(&iam, addr).await {
                        tracing::warn!(error = %e, "syslog forwarding failed; will retry");
                    }
                }
            });
        }
        let iam = self.iam.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                tick.tick().await;
                if let Err(e) = iam.checkpoint_if_due(24 * 3_600_000).await {
                    tracing::error!(error = %e, "audit checkpoint failed");
                }
            }
        });
    }

    /// Seeds the demo data when this is the embedded default with an empty database.
    /// The demo map layers (no-op when present).
    pub async fn seed_demo_map(&self) -> Result<usize> {
        let city = tg_kernel::RegionCode::parse(&self.pack.info.city_code)?;
        let ctx = tg_iam::AuditCtx::cli("seed-demo");
        let generated = self.map.seed_demo_boundaries(&ctx, &city).await.map_err(|e| anyhow::anyhow!("generating demo boundaries: {e}"))?;
        tracing::info!(generated, "demo town and village boundaries");
        self.map
            .seed_demo(&tg_iam::AuditCtx::cli("seed-demo"), &city, self.pack.demo.map_demo_events)
            .await
            .map_err(|e| anyhow::anyhow!("seeding demo map data: {e}"))
    }

    /// Links the indicator library to the (demo) departments and generates demo values for every
    /// pack indicator without values. Returns the number of values written.
    pub async fn seed_demo_indicators(&self) -> Result<usize> {
        self.ind.sync_pack(&self.pack.indicators).await.map_err(|e| anyhow::anyhow!("linking the indicator library: {e}"))?;
        self.ind
            .seed_demo(&self.pack.indicators, &self.pack.demo.indicator_weights)
            .await
            .map_err(|e| anyhow::anyhow!("seeding demo indicator values: {e}"))
    }

    /// Demo investment projects (marked demo) walked through the real workflow by the demo accounts.
    pub async fn seed_demo_projects(&self) -> Result<usize> {
        self.inv.seed_demo(&tg_iam::AuditCtx::cli("seed-demo")).await.map_err(|e| anyhow::anyhow!("seeding demo investment projects: {e}"))
    }

    pub async fn seed_if_empty(&self) -> Result<bool> {
        if self.config.is_embedded_default() && self.config.demo.seed_on_empty && self.iam.user_count().await? == 0 {
            let r = seed::seed_demo(&self.iam, &self.pack).await?;
            let events = self.seed_demo_map().await?;
            let values = self.seed_demo_indicators().await?;
            let projects = self.seed_demo_projects().await?;
            tracing::info!(
                departments = r.departments,
                grids = r.grids,
                accounts = r.accounts,
                events,
                values,
                projects,
                "seeded demo data"
            );
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
