use std::error::Error;

use super::*;

#[derive(Debug, thiserror::Error)]
#[error("tool error")]
struct ToolError(#[source] Option<ConfigError>);

impl Classify for ToolError {
    fn kind(&self) -> Kind {
        Kind::Failure
    }
}

fn code(err: anyhow::Error, own: &[Classifier]) -> u8 {
    let err: &(dyn Error + 'static) = err.as_ref();
    kind(err, own).code()
}

#[test]
fn input_errors_of_every_module_are_bad_input_under_any_context() {
    let bad = [
        anyhow::Error::new(BackendError::NotBuilt),
        anyhow::Error::new(ConfigError::NotFound("x".into())).context("reading settings"),
        anyhow::Error::new(StoreError::BadKey {
            bucket: "b".into(),
            key: "../x".into(),
        }),
        anyhow::Error::new(InputFileError::Unreadable {
            path: "job.json".into(),
            source: std::io::ErrorKind::NotFound.into(),
        })
        .context("push"),
    ];
    for err in bad {
        assert_eq!(code(err, &[]), BAD_INPUT);
    }
}

#[test]
fn the_outermost_known_error_decides_and_unknown_errors_are_failures() {
    let queue = QueueError::Missing("q".into());
    assert_eq!(code(anyhow::Error::new(queue), &[]), FAILURE);
    assert_eq!(code(anyhow::anyhow!("no type"), &[]), FAILURE);
    let wrapped = || ToolError(Some(ConfigError::NotFound("x".into())));
    // Unknown to the caller, the tool's error is skipped and its cause decides.
    assert_eq!(code(anyhow::Error::new(wrapped()), &[]), BAD_INPUT);
    assert_eq!(
        code(anyhow::Error::new(wrapped()), &[kind_of::<ToolError>]),
        FAILURE
    );
}

#[test]
fn a_cause_the_error_already_says_is_said_once() {
    let err = anyhow::Error::new(InputFileError::Unreadable {
        path: "fleet.json".into(),
        source: std::io::ErrorKind::NotFound.into(),
    })
    .context("reading the fleet file");
    let err: &(dyn Error + 'static) = err.as_ref();
    assert_eq!(
        super::message(err),
        "reading the fleet file: cannot read fleet.json: entity not found"
    );
}
