//! Statistical periods (统计期): year `2025`, quarter `2025Q3`, month `2025-10` and day `2025-10-03`.
//! Within one frequency the text form sorts in time order, so periods are stored as text.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How often an indicator is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Day,
    Month,
    Quarter,
    Year,
}

impl Frequency {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "day" => Self::Day,
            "month" => Self::Month,
            "quarter" => Self::Quarter,
            "year" => Self::Year,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Month => "month",
            Self::Quarter => "quarter",
            Self::Year => "year",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Day => "日",
            Self::Month => "月",
            Self::Quarter => "季",
            Self::Year => "年",
        }
    }
    /// The example shown in error messages.
    pub fn example(self) -> &'static str {
        match self {
            Self::Day => "2025-10-03",
            Self::Month => "2025-10",
            Self::Quarter => "2025Q3",
            Self::Year => "2025",
        }
    }
}

/// One period of a known frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    Year(i32),
    Quarter(i32, u8),
    Month(i32, u8),
    Day(i32, u8, u8),
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

impl Period {
    /// Parses any of the four forms (years 1900-2999).
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let t = s.get(r)?;
            if t.bytes().all(|c| c.is_ascii_digit()) {
                t.parse().ok()
            } else {
                None
            }
        };
        let year = num(0..4)? as i32;
        if !(1900..=2999).contains(&year) {
            return None;
        }
        match b.len() {
            4 => Some(Self::Year(year)),
            6 if b[4] == b'Q' => {
                let q = num(5..6)? as u8;
                (1..=4).contains(&q).then_some(Self::Quarter(year, q))
            }
            7 if b[4] == b'-' => {
                let m = num(5..7)? as u8;
                (1..=12).contains(&m).then_some(Self::Month(year, m))
            }
            10 if b[4] == b'-' && b[7] == b'-' => {
                let m = num(5..7)? as u8;
                let d = num(8..10)? as u8;
                ((1..=12).contains(&m) && d >= 1 && d <= days_in_month(year, m)).then_some(Self::Day(year, m, d))
            }
            _ => None,
        }
    }

    /// Parses and checks the frequency.
    pub fn parse_as(s: &str, f: Frequency) -> Option<Self> {
        Self::parse(s).filter(|p| p.frequency() == f)
    }

    pub fn frequency(self) -> Frequency {
        match self {
            Self::Year(_) => Frequency::Year,
            Self::Quarter(..) => Frequency::Quarter,
            Self::Month(..) => Frequency::Month,
            Self::Day(..) => Frequency::Day,
        }
    }

    pub fn year(self) -> i32 {
        match self {
            Self::Year(y) | Self::Quarter(y, _) | Self::Month(y, _) | Self::Day(y, _, _) => y,
        }
    }

    /// The same period one year earlier (29 February maps to 28 February).
    pub fn year_ago(self) -> Self {
        match self {
            Self::Year(y) => Self::Year(y - 1),
            Self::Quarter(y, q) => Self::Quarter(y - 1, q),
            Self::Month(y, m) => Self::Month(y - 1, m),
            Self::Day(y, m, d) => Self::Day(y - 1, m, d.min(days_in_month(y - 1, m))),
        }
    }

    /// The previous period of the same frequency.
    pub fn prev(self) -> Self {
        match self {
            Self::Year(y) => Self::Year(y - 1),
            Self::Quarter(y, 1) => Self::Quarter(y - 1, 4),
            Self::Quarter(y, q) => Self::Quarter(y, q - 1),
            Self::Month(y, 1) => Self::Month(y - 1, 12),
            Self::Month(y, m) => Self::Month(y, m - 1),
            Self::Day(y, 1, 1) => Self::Day(y - 1, 12, 31),
            Self::Day(y, m, 1) => Self::Day(y, m - 1, days_in_month(y, m - 1)),
            Self::Day(y, m, d) => Self::Day(y, m, d - 1),
        }
    }

    /// The next period of the same frequency.
    pub fn next(self) -> Self {
        match self {
            Self::Year(y) => Self::Year(y + 1),
            Self::Quarter(y, 4) => Self::Quarter(y + 1, 1),
            Self::Quarter(y, q) => Self::Quarter(y, q + 1),
            Self::Month(y, 12) => Self::Month(y + 1, 1),
            Self::Month(y, m) => Self::Month(y, m + 1),
            Self::Day(y, 12, 31) => Self::Day(y + 1, 1, 1),
            Self::Day(y, m, d) if d == days_in_month(y, m) => Self::Day(y, m + 1, 1),
            Self::Day(y, m, d) => Self::Day(y, m, d + 1),
        }
    }

    /// The first period of the same year and frequency (for 累计, year to date).
    pub fn year_start(self) -> Self {
        match self {
            Self::Year(y) => Self::Year(y),
            Self::Quarter(y, _) => Self::Quarter(y, 1),
            Self::Month(y, _) => Self::Month(y, 1),
            Self::Day(y, _, _) => Self::Day(y, 1, 1),
        }
    }

    /// The last day of the period as `YYYY-MM-DD` (compares periods of different frequencies).
    pub fn end_date(self) -> String {
        let (y, m, d) = match self {
            Self::Year(y) => (y, 12, 31),
            Self::Quarter(y, q) => (y, q * 3, days_in_month(y, q * 3)),
            Self::Month(y, m) => (y, m, days_in_month(y, m)),
            Self::Day(y, m, d) => (y, m, d),
        };
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// The period of frequency `f` that contains the last day of `self`.
    pub fn convert(self, f: Frequency) -> Self {
        let e = self.end_date();
        let y: i32 = e[0..4].parse().unwrap_or(2000);
        let m: u8 = e[5..7].parse().unwrap_or(1);
        let d: u8 = e[8..10].parse().unwrap_or(1);
        match f {
            Frequency::Year => Self::Year(y),
            Frequency::Quarter => Self::Quarter(y, m.div_ceil(3)),
            Frequency::Month => Self::Month(y, m),
            Frequency::Day => Self::Day(y, m, d),
        }
    }

    /// Chinese label: 2025年, 2025年第3季度, 2025年10月, 2025年10月3日.
    pub fn label(self) -> String {
        match self {
            Self::Year(y) => format!("{y}年"),
            Self::Quarter(y, q) => format!("{y}年第{q}季度"),
            Self::Month(y, m) => format!("{y}年{m}月"),
            Self::Day(y, m, d) => format!("{y}年{m}月{d}日"),
        }
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::Year(y) => write!(f, "{y:04}"),
            Self::Quarter(y, q) => write!(f, "{y:04}Q{q}"),
            Self::Month(y, m) => write!(f, "{y:04}-{m:02}"),
            Self::Day(y, m, d) => write!(f, "{y:04}-{m:02}-{d:02}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format_round_trip() {
        for s in ["2025", "2025Q3", "2025-10", "2024-02-29"] {
            assert_eq!(Period::parse(s).unwrap().to_string(), s);
        }
        for bad in ["25", "2025Q5", "2025-13", "2025-02-29", "2025-1", "20a5", "2025/10", "1899", ""] {
            assert!(Period::parse(bad).is_none(), "{bad}");
        }
        assert!(Period::parse_as("2025-10", Frequency::Quarter).is_none());
    }

    #[test]
    fn neighbours() {
        let p = |s| Period::parse(s).unwrap();
        assert_eq!(p("2025-01").prev(), p("2024-12"));
        assert_eq!(p("2025Q1").prev(), p("2024Q4"));
        assert_eq!(p("2025-03-01").prev(), p("2025-02-28"));
        assert_eq!(p("2024-03-01").prev(), p("2024-02-29"));
        assert_eq!(p("2024-12-31").next(), p("2025-01-01"));
        assert_eq!(p("2024-02-29").year_ago(), p("2023-02-28"));
        assert_eq!(p("2025-10").year_start(), p("2025-01"));
        assert_eq!(p("2025-11").convert(Frequency::Quarter), p("2025Q4"));
        assert_eq!(p("2025Q2").end_date(), "2025-06-30");
        assert!(p("2025-10") < p("2025-11"));
    }
}
