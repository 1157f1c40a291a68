//! The library: loading the metadata snapshot, and creating, editing and deleting indicators,
//! topics, catalogue nodes, relations and attribute definitions. Every write is one transaction
//! that also bumps the metadata revision and writes the audit record.

use crate::model::*;
use crate::period::Frequency;
use crate::{json_list, IndService, Meta};
use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;
use tg_db::is_unique_violation;
use tg_iam::{AuditCtx, AuditEvent, IamError, IamResult, Principal};
use tg_kernel::clock::to_rfc3339;
use tg_kernel::{Page, PageQuery, ValidationErrors};

const IND_SELECT: &str = "SELECT i.id, i.code, i.name, i.unit, i.definition, i.source, i.department_id, d.name, i.frequency, i.agg, \
    i.additive_regions, i.direction, i.is_key, i.tags, i.attrs, i.categories, i.formula, i.chart, i.catalog_id, c.name, c.topic_code, \
    i.targets, i.visible_roles, i.has_demo, i.version, i.latest_period, i.loaded_at \
    FROM ind_indicators i LEFT JOIN departments d ON d.id = i.department_id LEFT JOIN ind_catalog c ON c.id = i.catalog_id";

fn ind_from_row(r: &tg_db::Row) -> Result<Indicator, sqlx::Error> {
    let unit: String = r.try_get(3)?;
    let cats: Option<String> = r.try_get(15)?;
    let points = matches!(unit.as_str(), "%" | "‰" | "百分点");
    Ok(Indicator {
        id: r.try_get(0)?,
        code: r.try_get(1)?,
        name: r.try_get(2)?,
        unit,
        definition: r.try_get(4)?,
        source: r.try_get(5)?,
        department_id: r.try_get(6)?,
        department_name: r.try_get(7)?,
        frequency: r.try_get(8)?,
        agg: r.try_get(9)?,
        additive_regions: r.try_get::<i64, _>(10)? != 0,
        direction: r.try_get(11)?,
        is_key: r.try_get::<i64, _>(12)? != 0,
        tags: json_list(&r.try_get::<String, _>(13)?),
        attrs: serde_json::from_str(&r.try_get::<String, _>(14)?).unwrap_or_default(),
        categories: cats.and_then(|c| serde_json::from_str(&c).ok()),
        formula: r.try_get(16)?,
        chart: r.try_get(17)?,
        catalog_id: r.try_get(18)?,
        catalog_name: r.try_get(19)?,
        topic_code: r.try_get(20)?,
        topic_name: None,
        targets: serde_json::from_str(&r.try_get::<String, _>(21)?).unwrap_or_default(),
        visible_roles: json_list(&r.try_get::<String, _>(22)?),
        yoy_unit: if points { "百分点".into() } else { "%".into() },
        is_demo: r.try_get::<i64, _>(23)? != 0,
        version: r.try_get(24)?,
        latest_period: r.try_get(25)?,
        updated_at: r.try_get::<Option<i64>, _>(26)?.map(to_rfc3339),
    })
}

const TOPIC_SELECT: &str = "SELECT t.id, t.code, t.name, t.description, t.requirement, t.sort, t.is_key, t.restricted, t.visible_roles, \
    t.department_id, d.name, t.groups, t.version FROM ind_topics t LEFT JOIN departments d ON d.id = t.department_id";

fn topic_from_row(r: &tg_db::Row) -> Result<Topic, sqlx::Error> {
    Ok(Topic {
        id: r.try_get(0)?,
        code: r.try_get(1)?,
        name: r.try_get(2)?,
        description: r.try_get(3)?,
        requirement: r.try_get(4)?,
        sort: r.try_get(5)?,
        is_key: r.try_get::<i64, _>(6)? != 0,
        restricted: r.try_get::<i64, _>(7)? != 0,
        visible_roles: json_list(&r.try_get::<String, _>(8)?),
        department_id: r.try_get(9)?,
        department_name: r.try_get(10)?,
        groups: serde_json::from_str(&r.try_get::<String, _>(11)?).unwrap_or_default(),
        version: r.try_get(12)?,
    })
}

