//! Three instances, each its own process, on one PostgreSQL database under parallel load, as
//! behind a load balancer: limits and lock-outs hold across them, every SMS is handed over once,
//! the counters count every event once, and `kill -9` of one loses nothing its peers cannot finish.
//! (Webhook deliveries, alert evaluation and retention across instances have tests of their own:
//! `webhooks::two_instances_attempt_each_delivery_once`, `alerts::…`, `privacy::…`.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::crash::spawn_server;
use crate::idempotency::futures_join_all;
use crate::support::{Db, config_on_port, free_port, load_customer, now, order};

const INSTANCES: usize = 3;

/// A request to `path` on instance `n % INSTANCES` (round robin, as a load balancer would).
struct Cluster {
    bases: Vec<String>,
    key: String,
    http: reqwest::Client,
}

impl Cluster {
    fn base(&self, n: usize) -> &str {
        &self.bases[n % self.bases.len()]
    }

    async fn post(&self, n: usize, path: &str, body: Value) -> (u16, Value) {
        let response =
            self.http.post(format!("{}{path}", self.base(n))).bearer_auth(&self.key).json(&body).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    /// `post` on instance `n`, else on the next ones (a balancer takes a dead instance out);
    /// `None` when no instance answered.
    async fn post_anywhere(&self, n: usize, path: &str, body: &Value) -> Option<(u16, Value)> {
        for attempt in 0..self.bases.len() {
            let url = format!("{}{path}", self.base(n + attempt));
            if let Ok(response) = self.http.post(url).bearer_auth(&self.key).json(body).send().await {
                let status = response.status().as_u16();
                return Some((status, response.json().await.unwrap_or(Value::Null)));
            }
        }
        None
    }

    /// The code of a verification's SMS, waited for on instance `n` (or the next ones).
    async fn code(&self, n: usize, id: &str) -> Option<String> {
        for round in 0..400 {
            let url = format!("{}/dev/outbox.json?verification_id={id}", self.base(n + round % 2));
            if let Ok(response) = self.http.get(url).send().await
                && let Ok(messages) = response.json::<Value>().await
                && messages[0]["text"].is_string()
            {
                return Some(code_of(&messages[0]));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    /// The SMS handed over for a verification, read on instance `n`.
    async fn outbox(&self, n: usize, id: &str) -> Vec<Value> {
        let url = format!("{}/dev/outbox.json?verification_id={id}", self.base(n));
        self.http.get(url).send().await.unwrap().json().await.unwrap()
    }
}

fn code_of(message: &Value) -> String {
    message["text"].as_str().unwrap().rsplit('#').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_hold_limits_send_once_and_survive_a_kill() {
    let Some(db) = Db::postgres() else {
        eprintln!("\n!!! TEST_DATABASE_URL is not set: several instances were NOT tested !!!\n");
        return;
    };
    let ports: Vec<u16> = (0..INSTANCES).map(|_| free_port()).collect();
    let mut configs = Vec::new();
    for (n, port) in ports.iter().enumerate() {
        let path = db.dir.0.join(format!("instance-{n}.toml"));
        // The counters' default lag: with several instances writing at once, a transaction can
        // commit a smaller event id after a larger one; the lag lets such stragglers in before
        // the counting passes them (the other tests count at once, with one writer).
        let text = config_on_port(&db, *port).replacen("rollup_lag_ms = 0", "rollup_lag_ms = 5000", 1);
        std::fs::write(&path, text).unwrap();
        configs.push(path);
    }
    let settings = orderguard::config::Settings::load(&configs[0]).unwrap();
    let store = orderguard::prepare_store(&settings, now()).await.unwrap();
    let key = orderguard::service::api_keys::create(&store, "alpha", "instances", now()).await.unwrap();
    let bases: Vec<String> = ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    let mut children = Vec::new();
    for (config, base) in configs.iter().zip(&bases) {
        children.push(spawn_server(config, base).await);
    }
    let cluster = Arc::new(Cluster { bases, key, http: reqwest::Client::new() });

    // The SMS limit per number (5 in 10 minutes) across instances: 15 orders at once, 5 sent.
    let creates = (0..15).map(|n| {
        let cluster = cluster.clone();
        async move { cluster.post(n, "/v1/verifications", order(&format!("LIM-{n}"), "c-1")).await }
    });
    let answers = futures_join_all(creates).await;
    let statuses: Vec<&str> = answers.iter().map(|(_, v)| v["status"].as_str().unwrap_or("?")).collect();
    assert!(answers.iter().all(|(status, _)| *status == 201), "{answers:?}");
    assert_eq!(statuses.iter().filter(|s| **s == "pending").count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == "blocked").count(), 10, "{statuses:?}");

    // The attempt limit across instances: of 30 wrong codes at once, 5 are evaluated.
    let (_, v) = cluster.post(0, "/v1/verifications", order("LOCK-1", "c-2")).await;
    let id = v["id"].as_str().unwrap().to_owned();
    let checks = (0..30).map(|n| {
        let (cluster, id) = (cluster.clone(), id.clone());
        async move { cluster.post(n, &format!("/v1/verifications/{id}/check"), json!({ "code": "000000" })).await.0 }
    });
    let checked = futures_join_all(checks).await;
    assert_eq!(checked.iter().filter(|s| **s == 200).count(), 5, "{checked:?}");
    assert_eq!(checked.iter().filter(|s| **s == 409).count(), 25, "{checked:?}");

    // Load on all three; the last instance is killed (SIGKILL) while it serves.
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let approved: Arc<Mutex<Vec<String>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(6);
    let workers: Vec<_> = (0..12)
        .map(|worker| {
            let (cluster, acknowledged, approved) = (cluster.clone(), acknowledged.clone(), approved.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    if Instant::now() > deadline {
                        break;
                    }
                    let body = order(&format!("K-{worker}-{n}"), &load_customer(worker * 150 + n));
                    let Some((201, created)) = cluster.post_anywhere(worker, "/v1/verifications", &body).await else {
                        continue;
                    };
                    let id = created["id"].as_str().unwrap().to_owned();
                    acknowledged.lock().unwrap().push(id.clone());
                    // The code read and checked on another instance than the one that took the order.
                    let Some(code) = cluster.code(worker + 1, &id).await else { continue };
                    let path = format!("/v1/verifications/{id}/check");
                    if let Some((200, v)) = cluster.post_anywhere(worker + 1, &path, &json!({ "code": code })).await
                        && v["status"] == "approved"
                    {
                        approved.lock().unwrap().push(id);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut killed = children.pop().unwrap();
    killed.kill().unwrap();
    killed.wait().unwrap();
    let killed_at = Instant::now();
    for worker in workers {
        worker.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let approved = approved.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 30 && approved.len() >= 20,
        "{} created, {} approved",
        acknowledged.len(),
        approved.len()
    );

    // Every acknowledged order gets its SMS exactly once: one claimed by the killed instance is
    // sent by a peer once its lease ran out.
    let lease = Duration::from_millis(u64::try_from(orderguard::sms::queue::LEASE_MS).unwrap());
    let mut sent: HashMap<String, usize> = HashMap::new();
    while killed_at.elapsed() < lease + Duration::from_secs(15) {
        sent.clear();
        for id in &acknowledged {
            sent.insert(id.clone(), cluster.outbox(0, id).await.len());
        }
        if sent.values().all(|n| *n >= 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let unsent: Vec<&String> = sent.iter().filter(|(_, n)| **n == 0).map(|(id, _)| id).collect();
    let twice: Vec<&String> = sent.iter().filter(|(_, n)| **n > 1).map(|(id, _)| id).collect();
    assert!(unsent.is_empty() && twice.is_empty(), "never sent: {unsent:?}; sent twice: {twice:?}");
    eprintln!(
        "three instances, one killed: {} orders acknowledged, {} approved, each SMS sent once (all {:.1} s after the kill)",
        acknowledged.len(),
        approved.len(),
        killed_at.elapsed().as_secs_f64()
    );

    // The counters took in every event once, whichever instance counted it.
    let mut counted_all = false;
    for _ in 0..150 {
        let (events, counted) = store
            .read(|conn| -> Result<_, orderguard::store::StoreError> {
                let events = conn.query_one("SELECT COUNT(*) AS n FROM events WHERE brand = 'alpha'", &[])?.int("n")?;
                let counted = orderguard::store::rollups::totals_of(conn, "alpha", "event", (0, i64::MAX / 2))?;
                Ok((events, counted.iter().map(|(_, n)| n).sum::<i64>()))
            })
            .await
            .unwrap();
        assert!(counted <= events, "counted {counted} of {events} events: some twice");
        if counted == events {
            counted_all = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(counted_all, "the counters did not catch up with the event log");
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(store);
}

/// `orderguard bench --instances 1,2` measures one instance against two on one database.
#[test]
fn the_benchmark_measures_one_instance_against_two() {
    let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("\n!!! TEST_DATABASE_URL is not set: the benchmark's instances were NOT tested !!!\n");
        return;
    };
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_orderguard"))
        .args(["bench", "--seconds", "1", "--concurrency", "4", "--customers", "500", "--postgres", &url])
        .args(["--instances", "1,2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    for database in ["sqlite ", "postgres ", "pg×2 "] {
        let row =
            stdout.lines().find(|l| l.starts_with(database)).unwrap_or_else(|| panic!("no {database}row: {stdout}"));
        let columns: Vec<&str> = row.split_whitespace().collect();
        let flows: f64 = columns[2].parse().unwrap();
        assert!(flows > 0.0 && columns[8] == "0", "no errors: {row}");
    }
}
