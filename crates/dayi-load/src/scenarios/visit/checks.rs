//! After a visit run: every visit's money against the database, payments
//! sent again, the cashier's till, and the targets; the steps'
//! latencies as figures.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use dayi_app::{Actor, App};
use dayi_core::catalog::yuan;
use futures::{StreamExt, stream};
use serde_json::json;
use uuid::Uuid;

use super::steps::pay_key;
use super::{CASES, Done, Planned, Prepared, REPEATS, STEPS, TARGET_P99_MS, TARGET_VISITS_PER_S, lock};
use crate::engine::Latency;
use crate::http::{Ctx, expect_json};
use crate::report::{Check, Figure};
use crate::scenarios::book_rush::tally;
use crate::server::CLERK;

/// Checks the money against the database, repeats a few payments, and
/// reports the steps.
pub(super) async fn judge(p: &Prepared, ctx: &Ctx) -> (Vec<Check>, Vec<Figure>) {
    let mut checks = vec![];
    let done: Vec<(Planned, Done)> =
        p.visits.iter().zip(&p.done).filter_map(|(v, d)| d.get().map(|d| (*v, d.clone()))).collect();
    let started = p.started.load(Ordering::Relaxed);
    let paid = done.len() as u64;
    checks.push(Check::new(
        "every visit took all five steps",
        paid > 0 && paid == started,
        format!("{paid} of {started} visits begun were opened, diagnosed, ordered, charged and paid"),
    ));

    let Some(local) = ctx.local.as_ref() else {
        checks.push(Check::new("the money adds up", false, "no in-process server to read"));
        return (checks, vec![]);
    };
    let (app, org) = (&local.app, local.org_id);
    checks.push(paid_once(app, org, &done).await);
    checks.push(repeats_check(ctx, &done).await);
    checks.push(till_check(p, app, org, &done).await);

    // The targets.
    let secs = lock(&p.span).map_or(0.0, |(a, z)| (z - a).as_secs_f64());
    let rate = if secs > 0.0 { paid as f64 / secs } else { 0.0 };
    checks.push(Check::new(
        "≥ 500 visits/s (the issue's target)",
        rate >= TARGET_VISITS_PER_S,
        format!("{rate:.1} visits/s ({paid} in {secs:.2} s)"),
    ));
    let lat: Vec<Latency> = p.steps.iter().map(|h| Latency::of(&lock(h))).collect();
    let worst = lat.iter().map(|l| l.p99).fold(0.0, f64::max);
    let each: Vec<String> = STEPS.iter().zip(&lat).map(|((n, _), l)| format!("{n} {:.1}", l.p99)).collect();
    checks.push(Check::new(
        "p99 of every step < 50 ms (the issue's target)",
        paid > 0 && worst < TARGET_P99_MS,
        format!("p99 ms: {}", each.join(", ")),
    ));
    let taken: i64 = done.iter().map(|(_, d)| d.total_fen).sum();
    (checks, figures(p, &lat, paid, secs, rate, taken))
}

/// The database, visit by visit: one payment for the registration fee and
/// the order, nothing left owed.
async fn paid_once(app: &App, org: Uuid, done: &[(Planned, Done)]) -> Check {
    let paid = done.len() as u64;
    let wrong: Vec<Result<(), &'static str>> =
        stream::iter(done.to_vec()).map(|(v, d)| one_visit(app, org, v, d)).buffer_unordered(16).collect().await;
    let mut by: BTreeMap<&str, u64> = BTreeMap::new();
    for e in wrong.iter().filter_map(|r| r.as_ref().err()) {
        *by.entry(e).or_default() += 1;
    }
    let mut detail = format!("{paid} visits: one payment each for the registration fee and the order, nothing owed");
    if !by.is_empty() {
        detail = format!("{detail}; wrong: {}", tally(by.clone()));
    }
    Check::new("each visit paid once, to the fen", paid > 0 && by.is_empty(), detail)
}

