//! 掌上数窗 benchmark (see bench/indicators.sh and docs/benchmarks.md).
//!
//! `gen <data-dir> <pg-url>`: a synthetic library of 5,000 monthly indicators with nine categories
//! each, 72 months (2021-2026) for the city and its five counties — 21.6 million values — written
//! into a migrated Tongguan SQLite database (plus a 40-indicator topic `bench_dash`) and, as the
//! same rows, into a plain PostgreSQL table `bench_values`.
//! `api <base-url> <users> <seconds> [think-ms]`: that many signed-in users loading the dashboard
//! (random region each time), either in a closed loop (think 0: a stress test) or reading each
//! dashboard for 0.5-1.5 × think-ms before the next; prints latency percentiles as JSON.
//! `sql <pg-url> <users> <seconds> [think-ms]`: the same dashboard computed by plain SQL (window
//! functions for 同比/环比/累计, rank() for the county ranking) on PostgreSQL; prints the same JSON.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use std::time::{Duration, Instant};
use tg_spatial::rng::SplitMix64;

const INDICATORS: usize = 5000;
const CATS: usize = 9;
const REGIONS: [&str; 6] = ["445300", "445302", "445303", "445321", "445322", "445381"];
const SHARES: [f64; 5] = [0.17, 0.10, 0.18, 0.16, 0.39];

fn months() -> Vec<String> {
    (2021..=2026).flat_map(|y| (1..=12).map(move |m| format!("{y}-{m:02}"))).collect()
}

/// Every value of one indicator: (region, category, period, value); totals are exact sums.
fn values(i: usize) -> Vec<(&'static str, String, String, f64)> {
    let mut r = SplitMix64(0x1d1c_a7e5 ^ (i as u64).wrapping_mul(0x9E37_79B9));
    let base = r.range(10.0, 1000.0);
    let growth = r.range(-0.05, 0.12);
    let shares: Vec<f64> = (0..CATS).map(|_| r.range(0.2, 1.0)).collect();
    let s: f64 = shares.iter().sum();
    let mut out = Vec::with_capacity(72 * 6 * (CATS + 1));
    for (t, p) in months().into_iter().enumerate() {
        let level = base * (1.0 + growth).powf(t as f64 / 12.0) * (1.0 + 0.1 * ((t % 12) as f64 / 12.0 * std::f64::consts::TAU).sin());
        let mut city = [0.0; CATS];
        for (k, county) in REGIONS[1..].iter().enumerate() {
            let mut total = 0.0;
            for (c, share) in shares.iter().enumerate() {
                let v = (level * SHARES[k] * share / s * r.range(0.95, 1.05) * 100.0).round() / 100.0;
                city[c] += v;
                total += v;
                out.push((*county, format!("c{}", c + 1), p.clone(), v));
            }
            out.push((*county, String::new(), p.clone(), (total * 100.0).round() / 100.0));
        }
        let mut total = 0.0;
        for (c, v) in city.iter().enumerate() {
            let v = (v * 100.0).round() / 100.0;
            total += v;
            out.push(("445300", format!("c{}", c + 1), p.clone(), v));
        }
        out.push(("445300", String::new(), p, (total * 100.0).round() / 100.0));
    }
    out
}

fn code(i: usize) -> String {
    format!("bench_{i:04}")
}

/// The 40-indicator topic: widgets of every kind.
fn topic_groups() -> Value {
    let c = |a: usize, b: usize| (a..b).map(code).collect::<Vec<_>>();
    let w = |id: &str, chart: &str, by: &str, inds: Vec<String>| json!({"id": id, "title": id, "chart": chart, "by": by, "indicators": inds, "window": 12});
    json!([
        {"code": "g1", "name": "概况", "widgets": [w("cards", "carousel", "period", c(0, 8))]},
        {"code": "g2", "name": "趋势", "widgets": [w("t1", "line", "period", c(8, 11)), w("t2", "line", "period", c(11, 14)), w("t3", "bar", "period", c(14, 17)), w("t4", "line", "period", c(17, 20))]},
        {"code": "g3", "name": "对比", "widgets": [w("r1", "bar", "region", c(20, 22)), w("r2", "bar", "region", c(22, 24)), w("r3", "bar", "region", c(24, 26)), w("r4", "rank", "region", c(26, 28))]},
        {"code": "g4", "name": "结构", "widgets": [w("p1", "pie", "category", c(28, 29)), w("p2", "pie", "category", c(29, 30)), w("p3", "pareto", "category", c(30, 31)),
            w("p4", "funnel", "category", c(31, 32)), w("p5", "pie", "category", c(32, 34)), w("p6", "bar", "category", c(34, 36)), w("d1", "dual", "period", c(36, 38)), w("r5", "bar", "region", c(38, 40))]}
    ])
}

