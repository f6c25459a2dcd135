//! Patient identity data: ID documents and their numbers, sex and ethnicity
//! codes. Pure functions; `today` is passed in so tests are deterministic.

mod docs;
mod ethnicity;
mod idcard;
mod sex;

pub use docs::{IdDocument, IdKind};
pub use ethnicity::{ETHNICITIES, ethnicity_code, ethnicity_name};
pub use idcard::{ResidentId, check_char, make_resident_id, normalize_number};
pub use sex::Sex;

use time::Date;

use crate::error::{Checks, DomainError, ErrorCode};

/// Compares what the registrar typed with what the document number says,
/// failing with field errors on `birth_date` and `sex`. Nothing is compared
/// when either side is unknown; a typed 未知/未说明 sex asserts nothing, so it
/// never disagrees.
pub fn cross_check(doc: &IdDocument, typed_birth: Option<Date>, typed_sex: Option<Sex>) -> Result<(), DomainError> {
    let mut checks = Checks::new();
    if let (Some(on_doc), Some(typed)) = (doc.birth_date(), typed_birth)
        && on_doc != typed
    {
        checks.add("birth_date", ErrorCode::BirthDateMismatch, [on_doc]);
    }
    if let (Some(on_doc), Some(typed @ (Sex::Male | Sex::Female))) = (doc.sex(), typed_sex)
        && on_doc != typed
    {
        let code = if on_doc == Sex::Male { ErrorCode::SexMismatchMale } else { ErrorCode::SexMismatchFemale };
        checks.add("sex", code, [""; 0]);
    }
    checks.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn doc() -> IdDocument {
        IdDocument::parse(IdKind::ResidentId, "11010519491231002X", None, date!(2026 - 01 - 01)).unwrap()
    }

    #[test]
    fn agreeing_or_missing_data_passes() {
        assert!(cross_check(&doc(), Some(date!(1949 - 12 - 31)), Some(Sex::Female)).is_ok());
        assert!(cross_check(&doc(), None, None).is_ok());
        assert!(cross_check(&doc(), None, Some(Sex::Unspecified)).is_ok());
        let passport = IdDocument::parse(IdKind::Passport, "E12345678", Some("KOR"), date!(2026 - 01 - 01)).unwrap();
        assert!(cross_check(&passport, Some(date!(2000 - 01 - 01)), Some(Sex::Male)).is_ok());
    }

    #[test]
    fn disagreements_are_field_errors() {
        let e = cross_check(&doc(), Some(date!(1949 - 12 - 30)), Some(Sex::Male)).unwrap_err();
        assert_eq!(e.code, ErrorCode::Validation);
        assert_eq!(e.field_error("birth_date").unwrap().zh(), "出生日期与证件号码不符（证件为 1949-12-31）");
        assert_eq!(e.field_error("sex").unwrap().zh(), "性别与证件号码不符（证件为女）");
        assert_eq!(e.field_error("sex").unwrap().en(), "Sex does not match the document number (it says female)");
    }
}
