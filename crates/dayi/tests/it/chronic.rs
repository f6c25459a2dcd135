//! Chronic-disease management (三高共管) over HTTP, on both databases: a high
//! blood pressure at a visit proposes enrolment; the follow-ups are classified
//! by the standard and fix the next visit; bad input changes nothing; the
//! indicators of a hand-built cohort equal the answer counted by hand.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::Duration;

use crate::harness::{Session, TestApp};
use crate::queue::{adults, ok, people, refused};
use crate::visit::called_visit;

crate::on_both!(
    from_a_visit_to_a_referral,
    bad_input_changes_nothing,
    indicators_match_a_hand_computed_cohort,
    yearly_summaries_agree_with_the_follow_ups,
    verified_lab_results_feed_screening
);

fn day(offset: i64) -> String {
    (dayi_core::timefmt::today_cst() + Duration::days(offset)).to_string()
}

/// Days from today back to the first of January: the indicators count a calendar year.
fn into_year() -> i64 {
    i64::from(dayi_core::timefmt::today_cst().ordinal()) - 1
}

/// An offset from today kept inside this year (early in January several land on New Year's Day).
fn this_year(offset: i64) -> i64 {
    offset.max(-into_year())
}

/// The field codes of a 422 answer, by field.
async fn fields(r: reqwest::Response) -> Vec<(String, String)> {
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = r.json().await.unwrap();
    v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["field"].as_str().unwrap().to_string(), f["code"].as_str().unwrap().to_string()))
        .collect()
}

pub(crate) async fn enrol(s: &Session, pid: &str, disease: &str, doctor: &str, village: &str) -> Value {
    let body =
        json!({"disease": disease, "diagnosed_on": day(-400), "source": "known", "doctor": doctor, "village": village});
    ok(s.post_json(&format!("/api/chronic/patients/{pid}/enrol"), body).await).await
}

pub(crate) async fn visit(s: &Session, pid: &str, on: i64, mode: &str, extra: Value) -> Value {
    let mut body = json!({"visited_on": day(on), "mode": mode});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    ok(s.post_json(&format!("/api/chronic/patients/{pid}/followups"), body).await).await
}

/// The patient's line on a list, or on a worklist's page.
fn on_list(list: &Value, pid: &str) -> Option<Value> {
    let lines = list.get("lines").unwrap_or(list);
    lines.as_array().unwrap().iter().find(|l| l["patient_id"] == pid).cloned()
}

