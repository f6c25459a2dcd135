//! MLLP framing: a message travels as `0x0B message 0x1C 0x0D`. The decoder
//! takes bytes as they arrive (a read may hold part of a frame or several
//! frames), skips anything before a start block, and never holds more than
//! `max` bytes of one frame: a longer frame is dropped and reported with its
//! first bytes, so the refusal can still quote its control id.

use std::collections::VecDeque;

pub const START: u8 = 0x0B;
pub const END: u8 = 0x1C;
pub const CR: u8 = 0x0D;

/// How much of an oversized frame is kept, to read its MSH.
const HEAD: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Message(Vec<u8>),
    /// A frame longer than the limit; `head` is its beginning.
    TooLarge {
        head: Vec<u8>,
        len: usize,
    },
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Between frames: bytes up to the next start block are discarded.
    Seeking,
    /// Inside a frame; `end_seen` when its last byte was 0x1C.
    Reading { end_seen: bool },
    /// Inside a frame already over the limit.
    Dropping { len: usize, end_seen: bool },
}

#[derive(Debug)]
pub struct Decoder {
    max: usize,
    state: State,
    buf: Vec<u8>,
    ready: VecDeque<Frame>,
    /// Bytes discarded outside frames and frames cut off by a new start
    /// block, for the connection's log.
    pub skipped_bytes: usize,
}

impl Decoder {
    pub fn new(max: usize) -> Self {
        Self { max, state: State::Seeking, buf: Vec::new(), ready: VecDeque::new(), skipped_bytes: 0 }
    }

    /// The next complete frame, in arrival order.
    pub fn next_frame(&mut self) -> Option<Frame> {
        self.ready.pop_front()
    }

    /// How many complete frames wait to be taken.
    pub fn ready(&self) -> usize {
        self.ready.len()
    }

    /// Whether a frame has begun but not ended.
    pub fn in_frame(&self) -> bool {
        self.state != State::Seeking
    }

    pub fn push(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            match self.state {
                State::Seeking => match input.iter().position(|&b| b == START) {
                    Some(i) => {
                        self.skipped_bytes += i;
                        self.state = State::Reading { end_seen: false };
                        input = &input[i + 1..];
                    }
                    None => {
                        self.skipped_bytes += input.len();
                        return;
                    }
                },
                State::Reading { end_seen } => input = self.read(input, end_seen),
                State::Dropping { len, end_seen } => input = self.drop_bytes(input, len, end_seen),
            }
        }
    }

    /// Copies frame bytes up to an end block, a new start block or the limit.
    fn read<'i>(&mut self, input: &'i [u8], end_seen: bool) -> &'i [u8] {
        if end_seen {
            // 0x1C ended the last read: 0x0D completes the end block. Any other
            // byte means a sender that omits the CR; the frame ends all the same.
            let msg = std::mem::take(&mut self.buf);
            self.finish(Frame::Message(msg));
            return if input[0] == CR { &input[1..] } else { input };
        }
        let stop = input.iter().position(|&b| b == END || b == START).unwrap_or(input.len());
        let room = self.max.saturating_sub(self.buf.len());
        if stop > room {
            // Over the limit: keep the head for the refusal, skip the rest.
            let taken = self.buf.len() + stop;
            let keep = HEAD.saturating_sub(self.buf.len()).min(stop);
            self.buf.extend_from_slice(&input[..keep]);
            self.buf.truncate(HEAD);
            return self.drop_bytes(&input[stop..], taken, false);
        }
        self.buf.extend_from_slice(&input[..stop]);
        match input.get(stop) {
            None => &[],
            Some(&START) => {
                // A new frame began before this one ended: drop the fragment.
                self.skipped_bytes += self.buf.len() + 1;
                self.buf.clear();
                &input[stop + 1..]
            }
            Some(_) => {
                self.state = State::Reading { end_seen: true };
                let rest = &input[stop + 1..];
                if rest.is_empty() { rest } else { self.read(rest, true) }
            }
        }
    }

    /// Skips an oversized frame's bytes up to its end block.
    fn drop_bytes<'i>(&mut self, input: &'i [u8], len: usize, end_seen: bool) -> &'i [u8] {
        if input.is_empty() {
            self.state = State::Dropping { len, end_seen };
            return input;
        }
        let too_large = |s: &mut Self, len| Frame::TooLarge { head: std::mem::take(&mut s.buf), len };
        if end_seen {
            let f = too_large(self, len);
            self.finish(f);
            return if input[0] == CR { &input[1..] } else { input };
        }
        match input.iter().position(|&b| b == END || b == START) {
            None => {
                self.state = State::Dropping { len: len + input.len(), end_seen: false };
                &[]
            }
            Some(i) if input[i] == START => {
                let f = too_large(self, len + i);
                self.finish(f);
                self.state = State::Reading { end_seen: false };
                &input[i + 1..]
            }
            Some(i) => {
                let rest = &input[i + 1..];
                if rest.is_empty() {
                    self.state = State::Dropping { len: len + i, end_seen: true };
                    rest
                } else {
                    self.drop_bytes(rest, len + i, true)
                }
            }
        }
    }

    fn finish(&mut self, frame: Frame) {
        self.ready.push_back(frame);
        self.state = State::Seeking;
    }
}

