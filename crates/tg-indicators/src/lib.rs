//! 掌上数窗 (云治慧): the indicator library and everything leaders do with it — values by
//! indicator × period × region × category, the computations (同比, 环比, 累计, ranking, targets,
//! formulas, roll-up), topic dashboards defined as data, and the five abilities (领导批示, 特别关注,
//! 关联搜索, 数据点评, 看数水印).
//!
//! The database is the truth. Each node keeps two caches: the library's metadata (indicators,
//! topics, relations, regions, search index) and per-indicator series. Two revision counters in
//! `ind_state` (bumped in the same transaction as every write) tell a node when either is stale, so
//! a dashboard request costs one tiny query plus in-memory work, and all nodes stay consistent.

pub mod compute;
pub mod dashboard;
pub mod demo;
pub mod formula;
pub mod library;
pub mod model;
pub mod pack;
pub mod period;
pub mod search;
pub mod social;
pub mod values;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use compute::{RegionTree, Series, Val};
use model::{Indicator, Topic};
use period::Period;
use sqlx::Row;
use tg_iam::{Iam, IamError, IamResult, Principal};
use tg_kernel::RegionCode;

pub use model::{CatalogNode, Categories, Group, IndicatorInput, Related, Span, TagAttrDef, TopicBrief, TopicInput, Widget};

/// Schema migrations of this context.
pub const MIGRATIONS: &[tg_db::Migration] = &[tg_db::Migration {
    component: "indicators",
    version: 1,
    name: "indicators",
    sqlite: include_str!("../migrations/sqlite/0001_indicators.sql"),
    postgres: include_str!("../migrations/postgres/0001_indicators.sql"),
}];

/// Values kept in the series cache before the least recently used series are dropped.
const CACHE_BUDGET: usize = 4_000_000;

/// The library's metadata as one immutable snapshot.
#[derive(Debug, Default)]
pub struct Meta {
    pub rev: i64,
    pub city: String,
    pub indicators: Vec<Arc<Indicator>>,
    by_code: HashMap<String, usize>,
    by_id: HashMap<i64, usize>,
    pub formulas: HashMap<String, formula::Expr>,
    pub topics: Vec<Arc<Topic>>,
    /// (from id, to id, kind).
    pub relations: Vec<(i64, i64, String)>,
    /// (id, parent id, code, name, kind, topic code).
    pub catalog: Vec<(i64, Option<i64>, String, String, String, String)>,
    pub tree: RegionTree,
    pub search: search::Index,
}

impl Meta {
    pub fn indicator(&self, code: &str) -> Option<&Arc<Indicator>> {
        self.by_code.get(code).map(|&i| &self.indicators[i])
    }
    pub fn indicator_by_id(&self, id: i64) -> Option<&Arc<Indicator>> {
        self.by_id.get(&id).map(|&i| &self.indicators[i])
    }
    pub fn topic(&self, code: &str) -> Option<&Arc<Topic>> {
        self.topics.iter().find(|t| t.code == code)
    }
}

/// Where a value came from.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    pub source: String,
    pub loaded_at: i64,
    pub is_demo: bool,
}

#[derive(Debug)]
struct CachedSeries {
    key: i64,
    series: Arc<Series>,
    used: AtomicU64,
}

#[derive(Debug, Default)]
struct DataCache {
    rev: i64,
    revs: HashMap<i64, i64>,
    series: HashMap<i64, CachedSeries>,
    loads: HashMap<i64, LoadInfo>,
    max_load: i64,
}

/// Computed dashboards by (topic, region, period, viewer's visibility), valid for one library
/// revision (every value write bumps it). Per-viewer parts (watermark, lights) are added after.
#[derive(Debug, Default)]
pub(crate) struct DashCache {
    rev: i64,
    map: HashMap<String, Arc<dashboard::Computed>>,
}

#[derive(Debug, Default)]
struct Caches {
    meta: RwLock<Option<Arc<Meta>>>,
    dash: std::sync::Mutex<DashCache>,
    data: RwLock<DataCache>,
    tick: AtomicU64,
    /// Serialises metadata rebuilds so concurrent requests do not all rebuild.
    rebuild: tokio::sync::Mutex<()>,
}

