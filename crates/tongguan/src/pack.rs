//! The deployment pack compiled into the binary (`packs/yunfu/`): Yunfu's regions and demo templates.

use anyhow::{Context, Result};
use serde::Deserialize;

pub const PACK_TOML: &str = include_str!("../../../packs/yunfu/pack.toml");
pub const REGIONS_CSV: &str = include_str!("../../../packs/yunfu/regions.csv");
pub const DEMO_TOML: &str = include_str!("../../../packs/yunfu/demo.toml");
/// Official city and county boundaries (GeoJSON, WGS-84), see packs/yunfu/SOURCES.md.
pub const BOUNDARIES_GEOJSON: &str = include_str!("../../../packs/yunfu/boundaries.geojson");

/// The 掌上数窗 indicator library: `_library.toml` and one file per topic (a test checks that every
/// file of the folder is listed here).
pub const INDICATOR_FILES: &[(&str, &str)] = &[
    ("_library.toml", include_str!("../../../packs/yunfu/indicators/_library.toml")),
    ("economy.toml", include_str!("../../../packs/yunfu/indicators/economy.toml")),
    ("eco_env.toml", include_str!("../../../packs/yunfu/indicators/eco_env.toml")),
    ("urban_build.toml", include_str!("../../../packs/yunfu/indicators/urban_build.toml")),
    ("tax.toml", include_str!("../../../packs/yunfu/indicators/tax.toml")),
    ("key_projects.toml", include_str!("../../../packs/yunfu/indicators/key_projects.toml")),
    ("natural_res.toml", include_str!("../../../packs/yunfu/indicators/natural_res.toml")),
    ("market.toml", include_str!("../../../packs/yunfu/indicators/market.toml")),
    ("employ.toml", include_str!("../../../packs/yunfu/indicators/employ.toml")),
    ("youth.toml", include_str!("../../../packs/yunfu/indicators/youth.toml")),
];

/// Workflow definitions (`packs/yunfu/workflows/*.toml`; a test checks every file is listed).
pub const WORKFLOW_FILES: &[(&str, &str)] = &[("inv_project.toml", include_str!("../../../packs/yunfu/workflows/inv_project.toml"))];

/// The working-day calendar per year (`packs/yunfu/calendar/*.toml`, from the State Council notices).
pub const CALENDAR_FILES: &[(&str, &str)] = &[
    ("2025.toml", include_str!("../../../packs/yunfu/calendar/2025.toml")),
    ("2026.toml", include_str!("../../../packs/yunfu/calendar/2026.toml")),
];

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
    /// County weights for generated indicator values.
    pub indicator_weights: tg_indicators::demo::DemoWeights,
}

#[derive(Debug, Clone)]
pub struct Pack {
    pub info: PackInfo,
    pub regions_csv: &'static str,
    pub boundaries_geojson: &'static str,
    pub demo: DemoTemplates,
    pub indicators: tg_indicators::pack::IndicatorPack,
}

impl Pack {
    pub fn embedded() -> Result<Self> {
        let info: PackInfo = toml::from_str(PACK_TOML).context("packs/yunfu/pack.toml")?;
        let demo: DemoTemplates = toml::from_str(DEMO_TOML).context("packs/yunfu/demo.toml")?;
        tg_iam::regions::parse_region_csv(REGIONS_CSV).map_err(|e| anyhow::anyhow!("packs/yunfu/regions.csv: {}", e.join("; ")))?;
        let indicators =
            tg_indicators::pack::IndicatorPack::parse(INDICATOR_FILES).map_err(|e| anyhow::anyhow!("packs/yunfu/indicators:\n{e}"))?;
        Ok(Self { info, regions_csv: REGIONS_CSV, boundaries_geojson: BOUNDARIES_GEOJSON, demo, indicators })
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
        assert_eq!(p.indicators.topics.len(), 9);
        // Every file of each folder is compiled in.
        for (folder, files) in
            [("indicators", super::INDICATOR_FILES), ("workflows", super::WORKFLOW_FILES), ("calendar", super::CALENDAR_FILES)]
        {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packs/yunfu").join(folder);
            let mut on_disk: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".toml"))
                .collect();
            on_disk.sort();
            let mut listed: Vec<String> = files.iter().map(|(n, _)| n.to_string()).collect();
            listed.sort();
            assert_eq!(on_disk, listed, "{folder}");
        }
        for (name, text) in super::WORKFLOW_FILES {
            tg_workflow::def::Definition::parse_toml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
