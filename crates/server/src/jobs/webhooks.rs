//! Delivers the brands' webhooks as a pool: up to `limits.webhook_concurrency` attempts in flight,
//! each started as soon as a place frees (so that one slow receiver holds its own places only);
//! due deliveries are claimed with a lease (each is attempted by one instance at a time), and the
//! finished attempts are recorded together, as many as have finished, in one transaction. When
//! nothing is due it looks a few times a second; every few seconds it measures the backlog.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};

use crate::app::App;
use crate::service::webhooks::{Attempted, attempt, claim_due, measure_backlog, record_attempts};

const IDLE: Duration = Duration::from_millis(200);
/// While a few deliveries trickle in, a short wait lets them share a claim and a record.
const TRICKLE: Duration = Duration::from_millis(20);
/// After attempts were recorded, a moment for more to be, so that claims stay few and full.
const GATHER: Duration = Duration::from_millis(5);
const MEASURE_EVERY: Duration = Duration::from_secs(5);
/// Finished attempts recorded in one transaction at most.
const RECORD_BATCH: usize = 256;

pub async fn run(app: Arc<App>) {
    let most = app.settings.limits.webhook_concurrency.max(1);
    let places = Arc::new(Semaphore::new(most));
    // Told each time attempts are recorded (a notice given while nobody waits is kept for the next).
    let one_finished = Arc::new(Notify::new());
    // A place is given back once its attempt is recorded: until then the delivery's lease counts
    // against its endpoint's cap in the database too.
    let (finished, to_record) = mpsc::unbounded_channel::<(Attempted, OwnedSemaphorePermit)>();
    tokio::spawn(record(app.clone(), to_record, one_finished.clone()));
    let mut measured = Instant::now();
    loop {
        let free = places.available_permits();
        let claimed = if free == 0 { Ok(Vec::new()) } else { claim_due(&app, app.clock.now(), free).await };
        let claimed = claimed.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "claiming webhook deliveries failed");
            Vec::new()
        });
        let some_due = !claimed.is_empty();
        for delivery in claimed {
            let Ok(place) = places.clone().try_acquire_owned() else { break };
            let (app, finished) = (app.clone(), finished.clone());
            tokio::spawn(async move {
                let done = attempt(&app, delivery, app.clock.now()).await;
                let _ = finished.send((done, place));
            });
        }
        if measured.elapsed() >= MEASURE_EVERY {
            measured = Instant::now();
            if let Err(e) = measure_backlog(&app, app.clock.now()).await {
                tracing::warn!(error = %e, "measuring the webhook backlog failed");
            }
        }
        // With deliveries in flight, the next claim waits for attempts to be recorded (places
        // free, and an endpoint at its cap may take more) — no longer than a trickle's wait while
        // some were due, nor the idle wait; with none in flight, the idle wait.
        let bound = if some_due { TRICKLE } else { IDLE };
        if places.available_permits() < most {
            if tokio::time::timeout(bound, one_finished.notified()).await.is_ok() {
                tokio::time::sleep(GATHER).await;
            }
        } else {
            tokio::time::sleep(bound).await;
        }
    }
}

/// Records finished attempts: the first that comes and whatever else has finished meanwhile;
/// then gives their places back.
async fn record(
    app: Arc<App>,
    mut to_record: mpsc::UnboundedReceiver<(Attempted, OwnedSemaphorePermit)>,
    one_finished: Arc<Notify>,
) {
    while let Some(first) = to_record.recv().await {
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match to_record.try_recv() {
                Ok(done) => batch.push(done),
                Err(_) => break,
            }
        }
        let (attempts, places): (Vec<Attempted>, Vec<OwnedSemaphorePermit>) = batch.into_iter().unzip();
        if let Err(e) = record_attempts(&app, attempts, app.clock.now()).await {
            tracing::warn!(error = %e, "recording webhook deliveries failed");
        }
        drop(places);
        one_finished.notify_one();
    }
}
