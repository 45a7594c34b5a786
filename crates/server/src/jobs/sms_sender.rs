//! Hands queued SMS to the brand's providers, outside the request: a slow provider delays only its
//! own messages. A new message arrives on a channel, already claimed by the transaction that
//! queued it; a periodic scan claims what a crash (expired lease) or a retry left behind.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

use crate::app::App;
use crate::records::sms::QueuedSms;
use crate::service::sms as service;

const SCAN_INTERVAL: Duration = Duration::from_secs(2);

enum Work {
    Claimed(QueuedSms),
    Due(String),
}

pub async fn run(app: Arc<App>, mut announced: mpsc::UnboundedReceiver<QueuedSms>) {
    let permits = Arc::new(Semaphore::new(app.settings.limits.sms_concurrency.max(1)));
    let mut scan = tokio::time::interval(SCAN_INTERVAL);
    loop {
        let work = tokio::select! {
            claimed = announced.recv() => match claimed {
                Some(message) => vec![Work::Claimed(message)],
                None => return,
            },
            _ = scan.tick() => match service::due(&app, app.clock.now(), 200).await {
                Ok(ids) => ids.into_iter().map(Work::Due).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "scanning the SMS queue failed");
                    Vec::new()
                }
            },
        };
        for item in work {
            let Ok(permit) = permits.clone().acquire_owned().await else { return };
            let app = app.clone();
            tokio::spawn(async move {
                let now = app.clock.now();
                let sent = match item {
                    Work::Claimed(message) => service::send_claimed(&app, message, now).await,
                    Work::Due(id) => service::claim_and_send(&app, id, now).await,
                };
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "sending an SMS failed");
                }
                drop(permit);
            });
        }
    }
}
