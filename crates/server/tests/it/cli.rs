//! The command line: API keys, migrations, readable errors.

use std::process::Command;

use crate::on_both_databases;
use crate::support::{Db, config, run_command as orderguard};

on_both_databases!(
    api_keys_are_created_listed_and_revoked,
    signing_key_rotation_publishes_before_signing,
    migrate_check_lists_what_is_to_apply_and_changes_nothing
);

async fn api_keys_are_created_listed_and_revoked(db: Db) {
    let config_path = db.dir.0.join("orderguard.toml");
    std::fs::write(&config_path, config(&db)).unwrap();
    let (ok, out, _) = orderguard(&["migrate"], &config_path);
    assert!(ok && out.contains("up to date"), "{out}");

    let (ok, key, err) = orderguard(&["apikey", "create", "--brand", "alpha", "--label", "shop backend"], &config_path);
    assert!(ok, "{err}");
    let key = key.trim().to_owned();
    assert!(key.starts_with("og_") && key.len() >= 35, "{key}");
    assert!(err.contains("shown once"));

    let (ok, listing, _) = orderguard(&["apikey", "list", "--brand", "alpha"], &config_path);
    assert!(ok);
    assert!(listing.contains(&key[..9]) && listing.contains("shop backend") && listing.contains("active"), "{listing}");
    assert!(!listing.contains(&key), "the secret is never shown again");
    let id = listing.lines().nth(1).unwrap().split_whitespace().next().unwrap().to_owned();

    let settings = orderguard::config::Settings::load(&config_path).unwrap();
    let server = orderguard::start(settings.clone()).await.unwrap();
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::new();
    let status = |key: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            http.get(format!("{base}/v1/verifications/x")).bearer_auth(key).send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(status(key.clone()).await, 404, "a valid key reaches the API");
    server.stop().await;

    let (ok, out, err) = orderguard(&["apikey", "revoke", "--brand", "alpha", &id], &config_path);
    assert!(ok, "{err}");
    assert!(out.contains("revoked"));
    let (ok, _, err) = orderguard(&["apikey", "revoke", "--brand", "beta", &id], &config_path);
    assert!(!ok && err.contains("no active API key"), "another brand cannot revoke it: {err}");

    let server = orderguard::start(settings).await.unwrap();
    let base = format!("http://{}", server.addr);
    let code = http.get(format!("{base}/v1/verifications/x")).bearer_auth(&key).send().await.unwrap().status().as_u16();
    assert_eq!(code, 401, "a revoked key is refused");
    server.stop().await;

    let (ok, _, err) = orderguard(&["apikey", "create", "--brand", "nope"], &config_path);
    assert!(!ok && err.contains("brand `nope` is not in the configuration"), "{err}");
}

/// `orderguard migrate --check` as a deploy pipeline runs it: the exit status, and what it printed.
fn migrate_check(config_path: &std::path::Path) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_orderguard"))
        .args(["migrate", "--check", "--config"])
        .arg(config_path)
        .output()
        .unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned())
}

async fn migrate_check_lists_what_is_to_apply_and_changes_nothing(db: Db) {
    let config_path = db.dir.0.join("orderguard.toml");
    std::fs::write(&config_path, config(&db)).unwrap();
    let url = orderguard::store::DatabaseUrl::parse(&db.url).unwrap();
    let sqlite_file = match &url {
        orderguard::store::DatabaseUrl::Sqlite(path) => Some(path.clone()),
        orderguard::store::DatabaseUrl::Postgres(_) => None,
    };

    let (status, out) = migrate_check(&config_path);
    assert_eq!(status, Some(3), "a new database has every migration to apply: {out}");
    match &sqlite_file {
        Some(path) => {
            assert!(out.contains("no database at"), "{out}");
            assert!(!path.exists(), "the check created no SQLite file");
        }
        None => {
            assert!(out.contains("0001  ") && out.contains("0026  The orders behind"), "{out}");
            let (status, again) = migrate_check(&config_path);
            assert_eq!((status, &again), (Some(3), &out), "the check applied nothing");
        }
    }

    let (ok, _, err) = orderguard(&["migrate"], &config_path);
    assert!(ok, "{err}");
    let (status, out) = migrate_check(&config_path);
    assert_eq!(status, Some(0), "{out}");
    assert!(out.contains("database is up to date (migration 0028)"), "{out}");

    // One migration undone, as on a database of the version before: listed, with what it does.
    let store = orderguard::store::Store::open(&url).await.unwrap();
    store
        .write(|conn| {
            conn.execute_batch("DROP INDEX events_brand_type_at; DELETE FROM schema_migrations WHERE version = 26")
        })
        .await
        .unwrap();
    let (status, out) = migrate_check(&config_path);
    assert_eq!(status, Some(3), "{out}");
    assert!(
        out.contains("1 migration(s) to apply") && out.contains("0026  The orders behind a dashboard figure"),
        "{out}"
    );

    // A database a newer version migrated: nothing to apply here, and it says so.
    store
        .write(|conn| {
            conn.execute_batch(
                "CREATE INDEX events_brand_type_at ON events (brand, type, at); \
                 INSERT INTO schema_migrations (version, applied_at) VALUES (26, 0), (9999, 0)",
            )
        })
        .await
        .unwrap();
    drop(store);
    let (status, out) = migrate_check(&config_path);
    assert_eq!(status, Some(0), "{out}");
    assert!(out.contains("does not know (9999)") && out.contains("up to date (migration 9999)"), "{out}");

    // A migration that cannot apply (its columns are there already): named once, readably.
    let store = orderguard::store::Store::open(&url).await.unwrap();
    store.write(|conn| conn.execute_batch("DELETE FROM schema_migrations WHERE version = 25")).await.unwrap();
    drop(store);
    let (ok, _, err) = orderguard(&["migrate"], &config_path);
    assert!(!ok && err.lines().any(|l| l.starts_with("error: database: migration 25 failed: ")), "{err}");
    assert_eq!(err.matches("migration 25 failed").count(), 1, "{err}");
}

