//! Counters over time for the login rate limits (HTTP 429) and the intrusion rules. Every structure is
//! bounded: per key at most a fixed number of timestamps, and keys expire, so sustained load or an
//! attacker spraying usernames costs constant work per request. Time comes from the injected clock, so
//! tests move time instead of sleeping.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

const WINDOW_MS: i64 = 60_000;
/// The window of the intrusion rules.
pub const RULE_WINDOW_MS: i64 = 10 * 60_000;
/// Distinct accounts failing from one source within the rule window that raise a credential-stuffing alert.
pub const STUFFING_ACCOUNTS: usize = 10;
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Default)]
struct Window {
    /// Timestamps (and, for distinct counting, the item) inside the window, oldest first; capped.
    seen: VecDeque<(i64, String)>,
    /// When this key last raised an alert (one alert per key per window).
    alerted_at: Option<i64>,
}

impl Window {
    fn prune(&mut self, now_ms: i64, window: i64) {
        while self.seen.front().is_some_and(|(t, _)| now_ms - t >= window) {
            self.seen.pop_front();
        }
    }
    /// True when the count reached `threshold` and no alert was raised for this key in the window.
    fn should_alert(&mut self, threshold: usize, now_ms: i64, window: i64) -> bool {
        if self.seen.len() >= threshold && self.alerted_at.is_none_or(|a| now_ms - a >= window) {
            self.alerted_at = Some(now_ms);
            return true;
        }
        false
    }
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, (i64, i64)>>,
    windows: Mutex<HashMap<String, Window>>,
}

impl RateLimiter {
    /// Counts one attempt for `key`; false when `limit` attempts already happened in this minute.
    /// A limit of 0 means unlimited.
    pub fn hit(&self, key: &str, limit: i64, now_ms: i64) -> bool {
        if limit <= 0 {
            return true;
        }
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if b.len() > MAX_KEYS {
            b.retain(|_, (start, _)| now_ms - *start < WINDOW_MS);
        }
        let e = b.entry(key.to_owned()).or_insert((now_ms, 0));
        if now_ms - e.0 >= WINDOW_MS {
            *e = (now_ms, 0);
        }
        e.1 += 1;
        e.1 <= limit
    }

    fn window<R>(&self, key: &str, now_ms: i64, f: impl FnOnce(&mut Window) -> R) -> R {
        let mut w = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if w.len() > MAX_KEYS {
            w.retain(|_, v| v.seen.back().is_some_and(|(t, _)| now_ms - t < RULE_WINDOW_MS));
        }
        let entry = w.entry(key.to_owned()).or_default();
        entry.prune(now_ms, RULE_WINDOW_MS);
        f(entry)
    }

    /// A failed login of `account` from `source`: true once per window when `threshold` distinct
    /// accounts failed from that source within it (credential stuffing).
    pub fn distinct_failures(&self, source: &str, account: &str, threshold: usize, now_ms: i64) -> bool {
        self.window(&format!("src:{source}"), now_ms, |w| {
            if !w.seen.iter().any(|(_, a)| a == account) {
                w.seen.push_back((now_ms, account.to_owned()));
                if w.seen.len() > threshold {
                    w.seen.pop_front();
                }
            }
            w.should_alert(threshold, now_ms, RULE_WINDOW_MS)
        })
    }

    /// One event for `key`: true once per window when `threshold` events happened within it.
    pub fn events(&self, key: &str, threshold: usize, now_ms: i64) -> bool {
        self.window(&format!("ev:{key}"), now_ms, |w| {
            w.seen.push_back((now_ms, String::new()));
            if w.seen.len() > threshold {
                w.seen.pop_front();
            }
            w.should_alert(threshold, now_ms, RULE_WINDOW_MS)
        })
    }

    /// True for the first call per `key` in every `period_ms` (alert de-duplication).
    pub fn once_per(&self, key: &str, period_ms: i64, now_ms: i64) -> bool {
        self.window(&format!("once:{key}"), now_ms, |w| w.should_alert(0, now_ms, period_ms))
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
    fn distinct_accounts_alert_once_per_window() {
        let r = RateLimiter::default();
        for (i, a) in ["a", "a", "b"].iter().enumerate() {
            assert!(!r.distinct_failures("1.1.1.1", a, 3, i as i64));
        }
        assert!(!r.distinct_failures("2.2.2.2", "c", 3, 3), "other sources count apart");
        assert!(r.distinct_failures("1.1.1.1", "c", 3, 4), "third distinct account alerts");
        assert!(!r.distinct_failures("1.1.1.1", "d", 3, 5), "once per window");
        assert!(!r.distinct_failures("1.1.1.1", "e", 3, RULE_WINDOW_MS + 3), "old failures expired");
    }

    #[test]
    fn events_are_bounded_and_alert_once() {
        let r = RateLimiter::default();
        let fired: usize = (0..100_000).filter(|i| r.events("k", 5, *i)).count();
        assert_eq!(fired, 1);
        assert!(r.once_per("x", 1000, 0));
        assert!(!r.once_per("x", 1000, 999));
        assert!(r.once_per("x", 1000, 1000));
    }
}
