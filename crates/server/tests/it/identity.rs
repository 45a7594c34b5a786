//! Identity connectors against real peers started by the tests: the telco's OpenID provider
//! (oidc-provider, tokens from a scripted authorization-code flow) and its customer REST API.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use orderguard::config::{IdentityConfig, OidcConfig, RestAuth, RestConfig, Settings};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::peers::{NodePeer, peer_dir};
use crate::support::{Db, TestServer, problem_type};

on_both_databases!(
    tokens_of_every_kind_identify_the_customer,
    refused_tokens_get_the_right_problem,
    key_rotation_needs_no_restart,
    provider_down_refuses_clearly_and_recovers,
    rest_directory_with_bearer_and_basic,
    rest_directory_with_mutual_tls,
    doctor_checks_the_openid_provider,
);

const RESOURCE: &str = "https://orderguard.test";
const INTROSPECTION_SECRET: &str = "orderguard-introspection-secret";

struct Provider {
    issuer: String,
    control: String,
    _peer: NodePeer,
    http: reqwest::Client,
}

impl Provider {
    async fn start() -> Self {
        let args = ["--port", "0", "--control-port", "0"].map(String::from);
        let peer = NodePeer::start("oidc", "oidc.mjs", Some("oidc-provider"), &args).await;
        Self {
            issuer: peer.ready_value("issuer"),
            control: format!("http://127.0.0.1:{}", peer.ready_value("control")),
            _peer: peer,
            http: reqwest::Client::new(),
        }
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let response = self.http.post(format!("{}{path}", self.control)).json(&body).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap()
    }

    /// Tokens for `user` from a real authorization-code flow; a JWT access token for `resource`,
    /// an opaque one without.
    async fn tokens(&self, user: &str, resource: Option<&str>) -> Value {
        let mut body = json!({ "user": user });
        if let Some(resource) = resource {
            body["resource"] = json!(resource);
        }
        self.control("/tokens", body).await
    }

    async fn stats(&self) -> Value {
        self.http.get(format!("{}/stats", self.control)).send().await.unwrap().json().await.unwrap()
    }

    fn connector(&self) -> IdentityConfig {
        IdentityConfig::Oidc(OidcConfig {
            issuer: self.issuer.clone(),
            audiences: vec![RESOURCE.into()],
            client_ids: vec!["shop".into()],
            algorithms: vec!["RS256".into(), "ES256".into()],
            client_id: Some("orderguard".into()),
            client_secret: Some(INTROSPECTION_SECRET.into()),
            leeway_seconds: 0,
            cache_seconds: 600,
            timeout_ms: 2000,
            retries: 1,
        })
    }
}

/// Both brands ask the provider; beta's policy also sends codes to unverified numbers.
async fn server_with(db: Db, identity: IdentityConfig) -> TestServer {
    TestServer::start_with(db, |s: &mut Settings| {
        s.identity.insert("telco".into(), identity);
        for brand in &mut s.brands {
            brand.identity = "telco".into();
            brand.policy.max_verifications_per_number_per_hour = Some(100);
        }
        s.brands[1].policy.allow_unverified_phone = Some(true);
    })
    .await
}

fn order_for(order_id: &str, customer: Value) -> Value {
    let mut order = crate::support::order(order_id, "unused");
    order["customer"] = customer;
    order
}

async fn create(server: &TestServer, key: &str, order_id: &str, customer: Value) -> (u16, Value) {
    server.post(key, "/v1/verifications", order_for(order_id, customer)).await
}

