//! Billing (收费): charges, payments, refunds and the cashier's daily
//! closing (日结). Money is integer fen everywhere. A payment settles a set
//! of charges in full; a refund returns paid, unexecuted charges, up to
//! what was paid. The closing is the sum of what a cashier took and gave
//! back since their last closing, by method, and it must balance to the fen.

pub mod settlement;

use serde::{Deserialize, Serialize};

use crate::security::named_enum;

named_enum! {
    ChargeStatus {
        Unpaid = ("unpaid", "待缴费", "Unpaid"),
        Paid = ("paid", "已缴费", "Paid"),
        Refunded = ("refunded", "已退费", "Refunded"),
        Void = ("void", "已作废", "Void"),
    }
}

named_enum! {
    /// How a patient pays.
    Method {
        Cash = ("cash", "现金", "Cash"),
        Card = ("card", "银行卡", "Bank card"),
        Online = ("online", "线上支付", "Online"),
    }
}

named_enum! {
    /// A payment's state, as the providers have it.
    PaymentStatus {
        Created = ("created", "待支付", "Awaiting payment"),
        Paid = ("paid", "已支付", "Paid"),
        Failed = ("failed", "支付失败", "Failed"),
        Closed = ("closed", "已关闭", "Closed"),
    }
}

impl PaymentStatus {
    /// The states a payment may move to from this one. A paid payment
    /// stays paid: refunds are their own records.
    pub fn may_become(self, next: PaymentStatus) -> bool {
        use PaymentStatus::*;
        matches!((self, next), (Created, Paid | Failed | Closed) | (Failed, Paid | Closed))
    }
}

/// One payment or refund, as the closing counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub method: Method,
    /// Positive: money in (a payment); negative: money out (a refund).
    pub fen: i64,
}

/// A cashier's closing: per method, money in, money out and net.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Totals {
    pub lines: Vec<Line>,
    pub paid_fen: i64,
    pub refunded_fen: i64,
    pub net_fen: i64,
    pub payments: i64,
    pub refunds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = TotalsLine)]
pub struct Line {
    pub method: Method,
    pub paid_fen: i64,
    pub refunded_fen: i64,
    pub net_fen: i64,
}

/// Sums movements per method; every method appears, in a fixed order.
pub fn totals(moves: &[Movement]) -> Totals {
    let mut t = Totals::default();
    for m in Method::ALL {
        let paid: i64 = moves.iter().filter(|x| x.method == *m && x.fen > 0).map(|x| x.fen).sum();
        let refunded: i64 = -moves.iter().filter(|x| x.method == *m && x.fen < 0).map(|x| x.fen).sum::<i64>();
        t.lines.push(Line { method: *m, paid_fen: paid, refunded_fen: refunded, net_fen: paid - refunded });
    }
    t.paid_fen = t.lines.iter().map(|l| l.paid_fen).sum();
    t.refunded_fen = t.lines.iter().map(|l| l.refunded_fen).sum();
    t.net_fen = t.paid_fen - t.refunded_fen;
    t.payments = moves.iter().filter(|m| m.fen > 0).count() as i64;
    t.refunds = moves.iter().filter(|m| m.fen < 0).count() as i64;
    t
}

/// Cash change to hand back, or how much is missing.
pub fn change(due_fen: i64, tendered_fen: i64) -> Result<i64, i64> {
    if tendered_fen >= due_fen { Ok(tendered_fen - due_fen) } else { Err(due_fen - tendered_fen) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn payments_move_only_forward() {
        use PaymentStatus::*;
        assert!(Created.may_become(Paid) && Created.may_become(Closed) && Failed.may_become(Paid));
        for s in PaymentStatus::ALL {
            assert!(!Paid.may_become(*s), "paid → {s}");
            assert!(!Closed.may_become(*s), "closed → {s}");
            assert!(!s.may_become(Created));
        }
    }

    #[test]
    fn cash_change() {
        assert_eq!(change(1230, 2000), Ok(770));
        assert_eq!(change(1230, 1230), Ok(0));
        assert_eq!(change(1230, 1000), Err(230));
    }

    fn method() -> impl Strategy<Value = Method> {
        prop::sample::select(Method::ALL.to_vec())
    }

    proptest! {
        /// The closing balances to the fen whatever the movements: per method
        /// and in total, in minus out is net, and nothing is lost or counted twice.
        #[test]
        fn closing_balances(moves in prop::collection::vec((method(), -500_000i64..500_000).prop_filter("no zero", |(_, f)| *f != 0), 0..200)) {
            let ms: Vec<Movement> = moves.iter().map(|(m, f)| Movement { method: *m, fen: *f }).collect();
            let t = totals(&ms);
            prop_assert_eq!(t.net_fen, ms.iter().map(|m| m.fen).sum::<i64>());
            prop_assert_eq!(t.lines.len(), Method::ALL.len());
            for l in &t.lines {
                prop_assert_eq!(l.net_fen, ms.iter().filter(|m| m.method == l.method).map(|m| m.fen).sum::<i64>());
            }
            prop_assert_eq!(t.paid_fen - t.refunded_fen, t.net_fen);
            prop_assert_eq!(t.payments + t.refunds, ms.len() as i64);
        }
    }
}
