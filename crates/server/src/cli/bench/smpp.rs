//! `orderguard bench-smpp`: SMS hand-off throughput of the SMPP client over one bind, at several
//! window sizes, against a running SMSC. Receipts are not asked for, so that only submit_sm and
//! its response are measured (as `scripts/bench-smpp-smpplib.py` measures the independent client).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::config::SmppProviderConfig;
use crate::sms::OutgoingSms;
use crate::sms::delivery::DeliveryReports;
use crate::sms::smpp::{ProviderContext, SmppProvider};

#[derive(Debug, Clone, clap::Args)]
pub struct SmppBenchArgs {
    /// `host:port` of the SMSC.
    #[arg(long)]
    pub address: String,
    #[arg(long)]
    pub system_id: String,
    /// Better from the environment than on the command line, where `ps` shows it.
    #[arg(long, env = "SMPP_PASSWORD")]
    pub password: String,
    /// Messages per window size.
    #[arg(long, default_value_t = 5000)]
    pub messages: usize,
    /// Window sizes (submit_sm outstanding at once) to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,10,50")]
    pub window: Vec<usize>,
}

pub async fn run(args: SmppBenchArgs) -> anyhow::Result<()> {
    if args.messages == 0 {
        bail!("--messages must be at least 1");
    }
    for &window in &args.window {
        let config = SmppProviderConfig {
            window,
            delivery_receipts: false,
            send_timeout_ms: 20_000,
            response_timeout_ms: 10_000,
            ..SmppProviderConfig::account(&args.address, &args.system_id, &args.password)
        };
        let provider = Arc::new(SmppProvider::new("bench", &config)?);
        let (reports, _unused) = DeliveryReports::new();
        provider.start(&ProviderContext { reports, metrics: Arc::default() });
        let bound = provider.wait_until_bound(Duration::from_secs(10)).await;
        if !bound {
            provider.stop();
            bail!("could not bind to {} within 10 s (is the SMSC up, are the credentials right?)", args.address);
        }
        let next = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        // The hand-off time matters only to the outbox provider, which this bench does not use.
        let at = crate::clock::Clock::default().now();
        let senders: Vec<_> = (0..window)
            .map(|_| {
                let (provider, next, failed, total) = (provider.clone(), next.clone(), failed.clone(), args.messages);
                tokio::spawn(async move {
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= total {
                            return;
                        }
                        let to = format!("+49151{:08}", n % 100_000_000);
                        let id = n.to_string();
                        let sms = OutgoingSms {
                            message_id: &id,
                            brand: "bench",
                            verification_id: &id,
                            sender_id: "Bench",
                            to: &to,
                            country: "DE",
                            text: "Your code is 123456",
                            at,
                        };
                        if provider.send_message(&sms).await.is_err() {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for sender in senders {
            sender.await.context("a sender task failed")?;
        }
        let seconds = started.elapsed().as_secs_f64();
        provider.stop();
        let failed = failed.load(Ordering::Relaxed);
        println!(
            "{}",
            serde_json::json!({
                "client": "orderguard", "window": window, "messages": args.messages, "failed": failed,
                "seconds": (seconds * 1000.0).round() / 1000.0,
                "per_second": (args.messages as f64 / seconds).round(),
            })
        );
        if failed > 0 {
            bail!("{failed} of {} submits failed at window {window}", args.messages);
        }
        // Let the unbind finish before the next bind.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
