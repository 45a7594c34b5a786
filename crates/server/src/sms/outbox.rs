use std::sync::Arc;

use super::outbox_signal::OutboxSignal;
use super::{OutgoingSms, SmsError, SmsGateway, Submitted};
use crate::identity::BoxFuture;
use crate::store::Store;
use crate::store::sms::OutboxMessage;

/// Keeps every message in the database so that `/dev/outbox` can show it: for development and
/// demos, where no real SMS should leave the machine.
pub struct OutboxProvider {
    store: Arc<Store>,
    kept: Arc<OutboxSignal>,
}

impl OutboxProvider {
    pub fn new(store: Arc<Store>, kept: Arc<OutboxSignal>) -> Self {
        Self { store, kept }
    }
}

impl SmsGateway for OutboxProvider {
    fn send<'a>(&'a self, sms: &'a OutgoingSms<'a>) -> BoxFuture<'a, Result<Submitted, SmsError>> {
        let id = sms.message_id.to_owned();
        let (brand, verification, to, text) =
            (sms.brand.to_owned(), sms.verification_id.to_owned(), sms.to.to_owned(), sms.text.to_owned());
        Box::pin(async move {
            let now = crate::clock::now().millis();
            let message = OutboxMessage {
                id: id.clone(),
                brand,
                verification_id: Some(verification),
                to,
                text,
                created_at: crate::clock::rfc3339(now),
                created_at_ms: now,
            };
            let stored = message.clone();
            self.store
                .write(move |conn| crate::store::sms::outbox_insert(conn, &stored))
                .await
                .map_err(|e| SmsError::Unavailable(e.to_string()))?;
            self.kept.kept(&message);
            Ok(Submitted { provider_message_id: Some(id) })
        })
    }
}
