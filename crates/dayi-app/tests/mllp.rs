//! The MLLP listener over real TCP on 127.0.0.1: verdicts, framing edge
//! cases, several analyzers at once, idle connections and shutdown. The
//! sink here is a test double; the lab capability provides the real one.

mod mllp_support;

use std::net::Ipv4Addr;
use std::time::Duration;

use dayi_app::lab::mllp::MllpConfig;
use mllp_support::{Client, MemorySink, Server, msa, oru};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_good_message_is_stored_and_answered_aa() {
    let sink = MemorySink::new(["2612030001"]);
    let srv = Server::start(sink.clone(), MllpConfig::default()).await;
    let mut c = Client::connect(srv.addr).await;
    let ack = c.call(&oru("C-1", "2612030001", "5.62")).await;
    assert_eq!(msa(&ack), ("AA".into(), "C-1".into()));
    // the ACK comes from the receiver the analyzer addressed, to the analyzer
    assert!(ack.starts_with("MSH|^~\\&|DAYI|CIQIU|BS-480|LAB|"), "{ack}");
    assert!(ack.contains("|ACK^R01^ACK|"));
    assert!(ack.contains("MSA|AA|C-1|已接收 2 项结果\r"));
    let got = sink.stored();
    assert_eq!(got.len(), 1);
    assert!(got[0].0.starts_with("127.0.0.1:"));
    assert_eq!(got[0].1.orders[0].observations[0].value.as_ref().unwrap().as_f64(), Some(5.62));
    srv.stop().await;
}

#[tokio::test]
async fn an_unknown_barcode_is_answered_ae_and_nothing_is_stored() {
    let sink = MemorySink::new(["2612030001"]);
    let srv = Server::start(sink.clone(), MllpConfig::default()).await;
    let mut c = Client::connect(srv.addr).await;
    let ack = c.call(&oru("C-2", "9999", "5.62")).await;
    assert_eq!(msa(&ack), ("AE".into(), "C-2".into()));
    assert!(ack.contains("|204^Unknown key identifier^HL70357|E|hl7.barcode_unknown^"), "{ack}");
    assert!(ack.contains("标本条码「9999」不存在"));
    assert!(sink.stored().is_empty());
    srv.stop().await;
}

#[tokio::test]
async fn malformed_messages_are_answered_ar_and_the_connection_goes_on() {
    let sink = MemorySink::new(["B1"]);
    let srv = Server::start(sink.clone(), MllpConfig::default()).await;
    let mut c = Client::connect(srv.addr).await;

    let ack = c.call(&oru("C-3", "B1", "5,62")).await;
    assert_eq!(msa(&ack), ("AR".into(), "C-3".into()));
    assert!(ack.contains("ERR||OBX^1^5|102^Data type error^HL70357|E|hl7.not_numeric^"), "{ack}");

    let adt = oru("C-4", "B1", "1").replace("ORU^R01^ORU_R01", "ADT^A01^ADT_A01");
    let ack = c.call(&adt).await;
    assert_eq!(msa(&ack), ("AR".into(), "C-4".into()));
    assert!(ack.contains("|200^Unsupported message type^HL70357|"));

    // not HL7 at all: still an ACK, unaddressed
    let ack = c.call("GET / HTTP/1.1\r\n").await;
    assert_eq!(msa(&ack), ("AR".into(), "".into()));
    assert!(ack.contains("hl7.no_msh"));
    // not UTF-8: refused, quoting what MSH-18 claimed
    let mut gb = oru("C-5", "B1", "1").replace("UNICODE UTF-8", "GB18030").into_bytes();
    gb.extend([0xd5, 0xc5, b'\r']);
    let ack = c.call_bytes(&gb).await;
    assert_eq!(msa(&ack), ("AR".into(), "C-5".into()));
    assert!(ack.contains("hl7.encoding"));

    let ack = c.call(&oru("C-6", "B1", "1")).await;
    assert_eq!(msa(&ack).0, "AA");
    assert_eq!(sink.stored().len(), 1);
    srv.stop().await;
}

