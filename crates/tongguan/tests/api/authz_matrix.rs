//! The authorisation matrix: every operation of the OpenAPI document × every demo role (plus a user
//! with no roles and an anonymous caller) × a target inside and outside the caller's region.
//!
//! Expected outcomes are computed from the permission catalogue and the region tree, independently
//! of the handlers: no permission → 403; out of scope → 403 or 404; otherwise the request passes
//! authorisation (any status but 401/403/404, and never 5xx). The probe table must cover every
//! operation, so a new route without a probe — or without a permission check — fails this test.

use crate::harness::{spawn_app, Client, Engine, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tg_iam::permissions::BUILTIN_ROLES;
use tg_iam::AuditCtx;
use tg_kernel::RegionCode;

crate::both_engines!(authorisation_matrix);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Obj {
    None,
    User,
    Dept,
    Group,
    Village,
    Role,
    NewUser,
    NewDept,
    /// A message in the calling account's own list.
    Message,
    /// A map layer owned by the side's region, read: visible when that region and the caller's lie
    /// on one line of the hierarchy.
    LayerRead,
    /// The same kind of layer, changed: the caller's scope must hold its region.
    Layer,
    NewLayer,
    /// A feature of a city-wide layer, in the side's village.
    Feature,
    NewFeature,
    /// A city-wide layer, visible to everyone with map access; the body is a GeoJSON file whose
    /// feature lies in the side's village (rows outside the caller's scope are reported row by row).
    CityLayer,
    /// An import progress entry of the calling account.
    Progress,
    /// An indicator of the Yunfu pack (city-wide; the caller's own region is used).
    Indicator,
    /// A fresh indicator (edited or deleted), and the body of a new one.
    FreshIndicator,
    NewIndicator,
    /// A fresh topic, and the body of a new one.
    Topic,
    NewTopic,
    /// A follow, a comment, an instruction of (or for) the calling account.
    Follow,
    Comment,
    Instruction,
    /// A 招商 project (with a 项目统一代码) of the side's county, filed by its 投促 staff; the
    /// instance of its workflow; one of its attachments.
    Project,
    Instance,
    File,
    /// A 抄送 of the calling account.
    CcTask,
    /// A calendar exception day (deleted by the probe).
    CalDay,
}

struct Probe {
    method: Method,
    path: &'static str,
    /// None: any signed-in user. Some("public"): no session needed.
    perm: Option<&'static str>,
    obj: Obj,
}

const fn p(method: Method, path: &'static str, perm: Option<&'static str>, obj: Obj) -> Probe {
    Probe { method, path, perm, obj }
}

fn probes() -> Vec<Probe> {
    use Obj::*;
    vec![
        p(Method::GET, "/api/v1/system/info", Some("public"), None),
        p(Method::POST, "/api/v1/auth/login", Some("public"), None),
        p(Method::GET, "/api/v1/auth/me", Option::None, None),
        p(Method::POST, "/api/v1/auth/password", Option::None, None),
        p(Method::POST, "/api/v1/auth/logout", Option::None, None),
        p(Method::GET, "/api/v1/regions", Some("region:read"), None),
        p(Method::POST, "/api/v1/regions", Some("region:write"), Village),
        p(Method::GET, "/api/v1/regions/{code}", Some("region:read"), Group),
        p(Method::PATCH, "/api/v1/regions/{code}", Some("region:write"), Group),
        p(Method::DELETE, "/api/v1/regions/{code}", Some("region:write"), Group),
        p(Method::GET, "/api/v1/regions/{code}/children", Some("region:read"), Group),
        p(Method::GET, "/api/v1/regions/{code}/ancestors", Some("region:read"), Group),
        p(Method::GET, "/api/v1/regions/{code}/subtree", Some("region:read"), Group),
        p(Method::GET, "/api/v1/departments", Some("dept:read"), None),
        p(Method::POST, "/api/v1/departments", Some("dept:write"), NewDept),
        p(Method::GET, "/api/v1/departments/{id}", Some("dept:read"), Dept),
        p(Method::PUT, "/api/v1/departments/{id}", Some("dept:write"), Dept),
        p(Method::DELETE, "/api/v1/departments/{id}", Some("dept:write"), Dept),
        p(Method::GET, "/api/v1/users", Some("user:read"), None),
        p(Method::POST, "/api/v1/users", Some("user:create"), NewUser),
        p(Method::POST, "/api/v1/users/import", Some("user:create"), None),
        p(Method::GET, "/api/v1/users/import-template", Some("user:create"), None),
        p(Method::GET, "/api/v1/users/{id}", Some("user:read"), User),
        p(Method::PUT, "/api/v1/users/{id}", Some("user:update"), User),
        p(Method::DELETE, "/api/v1/users/{id}", Some("user:delete"), User),
        p(Method::POST, "/api/v1/users/{id}/reset-password", Some("user:reset_password"), User),
        p(Method::POST, "/api/v1/users/{id}/lock", Some("user:lock"), User),
        p(Method::POST, "/api/v1/users/{id}/unlock", Some("user:lock"), User),
        p(Method::PUT, "/api/v1/users/{id}/roles", Some("grant:write"), User),
        p(Method::GET, "/api/v1/roles", Some("role:read"), None),
        p(Method::POST, "/api/v1/roles", Some("role:write"), None),
        p(Method::GET, "/api/v1/roles/{id}", Some("role:read"), Role),
        p(Method::PUT, "/api/v1/roles/{id}", Some("role:write"), Role),
        p(Method::DELETE, "/api/v1/roles/{id}", Some("role:write"), Role),
        p(Method::GET, "/api/v1/permissions", Some("role:read"), None),
        p(Method::GET, "/api/v1/audit", Some("audit:read"), None),
        p(Method::GET, "/api/v1/audit/export", Some("audit:export"), None),
        p(Method::GET, "/api/v1/audit/verify", Some("audit:verify"), None),
        p(Method::GET, "/api/v1/auth/challenge", Some("public"), None),
        p(Method::POST, "/api/v1/auth/mfa/enroll", Option::None, None),
        p(Method::POST, "/api/v1/auth/mfa/verify", Option::None, None),
        p(Method::GET, "/api/v1/security/policy", Some("security:read"), None),
        p(Method::PUT, "/api/v1/security/policy", Some("security:write"), None),
        p(Method::GET, "/api/v1/security/keys", Some("security:read"), None),
        p(Method::POST, "/api/v1/security/keys/{purpose}/rotate", Some("keys:rotate"), None),
        p(Method::GET, "/api/v1/security/mfa", Some("security:read"), None),
        p(Method::POST, "/api/v1/security/mfa/{id}/reset", Some("mfa:reset"), User),
        p(Method::POST, "/api/v1/security/integrity/verify", Some("integrity:verify"), None),
        p(Method::POST, "/api/v1/users/{id}/unmask", Some("pii:unmask"), User),
        p(Method::PUT, "/api/v1/users/{id}/security-labels", Some("security:write"), User),
        p(Method::GET, "/api/v1/messages", Option::None, None),
        p(Method::POST, "/api/v1/messages/{id}/read", Option::None, Message),
        p(Method::GET, "/api/v1/map/layers", Some("map:read"), None),
        p(Method::POST, "/api/v1/map/layers", Some("map:layer"), NewLayer),
        p(Method::GET, "/api/v1/map/layers/{id}", Some("map:read"), LayerRead),
        p(Method::PUT, "/api/v1/map/layers/{id}", Some("map:layer"), Layer),
        p(Method::DELETE, "/api/v1/map/layers/{id}", Some("map:layer"), Layer),
        p(Method::GET, "/api/v1/map/layers/{id}/features", Some("map:read"), LayerRead),
        p(Method::POST, "/api/v1/map/layers/{id}/features", Some("map:write"), NewFeature),
        p(Method::GET, "/api/v1/map/features/{id}", Some("map:read"), Feature),
        p(Method::PUT, "/api/v1/map/features/{id}", Some("map:write"), Feature),
        p(Method::DELETE, "/api/v1/map/features/{id}", Some("map:write"), Feature),
        p(Method::POST, "/api/v1/map/layers/{id}/query", Some("map:read"), LayerRead),
        p(Method::POST, "/api/v1/map/judge", Some("map:read"), None),
        p(Method::GET, "/api/v1/map/layers/{id}/clusters", Some("map:read"), LayerRead),
        p(Method::GET, "/api/v1/map/layers/{id}/heat", Some("map:read"), LayerRead),
        p(Method::GET, "/api/v1/map/tiles/{id}/{z}/{x}/{y}", Some("map:read"), LayerRead),
        p(Method::GET, "/api/v1/map/boundaries", Some("map:read"), None),
        p(Method::POST, "/api/v1/map/layers/{id}/import", Some("map:write"), CityLayer),
        p(Method::POST, "/api/v1/map/layers/{id}/export", Some("map:read"), LayerRead),
        p(Method::POST, "/api/v1/map/boundaries/import", Some("map:layer"), None),
        p(Method::GET, "/api/v1/map/import-progress/{id}", Some("map:write"), Progress),
        p(Method::GET, "/api/v1/ind/catalog", Some("ind:read"), None),
        p(Method::GET, "/api/v1/ind/indicators", Some("ind:read"), None),
        p(Method::POST, "/api/v1/ind/indicators", Some("ind:manage"), NewIndicator),
        p(Method::GET, "/api/v1/ind/indicators/{code}", Some("ind:read"), Indicator),
        p(Method::PUT, "/api/v1/ind/indicators/{code}", Some("ind:manage"), FreshIndicator),
        p(Method::DELETE, "/api/v1/ind/indicators/{code}", Some("ind:manage"), FreshIndicator),
        p(Method::GET, "/api/v1/ind/indicators/{code}/related", Some("ind:read"), Indicator),
        p(Method::GET, "/api/v1/ind/indicators/{code}/series", Some("ind:read"), Indicator),
        p(Method::GET, "/api/v1/ind/indicators/{code}/breakdown", Some("ind:read"), Indicator),
        p(Method::GET, "/api/v1/ind/indicators/{code}/export", Some("ind:export"), Indicator),
        p(Method::GET, "/api/v1/ind/indicators/{code}/report", Some("ind:read"), Indicator),
        p(Method::GET, "/api/v1/ind/attr-defs", Some("ind:read"), None),
        p(Method::PUT, "/api/v1/ind/attr-defs", Some("ind:manage"), None),
        p(Method::POST, "/api/v1/ind/values", Some("ind:data"), None),
        p(Method::POST, "/api/v1/ind/values/import", Some("ind:data"), None),
        p(Method::GET, "/api/v1/ind/values/template", Some("ind:data"), None),
        p(Method::POST, "/api/v1/ind/exports/audit", Some("ind:export"), None),
        p(Method::GET, "/api/v1/ind/topics", Some("ind:read"), None),
        p(Method::POST, "/api/v1/ind/topics", Some("ind:manage"), NewTopic),
        p(Method::GET, "/api/v1/ind/topics/{code}", Some("ind:read"), Topic),
        p(Method::PUT, "/api/v1/ind/topics/{code}", Some("ind:manage"), Topic),
        p(Method::DELETE, "/api/v1/ind/topics/{code}", Some("ind:manage"), Topic),
        p(Method::GET, "/api/v1/ind/topics/{code}/dashboard", Some("ind:read"), Indicator),
        p(Method::GET, "/api/v1/ind/follows", Some("ind:read"), None),
        p(Method::POST, "/api/v1/ind/follows", Some("ind:read"), None),
        p(Method::PUT, "/api/v1/ind/follows/{id}", Some("ind:read"), Follow),
        p(Method::DELETE, "/api/v1/ind/follows/{id}", Some("ind:read"), Follow),
        p(Method::GET, "/api/v1/ind/search", Some("ind:read"), None),
        p(Method::GET, "/api/v1/ind/comments", Some("ind:read"), None),
        p(Method::POST, "/api/v1/ind/comments", Some("ind:read"), None),
        p(Method::DELETE, "/api/v1/ind/comments/{id}", Some("ind:read"), Comment),
        p(Method::GET, "/api/v1/ind/instructions", Some("ind:read"), None),
        p(Method::POST, "/api/v1/ind/instructions", Some("ind:instruct"), None),
        p(Method::GET, "/api/v1/ind/instructions/{id}", Some("ind:read"), Instruction),
        p(Method::POST, "/api/v1/ind/instructions/{id}/reply", Some("ind:handle"), Instruction),
        p(Method::POST, "/api/v1/ind/instructions/{id}/return", Some("ind:instruct"), Instruction),
        p(Method::POST, "/api/v1/ind/instructions/{id}/close", Some("ind:instruct"), Instruction),
        p(Method::GET, "/api/v1/ind/instruction-departments", Some("ind:instruct"), None),
        p(Method::GET, "/api/v1/wf/tasks", Option::None, None),
        p(Method::GET, "/api/v1/wf/tasks/counts", Option::None, None),
        p(Method::POST, "/api/v1/wf/tasks/{id}/read", Option::None, CcTask),
        p(Method::GET, "/api/v1/wf/instances/{id}", Option::None, Instance),
        p(Method::POST, "/api/v1/wf/instances/{id}/act", Option::None, Instance),
        p(Method::GET, "/api/v1/wf/instances/{id}/candidates", Option::None, Instance),
        p(Method::GET, "/api/v1/wf/definitions", Option::None, None),
        p(Method::GET, "/api/v1/wf/definitions/{code}", Option::None, None),
        p(Method::GET, "/api/v1/wf/calendar", Option::None, None),
        p(Method::GET, "/api/v1/wf/calendar/add", Option::None, None),
        p(Method::PUT, "/api/v1/wf/calendar/{date}", Some("wf:admin"), CalDay),
        p(Method::DELETE, "/api/v1/wf/calendar/{date}", Some("wf:admin"), CalDay),
        p(Method::GET, "/api/v1/inv/options", Some("inv:read"), None),
        p(Method::GET, "/api/v1/inv/projects", Some("inv:read"), None),
        p(Method::POST, "/api/v1/inv/projects", Some("inv:write"), None),
        p(Method::GET, "/api/v1/inv/projects/{id}", Some("inv:read"), Project),
        p(Method::PUT, "/api/v1/inv/projects/{id}", Some("inv:write"), Project),
        p(Method::DELETE, "/api/v1/inv/projects/{id}", Some("inv:write"), Project),
        p(Method::GET, "/api/v1/inv/projects/{id}/changes", Some("inv:read"), Project),
        p(Method::PUT, "/api/v1/inv/projects/{id}/materials/{kind}", Some("inv:write"), Project),
        p(Method::PUT, "/api/v1/inv/projects/{id}/code", Some("inv:write"), Project),
        p(Method::DELETE, "/api/v1/inv/projects/{id}/code", Some("inv:write"), Project),
        p(Method::POST, "/api/v1/inv/files", Some("inv:write"), None),
        p(Method::GET, "/api/v1/inv/files/{id}", Some("inv:read"), File),
        p(Method::GET, "/api/v1/inv/codes", Some("inv:read"), None),
        p(Method::GET, "/api/v1/inv/transfers", Some("inv:read"), None),
        p(Method::GET, "/api/v1/inv/stats", Some("inv:read"), None),
        p(Method::GET, "/api/v1/inv/export", Some("inv:export"), None),
        p(Method::GET, "/api/v1/inv/import/template", Some("inv:import"), None),
        p(Method::POST, "/api/v1/inv/import", Some("inv:import"), None),
    ]
}

struct Account {
    name: &'static str,
    region: &'static str,
    role: Option<&'static str>,
}

const ACCOUNTS: &[Account] = &[
    Account { name: "sysadmin", region: "445300", role: Some("sysadmin") },
    Account { name: "secadmin", region: "445300", role: Some("secadmin") },
    Account { name: "auditadmin", region: "445300", role: Some("auditadmin") },
    Account { name: "city.leader", region: "445300", role: Some("city_leader") },
    Account { name: "city.clerk", region: "445300", role: Some("dept_clerk") },
    Account { name: "yc.leader", region: "445302", role: Some("county_leader") },
    Account { name: "yc.town", region: "445302001", role: Some("town_staff") },
    Account { name: "yc.grid", region: "445302001009001", role: Some("grid_worker") },
    Account { name: "data.admin", region: "445300", role: Some("ind_admin") },
    Account { name: "yc.inv", region: "445302", role: Some("inv_staff") },
    Account { name: "city.inv", region: "445300", role: Some("inv_city") },
    Account { name: "norole", region: "445302", role: None },
];

fn perms_of(role: Option<&str>) -> BTreeSet<&'static str> {
    role.and_then(|r| BUILTIN_ROLES.iter().find(|b| b.code == r)).map(|b| b.permissions.iter().copied().collect()).unwrap_or_default()
}

