//! 全域智图 API: layers, features, spatial queries and judgments, clusters, heat grids and tiles,
//! with bad input and scoping.

use crate::harness::{spawn_app, Client, Engine, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tg_iam::AuditCtx;
use tg_kernel::RegionCode;
use tg_spatial::mvt::decode;

crate::both_engines!(
    layers_features_and_bad_input,
    queries_judgments_and_scope,
    ogc_api_features_and_gdal,
    import_and_export,
    shapefile_import_written_by_gdal,
    demo_boundaries_tile_counties_and_imports_replace_them
);

/// A point in 云城区 (county 445302) and one in 云安区 (445303).
const YUNCHENG: [f64; 2] = [112.044, 22.928];
const YUNAN: [f64; 2] = [112.005, 23.075];

fn point(p: [f64; 2]) -> Value {
    json!({"type": "Point", "coordinates": p})
}

async fn make_layer(admin: &Client) -> i64 {
    let r = admin
        .post(
            "/api/v1/map/layers",
            json!({"code": "test_places", "name": "测试场所", "geometry_type": "point", "region_code": "445300",
                   "attr_schema": [{"name": "kind", "label": "类型", "type": "text", "required": true},
                                   {"name": "beds", "label": "床位", "type": "integer"}],
                   "style": {"component": "scatter", "color": "#1677ff"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_i64().unwrap()
}

async fn layers_features_and_bad_input(e: Engine) {
    let t = spawn_app(e).await;
    let admin = t.demo("sysadmin").await;
    // Bad layers change nothing.
    let r = admin.post("/api/v1/map/layers", json!({"code": "x y", "name": "", "geometry_type": "circle"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = r.body["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"code") && fields.contains(&"name") && fields.contains(&"geometry_type"), "{fields:?}");
    let id = make_layer(&admin).await;
    let dup = admin.post("/api/v1/map/layers", json!({"code": "test_places", "name": "重复", "geometry_type": "point"})).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "map.layer_exists"));
    // sysadmin manages layers but does not collect features.
    let r = admin
        .post(&format!("/api/v1/map/layers/{id}/features"), json!({"geometry": point(YUNCHENG), "properties": {"kind": "诊所"}}))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "auth.forbidden"));

    let town = t.demo("yc.town").await; // 445302001, may collect
    let path = format!("/api/v1/map/layers/{id}/features");
    let ok = town
        .post(&path, json!({"name": "城中诊所", "geometry": point(YUNCHENG), "properties": {"kind": "诊所", "beds": 12}, "region_code": "445302001009"}))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.body);
    assert_eq!(ok.body["region_code"], "445302001009");
    assert_eq!(ok.body["version"], 1);
    let fid = ok.body["id"].as_i64().unwrap();
    // Bad features, each with a clear message, none stored.
    let cases = [
        (json!({"geometry": point([100.0, 20.0]), "properties": {"kind": "诊所"}}), StatusCode::UNPROCESSABLE_ENTITY, "geometry"),
        (
            json!({"geometry": {"type": "LineString", "coordinates": [YUNCHENG, [112.05, 22.93]]}, "properties": {"kind": "诊所"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "geometry",
        ),
        (json!({"geometry": point(YUNCHENG), "properties": {}}), StatusCode::UNPROCESSABLE_ENTITY, "properties.kind"),
        (
            json!({"geometry": {"type": "Point", "coordinates": [f64::MAX, 1]}, "properties": {"kind": "诊所"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "geometry",
        ),
        (
            json!({"geometry": point(YUNCHENG), "properties": {"kind": "诊所", "beds": "很多"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "properties.beds",
        ),
        (
            json!({"geometry": point(YUNCHENG), "properties": {"kind": "诊所", "colour": "红"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "properties.colour",
        ),
        (json!({"geometry": point(YUNCHENG), "properties": {"kind": "诊所"}, "crs": "EPSG:2436"}), StatusCode::UNPROCESSABLE_ENTITY, "crs"),
        (
            json!({"geometry": point(YUNAN), "properties": {"kind": "诊所"}, "region_code": "445302001009"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "region_code",
        ),
    ];
    for (body, status, field) in cases {
        let r = town.post(&path, body.clone()).await;
        assert_eq!(r.status, status, "{body} → {:?}", r.body);
        let fields: Vec<&str> =
            r.body["details"].as_array().map(|d| d.iter().filter_map(|x| x["field"].as_str()).collect()).unwrap_or_default();
        assert!(fields.contains(&field), "{body}: expected {field} in {:?}", r.body);
    }
    // A place in 云安区 is outside the town's scope.
    let r = town.post(&path, json!({"geometry": point(YUNAN), "properties": {"kind": "诊所"}})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM map_features").await, 1);

    // Coordinates in GCJ-02 are stored in WGS-84 and returned in the CRS asked for.
    let gcj = tg_spatial::Crs::Gcj02.from_canonical(tg_spatial::geo_types::Coord { x: 112.05, y: 22.93 });
    let r = town
        .post(
            &path,
            json!({"geometry": point([gcj.x, gcj.y]), "crs": "GCJ02", "properties": {"kind": "药店"}, "region_code": "445302001009"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let gid = r.body["id"].as_i64().unwrap();
    let back = town.get(&format!("/api/v1/map/features/{gid}")).await.body;
    let c = back["geometry"]["coordinates"].as_array().unwrap();
    assert!((c[0].as_f64().unwrap() - 112.05).abs() < 1e-6 && (c[1].as_f64().unwrap() - 22.93).abs() < 1e-6, "{back}");
    let in_gcj = town.get(&format!("/api/v1/map/features/{gid}?crs=GCJ02")).await.body;
    assert!((in_gcj["geometry"]["coordinates"][0].as_f64().unwrap() - gcj.x).abs() < 1e-6);

    // Optimistic locking: a stale version is refused and changes nothing.
    let upd = json!({"name": "改名诊所", "geometry": point(YUNCHENG), "properties": {"kind": "诊所"}, "region_code": "445302001009", "version": 1});
    let r = town.put(&format!("/api/v1/map/features/{fid}"), upd.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["version"], 2);
    let r = town.put(&format!("/api/v1/map/features/{fid}"), upd).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "map.version_conflict"));
    // Moving a feature moves it in the index: the old place no longer matches a small circle.
    let moved = json!({"name": "改名诊所", "geometry": point([112.06, 22.94]), "properties": {"kind": "诊所"}, "region_code": "445302001009", "version": 2});
    assert_eq!(town.put(&format!("/api/v1/map/features/{fid}"), moved).await.status, StatusCode::OK);
    let q = |c: [f64; 2]| json!({"shape": {"type": "circle", "center": c, "radius_m": 50}});
    let r = town.post(&format!("/api/v1/map/layers/{id}/query"), q(YUNCHENG)).await;
    assert_eq!(r.body["total"], 0, "{:?}", r.body);
    let r = town.post(&format!("/api/v1/map/layers/{id}/query"), q([112.06, 22.94])).await;
    assert_eq!(r.body["total"], 1, "{:?}", r.body);
    assert_eq!(town.delete(&format!("/api/v1/map/features/{fid}")).await.status, StatusCode::NO_CONTENT);
    let r = town.post(&format!("/api/v1/map/layers/{id}/query"), q([112.06, 22.94])).await;
    assert_eq!(r.body["total"], 0);
    assert_eq!(town.get(&format!("/api/v1/map/features/{fid}")).await.status, StatusCode::NOT_FOUND);

    // Layer edits need the current version; deleting takes the features with it.
    let layer = admin.get(&format!("/api/v1/map/layers/{id}")).await.body;
    assert_eq!(layer["feature_count"], 1);
    let mut edit = json!({"code": "test_places", "name": "测试场所（改）", "geometry_type": "point", "region_code": "445300",
                          "attr_schema": layer["attr_schema"], "version": layer["version"]});
    assert_eq!(admin.put(&format!("/api/v1/map/layers/{id}"), edit.clone()).await.status, StatusCode::OK);
    let r = admin.put(&format!("/api/v1/map/layers/{id}"), edit.clone()).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    edit["geometry_type"] = json!("polygon");
    edit["version"] = json!(2);
    let r = admin.put(&format!("/api/v1/map/layers/{id}"), edit).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    // A department a layer names cannot be deleted (a conflict, not a server error).
    let dept = admin.post("/api/v1/departments", json!({"code": "T-MAP", "name": "测试图层部门", "region_code": "445300"})).await;
    assert_eq!(dept.status, StatusCode::CREATED, "{:?}", dept.body);
    let dept_id = dept.body["id"].as_i64().unwrap();
    let layer = admin.get(&format!("/api/v1/map/layers/{id}")).await.body;
    let with_dept = json!({"code": "test_places", "name": "测试场所（改）", "geometry_type": "point", "region_code": "445300",
                           "attr_schema": layer["attr_schema"], "department_id": dept_id, "version": layer["version"]});
    assert_eq!(admin.put(&format!("/api/v1/map/layers/{id}"), with_dept).await.status, StatusCode::OK);
    let r = admin.delete(&format!("/api/v1/departments/{dept_id}")).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "dept.in_use"), "{:?}", r.body);
    // A grid (组) a feature belongs to cannot be deleted either.
    let grid = admin.post("/api/v1/regions", json!({"parent_code": "445302001009", "name": "测试网格"})).await;
    assert_eq!(grid.status, StatusCode::CREATED, "{:?}", grid.body);
    let grid_code = grid.body["code"].as_str().unwrap().to_string();
    let f = town
        .post(
            &format!("/api/v1/map/layers/{id}/features"),
            json!({"geometry": point(YUNCHENG), "properties": {"kind": "诊所"}, "region_code": grid_code}),
        )
        .await;
    assert_eq!(f.status, StatusCode::CREATED, "{:?}", f.body);
    let r = admin.delete(&format!("/api/v1/regions/{grid_code}")).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "region.in_use"), "{:?}", r.body);
    assert_eq!(admin.delete(&format!("/api/v1/map/layers/{id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM map_features").await, 0);
    assert!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'map.feature.create'").await >= 2);
}

async fn demo_layer(t: &TestApp, n: usize) -> i64 {
    let city = RegionCode::parse("445300").unwrap();
    let made = t.app.map.seed_demo(&AuditCtx::cli("test"), &city, n).await.unwrap();
    assert_eq!(made, n);
    t.app.map.layer_id_by_code(tg_map::demo::DEMO_EVENTS_LAYER).await.unwrap().unwrap()
}

async fn all_features(c: &Client, id: i64) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let r = c.get(&format!("/api/v1/map/layers/{id}/features?page={page}&page_size=200")).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let items = r.body["items"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        out.extend(items);
    }
    out
}

async fn tile_points(t: &TestApp, c: &Client, id: i64, z: u8, x: u32, y: u32) -> (StatusCode, usize) {
    let r = c
        .http
        .get(format!("{}/api/v1/map/tiles/{id}/{z}/{x}/{y}.mvt", t.base))
        .bearer_auth(c.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let bytes = r.bytes().await.unwrap();
    if status != StatusCode::OK {
        return (status, 0);
    }
    let layers = decode::tile(&bytes).expect("a valid MVT");
    let n = layers
        .iter()
        .flat_map(|l| &l.features)
        .map(|f| {
            f.props
                .iter()
                .find(|(k, _)| k == "count")
                .map(|(_, v)| match v {
                    tg_spatial::mvt::Value::Int(i) => *i as usize,
                    _ => 1,
                })
                .unwrap_or(1)
        })
        .sum();
    (status, n)
}

async fn queries_judgments_and_scope(e: Engine) {
    let t = spawn_app(e).await;
    let id = demo_layer(&t, 600).await;
    let city = t.demo("city.leader").await;
    let county = t.demo("yc.leader").await; // 445302
    let town = t.demo("yc.town").await; // 445302001
    let all = all_features(&city, id).await;
    assert_eq!(all.len(), 600);
    let in_county: Vec<&Value> = all.iter().filter(|f| f["region_code"].as_str().unwrap().starts_with("445302")).collect();
    let in_town: Vec<&Value> = all.iter().filter(|f| f["region_code"].as_str().unwrap().starts_with("445302001")).collect();
    assert!(!in_county.is_empty() && !in_town.is_empty());
    assert_eq!(all_features(&county, id).await.len(), in_county.len());
    assert_eq!(all_features(&town, id).await.len(), in_town.len());

    // 行政区域 query by the county boundary = the features placed in that county.
    let qpath = format!("/api/v1/map/layers/{id}/query");
    let r = city.post(&qpath, json!({"shape": {"type": "region", "region_code": "445302"}, "page_size": 5})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["total"].as_u64().unwrap() as usize, in_county.len());
    assert_eq!(r.body["items"].as_array().unwrap().len(), 5);
    // Forward and inverse matching partition the visible features.
    let circle = json!({"type": "circle", "center": YUNCHENG, "radius_m": 8000});
    let inside = city.post(&qpath, json!({"shape": circle})).await.body["total"].as_i64().unwrap();
    let outside = city.post(&qpath, json!({"shape": circle, "mode": "outside"})).await.body["total"].as_i64().unwrap();
    assert_eq!(inside + outside, 600);
    assert!(inside > 0);
    // The same circle for the town user: only its own features.
    let town_inside = town.post(&qpath, json!({"shape": circle, "page_size": 100})).await.body;
    for f in town_inside["items"].as_array().unwrap() {
        assert!(f["region_code"].as_str().unwrap().starts_with("445302001"));
    }
    // Circle answers agree with geodesic distance computed here.
    let expect = all
        .iter()
        .filter(|f| {
            let c = &f["geometry"]["coordinates"];
            let p = tg_spatial::geo_types::Coord { x: c[0].as_f64().unwrap(), y: c[1].as_f64().unwrap() };
            tg_spatial::geodesic::distance_m(tg_spatial::geo_types::Coord { x: YUNCHENG[0], y: YUNCHENG[1] }, p) <= 8000.0
        })
        .count() as i64;
    assert_eq!(inside, expect);
    // Rectangle, polygon and line buffer answer too; an attribute filter narrows.
    let rect = city.post(&qpath, json!({"shape": {"type": "rect", "bbox": [111.0, 22.3, 112.6, 23.4]}})).await.body;
    assert_eq!(rect["total"], 600);
    let poly = json!({"type": "polygon", "geometry": {"type": "Polygon", "coordinates": [[[111.9, 22.8], [112.2, 22.8], [112.2, 23.0], [111.9, 23.0], [111.9, 22.8]]]}});
    let p_total = city.post(&qpath, json!({"shape": poly})).await.body["total"].as_i64().unwrap();
    let line = json!({"type": "line_buffer", "line": [[111.9, 22.9], [112.2, 22.9]], "distance_m": 5000});
    assert_eq!(city.post(&qpath, json!({"shape": line})).await.status, StatusCode::OK);
    let urgent =
        city.post(&qpath, json!({"shape": poly, "filters": [{"field": "urgent", "op": "eq", "value": true}], "page_size": 100})).await.body;
    assert!(urgent["total"].as_i64().unwrap() <= p_total);
    for f in urgent["items"].as_array().unwrap() {
        assert_eq!(f["properties"]["urgent"], true);
    }
    // Bad shapes: clear errors.
    for bad in [
        json!({"shape": {"type": "circle", "center": YUNCHENG, "radius_m": -5}}),
        json!({"shape": {"type": "rect", "bbox": [112.0, 23.0, 111.0, 22.0]}}),
        json!({"shape": {"type": "polygon", "geometry": {"type": "Point", "coordinates": YUNCHENG}}}),
        json!({"shape": {"type": "circle", "center": YUNCHENG, "radius_m": 10}, "filters": [{"field": "nope", "op": "eq", "value": 1}]}),
    ] {
        let r = city.post(&qpath, bad.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad} → {:?}", r.body);
    }
    let r = town.post(&qpath, json!({"shape": {"type": "region", "region_code": "445303"}})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Judgments: which county each point is in, and point-in-circle.
    let j = city
        .post(
            "/api/v1/map/judge",
            json!({"points": [YUNCHENG, YUNAN, [100.0, 20.0]], "shape": {"type": "circle", "center": YUNCHENG, "radius_m": 100}}),
        )
        .await;
    assert_eq!(j.status, StatusCode::OK, "{:?}", j.body);
    assert_eq!(j.body[0]["region_code"], "445302");
    assert_eq!(j.body[0]["inside"], true);
    assert_eq!(j.body[1]["region_code"], "445303");
    assert_eq!(j.body[1]["inside"], false);
    assert_eq!(j.body[2]["region_code"], Value::Null);
    let many: Vec<[f64; 2]> = (0..10_001).map(|i| [112.0 + i as f64 * 1e-6, 22.9]).collect();
    assert_eq!(city.post("/api/v1/map/judge", json!({"points": many})).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Clusters and heat count every visible feature once, for the whole layer and for a subset.
    let view = "bbox=110.5,22.0,113.0,23.8";
    for (c, n) in [(&city, 600usize), (&town, in_town.len())] {
        for zoom in [6, 9, 12, 17] {
            let r = c.get(&format!("/api/v1/map/layers/{id}/clusters?{view}&zoom={zoom}")).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            let total: u64 = r.body.as_array().unwrap().iter().map(|x| x["count"].as_u64().unwrap()).sum();
            assert_eq!(total as usize, n, "zoom {zoom}");
        }
        let h = c.get(&format!("/api/v1/map/layers/{id}/heat?{view}&zoom=10")).await.body;
        assert_eq!(h.as_array().unwrap().iter().map(|x| x["weight"].as_u64().unwrap()).sum::<u64>() as usize, n);
        // One zoom-0 tile holds everything.
        assert_eq!(tile_points(&t, c, id, 0, 0, 0).await, (StatusCode::OK, n));
    }
    let r = city.get(&format!("/api/v1/map/layers/{id}/clusters?bbox=1,2,3&zoom=5")).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "map.invalid_bbox"));
    assert_eq!(tile_points(&t, &city, id, 3, 9, 0).await.0, StatusCode::BAD_REQUEST);

    // Boundaries for the base map: the town user sees its county and the city, not 云安区.
    let b = town.get("/api/v1/map/boundaries").await.body;
    let codes: Vec<&str> = b["features"].as_array().unwrap().iter().map(|f| f["properties"]["code"].as_str().unwrap()).collect();
    assert_eq!(codes, vec!["445300", "445302"]);
    let b = city.get("/api/v1/map/boundaries?level=county").await.body;
    assert_eq!(b["features"].as_array().unwrap().len(), 5);
    // Every API speaks the caller's CRS: boundaries in Web Mercator metres, judgments of GCJ-02 points.
    let m = city.get("/api/v1/map/boundaries?level=county&crs=EPSG:3857").await.body;
    let x = m["features"][0]["geometry"]["coordinates"][0][0][0][0].as_f64().unwrap();
    assert!(x > 12_000_000.0 && x < 13_000_000.0, "{x}");
    let g = tg_spatial::Crs::Gcj02.from_canonical(tg_spatial::geo_types::Coord { x: YUNCHENG[0], y: YUNCHENG[1] });
    let j = city.post("/api/v1/map/judge", json!({"points": [[g.x, g.y]], "crs": "GCJ02"})).await.body;
    assert_eq!(j[0]["region_code"], "445302");
    assert!((j[0]["lon"].as_f64().unwrap() - g.x).abs() < 1e-12, "{j}");
}

/// Runs GDAL's `ogrinfo` (Debian gdal-bin) against the OGC API with a bearer token.
async fn ogrinfo(token: &str, args: Vec<String>) -> String {
    let token = token.to_string();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("ogrinfo")
            .args(&args)
            .env("GDAL_HTTP_HEADERS", format!("Authorization: Bearer {token}"))
            .env("CPL_DEBUG", "OFF")
            .output()
            .expect("ogrinfo (apt-get install gdal-bin) must be installed for the GDAL client test");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "ogrinfo {args:?} failed: {text}");
        text
    })
    .await
    .unwrap()
}

fn feature_count(text: &str) -> usize {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Feature Count: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no feature count in {text}"))
}

async fn ogc_api_features_and_gdal(e: Engine) {
    let t = spawn_app(e).await;
    let id = demo_layer(&t, 300).await;
    let city = t.demo("city.leader").await;
    let town = t.demo("yc.town").await;
    let town_total = all_features(&town, id).await.len();

    // Anonymous callers get nothing.
    assert_eq!(t.anon().get("/ogc/collections").await.status, StatusCode::UNAUTHORIZED);
    let landing = city.get("/ogc").await;
    assert_eq!(landing.status, StatusCode::OK);
    assert!(landing.body["links"].as_array().unwrap().iter().any(|l| l["rel"] == "data"));
    let conf = city.get("/ogc/conformance").await.body;
    assert!(conf["conformsTo"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().ends_with("/conf/geojson")));
    let cols = city.get("/ogc/collections").await.body;
    let col = cols["collections"].as_array().unwrap().iter().find(|c| c["id"] == "demo_events").unwrap().clone();
    assert_eq!(col["extent"]["spatial"]["bbox"][0].as_array().unwrap().len(), 4);
    // Items: paging with next links, numberMatched, bbox and property filters, scoping.
    let page = city.get("/ogc/collections/demo_events/items?limit=7&offset=0").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["content-type"], "application/geo+json");
    assert_eq!(page.body["numberMatched"], 300);
    assert_eq!(page.body["numberReturned"], 7);
    let next = page.body["links"].as_array().unwrap().iter().find(|l| l["rel"] == "next").unwrap()["href"].as_str().unwrap().to_string();
    assert!(next.contains("offset=7"), "{next}");
    let by_id = city.get(&format!("/ogc/collections/{id}/items?limit=1")).await;
    assert_eq!(by_id.body["numberMatched"], 300);
    let urgent = city.get("/ogc/collections/demo_events/items?urgent=true&limit=1000").await.body;
    for f in urgent["features"].as_array().unwrap() {
        assert_eq!(f["properties"]["urgent"], true);
    }
    let cat = city.get("/ogc/collections/demo_events/items?category=%E7%9F%9B%E7%9B%BE%E7%BA%A0%E7%BA%B7&limit=1000").await.body;
    assert!(cat["numberMatched"].as_i64().unwrap() > 0);
    for f in cat["features"].as_array().unwrap() {
        assert_eq!(f["properties"]["category"], "矛盾纠纷");
    }
    let boxed = city.get("/ogc/collections/demo_events/items?bbox=111.9,22.8,112.2,23.0&limit=1000").await.body;
    for f in boxed["features"].as_array().unwrap() {
        let c = &f["geometry"]["coordinates"];
        let (x, y) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!((111.9..=112.2).contains(&x) && (22.8..=23.0).contains(&y));
    }
    assert_eq!(town.get("/ogc/collections/demo_events/items?limit=1").await.body["numberMatched"].as_u64().unwrap() as usize, town_total);
    let first = &page.body["features"][0];
    let one = city.get(&format!("/ogc/collections/demo_events/items/{}", first["id"])).await;
    assert_eq!(one.body["id"], first["id"]);
    for bad in ["limit=0", "limit=abc", "offset=-1", "bbox=1,2,3", "nope=1"] {
        let r = city.get(&format!("/ogc/collections/demo_events/items?{bad}")).await;
        assert!(r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::UNPROCESSABLE_ENTITY, "{bad} → {}", r.status);
    }
    assert_eq!(city.get("/ogc/collections/no_such_layer").await.status, StatusCode::NOT_FOUND);

    // GDAL as a real client: the layer list, and feature counts that follow the caller's scope.
    let url = format!("OAPIF:{}/ogc", t.base);
    let listing = ogrinfo(city.token.as_deref().unwrap(), vec!["-ro".into(), url.clone()]).await;
    assert!(listing.contains("demo_events"), "{listing}");
    let summary = ogrinfo(city.token.as_deref().unwrap(), vec!["-ro".into(), "-so".into(), url.clone(), "demo_events".into()]).await;
    assert_eq!(feature_count(&summary), 300, "{summary}");
    assert!(summary.contains("category"), "{summary}");
    let summary = ogrinfo(town.token.as_deref().unwrap(), vec!["-ro".into(), "-so".into(), url.clone(), "demo_events".into()]).await;
    assert_eq!(feature_count(&summary), town_total, "{summary}");
    // Reading every feature (GDAL follows the `next` links) gives the same number.
    let all = ogrinfo(city.token.as_deref().unwrap(), vec!["-ro".into(), "-al".into(), "-q".into(), url, "demo_events".into()]).await;
    assert_eq!(all.matches("OGRFeature(demo_events)").count(), 300);
}

async fn post_bytes(t: &TestApp, c: &Client, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let r = c.http.post(format!("{}{path}", t.base)).bearer_auth(c.token.as_deref().unwrap()).body(body).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn import_and_export(e: Engine) {
    let t = spawn_app(e).await;
    let admin = t.demo("sysadmin").await;
    let id = make_layer(&admin).await;
    let town = t.demo("yc.town").await;
    let count = || async { t.scalar_i64("SELECT COUNT(*) FROM map_features").await };
    // A CSV with good rows and bad ones: wrong number, outside the city, missing required
    // attribute, outside the town's scope (云安区), unknown column (ignored, reported).
    let csv = "名称,经度,纬度,类型,床位,区划代码,备注\n\
               诊所甲,112.044,22.928,诊所,10,445302001009,x\n\
               诊所乙,112.046,22.929,诊所,很多,445302001009,x\n\
               诊所丙,100.0,20.0,诊所,3,,x\n\
               诊所丁,112.047,22.930,,3,445302001009,x\n\
               \n\
               诊所戊,112.005,23.075,诊所,3,,x\n\
               诊所己,112.045,22.927,药店,0,445302001009,x\n";
    let path = format!("/api/v1/map/layers/{id}/import");
    let (s, r) = post_bytes(&t, &town, &path, csv.as_bytes().to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["total"], 6);
    assert_eq!(r["valid"], 2);
    assert_eq!(r["ignored_fields"], json!(["备注"]));
    let rows: Vec<(u64, &str)> =
        r["errors"].as_array().unwrap().iter().map(|e| (e["row"].as_u64().unwrap(), e["field"].as_str().unwrap())).collect();
    assert!(rows.contains(&(3, "properties.beds")), "{rows:?}");
    assert!(rows.contains(&(4, "geometry")), "{rows:?}");
    assert!(rows.contains(&(5, "properties.kind")), "{rows:?}");
    assert!(rows.contains(&(7, "region_code")), "{rows:?} (blank line 6 keeps the file's numbering)");
    // All or nothing: with errors, nothing is written.
    let (s, r) = post_bytes(&t, &town, &format!("{path}?dry_run=false"), csv.as_bytes().to_vec()).await;
    assert_eq!((s, r["imported"].as_u64()), (StatusCode::UNPROCESSABLE_ENTITY, Some(0)));
    assert_eq!(count().await, 0);
    // Partial: the valid rows go in, the report lists the rest.
    let (s, r) = post_bytes(&t, &town, &format!("{path}?dry_run=false&partial=true"), csv.as_bytes().to_vec()).await;
    assert_eq!((s, r["imported"].as_u64()), (StatusCode::UNPROCESSABLE_ENTITY, Some(2)), "{r}");
    assert_eq!(count().await, 2);
    // The imported rows are in the index at once.
    let q = town
        .post(&format!("/api/v1/map/layers/{id}/query"), json!({"shape": {"type": "circle", "center": [112.044, 22.928], "radius_m": 500}}))
        .await;
    assert_eq!(q.body["total"], 2);
    // GeoJSON in GCJ-02, every row valid: written in one go.
    let g = |lon: f64, lat: f64| {
        let c = tg_spatial::Crs::Gcj02.from_canonical(tg_spatial::geo_types::Coord { x: lon, y: lat });
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [c.x, c.y]}, "properties": {"name": "导入点", "类型": "卫生站", "region_code": "445302001009"}})
    };
    let fc = json!({"type": "FeatureCollection", "features": [g(112.05, 22.93), g(112.051, 22.931)]});
    let (s, r) = post_bytes(&t, &town, &format!("{path}?dry_run=false&crs=GCJ02"), fc.to_string().into_bytes()).await;
    assert_eq!((s, r["imported"].as_u64()), (StatusCode::OK, Some(2)), "{r}");
    assert_eq!(count().await, 4);
    let (s, _) = post_bytes(&t, &town, &path, b"not a file at all".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Progress can be polled under a client-chosen id while an import runs, and read after it.
    let mut big = String::from("名称,经度,纬度,类型\n");
    for i in 0..1500 {
        big.push_str(&format!("点{i},{},{},诊所\n", 112.03 + (i % 50) as f64 * 0.0004, 22.91 + (i / 50) as f64 * 0.0004));
    }
    let poller = {
        let town = town.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..400 {
                let r = town.get("/api/v1/map/import-progress/import-test-0001").await;
                if r.status == StatusCode::OK {
                    let stage = r.body["stage"].as_str().unwrap().to_string();
                    if seen.last() != Some(&stage) {
                        seen.push(stage.clone());
                    }
                    if stage == "done" {
                        return (seen, r.body["total"].as_u64().unwrap());
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            (seen, 0)
        })
    };
    let (s, r) = post_bytes(&t, &town, &format!("{path}?progress_id=import-test-0001"), big.into_bytes()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "rows without a region resolve to the county, outside the town user's scope: {r}");
    let (stages, total) = poller.await.unwrap();
    assert_eq!(stages.last().map(String::as_str), Some("done"), "{stages:?}");
    assert_eq!(total, 1500);
    assert_eq!(town.get("/api/v1/map/import-progress/someone-elses").await.status, StatusCode::NOT_FOUND);
    let (s, _) = post_bytes(&t, &town, &format!("{path}?progress_id=bad id"), b"{}".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Export: GeoJSON of the layer, Excel of a query result; both audited.
    let r = town
        .http
        .post(format!("{}/api/v1/map/layers/{id}/export", t.base))
        .bearer_auth(town.token.as_deref().unwrap())
        .json(&json!({"format": "geojson"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let fc: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(fc["features"].as_array().unwrap().len(), 4);
    let names: Vec<&str> = fc["features"].as_array().unwrap().iter().map(|f| f["properties"]["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"诊所甲") && names.contains(&"导入点"), "{names:?}");
    let r = town
        .http
        .post(format!("{}/api/v1/map/layers/{id}/export", t.base))
        .bearer_auth(town.token.as_deref().unwrap())
        .json(&json!({"format": "xlsx", "query": {"shape": {"type": "circle", "center": [112.05, 22.93], "radius_m": 300}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap().to_vec();
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
    assert_eq!(rows[0][..6], ["编号", "名称", "区划代码", "所属区划", "经度", "纬度"].map(String::from));
    assert_eq!(rows.len(), 3, "the two GeoJSON points: {rows:?}");
    let r = town.post(&format!("/api/v1/map/layers/{id}/export"), json!({"format": "pdf"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'map.export'").await, 2);
    assert!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'map.import'").await >= 2);
}

async fn demo_boundaries_tile_counties_and_imports_replace_them(e: Engine) {
    let t = spawn_app(e).await;
    let city_code = RegionCode::parse("445300").unwrap();
    let n = t.app.map.seed_demo_boundaries(&AuditCtx::cli("test"), &city_code).await.unwrap();
    let towns_and_villages = t.scalar_i64("SELECT COUNT(*) FROM regions WHERE level IN ('town', 'village')").await as usize;
    assert!(n > towns_and_villages * 9 / 10, "{n} of {towns_and_villages}");
    assert_eq!(t.app.map.seed_demo_boundaries(&AuditCtx::cli("test"), &city_code).await.unwrap(), 0, "idempotent");
    let city = t.demo("city.leader").await;
    // A grid of points over 云城区: each point inside the county falls in a village of that county
    // whose town also covers it — the generated boundaries tile their parents.
    let mut points = Vec::new();
    for i in 0..30 {
        for j in 0..30 {
            points.push([111.95 + i as f64 * 0.006, 22.80 + j as f64 * 0.006]);
        }
    }
    let j = city.post("/api/v1/map/judge", json!({"points": points, "shape": {"type": "region", "region_code": "445302"}})).await;
    assert_eq!(j.status, StatusCode::OK, "{:?}", j.body);
    let mut inside = 0;
    for r in j.body.as_array().unwrap() {
        if r["inside"] == true {
            inside += 1;
            let v = r["region_code"].as_str().unwrap();
            assert!(v.len() == 12 && v.starts_with("445302"), "{r}");
            let town = json!({"points": [[r["lon"], r["lat"]]], "shape": {"type": "region", "region_code": &v[..9]}});
            assert_eq!(city.post("/api/v1/map/judge", town).await.body[0]["inside"], true, "{r}");
        }
    }
    assert!(inside > 300, "{inside}");
    let b = city.get("/api/v1/map/boundaries?level=town").await.body;
    assert!(b["features"].as_array().unwrap().iter().all(|f| f["properties"]["source"] == "demo-generated"));

    // Importing a real boundary replaces the generated one; a bad file changes nothing.
    let admin = t.demo("sysadmin").await;
    let square = json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "445302001"},
        "geometry": {"type": "Polygon", "coordinates": [[[112.03, 22.91], [112.06, 22.91], [112.06, 22.94], [112.03, 22.94], [112.03, 22.91]]]}}]});
    let bad = json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "445399999"},
        "geometry": {"type": "Polygon", "coordinates": [[[112.0, 22.9], [112.1, 22.9], [112.1, 23.0], [112.0, 22.9]]]}}]});
    let r = admin.post("/api/v1/map/boundaries/import", bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let r = admin.post("/api/v1/map/boundaries/import", square).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((r.body["loaded"].as_u64(), r.body["replaced"].as_u64()), (Some(1), Some(1)));
    let b = city.get("/api/v1/map/boundaries?level=town").await.body;
    let f = b["features"].as_array().unwrap().iter().find(|f| f["properties"]["code"] == "445302001").unwrap();
    assert_eq!(f["properties"]["source"], "imported");
    let j = city
        .post("/api/v1/map/judge", json!({"points": [[112.045, 22.925]], "shape": {"type": "region", "region_code": "445302001"}}))
        .await;
    assert_eq!(j.body[0]["inside"], true);
    // A town user may not import boundaries.
    let town = t.demo("yc.town").await;
    assert_eq!(town.post("/api/v1/map/boundaries/import", json!({})).await.status, StatusCode::FORBIDDEN);
}

/// A zipped Shapefile written by GDAL's ogr2ogr (GBK attributes, a .prj, a polygon with a hole)
/// is read with its encoding and orientation.
async fn shapefile_import_written_by_gdal(e: Engine) {
    let t = spawn_app(e).await;
    let admin = t.demo("sysadmin").await;
    let r = admin
        .post(
            "/api/v1/map/layers",
            json!({"code": "parcels", "name": "测试地块", "geometry_type": "polygon", "region_code": "445300",
                   "attr_schema": [{"name": "owner", "label": "权属", "type": "text", "required": true},
                                   {"name": "area_mu", "label": "面积亩", "type": "number"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    let dir = tempfile_dir();
    let src = dir.join("in.geojson");
    let fc = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"owner": "城北村集体", "area_mu": 12.5, "name": "地块一", "区划代码": "445302001009"},
         "geometry": {"type": "Polygon", "coordinates": [
             [[112.03, 22.91], [112.05, 22.91], [112.05, 22.93], [112.03, 22.93], [112.03, 22.91]],
             [[112.035, 22.915], [112.035, 22.92], [112.04, 22.92], [112.04, 22.915], [112.035, 22.915]]]}},
        {"type": "Feature", "properties": {"owner": "", "area_mu": 3, "name": "地块二", "区划代码": "445302001009"},
         "geometry": {"type": "Polygon", "coordinates": [[[112.06, 22.94], [112.07, 22.94], [112.07, 22.95], [112.06, 22.94]]]}}
    ]});
    std::fs::write(&src, fc.to_string()).unwrap();
    let out = dir.join("parcels.shp.zip");
    let status = std::process::Command::new("ogr2ogr")
        .args(["-f", "ESRI Shapefile", "-lco", "ENCODING=GBK"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("ogr2ogr (apt-get install gdal-bin) must be installed");
    assert!(status.success());
    let bytes = std::fs::read(&out).unwrap();
    let town = t.demo("yc.town").await;
    let path = format!("/api/v1/map/layers/{id}/import?dry_run=false&partial=true");
    let (s, r) = post_bytes(&t, &town, &path, bytes).await;
    // The second parcel lacks its owner: reported, the first imported.
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(r["total"], 2, "{r}");
    assert_eq!(r["imported"], 1, "{r}");
    assert_eq!(r["errors"][0]["row"], 2);
    assert_eq!(r["errors"][0]["field"], "properties.owner");
    let list = town.get(&format!("/api/v1/map/layers/{id}/features")).await.body;
    let f = &list["items"][0];
    assert_eq!(f["name"], "地块一");
    assert_eq!(f["properties"]["owner"], "城北村集体");
    assert_eq!(f["properties"]["area_mu"], 12.5);
    assert_eq!(f["geometry"]["type"], "Polygon");
    assert_eq!(f["geometry"]["coordinates"].as_array().unwrap().len(), 2, "the hole survives: {f}");
    // A point inside the hole is not in the parcel; one in the ring is.
    let q = |c: [f64; 2]| json!({"points": [c], "shape": {"type": "polygon", "geometry": f["geometry"].clone()}});
    assert_eq!(town.post("/api/v1/map/judge", q([112.0375, 22.9175])).await.body[0]["inside"], false);
    assert_eq!(town.post("/api/v1/map/judge", q([112.045, 22.925])).await.body[0]["inside"], true);
    // A self-intersecting parcel (a bow tie) is refused with the reason.
    let bow_tie =
        json!({"type": "Polygon", "coordinates": [[[112.03, 22.91], [112.05, 22.93], [112.05, 22.91], [112.03, 22.93], [112.03, 22.91]]]});
    let r = town
        .post(
            &format!("/api/v1/map/layers/{id}/features"),
            json!({"geometry": bow_tie, "properties": {"owner": "某村"}, "region_code": "445302001009"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(r.body["details"][0]["field"], "geometry");
    assert!(r.body["details"][0]["message"].as_str().unwrap().contains("不合法"), "{:?}", r.body);
    let _ = std::fs::remove_dir_all(dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tg-shp-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 + N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}
