use super::*;

const EXAMPLE: &str = r#"{
  "_comment1": "Paths in this file are relative to the root of your S3 bucket",
  "pipeline": "demo_project_folder/workspace/ExampleFly.cppipe",
  "data_file": "demo_project_folder/workspace/load_data.csv",
  "input": "demo_project_folder/workspace/",
  "output": "demo_project_folder/output",
  "output_structure": "Metadata_Position",
  "groups": [
    {"Metadata": "Metadata_Position=2"},
    {"Metadata": "Metadata_Position=76"},
    {"Metadata": {"Metadata_Position": 218}}
  ]
}"#;

fn refused(text: &str) -> JobErrors {
    parse_job(text, "job.json").unwrap_err()
}

#[test]
fn reads_dcp_example_job() {
    let tasks = parse_job(EXAMPLE, "job.json").unwrap();
    assert_eq!(tasks.bodies().len(), 3);
    assert!(tasks.bodies()[0].starts_with(r#"{"Metadata": "Metadata_Position=2", "pipeline": "#));
    assert!(tasks.bodies()[2].starts_with(r#"{"Metadata": {"Metadata_Position": 218}, "#));
}

#[test]
fn print_groups_form_and_missing_output_structure() {
    let job = r#"{"pipeline": "p", "data_file": "d", "input": "i", "output": "o",
        "groups": [{"Metadata": "Metadata_Plate=P1,Metadata_Well=A01"}]}"#;
    let tasks = parse_job(job, "job.json").unwrap();
    assert!(tasks.bodies()[0].ends_with(r#""output_structure": ""}"#));
    let job = r#"{"pipeline": "p", "data_file": "d", "input": "i", "output": "o", "output_structure": "Metadata_Plate",
        "groups": [{"Metadata_Plate": "P1"}]}"#;
    assert!(
        parse_job(job, "job.json").unwrap().bodies()[0]
            .starts_with(r#"{"Metadata": {"Metadata_Plate": "P1"}"#)
    );
}

#[test]
fn names_line_and_field_of_every_bad_group() {
    let job = r#"{"pipeline": "p", "data_file": "d", "input": "i", "output": "o",
        "groups": [
            {"Metadata": "Metadata_Plate=P1"},
            {"Metadata": "Metadata_Plate=.."},
            {"Metadata": "Metadata_Plate=P1"},
            {"Metadata": "Metadata_Plate"}
        ]}"#;
    let errors = refused(job);
    assert_eq!(errors.total, 3);
    let lines: Vec<(usize, &str)> = errors
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str()))
        .collect();
    assert_eq!(lines, [(4, "Metadata"), (5, "Metadata"), (6, "Metadata")]);
    assert!(
        errors.errors[0].message.contains("leave the output prefix"),
        "{}",
        errors.errors[0]
    );
    assert_eq!(
        errors.errors[1].message,
        "duplicate of the group at line 3: same metadata, same output prefix `o/P1`"
    );
    assert_eq!(
        errors.errors[0].to_string(),
        format!("job.json:4: Metadata: {}", errors.errors[0].message)
    );
}

#[test]
fn missing_and_unknown_fields_are_named() {
    let errors = refused(
        r#"{"pipeline": "p", "inptu": "i", "output": "o", "groups": [{"Metadata": "A=1"}]}"#,
    );
    let fields: Vec<&str> = errors.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["inptu", "data_file", "input"]);
    assert!(refused("{").errors[0].message.contains("EOF"));
    assert_eq!(
        refused(
            r#"{"pipeline": "p", "data_file": "d", "input": "i", "output": "o", "groups": []}"#
        )
        .errors[0]
            .field,
        "groups"
    );
}

#[test]
fn fields_escaping_the_bucket_are_refused() {
    let errors = refused(
        r#"{"pipeline": "/etc/p", "data_file": "d", "input": "i", "output": "o/../..", "groups": [{"Metadata": "A=1"}]}"#,
    );
    assert_eq!(errors.errors[0].field, "pipeline");
}

#[test]
fn placeholders_name_metadata() {
    let mut template = JobTemplate {
        pipeline: "p".into(),
        input: "i".into(),
        output: "o".into(),
        ..Default::default()
    };
    template.data_file = "csv/{Metadata_Plate}/load_data.csv".into();
    let planned = template
        .task(Metadata::Text("Metadata_Plate=P7,Metadata_Well=A01".into()))
        .unwrap();
    assert_eq!(planned.task.data_file, "csv/P7/load_data.csv");
    assert_eq!(planned.prefix, "o/P7-A01");
    assert_eq!(
        planned.pairs[1],
        ("Metadata_Well".to_owned(), "A01".to_owned())
    );
    template.data_file = "csv/{Metadata_Batch}/x.csv".into();
    let (field, message) = template
        .task(Metadata::Text("Metadata_Plate=P7".into()))
        .unwrap_err();
    assert_eq!(field, "data_file");
    assert!(message.contains("Metadata_Batch"));
    template.data_file = "csv/{Metadata_Plate".into();
    assert!(
        template
            .task(Metadata::Text("Metadata_Plate=P7".into()))
            .is_err()
    );
}

#[test]
fn a_batch_file_is_its_own_pipeline() {
    let mut template = JobTemplate {
        pipeline: "w/Batch_data.h5".into(),
        data_file: "w/Batch_data.h5".into(),
        input: "i".into(),
        output: "o".into(),
        ..Default::default()
    };
    let group = || Metadata::Text("Metadata_Plate=P7".into());
    assert!(template.task(group()).is_ok());
    template.pipeline = "w/analysis.cppipe".into();
    let (field, message) = template.task(group()).unwrap_err();
    assert_eq!(field, "pipeline");
    assert!(message.contains("w/Batch_data.h5"), "{message}");
}

#[test]
fn templates_leave_groups_to_the_csv() {
    let template =
        parse_template(r#"{"_c": "x", "pipeline": "p", "output": "o"}"#, "t.json").unwrap();
    assert_eq!(template.pipeline, "p");
    let (field, message) = template.task(Metadata::Text("A=1".into())).unwrap_err();
    assert_eq!(
        (field.as_str(), message.starts_with("missing")),
        ("data_file", true)
    );
    let errors = parse_template(r#"{"pipeline": "p", "groups": []}"#, "t.json").unwrap_err();
    assert_eq!(errors.errors[0].field, "groups");
}

#[test]
fn groups_may_share_or_nest_output_prefixes() {
    // DCP's z-projection jobs: one task per site, all writing into the plate's folder.
    let shared = r#"{"pipeline": "p", "data_file": "d", "input": "i", "output": "out",
        "output_structure": "Metadata_Plate",
        "groups": [
            {"Metadata": "Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site=1"},
            {"Metadata": "Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site=2"},
            {"Metadata": "Metadata_Plate=P1,Metadata_Well=A02,Metadata_Site=1"}
        ]}"#;
    assert_eq!(parse_job(shared, "zproj.json").unwrap().bodies().len(), 3);
    // The same group twice in one prefix is refused, in either key order.
    let twice = r#"{"pipeline": "p", "data_file": "d", "input": "i", "output": "out",
        "output_structure": "Metadata_Plate",
        "groups": [
            {"Metadata": "Metadata_Plate=P1,Metadata_Site=1"},
            {"Metadata": "Metadata_Site=1,Metadata_Plate=P1"}
        ]}"#;
    assert_eq!(
        parse_job(twice, "twice.json").unwrap_err().errors[0].line,
        5
    );
}

#[test]
fn structures_with_underscores_between_keys_give_dcps_prefix() {
    let job = r#"{"pipeline": "p", "data_file": "d", "input": "i", "output": "out",
        "output_structure": "Metadata_Plate_Metadata_Well_Metadata_Site",
        "groups": [{"Metadata": "Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site=1"}]}"#;
    let tasks = parse_job(job, "job.json").unwrap();
    let task = Task::from_body(&tasks.bodies()[0]).unwrap();
    assert_eq!(task.resolve().unwrap().1, "out/P1_A01_1");
}

#[test]
fn a_value_too_long_for_a_file_name_is_refused_at_push() {
    let long = "x".repeat(300);
    let job = format!(
        r#"{{"pipeline": "p", "data_file": "d", "input": "i", "output": "o",
        "groups": [{{"Metadata": "Metadata_Plate={long}"}}]}}"#
    );
    let errors = refused(&job);
    assert_eq!(errors.errors[0].line, 2);
    assert!(
        errors.errors[0].message.contains("longer than 255 bytes"),
        "{}",
        errors.errors[0]
    );
}
