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
    pub fn sql(&self) -> &str {
        &self.sql
    }
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::I64(v) => q.bind(*v),
                Arg::F64(v) => q.bind(*v),
                Arg::Str(v) => q.bind(v.as_str()),
            };
        }
        q
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_and_escapes_like() {
        let mut b = SqlBuf::new("SELECT 1 FROM t WHERE 1=1");
        b.push(" AND a = ").bind(5).push(" AND b LIKE ").bind(SqlBuf::like_contains("50%_x")).push(" ESCAPE '\\'");
        assert_eq!(b.sql(), "SELECT 1 FROM t WHERE 1=1 AND a = $1 AND b LIKE $2 ESCAPE '\\'");
        assert!(matches!(&b.args[1], Arg::Str(s) if s == "%50\\%\\_x%"));
    }
}
