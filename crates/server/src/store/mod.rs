//! The only place with SQL. One dialect for both backends: `$1` placeholders, integer
//! milliseconds for time, BIGINT/TEXT/BLOB columns; the backend is chosen once by the URL.

pub mod admin;
pub mod alerts;
pub mod brands;
mod driver;
pub mod event_months;
pub mod events;
pub mod keyring;
pub mod keys;
pub mod leases;
pub mod lists;
pub mod market;
pub mod orders;
pub mod privacy;
pub mod replication;
pub mod risk_activity;
pub mod rollups;
pub mod scratch;
pub mod second_factor;
pub mod sms;
pub mod verifications;
pub mod webhooks;

use std::path::PathBuf;

pub use driver::{Backend, Conn, PgTarget, Row, SslMode, Value, postgres_round_trips};

/// The name of the thread that runs every SQLite write transaction (profilers and the benchmark look for it).
pub const SQLITE_WRITER_THREAD: &str = "sqlite-writer";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Connect(String),
    #[error("SQLite: {0}")]
    Sqlite(String),
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    #[error("column `{column}` is not {expected}")]
    Column { column: &'static str, expected: &'static str },
    #[error("no such row")]
    NotFound,
    #[error("a unique key already exists")]
    Duplicate,
    #[error("migration {version} failed: {message}")]
    Migration { version: i64, message: String },
    #[error("the database worker stopped")]
    WriterGone,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(code, _) = &e
            && (code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
        {
            return Self::Duplicate;
        }
        Self::Sqlite(e.to_string())
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
            return Self::Duplicate;
        }
        // The Display of a server error is only "db error": take the server's message.
        match e.as_db_error() {
            Some(db) => Self::Postgres(format!("{} ({})", db.message(), db.code().code())),
            None => Self::Postgres(e.to_string()),
        }
    }
}

/// Where the data lives, parsed from the database URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                return Err(StoreError::Connect("the SQLite URL names no file: use sqlite://path/to/file.db".into()));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        // The URL is not repeated: it may hold a password.
        Err(StoreError::Connect("unsupported database URL: use sqlite://FILE or postgres://USER@HOST/DB".into()))
    }
}

pub enum Store {
    Sqlite(driver::Sqlite),
    Postgres(driver::Postgres),
}

