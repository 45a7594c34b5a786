//! SMS over SMPP against a real SMSC (node-smpp, started by the test): submit and receipt, text
//! encodings and concatenation, an SMSC killed mid-traffic, throttling, a refused destination,
//! and failover to an HTTP provider with the circuit breaker's recovery.

use std::time::Duration;

use orderguard::config::SmppBindMode;
use orderguard::config::{SmppProviderConfig, SmsProviderConfig};
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::sms_http::{http_provider, start_fake};
use crate::smsc::Smsc;
use crate::support::{Db, TestServer};

on_both_databases!(
    submit_and_delivery_receipt,
    receipts_over_a_separate_receiver,
    encodings_and_long_texts_arrive_intact,
    smsc_killed_mid_traffic_loses_and_repeats_nothing_acknowledged,
    throttling_is_answered_by_slowing_down,
    refused_destination_makes_undeliverable,
    dead_smsc_fails_over_to_http_and_comes_back,
    two_instances_send_each_queued_message_once,
    doctor_binds_to_each_smpp_provider,
    keep_alive_and_a_garbled_smsc,
    smpp_over_tls_with_a_private_ca,
);

/// The SMS events of a verification with their attributes, in order.
async fn sms_events(server: &TestServer, id: &str) -> Vec<(String, Value)> {
    let id = id.to_owned();
    server
        .app()
        .store
        .read(move |conn| orderguard::store::events::for_verification(conn, "alpha", &id))
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.as_str().starts_with("sms."))
        .map(|e| (e.kind.as_str().to_owned(), e.attrs))
        .collect()
}

async fn wait_for_event(server: &TestServer, id: &str, kind: &str) -> Value {
    for _ in 0..400 {
        if let Some((_, attrs)) = sms_events(server, id).await.into_iter().find(|(k, _)| k == kind) {
            return attrs;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no {kind} for {id}: {:?}", sms_events(server, id).await);
}

async fn status_of(server: &TestServer, id: &str) -> Value {
    server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await.1["status"].clone()
}

async fn wait_for_status(server: &TestServer, id: &str, wanted: &str) {
    for _ in 0..400 {
        if status_of(server, id).await == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{id} did not become {wanted}: {}", status_of(server, id).await);
}

/// The code from the SMS's origin-bound last line, `@shop.alpha.example #123456`.
fn code_in(text: &str) -> String {
    text.rsplit('#').next().unwrap().split_whitespace().next().unwrap().to_owned()
}

async fn submit_and_delivery_receipt(db: Db) {
    let smsc = Smsc::start(db.dir.0.join("smsc.log")).await;
    let provider = smsc.provider(10);
    let server = TestServer::start_with(db, |s| {
        s.sms_providers.insert("smsc".into(), provider);
        s.brands[0].sms_route = vec!["smsc".into()];
    })
    .await;
    let id = server.create(&server.alpha_key, "S-1", "c-1").await["id"].as_str().unwrap().to_owned();
    let texts = smsc.wait_for_texts(1).await;
    let messages = smsc.messages().await;
    let sent = &messages[0];
    assert_eq!(sent["destination_addr"], "4915123456789");
    assert_eq!((sent["dest_addr_ton"].as_u64(), sent["dest_addr_npi"].as_u64()), (Some(1), Some(1)));
    assert_eq!(sent["source_addr"], "Alpha");
    assert_eq!((sent["source_addr_ton"].as_u64(), sent["source_addr_npi"].as_u64()), (Some(5), Some(0)));
    assert_eq!(sent["registered_delivery"], 1);
    assert_eq!(sent["data_coding"], 0);
    let text = texts[0]["text"].as_str().unwrap();
    assert!(text.starts_with("Alpha Mobil: Code "), "{text}");
    assert!(text.contains("849,00 €"), "{text}");

    let submitted = wait_for_event(&server, &id, "sms.submitted").await;
    assert_eq!(submitted["provider"], "smsc");
    assert_eq!(submitted["provider_message_id"], sent["message_id"]);
    let delivered = wait_for_event(&server, &id, "sms.delivered").await;
    assert_eq!(delivered["provider"], "smsc");
    assert_eq!(delivered["status"], "delivered");
    assert!(delivered["latency_ms"].as_i64().unwrap() >= 0, "{delivered}");

    // The code that reached the handset is the one that approves the order.
    let (status, body) = server
        .post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code_in(text) }))
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");

    let metrics = server.http.get(server.metrics_url()).send().await.unwrap().text().await.unwrap();
    for line in [
        "orderguard_smpp_bind_up{bind=\"transceiver-1\",provider=\"smsc\"} 1",
        "orderguard_sms_delivery_total{country=\"DE\",provider=\"smsc\",result=\"delivered\"} 1",
        "orderguard_sms_total{brand=\"alpha\",country=\"DE\",provider=\"smsc\",result=\"submitted\"} 1",
        "orderguard_sms_delivery_seconds_count{country=\"DE\",provider=\"smsc\"} 1",
    ] {
        assert!(metrics.contains(line), "missing `{line}` in\n{metrics}");
    }
    server.stop().await;
}

