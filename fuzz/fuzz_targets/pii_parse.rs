//! Fuzzes the personal-data parsers and maskers: parsing never panics, a parsed value's masked form
//! never contains the clear value, masking is idempotent, and `scrub_text` leaves no raw ID or mobile.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tg_kernel::pii::{self, Address, BankCardNo, Email, IdCardNo, PersonName, Phone};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(v) = IdCardNo::parse(&s) {
        assert!(!v.masked().contains(v.expose()));
        assert_eq!(pii::mask_id_card(&v.masked()), v.masked());
    }
    if let Ok(v) = Phone::parse(&s) {
        assert!(!v.masked().contains(v.expose()));
    }
    let _ = PersonName::parse(&s).map(|v| v.masked());
    let _ = Address::parse(&s).map(|v| v.masked());
    let _ = BankCardNo::parse(&s).map(|v| v.masked());
    let _ = Email::parse(&s).map(|v| v.masked());
    for m in [pii::mask_name(&s), pii::mask_address(&s), pii::mask_phone(&s), pii::mask_id_card(&s)] {
        assert_eq!(m.chars().count(), s.chars().count());
    }
    assert!(!pii::contains_raw_pii(&pii::scrub_text(&s)));
});
