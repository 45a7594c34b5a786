//! Running on PostgreSQL in production, against clusters the tests start themselves: TLS with
//! certificate checks, dashboards on a streaming replica, a restore from `pg_dump`.

use crate::admin::{Browser, PASSWORD, add_user};
use crate::clusters::{Cluster, hand_to_server};
use crate::support::{Db, TempDir, TestServer, approve, config_for, run_command, test_certificates};

/// `orderguard migrate --check` with `database_url`: whether it connected, and what it said.
fn migrate_check(database_url: &str, dir: &TempDir) -> (bool, String) {
    let path = dir.0.join("orderguard.toml");
    std::fs::write(&path, config_for(database_url)).unwrap();
    let (_, stdout, stderr) = run_command(&["migrate", "--check"], &path);
    let connected = !stderr.contains("error:");
    (connected, stdout + &stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_over_tls_checks_the_servers_certificate() {
    let certs_dir = TempDir::new();
    // The certificate names `localhost` only: connecting by address must fail verify-full.
    let certs = test_certificates(&certs_dir.0, "localhost", "DNS:localhost");
    let other_dir = TempDir::new();
    let other_ca = test_certificates(&other_dir.0, "elsewhere", "DNS:localhost").ca;
    for file in [&certs.key, &certs.certificate] {
        hand_to_server(file);
    }
    let settings = format!(
        "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
        certs.certificate.display(),
        certs.key.display()
    );
    // TCP only with TLS; psql of the test itself comes over the socket.
    let hba = "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n";
    let Some(cluster) = Cluster::start(&settings, hba) else { return };
    let ca = certs.ca.display().to_string();
    let scratch = TempDir::new();

    let verified = cluster.url("localhost", &format!("sslmode=verify-full&sslrootcert={ca}"));
    let server = TestServer::start(Db::at(verified)).await;
    let approved = approve(&server, "TLS-1").await;
    assert!(approved["receipt"].is_string(), "{approved}");
    let encrypted = cluster.psql(
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE ssl AND client_addr IS NOT NULL AND backend_type = 'client backend'",
    );
    let plain = cluster.psql(
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE NOT ssl AND client_addr IS NOT NULL AND backend_type = 'client backend'",
    );
    assert!(encrypted.parse::<u32>().unwrap() >= 1 && plain == "0", "TLS: {encrypted}, plain: {plain}");
    server.stop().await;

    // `doctor` says how the connection travels.
    let config = scratch.0.join("doctor.toml");
    std::fs::write(&config, config_for(&cluster.url("localhost", &format!("sslmode=verify-full&sslrootcert={ca}"))))
        .unwrap();
    let (_, out, err) = run_command(&["doctor"], &config);
    assert!(out.contains("database: PostgreSQL answers (TLS, certificate and host name checked)"), "{out}{err}");

    // The certificate does not name 127.0.0.1: verify-full refuses, verify-ca (chain only) connects.
    let by_address = cluster.url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}"));
    let (connected, said) = migrate_check(&by_address, &scratch);
    assert!(!connected && said.contains("cannot connect to PostgreSQL") && said.contains("not valid for"), "{said}");
    let chain_only = cluster.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"));
    let (connected, said) = migrate_check(&chain_only, &scratch);
    assert!(connected && said.contains("up to date"), "{said}");
    // verify-ca checks the chain: a CA that did not sign the certificate is refused.
    let wrong_chain = cluster.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={}", other_ca.display()));
    let (connected, said) = migrate_check(&wrong_chain, &scratch);
    assert!(!connected && said.contains("UnknownIssuer"), "{said}");

    // A CA that did not sign the server's certificate, and plain text, are refused.
    let wrong_ca = cluster.url("localhost", &format!("sslmode=verify-full&sslrootcert={}", other_ca.display()));
    let (connected, said) = migrate_check(&wrong_ca, &scratch);
    assert!(!connected && said.contains("UnknownIssuer"), "{said}");
    let (connected, said) = migrate_check(&cluster.url("localhost", "sslmode=disable"), &scratch);
    assert!(!connected && said.contains("no encryption"), "{said}");
    // `require` encrypts without checking (libpq's meaning): it connects despite the name.
    let (connected, said) = migrate_check(&cluster.url("127.0.0.1", "sslmode=require"), &scratch);
    assert!(connected, "{said}");
}

/// The verifications pending for Alpha on the admin home, and its line about the replica.
async fn home_of_alpha(browser: &mut Browser) -> (u32, String) {
    let home = browser.get("/admin").await;
    assert_eq!(home.status, 200, "{}", home.html);
    let alpha = home.html.split("id=\"brand-alpha\"").nth(1).unwrap();
    let pending = alpha.split("<td>pending</td><td>").nth(1).unwrap().split('<').next().unwrap().parse().unwrap();
    let replica = home.html.split("id=\"replica-lag\">").nth(1).map_or("", |l| l.split('<').next().unwrap());
    (pending, replica.to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboards_read_from_a_streaming_replica_and_show_its_lag() {
    let hba = "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n";
    let Some(primary) = Cluster::start("", hba) else { return };
    let replica = Cluster::replica_of(&primary);
    assert_eq!(replica.psql("SELECT pg_is_in_recovery()"), "t");
    let db = Db::at(primary.url("127.0.0.1", ""));
    let (ok, err) = add_user(&db, &["--username", "ops", "--role", "operator"]);
    assert!(ok, "{err}");
    let read_url = replica.url("127.0.0.1", "");
    let server = TestServer::start_with(db, |s| s.database_read_url = Some(read_url.into())).await;
    let mut browser = Browser::new(&server);
    browser.sign_in("ops", PASSWORD).await;

    let caught_up = |pending: u32| {
        let mut browser = Browser::new(&server);
        async move {
            browser.sign_in("ops", PASSWORD).await;
            for _ in 0..100 {
                let (shown, line) = home_of_alpha(&mut browser).await;
                if shown == pending && line.contains("up to date") {
                    return line;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("the replica did not catch up with {pending} pending: {:?}", home_of_alpha(&mut browser).await);
        }
    };
    assert_eq!(caught_up(0).await, "Dashboards read from a replica: up to date.");

    // Replay paused: the primary has a new pending verification, the dashboards do not yet.
    replica.psql("SELECT pg_wal_replay_pause()");
    let created = server.create(&server.alpha_key, "R-1", "c-1").await;
    assert_eq!(created["status"], "pending");
    assert_eq!(primary.psql("SELECT count(*) FROM verifications WHERE status = 'pending' AND brand = 'alpha'"), "1");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (pending, line) = home_of_alpha(&mut browser).await;
    assert_eq!(pending, 0, "read from the paused replica");
    assert!(line.contains(" s behind (") && line.ends_with("replay is paused on the replica."), "{line}");

    // `doctor` checks the replica too, and says replay is paused.
    let config = TempDir::new();
    let text = config_for(&primary.url("127.0.0.1", "")).replacen(
        "[metrics]",
        &format!("database_read_url = \"{}\"\n\n[metrics]", replica.url("127.0.0.1", "")),
        1,
    );
    std::fs::write(config.0.join("orderguard.toml"), text).unwrap();
    let (_, out, err) = run_command(&["doctor"], &config.0.join("orderguard.toml"));
    let line = out.lines().find(|l| l.contains("read replica:")).unwrap_or_default();
    assert!(line.starts_with("ok") && line.contains("behind the primary; replay is paused"), "{out}{err}");

    replica.psql("SELECT pg_wal_replay_resume()");
    caught_up(1).await;
    server.stop().await;
}

/// The trace page's content (without the session's CSRF tokens).
async fn trace_of(browser: &mut Browser, order_id: &str) -> String {
    let page = browser.get(&format!("/admin/trace?brand=alpha&order={order_id}")).await;
    assert_eq!(page.status, 200, "{}", page.html);
    let main = page.html.split("<main>").nth(1).unwrap().split("</main>").next().unwrap();
    main.lines().filter(|l| !l.contains("name=\"csrf\"")).collect::<Vec<_>>().join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pg_dump_restores_into_a_new_database_with_receipts_and_traces() {
    let Some(cluster) = Cluster::start("", "local all all trust\nhost all all 127.0.0.1/32 trust\n") else { return };
    let db = Db::at(cluster.database_url("postgres"));
    let (ok, err) = add_user(&db, &["--username", "ops", "--role", "operator"]);
    assert!(ok, "{err}");
    let server = TestServer::start(db).await;
    let approved = approve(&server, "B-1").await;
    let id = approved["id"].as_str().unwrap().to_owned();
    let receipt = approved["receipt"].as_str().unwrap().to_owned();
    let mut browser = Browser::new(&server);
    browser.sign_in("ops", PASSWORD).await;
    let trace = trace_of(&mut browser, "B-1").await;
    assert!(trace.contains(&id) && trace.contains("approved"), "{trace}");

    // The backup is taken while the server serves, as in production (one consistent snapshot).
    let dump = cluster.dir.0.join("orderguard.dump");
    let dump_path = dump.display().to_string();
    cluster.client("pg_dump", &["--format=custom", "--dbname=postgres", "--file", &dump_path]);
    let first_base = server.base.clone();
    server.stop().await;
    cluster.psql("CREATE DATABASE restored");
    cluster.client("pg_restore", &["--exit-on-error", "--dbname=restored", &dump_path]);

    let restored = TestServer::start(Db::at(cluster.database_url("restored"))).await;
    let (status, read) = restored.get(&restored.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!((status, read["status"].as_str()), (200, Some("approved")), "{read}");
    assert_eq!(read["receipt"].as_str(), Some(receipt.as_str()));
    // The restored server still holds the key the receipt was signed with.
    let claims = crate::api_flow::verify_receipt(&restored, &receipt).await;
    assert_eq!(claims["order_id"], "B-1", "{claims}");

    crate::admin::authenticator::carried_over(&first_base, &restored.base, "ops");
    let mut browser = Browser::new(&restored);
    let signed_in = browser.sign_in("ops", PASSWORD).await;
    assert_eq!(signed_in.location.as_deref(), Some("/admin"), "{}", signed_in.html);
    assert_eq!(trace_of(&mut browser, "B-1").await, trace, "the trace as before the backup");

    let dir = TempDir::new();
    std::fs::write(dir.0.join("orderguard.toml"), config_for(&restored.database_url)).unwrap();
    let (ok, stdout, stderr) = run_command(&["audit", "verify"], &dir.0.join("orderguard.toml"));
    assert!(ok, "audit verify: {stdout}{stderr}");
    // The restored database goes on: ids, sequences and keys carry on from the backup.
    approve(&restored, "B-2").await;
    restored.stop().await;
}
