//! The embedded queue: one SQLite file (WAL, busy timeout) holding any number of queues
//! with SQS semantics, shared safely by every process on the machine.
//!
//! A message moved to a dead-letter queue records its source queue in
//! `messages.source_queue`, as SQS records `DeadLetterQueueSourceArn`. Files made before
//! that column existed get it when opened; their dead letters have no source (NULL) and
//! follow the rule for unrecorded sources (see [`super`]): they are the letters of the
//! queue that alone names their dead-letter queue, and of no queue while several do.
//!
//! A task's batch (`dcp-queue push --batch`) is `messages.batch`; it stays with the
//! message into the dead-letter queue and back. Files made before batches get the column
//! (NULL: no batch) when opened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::{
    BatchCounts, Counts, Created, DeadLetter, Deleted, Queue, QueueError, QueueSpec, Received,
    SendError,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    visibility_ms INTEGER NOT NULL,
    dead_letter_queue TEXT,
    max_receives INTEGER
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    visible_ms INTEGER NOT NULL,
    receives INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    source_queue TEXT,
    batch TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue, visible_ms);
";

/// Whether `messages` lacks the column `?1` (a file made before it existed).
const WITHOUT_COLUMN: &str =
    "SELECT COUNT(*) = 0 FROM pragma_table_info('messages') WHERE name = ?1";

/// The columns added to `messages` since the first files were made, in order.
const ADDED_COLUMNS: [(&str, &str); 2] = [
    (
        "source_queue",
        "ALTER TABLE messages ADD COLUMN source_queue TEXT",
    ),
    ("batch", "ALTER TABLE messages ADD COLUMN batch TEXT"),
];

/// This queue's dead letters (`?1` the queue, `?2` its dead-letter queue): those it is the
/// source of, and those without a source when no other queue names the dead-letter queue.
const OWN_LETTERS: &str = "queue = ?2 AND (source_queue = ?1 OR source_queue IS NULL AND NOT EXISTS \
     (SELECT 1 FROM queues WHERE dead_letter_queue = ?2 AND name <> ?1))";

/// How long a process waits for another one's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a waiting receive looks again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Messages written between two progress reports of a send.
const PROGRESS_STEP: usize = 10_000;

/// A task queue and its dead-letter queue in a SQLite file.
pub struct EmbeddedQueue {
    conn: Mutex<Connection>,
    path: PathBuf,
    spec: QueueSpec,
}

/// An error inside a database call: SQLite's own, or a queue-level one.
enum Fail {
    Sql(rusqlite::Error),
    Queue(QueueError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Sql(e)
    }
}

