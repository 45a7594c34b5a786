//! `orderguard list …`: a brand's allow and block lists, from the command line (audited as the
//! operator named by `--by`).

use anyhow::{Context, bail};
use clap::Subcommand;
use orderguard_domain::clock::Timestamp;
use orderguard_domain::lists::{ListKind, ListName};
use orderguard_domain::role::Role;

use crate::brand::Brands;
use crate::config::Settings;
use crate::prepare_store;
use crate::service::Actor;
use crate::service::lists::{self, NewEntry};

#[derive(Subcommand)]
pub enum ListAction {
    /// Add an entry to the brand's allow or block list.
    Add {
        #[arg(long)]
        brand: String,
        /// `allow` or `block`.
        #[arg(long)]
        list: String,
        /// `number`, `customer`, `device`, `ip_range` or `number_prefix`.
        #[arg(long)]
        kind: String,
        /// The number (E.164 or national), customer id, device id, CIDR range or +prefix.
        #[arg(long)]
        value: String,
        /// Why: shown to analysts and kept in the audit log's context.
        #[arg(long)]
        reason: String,
        /// Days until the entry stops counting (default: until removed).
        #[arg(long)]
        expires_in_days: Option<u32>,
        /// Who adds it (recorded in the entry and the audit log).
        #[arg(long)]
        by: String,
    },
    /// Remove an entry by its id.
    Remove {
        #[arg(long)]
        brand: String,
        #[arg(long)]
        id: String,
        #[arg(long)]
        by: String,
    },
    /// Show the brand's entries that have not expired.
    Show {
        #[arg(long)]
        brand: String,
    },
}

pub async fn list(action: ListAction, settings: Settings, now: Timestamp) -> anyhow::Result<()> {
    let brands = Brands::build(&settings)?;
    let slug = match &action {
        ListAction::Add { brand, .. } | ListAction::Remove { brand, .. } | ListAction::Show { brand } => brand.clone(),
    };
    let Some(brand) = brands.get(&slug).cloned() else { bail!("there is no brand `{slug}` in the configuration") };
    let store = prepare_store(&settings, now).await?;
    let operator = |by: String| Actor { username: by, role: Role::Operator, brand: None };
    match action {
        ListAction::Add { list, kind, value, reason, expires_in_days, by, .. } => {
            let list =
                ListName::parse(&list).with_context(|| format!("--list must be allow or block, not `{list}`"))?;
            let kind = ListKind::parse(&kind).with_context(|| {
                format!("--kind must be number, customer, device, ip_range or number_prefix, not `{kind}`")
            })?;
            let expires_at = expires_in_days.map(|days| now.plus_seconds(i64::from(days) * 86_400));
            let secrets = crate::open_secrets(&settings, &store).await?;
            let new = NewEntry { list, kind, value, reason, expires_at };
            let entry = lists::add(&store, &secrets, &brand, new, &operator(by), now).await?;
            println!("{}", entry.id);
            eprintln!("added to {slug}'s {} list: {} {}", entry.list.as_str(), entry.kind.as_str(), entry.label);
        }
        ListAction::Remove { id, by, .. } => {
            let secrets = crate::open_secrets(&settings, &store).await?;
            let entry = lists::remove(&store, &secrets, &brand, &id, &operator(by), now).await?;
            eprintln!("removed from {slug}'s {} list: {} {}", entry.list.as_str(), entry.kind.as_str(), entry.label);
        }
        ListAction::Show { .. } => {
            println!("{:<38} {:<6} {:<14} {:<28} {:<20} {:<12} reason", "id", "list", "kind", "entry", "expires", "by");
            for e in lists::of_brand(&store, &brand, now).await? {
                let expires = e.expires_at.map_or_else(|| "never".to_owned(), |at| crate::clock::day(at.millis()));
                println!(
                    "{:<38} {:<6} {:<14} {:<28} {:<20} {:<12} {}",
                    e.id,
                    e.list.as_str(),
                    e.kind.as_str(),
                    e.label,
                    expires,
                    e.created_by,
                    e.reason
                );
            }
        }
    }
    Ok(())
}
