//! Field-level encryption envelope for data at rest (GB/T 39786-2021 §8.4 e 重要数据存储机密性 and
//! g 存储完整性), using SM4-GCM (RFC 8998) with a 96-bit random nonce.
//!
//! Format: `"v{version}." + hex(nonce(12) || SM4-GCM ciphertext || tag(16))`, where `version`
//! names the data key (rotation = new version; old versions stay readable). The associated data
//! binds a value to its place (e.g. `b"users.phone#42"`), so a ciphertext copied to another row or
//! column fails to open.

use std::fmt;

use zeroize::Zeroizing;

use crate::sm::{random_bytes, sm4_gcm_open, sm4_gcm_seal, AEAD_NONCE_LEN, AEAD_TAG_LEN};
use crate::{CryptoError, CryptoResult};

/// A versioned 128-bit SM4 data-encryption key. The key bytes are wiped on drop and never shown by
/// `Debug`.
#[derive(Clone)]
pub struct DataKey {
    /// Key version written into every value sealed with this key.
    pub version: i64,
    key: Zeroizing<[u8; 16]>,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey").field("version", &self.version).finish_non_exhaustive()
    }
}

impl DataKey {
    /// A data key from its version and 16 key bytes.
    pub fn new(version: i64, key: [u8; 16]) -> Self {
        Self { version, key: Zeroizing::new(key) }
    }

    /// A data key from a slice, which must be exactly 16 bytes ([`CryptoError::BadKey`] otherwise).
    pub fn from_slice(version: i64, b: &[u8]) -> CryptoResult<Self> {
        let key: [u8; 16] = b.try_into().map_err(|_| CryptoError::BadKey(format!("data key must be 16 bytes, got {}", b.len())))?;
        Ok(Self::new(version, key))
    }

    /// The raw key bytes.
    pub fn bytes(&self) -> &[u8; 16] {
        &self.key
    }
}

/// "v{version}." + hex(nonce(12) || SM4-GCM ct || tag). `aad` binds the value to its row (caller passes e.g. b"users.phone#42").
pub fn seal_field(key: &DataKey, aad: &[u8], plaintext: &[u8]) -> String {
    let nonce = random_bytes::<AEAD_NONCE_LEN>();
    let mut body = Vec::with_capacity(AEAD_NONCE_LEN + plaintext.len() + AEAD_TAG_LEN);
    body.extend_from_slice(&nonce);
    body.extend_from_slice(&sm4_gcm_seal(key.bytes(), &nonce, aad, plaintext));
    format!("v{}.{}", key.version, hex::encode(body))
}

/// Splits `v{version}.{hex}`; the version must be written exactly as `{}` formats an `i64`
/// (no `+`, no leading zeros), so every sealed value has a single spelling.
fn split(sealed: &str) -> Option<(i64, &str)> {
    let rest = sealed.strip_prefix('v')?;
    let (ver, body) = rest.split_once('.')?;
    let digits = ver.strip_prefix('-').unwrap_or(ver);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let version: i64 = ver.parse().ok()?;
    if version.to_string() != ver {
        return None;
    }
    Some((version, body))
}

/// The key version of a sealed value, or `None` when it is not in the envelope format. Use it to
/// pick the [`DataKey`] for [`open_field`].
pub fn field_key_version(sealed: &str) -> Option<i64> {
    split(sealed).map(|(v, _)| v)
}

