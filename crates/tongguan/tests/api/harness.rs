//! `spawn_app()`: a fresh database (SQLite file or PostgreSQL database), the Yunfu pack and demo
//! data, a server on 127.0.0.1:0, and an injectable clock. No sleeps: the listener is bound before
//! the test starts talking to it.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use tg_kernel::{Clock, FixedClock};
use tongguan::config::{Config, Overrides};
use tongguan::App;

pub const DEMO_PASSWORD: &str = "Demo@12345";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// PostgreSQL runs when CI or TONGGUAN_TEST_PG says so; then a failure to reach it fails the test.
pub fn pg_enabled() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
        || std::env::var("TONGGUAN_TEST_PG").is_ok_and(|v| !v.is_empty() && v != "0")
}

pub fn pg_admin_url() -> String {
    std::env::var("TONGGUAN_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Declares one test per engine from an `async fn(Engine)`.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        mod engines {
            $(
                pub mod $name {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn sqlite() { super::super::$name($crate::harness::Engine::Sqlite).await }
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn postgres() {
                        if !$crate::harness::pg_enabled() {
                            eprintln!("PostgreSQL tests not enabled (set TONGGUAN_TEST_PG=1)");
                            return;
                        }
                        super::super::$name($crate::harness::Engine::Postgres).await
                    }
                }
            )*
        }
    };
}

pub struct TestApp {
    pub base: String,
    pub app: App,
    pub clock: FixedClock,
    pub data_dir: std::path::PathBuf,
    pub db_url: String,
    /// Soft-token seeds of accounts that bound one during the test (the harness plays the phone).
    pub otp_seeds: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}_{}", std::process::id(), hex::encode(rand_bytes()))
}

fn rand_bytes() -> [u8; 6] {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let c = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst) as u128;
    let v = t ^ (c << 40);
    let b = v.to_le_bytes();
    [b[0], b[1], b[2], b[3], b[4], b[5]]
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_app_with(engine, &[]).await
}

