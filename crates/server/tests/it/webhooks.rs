//! Webhooks through the real server to a receiver that verifies every signature with the
//! official Standard Webhooks library (npm `standardwebhooks`, tests/peers/webhooks).

use std::time::Duration;

use orderguard::config::WebhookConfig;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::peers::NodePeer;
use crate::support::{Db, TestServer};

on_both_databases!(
    events_arrive_signed_once_each,
    failures_are_retried_under_the_same_id_and_410_disables,
    two_instances_attempt_each_delivery_once,
    kill_9_loses_no_delivery,
    v1a_signatures_verify_with_the_public_key_alone,
);

pub struct Receiver {
    pub base: String,
    control: String,
    http: reqwest::Client,
    _peer: NodePeer,
}

impl Receiver {
    pub async fn start() -> Self {
        let args = ["--port", "0", "--control-port", "0"].map(String::from);
        let peer = NodePeer::start("webhooks", "receiver.mjs", Some("standardwebhooks"), &args).await;
        Self {
            base: format!("http://127.0.0.1:{}", peer.ready_value("port")),
            control: format!("http://127.0.0.1:{}", peer.ready_value("control")),
            http: reqwest::Client::new(),
            _peer: peer,
        }
    }

    pub async fn control(&self, path: &str, body: Value) {
        let response = self.http.post(format!("{}{path}", self.control)).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
    }

    async fn stats(&self) -> Value {
        self.http.get(format!("{}/stats", self.control)).send().await.unwrap().json().await.unwrap()
    }

    pub async fn received(&self) -> Vec<Value> {
        self.http.get(format!("{}/received", self.control)).send().await.unwrap().json().await.unwrap()
    }

