//! Paging: every list in Tongguan is paged, with a hard upper bound on the page size.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 500;

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    pub page: Option<u32>,
    /// Rows per page (default 20, at most 500).
    pub page_size: Option<u32>,
}

impl PageQuery {
    pub fn new(page: u32, page_size: u32) -> Self {
        Self { page: Some(page), page_size: Some(page_size) }
    }
    pub fn page(&self) -> u32 {
        self.page.unwrap_or(1).max(1)
    }
    pub fn page_size(&self) -> u32 {
        self.page_size_or(DEFAULT_PAGE_SIZE)
    }
    pub fn page_size_or(&self, default: u32) -> u32 {
        self.page_size.unwrap_or(default).clamp(1, MAX_PAGE_SIZE)
    }
    /// `(limit, offset)` for SQL, as `i64` so it binds identically on every engine.
    pub fn limit_offset(&self) -> (i64, i64) {
        self.limit_offset_with(self.page_size())
    }
    pub fn limit_offset_with(&self, size: u32) -> (i64, i64) {
        let size = i64::from(size);
        (size, (i64::from(self.page()) - 1) * size)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Rows matching the filter; when `capped` is true there are at least this many (shown as "10,000+").
    pub total: i64,
    pub page: u32,
    pub page_size: u32,
    /// The count stopped at its cap (`total` is a lower bound), so counting a huge result stays cheap.
    #[serde(default)]
    pub capped: bool,
}

/// The largest exact count a long list computes: beyond it the list says "10,000+" (narrow the filter).
pub const COUNT_CAP: i64 = 10_000;

impl<T> Page<T> {
    pub fn new(items: Vec<T>, total: i64, q: &PageQuery) -> Self {
        Self { items, total, page: q.page(), page_size: q.page_size(), capped: false }
    }
    /// A page whose count ran with `LIMIT COUNT_CAP + 1`: a count above the cap is reported as the cap.
    pub fn capped(items: Vec<T>, counted: i64, q: &PageQuery) -> Self {
        let capped = counted > COUNT_CAP;
        Self { items, total: counted.min(COUNT_CAP), page: q.page(), page_size: q.page_size(), capped }
    }
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            page: self.page,
            page_size: self.page_size,
            capped: self.capped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        let q = PageQuery { page: None, page_size: None };
        assert_eq!(q.limit_offset(), (20, 0));
        let q = PageQuery { page: Some(0), page_size: Some(100_000) };
        assert_eq!(q.limit_offset(), (500, 0));
        let q = PageQuery { page: Some(3), page_size: Some(10) };
        assert_eq!(q.limit_offset(), (10, 20));
    }
}
