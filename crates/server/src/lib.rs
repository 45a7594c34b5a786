//! orderguard: SMS two-factor verification for the order process of telecom brands.
//! This root only wires: `start` builds the shared state (`app::App`) from the settings, starts
//! the background jobs and the SMS providers, and serves HTTP. ARCHITECTURE.md describes the rooms.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod analytics;
pub mod app;
pub mod brand;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod http;
pub mod i18n;
pub mod identity;
pub mod ids;
pub mod jobs;
pub mod metrics;
pub mod network;
#[cfg(test)]
mod properties;
pub mod records;
pub mod service;
pub mod sms;
pub mod store;
mod tls;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use app::App;
use brand::Brands;
use clock::Clock;
use config::{ConfigError, Settings};
use crypto::jws::ReceiptSigner;
use crypto::{CryptoError, Secrets};
use orderguard_domain::clock::Timestamp;
use service::ServiceError;
use sms::queue::SmsQueue;
use store::{DatabaseUrl, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    // Not a `source`: the message carries it already, and the command line prints the chain.
    #[error("database: {0}")]
    Store(StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("key ring: {0}")]
    Keyring(service::keyring::KeyringError),
    #[error("cannot listen on {addr}: {error}")]
    Bind { addr: String, error: std::io::Error },
}

/// Checks the brands, opens the database, applies migrations and stores the configured brands.
pub async fn prepare_store(settings: &Settings, now: Timestamp) -> Result<Arc<Store>, StartError> {
    let url = DatabaseUrl::parse(settings.database_url.expose_secret())?;
    let store = Arc::new(Store::open_with_pool(&url, settings.database_pool_size).await?);
    // A brand that `serve` would refuse is refused here too, before anything is stored.
    Brands::build(settings)?;
    let applied = store.migrate(now.millis()).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "database migrated");
    }
    service::brands::store_configured(&store, settings, now).await?;
    Ok(store)
}

/// The store the dashboards read: a streaming replica when `database_read_url` names one.
async fn open_dashboard_store(settings: &Settings, store: &Arc<Store>) -> Result<Arc<Store>, StartError> {
    let Some(read_url) = &settings.database_read_url else { return Ok(store.clone()) };
    let url = DatabaseUrl::parse(read_url.expose_secret())?;
    if store.backend() != store::Backend::Postgres || !matches!(url, DatabaseUrl::Postgres(_)) {
        return Err(ConfigError::Invalid(
            "database_read_url names a PostgreSQL replica: it needs PostgreSQL URLs in both database_url and \
             database_read_url"
                .into(),
        )
        .into());
    }
    Ok(Arc::new(Store::open_with_pool(&url, settings.database_pool_size).await?))
}

/// The secrets of a command or an instance: the key ring opened with the configured master secrets.
pub async fn open_secrets(settings: &Settings, store: &Store) -> Result<Secrets, StartError> {
    Ok(service::keyring::open(store, &settings.masters()?, Clock::default()).await?)
}

impl From<StoreError> for StartError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<service::keyring::KeyringError> for StartError {
    fn from(e: service::keyring::KeyringError) -> Self {
        Self::Keyring(e)
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    /// Where `/metrics` is served (`metrics.listen`).
    pub metrics_addr: SocketAddr,
    pub app: Arc<App>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Stops accepting requests and waits for the ones in flight.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run_until_signal(self) {
        let terminate = async {
            #[cfg(unix)]
            if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                signal.recv().await;
                return;
            }
            std::future::pending::<()>().await;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = terminate => {},
        }
        tracing::info!("shutting down");
        self.stop().await;
    }
}

