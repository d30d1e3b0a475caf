use super::*;
use dcp_common::Task;

fn template() -> JobTemplate {
    JobTemplate {
        pipeline: "pipelines/analysis.cppipe".into(),
        data_file: "load_data_csv/Batch1/{Metadata_Plate}/load_data.csv".into(),
        input: "images/".into(),
        output: "analysis".into(),
        output_structure: String::new(),
    }
}

fn tasks(csv: &str, layout: &Layout) -> Result<Vec<Task>, JobErrors> {
    let set = read_groups(csv.as_bytes(), "plates.csv", &template(), layout)?;
    Ok(set
        .bodies()
        .iter()
        .map(|b| Task::from_body(b).unwrap())
        .collect())
}

#[test]
fn one_group_per_row_with_placeholders() {
    let got = tasks(
        "Metadata_Plate,Metadata_Well\nP1,A01\nP2, B02 \n",
        &Layout::default(),
    )
    .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1].metadata,
        Metadata::Text("Metadata_Plate=P2,Metadata_Well=B02".into())
    );
    assert_eq!(got[1].data_file, "load_data_csv/Batch1/P2/load_data.csv");
}

#[test]
fn plates_expand_into_wells_and_sites() {
    let layout = Layout::new(Some(96), None, Some("1-9")).unwrap();
    let got = tasks("Metadata_Plate\nP1\nP2\n", &layout).unwrap();
    assert_eq!(got.len(), 2 * 96 * 9);
    assert_eq!(
        got[0].metadata,
        Metadata::Text("Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site=1".into())
    );
    assert_eq!(
        got[9].metadata,
        Metadata::Text("Metadata_Plate=P1,Metadata_Well=A02,Metadata_Site=1".into())
    );
}

#[test]
fn columns_override_job_fields() {
    let got = tasks(
        "Metadata_Plate,pipeline\nP1,other.cppipe\nP2,\n",
        &Layout::default(),
    )
    .unwrap();
    assert_eq!(got[0].pipeline, "other.cppipe");
    assert_eq!(got[1].pipeline, "pipelines/analysis.cppipe");
}

#[test]
fn errors_name_line_and_column() {
    let errors = tasks(
        "Metadata_Plate,Metadata_Well\nP1,A01\nP1,A01\n../x,A02\nP3,A/1\n",
        &Layout::default(),
    )
    .unwrap_err();
    let found: Vec<(usize, &str)> = errors
        .errors
        .iter()
        .map(|e| (e.line, e.field.as_str()))
        .collect();
    assert_eq!(found, [(3, "Metadata"), (4, "Metadata"), (5, "Metadata")]);
    assert_eq!(
        errors.errors[0].to_string(),
        "plates.csv:3: Metadata: duplicate of the group at line 2: same metadata, same \
         output prefix `analysis/P1-A01`"
    );
    let errors = tasks("Metadata_Plate,colour\nP1,red\n", &Layout::default()).unwrap_err();
    assert_eq!(
        (errors.errors[0].line, errors.errors[0].field.as_str()),
        (1, "colour")
    );
    let errors = tasks("Metadata_Plate,Metadata_Well\nP1\n", &Layout::default()).unwrap_err();
    assert_eq!(errors.errors[0].line, 2);
    let errors = tasks(
        "Metadata_Plate,Metadata_Site\nP1,1\n",
        &Layout::new(None, None, Some("1")).unwrap(),
    )
    .unwrap_err();
    assert_eq!(errors.errors[0].field, "Metadata_Site");
    assert!(tasks("Metadata_Plate\n", &Layout::default()).is_err());
}

#[test]
fn rows_may_write_into_one_anothers_output_prefix() {
    // out/P1/A01 and out/P1: publishing merges, so neither loses the other's files.
    let got = tasks(
        "Metadata_Plate,Metadata_Well,output,output_structure\n\
         P1,A01,out,Metadata_Plate/Metadata_Well\n\
         P1,A01,out,Metadata_Plate\n",
        &Layout::default(),
    )
    .unwrap();
    let prefixes: Vec<String> = got.iter().map(|t| t.resolve().unwrap().1).collect();
    assert_eq!(prefixes, ["out/P1/A01", "out/P1"]);
}

#[test]
fn excel_trailing_commas_and_unnamed_empty_columns_are_ignored() {
    // Excel writes a comma for every column once used: an unnamed header column, or rows
    // longer than the header, with nothing in them.
    for csv in [
        "\u{feff}Metadata_Plate,,\r\nP1,,\r\nP2,,\r\n",
        "Metadata_Plate\r\nP1,\r\nP2,,\r\n",
    ] {
        let got = tasks(csv, &Layout::default()).unwrap();
        let metadata: Vec<&Metadata> = got.iter().map(|t| &t.metadata).collect();
        assert_eq!(
            metadata,
            [
                &Metadata::Text("Metadata_Plate=P1".into()),
                &Metadata::Text("Metadata_Plate=P2".into())
            ],
            "{csv:?}"
        );
    }
    // A value there is refused with its line and column, and no other error follows.
    // Excel saves CRLF lines, where the csv crate would place a row one line early.
    for csv in [
        "Metadata_Plate,\nP1,\nP2,x\n",
        "Metadata_Plate,\r\nP1,\r\nP2,x\r\n",
    ] {
        let errors = tasks(csv, &Layout::default()).unwrap_err();
        let found: Vec<String> = errors.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "plates.csv:3: column 2: `x` is under no column name; name the column or remove the value"
            ],
            "{csv:?}"
        );
    }
    let errors = tasks("Metadata_Plate\nP1,x\n", &Layout::default()).unwrap_err();
    let found: Vec<String> = errors.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        [
            "plates.csv:2: column 2: `x` is under no column name; name the column or remove the value"
        ]
    );
}
