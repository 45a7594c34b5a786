//! `kill -9` of the server under load loses no acknowledged verification, check or event.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Db, config_on_port, free_port, order};

on_both_databases!(kill_9_under_load_loses_nothing_acknowledged);

pub async fn spawn_server(config_path: &std::path::Path, base: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orderguard"))
        .args(["serve", "--config"])
        .arg(config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not become ready");
}

#[derive(Default)]
struct Acknowledged {
    created: Vec<String>,
    /// A wrong code was checked and the answer received: that attempt must stay used.
    wrong_checked: Vec<String>,
    approved: Vec<String>,
}

async fn kill_9_under_load_loses_nothing_acknowledged(db: Db) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let text = config_on_port(&db, port);
    let config_path = db.dir.0.join("orderguard.toml");
    std::fs::write(&config_path, &text).unwrap();
    let settings = orderguard::config::Settings::load(&config_path).unwrap();
    let store = orderguard::prepare_store(&settings, crate::support::now()).await.unwrap();
    let key = orderguard::service::api_keys::create(&store, "alpha", "crash", crate::support::now()).await.unwrap();
    drop(store);

    let mut child = spawn_server(&config_path, &base).await;
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    // The workers stop at the deadline; the kill comes before it (below).
    let deadline = Instant::now() + Duration::from_secs(15);
    let workers: Vec<_> = (0..16)
        .map(|worker| {
            let (base, key, acknowledged) = (base.clone(), key.clone(), acknowledged.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                for n in 0.. {
                    if Instant::now() > deadline {
                        break;
                    }
                    let Ok(response) = http
                        .post(format!("{base}/v1/verifications"))
                        .bearer_auth(&key)
                        .json(&order(&format!("K-{worker}-{n}"), &crate::support::load_customer(worker * 120 + n)))
                        .send()
                        .await
                    else {
                        break;
                    };
                    if response.status().as_u16() != 201 {
                        break;
                    }
                    let Ok(v) = response.json::<Value>().await else { break };
                    let id = v["id"].as_str().unwrap().to_owned();
                    acknowledged.lock().unwrap().created.push(id.clone());
                    let mut code = None;
                    for _ in 0..1000 {
                        let Ok(r) = http.get(format!("{base}/dev/outbox.json?verification_id={id}")).send().await
                        else {
                            return;
                        };
                        let Ok(messages) = r.json::<Value>().await else { return };
                        if let Some(text) = messages[0]["text"].as_str() {
                            code = Some(text.rsplit('#').next().unwrap().to_owned());
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    let Some(code) = code else { break };
                    let wrong = if code == "000000" { "111111" } else { "000000" };
                    let Some(body) = check(&http, &base, &key, &id, wrong).await else { break };
                    if body["status"] != "pending" {
                        break;
                    }
                    acknowledged.lock().unwrap().wrong_checked.push(id.clone());
                    let Some(body) = check(&http, &base, &key, &id, &code).await else { break };
                    if body["status"] == "approved" {
                        acknowledged.lock().unwrap().approved.push(id);
                    }
                }
            })
        })
        .collect();
    // Kill while the workers are still sending, once some verifications got each far (a busy
    // machine gets there later: at most 10 s).
    let far_enough = || {
        let a = acknowledged.lock().unwrap();
        a.created.len() >= 10 && !a.approved.is_empty() && !a.wrong_checked.is_empty()
    };
    for _ in 0..200 {
        if far_enough() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    for worker in workers {
        let _ = worker.await;
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    assert!(acknowledged.created.len() >= 10, "too little load to mean anything: {}", acknowledged.created.len());
    assert!(!acknowledged.approved.is_empty() && !acknowledged.wrong_checked.is_empty());

    let mut child = spawn_server(&config_path, &base).await;
    let http = reqwest::Client::new();
    for id in &acknowledged.created {
        let response = http.get(format!("{base}/v1/verifications/{id}")).bearer_auth(&key).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "acknowledged verification {id} lost");
    }
    for id in &acknowledged.approved {
        let v = fetch(&http, &base, &key, id).await;
        assert_eq!(v["status"], "approved", "acknowledged approval of {id} lost");
    }
    for id in &acknowledged.wrong_checked {
        let v = fetch(&http, &base, &key, id).await;
        assert!(v["attempts_remaining"].as_u64().unwrap() <= 4, "acknowledged wrong attempt on {id} lost: {v}");
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // The events of every acknowledged change are there too.
    let store = orderguard::prepare_store(&settings, crate::support::now()).await.unwrap();
    for id in &acknowledged.created {
        let lookup = id.clone();
        let events =
            store.read(move |conn| orderguard::store::events::for_verification(conn, "alpha", &lookup)).await.unwrap();
        let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
        assert!(kinds.contains(&"verification.created") && kinds.contains(&"sms.queued"), "{id}: {kinds:?}");
        if acknowledged.approved.contains(id) {
            assert!(kinds.contains(&"verification.approved"), "{id}: {kinds:?}");
        }
    }
    eprintln!(
        "kill -9: {} created, {} wrong checks, {} approved acknowledged; all found after restart",
        acknowledged.created.len(),
        acknowledged.wrong_checked.len(),
        acknowledged.approved.len()
    );
}

/// A check while the server may be killed at any moment: `None` when no answer came.
async fn check(http: &reqwest::Client, base: &str, key: &str, id: &str, code: &str) -> Option<Value> {
    let response = http
        .post(format!("{base}/v1/verifications/{id}/check"))
        .bearer_auth(key)
        .json(&json!({ "code": code }))
        .send()
        .await
        .ok()?;
    response.json::<Value>().await.ok()
}

async fn fetch(http: &reqwest::Client, base: &str, key: &str, id: &str) -> Value {
    http.get(format!("{base}/v1/verifications/{id}")).bearer_auth(key).send().await.unwrap().json().await.unwrap()
}
