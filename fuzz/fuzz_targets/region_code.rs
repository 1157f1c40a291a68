//! Fuzzes region-code parsing: never panics; an accepted code round-trips and its subtree range
//! contains it and its descendants' prefix.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tg_kernel::RegionCode;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(code) = RegionCode::parse(&s) {
        assert_eq!(RegionCode::parse(code.as_str()).ok().as_ref(), Some(&code));
        let (lo, hi) = code.subtree_bounds();
        assert!(lo.as_str() <= code.as_str() && code.as_str() < hi.as_str());
        assert!(code.contains(&code));
        if let Some(p) = code.parent() {
            assert!(p.contains(&code));
        }
    }
});
