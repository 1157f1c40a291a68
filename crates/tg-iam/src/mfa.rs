//! The second factor (等保 §8.1.4.1 d, 密评 §8.4 a): GM/T 0021 SM3 dynamic passwords from a soft
//! token. Enrolment shows a QR code with the seed; confirming a first code activates the token and
//! raises the session to assurance level 2. Every wrong or missing code counts toward the account's
//! lockout exactly like a wrong password; a code is never accepted twice.

use crate::audit::{AuditCtx, AuditEvent};
use crate::auth::{ClientInfo, NewSession};
use crate::error::{IamError, IamResult};
use crate::service::{Iam, Principal};
use serde::Serialize;
use sqlx::Row;
use tg_crypto::OtpPolicy;
use tg_kernel::{Page, PageQuery};
use utoipa::ToSchema;

const OTP_DOMAIN: &str = "user_otp.secret";

fn otp_aad(user_id: i64) -> String {
    format!("user_otp.secret#{user_id}")
}

pub const OTP_POLICY: OtpPolicy = OtpPolicy { period_secs: 60, digits: 6, window: 1 };

/// What the enrolment page shows once: the seed as text and as a QR-code URI.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OtpEnrollment {
    /// Base32 seed for manual entry.
    pub secret: String,
    /// `tgotp://sm3/...` URI to render as a QR code for the soft token.
    pub uri: String,
    pub digits: u32,
    pub period_secs: u64,
    pub algorithm: String,
}

/// One account's second-factor state, for the security page.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MfaStatus {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub region_code: String,
    /// `none`, `pending` or `active`.
    pub status: String,
    pub required: bool,
    pub confirmed_at: Option<String>,
}

