//! Topic dashboards: the topic's widgets computed for one region and period, ready for the charts.

use crate::model::{Indicator, Topic};
use crate::period::Period;
use crate::values::{PointCtx, Threshold};
use crate::{region_visible, IndService, Meta};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use tg_iam::{AuditCtx, AuditEvent, IamError, IamResult, Principal};
use tg_kernel::clock::to_rfc3339;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IndicatorBrief {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub definition: String,
    pub source: String,
    pub frequency: String,
    pub direction: String,
    pub yoy_unit: String,
    pub updated_at: Option<String>,
    pub is_demo: bool,
}

impl From<&Indicator> for IndicatorBrief {
    fn from(i: &Indicator) -> Self {
        Self {
            code: i.code.clone(),
            name: i.name.clone(),
            unit: i.unit.clone(),
            definition: i.definition.clone(),
            source: i.source.clone(),
            frequency: i.frequency.clone(),
            direction: i.direction.clone(),
            yoy_unit: i.yoy_unit.clone(),
            updated_at: i.updated_at.clone(),
            is_demo: i.is_demo,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeriesLine {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub values: Vec<Option<f64>>,
    pub yoy: Vec<Option<f64>>,
}

impl SeriesLine {
    fn of(i: &Indicator, pts: &[crate::values::Point]) -> Self {
        Self {
            code: i.code.clone(),
            name: i.name.clone(),
            unit: i.unit.clone(),
            values: pts.iter().map(|p| p.value).collect(),
            yoy: pts.iter().map(|p| p.yoy).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Card {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub period: Option<String>,
    pub period_label: Option<String>,
    pub value: Option<f64>,
    pub yoy: Option<f64>,
    pub mom: Option<f64>,
    pub cumulative: Option<f64>,
    pub rank: Option<i64>,
    pub rank_of: Option<i64>,
    pub completion: Option<f64>,
    pub light: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WidgetData {
    pub id: String,
    pub title: String,
    pub chart: String,
    pub by: String,
    pub group: String,
    pub span: crate::model::Span,
    pub indicators: Vec<IndicatorBrief>,
    /// Axis labels: period labels, region names or category values.
    pub x: Vec<String>,
    /// What each label stands for: periods, region codes or category values.
    pub x_codes: Vec<String>,
    /// The period the breakdown shows (by region or category).
    pub period: Option<String>,
    pub series: Vec<SeriesLine>,
    pub cards: Vec<Card>,
    /// Whether each x entry can be drilled into (by region: lower levels have data).
    pub drillable: Vec<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegionRef {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Dashboard {
    pub topic: Topic,
    pub region_code: String,
    pub region_name: String,
    /// From the city (or the top the caller may see) down to the region.
    pub region_path: Vec<RegionRef>,
    /// The requested period, or the latest with data.
    pub period: Option<String>,
    /// 看数水印: viewer name, account and time.
    pub watermark: String,
    pub generated_at: String,
    pub widgets: Vec<WidgetData>,
}

impl IndService {
    /// Computes a topic's dashboard for a region and (optionally) a period.
    pub async fn dashboard(
        &self,
        actor: &Principal,
        ctx: &AuditCtx,
        code: &str,
        region: Option<&str>,
        period: Option<&str>,
    ) -> IamResult<Dashboard> {
        let meta = self.meta().await?;
        let topic = self.visible_topic(actor, &meta, code)?;
        let region = self.check_region(actor, &meta, region)?;
        let at = match period {
            None | Some("") => None,
            Some(s) => Some(Period::parse(s).ok_or_else(|| IamError::field("period", "统计期格式有误（如 2025、2025Q3、2025-10）"))?),
        };
        let thresholds = self.thresholds(actor).await?;
        // What the viewer may see decides the result: scope, department and roles are in the key.
        let mut roles: Vec<&str> = actor.roles.iter().map(|r| r.code.as_str()).collect();
        roles.sort_unstable();
        let key = format!(
            "{}|{}|{}|{}|{:?}|{}",
            topic.code,
            region,
            period.unwrap_or(""),
            actor.scope.region.as_str(),
            actor.scope.department_id,
            roles.join(",")
        );
        let computed = match self.dash_get(meta.rev, &key) {
            Some(c) => c,
            None => {
                let mut series = HashMap::new();
                for g in &topic.groups {
                    for w in &g.widgets {
                        for c in &w.indicators {
                            if series.contains_key(c) {
                                continue;
                            }
                            if let Some(i) = meta.indicator(c).filter(|i| self.can_see(actor, &meta, i)) {
                                series.insert(c.clone(), (i.clone(), self.series(&meta, i).await?));
                            }
                        }
                    }
                }
                let mut widgets = Vec::new();
                let mut shown: Vec<Period> = Vec::new();
                for g in &topic.groups {
                    for w in &g.widgets {
                        let data = widget(self, &meta, actor, &series, &[], w, &g.name, &region, at);
                        shown.extend(data.1);
                        widgets.push(data.0);
                    }
                }
                let c = Arc::new(Computed { widgets, period: main_period(&shown) });
                self.dash_put(meta.rev, key, c.clone());
                c
            }
        };
        let mut widgets = computed.widgets.clone();
        for w in &mut widgets {
            for card in &mut w.cards {
                let (Some(v), Some(ind)) = (card.value, meta.indicator(&card.code)) else { continue };
                card.light = thresholds
                    .iter()
                    .find(|t| t.0 == card.code && t.1 == region)
                    .and_then(|t| crate::values::light(ind.dir(), v, t.2, t.3))
                    .map(str::to_owned);
            }
        }
        let latest = computed.period;
        if topic.restricted {
            self.iam
                .audit_alone(
                    ctx,
                    AuditEvent::success("ind.topic_view", topic.code.clone()).with_detail(format!(
                        "{} {}",
                        topic.name,
                        meta.tree.name_of(&region)
                    )),
                )
                .await?;
        }
        let mut path = Vec::new();
        let mut c = Some(region.clone());
        while let Some(code) = c {
            if !region_visible(actor, &code) {
                break;
            }
            path.push(RegionRef { name: meta.tree.name_of(&code), code: code.clone() });
            c = meta.tree.parent.get(&code).cloned();
        }
        path.reverse();
        Ok(Dashboard {
            topic: (*topic).clone(),
            region_name: meta.tree.name_of(&region),
            region_code: region,
            region_path: path,
            period: at.or(latest).map(|p| p.to_string()),
            watermark: self.watermark(actor),
            generated_at: to_rfc3339(self.now()),
            widgets,
        })
    }
}

/// The viewer-independent part of a dashboard (cached).
#[derive(Debug)]
pub struct Computed {
    pub widgets: Vec<WidgetData>,
    pub period: Option<Period>,
}

/// The period a dashboard is "as of": the latest of the most common frequency among its widgets
/// (a single daily widget should not make a monthly topic look daily).
fn main_period(shown: &[Period]) -> Option<Period> {
    let mut counts: HashMap<crate::period::Frequency, usize> = HashMap::new();
    for p in shown {
        *counts.entry(p.frequency()).or_default() += 1;
    }
    let order = |f: crate::period::Frequency| match f {
        crate::period::Frequency::Month => 3,
        crate::period::Frequency::Quarter => 2,
        crate::period::Frequency::Year => 1,
        crate::period::Frequency::Day => 0,
    };
    let f = counts.iter().max_by_key(|(f, n)| (**n, order(**f)))?.0;
    shown.iter().filter(|p| p.frequency() == *f).max().copied()
}

type SeriesMap = HashMap<String, (Arc<Indicator>, Arc<crate::compute::Series>)>;

#[allow(clippy::too_many_arguments)]
fn widget(
    svc: &IndService,
    meta: &Meta,
    actor: &Principal,
    series: &SeriesMap,
    thresholds: &[Threshold],
    w: &crate::model::Widget,
    group: &str,
    region: &str,
    at: Option<Period>,
) -> (WidgetData, Option<Period>) {
    let inds: Vec<&(Arc<Indicator>, Arc<crate::compute::Series>)> = w.indicators.iter().filter_map(|c| series.get(c)).collect();
    let mut out = WidgetData {
        id: w.id.clone(),
        title: w.title.clone(),
        chart: w.chart.clone(),
        by: w.by.clone(),
        group: group.to_owned(),
        span: w.span.clone(),
        indicators: inds.iter().map(|(i, _)| IndicatorBrief::from(i.as_ref())).collect(),
        x: Vec::new(),
        x_codes: Vec::new(),
        period: None,
        series: Vec::new(),
        cards: Vec::new(),
        drillable: Vec::new(),
    };
    let Some((first, first_s)) = inds.first().map(|x| (&x.0, &x.1)) else { return (out, None) };
    // Each indicator's own latest period at or before the requested one.
    let eff = |i: &Indicator, s: &crate::compute::Series| {
        s.latest(region, "", at.map(|p| if p.frequency() == i.freq() { p } else { p.convert(i.freq()) }).or(at))
    };
    let mut shown = None;
    match (w.chart.as_str(), w.by.as_str()) {
        ("card" | "carousel", _) => {
            for x in &inds {
                let p = eff(&x.0, &x.1);
                let pt = p.map(|p| PointCtx { svc, meta, ind: &x.0, series: &x.1, thresholds }.point(region, "", p));
                if shown.is_none() {
                    shown = p;
                }
                out.cards.push(Card {
                    code: x.0.code.clone(),
                    name: x.0.name.clone(),
                    unit: x.0.unit.clone(),
                    period: p.map(|p| p.to_string()),
                    period_label: p.map(|p| p.label()),
                    value: pt.as_ref().and_then(|p| p.value),
                    yoy: pt.as_ref().and_then(|p| p.yoy),
                    mom: pt.as_ref().and_then(|p| p.mom),
                    cumulative: pt.as_ref().and_then(|p| p.cumulative),
                    rank: pt.as_ref().and_then(|p| p.rank),
                    rank_of: pt.as_ref().and_then(|p| p.rank_of),
                    completion: pt.as_ref().and_then(|p| p.completion),
                    light: pt.and_then(|p| p.light),
                });
            }
        }
        (_, "period") => {
            let Some(end) = eff(first, first_s) else { return (out, None) };
            shown = Some(end);
            let mut ps = vec![end];
            for _ in 1..w.window {
                let prev = ps[ps.len() - 1].prev();
                ps.push(prev);
            }
            ps.reverse();
            out.x = ps.iter().map(|p| p.label()).collect();
            out.x_codes = ps.iter().map(|p| p.to_string()).collect();
            for x in &inds {
                let pc = PointCtx { svc, meta, ind: &x.0, series: &x.1, thresholds };
                let pts: Vec<_> = ps.iter().map(|p| pc.point(region, "", *p)).collect();
                out.series.push(SeriesLine::of(&x.0, &pts));
            }
        }
        (_, "region") => {
            let Some(p) = eff(first, first_s) else { return (out, None) };
            shown = Some(p);
            let mut kids: Vec<String> = meta
                .tree
                .children_of(region)
                .iter()
                .filter(|c| first_s.line(c, "").is_some() && region_visible(actor, c))
                .cloned()
                .collect();
            if kids.is_empty() {
                kids.push(region.to_owned());
            }
            if matches!(w.chart.as_str(), "pareto" | "rank") {
                let dir = first.dir();
                kids.sort_by(|a, b| {
                    let va = first_s.value(a, "", p).unwrap_or(f64::NEG_INFINITY);
                    let vb = first_s.value(b, "", p).unwrap_or(f64::NEG_INFINITY);
                    let o = vb.partial_cmp(&va).unwrap_or(std::cmp::Ordering::Equal);
                    if w.chart == "rank" && dir == crate::compute::Direction::Down {
                        o.reverse()
                    } else {
                        o
                    }
                });
            }
            out.x = kids.iter().map(|k| meta.tree.name_of(k)).collect();
            out.drillable =
                kids.iter().map(|k| k != region && meta.tree.children_of(k).iter().any(|c| first_s.line(c, "").is_some())).collect();
            out.x_codes = kids.clone();
            out.period = Some(p.to_string());
            for x in &inds {
                let pc = PointCtx { svc, meta, ind: &x.0, series: &x.1, thresholds };
                let pp = if x.0.freq() == first.freq() { p } else { p.convert(x.0.freq()) };
                let pts: Vec<_> = kids.iter().map(|k| pc.point(k, "", pp)).collect();
                out.series.push(SeriesLine::of(&x.0, &pts));
            }
        }
        _ => {
            let Some(p) = eff(first, first_s) else { return (out, None) };
            shown = Some(p);
            let mut cats: Vec<String> = first.categories.as_ref().map(|c| c.values.clone()).unwrap_or_default();
            if w.chart == "pareto" || w.chart == "funnel" || w.chart == "rank" {
                cats.sort_by(|a, b| {
                    let va = first_s.value(region, a, p).unwrap_or(f64::NEG_INFINITY);
                    let vb = first_s.value(region, b, p).unwrap_or(f64::NEG_INFINITY);
                    vb.partial_cmp(&va).unwrap_or(std::cmp::Ordering::Equal)
                });
            }
            out.x = cats.clone();
            out.x_codes = cats.clone();
            out.period = Some(p.to_string());
            for x in &inds {
                let pc = PointCtx { svc, meta, ind: &x.0, series: &x.1, thresholds };
                let pts: Vec<_> = cats.iter().map(|c| pc.point(region, c, p)).collect();
                out.series.push(SeriesLine::of(&x.0, &pts));
            }
        }
    }
    (out, shown)
}
