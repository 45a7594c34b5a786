//! A real SMSC for the tests: node-smpp in server mode (`tests/peers/smsc/smsc.mjs`), started as a
//! child process on loopback and steered over its control API.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use orderguard::config::{SmppBindMode, SmppProviderConfig, SmsProviderConfig};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const SYSTEM_ID: &str = "orderguard";
pub const PASSWORD: &str = "s3cret";

pub struct Smsc {
    pub smpp_port: u16,
    control: String,
    log: PathBuf,
    child: Child,
    http: reqwest::Client,
}

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers/smsc")
}

impl Smsc {
    /// Starts an SMSC on free ports; it writes what it accepts to `log`.
    pub async fn start(log: PathBuf) -> Self {
        Self::start_on(0, log).await
    }

    pub async fn start_on(smpp_port: u16, log: PathBuf) -> Self {
        let dir = peer_dir();
        assert!(
            dir.join("node_modules/smpp").is_dir(),
            "the SMSC peer is not installed: run `npm ci --prefix tests/peers/smsc` (scripts/test does)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("smsc.mjs"))
            .args(["--smpp-port", &smpp_port.to_string(), "--control-port", "0"])
            .args(["--system-id", SYSTEM_ID, "--password", PASSWORD])
            .arg("--log")
            .arg(&log)
            .stdout(Stdio::piped())
            // Its session log is noise in a passing run: `OG_SMSC_LOG=1` shows it.
            .stderr(if std::env::var_os("OG_SMSC_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
            .kill_on_drop(true)
            .spawn()
            .expect("node must be installed to run the SMSC peer");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the SMSC did not start within 20 s")
            .unwrap()
            .expect("the SMSC exited before it was ready");
        // `ready smpp=<port> control=<port>`
        let port_of = |key: &str| -> u16 {
            ready
                .split_whitespace()
                .find_map(|part| part.strip_prefix(key))
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("unexpected first line from the SMSC: {ready}"))
        };
        let (smpp_port, control_port) = (port_of("smpp="), port_of("control="));
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            smpp_port,
            control: format!("http://127.0.0.1:{control_port}"),
            log,
            child,
            http: reqwest::Client::new(),
        }
    }

    /// `kill -9`, then the same SMSC again on the same port with the same log, after `down`.
    pub async fn kill_and_restart(mut self, down: Duration) -> Self {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
        tokio::time::sleep(down).await;
        Self::start_on(self.smpp_port, self.log.clone()).await
    }

    pub fn provider(&self, window: usize) -> SmsProviderConfig {
        SmsProviderConfig::Smpp(SmppProviderConfig {
            address: format!("127.0.0.1:{}", self.smpp_port),
            system_id: SYSTEM_ID.into(),
            password: PASSWORD.into(),
            system_type: String::new(),
            address_range: String::new(),
            bind_mode: SmppBindMode::Transceiver,
            binds: 1,
            window,
            max_per_second: None,
            delivery_receipts: true,
            enquire_link_seconds: 30,
            send_timeout_ms: 10_000,
            response_timeout_ms: 2_000,
        })
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
