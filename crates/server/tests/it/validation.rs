use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Db, TestServer, order, problem_type};

on_both_databases!(
    hostile_input_gets_clear_problems_and_changes_nothing,
    problem_details_speak_the_request_language,
    https_addresses_get_hsts,
);

/// `Accept-Language` first, then the default locale of the key's brand, else English.
async fn problem_details_speak_the_request_language(db: Db) {
    let server = TestServer::start(db).await;
    let ask = |key: String, language: Option<&'static str>| {
        let request = server.http.get(format!("{}/v1/verifications/nope", server.base)).bearer_auth(key);
        let request = match language {
            Some(l) => request.header("accept-language", l),
            None => request,
        };
        async move {
            let response = request.send().await.unwrap();
            let language = response.headers()["content-language"].to_str().unwrap().to_owned();
            let problem: Value = response.json().await.unwrap();
            (language, problem)
        }
    };
    let (language, problem) = ask(server.beta_key.clone(), Some("de-CH, en;q=0.5")).await;
    assert_eq!(language, "de");
    assert_eq!(problem["title"], "Nicht gefunden");
    assert_eq!(problem["type"], "urn:orderguard:problem:not-found", "the type never changes");
    let (language, problem) = ask(server.beta_key.clone(), None).await;
    assert_eq!((language.as_str(), problem["title"].as_str()), ("en", Some("Not found")));
    let (language, problem) = ask(server.alpha_key.clone(), None).await;
    assert_eq!(
        (language.as_str(), problem["title"].as_str()),
        ("de", Some("Nicht gefunden")),
        "alpha speaks German first"
    );
    let (language, _) = ask(server.alpha_key.clone(), Some("en")).await;
    assert_eq!(language, "en");
    // Before any brand is known: the header, else English.
    let response = server
        .http
        .get(format!("{}/v1/verifications/nope", server.base))
        .header("accept-language", "de")
        .send()
        .await
        .unwrap();
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["title"], "Anmeldung erforderlich");
    assert!(problem["detail"].as_str().unwrap().contains("API-Schlüssel"));
    server.stop().await;
}

async fn raw(server: &TestServer, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, String, Value) {
    let response = server
        .http
        .post(format!("{}/v1/verifications", server.base))
        .bearer_auth(&server.alpha_key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, kind, response.json().await.unwrap_or(Value::Null))
}

