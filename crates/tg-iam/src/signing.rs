//! SM2 (GB/T 32918) keys of the installation and its users: the login-envelope key (the page encrypts
//! the password to it), the system signing key (audit checkpoints), and users' signing keys for
//! approvals and leader instructions (不可否认性, verifiable with the public key alone).
//!
//! Private keys are stored sealed with SM4-GCM under the `signing` purpose key; the associated data
//! binds each to its usage and owner. Server-held user keys give server-side non-repudiation only;
//! a UKey or collaborative-signature provider can replace [`Iam::sign_as_user`] later.

use crate::error::{IamError, IamResult};
use crate::keys::Purpose;
use crate::security::IntegrityProblem;
use crate::service::Iam;
use serde::Serialize;
use sqlx::Row;
use std::sync::Arc;
use tg_crypto::{Sm2KeyPair, DEFAULT_SM2_ID};
use utoipa::ToSchema;

const SIGNING_DOMAIN: &str = "sm2";
pub const USAGE_LOGIN: &str = "login-envelope";
pub const USAGE_SYSTEM: &str = "system-sign";
pub const USAGE_USER: &str = "user-sign";

/// A detached SM2 signature with what a verifier needs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Sm2Signature {
    /// Always `SM2-SM3`.
    pub algorithm: String,
    pub key_id: i64,
    /// Uncompressed SEC1 public key, hex (`04…`).
    pub public_key: String,
    /// Distinguishing identifier used in Z_A.
    pub signer_id: String,
    /// `r‖s`, 64 bytes, hex.
    pub signature: String,
    /// SM3 of the signed bytes, hex.
    pub digest: String,
}

/// A signed audit-chain checkpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Checkpoint {
    pub id: i64,
    pub at: String,
    pub last_seq: i64,
    pub last_mac: String,
    pub signature: String,
    pub public_key: String,
}

pub(crate) type KeyCache = std::sync::Mutex<std::collections::HashMap<(String, i64), (i64, Arc<Sm2KeyPair>)>>;

fn key_aad(usage: &str, user_id: Option<i64>) -> String {
    format!("signing_keys#{usage}#{}", user_id.unwrap_or(0))
}

fn checkpoint_payload(last_seq: i64, last_mac: &str, at: i64) -> Vec<u8> {
    format!("tongguan-audit-checkpoint-v1|{last_seq}|{last_mac}|{at}").into_bytes()
}

/// Verifies a signature made by [`Iam::sign_as_user`] or the system key, with the public key only.
pub fn verify_sm2(public_key_hex: &str, signer_id: &str, msg: &[u8], signature_hex: &str) -> bool {
    let (Ok(pk), Ok(sig)) = (hex::decode(public_key_hex), hex::decode(signature_hex)) else {
        return false;
    };
    tg_crypto::sm2_verify(&pk, signer_id, msg, &sig)
}

