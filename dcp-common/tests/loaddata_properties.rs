//! Property tests of load-data row selection through its public API: no CSV or group
//! panics, and a group gets exactly the rows whose metadata equal its values.

use dcp_common::loaddata::{Buckets, LoadData};
use proptest::prelude::*;

fn buckets() -> Buckets<'static> {
    Buckets {
        mount_root: "/home/ubuntu/bucket/",
        named: [
            ("SOURCE_BUCKET", "src"),
            ("DESTINATION_BUCKET", "dst"),
            ("WORKSPACE_BUCKET", "src"),
        ],
    }
}

proptest! {
    #[test]
    fn any_csv_and_group_is_selected_or_refused_without_panic(
        text in prop::collection::vec(
            prop_oneof![
                Just(b','), Just(b'\n'), Just(b'"'), Just(b'M'), Just(b'1'), any::<u8>()
            ],
            0..80,
        ),
        group in prop::collection::vec(("[A-Za-z_,\"]{0,6}", "[0-9A-Z,\"]{0,3}"), 0..3),
    ) {
        if let Ok(data) = LoadData::parse(&text)
            && let Ok(rows) = data.select(&group)
        {
            let _ = rows.objects(&buckets());
        }
    }

    #[test]
    fn a_group_gets_exactly_its_rows(
        rows in prop::collection::vec(("[AB]", "[12]"), 1..12),
        plate in "[ABC]",
        well in "[123]",
    ) {
        let mut csv = String::from("Metadata_Plate,Metadata_Well,FileName_DNA,PathName_DNA\n");
        for (i, (p, w)) in rows.iter().enumerate() {
            csv.push_str(&format!("{p},{w},img{i}.tif,/home/ubuntu/bucket/images\n"));
        }
        let data = LoadData::parse(csv.as_bytes()).unwrap();
        let group = [
            ("Metadata_Plate".to_owned(), plate.clone()),
            ("Metadata_Well".to_owned(), well.clone()),
        ];
        let expected: Vec<String> = rows
            .iter()
            .enumerate()
            .filter(|(_, (p, w))| *p == plate && *w == well)
            .map(|(i, _)| format!("images/img{i}.tif"))
            .collect();
        match data.select(&group) {
            Ok(selected) => {
                let objects = selected.objects(&buckets()).unwrap();
                let keys: Vec<String> = objects.into_iter().map(|o| o.key).collect();
                prop_assert_eq!(keys, expected);
            }
            Err(_) => prop_assert!(expected.is_empty()),
        }
    }
}
