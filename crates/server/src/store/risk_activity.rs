//! Recent activity per subject (see `orderguard_domain::activity`), one JSON value per row.

use std::collections::HashMap;

use orderguard_domain::clock::Timestamp;

use super::{Conn, StoreError, Value};

/// Locks the subjects' rows for the rest of the transaction (creating missing ones) and returns
/// their states (`None` for a new subject). A parallel transaction on the same subject waits here
/// until this one ends and then reads what it wrote, so every limit is checked against every
/// committed count. Subjects are locked in sorted order, so two transactions cannot deadlock.
pub fn lock(
    conn: &mut dyn Conn,
    subjects: &[String],
    now: Timestamp,
) -> Result<HashMap<String, Option<String>>, StoreError> {
    let mut sorted: Vec<&String> = subjects.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut states = HashMap::with_capacity(sorted.len());
    // One statement per subject: a multi-row upsert does not promise to lock in the listed order.
    for subject in sorted {
        let row = conn.query_one(
            "INSERT INTO risk_activity (subject, state, updated_at) VALUES ($1, '', $2) \
             ON CONFLICT (subject) DO UPDATE SET updated_at = excluded.updated_at RETURNING state",
            &[subject.as_str().into(), now.millis().into()],
        )?;
        let state = row.text("state")?;
        states.insert(subject.clone(), (!state.is_empty()).then_some(state));
    }
    Ok(states)
}

/// Writes states of subjects locked by `lock` in this transaction.
pub fn save(conn: &mut dyn Conn, states: &[(String, String)], now: Timestamp) -> Result<(), StoreError> {
    for (subject, state) in states {
        conn.execute(
            "UPDATE risk_activity SET state = $1, updated_at = $2 WHERE subject = $3",
            &[state.as_str().into(), now.millis().into(), subject.as_str().into()],
        )?;
    }
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
