//! SIM swap and device swap checks against real peers: a scriptable CAMARA gateway of our own
//! (tests/peers/camara/gateway.mjs: OAuth client credentials, CIBA, swapped numbers, outages) and
//! Prism serving the official CAMARA specifications, as a mock and as a validating proxy in front
//! of the gateway, which refuses any request or answer that breaks the wire format.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use orderguard::config::{NetworkApiConfig, NetworkAuth, OAuthClientConfig, Settings, SwapCheckConfig};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::peers::NodePeer;
use crate::support::{Db, TestServer, order, run_doctor};

on_both_databases!(
    recent_swaps_stop_the_code_and_old_ones_pass,
    check_narrows_from_the_widest_band,
    outages_follow_the_brand_policy,
    tokens_are_shared_and_refreshed_once,
    ciba_gives_a_token_per_number_signed_with_a_private_key,
    prism_holds_the_wire_format,
    resends_ask_again_after_a_while,
    no_list_or_brand_setting_lets_a_swap_through,
    a_gateway_that_wants_mutual_tls,
    refused_orders_ask_the_gateway_nothing,
    doctor_gets_a_token_and_asks_the_test_number,
);

const CLIENT_ID: &str = "orderguard";
const CLIENT_SECRET: &str = "gateway-client-secret";
/// Numbers of the test configuration's customers.
const C1: &str = "+4915123456789";
const C2: &str = "+4917612345678";

fn load_phone(n: usize) -> String {
    format!("+49151{n:04}5678")
}

struct Gateway {
    base: String,
    control: String,
    http: reqwest::Client,
    _peer: NodePeer,
}

