//! Queued writes joined into fewer statements on PostgreSQL.
//!
//! PostgreSQL runs each statement of a batch as its own exchange (see `send_batch`), so a transition
//! that queues ten writes pays ten exchanges and ten wake-ups of both processes. Consecutive queued
//! writes to *different* tables are sent instead as one statement, with data-modifying `WITH`
//! clauses: `WITH w1 AS (UPDATE a …), w2 AS (INSERT INTO b …) INSERT INTO c …`.
//!
//! All parts of such a statement run against the same snapshot and cannot see each other's
//! changes. That is the same as running them one after another exactly when no part reads or
//! writes a table another part writes, which is the rule applied here: a write joins the current
//! group only if its target table is not mentioned by any member, and it mentions no member's
//! target. Tables are found by the words after `INTO`, `UPDATE`, `FROM` and `JOIN`; a write whose
//! target cannot be told (or that already has a `WITH`, a `RETURNING` or several statements) runs on
//! its own. Changes made by triggers are not modelled: a trigger on a table written by queued writes
//! must not write to tables other queued writes use (the schema's only triggers refuse edits of the
//! audit log).

use crate::sqlbuf;
use crate::Arg;

/// One statement to send: the text (joined or as queued) and its arguments.
pub(crate) struct Merged {
    pub sql: std::borrow::Cow<'static, str>,
    pub args: Vec<Arg>,
}

/// The tables a write mentions, and the one it writes; `None` if it cannot be joined with others.
fn tables(sql: &str) -> Option<(String, Vec<String>)> {
    if sql.contains('"') {
        return None;
    }
    let words = words(sql);
    let first = words.first()?.to_ascii_uppercase();
    let mut mentioned = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let u = w.to_ascii_uppercase();
        if matches!(u.as_str(), "WITH" | "RETURNING") {
            return None;
        }
        if matches!(u.as_str(), "INTO" | "UPDATE" | "FROM" | "JOIN") {
            if let Some(t) = words.get(i + 1) {
                mentioned.push(t.to_ascii_lowercase());
            }
        }
    }
    let target = match first.as_str() {
        "INSERT" if words.get(1).is_some_and(|w| w.eq_ignore_ascii_case("INTO")) => words.get(2)?,
        "UPDATE" => words.get(1)?,
        "DELETE" if words.get(1).is_some_and(|w| w.eq_ignore_ascii_case("FROM")) => words.get(2)?,
        _ => return None,
    };
    Some((target.to_ascii_lowercase(), mentioned))
}

/// The identifier-like words of `sql` outside string literals. A `;` outside quotes (several
/// statements) yields the single word `;`, which no rule accepts.
fn words(sql: &str) -> Vec<&str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' || c == b'"' {
            // Skip the quoted text; a doubled quote inside is an escaped one.
            i += 1;
            while i < b.len() {
                if b[i] == c {
                    if b.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
        } else if c == b';' {
            return vec![";"];
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
            out.push(&sql[start..i]);
        } else {
            i += 1;
        }
    }
    out
}

