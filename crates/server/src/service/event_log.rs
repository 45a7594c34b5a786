//! The event log's months, one instance at a time: the coming months prepared ahead (PostgreSQL
//! partitions), and whole months past the event-log horizon written to an archive file and then
//! dropped. A month goes only once the dashboards' counters took in all its events, so the
//! counters keep what was archived (`analytics rebuild` then recounts from the horizon on).

use std::io::Write;
use std::path::{Path, PathBuf};

use orderguard_domain::clock::Timestamp;

use crate::analytics::DAY_MS;
use crate::analytics::market::month_of;
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
    let (name, at) = (holder.to_owned(), now.millis());
    if store.write(move |conn| leases::take_lease(conn, JOB, &name, at, at + LEASE_MS)).await?.is_none() {
        return Ok(None);
    }
    let this_month = month_of(at);
    let ahead = [this_month, next_month(this_month), next_month(next_month(this_month))];
    store.write(move |conn| event_months::prepare(conn, &ahead)).await?;
    let mut round = Round::default();
    if let Some(horizon) = horizon {
        let cutoff = at - i64::from(horizon.days) * DAY_MS;
        while let Some(oldest) = store.read(crate::store::alerts::first_event_at).await? {
            let month = (month_of(oldest), next_month(month_of(oldest)));
            if month.1 > cutoff {
                break;
            }
            let (last, counted) = store
                .read(move |conn| {
                    Ok::<_, StoreError>((
                        event_months::last_id_between(conn, month)?,
                        event_months::counted_up_to(conn)?,
                    ))
                })
                .await?;
            if last.is_some_and(|last| last > counted) {
                round.waiting_for_counters = true;
                break;
            }
            round.archived.push(archive_month(store, &horizon.archive_dir, month, holder).await?);
        }
    }
    let name = holder.to_owned();
    store.write(move |conn| leases::release_lease(conn, JOB, &name)).await?;
    Ok(Some(round))
}

fn next_month(month: i64) -> i64 {
    month_of(month + 32 * DAY_MS)
}

/// Writes the month's events to `events-YYYY-MM.jsonl` in `dir` (unless a complete file is
/// there from an interrupted round), then drops them and records the month as archived.
async fn archive_month(
    store: &Store,
    dir: &Path,
    month: (i64, i64),
    holder: &str,
) -> Result<ArchivedMonth, EventLogError> {
    let (year, number) = event_months::year_month(month.0);
    let label = format!("{year:04}-{number:02}");
    let file = dir.join(format!("events-{label}.jsonl"));
    let events = if file.exists() { count_lines(&file)? } else { write_archive(store, &file, month).await? };
    // Deletions follow only a complete file: a round cut short finds it and goes on deleting.
    if !store.write(move |conn| event_months::drop_partition(conn, month.0)).await? {
        while store.write(move |conn| event_months::delete_between(conn, month, BATCH)).await? > 0 {}
    }
    // Events of the month left in PostgreSQL's default partition, then the record of the month.
    let name = holder.to_owned();
    store
        .write(move |conn| -> Result<(), StoreError> {
            while event_months::delete_between(conn, month, BATCH)? > 0 {}
            leases::set_done(conn, JOB, &name, month.1)?;
            Ok(())
        })
        .await?;
    Ok(ArchivedMonth { month: label, events, file })
}

/// Writes the month's events as JSON lines, by id, into a `.partial` file renamed once complete.
async fn write_archive(store: &Store, file: &Path, month: (i64, i64)) -> Result<u64, EventLogError> {
    let partial = file.with_extension("jsonl.partial");
    let fail = |path: &Path| {
        let path = path.to_owned();
        move |error| EventLogError::Archive { path, error }
    };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(fail(dir))?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(fail(&partial))?);
    let (mut after, mut written) = (0, 0_u64);
    loop {
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
    let done = out.into_inner().map_err(|e| fail(&partial)(e.into_error()))?;
    done.sync_all().map_err(fail(&partial))?;
    std::fs::rename(&partial, file).map_err(fail(file))?;
    Ok(written)
}

fn count_lines(file: &Path) -> Result<u64, EventLogError> {
    let fail = |error| EventLogError::Archive { path: file.to_owned(), error };
    let mut reader = std::fs::File::open(file).map_err(fail)?;
    let (mut buffer, mut lines) = (vec![0_u8; 64 * 1024], 0_u64);
    loop {
        let n = std::io::Read::read(&mut reader, &mut buffer).map_err(fail)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += buffer.iter().take(n).filter(|b| **b == b'\n').count() as u64;
    }
}
