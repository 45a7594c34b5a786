//! Recent activity per subject (see `orderguard_domain::activity`), one JSON value per row.

use std::collections::HashMap;

use orderguard_domain::clock::Timestamp;

use super::{Conn, StoreError, Value};

/// Locks the subjects' rows for the rest of the transaction (creating missing ones) and returns
/// their states (`None` for a new subject). A parallel transaction on the same subject waits here
/// until this one ends and then reads what it wrote, so every limit is checked against every
/// committed count. One statement locks them all, in sorted order (the order of its rows), so
/// two transactions cannot deadlock and a verification costs one round trip here.
pub fn lock(
    conn: &mut dyn Conn,
    subjects: &[String],
    now: Timestamp,
) -> Result<HashMap<String, Option<String>>, StoreError> {
    let mut sorted: Vec<&String> = subjects.iter().collect();
    sorted.sort();
    sorted.dedup();
    if sorted.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<String> = (0..sorted.len()).map(|i| format!("(${}, '', $1)", i + 2)).collect();
    let mut params: Vec<Value> = vec![now.millis().into()];
    params.extend(sorted.iter().map(|s| Value::from(s.as_str())));
    let found = conn.query(
        &format!(
            "INSERT INTO risk_activity (subject, state, updated_at) VALUES {} \
             ON CONFLICT (subject) DO UPDATE SET updated_at = excluded.updated_at RETURNING subject, state",
            rows.join(", ")
        ),
        &params,
    )?;
    let mut states = HashMap::with_capacity(found.len());
    for row in found {
        let state = row.text("state")?;
        states.insert(row.text("subject")?, (!state.is_empty()).then_some(state));
    }
    Ok(states)
}

/// Writes states of subjects locked by `lock` in this transaction, in one statement.
pub fn save(conn: &mut dyn Conn, states: &[(String, String)], now: Timestamp) -> Result<(), StoreError> {
    if states.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..states.len()).map(|i| format!("(${}, ${}, $1)", 2 * i + 2, 2 * i + 3)).collect();
    let mut params: Vec<Value> = vec![now.millis().into()];
    for (subject, state) in states {
        params.push(subject.as_str().into());
        params.push(state.as_str().into());
    }
    conn.execute(
        &format!(
            "INSERT INTO risk_activity (subject, state, updated_at) VALUES {} \
             ON CONFLICT (subject) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            rows.join(", ")
        ),
        &params,
    )?;
    Ok(())
}

/// Deletes the rows of subjects (moved to others in this transaction).
pub fn delete(conn: &mut dyn Conn, subjects: &[String]) -> Result<(), StoreError> {
    if subjects.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (1..=subjects.len()).map(|i| format!("${i}")).collect();
    let params: Vec<Value> = subjects.iter().map(|s| Value::from(s.as_str())).collect();
    conn.execute(&format!("DELETE FROM risk_activity WHERE subject IN ({})", placeholders.join(", ")), &params)?;
    Ok(())
}

/// The states of subjects without locking them (for pages and reports).
pub fn read(conn: &mut dyn Conn, subject: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_opt("SELECT state FROM risk_activity WHERE subject = $1", &[Value::from(subject)])?
        .map(|row| row.text("state"))
        .transpose()?
        .filter(|state| !state.is_empty()))
}

/// Forgets subjects whose key starts with `prefix` and that were idle since before `before`
/// (nothing in them counts any more); at most `limit`.
pub fn delete_idle(conn: &mut dyn Conn, prefix: &str, before: Timestamp, limit: i64) -> Result<u64, StoreError> {
    conn.execute(
        "DELETE FROM risk_activity WHERE subject IN \
         (SELECT subject FROM risk_activity WHERE updated_at < $1 AND subject LIKE $2 LIMIT $3)",
        &[before.millis().into(), format!("{prefix}%").into(), limit.into()],
    )
}
