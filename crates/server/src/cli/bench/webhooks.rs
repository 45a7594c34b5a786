//! Webhooks in the benchmarks: a local receiver (an HTTP server in this process that answers
//! `204` and counts), the bench brand's endpoint pointed at it and subscribed to every event, and
//! `orderguard bench-webhooks`: how many deliveries per second one instance sends to it, from a
//! backlog written at once into the event log.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use orderguard_domain::event::EventKind;

use super::setup;
use crate::config::Settings;
use crate::records::NewEvent;
use crate::store::scratch::ScratchSchema;

#[derive(Debug, Clone, clap::Args)]
pub struct WebhookBenchArgs {
    /// Events written at once, each one delivery to the local receiver.
    #[arg(long, default_value_t = 20_000)]
    pub deliveries: usize,
    /// Also run against this PostgreSQL database, in a schema created for the run and dropped after it.
    #[arg(long)]
    pub postgres: Option<String>,
}

/// A receiver that answers every delivery `204` and counts them.
pub struct LocalReceiver {
    pub url: String,
    pub received: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl LocalReceiver {
    pub async fn start() -> anyhow::Result<Self> {
        let received = Arc::new(AtomicUsize::new(0));
        let counter = received.clone();
        let app = axum::Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the receiver")?;
        let url = format!("http://{}/hooks", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, received, task })
    }
}

impl Drop for LocalReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The bench brand's endpoint at `url` for every event type, or (`None`) no endpoint at all.
pub fn point_webhooks(settings: &mut Settings, url: Option<&str>) {
    for brand in &mut settings.brands {
        match url {
            Some(url) if brand.slug == setup::BRAND => {
                for endpoint in &mut brand.webhooks {
                    endpoint.url = url.to_owned();
                    endpoint.events = vec!["*".into()];
                }
            }
            _ => brand.webhooks.clear(),
        }
    }
}

/// Deliveries waiting, over all endpoints.
pub async fn backlog(server: &crate::Server) -> anyhow::Result<i64> {
    let backlog = server.app.store.read(crate::store::webhooks::backlog).await?;
    Ok(backlog.iter().map(|b| b.waiting).sum())
}

pub async fn run(args: WebhookBenchArgs) -> anyhow::Result<()> {
    println!(
        "orderguard bench-webhooks: {} deliveries, {} core(s)",
        args.deliveries,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("{:<9} {:>11} {:>12} {:>13} {:>15}", "database", "deliveries", "written s", "delivered s", "deliveries/s");
    let dir = super::temp_dir();
    let sqlite = format!("sqlite://{}/bench.db", dir.display());
    let result = one_database(&args, "sqlite", &sqlite, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    if let Some(url) = &args.postgres {
        let schema = ScratchSchema::create(url).await.context("creating a schema for the run")?;
        let dir = super::temp_dir();
        let result = one_database(&args, "postgres", &schema.url(), &dir).await;
        let _ = std::fs::remove_dir_all(&dir);
        schema.drop().await.context("dropping the run's schema")?;
        result?;
    }
    Ok(())
}

async fn one_database(
    args: &WebhookBenchArgs,
    name: &str,
    database_url: &str,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let now = crate::clock::Clock::default().now();
    // The receiver first: the settings pick a free port for the server, which it must not take.
    let receiver = LocalReceiver::start().await?;
    let mut settings = setup::settings(database_url, dir, 10, false, now)?;
    point_webhooks(&mut settings, Some(&receiver.url));
    crate::prepare_store(&settings, now).await?;
    let server = crate::start(settings).await.context("starting the server")?;
    let started = Instant::now();
    // In transactions of a thousand, as a busy instance's event log grows.
    let mut left = args.deliveries;
    while left > 0 {
        let batch = left.min(1_000);
        left -= batch;
        server
            .app
            .store
            .write(move |conn| {
                let event = NewEvent {
                    brand: setup::BRAND,
                    verification_id: None,
                    order_id: None,
                    kind: EventKind::VerificationCreated,
                    at: now,
                    attrs: serde_json::json!({ "amount": 84_900, "currency": "EUR" }),
                };
                crate::store::events::append_many(conn, &vec![event; batch])
            })
            .await?;
    }
    let written = started.elapsed();
    let deadline = started + Duration::from_secs(600);
    while receiver.received.load(Ordering::Relaxed) < args.deliveries {
        anyhow::ensure!(Instant::now() < deadline, "the deliveries did not arrive within 10 minutes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let delivered = started.elapsed();
    server.stop().await;
    println!(
        "{:<9} {:>11} {:>12.2} {:>13.2} {:>15.0}",
        name,
        args.deliveries,
        written.as_secs_f64(),
        delivered.as_secs_f64(),
        args.deliveries as f64 / delivered.as_secs_f64()
    );
    Ok(())
}
