//! The process's memory through a queue run, and the limits it needs.

use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

use super::{Memory, SAMPLE_EVERY};

/// The samples at the run's start, quarters and end, and the peak.
pub(super) fn memory_detail(m: &Memory) -> String {
    let d = &m.during;
    let at = |q: usize| d.get((d.len().saturating_sub(1)) * q / 4).copied();
    let series = [0, 1, 2, 3, 4].map(|q| mib(at(q))).join(" → ");
    format!(
        "RSS of the process (server and load generator together), MiB: {} with the data loaded, {} with the \
         screens connected; during the run (start, ¼, ½, ¾, end) {series}, peak {}",
        mib(m.ready),
        mib(m.connected),
        mib(d.iter().max().copied())
    )
}

/// `VmRSS` of this process in kB (Linux).
pub(super) fn rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The soft limit on open files, when it can be read.
pub(super) fn open_files_limit() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = s.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn mib(kb: Option<u64>) -> String {
    kb.map_or("?".into(), |k| format!("{:.0}", k as f64 / 1024.0))
}

/// Samples the resident memory every [`SAMPLE_EVERY`] until aborted.
pub(super) fn sample(memory: Arc<Mutex<Memory>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SAMPLE_EVERY);
        loop {
            every.tick().await;
            if let Some(kb) = rss_kb() {
                memory.lock().unwrap_or_else(|e| e.into_inner()).during.push(kb);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_reported_at_the_quarters_of_the_run() {
        let m = Memory {
            ready: Some(100 * 1024),
            connected: Some(150 * 1024),
            during: (0..9).map(|i| (160 + i) * 1024).collect(),
        };
        let d = memory_detail(&m);
        assert!(d.contains("100 with the data loaded, 150 with the screens connected"), "{d}");
        assert!(d.contains("160 → 162 → 164 → 166 → 168, peak 168"), "{d}");
        assert!(memory_detail(&Memory::default()).contains("? → ? → ? → ? → ?, peak ?"));
    }
}
