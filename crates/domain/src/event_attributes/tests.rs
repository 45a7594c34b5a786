//! The registry's tests: every kind documented, the prose naming what it writes, known types.

use super::*;

#[test]
fn names_are_unique_within_a_kind() {
    for kind in EventKind::ALL {
        let mut names: Vec<&str> = kind.attributes().iter().map(|a| a.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), kind.attributes().len(), "{kind} names an attribute twice");
    }
}

#[test]
fn names_are_lowercase_snake_case() {
    let snake = |name: &str| {
        name.starts_with(|c: char| c.is_ascii_lowercase())
            && !name.ends_with('_')
            && !name.contains("__")
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    for kind in EventKind::ALL {
        for attribute in kind.attributes() {
            assert!(snake(attribute.name), "{kind}: `{}`", attribute.name);
        }
    }
}

#[test]
fn every_kind_has_attributes_described_in_one_sentence() {
    for kind in EventKind::ALL {
        assert!(!kind.attributes().is_empty(), "{kind} has no attributes");
        for attribute in kind.attributes() {
            let about = attribute.about;
            assert!(about.ends_with('.') && about.len() <= 120, "{kind}.{}: {about}", attribute.name);
        }
    }
}

#[test]
fn no_attribute_takes_a_name_of_the_payload() {
    for kind in EventKind::ALL {
        for name in ["brand", "event_id", "verification_id", "order_id", "type", "timestamp"] {
            assert!(kind.attribute(name).is_none(), "{kind} has `{name}`, which the payload sets");
        }
    }
}

#[test]
fn no_attribute_is_named_for_personal_data() {
    let personal = [
        "phone",
        "phone_number",
        "number",
        "e164",
        "msisdn",
        "to",
        "code",
        "otp",
        "ip",
        "client_ip",
        "ip_address",
        "name",
        "customer_name",
        "email",
        "customer_id",
        "device_id",
        "note",
        "cancel_reason",
    ];
    for kind in EventKind::ALL {
        for name in personal {
            assert!(kind.attribute(name).is_none(), "{kind} has `{name}`");
        }
    }
}

/// Each kind's doc comment in `event.rs`, by its name: the lines from the first `///` to the
/// `#[serde(rename = "…")]` that follows.
fn prose() -> Vec<(&'static str, std::string::String)> {
    let mut docs = Vec::new();
    let mut doc = std::string::String::new();
    for line in include_str!("../event.rs").lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("///") {
            doc.push_str(text);
            doc.push(' ');
        } else if let Some(name) = line.strip_prefix("#[serde(rename = \"").and_then(|r| r.strip_suffix("\")]")) {
            docs.push((name, std::mem::take(&mut doc)));
        } else {
            doc.clear();
        }
    }
    docs
}

/// Attributes the server writes that the prose of their kind does not name yet.
const UNNAMED_IN_PROSE: [(EventKind, &str); 3] = [
    (EventKind::RiskAssessed, "list"),
    (EventKind::VerificationApproved, "relay"),
    (EventKind::VerificationHeld, "relay"),
];

#[test]
fn the_prose_of_each_kind_names_its_attributes() {
    let docs = prose();
    for kind in EventKind::ALL {
        let (_, doc) = docs.iter().find(|(name, _)| *name == kind.as_str()).unwrap();
        for attribute in kind.attributes() {
            let named = doc.contains(&format!("`{}`", attribute.name));
            let known_gap = UNNAMED_IN_PROSE.contains(&(kind, attribute.name));
            assert!(
                named != known_gap,
                "{kind}.{}: named in prose {named}, listed as a gap {known_gap}",
                attribute.name
            );
        }
    }
}

#[test]
fn known_attributes_have_their_types() {
    let get = |kind: EventKind, name: &str| *kind.attribute(name).unwrap();
    let approved = get(EventKind::VerificationApproved, "attempts");
    assert_eq!((approved.kind, approved.nullable, approved.always), (Integer, false, true));
    assert_eq!(get(EventKind::RiskAssessed, "reasons").kind, StringList);
    assert_eq!(get(EventKind::RiskAssessed, "rules").kind, ObjectList);
    assert_eq!(get(EventKind::RangeBurst, "usual_rate").kind, Number);
    assert_eq!(get(EventKind::VerificationCanceled, "with_reason").kind, Boolean);
    let region = get(EventKind::VerificationCreated, "phone_region");
    assert!(region.always && region.nullable, "written as null when unknown");
    let skipped = get(EventKind::SmsAttemptFailed, "latency_ms");
    assert!(!skipped.always && !skipped.nullable, "left out when skipped");
    assert!(get(EventKind::NetworkChecked, "action").nullable);
    assert!(get(EventKind::PolicyChanged, "previous_version").nullable);
    assert!(!get(EventKind::VerificationBlocked, "retry_after_seconds").always, "absent when a resend blocks");
    assert!(!get(EventKind::SmsFailed, "stage").always, "absent when the last hand-off round failed");
    assert_eq!(get(EventKind::OrderOutcomeReported, "previous").kind, Object);
}

#[test]
fn schema_types_are_json_schema_names() {
    assert_eq!(StringList.json_schema_type(), "array");
    assert_eq!(StringList.item_type(), Some("string"));
    assert_eq!(ObjectList.item_type(), Some("object"));
    assert_eq!(Integer.json_schema_type(), "integer");
    assert_eq!(Object.item_type(), None);
}

#[test]
fn the_kinds_that_carry_a_slice_say_so() {
    for kind in EventKind::ALL {
        let has = kind.attributes().iter().any(|a| a.name == "slice");
        assert_eq!(has, kind.carries_slice(), "{kind}");
    }
}