/// Wraps a message in MLLP's start and end blocks.
pub fn frame(message: &[u8], out: &mut Vec<u8>) {
    out.reserve(message.len() + 3);
    out.push(START);
    out.extend_from_slice(message);
    out.extend_from_slice(&[END, CR]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn framed(msgs: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in msgs {
            frame(m, &mut out);
        }
        out
    }

    fn drain(d: &mut Decoder) -> Vec<Frame> {
        std::iter::from_fn(|| d.next_frame()).collect()
    }

    #[test]
    fn several_frames_in_one_read_and_garbage_between() {
        let mut bytes = b"noise\r\n".to_vec();
        bytes.extend(framed(&[b"MSH|a", b"MSH|b"]));
        bytes.extend(b"\x00\xff");
        bytes.extend(framed(&[b"MSH|c"]));
        let mut d = Decoder::new(1024);
        d.push(&bytes);
        let got = drain(&mut d);
        assert_eq!(got, [b"MSH|a", b"MSH|b", b"MSH|c"].map(|m| Frame::Message(m.to_vec())));
        assert_eq!(d.skipped_bytes, 9);
        assert!(!d.in_frame());
    }

    #[test]
    fn end_block_split_between_reads_and_missing_cr() {
        let mut d = Decoder::new(1024);
        d.push(b"\x0bMSH|a\x1c");
        assert!(d.ready() == 0 && d.in_frame());
        d.push(b"\x0d\x0bMSH|b\x1c\x0bMSH|c\x1c");
        d.push(b"\x0d");
        assert_eq!(d.ready(), 3);
        let got = drain(&mut d);
        assert_eq!(got, [b"MSH|a", b"MSH|b", b"MSH|c"].map(|m| Frame::Message(m.to_vec())));
    }

    #[test]
    fn a_frame_cut_off_by_a_new_start_is_dropped() {
        let mut d = Decoder::new(1024);
        d.push(b"\x0bMSH|partial\x0bMSH|whole\x1c\x0d");
        assert_eq!(drain(&mut d), [Frame::Message(b"MSH|whole".to_vec())]);
        assert_eq!(d.skipped_bytes, 12);
    }

    #[test]
    fn oversized_frames_are_reported_with_their_head_then_reading_goes_on() {
        let big = vec![b'x'; 10_000];
        let mut bytes = framed(&[&big]);
        bytes.extend(framed(&[b"MSH|after"]));
        for chunk in [1, 7, 100, 5000, bytes.len()] {
            let mut d = Decoder::new(5000);
            for c in bytes.chunks(chunk) {
                d.push(c);
            }
            let got = drain(&mut d);
            assert_eq!(got.len(), 2, "chunk {chunk}");
            assert_eq!(got[0], Frame::TooLarge { head: vec![b'x'; HEAD], len: 10_000 }, "chunk {chunk}");
            assert_eq!(got[1], Frame::Message(b"MSH|after".to_vec()));
        }
        // exactly at the limit is fine
        let mut d = Decoder::new(5);
        d.push(&framed(&[b"12345", b"123456"]));
        assert_eq!(drain(&mut d)[0], Frame::Message(b"12345".to_vec()));
    }

    proptest! {
        #[test]
        fn frames_survive_any_split(
            msgs in proptest::collection::vec(proptest::collection::vec(0x0du8..0xff, 0..200), 1..6),
            garbage in proptest::collection::vec(0x0du8..0x1b, 0..20),
            cuts in proptest::collection::vec(1usize..50, 1..20),
        ) {
            // messages without block bytes (0x0B, 0x1C never occur in HL7 text)
            let msgs: Vec<Vec<u8>> = msgs.into_iter().map(|m| m.into_iter().filter(|&b| b != END).collect()).collect();
            let mut bytes = garbage;
            bytes.extend(framed(&msgs.iter().map(Vec::as_slice).collect::<Vec<_>>()));
            let mut d = Decoder::new(150);
            let (mut at, mut i) = (0, 0);
            while at < bytes.len() {
                let n = cuts[i % cuts.len()].min(bytes.len() - at);
                d.push(&bytes[at..at + n]);
                at += n;
                i += 1;
            }
            let got = drain(&mut d);
            prop_assert_eq!(got.len(), msgs.len());
            for (g, m) in got.iter().zip(&msgs) {
                match g {
                    Frame::Message(b) => prop_assert_eq!(b, m),
                    Frame::TooLarge { len, .. } => prop_assert!(m.len() > 150 && *len == m.len()),
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic_nor_exceed_the_limit(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..10)) {
            let mut d = Decoder::new(64);
            for c in &chunks {
                d.push(c);
                prop_assert!(d.buf.len() <= HEAD.max(64));
            }
            for f in drain(&mut d) {
                if let Frame::Message(m) = f { prop_assert!(m.len() <= 64); }
            }
        }
    }
}
