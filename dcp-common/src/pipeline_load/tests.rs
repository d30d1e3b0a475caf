use super::*;

/// The probe's answer for the public Cell Painting illum pipeline
/// (`illum_without_batchfile.cppipe`), as CellProfiler 5 loads it: the five SaveImages
/// modules save `.mat`, which it no longer offers.
const ILLUM: &str = include_str!("illum-answer.json");

fn module(number: u32, name: &str, kept: bool) -> LoadedModule {
    LoadedModule {
        number,
        name: Some(name.to_owned()),
        enabled: Some(true),
        kept,
        error: None,
        warnings: Vec::new(),
        folders: Vec::new(),
        file_names: Vec::new(),
    }
}

#[test]
fn the_illum_pipeline_loses_its_save_images_modules() {
    let load = parse(ILLUM.as_bytes()).unwrap();
    assert_eq!(load.modules.len(), 22);
    assert_eq!(load.lost().count(), 6);
    let writers: Vec<String> = load.lost_file_writers().iter().map(|m| m.label()).collect();
    assert_eq!(
        writers,
        [17, 18, 19, 20, 21].map(|n| format!("SaveImages #{n}"))
    );
    let findings = load.findings().unwrap();
    assert!(
        findings.starts_with(
            "pipeline lost 6 of its 22 modules on load: SaveImages #17 (Unsupported file \
             format: mat), SaveImages #18 (Unsupported file format: mat), "
        ),
        "{findings}"
    );
    // CreateBatchFiles is disabled: lost, but it would not have written anything.
    assert!(
        findings.ends_with(
            "CreateBatchFiles #22 (disabled; not loaded: CellProfiler stopped loading at #17)"
        ),
        "{findings}"
    );
    assert!(load.warnings[0].contains("Your pipeline version is"));
}

#[test]
fn a_pipeline_kept_whole_has_no_findings() {
    let load = PipelineLoad {
        modules: vec![module(1, "LoadData", true), module(2, "SaveImages", true)],
        warnings: vec!["saved by another version".into()],
    };
    assert_eq!(load.findings(), None);
    assert!(load.lost_file_writers().is_empty());
}

#[test]
fn lost_modules_that_write_no_files_are_findings_only() {
    let mut lost = module(2, "MeasureTexture", false);
    lost.error = Some("Could not find the MeasureTexture module".into());
    let mut changed = module(1, "Threshold", true);
    changed.warnings = vec!["threshold method Otsu upgraded".into()];
    let unnamed = LoadedModule {
        name: None,
        enabled: None,
        error: Some("Invalid format for module header: x".into()),
        ..module(3, "", false)
    };
    let load = PipelineLoad {
        modules: vec![changed, lost, unnamed],
        warnings: Vec::new(),
    };
    assert!(load.lost_file_writers().is_empty());
    assert_eq!(
        load.findings().unwrap(),
        "pipeline lost 2 of its 3 modules on load: MeasureTexture #2 (Could not find the \
         MeasureTexture module), module #3 (Invalid format for module header: x); changed on \
         load: Threshold #1: threshold method Otsu upgraded"
    );
}

#[test]
fn file_writers_are_cellprofilers_save_and_export_modules() {
    for name in [
        "SaveImages",
        "SaveCroppedObjects",
        "ExportToSpreadsheet",
        "ExportToDatabase",
        "CreateBatchFiles",
    ] {
        assert!(writes_files(name), "{name}");
    }
    for name in ["LoadData", "MeasureImageQuality", "OverlayOutlines"] {
        assert!(!writes_files(name), "{name}");
    }
}

