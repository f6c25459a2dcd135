//! Who may hold a connection to the MLLP listener. Peers are told apart by
//! address. The known analyzers (configured by address) have places of
//! their own, so no number of other peers can lock them out; the others
//! share `max_connections` between them. One address holds at most
//! `max_per_peer` connections: another peer over it is refused, while a
//! known analyzer over it displaces its own oldest connection (one a restart
//! left half-open, say), so it can always reconnect.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::MllpConfig;

/// Why a connection was closed on accept; the label of the refusal metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The peers that are not known analyzers hold `max_connections`.
    Full,
    /// The address holds `max_per_peer`.
    PerPeer,
}

impl Refusal {
    pub const ALL: [Refusal; 2] = [Refusal::Full, Refusal::PerPeer];

    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Full => "full",
            Refusal::PerPeer => "per_peer",
        }
    }
}

pub struct Admission {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    known: HashSet<IpAddr>,
    max_others: usize,
    max_per_peer: usize,
    /// Connections held by peers that are not known analyzers.
    others: usize,
    /// Each address's connections, oldest first.
    peers: HashMap<IpAddr, VecDeque<Held>>,
    next_id: u64,
}

struct Held {
    id: u64,
    give_way: Arc<Notify>,
}

impl Admission {
    pub fn new(cfg: &MllpConfig) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                known: cfg.known_peers.iter().map(|ip| ip.to_canonical()).collect(),
                max_others: cfg.max_connections,
                max_per_peer: cfg.max_per_peer.max(1),
                others: 0,
                peers: HashMap::new(),
                next_id: 0,
            })),
        }
    }

    /// A place for a new connection from `ip`, held until the ticket drops.
    pub fn admit(&self, ip: IpAddr) -> Result<Ticket, Refusal> {
        let ip = ip.to_canonical();
        let mut g = lock(&self.inner);
        let known = g.known.contains(&ip);
        let held = g.peers.get(&ip).map_or(0, VecDeque::len);
        if held >= g.max_per_peer {
            if !known {
                return Err(Refusal::PerPeer);
            }
            // It no longer counts; it closes once the message in hand is answered.
            if let Some(oldest) = g.peers.get_mut(&ip).and_then(VecDeque::pop_front) {
                oldest.give_way.notify_one();
            }
        }
        if !known {
            if g.others >= g.max_others {
                return Err(Refusal::Full);
            }
            g.others += 1;
        }
        g.next_id += 1;
        let id = g.next_id;
        let give_way = Arc::new(Notify::new());
        g.peers.entry(ip).or_default().push_back(Held { id, give_way: give_way.clone() });
        Ok(Ticket { inner: self.inner.clone(), ip, id, known, give_way })
    }
}

/// A connection's place; dropping it frees the place.
pub struct Ticket {
    inner: Arc<Mutex<Inner>>,
    ip: IpAddr,
    id: u64,
    known: bool,
    give_way: Arc<Notify>,
}

impl Ticket {
    pub fn known(&self) -> bool {
        self.known
    }

    /// Completes when a newer connection from the same known analyzer took
    /// this one's place.
    pub async fn displaced(&self) {
        self.give_way.notified().await
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut g = lock(&self.inner);
        if !self.known {
            g.others = g.others.saturating_sub(1);
        }
        if let Some(q) = g.peers.get_mut(&self.ip) {
            q.retain(|h| h.id != self.id);
            if q.is_empty() {
                g.peers.remove(&self.ip);
            }
        }
    }
}

/// The counts stay right even if a holder panicked: every change is one
/// step that cannot be left half done.
fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    fn admission(max_connections: usize, max_per_peer: usize) -> Admission {
        Admission::new(&MllpConfig { max_connections, max_per_peer, known_peers: vec![ip(1)], ..Default::default() })
    }

    #[test]
    fn others_share_max_connections_and_known_analyzers_are_not_counted() {
        let a = admission(2, 4);
        let held = [a.admit(ip(2)).unwrap(), a.admit(ip(3)).unwrap()];
        assert_eq!(a.admit(ip(4)).err(), Some(Refusal::Full));
        let known: Vec<Ticket> = (0..4).map(|_| a.admit(ip(1)).unwrap()).collect();
        assert!(known.iter().all(Ticket::known));
        drop(held);
        assert!(a.admit(ip(4)).is_ok(), "a place comes back when its ticket drops");
    }

    #[test]
    fn one_address_holds_max_per_peer() {
        let a = admission(10, 2);
        let first = a.admit(ip(2)).unwrap();
        let _second = a.admit(ip(2)).unwrap();
        assert_eq!(a.admit(ip(2)).err(), Some(Refusal::PerPeer));
        // an IPv4 peer seen through an IPv6 socket is the same peer
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 2).to_ipv6_mapped());
        assert_eq!(a.admit(mapped).err(), Some(Refusal::PerPeer));
        drop(first);
        assert!(a.admit(ip(2)).is_ok());
    }

    #[tokio::test]
    async fn a_known_analyzer_over_its_limit_displaces_its_oldest_connection() {
        let a = admission(0, 2);
        assert_eq!(a.admit(ip(2)).err(), Some(Refusal::Full), "0 admits known analyzers only");
        let oldest = a.admit(ip(1)).unwrap();
        let middle = a.admit(ip(1)).unwrap();
        let newest = a.admit(ip(1)).unwrap();
        let soon = std::time::Duration::from_millis(50);
        assert!(tokio::time::timeout(soon, oldest.displaced()).await.is_ok());
        assert!(tokio::time::timeout(soon, middle.displaced()).await.is_err());
        drop(oldest);
        let _next = a.admit(ip(1)).unwrap();
        assert!(tokio::time::timeout(soon, middle.displaced()).await.is_ok());
        assert!(tokio::time::timeout(soon, newest.displaced()).await.is_err());
    }
}
