//! `orderguard demo`: a complete deployment in one folder (`setup`), filled with simulated weeks
//! of traffic, and the credentials a newcomer needs written next to it.

pub mod setup;

use std::path::PathBuf;

use anyhow::Context;
use orderguard_domain::clock::Timestamp;

use crate::cli::logging::init_logging;
use crate::cli::simulate;
use crate::config::LogFormat;
use crate::service::{admin, api_keys};
use crate::{ids, prepare_store};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
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
    /// A TOML file with one `[network_apis.NAME]` gateway: every brand's SIM swap and device swap
    /// checks ask it instead of the demo's own development gateway (docs/network-apis.md).
    #[arg(long)]
    network_api: Option<PathBuf>,
}

const DEMO_KEY_LABEL: &str = "demo shop";

/// Runs a simulation, prints what the API answered per brand and writes it as JSON if asked.
pub async fn simulate_and_report(
    target: simulate::Target,
    options: &simulate::Options,
    report_path: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let report = simulate::run(target, options).await.context("simulating traffic")?;
    println!("Simulated {} to {} in {:.1} s:", report.from, report.to, started.elapsed().as_secs_f64());
    println!(
        "  {:<10} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8} {:>6} {:>7} {:>7} {:>12}",
        "brand",
        "started",
        "approved",
        "failed",
        "expired",
        "canceled",
        "blocked",
        "held",
        "locked",
        "resent",
        "fraud/orders"
    );
    for (brand, t) in &report.brands {
        let orders: u64 = t.outcomes.values().sum();
        let fraud = t.outcomes.get("fraud_confirmed").copied().unwrap_or(0);
        println!(
            "  {brand:<10} {:>8} {:>8} {:>7} {:>8} {:>8} {:>8} {:>6} {:>7} {:>7} {:>12}",
            t.started,
            t.approved,
            t.failed,
            t.expired,
            t.canceled,
            t.blocked,
            t.held,
            t.refused_by_lock,
            t.resent,
            format!("{fraud}/{orders}")
        );
    }
    println!("  (held: waiting in the review queue; locked: checks and resends refused by a lock or limit)");
    let (a, l) = (&report.defences.attackers, &report.defences.legitimate);
    println!(
        "Attackers: {} verifications, {} blocked, {} held; {} wrong codes judged (at most {} per customer in 24 h), \
         {} refused by a lock; at most {} SMS to one number in 10 minutes; range pumping: {} SMS before the pause; \
         {} guessed approvals; SIM swappers: {} orders, {} codes sent to their SIM",
        a.verifications,
        a.blocked,
        a.held,
        a.judged_wrong_codes,
        a.wrong_codes_per_customer_day_max,
        a.refused_by_lock,
        a.sms_per_number_10_minutes_max,
        a.range_pumping_sms_max,
        a.guessed_approvals,
        a.sim_swap_orders,
        a.sim_swap_codes_sent
    );
    println!(
        "Honest customers: {} orders, {} refused and {} held ({:.2} %); launch-day surge: {} orders, {} refused, {} held",
        l.orders, l.refused, l.held, l.refused_or_held_percent, l.surge_orders, l.surge_refused, l.surge_held
    );
    if let Some(path) = report_path {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Waits (at most three minutes) until the alert rules have judged the simulated history, so that
/// the alerts page has its incidents when the demo opens.
async fn wait_for_alerts(app: &crate::app::App) -> anyhow::Result<()> {
    println!("Evaluating the alert rules over the simulated history…");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let until = crate::service::alerts::evaluated_until(&app.store).await?;
        if until.is_some_and(|until| until >= app.clock.now().millis() - 10 * 60_000) {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            println!("(the alert rules are still catching up; the alerts page fills in the background)");
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

const MARKET_REFERENCE: &str = include_str!("../../../../../data/market-reference.csv");

pub async fn run(args: DemoArgs, now: Timestamp) -> anyhow::Result<()> {
    let DemoArgs { listen, data, database, history_days, network_api } = args;
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
    let mut settings = setup::prepare(&listen, &data_dir, database.as_deref(), &status_token, now)?;
    if let Some(path) = &network_api {
        let name = setup::use_gateway(&mut settings, path)?;
        println!("The brands' SIM swap and device swap checks ask the gateway `{name}` of {}", path.display());
    }
    let mut brands = Vec::new();
    let store = prepare_store(&settings, now).await?;
    for demo_brand in &setup::DEMO_BRANDS {
        let brand = demo_brand.slug;
        // Keys of an earlier run of the demo in the same folder stop working.
        api_keys::revoke_labelled(&store, brand, DEMO_KEY_LABEL, now).await?;
        let key = api_keys::create(&store, brand, DEMO_KEY_LABEL, now).await?;
        settings.dev.demo_api_keys.insert(brand.to_owned(), key.clone().into());
        let since = settings.brands.iter().find(|b| b.slug == brand).and_then(|b| b.two_factor_since.clone());
        let secret_path = data_dir.join(setup::webhook_secret_file(brand));
        let secret = std::fs::read_to_string(&secret_path)
            .with_context(|| format!("reading {}", secret_path.display()))?
            .trim()
            .to_owned();
        brands.push(serde_json::json!({
            "slug": brand, "api_key": key, "currency": demo_brand.currency, "two_factor_since": since,
            "webhook": { "url": format!("{}/{brand}", setup::webhook_receiver_url(&settings.listen)), "secret": secret },
        }));
    }
    // The published market series the market page sets beside the brands' own (data/README.md).
    let published = crate::analytics::market::parse_market_csv(MARKET_REFERENCE).map_err(anyhow::Error::msg)?;
    crate::service::analytics::import_market(&store, published).await?;
    let server = crate::start(settings).await.context("starting the demo server")?;
    let base_url = server.app.public_url.clone();
    // An operator to sign in to the dashboards with; a demo run in the same folder keeps its password.
    let mut admin_password = earlier.pointer("/admin/password").and_then(serde_json::Value::as_str).map(str::to_owned);
    let fresh_password = ids::random_token(18);
    let (store, brands_configured) = (&server.app.store, &server.app.brands);
    match admin::add_user(store, brands_configured, "admin", &fresh_password, "operator", None, now).await {
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
    let customers: Vec<_> = setup::customers()
        .into_iter()
        .map(|c| {
            let (id, brand, phone) = (c.id, c.brand, c.phone);
            serde_json::json!({
                "id": id, "brand": brand, "phone": phone, "pumping": c.pumping, "range_pumping": c.range_pumping,
                "sim_swapped": c.sim_swapped,
            })
        })
        .collect();
    let metrics_url = format!("http://{}/metrics", server.metrics_addr);
    let credentials = serde_json::json!({
        "base_url": base_url,
        "metrics_url": metrics_url,
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
        wait_for_alerts(&server.app).await?;
    }
    setup::write_private(&credentials_path, &serde_json::to_string_pretty(&credentials)?)
        .with_context(|| format!("writing {}", credentials_path.display()))?;
    println!("\norderguard demo is running\n");
    println!("  demo shops     {base_url}/demo");
    println!("  SMS outbox     {base_url}/dev/outbox");
    println!("  webhooks       {base_url}/dev/webhooks");
    println!(
        "  dashboards     {base_url}/admin  (admin / {}; the second factor's code is shown on its page)",
        admin_password.as_deref().unwrap_or("?")
    );
    println!(
        "  fraud trends   {base_url}/admin/market?brand=nordtel&days=28  (against the other brands and published figures)"
    );
    println!(
        "  report         {base_url}/admin/report?brand=nordtel  (the month for management; print it or save it as PDF)"
    );
    println!("  API            {base_url}/openapi.json");
    println!("  metrics        {metrics_url}  (Prometheus, this machine only)");
    for b in &brands {
        println!(
            "  API key {:<9} {}",
            b["slug"].as_str().unwrap_or_default(),
            b["api_key"].as_str().unwrap_or_default()
        );
    }
    println!("  data           {}", data_dir.display());
    println!(
        "  privacy        orderguard subject export --config {} --brand nordtel --customer <id>  (docs/gdpr.md)",
        data_dir.join("orderguard.toml").display()
    );
    println!(
        "  key rotation   orderguard keys rotate-data-key --config {}  (then `keys status`; docs/configuration.md#keys)",
        data_dir.join("orderguard.toml").display()
    );
    println!("  credentials    {}\n", credentials_path.display());
    println!("Press Ctrl-C to stop.");
    server.run_until_signal().await;
    Ok(())
}
