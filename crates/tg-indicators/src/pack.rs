//! The deployment pack's indicator library (`packs/<city>/indicators/*.toml`): topics, groups,
//! indicators, relations and dashboard widgets as data. `sync` inserts what is missing (the
//! administrators' edits are never overwritten) and links departments once they exist.

use crate::model::{Categories, Group, Span, TagAttrDef, TopicInput, Widget};
use crate::IndService;
use serde::Deserialize;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};
use tg_iam::{AuditCtx, AuditEvent, IamResult};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicHead {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub requirement: String,
    #[serde(default)]
    pub sort: i64,
    #[serde(default)]
    pub key: bool,
    #[serde(default)]
    pub restricted: bool,
    #[serde(default)]
    pub visible_roles: Vec<String>,
    pub department: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDef {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub requirement: String,
}

/// How the demo generator spreads a value over the counties.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Weights {
    Named(String),
    Explicit(BTreeMap<String, f64>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoDef {
    pub base: f64,
    #[serde(default)]
    pub growth: f64,
    #[serde(default)]
    pub season: f64,
    #[serde(default)]
    pub noise: f64,
    #[serde(default = "one")]
    pub decimals: i32,
    #[serde(default = "population")]
    pub weights: Weights,
    #[serde(default)]
    pub towns: bool,
    #[serde(default)]
    pub category_shares: Vec<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

fn one() -> i32 {
    1
}
fn population() -> Weights {
    Weights::Named("population".into())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndDef {
    pub code: String,
    pub name: String,
    pub group: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub definition: String,
    #[serde(default)]
    pub source: String,
    pub department: Option<String>,
    pub frequency: String,
    pub agg: String,
    pub additive_regions: Option<bool>,
    #[serde(default = "up")]
    pub direction: String,
    #[serde(default)]
    pub key: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub attrs: BTreeMap<String, String>,
    pub categories: Option<Categories>,
    pub formula: Option<String>,
    pub chart: Option<String>,
    #[serde(default)]
    pub targets: BTreeMap<String, f64>,
    pub demo: Option<DemoDef>,
}

fn up() -> String {
    "up".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelDef {
    pub from: String,
    pub to: String,
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidgetDef {
    pub group: String,
    pub id: String,
    pub title: String,
    pub chart: String,
    pub indicators: Vec<String>,
    pub by: String,
    pub window: Option<u32>,
    pub span: Option<Span>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicFile {
    pub topic: TopicHead,
    pub groups: Vec<GroupDef>,
    pub indicators: Vec<IndDef>,
    #[serde(default)]
    pub relations: Vec<RelDef>,
    #[serde(default)]
    pub widgets: Vec<WidgetDef>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LibraryFile {
    #[serde(default)]
    pub attr_defs: Vec<TagAttrDef>,
}

/// The whole library of a pack.
#[derive(Debug, Clone, Default)]
pub struct IndicatorPack {
    pub library: LibraryFile,
    pub topics: Vec<TopicFile>,
}

impl IndicatorPack {
    /// Parses `(file name, text)` pairs (`_library.toml` plus one file per topic) and checks every
    /// reference; the error lists every problem with its file.
    pub fn parse(files: &[(&str, &str)]) -> Result<Self, String> {
        let mut pack = IndicatorPack::default();
        let mut errs = Vec::new();
        for (name, text) in files {
            if name.starts_with('_') {
                match toml::from_str::<LibraryFile>(text) {
                    Ok(l) => pack.library = l,
                    Err(e) => errs.push(format!("{name}: {e}")),
                }
            } else {
                match toml::from_str::<TopicFile>(text) {
                    Ok(t) => pack.topics.push(t),
                    Err(e) => errs.push(format!("{name}: {e}")),
                }
            }
        }
        if errs.is_empty() {
            errs = pack.check();
        }
        if errs.is_empty() {
            pack.topics.sort_by_key(|t| t.topic.sort);
            Ok(pack)
        } else {
            Err(errs.join("\n"))
        }
    }

    pub fn indicators(&self) -> impl Iterator<Item = (&TopicFile, &IndDef)> {
        self.topics.iter().flat_map(|t| t.indicators.iter().map(move |i| (t, i)))
    }

    fn check(&self) -> Vec<String> {
        let mut errs = Vec::new();
        let mut codes: HashMap<&str, &IndDef> = HashMap::new();
        let attr_names: HashSet<&str> = self.library.attr_defs.iter().flat_map(|a| [a.name.as_str(), a.code.as_str()]).collect();
        let mut topics = HashSet::new();
        for t in &self.topics {
            let tc = &t.topic.code;
            if !crate::model::valid_code(tc) || !topics.insert(tc.clone()) {
                errs.push(format!("{tc}: invalid or duplicate topic code"));
            }
            let groups: HashSet<&str> = t.groups.iter().map(|g| g.code.as_str()).collect();
            for i in &t.indicators {
                if !crate::model::valid_code(&i.code) || codes.insert(&i.code, i).is_some() {
                    errs.push(format!("{tc}/{}: invalid or duplicate indicator code", i.code));
                }
                if !groups.contains(i.group.as_str()) {
                    errs.push(format!("{tc}/{}: unknown group {}", i.code, i.group));
                }
                let mut v = tg_kernel::ValidationErrors::new();
                to_input(i, None, None).check(&mut v);
                for e in v.0 {
                    errs.push(format!("{tc}/{}: {}: {}", i.code, e.field, e.message));
                }
                for k in i.attrs.keys() {
                    if !attr_names.contains(k.as_str()) {
                        errs.push(format!("{tc}/{}: attribute {k} is not defined in _library.toml", i.code));
                    }
                }
                match (&i.formula, &i.demo) {
                    (None, None) => errs.push(format!("{tc}/{}: needs demo parameters or a formula", i.code)),
                    (_, Some(d)) => {
                        let n = i.categories.as_ref().map_or(0, |c| c.values.len());
                        if d.category_shares.len() != n {
                            errs.push(format!(
                                "{tc}/{}: category_shares has {} entries for {n} categories",
                                i.code,
                                d.category_shares.len()
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        for (tc, i) in self.indicators().map(|(t, i)| (&t.topic.code, i)) {
            if let Some(e) = i.formula.as_ref().and_then(|f| crate::formula::parse(f).ok()) {
                for v in e.vars() {
                    match codes.get(v.as_str()) {
                        None => errs.push(format!("{tc}/{}: formula uses unknown {v}", i.code)),
                        Some(o) if o.frequency != i.frequency => {
                            errs.push(format!("{tc}/{}: formula input {v} has another frequency", i.code))
                        }
                        _ => {}
                    }
                }
            }
        }
        for t in &self.topics {
            let tc = &t.topic.code;
            for r in &t.relations {
                if !codes.contains_key(r.from.as_str())
                    || !codes.contains_key(r.to.as_str())
                    || !["leading", "lagging", "part_of", "same_topic"].contains(&r.kind.as_str())
                {
                    errs.push(format!("{tc}: bad relation {} {} {}", r.from, r.kind, r.to));
                }
            }
            let mut ids = HashSet::new();
            for w in &t.widgets {
                if !t.groups.iter().any(|g| g.code == w.group) || !ids.insert(&w.id) {
                    errs.push(format!("{tc}/{}: unknown group or duplicate widget id", w.id));
                }
                if !crate::model::CHARTS.contains(&w.chart.as_str()) || !["period", "region", "category"].contains(&w.by.as_str()) {
                    errs.push(format!("{tc}/{}: bad chart or by", w.id));
                }
                let mut freq = None;
                for c in &w.indicators {
                    match codes.get(c.as_str()) {
                        None => errs.push(format!("{tc}/{}: unknown indicator {c}", w.id)),
                        Some(i) => {
                            if w.by == "category" && i.categories.is_none() {
                                errs.push(format!("{tc}/{}: {c} has no categories", w.id));
                            }
                            if (w.chart == "dual" || (w.by == "period" && !matches!(w.chart.as_str(), "card" | "carousel")))
                                && freq.replace(&i.frequency).is_some_and(|f| f != &i.frequency)
                            {
                                errs.push(format!("{tc}/{}: indicators of different frequencies on one trend", w.id));
                            }
                        }
                    }
                }
                if w.chart == "dual" && w.indicators.len() != 2 {
                    errs.push(format!("{tc}/{}: dual needs exactly 2 indicators", w.id));
                }
            }
        }
        errs
    }
}

fn to_input(i: &IndDef, department_id: Option<i64>, catalog_id: Option<i64>) -> crate::model::IndicatorInput {
    crate::model::IndicatorInput {
        code: i.code.clone(),
        name: i.name.clone(),
        unit: i.unit.clone(),
        definition: i.definition.clone(),
        source: i.source.clone(),
        department_id,
        frequency: i.frequency.clone(),
        agg: i.agg.clone(),
        additive_regions: i.additive_regions.unwrap_or(true),
        direction: i.direction.clone(),
        is_key: i.key,
        tags: i.tags.clone(),
        attrs: i.attrs.clone(),
        categories: i.categories.clone(),
        formula: i.formula.clone(),
        chart: i.chart.clone().unwrap_or_else(|| "line".into()),
        catalog_id,
        targets: i.targets.clone(),
        visible_roles: Vec::new(),
        version: None,
    }
}

fn topic_input(t: &TopicFile, department_id: Option<i64>) -> TopicInput {
    TopicInput {
        code: t.topic.code.clone(),
        name: t.topic.name.clone(),
        description: t.topic.description.clone(),
        requirement: t.topic.requirement.clone(),
        sort: t.topic.sort,
        is_key: t.topic.key,
        restricted: t.topic.restricted,
        visible_roles: t.topic.visible_roles.clone(),
        department_id,
        groups: t
            .groups
            .iter()
            .map(|g| Group {
                code: g.code.clone(),
                name: g.name.clone(),
                widgets: t
                    .widgets
                    .iter()
                    .filter(|w| w.group == g.code)
                    .map(|w| Widget {
                        id: w.id.clone(),
                        title: w.title.clone(),
                        chart: w.chart.clone(),
                        indicators: w.indicators.clone(),
                        by: w.by.clone(),
                        window: w.window.unwrap_or(12),
                        span: w.span.clone().unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect(),
        version: None,
    }
}

impl IndService {
    /// Inserts the pack's missing attribute definitions, topics, indicators and relations, and links
    /// departments named by the pack that now exist. Returns how many rows were inserted.
    pub async fn sync_pack(&self, pack: &IndicatorPack) -> IamResult<usize> {
        let db = self.db();
        let depts: HashMap<String, i64> = sqlx::query("SELECT code, id FROM departments")
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let existing: HashMap<String, (i64, Option<i64>)> = sqlx::query("SELECT code, id, department_id FROM ind_indicators")
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?))))
            .collect::<Result<_, sqlx::Error>>()?;
        let topics: HashMap<String, Option<i64>> = sqlx::query("SELECT code, department_id FROM ind_topics")
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()?;
        let now = self.now();
        let mut n = 0;
        let mut linked = 0;
        let mut tx = db.begin().await?;
        let attrs: i64 = sqlx::query("SELECT COUNT(*) FROM ind_attr_defs").fetch_one(&mut *tx).await?.try_get(0)?;
        if attrs == 0 {
            for (i, d) in pack.library.attr_defs.iter().enumerate() {
                sqlx::query("INSERT INTO ind_attr_defs (code, name, kind, options, sort) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&d.code)
                    .bind(&d.name)
                    .bind(&d.kind)
                    .bind(serde_json::to_string(&d.options).unwrap_or_default())
                    .bind(i as i64)
                    .execute(&mut *tx)
                    .await?;
                n += 1;
            }
        }
        for t in &pack.topics {
            let dept = t.topic.department.as_ref().and_then(|d| depts.get(d)).copied();
            match topics.get(&t.topic.code) {
                None => {
                    crate::library::insert_topic(&mut tx, &topic_input(t, dept), now).await?;
                    n += 1;
                }
                Some(None) if dept.is_some() => {
                    sqlx::query("UPDATE ind_topics SET department_id = $1 WHERE code = $2")
                        .bind(dept)
                        .bind(&t.topic.code)
                        .execute(&mut *tx)
                        .await?;
                    linked += 1;
                }
                _ => {}
            }
            for i in &t.indicators {
                let dept = i.department.as_ref().or(t.topic.department.as_ref()).and_then(|d| depts.get(d)).copied();
                match existing.get(&i.code) {
                    None => {
                        let catalog: Option<i64> = sqlx::query("SELECT id FROM ind_catalog WHERE code = $1")
                            .bind(format!("group:{}:{}", t.topic.code, i.group))
                            .fetch_optional(&mut *tx)
                            .await?
                            .map(|r| r.try_get(0))
                            .transpose()?;
                        crate::library::insert_indicator(&mut tx, &to_input(i, dept, catalog), now).await?;
                        n += 1;
                    }
                    Some((id, None)) if dept.is_some() => {
                        sqlx::query("UPDATE ind_indicators SET department_id = $1 WHERE id = $2")
                            .bind(dept)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        linked += 1;
                    }
                    _ => {}
                }
            }
        }
        for t in &pack.topics {
            for r in &t.relations {
                let res = sqlx::query(
                    "INSERT INTO ind_relations (from_id, to_id, kind) SELECT a.id, b.id, $3 FROM ind_indicators a, ind_indicators b WHERE a.code = $1 AND b.code = $2 \
                     AND NOT EXISTS (SELECT 1 FROM ind_relations x WHERE x.from_id = a.id AND x.to_id = b.id AND x.kind = $3)",
                )
                .bind(&r.from)
                .bind(&r.to)
                .bind(&r.kind)
                .execute(&mut *tx)
                .await?;
                n += res.rows_affected() as usize;
            }
        }
        if n + linked > 0 {
            Self::bump_meta(&mut tx).await?;
            self.iam
                .audit(
                    &mut tx,
                    &AuditCtx::cli("system"),
                    AuditEvent::success("ind.pack_sync", "indicators").with_detail(format!("新增 {n} 项，关联部门 {linked} 项")),
                )
                .await?;
        }
        tx.commit().await?;
        Ok(n)
    }
}
