//! SM3 and SM4 primitives and the AEAD modes built on them.
//!
//! - **SM3** hash — GB/T 32905-2016 (= GM/T 0004-2012), via RustCrypto `sm3`.
//! - **HMAC-SM3** — the RFC 2104 / GB/T 15852.2 HMAC construction with SM3.
//! - **PBKDF2-HMAC-SM3** — RFC 8018 PBKDF2 with HMAC-SM3 as the PRF (password verifiers, key sealing).
//! - **SM4** block cipher — GB/T 32907-2016 (= GM/T 0002-2012), via RustCrypto `sm4`.
//! - **SM4-GCM / SM4-CCM** — the AEAD constructions of RFC 8998 (TLS 1.3 `TLS_SM4_GCM_SM3`,
//!   `TLS_SM4_CCM_SM3`): 128-bit key, 96-bit nonce, 128-bit tag. Output is `ciphertext || tag`.
//! - Secure random bytes and a constant-time byte comparison.
//!
//! The standard test vectors (GB/T 32905 App. A, GB/T 32907 App. A, RFC 8998 App. A) are checked by
//! this module's unit tests.

use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sm2::elliptic_curve::subtle::ConstantTimeEq;
use sm3::{Digest, Sm3};
use sm4::cipher::{BlockCipherDecrypt, BlockCipherEncrypt};
use sm4::Sm4;

use crate::{CryptoError, CryptoResult};

/// SM4-GCM with a 96-bit nonce and a 128-bit tag (RFC 8998).
type Sm4Gcm = aes_gcm::AesGcm<Sm4, U12>;
/// SM4-CCM with a 128-bit tag and a 96-bit nonce (RFC 8998).
type Sm4Ccm = ccm::Ccm<Sm4, U16, U12>;
type HmacSm3 = Hmac<Sm3>;

/// Length in bytes of the SM4-GCM / SM4-CCM authentication tag appended by the `*_seal` functions.
pub const AEAD_TAG_LEN: usize = 16;
/// Length in bytes of the SM4-GCM / SM4-CCM nonce.
pub const AEAD_NONCE_LEN: usize = 12;

/// SM3 digest of `data` (GB/T 32905-2016).
pub fn sm3(data: &[u8]) -> [u8; 32] {
    Sm3::digest(data).into()
}

/// Lower-case hex of the SM3 digest of `data`.
pub fn sm3_hex(data: &[u8]) -> String {
    hex::encode(sm3(data))
}

/// HMAC-SM3 of the concatenation of `parts` under `key` (keys of any length are accepted).
pub fn hmac_sm3(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let Ok(mut mac) = <HmacSm3 as KeyInit>::new_from_slice(key) else { unreachable!("HMAC accepts keys of any length") };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// PBKDF2 (RFC 8018) with HMAC-SM3 as PRF, producing 32 bytes.
///
/// `iterations` of 0 is treated as 1 (PBKDF2 is undefined for zero rounds).
pub fn pbkdf2_sm3(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    pbkdf2::pbkdf2_hmac_array::<Sm3, 32>(password, salt, iterations.max(1))
}

/// `N` bytes from the thread-local CSPRNG (ChaCha12 seeded and periodically reseeded from the OS).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::rng().fill_bytes(&mut out);
    out
}

/// 64 lower-case hex characters encoding 32 random bytes (session tokens, request ids, ...).
pub fn random_token() -> String {
    hex::encode(random_bytes::<32>())
}

/// Compares two byte strings in time independent of their contents.
///
/// Slices of different lengths compare unequal immediately (lengths are not treated as secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Encrypts one 16-byte block with SM4 (raw block cipher — do not use as an encryption mode).
pub fn sm4_encrypt_block(key: &[u8; 16], block: &[u8; 16]) -> [u8; 16] {
    let cipher = Sm4::new(key.into());
    let mut b = (*block).into();
    cipher.encrypt_block(&mut b);
    b.into()
}

/// Decrypts one 16-byte block with SM4 (raw block cipher).
pub fn sm4_decrypt_block(key: &[u8; 16], block: &[u8; 16]) -> [u8; 16] {
    let cipher = Sm4::new(key.into());
    let mut b = (*block).into();
    cipher.decrypt_block(&mut b);
    b.into()
}

