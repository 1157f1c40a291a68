//! 评审备案资料, 签约信息, 补充签约信息 and 达标达产信息: form data plus attachments, saved as a draft
//! (暂存), submitted (提交, which moves the workflow), or submitted with copies (知会并提交).

use crate::InvService;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;
use tg_iam::{AuditCtx, AuditEvent, IamError, IamResult, Principal};
use tg_kernel::ValidationErrors;
use tg_workflow::{WfActInput, WfChange};
use utoipa::ToSchema;

pub const MAX_FILE_BYTES: i64 = 20 * 1024 * 1024;
pub const DOC_TYPES: &[&str] = &["评审报告", "备案表", "投资协议", "合同文本", "补充协议", "营业执照", "达产佐证", "现场照片", "其他"];
/// Allowed extensions with their content type.
pub const FILE_TYPES: &[(&str, &str)] = &[
    ("pdf", "application/pdf"),
    ("doc", "application/msword"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xls", "application/vnd.ms-excel"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
];

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileRef {
    pub id: i64,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    pub doc_type: String,
    pub uploaded_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserRef {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Material {
    pub id: i64,
    /// filing, signing, supplement or production.
    pub kind: String,
    /// draft or submitted.
    pub status: String,
    pub data: BTreeMap<String, serde_json::Value>,
    pub files: Vec<FileRef>,
    pub notified: Vec<UserRef>,
    pub created_by_name: String,
    pub updated_at: i64,
    pub submitted_at: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaterialInput {
    pub data: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub file_ids: Vec<i64>,
    pub submit: bool,
    #[serde(default)]
    pub notify_user_ids: Vec<i64>,
    /// The workflow instance version the caller saw.
    pub version: i64,
}

/// (field, label, kind: text/date/number, required).
type FieldSpec = (&'static str, &'static str, &'static str, bool);

fn spec(kind: &str) -> Option<(&'static str, &'static str, &'static [FieldSpec], Option<&'static str>)> {
    // (stage where it is filled, name, fields, the workflow action submitting it moves)
    const FILING: &[FieldSpec] =
        &[("summary", "项目简介", "text", true), ("review_date", "评审日期", "date", true), ("opinion", "评审意见", "text", false)];
    const SIGNING: &[FieldSpec] = &[
        ("sign_date", "签约日期", "date", true),
        ("contract_amount", "合同投资额（万元）", "number", true),
        ("party", "签约主体", "text", true),
        ("contract_no", "合同编号", "text", false),
    ];
    const SUPPLEMENT: &[FieldSpec] = &[
        ("sign_date", "补充签约日期", "date", true),
        ("content", "补充内容", "text", true),
        ("amount_change", "投资额变化（万元）", "number", false),
    ];
    const PRODUCTION: &[FieldSpec] = &[
        ("project_name", "项目名称", "text", true),
        ("evidence", "达标达产佐证", "text", true),
        ("production_date", "达产日期", "date", false),
        ("other", "其他", "text", false),
    ];
    match kind {
        "filing" => Some(("negotiating", "评审备案资料", FILING, Some("submit_filing"))),
        "signing" => Some(("filed", "签约信息", SIGNING, Some("submit_signing"))),
        "supplement" => Some(("signed", "补充签约信息", SUPPLEMENT, None)),
        "production" => Some(("signed", "达标达产信息", PRODUCTION, Some("submit_production"))),
        _ => None,
    }
}

fn value_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        serde_json::Value::Number(n) => crate::fmt_num(n.as_f64()),
        other => Some(other.to_string()),
    }
}

/// The materials of a project (the latest draft or submission per kind; every 补充签约).
pub async fn list(svc: &InvService, project: i64) -> IamResult<Vec<Material>> {
    let rows = sqlx::query(
        "SELECT id, kind, status, data, files, notified, created_by_name, updated_at, submitted_at FROM inv_materials WHERE project_id = $1 ORDER BY id",
    )
    .bind(project)
    .fetch_all(svc.db().pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let data: String = r.try_get(3)?;
        let files: String = r.try_get(4)?;
        let ids: Vec<i64> = serde_json::from_str(&files).unwrap_or_default();
        let notified: String = r.try_get(5)?;
        out.push(Material {
            id: r.try_get(0)?,
            kind: r.try_get(1)?,
            status: r.try_get(2)?,
            data: serde_json::from_str(&data).unwrap_or_default(),
            files: file_refs(svc, &ids).await?,
            notified: serde_json::from_str(&notified).unwrap_or_default(),
            created_by_name: r.try_get(6)?,
            updated_at: r.try_get(7)?,
            submitted_at: r.try_get(8)?,
        });
    }
    Ok(out)
}

async fn file_refs(svc: &InvService, ids: &[i64]) -> IamResult<Vec<FileRef>> {
    let mut out = Vec::new();
    for id in ids {
        if let Some(r) = sqlx::query("SELECT id, name, size, content_type, doc_type, uploaded_at FROM inv_files WHERE id = $1")
            .bind(*id)
            .fetch_optional(svc.db().pool())
            .await?
        {
            out.push(FileRef {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                size: r.try_get(2)?,
                content_type: r.try_get(3)?,
                doc_type: r.try_get(4)?,
                uploaded_at: r.try_get(5)?,
            });
        }
    }
    Ok(out)
}

/// Whether the bytes look like the file type the name claims.
fn magic_ok(ext: &str, body: &[u8]) -> bool {
    match ext {
        "pdf" => body.starts_with(b"%PDF"),
        "png" => body.starts_with(b"\x89PNG"),
        "jpg" | "jpeg" => body.starts_with(&[0xFF, 0xD8, 0xFF]),
        "docx" | "xlsx" => body.starts_with(b"PK\x03\x04"),
        "doc" | "xls" => body.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]),
        _ => false,
    }
}

impl InvService {
    /// Stores an uploaded attachment after checking its type (extension and content) and size.
    pub async fn upload(&self, ctx: &AuditCtx, actor: &Principal, filename: &str, doc_type: &str, body: &[u8]) -> IamResult<FileRef> {
        let name = filename.trim().rsplit(['/', '\\']).next().unwrap_or("").to_owned();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(IamError::field("filename", "文件名不能为空且不超过120字"));
        }
        let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        let Some((_, content_type)) = FILE_TYPES.iter().find(|(e, _)| *e == ext) else {
            return Err(IamError::conflict("inv.file_type", "只能上传 PDF、Word、Excel 或 JPG/PNG 图片"));
        };
        if body.is_empty() {
            return Err(IamError::field("file", "文件为空"));
        }
        if body.len() as i64 > MAX_FILE_BYTES {
            return Err(IamError::conflict("inv.file_too_large", format!("文件不能超过 {} MB", MAX_FILE_BYTES / 1024 / 1024)));
        }
        if !magic_ok(&ext, body) {
            return Err(IamError::conflict("inv.file_type", "文件内容与扩展名不符"));
        }
        if !DOC_TYPES.contains(&doc_type.trim()) {
            return Err(IamError::field("doc_type", "请选择资料类型"));
        }
        use sm3::Digest;
        let digest = hex::encode(sm3::Sm3::digest(body));
        let mut tx = self.db().begin().await?;
        let r = sqlx::query(
            "INSERT INTO inv_files (name, size, content_type, doc_type, sm3, body, region_code, uploaded_by, uploaded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(&name)
        .bind(body.len() as i64)
        .bind(*content_type)
        .bind(doc_type.trim())
        .bind(&digest)
        .bind(body.to_vec())
        .bind(actor.region.as_str())
        .bind(actor.user_id)
        .bind(self.now())
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = r.try_get(0)?;
        self.iam.audit(&mut tx, ctx, AuditEvent::success("inv.file.upload", format!("inv_file:{id}"))).await?;
        tx.commit().await?;
        Ok(FileRef {
            id,
            name,
            size: body.len() as i64,
            content_type: content_type.to_string(),
            doc_type: doc_type.trim().to_owned(),
            uploaded_at: self.now(),
        })
    }

    /// An attachment the caller may read: uploaded in their scope or attached to a project they see.
    pub async fn file(&self, actor: &Principal, id: i64) -> IamResult<(String, String, Vec<u8>)> {
        let r = sqlx::query("SELECT name, content_type, body, region_code, uploaded_by FROM inv_files WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db().pool())
            .await?
            .ok_or_else(|| IamError::not_found("附件", "inv.file_not_found"))?;
        let region: String = r.try_get(3)?;
        let uploader: i64 = r.try_get(4)?;
        let mut ok =
            uploader == actor.user_id || tg_kernel::RegionCode::parse(&region).map(|c| actor.scope.region.contains(&c)).unwrap_or(false);
        if !ok {
            // Attached to a material of a project the caller sees.
            let pat = format!("%{id}%");
            let rows = sqlx::query("SELECT project_id, files FROM inv_materials WHERE files LIKE $1")
                .bind(pat)
                .fetch_all(self.db().pool())
                .await?;
            for m in rows {
                let files: String = m.try_get(1)?;
                let ids: Vec<i64> = serde_json::from_str(&files).unwrap_or_default();
                if ids.contains(&id) && self.get(actor, m.try_get(0)?).await.is_ok() {
                    ok = true;
                    break;
                }
            }
        }
        if !ok {
            return Err(IamError::not_found("附件", "inv.file_not_found"));
        }
        Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
    }

    /// Saves (暂存) or submits (提交 / 知会并提交) a material.
    pub async fn save_material(
        &self,
        ctx: &AuditCtx,
        actor: &Principal,
        id: i64,
        kind: &str,
        input: &MaterialInput,
    ) -> IamResult<crate::ProjectDetail> {
        let (stage, title, fields, action) = spec(kind).ok_or_else(|| IamError::not_found("资料类型", "inv.material_kind"))?;
        let p = self.get(actor, id).await?;
        let instance = p.instance_id.ok_or_else(|| IamError::conflict("inv.no_workflow", "项目没有流程，不能提交资料"))?;
        if p.stage != stage {
            return Err(IamError::conflict("wf.not_allowed", format!("项目当前处于「{}」，不能填报{title}", p.stage_name)));
        }
        // Only the step's holders may fill it in.
        let facts = self.facts(&p).await?;
        let view = self.wf.view(actor, instance, &facts).await?;
        if view.my_task.is_none() {
            return Err(IamError::conflict("wf.not_allowed", format!("您不是「{}」的办理人，不能填报{title}", p.stage_name)));
        }
        if view.instance.version != input.version {
            return Err(IamError::conflict("wf.conflict", "该事项已被他人处理或已变化，请刷新后重试"));
        }
        let mut v = ValidationErrors::new();
        let mut data = BTreeMap::new();
        for key in input.data.keys() {
            if !fields.iter().any(|(f, ..)| f == key) {
                v.add(key, "未知字段");
            }
        }
        for (f, label, ty, required) in fields {
            let val = input.data.get(*f).and_then(value_text);
            match (&val, ty) {
                (None, _) if *required && input.submit => v.add(f, format!("请填写{label}")),
                (None, _) => {}
                (Some(s), &"date") if tg_workflow::calendar::parse_date(s).is_none() => v.add(f, format!("{label}格式应为 YYYY-MM-DD")),
                (Some(s), &"date") if s.as_str() > self.today().as_str() => v.add(f, format!("{label}不能晚于今天")),
                (Some(s), &"number") if s.parse::<f64>().map(|x| !x.is_finite()).unwrap_or(true) => v.add(f, format!("{label}须为数字")),
                (Some(s), &"number") if *f == "contract_amount" && s.parse::<f64>().unwrap_or(0.0) <= 0.0 => {
                    v.add(f, format!("{label}须大于0"))
                }
                (Some(s), _) if s.chars().count() > 2000 => v.add(f, format!("{label}不能超过2000字")),
                _ => {}
            }
            if let Some(s) = val {
                let jv = if *ty == "number" {
                    s.parse::<f64>().map(serde_json::Value::from).unwrap_or(serde_json::Value::String(s))
                } else {
                    serde_json::Value::String(s)
                };
                data.insert(f.to_string(), jv);
            }
        }
        if input.file_ids.len() > 30 {
            v.add("file_ids", "附件不能超过30个");
        }
        let files = file_refs(self, &input.file_ids).await?;
        if files.len() != input.file_ids.len() {
            v.add("file_ids", "附件不存在");
        }
        if input.submit && kind != "supplement" && files.is_empty() {
            v.add("file_ids", format!("提交{title}须上传至少一个附件"));
        }
        if !v.is_empty() {
            return Err(v.into());
        }
        let now = self.now();
        let mut tx = self.db().begin().await?;
        // The open draft of this kind is updated; a submission closes it.
        let draft =
            sqlx::query("SELECT id FROM inv_materials WHERE project_id = $1 AND kind = $2 AND status = 'draft' ORDER BY id DESC LIMIT 1")
                .bind(id)
                .bind(kind)
                .fetch_optional(&mut *tx)
                .await?;
        let status = if input.submit { "submitted" } else { "draft" };
        let data_json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".into());
        let files_json = serde_json::to_string(&input.file_ids).unwrap_or_else(|_| "[]".into());
        let mut notified = Vec::new();
        for u in &input.notify_user_ids {
            if let Some(r) =
                sqlx::query("SELECT display_name FROM users WHERE id = $1 AND status = 'active'").bind(*u).fetch_optional(&mut *tx).await?
            {
                notified.push(UserRef { id: *u, name: r.try_get(0)? });
            }
        }
        let notified_json = serde_json::to_string(&notified).unwrap_or_else(|_| "[]".into());
        let submitted_at = input.submit.then_some(now);
        match draft {
            Some(r) => {
                let mid: i64 = r.try_get(0)?;
                sqlx::query("UPDATE inv_materials SET status = $1, data = $2, files = $3, notified = $4, updated_at = $5, submitted_at = $6, created_by_name = $7 WHERE id = $8")
                    .bind(status)
                    .bind(&data_json)
                    .bind(&files_json)
                    .bind(&notified_json)
                    .bind(now)
                    .bind(submitted_at)
                    .bind(&actor.display_name)
                    .bind(mid)
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO inv_materials (project_id, kind, status, data, files, notified, created_by_name, updated_at, submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(id)
                .bind(kind)
                .bind(status)
                .bind(&data_json)
                .bind(&files_json)
                .bind(&notified_json)
                .bind(&actor.display_name)
                .bind(now)
                .bind(submitted_at)
                .execute(&mut *tx)
                .await?;
            }
        }
        let mut out = tg_workflow::Outcome::default();
        if input.submit {
            let changes: Vec<WfChange> = fields
                .iter()
                .filter_map(|(f, label, ..)| {
                    data.get(*f).map(|v| WfChange {
                        field: format!("{kind}.{f}"),
                        label: format!("{title}·{label}"),
                        before: None,
                        after: value_text(v),
                    })
                })
                .collect();
            self.log_change(&mut tx, id, actor, "material", &changes).await?;
            match action {
                Some(a) => {
                    let mut facts = facts.clone();
                    facts.attachments.insert(kind.to_owned());
                    let act =
                        WfActInput { action: a.into(), version: input.version, attachments: input.file_ids.clone(), ..Default::default() };
                    out = self.wf.act_in(&mut tx, ctx, actor, instance, &act, &facts).await?;
                    self.apply(&mut tx, actor, id, &out).await?;
                }
                None => {
                    self.wf
                        .note_in(&mut tx, instance, actor, "supplement", "提交补充签约信息", &format!("{title}已提交"), &changes)
                        .await?;
                }
            }
            if !input.notify_user_ids.is_empty() {
                self.wf.notify_in(&mut tx, actor, instance, &input.notify_user_ids, &format!("提交了{title}")).await?;
            }
        }
        let mut ev =
            AuditEvent::success(if input.submit { "inv.material.submit" } else { "inv.material.save" }, format!("inv_project:{id}"));
        ev.detail = kind.to_owned();
        self.iam.audit(&mut tx, ctx, ev).await?;
        self.wf.commit(tx, &out).await?;
        self.detail(actor, id).await
    }
}
