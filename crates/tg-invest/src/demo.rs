//! Demo investment projects (演示数据): walked through the real workflow by the demo accounts of
//! 云城区 and 云安区, plus completed (达标达产) historical projects in the other counties.

use crate::materials::MaterialInput;
use crate::{InvService, ProjectInput, DEFINITION};
use sqlx::Row;
use std::collections::BTreeMap;
use tg_iam::{AuditCtx, IamResult, Principal};
use tg_workflow::WfActInput;

const PRODUCTS: &[(&str, &str, f64)] = &[
    ("年产20万立方米人造岗石", "C30", 28000.0),
    ("高端不锈钢厨具智能制造", "C33", 35000.0),
    ("南药（肉桂）精深加工", "C27", 18000.0),
    ("新型干法水泥余热发电", "D44", 12000.0),
    ("氢能燃料电池零部件", "C38", 56000.0),
    ("预制菜中央厨房", "C14", 9000.0),
    ("智能装备产业园", "C35", 80000.0),
    ("农产品冷链物流中心", "G59", 15000.0),
    ("硫化工新材料", "C26", 42000.0),
    ("电子元器件封装测试", "C39", 65000.0),
    ("生态康养文旅综合体", "R90", 30000.0),
    ("林下经济示范基地", "A02", 6000.0),
];
const INVESTORS: &[(&str, &str)] = &[
    ("广东粤石新材料有限公司", "广东省佛山市"),
    ("深圳市华晟智造科技有限公司", "广东省深圳市"),
    ("广州南方药业集团有限公司", "广东省广州市"),
    ("香港嘉和投资有限公司", "香港特别行政区"),
    ("东莞鑫源电子有限公司", "广东省东莞市"),
    ("湖南中材建设集团有限公司", "湖南省长沙市"),
];

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n% Tongguan demo attachment\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec()
}

impl InvService {
    async fn demo_user(&self, login: &str) -> IamResult<Option<Principal>> {
        let r =
            sqlx::query("SELECT id FROM users WHERE username = $1 AND is_demo = 1").bind(login).fetch_optional(self.db().pool()).await?;
        match r {
            Some(r) => Ok(Some(self.iam.principal_by_id(r.try_get(0)?).await?)),
            None => Ok(None),
        }
    }

    async fn demo_act(
        &self,
        ctx: &AuditCtx,
        who: &Principal,
        instance: i64,
        action: &str,
        comment: &str,
        region: Option<&str>,
    ) -> IamResult<()> {
        let v = self.wf.view(who, instance, &Default::default()).await?;
        let input = WfActInput {
            action: action.into(),
            version: v.instance.version,
            comment: Some(comment.into()),
            region: region.map(str::to_owned),
            ..Default::default()
        };
        self.act(ctx, who, instance, &input).await.map(|_| ())
    }

    async fn demo_material(
        &self,
        ctx: &AuditCtx,
        who: &Principal,
        id: i64,
        kind: &str,
        data: &[(&str, serde_json::Value)],
    ) -> IamResult<()> {
        let f = self.upload(ctx, who, &format!("{kind}-{id}.pdf"), "其他", &pdf()).await?;
        let p = self.get(who, id).await?;
        let instance = p.instance_id.unwrap_or_default();
        let v = self.wf.view(who, instance, &Default::default()).await?;
        let data: BTreeMap<String, serde_json::Value> = data.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let input = MaterialInput { data, file_ids: vec![f.id], submit: true, notify_user_ids: Vec::new(), version: v.instance.version };
        self.save_material(ctx, who, id, kind, &input).await.map(|_| ())
    }

