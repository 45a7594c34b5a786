//! `orderguard doctor`: checks what the configuration points at — the database, every OpenID
//! provider (discovery, JWKS, introspection credentials), every SMPP provider (bind, enquire_link,
//! unbind), every network API gateway (a token, and a call about its test number) and the address
//! of every customer API and HTTP provider — and says, one line each, what works and what does not.

use std::time::{Duration, Instant};

use orderguard_domain::clock::Timestamp;

use crate::brand::Brands;
use crate::config::{Settings, SmsProviderConfig, resolve_secrets};
use crate::store::{DatabaseUrl, PgTarget, SslMode, Store, replication};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Finding {
    pub subject: String,
    pub ok: bool,
    pub detail: String,
}

impl Finding {
    fn new(subject: impl Into<String>, result: Result<String, String>) -> Self {
        let (ok, detail) = match result {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        };
        Self { subject: subject.into(), ok, detail }
    }
}

pub async fn run(settings: &Settings, now: Timestamp) -> Vec<Finding> {
    let mut findings = vec![Finding::new("database", database(settings).await)];
    if let Some(read_url) = &settings.database_read_url {
        findings.push(Finding::new("read replica", read_replica(settings, read_url.expose_secret()).await));
    }
    findings.push(Finding::new("key ring", key_ring(settings).await));
    let brands = match Brands::build(settings) {
        Ok(brands) => brands,
        Err(e) => {
            findings.push(Finding::new("configuration", Err(e.to_string())));
            return findings;
        }
    };
    for provider in brands.smpp_providers() {
        let subject = format!("sms provider {} (smpp {})", provider.name(), provider.address());
        let result = match provider.probe().await {
            Ok(p) => Ok(format!(
                "bound as {} in {} ms to SMSC `{}`; enquire_link answered in {} ms; unbound",
                p.bind_kind,
                p.bind.as_millis(),
                p.smsc_system_id,
                p.enquire_link.as_millis()
            )),
            Err(e) => Err(e.to_string()),
        };
        findings.push(Finding::new(subject, result));
    }
    for (name, connector) in brands.oidc_connectors() {
        let result = match connector.check(now).await {
            Ok(check) => {
                let introspection = match check.introspection {
                    None => Ok("no introspection credentials (JWT access tokens and ID tokens only)".to_owned()),
                    Some(Ok(())) => Ok("introspection credentials accepted".to_owned()),
                    Some(Err(e)) => Err(format!("introspection: {e}")),
                };
                introspection.map(|i| format!("discovery and JWKS read ({} key(s)); {i}", check.keys))
            }
            Err(e) => Err(e.to_string()),
        };
        findings.push(Finding::new(format!("identity {name} (oidc)"), result));
    }
    for (name, config) in &settings.identity {
        if let crate::config::IdentityConfig::Rest(rest) = config {
            findings.push(Finding::new(format!("identity {name} (rest)"), reachable(&rest.base_url).await));
        }
    }
    for api in brands.network_apis() {
        for (part, result) in api.probe(now).await {
            findings.push(Finding::new(format!("network api {} ({part})", api.name), result));
        }
    }
    for (name, config) in &settings.sms_providers {
        match config {
            SmsProviderConfig::Http(http) => {
                let result = reachable(&http.url).await;
                let subject = format!("sms provider {name} (http)");
                findings.push(Finding::new(subject, result));
            }
            SmsProviderConfig::Outbox(_) => findings.push(Finding::new(
                format!("sms provider {name} (outbox)"),
                Ok("keeps messages in the database: for development and demos, sends nothing".into()),
            )),
            SmsProviderConfig::Smpp(_) => {}
        }
    }
    findings
}

