//! Typed, layered configuration: defaults < TOML file < `TONGGUAN_*` environment < command-line flags.
//! Validated at start-up; errors name the offending key.

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite database, keys and files live.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub security: SecurityConfig,
    pub demo: DemoConfig,
    pub log: LogConfig,
    /// The TOML file this configuration came from (covered by the release manifest).
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    pub request_timeout_secs: u64,
    pub body_limit_bytes: usize,
    /// Trust `X-Forwarded-For` (only when a reverse proxy sets it).
    pub trust_forwarded_for: bool,
    /// Mark the session cookie `Secure` (serve over HTTPS in production).
    pub cookie_secure: bool,
    /// Refuse requests that did not arrive over HTTPS (`X-Forwarded-Proto: https` from the TLS / 国密
    /// gateway in front). Health checks are exempt.
    pub require_https: bool,
    /// Origins of external base-map tile services the map page may load (e.g.
    /// `https://t0.tianditu.gov.cn`); added to the Content Security Policy's `img-src` and
    /// `connect-src`. Empty: only this server (the offline base map).
    pub basemap_origins: Vec<String>,
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path?mode=rwc` or `postgres://user:pass@host/db`. Empty: SQLite under `data_dir`.
    pub url: String,
    /// Pool size; 0 picks one for the engine (see [`Config::pool_size`]).
    pub max_connections: u32,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    pub pbkdf2_iterations: u32,
    pub password_min_length: usize,
    pub lockout_threshold: i64,
    pub lockout_window_minutes: i64,
    pub lockout_minutes: i64,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    /// Days before a password must be changed (0 = never).
    pub password_max_age_days: i64,
    /// Days without login before an account is disabled (0 = never).
    pub inactivity_disable_days: i64,
    /// CIDR ranges the three administrators may sign in from (empty = anywhere).
    pub admin_ip_allowlist: Vec<String>,
    pub login_rate_per_ip: i64,
    pub login_rate_per_account: i64,
    /// Accept a plaintext `password` field at login (API clients behind TLS). Off by default.
    pub allow_plain_login: bool,
    /// The three administrators must use the SM3 dynamic password.
    pub mfa_for_admins: bool,
    /// Audit rows are kept at least this many days (≥ 180, 网络安全法 第二十一条).
    pub audit_retention_days: i64,
    /// The root key file of the local key provider (default `<data_dir>/keys/root.key`). The
    /// passphrase that seals it comes only from the environment variable `TONGGUAN_ROOT_KEY_PASSPHRASE`.
    pub root_key_file: Option<PathBuf>,
    /// Office hours in Beijing time, start hour inclusive; administrator actions outside raise an alert.
    pub office_hours_start: i64,
    pub office_hours_end: i64,
    /// SM2-signed SM3 manifest of the binary, the embedded web app and this configuration file
    /// (`tongguan release sign`); verified at start-up when set (可信验证).
    pub release_manifest: Option<PathBuf>,
    /// The release signing public key (hex `04…`) the manifest must verify against.
    pub release_public_key: String,
    /// Ship every audit record to a syslog collector (RFC 5424 over UDP), e.g. `udp://10.0.0.5:514`;
    /// empty = off.
    pub syslog_addr: String,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Seed demo data on the first start of the embedded SQLite default with an empty database.
    pub seed_on_empty: bool,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `tongguan=debug,info`.
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            security: SecurityConfig::default(),
            demo: DemoConfig::default(),
            log: LogConfig::default(),
            config_file: None,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            request_timeout_secs: 30,
            body_limit_bytes: 1 << 20,
            trust_forwarded_for: false,
            cookie_secure: false,
            require_https: false,
            basemap_origins: Vec::new(),
        }
    }
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            pbkdf2_iterations: 10_000,
            password_min_length: 8,
            lockout_threshold: 5,
            lockout_window_minutes: 15,
            lockout_minutes: 30,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            password_max_age_days: 90,
            inactivity_disable_days: 90,
            admin_ip_allowlist: Vec::new(),
            login_rate_per_ip: 60,
            login_rate_per_account: 20,
            allow_plain_login: false,
            mfa_for_admins: true,
            audit_retention_days: 180,
            root_key_file: None,
            office_hours_start: 7,
            office_hours_end: 22,
            syslog_addr: String::new(),
            release_manifest: None,
            release_public_key: String::new(),
        }
    }
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self { seed_on_empty: true }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: "text".into(), level: "info".into() }
    }
}

/// Hides the password of a database URL.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig").field("url", &redact_url(&self.url)).field("max_connections", &self.max_connections).finish()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("server", &self.server)
            .field("database", &self.database)
            .field("security", &self.security)
            .field("demo", &self.demo)
            .field("log", &self.log)
            .finish()
    }
}

/// Environment variables that belong to tooling, not to the configuration.
const RESERVED_ENV: &[&str] = &["TONGGUAN_CONFIG", "TONGGUAN_ROOT_KEY_PASSPHRASE"];

/// Command-line values that override everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
}

