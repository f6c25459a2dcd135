//! One request at a time per request key (`Idempotency-Key`). A repeat that
//! arrives while the first is still running waits for it, then finds the
//! first one's result stored under the key and answers the same, instead of
//! racing it to the same charges and losing with an error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

type Key = (Uuid, &'static str, String);

/// The keys in flight on this server.
#[derive(Clone, Default)]
pub struct Flights(Arc<Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>>);

/// The turn of one request with its key; the next request with the same key
/// goes when this is dropped.
pub struct Turn {
    guard: Option<OwnedMutexGuard<()>>,
    flights: Flights,
    key: Key,
}

impl Flights {
    /// Waits until no other request with this key (in this organisation and
    /// `scope`, e.g. "pay" or "refund") is running, and takes the turn.
    pub async fn take(&self, org_id: Uuid, scope: &'static str, key: &str) -> Turn {
        let key = (org_id, scope, key.to_string());
        let lock = self.0.lock().unwrap_or_else(|e| e.into_inner()).entry(key.clone()).or_default().clone();
        let guard = lock.lock_owned().await;
        Turn { guard: Some(guard), flights: self.clone(), key }
    }

    /// Keys held or waited for (for tests: the map empties when requests end).
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut map = self.flights.0.lock().unwrap_or_else(|e| e.into_inner());
        self.guard.take();
        // Only the map holds the lock now: nobody is waiting for this key.
        if map.get(&self.key).is_some_and(|l| Arc::strong_count(l) == 1) {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn same_key_waits_other_keys_do_not() {
        let f = Flights::default();
        let org = Uuid::nil();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = vec![];
        for _ in 0..20 {
            let (f, running, most) = (f.clone(), running.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                let _turn = f.take(org, "pay", "k1").await;
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
                running.fetch_sub(1, Ordering::SeqCst);
            }));
        }
        // another key is not held up by k1
        let other = tokio::time::timeout(Duration::from_millis(500), f.take(org, "pay", "k2")).await;
        assert!(other.is_ok());
        drop(other);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "two requests with one key ran at once");
        assert!(f.is_empty(), "finished keys are forgotten");
    }
}
