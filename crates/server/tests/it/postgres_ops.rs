//! Running on PostgreSQL in production, against clusters the tests start themselves: TLS with
//! certificate checks, dashboards on a streaming replica, a restore from `pg_dump`.

use serde_json::json;

use crate::clusters::{Cluster, hand_to_server};
use crate::support::{Db, TempDir, TestServer, config_for, run_command, test_certificates};

/// Approves one verification through the API: the server reads and writes its database.
async fn approve_one(server: &TestServer, order_id: &str) -> serde_json::Value {
    let id = server.create(&server.alpha_key, order_id, "c-1").await["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    let (status, body) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    body
}

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
    let approved = approve_one(&server, "TLS-1").await;
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

    // The certificate does not name 127.0.0.1: verify-full refuses, verify-ca (chain only) connects.
    let by_address = cluster.url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}"));
    let (connected, said) = migrate_check(&by_address, &scratch);
    assert!(!connected && said.contains("cannot connect to PostgreSQL") && said.contains("not valid for"), "{said}");
    let chain_only = cluster.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"));
    let (connected, said) = migrate_check(&chain_only, &scratch);
    assert!(connected && said.contains("up to date"), "{said}");

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