/// Builds the metadata snapshot from the database.
pub(crate) async fn load_meta(svc: &IndService, rev: i64) -> IamResult<Meta> {
    let pool = svc.db().pool();
    let mut topics: Vec<Topic> = sqlx::query(&format!("{TOPIC_SELECT} ORDER BY t.sort, t.code"))
        .fetch_all(pool)
        .await?
        .iter()
        .map(topic_from_row)
        .collect::<Result<_, _>>()?;
    topics.sort_by(|a, b| (a.sort, &a.code).cmp(&(b.sort, &b.code)));
    let topic_names: HashMap<String, String> = topics.iter().map(|t| (t.code.clone(), t.name.clone())).collect();
    let mut indicators: Vec<Indicator> =
        sqlx::query(&format!("{IND_SELECT} ORDER BY i.id")).fetch_all(pool).await?.iter().map(ind_from_row).collect::<Result<_, _>>()?;
    for i in &mut indicators {
        i.topic_name = i.topic_code.as_ref().and_then(|t| topic_names.get(t).cloned());
    }
    let relations = sqlx::query("SELECT from_id, to_id, kind FROM ind_relations ORDER BY from_id, to_id")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let catalog = sqlx::query("SELECT id, parent_id, code, name, kind, topic_code FROM ind_catalog ORDER BY sort, id")
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let mut tree = crate::compute::RegionTree::default();
    for r in sqlx::query("SELECT code, name, parent_code FROM regions WHERE level <> 'group' ORDER BY code").fetch_all(pool).await? {
        let code: String = r.try_get(0)?;
        let name: String = r.try_get(1)?;
        let parent: Option<String> = r.try_get(2)?;
        tree.add(&code, &name, parent.as_deref());
    }
    tree.sort();
    let mut formulas = HashMap::new();
    for i in &indicators {
        if let Some(f) = &i.formula {
            if let Ok(e) = crate::formula::parse(f) {
                formulas.insert(i.code.clone(), e);
            }
        }
    }
    let indicators: Vec<Arc<Indicator>> = indicators.into_iter().map(Arc::new).collect();
    let topics: Vec<Arc<Topic>> = topics.into_iter().map(Arc::new).collect();
    let search = crate::search::Index::build(&indicators, &topics);
    let by_code = indicators.iter().enumerate().map(|(i, x)| (x.code.clone(), i)).collect();
    let by_id = indicators.iter().enumerate().map(|(i, x)| (x.id, i)).collect();
    Ok(Meta { rev, city: svc.city().to_owned(), indicators, by_code, by_id, formulas, topics, relations, catalog, tree, search })
}

/// Filters of the indicator list.
#[derive(Debug, Default, Clone)]
pub struct IndicatorFilter {
    pub q: Option<String>,
    pub catalog_id: Option<i64>,
    pub topic: Option<String>,
    pub tag: Option<String>,
    pub key_only: bool,
}

fn stale() -> IamError {
    IamError::conflict("ind.version_conflict", "数据已被他人修改，请刷新后重试")
}