impl Gateway {
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    async fn start_with(extra: &[String]) -> Self {
        let mut args: Vec<String> =
            ["--port", "0", "--control-port", "0", "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]
                .map(String::from)
                .to_vec();
        args.extend_from_slice(extra);
        let scheme = if extra.is_empty() { "http" } else { "https" };
        let peer = NodePeer::start("camara", "gateway.mjs", None, &args).await;
        Self {
            base: format!("{scheme}://127.0.0.1:{}", peer.ready_value("port")),
            control: format!("http://127.0.0.1:{}", peer.ready_value("control")),
            http: reqwest::Client::new(),
            _peer: peer,
        }
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let response = self.http.post(format!("{}{path}", self.control)).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    /// The number's SIM and device changed this many hours ago (`None`: never).
    async fn number(&self, phone: &str, sim_hours_ago: Option<i64>, device_hours_ago: Option<i64>) {
        let ago = |hours: Option<i64>| {
            hours.map(|h| orderguard::clock::rfc3339(crate::support::now().millis() - h * 3_600_000))
        };
        let body =
            json!({ "phone": phone, "sim_changed_at": ago(sim_hours_ago), "device_changed_at": ago(device_hours_ago) });
        self.control("/numbers", body).await;
    }

    async fn behaviour(&self, body: Value) {
        self.control("/behaviour", body).await;
    }

    async fn stats(&self) -> Value {
        self.http.get(format!("{}/stats", self.control)).send().await.unwrap().json().await.unwrap()
    }

    fn client_credentials(&self) -> NetworkAuth {
        NetworkAuth::ClientCredentials(OAuthClientConfig {
            token_url: format!("{}/token", self.base),
            backchannel_url: None,
            client_id: CLIENT_ID.into(),
            client_secret: Some(CLIENT_SECRET.into()),
            client_auth: None,
            private_key: None,
            key_id: None,
            scope: Some("sim-swap device-swap".into()),
        })
    }
}

fn api(sim_swap_url: String, device_swap_url: Option<String>, auth: NetworkAuth) -> NetworkApiConfig {
    NetworkApiConfig {
        sim_swap_url: Some(sim_swap_url),
        device_swap_url,
        auth,
        ca_certificate: None,
        client_certificate: None,
        client_key: None,
        max_concurrency: 16,
        call_timeout_ms: 5000,
        breaker_failures: 5,
        breaker_open_ms: 60_000,
        test_phone_number: None,
    }
}

fn check(api: &str) -> SwapCheckConfig {
    SwapCheckConfig {
        api: api.into(),
        method: None,
        bands: None,
        when_unavailable: None,
        timeout_ms: Some(3000),
        recheck_after_seconds: None,
        shadow: false,
    }
}

/// The gateway `gw` at `gateway`, asked by `alpha` for SIM and device swaps with its defaults.
fn both_checks(gateway: &Gateway) -> impl FnOnce(&mut Settings) {
    let config = api(
        format!("{}/sim-swap/v2", gateway.base),
        Some(format!("{}/device-swap/v1", gateway.base)),
        gateway.client_credentials(),
    );
    move |s: &mut Settings| {
        s.network_apis.insert("gw".into(), config);
        let alpha = &mut s.brands[0].policy;
        alpha.sim_swap = Some(check("gw"));
        alpha.device_swap = Some(check("gw"));
    }
}

async fn create(server: &TestServer, key: &str, order_id: &str, customer: &str) -> Value {
    let (status, body) = server.post(key, "/v1/verifications", order(order_id, customer)).await;
    assert_eq!(status, 201, "{body}");
    body
}

/// The reason codes the network checks gave (the test order's hardware adds its own).
fn reasons(v: &Value) -> Vec<String> {
    let all = v["risk"]["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned());
    all.filter(|r| ["sim_swap_recent", "device_swap_recent", "network_api_unavailable"].contains(&r.as_str())).collect()
}

/// The `network.checked` events of a verification, in order.
async fn network_events(server: &TestServer, brand: &str, id: &str) -> Vec<Value> {
    let events = server.logged(brand, id).await;
    events.into_iter().filter(|e| e.kind.as_str() == "network.checked").map(|e| e.attrs).collect()
}

/// Recent swaps are stopped before any SMS (a SIM swap two hours ago denied, three days ago held,
/// a new handset held), older and unknown ones pass; the events name outcome and age band, never
/// the number; one token serves every call; the fraud page counts what the checks did.
async fn recent_swaps_stop_the_code_and_old_ones_pass(db: Db) {
    let gateway = Gateway::start().await;
    gateway.number(C1, Some(2), None).await;
    gateway.number(C2, Some(72), None).await;
    gateway.number(&load_phone(1), Some(24 * 90), Some(24 * 200)).await;
    gateway.control("/numbers", json!({ "phone": load_phone(2), "monitored_period": 120 })).await;
    gateway.number(&load_phone(3), None, Some(2)).await;
    let (ok, err) = crate::admin::add_user(&db, &["--username", "ops", "--role", "operator"]);
    assert!(ok, "{err}");
    let server = TestServer::start_with(db, both_checks(&gateway)).await;
    let key = server.alpha_key.clone();

    let swapped = create(&server, &key, "o-swapped", "c-1").await;
    assert_eq!((swapped["status"].as_str(), reasons(&swapped)), (Some("blocked"), vec!["sim_swap_recent".to_owned()]));
    let id = swapped["id"].as_str().unwrap();
    assert!(server.outbox(Some(id)).await.is_empty(), "no SMS to a swapped SIM");
    let events = network_events(&server, "alpha", id).await;
    let sim = events.iter().find(|e| e["api"] == "sim_swap").unwrap();
    assert_eq!((&sim["outcome"], &sim["age_band"], &sim["action"]), (&json!("swapped"), &json!("24h"), &json!("deny")));
    assert_eq!(sim["on"], "create");
    let device = events.iter().find(|e| e["api"] == "device_swap").unwrap();
    assert_eq!((&device["outcome"], &device["age_band"]), (&json!("not_swapped"), &json!("none")));
    let all_events = serde_json::to_string(&events).unwrap();
    assert!(!all_events.contains("15123456789"), "no number in events: {all_events}");
    assert!(server.events("alpha", id).await.contains(&"verification.blocked".to_owned()));

    let week = create(&server, &key, "o-week", "c-2").await;
    assert_eq!((week["status"].as_str(), reasons(&week)), (Some("in_review"), vec!["sim_swap_recent".to_owned()]));
    let old = create(&server, &key, "o-old", &crate::support::load_customer(1)).await;
    assert_eq!((old["status"].as_str(), reasons(&old)), (Some("pending"), Vec::<String>::new()));
    let events = network_events(&server, "alpha", old["id"].as_str().unwrap()).await;
    assert!(events.iter().all(|e| e["outcome"] == "not_swapped" && e["age_band"] == "older"), "{events:?}");
    let unknown = create(&server, &key, "o-unknown", &crate::support::load_customer(2)).await;
    assert_eq!(unknown["status"], "pending");
    let events = network_events(&server, "alpha", unknown["id"].as_str().unwrap()).await;
    let sim = events.iter().find(|e| e["api"] == "sim_swap").unwrap();
    assert_eq!((&sim["age_band"], &sim["monitored_days"]), (&json!("none"), &json!(120)));
    let handset = create(&server, &key, "o-handset", &crate::support::load_customer(3)).await;
    assert_eq!(
        (handset["status"].as_str(), reasons(&handset)),
        (Some("in_review"), vec!["device_swap_recent".to_owned()])
    );
    // Beta asks nobody.
    let beta = create(&server, &server.beta_key.clone(), "o-beta", "c-1").await;
    assert_eq!(beta["status"], "pending");

    let stats = gateway.stats().await;
    assert_eq!(stats["token_requests"], 1, "one token for every call: {stats}");
    assert_eq!(stats["api_calls"]["/sim-swap/v2/retrieve-date"], 5, "{stats}");
    assert_eq!(stats["api_calls"]["/device-swap/v1/retrieve-date"], 5, "{stats}");
    for request in stats["requests"].as_array().unwrap() {
        assert!(request["authorization"].as_str().unwrap().starts_with("Bearer "), "{request}");
        assert!(request["body"]["phoneNumber"].as_str().unwrap().starts_with("+49"), "{request}");
        assert!(request["correlator"].as_str().is_some_and(|c| c.len() > 10), "{request}");
    }
    assert_eq!(stats["token_grants"][0]["client_auth"], "basic");

    // Prometheus and the fraud dashboard count the detections.
    let metrics = server.http.get(server.metrics_url()).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"orderguard_network_api_detections_total{api="sim_swap",band="24h",brand="alpha"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"orderguard_network_api_calls_total{api="sim_swap",gateway="gw",outcome="swapped"} 2"#));
    let mut browser = crate::admin::Browser::new(&server);
    browser.sign_in("ops", crate::admin::PASSWORD).await;
    let mut page = String::new();
    for _ in 0..100 {
        page = browser.get("/admin/fraud?brand=alpha&days=7").await.html;
        if page.contains("<tr><td>sim_swap</td><td>1</td><td>1</td>") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(page.contains("<tr><td>sim_swap</td><td>1</td><td>1</td><td>0</td><td>0</td></tr>"), "{page}");
    assert!(page.contains("<tr><td>device_swap</td><td>0</td><td>1</td><td>0</td><td>0</td></tr>"), "{page}");
}

/// `check` asks the widest band first and narrows only while the answer is yes.
async fn check_narrows_from_the_widest_band(db: Db) {
    let gateway = Gateway::start().await;
    gateway.number(C1, Some(2), None).await;
    let config = api(format!("{}/sim-swap/v2", gateway.base), None, gateway.client_credentials());
    let server = TestServer::start_with(db, move |s| {
        s.network_apis.insert("gw".into(), config);
        s.brands[0].policy.sim_swap = Some(SwapCheckConfig { method: Some("check".into()), ..check("gw") });
    })
    .await;
    let swapped = create(&server, &server.alpha_key.clone(), "o-1", "c-1").await;
    assert_eq!((swapped["status"].as_str(), reasons(&swapped)), (Some("blocked"), vec!["sim_swap_recent".to_owned()]));
    let clean = create(&server, &server.alpha_key.clone(), "o-2", "c-2").await;
    assert_eq!(clean["status"], "pending");
    let stats = gateway.stats().await;
    let ages: Vec<&Value> = stats["requests"].as_array().unwrap().iter().map(|r| &r["body"]["maxAge"]).collect();
    assert_eq!(ages, [&json!(168), &json!(24), &json!(168)], "{stats}");
}

/// Down, refusing, slow, or without tokens: each brand's policy decides, the decision names the
/// reason, the event says why, and after five failures the breaker stops asking.
async fn outages_follow_the_brand_policy(db: Db) {
    let gateway = Gateway::start().await;
    // A call that takes a second counts against the gateway, whatever a brand's own budget.
    let config = NetworkApiConfig {
        call_timeout_ms: 1000,
        ..api(format!("{}/sim-swap/v2", gateway.base), None, gateway.client_credentials())
    };
    let server = TestServer::start_with(db, move |s| {
        s.network_apis.insert("gw".into(), config);
        s.brands[0].policy.sim_swap = Some(SwapCheckConfig { timeout_ms: Some(400), ..check("gw") });
        let review = SwapCheckConfig { when_unavailable: Some("review".into()), timeout_ms: Some(400), ..check("gw") };
        s.brands[1].policy.sim_swap = Some(review);
    })
    .await;
    let (alpha, beta) = (server.alpha_key.clone(), server.beta_key.clone());
    let mut customer = 10;
    let mut next = || {
        customer += 1;
        crate::support::load_customer(customer)
    };
    let error_of = |events: &[Value]| events.first().map(|e| e["error"].as_str().unwrap_or_default().to_owned());

    gateway.behaviour(json!({ "api_status": 503 })).await;
    let open = create(&server, &alpha, "o-503", &next()).await;
    assert_eq!(
        (open["status"].as_str(), reasons(&open)),
        (Some("pending"), vec!["network_api_unavailable".to_owned()])
    );
    let events = network_events(&server, "alpha", open["id"].as_str().unwrap()).await;
    assert_eq!(events[0]["outcome"], "unavailable");
    assert!(error_of(&events).unwrap().contains("HTTP 503 UNAVAILABLE"), "{events:?}");
    let held = create(&server, &beta, "o-503-beta", &next()).await;
    assert_eq!(
        (held["status"].as_str(), reasons(&held)),
        (Some("in_review"), vec!["network_api_unavailable".to_owned()])
    );

    gateway.behaviour(json!({ "api_status": 429 })).await;
    let limited = create(&server, &alpha, "o-429", &next()).await;
    let events = network_events(&server, "alpha", limited["id"].as_str().unwrap()).await;
    assert!(error_of(&events).unwrap().contains("HTTP 429 TOO_MANY_REQUESTS"), "{events:?}");

    gateway.behaviour(json!({ "api_status": null, "api_delay_ms": 3000 })).await;
    let started = Instant::now();
    let slow = create(&server, &alpha, "o-slow", &next()).await;
    assert!(started.elapsed() < Duration::from_millis(2500), "the budget bounds the wait: {:?}", started.elapsed());
    assert_eq!(slow["status"], "pending");
    let events = network_events(&server, "alpha", slow["id"].as_str().unwrap()).await;
    assert_eq!(error_of(&events).as_deref(), Some("timed out"));

    // Five failures in a row (503, 503, 429, the slow call once its second is up, and this one):
    // the breaker opens.
    gateway.behaviour(json!({ "api_delay_ms": 0, "token_status": 503, "revoke_tokens": true })).await;
    let no_token = create(&server, &alpha, "o-no-token", &next()).await;
    let events = network_events(&server, "alpha", no_token["id"].as_str().unwrap()).await;
    assert!(error_of(&events).unwrap().starts_with("token:"), "{events:?}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let calls_before = gateway.stats().await["api_calls"]["/sim-swap/v2/retrieve-date"].as_u64().unwrap();
    gateway.behaviour(json!({ "token_status": null })).await;
    let skipped = create(&server, &alpha, "o-skipped", &next()).await;
    assert_eq!(skipped["status"], "pending");
    let events = network_events(&server, "alpha", skipped["id"].as_str().unwrap()).await;
    assert!(error_of(&events).unwrap().contains("failed repeatedly"), "{events:?}");
    let calls_after = gateway.stats().await["api_calls"]["/sim-swap/v2/retrieve-date"].as_u64().unwrap();
    assert_eq!(calls_before, calls_after, "an open breaker asks nobody");
}

/// Parallel creates share one token; a token the gateway revoked is replaced once and the call
/// retried.
async fn tokens_are_shared_and_refreshed_once(db: Db) {
    let gateway = Gateway::start().await;
    let server = TestServer::start_with(db, both_checks(&gateway)).await;
    let key = server.alpha_key.clone();
    let creates = (0..20).map(|n| {
        let (server, key) = (&server, key.clone());
        async move { create(server, &key, &format!("o-{n}"), &crate::support::load_customer(100 + n)).await }
    });
    let created = futures_util::future::join_all(creates).await;
    assert!(created.iter().all(|v| v["status"] == "pending"));
    assert_eq!(gateway.stats().await["token_requests"], 1);

    gateway.behaviour(json!({ "revoke_tokens": true })).await;
    let after = create(&server, &key, "o-after", &crate::support::load_customer(200)).await;
    assert_eq!(after["status"], "pending");
    let events = network_events(&server, "alpha", after["id"].as_str().unwrap()).await;
    assert!(events.iter().all(|e| e["outcome"] == "not_swapped"), "answered after one refresh: {events:?}");
    assert_eq!(gateway.stats().await["token_requests"], 2, "one refresh for both APIs");
}

/// Three-legged CIBA: a token per number (`login_hint=tel:…`), the number not repeated in the
/// body, the client authenticated by a signed assertion (`private_key_jwt`).
async fn ciba_gives_a_token_per_number_signed_with_a_private_key(db: Db) {
    let gateway = Gateway::start().await;
    let dir = crate::support::TempDir::new();
    let key = dir.0.join("client-key.pem");
    let made = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let public = std::process::Command::new("openssl").args(["pkey", "-pubout", "-in"]).arg(&key).output().unwrap();
    let public_key_pem = String::from_utf8(public.stdout).unwrap();
    gateway.control("/clients", json!({ "client_id": "orderguard-ciba", "public_key_pem": public_key_pem })).await;
    gateway.number(C1, Some(2), None).await;
    let auth = NetworkAuth::Ciba(OAuthClientConfig {
        token_url: format!("{}/token", gateway.base),
        backchannel_url: Some(format!("{}/bc-authorize", gateway.base)),
        client_id: "orderguard-ciba".into(),
        client_secret: None,
        client_auth: None,
        private_key: Some(key.clone()),
        key_id: Some("key-1".into()),
        scope: Some("dpv:FraudPreventionAndDetection#sim-swap".into()),
    });
    let config = api(format!("{}/sim-swap/v2", gateway.base), None, auth);
    let server = TestServer::start_with(db, move |s| {
        s.network_apis.insert("gw".into(), config);
        s.brands[0].policy.sim_swap = Some(check("gw"));
    })
    .await;
    let key = server.alpha_key.clone();
    let swapped = create(&server, &key, "o-1", "c-1").await;
    assert_eq!((swapped["status"].as_str(), reasons(&swapped)), (Some("blocked"), vec!["sim_swap_recent".to_owned()]));
    let clean = create(&server, &key, "o-2", "c-2").await;
    assert_eq!(clean["status"], "pending");
    let again = create(&server, &key, "o-3", "c-2").await;
    assert_eq!(again["status"], "pending");

    let stats = gateway.stats().await;
    assert_eq!(stats["bc_authorize_requests"], 2, "a token per number, kept for the next call: {stats}");
    let grants = stats["token_grants"].as_array().unwrap();
    assert!(grants.iter().all(|g| g["client_auth"] == "private_key_jwt" && g["status"] == 200), "{stats}");
    let hints: Vec<&Value> =
        grants.iter().filter(|g| g["endpoint"] == "/bc-authorize").map(|g| &g["login_hint"]).collect();
    assert_eq!(hints, [&json!(format!("tel:{C1}")), &json!(format!("tel:{C2}"))]);
    assert!(grants.iter().all(|g| g["scope"].as_str().unwrap().split(' ').any(|s| s == "openid")), "{stats}");
    for request in stats["requests"].as_array().unwrap() {
        assert_eq!(request["body"], json!({}), "a three-legged call leaves the number to the token");
    }
}

fn spec(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peers/camara").join(name);
    assert!(path.is_file(), "the CAMARA specification {} is missing", path.display());
    path.display().to_string()
}

async fn prism(args: &[String]) -> (NodePeer, String) {
    let peer = NodePeer::start("camara", "prism.mjs", Some("@stoplight/prism-cli"), args).await;
    let base = format!("http://127.0.0.1:{}", peer.ready_value("port"));
    (peer, base)
}

/// Prism validates every request against the official specifications on the way to the
/// gateway and every answer on the way back (a violation becomes an error, which would show as
/// `unavailable`): both methods pass, the documented error answers are read, an answer that
/// breaks the specification is not believed, and the mock's own example is understood.
async fn prism_holds_the_wire_format(db: Db) {
    let gateway = Gateway::start().await;
    let sim_spec = spec("sim-swap.yaml");
    let (_sim, sim_url) = prism(&["--proxy".into(), sim_spec.clone(), format!("{}/sim-swap/v2", gateway.base)]).await;
    let device_upstream = format!("{}/device-swap/v1", gateway.base);
    let (_device, device_url) = prism(&["--proxy".into(), spec("device-swap.yaml"), device_upstream]).await;
    let (_mock, mock_url) = prism(&["--mock".into(), sim_spec]).await;
    gateway.number(C1, Some(2), Some(2)).await;
    let proxied = api(sim_url, Some(device_url), gateway.client_credentials());
    let mocked = api(mock_url, None, NetworkAuth::Bearer { token: "static-gateway-token".into() });
    let server = TestServer::start_with(db, move |s| {
        s.network_apis.insert("proxied".into(), proxied);
        s.network_apis.insert("mocked".into(), mocked);
        let alpha = &mut s.brands[0].policy;
        alpha.sim_swap = Some(check("proxied"));
        alpha.device_swap = Some(check("proxied"));
        let beta = &mut s.brands[1].policy;
        beta.sim_swap = Some(check("mocked"));
        beta.device_swap = Some(SwapCheckConfig { method: Some("check".into()), ..check("proxied") });
    })
    .await;
    let (alpha, beta) = (server.alpha_key.clone(), server.beta_key.clone());
    let swapped = create(&server, &alpha, "o-a", "c-1").await;
    assert_eq!(swapped["status"], "blocked", "{swapped}");
    let events = network_events(&server, "alpha", swapped["id"].as_str().unwrap()).await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["outcome"] == "swapped"), "Prism let requests and answers through: {events:?}");
    // Beta: the mock's example (a SIM change in 2024) is old; the handset check through the proxy
    // (maxAge 168, then 24) finds the new handset.
    let held = create(&server, &beta, "o-b", "c-1").await;
    assert_eq!((held["status"].as_str(), reasons(&held)), (Some("in_review"), vec!["device_swap_recent".to_owned()]));
    let events = network_events(&server, "beta", held["id"].as_str().unwrap()).await;
    let sim = events.iter().find(|e| e["api"] == "sim_swap").unwrap();
    assert_eq!((&sim["outcome"], &sim["age_band"]), (&json!("not_swapped"), &json!("older")));
    let device = events.iter().find(|e| e["api"] == "device_swap").unwrap();
    assert_eq!(
        (&device["outcome"], &device["age_band"], &device["method"]),
        (&json!("swapped"), &json!("24h"), &json!("check"))
    );

    // A documented error answer, through the validating proxy.
    gateway.behaviour(json!({ "api_status": 429 })).await;
    let limited = create(&server, &alpha, "o-429", "c-2").await;
    let events = network_events(&server, "alpha", limited["id"].as_str().unwrap()).await;
    let sim = events.iter().find(|e| e["api"] == "sim_swap").unwrap();
    assert!(sim["error"].as_str().unwrap().contains("HTTP 429 TOO_MANY_REQUESTS"), "{sim}");
    // An answer that breaks the specification is not believed.
    let broken = json!({ "status": 200, "body": { "latestSimChange": "yesterday" } });
    gateway.behaviour(json!({ "api_status": null, "api_response": broken })).await;
    let refused = create(&server, &alpha, "o-broken", &crate::support::load_customer(9)).await;
    let events = network_events(&server, "alpha", refused["id"].as_str().unwrap()).await;
    let sim = events.iter().find(|e| e["api"] == "sim_swap").unwrap();
    assert_eq!(sim["outcome"], "unavailable", "{sim}");
}

/// A resend soon after the last check asks nobody; one after the policy's interval asks again
/// and stops the code when the SIM was swapped in between.
async fn resends_ask_again_after_a_while(db: Db) {
    let gateway = Gateway::start().await;
    let config = api(format!("{}/sim-swap/v2", gateway.base), None, gateway.client_credentials());
    let server = TestServer::start_with(db, move |s| {
        s.network_apis.insert("gw".into(), config);
        let alpha = &mut s.brands[0].policy;
        alpha.resend_cooldown_seconds = Some(0);
        alpha.sim_swap = Some(SwapCheckConfig { recheck_after_seconds: Some(2), ..check("gw") });
    })
    .await;
    let key = server.alpha_key.clone();
    let created = create(&server, &key, "o-1", "c-1").await;
    assert_eq!(created["status"], "pending");
    let id = created["id"].as_str().unwrap().to_owned();
    server.code(&id).await;
    gateway.number(C1, Some(1), None).await;
    let (status, soon) = server.post(&key, &format!("/v1/verifications/{id}/resend"), json!({})).await;
    assert_eq!((status, soon["status"].as_str()), (200, Some("pending")), "{soon}");
    assert_eq!(gateway.stats().await["api_calls"]["/sim-swap/v2/retrieve-date"], 1, "not asked again so soon");
    server.codes(&id, 2).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, later) = server.post(&key, &format!("/v1/verifications/{id}/resend"), json!({})).await;
    assert_eq!((status, later["status"].as_str()), (200, Some("blocked")), "{later}");
    assert_eq!(reasons(&later), ["sim_swap_recent"]);
    let events = network_events(&server, "alpha", &id).await;
    assert_eq!(events.iter().map(|e| e["on"].as_str().unwrap()).collect::<Vec<_>>(), ["create", "resend"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.outbox(Some(&id)).await.len(), 2, "no third code went out");
    let (status, _) = server.post(&key, &format!("/v1/verifications/{id}/check"), json!({ "code": "000000" })).await;
    assert_eq!(status, 409, "a blocked verification checks no code");
}

/// Around the check as an attacker would go: an allow-listed customer, a brand that sends codes
/// for `review`, a handset swapped after the order started (found by the resend's recheck). A
/// brand that tries the check in shadow mode records the finding and lets the order through.
async fn no_list_or_brand_setting_lets_a_swap_through(db: Db) {
    let gateway = Gateway::start().await;
    gateway.number(C1, Some(2), None).await;
    gateway.number(C2, Some(72), None).await;
    let config = api(
        format!("{}/sim-swap/v2", gateway.base),
        Some(format!("{}/device-swap/v1", gateway.base)),
        gateway.client_credentials(),
    );
    let server = TestServer::start_with(db, move |s| {
        s.network_apis.insert("gw".into(), config);
        let alpha = &mut s.brands[0].policy;
        alpha.review_action = Some("send".into());
        alpha.resend_cooldown_seconds = Some(0);
        alpha.sim_swap = Some(check("gw"));
        alpha.device_swap = Some(SwapCheckConfig { recheck_after_seconds: Some(0), ..check("gw") });
        s.brands[1].policy.sim_swap = Some(SwapCheckConfig { shadow: true, ..check("gw") });
    })
    .await;
    let (alpha, beta) = (server.alpha_key.clone(), server.beta_key.clone());
    let (ok, _, err) = crate::fraud::list_command(
        &server,
        &[
            "add", "--brand", "alpha", "--list", "allow", "--kind", "customer", "--value", "c-1", "--reason", "vip",
            "--by", "desk",
        ],
    );
    assert!(ok, "{err}");
    let allowed = create(&server, &alpha, "o-allowed", "c-1").await;
    assert_eq!((allowed["status"].as_str(), reasons(&allowed)), (Some("blocked"), vec!["sim_swap_recent".to_owned()]));

    // `review_action = "send"` marks ordinary reviews; a SIM swapped this week still holds.
    let week = create(&server, &alpha, "o-week", "c-2").await;
    assert_eq!((week["status"].as_str(), reasons(&week)), (Some("in_review"), vec!["sim_swap_recent".to_owned()]));

    // The handset changes after the code went out: the resend asks again and holds the order.
    let later = create(&server, &alpha, "o-later", &crate::support::load_customer(20)).await;
    assert_eq!(later["status"], "pending");
    let id = later["id"].as_str().unwrap().to_owned();
    server.code(&id).await;
    gateway.number(&load_phone(20), None, Some(1)).await;
    let (status, held) = server.post(&alpha, &format!("/v1/verifications/{id}/resend"), json!({})).await;
    assert_eq!((status, held["status"].as_str()), (200, Some("in_review")), "{held}");
    assert_eq!(reasons(&held), ["device_swap_recent"]);
    assert!(server.events("alpha", &id).await.contains(&"verification.held".to_owned()));

    // Shadow mode: recorded in the decision's shadow reasons, the code goes out.
    let shadow = create(&server, &beta, "o-shadow", "c-1").await;
    assert_eq!((shadow["status"].as_str(), reasons(&shadow)), (Some("pending"), Vec::<String>::new()));
    let (brand, shadow_id) = ("beta".to_owned(), shadow["id"].as_str().unwrap().to_owned());
    let events = server
        .app()
        .store
        .read(move |conn| orderguard::store::events::for_verification(conn, &brand, &shadow_id))
        .await
        .unwrap();
    let assessed = events.iter().find(|e| e.kind.as_str() == "risk.assessed").unwrap();
    assert_eq!(assessed.attrs["shadow_reasons"], json!(["sim_swap_recent"]), "{}", assessed.attrs);
    assert_eq!(assessed.attrs["network"][0]["age_band"], "24h");
}

/// A gateway behind mutual TLS with a private CA: asked with orderguard's client certificate, and
/// not reachable without it (the check then follows `when_unavailable`).
async fn a_gateway_that_wants_mutual_tls(db: Db) {
    let certs = db.dir.0.join("certs");
    let made = std::process::Command::new(crate::peers::peer_dir("customers").join("make-certs.sh"))
        .arg(&certs)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let path = |name: &str| certs.join(name).display().to_string();
    let tls = ["--tls-cert".into(), path("server.pem"), "--tls-key".into(), path("server-key.pem")];
    let gateway = Gateway::start_with(&[&tls[..], &["--client-ca".into(), path("ca.pem")]].concat()).await;
    gateway.number(C1, Some(2), None).await;
    let with_certificate = NetworkApiConfig {
        ca_certificate: Some(certs.join("ca.pem")),
        client_certificate: Some(certs.join("client.pem")),
        client_key: Some(certs.join("client-key.pem")),
        ..api(format!("{}/sim-swap/v2", gateway.base), None, gateway.client_credentials())
    };
    let without_certificate =
        NetworkApiConfig { client_certificate: None, client_key: None, ..with_certificate.clone() };
    let server = TestServer::start_with(db, move |s| {
        s.network_apis.insert("mtls".into(), with_certificate);
        s.network_apis.insert("plain".into(), without_certificate);
        s.brands[0].policy.sim_swap = Some(check("mtls"));
        s.brands[1].policy.sim_swap = Some(check("plain"));
    })
    .await;
    let swapped = create(&server, &server.alpha_key.clone(), "o-mtls", "c-1").await;
    assert_eq!((swapped["status"].as_str(), reasons(&swapped)), (Some("blocked"), vec!["sim_swap_recent".to_owned()]));
    let refused = create(&server, &server.beta_key.clone(), "o-plain", "c-1").await;
    assert_eq!(reasons(&refused), ["network_api_unavailable"], "no handshake without a client certificate");
    assert_eq!(gateway.stats().await["token_requests"], 1, "only the client with a certificate got a token");
}

/// A flood of creates for one number: those a hard limit refuses cost no gateway call (nor fill
/// its calls in flight), the others are all checked.
async fn refused_orders_ask_the_gateway_nothing(db: Db) {
    let gateway = Gateway::start().await;
    let config = api(format!("{}/sim-swap/v2", gateway.base), None, gateway.client_credentials());
    let server = TestServer::start_with(db, move |s| {
        s.network_apis.insert("gw".into(), config);
        s.brands[0].policy.sim_swap = Some(check("gw"));
    })
    .await;
    let key = server.alpha_key.clone();
    let mut checked = 0;
    let mut refused = 0;
    for n in 0..9 {
        let v = create(&server, &key, &format!("o-flood-{n}"), "c-2").await;
        let all = v["risk"]["reasons"].as_array().unwrap();
        if all.iter().any(|r| r == "sms_limit_number" || r == "verification_limit_customer") {
            refused += 1;
            let events = network_events(&server, "alpha", v["id"].as_str().unwrap()).await;
            assert!(events.is_empty(), "a refused create asked the gateway: {events:?}");
        } else {
            checked += 1;
        }
    }
    assert!(refused >= 3, "the number's limit refused some: {refused} of 9");
    assert_eq!(gateway.stats().await["api_calls"]["/sim-swap/v2/retrieve-date"], checked);
}

/// `orderguard doctor` gets a token from every gateway and asks about its test number.
async fn doctor_gets_a_token_and_asks_the_test_number(db: Db) {
    let gateway = Gateway::start().await;
    let extra = format!(
        r#"
[network_apis.gw]
sim_swap_url = "{base}/sim-swap/v2"
device_swap_url = "{base}/device-swap/v1"
test_phone_number = "{C1}"
auth = {{ kind = "client_credentials", token_url = "{base}/token", client_id = "{CLIENT_ID}", client_secret = "{CLIENT_SECRET}", client_auth = "post" }}

[network_apis.wrong]
sim_swap_url = "{base}/sim-swap/v2"
auth = {{ kind = "client_credentials", token_url = "{base}/token", client_id = "{CLIENT_ID}", client_secret = "not-the-secret" }}
"#,
        base = gateway.base
    );
    let (ok, output) = run_doctor(&db, &extra);
    assert!(!ok, "a refused credential fails the doctor: {output}");
    assert!(output.contains("ok    network api gw (token): obtained"), "{output}");
    assert!(output.contains("ok    network api gw (sim_swap): answered"), "{output}");
    assert!(output.contains("ok    network api gw (device_swap): answered"), "{output}");
    assert!(
        output.contains("FAIL  network api wrong (token): token: the token endpoint refused (HTTP 401: invalid_client"),
        "{output}"
    );
}
