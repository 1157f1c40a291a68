//! Fixed-window rate limits for login attempts, per client IP and per account (HTTP 429).
//! Time comes from the injected clock, so tests move time instead of sleeping.

use std::collections::HashMap;
use std::sync::Mutex;

const WINDOW_MS: i64 = 60_000;
const STUFFING_WINDOW_MS: i64 = 10 * 60_000;
/// Distinct accounts failing from one source within ten minutes that raise a credential-stuffing alert.
pub const STUFFING_ACCOUNTS: usize = 10;

#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, (i64, i64)>>,
    failures: Mutex<HashMap<String, Vec<(i64, String)>>>,
}

impl RateLimiter {
    /// Counts one event for `key`; returns how many happened in the last ten minutes.
    pub fn events(&self, key: &str, now_ms: i64) -> usize {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let list = f.entry(format!("ev:{key}")).or_default();
        list.retain(|(t, _)| now_ms - t < STUFFING_WINDOW_MS);
        list.push((now_ms, String::new()));
        list.len()
    }

    /// Records a failed login of `account` from `source`; returns how many distinct accounts failed
    /// from that source in the last ten minutes.
    pub fn distinct_failures(&self, source: &str, account: &str, now_ms: i64) -> usize {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if f.len() > 10_000 {
            f.retain(|_, v| v.iter().any(|(t, _)| now_ms - t < STUFFING_WINDOW_MS));
        }
        let list = f.entry(source.to_owned()).or_default();
        list.retain(|(t, _)| now_ms - t < STUFFING_WINDOW_MS);
        if !list.iter().any(|(_, a)| a == account) {
            list.push((now_ms, account.to_owned()));
        }
        list.len()
    }

    /// Counts one attempt for `key`; false when `limit` attempts already happened in this minute.
    /// A limit of 0 means unlimited.
    pub fn hit(&self, key: &str, limit: i64, now_ms: i64) -> bool {
        if limit <= 0 {
            return true;
        }
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() > 100_000 {
            b.retain(|_, (start, _)| now_ms - *start < WINDOW_MS);
        }
        let e = b.entry(key.to_owned()).or_insert((now_ms, 0));
        if now_ms - e.0 >= WINDOW_MS {
            *e = (now_ms, 0);
        }
        e.1 += 1;
        e.1 <= limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_resets_after_a_minute() {
        let r = RateLimiter::default();
        assert!(r.hit("ip:1", 2, 0));
        assert!(r.hit("ip:1", 2, 10));
        assert!(!r.hit("ip:1", 2, 20));
        assert!(r.hit("ip:2", 2, 20));
        assert!(r.hit("ip:1", 2, 60_000));
        assert!(r.hit("x", 0, 0));
    }

    #[test]
    fn distinct_accounts_per_source() {
        let r = RateLimiter::default();
        assert_eq!(r.distinct_failures("1.1.1.1", "a", 0), 1);
        assert_eq!(r.distinct_failures("1.1.1.1", "a", 1), 1);
        assert_eq!(r.distinct_failures("1.1.1.1", "b", 2), 2);
        assert_eq!(r.distinct_failures("2.2.2.2", "b", 2), 1);
        assert_eq!(r.distinct_failures("1.1.1.1", "c", STUFFING_WINDOW_MS + 5), 1);
    }
}
