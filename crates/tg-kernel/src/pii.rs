//! Personal information (个人信息): parse-don't-validate newtypes and masking (去标识化展示).
//!
//! Each newtype ([`IdCardNo`], [`Phone`], [`PersonName`], [`Address`], [`BankCardNo`], [`Email`]) can only be
//! built by `parse`, which trims and normalises its input (full-width digits → ASCII, `x` → `X`, `+86` stripped …).
//! The raw value is reachable only through `expose()`, named so that every unmasked use is visible in review;
//! there is deliberately no `Deref`, `AsRef<str>` or `From<T> for String`.
//!
//! `Debug`, `Display` and `Serialize` print the **masked** form, so a value that slips into a log line, an error
//! message or a JSON response is masked by default (GB/T 35273-2020 §7.2, security checklist §4). `Deserialize`
//! parses, so malformed input is refused at the API boundary with a Chinese message.
//!
//! The `mask_*` functions implement the checklist §4 conventions and work on arbitrary strings (by `char`, so
//! Chinese is safe). They preserve the character count (except [`mask_bank_card`], which regroups by 4), fully
//! mask inputs too short to keep anything, and are idempotent.
//!
//! [`scrub_text`] masks ID-card-shaped tokens and mobile numbers inside free text (log lines, error messages,
//! audit details); [`contains_raw_pii`] is the same scanner as a predicate for tests that scan responses and logs.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use utoipa::ToSchema;

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

/// Why a personal-information value was refused. Carries **no** part of the input (it is PII itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{}", self.message())]
#[non_exhaustive]
pub enum PiiError {
    /// Not 17 digits followed by a digit or `X`.
    IdCardFormat,
    /// Administrative-division part (first 6 digits) is all zero.
    IdCardRegion,
    /// Birth date part is not a calendar date in 1900..=2100.
    IdCardBirthDate,
    /// GB 11643 (ISO 7064 MOD 11-2) check character does not match.
    IdCardChecksum,
    /// Neither a mainland mobile number nor a fixed-line number with area code.
    PhoneFormat,
    NameEmpty,
    NameTooLong,
    /// Control characters, digits or other characters not used in names.
    NameChars,
    AddressTooShort,
    AddressTooLong,
    AddressChars,
    /// Not 12..=19 digits.
    BankCardFormat,
    EmailFormat,
}

impl PiiError {
    /// Stable machine-readable code, one per field type.
    pub fn code(self) -> &'static str {
        match self {
            Self::IdCardFormat | Self::IdCardRegion | Self::IdCardBirthDate | Self::IdCardChecksum => "ID_CARD_INVALID",
            Self::PhoneFormat => "PHONE_INVALID",
            Self::NameEmpty | Self::NameTooLong | Self::NameChars => "NAME_INVALID",
            Self::AddressTooShort | Self::AddressTooLong | Self::AddressChars => "ADDRESS_INVALID",
            Self::BankCardFormat => "BANK_CARD_INVALID",
            Self::EmailFormat => "EMAIL_INVALID",
        }
    }

    /// Chinese message for the user.
    pub fn message(self) -> &'static str {
        match self {
            Self::IdCardFormat => "身份证号码应为18位，前17位为数字，最后一位为数字或X",
            Self::IdCardRegion => "身份证号码地址码不正确",
            Self::IdCardBirthDate => "身份证号码中的出生日期不正确",
            Self::IdCardChecksum => "身份证号码校验位不正确",
            Self::PhoneFormat => "电话号码格式不正确，请填写11位手机号码或带区号的固定电话",
            Self::NameEmpty => "姓名不能为空",
            Self::NameTooLong => "姓名不能超过30个字符",
            Self::NameChars => "姓名不能包含数字或特殊字符",
            Self::AddressTooShort => "地址不能少于2个字符",
            Self::AddressTooLong => "地址不能超过200个字符",
            Self::AddressChars => "地址包含非法字符",
            Self::BankCardFormat => "银行卡号应为12至19位数字",
            Self::EmailFormat => "电子邮箱格式不正确",
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Common trait and impls
// ---------------------------------------------------------------------------------------------------------------

/// Behaviour shared by the PII newtypes, for generic code (blind index, field encryption, serializers).
pub trait Pii {
    /// The raw, unmasked value. Every call site is an unmasking decision.
    fn expose(&self) -> &str;
    /// The display form (checklist §4).
    fn masked(&self) -> String;
    /// The normalised value to feed into a blind index (HMAC) for equality search.
    fn index_form(&self) -> String;
}

macro_rules! pii_common {
    ($ty:ident) => {
        impl Pii for $ty {
            fn expose(&self) -> &str {
                $ty::expose(self)
            }
            fn masked(&self) -> String {
                $ty::masked(self)
            }
            fn index_form(&self) -> String {
                $ty::index_form(self)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($ty)).field(&self.masked()).finish()
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.masked())
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.masked())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                $ty::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl FromStr for $ty {
            type Err = PiiError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = PiiError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                $ty::parse(&s)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = PiiError;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                $ty::parse(s)
            }
        }
    };
}

/// Full-width ASCII (`０`–`９`, `Ｘ`, `＋`, `＠` …) and the ideographic space to their ASCII forms.
fn halfwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