impl Iam {
    /// The current SM2 key of a usage and owner, created on first use.
    pub(crate) async fn sm2_key(&self, usage: &str, user_id: Option<i64>) -> IamResult<(i64, Arc<Sm2KeyPair>)> {
        let cache_key = (usage.to_owned(), user_id.unwrap_or(0));
        if let Some(hit) = self.sm2_cache.lock().unwrap_or_else(|e| e.into_inner()).get(&cache_key) {
            return Ok(hit.clone());
        }
        let aad = key_aad(usage, user_id);
        let mut q = tg_db::SqlBuf::new("SELECT id, secret_enc, public_key FROM signing_keys WHERE retired_at IS NULL AND usage = ");
        q.bind(usage);
        match user_id {
            Some(u) => q.push(" AND user_id = ").bind(u),
            None => q.push(" AND user_id IS NULL"),
        };
        q.push(" ORDER BY id DESC LIMIT 1");
        let found = match q.query().fetch_optional(self.db.pool()).await? {
            Some(row) => {
                let id: i64 = row.try_get(0)?;
                let sealed: String = row.try_get(1)?;
                let public: String = row.try_get(2)?;
                let v = tg_crypto::field_key_version(&sealed).ok_or_else(|| IamError::Integrity("签名私钥密文格式错误".into()))?;
                let key = self.keys.field_key_version(Purpose::Signing, SIGNING_DOMAIN, v)?;
                let secret = zeroize::Zeroizing::new(
                    tg_crypto::open_field(&key, aad.as_bytes(), &sealed).map_err(|_| IamError::Integrity("签名私钥密文校验失败".into()))?,
                );
                let pair = Sm2KeyPair::from_secret_bytes(&secret).map_err(|e| IamError::Integrity(e.to_string()))?;
                if pair.public_key_hex() != public {
                    return Err(IamError::Integrity("签名公钥与私钥不匹配".into()));
                }
                (id, Arc::new(pair))
            }
            None => {
                let pair = Sm2KeyPair::generate();
                let key = self.keys.field_key(Purpose::Signing, SIGNING_DOMAIN)?;
                let sealed = tg_crypto::seal_field(&key, aad.as_bytes(), &pair.secret_bytes());
                let mut tx = self.db.begin().await?;
                let id: i64 = sqlx::query(
                    "INSERT INTO signing_keys (usage, user_id, public_key, secret_enc, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(usage)
                .bind(user_id)
                .bind(pair.public_key_hex())
                .bind(sealed)
                .bind(self.now())
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
                tx.commit().await?;
                (id, Arc::new(pair))
            }
        };
        self.sm2_cache.lock().unwrap_or_else(|e| e.into_inner()).insert(cache_key, found.clone());
        Ok(found)
    }

    /// The public key the login page encrypts the password to (hex, `04…`).
    pub async fn login_public_key(&self) -> IamResult<String> {
        Ok(self.sm2_key(USAGE_LOGIN, None).await?.1.public_key_hex())
    }

    pub(crate) async fn login_decrypt(&self, cipher_hex: &str) -> IamResult<Vec<u8>> {
        let (_, pair) = self.sm2_key(USAGE_LOGIN, None).await?;
        pair.decrypt_sm_crypto_hex(cipher_hex).map_err(|_| IamError::BadEnvelope)
    }

    /// Signs canonical bytes with the user's own SM2 key (created on first use).
    pub async fn sign_as_user(&self, user_id: i64, msg: &[u8]) -> IamResult<Sm2Signature> {
        let (key_id, pair) = self.sm2_key(USAGE_USER, Some(user_id)).await?;
        Ok(Sm2Signature {
            algorithm: "SM2-SM3".into(),
            key_id,
            public_key: pair.public_key_hex(),
            signer_id: DEFAULT_SM2_ID.into(),
            signature: hex::encode(pair.sign(DEFAULT_SM2_ID, msg)),
            digest: tg_crypto::sm3_hex(msg),
        })
    }

    /// A user's current signing public key, for verifiers.
    pub async fn user_public_key(&self, user_id: i64) -> IamResult<String> {
        Ok(self.sm2_key(USAGE_USER, Some(user_id)).await?.1.public_key_hex())
    }

    /// Signs the current chain head with the system key. Returns the new checkpoint.
    pub async fn checkpoint_audit(&self) -> IamResult<Checkpoint> {
        let (_, pair) = self.sm2_key(USAGE_SYSTEM, None).await?;
        let head = sqlx::query("SELECT seq, mac FROM audit_head WHERE id = 1").fetch_one(self.db.pool()).await?;
        let last_seq: i64 = head.try_get(0)?;
        let last_mac: String = head.try_get(1)?;
        let at = self.now();
        let (key_version, _) = self.keys.current(Purpose::Audit, crate::audit::AUDIT_DOMAIN)?;
        let sig = hex::encode(pair.sign(DEFAULT_SM2_ID, &checkpoint_payload(last_seq, &last_mac, at)));
        let mut tx = self.db.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO audit_checkpoints (at, last_seq, last_mac, key_version, signature) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(at)
        .bind(last_seq)
        .bind(&last_mac)
        .bind(key_version)
        .bind(&sig)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        self.audit(
            &mut tx,
            &crate::audit::AuditCtx::cli("checkpoint"),
            crate::audit::AuditEvent::success("audit.checkpoint", format!("seq {last_seq}"))
                .with_detail(format!("SM2 签名 {}", &sig[..16])),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(target: "tongguan::audit_checkpoint", last_seq, last_mac = %last_mac, signature = %sig, "audit checkpoint");
        Ok(Checkpoint { id, at: tg_kernel::clock::to_rfc3339(at), last_seq, last_mac, signature: sig, public_key: pair.public_key_hex() })
    }

    /// Creates a checkpoint when the last one is older than `max_age_ms` (the daily job).
    pub async fn checkpoint_if_due(&self, max_age_ms: i64) -> IamResult<Option<Checkpoint>> {
        let last: Option<i64> = sqlx::query("SELECT MAX(at) FROM audit_checkpoints").fetch_one(self.db.pool()).await?.try_get(0)?;
        if last.is_some_and(|t| self.now() - t < max_age_ms) {
            return Ok(None);
        }
        self.checkpoint_audit().await.map(Some)
    }

    /// Every checkpoint must carry a valid system signature and name a chain row that still exists
    /// with the same MAC: a truncated tail or a rewritten chain is caught even when it re-verifies.
    pub(crate) async fn verify_checkpoints(&self) -> IamResult<Vec<IntegrityProblem>> {
        let mut problems = Vec::new();
        let rows = sqlx::query("SELECT id, at, last_seq, last_mac, signature FROM audit_checkpoints ORDER BY id")
            .fetch_all(self.db.pool())
            .await?;
        if rows.is_empty() {
            return Ok(problems);
        }
        let (_, pair) = self.sm2_key(USAGE_SYSTEM, None).await?;
        let public = pair.public_key();
        let first_kept: i64 =
            sqlx::query("SELECT COALESCE(MAX(first_seq), 0) FROM audit_anchor").fetch_one(self.db.pool()).await?.try_get(0)?;
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let at: i64 = r.try_get(1)?;
            let last_seq: i64 = r.try_get(2)?;
            let last_mac: String = r.try_get(3)?;
            let sig = hex::decode(r.try_get::<String, _>(4)?).unwrap_or_default();
            if !tg_crypto::sm2_verify(&public, DEFAULT_SM2_ID, &checkpoint_payload(last_seq, &last_mac, at), &sig) {
                problems.push(IntegrityProblem {
                    kind: "audit".into(),
                    id: format!("checkpoint {id}"),
                    detail: "审计检查点的SM2签名无效".into(),
                });
                continue;
            }
            if last_seq == 0 || last_seq < first_kept {
                // Nothing signed yet, or the row was purged under the retention policy.
                continue;
            }
            let row = sqlx::query("SELECT mac FROM audit_log WHERE seq = $1").bind(last_seq).fetch_optional(self.db.pool()).await?;
            match row {
                None => problems.push(IntegrityProblem {
                    kind: "audit".into(),
                    id: format!("seq {last_seq}"),
                    detail: format!("检查点 {id} 记录的序号 {last_seq} 已不存在（审计链尾部被截断）"),
                }),
                Some(row) if row.try_get::<String, _>(0)? != last_mac => problems.push(IntegrityProblem {
                    kind: "audit".into(),
                    id: format!("seq {last_seq}"),
                    detail: format!("序号 {last_seq} 的校验值与检查点 {id} 不一致（审计链被重写）"),
                }),
                Some(_) => {}
            }
        }
        Ok(problems)
    }
}
