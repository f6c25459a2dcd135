//! Audit anchors: an organisation's chain head (seq and hash) written outside
//! the database. The chain alone cannot show that its newest entries were
//! deleted and `audit_head` moved back with them; an anchor kept elsewhere
//! can, because the entry it names must still be there with the same hash.
//!
//! One anchor is one line of text, `org_code seq hash at`, for example
//! `wsxrmyy 1234 9f86d0…0f00a08 2026-05-01T08:00:00Z`; `#` starts a comment.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::audit::Break;

/// Entries younger than this can never have been purged legitimately: the
/// purge refuses them (网络安全法 第二十一条, logs kept at least six months).
pub const MIN_RETENTION_DAYS: i64 = 180;

/// One organisation's head as it was at `at` (µs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub org_code: String,
    pub seq: i64,
    pub hash: String,
    pub at: i64,
}

impl Anchor {
    /// The line written to the anchor file, without its newline.
    pub fn line(&self) -> String {
        let at = OffsetDateTime::from_unix_timestamp(self.at.div_euclid(1_000_000))
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default();
        format!("{} {} {} {at}", self.org_code, self.seq, self.hash)
    }

    /// One line of an anchor file: `None` for a blank line or a comment.
    pub fn parse(line: &str) -> Result<Option<Anchor>, String> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(None);
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [org_code, seq, hash, at] = parts[..] else {
            return Err("expected `org_code seq hash at`".into());
        };
        let seq: i64 = seq.parse().ok().filter(|s| *s >= 0).ok_or_else(|| format!("bad seq {seq}"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("bad hash {hash}"));
        }
        let at = OffsetDateTime::parse(at, &Rfc3339).map_err(|_| format!("bad time {at}"))?;
        let at = (at.unix_timestamp_nanos() / 1_000) as i64;
        Ok(Some(Anchor { org_code: org_code.into(), seq, hash: hash.to_ascii_lowercase(), at }))
    }

    /// Every anchor of a file's text; an unreadable line is an error naming its number.
    pub fn parse_all(text: &str) -> Result<Vec<Anchor>, String> {
        let mut out = vec![];
        for (i, line) in text.lines().enumerate() {
            if let Some(a) = Anchor::parse(line).map_err(|e| format!("line {}: {e}", i + 1))? {
                out.push(a);
            }
        }
        Ok(out)
    }
}

/// What the database holds about one anchored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The head's seq now.
    pub head_seq: i64,
    /// The last purged entry (the chain's anchor inside the database) and its hash.
    pub purged_seq: i64,
    pub purged_hash: String,
    /// The hash of the kept entry numbered like the anchor, if there is one.
    pub hash: Option<String>,
}

/// Checks one anchor against the database. `now` (µs) decides whether an
/// entry below the purge point may have been purged legitimately.
pub fn check(a: &Anchor, found: &Found, now: i64) -> Result<(), Break> {
    if a.seq < found.purged_seq || (a.seq == found.purged_seq && a.seq > 0) {
        let at_purge = a.seq == found.purged_seq;
        if at_purge && found.purged_hash != a.hash {
            return Err(Break::Rewritten { seq: a.seq });
        }
        // An anchor younger than the shortest retention names an entry no purge may take.
        if now - a.at < MIN_RETENTION_DAYS * 86_400_000_000 && !at_purge {
            return Err(Break::Truncated { head_seq: a.seq, last_seq: found.purged_seq });
        }
        return Ok(());
    }
    if a.seq == 0 {
        return Ok(());
    }
    match &found.hash {
        None => Err(Break::Truncated { head_seq: a.seq, last_seq: found.head_seq.min(a.seq - 1) }),
        Some(h) if *h != a.hash => Err(Break::Rewritten { seq: a.seq }),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const NOW: i64 = 1_777_622_400_000_000; // 2026-05-01T08:00:00Z
    const DAY: i64 = 86_400_000_000;

    fn anchor(seq: i64, at: i64) -> Anchor {
        Anchor { org_code: "wsxrmyy".into(), seq, hash: H.into(), at }
    }

    fn found(head_seq: i64, hash: Option<&str>) -> Found {
        Found { head_seq, purged_seq: 0, purged_hash: crate::audit::GENESIS.into(), hash: hash.map(String::from) }
    }

    #[test]
    fn lines_round_trip() {
        let a = anchor(1234, NOW);
        assert_eq!(a.line(), format!("wsxrmyy 1234 {H} 2026-05-01T08:00:00Z"));
        assert_eq!(Anchor::parse(&a.line()), Ok(Some(a.clone())));
        let text = format!("# dayi audit anchors\n\n{}\n  {}  \n", a.line(), anchor(7, NOW).line());
        assert_eq!(Anchor::parse_all(&text).unwrap().iter().map(|a| a.seq).collect::<Vec<_>>(), [1234, 7]);
    }

    #[test]
    fn bad_lines_are_named() {
        for bad in ["wsxrmyy 12", "wsxrmyy x {H} 2026-05-01T08:00:00Z", "wsxrmyy 1 abc 2026-05-01T08:00:00Z"] {
            assert!(Anchor::parse(&bad.replace("{H}", H)).is_err(), "{bad}");
        }
        assert!(Anchor::parse(&format!("wsxrmyy 1 {H} yesterday")).unwrap_err().contains("bad time"));
        let e = Anchor::parse_all(&format!("{}\nnonsense\n", anchor(1, NOW).line())).unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
    }

    #[test]
    fn an_entry_still_there_with_its_hash_passes() {
        assert_eq!(check(&anchor(5, NOW), &found(9, Some(H)), NOW), Ok(()));
        assert_eq!(check(&anchor(0, NOW), &found(0, None), NOW), Ok(()), "an empty chain anchors nothing");
    }

    #[test]
    fn a_missing_entry_is_truncation() {
        // The newest rows deleted and the head moved back to 3.
        assert_eq!(check(&anchor(5, NOW), &found(3, None), NOW), Err(Break::Truncated { head_seq: 5, last_seq: 3 }));
    }

    #[test]
    fn a_different_hash_is_a_rewritten_chain() {
        let other = "0".repeat(64);
        assert_eq!(check(&anchor(5, NOW), &found(9, Some(&other)), NOW), Err(Break::Rewritten { seq: 5 }));
    }

    #[test]
    fn only_old_entries_may_have_been_purged() {
        let purged = |seq| Found { purged_seq: seq, purged_hash: H.into(), ..found(20, None) };
        assert_eq!(check(&anchor(5, NOW - 200 * DAY), &purged(10), NOW), Ok(()));
        assert_eq!(
            check(&anchor(5, NOW - 10 * DAY), &purged(10), NOW),
            Err(Break::Truncated { head_seq: 5, last_seq: 10 }),
            "ten days old: no purge may have taken it"
        );
        assert_eq!(check(&anchor(10, NOW - DAY), &purged(10), NOW), Ok(()), "the purge point keeps its hash");
        let moved = Found { purged_hash: "1".repeat(64), ..purged(10) };
        assert_eq!(check(&anchor(10, NOW - 300 * DAY), &moved, NOW), Err(Break::Rewritten { seq: 10 }));
    }
}
