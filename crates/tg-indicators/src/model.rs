//! The library's types as the API shows them, and their validation.

use crate::compute::{Agg, Direction};
use crate::period::Frequency;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tg_kernel::ValidationErrors;
use utoipa::ToSchema;

/// A named category dimension of an indicator (e.g. 污染物: PM2.5, PM10 …).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Categories {
    pub name: String,
    pub values: Vec<String>,
}

/// An indicator of the library.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Indicator {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub unit: String,
    /// 口径: what is measured and how.
    pub definition: String,
    /// 数据来源 (source system).
    pub source: String,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    /// day, month, quarter or year.
    pub frequency: String,
    /// sum, avg or stock.
    pub agg: String,
    /// Whether regions add up to their parent.
    pub additive_regions: bool,
    /// up, down or none.
    pub direction: String,
    pub is_key: bool,
    pub tags: Vec<String>,
    /// 标签属性 values by attribute name.
    pub attrs: BTreeMap<String, String>,
    pub categories: Option<Categories>,
    /// Derived indicator formula over other indicator codes.
    pub formula: Option<String>,
    /// Default chart: card, bar, dual, pareto, funnel, line, pie or rank.
    pub chart: String,
    pub catalog_id: Option<i64>,
    pub catalog_name: Option<String>,
    pub topic_code: Option<String>,
    pub topic_name: Option<String>,
    /// Annual targets: `"2026"` (the city) or `"2026/445302"` (a region) → value.
    pub targets: BTreeMap<String, f64>,
    pub visible_roles: Vec<String>,
    /// `%` (growth in percent) or `百分点` (growth of a rate in percentage points).
    pub yoy_unit: String,
    /// Whether any of its values is demo data.
    pub is_demo: bool,
    pub version: i64,
    /// The latest period with a city-level value.
    pub latest_period: Option<String>,
    /// When its values were last loaded.
    pub updated_at: Option<String>,
}

impl Indicator {
    pub fn freq(&self) -> Frequency {
        Frequency::parse(&self.frequency).unwrap_or(Frequency::Month)
    }
    pub fn agg_kind(&self) -> Agg {
        Agg::parse(&self.agg).unwrap_or(Agg::Sum)
    }
    pub fn dir(&self) -> Direction {
        Direction::parse(&self.direction).unwrap_or(Direction::None)
    }
    /// Whether growth is given in percentage points (the indicator is itself a rate).
    pub fn points(&self) -> bool {
        matches!(self.unit.as_str(), "%" | "‰" | "百分点")
    }
    /// Whether region values add up.
    pub fn additive(&self) -> bool {
        match self.agg_kind() {
            Agg::Sum => true,
            Agg::Avg => false,
            Agg::Stock => self.additive_regions,
        }
    }
    /// The target of `year` for `region`.
    pub fn target(&self, year: i32, region: &str, city: &str) -> Option<f64> {
        self.targets
            .get(&format!("{year}/{region}"))
            .copied()
            .or_else(|| (region == city).then(|| self.targets.get(&year.to_string()).copied()).flatten())
    }
}

/// Create or update an indicator.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndicatorInput {
    /// Letters, digits and `_` (2-40), unique; cannot change on update.
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub definition: String,
    #[serde(default)]
    pub source: String,
    pub department_id: Option<i64>,
    pub frequency: String,
    pub agg: String,
    #[serde(default = "yes")]
    pub additive_regions: bool,
    #[serde(default = "up")]
    pub direction: String,
    #[serde(default)]
    pub is_key: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub attrs: BTreeMap<String, String>,
    pub categories: Option<Categories>,
    pub formula: Option<String>,
    #[serde(default = "line")]
    pub chart: String,
    pub catalog_id: Option<i64>,
    #[serde(default)]
    pub targets: BTreeMap<String, f64>,
    #[serde(default)]
    pub visible_roles: Vec<String>,
    /// Required on update: the version the edit started from.
    pub version: Option<i64>,
}

fn yes() -> bool {
    true
}
fn up() -> String {
    "up".into()
}
fn line() -> String {
    "line".into()
}

pub const CHARTS: &[&str] = &["card", "carousel", "bar", "dual", "pareto", "funnel", "line", "pie", "rank"];

pub fn valid_code(s: &str) -> bool {
    (2..=40).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.as_bytes()[0].is_ascii_lowercase()
}

