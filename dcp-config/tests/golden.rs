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
    let out = dcp_config(&d, &[], "");
    assert!(out.stderr.is_empty(), "the template needs no warning");
    assert_eq!(resolved(&d, out), golden("init-resolved.json"));
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

/// A config.py saved on Windows, with a byte-order mark and CRLF line ends, as Python
/// reads it: the same settings as the file without them.
#[test]
fn a_config_py_saved_with_a_byte_order_mark_and_crlf_imports() {
    let dir = tempfile::tempdir().unwrap();
    let windows = format!("\u{feff}{}", golden("config.py").replace('\n', "\r\n"));
    std::fs::write(dir.path().join("config.py"), windows).unwrap();
    let toml = stdout_ok(dcp_config(dir.path(), &["import", "config.py"], ""));
    assert_eq!(toml, golden("config.toml"));
}

/// DCP's own config.py files (its config.py, example_project and example_project_CPG) and
/// config.py files as DCP 1.x and 2.0 wrote them: each imports to the golden dcp.toml with
/// the golden warnings, and resolves to the golden settings, every value of them.
#[test]
fn dcps_config_files_of_every_release_import_and_resolve() {
    for name in [
        "config",
        "example_project",
        "example_project_CPG",
        "dcp1x",
        "dcp20",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let py = format!("{name}.py");
        std::fs::write(dir.path().join(&py), golden(&format!("dcp/{py}"))).unwrap();
        let out = dcp_config(dir.path(), &["import", &py], "");
        let warnings = String::from_utf8(out.stderr.clone()).unwrap();
        let toml = stdout_ok(out);
        assert_eq!(toml, golden(&format!("dcp/{name}.toml")), "{name}");
        assert_eq!(warnings, golden(&format!("dcp/{name}.warnings")), "{name}");
        let out = dcp_config(dir.path(), &["--config", "-"], &toml);
        // Resolving repeats the warnings about settings dcp does not act on.
        let notices: String = (warnings.lines())
            .filter(|w| !w.contains(&format!("{py}:")))
            .map(|w| format!("{w}\n"))
            .collect();
        assert_eq!(String::from_utf8(out.stderr.clone()).unwrap(), notices);
        assert_eq!(
            stdout_ok(out),
            golden(&format!("dcp/{name}.json")),
            "{name}"
        );
    }
}

/// What DCP's run.py does with old files, checked value by value beside the goldens.
#[test]
fn old_settings_become_what_dcps_run_py_made_of_them() {
    let resolved = |name: &str| -> serde_json::Value {
        serde_json::from_str(&golden(&format!("dcp/{name}.json"))).unwrap()
    };
    let (v1, v2, main) = (resolved("dcp1x"), resolved("dcp20"), resolved("config"));
    // A missing JOB_RETRIES is run.py's 10, a written one is kept.
    assert_eq!(
        (v1["JOB_RETRIES"].as_u64(), main["JOB_RETRIES"].as_u64()),
        (Some(10), Some(3))
    );
    // Dashboards, monitor and always-continue off, ASSIGN_IP on, when missing.
    for key in [
        "AUTO_MONITOR",
        "CREATE_DASHBOARD",
        "CLEAN_DASHBOARD",
        "ALWAYS_CONTINUE",
    ] {
        assert_eq!(
            (&v1[key], &v2[key]),
            (&false.into(), &false.into()),
            "{key}"
        );
    }
    assert_eq!(v1["ASSIGN_IP"], true);
    // Buckets as DCP's worker defaults them; 'False' is "not set".
    for key in ["SOURCE_BUCKET", "WORKSPACE_BUCKET", "DESTINATION_BUCKET"] {
        assert_eq!(v1[key], "lab-2017-data", "{key}");
    }
    assert_eq!(v2["WORKSPACE_BUCKET"], "collaborator-images");
    // The ARN reduced to the queue name; the old name of REQUIREMENTS converted.
    assert_eq!(v1["SQS_DEAD_LETTER_QUEUE"], "Plate2017DeadMessages");
    assert_eq!(v2["SQS_DEAD_LETTER_QUEUE"], "Screen2021_DeadMessages");
    assert_eq!(v2["REQUIREMENTS"], "requirements-cellpose.txt");
    assert_eq!(
        v2["UPLOAD_FLAGS"],
        "--acl bucket-owner-full-control --metadata-directive REPLACE"
    );
    // The obsolete DOCKER_BASE_SIZE is a comment of the dcp.toml, not a setting.
    assert!(golden("dcp/dcp1x.toml").contains("\n# DOCKER_BASE_SIZE = 15  # obsolete: "));
    assert!(v1.get("DOCKER_BASE_SIZE").is_none());
}

#[test]
fn unsupported_upload_flags_are_refused_when_settings_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let toml =
        "BACKEND = \"aws\"\nAWS_BUCKET = \"b\"\nUPLOAD_FLAGS = \"--acl private --recursive\"\n";
    let out = dcp_config(dir.path(), &["--config", "-"], toml);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with(
            "dcp-config: error: <stdin>:3: UPLOAD_FLAGS: '--recursive' is not supported"
        ),
        "{err}"
    );
    std::fs::write(
        dir.path().join("config.py"),
        "AWS_BUCKET = 'b'\nUPLOAD_FLAGS = '--acl bucket-owner-full-control --sse aws:kms:x'\n",
    )
    .unwrap();
    let out = dcp_config(dir.path(), &["import", "config.py"], "");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("dcp-config: error: config.py:2: UPLOAD_FLAGS: --sse 'aws:kms:x'"),
        "{err}"
    );
}