#[test]
fn configuration_errors_are_readable() {
    let dir = crate::support::TempDir::new();
    let path = dir.0.join("bad.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:0\"\nlisen = 1\n").unwrap();
    let output =
        Command::new(env!("CARGO_BIN_EXE_orderguard")).args(["migrate", "--config"]).arg(&path).output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(err.contains("bad.toml") && err.contains("lisen"), "{err}");
    let output = Command::new(env!("CARGO_BIN_EXE_orderguard"))
        .args(["migrate", "--config", "/nonexistent/og.toml"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read /nonexistent/og.toml"));
}

fn receipt_kid(receipt: &str) -> String {
    use base64::Engine;
    let header = receipt.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn approve(server: &crate::support::TestServer, order: &str) -> String {
    let id = server.create(&server.alpha_key, order, "c-1").await["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    let (_, body) = server
        .post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), serde_json::json!({ "code": code }))
        .await;
    body["receipt"].as_str().unwrap().to_owned()
}

async fn signing_key_rotation_publishes_before_signing(db: Db) {
    let config_path = db.dir.0.join("orderguard.toml");
    std::fs::write(&config_path, config(&db)).unwrap();
    let server = crate::support::TestServer::start(db).await;
    let first = receipt_kid(&approve(&server, "R-1").await);

    let (ok, out, err) = orderguard(&["keys", "rotate"], &config_path);
    assert!(ok && out.contains("new signing key"), "{out}{err}");
    // Instances reload the keys every 30 sweeps (3 s with the tests' 100 ms sweep).
    let mut published = Vec::new();
    for _ in 0..100 {
        let jwks: serde_json::Value = server
            .http
            .get(format!("{}/.well-known/jwks.json", server.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        published = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect();
        if published.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(published.len(), 2, "both keys are published during the rotation");
    assert!(published.contains(&first));
    // The new key is published, but signs only once shops' JWKS caches can know it.
    assert_eq!(receipt_kid(&approve(&server, "R-2").await), first);
    let (ok, listing, _) = orderguard(&["keys", "list"], &config_path);
    assert!(ok && listing.lines().count() == 2, "{listing}");
    server.stop().await;
}

/// `config check` reads no database: it runs once, not per database.
#[test]
fn config_check_reports_texts_sms_length_and_contrast() {
    let db = Db::sqlite();
    let config_path = db.dir.0.join("orderguard.toml");
    let base = config(&db);
    let extra = r##"
[brands.theme]
primary_color = "#f2a900"
accent_color = "#0b4f8a"

[brands.texts.de]
confirm-button = "Kaufen"
confrim-button = "Tippfehler"

[brands.sms_templates]
de = "{brand}: Ihr Code lautet {code}. Betrag {amount}. Gültig {minutes} Minuten. Geben Sie diesen Code niemals an Dritte weiter, auch nicht an unsere Mitarbeiter. Грüße"
"##;
    std::fs::write(&config_path, format!("{base}{extra}")).unwrap();
    let (ok, out, err) = orderguard(&["config", "check"], &config_path);
    assert!(ok, "warnings do not fail the check: {out}{err}");
    assert!(out.contains("theme.primary_color #f2a900: white text on it has a contrast of"), "{out}");
    assert!(out.contains("texts.de.confrim-button is unused"), "{out}");
    assert!(out.contains("texts.en.confirm-button is missing"), "{out}");
    assert!(out.contains("SMS de: UCS-2") && out.contains("4 segment(s)"), "{out}");
    assert!(out.contains("SMS en: GSM-7, 1 segment(s)"), "{out}");
    assert!(out.contains("[dev] outbox_page on: development only"), "{out}");
    assert!(out.contains("0 error(s), 5 warning(s)"), "{out}");

    std::fs::write(&config_path, format!("{base}\n[brands.theme]\nlogo = \"missing.png\"\n")).unwrap();
    let (ok, out, err) = orderguard(&["config", "check"], &config_path);
    assert!(!ok);
    assert!(out.contains("error") && out.contains("theme.logo: cannot read") && out.contains("missing.png"), "{out}");
    assert!(err.contains("cannot be used"), "{err}");
}
