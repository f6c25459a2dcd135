//! Part B, publication: the lab technician verifies a test over HTTP while
//! the patient's phone polls the portal until it shows.

use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, COOKIE};
use serde_json::{Value, json};

use super::{GIVE_UP, POLL, Prepared, Watcher};
use crate::http::{Ctx, expect_json};

/// Part B for one tube: verify its first test and watch the phone until it
/// shows. (verify latency, visible after, or why not.)
pub(super) async fn publish(p: &Prepared, ctx: &Ctx, w: &Watcher) -> Result<(Duration, Duration), String> {
    let tube = &p.tubes[w.tube];
    let order = tube.first_order.to_string();
    let t0 = Instant::now();
    let verify = async {
        let req = ctx
            .portal_request(Method::POST, &format!("/api/lab/tests/{order}/verify"))
            .header(AUTHORIZATION, p.verifier.clone())
            .json(&json!({}));
        let r = expect_json(req, 200).await;
        (r, t0.elapsed())
    };
    let watch = async {
        let path = format!("/portal/api/lab/{}", tube.patient);
        loop {
            let req = ctx.portal_request(Method::GET, &path).header(COOKIE, &w.cookie);
            let seen = match expect_json(req, 200).await {
                Ok(v) => shows(&v, &order),
                Err(e) => return Err(format!("portal: {e}")),
            };
            if seen {
                return Ok(t0.elapsed());
            }
            if t0.elapsed() > GIVE_UP {
                return Err("portal: not shown within 10 s".into());
            }
            tokio::time::sleep(POLL).await;
        }
    };
    let ((verified, took), seen) = tokio::join!(verify, watch);
    let v = verified.map_err(|e| format!("verify: {e}"))?;
    if v["test"]["status"] != "verified" {
        return Err("verify: response.not_verified".into());
    }
    Ok((took, seen?))
}

/// Whether the phone's list shows the test with its results.
fn shows(v: &Value, order: &str) -> bool {
    v.as_array().into_iter().flatten().any(|t| {
        t["test"]["order_id"].as_str() == Some(order) && t["results"].as_array().is_some_and(|r| !r.is_empty())
    })
}
