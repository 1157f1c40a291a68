//! The key hierarchy (密钥管理): root key → purpose keys → data keys.
//!
//! * The **root key** lives in a [`KeyProvider`] (a local key file for the embedded default and tests,
//!   a cipher machine / KMS in production). It never enters the database or the configuration.
//! * A **purpose key** (`domain = ''`) per purpose and version is stored in `crypto_keys`, wrapped by
//!   the root key with SM4-GCM; the associated data binds it to its purpose and version.
//! * **Data keys** (`domain <> ''`, e.g. `users.phone`) are wrapped by the purpose key of the same
//!   version. They encrypt fields, key the blind indexes, the audit chain, the row MACs, the password
//!   pepper and sealed SM2 secrets. Backups are encrypted under a fresh key wrapped by the root key
//!   itself, so that a backup restores into an empty database given the same root key.
//!
//! Rotation adds a version: new writes use it, older versions stay for decryption and verification.
//! Every stored key carries a key check value (KCV) so a wrong root key is refused at start-up.

use crate::error::{IamError, IamResult};
use serde::Serialize;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use tg_crypto::{hmac_sm3, random_bytes, KeyProvider};
use tg_db::Db;
use utoipa::ToSchema;
use zeroize::Zeroizing;

/// What a key is for. Each purpose has its own keys so that one leaking does not expose the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// SM4-GCM encryption of personal data and secrets in rows.
    Fields,
    /// HMAC-SM3 blind indexes for exact search over encrypted fields.
    Index,
    /// HMAC-SM3 audit chain.
    Audit,
    /// HMAC-SM3 row MACs over grants, data scopes, security labels and settings.
    Acl,
    /// SM4-GCM wrap of password verifiers.
    Pepper,
    /// SM4-GCM seal of SM2 private keys (system, login envelope, users' signing keys).
    Signing,
}

impl Purpose {
    pub const ALL: [Purpose; 6] = [Purpose::Fields, Purpose::Index, Purpose::Audit, Purpose::Acl, Purpose::Pepper, Purpose::Signing];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Fields => "fields",
            Purpose::Index => "index",
            Purpose::Audit => "audit",
            Purpose::Acl => "acl",
            Purpose::Pepper => "pepper",
            Purpose::Signing => "signing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Purpose::Fields => "字段加密",
            Purpose::Index => "盲索引",
            Purpose::Audit => "审计链",
            Purpose::Acl => "授权完整性",
            Purpose::Pepper => "口令保护",
            Purpose::Signing => "签名私钥保护",
        }
    }

    /// Blind-index keys cannot rotate without re-indexing every row; they rotate with `reindex`.
    pub fn rotatable(self) -> bool {
        self != Purpose::Index
    }
}

/// The data-key domains every installation has. Engines add their own with [`Keyring::ensure`].
pub const BUILTIN_DOMAINS: &[(Purpose, &str)] = &[
    (Purpose::Fields, "users.phone"),
    (Purpose::Fields, "user_otp.secret"),
    (Purpose::Fields, "inv_projects.contact_phone"),
    (Purpose::Index, "users.phone"),
    (Purpose::Audit, "chain"),
    (Purpose::Acl, "rows"),
    (Purpose::Pepper, "password"),
    (Purpose::Signing, "sm2"),
];

/// One key version as the security page lists it (never the key itself).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyInfo {
    pub purpose: Purpose,
    pub purpose_label: String,
    pub domain: String,
    pub version: i64,
    pub current: bool,
    pub kcv: String,
    pub created_at: String,
}

type Slot = (Purpose, String, i64);

#[derive(Default)]
struct Inner {
    keys: HashMap<Slot, Zeroizing<Vec<u8>>>,
    current: BTreeMap<(Purpose, String), i64>,
    info: Vec<(Purpose, String, i64, String, i64)>,
}

/// All unwrapped keys of the installation, held in memory only.
pub struct Keyring {
    provider: Arc<dyn KeyProvider>,
    inner: RwLock<Inner>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("provider", &self.provider.kind()).finish_non_exhaustive()
    }
}

fn kcv(key: &[u8]) -> String {
    hex::encode(&hmac_sm3(key, &[b"tongguan-kcv"])[..8])
}

