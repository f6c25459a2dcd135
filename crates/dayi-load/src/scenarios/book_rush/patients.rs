//! The load's patients: bulk-loaded in-process, and signed in to the
//! portal over HTTP. Other scenarios use these too.

use anyhow::anyhow;
use dayi_app::{Actor, App};
use futures::{StreamExt, TryStreamExt, stream};
use reqwest::Method;
use reqwest::header::SET_COOKIE;
use serde_json::json;
use uuid::Uuid;

use super::zh;
use crate::http::{Ctx, failure_key, is_problem, transport};
use crate::server::ORG;

/// The portal's sign-in cookie.
const PORTAL_COOKIE: &str = "dayi_portal";

/// A patient signed in to the portal.
pub(in crate::scenarios) struct Signed {
    pub(in crate::scenarios) id: Uuid,
    /// `dayi_portal=…`, as the `Cookie` header.
    pub(in crate::scenarios) cookie: String,
    pub(in crate::scenarios) csrf: String,
}

/// Signs a patient in with ID number and card number: (patient id, cookie, CSRF token).
pub(in crate::scenarios) async fn sign_in(ctx: &Ctx, id_number: &str, card_no: &str) -> Result<Signed, String> {
    let body = json!({"org": ORG, "id_number": id_number, "card_no": card_no});
    let resp =
        ctx.portal_request(Method::POST, "/portal/api/login").json(&body).send().await.map_err(|e| transport(&e))?;
    let status = resp.status().as_u16();
    let problem = is_problem(&resp);
    let cookie = resp.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let pair = c.split(';').next().unwrap_or_default().trim();
        pair.strip_prefix(PORTAL_COOKIE)
            .and_then(|rest| rest.strip_prefix('='))
            .filter(|v| !v.is_empty())
            .map(|_| pair.to_string())
    });
    let body = resp.bytes().await.map_err(|e| transport(&e))?;
    if status != 200 {
        return Err(failure_key(status, problem, &body));
    }
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| "response.not_json".to_string())?;
    let id = v["patient_id"].as_str().and_then(|s| Uuid::parse_str(s).ok()).ok_or("response.no_patient_id")?;
    let csrf = v["csrf"].as_str().filter(|s| !s.is_empty()).ok_or("response.no_csrf")?.to_string();
    Ok(Signed { id, cookie: cookie.ok_or("response.no_cookie")?, csrf })
}

/// A patient of the load, as registered.
pub(in crate::scenarios) struct Loaded {
    pub(in crate::scenarios) id: Uuid,
    pub(in crate::scenarios) id_number: String,
    pub(in crate::scenarios) hospital_no: String,
}

/// Bulk-loads `n` generated people (numbered on from the organisation's
/// count, as `dayi demo --patients` does, so ID numbers never repeat), then
/// looks each up for its id and card number.
pub(in crate::scenarios) async fn load_patients(
    app: &App,
    actor: &Actor,
    n: u32,
    seed: u64,
) -> anyhow::Result<Vec<Loaded>> {
    const BATCH: usize = 10_000;
    let org = actor.org_id;
    let today = dayi_core::timefmt::today_cst();
    let under = dayi_app::policy::int(app, org, dayi_app::policy::GUARDIAN_UNDER_AGE).await.map_err(zh)? as i32;
    let start = dayi_app::patient::count_seq(app, org).await.map_err(zh)?;
    let regs = (start..start + u64::from(n))
        .map(|i| dayi_core::patient::validate(&dayi_app::demo::people::person(i, seed, today), today, under))
        .collect::<Result<Vec<_>, _>>()
        .map_err(zh)?;
    for chunk in regs.chunks(BATCH) {
        dayi_app::patient::bulk_insert(app, actor, chunk).await.map_err(zh)?;
    }
    let docs: Vec<(String, String)> = regs
        .iter()
        .filter_map(|r| r.document.as_ref().map(|d| (d.kind().code().to_string(), d.number().to_string())))
        .collect();
    stream::iter(docs)
        .map(|(kind, number)| async move {
            let p = dayi_store::patient::by_document(&app.db, org, &kind, &number)
                .await?
                .ok_or_else(|| anyhow!("patient {number} not found after the bulk load"))?;
            anyhow::Ok(Loaded { id: p.id, id_number: number, hospital_no: p.hospital_no })
        })
        .buffered(16)
        .try_collect()
        .await
}
