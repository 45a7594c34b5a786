use serde_json::Value;

use crate::on_both_databases;
use crate::support::{Db, TestServer};

on_both_databases!(every_documented_route_is_served, the_document_states_the_rules_the_api_checks);

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
    // Every event type is a webhook, with its payload's schema and the signature headers.
    let webhooks = doc["webhooks"].as_object().expect("a webhooks section");
    for kind in orderguard_domain::event::EventKind::ALL {
        let post = &webhooks[kind.as_str()]["post"];
        let schema = &post["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(schema["properties"]["type"]["const"], kind.as_str());
        let data = schema["properties"]["data"]["properties"].as_object().unwrap();
        for attribute in kind.attributes() {
            assert!(data.contains_key(attribute.name), "{kind}.{}", attribute.name);
        }
        let headers: Vec<&str> =
            post["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(headers, ["webhook-id", "webhook-timestamp", "webhook-signature"]);
    }
    assert_eq!(
        webhooks["verification.approved"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
            ["data"]["properties"]["attempts"]["type"],
        "integer"
    );
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
    shop_view_is_documented(&doc);
    server.stop().await;
}

/// What a shop needs to handle the defences: the new status, `retry_after`, every reason code
/// and the `429 limit-reached` problem of check and resend.
fn shop_view_is_documented(doc: &Value) {
    // A document utoipa itself reads back: every part has the shape OpenAPI 3.1 gives it.
    serde_json::from_value::<utoipa::openapi::OpenApi>(doc.clone()).expect("the document reads as OpenAPI");
    // What validators refuse beyond the shape: a path parameter missing from its path (a query
    // parameter declared in the wrong place), an operation id used twice.
    let mut operation_ids = std::collections::BTreeSet::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap().to_owned();
            assert!(operation_ids.insert(id.clone()), "operation id {id} twice ({method} {path})");
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                if parameter["in"] == "path" {
                    assert!(path.contains(&format!("{{{name}}}")), "{method} {path}: `{name}` is no path parameter");
                }
            }
        }
    }
    let schemas = &doc["components"]["schemas"];
    let verification = &schemas["VerificationResponse"]["properties"];
    assert!(verification["status"]["description"].as_str().unwrap().contains("`in_review`"));
    assert!(verification["retry_after"]["description"].as_str().unwrap().contains("hard limit"));
    let reasons = schemas["Risk"]["properties"]["reasons"]["description"].as_str().unwrap();
    for reason in orderguard_domain::risk::RiskReason::ALL {
        assert!(reasons.contains(&format!("`{}`", reason.as_str())), "{reason:?} is not documented: {reasons}");
    }
    for action in ["check", "resend"] {
        let refused = &doc["paths"][format!("/v1/verifications/{{id}}/{action}")]["post"]["responses"]["429"];
        let description = refused["description"].as_str().unwrap_or_else(|| panic!("{action} documents no 429"));
        assert!(description.contains("urn:orderguard:problem:limit-reached"), "{action}: {description}");
        assert!(description.contains("Retry-After"), "{action}: {description}");
        let problem = &refused["content"]["application/problem+json"]["schema"]["$ref"];
        assert_eq!(problem, "#/components/schemas/Problem", "{action}");
    }
    assert!(schemas["Problem"]["properties"]["retry_after_seconds"]["description"].is_string());
}

/// What a fuzzer found missing: the answers to a missing key and to a body the API cannot take,
/// the hosted page's 404, and the field rules the server checks (tests/schemathesis runs every
/// check against the demo; this keeps the document from losing them between its runs).
async fn the_document_states_the_rules_the_api_checks(db: Db) {
    let server = TestServer::start(db).await;
    let doc: Value =
        server.http.get(format!("{}/openapi.json", server.base)).send().await.unwrap().json().await.unwrap();
    for (path, method) in [
        ("/v1/verifications", "post"),
        ("/v1/verifications/{id}/check", "post"),
        ("/v1/verifications/{id}/cancel", "post"),
        ("/v1/orders/{order_id}/outcome", "post"),
    ] {
        let responses = &doc["paths"][path][method]["responses"];
        for status in ["400", "401", "413", "415", "422"] {
            assert!(responses.get(status).is_some(), "{method} {path} documents {status}: {responses}");
        }
    }
    assert!(doc["paths"]["/v1/verifications/{id}/resend"]["post"]["responses"].get("401").is_some());
    assert!(doc["paths"]["/v/{token}/check"]["post"]["responses"].get("404").is_some());
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["OrderBody"]["properties"]["id"]["minLength"], 1);
    assert_eq!(schemas["OrderBody"]["properties"]["id"]["maxLength"], 128);
    assert!(schemas["OrderBody"]["properties"]["currency"]["enum"].as_array().unwrap().iter().any(|c| c == "EUR"));
    assert_eq!(schemas["OutcomeRequest"]["properties"]["outcome"]["enum"].as_array().unwrap().len(), 5);
    assert!(schemas["CheckRequest"]["properties"]["code"]["pattern"].as_str().unwrap().contains("[0-9]{6,8}"));
    assert_eq!(schemas["CustomerBody"]["oneOf"].as_array().unwrap().len(), 3, "exactly one way to name the customer");
    assert_eq!(schemas["CreateVerificationRequest"]["additionalProperties"], false);
    // And the server holds to them: a code with a space the document allows, a JSON null body.
    let id = server.create(&server.alpha_key, "DOC-1", "c-1").await["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    let (status, body) = server
        .post(
            &server.alpha_key,
            &format!("/v1/verifications/{id}/check"),
            serde_json::json!({ "code": format!(" {code}\t") }),
        )
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    let other = server.create(&server.alpha_key, "DOC-2", "c-2").await["id"].as_str().unwrap().to_owned();
    let (status, body) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{other}/cancel"), Value::Null).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("canceled")), "{body}");
    server.stop().await;
}
