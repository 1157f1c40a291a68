//! Workflow / 招商 benchmark (see bench/workflow.sh and docs/benchmarks.md).
//!
//! `gen <db-url> <projects>`: projects with full histories (one log row and one handled task per
//! step passed, an open task at the current step, deadlines and cards) written straight into a
//! migrated, demo-seeded Tongguan database (SQLite or PostgreSQL), spread over 云城区 and 云安区
//! whose demo 投促 staff and leaders hold the tasks.
//! `api <base-url> <users> <seconds> [think-ms]`: signed-in users (staff, leaders, 市投促) opening
//! their 待办 inbox or the project list with a random filter; latency percentiles as JSON.
//! `sql <pg-url> <users> <seconds> [think-ms]`: the same two queries as plain SQL on PostgreSQL.
//! `act <base-url> <seconds> <workers>`: the two county leaders approving 县区在谈审核 steps through
//! the API as fast as they can (each worker its own instances); transitions per second.
//! `sqlact <pg-url> <seconds> <workers>`: the same state change as a hand-written SQL transaction.

use anyhow::{bail, Result};
use serde_json::{json, Value};
use sqlx::Row;
use std::fmt::Write as _;
use std::time::{Duration, Instant};
use tg_spatial::rng::SplitMix64;

const PATH: [&str; 9] =
    ["draft", "county_review", "negotiating", "filing_review", "filed", "sign_review", "signed", "production_review", "producing"];
const NAMES: [&str; 9] =
    ["提交审核", "审核通过", "提交评审备案资料", "审核通过", "提交签约信息", "复核通过", "提交达标达产信息", "审核通过", ""];
/// Share of projects at each stage (per mille).
const MIX: [u64; 9] = [50, 100, 300, 50, 150, 50, 150, 30, 120];
const INDUSTRIES: [&str; 8] = ["C30", "C33", "C27", "C39", "C38", "C14", "G59", "C26"];
const SOURCES: [&str; 4] = ["驻外招商", "以商引商", "招商推介会", "中介招商"];

/// Who holds a step: 0 staff, 1 county leader, 2 city.
fn holder(stage: &str) -> usize {
    match stage {
        "county_review" | "filing_review" => 1,
        "sign_review" | "production_review" => 2,
        _ => 0,
    }
}

async fn user_id(pool: &sqlx::AnyPool, name: &str) -> Result<i64> {
    let r = sqlx::query("SELECT id FROM users WHERE username = $1").bind(name).fetch_optional(pool).await?;
    match r {
        Some(r) => Ok(r.try_get(0)?),
        None => bail!("demo account {name} missing: run `tongguan seed-demo` first"),
    }
}

async fn next_id(pool: &sqlx::AnyPool, table: &str) -> Result<i64> {
    let r = sqlx::query(&format!("SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")).fetch_one(pool).await?;
    Ok(r.try_get(0)?)
}

