use super::*;

#[test]
fn refusals_name_the_file_and_the_reason() {
    let e = BatchError::Outside {
        file: "w/Batch_data.h5".into(),
        image: Box::new(Image {
            image_number: 2,
            feature: "URL_DNA".into(),
            url: "file:///Users/me/a.tif".into(),
            path: "/Users/me/a.tif".into(),
        }),
        reason: "is not under MOUNT_ROOT `/home/ubuntu/bucket/`".into(),
    };
    let text = e.to_string();
    for part in [
        "w/Batch_data.h5",
        "image set 2",
        "URL_DNA",
        "/Users/me/a.tif",
        "MOUNT_ROOT",
    ] {
        assert!(text.contains(part), "{text}");
    }
    assert_eq!(e.status(), Status::InputProblem);
    let helper = BatchError::Helper {
        python: "python".into(),
        detail: "killed".into(),
    };
    assert_eq!(helper.status(), Status::CellprofilerFailed);
}
