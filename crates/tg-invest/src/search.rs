//! Keyword search over projects without scanning them.
//!
//! Chinese has no spaces, and clerks search with two-character words (光伏, 水泥, 石材), which a
//! trigram index cannot serve. The search text (name, investor and 项目统一代码, lower-cased) is
//! therefore indexed as overlapping character pairs: "光伏电站" gives 光伏, 伏电, 电站. A keyword of
//! two or more characters asks the index for the projects holding all of its pairs, a superset of
//! those containing it as a substring; the exact `LIKE` over the search text then confirms each
//! candidate. (An AND of terms is answered from the index alone on both engines; a phrase query
//! would make PostgreSQL re-tokenise every candidate row, ten times slower.) A single-character
//! keyword falls back to the `LIKE` scan alone.
//!
//! The pairs are stored as hex tokens (`g` + UTF-8 hex) in `inv_projects.search_grams`, so that
//! both engines' own full-text tokenizers keep each pair whole whatever the locale: SQLite indexes
//! them with FTS5 (`inv_projects_fts`, without positions, kept in step by triggers), PostgreSQL
//! with a GIN index over `to_tsvector('simple', search_grams)`.

use std::fmt::Write;

/// At most this many pairs of a long keyword go to the index; the `LIKE` confirms the rest.
const MAX_QUERY_GRAMS: usize = 12;

fn letters(text: &str) -> Vec<char> {
    text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

fn token(pair: &[char]) -> String {
    let mut out = String::from("g");
    let mut buf = [0u8; 4];
    for c in pair {
        for b in c.encode_utf8(&mut buf).as_bytes() {
            let _ = write!(out, "{b:02x}");
        }
    }
    out
}

fn tokens(text: &str) -> Vec<String> {
    letters(text).windows(2).map(token).collect()
}

/// The indexed form of a search text: its character pairs as space-separated tokens.
pub fn search_grams(search_text: &str) -> String {
    tokens(search_text).join(" ")
}

/// The index query of a keyword, when it has at least two letters or digits.
pub(crate) enum GramQuery {
    /// An FTS5 query (`g.. AND g..`) for SQLite.
    Fts5(String),
    /// A `to_tsquery('simple', ...)` query (`g.. & g..`) for PostgreSQL.
    TsQuery(String),
}

pub(crate) fn gram_query(keyword: &str, backend: tg_db::Backend) -> Option<GramQuery> {
    let mut t = Vec::new();
    for g in tokens(keyword) {
        if !t.contains(&g) && t.len() < MAX_QUERY_GRAMS {
            t.push(g);
        }
    }
    if t.is_empty() {
        return None;
    }
    Some(match backend {
        tg_db::Backend::Sqlite => GramQuery::Fts5(t.join(" AND ")),
        tg_db::Backend::Postgres => GramQuery::TsQuery(t.join(" & ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_of_letters_and_digits() {
        // 光 = e5 85 89, 伏 = e4 bc 8f
        assert_eq!(search_grams("光伏"), "ge58589e4bc8f");
        // Punctuation is dropped, case folded: "A-1|b" -> a1b -> a1, 1b
        assert_eq!(search_grams("A-1|b"), "g6131 g3162");
        assert_eq!(search_grams("光"), "");
        assert_eq!(search_grams(""), "");
    }

    #[test]
    fn keyword_queries() {
        assert!(gram_query("光", tg_db::Backend::Sqlite).is_none());
        assert!(gram_query(" %_ ", tg_db::Backend::Postgres).is_none());
        match gram_query("光伏电", tg_db::Backend::Sqlite) {
            Some(GramQuery::Fts5(q)) => assert_eq!(q, format!("{} AND {}", token(&['光', '伏']), token(&['伏', '电']))),
            _ => panic!("expected an FTS5 query"),
        }
        match gram_query("AB\"C", tg_db::Backend::Postgres) {
            Some(GramQuery::TsQuery(q)) => assert_eq!(q, "g6162 & g6263"),
            _ => panic!("expected a tsquery"),
        }
        // Repeated pairs are asked for once.
        match gram_query("哈哈哈哈", tg_db::Backend::Postgres) {
            Some(GramQuery::TsQuery(q)) => assert_eq!(q, token(&['哈', '哈'])),
            _ => panic!("expected a tsquery"),
        }
        let long = "一二三四五六七八九十甲乙丙丁戊己";
        match gram_query(long, tg_db::Backend::Postgres) {
            Some(GramQuery::TsQuery(q)) => assert_eq!(q.split(" & ").count(), MAX_QUERY_GRAMS),
            _ => panic!("expected a tsquery"),
        }
    }
}
