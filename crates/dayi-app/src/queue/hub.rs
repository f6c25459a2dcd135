//! Live boards: after every change to a queue its new board is published
//! once, serialised once, and every subscribed screen, panel and phone
//! receives the same copy. A bounded channel keeps memory flat; a screen
//! that falls behind is told to reload its state instead of being buffered.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::board::Board;

/// How many published boards a slow subscriber may fall behind.
const BACKLOG: usize = 1024;

/// A board as published: the value and its JSON for screens.
#[derive(Debug)]
pub struct Published {
    pub board: Board,
    pub json: String,
}

#[derive(Clone)]
pub struct Hub(broadcast::Sender<Arc<Published>>);

impl Default for Hub {
    fn default() -> Self {
        Hub(broadcast::channel(BACKLOG).0)
    }
}

impl Hub {
    pub fn publish(&self, board: Board) {
        let json = serde_json::to_string(&board).unwrap_or_default();
        // No subscriber is fine: nobody is watching.
        let _ = self.0.send(Arc::new(Published { board, json }));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.0.subscribe()
    }

    /// Subscribers connected now (screens, panels, phones).
    pub fn watchers(&self) -> usize {
        self.0.receiver_count()
    }
}