async fn tokens_of_every_kind_identify_the_customer(db: Db) {
    let provider = Provider::start().await;
    let server = server_with(db, provider.connector()).await;

    // A JWT access token: checked against the JWKS, the phone claims are in it.
    let alice = provider.tokens("alice", Some(RESOURCE)).await;
    let (status, body) =
        create(&server, &server.alpha_key, "O-1", json!({ "access_token": alice["access_token"] })).await;
    assert_eq!(status, 201, "{body}");
    let outbox = server.outbox(Some(body["id"].as_str().unwrap())).await;
    let sms = wait_for_sms(&server, body["id"].as_str().unwrap(), outbox).await;
    assert_eq!(sms["to"], "+4915123456789", "the number from the provider, not from the order");

    // An opaque access token: introspected with orderguard's client, the number from userinfo.
    let opaque = provider.tokens("alice", None).await;
    let (status, body) =
        create(&server, &server.alpha_key, "O-2", json!({ "access_token": opaque["access_token"] })).await;
    assert_eq!(status, 201, "{body}");
    let stats = provider.stats().await;
    assert!(
        stats["introspection_requests"].as_u64().unwrap() >= 1 && stats["userinfo_requests"].as_u64().unwrap() >= 1,
        "{stats}"
    );

    // An ID token (aud = the shop's client id).
    let (status, body) = create(&server, &server.alpha_key, "O-3", json!({ "id_token": alice["id_token"] })).await;
    assert_eq!(status, 201, "{body}");

    // The same customer, whichever token: the `sub` is the customer.
    let refs: Vec<String> = server
        .app()
        .store
        .read(|conn| conn.query("SELECT DISTINCT customer_ref FROM verifications", &[]))
        .await
        .unwrap()
        .iter()
        .map(|r| r.text("customer_ref").unwrap())
        .collect();
    assert_eq!(refs.len(), 1, "{refs:?}");

    // bob's number is not verified: refused by alpha's policy, sent by beta's.
    let bob = provider.tokens("bob", Some(RESOURCE)).await;
    let (status, body) =
        create(&server, &server.alpha_key, "O-4", json!({ "access_token": bob["access_token"] })).await;
    assert_eq!((status, problem_type(&body)), (422, "customer-phone-unverified"), "{body}");
    let (status, body) = create(&server, &server.beta_key, "O-5", json!({ "access_token": bob["access_token"] })).await;
    assert_eq!(status, 201, "{body}");
    let created = events_of(&server, "beta", body["id"].as_str().unwrap()).await;
    assert_eq!(created[0]["phone_verified"], false, "{created:?}");

    // carol has no number at all.
    let carol = provider.tokens("carol", Some(RESOURCE)).await;
    let (status, body) =
        create(&server, &server.alpha_key, "O-6", json!({ "access_token": carol["access_token"] })).await;
    assert_eq!((status, problem_type(&body)), (422, "customer-phone-missing"), "{body}");

    // An id where the brand needs a token, and two references at once.
    let (status, body) = create(&server, &server.alpha_key, "O-7", json!({ "id": "alice" })).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("customer")), "{body}");
    let (status, body) =
        create(&server, &server.alpha_key, "O-8", json!({ "id": "alice", "access_token": alice["access_token"] }))
            .await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("customer")), "{body}");
    server.stop().await;
}

async fn wait_for_sms(server: &TestServer, id: &str, mut outbox: Vec<Value>) -> Value {
    for _ in 0..200 {
        if let Some(sms) = outbox.first() {
            return sms.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        outbox = server.outbox(Some(id)).await;
    }
    panic!("no SMS for {id}");
}

/// Attributes of the verification's events, in order.
async fn events_of(server: &TestServer, brand: &str, id: &str) -> Vec<Value> {
    let (brand, id) = (brand.to_owned(), id.to_owned());
    server
        .app()
        .store
        .read(move |conn| orderguard::store::events::for_verification(conn, &brand, &id))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.attrs)
        .collect()
}

