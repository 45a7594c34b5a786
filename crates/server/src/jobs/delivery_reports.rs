//! Records delivery reports (SMPP receipts, HTTP status callbacks) as they arrive: reports that
//! arrive together are stored in one transaction; a report for a message whose hand-off is still
//! being committed is tried again shortly.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::app::App;
use crate::records::sms::ReportMatch;
use crate::service::sms::record_delivery_reports;
use crate::sms::delivery::DeliveryReport;

const BATCH: usize = 256;
/// A receipt can overtake the commit of its hand-off; after this many tries it names no message of ours.
const UNKNOWN_RETRIES: u32 = 20;
const UNKNOWN_RETRY_DELAY: Duration = Duration::from_millis(250);

struct Pending {
    report: DeliveryReport,
    tries: u32,
}

pub async fn run(app: Arc<App>, mut rx: mpsc::UnboundedReceiver<DeliveryReport>) {
    let (retry_tx, mut retry_rx) = mpsc::unbounded_channel::<Pending>();
    loop {
        let first = tokio::select! {
            report = rx.recv() => match report {
                Some(report) => Pending { report, tries: 0 },
                None => return,
            },
            Some(again) = retry_rx.recv() => again,
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(report) => batch.push(Pending { report, tries: 0 }),
                Err(_) => break,
            }
        }
        let reports: Vec<&DeliveryReport> = batch.iter().map(|p| &p.report).collect();
        let matches = match record_delivery_reports(&app, &reports, app.clock.now()).await {
            Ok(matches) => matches,
            Err(e) => {
                // Unacknowledged SMPP receipts come again; HTTP callbacks get a 5xx and are retried.
                tracing::warn!(error = %e, reports = batch.len(), "storing delivery reports failed");
                continue;
            }
        };
        for (mut pending, found) in batch.into_iter().zip(matches) {
            match found {
                ReportMatch::Recorded(_) | ReportMatch::AlreadyReported => pending.report.acknowledge(),
                ReportMatch::Unknown if pending.tries < UNKNOWN_RETRIES => {
                    pending.tries += 1;
                    let retry_tx = retry_tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(UNKNOWN_RETRY_DELAY).await;
                        let _ = retry_tx.send(pending);
                    });
                }
                ReportMatch::Unknown => {
                    tracing::warn!(
                        provider = %pending.report.provider,
                        provider_message_id = %pending.report.provider_message_id,
                        "delivery report for a message orderguard did not hand to this provider: ignored"
                    );
                    pending.report.acknowledge();
                }
            }
        }
    }
}
