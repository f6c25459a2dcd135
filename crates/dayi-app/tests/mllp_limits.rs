//! The MLLP listener under connection exhaustion: peers that connect and say
//! nothing, or only begin a frame, must not lock the analyzers out. Peers
//! are told apart by address (all of 127/8 is local on Linux): 127.0.0.2
//! plays the known analyzer, 127.0.1.x and 127.0.2.x the unknown peers.

mod mllp_support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use dayi_app::lab::mllp::MllpConfig;
use mllp_support::{Client, MemorySink, Server, msa, oru};
use tokio::io::AsyncWriteExt;

const ANALYZER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

fn stranger(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1 + (i / 250) as u8, (i % 250 + 1) as u8)
}

fn knowing_the_analyzer() -> MllpConfig {
    MllpConfig { known_peers: vec![IpAddr::V4(ANALYZER)], ..MllpConfig::default() }
}

/// Of these connections, how many the listener has closed (each given `wait`).
async fn closed(conns: &mut [Client], wait: Duration) -> usize {
    let checks = conns.iter_mut().map(|c| c.closed_within(wait));
    futures::future::join_all(checks).await.into_iter().filter(|&c| c).count()
}

#[tokio::test]
async fn a_known_analyzer_is_served_while_200_idle_peers_are_connected() {
    let srv = Server::start(MemorySink::new(["B1"]), knowing_the_analyzer()).await;
    // 200 peers from unknown addresses: half begin a frame and stop, half say nothing.
    let mut idle = Vec::new();
    for i in 0..200 {
        let mut c = Client::connect_from(srv.addr, stranger(i)).await;
        if i % 2 == 0 {
            c.stream.write_all(b"\x0bMSH|").await.unwrap();
        }
        idle.push(c);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let mut analyzer = Client::connect_from(srv.addr, ANALYZER).await;
    assert_eq!(msa(&analyzer.call(&oru("K-1", "B1", "5.1")).await), ("AA".into(), "K-1".into()));
    assert!(started.elapsed() < Duration::from_secs(1), "ACK after {:?}", started.elapsed());
    // The strangers fill their 64 places and no more; the analyzer took none of them.
    assert_eq!(closed(&mut idle, Duration::from_millis(200)).await, 200 - 64);
    assert_eq!(msa(&analyzer.call(&oru("K-2", "B1", "5.2")).await).0, "AA");
    srv.stop().await;
}

#[tokio::test]
async fn a_partial_frame_is_closed_after_the_frame_timeout() {
    let cfg = MllpConfig { frame_timeout: Duration::from_millis(300), ..MllpConfig::default() };
    let srv = Server::start(MemorySink::new(["B1"]), cfg).await;
    let mut c = Client::connect(srv.addr).await;
    // A complete message first: the clock runs per frame, not per connection.
    assert_eq!(msa(&c.call(&oru("F-1", "B1", "1")).await).0, "AA");
    let started = Instant::now();
    c.stream.write_all(b"\x0bMSH|").await.unwrap();
    // Trickling bytes does not stretch the frame's time.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(80)).await;
        c.stream.write_all(b"^").await.unwrap();
    }
    assert!(c.closed_within(Duration::from_secs(3)).await, "a partial frame held the connection open");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(250) && took < Duration::from_millis(1500), "closed after {took:?}");

    // A connection that says nothing is idle, not late: it stays.
    let mut quiet = Client::connect(srv.addr).await;
    assert!(!quiet.closed_within(Duration::from_millis(800)).await);
    assert_eq!(msa(&quiet.call(&oru("F-2", "B1", "1")).await).0, "AA");
    srv.stop().await;
}

#[tokio::test]
async fn a_frame_in_pieces_within_the_timeout_is_answered() {
    let cfg = MllpConfig { frame_timeout: Duration::from_millis(500), ..MllpConfig::default() };
    let srv = Server::start(MemorySink::new(["B1"]), cfg).await;
    let mut c = Client::connect(srv.addr).await;
    // Each frame takes ~300 ms to arrive; together they take far longer than the timeout.
    for i in 0..4 {
        let bytes = Client::framed(&oru(&format!("S-{i}"), "B1", "1"));
        let (head, tail) = bytes.split_at(bytes.len() / 2);
        c.stream.write_all(head).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.stream.write_all(tail).await.unwrap();
        assert_eq!(msa(&c.ack().await), ("AA".into(), format!("S-{i}")));
    }
    srv.stop().await;
}

#[tokio::test]
async fn one_address_holds_at_most_max_per_peer_connections() {
    let cfg = MllpConfig { max_per_peer: 2, ..knowing_the_analyzer() };
    let srv = Server::start(MemorySink::new(["B1"]), cfg).await;
    let from = stranger(7);
    let mut first = Client::connect_from(srv.addr, from).await;
    let mut second = Client::connect_from(srv.addr, from).await;
    assert_eq!(msa(&first.call(&oru("H-1", "B1", "1")).await).0, "AA");
    assert_eq!(msa(&second.call(&oru("H-2", "B1", "1")).await).0, "AA");
    let mut third = Client::connect_from(srv.addr, from).await;
    assert!(third.closed_within(Duration::from_secs(2)).await, "a third connection from one address was kept");
    // another address is not affected, and a place freed can be taken again
    let mut other = Client::connect_from(srv.addr, stranger(8)).await;
    assert_eq!(msa(&other.call(&oru("H-3", "B1", "1")).await).0, "AA");
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = Client::connect_from(srv.addr, from).await;
    assert_eq!(msa(&again.call(&oru("H-4", "B1", "1")).await).0, "AA");
    assert_eq!(msa(&second.call(&oru("H-5", "B1", "1")).await).0, "AA");
    srv.stop().await;
}

#[tokio::test]
async fn a_known_analyzer_over_its_limit_replaces_its_oldest_connection() {
    let cfg = MllpConfig { max_per_peer: 2, ..knowing_the_analyzer() };
    let srv = Server::start(MemorySink::new(["B1"]), cfg).await;
    // Two connections a restart left behind, then the analyzer connects again.
    let mut stale = Client::connect_from(srv.addr, ANALYZER).await;
    let mut older = Client::connect_from(srv.addr, ANALYZER).await;
    assert_eq!(msa(&older.call(&oru("R-1", "B1", "1")).await).0, "AA");
    let mut fresh = Client::connect_from(srv.addr, ANALYZER).await;
    assert_eq!(msa(&fresh.call(&oru("R-2", "B1", "1")).await).0, "AA");
    assert!(stale.closed_within(Duration::from_secs(2)).await, "the oldest connection gave way");
    assert_eq!(msa(&older.call(&oru("R-3", "B1", "1")).await).0, "AA");
    srv.stop().await;
}