impl IndicatorInput {
    /// Field checks that need no database.
    pub fn check(&self, v: &mut ValidationErrors) {
        if !valid_code(&self.code) {
            v.add("code", "指标编码须为2-40位小写字母、数字或“_”，以字母开头");
        }
        v.text("name", "指标名称", &self.name, 60);
        if self.unit.chars().count() > 20 {
            v.add("unit", "计量单位不能超过20字");
        }
        if self.definition.chars().count() > 1000 {
            v.add("definition", "口径说明不能超过1000字");
        }
        if self.source.chars().count() > 100 {
            v.add("source", "数据来源不能超过100字");
        }
        if Frequency::parse(&self.frequency).is_none() {
            v.add("frequency", "更新频率须为 day、month、quarter 或 year");
        }
        if Agg::parse(&self.agg).is_none() {
            v.add("agg", "汇总方式须为 sum（累加）、avg（平均）或 stock（时点）");
        }
        if Direction::parse(&self.direction).is_none() {
            v.add("direction", "指标方向须为 up、down 或 none");
        }
        if !CHARTS.contains(&self.chart.as_str()) {
            v.add("chart", "图表类型无效");
        }
        if self.tags.len() > 10 || self.tags.iter().any(|t| t.trim().is_empty() || t.chars().count() > 20) {
            v.add("tags", "标签最多10个，每个1-20字");
        }
        if let Some(c) = &self.categories {
            let mut seen = std::collections::HashSet::new();
            if c.name.trim().is_empty()
                || c.values.is_empty()
                || c.values.len() > 50
                || c.values.iter().any(|x| x.trim().is_empty() || !seen.insert(x.clone()))
            {
                v.add("categories", "分类维度须有名称和1-50个不重复的分类值");
            }
        }
        for (k, t) in &self.targets {
            let ok_key = match k.split_once('/') {
                Some((y, r)) => y.len() == 4 && y.parse::<i32>().is_ok() && tg_kernel::RegionCode::parse(r).is_ok(),
                None => k.len() == 4 && k.parse::<i32>().is_ok(),
            };
            if !ok_key || !t.is_finite() {
                v.add("targets", "目标值的键须为年份（如 2026）或 年份/行政区划代码");
                break;
            }
        }
        if let Some(f) = &self.formula {
            if let Err(e) = crate::formula::parse(f) {
                v.add("formula", e);
            }
        }
    }
}

/// A widget of a topic dashboard.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Widget {
    pub id: String,
    pub title: String,
    /// card, carousel, bar, dual, pareto, funnel, line, pie or rank.
    pub chart: String,
    pub indicators: Vec<String>,
    /// period, region or category.
    pub by: String,
    #[serde(default = "twelve")]
    pub window: u32,
    #[serde(default)]
    pub span: Span,
}

fn twelve() -> u32 {
    12
}

/// Grid columns (of 24) per screen size.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Span {
    #[serde(default = "full")]
    pub small: u8,
    #[serde(default = "half")]
    pub medium: u8,
    #[serde(default = "third")]
    pub large: u8,
}

fn full() -> u8 {
    24
}
fn half() -> u8 {
    12
}
fn third() -> u8 {
    8
}

impl Default for Span {
    fn default() -> Self {
        Self { small: 24, medium: 12, large: 8 }
    }
}

/// A group of a topic (指标组) with its widgets.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Group {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub widgets: Vec<Widget>,
}

/// A topic (专题) and its dashboard definition.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Topic {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub description: String,
    pub requirement: String,
    pub sort: i64,
    pub is_key: bool,
    /// Every view of a restricted topic is audited.
    pub restricted: bool,
    pub visible_roles: Vec<String>,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    pub groups: Vec<Group>,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TopicBrief {
    pub code: String,
    pub name: String,
    pub description: String,
    pub sort: i64,
    pub is_key: bool,
    pub restricted: bool,
    pub indicator_count: i64,
    pub widget_count: i64,
    /// Whether the caller follows it.
    pub followed: bool,
}

/// Create or update a topic.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicInput {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub requirement: String,
    #[serde(default)]
    pub sort: i64,
    #[serde(default)]
    pub is_key: bool,
    #[serde(default)]
    pub restricted: bool,
    #[serde(default)]
    pub visible_roles: Vec<String>,
    pub department_id: Option<i64>,
    #[serde(default)]
    pub groups: Vec<Group>,
    pub version: Option<i64>,
}

/// A node of the indicator catalogue (指标目录): topics and their groups.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CatalogNode {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// topic or group.
    pub kind: String,
    pub topic_code: String,
    pub indicator_count: i64,
    #[schema(no_recursion)]
    pub children: Vec<CatalogNode>,
}

/// 标签属性定义: an attribute indicators can carry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TagAttrDef {
    pub code: String,
    pub name: String,
    /// text or enum.
    pub kind: String,
    #[serde(default)]
    pub options: Vec<String>,
}

/// A relation between two indicators, seen from one of them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Related {
    /// leading, lagging, part_of, has_part or same_topic.
    pub relation: String,
    pub indicator: Indicator,
}