async fn receipts_over_a_separate_receiver(db: Db) {
    let smsc = Smsc::start(db.dir.0.join("smsc.log")).await;
    // Receipts as text only, as many SMSCs send them.
    smsc.configure(json!({ "receipts_text_only": true, "undeliverable_prefixes": ["4917"] })).await;
    let mut provider = smsc.account(10);
    provider.bind_mode = SmppBindMode::TransmitterReceiver;
    provider.binds = 2;
    let server = TestServer::start_with(db, |s| {
        s.sms_providers.insert("smsc".into(), SmsProviderConfig::Smpp(provider));
        s.brands[0].sms_route = vec!["smsc".into()];
    })
    .await;
    let delivered = server.create(&server.alpha_key, "S-2", "c-1").await["id"].as_str().unwrap().to_owned();
    let failed = server.create(&server.alpha_key, "S-3", "c-2").await["id"].as_str().unwrap().to_owned();
    let report = wait_for_event(&server, &delivered, "sms.delivered").await;
    assert_eq!(report["status"], "delivered");
    let report = wait_for_event(&server, &failed, "sms.failed").await;
    assert_eq!((report["stage"].as_str(), report["status"].as_str()), (Some("delivery"), Some("undeliverable")));
    assert_eq!(report["error_code"], "001");
    assert!(smsc.stats().await["binds"].as_u64().unwrap() >= 3, "two transmitters and a receiver");
    server.stop().await;
}

