//! Sex per GB/T 2261.1-2003 (人的性别代码).

use crate::security::named_enum;

named_enum! {
    /// Sex as recorded on the patient file. Codes are the standard's digits.
    Sex {
        Unknown = ("0", "未知的性别", "Unknown"),
        Male = ("1", "男", "Male"),
        Female = ("2", "女", "Female"),
        Unspecified = ("9", "未说明的性别", "Not stated"),
    }
}

impl Sex {
    /// Sex from the last sequence digit of an ID number (an ASCII digit):
    /// odd is male, even is female.
    pub fn from_sequence_digit(d: u8) -> Sex {
        if (d - b'0') % 2 == 1 { Sex::Male } else { Sex::Female }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_parity() {
        assert_eq!(Sex::parse("2"), Some(Sex::Female));
        assert_eq!(Sex::parse("3"), None);
        assert_eq!(Sex::Unspecified.code(), "9");
        assert_eq!(Sex::from_sequence_digit(b'7'), Sex::Male);
        assert_eq!(Sex::from_sequence_digit(b'0'), Sex::Female);
    }
}
