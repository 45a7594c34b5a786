//! A small blocking connection pool, shared by the SQLite readers and the PostgreSQL connections.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::store::StoreError;

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
    pub(super) fn new(size: usize, connect: Box<dyn Fn() -> Result<C, StoreError> + Send + Sync>) -> Self {
        Self { idle: Mutex::new((Vec::new(), 0)), available: Condvar::new(), size: size.max(1), connect }
    }

    /// A connection, returned to the pool when the guard is dropped (dropped for good on a panic).
    pub(super) fn get(&self) -> Result<Pooled<'_, C>, StoreError> {
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
