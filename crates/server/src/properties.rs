//! Properties of what the server reads from outside besides the domain's parsers (those are in
//! `orderguard-domain`'s properties): the webhook signature scheme and the SMS providers' delivery
//! status callbacks. Over many generated inputs none panics, a signature made verifies and one
//! changed in any way does not, and a callback reads back what it said. 5,000 cases each;
//! `ORDERGUARD_PROPERTY_CASES` runs more.

use orderguard_domain::testing::{Gen, cases};
use serde_json::json;

use crate::config::StatusCallbackConfig;
use crate::sms::delivery::Delivery;
use crate::sms::status_callback::{CallbackReport, StatusCallback};
use crate::webhooks::signature::{WebhookSecret, sign, verify};

/// Text of any characters, some base64 and JSON of the kind the scheme carries.
fn any_text(generate: &mut Gen, max: u64) -> String {
    const PIECES: &[&str] = &["v1,", "v1a,", " ", "=", "+", "/", "{", "}", "\"", ".", "whsec_", "A", "z", "0"];
    let mut text = generate.text(max);
    for _ in 0..generate.below(6) {
        text.push_str(generate.pick(PIECES));
    }
    text
}

#[test]
fn webhook_signatures_verify_exactly_what_was_signed() {
    let mut generate = Gen::new(41);
    let secrets = [WebhookSecret::parse(&WebhookSecret::generate()).unwrap_or_else(|e| panic!("{e}"))];
    for _ in 0..cases() {
        let (id, body) = (any_text(&mut generate, 30), any_text(&mut generate, 200));
        let timestamp = i64::try_from(generate.below(4_000_000_000)).unwrap_or(0);
        let header = sign(&secrets, None, &id, timestamp, &body);
        assert!(verify(&secrets, &id, &timestamp.to_string(), &body, &header), "{id:?} {body:?}");
        let changed_body = format!("{body}{}", generate.pick(&[" ", "x", "\0", "é"]));
        assert!(!verify(&secrets, &id, &timestamp.to_string(), &changed_body, &header));
        assert!(!verify(&secrets, &id, &(timestamp + 1).to_string(), &body, &header));
        let mut forged = header.clone();
        let at = usize::try_from(generate.below(forged.len() as u64)).unwrap_or(0);
        if forged.is_char_boundary(at) && forged.is_char_boundary(at + 1) && at >= 3 {
            let flipped = if forged.as_bytes().get(at) == Some(&b'A') { "B" } else { "A" };
            forged.replace_range(at..=at, flipped);
            assert!(!verify(&secrets, &id, &timestamp.to_string(), &body, &forged), "{header} → {forged}");
        }
        // Whatever arrives as a header, timestamp or secret: an answer, never a panic.
        let _ = verify(&secrets, &id, &any_text(&mut generate, 12), &body, &any_text(&mut generate, 120));
        let _ = WebhookSecret::parse(&any_text(&mut generate, 80));
    }
}

#[test]
fn delivery_status_callbacks_read_back_what_they_say() {
    let config = StatusCallbackConfig {
        token: "a-callback-token-of-length".into(),
        message_id_field: "/data/id".into(),
        status_field: "status".into(),
        error_field: Some("error".into()),
        delivered: vec!["DELIVERED".into(), "delivrd".into()],
        failed: vec!["failed".into(), "UNDELIV".into()],
    };
    let callback = StatusCallback::new("aggregator", &config).unwrap_or_else(|e| panic!("{e}"));
    let mut generate = Gen::new(43);
    for _ in 0..cases() {
        let id = any_text(&mut generate, 40);
        let status = generate.pick(&["Delivered", "DELIVRD", "failed", "undeliv", "accepted", "", "😀"]).to_owned();
        let fields = json!({ "data": { "id": id }, "status": status, "error": any_text(&mut generate, 8) });
        match callback.read(&fields) {
            Ok(CallbackReport::Final { provider_message_id, delivery, .. }) => {
                assert_eq!(provider_message_id, id);
                let delivered = matches!(status.to_lowercase().as_str(), "delivered" | "delivrd");
                assert_eq!(delivery == Delivery::Delivered, delivered, "{status}");
            }
            Ok(CallbackReport::Interim { status: said }) => assert_eq!(said, status),
            Err(e) => assert!(id.is_empty() && e.contains("data/id"), "{e}: {fields}"),
        }
        // Shapes no provider documents: an answer, never a panic.
        let shapes = [json!(null), json!([]), json!({ "status": 5 }), json!({ "status": any_text(&mut generate, 20) })];
        for shape in shapes {
            let _ = callback.read(&shape);
        }
        let _ = callback.accepts_token(&any_text(&mut generate, 40));
    }
}
