//! `orderguard analytics …` and `orderguard market …`: the dashboards' counters and the published
//! market figures beside them.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use orderguard_domain::clock::Timestamp;

use super::progress::Progress;
use crate::config::Settings;
use crate::prepare_store;
use crate::service::{analytics, event_log};

#[derive(Subcommand)]
pub enum AnalyticsAction {
    /// Count the whole event log again (after a change to what is counted, or to repair).
    Rebuild,
    /// Archive and drop the months past the event-log horizon now (`retention.event_log_days`;
    /// the service does it on its own every 30 sweeps, 30 s by default) and prepare the coming months.
    Archive,
}

#[derive(Subcommand)]
pub enum MarketAction {
    /// Import figures from a CSV file with the columns period, metric, value, source.
    Import { file: PathBuf },
}

pub async fn analytics(action: AnalyticsAction, settings: Settings, now: Timestamp) -> anyhow::Result<()> {
    let store = prepare_store(&settings, now).await?;
    match action {
        AnalyticsAction::Rebuild => {
            let total = store.read(crate::store::events::count).await?;
            let mut progress = Progress::new("events counted", u64::try_from(total).ok());
            let counted = analytics::rebuild(&store, now, &mut |n| progress.add(n as u64)).await?;
            progress.finish();
            println!("analytics rebuilt: {counted} event(s) counted");
        }
        AnalyticsAction::Archive => archive(&store, &settings, now).await?,
    }
    Ok(())
}

async fn archive(store: &crate::store::Store, settings: &Settings, now: Timestamp) -> anyhow::Result<()> {
    let horizon = settings.retention.event_log_horizon(settings.config_dir.as_deref())?;
    let holder = format!("command-{}", crate::ids::random_token(6));
    let mut round = None;
    for _ in 0..30 {
        round = event_log::round(store, horizon.as_ref(), &holder, now).await?;
        if round.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let Some(round) = round else { bail!("another instance has been maintaining the event log for 30 s") };
    for month in &round.archived {
        println!("{}: {} event(s) archived to {} and dropped", month.month, month.events, month.file.display());
    }
    match &horizon {
        None => println!("no event-log horizon set (retention.event_log_days): every event is kept"),
        Some(h) if round.archived.is_empty() => println!("nothing older than {} days to archive", h.days),
        Some(_) => {}
    }
    if round.waiting_for_counters {
        println!("a month past the horizon waits until the dashboards' counters took in all its events");
    }
    Ok(())
}

pub async fn market(action: MarketAction, settings: Settings, now: Timestamp) -> anyhow::Result<()> {
    let MarketAction::Import { file } = action;
    let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let figures = crate::analytics::market::parse_market_csv(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was imported", file.display()))?;
    let store = prepare_store(&settings, now).await?;
    let count = analytics::import_market(&store, figures).await?;
    println!("{count} market figure(s) imported from {}", file.display());
    Ok(())
}
