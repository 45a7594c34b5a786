//! PostgreSQL: a pool of synchronous connections, each with the statements prepared on it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::pg_connect::PgTarget;
use super::pool::{ConnectionPool, PoolConnection};
use super::{Backend, Conn, Row, Value};
use crate::store::StoreError;

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

/// Round trips to PostgreSQL since the process started: statements, preparations, and each
/// transaction's BEGIN and COMMIT. The benchmark reports them per flow.
static ROUND_TRIPS: AtomicU64 = AtomicU64::new(0);

pub fn round_trips() -> u64 {
    ROUND_TRIPS.load(Ordering::Relaxed)
}

fn round_trip() {
    ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
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

impl PoolConnection for PgClient {
    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }
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
        round_trip();
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
        round_trip();
        Ok(self.client.execute(&prepared.statement, &pg_params(params))?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let prepared = self.statement(sql)?;
        round_trip();
        let rows = self.client.query(&prepared.statement, &pg_params(params))?;
        rows.iter().map(|row| pg_row(&prepared.columns, row)).collect()
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), StoreError> {
        round_trip();
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
        let target = PgTarget::parse(url)?;
        let connect = move || -> Result<PgClient, StoreError> {
            Ok(PgClient { client: target.connect()?, statements: HashMap::new() })
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
            round_trip();
            let mut tx = client.transaction().map_err(StoreError::from)?;
            let result = body(&mut PgConn { client: &mut tx, statements });
            round_trip();
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