async fn from_a_visit_to_a_referral(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let (vid, pid) = called_visit(t, 0).await;
    let rec = json!({"chief_complaint": "头晕1周", "vitals": {"bp": "165/100", "weight": "80", "height": "170"}});
    ok(doc.post_json(&format!("/api/visits/{vid}/record"), rec.clone()).await).await;
    // Saving the record again replaces its reading: one proposal, not two.
    ok(doc.post_json(&format!("/api/visits/{vid}/record"), rec).await).await;
    let proposals = ok(doc.get("/api/chronic/proposals").await).await;
    let mine: Vec<_> = proposals.as_array().unwrap().iter().filter(|p| p["patient_id"] == pid.as_str()).collect();
    assert_eq!(mine.len(), 1, "{proposals}");
    assert_eq!(mine[0]["suspected"][0][0], "htn");
    assert_eq!(mine[0]["bp"], "165/100");

    // Enrolled from the visit: the proposal is taken up; a second enrolment is refused.
    let body = json!({"disease": "htn", "diagnosed_on": day(-30), "source": "outpatient", "village": "东村"});
    let e = ok(doc.post_json(&format!("/api/chronic/patients/{pid}/enrol"), body.clone()).await).await;
    assert_eq!((e["doctor"].as_str(), e["next_due"].as_str()), (Some("doc01"), Some(day(0).as_str())));
    let proposals = ok(doc.get("/api/chronic/proposals").await).await;
    assert!(on_list(&proposals, &pid).is_none(), "{proposals}");
    let again = doc.post_json(&format!("/api/chronic/patients/{pid}/enrol"), body).await;
    assert_eq!(fields(again).await, [("disease".to_string(), "chronic.enrolled".to_string())]);
    let never = ok(doc.get("/api/chronic/worklist?list=never&doctor=doc01").await).await;
    assert!(on_list(&never, &pid).is_some());

    // First unsatisfied: revisit within 2 weeks, and it is due on the worklist.
    let out = visit(&doc, &pid, -13, "clinic", json!({"sbp": "152", "dbp": "94", "heart_rate": "78"})).await;
    assert_eq!(out["results"][0][1]["class"], "unsatisfied");
    assert_eq!(out["results"][0][1]["next"], "two_weeks");
    assert_eq!(out["results"][0][2], day(1));
    let due = ok(doc.get("/api/chronic/worklist?list=due&doctor=doc01").await).await;
    let line = on_list(&due, &pid).expect("due within two weeks");
    assert_eq!((line["next_due"].as_str(), line["next_name"].as_str()), (Some(day(1).as_str()), Some("2 周内随访")));
    assert!(on_list(&ok(doc.get("/api/chronic/worklist?list=never").await).await, &pid).is_none());

    // Second consecutive unsatisfied: referral, with its 2-week follow-up awaited.
    let out = visit(&doc, &pid, 0, "home", json!({"sbp": "148", "dbp": "92"})).await;
    assert_eq!(out["results"][0][1]["next"], "referral");
    let referral = ok(doc.get("/api/chronic/worklist?list=referral").await).await;
    assert_eq!(on_list(&referral, &pid).expect("referred")["next_due"], day(14));

    // An emergency reading is an urgent referral, whatever came before.
    let out = visit(&doc, &pid, 0, "clinic", json!({"sbp": "185", "dbp": "100"})).await;
    assert_eq!(out["results"][0][1]["next"], "urgent");

    // The file: three follow-ups newest first, the series for the charts, the visit's reading.
    let f = ok(doc.get(&format!("/api/chronic/patients/{pid}")).await).await;
    assert_eq!(f["followups"].as_array().unwrap().len(), 3);
    assert_eq!(f["followups"][2]["class_name"], "控制不满意");
    assert_eq!(f["series"]["sbp"].as_array().unwrap().len(), 4, "{}", f["series"]);
    assert_eq!(f["readings"][0]["bmi"], "27.7");
    assert_eq!(f["enrolments"][0]["next_kind"], "urgent");
}

async fn bad_input_changes_nothing(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let child = &people(t, 11 * 365 * 85, 1).await[0];
    let adult = &adults(t, 7, 1).await[0];
    let enrol_at = |pid: &str| format!("/api/chronic/patients/{pid}/enrol");

    // A child is not enrolled in the adult programme; a diagnosis in the future is refused.
    let r = doc
        .post_json(
            &enrol_at(&child.id),
            json!({"disease": "htn", "diagnosed_on": day(-1), "source": "known", "village": "东村"}),
        )
        .await;
    assert_eq!(fields(r).await, [("patient_id".to_string(), "chronic.age".to_string())]);
    let r = doc
        .post_json(
            &enrol_at(&adult.id),
            json!({"disease": "htn", "diagnosed_on": day(1), "source": "known", "village": "东村"}),
        )
        .await;
    assert_eq!(fields(r).await, [("diagnosed_on".to_string(), "chronic.future_date".to_string())]);
    let r = doc
        .post_json(
            &enrol_at(&adult.id),
            json!({"disease": "gout", "diagnosed_on": day(-1), "source": "known", "village": ""}),
        )
        .await;
    let got = fields(r).await;
    assert!(
        got.contains(&("disease".into(), "field.required".into()))
            && got.contains(&("village".into(), "field.required".into())),
        "{got:?}"
    );
    // A follow-up of someone not enrolled.
    let r = doc
        .post_json(
            &format!("/api/chronic/patients/{}/followups", adult.id),
            json!({"visited_on": day(0), "mode": "clinic", "sbp": "130", "dbp": "80"}),
        )
        .await;
    assert_eq!(fields(r).await, [("diseases".to_string(), "chronic.not_enrolled".to_string())]);
    for pid in [&child.id, &adult.id] {
        let f = ok(doc.get(&format!("/api/chronic/patients/{pid}")).await).await;
        assert_eq!(f["enrolments"].as_array().unwrap().len(), 0);
    }

    // Enrolled (diagnosed 400 days ago): impossible readings and dates change nothing.
    enrol(&doc, &adult.id, "t2dm", "doc01", "西村").await;
    let at = format!("/api/chronic/patients/{}/followups", adult.id);
    let r = doc
        .post_json(&at, json!({"visited_on": day(0), "mode": "clinic", "sbp": "400", "dbp": "20", "fbg": "0"}))
        .await;
    let got = fields(r).await;
    for f in ["sbp", "dbp", "fbg"] {
        assert!(got.contains(&(f.to_string(), "chronic.range".to_string())), "{f}: {got:?}");
    }
    let r = doc.post_json(&at, json!({"visited_on": day(1), "mode": "clinic", "fbg": "6.0"})).await;
    assert_eq!(fields(r).await, [("visited_on".to_string(), "chronic.future_date".to_string())]);
    let r = doc.post_json(&at, json!({"visited_on": day(-401), "mode": "clinic", "fbg": "6.0"})).await;
    assert_eq!(fields(r).await, [("visited_on".to_string(), "chronic.before_diagnosis".to_string())]);
    let r = doc.post_json(&at, json!({"visited_on": day(0), "mode": "clinic", "sbp": "130", "dbp": "80"})).await;
    assert_eq!(fields(r).await, [("fbg".to_string(), "field.required".to_string())]);
    let r = doc
        .post_json(
            &at,
            json!({"visited_on": day(0), "mode": "clinic", "fbg": "6.0", "signs": ["nope"], "salt": "很咸"}),
        )
        .await;
    let got = fields(r).await;
    assert!(got.contains(&("salt".into(), "field.invalid_format".into())), "{got:?}");
    let f = ok(doc.get(&format!("/api/chronic/patients/{}", adult.id)).await).await;
    assert_eq!(f["followups"].as_array().unwrap().len(), 0);
    assert_eq!(f["enrolments"][0]["last_visit_on"], Value::Null);

    // Staff outside the programme are refused.
    let lab = t.as_user("lab01").await;
    refused(lab.get(&format!("/api/chronic/patients/{}", adult.id)).await, StatusCode::FORBIDDEN, "auth.forbidden")
        .await;
}

