//! Test servers on 127.0.0.1:0 with a fresh database each: a temporary SQLite file, or a fresh
//! schema in the PostgreSQL database named by `TEST_DATABASE_URL`.

use std::path::PathBuf;

use orderguard::config::Settings;
use serde_json::{Value, json};

/// Runs a test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Db::sqlite()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    match $crate::support::Db::postgres() {
                        Some(db) => super::$name(db).await,
                        None => eprintln!("\n!!! TEST_DATABASE_URL is not set: PostgreSQL was NOT tested !!!\n"),
                    }
                }
            }
        )*
    };
}

/// The wall clock, for what a test sets up outside a server.
pub fn now() -> orderguard_domain::clock::Timestamp {
    orderguard::clock::Clock::default().now()
}

/// A port free on loopback now (for a server started as its own process). Below Linux's
/// ephemeral range (32768–60999), so that no outgoing connection takes it before the server binds.
pub fn free_port() -> u16 {
    loop {
        let token = orderguard::ids::random_token(4);
        let port = 20_000 + token.bytes().fold(0_u16, |n, b| n.wrapping_mul(31).wrapping_add(u16::from(b))) % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("orderguard-test-{}", orderguard::ids::random_token(9)));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh database for one test.
pub struct Db {
    pub url: String,
    pub dir: TempDir,
    schema: Option<(String, String)>,
}

impl Db {
    pub fn sqlite() -> Self {
        let dir = TempDir::new();
        Self { url: format!("sqlite://{}/orderguard.db", dir.0.display()), dir, schema: None }
    }

    /// A database the test set up itself (a cluster of its own): nothing to drop afterwards.
    pub fn at(url: String) -> Self {
        Self { url, dir: TempDir::new(), schema: None }
    }

    /// `None` when `TEST_DATABASE_URL` is not set.
    pub fn postgres() -> Option<Self> {
        let base = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
        let schema = format!("og_{}", orderguard::ids::random_token(9).to_lowercase().replace('-', "_"));
        let (base_for_thread, schema_for_thread) = (base.clone(), schema.clone());
        // The synchronous client runs its own runtime: keep it off the test's runtime.
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&base_for_thread, postgres::NoTls)
                .expect("TEST_DATABASE_URL must point at a reachable PostgreSQL");
            client.batch_execute(&format!("CREATE SCHEMA {schema_for_thread}")).unwrap();
        })
        .join()
        .unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        Some(Self { url, dir: TempDir::new(), schema: Some((base, schema)) })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.schema.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(mut client) = postgres::Client::connect(&base, postgres::NoTls) {
                    let _ = client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"));
                }
            })
            .join();
        }
    }
}

pub const SECRET: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";

/// Two brands (alpha speaks German, beta English), static customers, the outbox provider.
pub fn config(db: &Db) -> String {
    config_for(&db.url)
}

/// The test configuration with the server on `port` (the metrics keep an address of their own).
pub fn config_on_port(db: &Db, port: u16) -> String {
    config(db).replacen("listen = \"127.0.0.1:0\"", &format!("listen = \"127.0.0.1:{port}\""), 1)
}

pub fn config_for(database_url: &str) -> String {
    format!(
        r##"
listen = "127.0.0.1:0"
database_url = "{url}"
secret_key = "{SECRET}"

[metrics]
listen = "127.0.0.1:0"

[dev]
outbox_page = true

[limits]
sweep_interval_ms = 100
rollup_lag_ms = 0

[sms_providers.outbox]
kind = "outbox"

[identity.directory]
kind = "static"
customers = [
  {{ id = "c-1", phone = "+4915123456789" }},
  {{ id = "c-2", phone = "+4917612345678" }},
  {{ id = "c-premium", phone = "+499001234567" }},
  {{ id = "c-unverified", phone = "+4915198765432", phone_verified = false }},
  {{ id = "c-landline", phone = "+49301234567" }},
  {{ id = "c-uk", phone = "+447400123456" }},
{load}
]

[[brands]]
slug = "alpha"
name = "Alpha Mobil"
shop_domains = ["shop.alpha.example"]
sender_id = "Alpha"
locales = ["de", "en"]
default_region = "DE"
sms_route = ["outbox"]
identity = "directory"

[[brands]]
slug = "beta"
name = "Beta Telecom"
shop_domains = ["shop.beta.example"]
sender_id = "Beta"
locales = ["en", "de"]
sms_route = ["outbox"]
identity = "directory"
"##,
        url = database_url,
        load = load_customers(),
    )
}