const MIGRATIONS_SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../../migrations/sqlite/0002_code_entry.sql")),
    (3, include_str!("../../migrations/sqlite/0003_delivery.sql")),
    (4, include_str!("../../migrations/sqlite/0004_admin.sql")),
    (5, include_str!("../../migrations/sqlite/0005_rollups.sql")),
    (6, include_str!("../../migrations/sqlite/0006_audit.sql")),
    (7, include_str!("../../migrations/sqlite/0007_market.sql")),
    (8, include_str!("../../migrations/sqlite/0008_daily_rollups.sql")),
    (9, include_str!("../../migrations/sqlite/0009_login_failures_by_client.sql")),
    (10, include_str!("../../migrations/sqlite/0010_events_by_brand_id.sql")),
    (11, include_str!("../../migrations/sqlite/0011_events_by_order_without_verification.sql")),
    (12, include_str!("../../migrations/sqlite/0012_risk_activity.sql")),
    (13, include_str!("../../migrations/sqlite/0013_risk_lists.sql")),
    (14, include_str!("../../migrations/sqlite/0014_review_notes.sql")),
    (15, include_str!("../../migrations/sqlite/0015_brand_policy_version.sql")),
    (16, include_str!("../../migrations/sqlite/0016_network_checked_at.sql")),
    (17, include_str!("../../migrations/sqlite/0017_webhooks.sql")),
    (18, include_str!("../../migrations/sqlite/0018_webhook_endpoints_managed.sql")),
    (19, include_str!("../../migrations/sqlite/0019_alerts.sql")),
    (20, include_str!("../../migrations/sqlite/0020_sign_in_failures_pseudonymous.sql")),
    (21, include_str!("../../migrations/sqlite/0021_privacy.sql")),
    (22, include_str!("../../migrations/sqlite/0022_admin_second_factor.sql")),
    (23, include_str!("../../migrations/sqlite/0023_keyring.sql")),
    (24, include_str!("../../migrations/sqlite/0024_market_mapping.sql")),
    (25, include_str!("../../migrations/sqlite/0025_initial_risk.sql")),
    (26, include_str!("../../migrations/sqlite/0026_events_by_brand_type_at.sql")),
    (27, include_str!("../../migrations/sqlite/0027_events_by_month.sql")),
    (28, include_str!("../../migrations/sqlite/0028_counted_from.sql")),
];
const MIGRATIONS_POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (2, include_str!("../../migrations/postgres/0002_code_entry.sql")),
    (3, include_str!("../../migrations/postgres/0003_delivery.sql")),
    (4, include_str!("../../migrations/postgres/0004_admin.sql")),
    (5, include_str!("../../migrations/postgres/0005_rollups.sql")),
    (6, include_str!("../../migrations/postgres/0006_audit.sql")),
    (7, include_str!("../../migrations/postgres/0007_market.sql")),
    (8, include_str!("../../migrations/postgres/0008_daily_rollups.sql")),
    (9, include_str!("../../migrations/postgres/0009_login_failures_by_client.sql")),
    (10, include_str!("../../migrations/postgres/0010_events_by_brand_id.sql")),
    (11, include_str!("../../migrations/postgres/0011_events_by_order_without_verification.sql")),
    (12, include_str!("../../migrations/postgres/0012_risk_activity.sql")),
    (13, include_str!("../../migrations/postgres/0013_risk_lists.sql")),
    (14, include_str!("../../migrations/postgres/0014_review_notes.sql")),
    (15, include_str!("../../migrations/postgres/0015_brand_policy_version.sql")),
    (16, include_str!("../../migrations/postgres/0016_network_checked_at.sql")),
    (17, include_str!("../../migrations/postgres/0017_webhooks.sql")),
    (18, include_str!("../../migrations/postgres/0018_webhook_endpoints_managed.sql")),
    (19, include_str!("../../migrations/postgres/0019_alerts.sql")),
    (20, include_str!("../../migrations/postgres/0020_sign_in_failures_pseudonymous.sql")),
    (21, include_str!("../../migrations/postgres/0021_privacy.sql")),
    (22, include_str!("../../migrations/postgres/0022_admin_second_factor.sql")),
    (23, include_str!("../../migrations/postgres/0023_keyring.sql")),
    (24, include_str!("../../migrations/postgres/0024_market_mapping.sql")),
    (25, include_str!("../../migrations/postgres/0025_initial_risk.sql")),
    (26, include_str!("../../migrations/postgres/0026_events_by_brand_type_at.sql")),
    (27, include_str!("../../migrations/postgres/0027_events_by_month.sql")),
    (28, include_str!("../../migrations/postgres/0028_counted_from.sql")),
];

/// PostgreSQL connections per instance unless `database_pool_size` says otherwise.
pub const DEFAULT_POOL_SIZE: usize = 8;

impl Store {
    /// Opens the database with the default pool; migrations run separately with [`Store::migrate`].
    pub async fn open(url: &DatabaseUrl) -> Result<Self, StoreError> {
        Self::open_with_pool(url, DEFAULT_POOL_SIZE).await
    }

