//! Golden tests: the built dcp-config binary, stdin → stdout.

use std::path::Path;
use std::process::Output;

use dcp_tests::stdout_ok;

const BIN: &str = env!("CARGO_BIN_EXE_dcp-config");

fn golden(name: &str) -> String {
    dcp_tests::golden(env!("CARGO_MANIFEST_DIR"), name)
}

fn dcp_config(dir: &Path, args: &[&str], stdin: &str) -> Output {
    dcp_tests::run(BIN, dir, args, stdin)
}

/// The resolved settings, with the run directory written as `$DIR`.
fn resolved(dir: &Path, out: Output) -> String {
    let dir = std::fs::canonicalize(dir).unwrap();
    stdout_ok(out).replace(dir.to_str().unwrap(), "$DIR")
}

#[test]
fn init_template_resolves_to_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let d = std::fs::canonicalize(dir.path()).unwrap();
    let template = stdout_ok(dcp_config(&d, &["init"], ""));
    std::fs::write(d.join("dcp.toml"), &template).unwrap();
    // ./dcp.toml is found without arguments; the same text on stdin resolves the same.
    assert_eq!(
        resolved(&d, dcp_config(&d, &[], "")),
        golden("init-resolved.json")
    );
    assert_eq!(
        resolved(&d, dcp_config(&d, &["--config", "-"], &template)),
        golden("init-resolved.json")
    );
}

#[test]
fn resolved_json_is_accepted_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::write(d.join("dcp.toml"), stdout_ok(dcp_config(&d, &["init"], ""))).unwrap();
    let json = stdout_ok(dcp_config(&d, &[], ""));
    let elsewhere = tempfile::tempdir().unwrap();
    assert_eq!(stdout_ok(dcp_config(elsewhere.path(), &[], &json)), json);
}

#[test]
fn invalid_settings_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("run.toml"),
        "AWS_BUCKET = \"b\"\nJOB_RETRIES = 0\n",
    )
    .unwrap();
    let out = dcp_config(dir.path(), &["--config", "run.toml"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "dcp-config: error: run.toml:2: JOB_RETRIES: must be at least 1, got 0\n"
    );
    let out = dcp_config(dir.path(), &[], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no settings found"));
}

#[test]
fn import_converts_dcp_config_py() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.py"), golden("config.py")).unwrap();
    let toml = stdout_ok(dcp_config(dir.path(), &["import", "config.py"], ""));
    assert_eq!(toml, golden("config.toml"));
    let json: serde_json::Value = serde_json::from_str(&stdout_ok(dcp_config(
        dir.path(),
        &["--config", "-"],
        &toml,
    )))
    .unwrap();
    assert_eq!(json["SQS_QUEUE_NAME"], "DistributedCPQueue");
    assert_eq!(json["CPU_SHARES"], 4096);
    assert_eq!(json["BACKEND"], "aws");
    let out = dcp_config(dir.path(), &["import", "missing.py"], "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing input file is bad input"
    );
}