/// A token with the given header and claims, signed with nothing or with `sign`.
fn forged(header: Value, claims: &Value, signature: &[u8]) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.{}", part(&header), part(claims), URL_SAFE_NO_PAD.encode(signature))
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn refused_tokens_get_the_right_problem(db: Db) {
    let provider = Provider::start().await;
    let other = Provider::start().await;
    // beta trusts only the tokens of another shop client.
    let IdentityConfig::Oidc(mut strict) = provider.connector() else { unreachable!() };
    strict.client_ids = vec!["another-shop".into()];
    let telco = provider.connector();
    let server = TestServer::start_with(db, |s: &mut Settings| {
        s.identity.insert("telco".into(), telco);
        s.identity.insert("strict".into(), IdentityConfig::Oidc(strict));
        s.brands[0].identity = "telco".into();
        s.brands[1].identity = "strict".into();
    })
    .await;
    let problem = |status: u16, body: &Value| {
        (status, problem_type(body).to_owned(), body["detail"].as_str().unwrap_or_default().to_owned())
    };

    // Expired: a token that lived one second.
    let short =
        provider.control("/tokens", json!({ "user": "alice", "resource": RESOURCE, "access_token_ttl": 1 })).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) =
        create(&server, &server.alpha_key, "X-1", json!({ "access_token": short["access_token"] })).await;
    assert_eq!(problem(status, &body).1, "customer-token-expired", "{body}");
    // Opaque and expired: introspection says inactive.
    let short = provider.control("/tokens", json!({ "user": "alice", "access_token_ttl": 1 })).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) =
        create(&server, &server.alpha_key, "X-2", json!({ "access_token": short["access_token"] })).await;
    assert_eq!(problem(status, &body).1, "customer-token-expired", "{body}");

    // From another issuer (another provider, validly signed by it).
    let foreign = other.tokens("alice", Some(RESOURCE)).await;
    let (status, body) =
        create(&server, &server.alpha_key, "X-3", json!({ "access_token": foreign["access_token"] })).await;
    let (status, kind, detail) = problem(status, &body);
    assert_eq!((status, kind.as_str()), (422, "customer-token-invalid"), "{body}");
    assert!(detail.contains("issuer") || detail.contains("key"), "{detail}");

    // For another audience.
    let elsewhere = provider.tokens("alice", Some("https://other.test")).await;
    let (status, body) =
        create(&server, &server.alpha_key, "X-4", json!({ "access_token": elsewhere["access_token"] })).await;
    let (_, kind, detail) = problem(status, &body);
    assert_eq!(kind, "customer-token-invalid", "{body}");
    assert!(detail.contains("audience"), "{detail}");

    // `alg: none`, HMAC keyed with the provider's public key, and a changed payload.
    let good = provider.tokens("alice", Some(RESOURCE)).await["access_token"].as_str().unwrap().to_owned();
    let mut claims = claims_of(&good);
    claims["sub"] = json!("mallory");
    let none = forged(json!({ "alg": "none", "typ": "at+jwt" }), &claims, b"");
    let jwks: Value = reqwest::get(format!("{}/jwks", provider.issuer)).await.unwrap().json().await.unwrap();
    let public_key = jwks["keys"][0].to_string();
    let hmac_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, public_key.as_bytes());
    let header = json!({ "alg": "HS256", "kid": jwks["keys"][0]["kid"] });
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let hs256 = format!("{input}.{}", URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&hmac_key, input.as_bytes())));
    let (head, _) = good.split_once('.').unwrap();
    let signature = good.rsplit('.').next().unwrap();
    let tampered = format!("{head}.{}.{signature}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    for (n, token) in [none, hs256, tampered].into_iter().enumerate() {
        let (status, body) =
            create(&server, &server.alpha_key, &format!("X-5{n}"), json!({ "access_token": token })).await;
        assert_eq!((status, problem_type(&body)), (422, "customer-token-invalid"), "token {n}: {body}");
    }

    // An ID token passed as an access token (its audience is the shop, not orderguard), and an
    // access token passed as an ID token.
    let tokens = provider.tokens("alice", Some(RESOURCE)).await;
    let (status, body) = create(&server, &server.alpha_key, "X-6", json!({ "access_token": tokens["id_token"] })).await;
    assert_eq!((status, problem_type(&body)), (422, "customer-token-invalid"), "{body}");
    let (status, body) = create(&server, &server.alpha_key, "X-7", json!({ "id_token": tokens["access_token"] })).await;
    assert_eq!((status, problem_type(&body)), (422, "customer-token-invalid"), "{body}");
    // beta's connector does not trust the shop client these tokens were issued to: neither the
    // opaque one (no audience, its client is checked) nor the JWT (its client_id claim).
    let opaque = provider.tokens("alice", None).await;
    let (status, body) =
        create(&server, &server.beta_key, "X-9", json!({ "access_token": opaque["access_token"] })).await;
    assert_eq!((status, problem_type(&body)), (422, "customer-token-invalid"), "{body}");
    let (status, body) =
        create(&server, &server.beta_key, "X-10", json!({ "access_token": tokens["access_token"] })).await;
    assert_eq!((status, problem_type(&body)), (422, "customer-token-invalid"), "{body}");
    // A character no token has.
    let (status, body) = create(&server, &server.alpha_key, "X-8", json!({ "access_token": "abc\ndef" })).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("customer.access_token")), "{body}");

    // Refusals are in the order's trace, with the reason, and in the metrics.
    let failed: i64 = server
        .app()
        .store
        .read(|conn| conn.query_one("SELECT COUNT(*) AS n FROM events WHERE type = 'identity.failed'", &[]))
        .await
        .unwrap()
        .int("n")
        .unwrap();
    assert_eq!(failed, 11, "9 of alpha's, 2 of beta's");
    let metrics = server.http.get(server.metrics_url()).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("orderguard_identity_total{brand=\"alpha\",connector=\"telco\",result=\"token_rejected\"} 9"),
        "{metrics}"
    );
    server.stop().await;
}