async fn gen(dir: &str, pg: &str) -> Result<()> {
    let url = format!("sqlite://{dir}/tongguan.db");
    let mut lite = sqlx::SqliteConnection::connect(&url).await.with_context(|| format!("open {url} (run `tongguan migrate` first)"))?;
    lite.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;").await?;
    let cats = json!({"name": "分类", "values": (1..=CATS).map(|c| format!("c{c}")).collect::<Vec<_>>()}).to_string();
    let t0 = Instant::now();
    let mut tx = lite.begin().await?;
    sqlx::query("INSERT INTO ind_loads (id, source, row_count, is_demo, loaded_at) VALUES (900000, '基准测试合成数据', 0, 1, 0)")
        .execute(&mut *tx)
        .await?;
    for i in 0..INDICATORS {
        sqlx::query(
            "INSERT INTO ind_indicators (code, name, unit, frequency, agg, direction, categories, chart, latest_period, has_demo, created_at, updated_at) \
             VALUES ($1, $2, '万元', 'month', 'sum', 'up', $3, 'line', '2026-12', 1, 0, 0)",
        )
        .bind(code(i))
        .bind(format!("基准指标{i:04}"))
        .bind(&cats)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("INSERT INTO ind_topics (code, name, description, groups, created_at, updated_at) VALUES ('bench_dash', '基准看板', '40 个指标', $1, 0, 0)")
        .bind(topic_groups().to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let ids: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM ind_indicators WHERE code LIKE 'bench_%' ORDER BY code").fetch_all(&mut lite).await?;
    let mut pgc = sqlx::PgConnection::connect(pg).await?;
    pgc.execute("DROP TABLE IF EXISTS bench_values; CREATE TABLE bench_values (indicator_id BIGINT NOT NULL, region_code TEXT NOT NULL, category TEXT NOT NULL, period TEXT NOT NULL, value DOUBLE PRECISION NOT NULL)").await?;
    let mut total = 0usize;
    let mut tx = lite.begin().await?;
    let mut copy = String::new();
    for (i, (id,)) in ids.iter().enumerate() {
        let rows = values(i);
        for chunk in rows.chunks(500) {
            let mut sql = String::from("INSERT INTO ind_values (indicator_id, region_code, category, period, value, load_id) VALUES ");
            for (k, _) in chunk.iter().enumerate() {
                if k > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("(?{}, ?{}, ?{}, ?{}, ?{}, 900000)", k * 5 + 1, k * 5 + 2, k * 5 + 3, k * 5 + 4, k * 5 + 5));
            }
            let mut q = sqlx::query(&sql);
            for (r, c, p, v) in chunk {
                q = q.bind(*id).bind(*r).bind(c.as_str()).bind(p.as_str()).bind(*v);
            }
            q.execute(&mut *tx).await?;
        }
        for (r, c, p, v) in &rows {
            copy.push_str(&format!("{id}\t{r}\t{c}\t{p}\t{v}\n"));
        }
        total += rows.len();
        if i % 100 == 99 {
            tx.commit().await?;
            tx = lite.begin().await?;
            let mut c = pgc.copy_in_raw("COPY bench_values FROM STDIN").await?;
            c.send(copy.as_bytes()).await?;
            c.finish().await?;
            copy.clear();
            eprintln!("{} indicators, {total} values, {:.0} s", i + 1, t0.elapsed().as_secs_f64());
        }
    }
    tx.commit().await?;
    if !copy.is_empty() {
        let mut c = pgc.copy_in_raw("COPY bench_values FROM STDIN").await?;
        c.send(copy.as_bytes()).await?;
        c.finish().await?;
    }
    sqlx::query("UPDATE ind_state SET meta_rev = meta_rev + 1, data_rev = data_rev + 1").execute(&mut lite).await?;
    pgc.execute("ALTER TABLE bench_values ADD PRIMARY KEY (indicator_id, region_code, category, period); ANALYZE bench_values").await?;
    println!("{}", json!({"indicators": INDICATORS, "values": total, "seconds": t0.elapsed().as_secs_f64()}));
    Ok(())
}

/// A user reading the dashboard before the next request: 0.5-1.5 × `ms` (0: a closed loop).
async fn think(r: &mut SplitMix64, ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_secs_f64(ms as f64 / 1000.0 * r.range(0.5, 1.5))).await;
    }
}

