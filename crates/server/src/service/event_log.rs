//! The event log's months, one instance at a time: the coming months prepared ahead (PostgreSQL
//! partitions), and whole months past the event-log horizon written to an archive file and then
//! dropped. A month goes only once the dashboards' counters took in all its events, so the
//! counters keep what was archived (`analytics rebuild` then recounts from the horizon on).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use orderguard_domain::clock::Timestamp;

use crate::analytics::DAY_MS;
use crate::analytics::market::{month_of, next_month};
use crate::config::EventLogHorizon;
use crate::store::event_months::{self, ArchivedEvent};
use crate::store::{Store, StoreError, leases};

/// The lease's name; its `done_until` is the end of the last month archived.
pub const JOB: &str = "event-log";
const LEASE_MS: i64 = 10 * 60_000;
/// Events read, written or deleted at a time.
const BATCH: i64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("archive {path}: {error}")]
    Archive { path: PathBuf, error: std::io::Error },
    #[error("the archive writer stopped")]
    WriterGone,
    #[error("another instance took the event-log job over (its lease ran out): this round stopped")]
    LeaseLost,
}

/// A month archived and dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedMonth {
    /// `YYYY-MM`.
    pub month: String,
    pub events: u64,
    pub file: PathBuf,
}

#[derive(Debug, Default)]
pub struct Round {
    pub archived: Vec<ArchivedMonth>,
    /// A month past the horizon waits: the counters have not taken in all its events yet.
    pub waiting_for_counters: bool,
}

/// One round under the lease; `None` when another instance holds it.
pub async fn round(
    store: &Store,
    horizon: Option<&EventLogHorizon>,
    holder: &str,
    now: Timestamp,
) -> Result<Option<Round>, EventLogError> {
    let lease = Lease { holder: holder.to_owned(), started: Instant::now(), now: now.millis() };
    if !lease.renew(store).await? {
        return Ok(None);
    }
    let at = now.millis();
    // By the wall clock: under a simulated clock (the demo, tests) the months being written would
    // otherwise get their partition while their events go in, and an insert waiting for the
    // default partition's lock then fails its partition constraint. Events of a month without a
    // partition stay in the default one, read and archived the same way.
    let this_month = month_of(crate::clock::real_now().millis());
    let ahead = [this_month, next_month(this_month), next_month(next_month(this_month))];
    store.write(move |conn| event_months::prepare(conn, &ahead)).await?;
    let mut round = Round::default();
    if let Some(horizon) = horizon {
        let cutoff = at - i64::from(horizon.days) * DAY_MS;
        // Months are archived in order, from the end of the last one archived.
        let done = store.read(|conn| leases::done_until(conn, JOB)).await?.unwrap_or(0);
        let first = store.read(move |conn| event_months::first_counted_day(conn, done)).await?;
        let mut start = first.map(month_of);
        while let Some(month) = start.map(|m| (m, next_month(m))).filter(|(_, end)| *end <= cutoff) {
            let (last, counted) = store
                .read(move |conn| {
                    Ok::<_, StoreError>((
                        event_months::last_id_between(conn, month)?,
                        event_months::counted_up_to(conn)?,
                    ))
                })
                .await?;
            match last {
                Some(last) if last > counted => {
                    round.waiting_for_counters = true;
                    break;
                }
                Some(_) => round.archived.push(archive_month(store, &horizon.archive_dir, month, &lease).await?),
                // A month without events (the service was off): passed, and not looked at again.
                None => {
                    let holder = lease.holder.clone();
                    if !store.write(move |conn| leases::raise_done(conn, JOB, &holder, month.1)).await? {
                        return Err(EventLogError::LeaseLost);
                    }
                }
            }
            start = Some(month.1);
        }
    }
    let name = holder.to_owned();
    store.write(move |conn| leases::release_lease(conn, JOB, &name)).await?;
    Ok(Some(round))
}

/// The job's lease, renewed as a long round goes on so that no other instance takes it midway.
struct Lease {
    holder: String,
    started: Instant,
    /// The round's time, as the clock (maybe simulated) gave it at the start.
    now: i64,
}

impl Lease {
    /// Takes or keeps the lease; false when another instance holds it.
    async fn renew(&self, store: &Store) -> Result<bool, StoreError> {
        let elapsed = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(LEASE_MS);
        let (name, at) = (self.holder.clone(), self.now + elapsed);
        Ok(store.write(move |conn| leases::take_lease(conn, JOB, &name, at, at + LEASE_MS)).await?.is_some())
    }
}

