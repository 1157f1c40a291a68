//! Fuzzes SM2 decryption of browser ciphertexts (npm sm-crypto, C1C3C2 hex with or without the
//! `04` prefix) and of raw / DER ciphertexts: arbitrary input must yield an error, never a panic.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tg_crypto::Sm2KeyPair;

/// GB/T 32918 example private key dA.
const DA: [u8; 32] = [
    0x39, 0x45, 0x20, 0x8F, 0x7B, 0x21, 0x44, 0xB1, 0x3F, 0x36, 0xE3, 0x8A, 0xC6, 0xD3, 0x9F, 0x95, 0x88, 0x93, 0x93, 0x69, 0x28, 0x60,
    0xB5, 0x1A, 0x42, 0xFB, 0x81, 0xEF, 0x4D, 0xF7, 0xC5, 0xB8,
];

fn key() -> &'static Sm2KeyPair {
    static KEY: OnceLock<Sm2KeyPair> = OnceLock::new();
    KEY.get_or_init(|| Sm2KeyPair::from_secret_bytes(&DA).expect("valid standard key"))
}

fn to_hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let kp = key();
    // The input as text (arbitrary, mostly invalid hex) ...
    let _ = kp.decrypt_sm_crypto_hex(&String::from_utf8_lossy(data));
    // ... and as bytes turned into valid hex, unprefixed and prefixed, to reach the SM2 parser.
    let hex = to_hex(data);
    let _ = kp.decrypt_sm_crypto_hex(&hex);
    let _ = kp.decrypt_sm_crypto_hex(&format!("04{hex}"));
    let _ = kp.decrypt(data);
    let _ = kp.decrypt_der(data);
});
