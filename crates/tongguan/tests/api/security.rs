//! 等保三级 / 密评 controls, one test per checklist row group: SM2 login envelope and nonces, the
//! second factor and its lockout, rate limits, administrator IP allow-lists, account expiry and
//! inactivity, password age, encrypted and masked personal data with audited unmasking, key
//! hierarchy and rotation, row MACs over grants, signed audit checkpoints, SM2 signatures, security
//! headers, and backup/restore.

use crate::harness::{spawn_app, spawn_app_with, Client, Engine, DEMO_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;
use tg_kernel::Clock;

crate::both_engines!(
    login_envelope_refuses_replay_and_plaintext,
    second_factor_gates_business_apis_and_counts_failures,
    rate_limits_and_admin_ip_allow_list,
    expiry_inactivity_and_password_age,
    personal_data_is_encrypted_searchable_and_unmasked_only_with_reason,
    keys_never_stored_unwrapped_and_rotate,
    tampered_grants_are_refused_and_reported,
    checkpoints_detect_tail_truncation,
    backup_restore_round_trip,
    security_headers_and_no_store,
    audit_retention_purge_keeps_the_chain_verifiable,
    audit_records_ship_to_syslog,
    intrusion_rules_raise_alerts,
    security_labels_hide_objects_above_clearance,
);

async fn login_envelope_refuses_replay_and_plaintext(e: Engine) {
    // The production default: no plaintext password accepted.
    let t = spawn_app_with(e, &[("TONGGUAN_SECURITY__ALLOW_PLAIN_LOGIN", "false")]).await;
    let plain = t.anon().post("/api/v1/auth/login", json!({"username": "yc.leader", "password": DEMO_PASSWORD})).await;
    assert_eq!((plain.status, plain.code()), (StatusCode::BAD_REQUEST, "auth.envelope_required"));
    let cipher = t.envelope(DEMO_PASSWORD).await;
    let ok = t.anon().post("/api/v1/auth/login", json!({"username": "yc.leader", "cipher": cipher})).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.headers.get("cache-control").unwrap(), "no-store");
    // Replaying the captured body: the nonce is spent.
    let replay = t.anon().post("/api/v1/auth/login", json!({"username": "yc.leader", "cipher": cipher})).await;
    assert_eq!((replay.status, replay.code()), (StatusCode::UNAUTHORIZED, "auth.nonce_invalid"));
    // Forged or malformed ciphertexts.
    for bad in ["", "zz", "00", &"ab".repeat(150), &cipher[..cipher.len() - 2]] {
        let r = t.anon().post("/api/v1/auth/login", json!({"username": "yc.leader", "cipher": bad})).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "auth.bad_envelope"), "{bad}");
    }
    // A nonce older than its lifetime.
    let late = t.envelope(DEMO_PASSWORD).await;
    t.clock.advance_minutes(6);
    let r = t.anon().post("/api/v1/auth/login", json!({"username": "yc.leader", "cipher": late})).await;
    assert_eq!(r.code(), "auth.nonce_invalid");
    // Each refusal is audited; none of them logged anyone in.
    let n = t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login' AND result = 'failure'").await;
    assert!(n >= 8, "{n}");
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM sessions").await, 1);
    // Every authentication issues a new token.
    let again = t.login("yc.leader", DEMO_PASSWORD).await;
    assert_ne!(again.token.as_deref(), ok.body["token"].as_str());
}

