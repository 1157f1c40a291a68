//! Data scope (数据权限): which rows a user may see and touch.
//!
//! A scope is the subtree of the user's region, optionally narrowed to the user's own department.
//! Repositories apply it *inside* SQL with bound parameters (`region_code >= $lo AND region_code < $hi`),
//! never by splicing strings and never by filtering after fetching.

use crate::region::RegionCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Security label (安全标记, 等保 §8.1.4.2 g) of a subject (its clearance) or an object (its
/// sensitivity): a subject may reach objects whose label does not exceed its clearance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SecurityLabel {
    /// 公开
    Public = 1,
    /// 内部
    Internal = 2,
    /// 敏感
    Sensitive = 3,
}

impl SecurityLabel {
    pub fn level(self) -> i64 {
        self as i64
    }
    pub fn from_level(n: i64) -> Option<Self> {
        match n {
            1 => Some(Self::Public),
            2 => Some(Self::Internal),
            3 => Some(Self::Sensitive),
            _ => None,
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Public => "公开",
            Self::Internal => "内部",
            Self::Sensitive => "敏感",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataScope {
    pub region: RegionCode,
    /// When set, only rows belonging to this department are in scope.
    pub department_id: Option<i64>,
    /// When set, only labelled rows whose label does not exceed this clearance are in scope.
    pub clearance: Option<SecurityLabel>,
}

impl DataScope {
    pub fn region(region: RegionCode) -> Self {
        Self { region, department_id: None, clearance: None }
    }

    pub fn bounds(&self) -> (String, String) {
        self.region.subtree_bounds()
    }

    pub fn contains_region(&self, code: &RegionCode) -> bool {
        self.region.contains(code)
    }

    /// Whether a scope `other` lies entirely within this one (used to refuse granting wider scopes).
    pub fn covers(&self, other: &DataScope) -> bool {
        if !self.region.contains(&other.region) {
            return false;
        }
        // A target without a label constraint carries none; two labels compare.
        let clearance_ok = match (self.clearance, other.clearance) {
            (Some(mine), Some(theirs)) => theirs <= mine,
            _ => true,
        };
        clearance_ok
            && match (self.department_id, other.department_id) {
                (None, _) => true,
                (Some(a), Some(b)) => a == b,
                (Some(_), None) => false,
            }
    }

    /// Narrow a requested region filter to this scope: `None` when the request lies outside it.
    pub fn narrow(&self, requested: Option<&RegionCode>) -> Option<RegionCode> {
        match requested {
            None => Some(self.region.clone()),
            Some(r) if self.region.contains(r) => Some(r.clone()),
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_and_narrow() {
        let city = DataScope::region(RegionCode::parse("445300").unwrap());
        let county = DataScope::region(RegionCode::parse("445302").unwrap());
        let other = DataScope::region(RegionCode::parse("445303").unwrap());
        assert!(city.covers(&county));
        assert!(!county.covers(&city));
        assert!(!county.covers(&other));
        let dept = DataScope { department_id: Some(7), ..county.clone() };
        assert!(county.covers(&dept));
        assert!(!dept.covers(&county));
        assert_eq!(county.narrow(Some(&other.region)), None);
        assert_eq!(city.narrow(Some(&county.region)), Some(county.region.clone()));
        let internal = DataScope { clearance: Some(SecurityLabel::Internal), ..city.clone() };
        let sensitive = DataScope { clearance: Some(SecurityLabel::Sensitive), ..county.clone() };
        assert!(!internal.covers(&sensitive));
        assert!(sensitive.covers(&DataScope { clearance: Some(SecurityLabel::Public), ..county.clone() }));
        assert_eq!(SecurityLabel::from_level(SecurityLabel::Sensitive.level()), Some(SecurityLabel::Sensitive));
    }
}
