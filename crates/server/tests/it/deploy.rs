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