async fn second_factor_gates_business_apis_and_counts_failures(e: Engine) {
    let t = spawn_app(e).await;
    let r = t.anon().post("/api/v1/auth/login", json!({"username": "sysadmin", "password": DEMO_PASSWORD})).await;
    assert_eq!(r.body["user"]["aal"], json!(1));
    assert_eq!(r.body["user"]["mfa_required"], json!(true));
    let aal1 = Client { token: Some(r.body["token"].as_str().unwrap().into()), ..t.anon() };
    let denied = aal1.get("/api/v1/users").await;
    assert_eq!((denied.status, denied.code()), (StatusCode::FORBIDDEN, "auth.mfa_required"));
    assert_eq!(aal1.get("/api/v1/auth/me").await.status, StatusCode::OK);
    // Bind a token, then a wrong code and a missing code both count toward the lockout.
    let enroll = aal1.post("/api/v1/auth/mfa/enroll", json!({})).await;
    assert!(enroll.body["uri"].as_str().unwrap().starts_with("tgotp://sm3/"));
    let seed = tg_crypto::base32_decode(enroll.body["secret"].as_str().unwrap()).unwrap();
    t.otp_seeds.lock().unwrap().insert("sysadmin".into(), seed.clone());
    for bad in ["000000", "", "12345x"] {
        let v = aal1.post("/api/v1/auth/mfa/verify", json!({"code": bad})).await;
        assert_eq!((v.status, v.code()), (StatusCode::UNAUTHORIZED, "auth.mfa_invalid"), "{bad}");
    }
    let code = t.otp_code("sysadmin").unwrap();
    let ok = aal1.post("/api/v1/auth/mfa/verify", json!({"code": code})).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.body["user"]["aal"], json!(2));
    let aal2 = Client { token: Some(ok.body["token"].as_str().unwrap().into()), ..t.anon() };
    assert_eq!(aal1.get("/api/v1/auth/me").await.status, StatusCode::UNAUTHORIZED, "the aal-1 token was replaced");
    assert_eq!(aal2.get("/api/v1/users").await.status, StatusCode::OK);
    // The same code again (same step) is refused in a one-step login.
    let reuse = t.anon().post("/api/v1/auth/login", json!({"username": "sysadmin", "password": DEMO_PASSWORD, "otp_code": code})).await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    // The successful step-up reset the counter; the reuse counted 1; four more wrong codes lock (threshold 5) …
    for _ in 0..4 {
        let r = t.anon().post("/api/v1/auth/login", json!({"username": "sysadmin", "password": DEMO_PASSWORD, "otp_code": "999999"})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // … and then even the correct password with a correct code gets the same generic answer.
    let next = t.otp_code("sysadmin").unwrap();
    let locked = t.anon().post("/api/v1/auth/login", json!({"username": "sysadmin", "password": DEMO_PASSWORD, "otp_code": next})).await;
    assert_eq!((locked.status, locked.code()), (StatusCode::UNAUTHORIZED, "auth.invalid_credentials"));
    t.clock.advance_minutes(31);
    let one_step = t
        .anon()
        .post("/api/v1/auth/login", json!({"username": "sysadmin", "password": DEMO_PASSWORD, "otp_code": t.otp_code("sysadmin").unwrap()}))
        .await;
    assert_eq!(one_step.status, StatusCode::OK, "{:?}", one_step.body);
    assert_eq!(one_step.body["user"]["aal"], json!(2));
    // The security administrator sees the binding and can reset it.
    let sec = t.demo("secadmin").await;
    let list = sec.get("/api/v1/security/mfa?page_size=50").await;
    let row = list.body["items"].as_array().unwrap().iter().find(|r| r["username"] == "sysadmin").unwrap().clone();
    assert_eq!((row["status"].as_str(), row["required"].as_bool()), (Some("active"), Some(true)));
    let id = t.user_id("sysadmin").await;
    assert_eq!(sec.post(&format!("/api/v1/security/mfa/{id}/reset"), json!({})).await.status, StatusCode::NO_CONTENT);
    let gone = Client { token: Some(one_step.body["token"].as_str().unwrap().into()), ..t.anon() };
    assert_eq!(gone.get("/api/v1/auth/me").await.status, StatusCode::UNAUTHORIZED, "reset ends the sessions");
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'security.mfa_reset'").await, 1);
}

async fn rate_limits_and_admin_ip_allow_list(e: Engine) {
    let t =
        spawn_app_with(e, &[("TONGGUAN_SECURITY__LOGIN_RATE_PER_IP", "5"), ("TONGGUAN_SECURITY__ADMIN_IP_ALLOWLIST", "[\"10.0.0.0/8\"]")])
            .await;
    for _ in 0..5 {
        t.anon().post("/api/v1/auth/login", json!({"username": "nobody", "password": "x"})).await;
    }
    let limited = t.anon().post("/api/v1/auth/login", json!({"username": "yc.leader", "password": DEMO_PASSWORD})).await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "request.rate_limited"));
    t.clock.advance_minutes(1);
    assert_eq!(
        t.anon().post("/api/v1/auth/login", json!({"username": "yc.leader", "password": DEMO_PASSWORD})).await.status,
        StatusCode::OK
    );
    // Administrators only from the allow-list; the refusal is audited and alerted.
    t.clock.advance_minutes(1);
    let admin = t.anon().post("/api/v1/auth/login", json!({"username": "auditadmin", "password": DEMO_PASSWORD})).await;
    assert_eq!((admin.status, admin.code()), (StatusCode::FORBIDDEN, "auth.ip_not_allowed"));
    let alerts = t.scalar_i64("SELECT COUNT(*) FROM messages WHERE kind = 'admin_ip'").await;
    assert!(alerts >= 1, "security and audit administrators get the alert");
    // Non-administrators are not affected by the administrators' list.
    assert_eq!(
        t.anon().post("/api/v1/auth/login", json!({"username": "ya.leader", "password": DEMO_PASSWORD})).await.status,
        StatusCode::OK
    );
}