async fn key_rotation_needs_no_restart(db: Db) {
    let provider = Provider::start().await;
    let server = server_with(db, provider.connector()).await;
    let before = provider.tokens("alice", Some(RESOURCE)).await;
    assert_eq!(
        create(&server, &server.alpha_key, "K-1", json!({ "access_token": before["access_token"] })).await.0,
        201
    );
    let fetched = provider.stats().await["jwks_requests"].as_u64().unwrap();
    // Cached: a second token needs no new fetch.
    let again = provider.tokens("alice", Some(RESOURCE)).await;
    assert_eq!(
        create(&server, &server.alpha_key, "K-2", json!({ "access_token": again["access_token"] })).await.0,
        201
    );
    assert_eq!(provider.stats().await["jwks_requests"].as_u64().unwrap(), fetched);

    let rotated = provider.control("/rotate-keys", json!({})).await;
    assert_eq!(rotated["old_keys_published"], false, "{rotated}");
    let after = provider.tokens("alice", Some(RESOURCE)).await;
    let (status, body) =
        create(&server, &server.alpha_key, "K-3", json!({ "access_token": after["access_token"] })).await;
    assert_eq!(status, 201, "a token signed with the new key: {body}");
    assert_eq!(provider.stats().await["jwks_requests"].as_u64().unwrap(), fetched + 1, "one fetch for the unknown kid");
    // A token with the withdrawn key fails now, and its unknown kid makes no new fetch so soon
    // after the last (made-up kids cannot turn into a flood of requests).
    let (status, body) =
        create(&server, &server.alpha_key, "K-4", json!({ "access_token": before["access_token"] })).await;
    assert_eq!((status, problem_type(&body)), (422, "customer-token-invalid"), "{body}");
    let stats = provider.stats().await;
    assert_eq!(stats["jwks_requests"].as_u64().unwrap(), fetched + 1, "rate-limited: {stats}");
    assert_eq!(stats["discovery_requests"], 1, "discovery is cached: {stats}");
    server.stop().await;
}

async fn provider_down_refuses_clearly_and_recovers(db: Db) {
    let provider = Provider::start().await;
    let server = server_with(db, provider.connector()).await;
    let opaque = provider.tokens("alice", None).await;
    let jwt = provider.tokens("alice", Some(RESOURCE)).await;
    assert_eq!(create(&server, &server.alpha_key, "D-1", json!({ "access_token": jwt["access_token"] })).await.0, 201);

    provider.control("/down", json!({ "seconds": 3 })).await;
    // An opaque token needs the provider: refused with a clear status, no number from anywhere else.
    let (status, body) =
        create(&server, &server.alpha_key, "D-2", json!({ "access_token": opaque["access_token"] })).await;
    assert_eq!((status, problem_type(&body)), (503, "identity-unavailable"), "{body}");
    // A JWT is checked with the cached keys: the provider being down does not stop it.
    let (status, body) =
        create(&server, &server.alpha_key, "D-3", json!({ "access_token": jwt["access_token"] })).await;
    assert_eq!(status, 201, "{body}");
    let reason: Value = server
        .app()
        .store
        .read(|conn| conn.query_one("SELECT attrs FROM events WHERE type = 'identity.failed'", &[]))
        .await
        .map(|row| serde_json::from_str(&row.text("attrs").unwrap()).unwrap())
        .unwrap();
    assert_eq!(reason["reason"], "unavailable", "{reason}");

    tokio::time::sleep(Duration::from_millis(3200)).await;
    let (status, body) =
        create(&server, &server.alpha_key, "D-4", json!({ "access_token": opaque["access_token"] })).await;
    assert_eq!(status, 201, "back once the provider is: {body}");
    server.stop().await;
}

