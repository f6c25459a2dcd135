//! Accounts and departments, for the administrator.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dayi_app::staff::NewStaff;
use dayi_app::tenancy::{DEPT_KINDS, NewDept};
use dayi_core::security::{Perm, Role};
use minijinja::{Value, context};

use super::{Fields, fail, field_errors, is_form_error, message, page};
use crate::AppState;
use crate::i18n::{t, tf};
use crate::params::parse_id;
use crate::principal::Staff;

#[derive(serde::Deserialize, Default)]
pub struct Notice {
    done: Option<String>,
}

async fn staff_page(
    st: &AppState,
    staff: &Staff,
    status: StatusCode,
    form: Value,
    errors: Value,
    notice: Option<String>,
) -> Response {
    let list = match dayi_app::staff::list(&st.app, &staff.actor).await {
        Ok(l) => l,
        Err(e) => return fail(&e, staff.lang),
    };
    let depts = dayi_app::tenancy::list_depts(&st.app, &staff.actor).await.unwrap_or_default();
    let dept_name = |id: Option<uuid::Uuid>| {
        id.and_then(|i| depts.iter().find(|d| d.id == i)).map(|d| d.name.clone()).unwrap_or_default()
    };
    let now = dayi_core::timefmt::now_micros();
    let rows: Vec<_> = list
        .iter()
        .map(|s| {
            let roles = dayi_core::security::Roles::parse_list(&s.roles).map(|r| r.zh()).unwrap_or_default();
            context! {
                id => s.id.to_string(), username => s.username.as_str(), name => s.display_name.as_str(), dept => dept_name(s.dept_id),
                roles => roles, active => s.active, totp => s.totp_secret.is_some(), totp_required => s.totp_required,
                locked => s.locked_until.is_some_and(|l| l > now),
                last_login => s.last_login_at.map(dayi_core::timefmt::show),
            }
        })
        .collect();
    let roles: Vec<_> = Role::ALL.iter().map(|r| context! { code => r.code(), name => r.zh() }).collect();
    let dept_opts: Vec<_> =
        depts.iter().map(|d| context! { id => d.id.to_string(), name => format!("{} {}", d.code, d.name) }).collect();
    page(
        st,
        staff,
        status,
        "staff.html",
        "/admin/staff",
        context! {
            rows => rows, roles => roles, depts => dept_opts, form => form, errors => errors, notice => notice,
            can_manage => staff.actor.can(Perm::StaffManage), can_secure => staff.actor.can(Perm::SecurityManage),
        },
    )
    .await
}

pub async fn staff_list(State(st): State<AppState>, staff: Staff, Query(n): Query<Notice>) -> Response {
    staff_page(&st, &staff, StatusCode::OK, Value::UNDEFINED, Value::UNDEFINED, n.done).await
}

pub async fn staff_create(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let form = NewStaff {
        username: f.get("username"),
        display_name: f.get("display_name"),
        dept_id: uuid::Uuid::parse_str(&f.get("dept_id")).ok(),
        roles: f.all("roles"),
        password: f.get("password"),
    };
    match dayi_app::staff::create(&st.app, &staff.actor, &form).await {
        Ok(s) => Redirect::to(&format!(
            "/admin/staff?done={}",
            urlencode(&tf(staff.lang, "msg.admin.staff_created", &[("name", &s.username)]))
        ))
        .into_response(),
        Err(e) if is_form_error(&e) || e.code == dayi_core::ErrorCode::UsernameTaken => {
            let mut values = f.clone();
            values.0.retain(|(k, _)| k != "password");
            let chosen = f.all("roles");
            let form = context! { ..values.values(), ..context! { roles_chosen => chosen } };
            staff_page(
                &st,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                field_errors(&e, staff.lang),
                Some(message(&e, staff.lang)),
            )
            .await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub async fn staff_password(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let r = match parse_id(&id) {
        Ok(id) => dayi_app::staff::reset_password(&st.app, &staff.actor, id, &f.get("password")).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => Redirect::to(&format!("/admin/staff?done={}", urlencode(&t(staff.lang, "msg.admin.password_reset"))))
            .into_response(),
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn staff_active(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let r = match parse_id(&id) {
        Ok(id) => dayi_app::staff::set_active(&st.app, &staff.actor, id, f.get("active") == "1").await,
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => Redirect::to(&format!("/admin/staff?done={}", urlencode(&t(staff.lang, "msg.admin.active"))))
            .into_response(),
        Err(e) => fail(&e, staff.lang),
    }
}

async fn dept_page(
    st: &AppState,
    staff: &Staff,
    status: StatusCode,
    form: Value,
    errors: Value,
    notice: Option<String>,
) -> Response {
    let depts = match dayi_app::tenancy::kept_depts(&st.app, &staff.actor).await {
        Ok(d) => d,
        Err(e) => return fail(&e, staff.lang),
    };
    let kind_name = |k: &str| DEPT_KINDS.iter().find(|(c, _)| *c == k).map(|(_, n)| *n).unwrap_or("");
    let rows: Vec<_> = depts.iter().map(|d| context! { code => d.code.as_str(), name => d.name.as_str(), kind => kind_name(&d.kind), active => d.active }).collect();
    let kinds: Vec<_> = DEPT_KINDS.iter().map(|(c, n)| context! { code => *c, name => *n }).collect();
    page(
        st,
        staff,
        status,
        "depts.html",
        "/admin/depts",
        context! { rows => rows, kinds => kinds, form => form, errors => errors, notice => notice },
    )
    .await
}

pub async fn dept_list(State(st): State<AppState>, staff: Staff, Query(n): Query<Notice>) -> Response {
    dept_page(&st, &staff, StatusCode::OK, Value::UNDEFINED, Value::UNDEFINED, n.done).await
}

pub async fn dept_create(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let form = NewDept { code: f.get("code"), name: f.get("name"), kind: f.get("kind") };
    match dayi_app::tenancy::create_dept(&st.app, &staff.actor, &form).await {
        Ok(d) => Redirect::to(&format!(
            "/admin/depts?done={}",
            urlencode(&tf(staff.lang, "msg.admin.dept_created", &[("name", &d.name)]))
        ))
        .into_response(),
        Err(e) if is_form_error(&e) => {
            dept_page(
                &st,
                &staff,
                StatusCode::UNPROCESSABLE_ENTITY,
                f.values(),
                field_errors(&e, staff.lang),
                Some(message(&e, staff.lang)),
            )
            .await
        }
        Err(e) => fail(&e, staff.lang),
    }
}