impl IndService {
    /// Indicators the caller may see, filtered and paged.
    pub async fn list_indicators(&self, actor: &Principal, f: &IndicatorFilter, page: &PageQuery) -> IamResult<Page<Indicator>> {
        let meta = self.meta().await?;
        let q = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_lowercase);
        // A catalogue node selects itself and its children.
        let nodes: Option<Vec<i64>> =
            f.catalog_id.map(|id| meta.catalog.iter().filter(|c| c.0 == id || c.1 == Some(id)).map(|c| c.0).collect());
        let all: Vec<&Arc<Indicator>> = meta
            .indicators
            .iter()
            .filter(|i| self.can_see(actor, &meta, i))
            .filter(|i| q.as_ref().is_none_or(|q| i.name.to_lowercase().contains(q) || i.code.contains(q.as_str())))
            .filter(|i| nodes.as_ref().is_none_or(|n| i.catalog_id.is_some_and(|c| n.contains(&c))))
            .filter(|i| f.topic.as_ref().is_none_or(|t| i.topic_code.as_ref() == Some(t)))
            .filter(|i| f.tag.as_ref().is_none_or(|t| i.tags.contains(t)))
            .filter(|i| !f.key_only || i.is_key)
            .collect();
        let (limit, offset) = page.limit_offset();
        let items = all.iter().skip(offset as usize).take(limit as usize).map(|i| (***i).clone()).collect();
        Ok(Page::new(items, all.len() as i64, page))
    }

    pub async fn indicator(&self, actor: &Principal, code: &str) -> IamResult<Indicator> {
        let meta = self.meta().await?;
        Ok((*self.visible_indicator(actor, &meta, code)?).clone())
    }

    /// Related indicators in both directions (the reverse of part_of is has_part; of leading, lagging).
    pub async fn related(&self, actor: &Principal, code: &str) -> IamResult<Vec<Related>> {
        let meta = self.meta().await?;
        let ind = self.visible_indicator(actor, &meta, code)?;
        let mut out = Vec::new();
        for (from, to, kind) in &meta.relations {
            let (other, relation) = if *from == ind.id {
                (*to, kind.clone())
            } else if *to == ind.id {
                let rev = match kind.as_str() {
                    "part_of" => "has_part",
                    "leading" => "lagging",
                    "lagging" => "leading",
                    k => k,
                };
                (*from, rev.to_owned())
            } else {
                continue;
            };
            if let Some(o) = meta.indicator_by_id(other).filter(|o| self.can_see(actor, &meta, o)) {
                out.push(Related { relation, indicator: (**o).clone() });
            }
        }
        // Same-group indicators follow as same_topic.
        for o in meta.indicators.iter().filter(|o| o.id != ind.id && o.catalog_id.is_some() && o.catalog_id == ind.catalog_id) {
            if self.can_see(actor, &meta, o) && !out.iter().any(|r| r.indicator.id == o.id) {
                out.push(Related { relation: "same_topic".into(), indicator: (**o).clone() });
            }
        }
        Ok(out)
    }

    /// The catalogue tree with the number of visible indicators under each node.
    pub async fn catalog(&self, actor: &Principal) -> IamResult<Vec<CatalogNode>> {
        let meta = self.meta().await?;
        let mut counts: HashMap<i64, i64> = HashMap::new();
        for i in meta.indicators.iter().filter(|i| self.can_see(actor, &meta, i)) {
            if let Some(c) = i.catalog_id {
                *counts.entry(c).or_default() += 1;
            }
        }
        let visible_topic = |code: &str| meta.topic(code).is_none_or(|t| self.can_see_topic(actor, t));
        let node = |c: &(i64, Option<i64>, String, String, String, String)| CatalogNode {
            id: c.0,
            code: c.2.clone(),
            name: c.3.clone(),
            kind: c.4.clone(),
            topic_code: c.5.clone(),
            indicator_count: counts.get(&c.0).copied().unwrap_or(0),
            children: Vec::new(),
        };
        let mut roots: Vec<CatalogNode> = meta.catalog.iter().filter(|c| c.1.is_none() && visible_topic(&c.5)).map(node).collect();
        for r in &mut roots {
            r.children = meta.catalog.iter().filter(|c| c.1 == Some(r.id)).map(node).collect();
            r.indicator_count += r.children.iter().map(|c| c.indicator_count).sum::<i64>();
        }
        Ok(roots)
    }

    async fn check_indicator(&self, meta: &Meta, input: &IndicatorInput, existing: Option<&Indicator>) -> IamResult<()> {
        let mut v = ValidationErrors::new();
        input.check(&mut v);
        if let Some(c) = input.catalog_id {
            if !meta.catalog.iter().any(|n| n.0 == c) {
                v.add("catalog_id", "指标目录不存在");
            }
        }
        if let Some(d) = input.department_id {
            let n: i64 =
                sqlx::query("SELECT COUNT(*) FROM departments WHERE id = $1").bind(d).fetch_one(self.db().pool()).await?.try_get(0)?;
            if n == 0 {
                v.add("department_id", "部门不存在");
            }
        }
        let defs = self.attr_defs().await?;
        for (k, val) in &input.attrs {
            match defs.iter().find(|d| &d.name == k || &d.code == k) {
                None => v.add("attrs", format!("未定义的标签属性“{k}”")),
                Some(d) if d.kind == "enum" && !d.options.contains(val) => {
                    v.add("attrs", format!("标签属性“{k}”的取值须为：{}", d.options.join("、")))
                }
                _ => {}
            }
        }
        if let (Some(f), Some(freq)) = (&input.formula, Frequency::parse(&input.frequency)) {
            if let Ok(e) = crate::formula::parse(f) {
                for var in e.vars() {
                    match meta.indicator(&var) {
                        None => v.add("formula", format!("公式引用了不存在的指标“{var}”")),
                        Some(i) if i.freq() != freq => v.add("formula", format!("公式引用的指标“{}”更新频率不同", i.name)),
                        Some(_) if var == input.code => v.add("formula", "公式不能引用指标自身"),
                        Some(i) if depends_on(meta, &i.code, &input.code, 0) => {
                            v.add("formula", format!("公式与指标“{}”形成循环引用", i.name))
                        }
                        _ => {}
                    }
                }
            }
            if existing.is_some_and(|e| e.formula.is_none() && e.latest_period.is_some()) {
                v.add("formula", "已有数据的指标不能改为派生指标");
            }
        }
        v.finish()?;
        Ok(())
    }

    /// Creates an indicator.
    pub async fn create_indicator(&self, actor: &Principal, ctx: &AuditCtx, input: &IndicatorInput) -> IamResult<Indicator> {
        let meta = self.meta().await?;
        self.check_indicator(&meta, input, None).await?;
        let now = self.now();
        let mut tx = self.db().begin().await?;
        let res = insert_indicator(&mut tx, input, now).await;
        if let Err(e) = res {
            return Err(if is_unique_violation(&e) {
                IamError::conflict("ind.indicator_exists", "指标编码已存在")
            } else {
                e.into()
            });
        }
        Self::bump_meta(&mut tx).await?;
        self.iam
            .audit(&mut tx, ctx, AuditEvent::success("ind.indicator_create", input.code.clone()).with_detail(input.name.clone()))
            .await?;
        tx.commit().await?;
        self.indicator(actor, input.code.trim()).await
    }

    /// Updates an indicator (optimistic lock on `version`; the code cannot change).
    pub async fn update_indicator(&self, actor: &Principal, ctx: &AuditCtx, code: &str, input: &IndicatorInput) -> IamResult<Indicator> {
        let meta = self.meta().await?;
        let cur = self.visible_indicator(actor, &meta, code)?;
        if input.code != code {
            return Err(IamError::field("code", "指标编码不能修改"));
        }
        let Some(version) = input.version else { return Err(IamError::field("version", "请提供数据版本号")) };
        self.check_indicator(&meta, input, Some(&cur)).await?;
        if cur.formula.is_some() != input.formula.is_some() && input.formula.is_none() {
            // A derived indicator turned into a stored one simply starts without values.
        }
        let now = self.now();
        let mut tx = self.db().begin().await?;
        let n = bind_fields(
            sqlx::query(
                "UPDATE ind_indicators SET name = $1, unit = $2, definition = $3, source = $4, department_id = $5, frequency = $6, agg = $7, \
             additive_regions = $8, direction = $9, is_key = $10, tags = $11, attrs = $12, categories = $13, formula = $14, chart = $15, catalog_id = $16, \
             targets = $17, visible_roles = $18, version = version + 1, data_rev = data_rev + 1, updated_at = $19 WHERE id = $20 AND version = $21",
            ),
            input,
        )
        .bind(now)
        .bind(cur.id)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(stale());
        }
        // Aggregation settings affect the rolled-up values: refresh the series too.
        sqlx::query("UPDATE ind_state SET meta_rev = meta_rev + 1, data_rev = data_rev + 1 WHERE id = 1").execute(&mut *tx).await?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success("ind.indicator_update", code.to_owned()).with_detail(input.name.clone())).await?;
        tx.commit().await?;
        self.indicator(actor, code).await
    }

    /// Deletes an indicator with its values; refused while a formula or a dashboard uses it.
    pub async fn delete_indicator(&self, actor: &Principal, ctx: &AuditCtx, code: &str) -> IamResult<()> {
        let meta = self.meta().await?;
        let cur = self.visible_indicator(actor, &meta, code)?;
        if let Some(user) = meta.formulas.iter().find(|(_, e)| e.vars().iter().any(|v| v == code)).and_then(|(c, _)| meta.indicator(c)) {
            return Err(IamError::conflict("ind.indicator_in_use", format!("派生指标“{}”的公式引用了该指标，不能删除", user.name)));
        }
        if let Some(t) =
            meta.topics.iter().find(|t| t.groups.iter().any(|g| g.widgets.iter().any(|w| w.indicators.iter().any(|i| i == code))))
        {
            return Err(IamError::conflict("ind.indicator_in_use", format!("专题“{}”的看板使用了该指标，请先调整看板", t.name)));
        }
        let mut tx = self.db().begin().await?;
        for sql in [
            "DELETE FROM ind_values WHERE indicator_id = $1",
            "DELETE FROM ind_relations WHERE from_id = $1 OR to_id = $1",
            "DELETE FROM ind_indicators WHERE id = $1",
        ] {
            sqlx::query(sql).bind(cur.id).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM ind_follows WHERE kind = 'indicator' AND target_code = $1").bind(code).execute(&mut *tx).await?;
        sqlx::query("UPDATE ind_state SET meta_rev = meta_rev + 1, data_rev = data_rev + 1 WHERE id = 1").execute(&mut *tx).await?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success("ind.indicator_delete", code.to_owned()).with_detail(cur.name.clone())).await?;
        tx.commit().await?;
        Ok(())
    }

    /// 标签属性定义.
    pub async fn attr_defs(&self) -> IamResult<Vec<TagAttrDef>> {
        let rows =
            sqlx::query("SELECT code, name, kind, options FROM ind_attr_defs ORDER BY sort, code").fetch_all(self.db().pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(TagAttrDef {
                    code: r.try_get(0)?,
                    name: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    options: json_list(&r.try_get::<String, _>(3)?),
                })
            })
            .collect()
    }

    /// Replaces the attribute definitions.
    pub async fn set_attr_defs(&self, ctx: &AuditCtx, defs: &[TagAttrDef]) -> IamResult<Vec<TagAttrDef>> {
        let mut v = ValidationErrors::new();
        let mut seen = std::collections::HashSet::new();
        for (i, d) in defs.iter().enumerate() {
            if !valid_code(&d.code) || !seen.insert(d.code.clone()) {
                v.add(&format!("[{i}].code"), "属性编码须为不重复的小写字母、数字或“_”");
            }
            if d.name.trim().is_empty() || d.name.chars().count() > 20 {
                v.add(&format!("[{i}].name"), "属性名称须为1-20字");
            }
            if !["text", "enum"].contains(&d.kind.as_str()) || (d.kind == "enum" && d.options.is_empty()) {
                v.add(&format!("[{i}].kind"), "属性类型须为 text 或 enum（enum 须给出可选值）");
            }
        }
        v.finish()?;
        let mut tx = self.db().begin().await?;
        sqlx::query("DELETE FROM ind_attr_defs").execute(&mut *tx).await?;
        for (i, d) in defs.iter().enumerate() {
            sqlx::query("INSERT INTO ind_attr_defs (code, name, kind, options, sort) VALUES ($1, $2, $3, $4, $5)")
                .bind(&d.code)
                .bind(d.name.trim())
                .bind(&d.kind)
                .bind(serde_json::to_string(&d.options).unwrap_or_default())
                .bind(i as i64)
                .execute(&mut *tx)
                .await?;
        }
        self.iam
            .audit(&mut tx, ctx, AuditEvent::success("ind.attr_defs_update", "attr_defs").with_detail(format!("{} 项", defs.len())))
            .await?;
        tx.commit().await?;
        self.attr_defs().await
    }

    /// Topics the caller may see, key topics first.
    pub async fn topics(&self, actor: &Principal) -> IamResult<Vec<TopicBrief>> {
        let meta = self.meta().await?;
        let followed: Vec<String> = sqlx::query("SELECT target_code FROM ind_follows WHERE user_id = $1 AND kind = 'topic'")
            .bind(actor.user_id)
            .fetch_all(self.db().pool())
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let mut out: Vec<TopicBrief> = meta
            .topics
            .iter()
            .filter(|t| self.can_see_topic(actor, t))
            .map(|t| TopicBrief {
                code: t.code.clone(),
                name: t.name.clone(),
                description: t.description.clone(),
                sort: t.sort,
                is_key: t.is_key,
                restricted: t.restricted,
                indicator_count: meta.indicators.iter().filter(|i| i.topic_code.as_deref() == Some(&t.code)).count() as i64,
                widget_count: t.groups.iter().map(|g| g.widgets.len() as i64).sum(),
                followed: followed.contains(&t.code),
            })
            .collect();
        out.sort_by_key(|t| (!t.is_key, t.sort));
        Ok(out)
    }

    pub async fn topic(&self, actor: &Principal, code: &str) -> IamResult<Topic> {
        let meta = self.meta().await?;
        Ok((*self.visible_topic(actor, &meta, code)?).clone())
    }

    fn check_topic(&self, meta: &Meta, input: &TopicInput) -> IamResult<()> {
        let mut v = ValidationErrors::new();
        if !valid_code(&input.code) {
            v.add("code", "专题编码须为2-40位小写字母、数字或“_”，以字母开头");
        }
        v.text("name", "专题名称", &input.name, 30);
        if input.description.chars().count() > 500 {
            v.add("description", "专题说明不能超过500字");
        }
        let mut ids = std::collections::HashSet::new();
        let mut groups = std::collections::HashSet::new();
        for (gi, g) in input.groups.iter().enumerate() {
            if g.code.is_empty() || !groups.insert(g.code.clone()) || g.name.trim().is_empty() {
                v.add(&format!("groups[{gi}]"), "指标组须有不重复的编码和名称");
            }
            for (wi, w) in g.widgets.iter().enumerate() {
                let f = format!("groups[{gi}].widgets[{wi}]");
                if let Err(e) = check_widget(meta, w) {
                    v.add(&f, format!("组件“{}”：{e}", w.title));
                }
                if !ids.insert(w.id.clone()) {
                    v.add(&f, format!("组件编号“{}”重复", w.id));
                }
            }
        }
        v.finish()?;
        Ok(())
    }

    /// Creates a topic with its catalogue node.
    pub async fn create_topic(&self, actor: &Principal, ctx: &AuditCtx, input: &TopicInput) -> IamResult<Topic> {
        let meta = self.meta().await?;
        self.check_topic(&meta, input)?;
        let mut tx = self.db().begin().await?;
        insert_topic(&mut tx, input, self.now()).await.map_err(|e| {
            if is_unique_violation(&e) {
                IamError::conflict("ind.topic_exists", "专题编码已存在")
            } else {
                e.into()
            }
        })?;
        Self::bump_meta(&mut tx).await?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success("ind.topic_create", input.code.clone()).with_detail(input.name.clone())).await?;
        tx.commit().await?;
        self.topic(actor, &input.code).await
    }

    /// Updates a topic and its dashboard layout (optimistic lock).
    pub async fn update_topic(&self, actor: &Principal, ctx: &AuditCtx, code: &str, input: &TopicInput) -> IamResult<Topic> {
        let meta = self.meta().await?;
        let cur = self.visible_topic(actor, &meta, code)?;
        if input.code != code {
            return Err(IamError::field("code", "专题编码不能修改"));
        }
        let Some(version) = input.version else { return Err(IamError::field("version", "请提供数据版本号")) };
        self.check_topic(&meta, input)?;
        let mut tx = self.db().begin().await?;
        let n = sqlx::query(
            "UPDATE ind_topics SET name = $1, description = $2, requirement = $3, sort = $4, is_key = $5, restricted = $6, visible_roles = $7, \
             department_id = $8, groups = $9, version = version + 1, updated_at = $10 WHERE id = $11 AND version = $12",
        )
        .bind(input.name.trim())
        .bind(input.description.trim())
        .bind(&input.requirement)
        .bind(input.sort)
        .bind(i64::from(input.is_key))
        .bind(i64::from(input.restricted))
        .bind(serde_json::to_string(&input.visible_roles).unwrap_or_default())
        .bind(input.department_id)
        .bind(serde_json::to_string(&input.groups).unwrap_or_default())
        .bind(self.now())
        .bind(cur.id)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Err(stale());
        }
        sqlx::query("UPDATE ind_catalog SET name = $1 WHERE code = $2")
            .bind(input.name.trim())
            .bind(format!("topic:{code}"))
            .execute(&mut *tx)
            .await?;
        Self::bump_meta(&mut tx).await?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success("ind.topic_update", code.to_owned()).with_detail(input.name.clone())).await?;
        tx.commit().await?;
        self.topic(actor, code).await
    }

    /// Deletes a topic (its indicators stay in the library, out of the catalogue).
    pub async fn delete_topic(&self, actor: &Principal, ctx: &AuditCtx, code: &str) -> IamResult<()> {
        let meta = self.meta().await?;
        let cur = self.visible_topic(actor, &meta, code)?;
        let mut tx = self.db().begin().await?;
        sqlx::query("UPDATE ind_indicators SET catalog_id = NULL WHERE catalog_id IN (SELECT id FROM ind_catalog WHERE topic_code = $1)")
            .bind(code)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM ind_catalog WHERE topic_code = $1 AND parent_id IS NOT NULL").bind(code).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM ind_catalog WHERE topic_code = $1").bind(code).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM ind_follows WHERE kind = 'topic' AND target_code = $1").bind(code).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM ind_topics WHERE id = $1").bind(cur.id).execute(&mut *tx).await?;
        Self::bump_meta(&mut tx).await?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success("ind.topic_delete", code.to_owned()).with_detail(cur.name.clone())).await?;
        tx.commit().await?;
        Ok(())
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Binds an indicator's editable fields in column order (name … visible_roles, 18 values).
fn bind_fields<'q>(q: AnyQuery<'q>, i: &'q IndicatorInput) -> AnyQuery<'q> {
    q.bind(i.name.trim())
        .bind(i.unit.trim())
        .bind(i.definition.trim())
        .bind(i.source.trim())
        .bind(i.department_id)
        .bind(i.frequency.as_str())
        .bind(i.agg.as_str())
        .bind(i64::from(i.additive_regions))
        .bind(i.direction.as_str())
        .bind(i64::from(i.is_key))
        .bind(json(&i.tags))
        .bind(json(&i.attrs))
        .bind(i.categories.as_ref().map(json))
        .bind(i.formula.as_deref().map(str::trim).filter(|f| !f.is_empty()))
        .bind(i.chart.as_str())
        .bind(i.catalog_id)
        .bind(json(&i.targets))
        .bind(json(&i.visible_roles))
}