async fn gen(url: &str, n: usize) -> Result<()> {
    sqlx::any::install_default_drivers();
    let pg = url.starts_with("postgres");
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(2).connect(url).await?;
    if !pg {
        sqlx::query("PRAGMA synchronous = OFF").execute(&pool).await?;
    }
    let def_version: i64 =
        sqlx::query("SELECT MAX(version) FROM wf_definitions WHERE code = 'inv_project'").fetch_one(&pool).await?.try_get(0)?;
    let counties = [
        ("445302", "云城区", [user_id(&pool, "yc.inv").await?, user_id(&pool, "yc.invlead").await?, user_id(&pool, "city.inv").await?]),
        ("445303", "云安区", [user_id(&pool, "ya.inv").await?, user_id(&pool, "ya.invlead").await?, user_id(&pool, "city.inv").await?]),
    ];
    let (p0, i0, t0, l0) = (
        next_id(&pool, "inv_projects").await?,
        next_id(&pool, "wf_instances").await?,
        next_id(&pool, "wf_tasks").await?,
        next_id(&pool, "wf_log").await?,
    );
    let mut tid = t0;
    let mut lid = l0;
    let now: i64 = 1_795_000_000_000;
    let mut r = SplitMix64(0x7f4a_1c33);
    let started = Instant::now();
    let (mut tasks_n, mut log_n) = (0usize, 0usize);
    const BATCH: usize = 500;
    for chunk in (0..n).collect::<Vec<_>>().chunks(BATCH) {
        let (mut proj, mut inst, mut task, mut log) = (String::new(), String::new(), String::new(), String::new());
        for &k in chunk {
            let (region, rname, users) = &counties[k % 2];
            let mut roll = r.next_u64() % 1000;
            let mut s = 0;
            while roll >= MIX[s] {
                roll -= MIX[s];
                s += 1;
            }
            let stage = PATH[s];
            let pid = p0 + k as i64;
            let iid = i0 + k as i64;
            let ind = INDUSTRIES[(r.next_u64() % 8) as usize];
            let amount = (r.range(500.0, 80_000.0) * 100.0).round() / 100.0;
            let day = 1 + (r.next_u64() % 28);
            let month = 1 + (r.next_u64() % 12);
            let year = 2019 + (r.next_u64() % 8);
            let date = format!("{year}-{month:02}-{day:02}");
            let name = format!("基准项目{k:06}（{rname}）{ind}");
            let created = now - (r.next_u64() % 1_000_000_000) as i64;
            let status = if stage == "producing" { "completed" } else { "running" };
            let sep = |s: &String| if s.is_empty() { "" } else { "," };
            let text = format!("{}|基准投资有限公司{}|", name.to_lowercase(), k % 977);
            let grams = tg_invest::search::search_grams(&text);
            write!(
                proj,
                "{}({pid},'{name}','基准投资有限公司{}','广东省广州市','{ind}',{amount},NULL,NULL,NULL,'张经理','bench','139****0000','{}','{date}','{region}',NULL,'{stage}',NULL,0,1,NULL,NULL,NULL,{iid},{},{},'基准',{created},{created},'{text}','{grams}')",
                sep(&proj),
                k % 977,
                SOURCES[k % 4],
                s + 1,
                users[0],
            )?;
            write!(
                inst,
                "{}({iid},'inv_project',{def_version},'inv_project',{pid},'{name}','[]','{region}','{stage}','{status}',{},{},{created},{created})",
                sep(&inst),
                s + 1,
                users[0]
            )?;
            for step in 0..s {
                let who = users[holder(PATH[step])];
                let at = created + step as i64 * 86_400_000;
                write!(
                    task,
                    "{}({tid},{iid},'todo','{}',{who},'done',0,0,NULL,NULL,'none',{at},{},'{}',1)",
                    sep(&task),
                    PATH[step],
                    at + 3_600_000,
                    NAMES[step]
                )?;
                tid += 1;
                write!(
                    log,
                    "{}({lid},{iid},{},{who},'基准用户','','{}','{}','{}','{}','','[]','[]')",
                    sep(&log),
                    at + 3_600_000,
                    if step == 0 { "submit" } else { "approve" },
                    NAMES[step],
                    PATH[step],
                    PATH[step + 1]
                )?;
                lid += 1;
                log_n += 1;
                tasks_n += 1;
            }
            if status == "running" {
                let who = users[holder(stage)];
                let due_day = 1 + (r.next_u64() % 28);
                let card = ["none", "none", "none", "remind", "yellow", "red"][(r.next_u64() % 6) as usize];
                write!(
                    task,
                    "{}({tid},{iid},'todo','{stage}',{who},'open',0,0,{},'2026-12-{due_day:02}','{card}',{now},NULL,NULL,1)",
                    sep(&task),
                    now + 86_400_000
                )?;
                tid += 1;
                tasks_n += 1;
            }
        }
        let mut tx = pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO inv_projects (id, name, investor, investor_origin, industry_code, amount, land_area, expected_output, expected_tax, contact_name, \
             contact_phone, contact_phone_mask, source, first_contact_date, region_code, pending_region, stage, code, is_legacy, is_demo, remark, signed_at, \
             produced_at, instance_id, version, created_by, created_by_name, created_at, updated_at, search_text, search_grams) VALUES {proj}"
        ))
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "INSERT INTO wf_instances (id, definition, def_version, business_type, business_id, title, summary, region_code, state, status, version, \
             initiator_id, created_at, updated_at) VALUES {inst}"
        ))
        .execute(&mut *tx)
        .await?;
        if !task.is_empty() {
            sqlx::query(&format!(
                "INSERT INTO wf_tasks (id, instance_id, kind, step, assignee_id, status, seq, added, due_at, due_date, card, created_at, handled_at, result, \
                 jobs_scheduled) VALUES {task}"
            ))
            .execute(&mut *tx)
            .await?;
        }
        if !log.is_empty() {
            sqlx::query(&format!(
                "INSERT INTO wf_log (id, instance_id, at, actor_id, actor_name, actor_role, action, action_name, from_state, to_state, comment, attachments, \
                 changes) VALUES {log}"
            ))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    }
    if pg {
        for t in ["inv_projects", "wf_instances", "wf_tasks", "wf_log"] {
            sqlx::query(&format!("SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))")).execute(&pool).await?;
        }
        sqlx::query("ANALYZE").execute(&pool).await?;
    } else {
        sqlx::query("ANALYZE").execute(&pool).await?;
    }
    println!("{}", json!({"projects": n, "tasks": tasks_n, "log": log_n, "seconds": started.elapsed().as_secs_f64()}));
    Ok(())
}

