//! `orderguard alerts backtest`: when each alert rule would have fired over stored history, with
//! the brand's settings of the configuration file, so that a threshold is tuned before it goes live.

use anyhow::bail;
use clap::Subcommand;
use orderguard_domain::alert::replay::Transition;
use orderguard_domain::clock::Timestamp;

use crate::brand::Brands;
use crate::clock::{parse_day, parse_rfc3339, rfc3339};
use crate::config::Settings;
use crate::prepare_store;
use crate::service::alerts;

#[derive(Subcommand)]
pub enum AlertsAction {
    /// Evaluate the rules over stored history and print when each would have fired and resolved
    /// (the rules that judge the present state — review queue, webhook endpoints — apart).
    Backtest {
        #[arg(long)]
        brand: String,
        /// From this day (`2026-11-01`, UTC) or moment (RFC 3339).
        #[arg(long)]
        from: String,
        /// Up to this day (exclusive) or moment; default now.
        #[arg(long)]
        to: Option<String>,
    },
}

fn moment(text: &str, what: &str) -> anyhow::Result<i64> {
    match parse_rfc3339(text).or_else(|| parse_day(text)) {
        Some(at) => Ok(at),
        None => bail!("--{what} `{text}` is neither a day like 2026-11-01 nor a moment like 2026-11-01T08:00:00Z"),
    }
}

pub async fn alerts(action: AlertsAction, settings: Settings, now: Timestamp) -> anyhow::Result<()> {
    let AlertsAction::Backtest { brand, from, to } = action;
    let (from, to) = (moment(&from, "from")?, to.map_or(Ok(now.millis()), |t| moment(&t, "to"))?);
    if to <= from {
        bail!("--to must be after --from");
    }
    if from < now.millis() - 35 * 24 * 3_600_000 {
        bail!("a backtest reaches at most 35 days back: the per-minute counters it reads are kept that long");
    }
    let brands = Brands::build(&settings)?;
    let Some(brand) = brands.get(&brand).cloned() else { bail!("there is no brand `{brand}` in the configuration") };
    let store = prepare_store(&settings, now).await?;
    let transitions = alerts::backtest(&store, &brand, from, to).await?;
    println!("alerts backtest: brand {}, {} to {}", brand.slug.as_str(), rfc3339(from), rfc3339(to));
    let raised = transitions.iter().filter(|t| matches!(t, Transition::Raised { .. })).count();
    for t in &transitions {
        match t {
            Transition::Raised { at, rule, finding } => {
                let expected = finding.expected.map_or_else(|| "–".into(), |e| format!("{e:.3}"));
                println!(
                    "{}  raised    {:<22} {:<14} observed {:.3} expected {expected} volume {} baseline {} window {} min",
                    rfc3339(*at),
                    rule.as_str(),
                    if finding.key.is_empty() { "–" } else { finding.key.as_str() },
                    finding.observed,
                    finding.volume,
                    finding.baseline.as_str(),
                    finding.window_minutes,
                );
            }
            Transition::Resolved { at, rule, key } => {
                println!(
                    "{}  resolved  {:<22} {}",
                    rfc3339(*at),
                    rule.as_str(),
                    if key.is_empty() { "–" } else { key }
                );
            }
        }
    }
    println!("{raised} alert(s) would have been raised");
    Ok(())
}
