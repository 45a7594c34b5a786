//! The `orderguard` command line: serve, migrate, the operators' tasks (keys, users, analytics,
//! market figures, doctor, configuration check) and the developers' (demo, simulate, benchmarks).
//! Each command reads its configuration, runs service functions, and prints.

mod alerts;
mod analytics;
pub mod bench;
pub mod config_check;
pub mod demo;
pub mod doctor;
mod keys;
mod lists;
pub mod logging;
mod privacy;
mod progress;
pub mod simulate;
mod users;
mod webhooks;

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::clock::Clock;
use crate::config::{LogFormat, Settings};
use crate::prepare_store;
use logging::init_logging;

#[derive(Parser)]
#[command(name = "orderguard", version, about = "SMS two-factor verification for telecom order processes")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a complete demo: SQLite, four brands, demo shops, the SMS outbox page and the admin
    /// dashboards, filled with simulated weeks of traffic.
    Demo(demo::DemoArgs),
    /// Drive simulated weeks of traffic through the API of a running instance (one with
    /// `dev.simulated_clock` and an outbox SMS provider, such as the demo) and print what it answered.
    Simulate {
        /// The instance and its brands' API keys, as in the demo's demo-credentials.json.
        #[arg(long)]
        target: PathBuf,
        #[command(flatten)]
        options: simulate::Options,
        /// Also write what the API answered, per brand, as JSON here.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Run the service.
    Serve {
        #[arg(long, short, env = "ORDERGUARD_CONFIG")]
        config: PathBuf,
    },
    /// Ask a running instance whether it is ready, for health checks where there is no curl
    /// (the container image): exit status 0 when the URL answers 2xx within 3 seconds, else 1.
    Health {
        #[arg(long, default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
    },
    /// Apply database migrations and store the configured brands, then exit.
    Migrate {
        #[arg(long, short, env = "ORDERGUARD_CONFIG")]
        config: PathBuf,
        /// Change nothing: list the migrations this version would apply, and exit with status 3
        /// if there are any (0 when the database is up to date), for deploy pipelines.
        #[arg(long)]
        check: bool,
    },
    /// Manage a brand's API keys.
    Apikey {
        #[command(subcommand)]
        action: keys::ApikeyAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// The alert rules: a backtest over stored history.
    Alerts {
        #[command(subcommand)]
        action: alerts::AlertsAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// The dashboards' counters.
    Analytics {
        #[command(subcommand)]
        action: analytics::AnalyticsAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// Published market figures for the dashboards.
    Market {
        #[command(subcommand)]
        action: analytics::MarketAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// Manage a brand's allow and block lists (numbers, customers, devices, IP ranges, number prefixes).
    List {
        #[command(subcommand)]
        action: lists::ListAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// Manage a brand's webhook endpoints, see their deliveries, replay them, send a test event.
    Webhook {
        #[command(subcommand)]
        action: webhooks::WebhookAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// Erase what has passed its retention period (docs/gdpr.md).
    Retention {
        #[command(subcommand)]
        action: privacy::RetentionAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// Data-subject requests: export or erase what is held on a person, and their register.
    Subject {
        #[command(subcommand)]
        action: privacy::SubjectAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// The audit log: check its chain of hashes.
    Audit {
        #[command(subcommand)]
        action: privacy::AuditAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// Manage admin users.
    User {
        #[command(subcommand)]
        action: users::UserAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// Manage the keys that sign receipts.
    Keys {
        #[command(subcommand)]
        action: keys::KeysAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// Check what the configuration points at: the database, each SMPP provider (a bind), each
    /// HTTP provider's address.
    Doctor {
        #[arg(long, short, env = "ORDERGUARD_CONFIG")]
        config: PathBuf,
    },
    /// Check a configuration file.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Drive complete verification flows over HTTP against a server started for the run.
    Bench(bench::BenchArgs),
    /// Measure SMS hand-off over one SMPP bind against a running SMSC, at several window sizes.
    BenchSmpp(bench::smpp::SmppBenchArgs),
    /// Measure webhook deliveries per second from one instance to a local receiver.
    BenchWebhooks(bench::webhooks::WebhookBenchArgs),
    /// Load millions of events, count them and time every dashboard page over HTTP.
    BenchDashboards(bench::dashboards::DashboardBenchArgs),
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Report errors and warnings: texts, SMS segments, colour contrast, logos.
    Check {
        #[arg(long, short, env = "ORDERGUARD_CONFIG")]
        config: PathBuf,
    },
}

fn load(config: Option<PathBuf>) -> anyhow::Result<Settings> {
    let Some(path) = config else {
        bail!("no configuration: pass --config FILE or set ORDERGUARD_CONFIG");
    };
    Ok(Settings::load(&path)?)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // A command reads the wall clock once, at its start.
    let now = Clock::default().now();
    match cli.command {
        Command::Demo(args) => demo::run(args, now).await,
        Command::Simulate { target, options, report } => {
            init_logging(LogFormat::Text);
            let text = std::fs::read_to_string(&target).with_context(|| format!("reading {}", target.display()))?;
            let target: simulate::Target = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a simulation target", target.display()))?;
            demo::simulate_and_report(target, &options, report.as_deref()).await
        }
        Command::Config { action: ConfigAction::Check { config } } => config_check::command(&config),
        Command::Doctor { config } => doctor::command(&config, now).await,
        Command::Serve { config } => {
            let settings = load(Some(config))?;
            init_logging(settings.log_format);
            crate::start(settings).await?.run_until_signal().await;
            Ok(())
        }
        Command::Health { url } => health(&url).await,
        Command::Migrate { config, check } => {
            let settings = load(Some(config))?;
            init_logging(settings.log_format);
            if check {
                return check_migrations(&settings).await;
            }
            let progress = progress::Progress::new("applying migrations", None);
            prepare_store(&settings, now).await?;
            progress.finish();
            println!("database is up to date; {} brand(s) stored", settings.brands.len());
            Ok(())
        }
        Command::Apikey { action, config } => keys::apikey(action, load(config)?, now).await,
        Command::Keys { action, config } => keys::signing_keys(action, load(config)?, now).await,
        Command::Alerts { action, config } => alerts::alerts(action, load(config)?, now).await,
        Command::Analytics { action, config } => analytics::analytics(action, load(config)?, now).await,
        Command::Market { action, config } => analytics::market(action, load(config)?, now).await,
        Command::Retention { action, config } => privacy::retention(action, load(config)?, now).await,
        Command::Subject { action, config } => privacy::subject(action, load(config)?, now).await,
        Command::Audit { action, config } => privacy::audit(action, load(config)?, now).await,
        Command::User { action, config } => users::user(action, load(config)?, now).await,
        Command::List { action, config } => lists::list(action, load(config)?, now).await,
        Command::Webhook { action, config } => webhooks::webhook(action, load(config)?, now).await,
        Command::Bench(args) => bench::run(args).await,
        Command::BenchSmpp(args) => bench::smpp::run(args).await,
        Command::BenchDashboards(args) => bench::dashboards::run(args).await,
        Command::BenchWebhooks(args) => bench::webhooks::run(args).await,
    }
}

/// `health`: one GET, its status line printed.
async fn health(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
    let response = client.get(url).send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status();
    if !status.is_success() {
        bail!("GET {url}: {status}");
    }
    println!("GET {url}: {status}");
    Ok(())
}

/// The exit status of `migrate --check` when migrations are to be applied (1 is an error).
const MIGRATIONS_PENDING: i32 = 3;

/// `migrate --check`: what `migrate` would apply, read without changing the database (a SQLite
/// file that is not there is not created).
async fn check_migrations(settings: &Settings) -> anyhow::Result<()> {
    let url = crate::store::DatabaseUrl::parse(settings.database_url.expose_secret())?;
    if let crate::store::DatabaseUrl::Sqlite(path) = &url
        && !path.exists()
    {
        println!("no database at {}: `orderguard migrate` creates it", path.display());
        std::process::exit(MIGRATIONS_PENDING);
    }
    let status = crate::store::Store::open(&url).await?.migration_status().await?;
    if !status.newer.is_empty() {
        let newer: Vec<String> = status.newer.iter().map(|v| format!("{v:04}")).collect();
        println!(
            "the database has migrations this version does not know ({}): a newer orderguard applied them",
            newer.join(", ")
        );
    }
    if status.pending.is_empty() {
        println!("database is up to date (migration {:04})", status.latest.unwrap_or_default());
        return Ok(());
    }
    println!("{} migration(s) to apply with `orderguard migrate`:", status.pending.len());
    for (version, about) in &status.pending {
        println!("  {version:04}  {about}");
    }
    std::process::exit(MIGRATIONS_PENDING);
}
