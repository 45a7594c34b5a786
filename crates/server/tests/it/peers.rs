//! Real protocol peers written for node (tests/peers/*), started as child processes on loopback:
//! each prints one `ready key=value …` line on stdout once it listens.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct NodePeer {
    pub child: Child,
    ready: String,
}

pub fn peer_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers").join(name)
}

impl NodePeer {
    /// Runs `node tests/peers/<dir>/<script> <args>` and waits for its ready line. `needs` is a
    /// package the peer must have installed (`None` for a peer without dependencies).
    pub async fn start(dir: &str, script: &str, needs: Option<&str>, args: &[String]) -> Self {
        let dir = peer_dir(dir);
        if let Some(package) = needs {
            assert!(
                dir.join("node_modules").join(package).is_dir(),
                "the peer in {} is not installed: run `npm ci --prefix {}` (scripts/test does)",
                dir.display(),
                dir.display()
            );
        }
        let mut child = Command::new("node")
            .arg(dir.join(script))
            .args(args)
            .stdout(Stdio::piped())
            // Their session logs are noise in a passing run: `OG_PEER_LOG=1` shows them.
            .stderr(if std::env::var_os("OG_PEER_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
            .kill_on_drop(true)
            .spawn()
            .expect("node must be installed to run the test peers");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{script} did not start within 60 s"))
            .unwrap()
            .unwrap_or_else(|| panic!("{script} exited before it was ready"));
        assert!(ready.starts_with("ready "), "unexpected first line from {script}: {ready}");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, ready }
    }

    /// The value of `key=` in the ready line.
    pub fn ready_value(&self, key: &str) -> String {
        self.ready
            .split_whitespace()
            .find_map(|part| part.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
            .unwrap_or_else(|| panic!("no {key}= in `{}`", self.ready))
            .to_owned()
    }

    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}