/// What is wrong with one paid visit in the database, if anything.
async fn one_visit(app: &App, org: Uuid, v: Planned, d: Done) -> Result<(), &'static str> {
    let db = &app.db;
    let pays = dayi_store::billing::payments_of(db, org, v.patient, 5).await.map_err(|_| "read failed")?;
    let owed = dayi_store::billing::charges_of(db, org, v.patient, &["unpaid"]).await.map_err(|_| "read failed")?;
    let orders = dayi_store::visit::orders(db, org, d.visit).await.map_err(|_| "read failed")?;
    match pays.as_slice() {
        [one] if one.id == d.payment && one.amount_fen == d.total_fen && one.status == "paid" => {}
        [_] => return Err("payment other than answered"),
        _ => return Err("not exactly one payment"),
    }
    if !owed.is_empty() {
        return Err("charges left unpaid");
    }
    let ordered: i64 = orders.iter().map(|o| o.amount_fen).sum();
    if orders.len() != 1 || orders.iter().any(|o| o.status != "paid") || ordered != d.order_fen {
        return Err("order not paid as ordered");
    }
    if d.total_fen <= d.order_fen || d.charges.len() < 2 {
        return Err("registration fee not in the payment");
    }
    Ok(())
}

/// The same payment again with its key: the same receipt.
async fn repeats_check(ctx: &Ctx, done: &[(Planned, Done)]) -> Check {
    let mut same = 0;
    let repeats = done.iter().take(REPEATS);
    for (v, d) in repeats.clone() {
        let body =
            json!({"patient_id": v.patient, "charge_ids": d.charges, "expected_fen": d.total_fen, "method": "cash"});
        let req = ctx.post("/api/billing/pay").header("Idempotency-Key", pay_key(v.booking)).json(&body);
        if let Ok(r) = expect_json(req, 200).await
            && r["payment"]["id"].as_str() == Some(d.payment.to_string().as_str())
        {
            same += 1;
        }
    }
    let sent = repeats.count();
    Check::new(
        "a payment sent again with its key answers the same receipt",
        sent > 0 && same == sent,
        format!("{same} of {sent} repeats answered with the first receipt"),
    )
}

/// The cashier's till grew by exactly the money taken.
async fn till_check(p: &Prepared, app: &App, org: Uuid, done: &[(Planned, Done)]) -> Check {
    let paid = done.len() as u64;
    let taken: i64 = done.iter().map(|(_, d)| d.total_fen).sum();
    let actor = Actor::cli(org);
    match dayi_app::billing::open_totals(app, &actor, CLERK).await {
        Ok(t) => {
            let (n, fen) = (t.payments - p.till.0, t.paid_fen - p.till.1);
            Check::new(
                "the till grew by exactly the money taken",
                n == paid as i64 && fen == taken,
                format!("{n} payments, {} 元 in the till; {paid} visits paid {} 元", yuan(fen), yuan(taken)),
            )
        }
        Err(e) => Check::new("the till grew by exactly the money taken", false, e.zh()),
    }
}

/// Each step's latency, the visits per second and the money taken.
fn figures(p: &Prepared, lat: &[Latency], paid: u64, secs: f64, rate: f64, taken: i64) -> Vec<Figure> {
    let mut figures: Vec<Figure> = STEPS
        .iter()
        .zip(&p.steps)
        .zip(lat)
        .map(|(((name, what), h), l)| Figure {
            name: (*name).into(),
            detail: format!(
                "{what}: p50 {:.2} ms, p90 {:.2}, p99 {:.2}, max {:.2} over {} requests",
                l.p50,
                l.p90,
                l.p99,
                l.max,
                lock(h).len()
            ),
            latency_ms: Some(*l),
        })
        .collect();
    figures.push(Figure::new(
        "visits",
        format!(
            "{paid} visits paid in {secs:.2} s: {rate:.1} visits/s, {:.0} requests/s (5 a visit)",
            rate * STEPS.len() as f64
        ),
    ));
    figures.push(Figure::new(
        "money",
        format!("{} 元 taken in cash in {paid} payments ({} cases in turn)", yuan(taken), CASES.len()),
    ));
    figures
}
