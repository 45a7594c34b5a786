//! The two database backends behind one small interface. Both are synchronous, so a transaction
//! body is one closure written once: SQLite runs it on its single writer thread, PostgreSQL on a
//! blocking thread with a pooled connection. SQL uses `$1` placeholders everywhere.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::StoreError;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Self::Text(v.clone())
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Self::Blob(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Self::Blob(v.to_vec())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One result row. Getters name the column (as the query names it, `AS` aliases included) and
/// fail with a clear error when it is missing or of another type.
#[derive(Debug, Clone)]
pub struct Row {
    /// The query's column names, shared by all its rows.
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        Self { columns, values }
    }

    fn at(&self, column: &'static str) -> Result<&Value, StoreError> {
        let index = self.columns.iter().position(|name| name == column);
        index.and_then(|i| self.values.get(i)).ok_or(StoreError::Column { column, expected: "present" })
    }

    pub fn int(&self, column: &'static str) -> Result<i64, StoreError> {
        match self.at(column)? {
            Value::Int(v) => Ok(*v),
            _ => Err(StoreError::Column { column, expected: "an integer" }),
        }
    }

    pub fn opt_int(&self, column: &'static str) -> Result<Option<i64>, StoreError> {
        match self.at(column)? {
            Value::Null => Ok(None),
            _ => self.int(column).map(Some),
        }
    }

    pub fn text(&self, column: &'static str) -> Result<String, StoreError> {
        match self.at(column)? {
            Value::Text(v) => Ok(v.clone()),
            _ => Err(StoreError::Column { column, expected: "a text" }),
        }
    }

    pub fn opt_text(&self, column: &'static str) -> Result<Option<String>, StoreError> {
        match self.at(column)? {
            Value::Null => Ok(None),
            _ => self.text(column).map(Some),
        }
    }

    pub fn blob(&self, column: &'static str) -> Result<Vec<u8>, StoreError> {
        match self.at(column)? {
            Value::Blob(v) => Ok(v.clone()),
            _ => Err(StoreError::Column { column, expected: "a blob" }),
        }
    }

    pub fn opt_blob(&self, column: &'static str) -> Result<Option<Vec<u8>>, StoreError> {
        match self.at(column)? {
            Value::Null => Ok(None),
            _ => self.blob(column).map(Some),
        }
    }

    /// A text column parsed into a type of fixed values (a status, a decision, …).
    pub fn parsed<T>(&self, column: &'static str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, StoreError> {
        parse(&self.text(column)?).ok_or(StoreError::Column { column, expected: "a known value" })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection inside a transaction (or, for reads, outside one).
pub trait Conn {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError>;
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError>;
    fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError>;
    fn backend(&self) -> Backend;

    fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Row, StoreError> {
        self.query_opt(sql, params)?.ok_or(StoreError::NotFound)
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite

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

fn open_sqlite(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    let conn = rusqlite::Connection::open(path)
        .map_err(|e| StoreError::Connect(format!("cannot open SQLite database {}: {e}", path.display())))?;
    // WAL lets readers run beside the writer; NORMAL keeps every commit safe from a process crash
    // (kill -9) without an fsync per transaction.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
         PRAGMA temp_store = MEMORY;",
    )?;
    // Without the query planner stability guarantee, SQLite re-parses a cached statement each time
    // a parameter it planned with changes (every `LIMIT $n`): most of the cost of such a query.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

/// What the writer thread hands back after the batch commits: sends the job's result on.
type Reply = Box<dyn FnOnce(Option<StoreError>) + Send>;
/// A transaction body for the writer thread; `true` when it succeeded and its writes stay.
type WriteJob = Box<dyn FnOnce(&mut dyn Conn) -> (bool, Reply) + Send>;

pub struct Sqlite {
    writer: tokio::sync::mpsc::Sender<WriteJob>,
    readers: Arc<ConnectionPool<rusqlite::Connection>>,
    /// Tells the checkpoint thread to stop when the store is dropped.
    open: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Sqlite {
    fn drop(&mut self) {
        self.open.store(false, std::sync::atomic::Ordering::Relaxed);
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
        let open = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let still_open = open.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run_checkpoints(&checkpointer, &still_open))
            .map_err(|e| StoreError::Connect(format!("cannot start the SQLite checkpoint thread: {e}")))?;
        let (tx, rx) = tokio::sync::mpsc::channel::<WriteJob>(4096);
        std::thread::Builder::new()
            .name(super::SQLITE_WRITER_THREAD.into())
            .spawn(move || run_writer(&writer_conn, rx))
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

/// WAL pages after which a checkpoint waits for the writer and starts the WAL over (about 256 MB
/// with 4 KiB pages).
const WAL_RESTART_PAGES: i64 = 65_536;

/// Copies the WAL into the database file every half second, without blocking the writer or
/// readers, until the store is dropped. Under sustained writes such checkpoints never catch up
/// with the writer and the WAL would grow without end: once it is large, a checkpoint waits for a
/// gap between write transactions and truncates it — writes wait for that one (within the busy
/// timeout), a rare pause instead of a WAL of many gigabytes.
fn run_checkpoints(conn: &rusqlite::Connection, open: &std::sync::atomic::AtomicBool) {
    while open.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(500));
        let pages = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get::<_, i64>(1));
        let result = match pages {
            Ok(pages) if pages > WAL_RESTART_PAGES => conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())),
            other => other.map(|_| ()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "SQLite checkpoint failed");
        }
    }
}

/// Runs a statement without parameters from the statement cache (no parsing per transaction).
fn run_cached(conn: &rusqlite::Connection, sql: &str) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_writer(conn: &rusqlite::Connection, mut jobs: tokio::sync::mpsc::Receiver<WriteJob>) {
    while let Some(first) = jobs.blocking_recv() {
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

// ---------------------------------------------------------------------------------------------
// PostgreSQL

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            Value::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
            Value::Blob(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn pg_row(names: &Arc<[String]>, row: &postgres::Row) -> Result<Row, StoreError> {
    use postgres::types::Type;
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let value = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)?.map_or(Value::Null, |v| Value::Int(i64::from(v)))
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)?.map_or(Value::Null, |v| Value::Int(i64::from(v)))
        } else if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)?.map_or(Value::Null, |v| Value::Int(i64::from(v)))
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Value::Null, Value::Blob)
        } else {
            row.try_get::<_, Option<String>>(i)?.map_or(Value::Null, Value::Text)
        };
        values.push(value);
    }
    Ok(Row::new(names.clone(), values))
}

