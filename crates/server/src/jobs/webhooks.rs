//! Delivers the brands' webhooks as a pool: up to `limits.webhook_concurrency` attempts in flight,
//! each started as soon as a place frees (so that one slow receiver holds its own places only);
//! due deliveries are claimed with a lease (each is attempted by one instance at a time), and the
//! finished attempts are recorded together, as many as have finished, in one transaction. When
//! nothing is due it looks a few times a second; every few seconds it measures the backlog.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};

use crate::app::App;
use crate::service::webhooks::{Attempted, attempt, claim_due, measure_backlog, record_attempts};

const IDLE: Duration = Duration::from_millis(200);
/// While a few deliveries trickle in, a short wait lets them share a claim and a record.
const TRICKLE: Duration = Duration::from_millis(20);
const FREED: Duration = Duration::from_millis(2);
const MEASURE_EVERY: Duration = Duration::from_secs(5);
/// Finished attempts recorded in one transaction at most.
const RECORD_BATCH: usize = 256;

pub async fn run(app: Arc<App>) {
    let places = Arc::new(Semaphore::new(app.settings.limits.webhook_concurrency.max(1)));
    let (finished, to_record) = mpsc::unbounded_channel::<Attempted>();
    tokio::spawn(record(app.clone(), to_record));
    let mut measured = Instant::now();
    loop {
        let free = places.available_permits();
        let claimed = if free == 0 { Ok(Vec::new()) } else { claim_due(&app, app.clock.now(), free).await };
        let wait = match claimed {
            Ok(claimed) => {
                let count = claimed.len();
                for delivery in claimed {
                    let Ok(place) = places.clone().try_acquire_owned() else { break };
                    let (app, finished) = (app.clone(), finished.clone());
                    tokio::spawn(async move {
                        let done = attempt(&app, delivery, app.clock.now()).await;
                        let _ = finished.send(done);
                        drop(place);
                    });
                }
                match count {
                    0 if free == 0 => None,
                    0 => Some(IDLE),
                    n if n < free => Some(TRICKLE),
                    _ => None,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming webhook deliveries failed");
                Some(IDLE)
            }
        };
        if measured.elapsed() >= MEASURE_EVERY {
            measured = Instant::now();
            if let Err(e) = measure_backlog(&app, app.clock.now()).await {
                tracing::warn!(error = %e, "measuring the webhook backlog failed");
            }
        }
        match wait {
            Some(wait) => tokio::time::sleep(wait).await,
            // Every place taken: go on once one frees, and a moment more, so that the next claim
            // takes the places freed meanwhile too.
            None => {
                if let Ok(place) = places.clone().acquire_owned().await {
                    drop(place);
                }
                tokio::time::sleep(FREED).await;
            }
        }
    }
}

/// Records finished attempts: the first that comes and whatever else has finished meanwhile.
async fn record(app: Arc<App>, mut to_record: mpsc::UnboundedReceiver<Attempted>) {
    while let Some(first) = to_record.recv().await {
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match to_record.try_recv() {
                Ok(done) => batch.push(done),
                Err(_) => break,
            }
        }
        if let Err(e) = record_attempts(&app, batch, app.clock.now()).await {
            tracing::warn!(error = %e, "recording webhook deliveries failed");
        }
    }
}
