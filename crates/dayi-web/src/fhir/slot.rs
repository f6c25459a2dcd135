//! `Slot` read and search: the numbered slots (号源) of a clinic session,
//! read from the session board (which audits the look). A slot held by a
//! booking is `busy`, every slot of a stopped session `busy-unavailable`, and
//! a slot the doctor added beyond the roster (加号) `overbooked`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::booking::SessionView;
use dayi_app::roster::BoardRow;
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::outcome::FhirError;
use super::schedule::{at, service_type};
use super::{RefSearch, bad, base_url, instant, json, keyset, ref_search, searchset};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

/// Most schedules one search may name.
const MAX_SCHEDULES: usize = 20;

/// The logical id of a slot: its session and number.
pub fn slot_id(session_id: Uuid, seq: i64) -> String {
    format!("{session_id}-{seq}")
}

fn parse_slot_id(id: &str) -> Option<(Uuid, i64)> {
    let (session, seq) = id.rsplit_once('-')?;
    let seq = seq.parse::<i64>().ok().filter(|n| *n > 0 && !seq.starts_with(['+', '0']))?;
    Some((Uuid::parse_str(session).ok()?, seq))
}

fn status(s: &SessionView, r: &BoardRow) -> &'static str {
    if s.stopped {
        "busy-unavailable"
    } else if r.booking.is_some() {
        "busy"
    } else {
        "free"
    }
}

/// The resource for one slot of a session.
pub fn slot(s: &SessionView, r: &BoardRow) -> Value {
    let mut v = json!({
        "resourceType": "Slot",
        "id": slot_id(s.id, r.seq),
        "serviceType": [service_type(&s.clinic_type)],
        "schedule": { "reference": format!("Schedule/{}", s.id) },
        "status": status(s, r),
        "overbooked": r.added,
        "comment": format!("第 {} 号{}", r.seq, if r.added { "（加号）" } else { "" }),
    });
    if let Some(start) = at(s, &r.time) {
        v["start"] = json!(instant(start));
        v["end"] = json!(instant(start + s.slot_minutes * 60_000_000));
    }
    v
}

/// GET /fhir/Slot/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    let (session_id, seq) = parse_slot_id(&id).ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    let (s, rows) = dayi_app::roster::board(&st.app, &staff.actor, session_id).await?;
    let r = rows.iter().find(|r| r.seq == seq).ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    Ok(json(StatusCode::OK, &slot(&s, r)))
}

const STATUSES: &[&str] = &["busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error"];

/// GET /fhir/Slot?schedule=Schedule/{id}&status=&_count=
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    let query = query.unwrap_or_default();
    let base = base_url(&headers, st.web.secure_cookies);
    if let Some(w) = keyset::parse(&query)? {
        let page = dayi_app::roster::walk_slots(&st.app, &staff.actor, &w.step(w.after_pair(parse_slot_id)?)).await?;
        let found: Vec<Value> = page.rows.iter().map(|(s, r)| slot(s, r)).collect();
        return Ok(json(StatusCode::OK, &keyset::bundle(&base, "Slot", &query, page.total, page.more, found)));
    }
    let RefSearch { ids, statuses, count } = ref_search(
        &query,
        "schedule",
        "Schedule",
        STATUSES,
        "free、busy 或 busy-unavailable",
        "请提供 schedule=Schedule/{id}：号源按出诊检索（出诊可用 GET /fhir/Schedule 查找）",
    )?;
    if ids.len() > MAX_SCHEDULES {
        return Err(bad(format!("schedule 每次最多 {MAX_SCHEDULES} 个")).into());
    }
    let mut matches = vec![];
    for (s, rows) in dayi_app::roster::boards(&st.app, &staff.actor, &ids).await? {
        for r in &rows {
            if statuses.iter().all(|want| want.iter().any(|w| w == status(&s, r))) {
                matches.push(slot(&s, r));
            }
        }
    }
    let total = matches.len();
    matches.truncate(count.unwrap_or(total));
    Ok(json(StatusCode::OK, &searchset(&base, "Slot", &query, total, matches, None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_ids_name_the_session_and_number() {
        let s = Uuid::now_v7();
        assert_eq!(parse_slot_id(&slot_id(s, 12)), Some((s, 12)));
        for bad in [format!("{s}-0"), format!("{s}-+1"), format!("{s}-01"), format!("{s}"), "x-1".into()] {
            assert_eq!(parse_slot_id(&bad), None, "{bad}");
        }
    }
}