async fn database(settings: &Settings) -> Result<String, String> {
    let url = DatabaseUrl::parse(settings.database_url.expose_secret()).map_err(|e| e.to_string())?;
    let store = Store::open(&url).await.map_err(|e| e.to_string())?;
    store.ping().await.map_err(|e| e.to_string())?;
    Ok(match &url {
        DatabaseUrl::Sqlite(_) => "SQLite answers".to_owned(),
        DatabaseUrl::Postgres(url) => format!("PostgreSQL answers ({})", transport(url)),
    })
}

/// How the connection to PostgreSQL travels, from the URL's `sslmode`.
fn transport(url: &str) -> &'static str {
    match PgTarget::parse(url).map(|t| t.ssl_mode) {
        Ok(SslMode::VerifyFull) => "TLS, certificate and host name checked",
        Ok(SslMode::VerifyCa) => "TLS, certificate checked, not the host name",
        Ok(SslMode::Require) => "TLS, certificate not checked: sslmode=verify-full is safer",
        _ => "plain TCP, no TLS",
    }
}

/// The replica answers, is one, and how far behind the primary it is.
async fn read_replica(settings: &Settings, read_url: &str) -> Result<String, String> {
    let primary = DatabaseUrl::parse(settings.database_url.expose_secret()).map_err(|e| e.to_string())?;
    let replica = DatabaseUrl::parse(read_url).map_err(|e| e.to_string())?;
    let DatabaseUrl::Postgres(replica_url) = &replica else {
        return Err("database_read_url must be a PostgreSQL URL".into());
    };
    let primary = Store::open(&primary).await.map_err(|e| e.to_string())?;
    let position = primary.read(replication::primary_position).await.map_err(|e| e.to_string())?;
    let store = Store::open(&replica).await.map_err(|e| e.to_string())?;
    let lag = store.read(move |conn| replication::lag_behind(conn, &position)).await.map_err(|e| e.to_string())?;
    if !lag.standby {
        return Err("answers, but is not a replica: it takes writes".into());
    }
    let paused = if lag.paused { "; replay is paused" } else { "" };
    Ok(format!("answers ({}); {} bytes of changes behind the primary{paused}", transport(replica_url), lag.bytes))
}

async fn key_ring(settings: &Settings) -> Result<String, String> {
    let masters = settings.masters().map_err(|e| e.to_string())?;
    let url = DatabaseUrl::parse(settings.database_url.expose_secret()).map_err(|e| e.to_string())?;
    let store = Store::open(&url).await.map_err(|e| e.to_string())?;
    crate::service::keyring::check(&store, &masters).await.map_err(|e| e.to_string())
}

/// Opens a TCP connection to the provider's host: the address resolves and something listens.
/// Nothing is sent (a request could cost money or send an SMS).
async fn reachable(configured_url: &str) -> Result<String, String> {
    let url = resolve_secrets(configured_url).map_err(|e| e.to_string())?;
    let url = reqwest::Url::parse(&url).map_err(|e| format!("the url is not valid: {e}"))?;
    let host = url.host_str().ok_or("the url has no host")?.to_owned();
    let port = url.port_or_known_default().ok_or("the url has no port")?;
    let started = Instant::now();
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect((host.as_str(), port))).await {
        Ok(Ok(_)) => {
            Ok(format!("{host}:{port} accepts connections ({} ms); no message sent", started.elapsed().as_millis()))
        }
        Ok(Err(e)) => Err(format!("cannot connect to {host}:{port}: {e}")),
        Err(_) => Err(format!("no answer from {host}:{port} within {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

/// Prints the report; fails when something the configuration points at does not work.
pub async fn command(path: &std::path::Path, now: Timestamp) -> anyhow::Result<()> {
    let settings = Settings::load(path)?;
    let findings = run(&settings, now).await;
    for f in &findings {
        println!("{:<5} {}: {}", if f.ok { "ok" } else { "FAIL" }, f.subject, f.detail);
    }
    let failed = findings.iter().filter(|f| !f.ok).count();
    println!("{} check(s), {failed} failed", findings.len());
    if failed > 0 {
        anyhow::bail!("{failed} check(s) failed: see above");
    }
    Ok(())
}
