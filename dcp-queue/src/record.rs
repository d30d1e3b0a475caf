//! On AWS, a push of a batch writes down its tasks before sending them, and the ids of
//! their messages once sent ([`dcp_common::aws::batch_record`]), which `dcp-watch --batch`
//! waits for.

use std::time::{SystemTime, UNIX_EPOCH};

use dcp_common::Task;
use dcp_common::aws::AwsError;
use dcp_common::aws::batch_record::{self, PushedTask};
use dcp_common::metadata::join_pairs;
use dcp_common::{Backend, Config};

/// A push written down in its batch's record, its messages not yet sent.
pub struct RecordedPush {
    config: Config,
    batch: String,
    push: usize,
    /// The task of each body, in order (`None` for a body that is not a task).
    tasks: Vec<Option<PushedTask>>,
}

/// Adds a push of the tasks of `bodies` to the record of `batch`; `None` on the embedded
/// backend, whose queue counts a batch itself.
pub async fn pushed(
    config: &Config,
    batch: &str,
    bodies: &[String],
) -> Result<Option<RecordedPush>, AwsError> {
    if config.backend != Backend::Aws {
        return Ok(None);
    }
    let tasks: Vec<Option<PushedTask>> = bodies
        .iter()
        .map(|body| {
            let (pairs, output) = Task::from_body(body).ok()?.resolve().ok()?;
            Some(PushedTask {
                output,
                group: join_pairs(&pairs),
            })
        })
        .collect();
    let listed: Vec<PushedTask> = tasks.iter().flatten().cloned().collect();
    let s3 = dcp_common::aws::s3_client(config).await;
    let push = batch_record::add(&s3, config, batch, now(), &listed).await?;
    Ok(Some(RecordedPush {
        config: config.clone(),
        batch: batch.to_owned(),
        push,
        tasks,
    }))
}

impl RecordedPush {
    /// Notes the message ids the queue gave the push's bodies (in their order).
    pub async fn sent(&self, ids: &[String]) -> Result<(), AwsError> {
        let sent: Vec<(PushedTask, String)> = self
            .tasks
            .iter()
            .zip(ids)
            .filter_map(|(task, id)| Some((task.clone()?, id.clone())))
            .collect();
        let s3 = dcp_common::aws::s3_client(&self.config).await;
        batch_record::note_ids(&s3, &self.config, &self.batch, self.push, &sent).await
    }
}

/// Now, in unix seconds to the millisecond, as the workers' outcome lines give `started`.
fn now() -> f64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since.as_millis() as f64 / 1000.0
}
