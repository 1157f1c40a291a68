//! The Chinese working-day calendar: Monday to Friday are working days, except statutory holidays;
//! make-up working days (调休上班) turn a weekend day into a working day. Only the exceptions are
//! stored, one row a day, loaded per year from the pack and editable by the system administrator.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::{Date, Duration, Month, Weekday};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// 法定节假日 (a day off, even on a weekday).
    Holiday,
    /// 调休上班 (a working day, even on a weekend).
    Workday,
}

impl DayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Holiday => "holiday",
            Self::Workday => "workday",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "holiday" => Some(Self::Holiday),
            "workday" => Some(Self::Workday),
            _ => None,
        }
    }
}

/// One exception day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CalendarDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub kind: DayKind,
    pub name: String,
}

/// A year's file in the pack (`packs/<city>/calendar/<year>.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearFile {
    pub year: i32,
    /// The notice the dates come from.
    pub source: String,
    #[serde(default)]
    pub holidays: Vec<Range>,
    #[serde(default)]
    pub workdays: Vec<Single>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub name: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Single {
    pub name: String,
    pub date: String,
}

/// A `YYYY-MM-DD` date between 1900 and 2100 (so date arithmetic can never overflow).
pub fn parse_date(s: &str) -> Option<Date> {
    let mut it = s.trim().splitn(3, '-');
    let y: i32 = it.next()?.parse().ok()?;
    if !(1900..=2100).contains(&y) {
        return None;
    }
    let m: u8 = it.next()?.parse().ok()?;
    let d: u8 = it.next()?.parse().ok()?;
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

pub fn fmt_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

impl YearFile {
    pub fn parse(text: &str) -> Result<Self, String> {
        let f: YearFile = toml::from_str(text).map_err(|e| e.to_string())?;
        f.days()?;
        Ok(f)
    }

    /// Every exception day of the file, checked: dates in the file's year, holidays ranges in order.
    pub fn days(&self) -> Result<Vec<CalendarDay>, String> {
        let mut out = Vec::new();
        let in_year = |d: Date| d.year() == self.year;
        for h in &self.holidays {
            let (Some(a), Some(b)) = (parse_date(&h.from), parse_date(&h.to)) else {
                return Err(format!("{}: bad date", h.name));
            };
            if b < a || !in_year(a) && !in_year(b) || (b - a).whole_days() > 15 {
                return Err(format!("{}: bad range {}..{}", h.name, h.from, h.to));
            }
            let mut d = a;
            while d <= b {
                out.push(CalendarDay { date: fmt_date(d), kind: DayKind::Holiday, name: h.name.clone() });
                d += Duration::days(1);
            }
        }
        for w in &self.workdays {
            let Some(d) = parse_date(&w.date) else { return Err(format!("{}: bad date {}", w.name, w.date)) };
            if !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) {
                return Err(format!("{}: {} is not a weekend day", w.name, w.date));
            }
            out.push(CalendarDay { date: fmt_date(d), kind: DayKind::Workday, name: w.name.clone() });
        }
        Ok(out)
    }
}

/// The calendar in memory.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    days: BTreeMap<Date, DayKind>,
}

impl Calendar {
    pub fn from_days<'a>(days: impl IntoIterator<Item = (&'a str, DayKind)>) -> Self {
        let mut c = Calendar::default();
        for (d, k) in days {
            if let Some(d) = parse_date(d) {
                c.days.insert(d, k);
            }
        }
        c
    }

    pub fn is_working(&self, d: Date) -> bool {
        match self.days.get(&d) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday),
        }
    }

    /// The day `n` working days after `from` (the start day itself does not count; negative `n`
    /// goes back). `n = 0` is `from` itself.
    pub fn add_working(&self, from: Date, n: i64) -> Date {
        let step = if n >= 0 { Duration::days(1) } else { Duration::days(-1) };
        let mut left = n.abs();
        let mut d = from;
        while left > 0 {
            d += step;
            if self.is_working(d) {
                left -= 1;
            }
        }
        d
    }

    /// The deadline date for a limit from `from`.
    pub fn due(&self, from: Date, days: i64, working: bool) -> Date {
        if working {
            self.add_working(from, days)
        } else {
            from + Duration::days(days)
        }
    }

    /// Working days from `a` (exclusive) to `b` (inclusive); negative when `b` is before `a`.
    pub fn working_between(&self, a: Date, b: Date) -> i64 {
        let (lo, hi, sign) = if a <= b { (a, b, 1) } else { (b, a, -1) };
        let mut n = 0;
        let mut d = lo;
        while d < hi {
            d += Duration::days(1);
            if self.is_working(d) {
                n += 1;
            }
        }
        n * sign
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    fn cal_2026() -> Calendar {
        let f = YearFile::parse(include_str!("../../../packs/yunfu/calendar/2026.toml")).unwrap();
        let days = f.days().unwrap();
        Calendar::from_days(days.iter().map(|c| (c.date.as_str(), c.kind)))
    }

    #[test]
    fn pack_years_parse() {
        for text in [include_str!("../../../packs/yunfu/calendar/2025.toml"), include_str!("../../../packs/yunfu/calendar/2026.toml")] {
            let f = YearFile::parse(text).unwrap();
            let days = f.days().unwrap();
            assert!(days.iter().filter(|c| c.kind == DayKind::Holiday).count() >= 27, "{}", f.year);
        }
    }

    #[test]
    fn national_day_and_make_up_days_2026() {
        let c = cal_2026();
        // 国庆节 10月1日至7日放假；9月20日（周日）、10月10日（周六）上班.
        assert!(!c.is_working(d("2026-10-01")));
        assert!(!c.is_working(d("2026-10-07")));
        assert!(c.is_working(d("2026-09-20")), "make-up Sunday");
        assert!(c.is_working(d("2026-10-10")), "make-up Saturday");
        // Three working days from Wednesday 30 September: 8, 9 and Saturday 10 October.
        assert_eq!(c.add_working(d("2026-09-30"), 3), d("2026-10-10"));
        // Natural days ignore the calendar.
        assert_eq!(c.due(d("2026-09-30"), 3, false), d("2026-10-03"));
        assert_eq!(c.working_between(d("2026-09-30"), d("2026-10-10")), 3);
        assert_eq!(c.working_between(d("2026-10-10"), d("2026-09-30")), -3);
        assert_eq!(c.add_working(d("2026-10-10"), -3), d("2026-09-30"));
    }

    #[test]
    fn spring_festival_2026() {
        let c = cal_2026();
        // 春节 2月15日至23日；2月14日（周六）、2月28日（周六）上班.
        assert!(c.is_working(d("2026-02-14")));
        assert!(!c.is_working(d("2026-02-16")));
        assert_eq!(c.add_working(d("2026-02-13"), 1), d("2026-02-14"));
        assert_eq!(c.add_working(d("2026-02-14"), 1), d("2026-02-24"));
        // An ordinary week: Friday + 1 working day is Monday.
        assert_eq!(c.add_working(d("2026-03-06"), 1), d("2026-03-09"));
    }

    #[test]
    fn bad_files_are_refused() {
        let bad = "year = 2026\nsource = \"x\"\n[[workdays]]\nname = \"调休\"\ndate = \"2026-10-08\"\n";
        assert!(YearFile::parse(bad).unwrap_err().contains("not a weekend"));
        let bad = "year = 2026\nsource = \"x\"\n[[holidays]]\nname = \"x\"\nfrom = \"2026-10-07\"\nto = \"2026-10-01\"\n";
        assert!(YearFile::parse(bad).unwrap_err().contains("bad range"));
    }
}
