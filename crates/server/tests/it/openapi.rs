use serde_json::Value;

use crate::on_both_databases;
use crate::support::{Db, TestServer};

on_both_databases!(every_documented_route_is_served);

/// Every route goes through `OpenApiRouter::routes`, which documents it; raw axum routing would not.
#[test]
fn no_route_is_added_without_documentation() {
    fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                visit(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    if line.contains(".route(") || line.contains(".nest(") || line.contains(".route_service(") {
                        found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    visit(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
    assert!(found.is_empty(), "routes added outside OpenApiRouter::routes (undocumented):\n{}", found.join("\n"));
}

async fn every_documented_route_is_served(db: Db) {
    let server = TestServer::start_with(db, |s| s.dev.demo_shop = true).await;
    let doc: Value =
        server.http.get(format!("{}/openapi.json", server.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for expected in [
        "/v1/verifications",
        "/v1/verifications/{id}",
        "/v1/verifications/{id}/check",
        "/v1/verifications/{id}/resend",
        "/v1/verifications/{id}/cancel",
        "/v1/orders/{order_id}/outcome",
        "/.well-known/jwks.json",
        "/openapi.json",
        "/healthz",
        "/readyz",
        "/metrics",
        "/dev/outbox",
        "/dev/outbox.json",
        "/demo",
        "/v/{token}",
        "/v/{token}/check",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }
    let mut probed = 0;
    for (path, operations) in paths {
        let concrete: String =
            path.split('/').map(|s| if s.starts_with('{') { "x" } else { s }).collect::<Vec<_>>().join("/");
        for method in operations.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = server
                .http
                .request(method.clone(), format!("{}{concrete}", server.base))
                .bearer_auth(&server.alpha_key)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert_ne!(body["type"], "urn:orderguard:problem:no-route", "{method} {path} is documented but not routed");
            probed += 1;
        }
    }
    assert!(probed >= 20, "{probed}");
    server.stop().await;
}
