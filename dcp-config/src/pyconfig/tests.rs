use std::path::Path;

use dcp_common::{Backend, Config};

use super::import;

/// DCP's config.py as shipped (Distributed-CellProfiler 2.2.0).
/// A lab's config.py in DCP's format: derived names, arithmetic, a list over two lines,
/// 'True'/'False' strings, comments.
const DCP_CONFIG_PY: &str = include_str!("../../tests/golden/config.py");

/// Imports `text` and parses the result as every dcp tool does.
fn convert(text: &str) -> (String, Config) {
    let toml = import(text, "config.py")
        .unwrap_or_else(|e| panic!("{e}"))
        .toml;
    let config =
        Config::parse(&toml, "x", Path::new("/")).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    (toml, config)
}

/// The message of importing `text` from `c.py`, which must fail.
fn refusal(text: &str) -> String {
    import(text, "c.py")
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn dcp_config_py_converts() {
    let (toml, c) = convert(DCP_CONFIG_PY);
    assert_eq!(c.backend, Backend::Aws);
    assert_eq!(c.app_name, "DistributedCP");
    assert_eq!(c.log_group_name, "DistributedCP");
    assert_eq!(
        c.dockerhub_tag,
        "cellprofiler/distributed-cellprofiler:2.2.0_4.2.8"
    );
    assert_eq!(c.ssh_key_name, "lab-key.pem");
    assert_eq!(
        (c.aws_bucket.as_str(), c.source_bucket.as_str()),
        ("lab-logs", "lab-images")
    );
    assert_eq!(c.destination_bucket, "lab-results");
    assert_eq!(
        c.upload_flags.to_string(),
        "--acl bucket-owner-full-control"
    );
    assert_eq!(c.sqs_queue_name, "DistributedCPQueue");
    assert_eq!(c.sqs_dead_letter_queue, "lab_DeadMessages");
    assert_eq!(c.cpu_shares(), 4096);
    assert_eq!(c.seconds_to_start, 180);
    assert_eq!(c.sqs_message_visibility, 600);
    assert_eq!(c.machine_type, ["m5.xlarge", "m5a.xlarge"]);
    assert_eq!(c.machine_price, 0.2);
    assert_eq!(
        (
            c.cluster_machines,
            c.tasks_per_machine,
            c.ebs_vol_size,
            c.memory
        ),
        (4, 1, 30, 15000)
    );
    assert_eq!(
        (
            c.job_retries,
            c.expected_number_files,
            c.min_file_size_bytes
        ),
        (3, 5, 1)
    );
    assert_eq!(c.necessary_string, ".csv");
    assert!(c.download_files && c.check_if_done_bool && c.auto_monitor && c.clean_dashboard);
    assert!(!(c.assign_ip || c.create_dashboard || c.always_continue));
    assert!(!(c.use_plugins || c.update_plugins || c.install_requirements));
    assert_eq!(c.plugins_commit, "");

    // Booleans are TOML booleans, not DCP's strings; PLUGINS_COMMIT 'False' is "".
    let table: toml::Table = toml::from_str(&toml).unwrap();
    assert_eq!(table["DOWNLOAD_FILES"], toml::Value::Boolean(true));
    assert_eq!(table["ASSIGN_IP"], toml::Value::Boolean(false));
    assert_eq!(table["CHECK_IF_DONE_BOOL"], toml::Value::Boolean(true));
    assert_eq!(table["PLUGINS_COMMIT"], toml::Value::String(String::new()));
    assert_eq!(table["MACHINE_PRICE"], toml::Value::Float(0.2));

    let mut lines = toml.lines();
    assert_eq!(
        lines.next(),
        Some("# dcp.toml imported from config.py by dcp-config import")
    );
    assert_eq!(lines.next(), Some("BACKEND = \"aws\""));
    for line in [
        "LOG_GROUP_NAME = \"DistributedCP\"  # was: APP_NAME",
        "SQS_QUEUE_NAME = \"DistributedCPQueue\"  # was: APP_NAME + 'Queue'",
        "CPU_SHARES = 4096  # was: DOCKER_CORES * 1024",
        "SECONDS_TO_START = 180  # was: 3*60",
        "SQS_MESSAGE_VISIBILITY = 600  # was: 10*60",
        "DOWNLOAD_FILES = true",
        "SOURCE_BUCKET = \"lab-images\"  # '#' inside a comment is fine",
    ] {
        assert!(
            toml.lines().any(|l| l == line),
            "missing {line:?} in\n{toml}"
        );
    }
}

#[test]
fn every_assignment_keeps_its_place() {
    let (toml, _) = convert(DCP_CONFIG_PY);
    let key = |line: &str| line.split_once(" = ").map(|(k, _)| k.to_owned());
    let written: Vec<String> = toml.lines().filter_map(key).collect();
    let read: Vec<String> = DCP_CONFIG_PY.lines().filter_map(key).collect();
    assert_eq!(written[0], "BACKEND");
    assert_eq!(written[1..], read[..]);
    assert_eq!(read.len(), 40);
}

#[test]
fn comments_and_blank_lines_are_carried() {
    let (toml, _) = convert(DCP_CONFIG_PY);
    let body: Vec<&str> = toml.lines().skip(3).collect();
    // One line fewer: MACHINE_TYPE's list spans two lines in config.py.
    assert_eq!(body.len(), DCP_CONFIG_PY.lines().count() - 1);
    assert_eq!(
        body[0],
        "# Settings of the Batch1 Cell Painting analysis (a DCP config.py)"
    );
    assert_eq!(body[1], "");
    assert_eq!(
        body[2],
        "APP_NAME = \"DistributedCP\"  # names of the queue, service and logs derive from it"
    );
    assert!(body.contains(&"# EC2 AND ECS INFORMATION:"));
}

#[test]
fn lists_may_span_lines() {
    let text = "AWS_BUCKET = 'b'\nMACHINE_TYPE = [\n    'm5.xlarge',  # cheap\n\n    'c5.xlarge',\n]  # two\n";
    let (toml, c) = convert(text);
    assert_eq!(c.machine_type, ["m5.xlarge", "c5.xlarge"]);
    assert!(
        toml.contains("\nMACHINE_TYPE = [\"m5.xlarge\", \"c5.xlarge\"]  # cheap; two\n"),
        "{toml}"
    );
    // Lines after the list keep their numbers.
    assert_eq!(
        refusal(&format!("{text}FOO = 1\n")),
        "c.py:7: FOO: is not a dcp setting"
    );
}

#[test]
fn hash_in_a_string_is_text() {
    let text = "AWS_BUCKET = 'b'\nNECESSARY_STRING = '#1' # the # one\nSSH_KEY_NAME = \"k'#'\"\n";
    let (toml, c) = convert(text);
    assert_eq!(c.necessary_string, "#1");
    assert_eq!(c.ssh_key_name, "k'#'");
    assert!(
        toml.contains("\nNECESSARY_STRING = \"#1\"  # the # one\n"),
        "{toml}"
    );
}

#[test]
fn expressions_follow_python() {
    let text = r#"AWS_BUCKET = 'b' "u" + r'\d'
APP_NAME = ('Run' + '_' +
            "A")
SECONDS_TO_START = 2 + 3*60 - (1 + 1)
SQS_MESSAGE_VISIBILITY = 1.5 * 60
MACHINE_PRICE = -1 + 2
MACHINE_TYPE = ['a'] + ['b',]
NECESSARY_STRING = 'it\'s\t"x"\\'
ASSIGN_IP = False
AUTO_MONITOR = 'TRUE'
PLUGINS_COMMIT = False
DOCKER_CORES = 2
CPU_SHARES = DOCKER_CORES * -(-512)
"#;
    let (toml, c) = convert(text);
    assert_eq!(c.aws_bucket, "bu\\d");
    assert_eq!(c.app_name, "Run_A");
    assert_eq!(c.sqs_queue_name, "Run_AQueue");
    assert_eq!(c.seconds_to_start, 180);
    assert_eq!(c.sqs_message_visibility, 90);
    assert_eq!(c.machine_price, 1.0);
    assert_eq!(c.machine_type, ["a", "b"]);
    assert_eq!(c.necessary_string, "it's\t\"x\"\\");
    assert!(!c.assign_ip && c.auto_monitor);
    assert_eq!(c.plugins_commit, "");
    assert_eq!(c.cpu_shares(), 1024);
    assert!(
        toml.contains("\nAPP_NAME = \"Run_A\"  # was: ('Run' + '_' + \"A\")\n"),
        "{toml}"
    );
    assert!(
        toml.contains("\nMACHINE_PRICE = 1.0  # was: -1 + 2\n"),
        "{toml}"
    );
}

#[test]
fn windows_line_ends_and_backslash_continuations() {
    let text =
        "AWS_BUCKET = 'b'  # logs\r\nAPP_NAME = 'Run' + \\\r\n    'A'\r\n\r\nJOB_RETRIES = 5\r\n";
    let (toml, c) = convert(text);
    assert_eq!((c.app_name.as_str(), c.job_retries), ("RunA", 5));
    assert!(toml.contains("\nAWS_BUCKET = \"b\"  # logs\n"), "{toml}");
    assert!(
        toml.contains("\nAPP_NAME = \"RunA\"  # was: 'Run' + 'A'\n"),
        "{toml}"
    );
    assert_eq!(
        refusal(&format!("{text}X = 1\r\n")),
        "c.py:6: X: is not a dcp setting"
    );
}

#[test]
fn refusals_name_line_and_setting() {
    for (text, message) in [
        (
            "APP_NAME = 'x'\nSQS_QUEUE_NAME = APP + 'Queue'\n",
            "c.py:2: SQS_QUEUE_NAME: unknown name 'APP': only settings assigned above can be used",
        ),
        (
            "APP_NAME = 'x'\n\nMY_SETTING = 3\n",
            "c.py:3: MY_SETTING: is not a dcp setting",
        ),
        (
            "# c\nAWS_BUCKET = getenv('B')\n",
            "c.py:2: AWS_BUCKET: function calls are not supported: getenv(…)",
        ),
        (
            "AWS_BUCKET = 'b'.upper()\n",
            "c.py:1: AWS_BUCKET: attributes and methods are not supported: 'b'.…",
        ),
        (
            "MACHINE_TYPE = ['a'][0]\n",
            "c.py:1: MACHINE_TYPE: indexing is not supported: ['a'][…]",
        ),
        (
            "print('hi')\n",
            "c.py:1: function calls are not supported: print(…)",
        ),
        (
            "# c\n\nimport os\n",
            "c.py:3: 'import' is not supported: config.py may only assign settings",
        ),
        (
            "if True:\n    APP_NAME = 'x'\n",
            "c.py:1: 'if' is not supported: config.py may only assign settings",
        ),
        (
            "APP_NAME = 'x'\nAWS_BUCKET = 'abc\n",
            "c.py:2: AWS_BUCKET: unterminated string",
        ),
        (
            "AWS_BUCKET = f'{APP_NAME}'\n",
            "c.py:1: AWS_BUCKET: f-strings are not supported",
        ),
        (
            "MACHINE_TYPE = ['a',\n'b'\n",
            "c.py:1: MACHINE_TYPE: '[' is never closed",
        ),
        (
            "MACHINE_TYPE = [\n 'a',\n b,\n]\n",
            "c.py:3: MACHINE_TYPE: unknown name 'b': only settings assigned above can be used",
        ),
        (
            "AWS_BUCKET = None\n",
            "c.py:1: AWS_BUCKET: None is not supported: remove the line to use dcp's default",
        ),
        (
            "APP_NAME = 'x' * 2\n",
            "c.py:1: APP_NAME: '*' is not supported between str and int",
        ),
        ("APP_NAME = 'x' 'y' 3\n", "c.py:1: APP_NAME: unexpected '3'"),
        (
            "CLUSTER_MACHINES = 'three'\n",
            "c.py:1: CLUSTER_MACHINES: invalid type: string \"three\", expected u32",
        ),
        (
            "CLUSTER_MACHINES = -1\n",
            "c.py:1: CLUSTER_MACHINES: invalid value: integer `-1`, expected u32",
        ),
        (
            "ASSIGN_IP = 'yes'\n",
            "c.py:1: ASSIGN_IP: expected true or false, got 'yes'",
        ),
        (
            "APP_NAME = 'x'\nAPP_NAME = 'y'\n",
            "c.py:2: APP_NAME: is set twice (first on line 1)",
        ),
        (
            "BACKEND = 'aws'\n",
            "c.py:1: BACKEND: is not read from a config.py: an imported config.py runs on AWS",
        ),
        (
            "APP_NAME += 'x'\n",
            "c.py:1: APP_NAME: expected '=': only NAME = value assignments are supported",
        ),
        ("  APP_NAME = 'x'\n", "c.py:1: unexpected indentation"),
        (
            "APP_NAME = 'x' $\n",
            "c.py:1: APP_NAME: unexpected character '$'",
        ),
        (
            "MEMORY = 0x10\n",
            "c.py:1: MEMORY: invalid or too large number 0x10",
        ),
        (
            "AWS_BUCKET = 'b'\nEBS_VOL_SIZE = 10\n",
            "c.py:2: EBS_VOL_SIZE: must be at least 22, got 10",
        ),
        (
            "APP_NAME = 'x'\n# end\n",
            "c.py:2: AWS_BUCKET: is required: a bucket name for logs and run files (not set in this file)",
        ),
    ] {
        assert_eq!(refusal(text), message, "for {text:?}");
    }
}

#[test]
fn refusal_fields() {
    let err = import("AWS_BUCKET = 'b'\nSQS_QUEUE_NAME = NAME\n", "dir/config.py").unwrap_err();
    assert_eq!(
        (err.origin.as_str(), err.line, err.name.as_deref()),
        ("dir/config.py", 2, Some("SQS_QUEUE_NAME"))
    );
    let err = import("import os\n", "config.py").unwrap_err();
    assert_eq!((err.line, err.name), (1, None));
}

#[test]
fn deep_nesting_is_refused_with_its_line_not_a_stack_overflow() {
    for (open, close) in [("(", ")"), ("[", "]"), ("-", "")] {
        let deep = format!(
            "APP_NAME = 'a'\nCLUSTER_MACHINES = {}1{}\n",
            open.repeat(10_000),
            close.repeat(10_000)
        );
        let message = refusal(&deep);
        assert!(
            message.contains(":2") && message.contains("nested more than 100 levels"),
            "{message}"
        );
    }
    // Moderate nesting still works.
    let (_, config) = convert(
        "AWS_BUCKET = 'b'\nCLUSTER_MACHINES = ((((2))))*[[3]][0][0]\n"
            .replace("*[[3]][0][0]", "*3")
            .as_str(),
    );
    assert_eq!(config.cluster_machines, 6);
}
