//! SM2 public-key cryptography — GB/T 32918.1–5 (= GM/T 0003-2012) on the recommended curve
//! `sm2p256v1`, via RustCrypto `sm2`.
//!
//! - **Signatures** (GB/T 32918.2): `e = SM3(Z_A || M)` with
//!   `Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A)`; signatures are the 64-byte
//!   `r || s` encoding. Nonces are derived deterministically (RFC 6979 style, with SM3), which
//!   verifies like any random-`k` signature.
//! - **Public-key encryption** (GB/T 32918.4): ciphertext order **C1C3C2** (GM/T 0009 / GB/T 35276),
//!   either raw (`04 || x1 || y1 || C3 || C2`) or the DER `SM2Cipher` structure.
//! - **Browser interop**: npm `sm-crypto` (`sm2.doEncrypt(msg, pubHex, 1)`) emits C1C3C2 as hex
//!   *without* the leading `04` of C1; [`Sm2KeyPair::decrypt_sm_crypto_hex`] accepts both forms.

use std::fmt;

use sm2::dsa::signature::{Signer, Verifier};
use sm2::dsa::{Signature, SigningKey, VerifyingKey};
use sm2::elliptic_curve::common::getrandom::SysRng;
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm2::elliptic_curve::zeroize::Zeroize;
use sm2::elliptic_curve::Generate;
use sm2::pkcs8::der::Decode;
use sm2::pke::{Cipher, DecryptingKey, EncryptingKey, Mode};
use sm2::{PublicKey, SecretKey};
use zeroize::Zeroizing;

use crate::{CryptoError, CryptoResult};

/// Default SM2 distinguishing identifier (GM/T 0009-2012 §10: `"1234567812345678"`).
pub const DEFAULT_SM2_ID: &str = "1234567812345678";

/// An SM2 key pair. The secret scalar lives in a [`SecretKey`], which is zeroized on drop;
/// `Debug` prints only the public key.
pub struct Sm2KeyPair {
    secret: SecretKey,
    public: PublicKey,
}

impl fmt::Debug for Sm2KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sm2KeyPair").field("public_key", &self.public_key_hex()).finish_non_exhaustive()
    }
}

impl Sm2KeyPair {
    /// A fresh key pair from the operating system's RNG.
    pub fn generate() -> Self {
        let secret = SecretKey::generate();
        let public = secret.public_key();
        Self { secret, public }
    }

    /// A key pair from the 32-byte big-endian secret scalar `d` (1 ≤ d < n).
    pub fn from_secret_bytes(b: &[u8]) -> CryptoResult<Self> {
        if b.len() != 32 {
            return Err(CryptoError::BadKey(format!("SM2 secret key must be 32 bytes, got {}", b.len())));
        }
        let secret =
            SecretKey::from_slice(b).map_err(|_| CryptoError::BadKey("SM2 secret key is zero or not below the group order".into()))?;
        let public = secret.public_key();
        Ok(Self { secret, public })
    }

