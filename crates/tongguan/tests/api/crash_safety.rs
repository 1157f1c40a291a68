//! Killing the server (SIGKILL) in the middle of writes loses no acknowledged write and leaves no
//! half-written record: every acknowledged department exists, every department has exactly its audit
//! row, and the audit chain verifies.

use crate::harness::{pg_admin_url, pg_enabled, Client, DEMO_PASSWORD};
use reqwest::StatusCode;
use serde_json::json;
use std::process::{Command, Stdio};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tongguan(data: &std::path::Path, url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tongguan"));
    c.arg("--data-dir").arg(data).arg("--database-url").arg(url);
    // This test is about durability, not sign-in: plain login and no second factor for the writer.
    c.env("TONGGUAN_SECURITY__PBKDF2_ITERATIONS", "1000")
        .env("TONGGUAN_SECURITY__ALLOW_PLAIN_LOGIN", "true")
        .env("TONGGUAN_SECURITY__MFA_FOR_ADMINS", "false")
        .env("RUST_LOG", "error");
    c
}

async fn run(url: String, data: std::path::PathBuf) {
    assert!(tongguan(&data, &url).arg("seed-demo").status().unwrap().success());
    let port = free_port();
    let mut child = tongguan(&data, &url)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // Readiness by polling the probe (bounded), not by sleeping a guessed time.
    let mut ready = false;
    for _ in 0..500 {
        if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
            ready = true;
            break;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(ready, "server did not become ready");
    let login = Client::anon(&base).post("/api/v1/auth/login", json!({"username": "sysadmin", "password": DEMO_PASSWORD})).await;
    let admin = Client { token: Some(login.body["token"].as_str().unwrap().into()), ..Client::anon(&base) };

    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let admin = admin.clone();
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..1000 {
                let code = format!("K{w}-{i}");
                let r = admin
                    .http
                    .post(format!("{}/api/v1/departments", admin.base))
                    .bearer_auth(admin.token.as_ref().unwrap())
                    .json(&json!({"code": code, "name": format!("崩溃测试{w}-{i}"), "region_code": "445302"}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == StatusCode::CREATED => acked.lock().unwrap().push(code),
                    _ => break,
                }
            }
        }));
    }
    // Kill once a good number of writes were acknowledged, with more in flight (bounded wait).
    for _ in 0..6000 {
        if acked.lock().unwrap().len() >= 60 || tasks.iter().all(|t| t.is_finished()) {
            break;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(!acked.lock().unwrap().is_empty(), "the server acknowledged no write before the kill");
    child.kill().unwrap();
    child.wait().unwrap();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();

    // Reopen the same database as a fresh process would.
    let cfg = tongguan::config::Config::load(
        None,
        vec![],
        &tongguan::config::Overrides { data_dir: Some(data.clone()), database_url: Some(url.clone()), listen: None },
    )
    .unwrap();
    let app = tongguan::App::open(cfg, std::sync::Arc::new(tg_kernel::SystemClock)).await.unwrap();
    use sqlx::Row;
    let pool = app.iam.db().pool();
    for code in &acked {
        let n: i64 =
            sqlx::query("SELECT COUNT(*) FROM departments WHERE code = $1").bind(code).fetch_one(pool).await.unwrap().try_get(0).unwrap();
        assert_eq!(n, 1, "acknowledged department {code} lost");
    }
    let depts: i64 =
        sqlx::query("SELECT COUNT(*) FROM departments WHERE code LIKE 'K%'").fetch_one(pool).await.unwrap().try_get(0).unwrap();
    let audits: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'dept.create' AND target LIKE '%崩溃测试%'")
        .fetch_one(pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert!(depts as usize >= acked.len());
    assert_eq!(depts, audits, "every department has its audit row and no audit row lacks its department");
    let v = tg_iam::audit::verify(app.iam.db(), app.iam.keys()).await.unwrap();
    assert!(v.ok, "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_writes_sqlite() {
    let data = std::env::temp_dir().join(format!("tg_crash_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();
    run(tg_db::sqlite_url(&data.join("tongguan.db")), data).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_writes_postgres() {
    if !pg_enabled() {
        eprintln!("PostgreSQL tests not enabled (set TONGGUAN_TEST_PG=1)");
        return;
    }
    let name = format!("tg_crash_{}", std::process::id());
    let admin = tg_db::Db::connect(&pg_admin_url(), &Default::default()).await.unwrap();
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}")).execute(admin.pool()).await.unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(admin.pool()).await.unwrap();
    admin.close().await;
    let url = format!("{}/{name}", pg_admin_url().rsplit_once('/').unwrap().0);
    let data = std::env::temp_dir().join(format!("tg_crash_pg_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();
    run(url, data).await;
}