/// A side of the city: 云城区 (where most demo accounts sit) or 云安区.
struct Side {
    /// Region of fresh users and departments.
    region: &'static str,
    village: String,
    /// A point inside the side's county.
    point: [f64; 2],
}

async fn insert_layer(t: &TestApp, code: &str, region: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(
        "INSERT INTO map_layers (code, name, geometry_type, region_code, created_at, updated_at) VALUES ($1, $2, 'point', $3, 0, 0) RETURNING id",
    )
    .bind(code)
    .bind(format!("图层{code}"))
    .bind(region)
    .fetch_one(t.app.iam.db().pool())
    .await
    .unwrap()
    .try_get(0)
    .unwrap()
}

static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
fn next() -> u64 {
    SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

/// Creates a fresh target object and returns (path parameter, the object's region, body).
async fn make(t: &TestApp, obj: Obj, side: &Side, probe: &Probe, caller: Option<&str>) -> (String, Option<String>, Option<Value>) {
    let ctx = AuditCtx::cli("matrix");
    let iam = &t.app.iam;
    let n = next();
    match obj {
        Obj::None => {
            let body = match (probe.method.clone(), probe.path) {
                (Method::POST, "/api/v1/auth/login") => Some(json!({"username": "yc.town", "password": crate::harness::DEMO_PASSWORD})),
                (Method::POST, "/api/v1/auth/password") => Some(json!({"old_password": "wrong-old", "new_password": "Other@2026x"})),
                (Method::POST, "/api/v1/map/judge") => Some(json!({"points": [side.point]})),
                (Method::PUT, "/api/v1/ind/attr-defs") => {
                    Some(json!([{"code": "grade", "name": "等级", "kind": "enum", "options": ["一", "二"]}]))
                }
                (Method::POST, "/api/v1/ind/values") => Some(
                    json!({"source": "权限测试", "rows": [{"indicator": "env_aqi", "period": "2026-10", "region_code": side.region, "value": 41.5}]}),
                ),
                (Method::POST, "/api/v1/ind/exports/audit") => Some(json!({"kind": "png", "target": "topic:eco_env", "title": "生态环境"})),
                (Method::POST, "/api/v1/ind/follows") => Some(json!({"kind": "topic", "code": "eco_env"})),
                (Method::POST, "/api/v1/ind/comments") => Some(json!({"target": "topic:eco_env", "content": "数据很好"})),
                (Method::POST, "/api/v1/ind/instructions") => {
                    let dept = dept_id(t, "YF-STHJ").await;
                    Some(
                        json!({"target": "topic:eco_env", "target_label": "生态环境", "content": "请跟进", "department_id": dept, "deadline": "2030-01-01"}),
                    )
                }
                (Method::POST, "/api/v1/roles") => Some(
                    json!({"code": format!("r{n}"), "name": format!("角色{n}"), "data_scope": "subtree", "permissions": ["region:read"]}),
                ),
                (Method::POST, _) => Some(json!({})),
                _ => None,
            };
            (String::new(), None, body)
        }
        Obj::User | Obj::NewUser => {
            let region = RegionCode::parse(side.region).unwrap();
            if obj == Obj::NewUser {
                let body =
                    json!({"username": format!("nu{n}"), "display_name": "新用户", "password": "Init@2026xy", "region_code": side.region});
                return (String::new(), Some(side.region.into()), Some(body));
            }
            let spec = tg_iam::users::UserSpec {
                username: format!("target{n}"),
                display_name: "目标用户".into(),
                password: "Target@2026".into(),
                phone: None,
                region,
                department_id: None,
                roles: vec![],
                must_change_password: false,
                is_demo: false,
            };
            let id = iam.insert_user(&ctx, &spec).await.unwrap();
            let body = match probe.path {
                "/api/v1/users/{id}" if probe.method == Method::PUT => Some(json!({"display_name": "改名", "region_code": side.region})),
                "/api/v1/users/{id}/reset-password" => Some(json!({"password": "Reset@2026z"})),
                "/api/v1/users/{id}/roles" => Some(json!({"roles": ["grid_worker"]})),
                "/api/v1/users/{id}/unmask" => Some(json!({"reason": "核实联系方式"})),
                "/api/v1/users/{id}/security-labels" => Some(json!({"clearance": "internal", "label": "internal"})),
                _ if probe.method == Method::POST => Some(json!({})),
                _ => None,
            };
            (id.to_string(), Some(side.region.into()), body)
        }
        Obj::Dept | Obj::NewDept => {
            let region = RegionCode::parse(side.region).unwrap();
            let body = json!({"code": format!("T-{n}"), "name": format!("测试部门{n}"), "region_code": side.region});
            if obj == Obj::NewDept {
                return (String::new(), Some(side.region.into()), Some(body));
            }
            let id = iam.insert_department(&ctx, &format!("D-{n}"), &format!("目标部门{n}"), &region, false).await.unwrap();
            (id.to_string(), Some(side.region.into()), (probe.method == Method::PUT).then_some(body))
        }
        Obj::Group | Obj::Village => {
            let village = RegionCode::parse(&side.village).unwrap();
            if obj == Obj::Village {
                return (
                    String::new(),
                    Some(side.village.clone()),
                    Some(json!({"parent_code": side.village, "name": format!("新网格{n}")})),
                );
            }
            let code = iam.insert_group(&ctx, &village, &format!("目标网格{n}"), false).await.unwrap();
            let body = (probe.method == Method::PATCH).then(|| json!({"name": format!("改名网格{n}")}));
            (code.to_string(), Some(code.to_string()), body)
        }
        Obj::Message => {
            use sqlx::Row;
            let owner: i64 = match caller {
                Some(name) => t.user_id(name).await,
                None => sqlx::query("SELECT MIN(id) FROM users").fetch_one(iam.db().pool()).await.unwrap().try_get(0).unwrap(),
            };
            let id: i64 = sqlx::query(
                "INSERT INTO messages (user_id, kind, level, title, body, created_at) VALUES ($1, 'test', 'info', '测试', '测试消息', 0) RETURNING id",
            )
            .bind(owner)
            .fetch_one(iam.db().pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
            (id.to_string(), None, Some(json!({})))
        }
        Obj::LayerRead | Obj::Layer => {
            let id = insert_layer(t, &format!("layer{n}"), side.region).await;
            let body = match probe.method {
                Method::PUT => Some(
                    json!({"code": format!("layer{n}"), "name": "改名图层", "geometry_type": "point", "region_code": side.region, "version": 1}),
                ),
                Method::POST if probe.path.ends_with("/export") => Some(json!({"format": "geojson"})),
                Method::POST => Some(json!({"shape": {"type": "circle", "center": side.point, "radius_m": 1000}})),
                _ => None,
            };
            (id.to_string(), Some(side.region.into()), body)
        }
        Obj::NewLayer => {
            let body =
                json!({"code": format!("nl{n}"), "name": format!("新图层{n}"), "geometry_type": "point", "region_code": side.region});
            (String::new(), Some(side.region.into()), Some(body))
        }
        Obj::Progress => {
            let owner = match caller {
                Some(name) => t.user_id(name).await,
                None => 0,
            };
            let id = format!("probe-{n:08}");
            t.app.map.set_progress(owner, Some(&id), "done", 1, 1);
            (id, None, None)
        }
        Obj::CityLayer => {
            let id = insert_layer(t, &format!("city{n}"), "445300").await;
            let body = json!({"type": "FeatureCollection", "features": [
                {"type": "Feature", "geometry": {"type": "Point", "coordinates": side.point}, "properties": {"region_code": side.village}}
            ]});
            (id.to_string(), None, Some(body))
        }
        Obj::NewFeature => {
            let id = insert_layer(t, &format!("city{n}"), "445300").await;
            let body = json!({"geometry": {"type": "Point", "coordinates": side.point}, "region_code": side.village});
            (id.to_string(), Some(side.village.clone()), Some(body))
        }
        Obj::Feature => {
            use sqlx::Row;
            let layer = insert_layer(t, &format!("city{n}"), "445300").await;
            let [x, y] = side.point;
            let geometry = json!({"type": "Point", "coordinates": side.point}).to_string();
            let id: i64 = sqlx::query(
                "INSERT INTO map_features (layer_id, region_code, name, props, geometry, min_x, min_y, max_x, max_y, anchor_x, anchor_y, created_at, updated_at) \
                 VALUES ($1, $2, '目标要素', '{}', $3, $4, $5, $4, $5, $4, $5, 0, 0) RETURNING id",
            )
            .bind(layer)
            .bind(side.village.as_str())
            .bind(geometry)
            .bind(x)
            .bind(y)
            .fetch_one(iam.db().pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
            let body = (probe.method == Method::PUT)
                .then(|| json!({"geometry": {"type": "Point", "coordinates": side.point}, "region_code": side.village, "version": 1}));
            (id.to_string(), Some(side.village.clone()), body)
        }
        Obj::Indicator => ("eco_env".into(), None, None),
        Obj::Project | Obj::Instance | Obj::File => {
            let county = &side.region[..6];
            let staff = if county == "445302" { "yc.inv" } else { "ya.inv" };
            let who = iam.principal_by_id(t.user_id(staff).await).await.unwrap();
            if obj == Obj::File {
                let f = t.app.inv.upload(&ctx, &who, "证明.pdf", "其他", b"%PDF-1.4 probe").await.unwrap();
                return (f.id.to_string(), Some(county.to_owned()), None);
            }
            let mut input: tg_invest::ProjectInput =
                serde_json::from_value(crate::inv::project_input(&format!("权限测试项目{n}"))).unwrap();
            input.region_code = Some(county.to_owned());
            let d = t.app.inv.create(&ctx, &who, &input).await.unwrap();
            let p = t
                .app
                .inv
                .set_code(&ctx, &who, d.project.id, Some(&format!("2026-{county}-39-03-{n:06}")), d.project.version)
                .await
                .unwrap();
            if obj == Obj::Instance {
                let body = (probe.method == Method::POST).then(|| json!({"action": "urge", "version": 1}));
                return (p.instance_id.unwrap().to_string(), Some(county.to_owned()), body);
            }
            let body = match (probe.method.clone(), probe.path) {
                (Method::PUT, "/api/v1/inv/projects/{id}") => {
                    let mut b = crate::inv::project_input(&format!("权限测试项目{n}"));
                    b["region_code"] = json!(county);
                    b["version"] = json!(p.version);
                    Some(b)
                }
                (Method::DELETE, "/api/v1/inv/projects/{id}") => Some(json!({"version": p.version, "reason": "权限测试"})),
                (Method::PUT, "/api/v1/inv/projects/{id}/code") => {
                    Some(json!({"code": format!("2026-{county}-39-02-{n:06}"), "version": p.version}))
                }
                (Method::DELETE, "/api/v1/inv/projects/{id}/code") => Some(json!({"version": p.version})),
                (Method::PUT, _) => Some(json!({"data": {}, "file_ids": [], "submit": false, "version": 1})),
                _ => None,
            };
            (p.id.to_string(), Some(county.to_owned()), body)
        }
        Obj::CcTask => {
            use sqlx::Row;
            let owner: i64 = match caller {
                Some(name) => t.user_id(name).await,
                None => t.user_id("yc.inv").await,
            };
            let staff = iam.principal_by_id(t.user_id("yc.inv").await).await.unwrap();
            let d = t
                .app
                .inv
                .create(&ctx, &staff, &serde_json::from_value(crate::inv::project_input(&format!("抄送测试{n}"))).unwrap())
                .await
                .unwrap();
            let id: i64 = sqlx::query(
                "INSERT INTO wf_tasks (instance_id, kind, step, assignee_id, status, created_at) VALUES ($1, 'cc', 'draft', $2, 'open', 0) RETURNING id",
            )
            .bind(d.project.instance_id.unwrap())
            .bind(owner)
            .fetch_one(iam.db().pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
            (id.to_string(), None, None)
        }
        Obj::CalDay => {
            // A Monday in 2027, different for every probe.
            let day = time::Date::from_calendar_date(2027, time::Month::January, 4).unwrap() + time::Duration::weeks((n % 50) as i64);
            let date = format!("{:04}-{:02}-{:02}", day.year(), u8::from(day.month()), day.day());
            sqlx::query("DELETE FROM wf_calendar WHERE day = $1").bind(&date).execute(iam.db().pool()).await.unwrap();
            sqlx::query("INSERT INTO wf_calendar (day, kind, name, source, updated_at) VALUES ($1, 'holiday', '测试', 'manual', 0)")
                .bind(&date)
                .execute(iam.db().pool())
                .await
                .unwrap();
            let body = (probe.method == Method::PUT).then(|| json!({"kind": "holiday", "name": "地方假日"}));
            (date, None, body)
        }
        Obj::FreshIndicator | Obj::NewIndicator => {
            let code = format!("probe_ind_{n}");
            let body = json!({"code": code, "name": format!("测试指标{n}"), "frequency": "month", "agg": "sum", "version": 1});
            if obj == Obj::FreshIndicator {
                sqlx::query("INSERT INTO ind_indicators (code, name, frequency, agg, created_at, updated_at) VALUES ($1, '测试指标', 'month', 'sum', 0, 0)")
                    .bind(&code)
                    .execute(iam.db().pool())
                    .await
                    .unwrap();
                sqlx::query("UPDATE ind_state SET meta_rev = meta_rev + 1").execute(iam.db().pool()).await.unwrap();
            }
            (code, None, Some(body))
        }
        Obj::Topic | Obj::NewTopic => {
            let code = format!("probe_topic_{n}");
            let body = json!({"code": code, "name": format!("测试专题{n}"), "version": 1});
            if obj == Obj::Topic {
                sqlx::query("INSERT INTO ind_topics (code, name, created_at, updated_at) VALUES ($1, '测试专题', 0, 0)")
                    .bind(&code)
                    .execute(iam.db().pool())
                    .await
                    .unwrap();
                sqlx::query("UPDATE ind_state SET meta_rev = meta_rev + 1").execute(iam.db().pool()).await.unwrap();
            }
            (code, None, (probe.method != Method::GET && probe.method != Method::DELETE).then_some(body))
        }
        Obj::Follow | Obj::Comment | Obj::Instruction => {
            use sqlx::Row;
            let owner: i64 = match caller {
                Some(name) => t.user_id(name).await,
                None => sqlx::query("SELECT MIN(id) FROM users").fetch_one(iam.db().pool()).await.unwrap().try_get(0).unwrap(),
            };
            let (sql, body) = match obj {
                Obj::Follow => (
                    "INSERT INTO ind_follows (user_id, kind, target_code, region_code, created_at) VALUES ($1, 'indicator', $2, '445300', 0) RETURNING id",
                    Some(json!({"yellow": 60.0, "red": 80.0})),
                ),
                Obj::Comment => (
                    "INSERT INTO ind_comments (target, author_id, author_region, scope, content, created_at) VALUES ('topic:eco_env', $1, '445300', 'region', $2, 0) RETURNING id",
                    None,
                ),
                _ => (
                    "INSERT INTO ind_instructions (target, target_label, content, author_id, author_region, department_id, deadline, status, created_at, updated_at) \
                     SELECT 'topic:eco_env', '生态环境', $2, u.id, u.region_code, COALESCE(c.department_id, (SELECT id FROM departments WHERE code = 'YF-STHJ')), \
                     '2030-01-01', 'open', 0, 0 FROM users u, users c WHERE c.id = $1 AND u.id = CASE WHEN EXISTS (SELECT 1 FROM user_roles ur JOIN role_permissions rp \
                     ON rp.role_id = ur.role_id WHERE ur.user_id = $1 AND rp.permission = 'ind:instruct') THEN $1 ELSE (SELECT id FROM users WHERE username = 'city.leader') END RETURNING id",
                    Some(json!({"content": "已办理", "version": 1})),
                ),
            };
            let second = if obj == Obj::Follow { "env_aqi".to_string() } else { format!("内容{n}") };
            sqlx::query("DELETE FROM ind_follows WHERE user_id = $1 AND target_code = 'env_aqi'")
                .bind(owner)
                .execute(iam.db().pool())
                .await
                .unwrap();
            let id: i64 = sqlx::query(sql).bind(owner).bind(second).fetch_one(iam.db().pool()).await.unwrap().try_get(0).unwrap();
            (id.to_string(), None, body)
        }
        Obj::Role => {
            let input = tg_iam::roles::RoleInput {
                code: format!("role{n}"),
                name: format!("目标角色{n}"),
                description: String::new(),
                data_scope: "subtree".into(),
                permissions: vec!["region:read".into()],
                require_mfa: false,
            };
            let r = iam.create_role(&ctx, &input).await.unwrap();
            let body = (probe.method == Method::PUT)
                .then(|| json!({"code": format!("role{n}"), "name": "改名角色", "data_scope": "subtree", "permissions": ["dept:read"]}));
            (r.id.to_string(), None, body)
        }
    }
}

async fn authorisation_matrix(e: Engine) {
    let t = spawn_app(e).await;
    // Every operation in the OpenAPI document has a probe, and every probe an operation.
    let doc = t.anon().get("/api/openapi.json").await.body;
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&m.as_str()) {
                ops.insert(format!("{} {path}", m.to_uppercase()));
            }
        }
    }
    let table = probes();
    let covered: BTreeSet<String> = table.iter().map(|p| format!("{} {}", p.method, p.path)).collect();
    assert_eq!(ops, covered, "the probe table must list exactly the documented operations");
    let public: BTreeSet<String> = tg_api::PUBLIC_ROUTES.iter().map(|(m, p)| format!("{m} {p}")).collect();
    let declared_public: BTreeSet<String> =
        table.iter().filter(|p| p.perm == Some("public")).map(|p| format!("{} {}", p.method, p.path)).collect();
    assert_eq!(public, declared_public);

    let ctx = AuditCtx::cli("matrix");
    let spec = tg_iam::users::UserSpec {
        username: "norole".into(),
        display_name: "无角色".into(),
        password: "Norole@2026".into(),
        phone: None,
        region: RegionCode::parse("445302").unwrap(),
        department_id: None,
        roles: vec![],
        must_change_password: false,
        is_demo: false,
    };
    t.app.iam.insert_user(&ctx, &spec).await.unwrap();

    let sides = [
        Side { region: "445302001", village: "445302001009".into(), point: [112.044, 22.928] },
        Side { region: "445303", village: first_village(&t, "445303").await, point: [112.005, 23.075] },
    ];
    let mut checked = 0;
    let mut failures = Vec::new();
    // The anonymous caller: everything but the public routes is 401.
    for probe in &table {
        let (param, _, body) = make(&t, probe.obj, &sides[0], probe, None).await;
        let r = t.anon().raw(probe.method.clone(), &fill(probe.path, &param), body.as_ref()).await;
        let ok = if probe.perm == Some("public") { r.status != StatusCode::UNAUTHORIZED } else { r.status == StatusCode::UNAUTHORIZED };
        if !ok {
            failures.push(format!("anonymous {} {} → {} {:?}", probe.method, probe.path, r.status, r.body));
        }
        checked += 1;
    }
    for acct in ACCOUNTS {
        let perms = perms_of(acct.role);
        let password = if acct.role.is_none() { "Norole@2026" } else { crate::harness::DEMO_PASSWORD };
        let home = RegionCode::parse(acct.region).unwrap();
        let dept_only = acct.role.is_some_and(|r| BUILTIN_ROLES.iter().any(|b| b.code == r && b.data_scope == "subtree_dept"));
        for side in &sides {
            for probe in &table {
                if probe.perm == Some("public") {
                    continue;
                }
                // Logout ends the session; it gets its own.
                let client: Client = t.login(acct.name, password).await;
                let (param, obj_region, body) = make(&t, probe.obj, side, probe, Some(acct.name)).await;
                let r = client.raw(probe.method.clone(), &fill(probe.path, &param), body.as_ref()).await;
                let has = probe.perm.is_none_or(|p| perms.contains(p));
                let in_scope = match &obj_region {
                    None => true,
                    // Department-only scopes narrow departmental data (users, departments), not the shared region tree.
                    Some(code) => {
                        let departmental = matches!(probe.obj, Obj::User | Obj::NewUser | Obj::Dept | Obj::NewDept);
                        let r = RegionCode::parse(code).unwrap();
                        if probe.obj == Obj::LayerRead {
                            home.contains(&r) || r.contains(&home)
                        } else {
                            home.contains(&r) && !(dept_only && departmental)
                        }
                    }
                };
                let s = r.status;
                let ok = if !has {
                    s == StatusCode::FORBIDDEN && r.code() == "auth.forbidden"
                } else if !in_scope {
                    s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND
                } else {
                    !matches!(s, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND) && !s.is_server_error()
                };
                if !ok {
                    failures.push(format!(
                        "{} ({}) {} {} [{}] has={has} in_scope={in_scope} → {s} {}",
                        acct.name, acct.region, probe.method, probe.path, side.region, r.body
                    ));
                }
                checked += 1;
            }
        }
    }
    assert!(failures.is_empty(), "{} of {checked} checks failed:\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 600, "{checked}");
}

fn fill(path: &str, param: &str) -> String {
    let p = path
        .replace("{id}", param)
        .replace("{code}", param)
        .replace("{purpose}", "fields")
        .replace("{date}", param)
        .replace("{kind}", "filing")
        .replace("{z}", "8")
        .replace("{x}", "207")
        .replace("{y}", "110.mvt");
    if p.ends_with("/clusters") || p.ends_with("/heat") {
        format!("{p}?bbox=111,22.3,112.6,23.3&zoom=8")
    } else if path == "/api/v1/ind/indicators/{code}" || path.starts_with("/api/v1/ind/indicators/{code}/") {
        // The probe's indicator is the pack's AQI for Obj::Indicator (its param is a topic code).
        let p = if param == "eco_env" { p.replace("/eco_env", "/env_aqi") } else { p };
        if p.ends_with("/breakdown") {
            format!("{p}?by=region")
        } else {
            p
        }
    } else if path == "/api/v1/ind/search" {
        format!("{p}?q=%E7%A9%BA%E6%B0%94")
    } else if path == "/api/v1/ind/comments" {
        format!("{p}?target=topic:eco_env")
    } else if path == "/api/v1/ind/values/import" {
        format!("{p}?filename=values.csv")
    } else if path == "/api/v1/wf/definitions/{code}" {
        "/api/v1/wf/definitions/inv_project".into()
    } else if path == "/api/v1/wf/calendar" {
        format!("{p}?year=2026")
    } else if path == "/api/v1/wf/calendar/add" {
        format!("{p}?from=2026-09-30&days=3")
    } else if path == "/api/v1/inv/files" {
        format!("{p}?filename=a.pdf&doc_type=%E5%85%B6%E4%BB%96")
    } else if path == "/api/v1/inv/import" {
        format!("{p}?filename=old.xlsx")
    } else {
        p
    }
}

async fn dept_id(t: &TestApp, code: &str) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT id FROM departments WHERE code = $1").bind(code).fetch_one(t.app.iam.db().pool()).await.unwrap().try_get(0).unwrap()
}

async fn first_village(t: &TestApp, county: &'static str) -> String {
    use sqlx::Row;
    let (lo, hi) = (county.to_string(), format!("{county}:"));
    sqlx::query("SELECT MIN(code) FROM regions WHERE level = 'village' AND code >= $1 AND code < $2")
        .bind(lo)
        .bind(hi)
        .fetch_one(t.app.iam.db().pool())
        .await
        .unwrap()
        .try_get(0)
        .unwrap()
}
