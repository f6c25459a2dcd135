//! The HL7 v2 grammar: segments, fields, repetitions, components,
//! subcomponents and escape sequences. Parsing borrows from the input; only
//! values that hold escape sequences are copied when decoded.

use std::borrow::Cow;

use super::Hl7Error;

/// The five delimiters, read from MSH-1 and MSH-2 of each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    pub field: char,
    pub component: char,
    pub repetition: char,
    pub escape: char,
    pub subcomponent: char,
}

impl Default for Delimiters {
    fn default() -> Self {
        Self { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' }
    }
}

impl Delimiters {
    /// MSH-2 as written in a message we send.
    pub fn encoding_chars(&self) -> String {
        [self.component, self.repetition, self.escape, self.subcomponent].iter().collect()
    }

    /// Reads the delimiters from the start of a message: `MSH|^~\&|…`. MSH-2 has
    /// four characters, or five from v2.7 on (the fifth, truncation, is ignored).
    fn from_msh(line: &str) -> Result<Self, Hl7Error> {
        let rest = line.strip_prefix("MSH").ok_or(Hl7Error::NoMsh)?;
        let mut chars = rest.chars();
        let bad = || Hl7Error::Delimiters(rest.chars().take(6).collect());
        let field = chars.next().ok_or_else(bad)?;
        let enc: Vec<char> = chars.take_while(|&c| c != field).take(6).collect();
        if !(4..=5).contains(&enc.len()) {
            return Err(bad());
        }
        let mut all = vec![field];
        all.extend(&enc);
        let usable = |c: &char| c.is_ascii_punctuation();
        if !all.iter().all(usable) || (1..all.len()).any(|i| all[..i].contains(&all[i])) {
            return Err(bad());
        }
        Ok(Self { field, component: enc[0], repetition: enc[1], escape: enc[2], subcomponent: enc[3] })
    }
}

/// A parsed message: its delimiters and its segments, borrowed from the text.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub delims: Delimiters,
    segments: Vec<Segment<'a>>,
}

impl<'a> Message<'a> {
    /// Splits a message into segments. Segments end with CR; LF and CRLF are
    /// accepted too because analyzers and files use them. The first segment
    /// must be MSH and every segment name three capital letters or digits.
    pub fn parse(text: &'a str) -> Result<Self, Hl7Error> {
        let mut lines = text.split(['\r', '\n']).filter(|l| !l.trim().is_empty());
        let first = lines.next().ok_or(Hl7Error::NoMsh)?.trim_start();
        let delims = Delimiters::from_msh(first)?;
        let mut segments = vec![Segment { line: first, delims }];
        for (i, line) in lines.enumerate() {
            let name = line.split(delims.field).next().unwrap_or_default();
            let valid = name.len() == 3 && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !valid {
                return Err(Hl7Error::SegmentName { index: i + 2, name: name.chars().take(20).collect() });
            }
            segments.push(Segment { line, delims });
        }
        Ok(Self { delims, segments })
    }

    pub fn segments(&self) -> &[Segment<'a>] {
        &self.segments
    }

    pub fn msh(&self) -> &Segment<'a> {
        &self.segments[0]
    }
}

/// One segment. Field numbers are HL7's: `field(1)` of MSH is the field
/// separator itself, `field(1)` of any other segment is the first after its name.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    line: &'a str,
    delims: Delimiters,
}

impl<'a> Segment<'a> {
    pub fn name(&self) -> &'a str {
        &self.line[..3]
    }

    /// Fields 1..N as raw (still escaped) text; absent fields are empty.
    /// Reading all wanted fields in one pass avoids rescanning the line.
    pub fn fields<const N: usize>(&self) -> [&'a str; N] {
        let mut out = [""; N];
        let mut parts = self.line.split(self.delims.field).skip(1);
        let mut n = 1;
        if self.name() == "MSH" {
            // MSH-1 is the separator that sits between "MSH" and MSH-2.
            if N > 0 {
                out[0] = &self.line[3..3 + self.delims.field.len_utf8()];
            }
            n = 2;
        }
        while n <= N {
            match parts.next() {
                Some(p) => out[n - 1] = p,
                None => break,
            }
            n += 1;
        }
        out
    }

    /// One field as raw text; empty when absent.
    pub fn field(&self, n: usize) -> &'a str {
        if n == 0 {
            return "";
        }
        if self.name() == "MSH" {
            return match n {
                1 => &self.line[3..3 + self.delims.field.len_utf8()],
                _ => self.line.split(self.delims.field).nth(n - 1).unwrap_or(""),
            };
        }
        self.line.split(self.delims.field).nth(n).unwrap_or("")
    }

    pub fn delims(&self) -> Delimiters {
        self.delims
    }
}

