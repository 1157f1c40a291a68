//! The computations behind every number on a dashboard, on plain in-memory series: 同比 (year on
//! year), 环比 (on the previous period), 累计 (year to date), ranking among sibling regions, target
//! completion, and the roll-up of additive indicators from lower levels to higher ones. Missing
//! periods give no value (never zero).

use crate::period::Period;
use std::collections::{BTreeMap, HashMap};

/// How values of one indicator combine over time and over regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    /// Flows (产值, 收入): the year-to-date total is the sum; regions add up.
    Sum,
    /// Means and rates (AQI, 达标率): the year-to-date figure is the mean; regions average.
    Avg,
    /// Levels at a point in time (户数, 保有量): no year-to-date figure; regions add up when additive.
    Stock,
}

impl Agg {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sum" => Self::Sum,
            "avg" => Self::Avg,
            "stock" => Self::Stock,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sum => "sum",
            Self::Avg => "avg",
            Self::Stock => "stock",
        }
    }
}

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    None,
}

impl Direction {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "up" => Self::Up,
            "down" => Self::Down,
            "none" => Self::None,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::None => "none",
        }
    }
}

/// One stored or computed value; `load` is the id of the load it came from, 0 when computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Val {
    pub v: f64,
    pub load: i64,
}

/// The region hierarchy the computations need (names, parents, children in code order).
#[derive(Debug, Default, Clone)]
pub struct RegionTree {
    pub name: HashMap<String, String>,
    pub parent: HashMap<String, String>,
    pub children: HashMap<String, Vec<String>>,
}

impl RegionTree {
    pub fn add(&mut self, code: &str, name: &str, parent: Option<&str>) {
        self.name.insert(code.to_owned(), name.to_owned());
        if let Some(p) = parent {
            self.parent.insert(code.to_owned(), p.to_owned());
            self.children.entry(p.to_owned()).or_default().push(code.to_owned());
        }
    }
    pub fn sort(&mut self) {
        for v in self.children.values_mut() {
            v.sort();
        }
    }
    pub fn name_of(&self, code: &str) -> String {
        self.name.get(code).cloned().unwrap_or_else(|| code.to_owned())
    }
    pub fn children_of(&self, code: &str) -> &[String] {
        self.children.get(code).map(Vec::as_slice).unwrap_or(&[])
    }
    /// Depth below the root (the city is 0).
    fn depth(&self, code: &str) -> usize {
        let mut d = 0;
        let mut c = code;
        while let Some(p) = self.parent.get(c) {
            d += 1;
            c = p;
        }
        d
    }
}

/// All values of one indicator: (region, category) → period → value.
#[derive(Debug, Default, Clone)]
pub struct Series {
    pub data: HashMap<(String, String), BTreeMap<Period, Val>>,
}

