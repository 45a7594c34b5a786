//! Keeps the dashboards' counters up to date: every second, the events written since the last
//! round are counted (`store::rollups::advance`). Events younger than the configured lag wait a
//! round: on PostgreSQL a transaction can commit a smaller event id after a larger one, and the
//! lag lets such stragglers in before the cursor passes them.

use std::sync::Arc;
use std::time::Duration;

use crate::App;
use crate::store::StoreError;
use crate::store::rollups;

const BATCH: i64 = 20_000;

pub async fn run(app: Arc<App>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if let Err(e) = catch_up(&app.store, app.settings.limits.rollup_lag_ms).await {
            tracing::warn!(error = %e, "counting events for the dashboards failed");
        }
    }
}

/// Counts every event older than `lag_ms`; gives how many.
pub async fn catch_up(store: &crate::store::Store, lag_ms: u64) -> Result<usize, StoreError> {
    let mut counted = 0;
    loop {
        let before = crate::clock::now().millis() - i64::try_from(lag_ms).unwrap_or(i64::MAX);
        let done = store.write(move |conn| rollups::advance(conn, before, BATCH)).await?;
        counted += done;
        if done < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            return Ok(counted);
        }
    }
}
