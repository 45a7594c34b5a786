//! `orderguard analytics …` and `orderguard market …`: the dashboards' counters and the published
//! market figures beside them.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use orderguard_domain::clock::Timestamp;

use crate::config::Settings;
use crate::prepare_store;
use crate::service::analytics;

#[derive(Subcommand)]
pub enum AnalyticsAction {
    /// Count the whole event log again (after a change to what is counted, or to repair).
    Rebuild,
}

#[derive(Subcommand)]
pub enum MarketAction {
    /// Import figures from a CSV file with the columns period, metric, value, source.
    Import { file: PathBuf },
}

pub async fn analytics(action: AnalyticsAction, settings: Settings, now: Timestamp) -> anyhow::Result<()> {
    let AnalyticsAction::Rebuild = action;
    let store = prepare_store(&settings, now).await?;
    let counted = analytics::rebuild(&store, now).await?;
    println!("analytics rebuilt: {counted} event(s) counted");
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
