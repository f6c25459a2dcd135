//! `ceiling`: `GET /static/css/dayi.css`, a file served from memory with no
//! database, no session and no template: what HTTP alone reaches on this
//! machine with this client. Every scenario's throughput is also reported as
//! a fraction of it (`× ceiling`).

use futures::future::BoxFuture;

use super::Scenario;
use crate::http::{Ctx, Outcome, expect};
use crate::report::Check;

/// The file asked for: the stylesheet every page links.
const PATH: &str = "/static/css/dayi.css";

pub struct Ceiling;

impl Scenario for Ceiling {
    fn name(&self) -> &'static str {
        "ceiling"
    }

    fn needs_token(&self) -> bool {
        false
    }

    fn call<'a>(&'a self, ctx: &'a Ctx, _worker: usize, _seq: u64) -> BoxFuture<'a, Outcome> {
        Box::pin(expect(ctx.get(PATH), 200))
    }

    fn checks<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(async move {
            let r = expect(ctx.get(PATH), 200).await;
            vec![Check::new("the stylesheet is served", r.is_ok(), r.err().unwrap_or_else(|| PATH.to_string()))]
        })
    }
}
