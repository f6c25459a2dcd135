//! `baseline`: `GET /healthz`, the cheapest request that still reaches the
//! database. Every other scenario's throughput is reported as a ratio to it.

use futures::future::BoxFuture;

use super::Scenario;
use crate::http::{Ctx, Outcome, expect, expect_json};
use crate::report::Check;

pub struct Baseline;

impl Scenario for Baseline {
    fn name(&self) -> &'static str {
        "baseline"
    }

    fn needs_token(&self) -> bool {
        false
    }

    fn call<'a>(&'a self, ctx: &'a Ctx, _worker: usize, _seq: u64) -> BoxFuture<'a, Outcome> {
        Box::pin(expect(ctx.get("/healthz"), 200))
    }

    fn checks<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(async move {
            let check = match expect_json(ctx.get("/healthz"), 200).await {
                Ok(v) => {
                    let (status, db) = (v["status"].as_str().unwrap_or("?"), v["database"].as_str().unwrap_or("?"));
                    Check::new("healthz reports ok", status == "ok", format!("status={status} database={db}"))
                }
                Err(key) => Check::new("healthz reports ok", false, key),
            };
            vec![check]
        })
    }
}
