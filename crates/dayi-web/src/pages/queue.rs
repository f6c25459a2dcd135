//! Pre-triage desk, the doctor's call panel, the TV screens and the queue
//! settings. The panel and screens are driven by the JSON API and its event
//! streams (static/js/queue-*.js); these handlers render their shells.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use dayi_app::queue::config::{self, DeptRules, Voice};
use dayi_core::queue::{LateMode, OrderBy, PriorityGroup, RecallMode, Rules};
use dayi_core::{DomainError, ErrorCode};
use minijinja::value::Serde;
use minijinja::{Value, context};

use super::{Fields, fail, field_errors, message, page};
use crate::AppState;
use crate::params::ScopeQuery;
use crate::principal::Staff;
use crate::render::render;

/// The doctor's call panel.
pub async fn panel(State(st): State<AppState>, staff: Staff) -> Response {
    match dayi_app::queue::panel(&st.app, &staff.actor).await {
        Ok(p) => page(&st, &staff, StatusCode::OK, "queue_panel.html", "/queue", context! { panel => Serde(p) }).await,
        Err(e) => fail(&e, staff.lang),
    }
}

/// The zone screen (综合屏) for the hall: `?dept=03,50`.
pub async fn zone_screen(State(st): State<AppState>, staff: Staff, Query(q): Query<ScopeQuery>) -> Response {
    screen(&st, &staff, &q, "zone").await
}

