//! The `orderguard` command: thin — parse the command line, load settings, hand over to the library.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use orderguard::config::{LogFormat, Settings};
use orderguard::service::admin;
use orderguard::store::StoreError;
use orderguard::store::keys;
use orderguard::{clock, crypto, ids, prepare_store, simulate};

// glibc's allocator cost about 12% of the CPU under load (many small, short-lived request buffers).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "orderguard", version, about = "SMS two-factor verification for telecom order processes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a complete demo: SQLite, four brands, demo shops, the SMS outbox page and the admin
    /// dashboards, filled with simulated weeks of traffic.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Keep the data here (default: a new temporary folder).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Use this database instead of SQLite in the data folder (e.g. a `postgres://` URL).
        #[arg(long)]
        database: Option<String>,
        /// Simulate this many days of traffic before the demo opens (0: start empty).
        #[arg(long, default_value_t = 28)]
        history_days: i64,
    },
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
    /// Apply database migrations and store the configured brands, then exit.
    Migrate {
        #[arg(long, short, env = "ORDERGUARD_CONFIG")]
        config: PathBuf,
    },
    /// Manage a brand's API keys.
    Apikey {
        #[command(subcommand)]
        action: ApikeyAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// The dashboards' counters.
    Analytics {
        #[command(subcommand)]
        action: AnalyticsAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// Published market figures for the dashboards.
    Market {
        #[command(subcommand)]
        action: MarketAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// Manage admin users.
    User {
        #[command(subcommand)]
        action: UserAction,
        #[arg(long, short, env = "ORDERGUARD_CONFIG", global = true)]
        config: Option<PathBuf>,
    },
    /// Manage the keys that sign receipts.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
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
    Bench(orderguard::bench::BenchArgs),
    /// Measure SMS hand-off over one SMPP bind against a running SMSC, at several window sizes.
    BenchSmpp(orderguard::bench::smpp::SmppBenchArgs),
    /// Load millions of events, count them and time every dashboard page over HTTP.
    BenchDashboards(orderguard::bench::dashboards::DashboardBenchArgs),
}

#[derive(Subcommand)]
enum MarketAction {
    /// Import figures from a CSV file with the columns period, metric, value, source.
    Import { file: PathBuf },
}

#[derive(Subcommand)]
enum AnalyticsAction {
    /// Count the whole event log again (after a change to what is counted, or to repair).
    Rebuild,
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a user of the admin area. The password is read from standard input with
    /// --password-stdin, or made up and shown once.
    Add {
        #[arg(long)]
        username: String,
        /// operator, brand_admin, analyst or auditor.
        #[arg(long)]
        role: String,
        /// The brand of a brand_admin or analyst.
        #[arg(long)]
        brand: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum ApikeyAction {
    /// Create a key; it is shown once.
    Create {
        #[arg(long)]
        brand: String,
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List a brand's keys (prefixes only).
    List {
        #[arg(long)]
        brand: String,
    },
    /// Revoke a key by its id.
    Revoke {
        #[arg(long)]
        brand: String,
        id: String,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Report errors and warnings: texts, SMS segments, colour contrast, logos.
    Check {
        #[arg(long, short, env = "ORDERGUARD_CONFIG")]
        config: PathBuf,
    },
}

/// Prints the report; fails when the configuration cannot start the service.
async fn doctor(path: &std::path::Path) -> anyhow::Result<()> {
    let settings = Settings::load(path)?;
    let findings = orderguard::doctor::run(&settings).await;
    for f in &findings {
        println!("{:<5} {}: {}", if f.ok { "ok" } else { "FAIL" }, f.subject, f.detail);
    }
    let failed = findings.iter().filter(|f| !f.ok).count();
    println!("{} check(s), {failed} failed", findings.len());
    if failed > 0 {
        bail!("{failed} check(s) failed: see above");
    }
    Ok(())
}

fn check_config(path: &std::path::Path) -> anyhow::Result<()> {
    let settings = Settings::load(path)?;
    let report = orderguard::config_check::check(&settings);
    print!("{}", report.text());
    if report.has_errors() {
        bail!("{} cannot be used: see the errors above", path.display());
    }
    Ok(())
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a new signing key: published at once, it signs after five minutes; older keys stay published.
    Rotate {
        /// Also withdraw keys older than the newest N (receipts they signed stop verifying).
        #[arg(long)]
        keep: Option<usize>,
    },
    /// List the published signing keys.
    List,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn load(config: Option<PathBuf>) -> anyhow::Result<Settings> {
    let Some(path) = config else {
        bail!("no configuration: pass --config FILE or set ORDERGUARD_CONFIG");
    };
    Ok(Settings::load(&path)?)
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Demo { listen, data, database, history_days } => demo(listen, data, database, history_days).await,
        Command::Simulate { target, options, report } => {
            init_logging(LogFormat::Text);
            let text = std::fs::read_to_string(&target).with_context(|| format!("reading {}", target.display()))?;
            let target: simulate::Target = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a simulation target", target.display()))?;
            simulate_and_report(target, &options, report.as_deref()).await
        }
        Command::Config { action: ConfigAction::Check { config } } => check_config(&config),
        Command::Doctor { config } => doctor(&config).await,
        Command::Serve { config } => {
            let settings = load(Some(config))?;
            init_logging(settings.log_format);
            orderguard::start(settings).await?.run_until_signal().await;
            Ok(())
        }
        Command::Migrate { config } => {
            let settings = load(Some(config))?;
            init_logging(settings.log_format);
            prepare_store(&settings).await?;
            println!("database is up to date; {} brand(s) stored", settings.brands.len());
            Ok(())
        }
        Command::Apikey { action, config } => apikey(action, load(config)?).await,
        Command::Keys { action, config } => signing_keys(action, load(config)?).await,
        Command::Analytics { action: AnalyticsAction::Rebuild, config } => {
            let store = prepare_store(&load(config)?).await?;
            store.write(orderguard::store::rollups::reset).await?;
            let counted = orderguard::jobs::rollups::catch_up(&store, 0).await?;
            println!("analytics rebuilt: {counted} event(s) counted");
            Ok(())
        }
        Command::Market { action: MarketAction::Import { file }, config } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let rows = orderguard::analytics::parse_market_csv(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was imported", file.display()))?;
            let store = prepare_store(&load(config)?).await?;
            let count = rows.len();
            store.write(move |conn| orderguard::store::market::upsert(conn, &rows)).await?;
            println!("{count} market figure(s) imported from {}", file.display());
            Ok(())
        }
        Command::User { action: UserAction::Add { username, role, brand, password_stdin }, config } => {
            add_user(load(config)?, &username, &role, brand.as_deref(), password_stdin).await
        }
        Command::Bench(args) => orderguard::bench::run(args).await,
        Command::BenchSmpp(args) => orderguard::bench::smpp::run(args).await,
        Command::BenchDashboards(args) => orderguard::bench::dashboards::run(args).await,
    }
}

async fn create_api_key(settings: &Settings, brand: &str, label: &str) -> anyhow::Result<String> {
    if !settings.brands.iter().any(|b| b.slug == brand) {
        bail!("brand `{brand}` is not in the configuration");
    }
    let store = prepare_store(settings).await?;
    Ok(orderguard::service::api_keys::create(&store, brand, label).await?)
}

async fn add_user(
    settings: Settings,
    username: &str,
    role: &str,
    brand: Option<&str>,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let (password, show) = if password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (orderguard::ids::random_token(18), true)
    };
    let brands = orderguard::brand::Brands::build(&settings)?;
    let store = prepare_store(&settings).await?;
    orderguard::service::admin::add_user(&store, &brands, username, &password, role, brand).await?;
    eprintln!("user {username} added as {role}{}", brand.map(|b| format!(" of {b}")).unwrap_or_default());
    if show {
        eprintln!("password (shown once):");
        println!("{password}");
    }
    Ok(())
}

async fn apikey(action: ApikeyAction, settings: Settings) -> anyhow::Result<()> {
    match action {
        ApikeyAction::Create { brand, label } => {
            let secret = create_api_key(&settings, &brand, &label).await?;
            eprintln!("API key for {brand} (shown once; store it in the shop's secret store):");
            println!("{secret}");
        }
        ApikeyAction::List { brand } => {
            let store = prepare_store(&settings).await?;
            let listed = store.read(move |conn| keys::list_api_keys(conn, &brand)).await?;
            println!("{:<38} {:<10} {:<25} {:<10} label", "id", "prefix", "created", "state");
            for k in listed {
                let state = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!(
                    "{:<38} {:<10} {:<25} {:<10} {}",
                    k.id,
                    k.prefix,
                    clock::rfc3339(k.created_at),
                    state,
                    k.label
                );
            }
        }
        ApikeyAction::Revoke { brand, id } => {
            let store = prepare_store(&settings).await?;
            let now = clock::now().millis();
            let (b, i) = (brand.clone(), id.clone());
            let revoked = store.write(move |conn| keys::revoke_api_key(conn, &b, &i, now)).await?;
            if !revoked {
                bail!("brand `{brand}` has no active API key with id {id}");
            }
            println!("revoked {id}; it stops working within {} s", orderguard::http::api::KEY_CACHE_TTL.as_secs());
        }
    }
    Ok(())
}

async fn signing_keys(action: KeysAction, settings: Settings) -> anyhow::Result<()> {
    let store = prepare_store(&settings).await?;
    match action {
        KeysAction::Rotate { keep } => {
            let secrets = crypto::Secrets::derive(&settings.master_key()?);
            let now = clock::now().millis();
            let fresh = crypto::jws::generate_key(&secrets, ids::new_id(now), now);
            let kid = fresh.kid.clone();
            let retired = store
                .write(move |conn| -> Result<u64, StoreError> {
                    keys::insert_signing_key(conn, &fresh)?;
                    let Some(keep) = keep else { return Ok(0) };
                    let kept: Vec<String> =
                        keys::published_signing_keys(conn)?.into_iter().take(keep.max(1)).map(|k| k.kid).collect();
                    keys::retire_signing_keys_except(conn, &kept, now)
                })
                .await?;
            println!(
                "new signing key {kid}: in the JWKS of running instances within 30 s, signing after {} minutes; \
                 {retired} older key(s) withdrawn",
                crypto::jws::PUBLISH_BEFORE_SIGNING_MS / 60_000
            );
        }
        KeysAction::List => {
            for key in store.read(keys::published_signing_keys).await? {
                println!("{}  {}", key.kid, clock::rfc3339(key.created_at));
            }
        }
    }
    Ok(())
}

const DEMO_KEY_LABEL: &str = "demo shop";

/// Runs a simulation, prints what the API answered per brand and writes it as JSON if asked.
async fn simulate_and_report(
    target: simulate::Target,
    options: &simulate::Options,
    report_path: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let report = simulate::run(target, options).await.context("simulating traffic")?;
    println!("Simulated {} to {} in {:.1} s:", report.from, report.to, started.elapsed().as_secs_f64());
    println!(
        "  {:<10} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8} {:>7} {:>12}",
        "brand", "started", "approved", "failed", "expired", "canceled", "blocked", "resent", "fraud/orders"
    );
    for (brand, t) in &report.brands {
        let orders: u64 = t.outcomes.values().sum();
        let fraud = t.outcomes.get("fraud_confirmed").copied().unwrap_or(0);
        println!(
            "  {brand:<10} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8} {:>7} {:>12}",
            t.started,
            t.approved,
            t.failed,
            t.expired,
            t.canceled,
            t.blocked,
            t.resent,
            format!("{fraud}/{orders}")
        );
    }
    if let Some(path) = report_path {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

async fn demo(
    listen: String,
    data: Option<PathBuf>,
    database: Option<String>,
    history_days: i64,
) -> anyhow::Result<()> {
    init_logging(LogFormat::Text);
    let data_dir = match data {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!("orderguard-demo-{}", ids::random_token(6))),
    };
    let credentials_path = data_dir.join("demo-credentials.json");
    let earlier: serde_json::Value = std::fs::read_to_string(&credentials_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let status_token = earlier
        .pointer("/sms_status/token")
        .and_then(serde_json::Value::as_str)
        .map_or_else(|| ids::random_token(24), str::to_owned);
    let mut settings = orderguard::demo::prepare(&listen, &data_dir, database.as_deref(), &status_token)?;
    let mut brands = Vec::new();
    let store = prepare_store(&settings).await?;
    let now = clock::now().millis();
    for demo_brand in &orderguard::demo::DEMO_BRANDS {
        let brand = demo_brand.slug;
        // Keys of an earlier run of the demo in the same folder stop working.
        let (b, label) = (brand.to_owned(), DEMO_KEY_LABEL);
        store.write(move |conn| keys::revoke_api_keys_labelled(conn, &b, label, now)).await?;
        let key = create_api_key(&settings, brand, DEMO_KEY_LABEL).await?;
        settings.dev.demo_api_keys.insert(brand.to_owned(), key.clone());
        let since = settings.brands.iter().find(|b| b.slug == brand).and_then(|b| b.two_factor_since.clone());
        brands.push(serde_json::json!({
            "slug": brand, "api_key": key, "currency": demo_brand.currency, "two_factor_since": since,
        }));
    }
    let server = orderguard::start(settings).await.context("starting the demo server")?;
    let base_url = server.app.public_url.clone();
    // An operator to sign in to the dashboards with; a demo run in the same folder keeps its password.
    let mut admin_password = earlier.pointer("/admin/password").and_then(serde_json::Value::as_str).map(str::to_owned);
    let fresh_password = ids::random_token(18);
    let (store, brands_configured) = (&server.app.store, &server.app.brands);
    match admin::add_user(store, brands_configured, "admin", &fresh_password, "operator", None).await {
        Ok(()) => admin_password = Some(fresh_password),
        Err(admin::AdminError::Taken(_)) if admin_password.is_some() => {}
        // An earlier run stopped before it saved the password (during its simulation): a new one.
        Err(admin::AdminError::Taken(_)) => {
            admin::set_password(store, "admin", &fresh_password)
                .await
                .context("resetting the demo's admin password")?;
            admin_password = Some(fresh_password);
        }
        Err(e) => return Err(e).context("adding the demo's admin user"),
    }
    let customers: Vec<_> = orderguard::demo::customers()
        .into_iter()
        .map(|c| serde_json::json!({ "id": c.id, "brand": c.brand, "phone": c.phone, "pumping": c.pumping }))
        .collect();
    let credentials = serde_json::json!({
        "base_url": base_url,
        "brands": brands,
        "customers": customers,
        "sms_status": { "provider": "outbox", "token": status_token },
        "admin": { "username": "admin", "password": admin_password },
    });
    if history_days > 0 {
        println!("Simulating {history_days} days of traffic for the dashboards (orderguard simulate)…");
        let target = serde_json::from_value(credentials.clone()).context("the demo's simulation target")?;
        let options = simulate::Options { days: history_days, ..simulate::Options::default() };
        simulate_and_report(target, &options, Some(&data_dir.join("simulation-report.json"))).await?;
    }
    orderguard::demo::write_private(&credentials_path, &serde_json::to_string_pretty(&credentials)?)
        .with_context(|| format!("writing {}", credentials_path.display()))?;
    println!("\norderguard demo is running\n");
    println!("  demo shops     {base_url}/demo");
    println!("  SMS outbox     {base_url}/dev/outbox");
    println!("  dashboards     {base_url}/admin  (admin / {})", admin_password.as_deref().unwrap_or("?"));
    println!("  API            {base_url}/openapi.json");
    for b in &brands {
        println!(
            "  API key {:<9} {}",
            b["slug"].as_str().unwrap_or_default(),
            b["api_key"].as_str().unwrap_or_default()
        );
    }
    println!("  data           {}", data_dir.display());
    println!("  credentials    {}\n", credentials_path.display());
    println!("Press Ctrl-C to stop.");
    server.run_until_signal().await;
    Ok(())
}
