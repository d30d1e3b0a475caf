//! USE_PLUGINS with UPDATE_PLUGINS, PLUGINS_COMMIT and INSTALL_REQUIREMENTS: the plugins
//! checkout is prepared before the first task (a local git repository made here; packages
//! installed offline from wheels made here into a venv standing for CellProfiler's), and a
//! failed preparation stops the worker before it takes any task.

#[allow(dead_code)]
mod standin;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dcp_worker::plugins::cellprofiler_python;
use standin::{RunDir, outcomes};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=dcp",
            "-c",
            "user.email=dcp@example.invalid",
        ])
        .args(["-c", "init.defaultBranch=main", "-C"])
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Commits `file` with `text` in `repo`; returns the commit.
fn commit(repo: &Path, file: &str, text: &str) -> String {
    let path = repo.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "--quiet", "-m", file]);
    git(repo, &["rev-parse", "HEAD"])
}

/// Sets the run's plugin settings (and, when given, its CELLPROFILER).
fn settings(run: &RunDir, plugins: &str, cellprofiler: Option<&Path>) {
    let path = run.path().join("dcp.toml");
    let mut text: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| cellprofiler.is_none() || !l.starts_with("CELLPROFILER ="))
        .map(|l| format!("{l}\n"))
        .collect();
    if let Some(cp) = cellprofiler {
        text.push_str(&format!("CELLPROFILER = \"{}\"\n", cp.display()));
    }
    text.push_str(plugins);
    std::fs::write(path, text).unwrap();
}

fn failed_before_any_task(run: &RunDir, out: &Output, setting: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot prepare the plugins: {setting}: ")),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(run.counts(), (1, 0, 0), "the task was not received");
    assert_eq!(run.starts(), 0);
}

#[test]
fn the_checkout_is_updated_and_pinned_before_the_first_task() {
    let run = RunDir::new("");
    let upstream = run.path().join("upstream");
    std::fs::create_dir(&upstream).unwrap();
    git(&upstream, &["init", "--quiet"]);
    let first = commit(&upstream, "active_plugins/runcellpose.py", "# 1\n");
    git(&upstream, &["tag", "v1"]);
    commit(&upstream, "active_plugins/runcellpose.py", "# 2\n");
    git(run.path(), &["clone", "--quiet", "upstream", "plugins"]);
    let newest = commit(&upstream, "active_plugins/runcellpose.py", "# 3\n");
    let checkout = run.path().join("plugins");

    settings(
        &run,
        "USE_PLUGINS = true\nPLUGINS_DIRECTORY = \"plugins\"\nUPDATE_PLUGINS = true\n",
        None,
    );
    run.push(&["P1"], "w/p.cppipe");
    let out = run.worker("ok", &[]).output().unwrap();
    assert_eq!(outcomes(&out)[0]["status"], "success");
    assert_eq!(git(&checkout, &["rev-parse", "HEAD"]), newest);
    // CellProfiler loads the plugins from the checkout's active_plugins, as in DCP.
    let starts = std::fs::read_to_string(run.path().join("starts.txt")).unwrap();
    let folder = checkout.join("active_plugins");
    assert!(
        starts.contains(&format!("--plugins-directory={}", folder.display())),
        "{starts}"
    );

    settings(&run, "PLUGINS_COMMIT = \"v1\"\n", None);
    run.push(&["P2"], "w/p.cppipe");
    let out = run.worker("ok", &[]).output().unwrap();
    assert_eq!(outcomes(&out)[0]["status"], "success");
    assert_eq!(git(&checkout, &["rev-parse", "HEAD"]), first);

    // A commit that does not exist stops the worker before it takes a task.
    let text = std::fs::read_to_string(run.path().join("dcp.toml")).unwrap();
    let text = text.replace("PLUGINS_COMMIT = \"v1\"", "PLUGINS_COMMIT = \"v9\"");
    std::fs::write(run.path().join("dcp.toml"), text).unwrap();
    run.push(&["P3"], "w/p.cppipe");
    let starts = run.starts();
    std::fs::remove_file(run.path().join("starts.txt")).unwrap();
    assert_eq!(starts, 2);
    let out = run.worker("ok", &[]).output().unwrap();
    failed_before_any_task(&run, &out, "PLUGINS_COMMIT");
    assert!(String::from_utf8_lossy(&out.stderr).contains("checkout --quiet v9"));
}

