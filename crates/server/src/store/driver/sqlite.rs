//! SQLite: one writer thread that group-commits the transactions waiting for it, and a pool of
//! readers beside it (WAL).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::pool::{ConnectionPool, PoolConnection};
use super::{Backend, Conn, Row, Value};
use crate::store::StoreError;

/// `$1` → `?1`: SQLite's numbered parameters, so the same SQL text serves both backends.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

/// Parameters are bound by reference: no copy of texts and blobs.
impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ValueRef;
        Ok(rusqlite::types::ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

pub struct SqliteConn<'a>(pub &'a rusqlite::Connection);

impl Conn for SqliteConn<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let mut stmt = self.0.prepare_cached(&sqlite_sql(sql))?;
        let changed = stmt.execute(rusqlite::params_from_iter(params.iter()))?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.0.prepare_cached(&sqlite_sql(sql))?;
        let names: Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
        let columns = names.len();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(v) => Value::Int(v),
                    rusqlite::types::ValueRef::Real(v) => Value::Int(v as i64),
                    rusqlite::types::ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    rusqlite::types::ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(Row::new(names.clone(), values));
        }
        Ok(out)
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.0.execute_batch(sql)?)
    }

    fn backend(&self) -> Backend {
        Backend::Sqlite
    }
}

/// How long a statement waits for a lock another connection holds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

fn open_sqlite(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    create_private(path)?;
    let conn = rusqlite::Connection::open(path)
        .map_err(|e| StoreError::Connect(format!("cannot open SQLite database {}: {e}", path.display())))?;
    // WAL lets readers run beside the writer; NORMAL keeps every commit safe from a process crash
    // (kill -9) without an fsync per transaction. `secure_delete` overwrites what is deleted or
    // erased, so that an erased number does not linger in free space of the file.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON;",
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Without the query planner stability guarantee, SQLite re-parses a cached statement each time
    // a parameter it planned with changes (every `LIMIT $n`): most of the cost of such a query.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

/// Creates a new database file readable by its owner only: it holds personal data, and SQLite
/// gives the WAL and shared-memory files beside it the same permissions. An existing file is
/// left as it is.
fn create_private(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(StoreError::Connect(format!("cannot create SQLite database {}: {e}", path.display())))
        }
        _ => Ok(()),
    }
}

impl PoolConnection for rusqlite::Connection {
    fn is_broken(&self) -> bool {
        false
    }
}

/// What the writer thread hands back after the batch commits: sends the job's result on.
type Reply = Box<dyn FnOnce(Option<StoreError>) + Send>;
/// A transaction body for the writer thread; `true` when it succeeded and its writes stay.
type WriteJob = Box<dyn FnOnce(&mut dyn Conn) -> (bool, Reply) + Send>;

pub struct Sqlite {
    writer: tokio::sync::mpsc::Sender<WriteJob>,
    readers: Arc<ConnectionPool<rusqlite::Connection>>,
    /// Tells the checkpoint thread to stop when the store is dropped.
    open: Arc<AtomicBool>,
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        self.open.store(false, Ordering::Relaxed);
    }
}

/// Transactions waiting when the writer starts a batch go into one commit (group commit), each in
/// its own savepoint so that one failing body does not undo the others.
const MAX_BATCH: usize = 128;

