//! The `webhooks` section of the OpenAPI 3.1 document: one operation per event type, with the
//! Standard Webhooks headers and the schema of its body, built from the event catalogue
//! (`EventKind::attributes`) so that it cannot miss a type or an attribute. utoipa has no model
//! for the section, so it is added to the document's JSON.

use orderguard_domain::event::EventKind;
use orderguard_domain::event_attributes::Attribute;
use serde_json::{Map, Value, json};

fn attribute_schema(a: &Attribute) -> Value {
    let kind = a.kind.json_schema_type();
    let mut schema = Map::new();
    schema.insert("type".into(), if a.nullable { json!([kind, "null"]) } else { json!(kind) });
    if let Some(item) = a.kind.item_type() {
        schema.insert("items".into(), json!({ "type": item }));
    }
    schema.insert("description".into(), json!(a.about));
    Value::Object(schema)
}

/// The schema of one event type's body: `{type, timestamp, data}`.
fn body_schema(kind: EventKind) -> Value {
    let mut properties = Map::new();
    properties.insert("brand".into(), json!({ "type": "string", "description": "The brand's slug." }));
    properties.insert(
        "event_id".into(),
        json!({ "type": "integer", "description": "The event's number in the brand's log." }),
    );
    properties.insert(
        "verification_id".into(),
        json!({ "type": "string", "description": "The verification, when the event belongs to one." }),
    );
    properties.insert(
        "order_id".into(),
        json!({ "type": "string", "description": "The shop's order id, when the event belongs to an order." }),
    );
    let mut required = vec![json!("brand"), json!("event_id")];
    for a in kind.attributes() {
        properties.insert(a.name.into(), attribute_schema(a));
        if a.always {
            required.push(json!(a.name));
        }
    }
    json!({
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": { "const": kind.as_str() },
            "timestamp": { "type": "string", "format": "date-time", "description": "When the event happened." },
            "data": {
                "type": "object",
                "required": required,
                "properties": properties,
                "additionalProperties": true,
                "description": "The event's ids and attributes; never a phone number, code or IP address. \
                    Attributes may be added: ignore what you do not know."
            }
        }
    })
}

fn header(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "header", "required": true, "schema": { "type": "string" }, "description": description })
}

/// Adds `webhooks` to the document.
pub fn add_webhooks(document: &mut Value) {
    let headers = [
        header("webhook-id", "`msg_<brand>_<n>`: the same on every retry of one delivery; deduplicate by it."),
        header("webhook-timestamp", "The attempt's time, Unix seconds; refuse one more than five minutes away."),
        header(
            "webhook-signature",
            "`v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` with the secret's bytes, once \
             per secret during a rotation, and `v1a,` + base64 Ed25519 signature when the endpoint has a signing \
             key; separated by spaces (docs/webhooks.md).",
        ),
    ];
    let mut webhooks = Map::new();
    for kind in EventKind::ALL {
        let to = match kind {
            EventKind::WebhookTest => "Sent to the one endpoint a person asked it for".to_owned(),
            _ => format!("Sent to each of the brand's endpoints subscribed to `{}` (or to `*`)", kind.as_str()),
        };
        let operation = json!({
            "post": {
                "operationId": format!("webhook_{}", kind.as_str().replace('.', "_")),
                "tags": ["webhooks"],
                "summary": kind.summary(),
                "description": format!("{to}, signed per Standard Webhooks."),
                "parameters": headers,
                "requestBody": {
                    "required": true,
                    "content": { "application/json": { "schema": body_schema(kind) } }
                },
                "responses": {
                    "2XX": { "description": "Delivered." },
                    "410": { "description": "The receiver is gone for good: the endpoint is disabled." },
                    "default": { "description": "Tried again later under the same webhook-id (about three days)." }
                }
            }
        });
        webhooks.insert(kind.as_str().into(), operation);
    }
    if let Value::Object(document) = document {
        document.insert("webhooks".into(), Value::Object(webhooks));
    }
}