/// Rates in the answer for one row: (managed, standard, controlled, lipid, management%, standard%, control%).
fn row<'a>(r: &'a Value, disease: &str, key: &str) -> &'a Value {
    r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["disease"] == disease && x["key"] == key)
        .unwrap_or_else(|| panic!("no row {disease}/{key}: {r}"))
}

fn counts(x: &Value) -> (u64, u64, u64, u64) {
    let t = &x["tally"];
    (
        t["managed"].as_u64().unwrap(),
        t["standard"].as_u64().unwrap(),
        t["controlled"].as_u64().unwrap(),
        t["lipid_tested"].as_u64().unwrap(),
    )
}

/// Builds the cohort the browser test also reads: five hypertension records
/// and one diabetes record, by two doctors in two villages.
pub(crate) async fn cohort(t: &TestApp) -> Vec<String> {
    let doc = t.as_user("doc01").await;
    let ps = adults(t, 100, 6).await;
    let id = |i: usize| ps[i].id.clone();
    let good = json!({"sbp": "130", "dbp": "80"});
    for (i, doctor, village) in
        [(0, "doc01", "东村"), (1, "doc01", "东村"), (2, "doc01", "西村"), (3, "doc02", "西村"), (4, "doc02", "西村")]
    {
        enrol(&doc, &id(i), "htn", doctor, village).await;
    }
    enrol(&doc, &id(5), "t2dm", "doc02", "东村").await;
    // Every visit is dated this year, oldest first; the last one recorded is the latest.
    let on = this_year;
    // P0: four clinic visits, controlled at the last: standard, controlled.
    for days in [-200, -150, -100, -10] {
        visit(&doc, &id(0), on(days), "clinic", good.clone()).await;
    }
    // P1: four visits, the last one 150/95: standard, not controlled.
    for days in [-200, -150, -100] {
        visit(&doc, &id(1), on(days), "clinic", good.clone()).await;
    }
    visit(&doc, &id(1), on(-5), "clinic", json!({"sbp": "150", "dbp": "95"})).await;
    // P2: three clinic visits and a phone call (not face to face): not standard, controlled.
    for days in [-200, -150, -100] {
        visit(&doc, &id(2), on(days), "clinic", good.clone()).await;
    }
    visit(&doc, &id(2), on(-3), "phone", json!({"sbp": "128", "dbp": "78"})).await;
    // P3: never seen. P4: one home visit, controlled.
    visit(&doc, &id(4), on(-20), "home", json!({"sbp": "120", "dbp": "70"})).await;
    // Two visits last year do not count this year, even recorded later.
    for _ in 0..2 {
        visit(&doc, &id(4), -into_year() - 10, "clinic", json!({"sbp": "150", "dbp": "95"})).await;
    }
    // P5 (diabetes): two visits, the last controlled.
    visit(&doc, &id(5), on(-60), "clinic", json!({"fbg": "8.0"})).await;
    visit(&doc, &id(5), on(-30), "clinic", json!({"fbg": "6.2"})).await;
    // P0's lipids tested at a screening.
    let lip = json!({"screened_on": day(on(-20)), "tc": "5.0", "ldl": "3.0", "tg": "1.2", "hdl": "1.3"});
    ok(doc.post_json(&format!("/api/chronic/patients/{}/screenings", id(0)), lip).await).await;
    // The area's expected numbers: 10 with hypertension in the area, 5 in 东村.
    let area = json!({"tier": "base", "expected": {"htn": 10, "t2dm": 4}, "villages": [{"name": "东村", "expected": {"htn": 5}}]});
    let refused = doc.client.put(format!("{}/api/chronic/area", doc.base)).header("x-csrf-token", &doc.csrf);
    assert_eq!(refused.json(&area).send().await.unwrap().status(), 403, "a doctor does not set the area");
    let ph = t.as_user("ph01").await;
    let put = ph.client.put(format!("{}/api/chronic/area", ph.base)).header("x-csrf-token", &ph.csrf).json(&area);
    assert!(put.send().await.unwrap().status().is_success());
    ps.into_iter().map(|p| p.id).collect()
}

