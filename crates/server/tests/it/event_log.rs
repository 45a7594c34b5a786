//! The event-log horizon: whole months past it are archived to a file and dropped (a partition on
//! PostgreSQL), once counted; the counters keep them, and a rebuild recounts from the horizon on.

use orderguard::store::{Backend, event_months, rollups};
use orderguard_domain::clock::Timestamp;

use crate::on_both_databases;
use crate::support::{Db, TempDir, TestServer, approve, now, run_command};

on_both_databases!(months_past_the_horizon_are_archived_and_dropped_and_their_counters_kept);

const DAY: i64 = 86_400_000;

/// The `event` counters of Alpha over `[from, to)`, by event type.
async fn counters(server: &TestServer, span: (i64, i64)) -> Vec<(String, i64)> {
    let mut counted =
        server.app().store.read(move |conn| rollups::totals_of(conn, "alpha", "event", span)).await.unwrap();
    counted.sort();
    counted
}

async fn months_past_the_horizon_are_archived_and_dropped_and_their_counters_kept(db: Db) {
    let archive = TempDir::new();
    let archive_dir = archive.0.join("archive");
    let dir_for_settings = archive_dir.clone();
    let server = TestServer::start_with(db, move |s| {
        s.retention.event_log_days = Some(40);
        s.retention.event_log_archive_dir = Some(dir_for_settings);
    })
    .await;
    let store = server.app().store.clone();
    let wall = now().millis();
    let old_at = wall - 100 * DAY;
    let old_month = orderguard::analytics::market::month_of(old_at);
    let old_span = (old_month, orderguard::analytics::market::next_month(old_month));
    let partition = event_months::partition_name(old_month);
    let on_postgres = store.backend() == Backend::Postgres;
    // The month's partition, as the service prepares months ahead in production.
    store.write(move |conn| event_months::prepare(conn, &[old_at])).await.unwrap();

    server.app().clock.set_simulated(Some(Timestamp(old_at)));
    let old = approve(&server, "OLD-1").await;
    let old_id = old["id"].as_str().unwrap().to_owned();
    let old_events = server.logged("alpha", &old_id).await;
    server.app().clock.set_simulated(None);
    let new = approve(&server, "NEW-1").await;
    let new_id = new["id"].as_str().unwrap().to_owned();
    let new_events = server.logged("alpha", &new_id).await.len();
    assert!(old_events.len() >= 4 && old_events.iter().all(|e| e.at >= old_span.0 && e.at < old_span.1));
    if on_postgres {
        let name = partition.clone();
        let holds = store
            .read(move |conn| conn.query_one(&format!("SELECT COUNT(*) AS n FROM {name}"), &[])?.int("n"))
            .await
            .unwrap();
        assert_eq!(holds, i64::try_from(old_events.len()).unwrap(), "the old events are in their month's partition");
    }

    // The service's own round (every 30 sweeps) archives the month once its events are counted.
    let file = archive_dir.join(format!("events-{}.jsonl", &partition["events_".len()..].replace('_', "-")));
    for _ in 0..200 {
        if file.exists() && server.logged("alpha", &old_id).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), old_events.len(), "{lines:?}");
    for (line, event) in lines.iter().zip(&old_events) {
        assert_eq!((line["id"].as_i64(), line["at"].as_i64()), (Some(event.id), Some(event.at)));
        assert_eq!((line["brand"].as_str(), line["type"].as_str()), (Some("alpha"), Some(event.kind.as_str())));
        assert_eq!(line["verification_id"].as_str(), Some(old_id.as_str()));
        assert_eq!(line["attrs"], event.attrs);
    }
    assert!(server.logged("alpha", &old_id).await.is_empty(), "the archived month is gone from the log");
    assert_eq!(server.logged("alpha", &new_id).await.len(), new_events, "this month stays");
    if on_postgres {
        let name = partition.clone();
        let found = store
            .read(move |conn| conn.query_one("SELECT to_regclass($1) IS NOT NULL AS found", &[name.as_str().into()]))
            .await
            .unwrap();
        assert_eq!(found.int("found").unwrap(), 0, "{partition} was dropped");
    }
    // The verification itself is not part of the event log: its receipt is still read.
    let (status, read) = server.get(&server.alpha_key, &format!("/v1/verifications/{old_id}")).await;
    assert_eq!((status, read["status"].as_str()), (200, Some("approved")), "{read}");

    // The counters keep the archived month, also through a rebuild, which recounts the rest.
    let old_counted = counters(&server, old_span).await;
    let new_counted = counters(&server, (old_span.1, wall + DAY)).await;
    assert!(old_counted.iter().any(|(t, n)| t == "verification.approved" && *n == 1), "{old_counted:?}");
    let config = archive.0.join("orderguard.toml");
    let archive_setting =
        format!("\n[retention]\nevent_log_days = 40\nevent_log_archive_dir = \"{}\"\n", archive_dir.display());
    let text = crate::support::config_for(&server.database_url);
    let text = text.replacen("[metrics]", &format!("{archive_setting}\n[metrics]"), 1);
    std::fs::write(&config, text).unwrap();
    let (ok, stdout, stderr) = run_command(&["analytics", "rebuild"], &config);
    // Not on a terminal: no progress bar's control codes in what a log file would keep.
    assert!(ok && !stderr.contains('\u{1b}'), "{stdout}{stderr}");
    assert_eq!(counters(&server, old_span).await, old_counted);
    assert_eq!(counters(&server, (old_span.1, wall + DAY)).await, new_counted);
    let (ok, stdout, stderr) = run_command(&["analytics", "archive"], &config);
    assert!(ok && stdout.contains("nothing older than 40 days"), "{stdout}{stderr}");

    // A late event of an archived month (a clock far off) is counted and stays in the log: it is
    // never removed without being archived, and archiving goes on from the last month archived.
    server.app().clock.set_simulated(Some(Timestamp(old_at + DAY)));
    let late = approve(&server, "LATE-1").await;
    server.app().clock.set_simulated(None);
    let late_id = late["id"].as_str().unwrap().to_owned();
    let late_events = server.logged("alpha", &late_id).await.len();
    let (ok, stdout, stderr) = run_command(&["analytics", "archive"], &config);
    assert!(ok && stdout.contains("nothing older than 40 days"), "{stdout}{stderr}");
    assert_eq!(server.logged("alpha", &late_id).await.len(), late_events);
    assert!(!file.with_extension("2.jsonl").exists());
    server.stop().await;
}
