use super::{OutgoingSms, SmsError, SmsGateway, Submitted};
use crate::identity::BoxFuture;
use crate::records::sms::OutboxMessage;

/// Keeps every message in the database so that `/dev/outbox` can show it: for development and
/// demos, where no real SMS should leave the machine. The SMS sender stores the message in the
/// transaction that records the hand-off.
pub struct OutboxProvider;

impl SmsGateway for OutboxProvider {
    fn send<'a>(&'a self, sms: &'a OutgoingSms<'a>) -> BoxFuture<'a, Result<Submitted, SmsError>> {
        let now = sms.at.millis();
        let message = OutboxMessage {
            id: sms.message_id.to_owned(),
            brand: sms.brand.to_owned(),
            verification_id: Some(sms.verification_id.to_owned()),
            to: sms.to.to_owned(),
            text: sms.text.to_owned(),
            created_at: crate::clock::rfc3339(now),
            created_at_ms: now,
        };
        Box::pin(async move { Ok(Submitted { provider_message_id: Some(message.id.clone()), kept: Some(message) }) })
    }
}