/// Opens a value sealed by [`seal_field`]. [`CryptoError::Malformed`] for bad syntax, non-hex or a
/// body shorter than nonce + tag; [`CryptoError::AuthFailed`] for a tag mismatch, wrong `aad`,
/// wrong key, or a version prefix different from `key.version`.
pub fn open_field(key: &DataKey, aad: &[u8], sealed: &str) -> CryptoResult<Vec<u8>> {
    let (version, body) = split(sealed).ok_or(CryptoError::Malformed)?;
    let body = hex::decode(body).map_err(|_| CryptoError::Malformed)?;
    if body.len() < AEAD_NONCE_LEN + AEAD_TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    if version != key.version {
        return Err(CryptoError::AuthFailed);
    }
    let (nonce, ct) = body.split_at(AEAD_NONCE_LEN);
    let nonce: [u8; AEAD_NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
    sm4_gcm_open(key.bytes(), &nonce, aad, ct)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    fn key(v: i64) -> DataKey {
        DataKey::new(v, [0x42; 16])
    }

    #[test]
    fn round_trip_and_format() {
        let k = key(3);
        let s = seal_field(&k, b"users.phone#42", "13800138000".as_bytes());
        assert!(s.starts_with("v3."));
        // nonce 12 + 11 bytes + tag 16, hex.
        assert_eq!(s.len(), 3 + 2 * (12 + 11 + 16));
        assert_eq!(field_key_version(&s), Some(3));
        assert_eq!(open_field(&k, b"users.phone#42", &s).unwrap(), b"13800138000");
        // Random nonce: the same value seals differently each time.
        assert_ne!(seal_field(&k, b"users.phone#42", b"13800138000"), s);
        // Empty values work.
        let e = seal_field(&k, b"a", b"");
        assert_eq!(open_field(&k, b"a", &e).unwrap(), b"");
        // Upper-case hex is accepted.
        let upper = format!("v3.{}", s[3..].to_uppercase());
        assert_eq!(open_field(&k, b"users.phone#42", &upper).unwrap(), b"13800138000");
    }

    #[test]
    fn refusals() {
        let k = key(3);
        let s = seal_field(&k, b"users.phone#42", b"13800138000");
        // Wrong aad (another row / column).
        assert!(matches!(open_field(&k, b"users.phone#43", &s), Err(CryptoError::AuthFailed)));
        assert!(matches!(open_field(&k, b"users.id_no#42", &s), Err(CryptoError::AuthFailed)));
        // Wrong key material with the right version.
        let other = DataKey::new(3, [0x43; 16]);
        assert!(matches!(open_field(&other, b"users.phone#42", &s), Err(CryptoError::AuthFailed)));
        // Wrong version: key v4 for a v3 value, or the prefix edited.
        assert!(matches!(open_field(&DataKey::new(4, [0x42; 16]), b"users.phone#42", &s), Err(CryptoError::AuthFailed)));
        let edited = s.replacen("v3.", "v4.", 1);
        assert!(matches!(open_field(&k, b"users.phone#42", &edited), Err(CryptoError::AuthFailed)));
        // Tampered body.
        let mut t = s.clone().into_bytes();
        let i = t.len() - 5;
        t[i] = if t[i] == b'0' { b'1' } else { b'0' };
        let t = String::from_utf8(t).unwrap();
        assert!(matches!(open_field(&k, b"users.phone#42", &t), Err(CryptoError::AuthFailed)));
        // Truncated: still a full tag + nonce -> AuthFailed; shorter -> Malformed.
        assert!(matches!(open_field(&k, b"users.phone#42", &s[..s.len() - 2]), Err(CryptoError::AuthFailed)));
        assert!(matches!(open_field(&k, b"users.phone#42", &s[..3 + 2 * 27]), Err(CryptoError::Malformed)));
        assert!(matches!(open_field(&k, b"users.phone#42", &s[..s.len() - 1]), Err(CryptoError::Malformed)));
        // Syntax.
        for bad in [
            "",
            "v3",
            "v3.",
            "3.abcd",
            "x3.abcd",
            "v.abcd",
            "v+3.abcd",
            "v03.abcd",
            "v-.abcd",
            "v3.zz",
            "v99999999999999999999.00",
            "13800138000",
        ] {
            assert!(matches!(open_field(&k, b"", bad), Err(CryptoError::Malformed)), "{bad:?}");
        }
        let non_hex = format!("v3.{}g", &s[3..s.len() - 1]);
        assert!(matches!(open_field(&k, b"users.phone#42", &non_hex), Err(CryptoError::Malformed)));
        assert_eq!(field_key_version("v03.00"), None);
        assert_eq!(field_key_version("plain text"), None);
        assert_eq!(field_key_version("v-2.00"), Some(-2));
        assert_eq!(field_key_version(&seal_field(&key(i64::MAX), b"", b"x")), Some(i64::MAX));
    }

    #[test]
    fn data_key() {
        assert!(DataKey::from_slice(1, &[0u8; 15]).is_err());
        assert!(DataKey::from_slice(1, &[0u8; 17]).is_err());
        let k = DataKey::from_slice(7, &[9u8; 16]).unwrap();
        assert_eq!(k.bytes(), &[9u8; 16]);
        assert_eq!(k.version, 7);
        let dbg = format!("{k:?}");
        assert!(dbg.contains('7') && !dbg.contains('9'), "{dbg}");
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(pt in proptest::collection::vec(any::<u8>(), 0..300),
                                aad in proptest::collection::vec(any::<u8>(), 0..40),
                                version in any::<i64>(),
                                raw in any::<[u8; 16]>()) {
            let k = DataKey::new(version, raw);
            let s = seal_field(&k, &aad, &pt);
            prop_assert_eq!(field_key_version(&s), Some(version));
            prop_assert_eq!(open_field(&k, &aad, &s).unwrap(), pt);
        }

        #[test]
        fn open_never_panics(s in "\\PC{0,200}") {
            let k = key(1);
            let _ = open_field(&k, b"aad", &s);
            let _ = field_key_version(&s);
            let _ = open_field(&k, b"aad", &format!("v1.{s}"));
        }

        #[test]
        fn open_never_panics_on_hex(h in "[0-9a-f]{0,120}") {
            let k = key(1);
            let sealed = format!("v1.{h}");
            prop_assert!(open_field(&k, b"aad", &sealed).is_err());
        }
    }
}