    /// The 32-byte big-endian secret scalar, in a buffer that is wiped when dropped.
    pub fn secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut fb = self.secret.to_bytes();
        let out = Zeroizing::new(fb.to_vec());
        fb.zeroize();
        out
    }

    /// The public key as uncompressed SEC1: 65 bytes, `04 || x || y`.
    pub fn public_key(&self) -> Vec<u8> {
        self.public.to_sec1_point(false).as_bytes().to_vec()
    }

    /// Hex of [`Self::public_key`] (130 lower-case characters starting with `04`), the form npm
    /// `sm-crypto` takes as `publicKey`.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key())
    }

    /// Signs `msg` with `Z_A` computed over the distinguishing identifier `id`
    /// (usually [`DEFAULT_SM2_ID`]). Returns `r || s`.
    ///
    /// # Panics
    /// Only if `id` is longer than 8191 bytes (ENTL is a 16-bit bit length); use [`Self::try_sign`]
    /// when the identifier comes from outside.
    pub fn sign(&self, id: &str, msg: &[u8]) -> [u8; 64] {
        match self.try_sign(id, msg) {
            Ok(sig) => sig,
            Err(e) => panic!("SM2 signing failed: {e}"),
        }
    }

    /// Fallible [`Self::sign`]: [`CryptoError::BadKey`] when `id` is longer than 8191 bytes.
    pub fn try_sign(&self, id: &str, msg: &[u8]) -> CryptoResult<[u8; 64]> {
        let sk =
            SigningKey::new(id, &self.secret).map_err(|_| CryptoError::BadKey("SM2 distinguishing ID longer than 8191 bytes".into()))?;
        let sig: Signature = sk.try_sign(msg).map_err(|_| CryptoError::BadKey("SM2 signing failed".into()))?;
        Ok(sig.to_bytes().into())
    }

    fn decrypting_key(&self) -> DecryptingKey {
        DecryptingKey::new_with_mode(self.secret.to_nonzero_scalar(), Mode::C1C3C2)
    }

    /// Decrypts a raw C1C3C2 ciphertext (`04 || x1 || y1 || C3 || C2`; a compressed C1 is also
    /// accepted). [`CryptoError::Malformed`] if it does not parse, [`CryptoError::AuthFailed`]
    /// if C3 does not match (wrong key or tampering).
    pub fn decrypt(&self, c1c3c2: &[u8]) -> CryptoResult<Vec<u8>> {
        let cipher: Cipher<'_> = Cipher::from_slice(c1c3c2, Mode::C1C3C2).map_err(|_| CryptoError::Malformed)?;
        self.decrypting_key().decrypt_cipher(&cipher).map_err(|_| CryptoError::AuthFailed)
    }

    /// Decrypts the DER `SM2Cipher ::= SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING,
    /// ciphertext OCTET STRING }` form (GM/T 0009, as produced by OpenSSL/GmSSL).
    pub fn decrypt_der(&self, der: &[u8]) -> CryptoResult<Vec<u8>> {
        let cipher: Cipher<'_> = Cipher::from_der(der).map_err(|_| CryptoError::Malformed)?;
        self.decrypting_key().decrypt_cipher(&cipher).map_err(|_| CryptoError::AuthFailed)
    }

    /// Ciphertext produced by npm sm-crypto `sm2.doEncrypt(msg, pubHex, 1)` (C1C3C2, hex, WITHOUT
    /// the 04 prefix); also accept it with the prefix.
    ///
    /// Surrounding whitespace is ignored and hex may be upper or lower case. When the text starts
    /// with `04` it is first tried as prefixed, then as unprefixed (an unprefixed C1 whose x
    /// coordinate starts with byte `04` happens once in 256). Only C1C3C2 (`cipherMode = 1`) is
    /// supported; sm-crypto's legacy C1C2C3 mode (`0`) is not.
    pub fn decrypt_sm_crypto_hex(&self, hex_ct: &str) -> CryptoResult<Vec<u8>> {
        let raw = hex::decode(hex_ct.trim()).map_err(|_| CryptoError::Malformed)?;
        if raw.first() == Some(&0x04) {
            if let Ok(pt) = self.decrypt(&raw) {
                return Ok(pt);
            }
        }
        let mut prefixed = Vec::with_capacity(raw.len() + 1);
        prefixed.push(0x04);
        prefixed.extend_from_slice(&raw);
        self.decrypt(&prefixed)
    }
}

/// Verifies an SM2 signature `sig` (`r || s`, 64 bytes) over `msg` with `Z_A` computed over `id`.
/// Returns `false` on any malformed input (bad public key, wrong signature length, r or s out of
/// range, over-long id).
pub fn sm2_verify(public_key_sec1: &[u8], id: &str, msg: &[u8], sig: &[u8]) -> bool {
    let Ok(vk) = VerifyingKey::from_sec1_bytes(id, public_key_sec1) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(sig) else {
        return false;
    };
    vk.verify(msg, &sig).is_ok()
}

