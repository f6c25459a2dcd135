//! ChromeDriver launcher for browser tests.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::sys::{Watchdog, find_program, is_executable};
use crate::{free_port, require_browser};

const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `chromedriver` on 127.0.0.1, killed (with any browser it
/// started) on drop or when the test process exits.
pub struct ChromeDriver {
    port: u16,
    /// Kills chromedriver's process group once dropped; an `Option` so that
    /// `Drop` can trigger it before reaping `child`.
    watchdog: Option<Watchdog>,
    child: Child,
}

impl ChromeDriver {
    /// Start chromedriver on a free port and wait until it answers.
    ///
    /// Returns `None` when chromedriver or chromium is not installed, so
    /// callers can skip; panics instead when `DAYI_REQUIRE_BROWSER` is set.
    /// Also panics when both are installed but chromedriver fails to start.
    pub fn start() -> Option<ChromeDriver> {
        let driver = ChromeDriver::chromedriver_binary();
        let browser = ChromeDriver::chromium_binary();
        let (Some(driver), Some(_)) = (driver, browser) else {
            let why = "chromedriver and/or chromium are not installed \
                       (looked on PATH and in /usr/bin)";
            if require_browser() {
                panic!("dayi-testkit: DAYI_REQUIRE_BROWSER is set but {why}");
            }
            eprintln!("dayi-testkit: {why}; browser tests will be skipped");
            return None;
        };
        match ChromeDriver::launch(&driver) {
            Ok(chromedriver) => Some(chromedriver),
            Err(e) => panic!("dayi-testkit: could not start chromedriver: {e:#}"),
        }
    }

    /// WebDriver endpoint, e.g. `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `chromedriver` on PATH, else `/usr/bin/chromedriver`.
    pub fn chromedriver_binary() -> Option<PathBuf> {
        find_program("chromedriver", &["/usr/bin/chromedriver"])
    }

    /// The browser to put in `goog:chromeOptions.binary`:
    /// `/usr/bin/chromium`, `/usr/bin/chromium-browser`, or `chromium` on PATH.
    pub fn chromium_binary() -> Option<PathBuf> {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| is_executable(p))
            .or_else(|| find_program("chromium", &[]))
    }

    /// Chromium flags for headless runs in this sandbox (as root, without
    /// a GPU, with a small /dev/shm and no network access).
    ///
    /// Callers must also pass a fresh `--user-data-dir=` (see
    /// [`ChromeDriver::user_data_dir`]): concurrent browsers sharing the
    /// default profile fail to start.
    pub fn chrome_args() -> Vec<&'static str> {
        vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1366,900",
            "--lang=zh-CN",
        ]
    }

    /// A fresh temporary directory for `--user-data-dir`; keep it alive until
    /// the browser session ends.
    ///
    /// # Panics
    /// When no temporary directory can be created.
    pub fn user_data_dir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("dayi-chrome-")
            .tempdir()
            .unwrap_or_else(|e| panic!("dayi-testkit: cannot create a chromium profile dir: {e}"))
    }

    /// Spawn chromedriver, retrying on another port if it exits early (most
    /// likely because a concurrent process took the port).
    fn launch(driver: &std::path::Path) -> anyhow::Result<ChromeDriver> {
        let mut last_error = None;
        for _attempt in 0..3 {
            let port = free_port();
            let child = Command::new(driver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Own process group, so that the browsers it launches can be
                // killed together with it.
                .process_group(0)
                .spawn()
                .with_context(|| format!("cannot run {}", driver.display()))?;
            let pgid = child.id();
            let watchdog = Watchdog::spawn(&format!("kill -s KILL -- -{pgid}"))
                .context("cannot spawn the chromedriver watchdog")?;
            let mut chromedriver = ChromeDriver { port, watchdog: Some(watchdog), child };
            match chromedriver.wait_ready() {
                Ok(()) => return Ok(chromedriver),
                Err(e) => last_error = Some(e), // dropping kills it
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("chromedriver did not start")))
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().context("cannot poll chromedriver")? {
                bail!("chromedriver on port {} exited early: {status}", self.port);
            }
            if let Ok((200, _)) = http_request(self.port, "GET", "/status", None) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("chromedriver on port {} did not answer /status within {READY_TIMEOUT:?}", self.port);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // Closing the watchdog's pipe makes it SIGKILL the process group;
        // then reap chromedriver so no zombie is left.
        drop(self.watchdog.take());
        let _ = self.child.wait();
    }
}

