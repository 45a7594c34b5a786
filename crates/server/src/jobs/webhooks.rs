//! Delivers the brands' webhooks in batches: the due deliveries are claimed with a lease (each is
//! attempted by one instance at a time, and no more than its cap to one endpoint), sent at once,
//! and recorded together in one transaction; then the next batch, at once while batches come
//! full, a little later while a few trickle in (so that they share a transaction), a few times a
//! second when none are due. Every few seconds the backlog is measured for Prometheus.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::App;
use crate::service::webhooks::{deliver_due, measure_backlog};

const IDLE: Duration = Duration::from_millis(200);
const TRICKLE: Duration = Duration::from_millis(20);
const MEASURE_EVERY: Duration = Duration::from_secs(5);

pub async fn run(app: Arc<App>) {
    let limits = &app.settings.limits;
    let most = limits.webhook_concurrency.max(1);
    let full = most.min(limits.webhook_concurrency_per_endpoint).max(1);
    let mut measured = Instant::now();
    loop {
        let wait = match deliver_due(&app, app.clock.now(), most).await {
            Ok(n) if n >= full => Duration::ZERO,
            Ok(0) => IDLE,
            Ok(_) => TRICKLE,
            Err(e) => {
                tracing::warn!(error = %e, "delivering webhooks failed");
                IDLE
            }
        };
        if measured.elapsed() >= MEASURE_EVERY {
            measured = Instant::now();
            if let Err(e) = measure_backlog(&app, app.clock.now()).await {
                tracing::warn!(error = %e, "measuring the webhook backlog failed");
            }
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}
