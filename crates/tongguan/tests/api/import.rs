use crate::harness::{spawn_app, Engine};
use reqwest::StatusCode;
use serde_json::Value;

crate::both_engines!(bulk_import_validates_everything_then_creates_all);

async fn post(t: &crate::harness::TestApp, token: &str, dry_run: bool, body: Vec<u8>) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/users/import?dry_run={dry_run}", t.base))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn bulk_import_validates_everything_then_creates_all(e: Engine) {
    let t = spawn_app(e).await;
    let sys = t.demo("sysadmin").await;
    let token = sys.token.clone().unwrap();
    let before = t.scalar_i64("SELECT COUNT(*) FROM users").await;
    let bad = "用户名,姓名,手机号,区划代码,部门编码\n\
               grid.a,网格员甲,13900000001,445302001009001,445302001-ZZZX\n\
               grid.a,重复,,445302001009002,\n\
               yc.leader,已存在,,445302,\n\
               grid.b,,12345,445399,NO-SUCH\n\
               grid.c,跨县部门,,445302,445303-TCJ\n";
    let (status, report) = post(&t, &token, false, bad.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let errs: Vec<(u64, &str)> =
        report["errors"].as_array().unwrap().iter().map(|e| (e["row"].as_u64().unwrap(), e["field"].as_str().unwrap())).collect();
    assert_eq!(
        errs,
        [
            (3, "username"),
            (4, "username"),
            (5, "display_name"),
            (5, "phone"),
            (5, "region_code"),
            (5, "department_code"),
            (6, "department_code")
        ]
    );
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM users").await, before, "nothing written");

    let good = "\u{feff}用户名,姓名,手机号,区划代码,部门编码\ngrid.a,网格员甲,13900000001,445302001009001,445302001-ZZZX\ngrid.b,网格员乙,,445302001009002,\n";
    let (status, dry) = post(&t, &token, true, good.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((dry["total"].as_u64(), dry["created"].as_array().unwrap().len()), (Some(2), 0));
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM users").await, before, "a dry run writes nothing");
    let (status, done) = post(&t, &token, false, good.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let created = done["created"].as_array().unwrap();
    assert_eq!(created.len(), 2);
    let pw = created[0]["initial_password"].as_str().unwrap();
    let u = t.login("grid.a", pw).await;
    assert_eq!(u.get("/api/v1/auth/me").await.body["must_change_password"], true);
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'user.import'").await, 1);

    // A county administrator cannot import into another county.
    let (status, _) = post(&t, &t.demo("yc.leader").await.token.unwrap(), true, good.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no user:create");

    // The Excel template parses; its example row is valid, its note row is reported.
    let tpl = reqwest::Client::new().get(format!("{}/api/v1/users/import-template", t.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(tpl.status(), StatusCode::OK);
    let bytes = tpl.bytes().await.unwrap().to_vec();
    let (status, report) = post(&t, &token, true, bytes).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{report}");
    assert!(report["errors"].as_array().unwrap().iter().all(|e| e["row"] == 4), "{report}");
    // Garbage is a clear 400.
    let (status, body) = post(&t, &token, true, vec![0xff, 0xfe, 0x01]).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("import.bad_file")));
}