    /// Opens the database; on PostgreSQL with up to `pool_size` connections.
    pub async fn open_with_pool(url: &DatabaseUrl, pool_size: usize) -> Result<Self, StoreError> {
        match url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Connect(format!("cannot create the data folder {}: {e}", dir.display()))
                    })?;
                }
                Ok(Self::Sqlite(driver::Sqlite::open(path, 4)?))
            }
            DatabaseUrl::Postgres(url) => {
                // The synchronous client starts a runtime of its own: connect off the async runtime.
                let url = url.clone();
                let db = tokio::task::spawn_blocking(move || driver::Postgres::connect(&url, pool_size))
                    .await
                    .map_err(|_| StoreError::WriterGone)??;
                Ok(Self::Postgres(db))
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs `body` in one transaction; its writes and events commit together or not at all.
    pub async fn write<T, E>(&self, body: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match self {
            Self::Sqlite(db) => db.write(body).await,
            Self::Postgres(db) => db.write(body).await,
        }
    }

    pub async fn read<T, E>(&self, body: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match self {
            Self::Sqlite(db) => db.read(body).await,
            Self::Postgres(db) => db.read(body).await,
        }
    }

    /// Applies the migrations not applied yet; returns the versions it applied.
    pub async fn migrate(&self, now_ms: i64) -> Result<Vec<i64>, StoreError> {
        let backend = self.backend();
        self.write(move |conn| {
            if backend == Backend::Postgres {
                // Several instances starting at once: one migrates, the others wait.
                conn.execute_batch("SELECT pg_advisory_xact_lock(7405321)")?;
            }
            let migrations = migrations_of(backend);
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )?;
            let applied: Vec<i64> = conn
                .query("SELECT version FROM schema_migrations", &[])?
                .iter()
                .map(|r| r.int("version"))
                .collect::<Result<_, _>>()?;
            let mut done = Vec::new();
            for (version, sql) in migrations.iter().filter(|(v, _)| !applied.contains(v)) {
                conn.execute_batch(sql)
                    .map_err(|e| StoreError::Migration { version: *version, message: e.to_string() })?;
                conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    &[Value::Int(*version), Value::Int(now_ms)],
                )?;
                done.push(*version);
            }
            Ok(done)
        })
        .await
    }

    /// Compares the migrations applied to the database with this binary's, changing nothing
    /// (`orderguard migrate --check`).
    pub async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        let backend = self.backend();
        let applied: Vec<i64> = self
            .read(move |conn| {
                let exists = match backend {
                    Backend::Sqlite => {
                        "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
                    }
                    Backend::Postgres => {
                        "SELECT COUNT(*) AS n FROM pg_tables \
                         WHERE schemaname = current_schema() AND tablename = 'schema_migrations'"
                    }
                };
                if conn.query_one(exists, &[])?.int("n")? == 0 {
                    return Ok(Vec::new());
                }
                conn.query("SELECT version FROM schema_migrations ORDER BY version", &[])?
                    .iter()
                    .map(|r| r.int("version"))
                    .collect()
            })
            .await?;
        Ok(MigrationStatus::of(migrations_of(backend), &applied))
    }

    /// Whether the database takes writes (readiness): goes through the writer like every change.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.write(|conn| conn.query("SELECT 1", &[]).map(|_| ())).await
    }
}

fn migrations_of(backend: Backend) -> &'static [(i64, &'static str)] {
    match backend {
        Backend::Sqlite => MIGRATIONS_SQLITE,
        Backend::Postgres => MIGRATIONS_POSTGRES,
    }
}

/// The database's migrations against this binary's.
#[derive(Debug)]
pub struct MigrationStatus {
    /// Migrations this binary would apply, oldest first: (version, what it does).
    pub pending: Vec<(i64, String)>,
    /// Versions applied that this binary does not know: a newer version migrated the database.
    pub newer: Vec<i64>,
    /// The latest version applied, if any.
    pub latest: Option<i64>,
}

impl MigrationStatus {
    fn of(known: &[(i64, &str)], applied: &[i64]) -> Self {
        // What a migration does: the first sentence of the comment it starts with.
        let about = |sql: &str| {
            let comment = sql.lines().map_while(|l| l.strip_prefix("-- ")).collect::<Vec<_>>().join(" ");
            let end = [". ", ": ", "; "].iter().filter_map(|p| comment.find(p)).min().unwrap_or(comment.len());
            comment.get(..end).unwrap_or_default().trim_end_matches(['.', ':', ';']).to_owned()
        };
        Self {
            pending: known.iter().filter(|(v, _)| !applied.contains(v)).map(|(v, sql)| (*v, about(sql))).collect(),
            newer: applied.iter().filter(|v| !known.iter().any(|(k, _)| k == *v)).copied().collect(),
            latest: applied.iter().max().copied(),
        }
    }
}

/// Splits rows for multi-row statements into chunks of 256, 128, … 8 rows and a last one of up to 8:
/// few distinct SQL texts, so that bulk writes do not push the hot statements out of the
/// prepared-statement cache.
pub(crate) fn bulk_chunks<T>(mut rows: &[T]) -> Vec<&[T]> {
    const LARGEST: usize = 256;
    // A few rows (the events of one request) go in one statement of their own size.
    const FEW: usize = 8;
    let mut chunks = Vec::new();
    while !rows.is_empty() {
        let size = match rows.len() {
            n if n <= FEW => n,
            n if n >= LARGEST => LARGEST,
            n => 1 << n.ilog2(),
        };
        let (chunk, rest) = rows.split_at(size);
        chunks.push(chunk);
        rows = rest;
    }
    chunks
}

