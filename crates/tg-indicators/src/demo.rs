//! Demo values for the pack's indicators (every load is marked 演示数据 and every value keeps that
//! source): monthly, quarterly, yearly and daily series from 2021 to the last complete period, per
//! county and city (and per town where the pack asks for it). Additive indicators sum exactly from
//! towns to counties to the city; means are weighted by the same county weights.

use crate::pack::{DemoDef, IndDef, IndicatorPack, Weights};
use crate::period::{Frequency, Period};
use crate::values::ValueRow;
use crate::IndService;
use std::collections::BTreeMap;
use tg_iam::{IamError, IamResult};
use tg_spatial::rng::SplitMix64;

/// County weights of the deployment (population, GDP, area), from the pack's demo templates.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoWeights {
    pub population: BTreeMap<String, f64>,
    pub gdp: BTreeMap<String, f64>,
    pub area: BTreeMap<String, f64>,
}

/// The demo source label: every generated value carries it.
pub const DEMO_SOURCE: &str = "演示数据（系统生成，非真实统计）";

fn hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn normalised(m: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    let s: f64 = m.values().sum();
    m.iter().map(|(k, v)| (k.clone(), if s > 0.0 { v / s } else { 0.0 })).collect()
}

/// The periods to generate for a frequency, up to the last complete one before `today` (YYYY-MM-DD).
pub fn periods(f: Frequency, today: &str) -> Vec<Period> {
    let t = Period::parse(today).unwrap_or(Period::Day(2026, 1, 1));
    let (start, end) = match f {
        Frequency::Year => (Period::Year(2021), Period::Year(t.year() - 1)),
        Frequency::Quarter => (Period::Quarter(2021, 1), t.convert(Frequency::Quarter).prev()),
        Frequency::Month => (Period::Month(2021, 1), t.convert(Frequency::Month).prev()),
        Frequency::Day => {
            let end = t.prev();
            let mut s = end;
            for _ in 0..29 {
                s = s.prev();
            }
            (s, end)
        }
    };
    let mut out = Vec::new();
    let mut p = start;
    while p <= end && out.len() < 5000 {
        out.push(p);
        p = p.next();
    }
    out
}

fn round(v: f64, d: i32) -> f64 {
    crate::compute::round(v, d)
}

/// Position in years since 2021-01 and the seasonal phase in [0, 1).
fn position(p: Period) -> (f64, f64) {
    match p {
        Period::Year(y) => (f64::from(y - 2021), 0.5),
        Period::Quarter(y, q) => (f64::from(y - 2021) + f64::from(q - 1) / 4.0, f64::from(q - 1) / 4.0 + 0.125),
        Period::Month(y, m) => (f64::from(y - 2021) + f64::from(m - 1) / 12.0, f64::from(m - 1) / 12.0),
        Period::Day(y, m, d) => {
            (f64::from(y - 2021) + (f64::from(m - 1) + f64::from(d) / 31.0) / 12.0, (f64::from(m - 1) + f64::from(d) / 31.0) / 12.0)
        }
    }
}

struct Gen<'a> {
    ind: &'a IndDef,
    d: &'a DemoDef,
    county_w: BTreeMap<String, f64>,
    /// Town weights within each county (sum 1 per county).
    towns: BTreeMap<String, Vec<(String, f64)>>,
    city: String,
}

