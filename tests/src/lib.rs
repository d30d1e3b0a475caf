//! Helpers for the cross-tool tests: find the workspace's built binaries.

use std::path::PathBuf;

/// The path of a dcp binary built in this workspace's target directory (next to the test
/// executable's `deps/`). `cargo test --workspace` builds them, since each tool has
/// integration tests of its own.
pub fn tool(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable has a path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("tests run from target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo test --workspace`",
        path.display()
    );
    path
}
