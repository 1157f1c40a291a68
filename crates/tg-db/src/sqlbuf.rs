//! A tiny SQL builder for dynamic filters: fixed SQL fragments plus *bound* values, numbered `$1…$n`
//! for every engine. Values are never spliced into the SQL text.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

#[derive(Debug, Clone)]
pub enum Arg {
    I64(i64),
    F64(f64),
    Str(String),
    /// A typed NULL (PostgreSQL needs the type of every parameter).
    NullI64,
    NullStr,
}

impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::I64(i64::from(v))
    }
}

impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Arg::NullI64, Arg::I64)
    }
}

impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        v.map_or(Arg::NullStr, Arg::Str)
    }
}

impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        v.map_or(Arg::NullStr, |s| Arg::Str(s.to_owned()))
    }
}

impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Str(v.clone())
    }
}

impl From<f64> for Arg {
    fn from(v: f64) -> Self {
        Arg::F64(v)
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::I64(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Str(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Str(v.to_owned())
    }
}

#[derive(Debug, Clone, Default)]
pub struct SqlBuf {
    sql: String,
    args: Vec<Arg>,
}

impl SqlBuf {
    pub fn new(sql: &str) -> Self {
        Self { sql: sql.to_owned(), args: Vec::new() }
    }
    /// Appends a fixed SQL fragment (a `&'static str`: dynamic text cannot get in by accident).
    pub fn push(&mut self, fragment: &'static str) -> &mut Self {
        self.sql.push_str(fragment);
        self
    }
    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.args.push(value.into());
        self.sql.push('$');
        self.sql.push_str(&self.args.len().to_string());
        self
    }
    /// Appends the placeholders of `values`, comma-separated (for `IN (…)`).
    pub fn bind_list<T: Into<Arg>>(&mut self, values: impl IntoIterator<Item = T>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.bind(v);
        }
        self
    }
    pub fn sql(&self) -> &str {
        &self.sql
    }
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        bind_all(sqlx::query(&self.sql), &self.args)
    }
    /// Escapes `%`, `_` and `\` for use in `LIKE … ESCAPE '\'` and wraps the value in `%…%`.
    pub fn like_contains(value: &str) -> String {
        let mut s = String::with_capacity(value.len() + 2);
        s.push('%');
        for c in value.chars() {
            if matches!(c, '%' | '_' | '\\') {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('%');
        s
    }
}

pub(crate) fn bind_all<'q>(mut q: Query<'q, Any, AnyArguments<'q>>, args: &'q [Arg]) -> Query<'q, Any, AnyArguments<'q>> {
    for a in args {
        q = match a {
            Arg::I64(v) => q.bind(*v),
            Arg::F64(v) => q.bind(*v),
            Arg::Str(v) => q.bind(v.as_str()),
            Arg::NullI64 => q.bind(None::<i64>),
            Arg::NullStr => q.bind(None::<String>),
        };
    }
    q
}

/// Appends `sql` to `out` with its placeholders `$1…$n` shifted by `offset`, so that statements written
/// each with their own numbering can be sent as one. Checks every placeholder refers to one of the
/// statement's `n_args` arguments: a stray `$k` would otherwise bind another statement's value.
/// Quoted text ('…', "…") is copied unchanged.
pub(crate) fn renumber(sql: &str, offset: usize, n_args: usize, out: &mut String) -> Result<(), String> {
    placeholders(sql, n_args, out, |n, out| {
        out.push('$');
        out.push_str(&(n + offset).to_string());
        Ok(())
    })
}

