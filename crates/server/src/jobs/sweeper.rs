use std::sync::Arc;
use std::time::Duration;

use crate::App;
use crate::service::verifications::sweep_expired;

/// Expires pending verifications nobody came back to, and reloads the receipt signing keys so that
/// a rotation by another instance or by `orderguard keys rotate` is picked up.
pub async fn run(app: Arc<App>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    loop {
        ticker.tick().await;
        ticks += 1;
        loop {
            match sweep_expired(&app).await {
                Ok(500..) => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "expiry sweep failed");
                    break;
                }
            }
        }
        if ticks.is_multiple_of(30)
            && let Err(e) = app.reload_signing_keys().await
        {
            tracing::warn!(error = %e, "reloading signing keys failed");
        }
    }
}