fn summary(mut lat: Vec<f64>, secs: f64) -> Value {
    lat.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0.0);
    json!({"requests": lat.len(), "rps": lat.len() as f64 / secs, "p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99), "max_ms": lat.last().copied().unwrap_or(0.0)})
}

async fn think(r: &mut SplitMix64, think_ms: u64) {
    if think_ms > 0 {
        tokio::time::sleep(Duration::from_secs_f64(think_ms as f64 / 1000.0 * r.range(0.5, 1.5))).await;
    }
}

const ACCOUNTS: [&str; 5] = ["yc.inv", "yc.invlead", "ya.inv", "ya.invlead", "city.inv"];

async fn login(http: &reqwest::Client, base: &str, user: &str) -> Result<String> {
    let r: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": user, "password": "Demo@12345"}))
        .send()
        .await?
        .json()
        .await?;
    match r["token"].as_str() {
        Some(t) => Ok(t.to_owned()),
        None => bail!("login failed: {r}"),
    }
}

/// One request of the mix: the inbox (half) or the project list with a random filter.
fn request(r: &mut SplitMix64) -> String {
    if r.next_u64() % 2 == 0 {
        return format!("/api/v1/wf/tasks?box=todo&page={}", 1 + r.next_u64() % 3);
    }
    match r.next_u64() % 4 {
        0 => format!("/api/v1/inv/projects?stage={}", PATH[(r.next_u64() % 9) as usize]),
        1 => format!("/api/v1/inv/projects?q=%E5%9F%BA%E5%87%86%E9%A1%B9%E7%9B%AE{:03}", r.next_u64() % 1000),
        2 => {
            format!("/api/v1/inv/projects?amount_min={}&amount_max={}&industry={}", 10_000, 40_000, INDUSTRIES[(r.next_u64() % 8) as usize])
        }
        _ => {
            // A first-contact window of six months to seven years.
            let (a, b) = date_years(r);
            format!("/api/v1/inv/projects?date_from={a}-01-01&date_to={b}-06-30")
        }
    }
}

async fn api(base: &str, users: usize, secs: u64, think_ms: u64) -> Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(users).build()?;
    let mut tokens = Vec::new();
    for k in 0..users {
        tokens.push(login(&http, base, ACCOUNTS[k % ACCOUNTS.len()]).await?);
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (n, token) in tokens.into_iter().enumerate() {
        let http = http.clone();
        let url = base.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut r = SplitMix64(n as u64 + 1);
            let mut lat = Vec::new();
            tokio::time::sleep(Duration::from_secs_f64(think_ms as f64 / 1000.0 * r.unit())).await;
            while Instant::now() < deadline {
                let path = request(&mut r);
                let t = Instant::now();
                let resp = http.get(format!("{url}{path}")).bearer_auth(&token).send().await?;
                if !resp.status().is_success() {
                    bail!("{path}: status {}", resp.status());
                }
                let _ = resp.bytes().await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                think(&mut r, think_ms).await;
            }
            Ok(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    println!("{}", summary(all, secs as f64));
    Ok(())
}

/// Two years between 2019 and 2025, the earlier first.
fn date_years(r: &mut SplitMix64) -> (u64, u64) {
    let (a, b) = (2019 + r.next_u64() % 7, 2019 + r.next_u64() % 7);
    (a.min(b), a.max(b))
}

/// The same two pages as plain SQL: the inbox (count + page with the instance facts) and the list
/// (count + page) with the same filters, for the same five accounts' scopes.
async fn sql_request(pool: &sqlx::PgPool, r: &mut SplitMix64, user: i64, lo: &str, hi: &str) -> Result<usize> {
    if r.next_u64() % 2 == 0 {
        let page = (r.next_u64() % 3) as i64;
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM wf_tasks t WHERE t.assignee_id = $1 AND t.kind = 'todo' AND t.status = 'open'")
                .bind(user)
                .fetch_one(pool)
                .await?;
        let rows = sqlx::query(
            "SELECT t.id, t.step, t.due_date, t.card, i.title, i.region_code, i.version, (SELECT name FROM regions WHERE code = i.region_code) \
             FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id WHERE t.assignee_id = $1 AND t.kind = 'todo' AND t.status = 'open' \
             ORDER BY t.id DESC LIMIT 20 OFFSET $2",
        )
        .bind(user)
        .bind(page * 20)
        .fetch_all(pool)
        .await?;
        return Ok(rows.len() + n as usize);
    }
    let (cond, a, b): (&str, String, String) = match r.next_u64() % 4 {
        0 => ("stage = $3 AND $4 = $4", PATH[(r.next_u64() % 9) as usize].into(), String::new()),
        1 => {
            // The same pair index and confirming LIKE as the service (tg-invest src/search.rs).
            let kw = format!("基准项目{:03}", r.next_u64() % 1000);
            let phrase = tg_invest::search::search_grams(&kw).replace(' ', " & ");
            ("to_tsvector('simple', search_grams) @@ to_tsquery('simple', $4) AND search_text LIKE $3", format!("%{kw}%"), phrase)
        }
        2 => (
            "amount BETWEEN 10000 AND 40000 AND industry_code = $3 AND $4 = $4",
            INDUSTRIES[(r.next_u64() % 8) as usize].into(),
            String::new(),
        ),
        _ => {
            let (y0, y1) = date_years(r);
            ("first_contact_date >= $3 AND first_contact_date <= $4", format!("{y0}-01-01"), format!("{y1}-06-30"))
        }
    };
    // The same scoping as the service: a county's own rows, the city everything.
    let scope =
        if lo == "445300" { "deleted_at IS NULL AND $1 = $1 AND $2 = $2" } else { "deleted_at IS NULL AND region_code = $1 AND $2 = $2" };
    // The same capped count as the service.
    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM (SELECT 1 FROM inv_projects WHERE {scope} AND {cond} LIMIT 10001) c"))
        .bind(lo)
        .bind(hi)
        .bind(&a)
        .bind(&b)
        .fetch_one(pool)
        .await?;
    let rows = sqlx::query(&format!(
        "SELECT id, code, name, investor, industry_code, amount, region_code, (SELECT name FROM regions WHERE code = region_code), stage, first_contact_date, version \
         FROM inv_projects WHERE {scope} AND {cond} ORDER BY id DESC LIMIT 20"
    ))
    .bind(lo)
    .bind(hi)
    .bind(&a)
    .bind(&b)
    .fetch_all(pool)
    .await?;
    Ok(rows.len() + n as usize)
}

async fn sql(pg: &str, users: usize, secs: u64, think_ms: u64) -> Result<()> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(users.min(64) as u32).connect(pg).await?;
    let mut who = Vec::new();
    for a in ACCOUNTS {
        let r = sqlx::query("SELECT id, region_code FROM users WHERE username = $1").bind(a).fetch_one(&pool).await?;
        let region: String = r.try_get(1)?;
        let hi = format!("{region}\u{10FFFF}");
        who.push((r.try_get::<i64, _>(0)?, region, hi));
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for k in 0..users {
        let pool = pool.clone();
        let (user, lo, hi) = who[k % who.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut r = SplitMix64(k as u64 + 1);
            let mut lat = Vec::new();
            tokio::time::sleep(Duration::from_secs_f64(think_ms as f64 / 1000.0 * r.unit())).await;
            while Instant::now() < deadline {
                let t = Instant::now();
                sql_request(&pool, &mut r, user, &lo, &hi).await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                think(&mut r, think_ms).await;
            }
            anyhow::Ok(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    println!("{}", summary(all, secs as f64));
    Ok(())
}

/// Open 县区在谈审核 tasks of a leader: (instance id, version).
async fn review_tasks(http: &reqwest::Client, base: &str, token: &str, want: usize) -> Result<Vec<(i64, i64)>> {
    let mut out = Vec::new();
    let mut page = 1;
    while out.len() < want {
        let r: Value =
            http.get(format!("{base}/api/v1/wf/tasks?box=todo&page_size=500&page={page}")).bearer_auth(token).send().await?.json().await?;
        let items = r["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        for t in items {
            if t["step"] == "county_review" {
                out.push((t["instance_id"].as_i64().unwrap_or(0), t["instance_version"].as_i64().unwrap_or(0)));
            }
        }
        page += 1;
    }
    Ok(out)
}

async fn act(base: &str, secs: u64, workers: usize) -> Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(workers).build()?;
    let mut queues: Vec<(String, Vec<(i64, i64)>)> = Vec::new();
    for lead in ["yc.invlead", "ya.invlead"] {
        let token = login(&http, base, lead).await?;
        let tasks = review_tasks(&http, base, &token, 20_000).await?;
        let per = workers / 2;
        for w in 0..per {
            queues.push((token.clone(), tasks.iter().skip(w).step_by(per).copied().collect()));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut jobs = Vec::new();
    for (token, q) in queues {
        let http = http.clone();
        let url = base.to_owned();
        jobs.push(tokio::spawn(async move {
            let (mut lat, mut failed) = (Vec::new(), 0usize);
            for (id, version) in q {
                if Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                let resp = http
                    .post(format!("{url}/api/v1/wf/instances/{id}/act"))
                    .bearer_auth(&token)
                    .json(&json!({"action": "approve", "version": version, "comment": "同意"}))
                    .send()
                    .await?;
                if resp.status().is_success() {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    failed += 1;
                }
                let _ = resp.bytes().await;
            }
            anyhow::Ok((lat, failed))
        }));
    }
    let (mut all, mut failed) = (Vec::new(), 0);
    for j in jobs {
        let (l, f) = j.await??;
        all.extend(l);
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64().min(secs as f64).max(0.001);
    let mut s = summary(all, elapsed);
    s["failed"] = json!(failed);
    s["transitions_per_s"] = s["rps"].clone();
    println!("{s}");
    Ok(())
}

async fn sqlact(pg: &str, secs: u64, workers: usize) -> Result<()> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(workers as u32).connect(pg).await?;
    let rows = sqlx::query("SELECT t.id, t.instance_id, i.version, t.assignee_id FROM wf_tasks t JOIN wf_instances i ON i.id = t.instance_id WHERE t.step = 'county_review' AND t.status = 'open' ORDER BY t.id LIMIT 50000")
        .fetch_all(&pool)
        .await?;
    let mut items = Vec::new();
    for r in rows {
        items.push((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?, r.try_get::<i64, _>(2)?, r.try_get::<i64, _>(3)?));
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut jobs = Vec::new();
    for w in 0..workers {
        let pool = pool.clone();
        let mine: Vec<_> = items.iter().skip(w).step_by(workers).copied().collect();
        jobs.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for (task, inst, version, user) in mine {
                if Instant::now() >= deadline {
                    break;
                }
                let t = Instant::now();
                let mut tx = pool.begin().await?;
                let n = sqlx::query("UPDATE wf_instances SET version = version + 1, state = 'negotiating', updated_at = $1 WHERE id = $2 AND version = $3")
                    .bind(0i64)
                    .bind(inst)
                    .bind(version)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 1 {
                    sqlx::query("UPDATE wf_tasks SET status = 'done', handled_at = 0, result = '审核通过' WHERE id = $1").bind(task).execute(&mut *tx).await?;
                    sqlx::query("INSERT INTO wf_tasks (instance_id, kind, step, assignee_id, status, created_at) VALUES ($1, 'todo', 'negotiating', $2, 'open', 0)")
                        .bind(inst)
                        .bind(user)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("INSERT INTO wf_log (instance_id, at, actor_id, actor_name, action, action_name, from_state, to_state) VALUES ($1, 0, $2, 'x', 'approve', '审核通过', 'county_review', 'negotiating')")
                        .bind(inst)
                        .bind(user)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("UPDATE inv_projects SET stage = 'negotiating', version = version + 1 WHERE instance_id = $1").bind(inst).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::Ok(lat)
        }));
    }
    let mut all = Vec::new();
    for j in jobs {
        all.extend(j.await??);
    }
    let elapsed = started.elapsed().as_secs_f64().min(secs as f64).max(0.001);
    let mut s = summary(all, elapsed);
    s["transitions_per_s"] = s["rps"].clone();
    println!("{s}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let arg = |i: usize| a.get(i).cloned().unwrap_or_default();
    match arg(1).as_str() {
        "gen" => gen(&arg(2), arg(3).parse()?).await,
        "api" => api(&arg(2), arg(3).parse()?, arg(4).parse()?, arg(5).parse().unwrap_or(0)).await,
        "sql" => sql(&arg(2), arg(3).parse()?, arg(4).parse()?, arg(5).parse().unwrap_or(0)).await,
        "act" => act(&arg(2), arg(3).parse()?, arg(4).parse()?).await,
        "sqlact" => sqlact(&arg(2), arg(3).parse()?, arg(4).parse()?).await,
        _ => bail!("usage: tg-bench-workflow gen <db-url> <projects> | api <base> <users> <seconds> [think-ms] | sql <pg-url> <users> <seconds> [think-ms] | act <base> <seconds> <workers> | sqlact <pg-url> <seconds> <workers>"),
    }
}