/// Inserts an indicator (from the API or the pack).
pub(crate) async fn insert_indicator(tx: &mut tg_db::Tx, input: &IndicatorInput, now: i64) -> Result<(), sqlx::Error> {
    let q = sqlx::query(
        "INSERT INTO ind_indicators (code, name, unit, definition, source, department_id, frequency, agg, additive_regions, direction, is_key, tags, attrs, \
         categories, formula, chart, catalog_id, targets, visible_roles, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20)",
    )
    .bind(input.code.trim());
    bind_fields(q, input).bind(now).execute(&mut **tx).await?;
    Ok(())
}

/// Whether indicator `code` depends (through formulas) on `target`.
fn depends_on(meta: &Meta, code: &str, target: &str, depth: usize) -> bool {
    if depth > 10 {
        return true;
    }
    meta.formulas.get(code).is_some_and(|e| e.vars().iter().any(|v| v == target || depends_on(meta, v, target, depth + 1)))
}

/// Checks one dashboard widget against the library.
pub fn check_widget(meta: &Meta, w: &Widget) -> Result<(), String> {
    if w.id.is_empty() || w.id.len() > 40 {
        return Err("组件编号须为1-40个字符".into());
    }
    if !CHARTS.contains(&w.chart.as_str()) {
        return Err(format!("图表类型“{}”无效", w.chart));
    }
    if !["period", "region", "category"].contains(&w.by.as_str()) {
        return Err("维度须为 period、region 或 category".into());
    }
    if w.indicators.is_empty() || w.indicators.len() > 12 {
        return Err("须选择1-12个指标".into());
    }
    if !(1..=120).contains(&w.window) || [w.span.small, w.span.medium, w.span.large].iter().any(|s| !(1..=24).contains(s)) {
        return Err("窗口期或栅格宽度无效".into());
    }
    let mut freq = None;
    for code in &w.indicators {
        let Some(i) = meta.indicator(code) else { return Err(format!("指标“{code}”不存在")) };
        if w.by == "category" && i.categories.is_none() {
            return Err(format!("指标“{}”没有分类维度", i.name));
        }
        if w.chart == "dual" || (w.by == "period" && !matches!(w.chart.as_str(), "card" | "carousel")) {
            if freq.is_some_and(|f| f != i.freq()) {
                return Err("同一趋势组件的指标须为相同更新频率".into());
            }
            freq = Some(i.freq());
        }
    }
    if w.chart == "dual" && w.indicators.len() != 2 {
        return Err("双轴图须恰好选择2个指标".into());
    }
    Ok(())
}

