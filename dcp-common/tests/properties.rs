//! Property tests of the parsers and the output prefix: no input panics, a prefix never
//! leaves its output folder, and what is accepted reads back unchanged.

use std::path::{Component, Path};

use dcp_common::metadata::join_pairs;
use dcp_common::prefix::{check_relative, group_path, output_prefix};
use dcp_common::{Config, Metadata, Task, parse_job};
use proptest::prelude::*;

/// Text made mostly of the characters the parsers care about, so that near misses of valid
/// input are common, plus any character at all.
fn tricky_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec![
                "{", "}", "[", "]", "\"", "'", ",", ":", "=", "\n", " ", "/", "..", ".", "\\",
                "Metadata_", "Metadata_Plate", "A", "1", "-", "#", "groups", "pipeline",
                "APP_NAME", "AWS_BUCKET", "DOCKER_CORES", "true", "null",
            ])
            .prop_map(str::to_owned),
            1 => any::<char>().prop_map(String::from),
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

/// A metadata value: short, with path-like and separator characters now and then.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_]{1,8}",
        "[A-Za-z0-9./\\\\ ,=:_-]{0,8}",
        any::<String>(),
    ]
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("Metadata_[A-Za-z]{1,6}", value()), 1..4)
}

/// Whether the joined path stays under `root`: only plain names after it.
fn stays_under(root: &str, path: &str) -> bool {
    path.strip_prefix(root)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| {
            Path::new(rest)
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        })
}

proptest! {
    #[test]
    fn settings_text_never_panics(text in tricky_text()) {
        let _ = Config::parse(&text, "dcp.toml", Path::new("/run"));
    }

    #[test]
    fn accepted_settings_read_back_unchanged_as_json_and_toml(
        cores in 0u64..5_000_000_000,
        retries in 0u64..20,
        app in "[A-Za-z0-9_-]{0,12}",
        cluster in value(),
        machine in prop::collection::vec("[a-z0-9.]{1,10}", 0..3),
        download in prop::sample::select(vec!["true", "false", "'True'", "'no'"]),
    ) {
        let toml = format!(
            "APP_NAME = {app:?}\nAWS_BUCKET = \"b\"\nDOCKER_CORES = {cores}\nJOB_RETRIES = {retries}\n\
             ECS_CLUSTER = {cluster:?}\nMACHINE_TYPE = {machine:?}\nDOWNLOAD_FILES = {download}\n"
        );
        if let Ok(config) = Config::parse(&toml, "dcp.toml", Path::new("/run")) {
            prop_assert_eq!(u64::from(config.docker_cores), cores);
            let json = serde_json::to_string(&config).unwrap();
            prop_assert_eq!(&Config::parse(&json, "json", Path::new("/x")).unwrap(), &config);
            let again = toml::to_string(&config).unwrap();
            prop_assert_eq!(&Config::parse(&again, "toml", Path::new("/x")).unwrap(), &config);
        }
    }

    #[test]
    fn job_text_never_panics(text in tricky_text()) {
        let _ = parse_job(&text, "job.json");
    }

    #[test]
    fn accepted_jobs_give_bodies_that_read_back_and_stay_in_their_output(
        groups in prop::collection::vec(pairs(), 1..4),
        output in prop_oneof!["[a-z]{1,5}(/[a-z]{1,5}){0,2}", value()],
        structure in prop_oneof![
            Just(String::new()),
            "(Metadata_[A-Za-z]{1,6}|[a-z/_-]{0,3}){0,4}",
        ],
    ) {
        let groups: Vec<serde_json::Value> = groups
            .iter()
            .map(|p| serde_json::json!({"Metadata": join_pairs(p)}))
            .collect();
        let job = serde_json::json!({
            "pipeline": "p.cppipe", "data_file": "d.csv", "input": "in",
            "output": output, "output_structure": structure, "groups": groups,
        });
        if let Ok(tasks) = parse_job(&serde_json::to_string_pretty(&job).unwrap(), "job.json") {
            for body in tasks.bodies() {
                let task = Task::from_body(body).unwrap();
                prop_assert_eq!(&task.to_body(), body);
                let (_, prefix) = task.resolve().unwrap();
                prop_assert!(stays_under(output.trim_end_matches('/'), &prefix), "{prefix}");
            }
        }
    }

    #[test]
    fn a_group_path_never_leaves_its_root(pairs in pairs(), structure in tricky_text()) {
        if let Ok(path) = group_path(&pairs, &structure) {
            prop_assert!(check_relative(&path).is_ok(), "{path}");
            prop_assert!(stays_under("out", &output_prefix("out/", &path)), "{path}");
        }
    }

    #[test]
    fn accepted_metadata_text_reads_back_unchanged(text in tricky_text()) {
        if let Ok(pairs) = Metadata::Text(text.clone()).pairs() {
            prop_assert_eq!(join_pairs(&pairs), text);
        }
    }
}