/// Minimal HTTP/1.1 client for talking to chromedriver on 127.0.0.1:`port`:
/// returns the status code and body. `body` is sent as JSON.
pub(crate) fn http_request(port: u16, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    // Creating a session starts a browser, which can take a while.
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    read_response(&mut stream)
}

/// Read one HTTP response. chromedriver keeps the connection open despite
/// `Connection: close`, so the body is delimited by `Content-Length` (it
/// never uses chunked encoding).
fn read_response(stream: &mut impl Read) -> std::io::Result<(u16, String)> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("malformed HTTP response: {what}"));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(invalid("connection closed before the end of the headers"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status =
        head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).ok_or_else(|| invalid("no status code"))?;
    let content_length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
    });
    let mut body = buf.split_off(head_end);
    match content_length {
        Some(len) => {
            while body.len() < len {
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    return Err(invalid("connection closed before the end of the body"));
                }
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(len);
        }
        None => {
            stream.read_to_end(&mut body)?;
        }
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_string(s: &str) -> String {
        let mut out = String::from('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// Pull `"key":"value"` out of a JSON text without a JSON parser.
    fn json_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
        let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
        let len = json[start..].find('"')?;
        Some(&json[start..start + len])
    }

    #[test]
    fn read_response_honours_content_length() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length:5\r\nConnection:close\r\n\r\nhello-extra";
        let (code, body) = read_response(&mut &raw[..]).expect("parse");
        assert_eq!((code, body.as_str()), (200, "hello"));
    }

    #[test]
    fn chromedriver_answers_status_and_runs_chromium() {
        let Some(driver) = ChromeDriver::start() else {
            eprintln!("skipping: chromedriver/chromium not available");
            return;
        };
        let (code, body) = http_request(driver.port(), "GET", "/status", None)
            .unwrap_or_else(|e| panic!("GET {}/status: {e}", driver.url()));
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("\"ready\""), "unexpected /status body: {body}");

        // A real session proves the flags work here (root, no GPU, no sandbox).
        let profile = ChromeDriver::user_data_dir();
        let browser = ChromeDriver::chromium_binary().expect("chromium is installed");
        let user_data_dir = format!("--user-data-dir={}", profile.path().display());
        let args: Vec<String> =
            ChromeDriver::chrome_args().into_iter().chain([user_data_dir.as_str()]).map(json_string).collect();
        let capabilities = format!(
            r#"{{"capabilities":{{"alwaysMatch":{{"goog:chromeOptions":{{"binary":{},"args":[{}]}}}}}}}}"#,
            json_string(&browser.to_string_lossy()),
            args.join(",")
        );
        let (code, body) = http_request(driver.port(), "POST", "/session", Some(&capabilities)).expect("POST /session");
        assert_eq!(code, 200, "session not created: {body}");
        let session = json_field(&body, "sessionId").expect("sessionId in response");

        let page = r#"{"url":"data:text/html,<title>dayi</title>"}"#;
        let (code, body) =
            http_request(driver.port(), "POST", &format!("/session/{session}/url"), Some(page)).expect("navigate");
        assert_eq!(code, 200, "{body}");
        let (code, body) =
            http_request(driver.port(), "GET", &format!("/session/{session}/title"), None).expect("title");
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("\"dayi\""), "unexpected title response: {body}");

        let (code, body) =
            http_request(driver.port(), "DELETE", &format!("/session/{session}"), None).expect("DELETE session");
        assert_eq!(code, 200, "{body}");
    }
}
