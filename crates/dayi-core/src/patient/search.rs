//! What a search box query means. One box takes a name, pinyin, initials, an
//! ID number or its last digits, a phone number or a card number; the query's
//! shape decides which index is used.

use crate::card::is_hospital_no;
use crate::identity::normalize_number;

/// Fewest trailing ID digits accepted: fewer would match too many people.
pub const MIN_ID_TAIL: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Chinese characters: the name, or its beginning.
    Name(String),
    /// Lowercase letters: initials (`zs`) or full pinyin (`zhangsan`), either a prefix.
    Pinyin(String),
    /// An 11-digit mobile number.
    Phone(String),
    /// A hospital card number.
    HospitalNo(String),
    /// A 64-hex health card id.
    CardId(String),
    /// A whole ID number (15 digits upgraded by the caller, or 18).
    IdNumber(String),
    /// The last digits of an ID number (4 to 17).
    IdTail(String),
    /// Too short or unrecognisable.
    TooShort,
}

pub fn classify(input: &str) -> Query {
    let q = normalize_number(input);
    if q.is_empty() {
        return Query::TooShort;
    }
    if !q.is_ascii() {
        let name: String = input.split_whitespace().collect();
        return Query::Name(name);
    }
    let digits_x = q.bytes().all(|b| b.is_ascii_digit() || b == b'X');
    let digits = q.bytes().all(|b| b.is_ascii_digit());
    if q.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Query::Pinyin(q.to_ascii_lowercase());
    }
    if q.len() == 64 && q.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Query::CardId(q);
    }
    if digits && q.len() == 11 && q.starts_with('1') {
        return Query::Phone(q);
    }
    if is_hospital_no(&q) {
        return Query::HospitalNo(q);
    }
    if digits_x && q.len() == 18 {
        return Query::IdNumber(q);
    }
    if digits_x && (MIN_ID_TAIL..18).contains(&q.len()) {
        return Query::IdTail(q);
    }
    Query::TooShort
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(classify("张三"), Query::Name("张三".into()));
        assert_eq!(classify(" 张 三 "), Query::Name("张三".into()));
        assert_eq!(classify("ZS"), Query::Pinyin("zs".into()));
        assert_eq!(classify("zhangsan"), Query::Pinyin("zhangsan".into()));
        assert_eq!(classify("13812345678"), Query::Phone("13812345678".into()));
        assert_eq!(classify("1000000042"), Query::HospitalNo("1000000042".into()));
        assert_eq!(classify("11010519491231002x"), Query::IdNumber("11010519491231002X".into()));
        assert_eq!(classify("002x"), Query::IdTail("002X".into()));
        assert_eq!(classify("１２３４"), Query::IdTail("1234".into()));
        assert_eq!(classify("12"), Query::TooShort);
        assert_eq!(classify(""), Query::TooShort);
        assert_eq!(classify("a1"), Query::TooShort);
    }
}