#[test]
fn answers_that_are_not_a_load_are_errors() {
    assert_eq!(
        parse(br#"{"error": "NotImplementedError: Invalid header: \"x\""}"#).unwrap_err(),
        CheckError::Unloadable("NotImplementedError: Invalid header: \"x\"".into())
    );
    assert!(matches!(
        parse(b"Traceback (most recent call last):").unwrap_err(),
        CheckError::BadAnswer(_)
    ));
    assert!(matches!(
        parse(br#"{"modules": [{"number": 1}]}"#).unwrap_err(),
        CheckError::BadAnswer(_)
    ));
}

fn folder(setting: &str, choice: &str, path: &str) -> Folder {
    Folder {
        setting: setting.to_owned(),
        choice: choice.to_owned(),
        path: Some(path.to_owned()),
    }
}

#[test]
fn only_modules_writing_into_the_default_output_folder_pass() {
    let writer = |number, name: &str, folders: Vec<Folder>| LoadedModule {
        folders,
        ..module(number, name, true)
    };
    let load = PipelineLoad {
        modules: vec![
            // An input folder is not where anything is written.
            writer(
                1,
                "LoadData",
                vec![folder(
                    "Input data file location",
                    "Default Input Folder",
                    "",
                )],
            ),
            writer(
                2,
                "ExportToSpreadsheet",
                vec![folder("Output file location", "Default Output Folder", "")],
            ),
            writer(
                3,
                "SaveImages",
                vec![folder(
                    "Output file location",
                    "Default Output Folder sub-folder",
                    "\\g<Plate>/masks",
                )],
            ),
            writer(
                4,
                "ExportToSpreadsheet",
                vec![folder(
                    "Output file location",
                    "Elsewhere...",
                    "/data/results",
                )],
            ),
            writer(
                5,
                "SaveImages",
                vec![folder("Output file location", "Default Input Folder", "")],
            ),
            writer(
                6,
                "SaveCroppedObjects",
                vec![folder(
                    "Directory",
                    "Default Output Folder sub-folder",
                    "../up",
                )],
            ),
            writer(
                7,
                "MeasureObjectSkeleton",
                vec![folder("File output directory", "Same folder as image", "")],
            ),
            writer(
                8,
                "SaveImages",
                vec![folder(
                    "Output file location",
                    "Default Output Folder sub-folder",
                    "/abs",
                )],
            ),
            // Create subfolders in the output folder? Yes: it shows its Base image folder.
            writer(
                10,
                "SaveImages",
                vec![
                    folder("Output file location", "Default Output Folder", ""),
                    folder("Base image folder", "Default Input Folder", ""),
                ],
            ),
            LoadedModule {
                enabled: Some(false),
                ..writer(
                    9,
                    "SaveImages",
                    vec![folder("Output file location", "Elsewhere...", "/x")],
                )
            },
        ],
        warnings: Vec::new(),
    };
    let outside: Vec<u32> = load
        .writes_outside()
        .iter()
        .map(|(m, _)| m.number)
        .collect();
    assert_eq!(outside, [4, 5, 6, 7, 8]);
    let mirrors: Vec<u32> = load
        .mirrors_image_folders()
        .iter()
        .map(|(m, _)| m.number)
        .collect();
    assert_eq!(mirrors, [10]);
    let findings = load.outside_findings().unwrap();
    assert!(
        findings.contains(
            "SaveImages #10 mirrors its images' folders under its output folder (Create \
             subfolders in the output folder? Yes; Base image folder: Default Input Folder)"
        ),
        "{findings}"
    );
    assert!(
        findings.starts_with(
            "ExportToSpreadsheet #4 writes to Output file location: Elsewhere...|/data/results; \
             SaveImages #5 writes to Output file location: Default Input Folder; "
        ),
        "{findings}"
    );
    let inside = PipelineLoad {
        modules: load.modules[..3].to_vec(),
        warnings: Vec::new(),
    };
    assert_eq!(inside.outside_findings(), None);
}

fn tagged_writer(path: &str) -> PipelineLoad {
    PipelineLoad {
        modules: vec![LoadedModule {
            folders: vec![Folder {
                setting: "Output file location".into(),
                choice: "Default Output Folder sub-folder".into(),
                path: Some(path.into()),
            }],
            ..module(5, "ExportToSpreadsheet", true)
        }],
        warnings: Vec::new(),
    }
}

const TAGGED_CSV: &str = "FileName_DNA,PathName_DNA,Metadata_Plate,Metadata_Dir,Metadata_Site\n\
    a.tif,/d,P1,Plate1,001\n\
    b.tif,/d,P1,Plate1/A01,002\n\
    c.tif,/d,P2,../..,003\n\
    d.tif,/d,P2,ok,004\n\
    e.tif,/d,P2,/abs,005\n\
    f.tif,/d,P2,x/../../y,006\n\
    g.tif,/d,P2,..\\x,007\n\
    h.tif,/d,P2,\\g<Dir>,008\n";

fn group(data: &crate::loaddata::LoadData, plate: &str) -> Option<String> {
    let rows = data
        .select(&[("Metadata_Plate".to_owned(), plate.to_owned())])
        .unwrap();
    let load = tagged_writer("out/\\g<Dir>");
    assert_eq!(load.outside_findings(), None, "inside as written");
    let tagged = load.tagged_outputs();
    assert_eq!(tagged.len(), 1);
    output_folder::tagged::group_findings(&tagged, "plate.csv", &rows)
}

#[test]
fn a_tagged_sub_folder_is_judged_for_each_row_of_the_group() {
    let data = crate::loaddata::LoadData::parse(TAGGED_CSV.as_bytes()).unwrap();
    // A value with `/` but no `..` makes folders inside.
    assert_eq!(group(&data, "P1"), None);
    // `out//abs` (line 6) is inside; `..\x` (line 8) is refused on any system.
    let found = group(&data, "P2").unwrap();
    assert_eq!(
        found,
        "ExportToSpreadsheet #5 writes to Output file location: Default Output Folder \
         sub-folder|out/\\g<Dir>, which is `out/../..` for plate.csv line 4 (Metadata_Dir \
         `../..`), outside the Default Output Folder (the task's output place), and for \
         lines 7, 8"
    );
}

#[test]
fn a_tag_alone_takes_the_value_as_the_whole_path() {
    let data = crate::loaddata::LoadData::parse(TAGGED_CSV.as_bytes()).unwrap();
    let rows = data
        .select(&[("Metadata_Plate".to_owned(), "P2".to_owned())])
        .unwrap();
    let load = tagged_writer("\\g<Dir>");
    let found = output_folder::tagged::group_findings(&load.tagged_outputs(), "p.csv", &rows);
    let found = found.unwrap();
    assert!(
        found.contains("which is `../..` for p.csv line 4 (Metadata_Dir `../..`)")
            && found.ends_with("and for lines 6, 7, 8"),
        "{found}"
    );
    // `/abs` (line 6) replaces the Default Output Folder; the value `\g<Dir>` (line 9) is
    // not read again for tags and stays a name inside.
    let load = tagged_writer("\\g<Site>_\\g<Dir>");
    let found = output_folder::tagged::group_findings(&load.tagged_outputs(), "p.csv", &rows);
    let found = found.unwrap();
    assert!(
        found.contains("which is `3_../..` for p.csv line 4")
            && found.contains("(Metadata_Site `3`, Metadata_Dir `../..`)"),
        "{found}"
    );
}

#[test]
fn a_tag_naming_no_column_is_a_finding() {
    let data = crate::loaddata::LoadData::parse(TAGGED_CSV.as_bytes()).unwrap();
    let rows = data
        .select(&[("Metadata_Plate".to_owned(), "P1".to_owned())])
        .unwrap();
    let load = tagged_writer("\\g<Well>/\\g<Dir>");
    let found = output_folder::tagged::group_findings(&load.tagged_outputs(), "p.csv", &rows);
    assert_eq!(
        found.unwrap(),
        "ExportToSpreadsheet #5 writes to Output file location: Default Output Folder \
         sub-folder|\\g<Well>/\\g<Dir>, but p.csv has no column Metadata_Well to fill its \
         metadata tags (CellProfiler fails on it)"
    );
    let unread = output_folder::tagged::unreadable_findings(&load.tagged_outputs(), "b.h5");
    assert!(unread.unwrap().contains("filled from b.h5, a batch file"));
    assert_eq!(
        output_folder::tagged::unreadable_findings(
            &tagged_writer("plain").tagged_outputs(),
            "b.h5"
        ),
        None
    );
}

#[test]
fn a_file_name_is_judged_as_a_sub_folder_is() {
    let name = |value: &str| FileName {
        setting: "File name".into(),
        value: value.into(),
    };
    let load = PipelineLoad {
        modules: vec![
            LoadedModule {
                file_names: vec![name("Image.csv"), name("../x.csv"), name("\\g<Dir>.csv")],
                ..module(5, "ExportToSpreadsheet", true)
            },
            // A module that writes no files names none.
            LoadedModule {
                file_names: vec![name("/abs")],
                ..module(6, "MeasureObjectSizeShape", true)
            },
        ],
        warnings: Vec::new(),
    };
    assert_eq!(
        load.outside_findings().unwrap(),
        "ExportToSpreadsheet #5 names its files File name: ../x.csv, outside the Default \
         Output Folder (the task's output place)"
    );
    let tagged = load.tagged_outputs();
    assert_eq!(tagged.len(), 1);
    assert_eq!(tagged[0].pattern, "\\g<Dir>.csv");
    let data = crate::loaddata::LoadData::parse(TAGGED_CSV.as_bytes()).unwrap();
    let rows = data
        .select(&[("Metadata_Plate".to_owned(), "P2".to_owned())])
        .unwrap();
    let found = output_folder::tagged::group_findings(&tagged, "p.csv", &rows).unwrap();
    assert!(
        found.starts_with(
            "ExportToSpreadsheet #5 names its files File name: \\g<Dir>.csv, which is \
             `../...csv` for p.csv line 4 (Metadata_Dir `../..`)"
        ),
        "{found}"
    );
}
