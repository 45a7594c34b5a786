//! Reloads the key ring on a timer of its own, whatever the sweeper's interval: a rotation made
//! by another instance or a command is known here well before its key is used (two minutes).

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::service::keyring;

pub async fn run(app: Arc<App>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(e) = keyring::reload(&app.store, &app.masters, &app.secrets).await {
            tracing::warn!(error = %e, "reloading the key ring failed");
        }
    }
}
