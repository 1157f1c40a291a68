//! The command line: production bootstrap and account administration, non-interactively.

use crate::harness::{spawn_app, Engine};
use reqwest::StatusCode;
use serde_json::json;
use std::process::Command;

fn tongguan(data: &std::path::Path, url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tongguan"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .arg("--database-url")
        .arg(url)
        .env("TONGGUAN_SECURITY__PBKDF2_ITERATIONS", "1000")
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

#[test]
fn init_creates_three_administrators_with_one_time_passwords() {
    let data = std::env::temp_dir().join(format!("tg_init_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let url = tg_db::sqlite_url(&data.join("tongguan.db"));
    std::fs::create_dir_all(&data).unwrap();
    let out = tongguan(&data, &url, &["init"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let creds: Vec<(String, String)> =
        text.lines().filter_map(|l| l.trim().split_once('\t')).map(|(u, p)| (u.to_owned(), p.to_owned())).collect();
    assert_eq!(creds.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), ["sysadmin", "secadmin", "auditadmin"]);
    assert!(creds.iter().all(|c| c.1.len() == 16));
    assert_ne!(creds[0].1, creds[1].1);
    // A second init refuses; no demo data, no default password.
    assert!(!tongguan(&data, &url, &["init"]).status.success());
    let bad =
        tongguan(&data, &url, &["user", "create", "--username", "x", "--password", "weak", "--role", "sysadmin", "--region", "445300"]);
    assert!(!bad.status.success());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let cfg = tongguan::config::Config::load(
            None,
            vec![("TONGGUAN_SECURITY__PBKDF2_ITERATIONS".into(), "1000".into())],
            &tongguan::config::Overrides { data_dir: Some(data.clone()), database_url: Some(url.clone()), listen: None },
        )
        .unwrap();
        let app = tongguan::App::open(cfg, std::sync::Arc::new(tg_kernel::SystemClock)).await.unwrap();
        assert_eq!(app.iam.demo_accounts_active().await.unwrap(), 0);
        let req = |pw: &str| tg_iam::auth::LoginRequest { username: "sysadmin".into(), password: Some(pw.into()), ..Default::default() };
        // Plain passwords are refused by default (the page sends the SM2 envelope) …
        assert!(matches!(app.iam.login(&req(&creds[0].1), &Default::default()).await, Err(tg_iam::IamError::EnvelopeRequired)));
        // … and the envelope works.
        let ch = app.iam.login_challenge().await.unwrap();
        let plain = serde_json::json!({"password": creds[0].1, "nonce": ch.nonce}).to_string();
        let ct = tg_crypto::sm2_encrypt(&hex::decode(&ch.public_key).unwrap(), plain.as_bytes()).unwrap();
        let env = tg_iam::auth::LoginRequest { username: "sysadmin".into(), cipher: Some(hex::encode(&ct[1..])), ..Default::default() };
        let s = app.iam.login(&env, &Default::default()).await.unwrap();
        assert!(s.principal.must_change_password);
        assert!(s.principal.mfa_required && s.principal.aal == 1, "the three administrators need the second factor");
    });
}

crate::both_engines!(user_commands_work_non_interactively);

async fn user_commands_work_non_interactively(e: Engine) {
    let t = spawn_app(e).await;
    let run = |args: &[&str]| tongguan(&t.data_dir, &t.db_url, args);
    let out = run(&[
        "user",
        "create",
        "--username",
        "ops.one",
        "--password",
        "Ops@2026abc",
        "--role",
        "county_leader",
        "--region",
        "445302",
        "--department",
        "445302-TCJ",
        "--display-name",
        "运维一号",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let c = t.login("ops.one", "Ops@2026abc").await;
    let me = c.get("/api/v1/auth/me").await.body;
    assert_eq!(me["must_change_password"], true);
    assert_eq!(me["department"]["name"], "云城区投资促进局");
    assert!(!run(&["user", "create", "--username", "ops.two", "--password", "Ops@2026abc", "--role", "nosuchrole", "--region", "445302"])
        .status
        .success());
    assert!(!run(&[
        "user",
        "create",
        "--username",
        "ops.two",
        "--password",
        "Ops@2026abc",
        "--role",
        "sysadmin",
        "--role",
        "auditadmin",
        "--region",
        "445302"
    ])
    .status
    .success());
    assert!(!run(&[
        "user",
        "create",
        "--username",
        "ops.three",
        "--password",
        "Ops@2026abc",
        "--role",
        "grid_worker",
        "--region",
        "445399"
    ])
    .status
    .success());
    assert!(run(&["user", "lock", "--username", "ops.one"]).status.success());
    assert_eq!(c.get("/api/v1/auth/me").await.status, StatusCode::UNAUTHORIZED);
    assert!(run(&["user", "unlock", "--username", "ops.one"]).status.success());
    assert!(run(&["user", "reset-password", "--username", "ops.one", "--password", "Fresh@2026xyz"]).status.success());
    let r = t.anon().post("/api/v1/auth/login", json!({"username": "ops.one", "password": "Fresh@2026xyz"})).await;
    assert_eq!(r.status, StatusCode::OK);
    let n = t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE actor_username LIKE 'cli:user%'").await;
    assert!(n >= 4, "CLI actions are audited: {n}");
}

/// 可信验证: a signed manifest of the binary, web assets and configuration is checked at start-up; a
/// changed byte of the configuration stops the start with INTEGRITY_FAILED and leaves an audit record.
#[test]
fn release_manifest_refuses_a_changed_configuration() {
    let data = std::env::temp_dir().join(format!("tg_release_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();
    let url = tg_db::sqlite_url(&data.join("tongguan.db"));
    let key = data.join("release.key");
    let out = tongguan(&data, &url, &["release", "keygen", "--out", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let public = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(public.starts_with("04") && public.len() == 130);
    let manifest = data.join("release.json");
    let config = data.join("tongguan.toml");
    std::fs::write(&config, format!("[security]\nrelease_manifest = \"{}\"\nrelease_public_key = \"{public}\"\n", manifest.display()))
        .unwrap();
    let with_config = |args: &[&str]| {
        let mut a = vec!["--config", config.to_str().unwrap()];
        a.extend_from_slice(args);
        tongguan(&data, &url, &a)
    };
    let out = with_config(&["release", "sign", "--key", key.to_str().unwrap(), "--out", manifest.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = with_config(&["migrate"]);
    assert!(out.status.success(), "intact release starts: {}", String::from_utf8_lossy(&out.stderr));
    // One changed byte of the configuration (a comment) breaks the manifest.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("# x\n");
    std::fs::write(&config, text).unwrap();
    let out = with_config(&["migrate"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("INTEGRITY_FAILED") && err.contains("config changed"), "{err}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = tg_db::Db::connect(&url, &Default::default()).await.unwrap();
        use sqlx::Row;
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'system.integrity' AND result = 'failure'")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert_eq!(n, 1);
    });
    let _ = std::fs::remove_dir_all(&data);
}