impl Delimiters {
    /// The repetitions of a raw field.
    pub fn repetitions<'a>(&self, raw: &'a str) -> impl Iterator<Item = &'a str> + use<'a> {
        raw.split(self.repetition)
    }

    /// Component `n` (1-based) of a raw value, still escaped.
    pub fn component<'a>(&self, raw: &'a str, n: usize) -> &'a str {
        raw.split(self.component).nth(n.saturating_sub(1)).unwrap_or("")
    }

    /// Subcomponent `n` (1-based) of a raw component, still escaped.
    pub fn subcomponent<'a>(&self, raw: &'a str, n: usize) -> &'a str {
        raw.split(self.subcomponent).nth(n.saturating_sub(1)).unwrap_or("")
    }
}

/// Decodes escape sequences in a leaf value: \F\ \S\ \T\ \R\ \E\ become the
/// delimiters, \X..\ hexadecimal bytes (if they form UTF-8), \.br\ a line
/// break; \H\ and \N\ (highlighting) are dropped. An unknown or unterminated
/// sequence is kept as written: a result is never refused for its formatting.
pub fn unescape<'a>(raw: &'a str, d: &Delimiters) -> Cow<'a, str> {
    let e = d.escape;
    if !raw.contains(e) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(e) {
        out.push_str(&rest[..i]);
        let after = &rest[i + e.len_utf8()..];
        let Some(j) = after.find(e) else {
            out.push_str(&rest[i..]);
            return Cow::Owned(out);
        };
        let seq = &after[..j];
        match seq {
            "F" => out.push(d.field),
            "S" => out.push(d.component),
            "T" => out.push(d.subcomponent),
            "R" => out.push(d.repetition),
            "E" => out.push(e),
            ".br" => out.push('\n'),
            "H" | "N" => {}
            _ => match hex_text(seq) {
                Some(t) => out.push_str(&t),
                None => out.push_str(&rest[i..i + 2 * e.len_utf8() + j]),
            },
        }
        rest = &after[j + e.len_utf8()..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// `X0D0A` → "\r\n", when the bytes are valid UTF-8.
fn hex_text(seq: &str) -> Option<String> {
    let hex = seq.strip_prefix('X')?;
    if hex.is_empty() || hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

/// Encodes a value for a message: the delimiters become escape sequences, a
/// line break \.br\ and a carriage return \X0D\ (either would end a segment).
pub fn escape<'a>(value: &'a str, d: &Delimiters) -> Cow<'a, str> {
    let special = |c: char| {
        c == d.field
            || c == d.component
            || c == d.repetition
            || c == d.escape
            || c == d.subcomponent
            || c == '\r'
            || c == '\n'
    };
    if !value.contains(special) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        let code = match c {
            '\r' => "X0D",
            '\n' => ".br",
            c if c == d.field => "F",
            c if c == d.component => "S",
            c if c == d.repetition => "R",
            c if c == d.escape => "E",
            c if c == d.subcomponent => "T",
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push(d.escape);
        out.push_str(code);
        out.push(d.escape);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fields_are_numbered_as_in_the_standard() {
        let m =
            Message::parse("MSH|^~\\&|LIS|LAB|DAYI|WS|20261203||ORU^R01|42|P|2.5.1\rPID|1||P1^^^H^MR||张^三").unwrap();
        let msh = m.msh();
        assert_eq!(msh.field(1), "|");
        assert_eq!(msh.field(2), "^~\\&");
        assert_eq!(msh.field(3), "LIS");
        assert_eq!(msh.field(10), "42");
        let [f1, f2, f3, _, _, _, _, _, _, f10, f11, f12, f13] = msh.fields::<13>();
        assert_eq!((f1, f2, f3, f10, f11, f12, f13), ("|", "^~\\&", "LIS", "42", "P", "2.5.1", ""));
        let pid = m.segments()[1];
        assert_eq!(pid.name(), "PID");
        assert_eq!(pid.field(3), "P1^^^H^MR");
        assert_eq!(pid.fields::<5>()[4], "张^三");
        assert_eq!(m.delims.component(pid.field(5), 2), "三");
        assert_eq!(pid.field(40), "");
    }

    #[test]
    fn other_delimiters_and_line_endings() {
        let m = Message::parse("\r\nMSH#:*!@#A#B\r\nOBX#1#NM#a:b@c\n\nNTE#x\r").unwrap();
        assert_eq!(
            m.delims,
            Delimiters { field: '#', component: ':', repetition: '*', escape: '!', subcomponent: '@' }
        );
        assert_eq!(m.segments().len(), 3);
        let obx = m.segments()[1];
        assert_eq!(m.delims.component(obx.field(3), 2), "b@c");
        assert_eq!(m.delims.subcomponent(m.delims.component(obx.field(3), 2), 2), "c");
    }

    #[test]
    fn bad_starts_are_refused() {
        assert_eq!(Message::parse("").unwrap_err(), Hl7Error::NoMsh);
        assert_eq!(Message::parse("PID|1").unwrap_err(), Hl7Error::NoMsh);
        for bad in ["MSH", "MSH|", "MSH|^~|", "MSH|^~\\^|", "MSH|^~\\&X|", "MSH|^~\\a|", "MSH|^~\\&#$|"] {
            assert!(matches!(Message::parse(bad), Err(Hl7Error::Delimiters(_))), "{bad}");
        }
        // v2.7's truncation character is accepted.
        assert!(Message::parse("MSH|^~\\&#|A").is_ok());
        let e = Message::parse("MSH|^~\\&|A\rpid|1").unwrap_err();
        assert_eq!(e, Hl7Error::SegmentName { index: 2, name: "pid".into() });
    }

    #[test]
    fn escape_sequences() {
        let d = Delimiters::default();
        assert_eq!(unescape("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", &d), "a|b^c&d~e\\f");
        assert_eq!(unescape("line1\\.br\\line2\\X0D0A\\", &d), "line1\nline2\r\n");
        assert_eq!(unescape("\\H\\bold\\N\\", &d), "bold");
        assert_eq!(unescape("\\X41E4B8AD\\", &d), "A中");
        // unknown, bad hex and unterminated sequences stay as written
        assert_eq!(unescape("\\Zq\\ \\XZZ\\ \\X4\\ tail\\", &d), "\\Zq\\ \\XZZ\\ \\X4\\ tail\\");
        assert!(matches!(unescape("plain", &d), Cow::Borrowed(_)));
        assert_eq!(escape("5|6^7~8\\9&0\r\n", &d), "5\\F\\6\\S\\7\\R\\8\\E\\9\\T\\0\\X0D\\\\.br\\");
    }

    proptest! {
        #[test]
        fn escaping_round_trips(s in any::<String>()) {
            let d = Delimiters::default();
            let e = escape(&s, &d);
            prop_assert!(!e.contains(['|', '^', '~', '&', '\r', '\n']));
            prop_assert_eq!(unescape(&e, &d), s.as_str());
        }

        #[test]
        fn escaping_round_trips_with_other_delimiters(s in "[#:*!@a-z中\\\\|^&~\r\n]{0,40}") {
            let d = Delimiters { field: '#', component: ':', repetition: '*', escape: '!', subcomponent: '@' };
            let e = escape(&s, &d);
            prop_assert_eq!(unescape(&e, &d), s.as_str());
        }

        #[test]
        fn unescape_never_panics(s in any::<String>()) {
            let _ = unescape(&s, &Delimiters::default());
        }
    }
}
