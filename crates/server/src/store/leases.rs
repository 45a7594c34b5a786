//! Leases on jobs that one instance at a time runs (the alert evaluator, retention): a row per
//! job names its holder and until when; another instance takes it only once it ran out.

use super::{Conn, StoreError};

/// Takes (or keeps) the job `name` for `holder` until `until`, if nobody else holds it now;
/// gives how far the job got (`None`: never ran), or `None` when another instance holds it.
pub fn take_lease(
    conn: &mut dyn Conn,
    name: &str,
    holder: &str,
    now: i64,
    until: i64,
) -> Result<Option<Option<i64>>, StoreError> {
    conn.execute(
        "INSERT INTO job_leases (name, holder, until) VALUES ($1, $2, 0) ON CONFLICT (name) DO NOTHING",
        &[name.into(), holder.into()],
    )?;
    let taken = conn.execute(
        "UPDATE job_leases SET holder = $1, until = $2 WHERE name = $3 AND (holder = $1 OR until < $4)",
        &[holder.into(), until.into(), name.into(), now.into()],
    )?;
    if taken == 0 {
        return Ok(None);
    }
    let row = conn.query_one("SELECT done_until FROM job_leases WHERE name = $1", &[name.into()])?;
    Ok(Some(row.opt_int("done_until")?))
}

/// Records how far the job got, if `holder` still holds it.
pub fn set_done(conn: &mut dyn Conn, name: &str, holder: &str, done_until: i64) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE job_leases SET done_until = $1 WHERE name = $2 AND holder = $3",
        &[done_until.into(), name.into(), holder.into()],
    )?;
    Ok(n == 1)
}

/// Moves how far the job got forward to `done_until` (never back), if `holder` still holds it.
pub fn raise_done(conn: &mut dyn Conn, name: &str, holder: &str, done_until: i64) -> Result<bool, StoreError> {
    let n = conn.execute(
        "UPDATE job_leases SET done_until = CASE WHEN done_until IS NULL OR done_until < $1 THEN $1 ELSE done_until END \
         WHERE name = $2 AND holder = $3",
        &[done_until.into(), name.into(), holder.into()],
    )?;
    Ok(n == 1)
}

/// Gives the job up, so that another instance (or a command) need not wait for the lease to run out.
pub fn release_lease(conn: &mut dyn Conn, name: &str, holder: &str) -> Result<(), StoreError> {
    conn.execute("UPDATE job_leases SET until = 0 WHERE name = $1 AND holder = $2", &[name.into(), holder.into()])?;
    Ok(())
}

/// How far the job got, whoever holds it.
pub fn done_until(conn: &mut dyn Conn, name: &str) -> Result<Option<i64>, StoreError> {
    let rows = conn.query("SELECT done_until FROM job_leases WHERE name = $1", &[name.into()])?;
    Ok(rows.first().map(|r| r.opt_int("done_until")).transpose()?.flatten())
}