/// Customers for tests that drive many flows: `load-0` to `load-1999`, each with a number of its
/// own in a number range of its own, so that the limits per number, customer and range let a
/// test's load through as they let through a crowd of honest customers.
pub const LOAD_CUSTOMERS: usize = 2000;

pub fn load_customer(n: usize) -> String {
    format!("load-{}", n % LOAD_CUSTOMERS)
}

fn load_customers() -> String {
    (0..LOAD_CUSTOMERS).map(|n| format!("  {{ id = \"load-{n}\", phone = \"+49151{n:04}5678\" }},\n")).collect()
}

pub fn settings(db: &Db, tweak: impl FnOnce(&mut Settings)) -> Settings {
    let mut settings = Settings::from_toml(&config(db), std::path::Path::new("test.toml")).unwrap();
    tweak(&mut settings);
    settings
}

pub struct TestServer {
    pub base: String,
    pub alpha_key: String,
    pub beta_key: String,
    pub http: reqwest::Client,
    pub server: Option<orderguard::Server>,
    pub database_url: String,
    /// Dropped after the server: removes the database.
    _db: Db,
}

impl TestServer {
    pub async fn start(db: Db) -> Self {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: Db, tweak: impl FnOnce(&mut Settings)) -> Self {
        let settings = settings(&db, tweak);
        let database_url = db.url.clone();
        let store = orderguard::prepare_store(&settings, now()).await.unwrap();
        let alpha_key = orderguard::service::api_keys::create(&store, "alpha", "test", now()).await.unwrap();
        let beta_key = orderguard::service::api_keys::create(&store, "beta", "test", now()).await.unwrap();
        drop(store);
        let server = orderguard::start(settings).await.unwrap();
        Self {
            base: format!("http://{}", server.addr),
            alpha_key,
            beta_key,
            http: reqwest::Client::new(),
            server: Some(server),
            database_url,
            _db: db,
        }
    }

    /// One more instance on the same database, as a deployment with several instances runs.
    pub async fn another_instance(&self, tweak: impl FnOnce(&mut Settings)) -> orderguard::Server {
        let mut settings =
            Settings::from_toml(&config_for(&self.database_url), std::path::Path::new("test.toml")).unwrap();
        tweak(&mut settings);
        orderguard::start(settings).await.unwrap()
    }

    /// Where this instance serves `/metrics` (its own address).
    pub fn metrics_url(&self) -> String {
        format!("http://{}/metrics", self.server.as_ref().unwrap().metrics_addr)
    }

