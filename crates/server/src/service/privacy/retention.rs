//! Retention: each brand's verifications lose their personal fields once older than the brand's
//! `retention_days`; the logs beside them (review notes, the audit log, webhook deliveries,
//! resolved alerts) are pruned after their own periods. The pseudonymous events and the
//! counters stay. One instance at a time works under a lease, in bounded batches, and what a
//! round erased is written to the audit log; an interrupted run goes on where it stopped, as
//! everything due is found again by what it still holds.

use orderguard_domain::clock::Timestamp;
use orderguard_domain::role::Role;

use crate::brand::Brands;
use crate::config::RetentionSettings;
use crate::crypto::Secrets;
use crate::records::admin::{AuditAction, AuditEntry};
use crate::records::privacy::RetainedLog;
use crate::service::ServiceError;
use crate::store::{self, Store};

/// Rows of one kind one round handles at most (per brand for verifications).
pub const BATCH: i64 = 500;
const JOB: &str = "retention";
const LEASE_MS: i64 = 10 * 60_000;
const DAY_MS: i64 = 86_400_000;

/// What a round erased (or, in a dry run, would erase).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    /// Per brand: verifications whose personal fields were erased, and the cut-off.
    pub verifications: Vec<(String, i64, Timestamp)>,
    pub logs: Vec<(RetainedLog, i64, Timestamp)>,
}

impl RetentionReport {
    pub fn total(&self) -> i64 {
        self.verifications.iter().map(|(_, n, _)| n).sum::<i64>() + self.logs.iter().map(|(_, n, _)| n).sum::<i64>()
    }

    fn add(&mut self, other: &RetentionReport) {
        for (brand, n, before) in &other.verifications {
            match self.verifications.iter_mut().find(|(b, _, _)| b == brand) {
                Some(entry) => entry.1 += n,
                None => self.verifications.push((brand.clone(), *n, *before)),
            }
        }
        for (log, n, before) in &other.logs {
            match self.logs.iter_mut().find(|(l, _, _)| l == log) {
                Some(entry) => entry.1 += n,
                None => self.logs.push((*log, *n, *before)),
            }
        }
    }

    /// One line per brand and log, for the command line and the audit log.
    pub fn lines(&self) -> Vec<String> {
        let day = |t: &Timestamp| crate::clock::day(t.millis());
        let mut lines: Vec<String> = self
            .verifications
            .iter()
            .map(|(brand, n, before)| format!("{brand}: {n} verification(s) created before {}", day(before)))
            .collect();
        lines.extend(self.logs.iter().map(|(log, n, before)| format!("{n} {} before {}", log.as_str(), day(before))));
        lines
    }
}

fn days_before(now: Timestamp, days: u32) -> Timestamp {
    Timestamp(now.millis() - i64::from(days.max(1)) * DAY_MS)
}

/// Each brand's retention period: the configured brands' own, and the default for a brand since
/// removed from the configuration (its verifications are erased all the same).
async fn brand_periods(store: &Store, brands: &Brands) -> Result<Vec<(String, u32)>, ServiceError> {
    let stored = store.read(store::brands::slugs).await?;
    let mut periods: Vec<(String, u32)> = brands.all().map(|b| (b.slug.to_string(), b.config.retention_days)).collect();
    for slug in stored {
        if !periods.iter().any(|(s, _)| *s == slug) {
            periods.push((slug, crate::config::DEFAULT_RETENTION_DAYS));
        }
    }
    Ok(periods)
}

fn log_cutoffs(settings: &RetentionSettings, now: Timestamp) -> [(RetainedLog, Timestamp); 4] {
    RetainedLog::ALL.map(|log| {
        let days = match log {
            RetainedLog::ReviewNotes => settings.review_notes_days,
            RetainedLog::AuditLog => settings.audit_log_days,
            RetainedLog::WebhookDeliveries => settings.webhook_deliveries_days,
            RetainedLog::Alerts => settings.alerts_days,
        };
        (log, days_before(now, days))
    })
}