fn normalise_width(s: &str) -> String {
    s.trim().chars().map(halfwidth).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// 身份证号码 (GB 11643-1999)
// ---------------------------------------------------------------------------------------------------------------

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// GB 11643-1999 check character for the first 17 digits (ISO 7064 MOD 11-2).
fn id_check_char(first17: &[u8]) -> u8 {
    let sum: u32 = first17.iter().zip(ID_WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    ID_CHECK_CHARS[(sum % 11) as usize]
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

fn digits_value(ds: &[u8]) -> u32 {
    ds.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
}

/// 公民身份号码: 18 characters, 6-digit region + YYYYMMDD + 3-digit sequence + check character.
#[derive(Clone, PartialEq, Eq, Hash, ToSchema)]
#[schema(value_type = String, example = "110***********002X")]
pub struct IdCardNo(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    pub fn label(self) -> &'static str {
        match self {
            Self::Male => "男",
            Self::Female => "女",
        }
    }
}

impl IdCardNo {
    pub fn parse(s: &str) -> Result<Self, PiiError> {
        let mut v = normalise_width(s);
        v.make_ascii_uppercase();
        let b = v.as_bytes();
        if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
            return Err(PiiError::IdCardFormat);
        }
        if b[..6].iter().all(|&d| d == b'0') {
            return Err(PiiError::IdCardRegion);
        }
        let year = digits_value(&b[6..10]) as i32;
        let month = digits_value(&b[10..12]);
        let day = digits_value(&b[12..14]);
        if !(1900..=2100).contains(&year) || day == 0 || day > days_in_month(year, month) {
            return Err(PiiError::IdCardBirthDate);
        }
        if id_check_char(&b[..17]) != b[17] {
            return Err(PiiError::IdCardChecksum);
        }
        Ok(Self(v))
    }

    /// The raw number (upper-case `X`). Every call is an unmasking decision.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `110***********7777`.
    pub fn masked(&self) -> String {
        mask_id_card(&self.0)
    }

    /// Upper-case, 18 characters.
    pub fn index_form(&self) -> String {
        self.0.clone()
    }

    /// `(year, month, day)` of birth.
    pub fn birth_date(&self) -> (i32, u32, u32) {
        let b = self.0.as_bytes();
        (digits_value(&b[6..10]) as i32, digits_value(&b[10..12]), digits_value(&b[12..14]))
    }

    /// Odd 17th digit = male.
    pub fn gender(&self) -> Gender {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    /// The 6-digit administrative-division code of the place of first registration (GB/T 2260).
    pub fn region_prefix(&self) -> &str {
        &self.0[..6]
    }
}

pii_common!(IdCardNo);

// ---------------------------------------------------------------------------------------------------------------
// 电话号码
// ---------------------------------------------------------------------------------------------------------------

fn is_mobile_digits(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit)
}

/// A mainland mobile number (`1[3-9]` + 9 digits) or a fixed-line number with area code.
///
/// Stored as 11 digits for mobiles and as `area-subscriber` (`0766-8812345`, `010-12345678`) for fixed lines.
/// The area-code length follows the national plan: `010` and `02x` have 3 digits, `03xx`–`09xx` have 4.
#[derive(Clone, PartialEq, Eq, Hash, ToSchema)]
#[schema(value_type = String, example = "180****1999")]
pub struct Phone(String);

impl Phone {
    /// Accepts `+86`, `0086` or (for mobiles) `86` prefixes, spaces, hyphens and parentheses.
    pub fn parse(s: &str) -> Result<Self, PiiError> {
        let v = normalise_width(s);
        let mut digits = String::with_capacity(v.len());
        let mut plus = false;
        for c in v.chars() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if digits.is_empty() && !plus => plus = true,
                '-' | '(' | ')' => {}
                c if c.is_whitespace() => {}
                _ => return Err(PiiError::PhoneFormat),
            }
        }
        let national: String = if plus || digits.starts_with("0086") {
            let rest = if plus { digits.strip_prefix("86") } else { digits.strip_prefix("0086") };
            match rest {
                // International form drops the trunk prefix 0 of fixed lines; tolerate it if present.
                Some(r) if is_mobile_digits(r) || r.starts_with('0') => r.to_owned(),
                Some(r) if !r.is_empty() => format!("0{r}"),
                _ => return Err(PiiError::PhoneFormat),
            }
        } else if digits.len() == 13 && digits.starts_with("86") && is_mobile_digits(&digits[2..]) {
            digits[2..].to_owned()
        } else {
            digits
        };
        if is_mobile_digits(&national) {
            return Ok(Self(national));
        }
        let b = national.as_bytes();
        let area_len = match b {
            [b'0', b'1', b'0', ..] | [b'0', b'2', ..] => 3,
            [b'0', b'3'..=b'9', ..] => 4,
            _ => return Err(PiiError::PhoneFormat),
        };
        if !(7..=8).contains(&(b.len().saturating_sub(area_len))) {
            return Err(PiiError::PhoneFormat);
        }
        Ok(Self(format!("{}-{}", &national[..area_len], &national[area_len..])))
    }

    /// `18049531999` or `0766-8812345`. Every call is an unmasking decision.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `180****1999` or `0766-*****45`.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }

    /// Digits only, national form without `+86`: `18049531999`, `07668812345`.
    pub fn index_form(&self) -> String {
        self.0.chars().filter(char::is_ascii_digit).collect()
    }

    pub fn is_mobile(&self) -> bool {
        self.0.starts_with('1')
    }
}

pii_common!(Phone);

// ---------------------------------------------------------------------------------------------------------------
// 姓名
// ---------------------------------------------------------------------------------------------------------------

pub const NAME_MAX_CHARS: usize = 30;

/// Dots people type for the separator in minority and foreign names (`买买提·艾力`); all become U+00B7 `·`.
fn normalise_name_dot(c: char) -> char {
    match c {
        '\u{2022}' | '\u{2027}' | '\u{2219}' | '\u{22C5}' | '\u{30FB}' | '\u{FF0E}' | '\u{FF65}' | '\u{0387}' => '·',
        _ => c,
    }
}

/// A person's name: 1..=30 characters of letters (any script), `·`, space, `-` or `'`.
#[derive(Clone, PartialEq, Eq, Hash, ToSchema)]
#[schema(value_type = String, example = "段**")]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(s: &str) -> Result<Self, PiiError> {
        let v: String = s.trim().chars().map(normalise_name_dot).collect();
        let n = v.chars().count();
        if n == 0 {
            return Err(PiiError::NameEmpty);
        }
        if n > NAME_MAX_CHARS {
            return Err(PiiError::NameTooLong);
        }
        let allowed = |c: char| c.is_alphabetic() || matches!(c, '·' | ' ' | '-' | '\'');
        if !v.chars().all(allowed) || !v.chars().any(char::is_alphabetic) {
            return Err(PiiError::NameChars);
        }
        Ok(Self(v))
    }

    /// The raw name. Every call is an unmasking decision.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `段**`, `欧阳**`.
    pub fn masked(&self) -> String {
        mask_name(&self.0)
    }

    /// Trimmed name.
    pub fn index_form(&self) -> String {
        self.0.clone()
    }
}

pii_common!(PersonName);

// ---------------------------------------------------------------------------------------------------------------
// 住址
// ---------------------------------------------------------------------------------------------------------------

pub const ADDRESS_MIN_CHARS: usize = 2;
pub const ADDRESS_MAX_CHARS: usize = 200;

