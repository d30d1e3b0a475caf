//! The corpus of bad inputs (`tests/bad_input/`, listed in `cases.tsv`): every case is
//! refused with exit 2 and a message naming its file, line and field, and leaves the queue
//! (its status counts) and the buckets and run folder (a hash of their tree) as they were.
//!
//! The tool follows from the case's folder: `settings/` → `dcp-queue --config FILE create`,
//! `configpy/` → `dcp-config import FILE`, `job/` and `jsonl/` → `dcp-queue push FILE`,
//! `csv/` → `dcp-queue push FILE --job good/template.json`, `fleet/` → `dcp-fleet start FILE`
//! (its fields are checked by the AWS backend's mapping, so only with the `aws` feature).

use std::collections::BTreeMap;
use std::path::Path;

use dcp_tests::files::copy_tree;
use dcp_tests::{run, stdout_ok, tool};
use sha2::{Digest, Sha256};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bad_input");

struct Case {
    file: String,
    line: Option<String>,
    field: String,
    extra: Vec<String>,
}

fn cases() -> Vec<Case> {
    let table = std::fs::read_to_string(Path::new(CORPUS).join("cases.tsv")).unwrap();
    table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert!(cols.len() >= 3, "cases.tsv: `{l}`");
            Case {
                file: cols[0].to_owned(),
                line: Some(cols[1]).filter(|&l| l != "-").map(str::to_owned),
                field: cols[2].to_owned(),
                extra: cols
                    .get(3)
                    .map(|e| e.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// The run's folder: settings, a bucket with a pipeline, a load-data CSV and an image, the
/// corpus (so that a case is never written to), and a queue holding two tasks.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("dcp.toml"),
        "APP_NAME = \"Corpus\"\nAWS_BUCKET = \"bucket\"\nLOCAL_WORKERS = 1\n",
    )
    .unwrap();
    for (key, text) in [
        ("pipelines/p.cppipe", "pipeline"),
        (
            "load_data.csv",
            "Metadata_Plate,Metadata_Well,FileName_DNA,PathName_DNA\nP1,A01,a.tif,images\n",
        ),
        ("images/a.tif", "image"),
    ] {
        let path = root.join("bucket").join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    copy_tree(Path::new(CORPUS), &root.join("bad_input"));
    stdout_ok(run(tool("dcp-queue"), root, &["create"], ""));
    let job = "{\"pipeline\": \"pipelines/p.cppipe\", \"data_file\": \"load_data.csv\", \
               \"input\": \"images\", \"output\": \"out\", \"groups\": [\
               {\"Metadata\": \"Metadata_Plate=P1\"}, {\"Metadata\": \"Metadata_Plate=P2\"}]}";
    std::fs::write(root.join("job.json"), job).unwrap();
    stdout_ok(run(tool("dcp-queue"), root, &["push", "job.json"], ""));
    dir
}

/// Every file and folder under `root` but the queue's SQLite files, with the hash of each
/// file's bytes: the buckets, the run folder, the settings and the corpus.
fn tree(root: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| {
            !e.file_name()
                .to_string_lossy()
                .starts_with("dcp-queue.sqlite")
        })
        .map(|e| {
            let hash = if e.file_type().is_file() {
                let digest = Sha256::digest(std::fs::read(e.path()).unwrap());
                digest.iter().map(|b| format!("{b:02x}")).collect()
            } else {
                "dir".to_owned()
            };
            let key = e.path().strip_prefix(root).unwrap().display().to_string();
            (key, hash)
        })
        .collect()
}

fn queue_status(root: &Path) -> serde_json::Value {
    let out = stdout_ok(run(tool("dcp-queue"), root, &["status"], ""));
    serde_json::from_str(&out).unwrap()
}

fn command(case: &Case) -> (&'static str, Vec<String>) {
    let file = format!("bad_input/{}", case.file);
    let kind = case.file.split('/').next().unwrap();
    let (tool, mut args): (&str, Vec<String>) = match kind {
        "settings" => ("dcp-queue", vec!["--config".into(), file, "create".into()]),
        "configpy" => ("dcp-config", vec!["import".into(), file]),
        "job" | "jsonl" => ("dcp-queue", vec!["push".into(), file]),
        "csv" => {
            let mut args = vec!["push".to_owned(), file];
            if !case.extra.iter().any(|a| a == "--job") {
                args.extend(["--job".into(), "bad_input/good/template.json".into()]);
            }
            ("dcp-queue", args)
        }
        "fleet" => ("dcp-fleet", vec!["start".into(), file]),
        other => panic!("cases.tsv: no tool for the folder `{other}`"),
    };
    args.extend(case.extra.iter().cloned());
    (tool, args)
}

/// What is wrong with the way a case was refused, if anything.
fn check(root: &Path, case: &Case) -> Option<String> {
    let (tool_name, args) = command(case);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let before = (tree(root), queue_status(root));
    let out = run(tool(tool_name), root, &args, "");
    let after = (tree(root), queue_status(root));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = format!("bad_input/{}", case.file);
    let located = match &case.line {
        Some(line) => format!("{file}:{line}:"),
        None => format!("{file}:"),
    };
    let mut wrong = Vec::new();
    if out.status.code() != Some(2) {
        wrong.push(format!("exit {:?}, not 2", out.status.code()));
    }
    if !stderr.contains(&located) {
        wrong.push(format!("no `{located}`"));
    }
    if !stderr.contains(&case.field) {
        wrong.push(format!("no field `{}`", case.field));
    }
    if stderr.contains("panicked") {
        wrong.push("a panic".into());
    }
    if !out.stdout.is_empty() {
        wrong.push("output on stdout".into());
    }
    if before.0 != after.0 {
        wrong.push("the buckets or run folder changed".into());
    }
    if before.1 != after.1 {
        wrong.push(format!("the queue changed: {} → {}", before.1, after.1));
    }
    (!wrong.is_empty()).then(|| {
        format!(
            "{}: {}\n    {}",
            case.file,
            wrong.join("; "),
            stderr.trim_end()
        )
    })
}

#[test]
fn every_bad_input_is_refused_by_file_line_and_field_and_changes_nothing() {
    let cases = cases();
    assert!(cases.len() >= 100, "the corpus holds {} cases", cases.len());
    let dir = workspace();
    let failures: Vec<String> = cases
        .iter()
        .filter(|c| cfg!(feature = "aws") || !c.file.starts_with("fleet/"))
        .filter_map(|c| check(dir.path(), c))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases were not refused as they should be:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