    /// Waits until `count` deliveries arrived (at most 10 s).
    pub async fn wait_for(&self, count: usize) -> Vec<Value> {
        for _ in 0..200 {
            let received = self.received().await;
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("fewer than {count} deliveries arrived: {:?}", self.received().await);
    }
}

/// An endpoint of brand `alpha` at the receiver, its secret from the environment.
pub fn endpoint(receiver: &Receiver, name: &str, secret_var: &str, events: &[&str]) -> WebhookConfig {
    WebhookConfig {
        name: name.into(),
        url: format!("{}/hooks/{name}", receiver.base),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        secrets: vec![format!("${{env:{secret_var}}}").into()],
        signing_key: None,
        enabled: true,
        description: Some("the shop's order backend".into()),
    }
}

/// A new secret in an environment variable of its own: the variable's name and the secret.
pub fn secret_var() -> (String, String) {
    let var = format!("OG_WEBHOOK_SECRET_{}", orderguard::ids::random_token(6).to_uppercase().replace('-', "_"));
    let secret = secret_in_env(&var);
    (var, secret)
}

pub fn secret_in_env(var: &str) -> String {
    let secret = orderguard::webhooks::signature::WebhookSecret::generate();
    // SAFETY: each test uses variables of its own.
    unsafe { std::env::set_var(var, &secret) };
    secret
}

/// A verification approved: every event of it arrives once, verified by the official library, as
/// `{type, timestamp, data}` with ids and no personal data; another brand's events never do.
async fn events_arrive_signed_once_each(db: Db) {
    let receiver = Receiver::start().await;
    let (var, secret) = secret_var();
    receiver.control("/endpoints", json!({ "name": "shop", "secrets": [secret] })).await;
    let config = endpoint(&receiver, "shop", &var, &["*"]);
    let server = TestServer::start_with(db, move |s| {
        s.webhook_private_targets = true;
        s.brands[0].webhooks = vec![config];
    })
    .await;
    let created = server.create(&server.alpha_key, "W-1", "c-1").await;
    let id = created["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    let (status, _) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await;
    assert_eq!(status, 200);
    server.create(&server.beta_key, "W-beta", "c-2").await;
    let logged = server.events("alpha", &id).await;
    receiver.wait_for(logged.len()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received: Vec<Value> = receiver.received().await;
    let mut types: Vec<String> = received.iter().map(|r| r["type"].as_str().unwrap().to_owned()).collect();
    let mut logged = logged;
    types.sort();
    logged.sort();
    assert_eq!(types, logged, "every event of the verification, once");
    for r in &received {
        assert_eq!(r["verified"], true, "the official library verified it: {r}");
        assert!(r["id"].as_str().unwrap().starts_with("msg_"), "{r}");
        let body = &r["body"];
        assert_eq!((&body["data"]["brand"], &body["data"]["verification_id"]), (&json!("alpha"), &json!(id)));
        assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
        let text = body.to_string();
        assert!(!text.contains("15123456789") && !text.contains(&code), "no number, no code: {text}");
        // Every attribute is in the catalogue the OpenAPI document's `webhooks` are built from.
        let kind = orderguard_domain::event::EventKind::parse(body["type"].as_str().unwrap()).unwrap();
        for key in body["data"].as_object().unwrap().keys() {
            let payload_field = ["brand", "event_id", "verification_id", "order_id"].contains(&key.as_str());
            assert!(payload_field || kind.attribute(key).is_some(), "{kind}: `{key}` is not documented");
        }
    }
    let ids: std::collections::BTreeSet<_> = received.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), received.len(), "one id per delivery");
}

/// A receiver that fails gets the delivery again, under the same `webhook-id`; one that answers
/// `410 Gone` is disabled and gets nothing more.
async fn failures_are_retried_under_the_same_id_and_410_disables(db: Db) {
    let receiver = Receiver::start().await;
    let (var, secret) = secret_var();
    receiver.control("/endpoints", json!({ "name": "flaky", "secrets": [secret] })).await;
    receiver.control("/behaviour", json!({ "name": "flaky", "statuses": [500, 503] })).await;
    let config = endpoint(&receiver, "flaky", &var, &["verification.created"]);
    let server = TestServer::start_with(db, move |s| {
        s.webhook_private_targets = true;
        s.limits.webhook_retry_base_ms = 20;
        s.brands[0].webhooks = vec![config];
    })
    .await;
    server.create(&server.alpha_key, "W-2", "c-1").await;
    let received = receiver.wait_for(3).await;
    let statuses: Vec<&Value> = received.iter().map(|r| &r["attempt_status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(503), &json!(200)], "{received:?}");
    assert!(received.iter().all(|r| r["id"] == received[0]["id"] && r["verified"] == true), "{received:?}");

    receiver.control("/behaviour", json!({ "name": "flaky", "statuses": [410] })).await;
    server.create(&server.alpha_key, "W-3", "c-2").await;
    receiver.wait_for(4).await;
    server.create(&server.alpha_key, "W-4", "c-uk").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.received().await.len(), 4, "a gone endpoint gets nothing more");
    let metrics = server.http.get(server.metrics_url()).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"orderguard_webhook_deliveries_total{brand="alpha",endpoint="flaky",outcome="gone"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"orderguard_webhook_deliveries_total{brand="alpha",endpoint="flaky",outcome="retry"} 2"#),
        "{metrics}"
    );
}

/// Two instances on one database share the deliveries: every event arrives, none twice.
async fn two_instances_attempt_each_delivery_once(db: Db) {
    let receiver = Receiver::start().await;
    let (var, secret) = secret_var();
    receiver.control("/endpoints", json!({ "name": "shop", "secrets": [secret] })).await;
    // Slow enough an answer that both instances have deliveries in flight at once; the first
    // eight attempts fail, so that retries may be taken by the other instance.
    const FAILED: usize = 8;
    receiver.control("/behaviour", json!({ "name": "shop", "delay_ms": 30, "statuses": vec![500; FAILED] })).await;
    let config = endpoint(&receiver, "shop", &var, &["*"]);
    let second_config = config.clone();
    // Few places per instance, and a cap per endpoint above them, so that both take part.
    let first = TestServer::start_with(db, move |s| {
        s.webhook_private_targets = true;
        s.limits.webhook_concurrency = 4;
        s.limits.webhook_concurrency_per_endpoint = 64;
        s.limits.webhook_retry_base_ms = 20;
        s.brands[0].webhooks = vec![config];
    })
    .await;
    let second = first
        .another_instance(move |s| {
            s.webhook_private_targets = true;
            s.limits.webhook_concurrency = 4;
            s.limits.webhook_concurrency_per_endpoint = 64;
            s.limits.webhook_retry_base_ms = 20;
            s.brands[0].webhooks = vec![second_config];
        })
        .await;
    let mut ids = Vec::new();
    for n in 0..30 {
        let customer = crate::support::load_customer(300 + n);
        ids.push(
            first.create(&first.alpha_key, &format!("W-M{n}"), &customer).await["id"].as_str().unwrap().to_owned(),
        );
    }
    let mut expected = 0;
    for id in &ids {
        expected += first.events("alpha", id).await.len();
    }
    let received = receiver.wait_for(expected + FAILED).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = receiver.stats().await;
    assert_eq!(stats["requests"], expected + FAILED, "every event once, and the failed attempts again: {stats}");
    assert_eq!(stats["unverified"], 0, "{stats}");
    // Each failed attempt came again under its `webhook-id`, and each id succeeded once.
    let ids_with = |status: u64| -> Vec<&str> {
        received.iter().filter(|r| r["attempt_status"] == status).map(|r| r["id"].as_str().unwrap()).collect()
    };
    let (failed, delivered_ids) = (ids_with(500), ids_with(200));
    let unique: std::collections::BTreeSet<&str> = delivered_ids.iter().copied().collect();
    assert_eq!((failed.len(), delivered_ids.len(), unique.len()), (FAILED, expected, expected), "{received:?}");
    assert!(failed.iter().all(|id| unique.contains(id)), "a retry kept its webhook-id: {received:?}");
    // Both took part (each counts the deliveries it made).
    let delivered = |rendered: String| {
        let line = r#"orderguard_webhook_deliveries_total{brand="alpha",endpoint="shop",outcome="delivered"} "#;
        rendered.lines().find_map(|l| l.strip_prefix(line)).map_or(0, |n| n.parse::<usize>().unwrap())
    };
    let (by_first, by_second) = (delivered(first.app().metrics.render()), delivered(second.app.metrics.render()));
    assert_eq!(by_first + by_second, expected);
    assert!(by_first > 0 && by_second > 0, "first {by_first}, second {by_second}");
    second.stop().await;
}

/// `kill -9` of the server while it creates verifications and delivers their events: after a
/// restart, every acknowledged verification's `verification.created` reaches the receiver (those
/// the killed instance had taken once their 20 s lease has run out).
async fn kill_9_loses_no_delivery(db: Db) {
    let receiver = Receiver::start().await;
    let (var, secret) = secret_var();
    receiver.control("/endpoints", json!({ "name": "shop", "secrets": [secret] })).await;
    receiver.control("/behaviour", json!({ "name": "shop", "delay_ms": 20 })).await;
    let port = crate::support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    // The endpoint belongs to the last brand of the test configuration, `beta`.
    let text = format!(
        "webhook_private_targets = true\n{}\n[[brands.webhooks]]\nname = \"shop\"\nurl = \"{}/hooks/shop\"\nevents = [\"verification.created\"]\nsecrets = [\"${{env:{var}}}\"]\n",
        crate::support::config_on_port(&db, port),
        receiver.base
    );
    let config_path = db.dir.0.join("orderguard.toml");
    std::fs::write(&config_path, &text).unwrap();
    let settings = orderguard::config::Settings::load(&config_path).unwrap();
    let store = orderguard::prepare_store(&settings, crate::support::now()).await.unwrap();
    let key = orderguard::service::api_keys::create(&store, "beta", "crash", crate::support::now()).await.unwrap();
    drop(store);

    let mut child = crate::crash::spawn_server(&config_path, &base).await;
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let (base, key, acknowledged) = (base.clone(), key.clone(), acknowledged.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                for n in 0..60 {
                    let body = crate::support::order(
                        &format!("K-{worker}-{n}"),
                        &crate::support::load_customer(400 + worker * 60 + n),
                    );
                    let Ok(response) =
                        http.post(format!("{base}/v1/verifications")).bearer_auth(&key).json(&body).send().await
                    else {
                        break;
                    };
                    let Ok(v) = response.json::<Value>().await else { break };
                    acknowledged.lock().unwrap().push(v["id"].as_str().unwrap().to_owned());
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    for worker in workers {
        let _ = worker.await;
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    assert!(acknowledged.len() >= 10, "too little load to mean anything: {}", acknowledged.len());
    let before_restart = receiver.received().await.len();

    let mut child = crate::crash::spawn_server(&config_path, &base).await;
    let mut missing = acknowledged.clone();
    for _ in 0..700 {
        let received = receiver.received().await;
        let delivered: std::collections::BTreeSet<String> =
            received.iter().filter_map(|r| r["body"]["data"]["verification_id"].as_str().map(str::to_owned)).collect();
        missing.retain(|id| !delivered.contains(id));
        if missing.is_empty() {
            assert!(received.iter().all(|r| r["verified"] == true));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged verifications never delivered (before the restart: {before_restart} deliveries)",
        missing.len(),
        acknowledged.len()
    );
}

/// An endpoint whose name resolves to this machine (through the test's resolver override, so
/// nothing is ever sent there) is refused when it is declared, unless private targets are allowed;
/// so is an address in the private network.
#[test]
fn private_targets_are_refused() {
    let db = Db::sqlite();
    let var = "OG_WEBHOOK_SECRET_PRIVATE";
    secret_in_env(var);
    let hook = |url: &str| WebhookConfig {
        name: "shop".into(),
        url: url.into(),
        events: vec!["*".into()],
        secrets: vec![format!("${{env:{var}}}").into()],
        signing_key: None,
        enabled: true,
        description: None,
    };
    let refused = |url: &'static str, allow: bool| {
        let settings = crate::support::settings(&db, |s| {
            s.webhook_private_targets = allow;
            s.dev.webhook_hosts.insert("hooks.example.test".into(), "127.0.0.9".parse().unwrap());
            s.brands[0].webhooks = vec![hook(url)];
        });
        orderguard::brand::Brands::build(&settings).err().map(|e| e.to_string())
    };
    let error = refused("https://hooks.example.test/orderguard", false).expect("a loopback target is refused");
    assert!(error.contains("127.0.0.9 is a loopback, private, link-local or metadata address"), "{error}");
    let error = refused("https://10.20.30.40/hooks", false).expect("a private address is refused");
    assert!(error.contains("10.20.30.40"), "{error}");
    let error = refused("https://169.254.169.254/latest/meta-data", false).expect("the metadata service is refused");
    assert!(error.contains("169.254.169.254"), "{error}");
    assert_eq!(refused("https://hooks.example.test/orderguard", true), None, "allowed by the operator");
}

/// With a signing key, every delivery also carries a `v1a` Ed25519 signature, which an
/// independent implementation (ed25519-dalek) verifies with the public key alone.
async fn v1a_signatures_verify_with_the_public_key_alone(db: Db) {
    use base64::Engine;
    use ed25519_dalek::Verifier;
    let receiver = Receiver::start().await;
    let (var, secret) = secret_var();
    receiver.control("/endpoints", json!({ "name": "shop", "secrets": [secret] })).await;
    let key = db.dir.0.join("webhook-signing-key.pem");
    let made = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    let public: [u8; 32] = public.stdout[public.stdout.len() - 32..].try_into().unwrap();
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();
    let config = WebhookConfig {
        signing_key: Some(format!("${{file:{}}}", key.display()).into()),
        ..endpoint(&receiver, "shop", &var, &["verification.created"])
    };
    let server = TestServer::start_with(db, move |s| {
        s.webhook_private_targets = true;
        s.brands[0].webhooks = vec![config];
    })
    .await;
    server.create(&server.alpha_key, "W-v1a", "c-1").await;
    let received = receiver.wait_for(1).await;
    let delivery = &received[0];
    assert_eq!(delivery["verified"], true, "the v1 signature still verifies: {delivery}");
    let header = delivery["signature"].as_str().unwrap();
    let v1a = header.split(' ').find_map(|s| s.strip_prefix("v1a,")).expect("a v1a signature");
    let signature = base64::engine::general_purpose::STANDARD.decode(v1a).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&signature).unwrap();
    let message = format!(
        "{}.{}.{}",
        delivery["id"].as_str().unwrap(),
        delivery["timestamp"].as_str().unwrap(),
        delivery["raw_body"].as_str().unwrap()
    );
    verifying.verify(message.as_bytes(), &signature).expect("the v1a signature verifies");
    assert!(verifying.verify(b"another message", &signature).is_err());
}
