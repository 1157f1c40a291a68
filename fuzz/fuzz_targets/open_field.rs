//! Fuzzes the field-encryption envelope parser (`v{version}.hex(nonce || SM4-GCM ct || tag)`):
//! `open_field` and `field_key_version` must never panic on arbitrary strings, and nothing but a
//! genuine sealed value may ever open.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tg_crypto::{field_key_version, open_field, seal_field, DataKey};

const AAD: &[u8] = b"fuzz.field#1";

fuzz_target!(|data: &[u8]| {
    let key = DataKey::new(1, [0x42; 16]);
    let text = String::from_utf8_lossy(data);
    for candidate in [text.to_string(), format!("v1.{text}")] {
        let _ = field_key_version(&candidate);
        if let Ok(plaintext) = open_field(&key, AAD, &candidate) {
            // Forging an SM4-GCM tag by chance is not expected; if it ever opens, the value must
            // at least round-trip.
            let resealed = seal_field(&key, AAD, &plaintext);
            assert_eq!(open_field(&key, AAD, &resealed).ok(), Some(plaintext));
        }
    }
});