impl EmbeddedQueue {
    /// Opens (creating if needed) the queue file at `path` for the queues of `spec`.
    pub fn open(path: &Path, spec: QueueSpec) -> Result<Self, QueueError> {
        let fail = |source| QueueError::Embedded {
            path: path.display().to_string(),
            source,
        };
        let mut conn = Connection::open(path).map_err(fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        migrate(&mut conn).map_err(fail)?;
        Ok(EmbeddedQueue {
            conn: Mutex::new(conn),
            path: path.to_owned(),
            spec,
        })
    }

    /// The bodies of the tasks in the queue `queue` of the queue file at `path`, visible or
    /// in flight, in the order they were sent, read without changing anything (the file is
    /// opened read-only); `None` when there is no queue file. For `dcp-fleet check`.
    pub fn peek_bodies(path: &Path, queue: &str) -> Result<Option<Vec<String>>, QueueError> {
        if !path.exists() {
            return Ok(None);
        }
        let fail = |source| QueueError::Embedded {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        let mut select = conn
            .prepare("SELECT body FROM messages WHERE queue = ?1 ORDER BY id")
            .map_err(fail)?;
        let bodies = select
            .query_map([queue], |r| r.get(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<String>>>())
            .map_err(fail)?;
        Ok(Some(bodies))
    }

    /// The spec this handle was opened with.
    pub fn spec(&self) -> &QueueSpec {
        &self.spec
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, Fail>) -> Result<T, QueueError> {
        let mut conn: MutexGuard<'_, Connection> =
            self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn).map_err(|e| match e {
            Fail::Sql(source) => QueueError::Embedded {
                path: self.path.display().to_string(),
                source,
            },
            Fail::Queue(e) => e,
        })
    }

    /// The stored attributes of the task queue: (visibility ms, dead-letter queue, max receives).
    fn attributes(&self, tx: &Transaction<'_>) -> Result<(i64, String, i64), Fail> {
        tx.query_row(
            "SELECT visibility_ms, dead_letter_queue, max_receives FROM queues WHERE name = ?1",
            [&self.spec.name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .ok_or_else(|| Fail::Queue(QueueError::Missing(self.spec.name.clone())))
    }

    fn receive_now(&self, max: usize) -> Result<Vec<Received>, QueueError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (visibility_ms, dead_letter_queue, max_receives) = self.attributes(&tx)?;
            let now = now_ms();
            let mut received = Vec::new();
            loop {
                let wanted = max - received.len();
                let candidates: Vec<(i64, i64)> = tx
                    .prepare_cached(
                        "SELECT id, receives FROM messages WHERE queue = ?1 AND visible_ms <= ?2 \
                         ORDER BY visible_ms, id LIMIT ?3",
                    )?
                    .query_map(params![self.spec.name, now, wanted as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?
                    .collect::<Result<_, _>>()?;
                if candidates.is_empty() {
                    break;
                }
                for (id, receives) in candidates {
                    if receives >= max_receives {
                        tx.prepare_cached(
                            "UPDATE messages SET queue = ?2, visible_ms = ?3, receipt = NULL, \
                             source_queue = ?4 WHERE id = ?1",
                        )?
                        .execute(params![
                            id,
                            dead_letter_queue,
                            now,
                            self.spec.name
                        ])?;
                        continue;
                    }
                    let message = tx
                        .prepare_cached(
                            "UPDATE messages SET receives = receives + 1, visible_ms = ?2, \
                             receipt = id || '.' || lower(hex(randomblob(8))) \
                             WHERE id = ?1 RETURNING receipt, body, receives, batch",
                        )?
                        .query_row(params![id, now + visibility_ms], |r| {
                            Ok(Received {
                                id: id.to_string(),
                                receipt: r.get(0)?,
                                body: r.get(1)?,
                                receive_count: r.get(2)?,
                                batch: r.get(3)?,
                            })
                        })?;
                    received.push(message);
                }
                if received.len() == max {
                    break;
                }
            }
            tx.commit()?;
            Ok(received)
        })
    }

    /// Runs `sql` on the message a receipt handle names; stale or unknown handles fail.
    fn on_receipt(
        &self,
        receipt: &str,
        sql: &str,
        visible_ms: Option<i64>,
    ) -> Result<(), QueueError> {
        let stale = || QueueError::StaleReceipt(receipt.to_owned());
        let id: i64 = receipt
            .split_once('.')
            .and_then(|(id, _)| id.parse().ok())
            .ok_or_else(stale)?;
        let changed = self.with(|conn| {
            let mut statement = conn.prepare_cached(sql)?;
            Ok(match visible_ms {
                Some(at) => statement.execute(params![id, receipt, self.spec.name, at])?,
                None => statement.execute(params![id, receipt, self.spec.name])?,
            })
        })?;
        if changed == 1 { Ok(()) } else { Err(stale()) }
    }

    fn require_queue(&self, conn: &Connection) -> Result<(), Fail> {
        let exists: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM queues WHERE name = ?1",
                [&self.spec.name],
                |r| r.get(0),
            )
            .optional()?;
        exists
            .map(|_| ())
            .ok_or_else(|| Fail::Queue(QueueError::Missing(self.spec.name.clone())))
    }
}

/// Adds the [`ADDED_COLUMNS`] a file made before them lacks (once, whichever process
/// opens the file first).
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for (column, add) in ADDED_COLUMNS {
        if tx.query_row(WITHOUT_COLUMN, [column], |r| r.get(0))? {
            tx.execute(add, [])?;
        }
    }
    tx.commit()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Queue for EmbeddedQueue {
    async fn create(&self) -> Result<Created, QueueError> {
        let spec = &self.spec;
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists = |name: &str| -> rusqlite::Result<bool> {
                Ok(tx.query_row("SELECT 1 FROM queues WHERE name = ?1", [name], |_| Ok(())).optional()?.is_some())
            };
            let created = Created { queue: !exists(&spec.name)?, dead_letter_queue: !exists(&spec.dead_letter_queue)? };
            let visibility_ms = spec.visibility_timeout.as_millis() as i64;
            tx.execute(
                "INSERT INTO queues (name, visibility_ms) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![spec.dead_letter_queue, visibility_ms],
            )?;
            tx.execute(
                "INSERT INTO queues (name, visibility_ms, dead_letter_queue, max_receives) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (name) DO UPDATE SET visibility_ms = ?2, dead_letter_queue = ?3, max_receives = ?4",
                params![spec.name, visibility_ms, spec.dead_letter_queue, spec.max_receives],
            )?;
            tx.commit()?;
            Ok(created)
        })
    }

