//! Every tool's shell completions and man page, as `--generate KIND` prints them and
//! `scripts/install-completions` installs them, name the tool's subcommands and options.

use std::path::Path;

use dcp_tests::{run, stdout_ok, tool};

/// Each tool with subcommands or options its completions and man page must mention.
const TOOLS: [(&str, &[&str]); 5] = [
    ("dcp-config", &["init", "import", "config"]),
    (
        "dcp-queue",
        &[
            "push", "create", "status", "dead", "redrive", "purge", "delete",
        ],
    ),
    (
        "dcp-fleet",
        &["setup", "start", "status", "scale", "stop", "teardown"],
    ),
    ("dcp-watch", &["once", "interval", "cheapest"]),
    ("dcp-worker", &["cores", "wait", "retry-delay"]),
];

#[test]
fn completions_and_man_pages_name_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    for (name, words) in TOOLS {
        for kind in ["bash", "zsh", "fish", "man"] {
            let text = stdout_ok(run(tool(name), dir.path(), &["--generate", kind], ""));
            // roff escapes hyphens as `\-`.
            let text = text.replace("\\-", "-");
            for word in words {
                assert!(text.contains(word), "{name} --generate {kind}: no `{word}`");
            }
        }
        let out = run(tool(name), dir.path(), &["--generate", "tcsh"], "");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name}: an unknown kind is bad usage"
        );
    }
}

#[test]
fn the_install_script_installs_them_all() {
    let prefix = tempfile::tempdir().unwrap();
    let bindir = tool("dcp-queue").parent().unwrap().to_owned();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install-completions");
    let out = std::process::Command::new(script)
        .args([prefix.path(), &bindir])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let share = prefix.path().join("share");
    for (name, _) in TOOLS {
        for file in [
            format!("bash-completion/completions/{name}"),
            format!("zsh/site-functions/_{name}"),
            format!("fish/vendor_completions.d/{name}.fish"),
            format!("man/man1/{name}.1"),
        ] {
            let text = std::fs::read_to_string(share.join(&file)).unwrap();
            assert!(text.contains(name), "{file}");
        }
    }
}
