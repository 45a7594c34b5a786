//! The wire format of CAMARA SIM Swap v2 and Device Swap v1: `POST {base}/retrieve-date` and
//! `POST {base}/check` with `phoneNumber` (two-legged tokens only) and `maxAge`; answers
//! `latestSimChange` / `latestDeviceChange` (RFC 3339 or null) with `monitoredPeriod`, or
//! `swapped`; errors as `{status, code, message}`.

use orderguard_domain::clock::Timestamp;
use orderguard_domain::swap::SwapKind;
use serde::Deserialize;
use serde_json::{Value, json};

use super::CallError;
use super::answer::{read_limited, scrub};
use super::oauth::Token;

#[derive(Deserialize)]
struct ErrorInfo {
    code: Option<String>,
    message: Option<String>,
}

/// The body of a call: the number only where the token does not already name it.
fn body(token: &Token, phone: &str, max_age_hours: Option<u32>) -> Value {
    let mut body = serde_json::Map::new();
    if !token.names_the_number {
        body.insert("phoneNumber".into(), json!(phone));
    }
    if let Some(hours) = max_age_hours {
        body.insert("maxAge".into(), json!(hours));
    }
    Value::Object(body)
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &Token,
    correlator: &str,
    body: &Value,
) -> Result<Value, CallError> {
    let response = http
        .post(url)
        .bearer_auth(&token.value)
        .header("x-correlator", correlator)
        .json(body)
        .send()
        .await
        .map_err(CallError::from_reqwest)?;
    let status = response.status();
    let body = read_limited(response).await?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|_| CallError::Unreadable("the answer is not JSON"));
    }
    let info: Option<ErrorInfo> = serde_json::from_slice(&body).ok();
    let (code, message) = match info {
        Some(info) => (scrub(&info.code.unwrap_or_default()), scrub(&info.message.unwrap_or_default())),
        None => (String::new(), String::new()),
    };
    Err(CallError::Refused { status: status.as_u16(), code, message })
}

/// `retrieve-date`: the latest change and how far back the operator looks.
pub async fn retrieve_date(
    http: &reqwest::Client,
    base: &str,
    kind: SwapKind,
    token: Token,
    phone: &str,
    correlator: &str,
) -> Result<(Option<Timestamp>, Option<u32>), CallError> {
    let answer = post(http, &format!("{base}/retrieve-date"), &token, correlator, &body(&token, phone, None)).await?;
    let field = match kind {
        SwapKind::SimSwap => "latestSimChange",
        SwapKind::DeviceSwap => "latestDeviceChange",
    };
    let latest = match answer.get(field) {
        Some(Value::Null) => None,
        Some(Value::String(at)) => Some(Timestamp(
            crate::clock::parse_rfc3339(at).ok_or(CallError::Unreadable("the date of the change is not RFC 3339"))?,
        )),
        _ => return Err(CallError::Unreadable("the answer has no date of the latest change")),
    };
    let monitored_days = answer.get("monitoredPeriod").and_then(Value::as_u64).and_then(|d| u32::try_from(d).ok());
    Ok((latest, monitored_days))
}

/// `check`: whether a change happened within `max_age_hours`.
pub async fn check(
    http: &reqwest::Client,
    base: &str,
    token: Token,
    phone: &str,
    max_age_hours: u32,
    correlator: &str,
) -> Result<bool, CallError> {
    let body = body(&token, phone, Some(max_age_hours));
    let answer = post(http, &format!("{base}/check"), &token, correlator, &body).await?;
    answer.get("swapped").and_then(Value::as_bool).ok_or(CallError::Unreadable("the answer has no `swapped`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_legged_calls_leave_the_number_to_the_token() {
        let two = Token { value: "t".into(), names_the_number: false };
        assert_eq!(body(&two, "+4915123456789", Some(24)), json!({ "phoneNumber": "+4915123456789", "maxAge": 24 }));
        let three = Token { value: "t".into(), names_the_number: true };
        assert_eq!(body(&three, "+4915123456789", None), json!({}));
        assert_eq!(scrub("a\nb"), "ab");
        assert_eq!(scrub("unknown subscriber tel:+49 151 2345-6789."), "unknown subscriber tel:….");
        assert_eq!(
            scrub("Check monitor period could not exceed local regulations (30 days)"),
            "Check monitor period could not exceed local regulations (30 days)"
        );
        assert_eq!(scrub(&"x".repeat(500)).len(), 200);
    }
}