async fn indicators_match_a_hand_computed_cohort(t: &TestApp) {
    let ids = cohort(t).await;
    let director = t.as_user("director").await;
    let period = format!("year={}", dayi_core::timefmt::today_cst().year());
    let r = ok(director.get(&format!("/api/chronic/indicators?{period}&group=org")).await).await;
    // Hypertension: managed 5 of 10 expected; standard P0, P1; controlled P0, P2, P4; lipids P0.
    let htn = row(&r, "htn", "");
    assert_eq!(counts(htn), (5, 2, 3, 1));
    assert_eq!(
        (&htn["management"], &htn["standard"], &htn["controlled"], &htn["lipid_tested"]),
        (&json!("50.00%"), &json!("40.00%"), &json!("60.00%"), &json!("20.00%"))
    );
    let dm = row(&r, "t2dm", "");
    assert_eq!(counts(dm), (1, 0, 1, 0));
    assert_eq!((&dm["management"], &dm["controlled"]), (&json!("25.00%"), &json!("100.00%")));
    assert_eq!(row(&r, "lipid", "")["management"], "—");

    let by_doctor = ok(director.get(&format!("/api/chronic/indicators?{period}&group=doctor")).await).await;
    assert_eq!(counts(row(&by_doctor, "htn", "doc01")), (3, 2, 2, 1));
    assert_eq!(row(&by_doctor, "htn", "doc01")["standard"], "66.67%");
    assert_eq!(counts(row(&by_doctor, "htn", "doc02")), (2, 0, 1, 0));
    assert_eq!(row(&by_doctor, "htn", "doc02")["management"], "—");
    let by_village = ok(director.get(&format!("/api/chronic/indicators?{period}&group=village")).await).await;
    assert_eq!(counts(row(&by_village, "htn", "东村")), (2, 2, 1, 1));
    assert_eq!(row(&by_village, "htn", "东村")["management"], "40.00%");
    assert_eq!(counts(row(&by_village, "htn", "西村")), (3, 0, 2, 0));
    assert_eq!(row(&by_village, "htn", "西村")["controlled"], "66.67%");

    // Behind "not controlled": P1 (150/95) and P3 (never seen).
    let behind = ok(director
        .get(&format!("/api/chronic/indicators/patients?{period}&group=org&disease=htn&measure=not_controlled"))
        .await)
    .await;
    let mut got: Vec<&str> = behind.as_array().unwrap().iter().map(|l| l["patient_id"].as_str().unwrap()).collect();
    got.sort_unstable();
    let mut want = vec![ids[1].as_str(), ids[3].as_str()];
    want.sort_unstable();
    assert_eq!(got, want);
    assert!(behind[0]["name"].as_str().unwrap().contains('*'), "names are masked: {behind}");

    // The Excel exports are real workbooks: the indicators, their drill-down, and every list.
    for path in ["/chronic/worklist.xlsx?list=never", "/chronic/proposals.xlsx", "/chronic/screening.xlsx"] {
        let r = t.as_user("doc01").await.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(&r.bytes().await.unwrap()[..2], b"PK", "{path} is a zip (xlsx)");
    }
    for path in ["/chronic/indicators.xlsx", "/chronic/indicators/patients.xlsx"] {
        let r = director.get(&format!("{path}?{period}&group=org&disease=htn&measure=managed")).await;
        assert_eq!(r.status(), StatusCode::OK);
        let bytes = r.bytes().await.unwrap();
        assert_eq!(&bytes[..2], b"PK", "{path} is a zip (xlsx)");
    }
    // Last year counts P4's two visits there: one record seen, face to face twice, not controlled.
    let last = dayi_core::timefmt::today_cst().year() - 1;
    let r = ok(director.get(&format!("/api/chronic/indicators?year={last}")).await).await;
    // Enrolled this year: none of the records was managed last year.
    assert_eq!(counts(row(&r, "htn", "")), (0, 0, 0, 0));
    // A year to come, or not a year, is refused.
    for year in [format!("{}", last + 2), "20x6".to_string()] {
        let r = director.get(&format!("/api/chronic/indicators?year={year}")).await;
        assert_eq!(fields(r).await, [("year".to_string(), "field.invalid_format".to_string())]);
    }
}

