//! Records delivery reports (SMPP receipts, HTTP status callbacks) as `sms.delivered` and
//! `sms.failed` events with the latency since the hand-off. Reports that arrive together are
//! stored in one transaction; a report for a message whose hand-off is still being committed is
//! tried again shortly.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use crate::App;
use crate::service::ServiceError;
use crate::sms::delivery::{Delivery, DeliveryReport};
use crate::store::events::{self, NewEvent};
use crate::store::sms::{self as sms_store, ReportMatch};

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
        let entries: Vec<(String, String, Delivery)> = batch
            .iter()
            .map(|p| (p.report.provider.clone(), p.report.provider_message_id.clone(), p.report.delivery))
            .collect();
        let attrs: Vec<serde_json::Value> =
            batch.iter().map(|p| json!({ "status": p.report.status, "error_code": p.report.error_code })).collect();
        let now = crate::clock::now().millis();
        let stored = app
            .store
            .write(move |conn| -> Result<Vec<ReportMatch>, ServiceError> {
                let mut matches = Vec::with_capacity(entries.len());
                for ((provider, provider_message_id, delivery), extra) in entries.iter().zip(attrs) {
                    let found =
                        sms_store::record_delivery(conn, provider, provider_message_id, delivery.as_str(), now)?;
                    if let ReportMatch::Recorded(sms) = &found {
                        let latency_ms = sms.submitted_at.map(|at| now - at);
                        let kind = match delivery {
                            Delivery::Delivered => "sms.delivered",
                            Delivery::Failed => "sms.failed",
                        };
                        let mut attrs = json!({
                            "message_id": sms.id, "provider": provider, "latency_ms": latency_ms, "stage": "delivery",
                            "country": sms.country,
                        });
                        if let (Some(map), serde_json::Value::Object(more)) = (attrs.as_object_mut(), extra) {
                            map.extend(more);
                        }
                        events::append(
                            conn,
                            &NewEvent {
                                brand: &sms.brand,
                                verification_id: Some(&sms.verification_id),
                                order_id: Some(&sms.order_id),
                                kind,
                                at: now,
                                attrs,
                            },
                        )?;
                    }
                    matches.push(found);
                }
                Ok(matches)
            })
            .await;
        let matches = match stored {
            Ok(matches) => matches,
            Err(e) => {
                // Unacknowledged SMPP receipts come again; HTTP callbacks get a 5xx and are retried.
                tracing::warn!(error = %e, reports = batch.len(), "storing delivery reports failed");
                continue;
            }
        };
        for (mut pending, found) in batch.into_iter().zip(matches) {
            match found {
                ReportMatch::Recorded(sms) => {
                    let (provider, country) = (pending.report.provider.as_str(), sms.country.as_str());
                    app.metrics.increment(
                        "orderguard_sms_delivery_total",
                        &[("provider", provider), ("country", country), ("result", pending.report.delivery.as_str())],
                    );
                    let labels = [("provider", provider), ("country", country)];
                    if let Some(at) = sms.submitted_at {
                        app.metrics.observe("orderguard_sms_delivery_seconds", &labels, (now - at) as f64 / 1000.0);
                    }
                    acknowledge(pending.report);
                }
                ReportMatch::AlreadyReported => acknowledge(pending.report),
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
                    acknowledge(pending.report);
                }
            }
        }
    }
}

fn acknowledge(report: DeliveryReport) {
    if let Some(stored) = report.stored {
        let _ = stored.send(());
    }
}