#[test]
fn a_plugins_directory_that_is_no_git_checkout_fails_naming_the_setting() {
    let run = RunDir::new("");
    std::fs::create_dir_all(run.path().join("plain/active_plugins")).unwrap();
    settings(
        &run,
        "USE_PLUGINS = true\nPLUGINS_DIRECTORY = \"plain\"\nUPDATE_PLUGINS = true\n",
        None,
    );
    run.push(&["P1"], "w/p.cppipe");
    let out = run.worker("ok", &[]).output().unwrap();
    failed_before_any_task(&run, &out, "UPDATE_PLUGINS");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a git checkout"));
}

/// Writes a wheel of one module `module` (`import module` works once it is installed),
/// made with `python`'s zipfile; returns its path.
fn wheel(python: &Path, dir: &Path, name: &str, module: &str) -> PathBuf {
    let dist = format!("{}-1.0", name.replace('-', "_"));
    let path = dir.join(format!("{dist}-py3-none-any.whl"));
    let script = format!(
        "import zipfile\n\
         with zipfile.ZipFile({path:?}, 'w') as z:\n\
         \x20   z.writestr('{module}.py', 'VALUE = 1\\n')\n\
         \x20   z.writestr('{dist}.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: {name}\\nVersion: 1.0\\n')\n\
         \x20   z.writestr('{dist}.dist-info/WHEEL', 'Wheel-Version: 1.0\\nGenerator: dcp-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')\n\
         \x20   z.writestr('{dist}.dist-info/RECORD', '{module}.py,,\\n{dist}.dist-info/METADATA,,\\n{dist}.dist-info/WHEEL,,\\n{dist}.dist-info/RECORD,,\\n')\n",
        path = path.to_str().unwrap()
    );
    let status = Command::new(python).args(["-c", &script]).status().unwrap();
    assert!(status.success());
    path
}

/// A build backend inside the plugins checkout (PEP 517 `backend-path`), so pip installs
/// it editable with no package from an index: the wheel holds a .pth naming the checkout.
const BACKEND: &str = r#"import os, zipfile
DIST = "dcp_test_plugins-1.0"
def _wheel(directory, files):
    name = DIST + "-py3-none-any.whl"
    meta = ("Metadata-Version: 2.1\nName: dcp-test-plugins\nVersion: 1.0\n"
            "Provides-Extra: extra\nRequires-Dist: dcp-test-extra; extra == \"extra\"\n")
    files = dict(files)
    files[DIST + ".dist-info/METADATA"] = meta
    files[DIST + ".dist-info/WHEEL"] = "Wheel-Version: 1.0\nGenerator: dcp-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
        z.writestr(DIST + ".dist-info/RECORD", "".join(p + ",,\n" for p in files) + DIST + ".dist-info/RECORD,,\n")
    return name
def build_wheel(directory, config_settings=None, metadata_directory=None):
    return _wheel(directory, {"dcp_test_plugins.py": open("dcp_test_plugins.py").read()})
def build_editable(directory, config_settings=None, metadata_directory=None):
    return _wheel(directory, {"dcp_test_plugins.pth": os.getcwd() + "\n"})
"#;

