use crate::harness::{spawn_app, Engine};
use reqwest::StatusCode;
use serde_json::json;

crate::both_engines!(
    county_scope_limits_lists_and_reads,
    separated_administrators,
    grants_never_widen_scope,
    user_lifecycle,
    regions_api,
    departments_crud
);

async fn county_scope_limits_lists_and_reads(e: Engine) {
    let t = spawn_app(e).await;
    let yc = t.demo("yc.leader").await;
    let list = yc.get("/api/v1/users?page_size=500").await;
    assert_eq!(list.status, StatusCode::OK);
    let items = list.body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|u| u["region_code"].as_str().unwrap().starts_with("445302")), "{items:?}");
    assert_eq!(list.body["total"].as_i64().unwrap() as usize, items.len());
    // Another county's user is invisible: 404, never 200.
    let ya_clerk = t.user_id("ya.clerk").await;
    assert_eq!(yc.get(&format!("/api/v1/users/{ya_clerk}")).await.status, StatusCode::NOT_FOUND);
    // Asking for another county's region filter is refused.
    assert_eq!(yc.get("/api/v1/users?region_code=445303").await.status, StatusCode::FORBIDDEN);
    assert_eq!(yc.get("/api/v1/regions/445303").await.status, StatusCode::NOT_FOUND);
    let search = yc.get("/api/v1/regions?q=%E9%95%87&page_size=500").await; // 镇
    assert!(search.body["items"].as_array().unwrap().iter().all(|r| r["code"].as_str().unwrap().starts_with("445302")));
    // The city sees every county.
    let city = t.demo("city.leader").await;
    assert_eq!(city.get(&format!("/api/v1/users/{ya_clerk}")).await.status, StatusCode::OK);
    // A department-only clerk sees only their own department's users.
    let clerk = t.demo("city.clerk").await;
    let dept = clerk.get("/api/v1/departments?page_size=500").await;
    assert_eq!(dept.body["total"], 1);
    assert_eq!(dept.body["items"][0]["code"], "YF-STHJ");
    // Reading personal data is audited.
    let reads =
        t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action IN ('user.list', 'user.read') AND actor_username = 'city.leader'").await;
    assert_eq!(reads, 1);
}

