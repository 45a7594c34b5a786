//! `[retention]`: how long the logs beside the verifications are kept, and the event-log horizon.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;

/// Retention periods in days of what is not a verification's personal data but may name people or
/// their orders: kept as long as a dispute or an investigation may need them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Review notes on held orders, counted from the order: a decision may be disputed later.
    pub review_notes_days: u32,
    /// The audit log of who looked at or changed what.
    pub audit_log_days: u32,
    /// Settled webhook deliveries and the receivers' answers.
    pub webhook_deliveries_days: u32,
    /// Resolved alerts, with the orders they named and the notes on them.
    pub alerts_days: u32,
    /// The event-log horizon: whole months of the pseudonymous event log older than this many
    /// days are written to `event_log_archive_dir` and dropped. Unset: kept for good.
    pub event_log_days: Option<u32>,
    /// Where archived months go (`events-YYYY-MM.jsonl`); needed with `event_log_days`.
    pub event_log_archive_dir: Option<PathBuf>,
}

/// Past the event-log horizon, months are archived and dropped (`[retention] event_log_days`).
#[derive(Debug, Clone)]
pub struct EventLogHorizon {
    pub days: u32,
    pub archive_dir: PathBuf,
}

impl RetentionSettings {
    /// The least `event_log_days`: webhooks are retried for three days and counters wait for
    /// late events, and every month kept in full must stay readable for a month's dashboards.
    pub const EVENT_LOG_LEAST_DAYS: u32 = 35;

    /// The event-log horizon, checked; relative archive folders are read from `config_dir`.
    pub fn event_log_horizon(&self, config_dir: Option<&Path>) -> Result<Option<EventLogHorizon>, ConfigError> {
        let Some(days) = self.event_log_days else {
            return match self.event_log_archive_dir {
                Some(_) => Err(ConfigError::Invalid(
                    "retention.event_log_archive_dir is set without retention.event_log_days".into(),
                )),
                None => Ok(None),
            };
        };
        if days < Self::EVENT_LOG_LEAST_DAYS {
            return Err(ConfigError::Invalid(format!(
                "retention.event_log_days: at least {} (got {days})",
                Self::EVENT_LOG_LEAST_DAYS
            )));
        }
        let Some(dir) = &self.event_log_archive_dir else {
            return Err(ConfigError::Invalid(
                "retention.event_log_days needs retention.event_log_archive_dir: where archived months are written"
                    .into(),
            ));
        };
        let archive_dir = match config_dir {
            Some(base) if dir.is_relative() => base.join(dir),
            _ => dir.clone(),
        };
        Ok(Some(EventLogHorizon { days, archive_dir }))
    }
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            review_notes_days: 365,
            audit_log_days: 730,
            webhook_deliveries_days: 30,
            alerts_days: 365,
            event_log_days: None,
            event_log_archive_dir: None,
        }
    }
}