/// Joins runs of queued writes as described in the module documentation. Statements are kept in
/// order; a group of one is sent as it was queued.
pub(crate) fn merge(writes: &[(&'static str, Vec<Arg>)]) -> Result<Vec<Merged>, sqlx::Error> {
    let mut out: Vec<Merged> = Vec::new();
    let mut group: Vec<usize> = Vec::new();
    let mut targets: Vec<String> = Vec::new();
    let mut mentioned: Vec<String> = Vec::new();
    let info: Vec<Option<(String, Vec<String>)>> = writes.iter().map(|(s, _)| tables(s)).collect();
    for (i, t) in info.iter().enumerate() {
        let joins = match t {
            Some((target, its)) => !group.is_empty() && !mentioned.contains(target) && !its.iter().any(|m| targets.contains(m)),
            None => false,
        };
        if !joins && !group.is_empty() {
            out.push(join(writes, &group)?);
            group.clear();
            targets.clear();
            mentioned.clear();
        }
        group.push(i);
        if let Some((target, its)) = t {
            targets.push(target.clone());
            mentioned.extend(its.iter().cloned());
        } else {
            // Cannot be joined: it goes alone.
            out.push(join(writes, &group)?);
            group.clear();
        }
    }
    if !group.is_empty() {
        out.push(join(writes, &group)?);
    }
    Ok(out)
}

fn join(writes: &[(&'static str, Vec<Arg>)], group: &[usize]) -> Result<Merged, sqlx::Error> {
    if let [one] = group {
        let (s, a) = &writes[*one];
        return Ok(Merged { sql: (*s).into(), args: a.clone() });
    }
    let mut sql = String::from("WITH ");
    let mut args: Vec<Arg> = Vec::new();
    let last = group.len() - 1;
    for (k, i) in group.iter().enumerate() {
        let (s, a) = &writes[*i];
        let s = s.trim().trim_end_matches(';');
        if k < last {
            if k > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("w{k} AS ("));
            sqlbuf::renumber(s, args.len(), a.len(), &mut sql).map_err(sqlx::Error::Protocol)?;
            sql.push(')');
        } else {
            sql.push(' ');
            sqlbuf::renumber(s, args.len(), a.len(), &mut sql).map_err(sqlx::Error::Protocol)?;
        }
        args.extend_from_slice(a);
    }
    Ok(Merged { sql: sql.into(), args })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(w: &[(&'static str, Vec<Arg>)]) -> Vec<String> {
        merge(w).unwrap().into_iter().map(|m| m.sql.into_owned()).collect()
    }

    #[test]
    fn writes_to_different_tables_join_and_renumber() {
        let w = vec![
            ("UPDATE a SET x = $1 WHERE id = $2", vec![Arg::from(1i64), Arg::from(2i64)]),
            ("INSERT INTO b (y) VALUES ($1)", vec![Arg::from("it's $1")]),
            ("DELETE FROM c WHERE id = $1", vec![Arg::from(3i64)]),
        ];
        let m = merge(&w).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(
            m[0].sql,
            "WITH w0 AS (UPDATE a SET x = $1 WHERE id = $2), w1 AS (INSERT INTO b (y) VALUES ($3)) DELETE FROM c WHERE id = $4"
        );
        assert_eq!(m[0].args.len(), 4);
    }

    #[test]
    fn a_table_written_or_read_twice_starts_a_new_group() {
        let w = vec![
            ("UPDATE a SET x = 1 WHERE id = $1", vec![Arg::from(1i64)]),
            ("UPDATE a SET x = 2 WHERE id = $1", vec![Arg::from(2i64)]),
            ("INSERT INTO b (y) SELECT x FROM a WHERE id = $1", vec![Arg::from(2i64)]),
            ("UPDATE c SET z = (SELECT count(*) FROM b)", vec![]),
            ("UPDATE d SET z = 1 FROM e WHERE d.id = e.id", vec![]),
            ("INSERT INTO e (id) VALUES (1)", vec![]),
        ];
        assert_eq!(
            sqls(&w),
            [
                "UPDATE a SET x = 1 WHERE id = $1",
                "UPDATE a SET x = 2 WHERE id = $1",
                "INSERT INTO b (y) SELECT x FROM a WHERE id = $1",
                "WITH w0 AS (UPDATE c SET z = (SELECT count(*) FROM b)) UPDATE d SET z = 1 FROM e WHERE d.id = e.id",
                "INSERT INTO e (id) VALUES (1)",
            ]
        );
    }

    #[test]
    fn what_cannot_be_told_runs_alone() {
        let w = vec![
            ("UPDATE a SET x = 1", vec![]),
            ("WITH q AS (SELECT 1) UPDATE b SET x = 1", vec![]),
            ("UPDATE c SET x = 1", vec![]),
            ("SELECT pg_notify('x', 'y')", vec![]),
            ("UPDATE d SET note = 'a; b' WHERE x = 1", vec![]),
            ("UPDATE e SET x = 1; UPDATE f SET x = 1", vec![]),
        ];
        let m = sqls(&w);
        assert_eq!(m.len(), 6, "{m:?}");
        assert_eq!(tables("UPDATE d SET note = 'a; b' WHERE x = 1").unwrap().0, "d");
        assert_eq!(tables("INSERT INTO apalis.jobs VALUES ($1)").unwrap().0, "apalis.jobs");
        assert!(tables("UPDATE \"from\" SET x = 1").is_none(), "quoted identifiers are not told apart");
    }
}