impl Sqlite {
    pub fn open(path: &Path, readers: usize) -> Result<Self, StoreError> {
        let writer_conn = open_sqlite(path)?;
        // Checkpoints sync the WAL to disk: done on their own thread, they never stall the writer.
        writer_conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        let checkpointer = open_sqlite(path)?;
        let open = Arc::new(AtomicBool::new(true));
        let restart_wanted = Arc::new(AtomicBool::new(false));
        let (still_open, wanted) = (open.clone(), restart_wanted.clone());
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run_checkpoints(&checkpointer, &still_open, &wanted))
            .map_err(|e| StoreError::Connect(format!("cannot start the SQLite checkpoint thread: {e}")))?;
        let (tx, rx) = tokio::sync::mpsc::channel::<WriteJob>(4096);
        std::thread::Builder::new()
            .name(crate::store::SQLITE_WRITER_THREAD.into())
            .spawn(move || run_writer(&writer_conn, rx, &restart_wanted))
            .map_err(|e| StoreError::Connect(format!("cannot start the SQLite writer thread: {e}")))?;
        let path = path.to_owned();
        let readers = ConnectionPool::new(readers, Box::new(move || open_sqlite(&path)));
        Ok(Self { writer: tx, readers: Arc::new(readers), open })
    }

    pub async fn write<T, E>(&self, body: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let result = body(conn);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit_error| {
                let _ = tx.send(match commit_error {
                    None => result,
                    Some(e) => Err(e.into()),
                });
            });
            (ok, reply)
        });
        // The queue is bounded: when the writer falls behind, callers wait here (back-pressure).
        self.writer.send(job).await.map_err(|_| StoreError::WriterGone)?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    pub async fn read<T, E>(&self, body: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.get()?;
            body(&mut SqliteConn(&conn))
        })
        .await
        .map_err(|_| StoreError::WriterGone)?
    }
}

/// WAL pages after which the writer starts the WAL over (about 256 MB with 4 KiB pages).
const WAL_RESTART_PAGES: i64 = 65_536;

/// How long the writer waits for readers of older snapshots before it gives up starting the WAL
/// over (and tries again after a later batch): writes queue meanwhile.
const WAL_RESTART_WAIT: Duration = Duration::from_millis(200);

/// Copies the WAL into the database file every half second, without blocking the writer or
/// readers, until the store is dropped. Such checkpoints never start the WAL over while writes
/// keep coming, so under sustained writes it would grow without end: once it is large, the
/// checkpointer asks the writer to truncate it between two batches. (Truncating from here needs
/// the writer's lock, which back-to-back batches seldom leave free: a WAL of 21 GB was seen.)
fn run_checkpoints(conn: &rusqlite::Connection, open: &AtomicBool, restart_wanted: &AtomicBool) {
    while open.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(500));
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get::<_, i64>(1)) {
            Ok(pages) if pages > WAL_RESTART_PAGES => restart_wanted.store(true, Ordering::Relaxed),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed"),
        }
    }
}

/// Checkpoints and truncates the WAL from the writer's own connection, so no write can come
/// between; readers of older snapshots are waited for briefly.
fn restart_wal(conn: &rusqlite::Connection) {
    let truncated = conn
        .busy_timeout(WAL_RESTART_WAIT)
        .and_then(|()| conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get::<_, i64>(0)));
    if let Err(e) = conn.busy_timeout(BUSY_TIMEOUT) {
        tracing::warn!(error = %e, "cannot restore the SQLite writer's busy timeout");
    }
    match truncated {
        Ok(0) => {}
        Ok(_) => {
            tracing::debug!("a reader or a checkpoint held the SQLite WAL: truncating it again after a later batch")
        }
        Err(e) => tracing::warn!(error = %e, "truncating the SQLite WAL failed"),
    }
}

