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
    let me = match dayi_app::staff::home(&st.app, &staff.actor).await {
        Ok(me) => me,
        Err(e) => return super::fail(&e, staff.lang),
    };
    let last_login = me.last_login_at.map(dayi_core::timefmt::show);
    let tiles: Vec<_> = nav(&staff, "").into_iter().filter(|n| n.href != "/").collect();
    let today = dayi_core::timefmt::today_cst().to_string();
    page(
        &st,
        &staff,
        StatusCode::OK,
        "home.html",
        "/",
        context! { tiles => minijinja::value::Serde(tiles), dept => me.dept, last_login => last_login, today => today, totp => me.totp },
    )
    .await
}
