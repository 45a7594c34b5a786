//! The state every request and job shares: settings, the store, the brands, keys and the channels
//! to the background workers. Built once at start (`crate::start`); beneath `service`, `jobs` and
//! `http`, which all receive it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::brand::Brands;
use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::Secrets;
use crate::crypto::jws::ReceiptSigner;
use crate::metrics::Metrics;
use crate::sms::delivery::DeliveryReports;
use crate::sms::outbox_signal::OutboxSignal;
use crate::sms::queue::SmsQueue;
use crate::store::Store;

pub struct App {
    pub settings: Settings,
    /// Base of links given out (hosted pages) and the receipt issuer.
    pub public_url: String,
    /// The host of `public_url`: the hosted page's origin, for the SMS's origin-bound line.
    pub public_host: String,
    /// Where this instance itself is reachable (the demo shop calls the API there).
    pub local_url: String,
    pub clock: Clock,
    /// Normalised `trusted_proxies` ranges (see `http::client_ip`).
    pub trusted_proxies: Vec<String>,
    pub store: Arc<Store>,
    /// Where the dashboards read: the replica of `database_read_url`, else `store` itself.
    pub dashboard_store: Arc<Store>,
    pub brands: Brands,
    /// The built-in texts, for pages that belong to no brand.
    pub texts: crate::i18n::Texts,
    pub secrets: Secrets,
    /// What unwraps the key ring when it is reloaded.
    pub masters: crate::crypto::keyring::Masters,
    pub signer: ReceiptSigner,
    /// New SMS, claimed in the transaction that queued them, for the SMS sender.
    pub sms_queue: SmsQueue,
    pub metrics: Arc<Metrics>,
    /// `metrics.token`, resolved.
    pub metrics_token: Option<crate::config::Secret<String>>,
    /// Where providers hand delivery reports (SMPP receipts, HTTP status callbacks).
    pub delivery_reports: DeliveryReports,
    pub api_keys: ApiKeyCache,
    pub http: reqwest::Client,
    /// The OpenAPI document, set once when the router is built.
    pub openapi: OnceLock<String>,
    /// Bumped whenever an `outbox` provider keeps a message.
    pub outbox_kept: Arc<OutboxSignal>,
    pub webhook_sender: crate::webhooks::Sender,
}

/// API key hash → brand slug, kept briefly so that not every request reads the key table.
#[derive(Default)]
pub struct ApiKeyCache(Mutex<HashMap<Vec<u8>, (String, Instant)>>);

impl ApiKeyCache {
    /// A revoked key stops working within this time.
    pub const TTL: Duration = Duration::from_secs(5);
    const MOST: usize = 10_000;

    pub fn get(&self, hash: &[u8]) -> Option<String> {
        let cache = self.0.lock().ok()?;
        cache.get(hash).filter(|(_, at)| at.elapsed() < Self::TTL).map(|(slug, _)| slug.clone())
    }

    pub fn put(&self, hash: Vec<u8>, slug: String) {
        if let Ok(mut cache) = self.0.lock() {
            if cache.len() > Self::MOST {
                cache.clear();
            }
            cache.insert(hash, (slug, Instant::now()));
        }
    }
}
