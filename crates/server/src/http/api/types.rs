//! The JSON shapes of the API. Requests reject unknown fields (a misspelt field is an error, not
//! silently ignored); responses may gain fields over time.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVerificationRequest {
    pub order: OrderBody,
    pub customer: CustomerBody,
    /// BCP 47 language such as `de` or `en-GB`; falls back to the brand's first locale.
    pub locale: Option<String>,
    pub client: Option<ClientBody>,
    /// Where the hosted page sends the customer afterwards; must be on one of the brand's shop domains.
    pub return_url: Option<String>,
    /// Where the customer types the code: `shop` (the shop's own page, the default), `hosted`
    /// (`hosted_url`, full page) or `embedded` (`hosted_url` in an iframe on the shop). The SMS's
    /// last line binds the code to that page's origin, so browsers offer it there (WebOTP).
    pub code_entry: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// The shop's order id (1–128 characters).
    pub id: String,
    /// Decimal string in the currency's minor digits, e.g. `"849.00"`.
    pub amount: String,
    /// ISO 4217, e.g. `EUR`.
    pub currency: String,
    #[serde(default)]
    pub items: Vec<ItemBody>,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    pub shipping_country: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemBody {
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price: String,
    /// Physical hardware (phone, router, SIM): a risk signal for high values.
    #[serde(default)]
    pub hardware: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    /// The customer's id in the brand's customer directory (`static` and `rest` connectors).
    pub id: Option<String>,
    /// The customer's access token from the telco's OpenID provider (`oidc` connector): a JWT or an
    /// opaque token. Used for this request only, never stored.
    pub access_token: Option<String>,
    /// The customer's ID token from the telco's OpenID provider (`oidc` connector).
    pub id_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientBody {
    /// The customer's IP address; stored truncated (/24, /48).
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub device_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Risk {
    /// `allow`, `review` (held: status `in_review`, no code sent; or, where the brand sends the
    /// code anyway, the receipt carries `review: true`) or `deny` (nothing sent, status
    /// `blocked`). A hard limit blocks whatever the score.
    pub decision: String,
    /// The points of the live rules that fired.
    pub score: i64,
    // Described in the document by `http::describe_reason_codes`, from the reason codes themselves.
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationResponse {
    pub id: String,
    pub brand: String,
    pub order_id: String,
    /// `pending` (the code was sent), `in_review` (held for the brand's fraud team: no code was
    /// sent; tell the customer the order is being checked and read the verification again later),
    /// `approved`, `failed`, `expired`, `canceled`, `blocked` or `undeliverable`.
    pub status: String,
    /// Seconds after which a new verification can succeed, when a hard limit blocked this one
    /// (only in the answer to its creation; the reason is in `risk.reasons`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<i64>,
    pub amount: String,
    pub currency: String,
    pub locale: String,
    /// RFC 3339.
    pub expires_at: String,
    pub attempts_remaining: u32,
    pub resends_remaining: u32,
    /// RFC 3339: when `resend` is allowed again.
    pub resend_available_at: String,
    /// The masked number the code goes to, e.g. `+49 *** ****89`.
    pub phone_hint: String,
    /// The hosted verification page for this verification.
    pub hosted_url: String,
    /// `shop`, `hosted` or `embedded`: where the SMS's code is bound to (WebOTP).
    pub code_entry: String,
    pub risk: Risk,
    /// Signed receipt (compact JWS, EdDSA); present once approved, issued once at approval and
    /// unchanged on every later read. Its `method` is `sms` or `manual_review`; `review: true`
    /// marks an order the brand wants checked before it ships.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// For `blocked`: the text to show the customer, in the verification's locale, that the
    /// decision was made automatically and where to ask for a person to review it (GDPR
    /// Art. 22; the brand's `review_contact`). The hosted page shows it too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_notice: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The digits from the SMS.
    pub code: String,
    /// The customer's client where the code was typed: compared with the order's (`client` of
    /// the create) to tell a code relayed by a phisher (docs/risk.md, `relay_action`).
    pub client: Option<ClientBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    pub id: String,
    /// `approved`, `pending` (wrong code, attempts left), `failed` (attempts used up) or
    /// `in_review` (the right code, typed from another device or network than the order's, and
    /// the brand reviews such approvals).
    pub status: String,
    /// Whether this code was right.
    pub valid: bool,
    pub attempts_remaining: u32,
    /// Signed receipt (compact JWS); present when approved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why the customer or shop aborted (up to 500 characters).
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRequest {
    /// `completed`, `canceled`, `fraud_confirmed`, `chargeback` or `hardware_damaged`.
    pub outcome: String,
    /// Decimal string: what the brand lost on this order.
    pub amount_lost: Option<String>,
    /// ISO 4217; defaults to the currency of the order's verification.
    pub currency: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomeResponse {
    pub order_id: String,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_lost: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Verifications recorded for this order.
    pub verifications: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}
