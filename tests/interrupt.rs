//! Ctrl-C stops a run cleanly: the process exits 0 and writes what it measured.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;

#[test]
fn sigint_stops_the_run_and_keeps_what_was_measured() {
    if !cfg!(unix) {
        return;
    }
    let out = temp_dir("sigint");
    let mut child = Command::new(env!("CARGO_BIN_EXE_socialbench"))
        .args([
            "run",
            "--engine",
            "striped",
            "--duration",
            "60s",
            "--warmup",
            "0s",
        ])
        .args([
            "--users",
            "2000",
            "--progress",
            "plain",
            "--run-id",
            "int",
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // The handler is installed before anything is printed; wait for the first
    // measured interval so there is something to keep.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        if line.contains("interval   1") {
            break;
        }
        line.clear();
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    assert!(kill.is_ok_and(|s| s.success()));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}\n{rest}");
    let j = run_json(&out.join("int"));
    assert_eq!(j["summary"]["stopped_by"], "Interrupted");
    assert!(j["summary"]["ops"].as_u64().unwrap() > 0);
    assert_eq!(j["summary"]["audit"]["verdict"], "pass");
}