fn env_value(raw: &str) -> toml::Value {
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn set_path(root: &mut toml::Table, path: &[String], value: toml::Value, var: &str) -> Result<()> {
    let (last, parents) = path.split_last().ok_or_else(|| anyhow!("{var}: empty key"))?;
    let mut cur = root;
    for p in parents {
        let entry = cur.entry(p.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry.as_table_mut().ok_or_else(|| anyhow!("{var}: `{p}` is not a section"))?;
    }
    cur.insert(last.clone(), value);
    Ok(())
}

impl Config {
    /// Builds the configuration from an optional file, the environment and overrides, then validates it.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>, o: &Overrides) -> Result<Self> {
        let mut table = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("cannot read config file {}", p.display()))?;
                text.parse::<toml::Table>().with_context(|| format!("config file {} is not valid TOML", p.display()))?
            }
            None => toml::Table::new(),
        };
        for (k, v) in env {
            let Some(rest) = k.strip_prefix("TONGGUAN_") else { continue };
            if RESERVED_ENV.contains(&k.as_str()) || rest.starts_with("TEST_") {
                continue;
            }
            let path: Vec<String> = match rest {
                "DATABASE_URL" => vec!["database".into(), "url".into()],
                "LISTEN" => vec!["server".into(), "listen".into()],
                "DATA_DIR" => vec!["data_dir".into()],
                _ => rest.split("__").map(|s| s.to_lowercase()).collect(),
            };
            let value = if path.last().map(String::as_str) == Some("url") || path.last().map(String::as_str) == Some("listen") {
                toml::Value::String(v)
            } else {
                env_value(&v)
            };
            set_path(&mut table, &path, value, &k)?;
        }
        let de = toml::Value::Table(table);
        let mut cfg: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            anyhow!("configuration key `{path}`: {}", e.inner())
        })?;
        if let Some(d) = &o.data_dir {
            cfg.data_dir = d.clone();
        }
        if let Some(u) = &o.database_url {
            cfg.database.url = u.clone();
        }
        if let Some(l) = &o.listen {
            cfg.server.listen = l.clone();
        }
        cfg.config_file = file.map(Path::to_path_buf);
        cfg.validate()?;
        Ok(cfg)
    }

    /// The connection pool size: `database.max_connections`, or when 0, 16 on PostgreSQL and twice
    /// the cores (at least 4) on SQLite. SQLite connections are threads of this process that run one
    /// statement at a time each; more of them than the cores can run only add hand-over latency (see
    /// docs/benchmarks.md, workflow transitions: 465/s with 4 connections, 357/s with 16).
    pub fn pool_size(&self) -> u32 {
        match self.database.max_connections {
            0 if self.database_url().starts_with("sqlite:") => {
                let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) as u32;
                (2 * cores).max(4)
            }
            0 => 16,
            n => n,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.server.listen.parse::<SocketAddr>().is_err() {
            bail!("configuration key `server.listen`: `{}` is not an address like 127.0.0.1:8080", self.server.listen);
        }
        if !self.database.url.is_empty() && tg_db::Backend::from_url(&self.database.url).is_none() {
            bail!("configuration key `database.url`: use sqlite://… or postgres://…");
        }
        if self.database.max_connections > 1000 {
            bail!("configuration key `database.max_connections`: at most 1000 (0 picks one for the engine)");
        }
        for o in &self.server.basemap_origins {
            if !tg_api::valid_origin(o) {
                bail!("configuration key `server.basemap_origins`: `{o}` is not an origin like https://t0.tianditu.gov.cn");
            }
        }
        let s = &self.security;
        if s.pbkdf2_iterations < 1000 {
            bail!("configuration key `security.pbkdf2_iterations`: must be at least 1000");
        }
        if !(8..=64).contains(&s.password_min_length) {
            bail!("configuration key `security.password_min_length`: must be between 8 and 64");
        }
        if !(1..=100).contains(&s.lockout_threshold) {
            bail!("configuration key `security.lockout_threshold`: must be between 1 and 100");
        }
        for (k, v) in [
            ("lockout_window_minutes", s.lockout_window_minutes),
            ("lockout_minutes", s.lockout_minutes),
            ("session_idle_minutes", s.session_idle_minutes),
            ("session_absolute_hours", s.session_absolute_hours),
        ] {
            if v <= 0 {
                bail!("configuration key `security.{k}`: must be positive");
            }
        }
        if s.audit_retention_days < 180 {
            bail!(
                "configuration key `security.audit_retention_days`: must be at least 180 (网络安全法 第二十一条: logs are kept six months)"
            );
        }
        for (k, v) in [
            ("password_max_age_days", s.password_max_age_days),
            ("inactivity_disable_days", s.inactivity_disable_days),
            ("login_rate_per_ip", s.login_rate_per_ip),
            ("login_rate_per_account", s.login_rate_per_account),
        ] {
            if v < 0 {
                bail!("configuration key `security.{k}`: must not be negative");
            }
        }
        if !(0..24).contains(&s.office_hours_start) || !(1..=24).contains(&s.office_hours_end) || s.office_hours_start >= s.office_hours_end
        {
            bail!("configuration keys `security.office_hours_start` / `office_hours_end`: hours 0..24 with start < end");
        }
        if !s.syslog_addr.is_empty() && crate::syslog::parse_addr(&s.syslog_addr).is_none() {
            bail!("configuration key `security.syslog_addr`: use udp://host:port");
        }
        if s.release_manifest.is_some() && s.release_public_key.is_empty() {
            bail!("configuration key `security.release_public_key`: required with `security.release_manifest`");
        }
        for c in &s.admin_ip_allowlist {
            if tg_iam::net::Cidr::parse(c).is_none() {
                bail!("configuration key `security.admin_ip_allowlist`: `{c}` is not an IP address or CIDR range");
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            bail!("configuration key `log.format`: must be `text` or `json`");
        }
        if self.server.body_limit_bytes < 1024 || self.server.request_timeout_secs == 0 {
            bail!("configuration keys `server.body_limit_bytes` (≥ 1024) / `server.request_timeout_secs` (≥ 1) out of range");
        }
        Ok(())
    }

    /// True when running on the embedded default (no database URL given).
    pub fn is_embedded_default(&self) -> bool {
        self.database.url.is_empty()
    }

    pub fn root_key_file(&self) -> PathBuf {
        self.security.root_key_file.clone().unwrap_or_else(|| self.data_dir.join("keys").join("root.key"))
    }

    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            tg_db::sqlite_url(&self.data_dir.join("tongguan.db"))
        } else {
            self.database.url.clone()
        }
    }

    pub fn policy(&self) -> tg_iam::SecurityPolicy {
        let s = &self.security;
        tg_iam::SecurityPolicy {
            pbkdf2_iterations: s.pbkdf2_iterations,
            password_min_length: s.password_min_length,
            lockout_threshold: s.lockout_threshold,
            lockout_window_ms: s.lockout_window_minutes * 60_000,
            lockout_duration_ms: s.lockout_minutes * 60_000,
            session_idle_ms: s.session_idle_minutes * 60_000,
            session_absolute_ms: s.session_absolute_hours * 3_600_000,
            password_max_age_days: s.password_max_age_days,
            inactivity_disable_days: s.inactivity_disable_days,
            admin_ip_allowlist: s.admin_ip_allowlist.clone(),
            login_rate_per_ip: s.login_rate_per_ip,
            login_rate_per_account: s.login_rate_per_account,
            allow_plain_login: s.allow_plain_login,
            audit_retention_days: s.audit_retention_days,
            mfa_for_admins: s.mfa_for_admins,
            office_hours: (s.office_hours_start, s.office_hours_end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn defaults_are_valid() {
        let c = Config::load(None, env(&[]), &Overrides::default()).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8080");
        assert!(c.database_url().starts_with("sqlite://"));
        assert!(c.database_url().contains("data/tongguan.db"));
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("tg-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("t.toml");
        std::fs::write(&f, "[server]\nlisten = \"127.0.0.1:9000\"\n[security]\nlockout_threshold = 3\n").unwrap();
        let c =
            Config::load(Some(&f), env(&[("TONGGUAN_SECURITY__LOCKOUT_THRESHOLD", "7"), ("TONGGUAN_TEST_PG", "1")]), &Overrides::default())
                .unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9000");
        assert_eq!(c.security.lockout_threshold, 7);
        let o = Overrides { listen: Some("127.0.0.1:9100".into()), ..Default::default() };
        let c = Config::load(Some(&f), env(&[("TONGGUAN_LISTEN", "127.0.0.1:9050")]), &o).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9100");
    }

    #[test]
    fn basemap_origins_must_be_origins() {
        let dir = std::env::temp_dir().join(format!("tg-cfg-bm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("t.toml");
        std::fs::write(&f, "[server]\nbasemap_origins = [\"https://t0.tianditu.gov.cn\"]\n").unwrap();
        let c = Config::load(Some(&f), env(&[]), &Overrides::default()).unwrap();
        assert_eq!(c.server.basemap_origins, vec!["https://t0.tianditu.gov.cn".to_string()]);
        std::fs::write(&f, "[server]\nbasemap_origins = [\"https://x.example/tiles; script-src *\"]\n").unwrap();
        let e = Config::load(Some(&f), env(&[]), &Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("server.basemap_origins"), "{e}");
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::load(None, env(&[("TONGGUAN_SERVER__LISTN", "x")]), &Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("server"), "{e}");
        assert!(e.contains("listn"), "{e}");
        let e =
            Config::load(None, env(&[("TONGGUAN_SECURITY__LOCKOUT_THRESHOLD", "many")]), &Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("security.lockout_threshold"), "{e}");
        let e = Config::load(None, env(&[("TONGGUAN_LISTEN", "nowhere")]), &Overrides::default()).unwrap_err().to_string();
        assert!(e.contains("server.listen"), "{e}");
    }

    #[test]
    fn database_password_is_redacted() {
        let mut c = Config::default();
        c.database.url = "postgres://tg:s3cret@db.example/tongguan".into();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret"), "{dbg}");
        assert!(dbg.contains("tg:***@db.example"), "{dbg}");
    }
}