/// The indicator service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct IndService {
    pub(crate) iam: Iam,
    city: String,
    caches: Arc<Caches>,
}

pub(crate) fn lock_err<T>(_: T) -> IamError {
    IamError::Internal("indicator cache lock poisoned".into())
}

pub(crate) fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// Wall-clock time in China Standard Time (UTC+8, no daylight saving) as `YYYY-MM-DD HH:MM`:
/// watermarks, deadlines and "today" follow the users' clock, not the server's UTC.
pub fn beijing_time(ms: i64) -> String {
    let t = tg_kernel::clock::to_rfc3339(ms + 8 * 3_600_000);
    t.get(0..16).unwrap_or(&t).replace('T', " ")
}

/// Today's date in China Standard Time (`YYYY-MM-DD`).
pub fn beijing_date(ms: i64) -> String {
    beijing_time(ms).get(0..10).unwrap_or("").to_owned()
}

/// Whether `code` is in the caller's scope or above it (county users see the city total).
pub fn region_visible(actor: &Principal, code: &str) -> bool {
    match RegionCode::parse(code) {
        Ok(r) => actor.scope.region.contains(&r) || r.contains(&actor.scope.region),
        Err(_) => false,
    }
}

impl IndService {
    pub fn new(iam: Iam, city: &str) -> Self {
        IndService { iam, city: city.to_owned(), caches: Arc::new(Caches::default()) }
    }

    pub fn city(&self) -> &str {
        &self.city
    }

    pub(crate) fn now(&self) -> i64 {
        self.iam.clock().now_ms()
    }

    pub(crate) fn db(&self) -> &tg_db::Db {
        self.iam.db()
    }

    /// Whether the caller may see the indicator (roles, department, and its topic's roles).
    pub fn can_see(&self, actor: &Principal, meta: &Meta, ind: &Indicator) -> bool {
        let roles_ok = |roles: &[String]| roles.is_empty() || actor.roles.iter().any(|r| roles.contains(&r.code));
        if !roles_ok(&ind.visible_roles) {
            return false;
        }
        if let (Some(d), Some(own)) = (actor.scope.department_id, ind.department_id) {
            if d != own && !actor.has("ind:manage") {
                return false;
            }
        }
        match ind.topic_code.as_deref().and_then(|t| meta.topic(t)) {
            Some(t) => roles_ok(&t.visible_roles),
            None => true,
        }
    }

    /// Whether the caller may see the topic.
    pub fn can_see_topic(&self, actor: &Principal, t: &Topic) -> bool {
        let roles_ok = t.visible_roles.is_empty() || actor.roles.iter().any(|r| t.visible_roles.contains(&r.code));
        let dept_ok = match (actor.scope.department_id, t.department_id) {
            (Some(d), Some(own)) => d == own || actor.has("ind:manage"),
            _ => true,
        };
        roles_ok && dept_ok
    }

    /// The visible indicator with this code, or 404.
    pub fn visible_indicator(&self, actor: &Principal, meta: &Meta, code: &str) -> IamResult<Arc<Indicator>> {
        match meta.indicator(code) {
            Some(i) if self.can_see(actor, meta, i) => Ok(i.clone()),
            _ => Err(IamError::not_found("指标", "ind.indicator_not_found")),
        }
    }

    /// The visible topic with this code, or 404.
    pub fn visible_topic(&self, actor: &Principal, meta: &Meta, code: &str) -> IamResult<Arc<Topic>> {
        match meta.topic(code) {
            Some(t) if self.can_see_topic(actor, t) => Ok(t.clone()),
            _ => Err(IamError::not_found("专题", "ind.topic_not_found")),
        }
    }

    /// Bumps the metadata revision (inside the caller's transaction).
    pub(crate) async fn bump_meta(tx: &mut tg_db::Tx) -> IamResult<()> {
        sqlx::query("UPDATE ind_state SET meta_rev = meta_rev + 1 WHERE id = 1").execute(&mut **tx).await?;
        Ok(())
    }

