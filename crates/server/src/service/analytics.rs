//! The dashboards' counters: kept up to date from the event log, rebuilt on demand, and the
//! published market figures they are shown beside.

use orderguard_domain::clock::Timestamp;

use crate::records::market::Reference;
use crate::service::ServiceError;
use crate::store::{Store, leases, rollups};

const BATCH: i64 = 20_000;

/// Counts every event written before `before` (Unix ms) and not counted yet; gives how many.
pub async fn catch_up(store: &Store, before: i64) -> Result<usize, ServiceError> {
    catch_up_reporting(store, before, &mut |_| {}).await
}

/// [`catch_up`], telling `counted` after each batch how many events it counted.
async fn catch_up_reporting(
    store: &Store,
    before: i64,
    counted_batch: &mut (dyn FnMut(usize) + Send),
) -> Result<usize, ServiceError> {
    let mut counted = 0;
    loop {
        let done = store.write(move |conn| rollups::advance(conn, before, BATCH)).await?;
        counted += done;
        counted_batch(done);
        if done < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            return Ok(counted);
        }
    }
}

/// Forgets the counters and counts the event log up to `now` again (after a change to what is
/// counted, or to repair); gives how many events it counted. Months archived past the event-log
/// horizon are no longer in the log: their counters are kept as they are.
pub async fn rebuild(
    store: &Store,
    now: Timestamp,
    counted_batch: &mut (dyn FnMut(usize) + Send),
) -> Result<usize, ServiceError> {
    store
        .write(|conn| {
            let archived_until = leases::done_until(conn, crate::service::event_log::JOB)?.unwrap_or(0);
            rollups::reset_from(conn, archived_until)
        })
        .await?;
    catch_up_reporting(store, now.millis(), counted_batch).await
}

/// Adds or replaces published market figures.
pub async fn import_market(store: &Store, figures: Vec<Reference>) -> Result<usize, ServiceError> {
    let count = figures.len();
    store.write(move |conn| crate::store::market::upsert(conn, &figures)).await?;
    Ok(count)
}
