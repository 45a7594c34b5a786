//! The deployment files in deploy/, checked with the tools that run them.

use std::process::Command;

use crate::support::TempDir;

/// The exposure `systemd-analyze security` gives the unit at most (0 is fully sandboxed, 10 not
/// at all; 1.4 when this was written).
const MOST_EXPOSURE: f64 = 2.0;

#[test]
fn the_systemd_unit_verifies_and_is_sandboxed() {
    let unit =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/orderguard.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/orderguard serve"), "{unit}");
    // `verify` wants the program to exist: this build's stands in for the installed one.
    let dir = TempDir::new();
    let copy = dir.0.join("orderguard.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/orderguard", env!("CARGO_BIN_EXE_orderguard"))).unwrap();
    let analyze = |args: &[&str]| {
        let output = Command::new("systemd-analyze")
            .args(args)
            .arg(&copy)
            .output()
            .expect("systemd-analyze runs (Debian's systemd package; scripts/test installs it)");
        let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), text)
    };
    let (ok, text) = analyze(&["verify"]);
    assert!(ok && text.trim().is_empty(), "systemd-analyze verify: {text}");

    let (ok, text) = analyze(&["security", "--offline=true"]);
    assert!(ok, "{text}");
    let exposure: f64 = text
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for orderguard.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no overall exposure in: {text}"));
    assert!(exposure <= MOST_EXPOSURE, "exposure {exposure}: {text}");
    for sandboxed in ["PrivateDevices=", "ProtectSystem=", "CapabilityBoundingSet=~CAP_SYS_ADMIN", "NoNewPrivileges="] {
        let line = text.lines().find(|l| l.contains(sandboxed)).unwrap_or_default();
        assert!(line.starts_with('✓'), "{sandboxed}: {line}");
    }
}

/// The instructions of deploy/Containerfile, continuation lines joined: (instruction, arguments).
fn container_instructions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/Containerfile")).unwrap();
    let joined = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    let joined = joined.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|l| l.trim().split_once(' '))
        .map(|(instruction, args)| (instruction.to_owned(), args.trim().to_owned()))
        .collect()
}

/// The last stage's value of `instruction` (the image that runs).
fn last(instructions: &[(String, String)], instruction: &str) -> String {
    instructions.iter().rev().find(|(i, _)| i == instruction).map(|(_, a)| a.clone()).unwrap_or_default()
}

fn json_array(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not an exec-form JSON array ({e}): {text}"))
}

/// The image's command, health check and user, run the way a container engine runs them: the
/// root file system read-only (a mount namespace with `/` remounted read-only), only the
/// volume writable, as the image's unprivileged user. This machine has no container engine and
/// cannot pull base images; this checks what the image asks of the binary.
#[test]
fn the_image_runs_as_its_user_on_a_read_only_root_and_reports_health() {
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root || Command::new("unshare").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and unshare to make a read-only root file system");
        return;
    }
    let image = container_instructions();
    let user = last(&image, "USER");
    let (uid, gid) = user.split_once(':').unwrap_or((&user, &user));
    assert!(uid.parse::<u32>().is_ok_and(|u| u != 0), "USER {user}: a numeric uid other than root");
    let entrypoint = json_array(&last(&image, "ENTRYPOINT"));
    let command = json_array(&last(&image, "CMD"));
    let health = last(&image, "HEALTHCHECK");
    let health = json_array(health.split_once("CMD ").unwrap().1);
    assert_eq!(entrypoint, ["/usr/local/bin/orderguard"]);
    assert!(last(&image, "ENV").starts_with("ORDERGUARD_CONFIG=/etc/orderguard/"), "{image:?}");
    assert!(last(&image, "VOLUME").contains("/var/lib/orderguard"), "{image:?}");
    // The volume's folder exists in the image and is the user's: a new volume takes its owner.
    let owned = format!("--chown={uid}:{gid} ");
    assert!(
        image.iter().any(|(i, a)| i == "COPY" && a.contains(&owned) && a.ends_with(" /var/lib/orderguard")),
        "{image:?}"
    );
    let ignored = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.dockerignore")).unwrap();
    assert!(["deploy/secret.key", "deploy/orderguard.toml", "**/*.db"].iter().all(|p| ignored.contains(p)));

    // The volume and the configuration, in folders of their own (a bind mount stands for each).
    let dir = TempDir::new();
    let (volume, config_dir) = (dir.0.join("volume"), dir.0.join("config"));
    std::fs::create_dir_all(&volume).unwrap();
    std::fs::create_dir_all(&config_dir).unwrap();
    let out = Command::new("chown").arg(format!("{uid}:{gid}")).arg(&volume).output().unwrap();
    assert!(out.status.success());
    let port = crate::support::free_port();
    let database = format!("sqlite://{}/orderguard.db", volume.display());
    let config = crate::support::config_for(&database).replacen(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
        1,
    );
    let config_path = config_dir.join("orderguard.toml");
    std::fs::write(&config_path, config).unwrap();
    let binary = env!("CARGO_BIN_EXE_orderguard");
    let as_image_user = |program: &[String]| {
        let mut run = Command::new("setpriv");
        run.args([format!("--reuid={uid}"), format!("--regid={gid}"), "--clear-groups".into()]);
        run.arg(binary).args(&program[1..]).env("ORDERGUARD_CONFIG", &config_path);
        run
    };
    let health_at_port: Vec<String> = health.iter().map(|a| a.replace(":8080/", &format!(":{port}/"))).collect();
    let healthy = || as_image_user(&health_at_port).output().unwrap();

    let script = format!(
        "set -e; mount --bind '{v}' '{v}'; mount -o remount,bind,ro /; \
         if touch /orderguard-root-writable 2>/dev/null; then rm /orderguard-root-writable; exit 99; fi; \
         exec setpriv --reuid={uid} --regid={gid} --clear-groups {binary} {args}",
        v = volume.display(),
        args = command.join(" ")
    );
    let mut server = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("ORDERGUARD_CONFIG", &config_path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = None;
    for _ in 0..300 {
        let out = healthy();
        if out.status.success() {
            ready = Some(String::from_utf8_lossy(&out.stdout).into_owned());
            break;
        }
        if let Ok(Some(status)) = server.try_wait() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(server.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            panic!("the server stopped ({status}) on a read-only root: {stderr}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();
    let ready = ready.expect("the health check passes once the server is up");
    assert!(ready.contains("/readyz: 200"), "{ready}");
    let database = std::fs::metadata(volume.join("orderguard.db")).expect("the database is in the volume");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&database).to_string(), uid, "written by the image's user");
    let down = healthy();
    assert!(!down.status.success(), "the health check fails once the server is gone");
    assert!(String::from_utf8_lossy(&down.stderr).contains("error:"), "{down:?}");
}