/// Writes the month's events to a new archive file in `dir`, then removes from the log exactly
/// the events written (a late event of the month, with a larger id, stays in the log). The month counts as archived (`done_until`) from the first removal on, in its
/// transaction, so that a rebuild never recounts a month whose removal was cut short.
async fn archive_month(
    store: &Store,
    dir: &Path,
    month: (i64, i64),
    lease: &Lease,
) -> Result<ArchivedMonth, EventLogError> {
    let (year, number) = event_months::year_month(month.0);
    let label = format!("{year:04}-{number:02}");
    let (file, events, last_id) = write_archive(store, dir, &label, month, lease).await?;
    let holder = lease.holder.clone();
    let dropped = store
        .write(move |conn| -> Result<bool, EventLogError> {
            if !leases::raise_done(conn, JOB, &holder, month.1)? {
                return Err(EventLogError::LeaseLost);
            }
            let dropped = event_months::drop_partition(conn, month.0, last_id)?;
            // What went to PostgreSQL's default partition, or all of it on SQLite: a first batch.
            event_months::delete_archived(conn, month, last_id, BATCH)?;
            Ok(dropped)
        })
        .await?;
    if !dropped {
        while store.write(move |conn| event_months::delete_archived(conn, month, last_id, BATCH)).await? > 0 {}
    }
    Ok(ArchivedMonth { month: label, events, file })
}

/// Writes the month's events as JSON lines, by id, to `events-YYYY-MM.jsonl` (`.2.jsonl`, … when
/// an earlier round left one: a round cut short may have written some events twice, under the
/// same ids), through a `.partial` file of this holder's renamed once complete and synced.
/// Gives the file, the events written and the last id.
async fn write_archive(
    store: &Store,
    dir: &Path,
    label: &str,
    month: (i64, i64),
    lease: &Lease,
) -> Result<(PathBuf, u64, i64), EventLogError> {
    let fail = |path: &Path| {
        let path = path.to_owned();
        move |error| EventLogError::Archive { path, error }
    };
    std::fs::create_dir_all(dir).map_err(fail(dir))?;
    let file = (1..)
        .map(|n| match n {
            1 => dir.join(format!("events-{label}.jsonl")),
            n => dir.join(format!("events-{label}.{n}.jsonl")),
        })
        .find(|candidate| !candidate.exists())
        .unwrap_or_else(|| dir.join(format!("events-{label}.jsonl")));
    let partial = file.with_extension(format!("jsonl.partial-{}", lease.holder));
    let created = std::fs::OpenOptions::new().write(true).create_new(true).open(&partial).map_err(fail(&partial))?;
    let mut out = std::io::BufWriter::new(created);
    let (mut after, mut written) = (0, 0_u64);
    loop {
        if !lease.renew(store).await? {
            let _ = std::fs::remove_file(&partial);
            return Err(EventLogError::LeaseLost);
        }
        let batch: Vec<ArchivedEvent> = store.read(move |conn| event_months::batch(conn, month, after, BATCH)).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        written += batch.len() as u64;
        let path = partial.clone();
        out = tokio::task::spawn_blocking(move || -> Result<_, EventLogError> {
            for event in &batch {
                serde_json::to_writer(&mut out, event).map_err(|e| fail(&path)(e.into()))?;
                out.write_all(b"\n").map_err(fail(&path))?;
            }
            Ok(out)
        })
        .await
        .map_err(|_| EventLogError::WriterGone)??;
    }
    let (partial_done, file_done, dir_done) = (partial.clone(), file.clone(), dir.to_owned());
    tokio::task::spawn_blocking(move || -> Result<(), EventLogError> {
        let done = out.into_inner().map_err(|e| fail(&partial_done)(e.into_error()))?;
        done.sync_all().map_err(fail(&partial_done))?;
        std::fs::rename(&partial_done, &file_done).map_err(fail(&file_done))?;
        // The rename itself survives a power loss only once the folder is synced.
        std::fs::File::open(&dir_done).and_then(|d| d.sync_all()).map_err(fail(&dir_done))
    })
    .await
    .map_err(|_| EventLogError::WriterGone)??;
    Ok((file, written, after))
}
