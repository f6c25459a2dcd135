//! Small process and filesystem helpers shared by the fixtures.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether the process runs with effective uid 0. Read from /proc so the
/// crate needs no libc binding.
pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            // "Uid: real effective saved fs"
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

pub(crate) fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// First executable called `name` in `$PATH`.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

/// `name` on `$PATH`, else the first executable of `fallbacks`.
pub(crate) fn find_program(name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    find_on_path(name).or_else(|| fallbacks.iter().map(PathBuf::from).find(|p| is_executable(p)))
}

/// Quote `s` for POSIX sh.
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Poll until something accepts TCP connections on 127.0.0.1:`port`.
pub(crate) fn wait_for_tcp(port: u16, timeout: Duration) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Last `max` bytes of a (log) file, for error messages.
pub(crate) fn file_tail(path: &Path, max: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let start = bytes.len().saturating_sub(max);
            String::from_utf8_lossy(&bytes[start..]).into_owned()
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// A `sh` process that runs `script` once the test process goes away.
///
/// Statics are never dropped, so servers shared by all tests of a process
/// need someone else to clean up after them. The watchdog blocks reading its
/// stdin, a pipe whose only write end lives in this process (std opens pipes
/// close-on-exec, so other children do not inherit it). The kernel closes it
/// when the process exits for any reason, including SIGKILL; `read` then hits
/// EOF and the cleanup runs. Dropping the `Watchdog` triggers it early and
/// waits for it to finish.
pub(crate) struct Watchdog {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Watchdog {
    pub(crate) fn spawn(script: &str) -> std::io::Result<Watchdog> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("read _ignored; {script}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Own process group: a terminal Ctrl-C must not kill the watchdog
            // before it has cleaned up.
            .process_group(0)
            .spawn()?;
        let stdin = child.stdin.take();
        Ok(Watchdog { child, stdin })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}
