//! Screening readings: fed by the outpatient visit (blood pressure, weight
//! and height) and by verified lab results (fasting glucose, lipids), or
//! entered at a screening (the annual free BP check). A reading that
//! suggests a disease the patient is not enrolled for opens a proposal.

use dayi_core::audit::OK;
use dayi_core::chronic::{Disease, Measured, Reading, ScreenInput, parse_reading, screen as judge};
use dayi_core::identity::Sex;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::{DomainError, ErrorCode};
use dayi_store::Tx;
use dayi_store::chronic::Screening;
use dayi_store::lab::LabResult;
use dayi_store::patient::Patient;
use dayi_store::visit::Visit;
use serde::Deserialize;
use time::{Date, Duration};
use uuid::Uuid;

use super::{age_of, day, parse_day, past_day, require_work, rules};
use crate::{Actor, App, OrInternal};

/// Readings to write in the caller's transaction, replacing what the same
/// visit or lab order wrote before.
pub struct Feed {
    org_id: Uuid,
    source_id: Uuid,
    row: Option<Screening>,
}

impl Feed {
    pub async fn write(self, tx: &mut Tx) -> Result<(), DomainError> {
        dayi_store::chronic::delete_screenings_from(tx, self.org_id, self.source_id).await.or_internal()?;
        if let Some(row) = self.row {
            dayi_store::chronic::insert_screenings(tx, &[row]).await.or_internal()?;
        }
        Ok(())
    }
}

/// The readings of a visit's vitals (blood pressure, weight, height).
pub async fn feed_visit(app: &App, visit: &Visit, by: &str) -> Result<Feed, DomainError> {
    let vitals: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&visit.vitals).unwrap_or_default();
    let text = |k: &str| vitals.get(k).and_then(|v| v.as_str()).unwrap_or("").trim().to_string();
    let (sbp, dbp) = text("bp").split_once('/').map(|(s, d)| (s.trim().into(), d.trim().into())).unwrap_or_default();
    let m = Measured { sbp, dbp, weight: text("weight"), height: text("height"), ..Measured::default() };
    let on = parse_day("day", &visit.day)?;
    // A reading outside the programme's plausible ranges is not fed (the visit checked its own).
    let reading = parse_reading(&m, &*rules(app, visit.org_id).await?).unwrap_or_default();
    feed(app, visit.org_id, visit.patient_id, visit.id, "visit", on, reading, by).await
}

/// The readings of a verified lab order (fasting glucose, lipids).
pub async fn feed_lab(
    app: &App,
    org_id: Uuid,
    order_id: Uuid,
    results: &[LabResult],
    by: &str,
) -> Result<Feed, DomainError> {
    let r = rules(app, org_id).await?;
    let item = |code: &str| results.iter().find(|x| x.current && x.item_code == code).and_then(|x| x.milli);
    let reading = Reading {
        fbg_milli: item(&r.lab.fbg),
        tc_milli: item(&r.lab.tc),
        ldl_milli: item(&r.lab.ldl),
        tg_milli: item(&r.lab.tg),
        hdl_milli: item(&r.lab.hdl),
        ..Reading::default()
    };
    let Some(patient_id) = results.first().map(|x| x.patient_id) else {
        return Ok(Feed { org_id, source_id: order_id, row: None });
    };
    feed(app, org_id, patient_id, order_id, "lab", today_cst(), reading, by).await
}

#[allow(clippy::too_many_arguments)]
async fn feed(
    app: &App,
    org_id: Uuid,
    patient_id: Uuid,
    source_id: Uuid,
    source: &str,
    on: Date,
    reading: Reading,
    by: &str,
) -> Result<Feed, DomainError> {
    let measured = reading.sbp.is_some() || reading.fbg_milli.is_some() || reading.has_lipids();
    if !measured {
        return Ok(Feed { org_id, source_id, row: None });
    }
    let patient = crate::patient::load(app, org_id, patient_id).await?;
    let input = ScreenInput {
        age: age_of(&patient.birth_date, on).unwrap_or(0),
        sex: Sex::parse(&patient.sex),
        reading,
        ..ScreenInput::default()
    };
    let row = row(app, &patient, &input, on, source, Some(source_id), by).await?;
    Ok(Feed { org_id, source_id, row: Some(row) })
}