/// A free-text address, 2..=200 characters without control characters.
#[derive(Clone, PartialEq, Eq, Hash, ToSchema)]
#[schema(value_type = String, example = "云浮市云城区河口街道******")]
pub struct Address(String);

impl Address {
    pub fn parse(s: &str) -> Result<Self, PiiError> {
        let v = s.trim();
        let n = v.chars().count();
        if n < ADDRESS_MIN_CHARS {
            return Err(PiiError::AddressTooShort);
        }
        if n > ADDRESS_MAX_CHARS {
            return Err(PiiError::AddressTooLong);
        }
        if v.chars().any(char::is_control) {
            return Err(PiiError::AddressChars);
        }
        Ok(Self(v.to_owned()))
    }

    /// The raw address. Every call is an unmasking decision.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `云浮市云城区河口街道******`.
    pub fn masked(&self) -> String {
        mask_address(&self.0)
    }

    /// Trimmed address.
    pub fn index_form(&self) -> String {
        self.0.clone()
    }
}

pii_common!(Address);

// ---------------------------------------------------------------------------------------------------------------
// 银行卡号
// ---------------------------------------------------------------------------------------------------------------

/// A bank card number: 12..=19 digits. The Luhn check is **not** required (many domestic cards fail it).
#[derive(Clone, PartialEq, Eq, Hash, ToSchema)]
#[schema(value_type = String, example = "6222 **** **** 1234")]
pub struct BankCardNo(String);

impl BankCardNo {
    /// Spaces and hyphens in the input are removed.
    pub fn parse(s: &str) -> Result<Self, PiiError> {
        let v: String = normalise_width(s).chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if !(12..=19).contains(&v.len()) || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PiiError::BankCardFormat);
        }
        Ok(Self(v))
    }

    /// The raw digits. Every call is an unmasking decision.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `1101 **** **** **** 3256`.
    pub fn masked(&self) -> String {
        mask_bank_card(&self.0)
    }

    /// Digits only.
    pub fn index_form(&self) -> String {
        self.0.clone()
    }

    /// Whether the number passes the Luhn (mod 10) check.
    pub fn luhn_ok(&self) -> bool {
        let sum: u32 = self
            .0
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| {
                let d = u32::from(b - b'0');
                if i % 2 == 1 {
                    let d2 = d * 2;
                    if d2 > 9 {
                        d2 - 9
                    } else {
                        d2
                    }
                } else {
                    d
                }
            })
            .sum();
        // `u32::is_multiple_of` needs Rust 1.87; the workspace declares 1.85.
        matches!(sum % 10, 0)
    }
}

pii_common!(BankCardNo);

// ---------------------------------------------------------------------------------------------------------------
// 电子邮箱
// ---------------------------------------------------------------------------------------------------------------

/// An e-mail address, checked simply: `local@domain` with a dotted domain of letter/digit/hyphen labels.
#[derive(Clone, PartialEq, Eq, Hash, ToSchema)]
#[schema(value_type = String, example = "d*************@gmail.com.cn")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, PiiError> {
        let v = normalise_width(s);
        let (local, domain) = v.split_once('@').ok_or(PiiError::EmailFormat)?;
        let local_ok = (1..=64).contains(&local.chars().count())
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| !c.is_whitespace() && !c.is_control() && !"@<>()[]\\,;:\"".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = domain.chars().count() <= 253
            && labels.len() >= 2
            && labels.iter().all(|l| {
                (1..=63).contains(&l.chars().count())
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
        if !local_ok || !domain_ok || v.chars().count() > 254 {
            return Err(PiiError::EmailFormat);
        }
        Ok(Self(v))
    }

    /// The raw address as entered (trimmed). Every call is an unmasking decision.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `d*************@gmail.com.cn`.
    pub fn masked(&self) -> String {
        mask_email(&self.0)
    }

    /// Lower-cased address.
    pub fn index_form(&self) -> String {
        self.0.to_lowercase()
    }
}

pii_common!(Email);

// ---------------------------------------------------------------------------------------------------------------
// Masking
// ---------------------------------------------------------------------------------------------------------------

const MASK: char = '*';

fn stars(n: usize) -> String {
    std::iter::repeat_n(MASK, n).collect()
}

/// Keeps `front` leading and `back` trailing chars; when that would leave nothing masked, masks everything.
fn keep_ends(cs: &[char], front: usize, back: usize) -> String {
    let n = cs.len();
    if n <= front + back {
        return stars(n);
    }
    let mut out = String::with_capacity(n * 3);
    out.extend(&cs[..front]);
    out.extend(std::iter::repeat_n(MASK, n - front - back));
    out.extend(&cs[n - back..]);
    out
}

/// 身份证号: first 3 + last 4 clear. `110101199003077777` → `110***********7777`.
pub fn mask_id_card(s: &str) -> String {
    let cs: Vec<char> = s.chars().collect();
    keep_ends(&cs, 3, 4)
}

/// 电话: mobiles keep 3 + last 4 (`180****1999`); fixed lines (leading `0`) keep 4 + last 2 (`0915*****79`),
/// or the area code with its hyphen + last 2 (`0766-*****45`). At most 7 clear characters.
pub fn mask_phone(s: &str) -> String {
    let cs: Vec<char> = s.chars().collect();
    if cs.first() != Some(&'0') {
        return keep_ends(&cs, 3, 4);
    }
    match cs.iter().position(|&c| c == '-') {
        Some(p @ (3 | 4)) => keep_ends(&cs, p + 1, 2),
        _ => keep_ends(&cs, 4, 2),
    }
}

/// Two-character surnames kept clear by [`mask_name`].
pub const COMPOUND_SURNAMES: [&str; 32] = [
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "轩辕", "令狐", "端木", "西门",
    "南宫", "独孤", "万俟", "闻人", "澹台", "公冶", "宗政", "濮阳", "太史", "申屠", "钟离", "百里", "东郭", "呼延", "拓跋",
];

/// 姓名: keep the first character (`段正淳` → `段**`), or a listed compound surname when at least one character
/// follows it (`欧阳娜娜` → `欧阳**`); a single character becomes `*`.
pub fn mask_name(s: &str) -> String {
    let cs: Vec<char> = s.chars().collect();
    let compound = cs.len() >= 3 && COMPOUND_SURNAMES.iter().any(|c| c.chars().eq(cs[..2].iter().copied()));
    keep_ends(&cs, if compound { 2 } else { 1 }, 0)
}