impl Gen<'_> {
    fn clamp(&self, v: f64) -> f64 {
        let v = self.d.min.map_or(v, |m| v.max(m));
        self.d.max.map_or(v, |m| v.min(m))
    }

    /// City-level value of period `p` before noise.
    fn level(&self, p: Period) -> f64 {
        let (years, phase) = position(p);
        let season = if p.frequency() == Frequency::Year { 0.0 } else { self.d.season * (std::f64::consts::TAU * (phase - 0.1)).sin() };
        self.d.base * (1.0 + self.d.growth).powf(years) * (1.0 + season)
    }

    fn rows(&self, periods: &[Period], out: &mut Vec<ValueRow>) {
        let additive = match self.ind.agg.as_str() {
            "sum" => true,
            "avg" => false,
            _ => self.ind.additive_regions.unwrap_or(true),
        };
        let cats: Vec<String> = self.ind.categories.as_ref().map(|c| c.values.clone()).unwrap_or_default();
        let dec = self.d.decimals;
        let mut rng = SplitMix64(hash(&self.ind.code));
        // A stable per-county offset for non-additive indicators (counties differ, but persistently).
        let offsets: BTreeMap<String, f64> =
            self.county_w.keys().map(|c| (c.clone(), SplitMix64(hash(&format!("{}{c}", self.ind.code))).range(-0.12, 0.12))).collect();
        for &p in periods {
            let level = self.level(p);
            let ps = p.to_string();
            let mut city_total = 0.0;
            let mut city_cats = vec![0.0; cats.len()];
            let mut city_w = 0.0;
            for (county, w) in &self.county_w {
                let noise = 1.0 + self.d.noise * (rng.unit() * 2.0 - 1.0);
                let base = if additive { level * w } else { level * (1.0 + offsets[county]) };
                let v = self.clamp(base * noise);
                // Towns first (their rounded values define the county total when additive).
                let mut county_v = round(v, dec);
                if self.d.towns {
                    if let Some(towns) = self.towns.get(county) {
                        let mut sum = 0.0;
                        for (t, tw) in towns {
                            let tn = 1.0 + self.d.noise * (rng.unit() * 2.0 - 1.0);
                            let tv = if additive {
                                round(self.clamp(v * tw * tn), dec)
                            } else {
                                round(self.clamp(v * (1.0 + (tw - 1.0 / towns.len() as f64) * 2.0) * tn), dec)
                            };
                            sum += tv;
                            out.push(ValueRow {
                                indicator: self.ind.code.clone(),
                                period: ps.clone(),
                                region_code: t.clone(),
                                category: String::new(),
                                value: tv,
                            });
                        }
                        if additive {
                            county_v = round(sum, dec);
                        }
                    }
                }
                if cats.is_empty() {
                    out.push(ValueRow {
                        indicator: self.ind.code.clone(),
                        period: ps.clone(),
                        region_code: county.clone(),
                        category: String::new(),
                        value: county_v,
                    });
                } else {
                    let mut total = 0.0;
                    for (k, c) in cats.iter().enumerate() {
                        let share = self.d.category_shares.get(k).copied().unwrap_or(0.0);
                        let cn = 1.0 + self.d.noise * (rng.unit() * 2.0 - 1.0);
                        let cv = round(county_v * share * cn, dec).max(0.0);
                        total += cv;
                        city_cats[k] += if additive { cv } else { cv * w };
                        out.push(ValueRow {
                            indicator: self.ind.code.clone(),
                            period: ps.clone(),
                            region_code: county.clone(),
                            category: c.clone(),
                            value: cv,
                        });
                    }
                    if additive {
                        county_v = round(total, dec);
                    }
                    out.push(ValueRow {
                        indicator: self.ind.code.clone(),
                        period: ps.clone(),
                        region_code: county.clone(),
                        category: String::new(),
                        value: county_v,
                    });
                }
                city_total += if additive { county_v } else { county_v * w };
                city_w += w;
            }
            let city_v = if additive { city_total } else { city_total / city_w.max(1e-9) };
            out.push(ValueRow {
                indicator: self.ind.code.clone(),
                period: ps.clone(),
                region_code: self.city.clone(),
                category: String::new(),
                value: round(city_v, dec),
            });
            for (k, c) in cats.iter().enumerate() {
                let v = if additive { city_cats[k] } else { city_cats[k] / city_w.max(1e-9) };
                out.push(ValueRow {
                    indicator: self.ind.code.clone(),
                    period: ps.clone(),
                    region_code: self.city.clone(),
                    category: c.clone(),
                    value: round(v, dec),
                });
            }
        }
    }
}

