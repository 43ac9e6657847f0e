//! Bad flags and files: a one-line error naming the problem and exit code 2,
//! never a panic.

mod common;

use common::*;

fn assert_bad(args: &[&str], mentions: &str) {
    let o = socialbench(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let first = err.lines().find(|l| l.starts_with("error")).unwrap_or("");
    assert!(
        first.contains(mentions),
        "{args:?}: `{first}` does not mention `{mentions}`\n{err}"
    );
}

#[test]
fn unknown_engine_is_rejected() {
    assert_bad(&["run", "--engine", "quantum"], "quantum");
}

#[test]
fn malformed_duration_and_rate_are_rejected() {
    assert_bad(&["run", "--duration", "10parsecs"], "10parsecs");
    assert_bad(&["run", "--rate", "fast"], "fast");
    assert_bad(&["run", "--rate", "0"], "rate");
    assert_bad(&["run", "--fault", "explode:rate=1"], "explode");
}

#[test]
fn zero_threads_is_rejected() {
    assert_bad(&["run", "--threads", "0"], "at least 1");
}

#[test]
fn unreadable_workload_file_is_rejected() {
    let out = temp_dir("badwl");
    let o = out.to_str().unwrap();
    assert_bad(
        &[
            "run",
            "--out",
            o,
            "--workload",
            "/nonexistent/dir/w.toml",
            "--duration",
            "1s",
        ],
        "w.toml",
    );
}

#[test]
fn unwritable_output_folder_is_rejected() {
    let out = temp_dir("ro");
    let file = out.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    // A folder under a regular file cannot be created, whoever we are.
    let o = file.to_str().unwrap();
    assert_bad(
        &[
            "run",
            "--engine",
            "null",
            "--out",
            o,
            "--users",
            "100",
            "--duration",
            "1s",
        ],
        "not writable",
    );
}

#[test]
fn serial_engine_with_more_than_one_thread_is_rejected() {
    let out = temp_dir("serial");
    let o = out.to_str().unwrap();
    assert_bad(
        &[
            "run",
            "--engine",
            "serial",
            "--threads",
            "2",
            "--out",
            o,
            "--users",
            "100",
        ],
        "--threads 1",
    );
}

#[test]
fn errors_fit_on_one_line() {
    let o = socialbench(&[
        "run",
        "--engine",
        "serial",
        "--threads",
        "3",
        "--users",
        "10",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{err}"
    );
    assert!(err.lines().count() <= 3, "{err}");
}
