use crate::harness::{spawn_app, Engine, DEMO_PASSWORD};
use reqwest::StatusCode;
use serde_json::json;

crate::both_engines!(
    login_me_logout,
    lockout_counts_failures_and_hides_state,
    session_timeouts,
    first_login_forces_password_change,
    cookie_session_requires_csrf_header
);

async fn login_me_logout(e: Engine) {
    let t = spawn_app(e).await;
    let c = t.demo("yc.leader").await;
    let me = c.get("/api/v1/auth/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["region"]["code"], "445302");
    assert_eq!(me.body["scope"]["region_code"], "445302");
    assert!(me.body["permissions"].as_array().unwrap().iter().any(|p| p == "user:read"));
    assert_eq!(me.headers.get("cache-control").unwrap(), "no-store");
    assert!(me.headers.get("x-request-id").is_some());
    assert_eq!(c.post("/api/v1/auth/logout", json!({})).await.status, StatusCode::NO_CONTENT);
    let after = c.get("/api/v1/auth/me").await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.code(), "auth.unauthenticated");
    // Unknown user and wrong password look the same.
    let a = t.anon().post("/api/v1/auth/login", json!({"username": "nobody", "password": "x"})).await;
    let b = t.anon().post("/api/v1/auth/login", json!({"username": "yc.leader", "password": "wrong"})).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!((a.code(), &a.body["message"]), (b.code(), &b.body["message"]));
    // Usernames are case-insensitive.
    t.login("YC.Leader", DEMO_PASSWORD).await;
}

async fn lockout_counts_failures_and_hides_state(e: Engine) {
    let t = spawn_app(e).await;
    let bad = json!({"username": "yc.town", "password": "Wrong@12345"});
    for _ in 0..5 {
        let r = t.anon().post("/api/v1/auth/login", bad.clone()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Locked: the correct password gets the same generic answer.
    let good = json!({"username": "yc.town", "password": DEMO_PASSWORD});
    let r = t.anon().post("/api/v1/auth/login", good.clone()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "auth.invalid_credentials");
    t.clock.advance_minutes(29);
    assert_eq!(t.anon().post("/api/v1/auth/login", good.clone()).await.status, StatusCode::UNAUTHORIZED);
    t.clock.advance_minutes(2);
    assert_eq!(t.anon().post("/api/v1/auth/login", good.clone()).await.status, StatusCode::OK);
    // Failures and the lock are in the audit trail.
    let n = t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login' AND result = 'failure'").await;
    assert_eq!(n, 7);
    // Failures spread beyond the window do not lock.
    for _ in 0..4 {
        t.anon().post("/api/v1/auth/login", bad.clone()).await;
    }
    t.clock.advance_minutes(16);
    t.anon().post("/api/v1/auth/login", bad.clone()).await;
    assert_eq!(t.anon().post("/api/v1/auth/login", good).await.status, StatusCode::OK);
}

async fn session_timeouts(e: Engine) {
    let t = spawn_app(e).await;
    let c = t.demo("city.leader").await;
    t.clock.advance_minutes(29);
    assert_eq!(c.get("/api/v1/auth/me").await.status, StatusCode::OK);
    t.clock.advance_minutes(31);
    let r = c.get("/api/v1/auth/me").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "auth.session_expired");
    assert_eq!(c.get("/api/v1/auth/me").await.code(), "auth.unauthenticated", "the expired session row is gone");
    // Absolute lifetime: active every 20 minutes, still ends after 12 hours.
    let c = t.demo("city.leader").await;
    for _ in 0..35 {
        t.clock.advance_minutes(20);
        assert_eq!(c.get("/api/v1/auth/me").await.status, StatusCode::OK);
    }
    t.clock.advance_minutes(20);
    assert_eq!(c.get("/api/v1/auth/me").await.status, StatusCode::UNAUTHORIZED);
}

async fn first_login_forces_password_change(e: Engine) {
    let t = spawn_app(e).await;
    let admin = t.demo("sysadmin").await;
    let r = admin
        .post(
            "/api/v1/users",
            json!({"username": "Wang.Wu", "display_name": "王五", "password": "Init@2026xy", "phone": "13912345678", "region_code": "445302001"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["username"], "wang.wu");
    assert_eq!(r.body["phone"], "139****5678");
    assert_eq!(r.body["must_change_password"], true);
    let u = t.login("wang.wu", "Init@2026xy").await;
    assert_eq!(u.get("/api/v1/auth/me").await.body["must_change_password"], true);
    let blocked = u.get("/api/v1/regions/445302001").await;
    assert_eq!(blocked.status, StatusCode::FORBIDDEN);
    assert_eq!(blocked.code(), "auth.password_change_required");
    // Weak, same and wrong-old passwords are refused with field details.
    let weak = u.post("/api/v1/auth/password", json!({"old_password": "Init@2026xy", "new_password": "abc"})).await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(weak.body["details"][0]["field"], "new_password");
    let wrong = u.post("/api/v1/auth/password", json!({"old_password": "nope", "new_password": "Better@2026"})).await;
    assert_eq!(wrong.body["details"][0]["field"], "old_password");
    let with_name = u.post("/api/v1/auth/password", json!({"old_password": "Init@2026xy", "new_password": "Wang.wu@2026"})).await;
    assert_eq!(with_name.status, StatusCode::UNPROCESSABLE_ENTITY);
    let other_session = t.login("wang.wu", "Init@2026xy").await;
    let ok = u.post("/api/v1/auth/password", json!({"old_password": "Init@2026xy", "new_password": "Better@2026"})).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT);
    // Now only the missing permission stands in the way (the account has no roles yet).
    assert_eq!(u.get("/api/v1/regions/445302001").await.code(), "auth.forbidden");
    assert_eq!(other_session.get("/api/v1/auth/me").await.status, StatusCode::UNAUTHORIZED, "other sessions end");
    t.login("wang.wu", "Better@2026").await;
}

async fn cookie_session_requires_csrf_header(e: Engine) {
    let t = spawn_app(e).await;
    let http = reqwest::Client::new();
    // The session after the second factor, as the browser gets it: a cookie from the verify response.
    let admin = t.login("sysadmin", DEMO_PASSWORD).await;
    let r = http
        .post(format!("{}/api/v1/auth/login", t.base))
        .json(&json!({"username": "sysadmin", "password": DEMO_PASSWORD, "otp_code": t.otp_code("sysadmin").unwrap()}))
        .send()
        .await
        .unwrap();
    drop(admin);
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let body = json!({"parent_code": "445302001009", "name": "新网格"});
    let no_header = http.post(format!("{}/api/v1/regions", t.base)).header("cookie", &pair).json(&body).send().await.unwrap();
    assert_eq!(no_header.status(), StatusCode::FORBIDDEN);
    let with_header = http
        .post(format!("{}/api/v1/regions", t.base))
        .header("cookie", &pair)
        .header("x-requested-with", "tongguan")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), StatusCode::CREATED);
    // GET works with the cookie alone.
    let me = http.get(format!("{}/api/v1/auth/me", t.base)).header("cookie", &pair).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}
