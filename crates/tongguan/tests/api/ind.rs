//! 掌上数窗 API: dashboards on the demo pack, computations on pushed values (同比, 环比, 累计,
//! ranking, roll-up, formulas, targets), bad input that changes nothing, follows and their alerts,
//! leader instructions, comments by scope, search, exports with the watermark, and audit.

use crate::harness::{spawn_app, Client, Engine, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

crate::both_engines!(
    dashboards_on_the_demo_pack,
    computations_on_pushed_values,
    bad_values_change_nothing_and_imports_report_rows,
    follows_raise_alerts_into_the_message_list,
    instructions_comments_search_and_audit
);

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

async fn values_count(t: &TestApp) -> i64 {
    t.scalar_i64("SELECT COUNT(*) FROM ind_values").await
}

async fn dashboards_on_the_demo_pack(e: Engine) {
    let t = spawn_app(e).await;
    let n = t.app.seed_demo_indicators().await.unwrap();
    assert!(n > 50_000, "{n}");
    assert_eq!(t.app.seed_demo_indicators().await.unwrap(), 0, "seeding twice adds nothing");
    let leader = t.demo("city.leader").await;
    let topics = leader.get("/api/v1/ind/topics").await.body;
    let codes: Vec<&str> = topics.as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap()).collect();
    for c in ["economy", "eco_env", "urban_build", "tax", "key_projects", "natural_res", "market", "employ", "youth"] {
        assert!(codes.contains(&c), "{c} missing from {codes:?}");
    }
    // Every widget of every topic computes without error and most show data.
    let mut charts = std::collections::BTreeSet::new();
    for c in &codes {
        let d = leader.get(&format!("/api/v1/ind/topics/{c}/dashboard")).await;
        assert_eq!(d.status, StatusCode::OK, "{c}: {:?}", d.body);
        assert!(d.body["watermark"].as_str().unwrap().contains("city.leader"));
        for w in d.body["widgets"].as_array().unwrap() {
            charts.insert(w["chart"].as_str().unwrap().to_owned());
            let has = w["cards"].as_array().unwrap().iter().any(|c| c["value"].is_number())
                || w["series"].as_array().unwrap().iter().any(|s| s["values"].as_array().unwrap().iter().any(Value::is_number));
            assert!(has, "{c}/{} shows no data", w["id"]);
        }
    }
    assert_eq!(charts.len(), 9, "{charts:?}");
    // Additive indicators: the city is the sum of its counties; each value carries the demo source.
    let ind = leader.get("/api/v1/ind/indicators?topic=economy&page_size=100").await.body;
    let sum_ind = ind["items"].as_array().unwrap().iter().find(|i| i["agg"] == "sum" && i["formula"].is_null()).unwrap();
    let code = sum_ind["code"].as_str().unwrap();
    let b = leader.get(&format!("/api/v1/ind/indicators/{code}/breakdown?by=region")).await.body;
    let counties: f64 = b["points"].as_array().unwrap().iter().map(|p| num(&p["value"])).sum();
    assert_eq!(b["points"].as_array().unwrap().len(), 5);
    let s = leader.get(&format!("/api/v1/ind/indicators/{code}/series?to={}", b["period"].as_str().unwrap())).await.body;
    let city = s["points"].as_array().unwrap().last().unwrap();
    assert!((num(&city["value"]) - counties).abs() < 0.05, "{} vs {counties}", city["value"]);
    assert!(city["source"].as_str().unwrap().contains("演示数据") && city["is_demo"] == true);
    // The generated distribution report (青年创业 行业统计报告) of an indicator with categories.
    let youth = leader.get("/api/v1/ind/indicators?topic=youth&page_size=50").await.body;
    let with_cats =
        youth["items"].as_array().unwrap().iter().find(|i| !i["categories"].is_null()).unwrap()["code"].as_str().unwrap().to_owned();
    let rep = leader.get(&format!("/api/v1/ind/indicators/{with_cats}/report")).await.body;
    assert!(rep["title"].as_str().unwrap().contains("统计报告"), "{rep}");
    let shares: f64 = rep["rows"].as_array().unwrap().iter().map(|r| num(&r["share"])).sum();
    assert!((shares - 100.0).abs() < 0.1, "{shares}");
    assert!(rep["paragraphs"].as_array().unwrap().len() >= 3 && rep["paragraphs"][1].as_str().unwrap().contains("排名前三"));
    assert_eq!(rep["regions"].as_array().unwrap().len(), 5);
    // Drill-down: a county's dashboard, and towns where the pack generates them.
    let d = leader.get("/api/v1/ind/topics/eco_env/dashboard?region=445302").await.body;
    assert_eq!(d["region_path"].as_array().unwrap().len(), 2);
    let towns = leader.get("/api/v1/ind/indicators?q=市场主体&page_size=50").await.body;
    let town_ind = towns["items"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let mut reached_towns = false;
    for c in &town_ind {
        let b = leader.get(&format!("/api/v1/ind/indicators/{c}/breakdown?by=region&region=445302")).await.body;
        if b["points"].as_array().is_some_and(|p| p.len() > 3) {
            reached_towns = true;
        }
    }
    assert!(reached_towns, "no 市场主体 indicator drills to towns");
    // A county leader sees the county and the city total, not another county.
    let yc = t.demo("yc.leader").await;
    assert_eq!(yc.get("/api/v1/ind/topics/eco_env/dashboard?region=445300").await.status, StatusCode::OK);
    let r = yc.get("/api/v1/ind/topics/eco_env/dashboard?region=445303").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let b = yc.get(&format!("/api/v1/ind/indicators/{code}/breakdown?by=region&region=445300")).await.body;
    let seen: Vec<&str> = b["points"].as_array().unwrap().iter().map(|p| p["region_code"].as_str().unwrap()).collect();
    assert_eq!(seen, vec!["445302"]);
    // Views of the restricted 税务决策 topic are audited.
    let before = t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'ind.topic_view'").await;
    assert_eq!(leader.get("/api/v1/ind/topics/tax/dashboard").await.status, StatusCode::OK);
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'ind.topic_view'").await, before + 1);
}

async fn create(admin: &Client, body: Value) {
    let r = admin.post("/api/v1/ind/indicators", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

fn row(ind: &str, period: &str, region: &str, value: f64) -> Value {
    json!({"indicator": ind, "period": period, "region_code": region, "value": value})
}

async fn computations_on_pushed_values(e: Engine) {
    let t = spawn_app(e).await;
    let admin = t.demo("data.admin").await;
    create(
        &admin,
        json!({"code": "t_out", "name": "测试产值", "unit": "亿元", "frequency": "month", "agg": "sum", "direction": "up",
        "targets": {"2025": 100.0}}),
    )
    .await;
    create(&admin, json!({"code": "t_pop", "name": "测试人口", "unit": "万人", "frequency": "month", "agg": "stock"})).await;
    create(&admin, json!({"code": "t_rate", "name": "测试达标率", "unit": "%", "frequency": "month", "agg": "avg", "direction": "up"}))
        .await;
    create(&admin, json!({"code": "t_per", "name": "人均产值", "unit": "元", "frequency": "month", "agg": "stock", "formula": "t_out / t_pop * 10000"})).await;
    let mut rows = Vec::new();
    for (m, a, b) in
        [("2024-01", 10.0, 5.0), ("2024-02", 20.0, 6.0), ("2024-03", 30.0, 7.0), ("2025-01", 12.0, 4.0), ("2025-03", 36.0, 9.0)]
    {
        rows.push(row("t_out", m, "445302", a));
        rows.push(row("t_out", m, "445303", b));
        rows.push(row("t_pop", m, "445302", 40.0));
        rows.push(row("t_pop", m, "445303", 20.0));
    }
    rows.push(row("t_rate", "2025-03", "445302", 90.0));
    rows.push(row("t_rate", "2024-03", "445302", 88.5));
    let r = admin.post("/api/v1/ind/values", json!({"source": "测试推送", "rows": rows})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["imported"], 22);

    // The city rolls up from its counties; figures follow.
    let s = admin.get("/api/v1/ind/indicators/t_out/series?from=2025-01&to=2025-03").await.body;
    let p: Vec<&Value> = s["points"].as_array().unwrap().iter().collect();
    assert_eq!(p.len(), 3);
    assert_eq!(num(&p[0]["value"]), 16.0);
    assert!(p[1]["value"].is_null(), "February 2025 was not loaded");
    let mar = p[2];
    assert_eq!(num(&mar["value"]), 45.0);
    assert_eq!(num(&mar["yoy"]), 21.62, "45 against 37");
    assert!(mar["mom"].is_null());
    assert_eq!(num(&mar["cumulative"]), 61.0);
    assert_eq!(num(&mar["cumulative_yoy"]), -21.79, "61 against 78");
    assert_eq!(num(&mar["completion"]), 61.0, "target 100 for 2025");
    assert!(mar["computed"] == true && mar["source"] == "下级汇总");
    // Ranking among counties.
    let b = admin.get("/api/v1/ind/indicators/t_out/breakdown?by=region&period=2025-03").await.body;
    let ranks: Vec<(String, i64)> = b["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["region_code"].as_str().unwrap().to_owned(), p["rank"].as_i64().unwrap()))
        .collect();
    assert_eq!(ranks, vec![("445302".into(), 1), ("445303".into(), 2)]);
    assert_eq!(b["points"][0]["source"], "测试推送");
    // Rates grow in percentage points.
    let s = admin.get("/api/v1/ind/indicators/t_rate/series?region=445302&from=2025-03&to=2025-03").await.body;
    assert_eq!(num(&s["points"][0]["yoy"]), 1.5);
    assert_eq!(s["indicator"]["yoy_unit"], "百分点");
    // The derived indicator: 45亿元 / 60万人 * 10000 = 7500 元.
    let s = admin.get("/api/v1/ind/indicators/t_per/series?from=2025-03&to=2025-03").await.body;
    assert_eq!(num(&s["points"][0]["value"]), 7500.0);
    // Derived indicators take no values; formulas must be sound.
    let r = admin.post("/api/v1/ind/values", json!({"source": "x", "rows": [row("t_per", "2025-03", "445302", 1.0)]})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = admin
        .post(
            "/api/v1/ind/indicators",
            json!({"code": "t_bad", "name": "坏公式", "frequency": "year", "agg": "sum", "formula": "t_out / nothing"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let msgs: Vec<String> = r.body["details"].as_array().unwrap().iter().map(|d| d["message"].as_str().unwrap().to_owned()).collect();
    assert!(msgs.iter().any(|m| m.contains("nothing")) && msgs.iter().any(|m| m.contains("更新频率不同")), "{msgs:?}");
    // Editing with a stale version is a conflict; a formula in use blocks deletion.
    let cur = admin.get("/api/v1/ind/indicators/t_out").await.body;
    let mut edit =
        json!({"code": "t_out", "name": "测试产值（改）", "unit": "亿元", "frequency": "month", "agg": "sum", "version": cur["version"]});
    assert_eq!(admin.put("/api/v1/ind/indicators/t_out", edit.clone()).await.status, StatusCode::OK);
    edit["name"] = json!("再改");
    assert_eq!(admin.put("/api/v1/ind/indicators/t_out", edit).await.code(), "ind.version_conflict");
    assert_eq!(admin.delete("/api/v1/ind/indicators/t_out").await.code(), "ind.indicator_in_use");
}

async fn post_bytes(t: &TestApp, c: &Client, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let r = c.http.post(format!("{}{path}", t.base)).bearer_auth(c.token.as_deref().unwrap()).body(body).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn bad_values_change_nothing_and_imports_report_rows(e: Engine) {
    let t = spawn_app(e).await;
    t.app.seed_demo_indicators().await.ok();
    let clerk = t.demo("city.clerk").await; // 云浮市生态环境局
    let before = values_count(&t).await;
    let rows = vec![
        row("env_aqi", "2026-13", "445302", 40.0),
        row("no_such", "2026-10", "445302", 40.0),
        row("env_aqi", "2026-10", "999999", 40.0),
        json!({"indicator": "env_primary_pollutant_days", "period": "2026-10", "region_code": "445302", "category": "沙尘", "value": 1.0}),
        row("env_aqi", "2026-10", "445302", 40.0),
        row("env_aqi", "2026-10", "445302", 41.0),
        row("tax_revenue_total", "2026-10", "445302", 41.0),
    ];
    let r = clerk.post("/api/v1/ind/values", json!({"source": "错误数据", "rows": rows})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let errs: Vec<(i64, String)> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["field"].as_str().unwrap().to_owned()))
        .collect();
    for (n, f) in [(1, "period"), (2, "indicator"), (3, "region_code"), (4, "category"), (6, "period")] {
        assert!(errs.contains(&(n, f.to_owned())), "row {n} {f} not in {errs:?}");
    }
    assert_eq!(values_count(&t).await, before, "nothing written");
    // A county clerk cannot load the city's values (outside the scope).
    let ya = t.demo("ya.clerk").await;
    let r = ya.post("/api/v1/ind/values", json!({"source": "x", "rows": [row("env_aqi", "2026-10", "445300", 1.0)]})).await;
    assert!(r.status == StatusCode::UNPROCESSABLE_ENTITY || r.status == StatusCode::FORBIDDEN, "{:?}", r.body);

    // File import: wrong template, then a CSV with one bad row (nothing written), then a good one.
    let (s, b) = post_bytes(&t, &clerk, "/api/v1/ind/values/import?filename=x.csv&dry_run=false", "a,b,c\n1,2,3\n".into()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b["details"][0]["message"].as_str().unwrap().contains("模板"), "{b:?}");
    let csv = "指标编码,统计期,行政区划代码,分类,数值\nenv_aqi,2026-10,445302,,38\nenv_aqi,2026/10,445303,,abc\n";
    let (s, b) = post_bytes(&t, &clerk, "/api/v1/ind/values/import?filename=v.csv&dry_run=false", csv.into()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["errors"][0]["row"], 3);
    assert_eq!(values_count(&t).await, before);
    let csv = "指标编码,统计期,行政区划代码,分类,数值\nenv_aqi,2026-11,445302,,38\nenv_aqi,2026-11,445303,,39.5\n";
    let (s, b) = post_bytes(&t, &clerk, "/api/v1/ind/values/import?filename=v.csv&dry_run=true", csv.into()).await;
    assert_eq!((s, b["valid"].as_i64(), b["imported"].as_i64()), (StatusCode::OK, Some(2), Some(0)));
    let (s, b) = post_bytes(&t, &clerk, "/api/v1/ind/values/import?filename=v.csv&dry_run=false", csv.into()).await;
    assert_eq!((s, b["imported"].as_i64()), (StatusCode::OK, Some(2)));
    assert_eq!(values_count(&t).await, before + 2);
    let s = clerk.get("/api/v1/ind/indicators/env_aqi/series?region=445303&from=2026-11&to=2026-11").await.body;
    assert_eq!(num(&s["points"][0]["value"]), 39.5);
    assert!(s["points"][0]["source"].as_str().unwrap().contains("v.csv"));
    // The template downloads; the export carries the viewer's watermark and is audited.
    let tpl =
        clerk.http.get(format!("{}/api/v1/ind/values/template", t.base)).bearer_auth(clerk.token.as_deref().unwrap()).send().await.unwrap();
    assert_eq!(tpl.status(), StatusCode::OK);
    assert!(tpl.bytes().await.unwrap().starts_with(b"PK"));
    let out = clerk
        .http
        .get(format!("{}/api/v1/ind/indicators/env_aqi/export?format=csv", t.base))
        .bearer_auth(clerk.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    let text = out.text().await.unwrap();
    assert!(text.contains("李科员（演示） city.clerk"), "{}", &text[..200.min(text.len())]);
    assert!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'ind.export'").await >= 1);
}

async fn follows_raise_alerts_into_the_message_list(e: Engine) {
    let t = spawn_app(e).await;
    let admin = t.demo("data.admin").await;
    create(&admin, json!({"code": "t_aqi", "name": "测试AQI", "frequency": "month", "agg": "avg", "direction": "down"})).await;
    let r = admin.post("/api/v1/ind/values", json!({"source": "监测", "rows": [row("t_aqi", "2026-09", "445300", 50.0)]})).await;
    assert_eq!(r.status, StatusCode::OK);
    let leader = t.demo("city.leader").await;
    let alerts = || async {
        leader.get("/api/v1/messages?page_size=100").await.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "ind.alert")
            .count()
    };
    // Thresholds the wrong way round for a lower-is-better indicator are refused.
    let r = leader.post("/api/v1/ind/follows", json!({"kind": "indicator", "code": "t_aqi", "yellow": 80, "red": 60})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let f = leader.post("/api/v1/ind/follows", json!({"kind": "indicator", "code": "t_aqi", "yellow": 60, "red": 80})).await;
    assert_eq!(f.status, StatusCode::CREATED, "{:?}", f.body);
    assert_eq!((f.body["light"].as_str(), alerts().await), (Some("green"), 0));
    assert_eq!(leader.post("/api/v1/ind/follows", json!({"kind": "indicator", "code": "t_aqi"})).await.code(), "ind.already_followed");
    // A new value past yellow raises one warning; the same light again raises nothing; red raises a critical one.
    let r = admin.post("/api/v1/ind/values", json!({"source": "监测", "rows": [row("t_aqi", "2026-10", "445300", 65.0)]})).await;
    assert_eq!(r.body["alerts"], 1);
    let msgs = leader.get("/api/v1/messages?page_size=100").await.body;
    let m = msgs["items"].as_array().unwrap().iter().find(|m| m["kind"] == "ind.alert").unwrap().clone();
    assert_eq!(m["level"], "warning");
    assert!(m["title"].as_str().unwrap().contains("测试AQI") && m["body"].as_str().unwrap().contains("65"), "{m}");
    admin.post("/api/v1/ind/values", json!({"source": "监测", "rows": [row("t_aqi", "2026-10", "445300", 66.0)]})).await;
    assert_eq!(alerts().await, 1);
    admin.post("/api/v1/ind/values", json!({"source": "监测", "rows": [row("t_aqi", "2026-11", "445300", 90.0)]})).await;
    assert_eq!(alerts().await, 2);
    let list = leader.get("/api/v1/ind/follows").await.body;
    assert_eq!(list[0]["light"], "red");
    // Lowering the threshold below the current value alerts at once for a fresh light.
    let id = list[0]["id"].as_i64().unwrap();
    let r = leader.put(&format!("/api/v1/ind/follows/{id}"), json!({"yellow": 95, "red": 99})).await;
    assert_eq!(r.body["light"], "green");
    assert_eq!(leader.delete(&format!("/api/v1/ind/follows/{id}")).await.status, StatusCode::NO_CONTENT);
    // Topics can be followed too (no thresholds).
    assert_eq!(leader.post("/api/v1/ind/follows", json!({"kind": "topic", "code": "eco_env"})).await.status, StatusCode::CREATED);
    assert_eq!(
        leader.get("/api/v1/ind/topics").await.body.as_array().unwrap().iter().find(|x| x["code"] == "eco_env").unwrap()["followed"],
        true
    );
}

async fn instructions_comments_search_and_audit(e: Engine) {
    let t = spawn_app(e).await;
    let leader = t.demo("city.leader").await;
    let clerk = t.demo("city.clerk").await;
    let depts = leader.get("/api/v1/ind/instruction-departments").await.body;
    let sthj = depts.as_array().unwrap().iter().find(|d| d["name"] == "云浮市生态环境局").unwrap()["id"].as_i64().unwrap();
    let bad = leader
        .post(
            "/api/v1/ind/instructions",
            json!({"target": "indicator:none", "target_label": "", "content": "", "department_id": 0, "deadline": "2020-01-01"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["details"].as_array().unwrap().len(), 5, "{:?}", bad.body);
    let r = leader
        .post("/api/v1/ind/instructions", json!({"target": "indicator:env_aqi", "target_label": "空气质量指数", "context": {"period": "2026-10", "region_code": "445300", "value": 55.0},
            "content": "AQI 同比上升，请分析原因并提出措施", "department_id": sthj, "deadline": "2030-12-31"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    // The department sees it in its todo box and got a message; another department does not.
    let todo = clerk.get("/api/v1/ind/instructions?box=todo").await.body;
    assert_eq!(todo["items"][0]["id"], id);
    assert!(clerk.get("/api/v1/messages").await.body["items"].as_array().unwrap().iter().any(|m| m["kind"] == "ind.instruction"));
    let ya = t.demo("ya.clerk").await;
    assert_eq!(ya.get(&format!("/api/v1/ind/instructions/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        ya.post(&format!("/api/v1/ind/instructions/{id}/reply"), json!({"content": "x", "version": 1})).await.status,
        StatusCode::NOT_FOUND
    );
    // Leaders cannot reply; closing needs the author; returning needs a reply first.
    assert_eq!(
        leader.post(&format!("/api/v1/ind/instructions/{id}/return"), json!({"content": "重办", "version": 1})).await.code(),
        "ind.instruction_state"
    );
    let r = clerk.post(&format!("/api/v1/ind/instructions/{id}/reply"), json!({"content": "已组织分析，措施见附件", "version": 1})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("replied")));
    // A second reply on the same version loses (optimistic lock).
    assert_eq!(
        clerk.post(&format!("/api/v1/ind/instructions/{id}/reply"), json!({"content": "重复", "version": 1})).await.status,
        StatusCode::CONFLICT
    );
    let r = leader.post(&format!("/api/v1/ind/instructions/{id}/return"), json!({"content": "请补充整改时限", "version": 2})).await;
    assert_eq!(r.body["status"], "open");
    clerk.post(&format!("/api/v1/ind/instructions/{id}/reply"), json!({"content": "整改时限为12月底", "version": 3})).await;
    let r = leader.post(&format!("/api/v1/ind/instructions/{id}/close"), json!({"content": "同意办结", "version": 4})).await;
    assert_eq!(r.body["status"], "closed");
    let actions: Vec<&str> = r.body["log"].as_array().unwrap().iter().map(|l| l["action"].as_str().unwrap()).collect();
    assert_eq!(actions, vec!["issue", "reply", "return", "reply", "close"]);
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'ind.instruction_%'").await, 5);

    // Comments: visible on the author's line of the hierarchy only; threaded.
    let yc = t.demo("yc.leader").await;
    let yn = t.demo("yn.leader").await;
    let c = yc
        .post(
            "/api/v1/ind/comments",
            json!({"target": "widget:eco_env/aqi_region", "region_code": "445302", "period": "2026-10", "content": "云城区AQI偏高"}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{:?}", c.body);
    let cid = c.body["id"].as_i64().unwrap();
    let r = leader
        .post("/api/v1/ind/comments", json!({"target": "widget:eco_env/aqi_region", "parent_id": cid, "content": "请云城区重点关注"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let seen = leader.get("/api/v1/ind/comments?target=widget:eco_env/aqi_region").await.body;
    assert_eq!((seen["total"].as_i64(), seen["items"][0]["replies"].as_array().unwrap().len()), (Some(1), 1));
    assert_eq!(yn.get("/api/v1/ind/comments?target=widget:eco_env/aqi_region").await.body["total"], 0);
    assert_eq!(
        yc.post("/api/v1/ind/comments", json!({"target": "widget:eco_env/none", "content": "x"})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(yn.delete(&format!("/api/v1/ind/comments/{cid}")).await.status, StatusCode::NOT_FOUND);

    // Search: Chinese words, pinyin initials, related indicators.
    let r = leader.get("/api/v1/ind/search?q=空气质量").await.body;
    let hits: Vec<&str> = r["indicators"].as_array().unwrap().iter().map(|h| h["indicator"]["code"].as_str().unwrap()).collect();
    assert!(hits.contains(&"env_aqi"), "{hits:?}");
    assert!(r["topics"].as_array().unwrap().iter().any(|t| t["code"] == "eco_env"));
    let r = leader.get("/api/v1/ind/search?q=kqzl").await.body;
    assert!(r["indicators"].as_array().unwrap().iter().any(|h| h["matched"].as_array().unwrap().contains(&json!("pinyin"))), "{r}");
    let r = leader.get("/api/v1/ind/indicators/env_aqi/related").await.body;
    assert!(!r.as_array().unwrap().is_empty());
    assert_eq!(leader.get("/api/v1/ind/search?q=").await.status, StatusCode::UNPROCESSABLE_ENTITY);
}
