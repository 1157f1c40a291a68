//! PBKDF2-HMAC-SM3 password verifiers (the primitives live in `tg-crypto`, with their standard vectors).

pub use tg_crypto::{constant_time_eq, hmac_sm3, pbkdf2_sm3, random_bytes, random_token, sm3, sm3_hex};

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