/// Where this instance is reachable from itself, and the base of the links it gives out.
fn urls(addr: SocketAddr, public_url: Option<&str>) -> (String, String, String) {
    let local_ip = if addr.ip().is_unspecified() { "127.0.0.1".to_owned() } else { addr.ip().to_string() };
    let local_url = match addr {
        SocketAddr::V6(_) if !addr.ip().is_unspecified() => format!("http://[{local_ip}]:{}", addr.port()),
        _ => format!("http://{local_ip}:{}", addr.port()),
    };
    let public_url = public_url.map_or_else(|| local_url.clone(), |url| url.trim_end_matches('/').to_owned());
    let public_host =
        reqwest::Url::parse(&public_url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or(local_ip);
    (local_url, public_url, public_host)
}

pub async fn start(settings: Settings) -> Result<Server, StartError> {
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .map_err(|error| StartError::Bind { addr: settings.listen.clone(), error })?;
    let addr = listener.local_addr().map_err(|error| StartError::Bind { addr: settings.listen.clone(), error })?;
    let metrics_at = settings.metrics.listen.clone();
    let metrics_listener = tokio::net::TcpListener::bind(&metrics_at)
        .await
        .map_err(|error| StartError::Bind { addr: format!("{metrics_at} (metrics.listen)"), error })?;
    let metrics_addr = metrics_listener.local_addr().map_err(|error| StartError::Bind { addr: metrics_at, error })?;
    let metrics_token = settings.metrics.resolved_token()?;
    let clock = Clock::default();
    let store = prepare_store(&settings, clock.now()).await?;
    let dashboard_store = open_dashboard_store(&settings, &store).await?;
    let masters = settings.masters()?;
    let secrets = service::keyring::open(&store, &masters, clock.clone()).await?;
    let brands = Brands::build(&settings)?;
    service::webhooks::declare(&store, &brands, clock.now()).await?;
    let webhook_sender = webhooks::Sender::new(
        webhooks::targets::TargetGuard::of(&settings),
        webhooks::targets::TargetGuard::for_stored(&settings),
    )?;
    let keys = service::signing_keys::ensure(&store, &secrets, clock.now()).await?;
    let signer = ReceiptSigner::new(&keys, &secrets)?;
    let (sms_queue, announced) = SmsQueue::new();
    let (local_url, public_url, public_host) = urls(addr, settings.public_url.as_deref());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ConfigError::Invalid(format!("cannot build the HTTP client: {e}")))?;
    let sweep_interval = Duration::from_millis(settings.limits.sweep_interval_ms.max(50));
    let metrics = Arc::new(metrics::Metrics::default());
    let (delivery_reports, reported) = sms::delivery::DeliveryReports::new();
    let trusted_proxies = settings.trusted_proxy_ranges()?;
    settings.retention.event_log_horizon(settings.config_dir.as_deref())?;
    let app = Arc::new(App {
        trusted_proxies,
        settings,
        public_url,
        public_host,
        local_url,
        clock,
        store,
        dashboard_store,
        brands,
        texts: i18n::Texts::built_in(),
        secrets,
        masters,
        signer,
        sms_queue,
        metrics: metrics.clone(),
        metrics_token,
        delivery_reports: delivery_reports.clone(),
        api_keys: app::ApiKeyCache::default(),
        http,
        openapi: OnceLock::new(),
        outbox_kept: Arc::new(sms::outbox_signal::OutboxSignal::default()),
        webhook_sender,
    });
    let background = [
        tokio::spawn(jobs::sms_sender::run(app.clone(), announced)),
        tokio::spawn(jobs::sweeper::run(app.clone(), sweep_interval)),
        tokio::spawn(jobs::keyring::run(app.clone(), service::keyring::reload_interval(sweep_interval))),
        tokio::spawn(jobs::delivery_reports::run(app.clone(), reported)),
        tokio::spawn(jobs::rollups::run(app.clone())),
        tokio::spawn(jobs::webhooks::run(app.clone())),
        tokio::spawn(jobs::alerts::run(app.clone())),
        tokio::spawn(jobs::event_log::run(app.clone(), sweep_interval * 30)),
    ];
    let provider_context = sms::smpp::ProviderContext { reports: delivery_reports, metrics };
    for provider in app.brands.smpp_providers() {
        provider.start(&provider_context);
    }
    let router = http::router(app.clone());
    let metrics_router = http::metrics_router(app.clone());
    let metrics_server = tokio::spawn(async move {
        if let Err(e) = axum::serve(metrics_listener, metrics_router).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let smpp = app.brands.smpp_providers().to_vec();
    let task = tokio::spawn(async move {
        // The peer's address: the admin sign-in counts failures per client.
        let served = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
        smpp.iter().for_each(|provider| provider.stop());
        background.iter().for_each(tokio::task::JoinHandle::abort);
        metrics_server.abort();
    });
    tracing::info!(%addr, %metrics_addr, "orderguard listening");
    Ok(Server { addr, metrics_addr, app, shutdown, task })
}
