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
    let has_endpoints = app.brands.all().any(|b| !b.webhooks.is_empty());
    let mut ticks = 0_u32;
    loop {
        tick.tick().await;
        ticks = ticks.wrapping_add(1);
        if has_endpoints
            && ticks.is_multiple_of(MEASURE_EVERY)
            && let Err(e) = measure_backlog(&app, app.clock.now()).await
        {
            tracing::warn!(error = %e, "measuring the webhook backlog failed");
        }
        // A full batch: more may be due at once.
        loop {
            match deliver_due(&app, app.clock.now()).await {
                Ok(n) if n >= app.settings.limits.webhook_concurrency => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "delivering webhooks failed");
                    break;
                }
            }
        }
    }
}
