//! On AWS, a push of a batch writes down its tasks before sending them
//! ([`dcp_common::aws::batch_record`]), which `dcp-watch --batch` waits for.

use dcp_common::Task;
use dcp_common::aws::AwsError;
use dcp_common::aws::batch_record::{self, PushedTask};
use dcp_common::metadata::join_pairs;
use dcp_common::{Backend, Config};

/// Adds the tasks of `bodies` to the record of `batch`; nothing on the embedded backend,
/// whose queue counts a batch itself.
pub async fn pushed(config: &Config, batch: &str, bodies: &[String]) -> Result<(), AwsError> {
    if config.backend != Backend::Aws {
        return Ok(());
    }
    let tasks = bodies
        .iter()
        .filter_map(|body| Task::from_body(body).ok()?.resolve().ok())
        .map(|(pairs, output)| PushedTask {
            output,
            group: join_pairs(&pairs),
        });
    let s3 = dcp_common::aws::s3_client(config).await;
    batch_record::add(&s3, config, batch, tasks).await?;
    Ok(())
}
