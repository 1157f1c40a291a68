use crate::harness::{spawn_app, Engine};
use reqwest::StatusCode;
use serde_json::json;

crate::both_engines!(bad_input_is_refused_and_writes_nothing, hostile_strings_are_plain_data);

async fn bad_input_is_refused_and_writes_nothing(e: Engine) {
    let t = spawn_app(e).await;
    let sys = t.demo("sysadmin").await;
    let users_before = t.scalar_i64("SELECT COUNT(*) FROM users").await;
    let url = format!("{}/api/v1/users", t.base);
    let token = sys.token.clone().unwrap();
    let http = reqwest::Client::new();
    let send = |body: Vec<u8>, ct: &'static str| http.post(&url).bearer_auth(&token).header("content-type", ct).body(body).send();
    let malformed = send(b"{\"username\": ".to_vec(), "application/json").await.unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = malformed.json().await.unwrap();
    assert_eq!(body["code"], "request.invalid_json");
    assert!(body["message"].as_str().unwrap().chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "Chinese message");
    let unknown = json!({"username": "a.b", "display_name": "x", "password": "Init@2026xy", "region_code": "445302", "is_admin": true});
    let r = send(serde_json::to_vec(&unknown).unwrap(), "application/json").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let wrong_type = json!({"username": 5, "display_name": "x", "password": "Init@2026xy", "region_code": "445302"});
    assert_eq!(send(serde_json::to_vec(&wrong_type).unwrap(), "application/json").await.unwrap().status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        send(b"username=x".to_vec(), "application/x-www-form-urlencoded").await.unwrap().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let huge = format!("{{\"username\": \"{}\"}}", "a".repeat(2 << 20));
    assert_eq!(send(huge.into_bytes(), "application/json").await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
    let unknown_region = sys
        .post("/api/v1/users", json!({"username": "a.b", "display_name": "x", "password": "Init@2026xy", "region_code": "445399"}))
        .await;
    assert_eq!(unknown_region.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown_region.body["details"][0]["field"], "region_code");
    let many = sys
        .post("/api/v1/users", json!({"username": "1x", "display_name": "", "password": "short", "phone": "12345", "region_code": "abc"}))
        .await;
    assert_eq!(many.code(), "validation.failed");
    let fields: Vec<&str> = many.body["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["username", "display_name", "phone", "password", "region_code"]);
    assert_eq!(sys.get("/api/v1/users/abc").await.code(), "request.invalid_path");
    assert_eq!(sys.get("/api/v1/users?page=x").await.code(), "request.invalid_query");
    assert_eq!(sys.get("/api/v1/users/999999").await.code(), "user.not_found");
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM users").await, users_before, "nothing was written");
}

async fn hostile_strings_are_plain_data(e: Engine) {
    let t = spawn_app(e).await;
    let sys = t.demo("sysadmin").await;
    let inj = "x' OR '1'='1";
    let r = sys.get(&format!("/api/v1/users?q={}", urlencode(inj))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["total"], 0);
    let r = sys.get(&format!("/api/v1/regions?q={}", urlencode("%"))).await;
    assert_eq!(r.body["total"], 0, "LIKE wildcards are escaped");
    let r = sys.get(&format!("/api/v1/audit?actor={}", urlencode("'; DROP TABLE users; --"))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let script = "<script>alert(1)</script>";
    let c = sys
        .post("/api/v1/users", json!({"username": "xss.user", "display_name": script, "password": "Init@2026xy", "region_code": "445302"}))
        .await;
    assert_eq!(c.status, StatusCode::CREATED);
    assert_eq!(c.body["display_name"], script, "stored as text; the UI escapes on render");
    assert!(t.scalar_i64("SELECT COUNT(*) FROM users").await > 1, "users table intact");
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