/// `spawn_app` with extra `TONGGUAN_*` settings (they override the harness defaults).
pub async fn spawn_app_with(engine: Engine, extra: &[(&str, &str)]) -> TestApp {
    let data_dir = std::env::temp_dir().join(unique("tg_it_"));
    std::fs::create_dir_all(&data_dir).unwrap();
    let db_url = match engine {
        Engine::Sqlite => tg_db::sqlite_url(&data_dir.join("tongguan.db")),
        Engine::Postgres => {
            let name = unique("tg_test_");
            let admin = tg_db::Db::connect(&pg_admin_url(), &Default::default()).await.expect("PostgreSQL reachable");
            sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(admin.pool()).await.unwrap();
            admin.close().await;
            let base = pg_admin_url();
            let root = base.rsplit_once('/').unwrap().0;
            format!("{root}/{name}")
        }
    };
    let mut env = vec![
        ("TONGGUAN_SECURITY__PBKDF2_ITERATIONS".to_string(), "1000".to_string()),
        ("TONGGUAN_DATABASE__MAX_CONNECTIONS".to_string(), "8".to_string()),
        // Most tests post plain passwords to keep them short; `login()` and the envelope tests use SM2.
        ("TONGGUAN_SECURITY__ALLOW_PLAIN_LOGIN".to_string(), "true".to_string()),
        ("TONGGUAN_SECURITY__LOGIN_RATE_PER_IP".to_string(), "100000".to_string()),
        ("TONGGUAN_SECURITY__LOGIN_RATE_PER_ACCOUNT".to_string(), "1000".to_string()),
    ];
    for (k, v) in extra {
        env.retain(|(ek, _)| ek != k);
        env.push(((*k).to_string(), (*v).to_string()));
    }
    let overrides = Overrides { data_dir: Some(data_dir.clone()), database_url: Some(db_url.clone()), listen: Some("127.0.0.1:0".into()) };
    let cfg = Config::load(None, env, &overrides).unwrap();
    let clock = FixedClock::new(1_795_000_000_000);
    let app = App::open(cfg, Arc::new(clock.clone())).await.unwrap();
    tongguan::seed::seed_demo(&app.iam, &app.pack).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server_app = app.clone();
    tokio::spawn(async move {
        tongguan::serve(&server_app, listener, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestApp { base, app, clock, data_dir, db_url, otp_seeds: Default::default(), _shutdown: tx }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // SQLite files and keys of this test; PostgreSQL test databases are dropped by .ci/run.
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Masking scan (checklist §4): no response of the test run may carry a clear ID-card or mobile
/// number. Hex strings (tokens, MACs, keys, signatures) are not personal data and are skipped.
pub fn assert_no_raw_pii(v: &Value, what: &str) {
    match v {
        Value::String(s) => {
            let hexlike = s.len() >= 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
            assert!(hexlike || !tg_kernel::pii::contains_raw_pii(s), "unmasked personal data in {what}: {s}");
        }
        Value::Array(a) => a.iter().for_each(|x| assert_no_raw_pii(x, what)),
        Value::Object(o) => o.values().for_each(|x| assert_no_raw_pii(x, what)),
        _ => {}
    }
}

/// A signed-in API client (bearer token).
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body.get("code").and_then(Value::as_str).unwrap_or("")
    }
}

impl Client {
    pub fn anon(base: &str) -> Self {
        Self { http: reqwest::Client::new(), base: base.to_owned(), token: None }
    }

    pub async fn raw(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        let r = self.raw_unscanned(method.clone(), path, body).await;
        assert_no_raw_pii(&r.body, &format!("{method} {path}"));
        r
    }

    /// For the unmasking endpoint only: the one response allowed to carry a clear value.
    pub async fn post_unscanned(&self, path: &str, body: Value) -> Resp {
        self.raw_unscanned(Method::POST, path, Some(&body)).await
    }

    pub async fn raw_unscanned(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp { status, body, headers }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.raw(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.raw(Method::POST, path, Some(&body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.raw(Method::PUT, path, Some(&body)).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.raw(Method::DELETE, path, None).await
    }
}

impl TestApp {
    pub fn anon(&self) -> Client {
        Client::anon(&self.base)
    }

    /// The login body the page sends: the password and a fresh nonce, SM2-encrypted (C1C3C2) to the
    /// server's login key, hex without the `04` prefix exactly as npm `sm-crypto` produces it.
    pub async fn envelope(&self, password: &str) -> String {
        let ch = self.anon().get("/api/v1/auth/challenge").await;
        assert_eq!(ch.status, StatusCode::OK, "{:?}", ch.body);
        let pk = hex::decode(ch.body["public_key"].as_str().unwrap()).unwrap();
        let plain = json!({"password": password, "nonce": ch.body["nonce"]}).to_string();
        let ct = tg_crypto::sm2_encrypt(&pk, plain.as_bytes()).unwrap();
        assert_eq!(ct[0], 0x04);
        hex::encode(&ct[1..])
    }

    /// The current dynamic password of an account whose seed the harness holds, one step later than
    /// any code used before (codes are single-use; the clock moves one period instead of sleeping).
    pub fn otp_code(&self, username: &str) -> Option<String> {
        let seed = self.otp_seeds.lock().unwrap().get(username).cloned()?;
        self.clock.advance_ms(61_000);
        let now = self.clock.now_ms() / 1000;
        Some(tg_crypto::otp_code_at(&seed, now, &tg_crypto::OtpPolicy::default()))
    }

    /// Signs in as the page does (SM2 envelope). Accounts whose roles need the second factor bind a
    /// soft token on first use and then step up with a dynamic password, ending at aal 2.
    pub async fn login(&self, username: &str, password: &str) -> Client {
        let cipher = self.envelope(password).await;
        let r = self.anon().post("/api/v1/auth/login", json!({"username": username, "cipher": cipher})).await;
        assert_eq!(r.status, StatusCode::OK, "login {username}: {:?}", r.body);
        let mut c = Client { token: Some(r.body["token"].as_str().unwrap().to_owned()), ..self.anon() };
        let user = &r.body["user"];
        if user["mfa_required"] == json!(true) && user["must_change_password"] == json!(false) {
            let key = tg_iam::users::normalize_username(username);
            if user["mfa_enrolled"] == json!(false) {
                let e = c.post("/api/v1/auth/mfa/enroll", json!({})).await;
                assert_eq!(e.status, StatusCode::OK, "enroll {username}: {:?}", e.body);
                let seed = tg_crypto::base32_decode(e.body["secret"].as_str().unwrap()).unwrap();
                self.otp_seeds.lock().unwrap().insert(key.clone(), seed);
            }
            let code = self.otp_code(&key).expect("the harness holds the seed of every token it bound");
            let v = c.post("/api/v1/auth/mfa/verify", json!({"code": code})).await;
            assert_eq!(v.status, StatusCode::OK, "mfa {username}: {:?}", v.body);
            assert_eq!(v.body["user"]["aal"], json!(2));
            c.token = Some(v.body["token"].as_str().unwrap().to_owned());
        }
        c
    }

    pub async fn demo(&self, username: &str) -> Client {
        self.login(username, DEMO_PASSWORD).await
    }

    /// Direct SQL for assertions and for simulating tampering behind the application's back.
    pub async fn scalar_i64(&self, sql: &'static str) -> i64 {
        use sqlx::Row;
        sqlx::query(sql).fetch_one(self.app.iam.db().pool()).await.unwrap().try_get(0).unwrap()
    }

    pub async fn exec(&self, sql: &'static str) {
        sqlx::query(sql).execute(self.app.iam.db().pool()).await.unwrap();
    }

    /// Plays an attacker with database-owner rights: removes the append-only guard of the audit table.
    pub async fn drop_audit_guard(&self) {
        let sql = match self.app.iam.db().backend() {
            tg_db::Backend::Sqlite => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
            tg_db::Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        };
        sqlx::raw_sql(sql).execute(self.app.iam.db().pool()).await.unwrap();
    }

    /// A second application on the same database: another node, or this one restarted. Its clock
    /// starts at this one's time.
    pub async fn second_app(&self) -> App {
        let env = vec![("TONGGUAN_SECURITY__PBKDF2_ITERATIONS".to_string(), "1000".to_string())];
        let overrides = Overrides {
            data_dir: Some(self.data_dir.clone()),
            database_url: Some(self.db_url.clone()),
            listen: Some("127.0.0.1:0".into()),
        };
        let cfg = Config::load(None, env, &overrides).unwrap();
        App::open(cfg, Arc::new(FixedClock::new(self.clock.now_ms()))).await.unwrap()
    }

    pub async fn user_id(&self, username: &str) -> i64 {
        self.app.iam.user_id_by_name(username).await.unwrap().unwrap()
    }
}
