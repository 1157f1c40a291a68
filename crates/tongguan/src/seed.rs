//! `seed-demo`: departments, grids and one demo account per role and level, all marked as demo.

use crate::pack::Pack;
use anyhow::{bail, Context, Result};
use sqlx::Row;
use std::collections::HashMap;
use tg_iam::users::UserSpec;
use tg_iam::{AuditCtx, Iam};
use tg_kernel::{RegionCode, RegionLevel};

pub struct SeedReport {
    pub departments: usize,
    pub grids: usize,
    pub accounts: usize,
}

pub async fn seed_demo(iam: &Iam, pack: &Pack) -> Result<SeedReport> {
    let ctx = AuditCtx::cli("seed-demo");
    let demo = &pack.demo;
    let db = iam.db();
    let regions = tg_iam::regions::parse_region_csv(pack.regions_csv).map_err(|e| anyhow::anyhow!(e.join("; ")))?;
    let existing: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE is_demo = 1").fetch_one(db.pool()).await?.try_get(0)?;
    if existing > 0 {
        bail!("demo data already present ({existing} demo accounts)");
    }

    // Departments: city bureaus, county bureaus, one centre per town.
    let mut dept_ids: HashMap<String, i64> = HashMap::new();
    let city = RegionCode::parse(&pack.info.city_code)?;
    for d in &demo.city_departments {
        let id = iam.insert_department(&ctx, &d.code, &d.name, &city, true).await?;
        dept_ids.insert(d.code.clone(), id);
    }
    let names: HashMap<String, String> = regions.iter().map(|(c, n, _)| (c.to_string(), n.clone())).collect();
    for (code, name, level) in &regions {
        match level {
            RegionLevel::County => {
                for t in &demo.county_departments {
                    let dcode = t.code.replace("{abbr}", code.as_str());
                    let dname = t.name.replace("{county}", name);
                    let id = iam.insert_department(&ctx, &dcode, &dname, code, true).await?;
                    dept_ids.insert(dcode, id);
                }
            }
            RegionLevel::Town => {
                let dname = demo.town_department.replace("{town}", name);
                let dcode = format!("{code}-ZZZX");
                let id = iam.insert_department(&ctx, &dcode, &dname, code, true).await?;
                dept_ids.insert(format!("town:{code}"), id);
            }
            _ => {}
        }
    }

    // Grids under every village.
    let mut groups = Vec::new();
    for (code, _, level) in &regions {
        if *level == RegionLevel::Village {
            for (i, g) in demo.grids_per_village.iter().enumerate() {
                groups.push((RegionCode::parse(&format!("{code}{:03}", i + 1))?, g.clone()));
            }
        }
    }
    let grids = iam.insert_groups_bulk(&ctx, &groups, true).await?;

    // Accounts.
    for a in &demo.accounts {
        let region = RegionCode::parse(&a.region).with_context(|| format!("demo account {}", a.login))?;
        if region.level() != RegionLevel::Group && !names.contains_key(region.as_str()) {
            bail!("demo account {}: unknown region {}", a.login, a.region);
        }
        let department_id = match &a.department {
            Some(d) => Some(*dept_ids.get(d).with_context(|| format!("demo account {}: unknown department {d}", a.login))?),
            None => None,
        };
        let spec = UserSpec {
            username: a.login.clone(),
            display_name: a.name.clone(),
            password: demo.demo_password.clone(),
            phone: a.phone.clone(),
            region,
            department_id,
            roles: vec![a.role.clone()],
            must_change_password: false,
            is_demo: true,
        };
        let id = iam.insert_user(&ctx, &spec).await?;
        if a.role == "secadmin" {
            iam.set_clearance_unchecked(&ctx, id, tg_kernel::SecurityLabel::Sensitive).await?;
        }
    }
    Ok(SeedReport { departments: dept_ids.len(), grids, accounts: demo.accounts.len() })
}