struct Customers {
    url: String,
    _peer: NodePeer,
}

impl Customers {
    async fn start(args: &[String]) -> Self {
        let mut all = vec!["--port".to_owned(), "0".to_owned()];
        all.extend_from_slice(args);
        let peer = NodePeer::start("customers", "customers.mjs", None, &all).await;
        Self { url: peer.ready_value("url"), _peer: peer }
    }

    async fn control(&self, path: &str, body: Value, client: &reqwest::Client) {
        let response = client.post(format!("{}/__control{path}", self.url)).json(&body).send().await.unwrap();
        assert!(response.status().is_success());
    }
}

fn rest_connector(url: &str, auth: RestAuth) -> IdentityConfig {
    IdentityConfig::Rest(RestConfig {
        base_url: url.to_owned(),
        path: "/customers/{id}".into(),
        auth,
        ca_certificate: None,
        phone_pointer: "/customer/contact/mobile".into(),
        phone_verified_pointer: Some("/customer/contact/mobileVerified".into()),
        phone_changed_at_pointer: Some("/customer/contact/mobileChangedAt".into()),
        timeout_ms: 1000,
        retries: 1,
    })
}

async fn rest_directory_with_bearer_and_basic(db: Db) {
    let customers = Customers::start(&["--auth".into(), "bearer:directory-token".into()]).await;
    let server =
        server_with(db, rest_connector(&customers.url, RestAuth::Bearer { token: "directory-token".into() })).await;
    // The number changed days ago and the order is high-value hardware: held for review. (The
    // directory's dates are fixed: the server lives five days after the change.)
    let five_days_after = orderguard::clock::parse_rfc3339("2026-11-25T10:00:00Z").unwrap();
    server.app().clock.set_simulated(Some(orderguard_domain::clock::Timestamp(five_days_after)));
    let (status, body) = create(&server, &server.alpha_key, "R-1", json!({ "id": "100234" })).await;
    assert_eq!((status, body["status"].as_str()), (201, Some("in_review")), "{body}");
    assert!(body["risk"]["reasons"].as_array().unwrap().contains(&json!("number_changed_recently")), "{body}");
    let created = &events_of(&server, "alpha", body["id"].as_str().unwrap()).await[0];
    assert_eq!(
        (created["phone_changed_at"].as_str(), created["number_type"].as_str()),
        (Some("2026-11-20T10:00:00.000Z"), Some("mobile"))
    );
    // Written without a country code, read in the brand's region; changed long ago.
    let (status, body) = create(&server, &server.alpha_key, "R-2", json!({ "id": "100235" })).await;
    assert_eq!((status, body["status"].as_str()), (201, Some("pending")), "{body}");
    let sms = wait_for_sms(&server, body["id"].as_str().unwrap(), Vec::new()).await;
    assert_eq!(sms["to"], "+4917612345678", "normalised to E.164");
    let (status, body) = create(&server, &server.alpha_key, "R-3", json!({ "id": "100236" })).await;
    assert_eq!((status, problem_type(&body)), (422, "customer-phone-missing"));
    let (status, body) = create(&server, &server.alpha_key, "R-4", json!({ "id": "999" })).await;
    assert_eq!((status, problem_type(&body)), (422, "customer-unknown"));
    // Slower than the timeout, and down: a clear 503, nothing else is asked.
    customers.control("/slow", json!({ "ms": 1500 }), &server.http).await;
    let (status, body) = create(&server, &server.alpha_key, "R-5", json!({ "id": "100234" })).await;
    assert_eq!((status, problem_type(&body)), (503, "identity-unavailable"), "{body}");
    customers.control("/slow", json!({ "ms": 0 }), &server.http).await;
    customers.control("/down", json!({ "seconds": 2 }), &server.http).await;
    let (status, body) = create(&server, &server.alpha_key, "R-6", json!({ "id": "100234" })).await;
    assert_eq!((status, problem_type(&body)), (503, "identity-unavailable"), "{body}");
    server.stop().await;

    // Basic credentials, and wrong ones.
    let basic = Customers::start(&["--auth".into(), "basic:orderguard:pa:ss".into()]).await;
    let db = Db::sqlite();
    let wrong = RestAuth::Basic { username: "orderguard".into(), password: "wrong".into() };
    let server = server_with(db, rest_connector(&basic.url, wrong)).await;
    let (status, body) = create(&server, &server.alpha_key, "R-7", json!({ "id": "100234" })).await;
    assert_eq!((status, problem_type(&body)), (503, "identity-unavailable"));
    assert!(body["detail"].as_str().unwrap().contains("credentials"), "{body}");
    server.stop().await;
    let db = Db::sqlite();
    let right = RestAuth::Basic { username: "orderguard".into(), password: "pa:ss".into() };
    let server = server_with(db, rest_connector(&basic.url, right)).await;
    assert_eq!(create(&server, &server.alpha_key, "R-8", json!({ "id": "100234" })).await.0, 201);
    server.stop().await;
}