    /// Seeds demo projects when there are none and the demo accounts exist. Returns how many.
    pub async fn seed_demo(&self, ctx: &AuditCtx) -> IamResult<usize> {
        let have: i64 = sqlx::query("SELECT COUNT(*) FROM inv_projects").fetch_one(self.db().pool()).await?.try_get(0)?;
        if have > 0 {
            return Ok(0);
        }
        let (Some(yc), Some(ycl), Some(ya), Some(yal), Some(city)) = (
            self.demo_user("yc.inv").await?,
            self.demo_user("yc.invlead").await?,
            self.demo_user("ya.inv").await?,
            self.demo_user("ya.invlead").await?,
            self.demo_user("city.inv").await?,
        ) else {
            return Ok(0);
        };
        let today = tg_workflow::engine::beijing_today(self.now());
        let mut n = 0;
        for (k, (staff, lead)) in [(&yc, &ycl), (&ya, &yal)].into_iter().enumerate() {
            for i in 0..10usize {
                let (product, ind, amount) = PRODUCTS[(i + k * 5) % PRODUCTS.len()];
                let (investor, origin) = INVESTORS[(i * 7 + k) % INVESTORS.len()];
                let date = tg_workflow::calendar::fmt_date(today - time::Duration::days((20 + i * 23 + k * 11) as i64));
                let input = ProjectInput {
                    name: format!("（演示）{}{}项目", staff.region_name, product),
                    investor: investor.into(),
                    investor_origin: Some(origin.into()),
                    industry_code: ind.into(),
                    amount: amount + (i as f64) * 1000.0,
                    land_area: Some(50.0 + (i as f64) * 10.0),
                    expected_output: Some(amount * 1.6),
                    expected_tax: Some(amount * 0.05),
                    contact_name: "刘经理".into(),
                    contact_phone: format!("1390000{:04}", k * 100 + i),
                    source: crate::SOURCES[i % crate::SOURCES.len()].into(),
                    first_contact_date: date.clone(),
                    region_code: None,
                    remark: None,
                    submit: Some(i % 10 != 0),
                    version: None,
                };
                let d = self.create(ctx, staff, &input).await?;
                n += 1;
                let id = d.project.id;
                let inst = d.project.instance_id.unwrap_or_default();
                let stage = i % 10;
                if stage <= 1 {
                    continue;
                }
                self.demo_act(ctx, lead, inst, "approve", "同意，请抓紧推进评审备案", None).await?;
                if stage == 2 {
                    continue;
                }
                if stage == 3 && k == 0 {
                    self.demo_act(ctx, staff, inst, "transfer_region", "项目用地需求在云安区更易落地", Some(ya.region.as_str())).await?;
                    continue;
                }
                self.demo_material(
                    ctx,
                    staff,
                    id,
                    "filing",
                    &[("summary", "项目拟建设生产线及配套设施".into()), ("review_date", date.clone().into())],
                )
                .await?;
                if stage == 4 {
                    continue;
                }
                self.demo_act(ctx, lead, inst, "approve", "评审备案资料齐全", None).await?;
                if stage == 5 {
                    continue;
                }
                self.demo_material(
                    ctx,
                    staff,
                    id,
                    "signing",
                    &[("sign_date", date.clone().into()), ("contract_amount", serde_json::json!(amount)), ("party", investor.into())],
                )
                .await?;
                if stage == 6 {
                    continue;
                }
                self.demo_act(ctx, &city, inst, "approve", "签约复核通过", None).await?;
                if stage <= 8 {
                    continue;
                }
                self.demo_material(
                    ctx,
                    staff,
                    id,
                    "production",
                    &[("project_name", d.project.name.clone().into()), ("evidence", "已投产并达到设计产能".into())],
                )
                .await?;
            }
        }
        // Completed historical projects in the other counties.
        let def = self.wf.latest(DEFINITION).await?;
        let counties = sqlx::query("SELECT code, name FROM regions WHERE parent_code = $1 ORDER BY code")
            .bind(self.wf.city())
            .fetch_all(self.db().pool())
            .await?;
        for (k, r) in counties.iter().enumerate() {
            let code: String = r.try_get(0)?;
            let name: String = r.try_get(1)?;
            if code == yc.region.as_str() || code == ya.region.as_str() {
                continue;
            }
            for i in 0..4usize {
                let (product, ind, amount) = PRODUCTS[(i * 3 + k) % PRODUCTS.len()];
                let input = ProjectInput {
                    name: format!("（演示）{name}{product}项目"),
                    investor: INVESTORS[(i + k) % INVESTORS.len()].0.into(),
                    investor_origin: Some(INVESTORS[(i + k) % INVESTORS.len()].1.into()),
                    industry_code: ind.into(),
                    amount,
                    land_area: None,
                    expected_output: Some(amount * 1.5),
                    expected_tax: Some(amount * 0.04),
                    contact_name: "黄经理".into(),
                    contact_phone: format!("1370000{:04}", k * 10 + i),
                    source: crate::SOURCES[(i + k) % crate::SOURCES.len()].into(),
                    first_contact_date: tg_workflow::calendar::fmt_date(today - time::Duration::days((200 + i * 60 + k * 7) as i64)),
                    region_code: Some(code.clone()),
                    remark: None,
                    submit: None,
                    version: None,
                };
                let v = self.validate(&city, &input, &self.today())?;
                let mut tx = self.db().begin().await?;
                let id = self.insert(&mut tx, &city, &v, "producing", true, None, true).await?;
                let p = self.project_in(&mut tx, id).await?;
                let out = self.wf.start_at(&mut tx, ctx, &city, &def, id, &p.name, &[], &code, "producing", "演示：历史项目").await?;
                sqlx::query("UPDATE inv_projects SET instance_id = $1, produced_at = first_contact_date WHERE id = $2")
                    .bind(out.instance_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                n += 1;
            }
        }
        sqlx::query("UPDATE inv_projects SET is_demo = 1").execute(self.db().pool()).await?;
        Ok(n)
    }
}