#[tokio::test]
async fn frames_split_across_writes_and_garbage_before_them() {
    let srv = Server::start(MemorySink::new(["B1"]), MllpConfig::default()).await;
    let mut c = Client::connect(srv.addr).await;
    let mut bytes = b"\r\n\x00garbage from a reset analyzer\x1c\r".to_vec();
    bytes.extend(Client::framed(&oru("C-7", "B1", "7.1")));
    for chunk in bytes.chunks(13) {
        c.stream.write_all(chunk).await.unwrap();
        c.stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(msa(&c.ack().await), ("AA".into(), "C-7".into()));
    srv.stop().await;
}

#[tokio::test]
async fn pipelined_messages_are_answered_in_order() {
    let sink = MemorySink::new(["B1"]);
    let srv = Server::start(sink.clone(), MllpConfig::default()).await;
    let mut c = Client::connect(srv.addr).await;
    let mut all = Vec::new();
    for i in 0..200 {
        // every seventh has an unknown barcode, every eleventh is malformed
        let (barcode, value) = match i {
            i if i % 11 == 0 => ("B1", "x"),
            i if i % 7 == 0 => ("NOPE", "1"),
            _ => ("B1", "1"),
        };
        all.extend(Client::framed(&oru(&format!("P-{i}"), barcode, value)));
    }
    c.stream.write_all(&all).await.unwrap();
    for i in 0..200 {
        let want = if i % 11 == 0 {
            "AR"
        } else if i % 7 == 0 {
            "AE"
        } else {
            "AA"
        };
        assert_eq!(msa(&c.ack().await), (want.into(), format!("P-{i}")));
    }
    let stored: Vec<String> = sink.stored().iter().map(|(_, m)| m.header.control_id.clone()).collect();
    assert_eq!(stored.len(), (0..200).filter(|i| i % 11 != 0 && i % 7 != 0).count());
    assert!(stored.windows(2).all(|w| w[0][2..].parse::<u32>().unwrap() < w[1][2..].parse::<u32>().unwrap()));
    srv.stop().await;
}

#[tokio::test]
async fn several_analyzers_at_once() {
    let sink = MemorySink::new(["SLOW", "FAST"]);
    let srv = Server::start(sink.clone(), MllpConfig::default()).await;
    // The sink holds SLOW until FAST has been stored: if connections were
    // served one after another this would never finish.
    // Each analyzer has its own address, as on a lab's network.
    let mut slow = Client::connect_from(srv.addr, Ipv4Addr::new(127, 0, 3, 1)).await;
    slow.send(&oru("S-1", "SLOW", "1")).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut fast = Client::connect_from(srv.addr, Ipv4Addr::new(127, 0, 3, 2)).await;
    assert_eq!(msa(&fast.call(&oru("F-1", "FAST", "2")).await).0, "AA");
    assert_eq!(msa(&slow.ack().await), ("AA".into(), "S-1".into()));

    let mut tasks = Vec::new();
    for n in 0..8 {
        let addr = srv.addr;
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect_from(addr, Ipv4Addr::new(127, 0, 3, 10 + n)).await;
            for i in 0..25 {
                let id = format!("A{n}-{i}");
                assert_eq!(msa(&c.call(&oru(&id, "FAST", "3")).await), ("AA".into(), id));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(sink.stored().len(), 2 + 8 * 25);
    srv.stop().await;
}

#[tokio::test]
async fn an_oversized_frame_is_refused_quoting_its_control_id() {
    let cfg = MllpConfig { max_frame_bytes: 64 * 1024, ..MllpConfig::default() };
    let srv = Server::start(MemorySink::new(["B1"]), cfg).await;
    let mut c = Client::connect(srv.addr).await;
    let big = oru("BIG-1", "B1", "1") + &format!("NTE|1||{}\r", "很长的备注".repeat(20_000));
    let ack = c.call(&big).await;
    assert_eq!(msa(&ack), ("AR".into(), "BIG-1".into()));
    assert!(ack.contains("hl7.frame_too_large"), "{ack}");
    assert!(ack.contains("65536"));
    assert_eq!(msa(&c.call(&oru("C-8", "B1", "1")).await).0, "AA");
    srv.stop().await;
}

#[tokio::test]
async fn a_panicking_sink_costs_one_message_not_the_listener() {
    let srv = Server::start(MemorySink::new(["B1", "PANIC"]), MllpConfig::default()).await;
    let mut c = Client::connect(srv.addr).await;
    let ack = c.call(&oru("C-9", "PANIC", "1")).await;
    assert_eq!(msa(&ack), ("AR".into(), "C-9".into()));
    assert!(ack.contains("server.internal"));
    assert_eq!(msa(&c.call(&oru("C-10", "B1", "1")).await).0, "AA");
    srv.stop().await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let cfg = MllpConfig { idle_timeout: Duration::from_millis(200), ..MllpConfig::default() };
    let srv = Server::start(MemorySink::new(["B1"]), cfg).await;
    let mut c = Client::connect(srv.addr).await;
    assert_eq!(msa(&c.call(&oru("C-11", "B1", "1")).await).0, "AA");
    // half a frame, then silence: closed all the same
    c.stream.write_all(b"\x0bMSH|^~\\&|").await.unwrap();
    let started = std::time::Instant::now();
    assert!(c.closed_within(Duration::from_secs(3)).await, "still open");
    assert!(started.elapsed() >= Duration::from_millis(150));
    srv.stop().await;
}

#[tokio::test]
async fn shutdown_closes_connections_and_stops_accepting() {
    let srv = Server::start(MemorySink::new(["B1"]), MllpConfig::default()).await;
    let mut c = Client::connect(srv.addr).await;
    assert_eq!(msa(&c.call(&oru("C-12", "B1", "1")).await).0, "AA");
    let addr = srv.addr;
    tokio::time::timeout(Duration::from_secs(5), srv.stop()).await.expect("serve did not return");
    assert!(c.closed_within(Duration::from_secs(1)).await);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn connections_over_the_limit_are_closed_and_the_others_served() {
    let cfg = MllpConfig { max_connections: 1, ..MllpConfig::default() };
    let srv = Server::start(MemorySink::new(["B1"]), cfg).await;
    let mut first = Client::connect(srv.addr).await;
    assert_eq!(msa(&first.call(&oru("C-13", "B1", "1")).await).0, "AA");
    let mut second = Client::connect(srv.addr).await;
    assert!(second.closed_within(Duration::from_secs(2)).await);
    assert_eq!(msa(&first.call(&oru("C-14", "B1", "1")).await).0, "AA");
    // once the first has gone, there is room again
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = Client::connect(srv.addr).await;
    assert_eq!(msa(&third.call(&oru("C-15", "B1", "1")).await).0, "AA");
    srv.stop().await;
}