/// SM4-GCM encryption (RFC 8998). Returns `ciphertext || 16-byte tag`.
///
/// A (key, nonce) pair must never be reused; use a random or counter nonce per message.
pub fn sm4_gcm_seal(key: &[u8; 16], nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Sm4Gcm::new(key.into());
    match cipher.encrypt(nonce.into(), Payload { msg: plaintext, aad }) {
        Ok(ct) => ct,
        // Only fails for plaintexts longer than GCM's 2^36 - 32 byte limit.
        Err(_) => panic!("SM4-GCM plaintext exceeds the GCM length limit"),
    }
}

/// SM4-GCM decryption of `ciphertext || tag`. [`CryptoError::Malformed`] when shorter than a tag,
/// [`CryptoError::AuthFailed`] when the tag does not verify (wrong key, nonce, aad or tampering).
pub fn sm4_gcm_open(key: &[u8; 16], nonce: &[u8; 12], aad: &[u8], ct_and_tag: &[u8]) -> CryptoResult<Vec<u8>> {
    if ct_and_tag.len() < AEAD_TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    let cipher = Sm4Gcm::new(key.into());
    cipher.decrypt(nonce.into(), Payload { msg: ct_and_tag, aad }).map_err(|_| CryptoError::AuthFailed)
}

/// SM4-CCM encryption (RFC 8998, 16-byte tag, 12-byte nonce). Returns `ciphertext || tag`.
pub fn sm4_ccm_seal(key: &[u8; 16], nonce: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Sm4Ccm::new(key.into());
    match cipher.encrypt(nonce.into(), Payload { msg: plaintext, aad }) {
        Ok(ct) => ct,
        // With a 12-byte nonce CCM's length field is 3 bytes: messages are limited to 16 MiB.
        Err(_) => panic!("SM4-CCM plaintext exceeds the CCM length limit (2^24 - 1 bytes)"),
    }
}

