//! The key ring: a data key and a look-up key rotated while the server runs (stored data re-sealed
//! and re-keyed in the background, limits and lists working throughout), and the master secret
//! rotated by the procedure docs/configuration.md describes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use orderguard::crypto::Secrets;
use orderguard::crypto::keyring::KeyPurpose;
use orderguard::service::keyring;
use orderguard_domain::clock::Timestamp;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Db, SECRET, TestServer, config, create_cheap as create, run_command};

on_both_databases!(data_and_look_up_keys_rotate_while_the_server_runs, the_master_secret_is_rotated);

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// Another master secret, for the rotation.
const NEW_SECRET: &str = "bmV3LW1hc3Rlci1zZWNyZXQtb2YtMzItYnl0ZXMtLi4=";

fn config_file(db: &Db, extra: &str) -> PathBuf {
    let path = db.dir.0.join("orderguard.toml");
    std::fs::write(&path, config(db) + extra).unwrap();
    path
}

fn command(args: &[&str], config_path: &Path) -> String {
    let (ok, out, err) = run_command(args, config_path);
    assert!(ok, "orderguard {args:?}: {out}\n{err}");
    out
}

/// The velocity rules would hold the later orders for review: in shadow mode they only record,
/// so that what stops codes here is the hard limit per number alone.
fn shadow_velocity(settings: &mut orderguard::config::Settings) {
    for brand in &mut settings.brands {
        for rule in ["velocity_number", "velocity_customer", "velocity_device", "velocity_network"] {
            let shadow = orderguard::config::RuleConfig { points: None, shadow: true };
            brand.policy.rules.insert(rule.into(), shadow);
        }
    }
}

