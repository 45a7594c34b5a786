use std::collections::HashMap;

use orderguard_domain::clock::Timestamp;

use super::{BoxFuture, CustomerIdentity, CustomerRequest, IdentityConnector, IdentityError};
use crate::config::StaticCustomer;

/// Customers declared in the configuration.
pub struct StaticDirectory {
    customers: HashMap<String, StaticCustomer>,
}

impl StaticDirectory {
    pub fn new(customers: &[StaticCustomer]) -> Self {
        Self { customers: customers.iter().map(|c| (c.id.clone(), c.clone())).collect() }
    }
}

impl IdentityConnector for StaticDirectory {
    fn resolve<'a>(
        &'a self,
        customer: &'a CustomerRequest,
        _now: Timestamp,
    ) -> BoxFuture<'a, Result<CustomerIdentity, IdentityError>> {
        let CustomerRequest::Id(id) = customer else {
            return Box::pin(async {
                Err(IdentityError::WrongReference("this brand identifies customers by customer.id"))
            });
        };
        let found = self.customers.get(id).map(|c| CustomerIdentity {
            customer_id: c.id.clone(),
            phone: Some(c.phone.clone()),
            phone_verified: c.phone_verified,
            phone_changed_at: None,
        });
        Box::pin(async move { found.ok_or(IdentityError::UnknownCustomer) })
    }
}
