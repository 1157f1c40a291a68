//! SM3-based primitives used by accounts and the audit chain: SM3 (GB/T 32905), HMAC-SM3,
//! PBKDF2-HMAC-SM3 password verifiers, random tokens and constant-time comparison.

use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sm3::{Digest, Sm3};

type HmacSm3 = Hmac<Sm3>;

pub fn sm3(data: &[u8]) -> [u8; 32] {
    Sm3::digest(data).into()
}

pub fn sm3_hex(data: &[u8]) -> String {
    hex::encode(sm3(data))
}

pub fn hmac_sm3(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSm3 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

pub fn pbkdf2_sm3(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sm3>(password, salt, iterations, &mut out);
    out
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rng().fill_bytes(&mut b);
    b
}

/// A fresh 256-bit secret, hex-encoded (session tokens, one-time passwords' entropy).
pub fn random_token() -> String {
    hex::encode(random_bytes::<32>())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const SCHEME: &str = "pbkdf2-sm3";

/// Password verifier `pbkdf2-sm3$<iterations>$<salt hex>$<derived key hex>` with a 16-byte random salt.
pub fn hash_password(password: &str, iterations: u32) -> String {
    let salt = random_bytes::<16>();
    let dk = pbkdf2_sm3(password.as_bytes(), &salt, iterations);
    format!("{SCHEME}${iterations}${}${}", hex::encode(salt), hex::encode(dk))
}

/// Checks a password against a stored verifier. Malformed verifiers never match.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let mut it = stored.split('$');
    let (Some(SCHEME), Some(iter), Some(salt), Some(dk), None) = (it.next(), it.next(), it.next(), it.next(), it.next()) else {
        return false;
    };
    let (Ok(iter), Ok(salt), Ok(dk)) = (iter.parse::<u32>(), hex::decode(salt), hex::decode(dk)) else {
        return false;
    };
    if iter == 0 || dk.len() != 32 {
        return false;
    }
    constant_time_eq(&pbkdf2_sm3(password.as_bytes(), &salt, iter), &dk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm3_standard_vectors() {
        // GB/T 32905-2016 Appendix A.1 and A.2.
        assert_eq!(sm3_hex(b"abc"), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
        let m = b"abcd".repeat(16);
        assert_eq!(sm3_hex(&m), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
    }

    #[test]
    fn hmac_sm3_regression_vector() {
        let mac = hmac_sm3(b"Jefe", &[b"what do ya ", b"want for nothing?"]);
        assert_eq!(hex::encode(mac), "2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882");
    }

    #[test]
    fn pbkdf2_sm3_regression_vector() {
        let dk = pbkdf2_sm3(b"password", b"salt-salt-salt-1", 1000);
        assert_eq!(hex::encode(dk), "b831cc3a153c6ae342b336b2540da7d86e17acc0e65a312bac3950205d77f86b");
    }

    #[test]
    fn password_verifier_round_trip() {
        let a = hash_password("Secret@123", 1000);
        let b = hash_password("Secret@123", 1000);
        assert_ne!(a, b, "salts must differ");
        assert!(verify_password("Secret@123", &a));
        assert!(!verify_password("Secret@124", &a));
        assert!(!verify_password("Secret@123", "pbkdf2-sm3$1000$zz$00"));
        assert!(!verify_password("Secret@123", ""));
        assert!(!verify_password("Secret@123", &format!("{a}$extra")));
    }
}
