//! Tongguan cryptography: the Chinese commercial-cryptography (商用密码) algorithms the platform
//! needs for GB/T 39786-2021 level 3 (密评三级), built on audited-by-use RustCrypto crates.
//!
//! | Module | Standard | What |
//! |---|---|---|
//! | [`sm`] | GB/T 32905 (SM3), GB/T 32907 (SM4), RFC 8998 | SM3, HMAC-SM3, PBKDF2-HMAC-SM3, SM4 block, SM4-GCM/CCM, random |
//! | [`sm2k`] | GB/T 32918 (SM2), GM/T 0009 | SM2 signatures with `Z_A`, SM2 encryption (C1C3C2, DER), npm `sm-crypto` interop |
//! | [`otp`] | GM/T 0021-2012 | SM3 dynamic passwords, time window and replay protection, base32, enrolment URI |
//! | [`keys`] | GB/T 39786 §8.4 key management | [`KeyProvider`] root of the key hierarchy, sealed local key file |
//! | [`field`] | GB/T 39786 §8.4 e/g | `v{n}.hex` SM4-GCM field envelope bound to its row by AAD |
//!
//! Everything is re-exported at the crate root. Software keys are not a certified cryptographic
//! module; production deployments should put the root key behind a cipher machine / KMS provider.

#![forbid(unsafe_code)]

pub mod field;
pub mod keys;
pub mod otp;
pub mod sm;
pub mod sm2k;

pub use field::{field_key_version, open_field, seal_field, DataKey};
pub use keys::{kcv, KeyProvider, LocalFileProvider, ROOT_FILE_FORMAT, ROOT_SEAL_ITERATIONS};
pub use otp::{base32_decode, base32_encode, otp_code_at, otp_step, otp_uri, otp_verify, sm3_otp, OtpPolicy, MAX_OTP_WINDOW};
pub use sm::{
    constant_time_eq, hmac_sm3, pbkdf2_sm3, random_bytes, random_token, sm3, sm3_hex, sm4_ccm_open, sm4_ccm_seal, sm4_decrypt_block,
    sm4_encrypt_block, sm4_gcm_open, sm4_gcm_seal, AEAD_NONCE_LEN, AEAD_TAG_LEN,
};
pub use sm2k::{sm2_encrypt, sm2_verify, Sm2KeyPair, DEFAULT_SM2_ID};

/// Errors of this crate. Messages are safe to log: they never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Input that does not parse as the expected ciphertext / envelope.
    #[error("malformed ciphertext")]
    Malformed,
    /// A MAC, tag or SM2 C3 check failed: wrong key, wrong associated data, or tampering.
    #[error("authentication failed")]
    AuthFailed,
    /// A key of the wrong length or value.
    #[error("bad key: {0}")]
    BadKey(String),
    /// The key provider refused or failed (missing / sealed / corrupt key file, ...).
    #[error("key provider: {0}")]
    Provider(String),
    /// I/O error of a file-backed provider.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias for this crate.
pub type CryptoResult<T> = Result<T, CryptoError>;