/// Runs a statement without parameters from the statement cache (no parsing per transaction).
fn run_cached(conn: &rusqlite::Connection, sql: &str) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_writer(
    conn: &rusqlite::Connection,
    mut jobs: tokio::sync::mpsc::Receiver<WriteJob>,
    restart_wanted: &AtomicBool,
) {
    while let Some(first) = jobs.blocking_recv() {
        if restart_wanted.swap(false, Ordering::Relaxed) {
            restart_wal(conn);
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = run_cached(conn, "BEGIN IMMEDIATE") {
            fail_all(batch, &e.to_string());
            continue;
        }
        let mut replies = Vec::with_capacity(batch.len());
        // Set when a job's writes could not be undone: then nothing of the batch may commit.
        let mut broken: Option<String> = None;
        for job in batch {
            if broken.is_some() || run_cached(conn, "SAVEPOINT job").is_err() {
                // Runs against a connection that refuses everything: the job answers with an error.
                replies.push(job(&mut FailingConn).1);
                continue;
            }
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut SqliteConn(conn))));
            let (keep, reply) = match ran {
                Ok((ok, reply)) => (ok, Some(reply)),
                Err(_) => {
                    // The job's reply went with the unwinding: its caller sees the writer's error.
                    tracing::error!("a database transaction panicked; its writes are undone");
                    (false, None)
                }
            };
            let settled =
                if keep { run_cached(conn, "RELEASE job") } else { conn.execute_batch("ROLLBACK TO job; RELEASE job") };
            if let Err(e) = settled {
                broken = Some(e.to_string());
            }
            replies.extend(reply);
        }
        let committed = match broken {
            Some(message) => Err(message),
            None => run_cached(conn, "COMMIT").map_err(|e| e.to_string()),
        };
        match committed {
            Ok(()) => replies.into_iter().for_each(|reply| reply(None)),
            Err(message) => {
                let _ = conn.execute_batch("ROLLBACK");
                for reply in replies {
                    reply(Some(StoreError::Sqlite(message.clone())));
                }
            }
        }
    }
}

/// Answers every job of a batch that could not begin with the failure, running none of them.
fn fail_all(batch: Vec<WriteJob>, message: &str) {
    for job in batch {
        let (_, reply) = job(&mut FailingConn);
        reply(Some(StoreError::Sqlite(message.to_owned())));
    }
}

/// Stands in for a connection when a batch could not begin: every statement fails.
struct FailingConn;

impl Conn for FailingConn {
    fn execute(&mut self, _: &str, _: &[Value]) -> Result<u64, StoreError> {
        Err(StoreError::WriterGone)
    }
    fn query(&mut self, _: &str, _: &[Value]) -> Result<Vec<Row>, StoreError> {
        Err(StoreError::WriterGone)
    }
    fn execute_batch(&mut self, _: &str) -> Result<(), StoreError> {
        Err(StoreError::WriterGone)
    }
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_bytes(path: &Path) -> u64 {
        std::fs::metadata(path.with_extension("db-wal")).map(|m| m.len()).unwrap_or(0)
    }

    #[test]
    fn the_writer_starts_the_wal_over_and_gives_way_to_a_reader_of_an_older_snapshot() {
        let dir = std::env::temp_dir().join(format!("orderguard-wal-{}", crate::ids::random_token(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wal.db");
        let writer = open_sqlite(&path).unwrap();
        writer.execute_batch("PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x BLOB)").unwrap();
        let fill = |conn: &rusqlite::Connection| {
            for _ in 0..50 {
                conn.execute("INSERT INTO t VALUES (randomblob(4000))", []).unwrap();
            }
        };
        fill(&writer);
        assert!(wal_bytes(&path) > 200_000, "the inserts went to the WAL");
        restart_wal(&writer);
        assert_eq!(wal_bytes(&path), 0, "truncated");

        // A reader in the middle of a read holds the WAL: the writer waits briefly, then goes on.
        fill(&writer);
        let reader = open_sqlite(&path).unwrap();
        reader.execute_batch("BEGIN; SELECT COUNT(*) FROM t").unwrap();
        fill(&writer);
        let started = std::time::Instant::now();
        restart_wal(&writer);
        assert!(started.elapsed() < Duration::from_secs(2), "gave up after {:?}", started.elapsed());
        assert!(wal_bytes(&path) > 0, "the reader's snapshot is still in the WAL");
        writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
        reader.execute_batch("COMMIT").unwrap();
        restart_wal(&writer);
        assert_eq!(wal_bytes(&path), 0, "truncated once the reader is done");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
