//! What the generated OpenAPI document cannot say by itself: the rules the API checks on each
//! request field (patterns, lengths, enumerations, exactly one way to name the customer), and the
//! answers every API operation may give besides its own (401, 400, 413, 415, 422; the hosted
//! page's 404). A client generated from the document, or a fuzzer such as schemathesis, then
//! sends what the server takes, and knows what it may answer.

use serde_json::{Value, json};

/// Characters a text shown to people may not hold: control characters and the Unicode
/// bidirectional formatting characters (`order::is_bidi_control`).
const NOT_SHOWN: &str = r"\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069";

/// A text of 1 to `max` characters, at least one not a space, none of `NOT_SHOWN`.
fn shown_text(max: u32, description: Option<&Value>) -> Value {
    let mut text = json!({
        "type": "string",
        "minLength": 1,
        "maxLength": max,
        "pattern": format!("^[^{NOT_SHOWN}]*[^{NOT_SHOWN}\\s][^{NOT_SHOWN}]*$"),
    });
    if let (Some(description), Some(object)) = (description, text.as_object_mut()) {
        object.insert("description".into(), description.clone());
    }
    text
}

fn currencies() -> Value {
    json!({ "type": "string", "enum": orderguard_domain::money::ISO_4217, "description": "ISO 4217, in circulation" })
}

/// A non-negative decimal string; how many decimals the currency allows is checked with it.
fn decimal() -> Value {
    json!({ "type": "string", "pattern": r"^[0-9]{1,15}(\.[0-9]{1,3})?$" })
}

fn token() -> Value {
    json!({ "type": "string", "pattern": r"^[A-Za-z0-9._~+/=-]{1,16384}$" })
}

/// One way to name the customer: `field` set, the others absent or null.
fn customer_by(field: &str, schema: Value) -> Value {
    let mut properties = serde_json::Map::new();
    for other in ["id", "access_token", "id_token"] {
        properties.insert(other.into(), if other == field { schema.clone() } else { json!({ "type": "null" }) });
    }
    json!({ "type": "object", "required": [field], "properties": properties, "additionalProperties": false })
}

fn set(schemas: &mut Value, schema: &str, property: &str, rule: Value) {
    let Some(slot) = schemas.get_mut(schema).and_then(|s| s.get_mut("properties")).and_then(|p| p.get_mut(property))
    else {
        return;
    };
    let description = slot.get("description").cloned();
    let nullable = slot.get("type").and_then(Value::as_array).is_some_and(|t| t.iter().any(|t| t == "null"));
    let mut rule = rule;
    if let (Some(description), Some(object)) = (description, rule.as_object_mut()) {
        object.entry("description").or_insert(description);
    }
    *slot = if nullable { json!({ "oneOf": [{ "type": "null" }, rule] }) } else { rule };
}