    /// One transaction: a push killed at any point leaves all of its tasks or none, and
    /// other processes wait (up to the busy timeout) while it is written.
    async fn send_with_progress(
        &self,
        bodies: &[String],
        batch: Option<&str>,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<String>, SendError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            self.require_queue(&tx)?;
            let now = now_ms();
            let mut ids = Vec::with_capacity(bodies.len());
            {
                let mut insert =
                    tx.prepare("INSERT INTO messages (queue, body, sent_ms, visible_ms, batch) VALUES (?1, ?2, ?3, ?3, ?4)")?;
                for (written, body) in bodies.iter().enumerate() {
                    if written.is_multiple_of(PROGRESS_STEP) {
                        progress(written);
                    }
                    let id = insert.insert(params![self.spec.name, body, now, batch])?;
                    ids.push(id.to_string());
                }
            }
            tx.commit()?;
            progress(bodies.len());
            Ok(ids)
        })
        .map_err(|source| SendError::nothing_sent(bodies.len(), source))
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, QueueError> {
        let start = Instant::now();
        loop {
            let received = self.receive_now(max.max(1))?;
            let waited = start.elapsed();
            if !received.is_empty() || waited >= wait {
                return Ok(received);
            }
            tokio::time::sleep(POLL_INTERVAL.min(wait - waited)).await;
        }
    }

    async fn change_visibility(&self, receipt: &str, timeout: Duration) -> Result<(), QueueError> {
        let at = now_ms() + timeout.as_millis() as i64;
        self.on_receipt(
            receipt,
            "UPDATE messages SET visible_ms = ?4 WHERE id = ?1 AND receipt = ?2 AND queue = ?3",
            Some(at),
        )
    }

    async fn delete_message(&self, receipt: &str) -> Result<(), QueueError> {
        self.on_receipt(
            receipt,
            "DELETE FROM messages WHERE id = ?1 AND receipt = ?2 AND queue = ?3",
            None,
        )
    }

    async fn counts(&self) -> Result<Counts, QueueError> {
        self.with(|conn| {
            self.require_queue(conn)?;
            let now = now_ms();
            let (visible, in_flight): (Option<i64>, Option<i64>) = conn.query_row(
                "SELECT SUM(visible_ms <= ?2), SUM(visible_ms > ?2) FROM messages WHERE queue = ?1",
                params![self.spec.name, now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let dead: i64 = conn.query_row(
                &format!("SELECT COUNT(*) FROM messages WHERE {OWN_LETTERS}"),
                [&self.spec.name, &self.spec.dead_letter_queue],
                |r| r.get(0),
            )?;
            Ok(Counts {
                visible: visible.unwrap_or(0) as u64,
                in_flight: in_flight.unwrap_or(0) as u64,
                dead: dead as u64,
            })
        })
    }

    async fn drained(&self) -> Result<bool, QueueError> {
        self.with(|conn| {
            self.require_queue(conn)?;
            let held: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE queue = ?1)",
                [&self.spec.name],
                |r| r.get(0),
            )?;
            Ok(!held)
        })
    }

    async fn purge(&self, dead_letters: bool) -> Result<u64, QueueError> {
        let spec = &self.spec;
        self.with(|conn| {
            self.require_queue(conn)?;
            let purged = if dead_letters {
                conn.execute(
                    &format!("DELETE FROM messages WHERE {OWN_LETTERS}"),
                    [&spec.name, &spec.dead_letter_queue],
                )?
            } else {
                conn.execute("DELETE FROM messages WHERE queue = ?1", [&spec.name])?
            };
            Ok(purged as u64)
        })
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, QueueError> {
        self.with(|conn| {
            self.require_queue(conn)?;
            let mut select = conn.prepare(&format!(
                "SELECT id, receives, body, batch FROM messages WHERE {OWN_LETTERS} ORDER BY id"
            ))?;
            let rows = select.query_map([&self.spec.name, &self.spec.dead_letter_queue], |r| {
                Ok(DeadLetter {
                    id: r.get::<_, i64>(0)?.to_string(),
                    receive_count: r.get(1)?,
                    body: r.get(2)?,
                    batch: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    async fn batch_counts(&self) -> Result<BTreeMap<String, BatchCounts>, QueueError> {
        self.with(|conn| {
            self.require_queue(conn)?;
            let mut select = conn.prepare(&format!(
                "SELECT batch, SUM(queue = ?1 AND visible_ms <= ?3), SUM(queue = ?1 AND visible_ms > ?3), \
                 SUM(queue = ?2) FROM messages WHERE batch IS NOT NULL AND (queue = ?1 OR {OWN_LETTERS}) \
                 GROUP BY batch"
            ))?;
            let rows = select.query_map(
                params![self.spec.name, self.spec.dead_letter_queue, now_ms()],
                |r| {
                    let count = |i: usize| r.get::<_, i64>(i).map(|n| n as u64);
                    Ok((
                        r.get(0)?,
                        BatchCounts {
                            visible: Some(count(1)?),
                            in_flight: Some(count(2)?),
                            dead: count(3)?,
                        },
                    ))
                },
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    async fn redrive(&self, batch: Option<&str>) -> Result<u64, QueueError> {
        self.with(|conn| {
            self.require_queue(conn)?;
            let moved = conn.execute(
                &format!(
                    "UPDATE messages SET queue = ?1, receives = 0, visible_ms = ?3, receipt = NULL, \
                     source_queue = NULL WHERE {OWN_LETTERS} AND (?4 IS NULL OR batch = ?4)"
                ),
                params![self.spec.name, self.spec.dead_letter_queue, now_ms(), batch],
            )?;
            Ok(moved as u64)
        })
    }

    async fn delete_queues(&self) -> Result<Deleted, QueueError> {
        let (name, dead) = (&self.spec.name, &self.spec.dead_letter_queue);
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            self.require_queue(&tx)?;
            tx.execute(
                &format!("DELETE FROM messages WHERE {OWN_LETTERS}"),
                [name, dead],
            )?;
            tx.execute("DELETE FROM messages WHERE queue = ?1", [name])?;
            tx.execute("DELETE FROM queues WHERE name = ?1", [name])?;
            let others: Vec<String> = tx
                .prepare("SELECT name FROM queues WHERE dead_letter_queue = ?1 ORDER BY name")?
                .query_map([dead], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let letters: i64 = tx.query_row(
                "SELECT COUNT(*) FROM messages WHERE queue = ?1",
                [dead],
                |r| r.get(0),
            )?;
            let mut deleted = Deleted {
                deleted: vec![name.clone()],
                kept: Vec::new(),
            };
            deleted.dead_letter_queue(dead, &others, letters as u64);
            if deleted.kept.is_empty() {
                tx.execute("DELETE FROM queues WHERE name = ?1", [dead])?;
            }
            tx.commit()?;
            Ok(deleted)
        })
    }
}

mod settings;
pub use settings::SettingApplied;

#[cfg(test)]
mod tests;
