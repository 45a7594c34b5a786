//! How far the PostgreSQL streaming replica the dashboards read from is behind its primary.

use super::{Conn, StoreError, Value};

/// The replica's replay against the primary's write position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaLag {
    /// Whether the database is a standby at all (false: `database_read_url` names a primary).
    pub standby: bool,
    /// WAL the replica has not replayed yet.
    pub bytes: i64,
    /// Since the last transaction it replayed, when it has WAL left to replay (else 0).
    pub millis: i64,
    /// Replay paused by an operator (`pg_wal_replay_pause()`).
    pub paused: bool,
}

/// The primary's current write position (an LSN, as text).
pub fn primary_position(conn: &mut dyn Conn) -> Result<String, StoreError> {
    conn.query_one("SELECT pg_current_wal_lsn()::text AS lsn", &[])?.text("lsn")
}

/// The replica's lag behind `primary_position`, read on the replica.
pub fn lag_behind(conn: &mut dyn Conn, primary_position: &str) -> Result<ReplicaLag, StoreError> {
    let row = conn.query_one(
        "SELECT pg_is_in_recovery() AS standby, \
         COALESCE(GREATEST(pg_wal_lsn_diff($1::text::pg_lsn, pg_last_wal_replay_lsn()), 0), 0)::bigint AS bytes, \
         COALESCE((EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint, 0) AS since_replay, \
         CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused",
        &[Value::from(primary_position)],
    )?;
    let bytes = row.int("bytes")?;
    Ok(ReplicaLag {
        standby: row.int("standby")? != 0,
        bytes,
        // An idle primary writes nothing: the last replayed transaction may be old without lag.
        millis: if bytes > 0 { row.int("since_replay")?.max(0) } else { 0 },
        paused: row.int("paused")? != 0,
    })
}
