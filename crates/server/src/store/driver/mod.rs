//! The two database backends behind one small interface. Both are synchronous, so a transaction
//! body is one closure written once: SQLite runs it on its single writer thread (`sqlite`),
//! PostgreSQL on a blocking thread with a pooled connection (`pg`). SQL uses `$1`
//! placeholders everywhere.

mod pg;
mod pg_connect;
mod pool;
mod sqlite;

pub use pg::{Postgres, round_trips as postgres_round_trips};
pub use pg_connect::{PgTarget, SslMode};
pub use sqlite::Sqlite;

use std::sync::Arc;

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
