//! What the pilot counts: CellProfiler's own process group, not the pipeline load check
//! (real CellProfiler's Python, loading CellProfiler: hundreds of MiB and seconds), which a
//! worker makes once and the pilot times apart.

use super::*;

#[test]
fn the_load_check_is_neither_in_the_peak_memory_nor_in_the_groups_time() {
    let example = with_standin();
    real_python_beside_the_standin(&example);

    // The stand-in lives a second: long enough to be sampled.
    let out = pilot(&example, &["job.json"], Some("sleep:1"));
    dcp_tests::assert_exit(&out, 0);
    let all = findings(&out);
    assert_eq!(the(&all, "pipeline-load")["status"], "ok", "{all:#?}");
    let run = the(&all, "pilot");
    let load_check = figure(&run, "load_check_seconds");
    assert!(load_check > 1.0, "CellProfiler's Python was asked: {run:#}");
    assert!(figure(&run, "wall_seconds") < load_check, "{run:#}");
    assert!(figure(&run, "cpu_seconds") < 1.0, "{run:#}");
    let peak = figure(&run, "peak_memory_mib");
    assert!(
        peak > 0.0 && peak < 50.0,
        "the stand-in's shell alone: {run:#}"
    );
}

/// CELLPROFILER is the stand-in (a shell script), next to a `python` that is real
/// CellProfiler's: the load check runs for real, the group's run is tiny.
pub(super) fn real_python_beside_the_standin(example: &Example) {
    let bin = example.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(dcp_tests::STANDIN, bin.join("cellprofiler")).unwrap();
    let python = dcp_tests::cellprofiler().with_file_name("python");
    let wrapper = bin.join("python");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\nexec '{}' \"$@\"\n", python.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    example.edit(
        "dcp.toml",
        &format!("CELLPROFILER = \"{}\"", dcp_tests::STANDIN),
        &format!("CELLPROFILER = \"{}\"", bin.join("cellprofiler").display()),
    );
}