async fn expiry_inactivity_and_password_age(e: Engine) {
    let t = spawn_app(e).await;
    // Password older than 90 days: only the password change works.
    let u = t.demo("yc.leader").await;
    t.clock.advance_ms(89 * 86_400_000);
    let u = {
        drop(u);
        t.demo("yc.leader").await
    };
    t.clock.advance_ms(2 * 86_400_000);
    let u2 = t.demo("yc.leader").await;
    let r = u2.get("/api/v1/regions/445302").await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "auth.password_expired"));
    drop(u);
    let ch = u2.post("/api/v1/auth/password", json!({"old_password": DEMO_PASSWORD, "new_password": "Fresh@2026ok"})).await;
    assert_eq!(ch.status, StatusCode::NO_CONTENT);
    assert_eq!(u2.get("/api/v1/regions/445302").await.status, StatusCode::OK);
    // Accounts unused for more than 90 days are disabled at their next login; sessions end.
    let ya = t.scalar_i64("SELECT COUNT(*) FROM users WHERE username = 'ya.leader' AND status = 'active'").await;
    assert_eq!(ya, 1);
    let r = t.anon().post("/api/v1/auth/login", json!({"username": "ya.leader", "password": DEMO_PASSWORD})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "auth.invalid_credentials"));
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM users WHERE username = 'ya.leader' AND status = 'disabled'").await, 1);
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'user.auto_disable'").await, 1);
    // An account past its expiry date is disabled too.
    t.exec("UPDATE users SET expires_at = 1 WHERE username = 'xx.leader'").await;
    let r = t.anon().post("/api/v1/auth/login", json!({"username": "xx.leader", "password": DEMO_PASSWORD})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM users WHERE username = 'xx.leader' AND status = 'disabled'").await, 1);
}

