use crate::harness::{spawn_app, Engine};
use reqwest::StatusCode;
use serde_json::json;

crate::both_engines!(actions_are_audited_with_request_id, tampering_is_detected, audit_export_is_excel, county_auditor_sees_own_county);

async fn county_auditor_sees_own_county(e: Engine) {
    let t = spawn_app(e).await;
    let spec = tg_iam::users::UserSpec {
        username: "yc.auditor".into(),
        display_name: "云城审计员".into(),
        password: "Audit@2026x".into(),
        phone: None,
        region: tg_kernel::RegionCode::parse("445302").unwrap(),
        department_id: None,
        roles: vec!["auditadmin".into()],
        must_change_password: false,
        is_demo: false,
    };
    t.app.iam.insert_user(&tg_iam::AuditCtx::cli("test"), &spec).await.unwrap();
    t.demo("ya.leader").await;
    t.demo("yc.town").await;
    let aud = t.login("yc.auditor", "Audit@2026x").await;
    let rows = aud.get("/api/v1/audit?page_size=500").await;
    let items = rows.body["items"].as_array().unwrap();
    assert!(items.iter().any(|r| r["actor_username"] == "yc.town"));
    assert!(items.iter().all(|r| r["actor_region"].as_str().unwrap().starts_with("445302")), "{items:?}");
    let city = t.demo("auditadmin").await.get("/api/v1/audit?actor=ya.leader").await;
    assert!(city.body["total"].as_i64().unwrap() >= 1, "the city auditor sees every county");
}

async fn actions_are_audited_with_request_id(e: Engine) {
    let t = spawn_app(e).await;
    let sys = t.demo("sysadmin").await;
    let r = sys
        .post("/api/v1/users", json!({"username": "audited", "display_name": "被审计", "password": "Init@2026xy", "region_code": "445302"}))
        .await;
    let rid = r.headers.get("x-request-id").unwrap().to_str().unwrap().to_owned();
    let aud = t.demo("auditadmin").await;
    let list = aud.get("/api/v1/audit?action=user.create&actor=sysadmin").await;
    assert_eq!(list.status, StatusCode::OK);
    let row = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["target"].as_str().unwrap().contains("audited"))
        .expect("audit row")
        .clone();
    assert_eq!(row["request_id"], rid.as_str());
    assert_eq!(row["actor_roles"], "sysadmin");
    assert_eq!(row["actor_region"], "445300");
    assert_eq!(row["result"], "success");
    assert_eq!(row["ip"], "127.0.0.1");
    // Denials are recorded with the actor.
    aud.get("/api/v1/users").await;
    let denied = aud.get("/api/v1/audit?result=denied&actor=auditadmin").await;
    assert_eq!(denied.body["items"][0]["target"], "GET /api/v1/users");
    // Time filters.
    assert_eq!(aud.get("/api/v1/audit?from=2099-01-01T00:00:00Z").await.body["total"], 0);
    assert_eq!(aud.get("/api/v1/audit?from=yesterday").await.code(), "request.invalid_query");
    // The audit administrator's own queries are in the trail too.
    let own = aud.get("/api/v1/audit?action=audit.list&actor=auditadmin").await;
    assert!(own.body["total"].as_i64().unwrap() >= 3, "{:?}", own.body);
    let v = aud.get("/api/v1/audit/verify").await;
    assert_eq!(v.body["ok"], true, "{:?}", v.body);
}

async fn tampering_is_detected(e: Engine) {
    let t = spawn_app(e).await;
    let aud = t.demo("auditadmin").await;
    assert_eq!(aud.get("/api/v1/audit/verify").await.body["ok"], true);
    // The database itself refuses to change or delete audit rows.
    let pool = t.app.iam.db().pool();
    assert!(sqlx::query("UPDATE audit_log SET detail = 'forged' WHERE seq = 5").execute(pool).await.is_err());
    assert!(sqlx::query("DELETE FROM audit_log WHERE seq = 5").execute(pool).await.is_err());
    // Someone who removes that guard edits one row behind the application's back.
    t.drop_audit_guard().await;
    t.exec("UPDATE audit_log SET detail = 'forged' WHERE seq = 5").await;
    let v = aud.get("/api/v1/audit/verify").await;
    assert_eq!(v.body["ok"], false);
    assert_eq!(v.body["first_broken_seq"], 5);
    // The CLI reports the same and exits non-zero.
    let out = cli(&t, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("seq 5"), "{}", String::from_utf8_lossy(&out.stderr));
}

async fn audit_export_is_excel(e: Engine) {
    let t = spawn_app(e).await;
    // Personal data typed into places that end up in the trail (a search filter, a target).
    let sys = t.demo("sysadmin").await;
    sys.get("/api/v1/users?q=13912345678").await;
    t.anon().post("/api/v1/auth/login", json!({"username": "11010519491231002X", "password": "x"})).await;
    let aud = t.demo("auditadmin").await;
    let all = aud.http.get(format!("{}/api/v1/audit/export", t.base)).bearer_auth(aud.token.as_ref().unwrap()).send().await.unwrap();
    let bytes = all.bytes().await.unwrap().to_vec();
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    let mut cells = 0;
    for row in sheet.rows() {
        for c in row {
            let text = c.to_string();
            assert!(!tg_kernel::pii::contains_raw_pii(&text), "export carries clear personal data: {text}");
            cells += 1;
        }
    }
    assert!(cells > 100);
    let r = aud
        .http
        .get(format!("{}/api/v1/audit/export?action=auth.login", t.base))
        .bearer_auth(aud.token.as_ref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap().contains("spreadsheetml"));
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..2], b"PK", "xlsx is a zip");
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'audit.export'").await, 2);
}

fn cli(t: &crate::harness::TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tongguan"))
        .args(args)
        .arg("--data-dir")
        .arg(&t.data_dir)
        .arg("--database-url")
        .arg(&t.db_url)
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

#[tokio::test]
async fn deleted_and_reordered_rows_are_detected() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        if engine == Engine::Postgres && !crate::harness::pg_enabled() {
            continue;
        }
        let t = spawn_app(engine).await;
        t.drop_audit_guard().await;
        t.exec("DELETE FROM audit_log WHERE seq = 7").await;
        let r = tg_iam::audit::verify(t.app.iam.db(), t.app.iam.keys()).await.unwrap();
        assert_eq!((r.ok, r.first_broken_seq), (false, Some(7)));
        // Truncating the tail is caught against the chain head.
        let t = spawn_app(engine).await;
        let last = t.scalar_i64("SELECT MAX(seq) FROM audit_log").await;
        t.drop_audit_guard().await;
        t.exec("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)").await;
        let r = tg_iam::audit::verify(t.app.iam.db(), t.app.iam.keys()).await.unwrap();
        assert_eq!((r.ok, r.first_broken_seq), (false, Some(last)));
        // A CLI on an intact chain exits 0.
        let t = spawn_app(engine).await;
        assert_eq!(cli(&t, &["audit", "verify"]).status.code(), Some(0));
    }
}
