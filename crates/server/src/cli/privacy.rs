//! The data protection officer's commands (docs/gdpr.md): `retention run`, `subject export`,
//! `subject erase`, `subject register` and `audit verify`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use orderguard_domain::clock::Timestamp;
use orderguard_domain::phone::E164;

use super::progress::Progress;
use crate::brand::{Brand, Brands};
use crate::clock::{day, parse_day};
use crate::config::Settings;
use crate::prepare_store;
use crate::service::privacy::subject::{self, Request, Subject};
use crate::service::privacy::{audit_chain, retention};

#[derive(Subcommand)]
pub enum RetentionAction {
    /// Erase what has passed its retention period now (the instances also do it as they run).
    Run {
        /// Only print what would be erased.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
pub enum AuditAction {
    /// Check the audit log's chain of hashes and report the first broken link.
    Verify,
}

/// The person a request is about, and the request's particulars.
#[derive(Args)]
pub struct SubjectArgs {
    #[arg(long)]
    brand: String,
    /// The customer id the brand knows the person by.
    #[arg(long, conflicts_with = "phone", required_unless_present = "phone")]
    customer: Option<String>,
    /// The person's mobile number (E.164, or national in the brand's region).
    #[arg(long)]
    phone: Option<String>,
    /// Your reference for the request (a ticket number): kept in the register.
    #[arg(long, default_value = "")]
    reference: String,
    /// The day the request came in (`2026-12-01`); default today. The answer is due a month later.
    #[arg(long)]
    received: Option<String>,
    /// Who answers it (recorded in the register and the audit log); default the login name.
    #[arg(long, env = "USER", default_value = "command line")]
    by: String,
}

#[derive(Subcommand)]
pub enum SubjectAction {
    /// Write everything held on a person as JSON (Art. 15).
    Export {
        #[command(flatten)]
        who: SubjectArgs,
        /// Write to this file (created readable by its owner only) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Erase a person's personal data and look-up hashes (Art. 17); prints what was erased and
    /// what was withheld, and why.
    Erase {
        #[command(flatten)]
        who: SubjectArgs,
        /// On PostgreSQL, also rewrite the tables (`VACUUM FULL`, an exclusive lock while it runs)
        /// so that the old row versions leave the files now, not when autovacuum reuses the space.
        #[arg(long)]
        vacuum_full: bool,
    },
    /// The register of requests: received, due, answered, outcome.
    Register {
        #[arg(long)]
        brand: Option<String>,
    },
}

pub async fn retention(action: RetentionAction, settings: Settings, now: Timestamp) -> anyhow::Result<()> {
    let RetentionAction::Run { dry_run } = action;
    let brands = Brands::build(&settings)?;
    let store = prepare_store(&settings, now).await?;
    let report = if dry_run {
        retention::due(&store, &brands, &settings.retention, now).await?
    } else {
        let secrets = crate::open_secrets(&settings, &store).await?;
        let due = retention::due(&store, &brands, &settings.retention, now).await?.total();
        let mut progress = Progress::new("items erased", u64::try_from(due).ok());
        let clock = crate::clock::Clock::default();
        let erased = &mut |n: i64| progress.add(u64::try_from(n).unwrap_or(0));
        let report = retention::run_to_end(&store, &secrets, &brands, &settings.retention, &clock, erased).await?;
        progress.finish();
        report
    };
    let verb = if dry_run { "would erase" } else { "erased" };
    for line in report.lines() {
        println!("{verb} {line}");
    }
    println!("retention {verb} {} item(s) in all", report.total());
    Ok(())
}

pub async fn audit(action: AuditAction, settings: Settings, now: Timestamp) -> anyhow::Result<()> {
    let AuditAction::Verify = action;
    let store = prepare_store(&settings, now).await?;
    let secrets = crate::open_secrets(&settings, &store).await?;
    let report = audit_chain::verify(&store, &secrets).await?;
    if report.unchained > 0 {
        println!("{} entries were written before the chain began (an earlier release): not covered", report.unchained);
    }
    if report.starts_after > 0 {
        println!("the chain starts after entry {} (older entries were removed by retention)", report.starts_after);
    }
    // Kept outside the database (a log shipper, a ticket), it shows later whether entries at the
    // end were removed together with the head.
    println!("head: entry {} hash {}", report.head.0, report.head.1);
    match report.broken {
        None => {
            println!("audit log intact: {} chained entries verified", report.verified);
            Ok(())
        }
        Some(broken) => bail!("audit log broken after {} intact entries: {broken}", report.verified),
    }
}

fn parts(who: &SubjectArgs, brands: &Brands, now: Timestamp) -> anyhow::Result<(Arc<Brand>, Subject, Request)> {
    let Some(brand) = brands.get(&who.brand).cloned() else {
        bail!("there is no brand `{}` in the configuration", who.brand)
    };
    let subject = match (&who.customer, &who.phone) {
        (Some(customer), _) if !customer.trim().is_empty() => Subject::Customer(customer.trim().to_owned()),
        (_, Some(phone)) => Subject::Phone(
            E164::parse(phone, brand.default_region.as_deref())
                .map_err(|e| anyhow::anyhow!("--phone `{phone}`: {}", e.reason))?,
        ),
        _ => bail!("name the person with --customer ID or --phone NUMBER"),
    };
    let received_at = match &who.received {
        None => now,
        Some(text) => match parse_day(text) {
            Some(at) if at <= now.millis() => Timestamp(at),
            Some(_) => bail!("--received {text} is in the future"),
            None => bail!("--received `{text}` is not a day like 2026-12-01"),
        },
    };
    let request = Request {
        by: who.by.clone(),
        role: orderguard_domain::role::Role::Operator,
        reference: who.reference.clone(),
        received_at,
    };
    Ok((brand, subject, request))
}

fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

pub async fn subject(action: SubjectAction, settings: Settings, now: Timestamp) -> anyhow::Result<()> {
    let brands = Brands::build(&settings)?;
    let store = prepare_store(&settings, now).await?;
    let secrets = crate::open_secrets(&settings, &store).await?;
    match action {
        SubjectAction::Export { who, out } => {
            let (brand, subject, request) = parts(&who, &brands, now)?;
            let (entry, document) = subject::export(&store, &secrets, &brand, &subject, &request, now).await?;
            let text = serde_json::to_string_pretty(&document)?;
            match out {
                Some(path) => {
                    write_private(&path, &text)?;
                    eprintln!("written to {}", path.display());
                }
                None => println!("{text}"),
            }
            eprintln!("request {} registered: {}", entry.id, entry.outcome.unwrap_or_default());
        }
        SubjectAction::Erase { who, vacuum_full } => {
            let (brand, subject, request) = parts(&who, &brands, now)?;
            let (entry, report) = subject::erase(&store, &secrets, &brand, &subject, &request, now).await?;
            subject::reclaim(&store, vacuum_full).await?;
            println!("request {}: {}", entry.id, entry.outcome.unwrap_or_default());
            for withheld in &report.withheld {
                println!("withheld {}: {}", withheld.what, withheld.reason);
            }
            if store.backend() == crate::store::Backend::Postgres && !vacuum_full {
                println!(
                    "PostgreSQL keeps the old row versions in its files until the space is reused: run with \
                     --vacuum-full (or VACUUM FULL in a maintenance window) to remove them now"
                );
            }
        }
        SubjectAction::Register { brand } => {
            let requests = subject::register(&store, brand).await?;
            println!(
                "{:<38} {:<10} {:<7} {:<20} {:<14} {:<12} {:<12} {:<12} outcome",
                "request", "brand", "kind", "named by", "reference", "received", "due", "answered"
            );
            for r in requests {
                let late = r.answered_at.is_none_or(|answered| answered > r.due_at);
                println!(
                    "{:<38} {:<10} {:<7} {:<20} {:<14} {:<12} {:<12} {:<12} {}{}",
                    r.id,
                    r.brand,
                    r.kind.as_str(),
                    r.named_by,
                    if r.reference.is_empty() { "–" } else { r.reference.as_str() },
                    day(r.received_at),
                    day(r.due_at),
                    r.answered_at.map_or_else(|| "open".into(), day),
                    if late { "LATE " } else { "" },
                    r.outcome.unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
