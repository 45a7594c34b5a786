//! The receivers that docs/webhooks.md shows (docs/receivers: Node with `standardwebhooks` and
//! `jose`, Python with `standardwebhooks` and PyJWT, Go with its standard library only) run
//! against the real server: each verifies the deliveries and, on `verification.approved`, the
//! receipt; each refuses a delivery that was tampered with. And the docs show them verbatim.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use orderguard::config::WebhookConfig;
use serde_json::{Value, json};

use crate::on_both_databases;
use crate::support::{Db, TestServer, free_port};
use crate::webhooks::secret_var;

on_both_databases!(the_documented_receivers_verify_webhooks_and_receipts);

fn repository() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A receiver process and the lines it printed.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn next_line(&self) -> Value {
        let line = self.lines.recv_timeout(Duration::from_secs(20)).expect("a line from the receiver");
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"))
    }
}

/// The command that runs each receiver (scripts/test sets up what they need).
fn command(language: &str) -> Command {
    let root = repository();
    match language {
        "node" => {
            let mut c = Command::new("node");
            c.arg(root.join("docs/receivers/node/receiver.mjs"));
            c
        }
        "python" => {
            let python = root.join("docs/receivers/python/.venv/bin/python");
            assert!(python.exists(), "run scripts/test once: it sets up docs/receivers/python/.venv");
            let mut c = Command::new(python);
            c.arg(root.join("docs/receivers/python/receiver.py"));
            c
        }
        _ => {
            let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-receiver");
            let built = Command::new("go")
                .args(["build", "-o"])
                .arg(&out)
                .arg(".")
                .current_dir(root.join("docs/receivers/go"))
                .env("GOPROXY", "off")
                .env("GOFLAGS", "-mod=mod")
                .output()
                .expect("Go (Debian's golang; scripts/test installs it)");
            assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
            Command::new(out)
        }
    }
}

/// The receiver of `language` for the server at `base`, with the brand's API key.
fn start(language: &str, base: &str, key: &str, secret: &str) -> Running {
    let port = free_port();
    let mut child = command(language)
        .env("PORT", port.to_string())
        .env("ORDERGUARD_URL", base)
        .env("ORDERGUARD_BRAND", "alpha")
        .env("ORDERGUARD_API_KEY", key)
        .env("ORDERGUARD_WEBHOOK_SECRET", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting the {language} receiver: {e}"));
    let (send, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines.recv_timeout(Duration::from_secs(30)).expect("the receiver started");
    assert_eq!(first, "listening", "{language}");
    Running { child, lines, url: format!("http://127.0.0.1:{port}/webhooks") }
}

async fn the_documented_receivers_verify_webhooks_and_receipts(db: Db) {
    let languages = ["node", "python", "go"];
    let secrets: Vec<(String, String)> = languages.iter().map(|_| secret_var()).collect();
    // The receivers need the server's URL and a key, the server their URLs: the key is made and
    // the port chosen before either starts.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let store = orderguard::prepare_store(&crate::support::settings(&db, |_| {}), crate::support::now()).await.unwrap();
    let key = orderguard::service::api_keys::create(&store, "alpha", "receivers", crate::support::now()).await.unwrap();
    drop(store);
    let receivers: Vec<Running> =
        languages.iter().zip(&secrets).map(|(language, (_, secret))| start(language, &base, &key, secret)).collect();
    let hooks: Vec<WebhookConfig> = languages
        .iter()
        .zip(&secrets)
        .zip(&receivers)
        .map(|((language, (var, _)), receiver)| WebhookConfig {
            name: (*language).into(),
            url: receiver.url.clone(),
            events: vec!["verification.created".into(), "verification.approved".into()],
            secrets: vec![format!("${{env:{var}}}").into()],
            signing_key: None,
            enabled: true,
            description: None,
        })
        .collect();
    let server = TestServer::start_with(db, move |s| {
        s.listen = format!("127.0.0.1:{port}");
        s.webhook_private_targets = true;
        s.brands[0].webhooks = hooks;
    })
    .await;
    assert_eq!(server.base, base);

    let created = server.create(&server.alpha_key, "DOC-1", "c-1").await;
    let id = created["id"].as_str().unwrap().to_owned();
    let code = server.code(&id).await;
    let (status, _) =
        server.post(&server.alpha_key, &format!("/v1/verifications/{id}/check"), json!({ "code": code })).await;
    assert_eq!(status, 200);

    for (language, receiver) in languages.iter().zip(&receivers) {
        let mut lines = [receiver.next_line(), receiver.next_line()];
        lines.sort_by_key(|l| l["type"].as_str().unwrap_or_default().to_owned());
        let [approved, created] = lines;
        assert_eq!(
            (&approved["type"], &approved["receipt"]),
            (&json!("verification.approved"), &json!("valid")),
            "{language}: {approved}"
        );
        assert_eq!((&approved["verification_id"], &approved["order_id"]), (&json!(id), &json!("DOC-1")), "{language}");
        assert_eq!(
            (&created["type"], &created["receipt"]),
            (&json!("verification.created"), &Value::Null),
            "{language}"
        );
        assert!(approved["webhook_id"].as_str().is_some_and(|w| w.starts_with("msg_alpha_")), "{language}");

        // A delivery as it arrived, with one byte of the body changed: refused.
        let timestamp = (orderguard::clock::real_now().millis() / 1000).to_string();
        let body = r#"{"type":"verification.approved","timestamp":"2026-12-06T00:00:00Z","data":{"brand":"alpha"}}"#;
        let (_, secret) = &secrets[languages.iter().position(|l| l == language).unwrap()];
        let secret = orderguard::webhooks::signature::WebhookSecret::parse(secret).unwrap();
        let signature =
            orderguard::webhooks::signature::sign(&[secret], None, "msg_forged", timestamp.parse().unwrap(), body);
        let tampered = body.replace("alpha", "alphb");
        let response = server
            .http
            .post(&receiver.url)
            .header("webhook-id", "msg_forged")
            .header("webhook-timestamp", &timestamp)
            .header("webhook-signature", &signature)
            .body(tampered)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{language}");
        assert!(receiver.next_line()["rejected"].is_string(), "{language}");
    }
}

/// Each receiver file is in docs/webhooks.md as it is, so the docs show what the test runs.
#[test]
fn the_docs_show_the_receivers_verbatim() {
    let root = repository();
    let docs = std::fs::read_to_string(root.join("docs/webhooks.md")).unwrap();
    for file in ["docs/receivers/node/receiver.mjs", "docs/receivers/python/receiver.py", "docs/receivers/go/main.go"] {
        let code = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(docs.contains(code.trim_end()), "{file} is not shown verbatim in docs/webhooks.md");
    }
}
