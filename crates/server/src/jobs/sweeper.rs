//! Expires pending verifications nobody came back to (and held ones nobody decided), forgets
//! risk activity nothing counts any more and sign-in failures past their window, erases what
//! has passed its retention period (one instance at a time), reloads the key ring and the receipt
//! signing keys so that a rotation by another instance or a command is picked up, and works
//! through what a rotation leaves to re-seal and re-key (one instance at a time).

use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::service::privacy::retention;
use crate::service::{admin, keyring, signing_keys, verifications};

/// Ticks between reloads of the signing keys.
const RELOAD_KEYS_EVERY: u64 = 30;

pub async fn run(app: Arc<App>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    // Names this instance as the retention lease's holder.
    let holder = crate::ids::random_token(12);
    let mut rotation_memory = keyring::RoundMemory::default();
    loop {
        ticker.tick().await;
        ticks += 1;
        loop {
            match verifications::sweep_expired(&app, app.clock.now()).await {
                // A full batch: more may be due, worked off without waiting for the next tick.
                Ok(n) if n >= verifications::SWEEP_BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "expiry sweep failed");
                    break;
                }
            }
        }
        if ticks.is_multiple_of(RELOAD_KEYS_EVERY) {
            // Rounds follow each other while they find full batches, up to a bound per tick.
            for _ in 0..keyring::ROUNDS_PER_TICK {
                match keyring::round(&app.store, &app.secrets, &holder, &mut rotation_memory, app.clock.now()).await {
                    Ok(Some(report)) if report != keyring::RoundReport::default() => {
                        tracing::info!(?report, "key rotation: re-sealed and re-keyed");
                        if report.resealed + report.rekeyed < keyring::BATCH as u64 {
                            break;
                        }
                    }
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "key rotation work failed");
                        break;
                    }
                }
            }
            if let Err(e) = signing_keys::reload(&app).await {
                tracing::warn!(error = %e, "reloading signing keys failed");
            }
            if let Err(e) = verifications::forget_idle_activity(&app, app.clock.now()).await {
                tracing::warn!(error = %e, "forgetting idle risk activity failed");
            }
            if let Err(e) = admin::forget_sign_in_failures(&app.store, app.clock.now()).await {
                tracing::warn!(error = %e, "forgetting past sign-in failures failed");
            }
            let now = app.clock.now();
            match retention::round(&app.store, &app.secrets, &app.brands, &app.settings.retention, &holder, now).await {
                Ok(Some(report)) if report.total() > 0 => tracing::info!(erased = ?report.lines(), "retention"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention failed"),
            }
        }
    }
}
