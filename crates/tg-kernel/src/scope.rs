//! Data scope (数据权限): which rows a user may see and touch.
//!
//! A scope is the subtree of the user's region, optionally narrowed to the user's own department.
//! Repositories apply it *inside* SQL with bound parameters (`region_code >= $lo AND region_code < $hi`),
//! never by splicing strings and never by filtering after fetching.

use crate::region::RegionCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataScope {
    pub region: RegionCode,
    /// When set, only rows belonging to this department are in scope.
    pub department_id: Option<i64>,
}

impl DataScope {
    pub fn region(region: RegionCode) -> Self {
        Self { region, department_id: None }
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
        match (self.department_id, other.department_id) {
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
    }
}
