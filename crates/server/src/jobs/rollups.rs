//! Keeps the dashboards' counters up to date: every second, the events written since the last
//! round are counted. Events younger than the configured lag wait a round: on PostgreSQL a
//! transaction can commit a smaller event id after a larger one, and the lag lets such stragglers
//! in before the cursor passes them.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::service::analytics::catch_up;

pub async fn run(app: Arc<App>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let lag_ms = i64::try_from(app.settings.limits.rollup_lag_ms).unwrap_or(i64::MAX);
    loop {
        tick.tick().await;
        let before = app.clock.now().millis().saturating_sub(lag_ms);
        if let Err(e) = catch_up(&app.store, before).await {
            tracing::warn!(error = %e, "counting events for the dashboards failed");
        }
    }
}