/// Administrative markers kept clear by [`mask_address`].
const ADDRESS_MARKERS: [&str; 7] = ["省", "市", "区", "县", "镇", "乡", "街道"];
/// Markers must end within this many leading characters.
const ADDRESS_ADMIN_WINDOW: usize = 15;

/// 住址: keep the administrative part, mask every later character with `*`.
///
/// The clear part ends after the last 省/市/区/县/镇/乡/街道 that ends within the first 15 characters (`社区` and `小区`
/// do not count); without such a marker the first third is kept. At most `len - 4` characters stay clear.
/// `云浮市云城区河口街道建设路28号` → `云浮市云城区河口街道******`.
pub fn mask_address(s: &str) -> String {
    let cs: Vec<char> = s.chars().collect();
    let n = cs.len();
    let cap = n.saturating_sub(4);
    let window = ADDRESS_ADMIN_WINDOW.min(cap);
    let mut keep = 0;
    for i in 0..window {
        for m in ADDRESS_MARKERS {
            let len = m.chars().count();
            if i + len <= window && m.chars().eq(cs[i..i + len].iter().copied()) {
                let not_admin = m == "区" && i > 0 && matches!(cs[i - 1], '社' | '小');
                if !not_admin {
                    keep = keep.max(i + len);
                }
            }
        }
    }
    if keep == 0 {
        keep = (n / 3).min(cap);
    }
    keep_ends(&cs, keep, 0)
}