impl IndService {
    /// Generates and loads demo values for every pack indicator that has none yet. Returns the
    /// number of values written.
    pub async fn seed_demo(&self, pack: &IndicatorPack, weights: &DemoWeights) -> IamResult<usize> {
        let meta = self.meta().await?;
        let today = crate::beijing_date(self.now());
        let city = self.city().to_owned();
        let counties: Vec<String> = meta.tree.children_of(&city).to_vec();
        let pick = |w: &Weights| -> BTreeMap<String, f64> {
            let m = match w {
                Weights::Named(n) if n == "gdp" => weights.gdp.clone(),
                Weights::Named(n) if n == "area" => weights.area.clone(),
                Weights::Named(n) if n == "equal" => counties.iter().map(|c| (c.clone(), 1.0)).collect(),
                Weights::Named(_) => weights.population.clone(),
                Weights::Explicit(m) => m.clone(),
            };
            let m: BTreeMap<String, f64> = counties.iter().map(|c| (c.clone(), m.get(c).copied().unwrap_or(0.0))).collect();
            if m.values().sum::<f64>() <= 0.0 {
                normalised(&counties.iter().map(|c| (c.clone(), 1.0)).collect())
            } else {
                normalised(&m)
            }
        };
        let mut written = 0;
        let mut batch: Vec<ValueRow> = Vec::new();
        for (_, ind) in pack.indicators() {
            let Some(d) = &ind.demo else { continue };
            let Some(known) = meta.indicator(&ind.code) else { continue };
            if known.latest_period.is_some() {
                continue;
            }
            let Some(freq) = Frequency::parse(&ind.frequency) else { continue };
            let mut towns = BTreeMap::new();
            if d.towns {
                for c in &counties {
                    let kids = meta.tree.children_of(c);
                    let mut r = SplitMix64(hash(&format!("towns{}{c}", ind.code)));
                    let raw: Vec<f64> = kids.iter().map(|_| r.range(0.5, 1.5)).collect();
                    let s: f64 = raw.iter().sum();
                    towns.insert(c.clone(), kids.iter().zip(raw).map(|(k, w)| (k.clone(), w / s)).collect::<Vec<_>>());
                }
            }
            let g = Gen { ind, d, county_w: pick(&d.weights), towns, city: city.clone() };
            g.rows(&periods(freq, &today), &mut batch);
            if batch.len() > 50_000 {
                written += self.write_demo(&meta, &batch).await?;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            written += self.write_demo(&meta, &batch).await?;
        }
        Ok(written)
    }

    async fn write_demo(&self, meta: &crate::Meta, rows: &[ValueRow]) -> IamResult<usize> {
        let mut valid = Vec::with_capacity(rows.len());
        for r in rows {
            let ind = meta.indicator(&r.indicator).ok_or_else(|| IamError::Internal(format!("demo: unknown {}", r.indicator)))?;
            let p = Period::parse_as(&r.period, ind.freq()).ok_or_else(|| IamError::Internal(format!("demo: bad period {}", r.period)))?;
            valid.push((ind.id, r, p));
        }
        self.write_values(0, DEMO_SOURCE, &valid, true).await?;
        Ok(valid.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_end_at_the_last_complete_one() {
        let m = periods(Frequency::Month, "2026-11-29");
        assert_eq!(m.first().unwrap().to_string(), "2021-01");
        assert_eq!(m.last().unwrap().to_string(), "2026-10");
        assert_eq!(periods(Frequency::Quarter, "2026-11-29").last().unwrap().to_string(), "2026Q3");
        assert_eq!(periods(Frequency::Year, "2026-11-29").last().unwrap().to_string(), "2025");
        let d = periods(Frequency::Day, "2026-11-29");
        assert_eq!((d.len(), d.last().unwrap().to_string()), (30, "2026-11-28".to_string()));
    }
}
