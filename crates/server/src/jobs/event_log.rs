//! The event log's months, every 30 sweeper ticks: the coming months prepared ahead and months
//! past the event-log horizon archived and dropped (`service::event_log`), one instance at a time.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::service::event_log;

pub async fn run(app: Arc<App>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let holder = crate::ids::random_token(12);
    // Checked at start too: an invalid horizon stops `serve` before this runs.
    let horizon = match app.settings.retention.event_log_horizon(app.settings.config_dir.as_deref()) {
        Ok(horizon) => horizon,
        Err(e) => {
            tracing::error!(error = %e, "the event-log horizon is not valid: nothing is archived");
            None
        }
    };
    loop {
        ticker.tick().await;
        match event_log::round(&app.store, horizon.as_ref(), &holder, app.clock.now()).await {
            Ok(Some(round)) => {
                for month in &round.archived {
                    let file = month.file.display();
                    tracing::info!(month = %month.month, events = month.events, %file, "event log: month archived and dropped");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "event-log maintenance failed"),
        }
    }
}