fn aad(purpose: Purpose, domain: &str, version: i64) -> Vec<u8> {
    format!("tongguan-key-v1|{}|{domain}|{version}", purpose.as_str()).into_bytes()
}

fn bad(msg: impl Into<String>) -> IamError {
    IamError::Internal(msg.into())
}

impl Keyring {
    /// Unwraps every stored key. A key wrapped under another root key, or altered, stops start-up.
    pub async fn load(db: &Db, provider: Arc<dyn KeyProvider>) -> IamResult<Self> {
        let ring = Self { provider, inner: RwLock::new(Inner::default()) };
        let rows =
            sqlx::query("SELECT purpose, domain, version, wrapped, kcv, root_kcv, created_at FROM crypto_keys ORDER BY domain, version")
                .fetch_all(db.pool())
                .await?;
        let root_kcv = ring.provider.root_kcv();
        let mut kek: HashMap<(Purpose, i64), Zeroizing<Vec<u8>>> = HashMap::new();
        let mut inner = Inner::default();
        for r in rows {
            let purpose_s: String = r.try_get(0)?;
            let purpose = Purpose::parse(&purpose_s).ok_or_else(|| bad(format!("unknown key purpose {purpose_s}")))?;
            let domain: String = r.try_get(1)?;
            let version: i64 = r.try_get(2)?;
            let wrapped = hex::decode(r.try_get::<String, _>(3)?).map_err(|_| bad("wrapped key is not hex"))?;
            let stored_kcv: String = r.try_get(4)?;
            let stored_root_kcv: String = r.try_get(5)?;
            let created_at: i64 = r.try_get(6)?;
            let key = if domain.is_empty() {
                if stored_root_kcv != root_kcv {
                    return Err(bad(format!(
                        "purpose key {}/v{version} was wrapped under another root key (root KCV {stored_root_kcv}, this provider {root_kcv})",
                        purpose.as_str()
                    )));
                }
                ring.provider
                    .unwrap(&aad(purpose, "", version), &wrapped)
                    .map_err(|e| bad(format!("unwrapping {}: {e}", purpose.as_str())))?
            } else {
                let k = kek.get(&(purpose, version)).ok_or_else(|| bad(format!("data key {domain} has no purpose key v{version}")))?;
                let kk: [u8; 16] = k[..16].try_into().map_err(|_| bad("short purpose key"))?;
                let nonce: [u8; 12] = wrapped.get(..12).and_then(|n| n.try_into().ok()).ok_or_else(|| bad("short wrapped key"))?;
                Zeroizing::new(
                    tg_crypto::sm4_gcm_open(&kk, &nonce, &aad(purpose, &domain, version), &wrapped[12..])
                        .map_err(|e| bad(format!("unwrapping {}/{domain}/v{version}: {e}", purpose.as_str())))?,
                )
            };
            if kcv(&key) != stored_kcv {
                return Err(bad(format!("key check value mismatch for {}/{domain}/v{version}", purpose.as_str())));
            }
            if domain.is_empty() {
                kek.insert((purpose, version), key);
            } else {
                let cur = inner.current.entry((purpose, domain.clone())).or_insert(version);
                *cur = (*cur).max(version);
                inner.info.push((purpose, domain.clone(), version, stored_kcv, created_at));
                inner.keys.insert((purpose, domain, version), key);
            }
        }
        // Purpose keys stay in memory for wrapping new data keys of the current version.
        for ((p, v), k) in kek {
            inner.keys.insert((p, String::new(), v), k);
        }
        *ring.inner.write().map_err(|_| bad("keyring lock poisoned"))? = inner;
        Ok(ring)
    }

