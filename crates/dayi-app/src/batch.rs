//! Group commit: one task takes the waiting jobs of a kind and writes them in
//! one transaction, so SQLite's single writer commits many requests at once.
//! Each caller gets its own answer only after the commit, so everything
//! acknowledged is durable. A batch that fails in the database is written
//! again one job at a time, so only the offending job fails.
//!
//! Used by the audit sink (reads and security events), patient intake
//! (registrations) and the booking desk.

use std::future::Future;
use std::pin::Pin;

use dayi_store::{Db, StoreError};
use tokio::sync::{mpsc, oneshot};

type Write<J, O> =
    Box<dyn Fn(Db, Vec<J>) -> Pin<Box<dyn Future<Output = Result<Vec<O>, StoreError>> + Send>> + Send + Sync>;
type Job<J, O> = (J, oneshot::Sender<Result<O, StoreError>>);

/// The submitting side of one group-commit writer.
pub struct Batcher<J, O> {
    tx: mpsc::Sender<Job<J, O>>,
}

impl<J, O> Clone for Batcher<J, O> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone() }
    }
}

impl<J: Clone + Send + 'static, O: Send + 'static> Batcher<J, O> {
    /// Starts the writer. `write` stores up to `max` jobs in one transaction
    /// and answers one output per job, in order; `name` is for the logs.
    pub fn start<F, Fut>(db: Db, name: &'static str, max: usize, write: F) -> Self
    where
        F: Fn(Db, Vec<J>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, StoreError>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(max * 32);
        let write: Write<J, O> = Box::new(move |db, jobs| Box::pin(write(db, jobs)));
        tokio::spawn(run(db, name, max, write, rx));
        Self { tx }
    }

    /// Hands a job to the writer and waits until it is committed.
    pub async fn submit(&self, job: J) -> Result<O, StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx.send((job, done)).await.map_err(|_| StoreError::PoolClosed)?;
        wait.await.map_err(|_| StoreError::PoolClosed)?
    }
}

async fn run<J: Clone, O>(
    db: Db,
    name: &'static str,
    max: usize,
    write: Write<J, O>,
    mut rx: mpsc::Receiver<Job<J, O>>,
) {
    let mut batch: Vec<Job<J, O>> = Vec::with_capacity(max);
    while rx.recv_many(&mut batch, max).await > 0 {
        let jobs: Vec<J> = batch.iter().map(|(j, _)| j.clone()).collect();
        match write(db.clone(), jobs).await {
            Ok(outs) if outs.len() == batch.len() => {
                for ((_, done), out) in batch.drain(..).zip(outs) {
                    let _ = done.send(Ok(out));
                }
            }
            Ok(outs) => {
                tracing::error!(
                    writer = name,
                    jobs = batch.len(),
                    answers = outs.len(),
                    "batch answered the wrong count"
                );
                for (_, done) in batch.drain(..) {
                    let _ = done.send(Err(StoreError::Protocol(format!("{name}: wrong answer count"))));
                }
            }
            Err(e) => {
                tracing::warn!(writer = name, error = %e, size = batch.len(), "batch failed; writing one by one");
                for (job, done) in batch.drain(..) {
                    let one = write(db.clone(), vec![job])
                        .await
                        .and_then(|mut v| v.pop().ok_or_else(|| StoreError::Protocol(format!("{name}: no answer"))));
                    let _ = done.send(one);
                }
            }
        }
    }
}