pub(crate) async fn insert_topic(tx: &mut tg_db::Tx, input: &TopicInput, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO ind_topics (code, name, description, requirement, sort, is_key, restricted, visible_roles, department_id, groups, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(&input.code)
    .bind(input.name.trim())
    .bind(input.description.trim())
    .bind(&input.requirement)
    .bind(input.sort)
    .bind(i64::from(input.is_key))
    .bind(i64::from(input.restricted))
    .bind(serde_json::to_string(&input.visible_roles).unwrap_or_default())
    .bind(input.department_id)
    .bind(serde_json::to_string(&input.groups).unwrap_or_default())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let id: i64 = sqlx::query("SELECT id FROM ind_catalog WHERE code = $1")
        .bind(format!("topic:{}", input.code))
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?
        .unwrap_or(0);
    if id == 0 {
        sqlx::query("INSERT INTO ind_catalog (parent_id, code, name, kind, topic_code, sort) VALUES (NULL, $1, $2, 'topic', $3, $4)")
            .bind(format!("topic:{}", input.code))
            .bind(input.name.trim())
            .bind(&input.code)
            .bind(input.sort)
            .execute(&mut **tx)
            .await?;
    }
    let parent: i64 = sqlx::query("SELECT id FROM ind_catalog WHERE code = $1")
        .bind(format!("topic:{}", input.code))
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    for (i, g) in input.groups.iter().enumerate() {
        sqlx::query("INSERT INTO ind_catalog (parent_id, code, name, kind, topic_code, sort) VALUES ($1, $2, $3, 'group', $4, $5)")
            .bind(parent)
            .bind(format!("group:{}:{}", input.code, g.code))
            .bind(g.name.trim())
            .bind(&input.code)
            .bind(i as i64)
            .execute(&mut **tx)
            .await?;
    }
    Ok(parent)
}