/// The indicators read a per-record yearly summary kept by every follow-up
/// insert. A bulk-loaded registry (many follow-ups of one record in one
/// batch) and follow-ups recorded one by one, earlier-dated after later ones,
/// give the same counts as the follow-ups themselves, counted here by the
/// standard's definitions. The worklists page through the same registry.
async fn yearly_summaries_agree_with_the_follow_ups(t: &TestApp) {
    let org = dayi_app::tenancy::by_code(&t.app, crate::harness::ORG).await.unwrap().unwrap().org_id;
    dayi_app::demo::load_patients(&t.app, org, 400, 7).await.unwrap();
    let loaded = dayi_app::demo::chronic::load(&t.app, org, 200, 2, 7).await.unwrap();
    assert!(loaded.records >= 200 && loaded.followups > 1_000, "{loaded:?}");
    // Two more visits of one record: this year's, then an earlier-dated one.
    let director = t.as_user("director").await;
    let doc = t.as_user("doc01").await;
    let this = dayi_core::timefmt::today_cst().year();
    let htn =
        ok(director.get(&format!("/api/chronic/indicators/patients?year={this}&disease=htn&measure=managed")).await)
            .await;
    let pid = htn[0]["patient_id"].as_str().unwrap().to_string();
    visit(&doc, &pid, 0, "clinic", json!({"sbp": "128", "dbp": "76", "fbg": "5.6", "ldl": "2.6"})).await;
    visit(&doc, &pid, this_year(-40), "phone", json!({"sbp": "168", "dbp": "102", "fbg": "9.0", "ldl": "4.1"})).await;

    let standard = dayi_app::chronic::rules(&t.app, org).await.unwrap().standard_visits;
    for year in [this - 1, this] {
        let r = ok(director.get(&format!("/api/chronic/indicators?year={year}")).await).await;
        for disease in ["htn", "t2dm", "lipid"] {
            let want = by_hand(t, &director, org, year, disease, standard).await;
            assert_eq!(counts(row(&r, disease, "")), want, "{disease} in {year}");
        }
    }

    // Worklist pages: 50 lines at most, none twice, the last says no more.
    let mut seen = std::collections::HashSet::new();
    let mut page = 1;
    loop {
        let w = ok(doc.get(&format!("/api/chronic/worklist?list=checkup&page={page}")).await).await;
        let lines = w["lines"].as_array().unwrap();
        assert!(lines.len() <= 50 && !lines.is_empty(), "page {page}: {}", lines.len());
        for l in lines {
            assert!(seen.insert(l["enrolment_id"].as_str().unwrap().to_string()), "twice: {l}");
        }
        if w["more"] == false {
            break;
        }
        page += 1;
    }
    assert!(page >= 2, "the registry fills more than one page");
    let r = doc.get("/api/chronic/worklist?list=checkup&page=0").await;
    assert_eq!(fields(r).await, [("page".to_string(), "field.invalid_format".to_string())]);
}

