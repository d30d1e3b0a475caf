//! Property tests of the config.py importer: no input panics, and what it accepts becomes
//! settings that dcp reads with the values the config.py gave.

use std::path::Path;

use dcp_common::Config;
use dcp_config::pyconfig::import;
use proptest::prelude::*;

/// Python-ish text: the tokens the importer knows, in any order, plus any character.
fn python_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec![
                "APP_NAME", "AWS_BUCKET", "DOCKER_CORES", "MACHINE_TYPE", " = ", "=", "'", "\"",
                "r'", "(", ")", "[", "]", ",", "+", "-", "*", "\n", "\\\n", "#", "1", "2.5",
                "'x'", "True", "None", "import", "f'", " ",
            ])
            .prop_map(str::to_owned),
            1 => any::<char>().prop_map(String::from),
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn any_text_is_imported_or_refused_without_panic(text in python_text()) {
        let _ = import(&text, "config.py");
    }

    #[test]
    fn an_accepted_config_py_keeps_its_values(
        app in "[A-Za-z0-9_-]{0,10}",
        cores in prop_oneof![0u64..64, 0u64..3_000_000_000],
        factor in prop_oneof![0u64..1100, 0u64..3_000_000],
        visibility in 0u64..100_000,
        machines in prop::collection::vec("[a-z0-9.]{1,9}", 0..3),
    ) {
        let text = format!(
            "APP_NAME = '{app}'\nAWS_BUCKET = 'bucket'\nDOCKER_CORES = {cores}\n\
             CPU_SHARES = DOCKER_CORES * {factor}\nSQS_MESSAGE_VISIBILITY = ({visibility})\n\
             MACHINE_TYPE = {machines:?}\nSQS_QUEUE_NAME = APP_NAME + 'Queue'\n"
        );
        if let Ok(imported) = import(&text, "config.py") {
            let config = Config::parse(&imported.toml, "dcp.toml", Path::new("/")).unwrap();
            prop_assert_eq!(&config.app_name, &app);
            prop_assert_eq!(u64::from(config.docker_cores), cores);
            prop_assert_eq!(u64::from(config.cpu_shares()), cores * factor);
            prop_assert_eq!(config.sqs_message_visibility, visibility);
            prop_assert_eq!(&config.machine_type, &machines);
            prop_assert_eq!(config.sqs_queue_name, format!("{app}Queue"));
        }
    }
}
