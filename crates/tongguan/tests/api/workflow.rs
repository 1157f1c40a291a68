//! The workflow engine on a real database: 会签 / 依次审批 / 委派 / 转办 / 加签 / 撤回 / 退回 / 催办 /
//! 抄送 / 终止, version pinning, optimistic locking, guards, deadlines across holidays and 调休 days,
//! the calendar administration, and timeout jobs that fire after a restart.

use crate::harness::{spawn_app, Engine, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use tg_iam::{AuditCtx, Principal};
use tg_kernel::{Clock, FixedClock};
use tg_workflow::def::Definition;
use tg_workflow::{Facts, WfActInput};

crate::both_engines!(countersign_sequence_delegation_and_pinning, deadlines_follow_the_calendar, timeout_jobs_fire_after_a_restart);

const FLOW: &str = r#"
code = "t_flow"
name = "测试会签流程"
business_type = "t_flow"
initial = "draft"
terminate_roles = ["inv_staff"]
[[states]]
code = "draft"
name = "起草"
kind = "start"
[[states]]
code = "sign"
name = "会签"
assignee = { role = "inv_leader", level = "own" }
mode = "all"
[[states]]
code = "seq"
name = "依次审批"
assignee = { role = "inv_leader", level = "own" }
mode = "sequential"
[[states]]
code = "done"
name = "完成"
kind = "end"
[[transitions]]
from = "draft"
to = "sign"
action = "submit"
name = "提交"
roles = ["inv_staff"]
require_fields = ["title"]
[[transitions]]
from = "sign"
to = "seq"
action = "agree"
name = "同意"
[[transitions]]
from = "seq"
to = "done"
action = "agree"
name = "同意"
"#;

async fn principal(t: &TestApp, username: &str) -> Principal {
    t.app.iam.principal_by_id(t.user_id(username).await).await.unwrap()
}

/// Two more 县区投促部门领导 in 云城区, created and granted through the API.
async fn more_leaders(t: &TestApp) -> (Principal, Principal) {
    let sys = t.demo("sysadmin").await;
    let sec = t.demo("secadmin").await;
    let mut out = Vec::new();
    for name in ["lead2", "lead3"] {
        let r = sys
            .post("/api/v1/users", json!({"username": name, "display_name": name, "password": "Init@2026xy", "region_code": "445302"}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let id = r.body["id"].as_i64().unwrap();
        let r = sec.put(&format!("/api/v1/users/{id}/roles"), json!({"roles": ["inv_leader"]})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        out.push(t.app.iam.principal_by_id(id).await.unwrap());
    }
    let b = out.pop().unwrap();
    (out.pop().unwrap(), b)
}

fn filled() -> Facts {
    let mut f = Facts::default();
    f.filled.insert("title".into());
    f
}

async fn act(
    t: &TestApp,
    who: &Principal,
    id: i64,
    action: &str,
    f: impl FnOnce(&mut WfActInput),
) -> Result<tg_workflow::Outcome, tg_iam::IamError> {
    let wf = &t.app.wf;
    let v = wf.view(who, id, &filled()).await?;
    let mut input = WfActInput { action: action.into(), version: v.instance.version, ..Default::default() };
    f(&mut input);
    let mut tx = t.app.iam.db().begin().await.unwrap();
    let out = wf.act_in(&mut tx, &AuditCtx::cli("test"), who, id, &input, &filled()).await?;
    wf.commit(tx, &out).await?;
    Ok(out)
}

async fn state(t: &TestApp, who: &Principal, id: i64) -> (String, Vec<String>) {
    let v = t.app.wf.view(who, id, &filled()).await.unwrap();
    let holders = v.open_tasks.iter().filter(|x| x.status == "open").map(|x| x.assignee_name.clone()).collect();
    (v.instance.state, holders)
}

async fn start(t: &TestApp, who: &Principal, code: &str, business: i64) -> i64 {
    let mut tx = t.app.iam.db().begin().await.unwrap();
    let out = t.app.wf.start_in(&mut tx, &AuditCtx::cli("test"), who, code, business, "测试事项", &[], "445302").await.unwrap();
    t.app.wf.commit(tx, &out).await.unwrap();
    out.instance_id
}

async fn countersign_sequence_delegation_and_pinning(e: Engine) {
    let t = spawn_app(e).await;
    let def = Definition::parse_toml(FLOW).unwrap();
    t.app.wf.store_definition(&def, 1).await.unwrap();
    let (l2, l3) = more_leaders(&t).await;
    let staff = principal(&t, "yc.inv").await;
    let l1 = principal(&t, "yc.invlead").await;
    let city = principal(&t, "city.inv").await;
    let id = start(&t, &staff, "t_flow", 1).await;

    // Guard: a required field missing blocks the submit and changes nothing.
    let v = t.app.wf.view(&staff, id, &Facts::default()).await.unwrap();
    let mut tx = t.app.iam.db().begin().await.unwrap();
    let err = t
        .app
        .wf
        .act_in(
            &mut tx,
            &AuditCtx::cli("test"),
            &staff,
            id,
            &WfActInput { action: "submit".into(), version: v.instance.version, ..Default::default() },
            &Facts::default(),
        )
        .await;
    assert!(matches!(err, Err(tg_iam::IamError::Validation(_))), "{err:?}");
    drop(tx);
    // A stale version is a conflict.
    let mut tx = t.app.iam.db().begin().await.unwrap();
    let err = t
        .app
        .wf
        .act_in(
            &mut tx,
            &AuditCtx::cli("test"),
            &staff,
            id,
            &WfActInput { action: "submit".into(), version: 99, ..Default::default() },
            &filled(),
        )
        .await;
    assert!(matches!(&err, Err(tg_iam::IamError::Conflict { code: "wf.conflict", .. })), "{err:?}");
    drop(tx);

    // 会签: three leaders; 撤回 works until one of them handles it.
    act(&t, &staff, id, "submit", |_| {}).await.unwrap();
    assert_eq!(state(&t, &staff, id).await.1.len(), 3);
    act(&t, &staff, id, "withdraw", |_| {}).await.unwrap();
    assert_eq!(state(&t, &staff, id).await.0, "draft");
    act(&t, &staff, id, "submit", |_| {}).await.unwrap();
    act(&t, &l1, id, "agree", |_| {}).await.unwrap();
    assert_eq!(state(&t, &l1, id).await.0, "sign", "two still to sign");
    assert!(act(&t, &staff, id, "withdraw", |_| {}).await.is_err(), "no withdraw once someone handled the step");
    // 委派: lead2 delegates to the city and gets it back, then agrees.
    act(&t, &l2, id, "delegate", |i| i.user_id = Some(city.user_id)).await.unwrap();
    assert!(act(&t, &city, id, "agree", |_| {}).await.is_err(), "a delegate cannot decide");
    act(&t, &city, id, "resolve", |i| i.comment = Some("已核实".into())).await.unwrap();
    act(&t, &l2, id, "agree", |_| {}).await.unwrap();
    // 转办: lead3 hands the step to the city staff, who agrees; all signed → next step.
    act(&t, &l3, id, "transfer", |i| i.user_id = Some(city.user_id)).await.unwrap();
    assert!(act(&t, &l3, id, "agree", |_| {}).await.is_err(), "handed over");
    act(&t, &city, id, "agree", |_| {}).await.unwrap();
    let (st, holders) = state(&t, &l1, id).await;
    assert_eq!(st, "seq");
    assert_eq!(holders.len(), 1, "依次审批: one at a time");
    // 加签 adds the city to the step; the step waits for it too.
    let first = t.app.wf.view(&l1, id, &filled()).await.unwrap().my_task.map(|x| x.assignee_id);
    let first = if first == Some(l1.user_id) {
        l1.clone()
    } else if first == Some(l2.user_id) {
        l2.clone()
    } else {
        l3.clone()
    };
    act(&t, &first, id, "add_signer", |i| i.user_id = Some(city.user_id)).await.unwrap();
    act(&t, &first, id, "agree", |_| {}).await.unwrap();
    assert_eq!(state(&t, &l1, id).await.0, "seq");
    // 催办 by the initiator reaches the holders (and not twice in ten minutes); 抄送 adds copies.
    act(&t, &staff, id, "urge", |_| {}).await.unwrap();
    assert!(act(&t, &staff, id, "urge", |_| {}).await.is_err());
    let (counts_before,) = (t.app.wf.counts(&l3).await.unwrap().cc_unread,);
    let holder = t.app.wf.view(&city, id, &filled()).await.unwrap();
    assert!(holder.my_task.is_some());
    act(&t, &city, id, "cc", |i| i.user_ids = vec![l3.user_id]).await.unwrap();
    assert_eq!(t.app.wf.counts(&l3).await.unwrap().cc_unread, counts_before + 1);
    // 退回 to the initiator with a reason.
    act(&t, &city, id, "return", |i| {
        i.comment = Some("材料不全".into());
        i.target_state = Some("draft".into());
    })
    .await
    .unwrap();
    assert_eq!(state(&t, &staff, id).await.0, "draft");

    // Version pinning: a changed definition is a new version; the running instance keeps v1.
    let mut v2 = def.clone();
    v2.states[1].name = "联合会签".into();
    t.app.wf.store_definition(&v2, 2).await.unwrap();
    let view = t.app.wf.view(&staff, id, &filled()).await.unwrap();
    assert_eq!(view.instance.def_version, 1);
    act(&t, &staff, id, "submit", |_| {}).await.unwrap();
    assert_eq!(t.app.wf.view(&staff, id, &filled()).await.unwrap().instance.state_name, "会签");
    let id2 = start(&t, &staff, "t_flow", 2).await;
    act(&t, &staff, id2, "submit", |_| {}).await.unwrap();
    let v = t.app.wf.view(&staff, id2, &filled()).await.unwrap();
    assert_eq!((v.instance.def_version, v.instance.state_name.as_str()), (2, "联合会签"));
    // 终止 needs a reason; afterwards nothing can be done.
    assert!(act(&t, &staff, id2, "terminate", |_| {}).await.is_err());
    act(&t, &staff, id2, "terminate", |i| i.comment = Some("不再推进".into())).await.unwrap();
    let v = t.app.wf.view(&staff, id2, &filled()).await.unwrap();
    assert_eq!(v.instance.status, "terminated");
    assert!(v.actions.is_empty());
    assert_eq!(
        t.app.wf.counts(&l1).await.unwrap().todo,
        t.app.wf.tasks(&l1, &serde_json::from_value(json!({"box": "todo"})).unwrap()).await.unwrap().total
    );
}

fn set_clock(c: &FixedClock, rfc3339: &str) {
    let target = tg_kernel::clock::parse_rfc3339(rfc3339).unwrap();
    c.advance_ms(target - c.now_ms());
}

async fn deadlines_follow_the_calendar(e: Engine) {
    let t = spawn_app(e).await;
    let staff = t.demo("yc.inv").await;
    let lead = t.demo("yc.invlead").await;
    // Wednesday 30 September 2026, 10:00 Beijing: 县区在谈审核 has 3 working days → Saturday 10
    // October (国庆 1–7 off; the 10th is a make-up working day).
    set_clock(&t.clock, "2026-09-30T02:00:00Z");
    let mut input = crate::inv::project_input("时限测试");
    input["first_contact_date"] = json!("2026-09-01");
    input["submit"] = json!(true);
    let r = staff.post("/api/v1/inv/projects", input.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let todo = lead.get("/api/v1/wf/tasks?box=todo").await.body;
    let task = todo["items"].as_array().unwrap().iter().find(|x| x["business_id"] == r.body["project"]["id"]).unwrap().clone();
    assert_eq!(task["due_date"], "2026-10-10");
    // The calculator agrees, and natural days ignore the calendar.
    assert_eq!(lead.get("/api/v1/wf/calendar/add?from=2026-09-30&days=3").await.body["due"], "2026-10-10");
    assert_eq!(lead.get("/api/v1/wf/calendar/add?from=2026-09-30&days=3&working=false").await.body["due"], "2026-10-03");
    let cal = lead.get("/api/v1/wf/calendar?year=2026").await.body;
    assert!(cal["source"].as_str().unwrap().contains("国办发明电"));
    assert!(cal["days"].as_array().unwrap().iter().any(|d| d["date"] == "2026-10-10" && d["kind"] == "workday"));
    // Only the system administrator edits the calendar; a local holiday moves later deadlines.
    assert_eq!(lead.put("/api/v1/wf/calendar/2026-10-12", json!({"kind": "holiday", "name": "测试"})).await.status, StatusCode::FORBIDDEN);
    let sys = t.demo("sysadmin").await;
    assert_eq!(
        sys.put("/api/v1/wf/calendar/2026-10-12", json!({"kind": "workday", "name": "调休"})).await.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a Monday cannot be a make-up day"
    );
    let r = sys.put("/api/v1/wf/calendar/2026-10-12", json!({"kind": "holiday", "name": "地方假日"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(lead.get("/api/v1/wf/calendar/add?from=2026-10-09&days=2").await.body["due"], "2026-10-13");
    assert_eq!(sys.delete("/api/v1/wf/calendar/2026-10-12").await.status, StatusCode::NO_CONTENT);
    assert_eq!(lead.get("/api/v1/wf/calendar/add?from=2026-10-09&days=2").await.body["due"], "2026-10-12");
    assert_eq!(t.scalar_i64("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'wf.calendar.%'").await, 2);
    // Friday 13 February 2026 + 1 working day is Saturday the 14th (春节调休上班).
    set_clock(&t.clock, "2026-02-13T02:00:00Z");
    input["first_contact_date"] = json!("2026-02-01");
    input["name"] = json!("春节时限测试");
    let r = staff.post("/api/v1/inv/projects", input).await;
    let todo = lead.get("/api/v1/wf/tasks?box=todo").await.body;
    let task = todo["items"].as_array().unwrap().iter().find(|x| x["business_id"] == r.body["project"]["id"]).unwrap().clone();
    // 3 working days: 14 (Sat, make-up), then 15–23 off, 24, 25.
    assert_eq!(task["due_date"], "2026-02-25");
}

async fn timeout_jobs_fire_after_a_restart(e: Engine) {
    let t = spawn_app(e).await;
    // Long ago: every reminder, yellow and red card of the new step is already due.
    set_clock(&t.clock, "2025-03-03T02:00:00Z");
    let staff = t.demo("yc.inv").await;
    let mut input = crate::inv::project_input("超时测试");
    input["first_contact_date"] = json!("2025-03-01");
    input["submit"] = json!(true);
    let r = staff.post("/api/v1/inv/projects", input).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    // The first level (临期提醒) is stored in the background right after the commit; each level
    // schedules the next when it runs.
    let queue = t.app.wf.queue().expect("job storage attached");
    let mut pending = 0;
    for _ in 0..100 {
        pending = queue.pending().await.unwrap();
        if pending >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(pending >= 1, "the reminder is stored");
    // No worker ran in this process. A second node (a restart) opens the same database and runs them.
    let second = t.second_app().await;
    second.wf.start_worker().await.unwrap();
    let mut card = String::new();
    for _ in 0..200 {
        card = sqlx::query_scalar::<_, String>(
            "SELECT card FROM wf_tasks WHERE step = 'county_review' AND added = 0 ORDER BY id DESC LIMIT 1",
        )
        .fetch_one(t.app.iam.db().pool())
        .await
        .unwrap();
        let escalated = t.scalar_i64("SELECT COUNT(*) FROM wf_tasks WHERE added = 2").await;
        if card == "red" && escalated > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(card, "red");
    // The overdue step was escalated to 市投促 (on_timeout = escalate), and the people were told.
    let city = t.demo("city.inv").await;
    let todo = city.get("/api/v1/wf/tasks?box=todo").await.body;
    assert!(todo["items"].as_array().unwrap().iter().any(|x| x["step"] == "county_review"), "{todo:?}");
    for kind in ["wf.remind", "wf.yellow", "wf.red", "wf.escalate"] {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE kind = $1").bind(kind).fetch_one(t.app.iam.db().pool()).await.unwrap();
        assert!(n >= 1, "{kind}");
    }
    // The escalated 市投促 may decide the step in the leader's place; that closes every other row.
    let task = todo["items"].as_array().unwrap().iter().find(|x| x["step"] == "county_review").unwrap().clone();
    let inst = task["instance_id"].as_i64().unwrap();
    let v = city.get(&format!("/api/v1/wf/instances/{inst}")).await.body;
    let r = city
        .post(
            &format!("/api/v1/wf/instances/{inst}/act"),
            json!({"action": "approve", "version": v["instance"]["version"], "comment": "超时代办"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["instance"]["state"], "negotiating");
    let open: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM wf_tasks WHERE instance_id = $1 AND step = 'county_review' AND status = 'open'")
            .bind(inst)
            .fetch_one(t.app.iam.db().pool())
            .await
            .unwrap();
    assert_eq!(open, 0);
}
