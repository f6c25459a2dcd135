//! Organisations of a county medical community (县域医共体) and their departments.

use crate::error::{DomainError, ErrorCode};
use crate::security::named_enum;

named_enum! {
    /// Kind of organisation in the community.
    OrgKind {
        CountyHospital = ("county_hospital", "县级医院", "County hospital"),
        TownshipCentre = ("township_centre", "乡镇卫生院", "Township health centre"),
        CommunityCentre = ("community_centre", "社区卫生服务中心", "Community health centre"),
        VillageClinic = ("village_clinic", "村卫生室", "Village clinic"),
    }
}

/// GB/T 2260 administrative division code: six digits (province, prefecture, county).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionCode(String);

impl RegionCode {
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let s = s.trim();
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) && &s[..2] != "00" {
            Ok(Self(s.to_string()))
        } else {
            Err(DomainError::new(ErrorCode::RegionCodeInvalid))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The province part, e.g. `37` for Shandong.
    pub fn province(&self) -> &str {
        &self.0[..2]
    }
}

/// A department code from the national list of clinical subjects (诊疗科目代码),
/// e.g. `03` 内科, `03.01` written as `0301`. Letters are allowed for local codes.
pub fn parse_dept_code(s: &str) -> Result<String, DomainError> {
    let s = s.trim();
    if (2..=6).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(DomainError::new(ErrorCode::DeptCodeInvalid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_codes() {
        assert_eq!(RegionCode::parse("370830").unwrap().province(), "37");
        assert!(RegionCode::parse("37083").is_err());
        assert!(RegionCode::parse("37083x").is_err());
        assert!(RegionCode::parse("000000").is_err());
    }

    #[test]
    fn dept_codes() {
        assert_eq!(parse_dept_code("03").unwrap(), "03");
        assert_eq!(parse_dept_code("50a").unwrap(), "50A");
        assert!(parse_dept_code("0").is_err());
        assert!(parse_dept_code("内科").is_err());
    }
}