    /// The current metadata snapshot, rebuilt when another write (on any node) changed it, with the
    /// series cache brought up to date.
    pub async fn meta(&self) -> IamResult<Arc<Meta>> {
        let row = sqlx::query("SELECT meta_rev, data_rev FROM ind_state WHERE id = 1").fetch_one(self.db().pool()).await?;
        let (meta_rev, data_rev): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        self.sync_data(data_rev).await?;
        if let Some(m) = self.caches.meta.read().map_err(lock_err)?.as_ref() {
            if m.rev == meta_rev {
                return Ok(m.clone());
            }
        }
        let _guard = self.caches.rebuild.lock().await;
        if let Some(m) = self.caches.meta.read().map_err(lock_err)?.as_ref() {
            if m.rev >= meta_rev {
                return Ok(m.clone());
            }
        }
        let m = Arc::new(library::load_meta(self, meta_rev).await?);
        let mut slot = self.caches.meta.write().map_err(lock_err)?;
        if slot.as_ref().is_none_or(|old| old.rev < m.rev) {
            *slot = Some(m.clone());
        }
        // Series of derived indicators depend on metadata (formulas): drop them.
        let mut data = self.caches.data.write().map_err(lock_err)?;
        data.series.retain(|id, _| m.indicator_by_id(*id).is_some_and(|i| i.formula.is_none()));
        Ok(m)
    }

    async fn sync_data(&self, data_rev: i64) -> IamResult<()> {
        if self.caches.data.read().map_err(lock_err)?.rev == data_rev {
            return Ok(());
        }
        let rows = sqlx::query("SELECT id, data_rev FROM ind_indicators").fetch_all(self.db().pool()).await?;
        let max_load = self.caches.data.read().map_err(lock_err)?.max_load;
        let loads = sqlx::query("SELECT id, source, loaded_at, is_demo FROM ind_loads WHERE id > $1")
            .bind(max_load)
            .fetch_all(self.db().pool())
            .await?;
        let mut data = self.caches.data.write().map_err(lock_err)?;
        let mut revs = HashMap::with_capacity(rows.len());
        for r in rows {
            revs.insert(r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?);
        }
        for r in loads {
            let id: i64 = r.try_get(0)?;
            data.max_load = data.max_load.max(id);
            data.loads.insert(id, LoadInfo { source: r.try_get(1)?, loaded_at: r.try_get(2)?, is_demo: r.try_get::<i64, _>(3)? != 0 });
        }
        // Drop series whose stored values changed; derived ones are re-keyed on their inputs below.
        let stale: Vec<i64> =
            data.series.iter().filter(|(id, c)| revs.get(id).is_none_or(|r| *r != c.key) && c.key >= 0).map(|(id, _)| *id).collect();
        for id in stale {
            data.series.remove(&id);
        }
        data.series.retain(|_, c| c.key >= 0);
        data.revs = revs;
        data.rev = data_rev;
        Ok(())
    }

    pub(crate) fn dash_get(&self, rev: i64, key: &str) -> Option<Arc<dashboard::Computed>> {
        let c = self.caches.dash.lock().ok()?;
        if c.rev != rev {
            return None;
        }
        c.map.get(key).cloned()
    }

    pub(crate) fn dash_put(&self, rev: i64, key: String, v: Arc<dashboard::Computed>) {
        if let Ok(mut c) = self.caches.dash.lock() {
            if c.rev != rev {
                c.map.clear();
                c.rev = rev;
            }
            if c.map.len() >= 5000 {
                c.map.clear();
            }
            c.map.insert(key, v);
        }
    }

    /// Where a load came from.
    pub fn load_info(&self, id: i64) -> Option<LoadInfo> {
        self.caches.data.read().ok()?.loads.get(&id).cloned()
    }

    /// All values of an indicator (stored ones rolled up the hierarchy; derived ones computed).
    pub async fn series(&self, meta: &Meta, ind: &Indicator) -> IamResult<Arc<Series>> {
        self.series_depth(meta, ind, 0).await
    }

