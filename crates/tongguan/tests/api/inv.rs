//! 招商引资 API on the workflow engine: the lifecycle from first contact through county review (with a
//! return), a transfer between counties, review filing, signing and production; county isolation;
//! optimistic locking; 项目统一代码; the legacy import (row report, all-or-nothing), export and statistics.

use crate::harness::{spawn_app, Client, Engine, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

crate::both_engines!(
    lifecycle_from_first_contact_to_production,
    counties_are_isolated_and_conflicts_lose,
    codes_import_export_and_statistics,
    keyword_search_and_capped_counts,
    acting_after_another_process_appended_to_the_audit_chain
);

pub fn project_input(name: &str) -> Value {
    json!({
        "name": name,
        "investor": "测试投资有限公司",
        "investor_origin": "广东省广州市",
        "industry_code": "C39",
        "amount": 12000,
        "land_area": 80,
        "contact_name": "王经理",
        "contact_phone": "13812345678",
        "source": "以商引商",
        "first_contact_date": "2026-11-02"
    })
}

async fn post_bytes(t: &TestApp, c: &Client, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let r = c.http.post(format!("{}{path}", t.base)).bearer_auth(c.token.as_deref().unwrap()).body(body).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn view(c: &Client, instance: i64) -> Value {
    let r = c.get(&format!("/api/v1/wf/instances/{instance}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

/// Acts with the instance version the caller sees now.
async fn act(c: &Client, instance: i64, body: Value) -> crate::harness::Resp {
    let v = view(c, instance).await;
    let mut b = body;
    b["version"] = v["instance"]["version"].clone();
    c.post(&format!("/api/v1/wf/instances/{instance}/act"), b).await
}

async fn upload_pdf(t: &TestApp, c: &Client) -> i64 {
    let (s, b) =
        post_bytes(t, c, "/api/v1/inv/files?filename=%E8%B5%84%E6%96%99.pdf&doc_type=%E5%85%B6%E4%BB%96", b"%PDF-1.4\n%test\n".to_vec())
            .await;
    assert_eq!(s, StatusCode::OK, "{b:?}");
    b["id"].as_i64().unwrap()
}

async fn material(t: &TestApp, c: &Client, id: i64, instance: i64, kind: &str, data: Value) -> crate::harness::Resp {
    let file = upload_pdf(t, c).await;
    let v = view(c, instance).await;
    c.put(
        &format!("/api/v1/inv/projects/{id}/materials/{kind}"),
        json!({"data": data, "file_ids": [file], "submit": true, "version": v["instance"]["version"]}),
    )
    .await
}

fn actions(v: &Value) -> Vec<String> {
    v["actions"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap().to_owned()).collect()
}

async fn lifecycle_from_first_contact_to_production(e: Engine) {
    let t = spawn_app(e).await;
    let staff = t.demo("yc.inv").await;
    let lead = t.demo("yc.invlead").await;
    let ya = t.demo("ya.inv").await;
    let ya_lead = t.demo("ya.invlead").await;
    let city = t.demo("city.inv").await;
    let projects = t.scalar_i64("SELECT COUNT(*) FROM inv_projects").await;

    // Bad input: a clear field-by-field answer and nothing written.
    let mut bad = project_input("");
    bad["amount"] = json!(-5);
    bad["contact_phone"] = json!("12345");
    bad["industry_code"] = json!("Z99");
    bad["first_contact_date"] = json!("2099-01-01");
    let r = staff.post("/api/v1/inv/projects", bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = r.body["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    for f in ["name", "amount", "contact_phone", "industry_code", "first_contact_date"] {
        assert!(fields.contains(&f), "{f} not in {fields:?}");
    }
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM inv_projects").await, projects);

    // 暂存 (draft), then 提交.
    let r = staff.post("/api/v1/inv/projects", project_input("生命周期测试项目")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["project"]["id"].as_i64().unwrap();
    let inst = r.body["project"]["instance_id"].as_i64().unwrap();
    assert_eq!(r.body["project"]["stage"], "draft");
    assert_eq!(r.body["project"]["contact_phone"], "138****5678", "phones are masked");
    assert!(actions(&r.body["workflow"]).contains(&"submit".to_owned()));
    // The leader cannot submit someone's draft, nor approve a step that is not theirs.
    assert_eq!(act(&lead, inst, json!({"action": "submit"})).await.code(), "wf.not_allowed");
    let r = act(&staff, inst, json!({"action": "submit"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["instance"]["state"], "county_review");
    assert_eq!(act(&staff, inst, json!({"action": "approve"})).await.code(), "wf.not_allowed");
    // The leader has it in 待办, with a deadline in working days.
    let todo = lead.get("/api/v1/wf/tasks?box=todo&business_type=inv_project").await.body;
    let task = todo["items"].as_array().unwrap().iter().find(|x| x["instance_id"] == json!(inst)).expect("in the leader's inbox").clone();
    assert_eq!(task["step"], "county_review");
    assert!(task["due_date"].as_str().is_some());

    // 退回 needs a reason; with one it goes back to the initiator, who sees it and resubmits.
    let r = act(&lead, inst, json!({"action": "return"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let r = act(&lead, inst, json!({"action": "return", "comment": "投资额口径请核实", "target_state": "draft"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["instance"]["state"], "draft");
    let mine = staff.get("/api/v1/wf/tasks?box=todo").await.body;
    assert!(mine["items"].as_array().unwrap().iter().any(|x| x["instance_id"] == json!(inst) && x["step"] == "draft"));
    assert_eq!(act(&staff, inst, json!({"action": "submit"})).await.status, StatusCode::OK);
    // 撤回 before the leader handles it, then submit again.
    let r = act(&staff, inst, json!({"action": "withdraw"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["instance"]["state"], "draft");
    assert_eq!(act(&staff, inst, json!({"action": "submit"})).await.status, StatusCode::OK);
    let r = act(&lead, inst, json!({"action": "approve", "comment": "同意"})).await;
    assert_eq!(r.body["instance"]["state"], "negotiating", "{:?}", r.body);
    // The leader's 已办 lists it; the staff member cannot withdraw a handled step.
    let done = lead.get("/api/v1/wf/tasks?box=done").await.body;
    assert!(done["items"].as_array().unwrap().iter().any(|x| x["instance_id"] == json!(inst)));

    // An edit at 在谈: amount is editable, the name is not; the change log has before/after.
    let d = staff.get(&format!("/api/v1/inv/projects/{id}")).await.body;
    assert_eq!(d["workflow"]["field_perms"]["amount"], "edit");
    assert_eq!(d["workflow"]["field_perms"]["name"], "read");
    let mut edit = project_input("生命周期测试项目");
    edit["amount"] = json!(15000);
    edit["contact_phone"] = d["project"]["contact_phone"].clone(); // the masked value keeps the number
    edit["version"] = d["project"]["version"].clone();
    let r = staff.put(&format!("/api/v1/inv/projects/{id}"), edit.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // A stale version loses.
    assert_eq!(staff.put(&format!("/api/v1/inv/projects/{id}"), edit.clone()).await.code(), "inv.conflict");
    let mut rename = edit.clone();
    rename["name"] = json!("改名");
    rename["version"] = r.body["project"]["version"].clone();
    let bad = staff.put(&format!("/api/v1/inv/projects/{id}"), rename).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);
    let log = staff.get(&format!("/api/v1/inv/projects/{id}/changes")).await.body;
    let amount = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["changes"].as_array().unwrap().clone())
        .find(|c| c["field"] == "amount")
        .unwrap();
    assert_eq!((amount["before"].as_str(), amount["after"].as_str()), (Some("12000"), Some("15000")));

    // 流转 to 云安区: a reason is needed and the target must be another county of the city.
    assert_eq!(act(&staff, inst, json!({"action": "transfer_region", "region": "445303"})).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        act(&staff, inst, json!({"action": "transfer_region", "region": "445302", "comment": "x"})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let r = act(&staff, inst, json!({"action": "transfer_region", "region": "445303", "comment": "用地在云安区更合适"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["instance"]["state"], "transfer");
    // 云安区 sees it (pending) and confirms; 云城区 keeps the history but no longer the project.
    let incoming = ya.get("/api/v1/inv/transfers?dir=in&status=pending").await.body;
    assert!(incoming["items"].as_array().unwrap().iter().any(|x| x["project_id"] == json!(id)));
    let r = act(&ya, inst, json!({"action": "confirm", "comment": "同意接收"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["instance"]["state"], "negotiating");
    assert_eq!(r.body["instance"]["region_code"], "445303");
    assert_eq!(staff.get(&format!("/api/v1/inv/projects/{id}")).await.status, StatusCode::NOT_FOUND);
    let out = staff.get("/api/v1/inv/transfers?dir=out").await.body;
    let tr = out["items"].as_array().unwrap().iter().find(|x| x["project_id"] == json!(id)).unwrap().clone();
    assert_eq!(tr["status"], "confirmed");
    assert_eq!(tr["to_name"], "云安区");

    // 评审备案资料: the wrong file type is refused; 暂存 keeps a draft; 提交 moves the workflow.
    let (s, b) = post_bytes(&t, &ya, "/api/v1/inv/files?filename=x.exe&doc_type=%E5%85%B6%E4%BB%96", b"MZ".to_vec()).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("inv.file_type")));
    let (s, b) = post_bytes(&t, &ya, "/api/v1/inv/files?filename=fake.pdf&doc_type=%E5%85%B6%E4%BB%96", b"not a pdf".to_vec()).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("inv.file_type")));
    let v = view(&ya, inst).await;
    let r = ya
        .put(
            &format!("/api/v1/inv/projects/{id}/materials/filing"),
            json!({"data": {"summary": "草稿"}, "file_ids": [], "submit": false, "version": v["instance"]["version"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["project"]["stage"], "negotiating");
    let r = material(&t, &ya, id, inst, "filing", json!({"summary": "新型显示模组生产线", "review_date": "2026-11-10"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["project"]["stage"], "filing_review");
    assert_eq!(act(&ya_lead, inst, json!({"action": "approve"})).await.body["instance"]["state"], "filed");
    // 签约信息 (required fields checked), then 市投促 签约复核.
    let r = material(&t, &ya, id, inst, "signing", json!({"sign_date": "2026-11-12"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r =
        material(&t, &ya, id, inst, "signing", json!({"sign_date": "2026-11-12", "contract_amount": 15000, "party": "测试投资有限公司"}))
            .await;
    assert_eq!(r.body["project"]["stage"], "sign_review", "{:?}", r.body);
    assert_eq!(act(&ya_lead, inst, json!({"action": "approve"})).await.code(), "wf.not_allowed", "签约复核 is the city's");
    let r = act(&city, inst, json!({"action": "approve", "comment": "复核通过"})).await;
    assert_eq!(r.body["instance"]["state"], "signed", "{:?}", r.body);
    // 补充签约 is recorded without moving; 达标达产 goes to the city and ends the process.
    let r = material(&t, &ya, id, inst, "supplement", json!({"sign_date": "2026-11-13", "content": "追加二期投资"})).await;
    assert_eq!(r.body["project"]["stage"], "signed", "{:?}", r.body);
    let r = material(&t, &ya, id, inst, "production", json!({"project_name": "生命周期测试项目", "evidence": "已投产"})).await;
    assert_eq!(r.body["project"]["stage"], "production_review", "{:?}", r.body);
    let r = act(&city, inst, json!({"action": "approve"})).await;
    assert_eq!(r.body["instance"]["state"], "producing");
    assert_eq!(r.body["instance"]["status"], "completed");
    let d = ya.get(&format!("/api/v1/inv/projects/{id}")).await.body;
    assert_eq!(d["project"]["stage_name"], "达标达产");
    assert!(d["project"]["signed_at"].as_str().is_some());
    assert_eq!(d["materials"].as_array().unwrap().iter().filter(|m| m["status"] == "submitted").count(), 4);
    // Every step is in the log, in order.
    let steps: Vec<String> = d["workflow"]["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["from_state"] != l["to_state"])
        .map(|l| format!("{}>{}", l["from_state"].as_str().unwrap(), l["to_state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            "draft>county_review",
            "county_review>draft",
            "draft>county_review",
            "county_review>draft",
            "draft>county_review",
            "county_review>negotiating",
            "negotiating>transfer",
            "transfer>negotiating",
            "negotiating>filing_review",
            "filing_review>filed",
            "filed>sign_review",
            "sign_review>signed",
            "signed>production_review",
            "production_review>producing"
        ]
    );
    // Nothing more can be done on a finished process.
    assert_eq!(act(&city, inst, json!({"action": "approve"})).await.code(), "wf.not_allowed");
    // Every action was audited.
    assert!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'wf.act'").await >= 14);
}

async fn counties_are_isolated_and_conflicts_lose(e: Engine) {
    let t = spawn_app(e).await;
    let staff = t.demo("yc.inv").await;
    let lead = t.demo("yc.invlead").await;
    let other = t.demo("ya.inv").await;
    let other_lead = t.demo("ya.invlead").await;
    let city = t.demo("city.inv").await;
    let mut input = project_input("隔离测试项目");
    input["submit"] = json!(true);
    let r = staff.post("/api/v1/inv/projects", input.clone()).await;
    let id = r.body["project"]["id"].as_i64().unwrap();
    let inst = r.body["project"]["instance_id"].as_i64().unwrap();
    assert_eq!(r.body["project"]["stage"], "county_review");
    // Another county: not in its list, not readable, not actionable, not even through the engine.
    let list = other.get("/api/v1/inv/projects?page_size=500").await.body;
    assert!(!list["items"].as_array().unwrap().iter().any(|p| p["id"] == json!(id)));
    assert_eq!(other.get(&format!("/api/v1/inv/projects/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(other.get(&format!("/api/v1/wf/instances/{inst}")).await.status, StatusCode::FORBIDDEN);
    let r = other_lead.post(&format!("/api/v1/wf/instances/{inst}/act"), json!({"action": "approve", "version": 2})).await;
    assert!(r.status == StatusCode::FORBIDDEN || r.status == StatusCode::NOT_FOUND, "{:?}", r.body);
    assert_eq!(other.get(&format!("/api/v1/inv/projects/{id}/changes")).await.status, StatusCode::NOT_FOUND);
    // A county cannot file a project for another county.
    let mut elsewhere = project_input("越界");
    elsewhere["region_code"] = json!("445303");
    assert_eq!(staff.post("/api/v1/inv/projects", elsewhere).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The city sees everything; its list includes both counties' projects.
    let all = city.get("/api/v1/inv/projects?page_size=500").await.body;
    assert!(all["items"].as_array().unwrap().iter().any(|p| p["id"] == json!(id)));
    assert_eq!(city.get(&format!("/api/v1/inv/projects/{id}")).await.status, StatusCode::OK);
    // A leader without inv:write cannot create; a town clerk without inv:read cannot list.
    assert_eq!(lead.post("/api/v1/inv/projects", project_input("x")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(t.demo("yc.town").await.get("/api/v1/inv/projects").await.status, StatusCode::FORBIDDEN);

    // Two clicks on the same step at once: one wins, the other is told someone acted first.
    let v = view(&lead, inst).await;
    let version = v["instance"]["version"].clone();
    let body = json!({"action": "approve", "version": version});
    let path = format!("/api/v1/wf/instances/{inst}/act");
    let (a, b) = tokio::join!(lead.post(&path, body.clone()), lead.post(&path, body.clone()));
    let mut codes = vec![a.status.as_u16(), b.status.as_u16()];
    codes.sort();
    assert_eq!(codes, vec![200, 409], "{:?} {:?}", a.body, b.body);
    assert!(a.code() == "wf.conflict" || b.code() == "wf.conflict");
    assert_eq!(view(&lead, inst).await["instance"]["state"], "negotiating");
    // The winner (whose snapshot was current) committed through group commit (ADR 0013, 0014); the
    // loser failed either in a group or earlier, depending on timing. Either way the chain holds
    // one audit row per commit and verifies.
    let g = t.app.iam.db().group_stats();
    assert!(g.groups >= 1 && g.members >= 1, "{g:?}");
    let v = tg_iam::audit::verify(t.app.iam.db(), t.app.iam.keys()).await.unwrap();
    assert!(v.ok, "{v:?}");
    // Soft delete needs a reason and the current version; the record stays for the audit.
    let d = staff.get(&format!("/api/v1/inv/projects/{id}")).await.body;
    let r = staff
        .raw(Method::DELETE, &format!("/api/v1/inv/projects/{id}"), Some(&json!({"version": d["project"]["version"], "reason": ""})))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = staff
        .raw(
            Method::DELETE,
            &format!("/api/v1/inv/projects/{id}"),
            Some(&json!({"version": d["project"]["version"], "reason": "投资方撤回"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(staff.get(&format!("/api/v1/inv/projects/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM inv_projects WHERE deleted_at IS NOT NULL").await, 1);
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'inv.project.delete'").await, 1);
    assert_eq!(view(&city, inst).await["instance"]["status"], "terminated");
}

fn xlsx(rows: &[Vec<&str>]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in tg_invest::excel::HEADER.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string((r + 1) as u32, c as u16, *v).unwrap();
        }
    }
    wb.save_to_buffer().unwrap()
}

async fn codes_import_export_and_statistics(e: Engine) {
    let t = spawn_app(e).await;
    let staff = t.demo("yc.inv").await;
    let city = t.demo("city.inv").await;
    let r = staff.post("/api/v1/inv/projects", project_input("代码测试项目")).await;
    let id = r.body["project"]["id"].as_i64().unwrap();
    let version = r.body["project"]["version"].as_i64().unwrap();
    // 项目统一代码: format and region checked, unique, removable.
    let r = staff.put(&format!("/api/v1/inv/projects/{id}/code"), json!({"code": "2026-445302-39-09-000001", "version": version})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = staff.put(&format!("/api/v1/inv/projects/{id}/code"), json!({"code": "2026-440100-39-03-000001", "version": version})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = staff.put(&format!("/api/v1/inv/projects/{id}/code"), json!({"code": "2026-445302-39-03-000001", "version": version})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let version = r.body["version"].as_i64().unwrap();
    let r2 = staff.post("/api/v1/inv/projects", project_input("代码测试项目二")).await;
    let id2 = r2.body["project"]["id"].as_i64().unwrap();
    let r = staff
        .put(
            &format!("/api/v1/inv/projects/{id2}/code"),
            json!({"code": "2026-445302-39-03-000001", "version": r2.body["project"]["version"]}),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "inv.code_taken"));
    // Keyword search looks in names, investors and codes.
    assert_eq!(staff.get("/api/v1/inv/projects?q=%E4%BB%A3%E7%A0%81%E6%B5%8B%E8%AF%95").await.body["total"], 2);
    assert_eq!(staff.get("/api/v1/inv/projects?q=445302-39-03-000001").await.body["total"], 1);
    assert_eq!(staff.get("/api/v1/inv/projects?q=%E6%B5%8B%E8%AF%95%E6%8A%95%E8%B5%84").await.body["total"], 2);
    let coded = staff.get("/api/v1/inv/codes?has_code=true").await.body;
    assert_eq!(coded["items"].as_array().unwrap().iter().filter(|p| p["id"] == json!(id)).count(), 1);
    let r = staff.raw(Method::DELETE, &format!("/api/v1/inv/projects/{id}/code"), Some(&json!({"version": version}))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["code"].is_null());

    // Legacy import: a wrong template is refused; bad rows are reported row by row and nothing is written.
    let (s, _) = post_bytes(&t, &staff, "/api/v1/inv/import?filename=x.xlsx&dry_run=false", {
        let mut wb = rust_xlsxwriter::Workbook::new();
        wb.add_worksheet().write_string(0, 0, "名称").unwrap();
        wb.save_to_buffer().unwrap()
    })
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let good = |name: &'static str, code: &'static str| {
        vec![
            name,
            "旧投资方",
            "",
            "C30",
            "5000",
            "",
            "",
            "",
            "李经理",
            "13900000000",
            "驻外招商",
            "2024-05-06",
            "云城区",
            "已签约",
            code,
            "2024-08-01",
            "",
        ]
    };
    let before = t.scalar_i64("SELECT COUNT(*) FROM inv_projects").await;
    let mut bad_date = good("坏日期", "");
    bad_date[11] = "2024-13-40";
    let mut bad_county = good("坏县区", "");
    bad_county[12] = "番禺区";
    let bytes = xlsx(&[good("旧项目一", "2024-445302-30-03-000011"), good("旧项目二", "2024-445302-30-03-000011"), bad_date, bad_county]);
    let (s, b) = post_bytes(&t, &staff, "/api/v1/inv/import?filename=old.xlsx&dry_run=false", bytes).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b:?}");
    assert_eq!(b["imported"], 0);
    let rows: Vec<(i64, &str)> =
        b["errors"].as_array().unwrap().iter().map(|e| (e["row"].as_i64().unwrap(), e["field"].as_str().unwrap())).collect();
    assert!(rows.contains(&(3, "code")), "duplicate code in the file: {rows:?}");
    assert!(rows.contains(&(4, "first_contact_date")), "{rows:?}");
    assert!(rows.contains(&(5, "region_code")), "{rows:?}");
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM inv_projects").await, before, "nothing half-imported");
    // A clean file: dry run first, then the import; each row gets a workflow at its stage.
    let bytes = xlsx(&[good("旧项目一", "2024-445302-30-03-000011"), good("旧项目二", "")]);
    let (s, b) = post_bytes(&t, &staff, "/api/v1/inv/import?filename=old.xlsx", bytes.clone()).await;
    assert_eq!((s, b["valid"].as_i64(), b["imported"].as_i64()), (StatusCode::OK, Some(2), Some(0)));
    let (s, b) = post_bytes(&t, &staff, "/api/v1/inv/import?filename=old.xlsx&dry_run=false", bytes).await;
    assert_eq!((s, b["imported"].as_i64()), (StatusCode::OK, Some(2)), "{b:?}");
    let legacy = staff.get("/api/v1/inv/projects?legacy=true").await.body;
    assert_eq!(legacy["total"], 2);
    let p = &legacy["items"][0];
    assert_eq!(p["stage"], "signed");
    assert_eq!(p["signed_at"], "2024-08-01");
    // 数据补充编辑: every field of imported history can be completed.
    let lid = p["id"].as_i64().unwrap();
    let mut edit = project_input(p["name"].as_str().unwrap());
    edit["industry_code"] = json!("C30");
    edit["amount"] = json!(5000);
    edit["investor"] = json!("旧投资方（补充）");
    edit["contact_phone"] = p["contact_phone"].clone();
    edit["source"] = json!("驻外招商");
    edit["first_contact_date"] = json!("2024-05-06");
    edit["version"] = p["version"].clone();
    let r = staff.put(&format!("/api/v1/inv/projects/{lid}"), edit).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let log = staff.get(&format!("/api/v1/inv/projects/{lid}/changes")).await.body;
    assert_eq!(log["items"][0]["action"], "supplement");
    // The template downloads; the export is an Excel workbook.
    let tpl =
        staff.http.get(format!("{}/api/v1/inv/import/template", t.base)).bearer_auth(staff.token.as_deref().unwrap()).send().await.unwrap();
    assert_eq!(tpl.status(), StatusCode::OK);
    assert!(tpl.bytes().await.unwrap().starts_with(b"PK"));
    let ex = staff
        .http
        .get(format!("{}/api/v1/inv/export?legacy=true", t.base))
        .bearer_auth(staff.token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ex.status(), StatusCode::OK);
    assert!(ex.bytes().await.unwrap().starts_with(b"PK"));
    // Statistics agree with the list.
    let stats = city.get("/api/v1/inv/stats").await.body;
    let total = city.get("/api/v1/inv/projects?page_size=1").await.body["total"].as_i64().unwrap();
    assert_eq!(stats["total"]["count"].as_i64().unwrap(), total);
    let by_region: i64 = stats["by_region"].as_array().unwrap().iter().map(|s| s["count"].as_i64().unwrap()).sum();
    assert_eq!(by_region, total);
    assert!(stats["by_stage"].as_array().unwrap().iter().any(|s| s["key"] == "signed" && s["count"].as_i64().unwrap() >= 2));
    let mine = staff.get("/api/v1/inv/stats").await.body;
    assert!(mine["by_region"].as_array().unwrap().iter().all(|s| s["key"] == "445302"), "a county's statistics are its own");
}

fn total(v: &Value) -> i64 {
    v["total"].as_i64().unwrap_or(-1)
}

async fn search(c: &Client, q: &str) -> i64 {
    let r = c.get(&format!("/api/v1/inv/projects?q={}", urlencode(q))).await;
    assert_eq!(r.status, StatusCode::OK, "{q}: {:?}", r.body);
    total(&r.body)
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// Keyword search through the character-pair index (two-character Chinese words, one character,
/// punctuation, renames, scope, filling in the index of older rows) and the capped list count.
async fn keyword_search_and_capped_counts(e: Engine) {
    let t = spawn_app(e).await;
    let staff = t.demo("yc.inv").await;
    let other = t.demo("ya.inv").await;
    let a = staff.post("/api/v1/inv/projects", project_input("鲲鹏光电基地")).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let b = staff.post("/api/v1/inv/projects", project_input("麒麟鲲鹏谷")).await;
    let c = staff.post("/api/v1/inv/projects", project_input("鸿雁-7号仓储")).await;
    assert_eq!((b.status, c.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(search(&staff, "鲲鹏").await, 2, "a two-character word");
    assert_eq!(search(&staff, "鹏光电").await, 1);
    assert_eq!(search(&staff, "鲲").await, 2, "one character falls back to the scan");
    assert_eq!(search(&staff, "鲲光").await, 0, "characters that are not adjacent");
    assert_eq!(search(&staff, "雁-7").await, 1, "punctuation in the keyword");
    assert_eq!(search(&staff, "雁7").await, 0, "the index drops punctuation, the confirming match does not");
    assert_eq!(search(&staff, "鸿雁-7号仓储").await, 1);
    assert_eq!(search(&staff, "%").await, 0, "LIKE wildcards are literal");
    assert_eq!(search(&other, "鲲鹏").await, 0, "another county's projects stay out of scope");
    // A rename moves the project in the index.
    let id = a.body["project"]["id"].as_i64().unwrap();
    let d = staff.get(&format!("/api/v1/inv/projects/{id}")).await.body;
    let mut edit = project_input("凤凰光电基地");
    edit["version"] = d["project"]["version"].clone();
    let r = staff.put(&format!("/api/v1/inv/projects/{id}"), edit).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(search(&staff, "鲲鹏").await, 1);
    assert_eq!(search(&staff, "凤凰光电").await, 1);
    // Rows written without their pairs (before the index existed) are found once filled in.
    let pool = t.app.iam.db().pool();
    sqlx::query("UPDATE inv_projects SET search_grams = '' WHERE id = $1").bind(id).execute(pool).await.unwrap();
    assert_eq!(search(&staff, "凤凰光电").await, 0);
    assert!(t.app.inv.reindex_search().await.unwrap() >= 1);
    assert_eq!(search(&staff, "凤凰光电").await, 1);
    // Counts stop at 10,000: a list of 10,003 projects says "10,000+" and still pages.
    let page = staff.get("/api/v1/inv/projects?page_size=1").await.body;
    assert_eq!(page["capped"], json!(false));
    let have = total(&page);
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
         INSERT INTO inv_projects (name, investor, industry_code, amount, contact_name, contact_phone, contact_phone_mask, source, \
         first_contact_date, region_code, stage, created_by, created_by_name, created_at, updated_at) \
         SELECT 'bulk', 'bulk', 'C39', 1, 'x', 'x', 'x', '其他', '2026-01-01', '445302', 'contact', 1, 'x', 0, 0 FROM n",
    )
    .bind(10_003 - have)
    .execute(pool)
    .await
    .unwrap();
    let page = staff.get("/api/v1/inv/projects?page_size=1&page=3").await.body;
    assert_eq!((total(&page), page["capped"].clone()), (10_000, json!(true)));
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let r = staff.get("/api/v1/inv/projects?date_from=2026-02-01&date_to=2026-01-31").await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation.failed"), "{:?}", r.body);
    let narrow = staff.get("/api/v1/inv/projects?page_size=1&q=%E9%B8%BF%E9%9B%81").await.body;
    assert_eq!((total(&narrow), narrow["capped"].clone()), (1, json!(false)));
}

/// On SQLite a transition takes the audit chain head from the process's copy (one hand-over for the
/// whole write). Another process appending to the chain in between (a second node, a command-line
/// tool) makes the transition's conditional head update fail; it is run again, nothing is lost
/// twice or written twice, and the chain verifies.
async fn acting_after_another_process_appended_to_the_audit_chain(engine: Engine) {
    let t = spawn_app(engine).await;
    let staff = t.demo("yc.inv").await;
    let lead = t.demo("yc.invlead").await;
    let mut insts = Vec::new();
    for name in ["链头测试一", "链头测试二"] {
        let mut input = project_input(name);
        input["submit"] = json!(true);
        let r = staff.post("/api/v1/inv/projects", input).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        insts.push(r.body["project"]["instance_id"].as_i64().unwrap());
    }
    let r = act(&lead, insts[0], json!({"action": "approve", "comment": "同意"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // A second process on the same database appends to the chain.
    let second = t.second_app().await;
    let mut tx = second.iam.db().begin().await.unwrap();
    second.iam.audit(&mut tx, &tg_iam::AuditCtx::cli("test"), tg_iam::AuditEvent::success("test.second_process", "chain")).await.unwrap();
    tx.commit().await.unwrap();
    let before = t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'wf.act'").await;
    let r = act(&lead, insts[1], json!({"action": "approve", "comment": "同意"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["instance"]["state"], "negotiating");
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'wf.act'").await, before + 1, "one audit row");
    let v = tg_iam::audit::verify(t.app.iam.db(), t.app.iam.keys()).await.unwrap();
    assert!(v.ok, "{v:?}");
}