/// (managed, standard, controlled, lipid-tested) of one disease in one year,
/// counted from the records' own follow-ups and readings.
async fn by_hand(
    t: &TestApp,
    s: &Session,
    org: uuid::Uuid,
    year: i32,
    disease: &str,
    standard: i64,
) -> (u64, u64, u64, u64) {
    let (from, to) = (format!("{year}-01-01"), format!("{year}-12-31"));
    let within = |d: &str| d >= from.as_str() && d <= to.as_str();
    let managed =
        ok(s.get(&format!("/api/chronic/indicators/patients?year={year}&disease={disease}&measure=managed")).await)
            .await;
    let mut patients: Vec<uuid::Uuid> =
        managed.as_array().unwrap().iter().map(|l| l["patient_id"].as_str().unwrap().parse().unwrap()).collect();
    patients.sort_unstable();
    patients.dedup();
    let mut out = (0, 0, 0, 0);
    for p in patients {
        let records = dayi_store::chronic::enrolments_of(&t.app.db, org, p).await.unwrap();
        let visits = dayi_store::chronic::followups_of(&t.app.db, org, p).await.unwrap();
        let readings = dayi_store::chronic::screenings_of(&t.app.db, org, p).await.unwrap();
        let lipid = readings.iter().any(|r| {
            within(&r.screened_on)
                && (r.tc_milli.is_some() || r.ldl_milli.is_some() || r.tg_milli.is_some() || r.hdl_milli.is_some())
        }) || visits.iter().any(|f| within(&f.visited_on) && f.ldl_milli.is_some());
        for e in records.iter().filter(|e| e.disease == disease && e.enrolled_on <= to) {
            let mine: Vec<_> = visits.iter().filter(|f| f.enrolment_id == e.id && within(&f.visited_on)).collect();
            let face = mine.iter().filter(|f| f.mode != "phone").count() as i64;
            let latest = mine.iter().max_by_key(|f| (f.visited_on.clone(), f.created_at));
            out.0 += 1;
            out.1 += u64::from(face >= standard);
            out.2 += u64::from(latest.and_then(|f| f.controlled) == Some(true));
            out.3 += u64::from(lipid);
        }
    }
    out
}

/// A fasting glucose of 7.8 and an LDL-C of 4.3, verified in the lab, propose
/// diabetes and dyslipidaemia for the patient, and count as a lipid test.
async fn verified_lab_results_feed_screening(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let lab = t.as_user("lab01").await;
    let checker = t.as_user("lab02").await;
    let (tubes, pid) = crate::lab::tubes_for(t, &["血糖（葡萄糖测定）", "血清低密度脂蛋白胆固醇测定"]).await;
    for (_, barcode) in &tubes {
        ok(lab.post_json(&format!("/api/lab/specimens/{barcode}/receive"), json!({})).await).await;
    }
    let mut orders = vec![];
    for (_, barcode) in &tubes {
        let view = ok(lab.get(&format!("/api/lab/specimens/{barcode}")).await).await;
        for test in view["tests"].as_array().unwrap() {
            let (item, value) = if test["test"]["panel_code"] == "GLU" { ("GLU", "7.8") } else { ("LDL-C", "4.3") };
            let body = json!({"barcode": barcode, "results": [{"item": item, "value": value, "unit": "mmol/L"}]});
            ok(lab.post_json("/api/lab/results", body).await).await;
            orders.push(test["test"]["order_id"].as_str().unwrap().to_string());
        }
    }
    // Not before verification.
    assert!(on_list(&ok(doc.get("/api/chronic/proposals").await).await, &pid).is_none());
    for o in &orders {
        ok(checker.post_json(&format!("/api/lab/tests/{o}/verify"), json!({})).await).await;
    }
    let proposals = ok(doc.get("/api/chronic/proposals").await).await;
    let mine: Vec<&Value> = proposals.as_array().unwrap().iter().filter(|p| p["patient_id"] == pid.as_str()).collect();
    let mut suggested: Vec<&str> =
        mine.iter().flat_map(|p| p["suspected"].as_array().unwrap()).map(|s| s[0].as_str().unwrap()).collect();
    suggested.sort_unstable();
    assert_eq!(suggested, ["lipid", "t2dm"], "{proposals}");
    let f = ok(doc.get(&format!("/api/chronic/patients/{pid}")).await).await;
    let readings = f["readings"].as_array().unwrap();
    assert!(readings.iter().any(|r| r["fbg"] == "7.8") && readings.iter().any(|r| r["ldl"] == "4.3"), "{readings:?}");
    assert_eq!(f["series"]["ldl"][0]["value"], 4300);
}
