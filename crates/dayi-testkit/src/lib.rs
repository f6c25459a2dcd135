//! Test harness pieces for Dayi: a throw-away PostgreSQL cluster, free TCP
//! ports and a ChromeDriver launcher.
//!
//! Everything here shells out to system binaries (`initdb`, `pg_ctl`, `psql`,
//! `chromedriver`) so the crate needs no database driver or HTTP client.
//! Missing binaries make the fixtures return `None` so tests can skip, unless
//! `DAYI_REQUIRE_PG` / `DAYI_REQUIRE_BROWSER` ask for a hard failure (CI).

mod both;
mod browser;
mod pg;
mod sys;

pub use both::Harness;
pub use browser::ChromeDriver;
pub use pg::PgCluster;

use std::net::{Ipv4Addr, TcpListener};

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// The port is released before returning, so another process may grab it in
/// between; callers that spawn servers retry with a fresh port on failure.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("dayi-testkit: cannot bind 127.0.0.1:0 to find a free port: {e}"))
}

/// True when `DAYI_REQUIRE_PG` is `1` or `true`: missing or broken PostgreSQL
/// must fail the tests instead of skipping them.
pub fn require_pg() -> bool {
    env_flag("DAYI_REQUIRE_PG")
}

/// True when `DAYI_REQUIRE_BROWSER` is `1` or `true`: missing chromedriver or
/// chromium must fail the tests instead of skipping them.
pub fn require_browser() -> bool {
    env_flag("DAYI_REQUIRE_BROWSER")
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| {
        let v = v.trim();
        v == "1" || v.eq_ignore_ascii_case("true")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable() {
        let port = free_port();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("free port should be bindable");
    }
}