/// Encrypts `msg` to the SEC1 public key (uncompressed or compressed). Returns raw C1C3C2 with the
/// `04` prefix on C1. [`CryptoError::BadKey`] for an invalid public key; [`CryptoError::Malformed`]
/// for an empty message (SM2 encryption is undefined for a zero-length message).
pub fn sm2_encrypt(public_key_sec1: &[u8], msg: &[u8]) -> CryptoResult<Vec<u8>> {
    let ek = EncryptingKey::from_sec1_bytes(public_key_sec1).map_err(|_| CryptoError::BadKey("invalid SM2 public key".into()))?;
    if msg.is_empty() {
        return Err(CryptoError::Malformed);
    }
    ek.encrypt(&mut SysRng, msg).map_err(|_| CryptoError::Provider("SM2 encryption failed (system RNG error)".into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    const DA: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
    const PA: &str = "0409F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
    const R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
    const S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";
    const DER_CT: &str = "307c022004EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73022100E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0042059983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766041321886CA989CA9C7D58087307CA93092D651EFA";

    fn std_key() -> Sm2KeyPair {
        Sm2KeyPair::from_secret_bytes(&hex::decode(DA).unwrap()).unwrap()
    }

    #[test]
    fn public_key_from_standard_secret() {
        let kp = std_key();
        assert_eq!(kp.public_key_hex(), PA.to_lowercase());
        assert_eq!(kp.public_key().len(), 65);
        assert_eq!(kp.public_key()[0], 0x04);
        assert_eq!(hex::encode_upper(&*kp.secret_bytes()), DA);
    }

    #[test]
    fn verify_standard_signature() {
        let pa = hex::decode(PA).unwrap();
        let sig = hex::decode(format!("{R}{S}")).unwrap();
        assert!(sm2_verify(&pa, DEFAULT_SM2_ID, b"message digest", &sig));
        assert!(!sm2_verify(&pa, DEFAULT_SM2_ID, b"message digesu", &sig));
        assert!(!sm2_verify(&pa, "1234567812345679", b"message digest", &sig));
        let mut bad = sig.clone();
        bad[63] ^= 1;
        assert!(!sm2_verify(&pa, DEFAULT_SM2_ID, b"message digest", &bad));
        // Malformed inputs are just `false`.
        assert!(!sm2_verify(&pa, DEFAULT_SM2_ID, b"message digest", &sig[..63]));
        assert!(!sm2_verify(&pa, DEFAULT_SM2_ID, b"message digest", &[0u8; 64]));
        assert!(!sm2_verify(&pa, DEFAULT_SM2_ID, b"message digest", &[0xffu8; 64]));
        assert!(!sm2_verify(&pa[..64], DEFAULT_SM2_ID, b"message digest", &sig));
        assert!(!sm2_verify(b"", DEFAULT_SM2_ID, b"message digest", &sig));
        let long_id = "x".repeat(9000);
        assert!(!sm2_verify(&pa, &long_id, b"message digest", &sig));
    }

    #[test]
    fn sign_verify_round_trip() {
        let kp = Sm2KeyPair::generate();
        let pk = kp.public_key();
        let sig = kp.sign(DEFAULT_SM2_ID, b"approve #42");
        assert!(sm2_verify(&pk, DEFAULT_SM2_ID, b"approve #42", &sig));
        assert!(!sm2_verify(&pk, DEFAULT_SM2_ID, b"approve #43", &sig));
        assert!(!sm2_verify(&pk, "alice@tongguan", b"approve #42", &sig));
        let sig2 = kp.sign("alice@tongguan", b"approve #42");
        assert!(sm2_verify(&pk, "alice@tongguan", b"approve #42", &sig2));
        // The standard key signs too, and the signature verifies against PA.
        let std = std_key();
        let s = std.sign(DEFAULT_SM2_ID, b"message digest");
        assert!(sm2_verify(&hex::decode(PA).unwrap(), DEFAULT_SM2_ID, b"message digest", &s));
        assert!(kp.try_sign(&"x".repeat(9000), b"m").is_err());
    }

    #[test]
    fn debug_hides_secret() {
        let kp = std_key();
        let dbg = format!("{kp:?}");
        assert!(dbg.contains(&PA.to_lowercase()));
        assert!(!dbg.to_lowercase().contains(&DA.to_lowercase()));
    }

    #[test]
    fn bad_secret_keys() {
        assert!(Sm2KeyPair::from_secret_bytes(&[0u8; 32]).is_err());
        assert!(Sm2KeyPair::from_secret_bytes(&[0xffu8; 32]).is_err());
        assert!(Sm2KeyPair::from_secret_bytes(&[1u8; 31]).is_err());
        assert!(Sm2KeyPair::from_secret_bytes(&[1u8; 33]).is_err());
        let kp = Sm2KeyPair::generate();
        let again = Sm2KeyPair::from_secret_bytes(&kp.secret_bytes()).unwrap();
        assert_eq!(again.public_key(), kp.public_key());
    }

    #[test]
    fn decrypt_standard_der_ciphertext() {
        let kp = std_key();
        let der = hex::decode(DER_CT).unwrap();
        assert_eq!(kp.decrypt_der(&der).unwrap(), b"encryption standard");
        let mut bad = der.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(kp.decrypt_der(&bad), Err(CryptoError::AuthFailed)));
        assert!(matches!(kp.decrypt_der(&der[..40]), Err(CryptoError::Malformed)));
        assert!(matches!(kp.decrypt_der(b""), Err(CryptoError::Malformed)));
        // Another key: C3 mismatch.
        assert!(matches!(Sm2KeyPair::generate().decrypt_der(&der), Err(CryptoError::AuthFailed)));
    }

    #[test]
    fn raw_encrypt_decrypt_round_trip() {
        let kp = Sm2KeyPair::generate();
        let msg = "{\"username\":\"张三\",\"password\":\"P@ssw0rd!\"}".as_bytes();
        let ct = sm2_encrypt(&kp.public_key(), msg).unwrap();
        assert_eq!(ct.len(), 65 + 32 + msg.len());
        assert_eq!(ct[0], 0x04);
        assert_eq!(kp.decrypt(&ct).unwrap(), msg);
        // Fresh randomness per encryption.
        assert_ne!(sm2_encrypt(&kp.public_key(), msg).unwrap(), ct);
        // Tampering with C3 or C2: AuthFailed; truncation / garbage: Malformed.
        let mut bad = ct.clone();
        bad[70] ^= 1;
        assert!(matches!(kp.decrypt(&bad), Err(CryptoError::AuthFailed)));
        let mut bad = ct.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(kp.decrypt(&bad), Err(CryptoError::AuthFailed)));
        assert!(matches!(kp.decrypt(&ct[..90]), Err(CryptoError::Malformed)));
        assert!(matches!(kp.decrypt(b""), Err(CryptoError::Malformed)));
        let mut bad = ct.clone();
        bad[5] ^= 1; // C1 no longer on the curve
        assert!(kp.decrypt(&bad).is_err());
        // Wrong key.
        assert!(Sm2KeyPair::generate().decrypt(&ct).is_err());
        // Bad public key / empty message.
        assert!(matches!(sm2_encrypt(&[4u8; 65], msg), Err(CryptoError::BadKey(_))));
        assert!(matches!(sm2_encrypt(&kp.public_key(), b""), Err(CryptoError::Malformed)));
    }

    #[test]
    fn sm_crypto_compatibility() {
        let kp = Sm2KeyPair::generate();
        let msg = b"{\"password\":\"hunter2\",\"nonce\":\"c0ffee\"}";
        let ct = sm2_encrypt(&kp.public_key(), msg).unwrap();
        // What sm-crypto's doEncrypt(msg, pubHex, 1) returns: lower-case hex without the 04.
        let sm_crypto = hex::encode(&ct[1..]);
        assert_eq!(kp.decrypt_sm_crypto_hex(&sm_crypto).unwrap(), msg);
        // With the prefix, upper case, surrounding whitespace.
        assert_eq!(kp.decrypt_sm_crypto_hex(&hex::encode(&ct)).unwrap(), msg);
        assert_eq!(kp.decrypt_sm_crypto_hex(&format!(" {}\n", hex::encode_upper(&ct[1..]))).unwrap(), msg);
        // Garbage: errors, never panics.
        for g in ["", "0", "04", "zz", "0404", &"00".repeat(200), &sm_crypto[..sm_crypto.len() - 1]] {
            assert!(kp.decrypt_sm_crypto_hex(g).is_err(), "{g:?}");
        }
        let mut tampered = sm_crypto.into_bytes();
        let i = tampered.len() - 1;
        tampered[i] = if tampered[i] == b'0' { b'1' } else { b'0' };
        assert!(kp.decrypt_sm_crypto_hex(std::str::from_utf8(&tampered).unwrap()).is_err());
    }

    #[test]
    fn sm_crypto_unprefixed_c1_starting_with_04() {
        // About one ciphertext in 256 has an x1 whose first byte is 0x04; without the prefix its
        // hex then starts with "04" as well and must still decrypt.
        let kp = Sm2KeyPair::generate();
        let pk = kp.public_key();
        let ct = (0..20_000)
            .map(|_| sm2_encrypt(&pk, b"edge").unwrap())
            .find(|c| c[1] == 0x04)
            .expect("no x1 starting with 0x04 in 20000 tries");
        let hex_ct = hex::encode(&ct[1..]);
        assert!(hex_ct.starts_with("04"));
        assert_eq!(kp.decrypt_sm_crypto_hex(&hex_ct).unwrap(), b"edge");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn sm_crypto_decrypt_never_panics(s in "[0-9a-fA-F]{0,400}") {
            let kp = std_key();
            let _ = kp.decrypt_sm_crypto_hex(&s);
            let _ = kp.decrypt_sm_crypto_hex(&format!("04{s}"));
        }

        #[test]
        fn raw_decrypt_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let kp = std_key();
            let _ = kp.decrypt(&b);
            let _ = kp.decrypt_der(&b);
            let mut p = vec![0x04u8];
            p.extend_from_slice(&b);
            let _ = kp.decrypt(&p);
        }
    }
}
