//! The timed call: one whole visit, the doctor's three steps and then the
//! cashier's two, each step's latency recorded.

use std::time::Instant;

use reqwest::RequestBuilder;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{CASES, Done, Planned, Prepared, STEPS, lock};
use crate::http::{Ctx, expect_json};

/// A request with a doctor's token (through the client that carries none).
pub(super) fn as_doctor(ctx: &Ctx, auth: &HeaderValue, method: reqwest::Method, path: &str) -> RequestBuilder {
    ctx.portal_request(method, path).header(AUTHORIZATION, auth.clone())
}

/// Sends step `i`'s request, records its latency, and names the step in a failure.
async fn step(p: &Prepared, i: usize, req: RequestBuilder) -> Result<Value, String> {
    let t0 = Instant::now();
    let r = expect_json(req, 200).await;
    let micros = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX).max(1);
    lock(&p.steps[i]).saturating_record(micros);
    r.map_err(|k| format!("{}: {k}", STEPS[i].0))
}

pub(super) async fn visit(p: &Prepared, ctx: &Ctx, v: Planned) -> Result<Done, String> {
    let doctor = &p.doctors[usize::from(v.doctor)];
    let case = &CASES[usize::from(v.case)];
    let post = |path: &str| as_doctor(ctx, doctor, reqwest::Method::POST, path);

    let opened = step(p, 0, post(&format!("/api/visits/open/{}", v.booking)).json(&json!({}))).await?;
    let id = opened["visit"]["id"].as_str().ok_or("open: response.no_visit_id")?.to_string();

    let dx = json!({"diagnoses": [{"code": case.diagnosis}]});
    step(p, 1, post(&format!("/api/visits/{id}/diagnoses")).json(&dx)).await?;

    let order = match case.drug {
        Some((dose, frequency, days)) => {
            json!({"catalog": "drug", "code": case.order, "dose": dose, "frequency": frequency, "days": days})
        }
        None => json!({"code": case.order}),
    };
    let ordered = step(p, 2, post(&format!("/api/visits/{id}/orders")).json(&order)).await?;
    let order_fen = ordered["order"]["amount_fen"].as_i64().ok_or("order: response.no_amount")?;
    let charge = ordered["order"]["charge_id"].as_str().ok_or("order: response.no_charge")?.to_string();

    let due = step(p, 3, ctx.get(&format!("/api/billing/due/{}", v.patient))).await?;
    let charges: Vec<String> =
        due["charges"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str().map(str::to_string)).collect();
    if !charges.contains(&charge) {
        return Err("charge: response.order_not_owed".into());
    }
    let total_fen = due["total_fen"].as_i64().ok_or("charge: response.no_total")?;

    let body = json!({"patient_id": v.patient, "charge_ids": charges, "expected_fen": total_fen, "method": "cash"});
    let req = ctx.post("/api/billing/pay").header("Idempotency-Key", pay_key(v.booking)).json(&body);
    let paid = step(p, 4, req).await?;
    if paid["payment"]["amount_fen"].as_i64() != Some(total_fen) || paid["payment"]["status"] != "paid" {
        return Err("pay: response.not_paid_as_owed".into());
    }
    let payment = paid["payment"]["id"].as_str().and_then(|s| Uuid::parse_str(s).ok()).ok_or("pay: response.no_id")?;
    let visit = Uuid::parse_str(&id).map_err(|_| "open: response.bad_visit_id")?;
    Ok(Done { visit, payment, charges, total_fen, order_fen })
}

/// The request key of a visit's payment: one per registration.
pub(super) fn pay_key(booking: Uuid) -> String {
    format!("visit-{}", booking.simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_keys_are_valid_request_keys() {
        let k = pay_key(Uuid::from_u128(u128::MAX));
        assert!(k.len() <= 64 && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'), "{k}");
    }
}