async fn encodings_and_long_texts_arrive_intact(db: Db) {
    let smsc = Smsc::start(db.dir.0.join("smsc.log")).await;
    let provider = smsc.provider(10);
    let long = "{brand}: Ihr Bestätigungscode lautet {code}. Er gilt {minutes} Minuten für Ihre Bestellung über \
                {amount} und nur für diese. Geben Sie ihn niemals weiter, auch nicht an unseren Kundendienst: \
                wir fragen nie danach. [Preise {inkl.} MwSt.] ~ Ihr Team";
    let server = TestServer::start_with(db, |s| {
        s.sms_providers.insert("smsc".into(), provider);
        s.brands[0].sms_route = vec!["smsc".into()];
        s.brands[0].sms_templates.insert("de".into(), long.replace("{inkl.}", "inkl."));
        s.brands[0].sms_templates.insert("en".into(), "{brand} 验证码 {code} ✅ {amount}".into());
    })
    .await;
    let gsm = server.create(&server.alpha_key, "E-1", "c-1").await["id"].as_str().unwrap().to_owned();
    let mut english = crate::support::order("E-2", "c-2");
    english["locale"] = json!("en");
    let (status, body) = server.post(&server.alpha_key, "/v1/verifications", english).await;
    assert_eq!(status, 201, "{body}");
    let ucs2 = body["id"].as_str().unwrap().to_owned();
    wait_for_event(&server, &gsm, "sms.submitted").await;
    wait_for_event(&server, &ucs2, "sms.submitted").await;

    let texts = smsc.wait_for_texts(2).await;
    let by_number = |n: &str| texts.iter().find(|t| t["destination_addr"] == n).unwrap().clone();
    let long_text = by_number("4915123456789");
    let text = long_text["text"].as_str().unwrap();
    let code = code_in(text);
    let expected = long
        .replace("{brand}", "Alpha Mobil")
        .replace("{code}", &code)
        .replace("{minutes}", "5")
        .replace("{amount}", "849,00 €")
        .replace("{inkl.}", "inkl.");
    assert_eq!(text, format!("{expected}\n\n@shop.alpha.example #{code}"));
    assert_eq!(long_text["parts"], 2, "{long_text}");
    let unicode = by_number("4917612345678");
    let text = unicode["text"].as_str().unwrap();
    let code = code_in(text);
    assert_eq!(text, format!("Alpha Mobil 验证码 {code} ✅ €849.00\n\n@shop.alpha.example #{code}"));
    let messages = smsc.messages().await;
    let coding = |n: &str| {
        messages
            .iter()
            .filter(|m| m["destination_addr"] == n)
            .map(|m| m["data_coding"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(coding("4915123456789"), [0, 0], "GSM-7 in two parts");
    assert_eq!(coding("4917612345678"), [8], "UCS-2");
    for part in messages.iter().filter(|m| m["destination_addr"] == "4915123456789") {
        assert_eq!(part["esm_class"].as_u64().unwrap() & 0x40, 0x40, "UDHI set on each part");
        assert_eq!(part["udh"]["total"], 2);
    }
    // The receipt names the last part; the message counts as delivered once it is.
    wait_for_event(&server, &gsm, "sms.delivered").await;
    server.stop().await;
}

async fn smsc_killed_mid_traffic_loses_and_repeats_nothing_acknowledged(db: Db) {
    let log = db.dir.0.join("smsc.log");
    let mut smsc = Smsc::start(log.clone()).await;
    let window = 10;
    let provider = smsc.provider(window);
    let server = TestServer::start_with(db, |s| {
        s.sms_providers.insert("smsc".into(), provider);
        s.brands[0].sms_route = vec!["smsc".into()];
        s.brands[0].policy.max_verifications_per_number_per_hour = Some(1000);
        s.limits.sms_max_attempts = 6;
    })
    .await;
    let total = 60;
    let mut ids = Vec::new();
    for n in 0..total {
        if n == 20 {
            smsc = smsc.kill_and_restart(Duration::from_millis(1500)).await;
        }
        let v = server.create(&server.alpha_key, &format!("K-{n}"), &crate::support::load_customer(n as usize)).await;
        ids.push(v["id"].as_str().unwrap().to_owned());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut acknowledged = Vec::new();
    for id in &ids {
        let submitted = wait_for_event(&server, id, "sms.submitted").await;
        acknowledged.push(submitted["provider_message_id"].as_str().unwrap().to_owned());
        let events = sms_events(&server, id).await;
        assert_eq!(events.iter().filter(|(k, _)| k == "sms.submitted").count(), 1, "{id}: {events:?}");
        assert_eq!(status_of(&server, id).await, "pending");
    }
    let arrived: Vec<String> =
        smsc.messages().await.iter().map(|m| m["message_id"].as_str().unwrap().to_owned()).collect();
    for id in &acknowledged {
        assert_eq!(arrived.iter().filter(|a| *a == id).count(), 1, "acknowledged message {id} arrived once");
    }
    // A submit_sm the SMSC took just before it died, whose answer never came back, is sent again:
    // SMPP cannot tell. At most a window's worth can be in that state.
    let in_doubt = arrived.len() - acknowledged.len();
    eprintln!("SMSC restart: {total} verifications, {} arrived, {in_doubt} repeated in doubt", arrived.len());
    assert!(in_doubt <= window, "{in_doubt} messages repeated");
    server.stop().await;
}

async fn throttling_is_answered_by_slowing_down(db: Db) {
    let smsc = Smsc::start(db.dir.0.join("smsc.log")).await;
    smsc.configure(json!({ "throttle_per_second": 25, "queue_full_next": 2 })).await;
    let provider = smsc.provider(20);
    let server = TestServer::start_with(db, |s| {
        s.sms_providers.insert("smsc".into(), provider);
        s.brands[0].sms_route = vec!["smsc".into()];
        s.brands[0].policy.max_verifications_per_number_per_hour = Some(1000);
        s.limits.sms_max_attempts = 1;
    })
    .await;
    let mut ids = Vec::new();
    for n in 0..80 {
        ids.push(
            server.create(&server.alpha_key, &format!("T-{n}"), &crate::support::load_customer(n as usize)).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for id in &ids {
        wait_for_event(&server, id, "sms.submitted").await;
    }
    let stats = smsc.stats().await;
    assert_eq!(stats["submits_accepted"], 80, "{stats}");
    assert!(stats["submits_throttled"].as_u64().unwrap() > 0, "the SMSC throttled: {stats}");
    assert_eq!(stats["submits_queue_full"], 2, "{stats}");
    let metrics = server.http.get(server.metrics_url()).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("orderguard_sms_throttled_total{country=\"DE\",provider=\"smsc\"}"), "{metrics}");
    server.stop().await;
}

async fn refused_destination_makes_undeliverable(db: Db) {
    let smsc = Smsc::start(db.dir.0.join("smsc.log")).await;
    smsc.configure(json!({ "reject_prefixes": ["4917"] })).await;
    let provider = smsc.provider(10);
    let server = TestServer::start_with(db, |s| {
        s.sms_providers.insert("smsc".into(), provider);
        s.brands[0].sms_route = vec!["smsc".into()];
        s.limits.sms_max_attempts = 1;
    })
    .await;
    let id = server.create(&server.alpha_key, "R-1", "c-2").await["id"].as_str().unwrap().to_owned();
    wait_for_status(&server, &id, "undeliverable").await;
    let failed = wait_for_event(&server, &id, "sms.attempt_failed").await;
    assert_eq!(failed["provider"], "smsc");
    assert_eq!(failed["result"], "rejected");
    assert!(failed["error"].as_str().unwrap().contains("ESME_RINVDSTADR"), "{failed}");
    // A refused number says nothing about the SMSC: other customers still get their codes.
    let fine = server.create(&server.alpha_key, "R-2", "c-1").await["id"].as_str().unwrap().to_owned();
    wait_for_event(&server, &fine, "sms.delivered").await;
    server.stop().await;
}

async fn dead_smsc_fails_over_to_http_and_comes_back(db: Db) {
    let log = db.dir.0.join("smsc.log");
    let smsc = Smsc::start(log.clone()).await;
    let port = smsc.smpp_port;
    let smpp = smsc.account_failing_fast();
    drop(smsc); // killed: nothing listens on its port
    let (url, fake) = start_fake(Duration::ZERO, axum::http::StatusCode::OK).await;
    let token = db.dir.0.join("token");
    std::fs::write(&token, "t").unwrap();
    let server = TestServer::start_with(db, |s| {
        s.sms_providers.insert("smsc".into(), SmsProviderConfig::Smpp(smpp));
        s.sms_providers.insert("aggregator".into(), http_provider(&url, &token));
        s.brands[0].sms_route = vec!["smsc".into(), "aggregator".into()];
        s.brands[0].policy.max_verifications_per_number_per_hour = Some(1000);
        s.limits.circuit_breaker_failures = 2;
        s.limits.circuit_breaker_open_ms = 2000;
    })
    .await;
    // Two messages find the SMSC down and go to the aggregator; the breaker opens.
    for n in 0..2 {
        let id = server.create(&server.alpha_key, &format!("F-{n}"), &crate::support::load_customer(n as usize)).await
            ["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let submitted = wait_for_event(&server, &id, "sms.submitted").await;
        assert_eq!(submitted["provider"], "aggregator");
        let failed = wait_for_event(&server, &id, "sms.attempt_failed").await;
        assert_eq!((failed["provider"].as_str(), failed["result"].as_str()), (Some("smsc"), Some("unavailable")));
    }
    // Now the SMSC is skipped without waiting for it.
    let id = server.create(&server.alpha_key, "F-2", "c-1").await["id"].as_str().unwrap().to_owned();
    let submitted = wait_for_event(&server, &id, "sms.submitted").await;
    assert_eq!(submitted["provider"], "aggregator");
    assert!(submitted["latency_ms"].as_i64().unwrap() < 500, "{submitted}");
    let skipped = wait_for_event(&server, &id, "sms.attempt_failed").await;
    assert_eq!(skipped["result"], "skipped", "{skipped}");
    assert_eq!(fake.received.lock().unwrap().len(), 3);

    // The SMSC comes back; after the breaker's pause one message probes it and it takes over again.
    let smsc = Smsc::start_on(port, log).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut back = false;
    for n in 0..20 {
        let id = server.create(&server.alpha_key, &format!("B-{n}"), &crate::support::load_customer(n as usize)).await
            ["id"]
            .as_str()
            .unwrap()
            .to_owned();
        if wait_for_event(&server, &id, "sms.submitted").await["provider"] == "smsc" {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "the SMSC never took messages again");
    assert!(!smsc.messages().await.is_empty());
    server.stop().await;
}

async fn two_instances_send_each_queued_message_once(db: Db) {
    let log = db.dir.0.join("smsc.log");
    let smsc = Smsc::start(log.clone()).await;
    let port = smsc.smpp_port;
    let smpp = smsc.account_failing_fast();
    drop(smsc); // down while the verifications are created: every message waits for a retry
    let tweak = |s: &mut orderguard::config::Settings| {
        s.sms_providers.insert("smsc".into(), SmsProviderConfig::Smpp(smpp.clone()));
        s.brands[0].sms_route = vec!["smsc".into()];
        s.brands[0].policy.max_verifications_per_number_per_hour = Some(1000);
        s.limits.sms_max_attempts = 10;
    };
    let first = TestServer::start_with(db, tweak).await;
    let second = first.another_instance(tweak).await;
    let second_base = format!("http://{}", second.addr);
    let mut ids = Vec::new();
    for n in 0..30 {
        // Half the orders reach each instance, as behind a load balancer.
        let base = if n % 2 == 0 { first.base.clone() } else { second_base.clone() };
        let response = first
            .http
            .post(format!("{base}/v1/verifications"))
            .bearer_auth(&first.alpha_key)
            .json(&crate::support::order(&format!("M-{n}"), &crate::support::load_customer(n as usize)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        ids.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    // Every first hand-off fails; both instances now scan the shared queue for the retries.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let smsc = Smsc::start_on(port, log).await;
    let mut acknowledged = Vec::new();
    for id in &ids {
        let submitted = wait_for_event(&first, id, "sms.submitted").await;
        acknowledged.push(submitted["provider_message_id"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in &ids {
        let events = sms_events(&first, id).await;
        assert_eq!(events.iter().filter(|(k, _)| k == "sms.submitted").count(), 1, "{id}: {events:?}");
        assert!(
            events.iter().any(|(k, _)| k == "sms.attempt_failed"),
            "{id} was sent from the retry queue: {events:?}"
        );
    }
    let arrived = smsc.messages().await;
    assert_eq!(arrived.len(), ids.len(), "each message reached the SMSC once");
    second.stop().await;
    first.stop().await;
}

async fn doctor_binds_to_each_smpp_provider(db: Db) {
    let smsc = Smsc::start(db.dir.0.join("smsc.log")).await;
    let providers = format!(
        r#"
[sms_providers.smsc]
kind = "smpp"
address = "127.0.0.1:{port}"
system_id = "{system_id}"
password = "{password}"

[sms_providers.wrong-password]
kind = "smpp"
address = "127.0.0.1:{port}"
system_id = "{system_id}"
password = "nope"

[sms_providers.gone]
kind = "smpp"
address = "127.0.0.1:9"
system_id = "x"
password = "x"

[sms_providers.aggregator]
kind = "http"
url = "http://127.0.0.1:9/sms"
body = {{ to = "{{to}}" }}
"#,
        port = smsc.smpp_port,
        system_id = crate::smsc::SYSTEM_ID,
        password = crate::smsc::PASSWORD,
    );
    let (ok, out) = crate::support::run_doctor(&db, &providers);
    assert!(!ok, "failed checks fail the command: {out}");
    let line = |subject: &str| out.lines().find(|l| l.contains(subject)).unwrap_or_default().to_owned();
    assert!(line("database").starts_with("ok"), "{out}");
    let bound = line("sms provider smsc ");
    assert!(
        bound.starts_with("ok") && bound.contains("bound as transceiver") && bound.contains("enquire_link"),
        "{out}"
    );
    assert!(line("wrong-password").starts_with("FAIL") && line("wrong-password").contains("0xe"), "{out}");
    assert!(line("gone").starts_with("FAIL") && line("gone").contains("cannot connect"), "{out}");
    assert!(line("aggregator").starts_with("FAIL") && line("aggregator").contains("127.0.0.1:9"), "{out}");
    assert!(line("outbox").starts_with("ok"), "{out}");
    assert!(line("key ring").starts_with("ok"), "{out}");
    assert!(out.contains("7 check(s), 3 failed"), "{out}");
    let stats = smsc.stats().await;
    assert_eq!((stats["enquire_links"].as_u64(), stats["unbinds"].as_u64()), (Some(1), Some(1)), "{stats}");
}

async fn keep_alive_and_a_garbled_smsc(db: Db) {
    // An idle bind sends enquire_link.
    let smsc = Smsc::start(db.dir.0.join("smsc.log")).await;
    let mut provider = smsc.account(10);
    provider.enquire_link_seconds = 1;
    // A second "SMSC" answers the bind, then sends bytes that are no PDU.
    let garbled = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let garbled_address = garbled.local_addr().unwrap().to_string();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = garbled.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut header = [0_u8; 16];
                if socket.read_exact(&mut header).await.is_err() {
                    return;
                }
                let length = u32::from_be_bytes(header[..4].try_into().unwrap()) as usize;
                let mut rest = vec![0_u8; length - 16];
                let _ = socket.read_exact(&mut rest).await;
                // bind_transceiver_resp, OK, same sequence number, system_id "x".
                let mut resp = vec![0, 0, 0, 18, 0x80, 0, 0, 9, 0, 0, 0, 0];
                resp.extend_from_slice(&header[12..16]);
                resp.extend_from_slice(b"x\0");
                let _ = socket.write_all(&resp).await;
                let _ = socket.write_all(&[0xff; 32]).await;
                let _ = socket.read(&mut [0_u8; 64]).await;
            });
        }
    });
    let mut garbled_provider = provider.clone();
    garbled_provider.address = garbled_address;
    let server = TestServer::start_with(db, |s| {
        s.sms_providers.insert("smsc".into(), SmsProviderConfig::Smpp(provider));
        s.sms_providers.insert("garbled".into(), SmsProviderConfig::Smpp(garbled_provider));
        s.brands[0].sms_route = vec!["smsc".into()];
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let stats = smsc.stats().await;
    assert!(stats["enquire_links"].as_u64().unwrap() >= 2, "{stats}");
    assert_eq!(stats["binds"], 1, "the idle bind stayed up: {stats}");
    // The garbled session was closed and bound again (after growing pauses), and nothing crashed.
    assert!(connections.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    let id = server.create(&server.alpha_key, "G-1", "c-1").await["id"].as_str().unwrap().to_owned();
    wait_for_event(&server, &id, "sms.delivered").await;
    server.stop().await;
}

/// Touches no database: the SMPP client alone against a peer that sends a PDU it does not know.
#[tokio::test]
async fn an_unknown_pdu_is_nacked_and_the_session_stays() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let peer = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = peer.local_addr().unwrap().to_string();
    let (answer_tx, mut answer_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = peer.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer_tx = answer_tx.clone();
            tokio::spawn(async move {
                let mut header = [0_u8; 16];
                socket.read_exact(&mut header).await.unwrap();
                let length = u32::from_be_bytes(header[..4].try_into().unwrap()) as usize;
                let mut rest = vec![0_u8; length - 16];
                socket.read_exact(&mut rest).await.unwrap();
                let mut resp = vec![0, 0, 0, 18, 0x80, 0, 0, 9, 0, 0, 0, 0];
                resp.extend_from_slice(&header[12..16]);
                resp.extend_from_slice(b"x\0");
                socket.write_all(&resp).await.unwrap();
                // data_sm (0x103), which this client does not speak, sequence number 77.
                socket.write_all(&[0, 0, 0, 16, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 77]).await.unwrap();
                let mut nack = [0_u8; 16];
                socket.read_exact(&mut nack).await.unwrap();
                answer_tx.send(nack.to_vec()).unwrap();
                // Keep the connection open: the client must not drop it.
                let _ = socket.read(&mut [0_u8; 64]).await;
            });
        }
    });
    let config = orderguard::config::SmppProviderConfig {
        window: 1,
        enquire_link_seconds: 60,
        send_timeout_ms: 2000,
        response_timeout_ms: 1000,
        ..orderguard::config::SmppProviderConfig::account(&address, "x", "x")
    };
    let provider = std::sync::Arc::new(orderguard::sms::SmppProvider::new("peer", &config).unwrap());
    let (reports, _rx) = orderguard::sms::delivery::DeliveryReports::new();
    provider.start(&orderguard::sms::smpp::ProviderContext { reports, metrics: Default::default() });
    let nack = tokio::time::timeout(Duration::from_secs(5), answer_rx.recv()).await.unwrap().unwrap();
    assert_eq!(
        nack,
        [0, 0, 0, 16, 0x80, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 77],
        "generic_nack, invalid command id, same sequence"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1, "the session stayed up");
    assert!(provider.wait_until_bound(Duration::from_millis(100)).await);
    provider.stop();
}

/// An SMSC that takes binds over TLS only, with a certificate of a private CA: orderguard binds
/// with `tls = true` and that CA, and refuses the SMSC without it or under another name.
async fn smpp_over_tls_with_a_private_ca(db: Db) {
    let certificates = crate::smsc::tls_certificates(&db.dir.0);
    let smsc = Smsc::start_tls(db.dir.0.join("smsc.log"), &certificates).await;
    let providers = format!(
        r#"
[sms_providers.smsc-tls]
kind = "smpp"
address = "127.0.0.1:{port}"
system_id = "{system_id}"
password = "{password}"
tls = true
ca_certificate = "{ca}"

[sms_providers.public-roots]
kind = "smpp"
address = "127.0.0.1:{port}"
system_id = "{system_id}"
password = "{password}"
tls = true

[sms_providers.other-name]
kind = "smpp"
address = "127.0.0.1:{port}"
system_id = "{system_id}"
password = "{password}"
tls = true
ca_certificate = "{ca}"
tls_server_name = "smsc.elsewhere.test"

[sms_providers.plain]
kind = "smpp"
address = "127.0.0.1:{port}"
system_id = "{system_id}"
password = "{password}"
response_timeout_ms = 500
send_timeout_ms = 1000
"#,
        port = smsc.smpp_port,
        system_id = crate::smsc::SYSTEM_ID,
        password = crate::smsc::PASSWORD,
        ca = certificates.ca.display(),
    );
    let (ok, out) = crate::support::run_doctor(&db, &providers);
    assert!(!ok, "{out}");
    let line = |subject: &str| out.lines().find(|l| l.contains(subject)).unwrap_or_default().to_owned();
    assert!(line("smsc-tls").starts_with("ok") && line("smsc-tls").contains("bound as transceiver"), "{out}");
    assert!(line("public-roots").starts_with("FAIL") && line("public-roots").contains("TLS"), "{out}");
    assert!(line("other-name").starts_with("FAIL") && line("other-name").contains("TLS"), "{out}");
    assert!(line("sms provider plain").starts_with("FAIL"), "plain SMPP to a TLS port: {out}");

    let account = SmppProviderConfig {
        tls: true,
        ca_certificate: Some(certificates.ca.clone()),
        tls_server_name: Some("smsc.test".into()),
        ..smsc.account(10)
    };
    let server = TestServer::start_with(db, |s| {
        s.sms_providers.insert("smsc".into(), SmsProviderConfig::Smpp(account));
        s.brands[0].sms_route = vec!["smsc".into()];
    })
    .await;
    let id = server.create(&server.alpha_key, "TLS-1", "c-1").await["id"].as_str().unwrap().to_owned();
    let texts = smsc.wait_for_texts(1).await;
    let text = texts[0]["text"].as_str().unwrap().to_owned();
    wait_for_event(&server, &id, "sms.delivered").await;
    let (status, body) = server
        .post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code_in(&text) }))
        .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    server.stop().await;
}