fn pg_params(params: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)).collect()
}

/// A pooled PostgreSQL connection with the statements prepared on it (one round trip saved per
/// statement after the first use).
pub struct PgClient {
    client: postgres::Client,
    statements: HashMap<String, Prepared>,
}

/// A prepared statement and the names of its result columns.
#[derive(Clone)]
struct Prepared {
    statement: postgres::Statement,
    columns: Arc<[String]>,
}

pub struct PgConn<'a, C: postgres::GenericClient> {
    client: &'a mut C,
    statements: &'a mut HashMap<String, Prepared>,
}

impl<C: postgres::GenericClient> PgConn<'_, C> {
    fn statement(&mut self, sql: &str) -> Result<Prepared, StoreError> {
        if let Some(prepared) = self.statements.get(sql) {
            return Ok(prepared.clone());
        }
        let statement = self.client.prepare(sql)?;
        let columns = statement.columns().iter().map(|c| c.name().to_owned()).collect();
        let prepared = Prepared { statement, columns };
        self.statements.insert(sql.to_owned(), prepared.clone());
        Ok(prepared)
    }
}

impl<C: postgres::GenericClient> Conn for PgConn<'_, C> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let prepared = self.statement(sql)?;
        Ok(self.client.execute(&prepared.statement, &pg_params(params))?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let prepared = self.statement(sql)?;
        let rows = self.client.query(&prepared.statement, &pg_params(params))?;
        rows.iter().map(|row| pg_row(&prepared.columns, row)).collect()
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client.batch_execute(sql)?)
    }

    fn backend(&self) -> Backend {
        Backend::Postgres
    }
}

pub struct Postgres {
    pool: Arc<ConnectionPool<PgClient>>,
}

impl Postgres {
    pub fn connect(url: &str, size: usize) -> Result<Self, StoreError> {
        let config: postgres::Config =
            url.parse().map_err(|e| StoreError::Connect(format!("invalid PostgreSQL URL: {e}")))?;
        let connect = move || -> Result<PgClient, StoreError> {
            let mut config = config.clone();
            config.connect_timeout(Duration::from_secs(5));
            let client = config
                .connect(postgres::NoTls)
                .map_err(|e| StoreError::Connect(format!("cannot connect to PostgreSQL: {e}")))?;
            Ok(PgClient { client, statements: HashMap::new() })
        };
        let pool = ConnectionPool::new(size, Box::new(connect));
        // Fail at start, with a clear message, when the server cannot be reached.
        drop(pool.get()?);
        Ok(Self { pool: Arc::new(pool) })
    }

