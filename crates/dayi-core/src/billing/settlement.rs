//! Settlement (结算): who pays a bill. An insured patient's bill is split
//! among the insurance fund (统筹基金), serious-illness insurance (大病保险),
//! medical assistance (医疗救助), the personal account (个人账户) and the
//! patient, who pays the rest in cash, by card or online. However it is
//! split, the parts sum to the bill to the fen. Today every bill has one
//! part, the patient's; the insurance capability adds the others.

use serde::{Deserialize, Serialize};

use crate::billing::Method;
use crate::security::named_enum;

named_enum! {
    /// Who pays a part of a bill.
    Payer {
        Fund = ("fund", "统筹基金", "Insurance fund"),
        SeriousIllness = ("serious_illness", "大病保险", "Serious-illness insurance"),
        Assistance = ("assistance", "医疗救助", "Medical assistance"),
        Account = ("account", "个人账户", "Personal account"),
        Cash = ("cash", "现金", "Cash"),
        Card = ("card", "银行卡", "Bank card"),
        Online = ("online", "线上支付", "Online"),
    }
}

impl Payer {
    /// The patient's own money, by the way it is paid.
    pub fn of(method: Method) -> Payer {
        match method {
            Method::Cash => Payer::Cash,
            Method::Card => Payer::Card,
            Method::Online => Payer::Online,
        }
    }

    /// Paid out of the patient's pocket (not a fund, insurance, assistance or account).
    pub fn is_patient(self) -> bool {
        matches!(self, Payer::Cash | Payer::Card | Payer::Online)
    }
}

/// One payer's share, in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub payer: Payer,
    pub fen: i64,
}

/// Why parts cannot settle a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    /// A bill or a part below zero.
    Negative,
    /// The covered parts come to more than the bill.
    OverTotal,
    /// The patient's own money named as a covered part.
    PatientCovered,
}

/// A bill's parts, summing to its total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settlement {
    total_fen: i64,
    parts: Vec<Part>,
}

impl Settlement {
    /// Splits `total_fen`: the `covered` parts (funds, assistance, account)
    /// as given, one per payer, and the rest to the patient, paid by
    /// `patient`. Zero parts are dropped, except the patient's, which is
    /// always last.
    pub fn split(total_fen: i64, covered: &[Part], patient: Payer) -> Result<Self, SplitError> {
        if total_fen < 0 || covered.iter().any(|p| p.fen < 0) {
            return Err(SplitError::Negative);
        }
        if !patient.is_patient() || covered.iter().any(|p| p.payer.is_patient()) {
            return Err(SplitError::PatientCovered);
        }
        let mut parts: Vec<Part> = vec![];
        for c in covered.iter().filter(|c| c.fen > 0) {
            match parts.iter_mut().find(|p| p.payer == c.payer) {
                Some(p) => p.fen = p.fen.checked_add(c.fen).ok_or(SplitError::OverTotal)?,
                None => parts.push(*c),
            }
        }
        let covered_fen = parts.iter().try_fold(0i64, |sum, p| sum.checked_add(p.fen)).ok_or(SplitError::OverTotal)?;
        if covered_fen > total_fen {
            return Err(SplitError::OverTotal);
        }
        parts.push(Part { payer: patient, fen: total_fen - covered_fen });
        Ok(Self { total_fen, parts })
    }

    /// The whole bill paid by the patient (no insurance).
    pub fn self_pay(total_fen: i64, method: Method) -> Result<Self, SplitError> {
        Self::split(total_fen, &[], Payer::of(method))
    }

    pub fn total_fen(&self) -> i64 {
        self.total_fen
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// What the patient pays out of pocket.
    pub fn patient_fen(&self) -> i64 {
        self.parts.iter().filter(|p| p.payer.is_patient()).map(|p| p.fen).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn third() -> impl Strategy<Value = Payer> {
        prop::sample::select(vec![Payer::Fund, Payer::SeriousIllness, Payer::Assistance, Payer::Account])
    }

    #[test]
    fn a_self_paid_bill_is_one_part() {
        let s = Settlement::self_pay(1230, Method::Cash).unwrap();
        assert_eq!(s.parts(), [Part { payer: Payer::Cash, fen: 1230 }]);
        assert_eq!(s.patient_fen(), 1230);
    }

    #[test]
    fn the_patient_pays_the_rest() {
        let fund = Part { payer: Payer::Fund, fen: 7000 };
        let account = Part { payer: Payer::Account, fen: 1000 };
        let s = Settlement::split(10_000, &[fund, account], Payer::Online).unwrap();
        assert_eq!(s.parts().last(), Some(&Part { payer: Payer::Online, fen: 2000 }));
        assert_eq!(Settlement::split(20_000, &[fund, fund], Payer::Cash).unwrap().parts()[0].fen, 14_000);
        assert_eq!(Settlement::split(100, &[fund], Payer::Cash), Err(SplitError::OverTotal));
        assert_eq!(
            Settlement::split(100, &[Part { payer: Payer::Fund, fen: -1 }], Payer::Cash),
            Err(SplitError::Negative)
        );
        assert_eq!(Settlement::split(100, &[], Payer::Fund), Err(SplitError::PatientCovered));
        assert_eq!(
            Settlement::split(100, &[Part { payer: Payer::Cash, fen: 1 }], Payer::Cash),
            Err(SplitError::PatientCovered)
        );
    }

    proptest! {
        /// However a bill is split, the parts sum to it to the fen, none is
        /// negative, each payer appears once and the patient's part is last.
        #[test]
        fn parts_sum_to_the_bill(
            total in 0i64..10_000_000,
            covered in prop::collection::vec((third(), 0i64..4_000_000), 0..6),
            method in prop::sample::select(Method::ALL.to_vec()),
        ) {
            let parts: Vec<Part> = covered.iter().map(|(payer, fen)| Part { payer: *payer, fen: *fen }).collect();
            let asked: i64 = parts.iter().map(|p| p.fen).sum();
            match Settlement::split(total, &parts, Payer::of(method)) {
                Ok(s) => {
                    prop_assert!(asked <= total);
                    prop_assert_eq!(s.parts().iter().map(|p| p.fen).sum::<i64>(), total);
                    prop_assert!(s.parts().iter().all(|p| p.fen >= 0));
                    prop_assert_eq!(s.patient_fen(), total - asked);
                    prop_assert_eq!(s.parts().last().map(|p| p.payer), Some(Payer::of(method)));
                    let mut payers: Vec<&str> = s.parts().iter().map(|p| p.payer.code()).collect();
                    payers.sort();
                    payers.dedup();
                    prop_assert_eq!(payers.len(), s.parts().len());
                }
                Err(e) => {
                    prop_assert_eq!(e, SplitError::OverTotal);
                    prop_assert!(asked > total);
                }
            }
        }
    }
}