async fn rest_directory_with_mutual_tls(db: Db) {
    let certs = db.dir.0.join("certs");
    let made = std::process::Command::new(peer_dir("customers").join("make-certs.sh")).arg(&certs).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let path = |name: &str| certs.join(name).display().to_string();
    let customers = Customers::start(&[
        "--auth".into(),
        "mtls".into(),
        "--tls-cert".into(),
        path("server.pem"),
        "--tls-key".into(),
        path("server-key.pem"),
        "--client-ca".into(),
        path("ca.pem"),
    ])
    .await;
    let mut connector = rest_connector(
        &customers.url,
        RestAuth::Mtls { certificate: certs.join("client.pem"), key: certs.join("client-key.pem") },
    );
    let IdentityConfig::Rest(rest) = &mut connector else { unreachable!() };
    rest.ca_certificate = Some(certs.join("ca.pem"));
    let without_certificate = {
        let mut c = rest.clone();
        c.auth = RestAuth::None;
        IdentityConfig::Rest(c)
    };
    let server = TestServer::start_with(db, |s: &mut Settings| {
        s.identity.insert("telco".into(), connector);
        s.identity.insert("no-certificate".into(), without_certificate);
        s.brands[0].identity = "telco".into();
        s.brands[1].identity = "no-certificate".into();
    })
    .await;
    let (status, body) = create(&server, &server.alpha_key, "T-1", json!({ "id": "100234" })).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = create(&server, &server.beta_key, "T-2", json!({ "id": "100234" })).await;
    assert_eq!(
        (status, problem_type(&body)),
        (503, "identity-unavailable"),
        "the service wants a client certificate: {body}"
    );
    server.stop().await;
}

async fn doctor_checks_the_openid_provider(db: Db) {
    let provider = Provider::start().await;
    let connectors = format!(
        r#"
[identity.telco]
kind = "oidc"
issuer = "{issuer}"
audiences = ["{RESOURCE}"]
client_id = "orderguard"
client_secret = "{INTROSPECTION_SECRET}"

[identity.wrong-secret]
kind = "oidc"
issuer = "{issuer}"
audiences = ["{RESOURCE}"]
client_id = "orderguard"
client_secret = "not-the-secret"
"#,
        issuer = provider.issuer
    );
    let (ok, out) = crate::support::run_doctor(&db, &connectors);
    assert!(!ok, "{out}");
    let line = |subject: &str| out.lines().find(|l| l.contains(subject)).unwrap_or_default().to_owned();
    assert!(
        line("identity telco").starts_with("ok")
            && line("identity telco").contains("introspection credentials accepted"),
        "{out}"
    );
    assert!(
        line("identity wrong-secret").starts_with("FAIL") && line("identity wrong-secret").contains("introspection"),
        "{out}"
    );
}
