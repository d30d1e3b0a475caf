//! Property tests of plate lists (CSVs of groups) and plate layouts: no input panics, and
//! an accepted plate list gives one task per row and layout combination, whose bodies read
//! back unchanged.

use dcp_common::{JobTemplate, Task};
use dcp_queue::csv_groups::read_groups;
use dcp_queue::layout::Layout;
use proptest::prelude::*;

fn template() -> JobTemplate {
    JobTemplate {
        pipeline: "p.cppipe".into(),
        data_file: "d.csv".into(),
        input: "in".into(),
        output: "out".into(),
        output_structure: String::new(),
    }
}

fn csv_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec![
                "Metadata_Plate", "Metadata_Well", "pipeline", "output", ",", "\n", "\"", "P1",
                "..", "/", " ", "A01", "=",
            ])
            .prop_map(str::to_owned),
            1 => any::<char>().prop_map(String::from),
        ],
        0..50,
    )
    .prop_map(|parts| parts.concat())
}

fn list() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9A-P,-]{0,12}", any::<String>()]
}

proptest! {
    #[test]
    fn any_plate_list_and_layout_is_read_or_refused_without_panic(
        text in csv_text(),
        format in prop::option::of(prop_oneof![Just(96u32), Just(384), any::<u32>()]),
        wells in prop::option::of(list()),
        sites in prop::option::of(list()),
    ) {
        if let Ok(layout) = Layout::new(format, wells.as_deref(), sites.as_deref()) {
            let _ = read_groups(text.as_bytes(), "plates.csv", &template(), &layout);
        }
    }
}

proptest! {
    // Each case expands up to 3 plates × 96 wells × 2 sites.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn an_accepted_plate_list_gives_a_task_per_row_and_site(
        plates in prop::collection::vec("[A-Za-z0-9_]{1,6}", 1..4),
        sites in 1usize..3,
    ) {
        let mut text = String::from("Metadata_Plate\n");
        for plate in &plates {
            text.push_str(plate);
            text.push('\n');
        }
        let layout = Layout::new(Some(96), None, Some(&format!("1-{sites}"))).unwrap();
        let result = read_groups(text.as_bytes(), "plates.csv", &template(), &layout);
        let mut distinct = plates.clone();
        distinct.sort();
        distinct.dedup();
        match result {
            Ok(tasks) => {
                prop_assert_eq!(distinct.len(), plates.len());
                prop_assert_eq!(tasks.bodies().len(), plates.len() * 96 * sites);
                for body in tasks.bodies() {
                    let task = Task::from_body(body).unwrap();
                    prop_assert_eq!(&task.to_body(), body);
                    prop_assert!(task.resolve().is_ok());
                }
            }
            // The same plate twice is the same group twice: refused.
            Err(_) => prop_assert!(distinct.len() < plates.len()),
        }
    }
}