fn summary(mut lat: Vec<f64>, secs: f64) -> Value {
    lat.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or(0.0);
    json!({"requests": lat.len(), "rps": lat.len() as f64 / secs, "p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99), "max_ms": lat.last().copied().unwrap_or(0.0)})
}

async fn api(base: &str, concurrency: usize, secs: u64, think_ms: u64) -> Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let mut tokens = Vec::new();
    for _ in 0..concurrency {
        let r: Value = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": "city.leader", "password": "Demo@12345"}))
            .send()
            .await?
            .json()
            .await?;
        match r["token"].as_str() {
            Some(t) => tokens.push(t.to_owned()),
            None => bail!("login failed: {r}"),
        }
    }
    // Warm the caches once, check the numbers against the generated data.
    let d: Value = http.get(format!("{base}/api/v1/ind/topics/bench_dash/dashboard")).bearer_auth(&tokens[0]).send().await?.json().await?;
    let widgets = d["widgets"].as_array().map(Vec::len).unwrap_or(0);
    if widgets != 17 {
        bail!("unexpected dashboard: {d}");
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for (n, token) in tokens.into_iter().enumerate() {
        let http = http.clone();
        let url = base.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut r = SplitMix64(n as u64);
            let mut lat = Vec::new();
            // Users arrive spread over one think time, not all in the same millisecond.
            tokio::time::sleep(Duration::from_secs_f64(think_ms as f64 / 1000.0 * r.unit())).await;
            while Instant::now() < deadline {
                let region = REGIONS[(r.next_u64() % 6) as usize];
                let t = Instant::now();
                let resp =
                    http.get(format!("{url}/api/v1/ind/topics/bench_dash/dashboard?region={region}")).bearer_auth(&token).send().await;
                match resp {
                    Ok(x) if x.status().is_success() => {
                        let _ = x.bytes().await;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                        think(&mut r, think_ms).await;
                    }
                    Ok(x) => return Err(anyhow::anyhow!("status {}", x.status())),
                    Err(e) => return Err(e.into()),
                }
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

/// The dashboard as plain SQL: trends and cards with lag()/sum() windows, the county breakdown
/// with rank(), the category breakdowns — three queries per dashboard, as an application would run.
async fn sql_dashboard(pool: &sqlx::PgPool, ids: &[i64], region: &str) -> Result<usize> {
    let trend: Vec<i64> = ids[0..20].iter().chain(&ids[36..38]).copied().collect();
    let rows = sqlx::query(
        "SELECT * FROM (SELECT indicator_id, period, value, \
           lag(value, 12) OVER w AS last_year, lag(value, 1) OVER w AS previous, \
           sum(value) OVER (PARTITION BY indicator_id, substr(period, 1, 4) ORDER BY period) AS cumulative \
         FROM bench_values WHERE indicator_id = ANY($1) AND region_code = $2 AND category = '' WINDOW w AS (PARTITION BY indicator_id ORDER BY period)) x \
         WHERE period > '2025-12' ORDER BY indicator_id, period",
    )
    .bind(&trend)
    .bind(region)
    .fetch_all(pool)
    .await?;
    let by_region: Vec<i64> = ids[20..28].iter().chain(&ids[38..40]).copied().collect();
    let parent_rows = sqlx::query(
        "SELECT v.indicator_id, v.region_code, v.value, ly.value AS last_year, rank() OVER (PARTITION BY v.indicator_id ORDER BY v.value DESC) \
         FROM bench_values v LEFT JOIN bench_values ly ON ly.indicator_id = v.indicator_id AND ly.region_code = v.region_code AND ly.category = '' AND ly.period = '2025-12' \
         WHERE v.indicator_id = ANY($1) AND v.category = '' AND v.period = '2026-12' AND (CASE WHEN $2 = '445300' THEN v.region_code <> '445300' ELSE v.region_code = $2 END)",
    )
    .bind(&by_region)
    .bind(region)
    .fetch_all(pool)
    .await?;
    let cats: Vec<i64> = ids[28..36].to_vec();
    let cat_rows = sqlx::query(
        "SELECT v.indicator_id, v.category, v.value, ly.value FROM bench_values v LEFT JOIN bench_values ly ON ly.indicator_id = v.indicator_id \
         AND ly.region_code = v.region_code AND ly.category = v.category AND ly.period = '2025-12' \
         WHERE v.indicator_id = ANY($1) AND v.region_code = $2 AND v.category <> '' AND v.period = '2026-12'",
    )
    .bind(&cats)
    .bind(region)
    .fetch_all(pool)
    .await?;
    Ok(rows.len() + parent_rows.len() + cat_rows.len())
}

async fn sql(pg: &str, concurrency: usize, secs: u64, think_ms: u64) -> Result<()> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(concurrency.min(64) as u32).connect(pg).await?;
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT DISTINCT indicator_id FROM bench_values ORDER BY indicator_id LIMIT 40").fetch_all(&pool).await?;
    if ids.len() != 40 {
        bail!("bench_values is missing: run gen first");
    }
    let n = sql_dashboard(&pool, &ids, "445300").await?;
    if n < 200 {
        bail!("the SQL dashboard returned {n} rows");
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for k in 0..concurrency {
        let pool = pool.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut r = SplitMix64(k as u64);
            let mut lat = Vec::new();
            tokio::time::sleep(Duration::from_secs_f64(think_ms as f64 / 1000.0 * r.unit())).await;
            while Instant::now() < deadline {
                let region = REGIONS[(r.next_u64() % 6) as usize];
                let t = Instant::now();
                sql_dashboard(&pool, &ids, region).await?;
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

#[tokio::main]
async fn main() -> Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let arg = |i: usize| a.get(i).cloned().unwrap_or_default();
    match arg(1).as_str() {
        "gen" => gen(&arg(2), &arg(3)).await,
        "api" => api(&arg(2), arg(3).parse()?, arg(4).parse()?, arg(5).parse().unwrap_or(0)).await,
        "sql" => sql(&arg(2), arg(3).parse()?, arg(4).parse()?, arg(5).parse().unwrap_or(0)).await,
        _ => bail!("usage: tg-bench-indicators gen <data-dir> <pg-url> | api <base-url> <users> <seconds> [think-ms] | sql <pg-url> <users> <seconds> [think-ms]"),
    }
}
