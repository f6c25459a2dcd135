//! The patient index (EMPI): who a patient is, checked at the boundary.
//! One record per person; search keys are derived here so every layer agrees.

mod identifier;
pub mod pinyin;
mod registration;
mod search;

pub use identifier::{ForeignId, MAX_FOREIGN_IDS};
pub use registration::{Guardian, NewPatient, Registration, age_on, validate};
pub use search::{Query, classify};

use crate::security::named_enum;

named_enum! {
    /// How the patient's care is paid (医保类型, insutype groups).
    Insurance {
        Employee = ("employee", "城镇职工基本医疗保险", "Urban employee basic insurance"),
        Resident = ("resident", "城乡居民基本医疗保险", "Urban and rural resident basic insurance"),
        SelfPay = ("self_pay", "自费", "Self-pay"),
        Commercial = ("commercial", "商业保险", "Commercial insurance"),
        PublicFunded = ("public_funded", "公费医疗", "Public-funded care"),
        Other = ("other", "其他", "Other"),
    }
}

named_enum! {
    /// Family relation to the patient (GB/T 4761-2008 家庭关系代码, common rows).
    Relation {
        Spouse = ("10", "配偶", "Spouse"),
        Son = ("20", "子", "Son"),
        Daughter = ("30", "女", "Daughter"),
        Parent = ("50", "父母", "Parent"),
        Father = ("51", "父亲", "Father"),
        Mother = ("52", "母亲", "Mother"),
        Grandparent = ("60", "祖父母或外祖父母", "Grandparent"),
        Sibling = ("80", "兄弟姐妹", "Sibling"),
        OtherRelative = ("97", "其他亲属", "Other relative"),
        NonRelative = ("99", "非亲属（监护人、照护人等）", "Not a relative (guardian, carer)"),
    }
}

named_enum! {
    /// Where a registration came from.
    Channel {
        Counter = ("counter", "窗口登记", "Counter"),
        Portal = ("portal", "患者自助", "Patient portal"),
        Api = ("api", "接口", "API"),
        Fhir = ("fhir", "FHIR 接口", "FHIR API"),
        Import = ("import", "数据导入", "Data import"),
    }
}

/// A mainland mobile number (11 digits from 1[3-9]) or a landline with its
/// area code (0537-7212345). Separators are dropped; returns the canonical form.
pub fn parse_phone(input: &str) -> Option<String> {
    let digits: String =
        crate::identity::normalize_number(input).chars().filter(|c| !matches!(c, '-' | ' ' | '(' | ')')).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let b = digits.as_bytes();
    let mobile = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
    let landline = (10..=12).contains(&b.len()) && b[0] == b'0';
    (mobile || landline).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert_eq!(parse_phone("138 1234 5678").as_deref(), Some("13812345678"));
        assert_eq!(parse_phone("0537-7212345").as_deref(), Some("05377212345"));
        assert_eq!(parse_phone("１３８１２３４５６７８").as_deref(), Some("13812345678"));
        assert_eq!(parse_phone("12812345678"), None);
        assert_eq!(parse_phone("1381234567"), None);
        assert_eq!(parse_phone("电话"), None);
    }
}