impl Series {
    pub fn insert(&mut self, region: &str, category: &str, p: Period, v: Val) {
        self.data.entry((region.to_owned(), category.to_owned())).or_default().insert(p, v);
    }
    pub fn line(&self, region: &str, category: &str) -> Option<&BTreeMap<Period, Val>> {
        self.data.get(&(region.to_owned(), category.to_owned()))
    }
    pub fn get(&self, region: &str, category: &str, p: Period) -> Option<Val> {
        self.line(region, category)?.get(&p).copied()
    }
    pub fn value(&self, region: &str, category: &str, p: Period) -> Option<f64> {
        self.get(region, category, p).map(|v| v.v)
    }
    /// The latest period with a value at or before `at` (by end date), for `region` and `category`.
    pub fn latest(&self, region: &str, category: &str, at: Option<Period>) -> Option<Period> {
        let line = self.line(region, category)?;
        match at {
            None => line.keys().next_back().copied(),
            Some(at) => {
                let end = at.end_date();
                line.keys().rev().find(|p| p.end_date() <= end).copied()
            }
        }
    }
    pub fn len(&self) -> usize {
        self.data.values().map(BTreeMap::len).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Fills regions without stored values from their children, deepest first: sums for additive
    /// indicators, plain means otherwise. A filled value is marked computed (`load` 0).
    pub fn roll_up(&mut self, tree: &RegionTree, additive: bool) {
        let mut regions: Vec<String> = self.data.keys().map(|(r, _)| r.clone()).collect();
        regions.sort();
        regions.dedup();
        // Collect every ancestor, then process deepest first.
        let mut all: Vec<String> = Vec::new();
        for r in &regions {
            let mut c = r.as_str();
            while let Some(p) = tree.parent.get(c) {
                all.push(p.clone());
                c = p;
            }
        }
        all.sort();
        all.dedup();
        all.sort_by_key(|r| std::cmp::Reverse(tree.depth(r)));
        let cats: Vec<String> = {
            let mut c: Vec<String> = self.data.keys().map(|(_, c)| c.clone()).collect();
            c.sort();
            c.dedup();
            c
        };
        for parent in all {
            for cat in &cats {
                let mut acc: BTreeMap<Period, (f64, usize)> = BTreeMap::new();
                for child in tree.children_of(&parent) {
                    if let Some(line) = self.line(child, cat) {
                        for (p, v) in line {
                            let e = acc.entry(*p).or_insert((0.0, 0));
                            e.0 += v.v;
                            e.1 += 1;
                        }
                    }
                }
                if acc.is_empty() {
                    continue;
                }
                let line = self.data.entry((parent.clone(), cat.clone())).or_default();
                for (p, (s, n)) in acc {
                    line.entry(p).or_insert(Val { v: if additive { s } else { s / n as f64 }, load: 0 });
                }
            }
        }
    }
}

/// Growth of `v` over `base`: percent, or the difference in percentage points for rates.
pub fn growth(v: f64, base: f64, points: bool) -> Option<f64> {
    if points {
        return Some(round(v - base, 2));
    }
    if base == 0.0 {
        return None;
    }
    Some(round((v - base) / base.abs() * 100.0, 2))
}

pub fn round(v: f64, d: i32) -> f64 {
    let f = 10f64.powi(d);
    (v * f).round() / f
}

/// Year-to-date figure up to `p`: the sum (flows) or the mean (rates) of the periods present;
/// `None` for stocks or when nothing is present.
pub fn cumulative(s: &Series, agg: Agg, region: &str, cat: &str, p: Period) -> Option<f64> {
    let line = s.line(region, cat)?;
    line.get(&p)?;
    let vals: Vec<f64> = line.range(p.year_start()..=p).map(|(_, v)| v.v).collect();
    match agg {
        Agg::Sum => Some(vals.iter().sum()),
        Agg::Avg => Some(vals.iter().sum::<f64>() / vals.len() as f64),
        Agg::Stock => None,
    }
}

/// Rank of `region` among its siblings with a value at `p` (1 = best for the direction), and how
/// many were ranked. Regions without a parent, or indicators without a direction, are not ranked.
pub fn rank(s: &Series, tree: &RegionTree, dir: Direction, region: &str, cat: &str, p: Period) -> Option<(usize, usize)> {
    if dir == Direction::None {
        return None;
    }
    let parent = tree.parent.get(region)?;
    let mine = s.value(region, cat, p)?;
    let vals: Vec<f64> = tree.children_of(parent).iter().filter_map(|c| s.value(c, cat, p)).collect();
    let better = vals.iter().filter(|&&v| if dir == Direction::Up { v > mine } else { v < mine }).count();
    Some((better + 1, vals.len()))
}

/// Every computed figure of one point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub value: Option<f64>,
    pub load: i64,
    pub yoy: Option<f64>,
    pub mom: Option<f64>,
    pub cumulative: Option<f64>,
    pub cumulative_yoy: Option<f64>,
    pub rank: Option<(usize, usize)>,
}

/// How an indicator's figures are computed: aggregation, direction, and whether growth is in
/// percentage points.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub agg: Agg,
    pub dir: Direction,
    pub points: bool,
}