    pub fn provider_kind(&self) -> &'static str {
        self.provider.kind()
    }

    pub fn root_kcv(&self) -> String {
        self.provider.root_kcv()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The current version and bytes of a data key. Panics never: a missing key is an internal error.
    pub fn current(&self, purpose: Purpose, domain: &str) -> IamResult<(i64, Zeroizing<Vec<u8>>)> {
        let inner = self.read();
        let v =
            *inner.current.get(&(purpose, domain.to_owned())).ok_or_else(|| bad(format!("no {} key for {domain}", purpose.as_str())))?;
        let k = inner.keys.get(&(purpose, domain.to_owned(), v)).ok_or_else(|| bad("keyring inconsistent"))?;
        Ok((v, k.clone()))
    }

    pub fn get(&self, purpose: Purpose, domain: &str, version: i64) -> Option<Zeroizing<Vec<u8>>> {
        self.read().keys.get(&(purpose, domain.to_owned(), version)).cloned()
    }

    /// The current SM4 data key of a domain as a field-encryption key.
    pub fn field_key(&self, purpose: Purpose, domain: &str) -> IamResult<tg_crypto::DataKey> {
        let (v, k) = self.current(purpose, domain)?;
        tg_crypto::DataKey::from_slice(v, &k[..16]).map_err(|e| bad(e.to_string()))
    }

    pub fn field_key_version(&self, purpose: Purpose, domain: &str, version: i64) -> IamResult<tg_crypto::DataKey> {
        let k =
            self.get(purpose, domain, version).ok_or_else(|| bad(format!("{} key {domain} v{version} is unknown", purpose.as_str())))?;
        tg_crypto::DataKey::from_slice(version, &k[..16]).map_err(|e| bad(e.to_string()))
    }

    /// Creates version 1 of a purpose key and of this data key when missing (idempotent).
    pub async fn ensure(&self, db: &Db, purpose: Purpose, domain: &str, now: i64) -> IamResult<()> {
        if self.read().current.contains_key(&(purpose, domain.to_owned())) {
            return Ok(());
        }
        let version = self.read().keys.keys().filter(|(p, d, _)| *p == purpose && d.is_empty()).map(|(_, _, v)| *v).max().unwrap_or(1);
        self.create_version(db, purpose, &[domain.to_owned()], version, now, None).await
    }

    /// Stores a key created elsewhere (the legacy plaintext audit key file) as version 1 of a domain.
    pub async fn import_v1(&self, db: &Db, purpose: Purpose, domain: &str, key: &[u8], now: i64) -> IamResult<()> {
        self.create_version(db, purpose, &[domain.to_owned()], 1, now, Some(key)).await
    }

    async fn create_version(
        &self,
        db: &Db,
        purpose: Purpose,
        domains: &[String],
        version: i64,
        now: i64,
        given: Option<&[u8]>,
    ) -> IamResult<()> {
        let root_kcv = self.provider.root_kcv();
        let existing_kek = self.get(purpose, "", version);
        let mut tx = db.begin().await?;
        let kek = match existing_kek {
            Some(k) => k,
            None => {
                let k = Zeroizing::new(random_bytes::<32>().to_vec());
                let wrapped = self.provider.wrap(&aad(purpose, "", version), &k).map_err(|e| bad(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO crypto_keys (purpose, domain, version, wrapped, kcv, root_kcv, created_at) VALUES ($1, '', $2, $3, $4, $5, $6)",
                )
                .bind(purpose.as_str())
                .bind(version)
                .bind(hex::encode(&wrapped))
                .bind(kcv(&k))
                .bind(&root_kcv)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                k
            }
        };
        let kk: [u8; 16] = kek[..16].try_into().map_err(|_| bad("short purpose key"))?;
        let mut fresh = Vec::new();
        for domain in domains {
            let key = Zeroizing::new(match given {
                Some(g) => g.to_vec(),
                None => random_bytes::<32>().to_vec(),
            });
            let nonce = random_bytes::<12>();
            let mut wrapped = nonce.to_vec();
            wrapped.extend(tg_crypto::sm4_gcm_seal(&kk, &nonce, &aad(purpose, domain, version), &key));
            let k = kcv(&key);
            sqlx::query(
                "INSERT INTO crypto_keys (purpose, domain, version, wrapped, kcv, root_kcv, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(purpose.as_str())
            .bind(domain)
            .bind(version)
            .bind(hex::encode(&wrapped))
            .bind(&k)
            .bind(&root_kcv)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            fresh.push((domain.clone(), key, k));
        }
        tx.commit().await?;
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.keys.insert((purpose, String::new(), version), kek);
        for (domain, key, k) in fresh {
            inner.current.insert((purpose, domain.clone()), version);
            inner.info.push((purpose, domain.clone(), version, k, now));
            inner.keys.insert((purpose, domain, version), key);
        }
        Ok(())
    }

    /// Adds a new version of a purpose key and of each of its data keys. Returns the new version.
    pub async fn rotate(&self, db: &Db, purpose: Purpose, now: i64) -> IamResult<i64> {
        if !purpose.rotatable() {
            return Err(IamError::conflict("keys.not_rotatable", "盲索引密钥需随重建索引一起轮换，不能单独轮换"));
        }
        let (domains, next) = {
            let inner = self.read();
            let domains: Vec<String> = inner.current.keys().filter(|(p, _)| *p == purpose).map(|(_, d)| d.clone()).collect();
            let next = inner.keys.keys().filter(|(p, _, _)| *p == purpose).map(|(_, _, v)| *v).max().unwrap_or(0) + 1;
            (domains, next)
        };
        if domains.is_empty() {
            return Err(IamError::not_found("密钥用途", "keys.not_found"));
        }
        self.create_version(db, purpose, &domains, next, now, None).await?;
        Ok(next)
    }

    /// Every data-key version, newest first within each domain.
    pub fn list(&self) -> Vec<KeyInfo> {
        let inner = self.read();
        let mut out: Vec<KeyInfo> = inner
            .info
            .iter()
            .map(|(p, d, v, k, at)| KeyInfo {
                purpose: *p,
                purpose_label: p.label().into(),
                domain: d.clone(),
                version: *v,
                current: inner.current.get(&(*p, d.clone())) == Some(v),
                kcv: k.clone(),
                created_at: tg_kernel::clock::to_rfc3339(*at),
            })
            .collect();
        out.sort_by(|a, b| (a.purpose, &a.domain, std::cmp::Reverse(a.version)).cmp(&(b.purpose, &b.domain, std::cmp::Reverse(b.version))));
        out
    }

    /// HMAC-SM3 with the current key of `purpose/domain`, as `v{version}.{hex}`.
    pub fn mac(&self, purpose: Purpose, domain: &str, parts: &[&[u8]]) -> IamResult<String> {
        let (v, k) = self.current(purpose, domain)?;
        Ok(format!("v{v}.{}", hex::encode(hmac_sm3(&k, parts))))
    }

    /// Checks a `v{version}.{hex}` MAC made by [`Keyring::mac`] with whichever version it names.
    pub fn mac_ok(&self, purpose: Purpose, domain: &str, parts: &[&[u8]], stored: &str) -> bool {
        let Some((v, hexmac)) = stored.strip_prefix('v').and_then(|s| s.split_once('.')) else {
            return false;
        };
        let Ok(v) = v.parse::<i64>() else {
            return false;
        };
        let Some(k) = self.get(purpose, domain, v) else {
            return false;
        };
        tg_crypto::constant_time_eq(hex::encode(hmac_sm3(&k, parts)).as_bytes(), hexmac.as_bytes())
    }

    /// Blind index of a normalised value: HMAC-SM3 with the index key of the domain.
    pub fn blind_index(&self, domain: &str, normalised: &str) -> IamResult<String> {
        let (_, k) = self.current(Purpose::Index, domain)?;
        Ok(hex::encode(&hmac_sm3(&k, &[domain.as_bytes(), b"|", normalised.as_bytes()])[..16]))
    }

    /// SM4-GCM envelope of a field value bound to its row (`aad`, e.g. `users.phone#42`).
    pub fn seal(&self, domain: &str, aad: &str, plaintext: &str) -> IamResult<String> {
        let key = self.field_key(Purpose::Fields, domain)?;
        Ok(tg_crypto::seal_field(&key, aad.as_bytes(), plaintext.as_bytes()))
    }

    pub fn open(&self, domain: &str, aad: &str, sealed: &str) -> IamResult<String> {
        let v = tg_crypto::field_key_version(sealed).ok_or(IamError::Integrity(format!("{domain} 密文格式错误")))?;
        let key = self
            .field_key_version(Purpose::Fields, domain, v)
            .map_err(|_| IamError::Integrity(format!("{domain} 密钥版本 v{v} 不存在")))?;
        let pt = tg_crypto::open_field(&key, aad.as_bytes(), sealed).map_err(|_| IamError::Integrity(format!("{domain} 密文校验失败")))?;
        String::from_utf8(pt).map_err(|_| IamError::Integrity(format!("{domain} 明文不是 UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_round_trip() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.as_str()), Some(p));
        }
        assert_eq!(Purpose::parse("nope"), None);
        assert!(!Purpose::Index.rotatable());
    }
}