/// SM4-CCM decryption of `ciphertext || tag` (see [`sm4_gcm_open`] for the errors).
pub fn sm4_ccm_open(key: &[u8; 16], nonce: &[u8; 12], aad: &[u8], ct_and_tag: &[u8]) -> CryptoResult<Vec<u8>> {
    if ct_and_tag.len() < AEAD_TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    let cipher = Sm4Ccm::new(key.into());
    cipher.decrypt(nonce.into(), Payload { msg: ct_and_tag, aad }).map_err(|_| CryptoError::AuthFailed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::time::Instant;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }
    fn h16(s: &str) -> [u8; 16] {
        h(s).try_into().unwrap()
    }
    fn h12(s: &str) -> [u8; 12] {
        h(s).try_into().unwrap()
    }

    #[test]
    fn sm3_standard_vectors() {
        assert_eq!(sm3_hex(b"abc"), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
        assert_eq!(sm3_hex(&b"abcd".repeat(16)), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
        assert_eq!(hex::encode(sm3(b"abc")), sm3_hex(b"abc"));
    }

    #[test]
    fn sm4_single_block() {
        let k = h16("0123456789abcdeffedcba9876543210");
        let ct = sm4_encrypt_block(&k, &k);
        assert_eq!(hex::encode(ct), "681edf34d206965e86b3e94f536e4246");
        assert_eq!(sm4_decrypt_block(&k, &ct), k);
    }

    #[test]
    fn sm4_million_iterations() {
        let k = h16("0123456789abcdeffedcba9876543210");
        let start = Instant::now();
        let mut b = k;
        for _ in 0..1_000_000 {
            b = sm4_encrypt_block(&k, &b);
        }
        assert_eq!(hex::encode(b), "595298c7c6fd271f0402f804c33d3f66");
        let took = start.elapsed();
        assert!(took.as_secs() < 30, "1 000 000 SM4 blocks took {took:?}");
    }

    const RFC8998_KEY: &str = "0123456789ABCDEFFEDCBA9876543210";
    const RFC8998_IV: &str = "00001234567800000000ABCD";
    const RFC8998_AAD: &str = "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2";
    const RFC8998_PT: &str =
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA";

    type SealFn = fn(&[u8; 16], &[u8; 12], &[u8], &[u8]) -> Vec<u8>;
    type OpenFn = fn(&[u8; 16], &[u8; 12], &[u8], &[u8]) -> CryptoResult<Vec<u8>>;

    fn check_rfc8998(seal: SealFn, open: OpenFn, ct_hex: &str, tag_hex: &str) {
        let key = h16(RFC8998_KEY);
        let iv = h12(RFC8998_IV);
        let aad = h(RFC8998_AAD);
        let pt = h(RFC8998_PT);
        let out = seal(&key, &iv, &aad, &pt);
        assert_eq!(out.len(), pt.len() + AEAD_TAG_LEN);
        let (ct, tag) = out.split_at(pt.len());
        assert_eq!(hex::encode_upper(ct), ct_hex);
        assert_eq!(hex::encode_upper(tag), tag_hex);
        assert_eq!(open(&key, &iv, &aad, &out).unwrap(), pt);

        // Any flipped bit in ciphertext or tag, a changed aad, nonce or key: AuthFailed.
        for i in [0, pt.len() - 1, pt.len(), out.len() - 1] {
            let mut bad = out.clone();
            bad[i] ^= 0x01;
            assert!(matches!(open(&key, &iv, &aad, &bad), Err(CryptoError::AuthFailed)));
        }
        let mut bad_aad = aad.clone();
        bad_aad[0] ^= 0x80;
        assert!(matches!(open(&key, &iv, &bad_aad, &out), Err(CryptoError::AuthFailed)));
        assert!(matches!(open(&key, &iv, b"", &out), Err(CryptoError::AuthFailed)));
        let mut bad_iv = iv;
        bad_iv[11] ^= 1;
        assert!(matches!(open(&key, &bad_iv, &aad, &out), Err(CryptoError::AuthFailed)));
        let mut bad_key = key;
        bad_key[0] ^= 1;
        assert!(matches!(open(&bad_key, &iv, &aad, &out), Err(CryptoError::AuthFailed)));
        // Truncated below a tag: Malformed; a bare tag of an empty message: AuthFailed.
        assert!(matches!(open(&key, &iv, &aad, &out[..15]), Err(CryptoError::Malformed)));
        assert!(matches!(open(&key, &iv, &aad, &out[..16]), Err(CryptoError::AuthFailed)));
        // Empty plaintext round-trips.
        let empty = seal(&key, &iv, &aad, b"");
        assert_eq!(empty.len(), AEAD_TAG_LEN);
        assert_eq!(open(&key, &iv, &aad, &empty).unwrap(), b"");
    }

    #[test]
    fn sm4_gcm_rfc8998() {
        check_rfc8998(
            sm4_gcm_seal,
            sm4_gcm_open,
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
            "83DE3541E4C2B58177E065A9BF7B62EC",
        );
    }

    #[test]
    fn sm4_ccm_rfc8998() {
        check_rfc8998(
            sm4_ccm_seal,
            sm4_ccm_open,
            "48AF93501FA62ADBCD414CCE6034D895DDA1BF8F132F042098661572E7483094FD12E518CE062C98ACEE28D95DF4416BED31A2F04476C18BB40C84A74B97DC5B",
            "16842D4FA186F56AB33256971FA110F4",
        );
    }

    #[test]
    fn hmac_sm3_regression() {
        assert_eq!(
            hex::encode(hmac_sm3(b"Jefe", &[b"what do ya want for nothing?"])),
            "2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882"
        );
        // Parts are concatenated.
        assert_eq!(hmac_sm3(b"Jefe", &[b"what do ya ", b"", b"want for nothing?"]), hmac_sm3(b"Jefe", &[b"what do ya want for nothing?"]));
        // Long keys (> 64-byte block) are hashed first, as RFC 2104 requires.
        let long = [0x0bu8; 100];
        assert_eq!(hmac_sm3(&long, &[b"x"]), hmac_sm3(&sm3(&long), &[b"x"]));
    }

    #[test]
    fn pbkdf2_sm3_regression() {
        assert_eq!(
            hex::encode(pbkdf2_sm3(b"password", b"salt-salt-salt-1", 1000)),
            "b831cc3a153c6ae342b336b2540da7d86e17acc0e65a312bac3950205d77f86b"
        );
        // One iteration equals HMAC(password, salt || INT(1)).
        assert_eq!(pbkdf2_sm3(b"pw", b"salt", 1), hmac_sm3(b"pw", &[b"salt", &1u32.to_be_bytes()]));
        assert_eq!(pbkdf2_sm3(b"pw", b"salt", 0), pbkdf2_sm3(b"pw", b"salt", 1));
    }

    #[test]
    fn random_and_compare() {
        let a = random_bytes::<32>();
        let b = random_bytes::<32>();
        assert_ne!(a, b);
        let t = random_token();
        assert_eq!(t.len(), 64);
        assert!(t.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