/// Judges a reading and builds its row; the proposal is open when it
/// suggests a disease the (adult) patient is not enrolled for.
async fn row(
    app: &App,
    patient: &Patient,
    input: &ScreenInput,
    on: Date,
    source: &str,
    source_id: Option<Uuid>,
    by: &str,
) -> Result<Screening, DomainError> {
    let r = rules(app, patient.org_id).await?;
    let s = judge(input, &r);
    let enrolled = dayi_store::chronic::enrolments_of(&app.db, patient.org_id, patient.id).await.or_internal()?;
    let new = s.suspected.iter().any(|d| !enrolled.iter().any(|e| e.status == "active" && e.disease == d.code()));
    let codes = |v: Vec<&str>| v.join(",");
    let x = &input.reading;
    Ok(Screening {
        org_id: patient.org_id,
        id: crate::new_id(),
        patient_id: patient.id,
        screened_on: day(on),
        source: source.into(),
        source_id,
        sbp: x.sbp,
        dbp: x.dbp,
        fbg_milli: x.fbg_milli,
        tc_milli: x.tc_milli,
        ldl_milli: x.ldl_milli,
        tg_milli: x.tg_milli,
        hdl_milli: x.hdl_milli,
        bmi_tenths: x.bmi_tenths(),
        risks: codes(s.risks.iter().map(|f| f.code()).collect()),
        suspected: codes(s.suspected.iter().map(|d: &Disease| d.code()).collect()),
        proposal: if new && input.age >= r.min_age { "open" } else { "none" }.into(),
        next_due: day(on + Duration::days(s.next_in_days)),
        screened_by: by.into(),
        created_at: now_micros(),
    })
}

/// A reading taken at a screening (the annual free BP check, 免费测血压).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ScreenForm {
    pub patient_id: String,
    #[schema(format = Date)]
    pub screened_on: String,
    #[serde(flatten)]
    pub measured: Measured,
    pub family_history: bool,
    pub high_salt: bool,
    pub drinking: bool,
}

pub async fn screen(app: &App, actor: &Actor, f: &ScreenForm) -> Result<Screening, DomainError> {
    require_work(app, actor).await?;
    let patient = super::patient_of(app, actor, &f.patient_id).await?;
    let patient_id = patient.id;
    let r = rules(app, actor.org_id).await?;
    let mut checks = dayi_core::error::Checks::new();
    let on = checks.take("screened_on", past_day("screened_on", &f.screened_on, today_cst()));
    let reading = checks.take("measured", parse_reading(&f.measured, &r));
    checks.finish()?;
    let (Some(on), Some(reading)) = (on, reading) else { return Err(DomainError::new(ErrorCode::Validation)) };
    let input = ScreenInput {
        age: age_of(&patient.birth_date, on).unwrap_or(0),
        sex: Sex::parse(&patient.sex),
        reading,
        family_history: f.family_history,
        high_salt: f.high_salt,
        drinking: f.drinking,
    };
    let row = row(app, &patient, &input, on, "screening", None, &actor.username).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::chronic::insert_screenings(&mut tx, std::slice::from_ref(&row)).await.or_internal()?;
    let entry =
        actor.entry("chronic.screen", "chronic_screening", &row.id.to_string(), Some(patient_id), OK, &row.suspected);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(row)
}

/// Sets aside a proposal the doctor does not take up (排除诊断).
pub async fn dismiss(app: &App, actor: &Actor, id: Uuid) -> Result<(), DomainError> {
    require_work(app, actor).await?;
    let s = dayi_store::chronic::get_screening(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::chronic::set_proposal(&mut tx, actor.org_id, &[id], "dismissed").await.or_internal()?;
    let entry = actor.entry("chronic.dismiss", "chronic_screening", &id.to_string(), Some(s.patient_id), OK, "");
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()
}
