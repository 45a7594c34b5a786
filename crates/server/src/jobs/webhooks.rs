//! Delivers the brands' webhooks: a few times a second, the due deliveries are taken (with a
//! lease, so that each is attempted by one instance at a time) and sent.

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::service::webhooks::deliver_due;

pub async fn run(app: Arc<App>) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
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