/// Computes the figures of (region, category, period).
pub fn figures(s: &Series, tree: &RegionTree, kind: Kind, region: &str, cat: &str, p: Period) -> Figures {
    let Kind { agg, dir, points } = kind;
    let Some(v) = s.get(region, cat, p) else { return Figures::default() };
    let ly = s.value(region, cat, p.year_ago());
    let prev = s.value(region, cat, p.prev());
    let cum = if p.frequency() == crate::period::Frequency::Year { None } else { cumulative(s, agg, region, cat, p) };
    let cum_ly = cum.and_then(|_| cumulative(s, agg, region, cat, p.year_ago()));
    Figures {
        value: Some(v.v),
        load: v.load,
        yoy: ly.and_then(|b| growth(v.v, b, points)),
        mom: if p.frequency() == crate::period::Frequency::Year { None } else { prev.and_then(|b| growth(v.v, b, points)) },
        cumulative: cum,
        cumulative_yoy: match (cum, cum_ly) {
            (Some(c), Some(b)) => growth(c, b, points),
            _ => None,
        },
        rank: rank(s, tree, dir, region, cat, p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Period {
        Period::parse(s).unwrap()
    }

    fn tree() -> RegionTree {
        let mut t = RegionTree::default();
        t.add("445300", "云浮市", None);
        for (c, n) in [("445302", "云城区"), ("445303", "云安区"), ("445381", "罗定市")] {
            t.add(c, n, Some("445300"));
        }
        t.add("445302001", "云城街道", Some("445302"));
        t.add("445302002", "高峰街道", Some("445302"));
        t.sort();
        t
    }

    fn val(v: f64) -> Val {
        Val { v, load: 1 }
    }

    #[test]
    fn growth_cumulative_and_missing_periods() {
        let mut s = Series::default();
        for (per, v) in [("2024-01", 10.0), ("2024-02", 20.0), ("2024-03", 30.0), ("2025-01", 12.0), ("2025-03", 36.0)] {
            s.insert("445300", "", p(per), val(v));
        }
        let f = figures(&s, &tree(), Kind { agg: Agg::Sum, dir: Direction::Up, points: false }, "445300", "", p("2025-03"));
        assert_eq!(f.value, Some(36.0));
        assert_eq!(f.yoy, Some(20.0));
        assert_eq!(f.mom, None, "February 2025 is missing: no 环比");
        assert_eq!(f.cumulative, Some(48.0), "累计 sums the months present");
        assert_eq!(f.cumulative_yoy, Some(-20.0), "48 against 60");
        let f = figures(&s, &tree(), Kind { agg: Agg::Avg, dir: Direction::Up, points: false }, "445300", "", p("2024-03"));
        assert_eq!(f.cumulative, Some(20.0));
        assert_eq!(f.yoy, None, "no 2023 value");
        let f = figures(&s, &tree(), Kind { agg: Agg::Stock, dir: Direction::Up, points: false }, "445300", "", p("2024-03"));
        assert_eq!(f.cumulative, None);
        assert_eq!(
            figures(&s, &tree(), Kind { agg: Agg::Sum, dir: Direction::Up, points: false }, "445300", "", p("2025-02")),
            Figures::default()
        );
    }

    #[test]
    fn rates_grow_in_points_and_zero_bases_have_no_growth() {
        assert_eq!(growth(95.5, 93.0, true), Some(2.5));
        assert_eq!(growth(5.0, 0.0, false), None);
        assert_eq!(growth(-5.0, -10.0, false), Some(50.0), "growth against a negative base uses its magnitude");
    }

    #[test]
    fn ranks_follow_the_direction_and_roll_up_fills_parents() {
        let t = tree();
        let mut s = Series::default();
        s.insert("445302", "", p("2025"), val(50.0));
        s.insert("445303", "", p("2025"), val(30.0));
        s.insert("445381", "", p("2025"), val(40.0));
        assert_eq!(rank(&s, &t, Direction::Up, "445381", "", p("2025")), Some((2, 3)));
        assert_eq!(rank(&s, &t, Direction::Down, "445303", "", p("2025")), Some((1, 3)));
        assert_eq!(rank(&s, &t, Direction::None, "445303", "", p("2025")), None);
        assert_eq!(rank(&s, &t, Direction::Up, "445300", "", p("2025")), None, "the city has no siblings");
        // Town values roll up into their county only where the county has no stored value.
        s.insert("445302001", "", p("2025"), val(7.0));
        s.insert("445302002", "", p("2025"), val(8.0));
        s.insert("445302001", "", p("2024"), val(6.0));
        let mut sum = s.clone();
        sum.roll_up(&t, true);
        assert_eq!(sum.value("445302", "", p("2025")), Some(50.0), "a stored value wins");
        assert_eq!(sum.value("445302", "", p("2024")), Some(6.0));
        assert_eq!(sum.value("445300", "", p("2025")), Some(120.0));
        assert_eq!(sum.get("445300", "", p("2025")).unwrap().load, 0, "computed");
        let mut avg = s.clone();
        avg.roll_up(&t, false);
        assert_eq!(avg.value("445300", "", p("2025")), Some(40.0));
    }

    #[test]
    fn latest_respects_the_cut_off() {
        let mut s = Series::default();
        s.insert("445300", "", p("2025Q1"), val(1.0));
        s.insert("445300", "", p("2025Q3"), val(3.0));
        assert_eq!(s.latest("445300", "", None), Some(p("2025Q3")));
        assert_eq!(s.latest("445300", "", Some(p("2025-08"))), Some(p("2025Q1")));
        assert_eq!(s.latest("445300", "", Some(p("2024"))), None);
    }
}
