//! Live boards: after every change to a queue its new board is published
//! once, serialised once, and every subscribed screen, panel and phone
//! receives the same copy. A bounded channel keeps memory flat; a screen
//! that falls behind is told the whole state instead of being buffered.
//!
//! Order: boards of one queue are read and sent one at a time (a lock per
//! queue, striped), each with a revision taken before its read, so a screen
//! can drop any board older than one it already shows — including the
//! changes that cross its first snapshot.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Mutex, MutexGuard, broadcast, watch};
use uuid::Uuid;

use super::board::Board;

/// How many published boards a slow subscriber may fall behind.
const BACKLOG: usize = 1024;
/// Locks shared by hashing the queue's id: bounded, and rarely contended.
const STRIPES: usize = 64;

/// A board as published: the value and its JSON for screens.
#[derive(Debug)]
pub struct Published {
    pub board: Board,
    pub json: String,
}

#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Published>>,
    rev: Arc<AtomicU64>,
    stripes: Arc<Vec<Mutex<()>>>,
    /// True once the server is stopping: every stream ends.
    closed: Arc<watch::Sender<bool>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            tx: broadcast::channel(BACKLOG).0,
            rev: Arc::default(),
            stripes: Arc::new((0..STRIPES).map(|_| Mutex::new(())).collect()),
            closed: Arc::new(watch::channel(false).0),
        }
    }
}

impl Hub {
    /// Holds one queue's publishing turn.
    pub async fn turn(&self, session_id: Uuid) -> MutexGuard<'_, ()> {
        self.stripes[(session_id.as_u128() % STRIPES as u128) as usize].lock().await
    }

    /// A new revision, for a board about to be read under its turn.
    pub fn next_rev(&self) -> u64 {
        self.rev.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The latest revision handed out, for a snapshot about to be read.
    pub fn rev(&self) -> u64 {
        self.rev.load(Ordering::SeqCst)
    }

    pub fn publish(&self, board: Board) {
        let json = serde_json::to_string(&board).unwrap_or_default();
        // No subscriber is fine: nobody is watching.
        let _ = self.tx.send(Arc::new(Published { board, json }));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.tx.subscribe()
    }

    /// Ends every stream (the server is stopping).
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    /// The next board for a stream, or `None` once the server is stopping.
    pub async fn next(
        &self,
        rx: &mut broadcast::Receiver<Arc<Published>>,
    ) -> Option<Result<Arc<Published>, broadcast::error::RecvError>> {
        let mut closed = self.closed.subscribe();
        if *closed.borrow() {
            return None;
        }
        tokio::select! {
            r = rx.recv() => Some(r),
            _ = closed.wait_for(|c| *c) => None,
        }
    }

    /// Subscribers connected now (screens, panels, phones).
    pub fn watchers(&self) -> usize {
        self.tx.receiver_count()
    }
}