/// `($1, $2), ($3, $4), …`: the VALUES of a multi-row INSERT of `rows` rows of `columns` columns.
pub(crate) fn values_clause(rows: usize, columns: usize) -> String {
    let row = |r: usize| {
        let placeholders: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
        format!("({})", placeholders.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod bulk_tests {
    #[test]
    fn chunks_are_powers_of_two_but_a_few_rows_go_at_once() {
        let sizes = |n: u32| -> Vec<usize> {
            let rows: Vec<u32> = (0..n).collect();
            super::bulk_chunks(&rows).iter().map(|c| c.len()).collect()
        };
        assert_eq!(sizes(600), [256, 256, 64, 16, 8]);
        assert_eq!(sizes(605), [256, 256, 64, 16, 8, 5]);
        assert_eq!(sizes(3), [3]);
        assert!(sizes(0).is_empty());
    }

    #[test]
    fn values_are_numbered_row_by_row() {
        assert_eq!(super::values_clause(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}

#[cfg(test)]
mod migration_tests {
    #[test]
    fn migrations_to_apply_are_named_by_the_first_sentence_of_their_comment() {
        let known = [
            (1, "CREATE TABLE a (x INTEGER);"),
            (2, "-- Counters per brand and hour,\n-- kept up to date: by the job. More.\nCREATE TABLE b (x INTEGER);"),
            (3, "-- An index. For the list.\nCREATE INDEX c ON b (x);"),
        ];
        let status = super::MigrationStatus::of(&known, &[1, 7]);
        assert_eq!(
            status.pending,
            [(2, "Counters per brand and hour, kept up to date".to_owned()), (3, "An index".into())]
        );
        assert_eq!((status.newer, status.latest), (vec![7], Some(7)));
        let current = super::MigrationStatus::of(&known, &[3, 1, 2]);
        assert!(current.pending.is_empty() && current.newer.is_empty());
        assert_eq!(current.latest, Some(3));
    }
}

#[cfg(test)]
mod expand_contract_tests {
    /// A statement of `sql` that a version still running against the migrated database could
    /// trip over, unless the migration itself puts the same name back (or made what it drops).
    fn contracting(sql: &str) -> Option<String> {
        let upper = sql.to_uppercase();
        let statements = upper.split(';').map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "));
        for statement in statements.filter(|s| !s.is_empty()) {
            let words: Vec<&str> = statement.split(' ').collect();
            let remade = |name: &str| {
                upper.contains(&format!("CREATE TABLE {name} ")) || upper.contains(&format!("RENAME TO {name};"))
            };
            let on_columns = [" DROP COLUMN ", " RENAME COLUMN ", " ALTER COLUMN "];
            let breaks = match words.as_slice() {
                ["ALTER", "TABLE", ..] if on_columns.iter().any(|c| statement.contains(c)) => true,
                ["DROP", "TABLE", "IF", "EXISTS", name, ..] | ["DROP", "TABLE", name, ..] => !remade(name),
                ["ALTER", "TABLE", name, "RENAME", "TO", _] => !remade(name),
                _ => false,
            };
            if breaks {
                return Some(statement);
            }
        }
        None
    }

    #[test]
    fn migrations_only_expand_unless_marked_as_contract() {
        for (version, sql) in super::MIGRATIONS_SQLITE.iter().chain(super::MIGRATIONS_POSTGRES) {
            if let Some(statement) = contracting(sql) {
                assert!(
                    sql.contains("-- contract:"),
                    "migration {version} contracts the schema without a `-- contract:` line: {statement}"
                );
            }
        }
    }

    #[test]
    fn dropping_or_renaming_what_a_running_version_reads_is_contracting() {
        assert!(contracting("ALTER TABLE verifications DROP COLUMN phone_enc;").is_some());
        assert!(contracting("ALTER TABLE a RENAME COLUMN b TO c;").is_some());
        assert!(contracting("ALTER TABLE a DROP COLUMN IF EXISTS b;").is_some());
        assert!(contracting("ALTER TABLE a ALTER COLUMN b SET NOT NULL;").is_some());
        assert!(contracting("DROP TABLE dev_outbox;").is_some());
        assert!(contracting("ALTER TABLE events RENAME TO old_events;").is_some());
        // Restructured behind the same name: the table is made again in the same migration.
        let remade =
            "ALTER TABLE events RENAME TO events_old;\nCREATE TABLE events (id BIGINT);\nDROP TABLE events_old;";
        assert_eq!(contracting(remade), None);
        assert_eq!(contracting("ALTER TABLE a ADD COLUMN b TEXT;\nCREATE INDEX c ON a (b);"), None);
    }
}