#[test]
fn requirements_are_installed_into_cellprofilers_python() {
    let run = RunDir::new("");
    let root = run.path();
    let venv = root.join("venv");
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success());
    let python = venv.join("bin/python");
    // CellProfiler of this venv: the stand-in, placed in its bin (run cold: the venv's
    // Python has no CellProfiler for a warm runner to import).
    let cellprofiler = venv.join("bin/cellprofiler");
    std::fs::copy(dcp_tests::STANDIN, &cellprofiler).unwrap();
    assert_eq!(
        cellprofiler_python(cellprofiler.to_str().unwrap()).unwrap(),
        python
    );
    let wheels = root.join("wheels");
    std::fs::create_dir(&wheels).unwrap();
    wheel(&python, &wheels, "dcp-test-extra", "dcp_test_extra");
    let old = wheel(&python, &wheels, "dcp-test-old", "dcp_test_old");

    // CellProfiler-plugins 1.0's layout: the package installed editable, with its extra.
    let checkout = root.join("plugins");
    std::fs::create_dir_all(checkout.join("active_plugins")).unwrap();
    std::fs::write(checkout.join("active_plugins/runcellpose.py"), "").unwrap();
    std::fs::write(checkout.join("dcp_test_plugins.py"), "VALUE = 2\n").unwrap();
    std::fs::write(checkout.join("dcp_backend.py"), BACKEND).unwrap();
    std::fs::write(
        checkout.join("pyproject.toml"),
        "[build-system]\nrequires = []\nbuild-backend = \"dcp_backend\"\nbackend-path = [\".\"]\n",
    )
    .unwrap();
    settings(
        &run,
        "USE_PLUGINS = true\nPLUGINS_DIRECTORY = \"plugins\"\nINSTALL_REQUIREMENTS = true\n\
         REQUIREMENTS = \"extra\"\nCELLPROFILER_RUNNER = \"cold\"\n",
        Some(&cellprofiler),
    );
    let worker = |run: &RunDir| {
        let mut command = run.worker("ok", &[]);
        command
            .env("PIP_NO_INDEX", "1")
            .env("PIP_FIND_LINKS", &wheels)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1");
        command.output().unwrap()
    };
    run.push(&["P1"], "w/p.cppipe");
    assert_eq!(outcomes(&worker(&run))[0]["status"], "success");
    let imports = |modules: &str| {
        Command::new(&python)
            .args(["-c", &format!("import {modules}")])
            .status()
            .unwrap()
            .success()
    };
    assert!(imports("dcp_test_plugins, dcp_test_extra"));
    assert!(!imports("dcp_test_old"));

    // The layout before 1.0: REQUIREMENTS is a requirements file within the checkout.
    let legacy = root.join("legacy");
    std::fs::create_dir(&legacy).unwrap();
    std::fs::write(
        legacy.join("requirements.txt"),
        format!("{}\n", old.display()),
    )
    .unwrap();
    let text = std::fs::read_to_string(root.join("dcp.toml"))
        .unwrap()
        .replace("\"plugins\"", "\"legacy\"")
        .replace("\"extra\"", "\"requirements.txt\"");
    std::fs::write(root.join("dcp.toml"), &text).unwrap();
    run.push(&["P2"], "w/p.cppipe");
    assert_eq!(outcomes(&worker(&run))[0]["status"], "success");
    assert!(imports("dcp_test_old"));

    // A requirements file that is not there stops the worker before it takes a task.
    std::fs::write(
        root.join("dcp.toml"),
        text.replace("\"requirements.txt\"", "\"missing.txt\""),
    )
    .unwrap();
    run.push(&["P3"], "w/p.cppipe");
    std::fs::remove_file(root.join("starts.txt")).unwrap();
    failed_before_any_task(&run, &worker(&run), "INSTALL_REQUIREMENTS");
}

#[test]
fn cellprofilers_python_is_found_through_its_first_line() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("cellprofiler");
    std::fs::write(
        &script,
        "#!/opt/cp/venv/bin/python3.11 -u\nimport cellprofiler\n",
    )
    .unwrap();
    assert_eq!(
        cellprofiler_python(script.to_str().unwrap()).unwrap(),
        Path::new("/opt/cp/venv/bin/python3.11")
    );
    std::fs::write(&script, "#!/bin/sh\nexec true\n").unwrap();
    let err = cellprofiler_python(script.to_str().unwrap()).unwrap_err();
    assert_eq!(err.setting, "INSTALL_REQUIREMENTS");
    assert!(err.message.contains("no python next to"), "{err}");
}
