//! The console home: who you are, where you work, what you may open.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::context;

use super::{nav, page};
use crate::AppState;
use crate::principal::Staff;

pub async fn home(State(st): State<AppState>, staff: Staff) -> Response {
    // A kiosk account has one screen.
    if !staff.actor.can(dayi_core::security::Perm::Console) && staff.actor.can(dayi_core::security::Perm::CheckIn) {
        return axum::response::Redirect::to("/kiosk").into_response();
    }
    if let Err(e) = staff.actor.require(&st.app, dayi_core::security::Perm::Console).await {
        return super::fail(&e, staff.lang);
    }
    let me = dayi_app::staff::me(&st.app, &staff.actor).await.ok();
    let dept = match me.as_ref().and_then(|m| m.dept_id) {
        Some(d) => dayi_app::tenancy::dept(&st.app, &staff.actor, d).await.ok().flatten().map(|d| d.name),
        None => None,
    };
    let last_login = me.as_ref().and_then(|m| m.last_login_at).map(dayi_core::timefmt::show);
    let tiles: Vec<_> = nav(&staff, "").into_iter().filter(|n| n.href != "/").collect();
    let today = dayi_core::timefmt::today_cst().to_string();
    page(
        &st,
        &staff,
        StatusCode::OK,
        "home.html",
        "/",
        context! { tiles => minijinja::value::Serde(tiles), dept => dept, last_login => last_login, today => today, totp => me.map(|m| m.totp_secret.is_some()) },
    )
    .await
}
