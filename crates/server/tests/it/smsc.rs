//! A real SMSC for the tests: node-smpp in server mode (`tests/peers/smsc/smsc.mjs`), started as a
//! child process on loopback and steered over its control API.

use std::path::PathBuf;
use std::time::Duration;

use orderguard::config::{SmppProviderConfig, SmsProviderConfig};
use serde_json::Value;

use crate::peers::NodePeer;
pub use crate::support::TlsCertificates;

pub const SYSTEM_ID: &str = "orderguard";
pub const PASSWORD: &str = "s3cret";

/// A private CA and the SMSC's key and certificate signed by it (for `smsc.test` and 127.0.0.1).
pub fn tls_certificates(dir: &std::path::Path) -> TlsCertificates {
    crate::support::test_certificates(dir, "smsc.test", "DNS:smsc.test,IP:127.0.0.1")
}

pub struct Smsc {
    pub smpp_port: u16,
    control: String,
    log: PathBuf,
    peer: NodePeer,
    http: reqwest::Client,
}

impl Smsc {
    /// Starts an SMSC on free ports; it writes what it accepts to `log`.
    pub async fn start(log: PathBuf) -> Self {
        Self::start_on(0, log).await
    }

    /// An SMSC that speaks SMPP over TLS, with the key and certificate of `tls_certificates`.
    pub async fn start_tls(log: PathBuf, certificates: &TlsCertificates) -> Self {
        Self::start_with(
            0,
            log,
            &[
                "--tls-key".into(),
                certificates.key.display().to_string(),
                "--tls-cert".into(),
                certificates.certificate.display().to_string(),
            ],
        )
        .await
    }

    pub async fn start_on(smpp_port: u16, log: PathBuf) -> Self {
        Self::start_with(smpp_port, log, &[]).await
    }

    async fn start_with(smpp_port: u16, log: PathBuf, extra: &[String]) -> Self {
        let mut args = vec![
            "--smpp-port".to_owned(),
            smpp_port.to_string(),
            "--control-port".into(),
            "0".into(),
            "--system-id".into(),
            SYSTEM_ID.into(),
            "--password".into(),
            PASSWORD.into(),
            "--log".into(),
            log.display().to_string(),
        ];
        args.extend_from_slice(extra);
        let peer = NodePeer::start("smsc", "smsc.mjs", Some("smpp"), &args).await;
        Self {
            smpp_port: peer.ready_value("smpp").parse().unwrap(),
            control: format!("http://127.0.0.1:{}", peer.ready_value("control")),
            log,
            peer,
            http: reqwest::Client::new(),
        }
    }

    /// `kill -9`, then the same SMSC again on the same port with the same log, after `down`.
    pub async fn kill_and_restart(self, down: Duration) -> Self {
        let (port, log) = (self.smpp_port, self.log.clone());
        self.peer.kill().await;
        tokio::time::sleep(down).await;
        Self::start_on(port, log).await
    }

    pub fn provider(&self, window: usize) -> SmsProviderConfig {
        SmsProviderConfig::Smpp(self.account(window))
    }

    /// The SMPP account at this SMSC, with this window.
    pub fn account(&self, window: usize) -> SmppProviderConfig {
        SmppProviderConfig {
            window,
            response_timeout_ms: 2_000,
            ..SmppProviderConfig::account(&format!("127.0.0.1:{}", self.smpp_port), SYSTEM_ID, PASSWORD)
        }
    }

    /// The account, giving up quickly on an SMSC that does not answer (failover tests).
    pub fn account_failing_fast(&self) -> SmppProviderConfig {
        SmppProviderConfig { send_timeout_ms: 1000, response_timeout_ms: 500, ..self.account(10) }
    }

    async fn get(&self, path: &str) -> Value {
        self.http.get(format!("{}{path}", self.control)).send().await.unwrap().json().await.unwrap()
    }

    pub async fn configure(&self, config: Value) {
        let response = self.http.post(format!("{}/config", self.control)).json(&config).send().await.unwrap();
        assert!(response.status().is_success());
    }

    /// Every accepted submit_sm (one per part), in order, across restarts.
    pub async fn messages(&self) -> Vec<Value> {
        self.get("/messages").await.as_array().cloned().unwrap_or_default()
    }

    /// Whole texts, concatenated parts joined.
    pub async fn texts(&self) -> Vec<Value> {
        self.get("/texts").await.as_array().cloned().unwrap_or_default()
    }

    pub async fn stats(&self) -> Value {
        self.get("/stats").await
    }

    /// Waits until at least `count` whole texts arrived.
    pub async fn wait_for_texts(&self, count: usize) -> Vec<Value> {
        for _ in 0..300 {
            let texts = self.texts().await;
            if texts.len() >= count {
                return texts;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the SMSC did not get {count} texts: {:?}", self.texts().await);
    }
}