    pub fn app(&self) -> &orderguard::app::App {
        &self.server.as_ref().unwrap().app
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        let response =
            self.http.post(format!("{}{path}", self.base)).bearer_auth(key).json(&body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, key: &str, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.base)).bearer_auth(key).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Starts a verification for `alpha` and returns its JSON.
    pub async fn create(&self, key: &str, order_id: &str, customer: &str) -> Value {
        let (status, body) = self.post(key, "/v1/verifications", order(order_id, customer)).await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Waits for the SMS of a verification in the outbox and returns the code from its last line.
    pub async fn code(&self, verification_id: &str) -> String {
        self.codes(verification_id, 1).await.remove(0)
    }

    /// Waits until `count` SMS of the verification are in the outbox; newest first.
    pub async fn codes(&self, verification_id: &str, count: usize) -> Vec<String> {
        for _ in 0..500 {
            let messages = self.outbox(Some(verification_id)).await;
            if messages.len() >= count {
                return messages
                    .iter()
                    .map(|m| {
                        m["text"]
                            .as_str()
                            .unwrap()
                            .rsplit('#')
                            .next()
                            .unwrap()
                            .split_whitespace()
                            .next()
                            .unwrap()
                            .to_owned()
                    })
                    .collect();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no SMS for {verification_id}");
    }

    pub async fn outbox(&self, verification_id: Option<&str>) -> Vec<Value> {
        let url = match verification_id {
            Some(id) => format!("{}/dev/outbox.json?verification_id={id}", self.base),
            None => format!("{}/dev/outbox.json", self.base),
        };
        self.http.get(url).send().await.unwrap().json().await.unwrap()
    }

    /// Event types of a verification, in order.
    pub async fn events(&self, brand: &str, verification_id: &str) -> Vec<String> {
        self.logged(brand, verification_id).await.into_iter().map(|e| e.kind.as_str().to_owned()).collect()
    }

    /// A verification's events as stored, with their attributes, in order.
    pub async fn logged(&self, brand: &str, verification_id: &str) -> Vec<orderguard::records::Event> {
        let (brand, id) = (brand.to_owned(), verification_id.to_owned());
        self.app().store.read(move |conn| orderguard::store::events::for_verification(conn, &brand, &id)).await.unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// Stops the server but keeps its database, for commands run on it afterwards.
    pub async fn stop_keeping_database(mut self) -> Db {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        self._db
    }
}

/// Approves a verification of `order_id` for `c-1` through the API: its answer, with the receipt.
pub async fn approve(server: &TestServer, order_id: &str) -> Value {
    let id = server.create(&server.alpha_key, order_id, "c-1").await["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    let (status, body) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    body
}

pub fn order(order_id: &str, customer: &str) -> Value {
    json!({
        "order": {
            "id": order_id, "amount": "849.00", "currency": "EUR", "shipping_country": "DE",
            "items": [{ "sku": "PHONE-X", "name": "Smartphone X", "quantity": 1, "unit_price": "849.00", "hardware": true }],
        },
        "customer": { "id": customer },
        "locale": "de",
        "client": { "ip": "203.0.113.77", "user_agent": "test", "device_id": format!("device-of-{customer}") },
    })
}

/// An order without hardware, for a few euros: the attacker's choice, as it scores nothing.
pub fn cheap_order(order_id: &str, customer: &str) -> Value {
    let mut body = order(order_id, customer);
    body["order"]["amount"] = json!("4.99");
    body["order"]["items"] =
        json!([{ "sku": "TOPUP-5", "name": "Top-up", "quantity": 1, "unit_price": "4.99", "hardware": false }]);
    body
}

pub async fn create_cheap(server: &TestServer, key: &str, order_id: &str, customer: &str) -> Value {
    let (status, body) = server.post(key, "/v1/verifications", cheap_order(order_id, customer)).await;
    assert_eq!(status, 201, "{body}");
    body
}

/// Runs the `orderguard` command with `args` on the configuration at `config_path`: success,
/// standard output, standard error.
pub fn run_command(args: &[&str], config_path: &std::path::Path) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_orderguard"))
        .args(args)
        .arg("--config")
        .arg(config_path)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `orderguard doctor` on the test configuration plus `extra` (TOML): success and its output.
pub fn run_doctor(db: &Db, extra: &str) -> (bool, String) {
    let config_path = db.dir.0.join("orderguard.toml");
    std::fs::write(&config_path, format!("{}{extra}", config(db))).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_orderguard"))
        .args(["doctor", "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

pub fn problem_type(body: &Value) -> &str {
    body["type"].as_str().unwrap_or_default().trim_start_matches("urn:orderguard:problem:")
}

/// A private CA (`/CN=<name> CA`) and a server's key and certificate signed by it.
pub struct TlsCertificates {
    pub ca: PathBuf,
    pub key: PathBuf,
    pub certificate: PathBuf,
}

/// Makes a [`TlsCertificates`] with openssl in `dir`: the certificate for `name`, valid for
/// `alt_names` (`DNS:host,IP:127.0.0.1`).
pub fn test_certificates(dir: &std::path::Path, name: &str, alt_names: &str) -> TlsCertificates {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let ca_subject = format!("/CN={name} CA");
    run(&[&["req", "-x509"][..], &ec, &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", &ca_subject]]
        .concat());
    let subject = format!("/CN={name}");
    run(&[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", &subject]].concat());
    std::fs::write(
        dir.join("server.ext"),
        format!("subjectAltName={alt_names}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    TlsCertificates { ca: dir.join("ca.pem"), key: dir.join("server.key"), certificate: dir.join("server.pem") }
}