/// Waits until the server's background rounds have re-sealed and re-keyed everything, and gives
/// the ring's state then.
async fn rotation_work_done(server: &TestServer) -> keyring::RingStatus {
    let app = server.app();
    for _ in 0..300 {
        let status = keyring::status(&app.store, &app.secrets, app.clock.now()).await.unwrap();
        if status.to_reseal == 0 && status.to_rekey == 0 {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the background rounds did not finish: {:?}",
        keyring::status(&app.store, &app.secrets, app.clock.now()).await
    );
}

async fn key_state(server: &TestServer, purpose: KeyPurpose, generation: u32) -> (bool, Option<i64>) {
    let app = server.app();
    for _ in 0..300 {
        let status = keyring::status(&app.store, &app.secrets, app.clock.now()).await.unwrap();
        let (row, active) =
            status.keys.iter().find(|(r, _)| r.purpose == purpose && r.generation == generation).unwrap();
        if row.retired_at.is_some() || *active {
            return (*active, row.retired_at);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (false, None)
}

async fn wait_for_retirement(server: &TestServer, purpose: KeyPurpose, generation: u32) {
    for _ in 0..300 {
        if key_state(server, purpose, generation).await.1.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{purpose:?} key {generation} did not retire");
}

/// How many stored sealed values (numbers, queued SMS, list values, secrets) begin otherwise
/// than the data key `generation` seals.
async fn sealed_by_others(server: &TestServer, generation: u32) -> i64 {
    let prefix = Secrets::ciphertext_prefix(generation).to_vec();
    server
        .app()
        .store
        .read(move |conn| -> Result<i64, orderguard::store::StoreError> {
            let mut n = 0;
            for column in orderguard::store::keyring::SEALED {
                n += orderguard::store::keyring::count_sealed_otherwise(conn, column, &prefix)?;
            }
            Ok(n)
        })
        .await
        .unwrap()
}

async fn count(server: &TestServer, sql: &'static str) -> i64 {
    server.app().store.read(move |conn| conn.query_one(sql, &[])?.int("n")).await.unwrap()
}

/// Holds (or gives up) the lease of the key ring's background rounds, as another instance would.
async fn hold_rotation_work(server: &TestServer, hold: bool) {
    let now = server.app().clock.now().millis();
    server
        .app()
        .store
        .write(move |conn| -> Result<(), orderguard::store::StoreError> {
            if hold {
                let taken = orderguard::store::leases::take_lease(conn, "keyring", "test", now, now + 365 * DAY)?;
                assert!(taken.is_some());
            } else {
                orderguard::store::leases::release_lease(conn, "keyring", "test")?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

/// Waits until the instance has loaded the new keys and uses them.
async fn switched(server: &TestServer) {
    let secrets = &server.app().secrets;
    for _ in 0..200 {
        if secrets.active_generation(KeyPurpose::Data) == 2 && secrets.lookup_keys().generation() == 2 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the instance did not switch to the new keys");
}

async fn blocked(server: &TestServer, order_id: &str, customer: &str) {
    let v = create(server, &server.alpha_key, order_id, customer).await;
    assert_eq!((v["status"].as_str(), &v["risk"]["reasons"]), (Some("blocked"), &json!(["block_list"])), "{v}");
}

async fn data_and_look_up_keys_rotate_while_the_server_runs(db: Db) {
    let config_path = config_file(&db, "");
    // Thirty sweeps (a round of the rotation work) and a reload of the ring take 0.6 s here.
    let server = TestServer::start_with(db, |s| {
        s.limits.sweep_interval_ms = 20;
        shadow_velocity(s);
    })
    .await;
    let (alpha, beta) = (server.alpha_key.clone(), server.beta_key.clone());
    // Before the rotation: three of c-1's five codes per ten minutes, a pending verification of
    // c-2, block-list entries for c-uk's number and load-7's device.
    for n in 0..3 {
        assert_eq!(create(&server, &alpha, &format!("BEFORE-{n}"), "c-1").await["status"], "pending");
    }
    let pending = create(&server, &alpha, "PENDING", "c-2").await;
    let pending_id = pending["id"].as_str().unwrap().to_owned();
    let code = server.code(&pending_id).await;
    let blocked_device = crate::support::load_customer(7);
    for (kind, value) in [("number", "+447400123456".to_owned()), ("device", format!("device-of-{blocked_device}"))] {
        command(
            &[
                "list",
                "add",
                "--brand",
                "alpha",
                "--list",
                "block",
                "--kind",
                kind,
                "--value",
                &value,
                "--reason",
                "fraud ring",
                "--by",
                "fraud-lead",
            ],
            &config_path,
        );
    }
    blocked(&server, "LISTED-0", &blocked_device).await;
    let sealed_before = sealed_by_others(&server, 2).await;
    // Numbers and device ids of 5 verifications, 2 list values, the signing key, queued SMS.
    assert!(sealed_before >= 13, "{sealed_before}");

    // Another instance holds the background work for now: what follows runs on matching alone.
    hold_rotation_work(&server, true).await;
    let out = command(&["keys", "rotate-data-key"], &config_path);
    assert!(out.contains("data key 2 seals new data from"), "{out}");
    let out = command(&["keys", "rotate-lookup-key"], &config_path);
    assert!(out.contains("look-up key 2 keys new data from"), "{out}");
    let (ok, _, err) = run_command(&["keys", "rotate-data-key"], &config_path);
    assert!(!ok && err.contains("not active yet"), "a second rotation waits for the first: {err}");
    let status = command(&["keys", "status"], &config_path);
    assert!(status.lines().any(|l| l.starts_with("data") && l.contains(" 2  pending")), "{status}");

    // Until the new keys are active nothing changes; the instances switch all at once.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(server.app().secrets.active_generation(KeyPurpose::Data), 1);
    let start = server.app().clock.now().millis();
    server.app().clock.set_simulated(Some(Timestamp(start + 3 * MINUTE)));
    switched(&server).await;
    assert_eq!(count(&server, "SELECT COUNT(*) AS n FROM verifications WHERE lookup_key = 1").await, 5);

    // The overlap: what look-up key 1 keyed is matched. c-1's three codes still count (two more,
    // then the number's limit), the block-list entries still block, and the verification started
    // before the rotation is confirmed with its code.
    for n in 0..2 {
        assert_eq!(create(&server, &beta, &format!("AFTER-{n}"), "c-1").await["status"], "pending");
    }
    let refused = create(&server, &beta, "AFTER-LIMIT", "c-1").await;
    assert_eq!(
        (refused["status"].as_str(), &refused["risk"]["reasons"]),
        (Some("blocked"), &json!(["sms_limit_number"])),
        "{refused}"
    );
    blocked(&server, "LISTED-1", "c-uk").await;
    blocked(&server, "LISTED-2", &blocked_device).await;
    let (status, body) =
        server.post(&alpha, &format!("/v1/verifications/{pending_id}/check"), json!({ "code": code })).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    assert!(body["receipt"].as_str().is_some_and(|r| r.split('.').count() == 3), "{body}");
    // The person is found by their number, stored under the old key; the export reads the number.
    let export_path = server_dir(&config_path).join("export.json");
    command(
        &[
            "subject",
            "export",
            "--brand",
            "alpha",
            "--phone",
            "+4917612345678",
            "--reference",
            "KEYS-1",
            "--out",
            export_path.to_str().unwrap(),
        ],
        &config_path,
    );
    let export: Value = serde_json::from_str(&std::fs::read_to_string(&export_path).unwrap()).unwrap();
    let verifications = export["verifications"].as_array().unwrap();
    assert_eq!(verifications.len(), 1, "{export}");
    assert_eq!(verifications[0]["phone"], "+4917612345678", "{export}");

    // The background rounds: everything sealed again with data key 2 and keyed again with
    // look-up key 2; data key 1 retires once the switch has settled (ten minutes).
    hold_rotation_work(&server, false).await;
    server.app().clock.set_simulated(Some(Timestamp(start + 13 * MINUTE)));
    let done = rotation_work_done(&server).await;
    assert_eq!(done.unrekeyable, 0);
    wait_for_retirement(&server, KeyPurpose::Data, 1).await;
    assert_eq!(sealed_by_others(&server, 2).await, 0);
    assert_eq!(count(&server, "SELECT COUNT(*) AS n FROM verifications WHERE lookup_key <> 2").await, 0);
    assert_eq!(count(&server, "SELECT COUNT(*) AS n FROM risk_lists WHERE lookup_key <> 2").await, 0);
    assert_eq!(key_state(&server, KeyPurpose::Lookup, 2).await, (true, None));
    let app = server.app();
    let ring = keyring::status(&app.store, &app.secrets, app.clock.now()).await.unwrap();
    let lookup_1 = ring.keys.iter().find(|(r, _)| r.purpose == KeyPurpose::Lookup && r.generation == 1).unwrap();
    assert_eq!((lookup_1.0.retired_at, lookup_1.1), (None, false), "the previous look-up key is still matched");
    // The command reads the wall clock, which the server's simulated one has left behind.
    let status = command(&["keys", "status"], &config_path);
    assert!(status.lines().any(|l| l.starts_with("data") && l.contains(" 1  retired")), "{status}");
    assert!(status.contains("still sealed by an older data key: 0"), "{status}");

    // Past the overlap, look-up key 1 retires, and the lists, keyed again, still block.
    server.app().clock.set_simulated(Some(Timestamp(start + 92 * DAY)));
    wait_for_retirement(&server, KeyPurpose::Lookup, 1).await;
    for _ in 0..100 {
        if server.app().secrets.lookup_keys().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.app().secrets.lookup_keys().len(), 1, "the next reload drops the retired key");
    blocked(&server, "LISTED-3", "c-uk").await;
    blocked(&server, "LISTED-4", &blocked_device).await;
    server.stop().await;
}

fn server_dir(config_path: &Path) -> PathBuf {
    config_path.parent().unwrap().to_path_buf()
}

async fn the_master_secret_is_rotated(db: Db) {
    let server = TestServer::start(db).await;
    let created = server.create(&server.alpha_key, "MASTER-1", "c-2").await;
    let id = created["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    let db = server.stop_keeping_database().await;

    // Step 1: every instance gets the new master as secret_key and the old as previous_secret_key.
    let both = config_file(&db, "").to_str().unwrap().to_owned();
    let text = std::fs::read_to_string(&both).unwrap().replacen(
        &format!("secret_key = \"{SECRET}\""),
        &format!("secret_key = \"{NEW_SECRET}\"\nprevious_secret_key = \"{SECRET}\""),
        1,
    );
    std::fs::write(&both, &text).unwrap();
    let during = TestServer::start_with(db, |s| {
        s.secret_key = Some(NEW_SECRET.into());
        s.previous_secret_key = Some(SECRET.into());
    })
    .await;
    // Step 2: the ring is wrapped again with the new master while that instance runs.
    let out = command(&["keys", "rewrap"], Path::new(&both));
    assert!(out.starts_with("4 key(s) wrapped again"), "{out}");
    assert!(command(&["keys", "rewrap"], Path::new(&both)).starts_with("0 key(s)"));
    let db = during.stop_keeping_database().await;

    // Step 3: previous_secret_key removed; the old master alone no longer opens anything.
    let new_only = db.dir.0.join("new-only.toml");
    std::fs::write(&new_only, text.replacen(&format!("previous_secret_key = \"{SECRET}\"\n"), "", 1)).unwrap();
    let status = command(&["keys", "status"], &new_only);
    let new_id = orderguard::crypto::keyring::MasterSecret::new(Secrets::parse_master_key(NEW_SECRET).unwrap()).id();
    assert_eq!(status.lines().filter(|l| l.contains(&new_id)).count(), 4, "{status}");
    let old_only = config_file(&db, "");
    let (ok, _, err) = run_command(&["keys", "status"], &old_only);
    assert!(!ok && err.contains("previous_secret_key"), "a readable refusal: {err}");
    let (ok, out, _) = run_command(&["doctor"], &old_only);
    assert!(!ok && out.lines().any(|l| l.starts_with("FAIL  key ring") && l.contains("previous_secret_key")), "{out}");
    let (_, out, _) = run_command(&["doctor"], &new_only);
    let line = out.lines().find(|l| l.contains("key ring")).unwrap_or_default();
    assert_eq!(line, format!("ok    key ring: 4 key(s) unwrap with secret_key {new_id}"), "{out}");

    let after = TestServer::start_with(db, |s| s.secret_key = Some(NEW_SECRET.into())).await;
    let (status, body) =
        after.post(&after.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    let (status, body) = after.get(&after.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!(status, 200, "{body}");
    let (ok, out, err) = run_command(&["audit", "verify"], &new_only);
    assert!(ok, "the audit chain still verifies: {out}{err}");

    // Replacing the pseudonym key (the documented procedure): its row deleted while no instance
    // runs, the next start makes a new one; new pseudonyms, the old verification still readable.
    let old_pseudonym = pseudonym_of(&after, &id).await;
    let db = after.stop_keeping_database().await;
    let (ok, out, err) = run_command(&["keys", "status"], &new_only);
    assert!(ok && out.lines().any(|l| l.starts_with("pseudonym")), "{out}{err}");
    let store = orderguard::store::Store::open(&orderguard::store::DatabaseUrl::parse(&db.url).unwrap()).await.unwrap();
    store.write(|conn| conn.execute("DELETE FROM keyring WHERE purpose = 'pseudonym'", &[])).await.unwrap();
    drop(store);
    let replaced = TestServer::start_with(db, |s| s.secret_key = Some(NEW_SECRET.into())).await;
    let again = replaced.create(&replaced.alpha_key, "MASTER-2", "c-2").await;
    let new_pseudonym = pseudonym_of(&replaced, again["id"].as_str().unwrap()).await;
    assert_ne!(new_pseudonym, old_pseudonym);
    assert_eq!(pseudonym_of(&replaced, &id).await, old_pseudonym);
    let (status, body) = replaced.get(&replaced.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    replaced.stop().await;
}

async fn pseudonym_of(server: &TestServer, id: &str) -> String {
    let id = id.to_owned();
    let record = server
        .app()
        .store
        .read(move |conn| orderguard::store::verifications::find_by_id(conn, &id))
        .await
        .unwrap()
        .unwrap();
    record.customer_ref
}
