//! The audit log, for the audit administrator only: search, chain check, purge.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dayi_core::security::Perm;
use minijinja::context;

use super::admin::urlencode;
use super::{Fields, fail, page};
use crate::AppState;
use crate::i18n::tf;
use crate::params::{AuditQuery, day_start, filter_of};
use crate::principal::Staff;

pub async fn search(State(st): State<AppState>, staff: Staff, Query(q): Query<AuditQuery>) -> Response {
    let rows = match dayi_app::audit::search(&st.app, &staff.actor, &filter_of(&q, 100)).await {
        Ok(r) => r,
        Err(e) => return fail(&e, staff.lang),
    };
    let next = if rows.len() == 100 { rows.last().map(|r| r.seq) } else { None };
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            context! {
                seq => r.seq, at => dayi_core::timefmt::show(r.at), actor => r.actor_name.as_str(), action => r.action.as_str(),
                entity => r.entity.as_str(), entity_id => r.entity_id.as_str(), ip => r.ip.as_str(), outcome => r.outcome.as_str(), detail => r.detail.as_str(),
                hash => r.hash[..12].to_string(),
            }
        })
        .collect();
    let mut more = serde_json::to_value(&q).unwrap_or_default();
    more["done"] = serde_json::Value::Null;
    let next_link = next.map(|seq| {
        format!(
            "/audit?actor={}&action={}&entity={}&outcome={}&from={}&to={}&before={seq}",
            urlencode(&q.actor),
            urlencode(&q.action),
            urlencode(&q.entity),
            urlencode(&q.outcome),
            urlencode(&q.from),
            urlencode(&q.to)
        )
    });
    let retention = st.app.security.audit_retention_days;
    page(
        &st,
        &staff,
        StatusCode::OK,
        "audit.html",
        "/audit",
        context! { rows => rows, q => minijinja::value::Serde(&q), next_link => next_link, notice => q.done.clone(), retention => retention, can_purge => staff.actor.can(Perm::AuditPurge) },
    )
    .await
}

pub async fn verify(State(st): State<AppState>, staff: Staff) -> Response {
    match dayi_app::audit::verify(&st.app, &staff.actor).await {
        Ok(r) => {
            let msg = match &r.broken {
                None => tf(staff.lang, "msg.audit.intact", &[("n", &r.checked.to_string())]),
                Some(b) => {
                    tf(staff.lang, "msg.audit.broken", &[("seq", &b.seq().to_string()), ("detail", &format!("{b:?}"))])
                }
            };
            let status = if r.broken.is_none() { StatusCode::OK } else { StatusCode::CONFLICT };
            page(
                &st,
                &staff,
                status,
                "audit_verify.html",
                "/audit",
                context! { ok => r.broken.is_none(), message => msg, checked => r.checked },
            )
            .await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn purge(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let r = async {
        dayi_app::audit::require_purge(&st.app, &staff.actor).await?;
        let before = day_start(&f.get("before")).ok_or_else(|| {
            dayi_core::DomainError::field("before", dayi_core::ErrorCode::InvalidFormat, ["YYYY-MM-DD"])
        })?;
        dayi_app::audit::purge(&st.app, &staff.actor, before).await
    }
    .await;
    match r {
        Ok(n) => Redirect::to(&format!(
            "/audit?done={}",
            urlencode(&tf(staff.lang, "msg.audit.purged", &[("n", &n.to_string())]))
        ))
        .into_response(),
        Err(e) => fail(&e, staff.lang),
    }
}