/// What retention would erase now, without erasing it.
pub async fn due(
    store: &Store,
    brands: &Brands,
    settings: &RetentionSettings,
    now: Timestamp,
) -> Result<RetentionReport, ServiceError> {
    let cutoffs: Vec<(String, Timestamp)> =
        brand_periods(store, brands).await?.into_iter().map(|(slug, days)| (slug, days_before(now, days))).collect();
    let logs = log_cutoffs(settings, now);
    store
        .read(move |conn| -> Result<RetentionReport, ServiceError> {
            let mut report = RetentionReport::default();
            for (brand, before) in cutoffs {
                let n = store::privacy::count_held_before(conn, &brand, before.millis())?;
                report.verifications.push((brand, n, before));
            }
            for (log, before) in logs {
                report.logs.push((log, store::privacy::count_due(conn, log, before.millis())?, before));
            }
            Ok(report)
        })
        .await
}

/// One bounded round under the retention lease: `None` when another instance holds it. The
/// report says what was erased; a full batch of any kind means more is due.
pub async fn round(
    store: &Store,
    secrets: &Secrets,
    brands: &Brands,
    settings: &RetentionSettings,
    holder: &str,
    now: Timestamp,
) -> Result<Option<RetentionReport>, ServiceError> {
    let (name, at) = (holder.to_owned(), now.millis());
    let taken = store.write(move |conn| store::leases::take_lease(conn, JOB, &name, at, at + LEASE_MS)).await?;
    if taken.is_none() {
        return Ok(None);
    }
    let mut report = RetentionReport::default();
    for (slug, days) in brand_periods(store, brands).await? {
        let before = days_before(now, days);
        let slug_inside = slug.clone();
        let erased = store
            .write(move |conn| -> Result<i64, ServiceError> {
                let mut erased = 0;
                for id in store::privacy::held_before(conn, &slug_inside, before.millis(), BATCH)? {
                    erased += i64::from(store::privacy::erase_personal_fields(conn, &id, at)?);
                }
                Ok(erased)
            })
            .await?;
        if erased > 0 {
            report.verifications.push((slug, erased, before));
        }
    }
    for (log, before) in log_cutoffs(settings, now) {
        let pruned = store.write(move |conn| store::privacy::prune(conn, log, before.millis(), BATCH)).await?;
        if pruned > 0 {
            report.logs.push((log, i64::try_from(pruned).unwrap_or(i64::MAX), before));
        }
    }
    let (name, lines, chain) = (holder.to_owned(), report.lines(), secrets.audit_chain().clone());
    store
        .write(move |conn| -> Result<(), ServiceError> {
            if !lines.is_empty() {
                let entry = AuditEntry {
                    at: now,
                    username: "retention".into(),
                    role: Role::Operator,
                    action: AuditAction::RetentionRun,
                    brand: None,
                    subject: lines.join("; "),
                };
                store::admin::audit(conn, &chain, &entry)?;
            }
            store::leases::release_lease(conn, JOB, &name)?;
            Ok(())
        })
        .await?;
    Ok(Some(report))
}

/// Rounds until nothing is due (the command line): waits a little while another instance holds
/// the lease. Each round reads `clock` anew, so that a long run keeps its lease alive.
pub async fn run_to_end(
    store: &Store,
    secrets: &Secrets,
    brands: &Brands,
    settings: &RetentionSettings,
    clock: &crate::clock::Clock,
    erased_round: &mut (dyn FnMut(i64) + Send),
) -> Result<RetentionReport, ServiceError> {
    let holder = format!("command-{}", crate::ids::random_token(6));
    let mut total = RetentionReport::default();
    let mut waited = 0;
    loop {
        match round(store, secrets, brands, settings, &holder, clock.now()).await? {
            None if waited < 30 => {
                waited += 1;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            None => return Err(ServiceError::Internal("another instance has been running retention for 30 s")),
            Some(report) => {
                let more = report.verifications.iter().any(|(_, n, _)| *n >= BATCH)
                    || report.logs.iter().any(|(_, n, _)| *n >= BATCH);
                total.add(&report);
                erased_round(report.total());
                if !more {
                    return Ok(total);
                }
            }
        }
    }
}
