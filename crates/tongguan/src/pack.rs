//! The deployment pack compiled into the binary (`packs/yunfu/`): Yunfu's regions and demo templates.

use anyhow::{Context, Result};
use serde::Deserialize;

pub const PACK_TOML: &str = include_str!("../../../packs/yunfu/pack.toml");
pub const REGIONS_CSV: &str = include_str!("../../../packs/yunfu/regions.csv");
pub const DEMO_TOML: &str = include_str!("../../../packs/yunfu/demo.toml");
/// Official city and county boundaries (GeoJSON, WGS-84), see packs/yunfu/SOURCES.md.
pub const BOUNDARIES_GEOJSON: &str = include_str!("../../../packs/yunfu/boundaries.geojson");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackInfo {
    pub name: String,
    pub title: String,
    pub city_code: String,
    pub city_name: String,
    pub regions: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeptTemplate {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoAccount {
    pub login: String,
    pub name: String,
    pub role: String,
    pub region: String,
    pub department: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoTemplates {
    pub demo_password: String,
    pub grids_per_village: Vec<String>,
    /// Demo event points on the map.
    pub map_demo_events: usize,
    pub city_departments: Vec<DeptTemplate>,
    pub county_departments: Vec<DeptTemplate>,
    pub town_department: String,
    pub accounts: Vec<DemoAccount>,
}

#[derive(Debug, Clone)]
pub struct Pack {
    pub info: PackInfo,
    pub regions_csv: &'static str,
    pub boundaries_geojson: &'static str,
    pub demo: DemoTemplates,
}

impl Pack {
    pub fn embedded() -> Result<Self> {
        let info: PackInfo = toml::from_str(PACK_TOML).context("packs/yunfu/pack.toml")?;
        let demo: DemoTemplates = toml::from_str(DEMO_TOML).context("packs/yunfu/demo.toml")?;
        tg_iam::regions::parse_region_csv(REGIONS_CSV).map_err(|e| anyhow::anyhow!("packs/yunfu/regions.csv: {}", e.join("; ")))?;
        Ok(Self { info, regions_csv: REGIONS_CSV, boundaries_geojson: BOUNDARIES_GEOJSON, demo })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_pack_is_valid_and_complete() {
        let p = super::Pack::embedded().unwrap();
        assert_eq!(p.info.city_code, "445300");
        let rows = tg_iam::regions::parse_region_csv(p.regions_csv).unwrap();
        assert_eq!(rows.len(), 1057);
        assert!(p.demo.accounts.iter().any(|a| a.role == "auditadmin"));
    }
}