    fn series_depth<'a>(
        &'a self,
        meta: &'a Meta,
        ind: &'a Indicator,
        depth: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = IamResult<Arc<Series>>> + Send + 'a>> {
        Box::pin(async move {
            let tick = self.caches.tick.fetch_add(1, Ordering::Relaxed);
            // Derived series are cached with key -1 and dropped whenever any data changes.
            let key =
                if ind.formula.is_some() { -1 } else { self.caches.data.read().map_err(lock_err)?.revs.get(&ind.id).copied().unwrap_or(0) };
            if let Some(c) = self.caches.data.read().map_err(lock_err)?.series.get(&ind.id) {
                if c.key == key {
                    c.used.store(tick, Ordering::Relaxed);
                    return Ok(c.series.clone());
                }
            }
            let series = if let Some(expr) = meta.formulas.get(&ind.code) {
                if depth > 8 {
                    return Err(IamError::Internal(format!("formula nesting too deep at {}", ind.code)));
                }
                let mut inputs = HashMap::new();
                for v in expr.vars() {
                    if let Some(i) = meta.indicator(&v) {
                        inputs.insert(v.clone(), self.series_depth(meta, i, depth + 1).await?);
                    }
                }
                derive(expr, &inputs)
            } else {
                let rows = sqlx::query("SELECT region_code, category, period, value, load_id FROM ind_values WHERE indicator_id = $1")
                    .bind(ind.id)
                    .fetch_all(self.db().pool())
                    .await?;
                let mut s = Series::default();
                for r in rows {
                    let per: String = r.try_get(2)?;
                    if let Some(p) = Period::parse(&per) {
                        let region: String = r.try_get(0)?;
                        let cat: String = r.try_get(1)?;
                        s.insert(&region, &cat, p, Val { v: r.try_get(3)?, load: r.try_get(4)? });
                    }
                }
                s.roll_up(&meta.tree, ind.additive());
                s
            };
            let series = Arc::new(series);
            let mut data = self.caches.data.write().map_err(lock_err)?;
            data.series.insert(ind.id, CachedSeries { key, series: series.clone(), used: AtomicU64::new(tick) });
            let mut total: usize = data.series.values().map(|c| c.series.len()).sum();
            if total > CACHE_BUDGET {
                let mut by_age: Vec<(u64, i64, usize)> =
                    data.series.iter().map(|(id, c)| (c.used.load(Ordering::Relaxed), *id, c.series.len())).collect();
                by_age.sort();
                for (_, id, n) in by_age {
                    if total <= CACHE_BUDGET / 2 || id == ind.id {
                        break;
                    }
                    data.series.remove(&id);
                    total -= n;
                }
            }
            Ok(series)
        })
    }

    /// Drops every derived series (their inputs changed).
    pub(crate) fn drop_derived(&self) {
        if let Ok(mut d) = self.caches.data.write() {
            d.series.retain(|_, c| c.key >= 0);
        }
    }
}

/// Computes a derived series for every (region, category "") and period where all inputs exist.
fn derive(expr: &formula::Expr, inputs: &HashMap<String, Arc<Series>>) -> Series {
    let mut out = Series::default();
    let vars = expr.vars();
    let Some(first) = vars.first().and_then(|v| inputs.get(v)) else { return out };
    for ((region, cat), line) in &first.data {
        if !cat.is_empty() {
            continue;
        }
        for p in line.keys() {
            let get = |code: &str| inputs.get(code).and_then(|s| s.value(region, "", *p));
            if let Some(v) = expr.eval(&get) {
                out.insert(region, "", *p, Val { v: compute::round(v, 4), load: 0 });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn users_clock_is_china_standard_time() {
        // 2026-11-29 16:30 UTC is already the 30th in Yunfu.
        let ms = 1_795_969_800_000;
        assert_eq!(tg_kernel::clock::to_rfc3339(ms).get(0..16), Some("2026-11-29T16:30"));
        assert_eq!(super::beijing_time(ms), "2026-11-30 00:30");
        assert_eq!(super::beijing_date(ms), "2026-11-30");
    }
}
