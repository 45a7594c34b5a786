//! Where a customer's mobile number comes from: the telco's identity service, never the order form.

mod static_directory;

use std::future::Future;
use std::pin::Pin;

pub use static_directory::StaticDirectory;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the shop tells about the customer.
#[derive(Debug, Clone)]
pub struct CustomerRequest {
    pub id: String,
}

#[derive(Clone)]
pub struct CustomerIdentity {
    pub customer_id: String,
    /// As the identity service has it; normalised to E.164 by the caller.
    pub phone: Option<String>,
    pub phone_verified: bool,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum IdentityError {
    #[error("the identity service does not know this customer")]
    UnknownCustomer,
    #[error("the identity service is unavailable: {0}")]
    Unavailable(String),
}

pub trait IdentityConnector: Send + Sync {
    fn resolve<'a>(&'a self, customer: &'a CustomerRequest) -> BoxFuture<'a, Result<CustomerIdentity, IdentityError>>;
}
