//! Runs the alert rules: every instance tries each few seconds, the one holding the evaluator's
//! lease evaluates the minutes counted since its last round (at once again while it is behind),
//! the others wait for the lease to run out should it die. Every instance keeps its open-alert
//! gauges for Prometheus.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::App;
use crate::service::alerts::{evaluate_due, measure_open};

const EVERY: Duration = Duration::from_secs(5);
const MEASURE_EVERY: Duration = Duration::from_secs(15);

pub async fn run(app: Arc<App>) {
    // Names this instance as the lease's holder.
    let holder = crate::ids::random_token(12);
    let mut measured: Option<Instant> = None;
    loop {
        let wait = match evaluate_due(&app, &holder, app.clock.now()).await {
            // Behind (a pause, or a simulated clock that jumped): the next round at once.
            Ok(Some(minutes)) if minutes >= 60 => Duration::ZERO,
            Ok(_) => EVERY,
            Err(e) => {
                tracing::warn!(error = %e, "evaluating the alert rules failed");
                EVERY
            }
        };
        if measured.is_none_or(|m| m.elapsed() >= MEASURE_EVERY) {
            measured = Some(Instant::now());
            if let Err(e) = measure_open(&app).await {
                tracing::warn!(error = %e, "counting open alerts failed");
            }
        }
        if wait.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(wait).await;
        }
    }
}
