//! A PostgreSQL schema for one benchmark run: created empty, dropped afterwards, so that runs
//! against the same database never see each other's rows.

use super::StoreError;

pub struct ScratchSchema {
    server_url: String,
    name: String,
}

impl ScratchSchema {
    /// Creates an empty schema, named at random, in the database `server_url` points at.
    pub async fn create(server_url: &str) -> Result<Self, StoreError> {
        let token = crate::ids::random_bytes::<8>();
        let name = format!("ogbench_{}", token.iter().map(|b| format!("{b:02x}")).collect::<String>());
        execute(server_url, format!("CREATE SCHEMA {name}")).await?;
        Ok(Self { server_url: server_url.to_owned(), name })
    }

    /// `server_url` with this schema as the search path: the URL the run's store opens.
    pub fn url(&self) -> String {
        let separator = if self.server_url.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-c%20search_path%3D{}", self.server_url, self.name)
    }

    /// Drops the schema and everything in it.
    pub async fn drop(self) -> Result<(), StoreError> {
        execute(&self.server_url, format!("DROP SCHEMA {} CASCADE", self.name)).await
    }
}

/// Gathers the planner's statistics of every table in the schema `url` searches first, as
/// autovacuum does within a minute in a running database: a run that starts from empty tables
/// otherwise keeps the plans of empty tables while they grow (an index scan over all of a
/// brand's verifications instead of the unique index, for one).
pub async fn analyze(url: &str) -> Result<(), StoreError> {
    execute(
        url,
        "DO $$ DECLARE t text; BEGIN \
         FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP \
         EXECUTE format('ANALYZE %I', t); END LOOP; END $$"
            .to_owned(),
    )
    .await
}

async fn execute(server_url: &str, statement: String) -> Result<(), StoreError> {
    let target = super::driver::PgTarget::parse(server_url)?;
    // The synchronous client starts a runtime of its own: keep it off the async runtime.
    tokio::task::spawn_blocking(move || target.connect()?.batch_execute(&statement).map_err(StoreError::from))
        .await
        .map_err(|_| StoreError::WriterGone)?
}
