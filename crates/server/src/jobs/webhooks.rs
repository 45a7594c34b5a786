//! Delivers the brands' webhooks: a few times a second, the due deliveries are taken (with a
//! lease, so that each is attempted by one instance at a time) and sent; every few seconds the
//! backlog is measured for Prometheus.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::service::webhooks::{deliver_due, measure_backlog};

/// Ticks between two measurements of the backlog.
const MEASURE_EVERY: u32 = 25;

pub async fn run(app: Arc<App>) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0_u32;
    loop {
        tick.tick().await;
        ticks = ticks.wrapping_add(1);
        if ticks.is_multiple_of(MEASURE_EVERY)
            && let Err(e) = measure_backlog(&app, app.clock.now()).await
        {
            tracing::warn!(error = %e, "measuring the webhook backlog failed");
        }
        // Something was due: more may be, or the per-endpoint cap held some back.
        loop {
            match deliver_due(&app, app.clock.now()).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "delivering webhooks failed");
                    break;
                }
            }
        }
    }
}