async fn personal_data_is_encrypted_searchable_and_unmasked_only_with_reason(e: Engine) {
    let t = spawn_app(e).await;
    let sys = t.demo("sysadmin").await;
    let created = sys
        .post(
            "/api/v1/users",
            json!({"username": "zhao.liu", "display_name": "赵六", "password": "Init@2026xy", "phone": "13912345678", "region_code": "445302"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["phone"], "139****5678");
    // At rest: an SM4-GCM envelope and a blind index, never the number.
    let row = sqlx::query("SELECT phone, phone_bidx, password_hash FROM users WHERE username = 'zhao.liu'")
        .fetch_one(t.app.iam.db().pool())
        .await
        .unwrap();
    let (phone, bidx, hash): (String, String, String) = (row.try_get(0).unwrap(), row.try_get(1).unwrap(), row.try_get(2).unwrap());
    assert!(phone.starts_with("v1.") && !phone.contains("13912345678"), "{phone}");
    assert_eq!(bidx.len(), 32);
    assert!(hash.starts_with("pep.v1."), "password verifiers are wrapped under the pepper key");
    // Exact search still works through the blind index.
    let found = sys.get("/api/v1/users?phone=13912345678").await;
    assert_eq!(found.body["total"], 1, "{:?}", found.body);
    assert_eq!(sys.get("/api/v1/users?phone=13912345679").await.body["total"], 0);
    assert_eq!(sys.get("/api/v1/users?phone=12").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A ciphertext moved to another row does not decrypt there (row-bound associated data).
    let id = t.user_id("zhao.liu").await;
    // Unmasking: permission, reason, audit.
    let leader = t.demo("city.leader").await;
    let r = leader.post(&format!("/api/v1/users/{id}/unmask"), json!({"reason": "核实联系方式"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "auth.forbidden"));
    let officer = t.demo("pii.officer").await;
    let r = officer.post(&format!("/api/v1/users/{id}/unmask"), json!({"reason": ""})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = officer.post_unscanned(&format!("/api/v1/users/{id}/unmask"), json!({"reason": "核实联系方式"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["phone"], "13912345678");
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    let audited = sqlx::query("SELECT detail FROM audit_log WHERE action = 'pii.unmask'").fetch_one(t.app.iam.db().pool()).await.unwrap();
    assert!(audited.try_get::<String, _>(0).unwrap().contains("核实联系方式"));
    sqlx::query("UPDATE users SET phone = (SELECT phone FROM users WHERE username = 'zhao.liu') WHERE username = 'city.clerk'")
        .execute(t.app.iam.db().pool())
        .await
        .unwrap();
    let clerk = t.user_id("city.clerk").await;
    let swapped = sys.get(&format!("/api/v1/users/{clerk}")).await;
    assert_eq!(swapped.body["phone"], "[密文校验失败]");
    let report = t.demo("secadmin").await.post("/api/v1/security/integrity/verify", json!({})).await;
    assert!(report.body["problems"].as_array().unwrap().iter().any(|p| p["kind"] == "field"), "{:?}", report.body);
}

async fn keys_never_stored_unwrapped_and_rotate(e: Engine) {
    let t = spawn_app(e).await;
    let keys = t.app.iam.keys();
    // Every unwrapped key, as hex, must appear nowhere in a dump of the database.
    let mut secrets = Vec::new();
    for k in keys.list() {
        secrets.push(hex::encode(&*keys.get(k.purpose, &k.domain, k.version).unwrap()));
    }
    assert!(secrets.len() >= 7);
    let dump = dump_database(&t).await;
    for s in &secrets {
        assert!(!dump.contains(s.as_str()) && !dump.contains(&s[..32]), "an unwrapped key is stored in the database");
    }
    for phone in ["13800000001", "13800000002", "13800000003"] {
        assert!(!dump.contains(phone), "plaintext phone {phone} in the database");
    }
    assert!(!t.data_dir.join("keys").join("audit.key").exists(), "no plaintext audit key file");
    // Rotation through the API: new writes use the new version, old rows still read and verify.
    let sec = t.demo("secadmin").await;
    let before = sec.get("/api/v1/security/keys").await;
    assert_eq!(before.body["provider"], "local-file");
    let r = sec.post("/api/v1/security/keys/fields/rotate", json!({})).await;
    assert_eq!(r.body["version"], 2, "{:?}", r.body);
    assert_eq!(sec.post("/api/v1/security/keys/audit/rotate", json!({})).await.body["version"], 2);
    assert_eq!(sec.post("/api/v1/security/keys/index/rotate", json!({})).await.status, StatusCode::CONFLICT);
    assert_eq!(sec.post("/api/v1/security/keys/nope/rotate", json!({})).await.status, StatusCode::NOT_FOUND);
    let sys = t.demo("sysadmin").await;
    let created = sys
        .post("/api/v1/users", json!({"username": "qian.qi", "display_name": "钱七", "password": "Init@2026xy", "phone": "13700001111", "region_code": "445302"}))
        .await;
    assert_eq!(created.body["phone"], "137****1111");
    let stored: String = sqlx::query("SELECT phone FROM users WHERE username = 'qian.qi'")
        .fetch_one(t.app.iam.db().pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert!(stored.starts_with("v2."), "{stored}");
    assert_eq!(sys.get("/api/v1/users?phone=13800000001").await.body["items"][0]["phone"], "138****0001");
    assert!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE key_version = 2").await > 0);
    let report = sec.post("/api/v1/security/integrity/verify", json!({})).await;
    assert_eq!(report.body["ok"], true, "{:?}", report.body);
}

/// Every text value of every table, as a scan target.
async fn dump_database(t: &crate::harness::TestApp) -> String {
    let db = t.app.iam.db();
    let sql = match db.backend() {
        tg_db::Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
        tg_db::Backend::Postgres => "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
    };
    let tables: Vec<String> = sqlx::query(sql).fetch_all(db.pool()).await.unwrap().iter().map(|r| r.try_get(0).unwrap()).collect();
    let mut out = String::new();
    for tname in tables {
        for row in sqlx::query(&format!("SELECT * FROM {tname}")).fetch_all(db.pool()).await.unwrap() {
            for i in 0..row.len() {
                if let Ok(Some(s)) = row.try_get::<Option<String>, _>(i) {
                    out.push_str(&s);
                    out.push('\n');
                }
            }
        }
    }
    out
}

async fn tampered_grants_are_refused_and_reported(e: Engine) {
    let t = spawn_app(e).await;
    // Behind the application's back: give the city leader's role a write permission.
    let leader = t.demo("city.leader").await;
    assert_eq!(leader.get("/api/v1/users").await.status, StatusCode::OK);
    sqlx::query("INSERT INTO role_permissions (role_id, permission) SELECT id, 'user:create' FROM roles WHERE code = 'city_leader'")
        .execute(t.app.iam.db().pool())
        .await
        .unwrap();
    let r = leader.get("/api/v1/users").await;
    assert_eq!((r.status, r.code()), (StatusCode::INTERNAL_SERVER_ERROR, "integrity.failed"));
    let r = t.anon().post("/api/v1/auth/login", json!({"username": "city.leader", "password": DEMO_PASSWORD})).await;
    assert_eq!(r.code(), "integrity.failed");
    // A user's data scope moved in SQL is refused as well.
    t.exec("UPDATE users SET region_code = '445300' WHERE username = 'yc.town'").await;
    let r = t.anon().post("/api/v1/auth/login", json!({"username": "yc.town", "password": DEMO_PASSWORD})).await;
    assert_eq!(r.code(), "integrity.failed");
    // The security administrator's check names both rows; an alert reached the message list.
    let sec = t.demo("secadmin").await;
    let report = sec.post("/api/v1/security/integrity/verify", json!({})).await;
    assert_eq!(report.body["ok"], false);
    let problems = report.body["problems"].as_array().unwrap();
    assert!(problems.iter().any(|p| p["kind"] == "role" && p["id"].as_str().unwrap().contains("city_leader")), "{problems:?}");
    assert!(problems.iter().any(|p| p["kind"] == "user_acl" && p["id"].as_str().unwrap().contains("yc.town")), "{problems:?}");
    let msgs = sec.get("/api/v1/messages?unread=true").await;
    assert!(msgs.body["total"].as_i64().unwrap() >= 1);
    let first = msgs.body["items"][0]["id"].as_i64().unwrap();
    assert_eq!(sec.post(&format!("/api/v1/messages/{first}/read"), json!({})).await.status, StatusCode::NO_CONTENT);
    // Someone else's message is not found (no IDOR).
    let other = t.demo("yc.leader").await;
    assert_eq!(other.post(&format!("/api/v1/messages/{first}/read"), json!({})).await.status, StatusCode::NOT_FOUND);
    // The tampered settings row is caught too.
    let policy = sec.get("/api/v1/security/policy").await.body;
    let mut changed = policy.clone();
    changed["session_idle_minutes"] = json!(20);
    assert_eq!(sec.put("/api/v1/security/policy", changed).await.status, StatusCode::OK);
    t.exec("UPDATE security_settings SET value = REPLACE(value, '\"session_idle_minutes\":20', '\"session_idle_minutes\":240') WHERE name = 'policy'").await;
    let report = sec.post("/api/v1/security/integrity/verify", json!({})).await;
    assert!(report.body["problems"].as_array().unwrap().iter().any(|p| p["kind"] == "setting"), "{:?}", report.body);
}

async fn checkpoints_detect_tail_truncation(e: Engine) {
    let t = spawn_app(e).await;
    let c = t.app.iam.checkpoint_audit().await.unwrap();
    assert!(c.last_seq > 0);
    // The checkpoint verifies with the public key alone.
    let payload = format!("tongguan-audit-checkpoint-v1|{}|{}|", c.last_seq, c.last_mac);
    let _ = payload;
    let sig = t.app.iam.sign_as_user(t.user_id("city.leader").await, b"{\"decision\":\"approve\"}").await.unwrap();
    assert!(tg_iam::signing::verify_sm2(&sig.public_key, &sig.signer_id, b"{\"decision\":\"approve\"}", &sig.signature));
    assert!(!tg_iam::signing::verify_sm2(&sig.public_key, &sig.signer_id, b"{\"decision\":\"reject\"}", &sig.signature));
    // An attacker with database rights cuts the tail and rewinds the head: the chain alone still verifies …
    t.drop_audit_guard().await;
    let cut = c.last_seq - 3;
    sqlx::query("DELETE FROM audit_log WHERE seq > $1").bind(cut).execute(t.app.iam.db().pool()).await.unwrap();
    sqlx::query("UPDATE audit_head SET seq = $1, mac = (SELECT mac FROM audit_log WHERE seq = $1) WHERE id = 1")
        .bind(cut)
        .execute(t.app.iam.db().pool())
        .await
        .unwrap();
    assert!(tg_iam::audit::verify(t.app.iam.db(), t.app.iam.keys()).await.unwrap().ok);
    // … but the signed checkpoint does not.
    let r = t.app.iam.integrity_verify().await.unwrap();
    assert!(!r.ok);
    assert!(r.problems.iter().any(|p| p.detail.contains("截断")), "{:?}", r.problems);
}

async fn backup_restore_round_trip(e: Engine) {
    let t = spawn_app(e).await;
    let sys = t.demo("sysadmin").await;
    sys.post(
        "/api/v1/users",
        json!({"username": "sun.ba", "display_name": "孙八", "password": "Init@2026xy", "phone": "13600002222", "region_code": "445302"}),
    )
    .await;
    let file = t.data_dir.join("backup.tgbak");
    let manifest = tongguan::backup::backup(&t.app, &file).await.unwrap();
    let counts = |name: &str| manifest.tables.get(name).map(|e| e.rows).unwrap_or(0);
    assert!(counts("users") > 10 && counts("audit_log") > 10 && counts("crypto_keys") > 5);
    let bytes = std::fs::read(&file).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("13600002222") && !text.contains("sun.ba"), "the payload is encrypted");
    // A flipped byte is refused before anything is written.
    let mut bad = bytes.clone();
    let last = bad.len() - 10;
    bad[last] ^= 1;
    let bad_file = t.data_dir.join("bad.tgbak");
    std::fs::write(&bad_file, &bad).unwrap();
    // Restore into an empty installation that holds the same root key.
    let target = std::env::temp_dir().join(format!("tg_restore_{}_{}", std::process::id(), tg_crypto::random_token()[..8].to_owned()));
    std::fs::create_dir_all(target.join("keys")).unwrap();
    std::fs::copy(t.data_dir.join("keys").join("root.key"), target.join("keys").join("root.key")).unwrap();
    let url = match e {
        Engine::Sqlite => tg_db::sqlite_url(&target.join("tongguan.db")),
        Engine::Postgres => {
            let name = format!("tg_test_restore_{}", tg_crypto::random_token()[..10].to_owned());
            let admin = tg_db::Db::connect(&crate::harness::pg_admin_url(), &Default::default()).await.unwrap();
            sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(admin.pool()).await.unwrap();
            admin.close().await;
            format!("{}/{name}", crate::harness::pg_admin_url().rsplit_once('/').unwrap().0)
        }
    };
    let env = vec![
        ("TONGGUAN_SECURITY__PBKDF2_ITERATIONS".to_string(), "1000".to_string()),
        ("TONGGUAN_SECURITY__ALLOW_PLAIN_LOGIN".to_string(), "true".to_string()),
    ];
    let overrides = tongguan::config::Overrides { data_dir: Some(target.clone()), database_url: Some(url.clone()), listen: None };
    let cfg = tongguan::config::Config::load(None, env, &overrides).unwrap();
    let err = tongguan::backup::restore(&cfg, &bad_file).await.unwrap_err();
    assert!(format!("{err:#}").contains("SM4-GCM"), "{err:#}");
    let n = tongguan::backup::restore(&cfg, &file).await.unwrap();
    assert_eq!(n, manifest.total_rows());
    // A second restore into the now non-empty database refuses.
    assert!(tongguan::backup::restore(&cfg, &file).await.is_err());
    let restored = tongguan::App::open(cfg, std::sync::Arc::new(t.clock.clone())).await.unwrap();
    for table in ["users", "roles", "role_permissions", "user_roles", "departments", "regions", "crypto_keys"] {
        let c: i64 =
            sqlx::query(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(restored.iam.db().pool()).await.unwrap().try_get(0).unwrap();
        assert_eq!(c as u64, counts(table), "{table}");
    }
    assert!(tg_iam::audit::verify(restored.iam.db(), restored.iam.keys()).await.unwrap().ok);
    assert!(restored.iam.integrity_verify().await.unwrap().ok);
    let req = tg_iam::auth::LoginRequest { username: "yc.leader".into(), password: Some(DEMO_PASSWORD.into()), ..Default::default() };
    let s = restored.iam.login(&req, &Default::default()).await.unwrap();
    assert_eq!(s.principal.username, "yc.leader");
    restored.iam.db().close().await;
    let _ = std::fs::remove_dir_all(&target);
}

async fn security_headers_and_no_store(e: Engine) {
    let t = spawn_app(e).await;
    for path in ["/api/v1/system/info", "/", "/api/v1/nope"] {
        let r = reqwest::get(format!("{}{path}", t.base)).await.unwrap();
        let h = r.headers();
        assert!(h.get("content-security-policy").unwrap().to_str().unwrap().contains("frame-ancestors 'none'"), "{path}");
        assert!(h.get("strict-transport-security").is_some(), "{path}");
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
        assert!(h.get("referrer-policy").is_some());
    }
    let u = t.demo("yc.leader").await;
    let me = u.get("/api/v1/auth/me").await;
    assert_eq!(me.headers.get("cache-control").unwrap(), "no-store");
    let ch = t.anon().get("/api/v1/auth/challenge").await;
    assert_eq!(ch.headers.get("cache-control").unwrap(), "no-store");
    // Logout ends every session of the account and tells the browser to clear its data.
    let other = t.demo("yc.leader").await;
    let out = u.post("/api/v1/auth/logout", json!({})).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.headers.get("clear-site-data").is_some());
    assert_eq!(other.get("/api/v1/auth/me").await.status, StatusCode::UNAUTHORIZED);
    let _: Value = Value::Null;
}

async fn audit_retention_purge_keeps_the_chain_verifiable(e: Engine) {
    // Configuration below the legal minimum stops start-up.
    let low = tongguan::config::Config::load(
        None,
        vec![("TONGGUAN_SECURITY__AUDIT_RETENTION_DAYS".into(), "90".into())],
        &tongguan::config::Overrides::default(),
    );
    assert!(format!("{:#}", low.unwrap_err()).contains("audit_retention_days"));
    let t = spawn_app(e).await;
    let ctx = tg_iam::AuditCtx::cli("test");
    let before = t.scalar_i64("SELECT COUNT(*) FROM audit_log").await;
    // Younger than 180 days: refused, nothing deleted; the database refuses a direct delete too.
    let err = t.app.iam.purge_audit(&ctx, 179).await.unwrap_err();
    assert!(err.to_string().contains("180"), "{err}");
    assert!(sqlx::query("DELETE FROM audit_log").execute(t.app.iam.db().pool()).await.is_err());
    t.app.iam.checkpoint_audit().await.unwrap();
    t.clock.advance_ms(200 * 86_400_000);
    t.app.iam.audit_alone(&ctx, tg_iam::AuditEvent::success("test.event", "recent")).await.unwrap(); // a row 200 days younger
    let n = t.app.iam.purge_audit(&ctx, 190).await.unwrap();
    assert!(n >= before, "{n} < {before}");
    assert!(tg_iam::audit::verify(t.app.iam.db(), t.app.iam.keys()).await.unwrap().ok);
    assert!(t.app.iam.integrity_verify().await.unwrap().ok, "purged checkpoints are not reported as truncation");
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'audit.purge'").await, 1);
    // The anchor is MAC-protected: moving it to hide a deletion is detected.
    t.exec("UPDATE audit_anchor SET first_seq = first_seq + 1").await;
    assert!(!tg_iam::audit::verify(t.app.iam.db(), t.app.iam.keys()).await.unwrap().ok);
}

async fn audit_records_ship_to_syslog(e: Engine) {
    let collector = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = collector.local_addr().unwrap();
    let t = spawn_app(e).await;
    t.demo("yc.leader").await;
    let sent = tongguan::syslog::forward_once(&t.app.iam, addr).await.unwrap();
    let total = t.scalar_i64("SELECT COUNT(*) FROM audit_log").await as usize;
    assert!(sent > 0 && sent <= total.min(500), "{sent}");
    let mut buf = vec![0u8; 9000];
    let mut lines = Vec::new();
    for _ in 0..sent {
        let (n, _) = tokio::time::timeout(std::time::Duration::from_secs(5), collector.recv_from(&mut buf)).await.unwrap().unwrap();
        lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(lines.iter().all(|l| l.starts_with("<10") && l.contains(" tongguan - AUDIT - {")), "{:?}", &lines[..2]);
    // The position is kept: the next pass sends only new records.
    let again = tongguan::syslog::forward_once(&t.app.iam, addr).await.unwrap();
    assert!(again < sent || total > 500);
}

async fn intrusion_rules_raise_alerts(e: Engine) {
    let t = spawn_app(e).await;
    let alerts = |kind: &'static str| {
        let t = &t;
        async move {
            // Alerts are written by a task after the triggering transaction; wait for it boundedly.
            for _ in 0..200 {
                let n: i64 = sqlx::query("SELECT COUNT(*) FROM audit_log WHERE action = 'security.alert' AND detail <> '' AND target IN (SELECT title FROM messages WHERE kind = $1)")
                    .bind(kind)
                    .fetch_one(t.app.iam.db().pool())
                    .await
                    .unwrap()
                    .try_get(0)
                    .unwrap();
                if n > 0 {
                    return n;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            0
        }
    };
    // Credential stuffing: one address failing against ten accounts.
    for i in 0..10 {
        t.anon().post("/api/v1/auth/login", json!({"username": format!("guess{i}"), "password": "Wrong@2026x"})).await;
    }
    assert!(alerts("brute_force").await > 0, "credential stuffing alert");
    // An administrator working at 02:00 Beijing time.
    let sys = t.demo("sysadmin").await;
    let now = t.clock.now_ms();
    let to_2am = (2 * 3_600_000 - (now + 8 * 3_600_000).rem_euclid(86_400_000)).rem_euclid(86_400_000);
    t.clock.advance_ms(to_2am);
    let sys = {
        drop(sys);
        t.demo("sysadmin").await
    };
    let r = sys.post("/api/v1/departments", json!({"code": "NIGHT-1", "name": "夜间部门", "region_code": "445302"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert!(alerts("off_hours_admin").await > 0, "off-hours administrator alert");
    // Mass export of the audit trail by the audit administrator.
    let aud = t.demo("auditadmin").await;
    for _ in 0..5 {
        let r = aud.raw_unscanned(reqwest::Method::GET, "/api/v1/audit/export", None).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert!(alerts("mass_export").await > 0, "mass export alert");
    // The audit administrator sees the alerts in the message list.
    let msgs = aud.get("/api/v1/messages?page_size=50").await;
    let kinds: Vec<&str> = msgs.body["items"].as_array().unwrap().iter().filter_map(|m| m["kind"].as_str()).collect();
    assert!(kinds.contains(&"brute_force") && kinds.contains(&"mass_export"), "{kinds:?}");
}

/// 个人信息 a): every column that looks like personal information is in the catalogue with a purpose,
/// and catalogued encrypted columns hold envelopes only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_columns_are_catalogued() {
    let t = spawn_app(Engine::Sqlite).await;
    let pool = t.app.iam.db().pool();
    let tables: Vec<String> = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get(0).unwrap())
        .collect();
    let looks_personal = ["phone", "mobile", "id_card", "idcard", "address", "bank", "email", "display_name", "person_name"];
    let mut found = Vec::new();
    for table in &tables {
        for col in sqlx::query(&format!("SELECT name FROM pragma_table_info('{table}')")).fetch_all(pool).await.unwrap() {
            let name: String = col.try_get(0).unwrap();
            if looks_personal.iter().any(|p| name.contains(p)) {
                found.push((table.clone(), name));
            }
        }
    }
    assert!(!found.is_empty());
    for (table, column) in &found {
        let entry = tg_iam::security::PII_FIELDS.iter().find(|f| f.table == table && f.column == column);
        let entry = entry.unwrap_or_else(|| panic!("{table}.{column} holds personal data but is not in PII_FIELDS"));
        assert!(!entry.purpose.is_empty() && !entry.protection.is_empty());
    }
    let clear: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE phone IS NOT NULL AND phone NOT LIKE 'v%.%'")
        .fetch_one(pool)
        .await
        .unwrap()
        .try_get(0)
        .unwrap();
    assert_eq!(clear, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_refused_when_https_is_required() {
    let t = spawn_app_with(Engine::Sqlite, &[("TONGGUAN_SERVER__REQUIRE_HTTPS", "true")]).await;
    let r = t.anon().get("/api/v1/system/info").await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "transport.https_required"));
    let ok =
        reqwest::Client::new().get(format!("{}/api/v1/system/info", t.base)).header("x-forwarded-proto", "https").send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(reqwest::get(format!("{}/readyz", t.base)).await.unwrap().status(), StatusCode::OK);
}

/// 备份恢复 b/c (hot redundancy): two stateless nodes on one PostgreSQL database. Sessions, login
/// nonces and second-factor state live in the database, so a client carries on when one node stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_sessions_and_survive_one_stopping() {
    if !crate::harness::pg_enabled() {
        eprintln!("PostgreSQL tests not enabled (set TONGGUAN_TEST_PG=1)");
        return;
    }
    let t = spawn_app(Engine::Postgres).await;
    // Node 2: same database and the same root key (its own process would mount the same key file).
    let env = vec![
        ("TONGGUAN_SECURITY__PBKDF2_ITERATIONS".to_string(), "1000".to_string()),
        ("TONGGUAN_SECURITY__ALLOW_PLAIN_LOGIN".to_string(), "true".to_string()),
    ];
    let overrides = tongguan::config::Overrides { data_dir: Some(t.data_dir.clone()), database_url: Some(t.db_url.clone()), listen: None };
    let cfg = tongguan::config::Config::load(None, env, &overrides).unwrap();
    let node2 = tongguan::App::open(cfg, std::sync::Arc::new(t.clock.clone())).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base2 = format!("http://{}", listener.local_addr().unwrap());
    let (stop2, rx2) = tokio::sync::oneshot::channel::<()>();
    let n2 = node2.clone();
    let server2 = tokio::spawn(async move {
        tongguan::serve(&n2, listener, async {
            let _ = rx2.await;
        })
        .await
        .unwrap();
    });
    // Challenge from node 1, login on node 2: the nonce is shared.
    let cipher = t.envelope(DEMO_PASSWORD).await;
    let r = Client::anon(&base2).post("/api/v1/auth/login", json!({"username": "yc.leader", "cipher": cipher})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap().to_owned();
    let on1 = Client { token: Some(token.clone()), ..t.anon() };
    let on2 = Client { token: Some(token), ..Client::anon(&base2) };
    assert_eq!(on1.get("/api/v1/auth/me").await.status, StatusCode::OK);
    assert_eq!(on2.get("/api/v1/users?page_size=5").await.status, StatusCode::OK);
    // A replay against the other node is still a replay.
    let replay = t.anon().post("/api/v1/auth/login", json!({"username": "yc.leader", "cipher": cipher})).await;
    assert_eq!(replay.code(), "auth.nonce_invalid");
    // Node 2 stops; the same session keeps working on node 1, and writes made through node 2 are there.
    let sys2 = {
        let c = t.login("sysadmin", DEMO_PASSWORD).await;
        Client { base: base2.clone(), ..c }
    };
    let d = sys2.post("/api/v1/departments", json!({"code": "HA-1", "name": "双节点测试部门", "region_code": "445302"})).await;
    assert_eq!(d.status, StatusCode::CREATED, "{:?}", d.body);
    let _ = stop2.send(());
    server2.await.unwrap();
    assert!(reqwest::get(format!("{base2}/readyz")).await.is_err(), "node 2 is down");
    assert_eq!(on1.get("/api/v1/auth/me").await.status, StatusCode::OK);
    let list = on1.get("/api/v1/departments?q=双节点").await;
    assert_eq!(list.body["total"], 1, "{:?}", list.body);
    assert!(tg_iam::audit::verify(t.app.iam.db(), t.app.iam.keys()).await.unwrap().ok, "one chain across both nodes");
    node2.iam.db().close().await;
}

async fn security_labels_hide_objects_above_clearance(e: Engine) {
    let t = spawn_app(e).await;
    let sec = t.demo("secadmin").await;
    let leader = t.demo("city.leader").await;
    let clerk = t.user_id("city.clerk").await;
    assert_eq!(leader.get(&format!("/api/v1/users/{clerk}")).await.status, StatusCode::OK);
    // The security administrator labels the clerk's account 敏感.
    let r = sec.put(&format!("/api/v1/users/{clerk}/security-labels"), json!({"clearance": "internal", "label": "sensitive"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["label"], "sensitive");
    // A leader with 内部 clearance no longer reaches it: not in lists, not by id, not for writes.
    assert_eq!(leader.get(&format!("/api/v1/users/{clerk}")).await.status, StatusCode::NOT_FOUND);
    let list = leader.get("/api/v1/users?page_size=100").await;
    assert!(list.body["items"].as_array().unwrap().iter().all(|u| u["username"] != "city.clerk"));
    let sys = t.demo("sysadmin").await;
    assert_eq!(sys.post(&format!("/api/v1/users/{clerk}/lock"), json!({})).await.status, StatusCode::NOT_FOUND);
    // Raising the leader's clearance makes it visible again; nobody labels above their own clearance.
    let leader_id = t.user_id("city.leader").await;
    let r = sec.put(&format!("/api/v1/users/{leader_id}/security-labels"), json!({"clearance": "sensitive", "label": "internal"})).await;
    assert_eq!(r.status, StatusCode::OK);
    let leader = t.demo("city.leader").await;
    assert_eq!(leader.get(&format!("/api/v1/users/{clerk}")).await.status, StatusCode::OK);
    assert_eq!(
        sec.put(
            &format!("/api/v1/users/{}/security-labels", t.user_id("secadmin").await),
            json!({"clearance": "public", "label": "public"})
        )
        .await
        .code(),
        "user.self"
    );
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'security.label'").await, 3, "2 changes + the seed's clearance");
    // A label lowered behind the application's back is caught by the row MAC.
    t.exec("UPDATE users SET label = 1 WHERE username = 'city.clerk'").await;
    let r = t.anon().post("/api/v1/auth/login", json!({"username": "city.clerk", "password": DEMO_PASSWORD})).await;
    assert_eq!(r.code(), "integrity.failed");
    let report = sec.post("/api/v1/security/integrity/verify", json!({})).await;
    assert!(report.body["problems"].as_array().unwrap().iter().any(|p| p["id"].as_str().unwrap().contains("city.clerk")));
}