/// 银行卡号: first 4 + last 4 clear, grouped by 4 (whitespace in the input is ignored).
/// `11011111222233333256` → `1101 **** **** **** 3256`.
pub fn mask_bank_card(s: &str) -> String {
    let cs: Vec<char> = s.chars().filter(|c| !c.is_whitespace()).collect();
    let masked: Vec<char> = keep_ends(&cs, 4, 4).chars().collect();
    masked.chunks(4).map(|g| g.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

/// 电子邮箱: keep the first character of the local part and the whole domain (split at the last `@`).
/// `duandazhi-jack@gmail.com.cn` → `d*************@gmail.com.cn`. A one-character local part is fully masked.
pub fn mask_email(s: &str) -> String {
    let cs: Vec<char> = s.chars().collect();
    let at = cs.iter().rposition(|&c| c == '@').unwrap_or(cs.len());
    let mut out = keep_ends(&cs[..at], 1, 0);
    out.extend(&cs[at..]);
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Free-text scanner
// ---------------------------------------------------------------------------------------------------------------

/// ASCII and full-width digits.
fn digit(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

fn is_digit(c: char) -> bool {
    digit(c).is_some()
}

fn is_mobile_at(cs: &[char], i: usize) -> bool {
    digit(cs[i]) == Some(1) && digit(cs[i + 1]).is_some_and(|d| d >= 3)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hit {
    IdCard,
    Phone,
}

/// Finds the next raw ID card number or mobile number at or after `from`: `(start, end, kind)` in chars.
///
/// - ID card: `\d{17}[\dXx]` not adjacent to other digits;
/// - mobile: `1[3-9]\d{9}` not adjacent to other digits, also inside `86`/`0086` + mobile (13/15-digit runs,
///   as written after `+`), and written `3-4-4` with one consistent space or hyphen (`138 0013 8000`).
///
/// Full-width digits count as digits.
fn next_hit(cs: &[char], from: usize) -> Option<(usize, usize, Hit)> {
    let n = cs.len();
    let mut i = from;
    while i < n {
        if !is_digit(cs[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        while end < n && is_digit(cs[end]) {
            end += 1;
        }
        let run = end - start;
        let no_digit_at = |k: usize| k >= n || !is_digit(cs[k]);
        match run {
            18 => return Some((start, end, Hit::IdCard)),
            17 if end < n && matches!(cs[end], 'X' | 'x' | 'Ｘ' | 'ｘ') && no_digit_at(end + 1) => {
                return Some((start, end + 1, Hit::IdCard));
            }
            11 if is_mobile_at(cs, start) => return Some((start, end, Hit::Phone)),
            13 if digit(cs[start]) == Some(8) && digit(cs[start + 1]) == Some(6) && is_mobile_at(cs, start + 2) => {
                return Some((start + 2, end, Hit::Phone));
            }
            15 if cs[start..start + 4].iter().map(|&c| digit(c)).eq([Some(0), Some(0), Some(8), Some(6)])
                && is_mobile_at(cs, start + 4) =>
            {
                return Some((start + 4, end, Hit::Phone));
            }
            3 if is_mobile_at(cs, start) && end + 10 <= n && matches!(cs[end], ' ' | '-') => {
                let sep = cs[end];
                let ok = cs[end + 1..end + 5].iter().all(|&c| is_digit(c))
                    && cs[end + 5] == sep
                    && cs[end + 6..end + 10].iter().all(|&c| is_digit(c))
                    && no_digit_at(end + 10);
                if ok {
                    return Some((start, end + 10, Hit::Phone));
                }
            }
            _ => {}
        }
        i = end;
    }
    None
}

/// Replaces every raw ID card number and mobile number in free text with its masked form
/// (see [`contains_raw_pii`] for what is found). Borrows when nothing was found.
///
/// Meant for log lines, error messages and audit details. Note that an 18-digit number is masked whatever it
/// means (snowflake ids included), and that scrubbing a JSON *number* turns it into an invalid token.
pub fn scrub_text(s: &str) -> Cow<'_, str> {
    if !contains_raw_pii(s) {
        return Cow::Borrowed(s);
    }
    let cs: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    while let Some((start, end, hit)) = next_hit(&cs, pos) {
        out.extend(&cs[pos..start]);
        let token: String = cs[start..end].iter().collect();
        out.push_str(&match hit {
            Hit::IdCard => mask_id_card(&token),
            Hit::Phone => mask_phone(&token),
        });
        pos = end;
    }
    out.extend(&cs[pos..]);
    Cow::Owned(out)
}

/// Whether the text contains an ID-card-shaped token (`\d{17}[\dXx]`) or a mainland mobile number
/// (`1[3-9]\d{9}`, also after `86`/`0086` and in `3-4-4` groups) not adjacent to other digits.
pub fn contains_raw_pii(s: &str) -> bool {
    if !s.chars().any(is_digit) {
        return false;
    }
    let cs: Vec<char> = s.chars().collect();
    next_hit(&cs, 0).is_some()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Independent GB 11643 check character: ISO 7064 MOD 11-2 by the iterative (Horner) method.
    fn check_char(first17: &str) -> char {
        let p = first17.chars().fold(0, |p, c| ((p + c.to_digit(10).unwrap()) * 2) % 11);
        match (12 - p) % 11 {
            10 => 'X',
            v => char::from_digit(v, 10).unwrap(),
        }
    }

    fn valid_id(first17: &str) -> String {
        format!("{first17}{}", check_char(first17))
    }

    fn id(s: &str) -> IdCardNo {
        IdCardNo::parse(s).unwrap()
    }

    fn count_clear(s: &str) -> usize {
        s.chars().filter(|&c| c != '*').count()
    }

    // --- checklist §4 examples -----------------------------------------------------------------------------

    #[test]
    fn checklist_examples() {
        assert_eq!(mask_id_card("110101199003077777"), "110***********7777");
        assert_eq!(mask_phone("18049531999"), "180****1999");
        assert_eq!(mask_phone("09157518479"), "0915*****79");
        assert_eq!(mask_phone("0766-8812345"), "0766-*****45");
        assert_eq!(mask_phone("010-12345678"), "010-******78");
        assert_eq!(mask_name("段正淳"), "段**");
        assert_eq!(mask_name("李雷"), "李*");
        assert_eq!(mask_name("欧阳娜娜"), "欧阳**");
        assert_eq!(mask_name("司马懿"), "司马*");
        assert_eq!(mask_name("欧阳"), "欧*");
        assert_eq!(mask_name("王"), "*");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_name("买买提·艾力"), "买*****");
        assert_eq!(mask_address("云浮市云城区河口街道建设路28号"), "云浮市云城区河口街道******");
        assert_eq!(mask_address("北京市海淀区马连洼街道289号"), "北京市海淀区马连洼街道****");
        assert_eq!(mask_address("广东省云浮市新兴县六祖镇龙山村委会"), "广东省云浮市新兴县六祖镇*****");
        assert_eq!(mask_address("云城区河口街道城中社区3号"), "云城区河口街道******");
        assert_eq!(mask_bank_card("11011111222233333256"), "1101 **** **** **** 3256");
        assert_eq!(mask_bank_card("6222 0212 3456 7890 123"), "6222 **** **** ***0 123");
        assert_eq!(mask_email("duandazhi-jack@gmail.com.cn"), "d*************@gmail.com.cn");
        assert_eq!(mask_email("a@b.cn"), "*@b.cn");
    }

    #[test]
    fn address_fallback_and_cap() {
        // No marker: the first third.
        assert_eq!(mask_address("建设路28号301房"), "建设路*******");
        // Cap len - 4: "广东省云浮市" would keep everything; only markers ending by len - 4 count.
        assert_eq!(mask_address("广东省云浮市"), "广东****");
        assert_eq!(mask_address("广东省云浮市AB"), "广东省*****");
        // Markers beyond the first 15 characters do not count.
        assert_eq!(mask_address(&format!("{}县", "某".repeat(20))), format!("{}{}", "某".repeat(7), "*".repeat(14)));
        for s in ["", "云", "云浮", "云浮市", "云浮市区"] {
            assert_eq!(mask_address(s), "*".repeat(s.chars().count()), "{s}");
        }
    }

    #[test]
    fn short_inputs_fully_masked() {
        assert_eq!(mask_id_card("1234567"), "*******");
        assert_eq!(mask_phone("1804953"), "*******");
        assert_eq!(mask_phone("076612"), "******");
        assert_eq!(mask_phone("0766-12"), "*******");
        assert_eq!(mask_bank_card("12345678"), "**** ****");
        assert_eq!(mask_bank_card("123"), "***");
        assert_eq!(mask_email("x"), "*");
        assert_eq!(mask_id_card("身份证"), "***");
    }

    // --- 身份证 ------------------------------------------------------------------------------------------

    #[test]
    fn id_card_well_known_valid() {
        let v = id("11010519491231002X");
        assert_eq!(v.expose(), "11010519491231002X");
        assert_eq!(v.birth_date(), (1949, 12, 31));
        assert_eq!(v.gender(), Gender::Female);
        assert_eq!(v.region_prefix(), "110105");
        assert_eq!(v.masked(), "110***********002X");
        assert_eq!(check_char("11010519491231002"), 'X');
        // Lower-case x, surrounding blanks and full-width digits are normalised.
        assert_eq!(id(" 11010519491231002x\t").expose(), "11010519491231002X");
        assert_eq!(id("１１０１０５１９４９１２３１００２ｘ").expose(), "11010519491231002X");
        assert_eq!(id("11010519491231002x").index_form(), "11010519491231002X");
    }

    #[test]
    fn id_card_generated_valid() {
        for first17 in ["44530219900307123", "44538119800229001", "65010220001231999", "11010119000101001", "82000021001231002"] {
            let s = valid_id(first17);
            let v = id(&s);
            assert_eq!(v.expose(), s);
        }
        assert_eq!(id(&valid_id("44530219900307122")).gender(), Gender::Female);
        assert_eq!(id(&valid_id("44530219900307113")).gender(), Gender::Male);
        assert_eq!(id(&valid_id("44538120000229001")).birth_date(), (2000, 2, 29));
    }

    #[test]
    fn id_card_invalid() {
        let good = valid_id("44530219900307123");
        // Every wrong check character is refused.
        for c in "0123456789X".chars().filter(|&c| !good.ends_with(c)) {
            let bad = format!("{}{c}", &good[..17]);
            assert_eq!(IdCardNo::parse(&bad), Err(PiiError::IdCardChecksum), "{bad}");
        }
        assert_eq!(IdCardNo::parse("110101199003077777").map(|_| ()), Err(PiiError::IdCardChecksum));
        let cases = [
            (valid_id("44530219900230123"), PiiError::IdCardBirthDate),
            (valid_id("44530219000229123"), PiiError::IdCardBirthDate),
            (valid_id("44530218991231123"), PiiError::IdCardBirthDate),
            (valid_id("44530221010101123"), PiiError::IdCardBirthDate),
            (valid_id("44530219901301123"), PiiError::IdCardBirthDate),
            (valid_id("44530219900100123"), PiiError::IdCardBirthDate),
            (valid_id("00000019900307123"), PiiError::IdCardRegion),
            ("4453021990030712".to_owned(), PiiError::IdCardFormat),
            ("4453021990030712345".to_owned(), PiiError::IdCardFormat),
            ("44530219900307123Y".to_owned(), PiiError::IdCardFormat),
            ("X45302199003071233".to_owned(), PiiError::IdCardFormat),
            ("".to_owned(), PiiError::IdCardFormat),
            ("4453021990030712中".to_owned(), PiiError::IdCardFormat),
            ("' OR 1=1 --".to_owned(), PiiError::IdCardFormat),
        ];
        for (s, e) in cases {
            assert_eq!(IdCardNo::parse(&s), Err(e), "{s}");
        }
    }

    #[test]
    fn errors_have_stable_codes_and_chinese_messages() {
        let e = IdCardNo::parse("11010519491231002 1").unwrap_err();
        assert_eq!(e.code(), "ID_CARD_INVALID");
        let e = IdCardNo::parse("110105194912310021").unwrap_err();
        assert_eq!(e, PiiError::IdCardChecksum);
        assert_eq!(e.to_string(), "身份证号码校验位不正确");
        assert_eq!(Phone::parse("12").unwrap_err().code(), "PHONE_INVALID");
        assert_eq!(PersonName::parse(" ").unwrap_err().code(), "NAME_INVALID");
        assert_eq!(Address::parse("a").unwrap_err().code(), "ADDRESS_INVALID");
        assert_eq!(BankCardNo::parse("1").unwrap_err().code(), "BANK_CARD_INVALID");
        assert_eq!(Email::parse("a").unwrap_err().code(), "EMAIL_INVALID");
        let boxed: Box<dyn std::error::Error> = Box::new(PiiError::EmailFormat);
        assert_eq!(boxed.to_string(), "电子邮箱格式不正确");
    }

    // --- 电话 --------------------------------------------------------------------------------------------

    #[test]
    fn phone_normalisation() {
        let mobiles = [
            "18049531999",
            " 180 4953 1999 ",
            "180-4953-1999",
            "+86 180 4953 1999",
            "+86-18049531999",
            "+8618049531999",
            "8618049531999",
            "86 180 4953 1999",
            "0086 18049531999",
            "１８０４９５３１９９９",
        ];
        for s in mobiles {
            let p = Phone::parse(s).unwrap();
            assert_eq!(p.expose(), "18049531999", "{s}");
            assert!(p.is_mobile());
            assert_eq!(p.index_form(), "18049531999");
            assert_eq!(p.masked(), "180****1999");
        }
        let fixed = [
            ("0766-8812345", "0766-8812345"),
            ("07668812345", "0766-8812345"),
            ("(0766) 8812345", "0766-8812345"),
            ("+86 766 8812345", "0766-8812345"),
            ("+86 0766 8812345", "0766-8812345"),
            ("0915 7518479", "0915-7518479"),
            ("010-12345678", "010-12345678"),
            ("+86 10 12345678", "010-12345678"),
            ("020 8765 4321", "020-87654321"),
            ("0755-1234567", "0755-1234567"),
        ];
        for (s, want) in fixed {
            let p = Phone::parse(s).unwrap();
            assert_eq!(p.expose(), want, "{s}");
            assert!(!p.is_mobile());
            assert_eq!(p.index_form(), want.replace('-', ""));
        }
        assert_eq!(Phone::parse("0766-8812345").unwrap().masked(), "0766-*****45");
        assert_eq!(Phone::parse("09157518479").unwrap().masked(), "0915-*****79");
    }

    #[test]
    fn phone_invalid() {
        for s in [
            "",
            "12049531999",
            "1804953199",
            "180495319990",
            "28049531999",
            "+1 650 253 0000",
            "+8618049531999+",
            "18049531999 ext 1",
            "0766-881234",
            "0766-881234567",
            "011-12345678",
            "0012345678",
            "abc",
            "1804953199９9",
            "18049531999\n",
        ] {
            if s == "18049531999\n" {
                // Trailing whitespace is trimmed, so this one is fine.
                assert!(Phone::parse(s).is_ok());
                continue;
            }
            assert_eq!(Phone::parse(s), Err(PiiError::PhoneFormat), "{s}");
        }
    }

    // --- 姓名, 住址, 银行卡, 邮箱 ---------------------------------------------------------------------------

    #[test]
    fn person_name() {
        assert_eq!(PersonName::parse(" 段正淳 ").unwrap().expose(), "段正淳");
        assert_eq!(PersonName::parse("买买提•艾力").unwrap().expose(), "买买提·艾力");
        assert_eq!(PersonName::parse("John O'Neil-Smith").unwrap().masked(), "J****************");
        assert_eq!(PersonName::parse("欧阳娜娜").unwrap().masked(), "欧阳**");
        assert!(PersonName::parse(&"张".repeat(30)).is_ok());
        assert_eq!(PersonName::parse(&"张".repeat(31)), Err(PiiError::NameTooLong));
        assert_eq!(PersonName::parse("  "), Err(PiiError::NameEmpty));
        for bad in ["张三1", "张三１", "张\u{0}三", "<script>", "张三\n李四", "··", "张三😀"] {
            assert_eq!(PersonName::parse(bad), Err(PiiError::NameChars), "{bad}");
        }
    }

    #[test]
    fn address() {
        let a = Address::parse("  云浮市云城区河口街道建设路28号 ").unwrap();
        assert_eq!(a.expose(), "云浮市云城区河口街道建设路28号");
        assert_eq!(a.masked(), "云浮市云城区河口街道******");
        assert_eq!(Address::parse("云"), Err(PiiError::AddressTooShort));
        assert!(Address::parse(&"路".repeat(200)).is_ok());
        assert_eq!(Address::parse(&"路".repeat(201)), Err(PiiError::AddressTooLong));
        assert_eq!(Address::parse("云浮\u{7}市"), Err(PiiError::AddressChars));
    }

    #[test]
    fn bank_card() {
        let c = BankCardNo::parse(" 6222 0212 3456 7890 ").unwrap();
        assert_eq!(c.expose(), "6222021234567890");
        assert_eq!(c.masked(), "6222 **** **** 7890");
        assert!(BankCardNo::parse("4111 1111 1111 1111").unwrap().luhn_ok());
        assert!(BankCardNo::parse("79927398713").is_err()); // 11 digits
        assert!(!BankCardNo::parse("799273987130").unwrap().luhn_ok());
        assert!(BankCardNo::parse("6222-0212-3456-7890").is_ok());
        assert!(BankCardNo::parse("62220212345678901234").is_err());
        assert!(BankCardNo::parse("6222O212345678901").is_err());
        assert_eq!(BankCardNo::parse("11011111222233333256").map(|_| ()), Err(PiiError::BankCardFormat));
    }

    #[test]
    fn email() {
        let e = Email::parse(" DuanDazhi-Jack@Gmail.com.cn ").unwrap();
        assert_eq!(e.expose(), "DuanDazhi-Jack@Gmail.com.cn");
        assert_eq!(e.index_form(), "duandazhi-jack@gmail.com.cn");
        assert_eq!(e.masked(), "D*************@Gmail.com.cn");
        assert!(Email::parse("张三@例子.中国").is_ok());
        for bad in ["", "a", "a@", "@b.cn", "a@b", "a@@b.cn", "a b@c.cn", "a@b..cn", "a@-b.cn", "a@b.123", ".a@b.cn", "a..b@c.cn"] {
            assert_eq!(Email::parse(bad), Err(PiiError::EmailFormat), "{bad}");
        }
    }

    // --- formatting and serde ----------------------------------------------------------------------------

    #[derive(Debug, Serialize, Deserialize)]
    struct Person {
        name: PersonName,
        id_card: IdCardNo,
        phone: Phone,
        address: Address,
        card: BankCardNo,
        email: Email,
    }

    fn person() -> Person {
        Person {
            name: PersonName::parse("段正淳").unwrap(),
            id_card: id("11010519491231002X"),
            phone: Phone::parse("18049531999").unwrap(),
            address: Address::parse("云浮市云城区河口街道建设路28号").unwrap(),
            card: BankCardNo::parse("6222021234567890").unwrap(),
            email: Email::parse("duandazhi-jack@gmail.com.cn").unwrap(),
        }
    }

    #[test]
    fn debug_display_and_serialize_are_masked() {
        let p = person();
        let debug = format!("{p:?}");
        let json = serde_json::to_string(&p).unwrap();
        let display = format!("{} {} {} {} {} {}", p.name, p.id_card, p.phone, p.address, p.card, p.email);
        for out in [&debug, &json, &display] {
            for raw in ["段正淳", "11010519491231002X", "18049531999", "建设路28号", "6222021234567890", "duandazhi-jack"] {
                assert!(!out.contains(raw), "{raw} in {out}");
            }
            assert!(!contains_raw_pii(out), "{out}");
        }
        assert_eq!(
            json,
            r#"{"name":"段**","id_card":"110***********002X","phone":"180****1999","address":"云浮市云城区河口街道******","card":"6222 **** **** 7890","email":"d*************@gmail.com.cn"}"#
        );
        assert!(debug.contains(r#"IdCardNo("110***********002X")"#), "{debug}");
        assert_eq!(format!("{}", p.id_card), "110***********002X");
    }

    #[test]
    fn deserialize_parses_and_refuses_with_chinese_message() {
        let p: Person = serde_json::from_str(
            r#"{"name":" 段正淳","id_card":"11010519491231002x","phone":"+86 180 4953 1999","address":"云浮市云城区河口街道建设路28号","card":"6222 0212 3456 7890","email":"a@b.cn"}"#,
        )
        .unwrap();
        assert_eq!(p.id_card.expose(), "11010519491231002X");
        assert_eq!(p.phone.expose(), "18049531999");
        assert_eq!(p.name.expose(), "段正淳");
        let err = serde_json::from_str::<IdCardNo>(r#""110105194912310021""#).unwrap_err();
        assert!(err.to_string().contains("身份证号码校验位不正确"), "{err}");
        // A masked value coming back is refused, not stored.
        assert!(serde_json::from_str::<IdCardNo>(r#""110***********002X""#).is_err());
        assert!(serde_json::from_str::<Phone>(r#""180****1999""#).is_err());
        assert_eq!("18049531999".parse::<Phone>().unwrap().expose(), "18049531999");
        assert_eq!(IdCardNo::try_from("11010519491231002X".to_owned()).unwrap().expose(), "11010519491231002X");
    }

    #[test]
    fn pii_trait_delegates() {
        fn idx<T: Pii>(v: &T) -> (String, String, String) {
            (v.expose().to_owned(), v.masked(), v.index_form())
        }
        let p = person();
        assert_eq!(idx(&p.phone), ("18049531999".into(), "180****1999".into(), "18049531999".into()));
        assert_eq!(idx(&p.id_card).1, "110***********002X");
    }

    // --- scrub_text ----------------------------------------------------------------------------------------

    #[test]
    fn scrub_examples() {
        let line = r#"2024-05-01 登录失败 user=张三 id_card=11010519491231002X phone:18049531999 ip=10.0.0.1"#;
        let out = scrub_text(line);
        assert_eq!(out, r#"2024-05-01 登录失败 user=张三 id_card=110***********002X phone:180****1999 ip=10.0.0.1"#);
        assert!(contains_raw_pii(line));
        assert!(!contains_raw_pii(&out));

        let json = r#"{"detail":"联系人18049531999，身份证号110101199003077777x。","n":13800138000}"#;
        assert_eq!(scrub_text(json), r#"{"detail":"联系人180****1999，身份证号110***********7777x。","n":138****8000}"#);

        assert_eq!(scrub_text("tel +8618049531999 / 0086 18049531999"), "tel +86180****1999 / 0086 180****1999");
        assert_eq!(scrub_text("tel 008618049531999"), "tel 0086180****1999");
        assert_eq!(scrub_text("call 138 0013 8000 or 138-0013-8000"), "call 138******8000 or 138******8000");
        assert_eq!(scrub_text("12345678901234567x"), "123***********567x");
        assert_eq!(scrub_text("ＩＤ：１１０１０５１９４９１２３１００２Ｘ"), "ＩＤ：１１０***********００２Ｘ");

        // Not PII-shaped: borrowed unchanged.
        for s in [
            "",
            "plain text 中文",
            "order 1234567890123456789", // 19 digits
            "1104953199",                // 10 digits
            "180495319991",              // 12 digits
            "12049531999",               // 1[0-2]
            "12345678901234567X5",       // X adjacent to a digit
            "1234567890123456",          // 16 digits
            "138 0013 80001",
            "138 0013-8000",
            "ts=1715000000000",
        ] {
            assert!(matches!(scrub_text(s), Cow::Borrowed(_)), "{s}");
            assert!(!contains_raw_pii(s), "{s}");
        }
    }

    // --- properties ----------------------------------------------------------------------------------------

    fn arb_valid_id() -> impl Strategy<Value = String> {
        (1u32..=999_999, 1900i32..=2100, 1u32..=12, 1u32..=31, 0u32..1000).prop_map(|(region, y, m, d, seq)| {
            let d = d.min(days_in_month(y, m));
            valid_id(&format!("{region:06}{y:04}{m:02}{d:02}{seq:03}"))
        })
    }

    fn arb_mobile() -> impl Strategy<Value = String> {
        (3u32..=9, 0u64..1_000_000_000).prop_map(|(second, rest)| format!("1{second}{rest:09}"))
    }

    /// Text that is rich in digits, separators and `X`, to stress the scanner.
    fn arb_digit_text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                4 => prop::char::range('0', '9'),
                1 => prop::sample::select(vec!['X', 'x', ' ', '-', '+', '中', '*', '１', '８', 'Ｘ', '\n', '"']),
                1 => any::<char>(),
            ],
            0..80,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    fn boundary() -> impl Strategy<Value = char> {
        prop::sample::select(vec!['a', '中', ' ', ':', '"', '\n', '号', 'é', '😀', '+', '-', 'X', '，', '*'])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn valid_ids_parse_and_mask(s in arb_valid_id()) {
            let v = IdCardNo::parse(&s).unwrap();
            prop_assert_eq!(v.expose(), s.as_str());
            prop_assert_eq!(v.masked(), format!("{}***********{}", &s[..3], &s[14..]));
            // Changing any single one of the first 17 digits breaks the check character (MOD 11-2 detects it)
            // unless the date becomes invalid first.
            let mut b = s.clone().into_bytes();
            b[16] = if b[16] == b'9' { b'0' } else { b[16] + 1 };
            prop_assert!(IdCardNo::parse(&String::from_utf8(b).unwrap()).is_err());
        }

        #[test]
        fn id_parse_never_panics(s in any::<String>()) {
            let _ = IdCardNo::parse(&s);
            let _ = Phone::parse(&s);
            let _ = PersonName::parse(&s);
            let _ = Address::parse(&s);
            let _ = BankCardNo::parse(&s);
            let _ = Email::parse(&s);
        }

        #[test]
        fn masks_preserve_length_bound_clear_chars_and_are_idempotent(s in any::<String>()) {
            let n = s.chars().count();
            type Mask = fn(&str) -> String;
            let masks: [(Mask, usize); 3] = [(mask_id_card, 7), (mask_phone, 7), (mask_name, 2)];
            for (f, max_clear) in masks {
                let m = f(&s);
                prop_assert_eq!(m.chars().count(), n);
                prop_assert!(count_clear(&m) <= max_clear.min(n.saturating_sub(1)));
                prop_assert_eq!(f(&m), m.clone());
            }

            let m = mask_address(&s);
            prop_assert_eq!(m.chars().count(), n);
            prop_assert!(count_clear(&m) <= n.saturating_sub(4));
            prop_assert!(count_clear(&m) <= ADDRESS_ADMIN_WINDOW.max(n / 3));
            prop_assert_eq!(mask_address(&m), m.clone());

            let m = mask_email(&s);
            prop_assert_eq!(m.chars().count(), n);
            let at = s.chars().rev().position(|c| c == '@').map_or(0, |p| p + 1);
            prop_assert!(count_clear(&m) <= 1 + at);
            prop_assert_eq!(mask_email(&m), m.clone());

            let m = mask_bank_card(&s);
            let significant = s.chars().filter(|c| !c.is_whitespace()).count();
            prop_assert_eq!(m.chars().filter(|&c| c != ' ').count(), significant);
            prop_assert!(m.chars().filter(|&c| c != ' ' && c != '*').count() <= 8);
            prop_assert_eq!(mask_bank_card(&m), m.clone());
        }

        #[test]
        fn masks_on_digit_text(s in arb_digit_text()) {
            for f in [mask_id_card, mask_phone, mask_name, mask_address, mask_email] {
                let m = f(&s);
                prop_assert_eq!(m.chars().count(), s.chars().count());
                prop_assert_eq!(f(&m), m);
            }
            prop_assert_eq!(mask_bank_card(&mask_bank_card(&s)), mask_bank_card(&s));
        }

        #[test]
        fn scrubbed_text_has_no_raw_pii(s in arb_digit_text()) {
            let out = scrub_text(&s);
            prop_assert!(!contains_raw_pii(&out), "{:?} -> {:?}", s, out);
            prop_assert_eq!(matches!(out, Cow::Borrowed(_)), !contains_raw_pii(&s));
        }

        #[test]
        fn scrubbed_arbitrary_text_has_no_raw_pii(s in any::<String>()) {
            prop_assert!(!contains_raw_pii(&scrub_text(&s)));
        }

        #[test]
        fn embedded_id_or_mobile_is_always_scrubbed(
            prefix in any::<String>(),
            suffix in any::<String>(),
            left in boundary(),
            right in boundary(),
            id in arb_valid_id(),
            mobile in arb_mobile(),
            use_id in any::<bool>(),
            lower_x in any::<bool>(),
        ) {
            let token = if use_id {
                if lower_x { id.replace('X', "x") } else { id }
            } else {
                mobile
            };
            let text = format!("{prefix}{left}{token}{right}{suffix}");
            prop_assert!(contains_raw_pii(&text));
            let out = scrub_text(&text);
            prop_assert!(!out.contains(&token), "{:?}", out);
            prop_assert!(!contains_raw_pii(&out), "{:?}", out);
            let masked = if use_id { mask_id_card(&token) } else { mask_phone(&token) };
            prop_assert!(out.contains(&masked), "{:?}", out);
        }

        #[test]
        fn valid_phones_round_trip(mobile in arb_mobile()) {
            let spaced = format!("+86 {} {} {}", &mobile[..3], &mobile[3..7], &mobile[7..]);
            let p = Phone::parse(&spaced).unwrap();
            prop_assert_eq!(p.expose(), mobile.as_str());
            prop_assert!(p.is_mobile());
            prop_assert!(!contains_raw_pii(&serde_json::to_string(&p).unwrap()));
        }
    }
}