/// Writes an argument as a PostgreSQL literal of the type a bound argument has (`int8`, `float8`,
/// `text`), so a statement with it written in means what it means with the argument bound. For
/// statements sent together in one simple-query message, which carries no parameters (see
/// `send_message`). Text is written as an escape string (`E'…'`, backslashes and quotes doubled),
/// which reads the same whatever `standard_conforming_strings` is; text holding a NUL character,
/// which PostgreSQL cannot store, is refused.
pub(crate) fn push_pg_literal(a: &Arg, out: &mut String) -> Result<(), String> {
    match a {
        Arg::I64(v) => {
            out.push_str("('");
            out.push_str(&v.to_string());
            out.push_str("'::int8)");
        }
        Arg::F64(v) => {
            let text = if v.is_nan() {
                "NaN".to_owned()
            } else if v.is_infinite() {
                if *v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
            } else {
                format!("{v:?}")
            };
            out.push_str("('");
            out.push_str(&text);
            out.push_str("'::float8)");
        }
        Arg::Str(s) => {
            if s.contains('\0') {
                return Err("text with a NUL character cannot be stored".into());
            }
            out.push_str("(E'");
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\'' => out.push_str("''"),
                    c => out.push(c),
                }
            }
            out.push_str("'::text)");
        }
        Arg::NullI64 => out.push_str("(NULL::int8)"),
        Arg::NullStr => out.push_str("(NULL::text)"),
    }
    Ok(())
}

/// Copies `sql` to `out`, calling `f` for each placeholder `$k` outside quotes ('…', "…") after
/// checking `1 <= k <= n_args`.
fn placeholders(
    sql: &str,
    n_args: usize,
    out: &mut String,
    mut f: impl FnMut(usize, &mut String) -> Result<(), String>,
) -> Result<(), String> {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    let mut start = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                i += 1;
            }
            None if c == b'\'' || c == b'"' => {
                quote = Some(c);
                i += 1;
            }
            None if c == b'$' && b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                out.push_str(&sql[start..i]);
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                let n: usize = sql[i + 1..j].parse().map_err(|_| format!("bad placeholder in {sql}"))?;
                if n == 0 || n > n_args {
                    return Err(format!("placeholder ${n} without an argument ({n_args} given) in: {sql}"));
                }
                f(n, out)?;
                i = j;
                start = j;
            }
            None => i += 1,
        }
    }
    out.push_str(&sql[start..]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_and_escapes_like() {
        let mut b = SqlBuf::new("SELECT 1 FROM t WHERE 1=1");
        b.push(" AND a = ").bind(5).push(" AND b LIKE ").bind(SqlBuf::like_contains("50%_x")).push(" ESCAPE '\\'");
        assert_eq!(b.sql(), "SELECT 1 FROM t WHERE 1=1 AND a = $1 AND b LIKE $2 ESCAPE '\\'");
        assert!(matches!(&b.args[1], Arg::Str(s) if s == "%50\\%\\_x%"));
        let mut l = SqlBuf::new("SELECT 1 FROM t WHERE id IN (");
        l.bind_list([4, 5, 6]).push(")");
        assert_eq!(l.sql(), "SELECT 1 FROM t WHERE id IN ($1, $2, $3)");
    }

    #[test]
    fn renumbers_placeholders_outside_quotes() {
        let mut out = String::new();
        renumber("UPDATE t SET a = $1, b = '$2 x' WHERE id = $2 AND \"c$1\" = $1", 3, 2, &mut out).unwrap();
        assert_eq!(out, "UPDATE t SET a = $4, b = '$2 x' WHERE id = $5 AND \"c$1\" = $4");
        let mut out = String::new();
        assert!(renumber("UPDATE t SET a = $3", 0, 2, &mut out).is_err());
        assert!(renumber("UPDATE t SET a = $0", 0, 2, &mut out).is_err());
    }

    #[test]
    fn writes_arguments_as_typed_postgres_literals() {
        let lit = |a: Arg| {
            let mut out = String::new();
            push_pg_literal(&a, &mut out).map(|_| out)
        };
        assert_eq!(lit(Arg::I64(-5)).unwrap(), "('-5'::int8)");
        assert_eq!(lit(Arg::I64(i64::MIN)).unwrap(), "('-9223372036854775808'::int8)");
        assert_eq!(lit(Arg::Str(r"it's a \ 'q'".into())).unwrap(), r"(E'it''s a \\ ''q'''::text)");
        assert_eq!(lit(Arg::NullI64).unwrap(), "(NULL::int8)");
        assert_eq!(lit(Arg::NullStr).unwrap(), "(NULL::text)");
        assert_eq!(lit(Arg::F64(0.1)).unwrap(), "('0.1'::float8)");
        assert_eq!(lit(Arg::F64(f64::NEG_INFINITY)).unwrap(), "('-Infinity'::float8)");
        assert!(lit(Arg::Str("a\0b".into())).is_err());
    }
}