/// One room's screen (诊室屏) above its door.
pub async fn room_screen(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> Response {
    let q = ScopeQuery { session: id, dept: String::new() };
    screen(&st, &staff, &q, "room").await
}

async fn screen(st: &AppState, staff: &Staff, q: &ScopeQuery, kind: &str) -> Response {
    let zone = (kind == "zone").then_some(q.dept.as_str());
    let org = match dayi_app::queue::screen(&st.app, &staff.actor, zone).await {
        Ok(name) => name,
        Err(e) => return fail(&e, staff.lang),
    };
    let events = match zone {
        Some(dept) => format!("/api/queue/events?dept={dept}"),
        None => format!("/api/queue/events?session={}", q.session),
    };
    let ctx = context! { kind => kind, events => events, org_name => org, lang => staff.lang.code() };
    render(StatusCode::OK, "queue_screen.html", ctx)
}

/// Voice and rules settings, with a button to hear the announcement.
pub async fn settings(State(st): State<AppState>, staff: Staff) -> Response {
    settings_page(&st, &staff, StatusCode::OK, context! {}).await
}

async fn settings_page(st: &AppState, staff: &Staff, status: StatusCode, extra: Value) -> Response {
    let load = async {
        let s = config::settings(&st.app, &staff.actor).await?;
        let groups: Vec<Value> = PriorityGroup::ALL
            .iter()
            .map(|g| context! { code => g.code(), name => g.zh(), rank => s.priority.rank(*g) })
            .collect();
        let rows: Vec<Value> = (s.depts.iter())
            .map(|(d, r)| context! { code => d.code.clone(), name => d.name.clone(), rules => Serde(r) })
            .collect();
        Ok::<_, DomainError>(
            context! { voice => Serde(s.voice), depts => rows, elderly_age => s.priority.elderly_age, groups => groups },
        )
    };
    match load.await {
        Ok(ctx) => {
            let opts = |all: &[(&str, &str)]| -> Vec<Value> {
                all.iter().map(|(c, n)| context! { code => *c, name => *n }).collect()
            };
            let order_by: Vec<(&str, &str)> = OrderBy::ALL.iter().map(|x| (x.code(), x.zh())).collect();
            let late: Vec<(&str, &str)> = LateMode::ALL.iter().map(|x| (x.code(), x.zh())).collect();
            let recall: Vec<(&str, &str)> = RecallMode::ALL.iter().map(|x| (x.code(), x.zh())).collect();
            let ctx = context! { ..extra, ..ctx };
            let ctx = context! { order_by => opts(&order_by), late_modes => opts(&late), recall_modes => opts(&recall), ..ctx };
            page(st, staff, status, "queue_settings.html", "/queue/settings", ctx).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn save_voice(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    if let Err(e) = config::require_manage(&st.app, &staff.actor).await {
        return fail(&e, staff.lang);
    }
    let parsed = (f.get("repeat").trim().parse::<u32>(), f.get("rate").trim().parse::<f64>());
    let r = match parsed {
        (Ok(repeat), Ok(rate)) => {
            let v = Voice { template: f.get("template").trim().to_string(), repeat, rate };
            config::save_voice(&st.app, &staff.actor, &v).await
        }
        (r, _) => {
            let field = if r.is_err() { "repeat" } else { "rate" };
            Err(DomainError::field(field, ErrorCode::InvalidFormat, [if r.is_err() { "1–5" } else { "0.5–2.0" }]))
        }
    };
    saved(&st, &staff, r, f, "voice").await
}

pub async fn save_priority(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    if let Err(e) = config::require_manage(&st.app, &staff.actor).await {
        return fail(&e, staff.lang);
    }
    let age = f.get("elderly_age").trim().parse::<i32>();
    // An empty rank leaves the group out: it is then served in the normal order.
    let mut ranks = std::collections::BTreeMap::new();
    let mut bad = None;
    for g in PriorityGroup::ALL {
        match f.get(g.code()).trim() {
            "" => {}
            v => match v.parse::<u8>() {
                Ok(r) => {
                    ranks.insert(g.code().to_string(), r);
                }
                Err(_) => bad = Some(g.code()),
            },
        }
    }
    let r = match (age, bad) {
        (Ok(elderly_age), None) => {
            config::save_priority(&st.app, &staff.actor, &config::Priority { elderly_age, ranks }).await
        }
        (Err(_), _) => Err(DomainError::field("elderly_age", ErrorCode::InvalidFormat, ["50–100"])),
        (_, Some(g)) => Err(DomainError::field(g, ErrorCode::InvalidFormat, ["0–9"])),
    };
    saved(&st, &staff, r, f, "priority").await
}

pub async fn save_rules(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    if let Err(e) = config::require_manage(&st.app, &staff.actor).await {
        return fail(&e, staff.lang);
    }
    let num = |k: &str| f.get(k).trim().parse::<i64>().ok();
    let pick = |k: &str| f.get(k);
    let r = match (
        OrderBy::parse(&pick("order_by")),
        LateMode::parse(&pick("late")),
        RecallMode::parse(&pick("recall")),
        num("late_every"),
        num("recall_every"),
        num("room_limit"),
        num("late_grace_minutes"),
    ) {
        (Some(order_by), Some(late), Some(recall), Some(le), Some(re), Some(room), Some(grace)) => {
            let rules = DeptRules {
                order: Rules {
                    order_by,
                    appointments_first: f.get("appointments_first") == "1",
                    late,
                    late_every: le.clamp(0, 1_000) as u32,
                    recall,
                    recall_every: re.clamp(0, 1_000) as u32,
                },
                late_grace_minutes: grace,
                room_limit: room.clamp(0, 1_000) as u32,
            };
            config::save_rules(&st.app, &staff.actor, &f.get("dept"), &rules).await
        }
        _ => Err(DomainError::new(ErrorCode::Validation)),
    };
    saved(&st, &staff, r, f, "rules").await
}

async fn saved(st: &AppState, staff: &Staff, r: Result<(), DomainError>, f: Fields, which: &str) -> Response {
    match r {
        Ok(()) => settings_page(st, staff, StatusCode::OK, context! { saved => which }).await,
        Err(e) if e.code.status() < 500 && e.code.status() != 403 => {
            let ctx = context! { failed => which, form => f.values(), errors => field_errors(&e, staff.lang), error => message(&e, staff.lang) };
            settings_page(st, staff, StatusCode::UNPROCESSABLE_ENTITY, ctx).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}