/// The request bodies' field rules.
fn field_rules(schemas: &mut Value) {
    for name in [
        "CreateVerificationRequest",
        "OrderBody",
        "ItemBody",
        "ClientBody",
        "CheckRequest",
        "ResendRequest",
        "CancelRequest",
        "OutcomeRequest",
    ] {
        if let Some(object) = schemas.get_mut(name).and_then(Value::as_object_mut) {
            object.insert("additionalProperties".into(), Value::Bool(false));
        }
    }
    set(schemas, "OrderBody", "id", shown_text(128, None));
    set(schemas, "OrderBody", "amount", decimal());
    set(schemas, "OrderBody", "currency", currencies());
    set(schemas, "OrderBody", "shipping_country", json!({ "type": "string", "pattern": "^[A-Z]{2}$" }));
    if let Some(items) = schemas.pointer_mut("/OrderBody/properties/items").and_then(Value::as_object_mut) {
        items.insert("maxItems".into(), json!(orderguard_domain::order::MAX_ITEMS));
    }
    set(schemas, "ItemBody", "sku", shown_text(64, None));
    set(schemas, "ItemBody", "name", shown_text(200, None));
    set(schemas, "ItemBody", "unit_price", decimal());
    set(schemas, "ItemBody", "quantity", json!({ "type": "integer", "minimum": 1, "maximum": 10_000 }));
    set(
        schemas,
        "CreateVerificationRequest",
        "locale",
        json!({ "type": "string", "pattern": "^[A-Za-z0-9_-]{1,35}$" }),
    );
    set(
        schemas,
        "CreateVerificationRequest",
        "code_entry",
        json!({ "type": "string", "enum": ["shop", "hosted", "embedded"] }),
    );
    set(schemas, "CreateVerificationRequest", "return_url", json!({ "type": "string", "maxLength": 2048 }));
    set(
        schemas,
        "ClientBody",
        "ip",
        json!({ "type": "string", "anyOf": [{ "format": "ipv4" }, { "format": "ipv6" }] }),
    );
    set(
        schemas,
        "CheckRequest",
        "code",
        json!({ "type": "string", "pattern": r"^[ \t\n\f\r]*[0-9]{6,8}[ \t\n\f\r]*$" }),
    );
    set(schemas, "CancelRequest", "reason", json!({ "type": "string", "maxLength": 500 }));
    let outcomes: Vec<&str> = orderguard_domain::order::OrderOutcome::ALL.iter().map(|o| o.as_str()).collect();
    set(schemas, "OutcomeRequest", "outcome", json!({ "type": "string", "enum": outcomes }));
    set(schemas, "OutcomeRequest", "amount_lost", decimal());
    set(schemas, "OutcomeRequest", "currency", currencies());
    if let Some(customer) = schemas.get_mut("CustomerBody") {
        let id = json!({ "type": "string", "minLength": 1, "maxLength": 256, "pattern": r"\S" });
        *customer = json!({
            "description": "Exactly one of `id`, `access_token` and `id_token`.",
            "oneOf": [customer_by("id", id), customer_by("access_token", token()), customer_by("id_token", token())],
        });
    }
}

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } },
    })
}

/// The answers an operation may give besides its own: the API's to a missing key and to a body
/// it cannot take, the hosted page's to an unknown link.
fn common_answers(paths: &mut Value) {
    let Some(paths) = paths.as_object_mut() else { return };
    for (path, item) in paths.iter_mut() {
        let Some(operations) = item.as_object_mut() else { continue };
        for operation in operations.values_mut() {
            let has_body = operation.get("requestBody").is_some();
            let secured = operation.get("security").is_some();
            let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { continue };
            let mut add = |status: &str, answer: Value| {
                responses.entry(status).or_insert(answer);
            };
            if path.starts_with("/v1/") {
                if secured {
                    add("401", problem("Missing or unknown API key"));
                }
                if has_body {
                    add("400", problem("Malformed JSON, or a key given twice"));
                    add("413", problem("Body too large"));
                    add("415", problem("Not JSON"));
                    add("422", problem("A field breaks its rule: `errors` names each"));
                }
            } else if path.starts_with("/v/") {
                add("404", json!({ "description": "Unknown or expired link", "content": { "text/html": {} } }));
            }
        }
    }
}

/// Where a created verification's id goes next: so that a client (or schemathesis' stateful
/// phase) can follow a verification through its life.
fn verification_links(paths: &mut Value) {
    let Some(created) = paths.pointer_mut("/~1v1~1verifications/post/responses/201").and_then(Value::as_object_mut)
    else {
        return;
    };
    let by_id = |operation: &str| json!({ "operationId": operation, "parameters": { "id": "$response.body#/id" } });
    created.insert(
        "links".into(),
        json!({
            "GetVerification": by_id("get_verification"),
            "CheckVerification": by_id("check_verification"),
            "ResendVerification": by_id("resend_verification"),
            "CancelVerification": by_id("cancel_verification"),
        }),
    );
}

pub fn add_rules(document: &mut Value) {
    if let Some(schemas) = document.pointer_mut("/components/schemas") {
        field_rules(schemas);
    }
    if let Some(paths) = document.get_mut("paths") {
        common_answers(paths);
        verification_links(paths);
    }
}
