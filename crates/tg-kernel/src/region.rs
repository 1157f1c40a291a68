//! Region codes (行政区划代码).
//!
//! Tongguan uses the NBS statistical division codes (their first 6 digits are GB/T 2260) and extends
//! them one level down with GB/T 30428 grid codes:
//!
//! | level | digits | example |
//! | --- | --- | --- |
//! | 市 city | 6, ends in `00` | `445300` |
//! | 县(市、区) county | 6 | `445302` |
//! | 镇(街道) town | 9 | `445302001` |
//! | 村(社区) village | 12 | `445302001009` |
//! | 组(网格) group | 15 | `445302001009001` |
//!
//! Every descendant's code starts with its ancestor's *significant prefix* (`4453` for the city, the
//! whole code below it), so a subtree is the half-open string range `[prefix, prefix + ":")` —
//! `':'` is the byte after `'9'`. Columns holding codes use binary collation on every engine so that
//! this range is exact and indexable.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RegionLevel {
    City,
    County,
    Town,
    Village,
    Group,
}

impl RegionLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::City => "city",
            Self::County => "county",
            Self::Town => "town",
            Self::Village => "village",
            Self::Group => "group",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "city" => Self::City,
            "county" => Self::County,
            "town" => Self::Town,
            "village" => Self::Village,
            "group" => Self::Group,
            _ => return None,
        })
    }
    /// The Chinese name used in the UI.
    pub fn label(self) -> &'static str {
        match self {
            Self::City => "市",
            Self::County => "县(市、区)",
            Self::Town => "镇(街道)",
            Self::Village => "村(社区)",
            Self::Group => "组(网格)",
        }
    }
    /// 1 for the city … 5 for a group.
    pub fn depth(self) -> u8 {
        self as u8 + 1
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("行政区划代码格式不正确：{0}")]
pub struct InvalidRegionCode(pub String);

/// A syntactically valid region code. Whether it exists is the region repository's question.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "445302")]
pub struct RegionCode(String);

impl RegionCode {
    pub fn parse(s: &str) -> Result<Self, InvalidRegionCode> {
        let s = s.trim();
        let ok = matches!(s.len(), 6 | 9 | 12 | 15) && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with("00");
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidRegionCode(s.chars().take(32).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> RegionLevel {
        match self.0.len() {
            6 if self.0.ends_with("00") => RegionLevel::City,
            6 => RegionLevel::County,
            9 => RegionLevel::Town,
            12 => RegionLevel::Village,
            _ => RegionLevel::Group,
        }
    }

    /// The prefix every descendant's code starts with.
    pub fn prefix(&self) -> &str {
        match self.level() {
            RegionLevel::City => &self.0[..4],
            _ => &self.0,
        }
    }

    /// Half-open range `[lo, hi)` containing exactly this node and its descendants.
    pub fn subtree_bounds(&self) -> (String, String) {
        let p = self.prefix();
        (p.to_owned(), format!("{p}:"))
    }

    pub fn parent(&self) -> Option<RegionCode> {
        let code = match self.level() {
            RegionLevel::City => return None,
            RegionLevel::County => format!("{}00", &self.0[..4]),
            RegionLevel::Town => self.0[..6].to_owned(),
            RegionLevel::Village => self.0[..9].to_owned(),
            RegionLevel::Group => self.0[..12].to_owned(),
        };
        Some(Self(code))
    }

    /// True when `other` is this node or lies below it.
    pub fn contains(&self, other: &RegionCode) -> bool {
        other.0.starts_with(self.prefix())
    }

    /// Codes from the city down to this node (inclusive).
    pub fn lineage(&self) -> Vec<RegionCode> {
        let mut out = vec![self.clone()];
        let mut cur = self.clone();
        while let Some(p) = cur.parent() {
            out.push(p.clone());
            cur = p;
        }
        out.reverse();
        out
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RegionCode {
    type Error = InvalidRegionCode;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<RegionCode> for String {
    fn from(c: RegionCode) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rc(s: &str) -> RegionCode {
        RegionCode::parse(s).unwrap()
    }

    #[test]
    fn levels_and_parents() {
        assert_eq!(rc("445300").level(), RegionLevel::City);
        assert_eq!(rc("445302").level(), RegionLevel::County);
        assert_eq!(rc("445302001").level(), RegionLevel::Town);
        assert_eq!(rc("445302001009").level(), RegionLevel::Village);
        assert_eq!(rc("445302001009001").level(), RegionLevel::Group);
        assert_eq!(rc("445302").parent(), Some(rc("445300")));
        assert_eq!(rc("445302001009001").parent(), Some(rc("445302001009")));
        assert_eq!(rc("445300").parent(), None);
        assert_eq!(
            rc("445302001009").lineage().iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            ["445300", "445302", "445302001", "445302001009"]
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "4453", "44530a", "4453020010", "' OR 1=1 --", "000000", "4453020010090011"] {
            assert!(RegionCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn subtree_range_matches_prefix_containment() {
        let all = [
            "445300",
            "445302",
            "445303",
            "445302001",
            "445302101",
            "445303001",
            "445302001009",
            "445302001009001",
            "445381400598",
            "445322",
        ];
        for a in all {
            let a = rc(a);
            let (lo, hi) = a.subtree_bounds();
            for b in all {
                let b = rc(b);
                let in_range = b.as_str() >= lo.as_str() && b.as_str() < hi.as_str();
                assert_eq!(in_range, a.contains(&b), "{a} vs {b}");
            }
        }
        assert!(rc("445300").contains(&rc("445381400598")));
        assert!(!rc("445302").contains(&rc("445303001")));
    }
}
