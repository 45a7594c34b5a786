//! The outcomes of one country, risk decision or risk reason. The events that start or end a
//! verification carry its `slice` (`EventKind::carries_slice`); each is counted once more per
//! slice it belongs to, as `value|event type` (`DE|verification.approved`), so that a page can
//! draw its series for one slice from the counters as it draws them for the whole brand.

use orderguard_domain::reason::RiskReason;
use orderguard_domain::risk::Decision;
use serde_json::Value;

/// One part of a brand's verifications the pages can be narrowed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slice {
    /// Numbers of this country (ISO 3166).
    Country(String),
    Decision(Decision),
    /// Verifications one of whose risk reasons is this.
    Reason(RiskReason),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SliceError {
    #[error("`slice` must be country:CODE, decision:DECISION or reason:CODE, e.g. country:DE")]
    Form,
    #[error("`{0}` is no two-letter ISO 3166 country code such as DE")]
    Country(String),
    #[error("`{0}` is none of the decisions allow, review, deny")]
    Decision(String),
    #[error("`{0}` is no risk reason code")]
    Reason(String),
}

impl Slice {
    /// A page's `slice` parameter: `country:DE`, `decision:deny`, `reason:velocity_number`.
    pub fn parse(text: &str) -> Result<Self, SliceError> {
        let (kind, value) = text.trim().split_once(':').ok_or(SliceError::Form)?;
        let value = value.trim();
        match kind.trim() {
            "country" => {
                let code = value.to_ascii_uppercase();
                let valid = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
                valid.then_some(Self::Country(code)).ok_or_else(|| SliceError::Country(value.to_owned()))
            }
            "decision" => {
                Decision::parse(value).map(Self::Decision).ok_or_else(|| SliceError::Decision(value.to_owned()))
            }
            "reason" => RiskReason::parse(value).map(Self::Reason).ok_or_else(|| SliceError::Reason(value.to_owned())),
            _ => Err(SliceError::Form),
        }
    }

    /// What `parse` reads back: `country:DE`.
    pub fn param(&self) -> String {
        format!("{}:{}", self.kind(), self.value())
    }

    /// In words, for a heading: "numbers of DE", "decision deny", "reason velocity number".
    pub fn label(&self) -> String {
        match self {
            Self::Country(code) => format!("numbers of {code}"),
            Self::Decision(decision) => format!("decision {}", decision.as_str()),
            Self::Reason(reason) => format!("reason {}", reason.as_str().replace('_', " ")),
        }
    }

    /// The orders list's filter for it: `country=DE`.
    pub fn orders_query(&self) -> String {
        format!("{}={}", self.kind(), self.value())
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Country(_) => "country",
            Self::Decision(_) => "decision",
            Self::Reason(_) => "reason",
        }
    }

    /// The counters to read for it (one dimension).
    pub fn dimensions(&self) -> &'static [&'static str] {
        match self {
            Self::Country(_) => &[COUNTRY],
            Self::Decision(_) => &[DECISION],
            Self::Reason(_) => &[REASON],
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Self::Country(code) => code,
            Self::Decision(decision) => decision.as_str(),
            Self::Reason(reason) => reason.as_str(),
        }
    }

    /// The event type a counter of the slice's dimension counts, if it is of this slice.
    pub fn event_of<'a>(&self, dimension: &str, value: &'a str) -> Option<&'a str> {
        let (of, event) = value.split_once('|')?;
        (self.dimensions().contains(&dimension) && of == self.value()).then_some(event)
    }
}

const COUNTRY: &str = "country_event";
const DECISION: &str = "decision_event";
const REASON: &str = "reason_event";

/// The counters of an event's `slice`: `value|type` per country, decision and reason.
pub fn dimensions(kind: &str, attrs: &Value) -> Vec<(&'static str, String)> {
    let Some(slice) = attrs.get("slice") else { return Vec::new() };
    let text = |key: &str| slice.get(key).and_then(Value::as_str);
    let mut counted = Vec::new();
    counted.extend(text("country").map(|c| (COUNTRY, format!("{c}|{kind}"))));
    counted.extend(text("decision").map(|d| (DECISION, format!("{d}|{kind}"))));
    let mut reasons: Vec<&str> =
        slice.get("reasons").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    // A reason listed twice is still one slice.
    reasons.sort_unstable();
    reasons.dedup();
    counted.extend(reasons.into_iter().map(|r| (REASON, format!("{r}|{kind}"))));
    counted
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_counts_once_per_slice_it_belongs_to() {
        let attrs = json!({ "slice": { "country": "DE", "decision": "review", "reasons": ["velocity_number", "new_device_high_value", "velocity_number"] } });
        assert_eq!(
            dimensions("verification.approved", &attrs),
            [
                (COUNTRY, "DE|verification.approved".to_owned()),
                (DECISION, "review|verification.approved".to_owned()),
                (REASON, "new_device_high_value|verification.approved".to_owned()),
                (REASON, "velocity_number|verification.approved".to_owned()),
            ]
        );
        let unknown_country = json!({ "slice": { "country": null, "decision": "allow", "reasons": [] } });
        assert_eq!(
            dimensions("verification.created", &unknown_country),
            [(DECISION, "allow|verification.created".to_owned())]
        );
        assert!(
            dimensions("verification.created", &json!({ "phone_region": "DE" })).is_empty(),
            "events before slices"
        );
    }

    #[test]
    fn a_slice_is_read_from_the_page_and_leads_to_the_orders() {
        assert_eq!(Slice::parse(" country: de"), Ok(Slice::Country("DE".into())));
        assert_eq!(Slice::parse("country:DEU"), Err(SliceError::Country("DEU".into())));
        assert_eq!(Slice::parse("decision:maybe"), Err(SliceError::Decision("maybe".into())));
        assert_eq!(Slice::parse("reason:nope"), Err(SliceError::Reason("nope".into())));
        assert_eq!(Slice::parse("DE"), Err(SliceError::Form));
        assert_eq!(Slice::parse("colour:red"), Err(SliceError::Form));
        let velocity = Slice::parse("reason:velocity_number").unwrap();
        assert_eq!(
            (velocity.param(), velocity.orders_query()),
            ("reason:velocity_number".into(), "reason=velocity_number".into())
        );
        assert_eq!(Slice::parse(&Slice::Decision(Decision::Deny).param()), Ok(Slice::Decision(Decision::Deny)));
        assert_eq!(velocity.label(), "reason velocity number");
        assert_eq!(velocity.event_of(REASON, "velocity_number|verification.blocked"), Some("verification.blocked"));
        assert_eq!(velocity.event_of(REASON, "new_device_high_value|verification.blocked"), None);
        assert_eq!(velocity.event_of(COUNTRY, "velocity_number|verification.blocked"), None);
    }
}
