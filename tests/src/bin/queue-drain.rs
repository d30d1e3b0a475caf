//! A queue consumer for the concurrency tests: receives tasks from the embedded queue of a
//! settings file in batches, prints each body as a line, deletes it, and exits once the
//! queue stays empty, pausing 2 ms after each batch as if working on it. It starts once a line arrives on stdin, so that several consumers
//! can be started together.
//!
//! Usage: queue-drain SETTINGS_FILE

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use dcp_common::{Config, EmbeddedQueue, Queue, QueueSpec};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let path = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .context("usage: queue-drain SETTINGS_FILE")?,
    );
    let config = Config::load(&path)?;
    let queue = EmbeddedQueue::open(&config.queue_file, QueueSpec::from_config(&config))?;
    std::io::stdin()
        .read_line(&mut String::new())
        .context("waiting for the start line on stdin")?;
    let mut out = std::io::stdout().lock();
    loop {
        let batch = queue.receive(10, Duration::from_millis(500)).await?;
        if batch.is_empty() {
            return Ok(());
        }
        for message in batch {
            writeln!(out, "{}", message.body)?;
            queue.delete_message(&message.receipt).await?;
        }
        // A moment standing for the work on the batch, as a worker has between receives.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
