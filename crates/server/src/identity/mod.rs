//! Where a customer's mobile number comes from: the telco's identity service, never the order form.

mod client;
pub mod jwt;
mod oidc;
mod rest;
mod static_directory;

use std::future::Future;

use orderguard_domain::clock::Timestamp;
use std::pin::Pin;

pub use oidc::OidcConnector;
pub use rest::RestDirectory;
pub use static_directory::StaticDirectory;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the shop tells about the customer: an id in the telco's customer directory, or the
/// customer's token from the telco's OpenID provider.
#[derive(Debug, Clone)]
pub enum CustomerRequest {
    Id(String),
    AccessToken(String),
    IdToken(String),
}

impl CustomerRequest {
    /// The API field it came in, for errors.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Id(_) => "customer.id",
            Self::AccessToken(_) => "customer.access_token",
            Self::IdToken(_) => "customer.id_token",
        }
    }
}

#[derive(Clone)]
pub struct CustomerIdentity {
    /// The directory's id, or the token's `sub`.
    pub customer_id: String,
    /// As the identity service has it; normalised to E.164 by the caller.
    pub phone: Option<String>,
    pub phone_verified: bool,
    /// When the number last changed, if the service says (milliseconds since the epoch).
    pub phone_changed_at: Option<i64>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum IdentityError {
    #[error("the identity service does not know this customer")]
    UnknownCustomer,
    #[error("the identity service is unavailable: {0}")]
    Unavailable(String),
    #[error("the customer's token was refused: {0}")]
    TokenRejected(#[from] jwt::TokenError),
    /// The shop sent a kind of customer reference this brand's connector does not take.
    #[error("{0}")]
    WrongReference(&'static str),
}

impl IdentityError {
    /// A word for events and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnknownCustomer => "unknown_customer",
            Self::Unavailable(_) => "unavailable",
            Self::TokenRejected(_) => "token_rejected",
            Self::WrongReference(_) => "wrong_reference",
        }
    }
}

pub trait IdentityConnector: Send + Sync {
    fn resolve<'a>(
        &'a self,
        customer: &'a CustomerRequest,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<CustomerIdentity, IdentityError>>;
}