async fn hostile_input_gets_clear_problems_and_changes_nothing(db: Db) {
    let server = TestServer::start(db).await;
    // The start recorded the brands' policies (policy.changed); nothing after it may add an event.
    let at_start = server.app().store.read(|conn| orderguard::store::events::count(conn)).await.unwrap();
    let cases: Vec<(Value, &str)> = vec![
        (
            {
                let mut o = order("V-1", "c-1");
                o["order"]["amount"] = json!("8.999");
                o
            },
            "order.amount",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o["order"]["amount"] = json!(8.99);
                o
            },
            "order.amount",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o["order"]["currency"] = json!("euro");
                o
            },
            "order.currency",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o["order"]["id"] = json!("");
                o
            },
            "order.id",
        ),
        (
            {
                // Three capitals are not yet a currency.
                let mut o = order("V-1", "c-1");
                o["order"]["currency"] = json!("ABC");
                o
            },
            "order.currency",
        ),
        (
            {
                // A right-to-left override makes the page read "Smartphone 00.948" backwards.
                let mut o = order("V-1", "c-1");
                o["order"]["items"][0]["name"] = json!("Smartphone \u{202E}00.948");
                o
            },
            "order.items[0].name",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o["order"]["id"] = json!("A-1\u{2066}7\u{2069}");
                o
            },
            "order.id",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o["order"]["items"][0]["quantity"] = json!(0);
                o
            },
            "order.items[0].quantity",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o["order"]["items"][0]["quantity"] = json!(-1);
                o
            },
            "order.items[0].quantity",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o["order"]["shipping_country"] = json!("Germany");
                o
            },
            "order.shipping_country",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o["order"]["surprise"] = json!(true);
                o
            },
            "order.surprise",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o["client"]["ip"] = json!("300.1.1.1");
                o
            },
            "client.ip",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o["return_url"] = json!("https://evil.example/steal");
                o
            },
            "return_url",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o["return_url"] = json!("javascript:alert(1)");
                o
            },
            "return_url",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o["locale"] = json!("<script>");
                o
            },
            "locale",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o.as_object_mut().unwrap().remove("customer");
                o
            },
            "customer",
        ),
        (
            {
                let mut o = order("V-1", "c-1");
                o["customer"]["id"] = json!("nobody");
                o
            },
            "customer.id",
        ),
    ];
    for (body, field) in cases {
        let (status, content_type, problem) = raw(&server, "application/json", body.to_string()).await;
        assert_eq!(status, 422, "{field}: {problem}");
        assert_eq!(content_type, "application/problem+json");
        assert!(
            problem["errors"].as_array().unwrap().iter().any(|e| e["field"].as_str().unwrap().starts_with(field)),
            "{field}: {problem}"
        );
        assert!(!problem["detail"].as_str().unwrap().is_empty());
    }
    let (status, _, problem) = raw(&server, "application/json", "{\"order\": ").await;
    assert_eq!((status, problem_type(&problem)), (400, "malformed-json"));
    // A key twice: the code must not go out for one amount while a proxy or a log saw another.
    let twice = order("V-1", "c-1").to_string().replacen(
        "\"amount\":\"849.00\"",
        "\"amount\":\"849.00\",\"amount\":\"0.01\"",
        1,
    );
    assert!(twice.contains("\"0.01\""), "{twice}");
    let (status, _, problem) = raw(&server, "application/json", twice).await;
    assert_eq!((status, problem_type(&problem)), (400, "duplicate-key"), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("`amount`"), "{problem}");
    let (status, _, problem) = raw(&server, "text/plain", order("V-1", "c-1").to_string()).await;
    assert_eq!((status, problem_type(&problem)), (415, "unsupported-media-type"));
    let huge = format!("{{\"order\": {{\"id\": \"{}\"}}}}", "x".repeat(200_000));
    let (status, _, problem) = raw(&server, "application/json", huge).await;
    assert_eq!((status, problem_type(&problem)), (413, "payload-too-large"));
    let (status, _, problem) = raw(&server, "application/json", vec![0xff, 0xfe, 0x00]).await;
    assert_eq!((status, problem_type(&problem)), (400, "malformed-json"));
    let too_many_items: Vec<Value> =
        (0..101).map(|i| json!({ "sku": format!("S{i}"), "name": "x", "quantity": 1, "unit_price": "1.00" })).collect();
    let mut o = order("V-2", "c-1");
    o["order"]["items"] = json!(too_many_items);
    let (status, _, problem) = raw(&server, "application/json", o.to_string()).await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("order.items")));

    // Nothing above was stored or sent.
    assert!(server.outbox(None).await.is_empty());
    let count = server.app().store.read(|conn| orderguard::store::events::count(conn)).await.unwrap();
    assert_eq!(count, at_start);

    // Unknown paths and ids.
    let (status, body) = server.get(&server.alpha_key, "/v1/verifications/does-not-exist").await;
    assert_eq!((status, problem_type(&body)), (404, "not-found"));
    let (status, body) = server.get(&server.alpha_key, "/v1/nothing-here").await;
    assert_eq!((status, problem_type(&body)), (404, "no-route"));
    // A wrong method: a problem too, with the methods the endpoint takes.
    let response = server
        .http
        .delete(format!("{}/v1/verifications", server.base))
        .bearer_auth(&server.alpha_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert!(response.headers()["allow"].to_str().unwrap().contains("POST"), "{:?}", response.headers());
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(problem_type(&body), "method-not-allowed", "{body}");
    // Served over plain http: no Strict-Transport-Security (see `https_addresses_get_hsts`).
    let response = server.http.get(format!("{}/healthz", server.base)).send().await.unwrap();
    assert!(response.headers().get("strict-transport-security").is_none());
    server.stop().await;
}

/// Behind an https address, every answer tells browsers to keep to https.
async fn https_addresses_get_hsts(db: Db) {
    let server = TestServer::start_with(db, |s| s.public_url = Some("https://verify.example".into())).await;
    for path in ["/healthz", "/admin", "/v1/nothing-here"] {
        let response = server.http.get(format!("{}{path}", server.base)).send().await.unwrap();
        assert_eq!(response.headers()["strict-transport-security"], "max-age=31536000", "{path}");
    }
    server.stop().await;
}