    pub async fn write<T, E>(&self, body: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut pooled = pool.get()?;
            let PgClient { client, statements } = &mut *pooled;
            let mut tx = client.transaction().map_err(StoreError::from)?;
            let result = body(&mut PgConn { client: &mut tx, statements });
            match &result {
                Ok(_) => tx.commit().map_err(StoreError::from)?,
                Err(_) => tx.rollback().map_err(StoreError::from)?,
            }
            result
        })
        .await
        .map_err(|_| StoreError::WriterGone)?
    }

    pub async fn read<T, E>(&self, body: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut pooled = pool.get()?;
            let PgClient { client, statements } = &mut *pooled;
            body(&mut PgConn { client, statements })
        })
        .await
        .map_err(|_| StoreError::WriterGone)?
    }
}

// ---------------------------------------------------------------------------------------------

/// A small blocking pool: connections are opened on demand up to `size`, closed ones are dropped.
pub struct ConnectionPool<C: Send + 'static> {
    idle: Mutex<(Vec<C>, usize)>,
    available: Condvar,
    size: usize,
    connect: Box<dyn Fn() -> Result<C, StoreError> + Send + Sync>,
}

pub trait PoolConnection {
    fn is_broken(&self) -> bool;
}

impl PoolConnection for rusqlite::Connection {
    fn is_broken(&self) -> bool {
        false
    }
}

impl PoolConnection for PgClient {
    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }
}

impl<C: Send + 'static> Drop for ConnectionPool<C> {
    fn drop(&mut self) {
        // A PostgreSQL client owns a runtime, which must not be dropped on an async thread.
        if let Ok(mut guard) = self.idle.lock() {
            let idle: Vec<C> = std::mem::take(&mut guard.0);
            if !idle.is_empty() {
                drop(std::thread::spawn(move || drop(idle)));
            }
        }
    }
}

impl<C: PoolConnection + Send + 'static> ConnectionPool<C> {
    fn new(size: usize, connect: Box<dyn Fn() -> Result<C, StoreError> + Send + Sync>) -> Self {
        Self { idle: Mutex::new((Vec::new(), 0)), available: Condvar::new(), size: size.max(1), connect }
    }

    /// A connection, returned to the pool when the guard is dropped (dropped for good on a panic).
    fn get(&self) -> Result<Pooled<'_, C>, StoreError> {
        let mut guard = self.idle.lock().map_err(|_| StoreError::WriterGone)?;
        loop {
            if let Some(conn) = guard.0.pop() {
                return Ok(Pooled { pool: self, conn: Some(conn) });
            }
            if guard.1 < self.size {
                guard.1 += 1;
                drop(guard);
                return match (self.connect)() {
                    Ok(conn) => Ok(Pooled { pool: self, conn: Some(conn) }),
                    Err(e) => {
                        self.forget_one();
                        Err(e)
                    }
                };
            }
            let (next, timeout) =
                self.available.wait_timeout(guard, Duration::from_secs(30)).map_err(|_| StoreError::WriterGone)?;
            if timeout.timed_out() && next.0.is_empty() && next.1 >= self.size {
                return Err(StoreError::Connect("no database connection became free within 30 s".into()));
            }
            guard = next;
        }
    }

    /// A connection that is gone: its slot is free for a new one.
    fn forget_one(&self) {
        if let Ok(mut guard) = self.idle.lock() {
            guard.1 = guard.1.saturating_sub(1);
        }
        self.available.notify_one();
    }
}

pub struct Pooled<'a, C: PoolConnection + Send + 'static> {
    pool: &'a ConnectionPool<C>,
    conn: Option<C>,
}

impl<C: PoolConnection + Send + 'static> std::ops::Deref for Pooled<'_, C> {
    type Target = C;
    fn deref(&self) -> &C {
        // Present from creation until drop.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl<C: PoolConnection + Send + 'static> std::ops::DerefMut for Pooled<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl<C: PoolConnection + Send + 'static> Drop for Pooled<'_, C> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // After a panic the connection may be mid-transaction: never hand it out again.
        if std::thread::panicking() || conn.is_broken() {
            drop(conn);
            self.pool.forget_one();
            return;
        }
        if let Ok(mut guard) = self.pool.idle.lock() {
            guard.0.push(conn);
        }
        self.pool.available.notify_one();
    }
}