async fn separated_administrators(e: Engine) {
    let t = spawn_app(e).await;
    let sys = t.demo("sysadmin").await;
    let sec = t.demo("secadmin").await;
    let aud = t.demo("auditadmin").await;
    // 系统管理员: no audit, no grants.
    assert_eq!(sys.get("/api/v1/audit").await.status, StatusCode::FORBIDDEN);
    let victim = t.user_id("yc.town").await;
    assert_eq!(sys.put(&format!("/api/v1/users/{victim}/roles"), json!({"roles": ["sysadmin"]})).await.status, StatusCode::FORBIDDEN);
    // 安全管理员: no user administration, no audit.
    assert_eq!(
        sec.post("/api/v1/users", json!({"username": "x1", "display_name": "x", "password": "Init@2026xy", "region_code": "445300"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(sec.get("/api/v1/audit").await.status, StatusCode::FORBIDDEN);
    // 审计管理员: audit only.
    assert_eq!(aud.get("/api/v1/audit").await.status, StatusCode::OK);
    assert_eq!(aud.get("/api/v1/users").await.status, StatusCode::FORBIDDEN);
    // No account may hold two of the three.
    let r = sec.put(&format!("/api/v1/users/{victim}/roles"), json!({"roles": ["sysadmin", "auditadmin"]})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.code(), "auth.role_conflict");
    // Nor through a custom role that mixes duties.
    let mixed = sec
        .post(
            "/api/v1/roles",
            json!({"code": "mixed", "name": "混合", "data_scope": "subtree", "permissions": ["user:create", "audit:read"]}),
        )
        .await;
    assert_eq!(mixed.code(), "auth.role_conflict");
    let audit_helper = sec
        .post("/api/v1/roles", json!({"code": "audit_helper", "name": "审计助理", "data_scope": "subtree", "permissions": ["audit:read"]}))
        .await;
    assert_eq!(audit_helper.status, StatusCode::CREATED);
    let sysadmin_id = t.user_id("sysadmin").await;
    let r = sec.put(&format!("/api/v1/users/{sysadmin_id}/roles"), json!({"roles": ["sysadmin", "audit_helper"]})).await;
    assert_eq!(r.code(), "auth.role_conflict");
    // Nor by editing a role a holder already has.
    let helper_id = audit_helper.body["id"].as_i64().unwrap();
    assert_eq!(
        sec.put(&format!("/api/v1/users/{victim}/roles"), json!({"roles": ["town_staff", "audit_helper"]})).await.status,
        StatusCode::OK
    );
    let r = sec
        .put(
            &format!("/api/v1/roles/{helper_id}"),
            json!({"code": "audit_helper", "name": "审计助理", "data_scope": "subtree", "permissions": ["audit:read", "user:create"]}),
        )
        .await;
    assert_eq!(r.code(), "auth.role_conflict");
    // Built-in roles are fixed; the secadmin cannot change their own roles.
    let builtin = sec.get("/api/v1/roles?page_size=100").await.body["items"][0]["id"].as_i64().unwrap();
    assert_eq!(sec.delete(&format!("/api/v1/roles/{builtin}")).await.code(), "role.builtin");
    let me = t.user_id("secadmin").await;
    assert_eq!(sec.put(&format!("/api/v1/users/{me}/roles"), json!({"roles": ["secadmin", "city_leader"]})).await.code(), "user.self");
    // Every denial above is in the audit trail.
    let denied = t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE result = 'denied'").await;
    assert!(denied >= 8, "denials audited: {denied}");
}

async fn grants_never_widen_scope(e: Engine) {
    let t = spawn_app(e).await;
    // A county-level security administrator.
    let ctx = tg_iam::AuditCtx::cli("test");
    let spec = tg_iam::users::UserSpec {
        username: "yc.secadmin".into(),
        display_name: "云城安全管理员".into(),
        password: "County@2026".into(),
        phone: None,
        region: tg_kernel::RegionCode::parse("445302").unwrap(),
        department_id: None,
        roles: vec!["secadmin".into()],
        must_change_password: false,
        is_demo: false,
    };
    t.app.iam.insert_user(&ctx, &spec).await.unwrap();
    let sec = t.login("yc.secadmin", "County@2026").await;
    let ya = t.user_id("ya.clerk").await;
    assert_eq!(sec.put(&format!("/api/v1/users/{ya}/roles"), json!({"roles": ["county_leader"]})).await.status, StatusCode::NOT_FOUND);
    let city_leader = t.user_id("city.leader").await;
    assert_eq!(sec.put(&format!("/api/v1/users/{city_leader}/roles"), json!({"roles": []})).await.status, StatusCode::NOT_FOUND);
    let town = t.user_id("yc.town").await;
    let r = sec.put(&format!("/api/v1/users/{town}/roles"), json!({"roles": ["town_staff", "grid_worker"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["roles"].as_array().unwrap().len(), 2);
    // A county sysadmin cannot create users outside the county.
    let spec = tg_iam::users::UserSpec { username: "yc.sysadmin".into(), roles: vec!["sysadmin".into()], ..spec };
    t.app.iam.insert_user(&ctx, &spec).await.unwrap();
    let sys = t.login("yc.sysadmin", "County@2026").await;
    let out = sys
        .post("/api/v1/users", json!({"username": "outside", "display_name": "外县", "password": "Init@2026xy", "region_code": "445303"}))
        .await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    assert_eq!(out.code(), "auth.out_of_scope");
    let inside = sys
        .post("/api/v1/users", json!({"username": "inside", "display_name": "本区", "password": "Init@2026xy", "region_code": "445302001"}))
        .await;
    assert_eq!(inside.status, StatusCode::CREATED);
}

async fn user_lifecycle(e: Engine) {
    let t = spawn_app(e).await;
    let sys = t.demo("sysadmin").await;
    let dept = sys.get("/api/v1/departments?q=445302-TCJ").await.body["items"][0]["id"].as_i64().unwrap();
    let created = sys
        .post(
            "/api/v1/users",
            json!({"username": "li.si", "display_name": "李四", "password": "Init@2026xy", "region_code": "445302", "department_id": dept}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_i64().unwrap();
    assert_eq!(
        sys.post("/api/v1/users", json!({"username": "LI.SI", "display_name": "重复", "password": "Init@2026xy", "region_code": "445302"}))
            .await
            .code(),
        "user.exists"
    );
    let upd = sys
        .put(
            &format!("/api/v1/users/{id}"),
            json!({"display_name": "李四二", "phone": "13700001111", "region_code": "445302001", "department_id": dept}),
        )
        .await;
    assert_eq!(upd.status, StatusCode::OK, "{:?}", upd.body);
    assert_eq!(upd.body["region_code"], "445302001");
    // Department seated in another county does not fit a 云城 user.
    let ya_dept = sys.get("/api/v1/departments?q=445303-TCJ").await.body["items"][0]["id"].as_i64().unwrap();
    let misfit =
        sys.put(&format!("/api/v1/users/{id}"), json!({"display_name": "李四", "region_code": "445302", "department_id": ya_dept})).await;
    assert_eq!(misfit.status, StatusCode::UNPROCESSABLE_ENTITY);
    // First login, change, then lock: sessions end and login fails.
    let u = t.login("li.si", "Init@2026xy").await;
    // Signing in reads the grants with the session: a user without roles (one row, its role
    // columns NULL) holds nothing; roles granted later show on the next request, every permission.
    let me = u.get("/api/v1/auth/me").await.body;
    assert_eq!(me["roles"], json!([]), "{me:?}");
    assert_eq!(me["permissions"], json!([]), "{me:?}");
    let sec = t.demo("secadmin").await;
    let granted = sec.put(&format!("/api/v1/users/{id}/roles"), json!({"roles": ["town_staff", "grid_worker"]})).await;
    assert_eq!(granted.status, StatusCode::OK, "{:?}", granted.body);
    let me = u.get("/api/v1/auth/me").await.body;
    assert_eq!(me["roles"].as_array().map(Vec::len), Some(2), "{me:?}");
    let perms = me["permissions"].as_array().map(Vec::len).unwrap_or(0);
    assert!(perms > 2, "{me:?}");
    let changed = u.post("/api/v1/auth/password", json!({"old_password": "Init@2026xy", "new_password": "Lisi@2026xx"})).await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
    let lock = sys.post(&format!("/api/v1/users/{id}/lock"), json!({})).await;
    assert_eq!(lock.body["status"], "locked");
    assert_eq!(u.get("/api/v1/auth/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        t.anon().post("/api/v1/auth/login", json!({"username": "li.si", "password": "Lisi@2026xx"})).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sys.post(&format!("/api/v1/users/{id}/unlock"), json!({})).await.body["status"], "active");
    let u = t.login("li.si", "Lisi@2026xx").await;
    // Reset: must change again; old password fails.
    assert_eq!(
        sys.post(&format!("/api/v1/users/{id}/reset-password"), json!({"password": "Reset@2026z"})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(u.get("/api/v1/auth/me").await.status, StatusCode::UNAUTHORIZED);
    let u = t.login("li.si", "Reset@2026z").await;
    assert_eq!(u.get("/api/v1/auth/me").await.body["must_change_password"], true);
    // Delete = disable; the deleted user's session is refused.
    assert_eq!(sys.delete(&format!("/api/v1/users/{id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(u.get("/api/v1/auth/me").await.status, StatusCode::UNAUTHORIZED);
    let me = t.user_id("sysadmin").await;
    assert_eq!(sys.delete(&format!("/api/v1/users/{me}")).await.code(), "user.self");
    let statuses = sys.get("/api/v1/users?status=disabled").await;
    assert_eq!(statuses.body["total"], 1);
}

async fn regions_api(e: Engine) {
    let t = spawn_app(e).await;
    let grid = t.demo("yc.grid").await;
    let r = grid.get("/api/v1/regions/445302001009001").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["level"], "group");
    let anc = grid.get("/api/v1/regions/445302001009001/ancestors").await;
    let names: Vec<&str> = anc.body.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["云浮市", "云城区", "云城街道", "星岩社区居民委员会", "第一网格"]);
    assert_eq!(grid.get("/api/v1/regions/445302001009").await.status, StatusCode::NOT_FOUND, "above the grid worker's scope");
    let city = t.demo("city.leader").await;
    let counties = city.get("/api/v1/regions/445300/children").await;
    assert_eq!(counties.body["total"], 5);
    let towns = city.get("/api/v1/regions/445300/subtree?level=town&page_size=5").await;
    assert_eq!(towns.body["total"], 71);
    assert_eq!(towns.body["items"].as_array().unwrap().len(), 5);
    let villages = city.get("/api/v1/regions/445300/subtree?level=village&page=2&page_size=500").await;
    assert_eq!(villages.body["total"], 980);
    assert_eq!(villages.body["items"].as_array().unwrap().len(), 480);
    let by_code = city.get("/api/v1/regions?q=445381400").await;
    assert!(by_code.body["items"][0]["code"].as_str().unwrap().starts_with("445381400"));
    let by_name = city.get("/api/v1/regions?q=%E7%89%A7%E7%BE%8A").await; // 牧羊
    assert_eq!(by_name.body["items"][0]["short_name"], "牧羊村");
    // Groups: create, rename, delete; official nodes are read-only.
    let sys = t.demo("sysadmin").await;
    let g = sys.post("/api/v1/regions", json!({"parent_code": "445302001009", "name": "第四网格"})).await;
    assert_eq!(g.status, StatusCode::CREATED, "{:?}", g.body);
    assert_eq!(g.body["code"], "445302001009004");
    assert_eq!(sys.post("/api/v1/regions", json!({"parent_code": "445302001009", "name": "第四网格"})).await.code(), "region.exists");
    assert_eq!(
        sys.post("/api/v1/regions", json!({"parent_code": "445302001", "name": "镇下网格"})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let ren = sys.raw(reqwest::Method::PATCH, "/api/v1/regions/445302001009004", Some(&json!({"name": "星岩四格"}))).await;
    assert_eq!(ren.body["name"], "星岩四格");
    assert_eq!(sys.raw(reqwest::Method::PATCH, "/api/v1/regions/445302", Some(&json!({"name": "改名"}))).await.code(), "region.official");
    assert_eq!(sys.delete("/api/v1/regions/445302001009001").await.code(), "region.in_use", "the demo grid worker sits there");
    assert_eq!(sys.delete("/api/v1/regions/445302001009004").await.status, StatusCode::NO_CONTENT);
    assert_eq!(sys.get("/api/v1/regions/abc").await.code(), "region.invalid_code");
    assert_eq!(sys.get("/api/v1/regions/445399").await.status, StatusCode::NOT_FOUND);
}

async fn departments_crud(e: Engine) {
    let t = spawn_app(e).await;
    let sys = t.demo("sysadmin").await;
    let d = sys.post("/api/v1/departments", json!({"code": "YC-XFJ", "name": "云城区信访局", "region_code": "445302"})).await;
    assert_eq!(d.status, StatusCode::CREATED, "{:?}", d.body);
    let id = d.body["id"].as_i64().unwrap();
    assert_eq!(
        sys.post("/api/v1/departments", json!({"code": "YC-XFJ", "name": "别名", "region_code": "445302"})).await.code(),
        "dept.exists"
    );
    let bad = sys.post("/api/v1/departments", json!({"code": "!", "name": "", "region_code": "x"})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["details"].as_array().unwrap().len(), 3);
    let u = sys
        .put(&format!("/api/v1/departments/{id}"), json!({"code": "YC-XFJ", "name": "云城区信访局（改）", "region_code": "445302"}))
        .await;
    assert_eq!(u.body["name"], "云城区信访局（改）");
    let in_use = sys.get("/api/v1/departments?q=YF-STHJ").await.body["items"][0]["id"].as_i64().unwrap();
    assert_eq!(sys.delete(&format!("/api/v1/departments/{in_use}")).await.code(), "dept.in_use");
    assert_eq!(sys.delete(&format!("/api/v1/departments/{id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(sys.get(&format!("/api/v1/departments/{id}")).await.status, StatusCode::NOT_FOUND);
}
