//! The catalogues for the administrator (目录维护): find an item by code,
//! pinyin initials or name, see its dated rows, and set a new price, name,
//! class or status from a day not in the past.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dayi_app::catalog::{self, EditForm};
use dayi_core::DomainError;
use dayi_core::catalog::{Class, Kind, yuan};
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;

use super::admin::urlencode;
use super::{Fields, fail, field_errors, is_form_error, message, page};
use crate::AppState;
use crate::i18n::tf;
use crate::principal::Staff;

#[derive(Deserialize, Default)]
pub struct Find {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    q: String,
    /// The item whose rows are shown.
    #[serde(default)]
    code: String,
    done: Option<String>,
}

async fn show(st: &AppState, staff: &Staff, q: &Find, status: StatusCode, extra: Value) -> Response {
    if let Err(e) = catalog::require_keep(&st.app, &staff.actor).await {
        return fail(&e, staff.lang);
    }
    let kind = Kind::parse(&q.kind).unwrap_or(Kind::ChargeItem);
    let r = async {
        let items = catalog::search(&st.app, &staff.actor, &[kind], &q.q, 50).await?;
        let rows = match q.code.trim() {
            "" => vec![],
            code => catalog::history(&st.app, &staff.actor, kind, code).await?,
        };
        Ok::<_, DomainError>((items, rows))
    }
    .await;
    let (items, rows) = match r {
        Ok(x) => x,
        Err(e) => return fail(&e, staff.lang),
    };
    let items: Vec<Value> = items
        .iter()
        .map(|i| context! { item => Serde(i), price => yuan(i.price_fen), class => i.class.map(|c| c.zh()) })
        .collect();
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let class = r.class.as_deref().and_then(Class::parse).map(|c| c.zh());
            context! { row => Serde(r), price => yuan(r.price_fen), class => class }
        })
        .collect();
    let kinds: Vec<Value> = Kind::ALL.iter().map(|k| context! { code => k.code(), name => k.zh() }).collect();
    let classes: Vec<Value> = Class::ALL.iter().map(|c| context! { code => c.code(), name => c.zh() }).collect();
    let ctx = context! {
        kinds => kinds, classes => classes, kind => kind.code(), q => q.q.clone(), code => q.code.clone(),
        items => items, rows => rows, notice => q.done.clone(), today => dayi_core::timefmt::today_cst().to_string(),
    };
    page(st, staff, status, "catalog.html", "/catalog", context! { ..extra, ..ctx }).await
}

pub async fn browse(State(st): State<AppState>, staff: Staff, Query(q): Query<Find>) -> Response {
    show(&st, &staff, &q, StatusCode::OK, context! {}).await
}

pub async fn edit(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let form = EditForm {
        kind: f.get("kind"),
        code: f.get("code"),
        name: f.get("name"),
        price: f.get("price"),
        class: f.get("class"),
        active: f.get("active") == "1",
        effective_from: f.get("effective_from"),
    };
    match catalog::edit(&st.app, &staff.actor, &form).await {
        Ok(item) => {
            let from = match form.effective_from.trim() {
                "" => dayi_core::timefmt::today_cst().to_string(),
                d => d.to_string(),
            };
            let done = tf(
                staff.lang,
                "msg.catalog.saved",
                &[("name", &item.name), ("from", &from), ("price", &yuan(item.price_fen))],
            );
            let to = format!(
                "/catalog?kind={}&code={}&q={}&done={}",
                urlencode(&form.kind),
                urlencode(&form.code),
                urlencode(&form.code),
                urlencode(&done)
            );
            Redirect::to(&to).into_response()
        }
        Err(e) if is_form_error(&e) || (e.code.status() < 500 && e.code.status() != 403) => {
            let q = Find { kind: form.kind.clone(), q: form.code.clone(), code: form.code.clone(), done: None };
            let extra = context! { form => f.values(), errors => field_errors(&e, staff.lang), error => message(&e, staff.lang) };
            show(&st, &staff, &q, StatusCode::UNPROCESSABLE_ENTITY, extra).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}
