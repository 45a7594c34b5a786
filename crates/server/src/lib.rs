//! orderguard: SMS two-factor verification for the order process of telecom brands.
//! `App` holds what every request needs; `start` builds it from the settings and serves HTTP.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod analytics;
pub mod bench;
pub mod brand;
pub mod clock;
pub mod config;
pub mod config_check;
pub mod crypto;
pub mod demo;
pub mod doctor;
pub mod http;
pub mod i18n;
pub mod identity;
pub mod ids;
pub mod jobs;
pub mod metrics;
pub mod service;
pub mod simulate;
pub mod sms;
pub mod store;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use brand::Brands;
use config::{ConfigError, Settings};
use crypto::jws::ReceiptSigner;
use crypto::{CryptoError, Secrets};
use jobs::sms_sender::SmsQueue;
use store::{DatabaseUrl, Store, StoreError};

pub struct App {
    pub settings: Settings,
    /// Base of links given out (hosted pages) and the receipt issuer.
    pub public_url: String,
    /// The host of `public_url`: the hosted page's origin, for the SMS's origin-bound line.
    pub public_host: String,
    /// Where this instance itself is reachable (the demo shop calls the API there).
    pub local_url: String,
    pub store: Arc<Store>,
    pub brands: Brands,
    /// The built-in texts, for pages that belong to no brand.
    pub texts: i18n::Texts,
    pub secrets: Secrets,
    pub signer: ReceiptSigner,
    pub sms_queue: SmsQueue,
    pub metrics: Arc<metrics::Metrics>,
    /// Where providers hand delivery reports (SMPP receipts, HTTP status callbacks).
    pub delivery_reports: sms::delivery::DeliveryReports,
    pub api_keys: http::api::ApiKeyCache,
    pub http: reqwest::Client,
    pub openapi: OnceLock<String>,
    /// Bumped whenever an `outbox` provider keeps a message.
    pub outbox_kept: Arc<sms::outbox_signal::OutboxSignal>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("cannot listen on {addr}: {error}")]
    Bind { addr: String, error: std::io::Error },
}

impl App {
    pub async fn reload_signing_keys(&self) -> Result<(), StartError> {
        let rows = self.store.read(store::keys::published_signing_keys).await?;
        self.signer.reload(&rows, &self.secrets)?;
        Ok(())
    }
}

/// Checks the brands, opens the database, applies migrations and stores the configured brands.
pub async fn prepare_store(settings: &Settings) -> Result<Arc<Store>, StartError> {
    let url = DatabaseUrl::parse(&settings.database_url)?;
    let store = Arc::new(Store::open(&url).await?);
    // A brand that `serve` would refuse is refused here too, before anything is stored.
    Brands::build(settings)?;
    let now = clock::now().millis();
    let applied = store.migrate(now).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "database migrated");
    }
    let brands: Vec<(String, String, String)> = settings
        .brands
        .iter()
        .map(|b| (b.slug.clone(), b.name.clone(), serde_json::to_string(b).unwrap_or_default()))
        .collect();
    store
        .write(move |conn| -> Result<(), StoreError> {
            for (slug, name, config) in &brands {
                store::brands::upsert(conn, slug, name, config, now)?;
            }
            Ok(())
        })
        .await?;
    Ok(store)
}

/// Makes sure a receipt signing key exists; the first instance to start creates it.
async fn ensure_signing_key(store: &Store, secrets: &Secrets) -> Result<Vec<store::keys::SigningKeyRow>, StartError> {
    let now = clock::now().millis();
    let fresh = crypto::jws::generate_key(secrets, ids::new_id(now), now);
    Ok(store
        .write(move |conn| -> Result<_, StoreError> {
            let mut keys = store::keys::published_signing_keys(conn)?;
            if keys.is_empty() {
                store::keys::insert_signing_key(conn, &fresh)?;
                keys.push(fresh);
            }
            Ok(keys)
        })
        .await?)
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
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

pub async fn start(settings: Settings) -> Result<Server, StartError> {
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .map_err(|error| StartError::Bind { addr: settings.listen.clone(), error })?;
    let addr = listener.local_addr().map_err(|error| StartError::Bind { addr: settings.listen.clone(), error })?;
    let secrets = Secrets::derive(&settings.master_key()?);
    let store = prepare_store(&settings).await?;
    let outbox_kept = Arc::new(sms::outbox_signal::OutboxSignal::default());
    let brands = Brands::build(&settings)?;
    let keys = ensure_signing_key(&store, &secrets).await?;
    let signer = ReceiptSigner::new(&keys, &secrets)?;
    let (sms_queue, announced) = SmsQueue::new();
    let local_ip = if addr.ip().is_unspecified() { "127.0.0.1".to_owned() } else { addr.ip().to_string() };
    let local_url = match addr {
        SocketAddr::V6(_) if !addr.ip().is_unspecified() => format!("http://[{local_ip}]:{}", addr.port()),
        _ => format!("http://{local_ip}:{}", addr.port()),
    };
    let public_url = match &settings.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => local_url.clone(),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ConfigError::Invalid(format!("cannot build the HTTP client: {e}")))?;
    let sweep_interval = Duration::from_millis(settings.limits.sweep_interval_ms.max(50));
    let metrics = Arc::new(metrics::Metrics::default());
    let (delivery_reports, reported) = sms::delivery::DeliveryReports::new();
    let app = Arc::new(App {
        settings,
        public_host: reqwest::Url::parse(&public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| local_ip.clone()),
        public_url,
        local_url,
        store,
        brands,
        texts: i18n::Texts::built_in(),
        secrets,
        signer,
        sms_queue,
        metrics: metrics.clone(),
        delivery_reports: delivery_reports.clone(),
        api_keys: http::api::ApiKeyCache::default(),
        http,
        openapi: OnceLock::new(),
        outbox_kept,
    });
    let background = [
        tokio::spawn(jobs::sms_sender::run(app.clone(), announced)),
        tokio::spawn(jobs::sweeper::run(app.clone(), sweep_interval)),
        tokio::spawn(jobs::delivery_reports::run(app.clone(), reported)),
        tokio::spawn(jobs::rollups::run(app.clone())),
    ];
    let provider_context = sms::smpp::ProviderContext { reports: delivery_reports, metrics };
    for provider in app.brands.smpp_providers() {
        provider.start(&provider_context);
    }
    let router = http::router(app.clone());
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
    });
    tracing::info!(%addr, "orderguard listening");
    Ok(Server { addr, app, shutdown, task })
}