impl Iam {
    /// Starts (or restarts) enrolment for the caller. An active token can only be replaced from a
    /// session that already proved it (aal 2).
    pub async fn otp_enroll_start(&self, p: &Principal, ctx: &AuditCtx) -> IamResult<OtpEnrollment> {
        if p.mfa_enrolled && p.aal < 2 {
            return Err(IamError::MfaRequired);
        }
        let seed = tg_crypto::random_bytes::<20>();
        let sealed = self.keys.seal(OTP_DOMAIN, &otp_aad(p.user_id), &hex::encode(seed))?;
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM user_otp WHERE user_id = $1 AND status = 'pending'").bind(p.user_id).execute(&mut *tx).await?;
        if p.mfa_enrolled {
            sqlx::query("DELETE FROM user_otp WHERE user_id = $1").bind(p.user_id).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO user_otp (user_id, secret_enc, status, last_step, created_at) VALUES ($1, $2, 'pending', 0, $3)")
            .bind(p.user_id)
            .bind(sealed)
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
        self.audit(&mut tx, ctx, AuditEvent::success("auth.mfa_enroll_start", format!("#{} {}", p.user_id, p.username))).await?;
        tx.commit().await?;
        Ok(OtpEnrollment {
            secret: tg_crypto::base32_encode(&seed),
            uri: tg_crypto::otp_uri(&seed, &p.username, "统管", &OTP_POLICY),
            digits: OTP_POLICY.digits,
            period_secs: OTP_POLICY.period_secs,
            algorithm: "SM3 (GM/T 0021-2012)".into(),
        })
    }

    pub(crate) async fn otp_row(&self, user_id: i64) -> IamResult<Option<(Vec<u8>, String, i64)>> {
        let Some(r) = sqlx::query("SELECT secret_enc, status, last_step FROM user_otp WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(self.db.pool())
            .await?
        else {
            return Ok(None);
        };
        let sealed: String = r.try_get(0)?;
        let seed = hex::decode(self.keys.open(OTP_DOMAIN, &otp_aad(user_id), &sealed)?)
            .map_err(|_| IamError::Integrity("动态口令种子格式错误".into()))?;
        Ok(Some((seed, r.try_get(1)?, r.try_get(2)?)))
    }

    /// Confirms enrolment with a first code, or steps an aal-1 session up with a code. Either way the
    /// old session ends and a new token at aal 2 is issued (no session fixation).
    pub async fn otp_verify(&self, p: &Principal, client: &ClientInfo, code: &str) -> IamResult<NewSession> {
        let ctx = p.audit_ctx(&client.ip, &client.request_id);
        let target = format!("#{} {}", p.user_id, p.username);
        if let Some(until) = self.locked_until(p.user_id).await? {
            if until > self.now() {
                self.audit_alone(&ctx, AuditEvent::failure("auth.mfa_verify", target, "连续失败已临时锁定")).await?;
                return Err(IamError::MfaInvalid);
            }
        }
        let row = self.otp_row(p.user_id).await?.ok_or_else(|| IamError::conflict("mfa.not_enrolled", "尚未绑定动态口令令牌，请先绑定"))?;
        let (seed, status, last_step) = row;
        let code = code.trim();
        let now_s = self.now().div_euclid(1000);
        let matched = if code.is_empty() { None } else { tg_crypto::otp_verify(&seed, code, now_s, Some(last_step), &OTP_POLICY) };
        let Some(step) = matched else {
            let why = if code.is_empty() { "未提供动态口令" } else { "动态口令错误或已使用" };
            self.count_failure(p.user_id, &ctx, "auth.mfa_verify", &target, why).await?;
            return Err(IamError::MfaInvalid);
        };
        let action = if status == "pending" { "auth.mfa_enroll" } else { "auth.mfa_verify" };
        let mut tx = self.db.begin().await?;
        // Compare-and-set on last_step: two concurrent uses of one code cannot both pass.
        let n = sqlx::query("UPDATE user_otp SET last_step = $1, status = 'active', confirmed_at = COALESCE(confirmed_at, $2) WHERE user_id = $3 AND last_step = $4")
            .bind(step)
            .bind(self.now())
            .bind(p.user_id)
            .bind(last_step)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n != 1 {
            drop(tx);
            self.count_failure(p.user_id, &ctx, "auth.mfa_verify", &target, "动态口令已使用").await?;
            return Err(IamError::MfaInvalid);
        }
        sqlx::query("UPDATE users SET failed_count = 0, failed_window_start = 0 WHERE id = $1").bind(p.user_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM sessions WHERE id = $1").bind(&p.session_id).execute(&mut *tx).await?;
        let s = self.open_session(&mut tx, p.user_id, 2, client).await?;
        self.audit(&mut tx, &ctx, AuditEvent::success(action, target)).await?;
        tx.commit().await?;
        self.finish_session(s).await
    }

    /// Security administrator: removes a user's token (lost phone). The user enrols again at next login.
    pub async fn otp_reset(&self, actor: &Principal, ctx: &AuditCtx, user_id: i64) -> IamResult<()> {
        let u = self.user_unaudited(&actor.scope, user_id).await?;
        if actor.user_id == user_id {
            return Err(IamError::conflict("user.self", "不能对自己的账户执行此操作"));
        }
        let mut tx = self.db.begin().await?;
        sqlx::query("DELETE FROM user_otp WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        self.audit(&mut tx, ctx, AuditEvent::success("security.mfa_reset", format!("#{user_id} {}", u.username))).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Second-factor state of every account in the actor's scope.
    pub async fn mfa_statuses(&self, actor: &Principal, page: &PageQuery) -> IamResult<Page<MfaStatus>> {
        let (lo, hi) = actor.scope.bounds();
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE region_code >= $1 AND region_code < $2 AND status <> 'disabled'")
            .bind(&lo)
            .bind(&hi)
            .fetch_one(self.db.pool())
            .await?
            .try_get(0)?;
        let (limit, offset) = page.limit_offset();
        let rows = sqlx::query(
            "SELECT u.id, u.username, u.display_name, u.region_code, o.status, o.confirmed_at, \
             CASE WHEN EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.require_mfa = 1) THEN 1 ELSE 0 END \
             FROM users u LEFT JOIN user_otp o ON o.user_id = u.id \
             WHERE u.region_code >= $1 AND u.region_code < $2 AND u.status <> 'disabled' ORDER BY u.id LIMIT $3 OFFSET $4",
        )
        .bind(&lo)
        .bind(&hi)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.db.pool())
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(MfaStatus {
                    user_id: r.try_get(0)?,
                    username: r.try_get(1)?,
                    display_name: r.try_get(2)?,
                    region_code: r.try_get(3)?,
                    status: r.try_get::<Option<String>, _>(4)?.unwrap_or_else(|| "none".into()),
                    confirmed_at: r.try_get::<Option<i64>, _>(5)?.map(tg_kernel::clock::to_rfc3339),
                    required: r.try_get::<i64, _>(6)? != 0,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Page::new(items, total, page))
    }
}
