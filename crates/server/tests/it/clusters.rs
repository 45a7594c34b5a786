//! PostgreSQL clusters of a test's own (initdb and pg_ctl in a temporary folder, on a free port),
//! for what the shared cluster must not be changed for: TLS with a test certificate, a streaming
//! replica, a restore.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{TempDir, free_port};

pub struct Cluster {
    pub port: u16,
    /// Data folder, socket and log; owned by the `postgres` user when the tests run as root.
    pub dir: TempDir,
    bin: PathBuf,
}

impl Cluster {
    /// A new cluster with `settings` added to postgresql.conf and `hba` as pg_hba.conf, started;
    /// `None` (the test says why and returns) where PostgreSQL's server programs are not installed.
    pub fn start(settings: &str, hba: &str) -> Option<Self> {
        let Some(bin) = server_programs() else {
            eprintln!("skipped: PostgreSQL's server programs (initdb, pg_ctl) are not installed");
            return None;
        };
        let cluster = Self { port: free_port(), dir: owned_dir(), bin };
        let data = cluster.data();
        cluster.run("initdb", &["--auth=trust", "--username=postgres", "--no-sync", "--no-instructions", "-D"], &data);
        append(&data.join("postgresql.conf"), settings);
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        cluster.start_server();
        Some(cluster)
    }

    /// A streaming replica of `primary` (which must allow replication connections), taken with
    /// `pg_basebackup`, started on a port of its own.
    pub fn replica_of(primary: &Cluster) -> Self {
        let replica = Self { port: free_port(), dir: owned_dir(), bin: primary.bin.clone() };
        let data = replica.data();
        let port = primary.port.to_string();
        let args = ["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-X", "stream", "-R", "--no-sync", "-D"];
        replica.run("pg_basebackup", &args, &data);
        replica.start_server();
        replica
    }

    /// `postgres://postgres@HOST:PORT/postgres` and `options` as its query.
    pub fn url(&self, host: &str, options: &str) -> String {
        let query = if options.is_empty() { String::new() } else { format!("?{options}") };
        format!("postgres://postgres@{host}:{}/postgres{query}", self.port)
    }

    /// The URL of the database `name` in this cluster, by address.
    pub fn database_url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs one of PostgreSQL's client programs against this cluster's socket, as its user
    /// (`-h SOCKET -p PORT -U postgres` come before `args`.
    /// `-h SOCKET -p PORT -U postgres` come before `args`); returns what it prints.
    pub fn client(&self, program: &str, args: &[&str]) -> String {
        let socket = self.data().display().to_string();
        let port = self.port.to_string();
        let out =
            self.command(program).args(["-h", &socket, "-p", &port, "-U", "postgres"]).args(args).output().unwrap();
        assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Runs `sql` with psql over the cluster's own socket (which pg_hba.conf must trust) and
    /// returns what it prints, unaligned, without headers.
    pub fn psql(&self, sql: &str) -> String {
        self.client("psql", &["-d", "postgres", "-XAtq", "-c", sql])
    }

    pub fn data(&self) -> PathBuf {
        self.dir.0.join("data")
    }

    fn start_server(&self) {
        let options = format!("-p {} -c listen_addresses=127.0.0.1 -k {}", self.port, self.data().display());
        let log = self.dir.0.join("server.log");
        let out = self
            .command("pg_ctl")
            .args(["-D"])
            .arg(self.data())
            .args(["-l"])
            .arg(&log)
            .args(["-o", &options, "-w", "-t", "60", "start"])
            .output()
            .unwrap();
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(out.status.success(), "pg_ctl start: {}\n{log}", String::from_utf8_lossy(&out.stderr));
    }

    fn run(&self, program: &str, args: &[&str], data: &Path) {
        let out = self.command(program).args(args).arg(data).output().unwrap();
        assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `program` of the server's programs, as the `postgres` user when the tests run as root
    /// (initdb and the server refuse to run as root).
    pub fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").args(["-D"]).arg(self.data()).args(["-m", "immediate", "stop"]).output();
    }
}

fn append(path: &Path, text: &str) {
    let mut conf = std::fs::read_to_string(path).unwrap();
    conf.push('\n');
    conf.push_str(text);
    std::fs::write(path, conf).unwrap();
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A temporary folder the server's user owns, with `data` to come inside it.
fn owned_dir() -> TempDir {
    let dir = TempDir::new();
    if is_root() {
        let out = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir.0).output().unwrap();
        assert!(out.status.success(), "chown: {}", String::from_utf8_lossy(&out.stderr));
    }
    dir
}

/// Gives `path` (a key or certificate the test made) to the server's user, readable by it alone.
pub fn hand_to_server(path: &Path) {
    let out = Command::new("chmod").arg("0600").arg(path).output().unwrap();
    assert!(out.status.success());
    if is_root() {
        let out = Command::new("chown").arg("postgres:postgres").arg(path).output().unwrap();
        assert!(out.status.success(), "chown: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Where initdb, pg_ctl and pg_basebackup are: Debian keeps them out of PATH.
fn server_programs() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort_by_key(|bin| bin.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()));
    versions.pop().or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
    })
}
