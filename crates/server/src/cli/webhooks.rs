//! `orderguard webhook …`: a brand's webhook endpoints, their deliveries, replays and test events,
//! from the command line (audited as the operator named by `--by`).

use anyhow::{Context, bail};
use clap::Subcommand;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::role::Role;
use orderguard_domain::webhook::DeliveryStatus;

use crate::brand::Brands;
use crate::clock::rfc3339;
use crate::config::Settings;
use crate::prepare_store;
use crate::service::Actor;
use crate::service::webhooks::endpoints::{self, Change, NewEndpoint, Replay};
use crate::webhooks::targets::TargetGuard;

#[derive(Subcommand)]
pub enum WebhookAction {
    /// Show the brand's endpoints, from the configuration file and stored.
    List {
        #[arg(long)]
        brand: String,
    },
    /// Create an endpoint; its secret (`whsec_…`) is printed this once.
    Create {
        #[arg(long)]
        brand: String,
        /// a-z, 0-9 and -, unique within the brand.
        #[arg(long)]
        name: String,
        /// `https://…` (plain http only to this machine).
        #[arg(long)]
        url: String,
        /// Event types separated by commas, or `*` for every one.
        #[arg(long, default_value = "*")]
        events: String,
        #[arg(long)]
        description: Option<String>,
        /// Who creates it (recorded in the audit log).
        #[arg(long)]
        by: String,
    },
    /// Enable, disable, rotate-secret (the new secret is printed; both sign until end-rotation),
    /// end-rotation or delete a stored endpoint. A configured one can only be enabled again
    /// after orderguard disabled it.
    Change {
        #[arg(long)]
        brand: String,
        #[arg(long)]
        name: String,
        /// enable, disable, rotate-secret, end-rotation or delete.
        #[arg(long)]
        change: String,
        #[arg(long)]
        by: String,
    },
    /// The endpoint's latest deliveries.
    Deliveries {
        #[arg(long)]
        brand: String,
        #[arg(long)]
        name: String,
        /// Only those pending, delivered, failed or gone.
        #[arg(long)]
        status: Option<String>,
    },
    /// Send deliveries again: one, or every failed (or gone) one since a time.
    Replay {
        #[arg(long)]
        brand: String,
        #[arg(long)]
        name: String,
        /// The delivery's number, as `deliveries` shows it.
        #[arg(long, conflicts_with = "failed_since", required_unless_present = "failed_since")]
        delivery: Option<i64>,
        /// RFC 3339 (`2026-12-06T08:00:00Z`), or hours back (`24h`).
        #[arg(long)]
        failed_since: Option<String>,
        #[arg(long)]
        by: String,
    },
    /// Send a `webhook.test` event to the endpoint.
    Test {
        #[arg(long)]
        brand: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        by: String,
    },
}

/// `24h` back from `now`, or an RFC 3339 time.
fn parse_since(text: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    if let Some(hours) = text.strip_suffix('h').and_then(|h| h.parse::<i64>().ok()) {
        return Ok(now.plus_seconds(-hours * 3600));
    }
    crate::clock::parse_rfc3339(text)
        .map(Timestamp)
        .with_context(|| format!("--failed-since must be an RFC 3339 time or hours back like 24h, not `{text}`"))
}

pub async fn webhook(action: WebhookAction, settings: Settings, now: Timestamp) -> anyhow::Result<()> {
    let brands = Brands::build(&settings)?;
    let slug = match &action {
        WebhookAction::List { brand }
        | WebhookAction::Create { brand, .. }
        | WebhookAction::Change { brand, .. }
        | WebhookAction::Deliveries { brand, .. }
        | WebhookAction::Replay { brand, .. }
        | WebhookAction::Test { brand, .. } => brand.clone(),
    };
    let Some(brand) = brands.get(&slug).cloned() else { bail!("there is no brand `{slug}` in the configuration") };
    // The configured endpoints are the server's to declare (at its start), never a command's,
    // whose file may differ from the running one's.
    let store = prepare_store(&settings, now).await?;
    let secrets = crate::open_secrets(&settings, &store).await?;
    let operator = |by: String| Actor { username: by, role: Role::Operator, brand: None };
    // The command line runs as an operator, who may see every brand's endpoints.
    let reader = operator("orderguard-cli".into());
    match action {
        WebhookAction::List { .. } => {
            for e in endpoints::list(&store, &reader, &brand).await? {
                let state = match (&e.disabled_reason, e.enabled) {
                    (Some(reason), _) => format!("disabled ({reason})"),
                    (None, true) => "enabled".into(),
                    (None, false) => "disabled".into(),
                };
                println!("{}\t{}\t{}\t{}\t{}", e.name, e.source.as_str(), state, e.url, e.subscribed.join(","));
            }
        }
        WebhookAction::Create { name, url, events, description, by, .. } => {
            let events = events.split(',').map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()).collect();
            let new = NewEndpoint { name: name.clone(), url, events, description };
            let secret = endpoints::create(
                &store,
                &secrets,
                TargetGuard::for_stored(&settings),
                &operator(by),
                &brand,
                new,
                now,
            )
            .await?;
            println!("{secret}");
            eprintln!("created {slug}'s endpoint {name}; its secret is above (it is not shown again)");
        }
        WebhookAction::Change { name, change, by, .. } => {
            let parsed = Change::parse(&change).with_context(|| {
                format!("--change must be enable, disable, rotate-secret, end-rotation or delete, not `{change}`")
            })?;
            if let Some(secret) = endpoints::change(&store, &secrets, &operator(by), &brand, &name, parsed, now).await?
            {
                println!("{secret}");
                eprintln!("both secrets sign now; the new one is above. End the rotation once receivers use it.");
            } else {
                eprintln!("{slug}'s endpoint {name}: {change} done");
            }
        }
        WebhookAction::Deliveries { name, status, .. } => {
            let status = status
                .map(|s| {
                    DeliveryStatus::parse(&s)
                        .with_context(|| format!("--status must be pending, delivered, failed or gone, not `{s}`"))
                })
                .transpose()?;
            let (_, deliveries) = endpoints::log(&store, &reader, &brand, &name, status).await?;
            println!("delivery\tevent\ttype\tstatus\tattempts\tlast_status\tlatency_ms\tcreated\tnext_try\tanswer");
            for d in deliveries {
                let next = if d.status == DeliveryStatus::Pending { rfc3339(d.next_at) } else { "-".into() };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    d.id,
                    d.event_id,
                    d.kind.as_str(),
                    d.status.as_str(),
                    d.attempts,
                    d.last_status.map_or("-".into(), |s| s.to_string()),
                    d.last_latency_ms.map_or("-".into(), |l| l.to_string()),
                    rfc3339(d.created_at),
                    next,
                    d.last_answer.unwrap_or_default(),
                );
            }
        }
        WebhookAction::Replay { name, delivery, failed_since, by, .. } => {
            let which = match (delivery, failed_since) {
                (Some(id), _) => Replay::One(id),
                (None, Some(since)) => Replay::FailedSince(parse_since(&since, now)?),
                (None, None) => bail!("name --delivery or --failed-since"),
            };
            let count = endpoints::replay(&store, &secrets, &operator(by), &brand, &name, which, now).await?;
            println!("{count}");
            eprintln!("{count} delivery(ies) of {slug}'s endpoint {name} will be sent again now");
        }
        WebhookAction::Test { name, by, .. } => {
            let id = endpoints::send_test(&store, &secrets, &operator(by), &brand, &name, now).await?;
            println!("{id}");
            eprintln!("a webhook.test event goes to {slug}'s endpoint {name} now (delivery {id})");
        }
    }
    Ok(())
}
