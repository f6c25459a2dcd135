//! Patient identity over HTTP: registration and its refusals, search with
//! masking, the audited "show full", the health card and the one resolver,
//! merges and their undo.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Session, TestApp};

crate::on_both!(
    registration_checks_and_refuses_without_writing,
    search_masks_and_show_full_is_audited,
    one_code_resolves_at_every_station,
    merge_moves_records_and_undo_restores,
    forms_keep_what_was_typed,
    concurrent_counters_register_one_record_per_document,
    bulk_load_is_searchable_and_analyzed
);

/// 张三丰, male, born 1980-01-31 in 汶上县.
pub const ZHANG_ID: &str = "370830198001310011";

pub fn zhang() -> Value {
    json!({
        "name": "张三丰", "id_number": ZHANG_ID, "phone": "13900001111", "address": "汶上县中都街道",
        "region_code": "370830", "insurance": "employee", "ethnicity": "01",
        "emergency_name": "张丽", "emergency_relation": "30", "emergency_phone": "13900002222"
    })
}

async fn count(s: &Session, q: &str) -> usize {
    let r: Value = s.get(&format!("/api/patients?q={q}")).await.json().await.unwrap();
    r["items"].as_array().unwrap().len()
}

async fn registration_checks_and_refuses_without_writing(t: &TestApp) {
    let reg = t.as_user("reg01").await;
    let r = reg.post_json("/api/patients", zhang()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["birth_date"], "1980-01-31", "derived from the ID number");
    assert_eq!(p["sex"], "1");
    assert_eq!(p["id_number"], "370830********0011", "masked");
    assert_eq!(p["hospital_no"].as_str().unwrap().len(), 12);
    assert_eq!(p["card_id"].as_str().unwrap().len(), 64);

    // the same document again: refused, existing record named, nothing written
    let before = count(&reg, "zsf").await;
    let r = reg.post_json("/api/patients", json!({"name": "张三丰", "id_number": ZHANG_ID.to_lowercase()})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["code"], "patient.duplicate_id");
    assert_eq!(e["existing_id"], p["id"]);
    assert!(e["title"].as_str().unwrap().contains(p["hospital_no"].as_str().unwrap()));

    // each bad field has its own message
    let bad = [
        (json!({"name": "李四", "id_number": "370830198001310017"}), "id_number", "identity.id_checksum"),
        (json!({"name": "李四", "id_number": "370830198002300016"}), "id_number", "identity.birth_date_invalid"),
        (json!({"name": "李四", "id_number": ZHANG_ID, "sex": "2"}), "sex", "identity.sex_mismatch_male"),
        (
            json!({"name": "王小明", "sex": "1", "birth_date": "2020-05-01"}),
            "guardian_name",
            "patient.guardian_required",
        ),
        (json!({"name": "李四", "sex": "1", "birth_date": "2026-02-30"}), "birth_date", "field.date_invalid"),
        (
            json!({"name": "李四", "sex": "1", "birth_date": "1990-01-01", "phone": "12345"}),
            "phone",
            "patient.phone_invalid",
        ),
    ];
    for (body, field, code) in bad {
        let r = reg.post_json("/api/patients", body.clone()).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let e: Value = r.json().await.unwrap();
        let f = e["fields"].as_array().unwrap().iter().find(|f| f["field"] == field).unwrap_or_else(|| panic!("{e}"));
        assert_eq!(f["code"], code, "{e}");
        assert!(!f["message"].as_str().unwrap().is_empty());
    }
    let e: Value = reg
        .post_json("/api/patients", json!({"name": "李四", "id_number": "370830198001310017"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(e["fields"][0]["message"], "身份证号校验位错误，请逐位核对");
    assert_eq!(count(&reg, "zsf").await, before, "nothing written");
    assert_eq!(count(&reg, "ls").await, 0);

    // a lab technician may read but not register
    let lab = t.as_user("lab01").await;
    assert_eq!(lab.post_json("/api/patients", zhang()).await.status(), StatusCode::FORBIDDEN);
}

async fn search_masks_and_show_full_is_audited(t: &TestApp) {
    let reg = t.as_user("reg01").await;
    let p: Value = reg.post_json("/api/patients", zhang()).await.json().await.unwrap();
    let id = p["id"].as_str().unwrap();
    let single = json!({"name": "单田芳", "sex": "1", "birth_date": "1934-07-01", "phone": "13911112222"});
    assert_eq!(reg.post_json("/api/patients", single).await.status(), StatusCode::CREATED);
    let doc = t.as_user("doc01").await;
    for q in [
        "张三丰",
        "张",
        "zsf",
        "zhangsanfeng",
        "ZSF",
        "0011",
        "01310011",
        ZHANG_ID,
        "13900001111",
        p["hospital_no"].as_str().unwrap(),
    ] {
        let r: Value = doc.get(&format!("/api/patients?q={q}")).await.json().await.unwrap();
        let items = r["items"].as_array().unwrap();
        assert!(items.iter().any(|i| i["id"] == id), "{q}: {r}");
        assert!(items.iter().all(|i| i["id_number"].as_str().is_none_or(|n| n.contains('*'))), "masked");
        assert!(items.iter().all(|i| i["phone"].as_str().is_none_or(|n| n.contains('*'))), "masked");
    }
    // polyphonic surname: 单 is shan
    let r: Value = doc.get("/api/patients?q=stf").await.json().await.unwrap();
    assert_eq!(r["items"][0]["name"], "单田芳");
    let r: Value = doc.get("/api/patients?q=shantian").await.json().await.unwrap();
    assert_eq!(r["items"][0]["name"], "单田芳");
    let r = doc.get("/api/patients?q=12").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // show full: allowed for doctors, audited with the reason; refused for the lab
    let full: Value =
        doc.post_json(&format!("/api/patients/{id}/unmask"), json!({"reason": "核对身份"})).await.json().await.unwrap();
    assert_eq!(full["id_number"], ZHANG_ID);
    assert_eq!(full["phone"], "13900001111");
    let lab = t.as_user("lab01").await;
    let r = lab.post_json(&format!("/api/patients/{id}/unmask"), json!({"reason": "x"})).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let auditor = t.as_user("auditor").await;
    let log: Value = auditor.get(&format!("/api/audit?action=patient.unmask&entity={id}")).await.json().await.unwrap();
    let rows = log.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{log}");
    assert_eq!(rows[0]["actor"], "doc01");
    assert_eq!(rows[0]["detail"], "核对身份");
    let denied: Value = auditor.get("/api/audit?action=security.denied&actor=lab01").await.json().await.unwrap();
    assert!(!denied.as_array().unwrap().is_empty());
    let searches: Value = auditor.get("/api/audit?action=patient.search&actor=doc01").await.json().await.unwrap();
    assert!(searches.as_array().unwrap().len() >= 10);
    assert!(searches.to_string().contains("370830********0011"), "ID numbers are masked in the log too");
}

async fn resolve(s: &Session, code: &str, step: &str) -> reqwest::Response {
    s.post_json("/api/card/resolve", json!({"code": code, "step": step, "station": "门诊一楼"})).await
}

async fn one_code_resolves_at_every_station(t: &TestApp) {
    let reg = t.as_user("reg01").await;
    let p: Value = reg.post_json("/api/patients", zhang()).await.json().await.unwrap();
    let id = p["id"].as_str().unwrap();
    let stat: Value = reg.get(&format!("/api/patients/{id}/card/static")).await.json().await.unwrap();
    let dynm: Value = reg.get(&format!("/api/patients/{id}/card/dynamic")).await.json().await.unwrap();
    assert!(stat["svg"].as_str().unwrap().starts_with("<?xml"));
    assert_eq!(stat["text"], format!("{}:1", p["card_id"].as_str().unwrap()));
    assert_eq!(dynm["minutes"], 5);

    let triage = t.as_user("triage01").await;
    let codes = [
        (stat["text"].as_str().unwrap().to_string(), "triage", "static_qr"),
        (dynm["text"].as_str().unwrap().to_string(), "consultation", "dynamic_qr"),
        (ZHANG_ID.to_lowercase(), "lab", "resident_id"),
        (p["hospital_no"].as_str().unwrap().to_string(), "pharmacy", "hospital_no"),
    ];
    for (code, step, kind) in &codes {
        let r = resolve(&triage, code, step).await;
        assert_eq!(r.status(), StatusCode::OK, "{code}");
        let found: Value = r.json().await.unwrap();
        assert_eq!(found["patient"]["id"], id);
        assert_eq!(found["kind"], *kind);
    }
    let uses: Value = reg.get(&format!("/api/patients/{id}/card-uses")).await.json().await.unwrap();
    let uses = uses.as_array().unwrap();
    assert_eq!(uses.len(), 4);
    assert!(uses.iter().all(|u| u["station"] == "门诊一楼"));
    assert!(uses.iter().any(|u| u["step"] == "pharmacy" && u["code_kind"] == "hospital_no"));

    // altered, expired, forged and unknown codes are refused and nothing is logged
    let text = dynm["text"].as_str().unwrap();
    let (body, sig) = text.rsplit_once(':').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{body}:{flipped}{}", &sig[1..]);
    let later = body.replace(&body[body.len() - 14..], "20991231235959");
    let expired = {
        let org = dayi_store::tenancy::org_by_code(&t.app.db, crate::harness::ORG).await.unwrap().unwrap();
        let mut tx = t.app.db.begin().await.unwrap();
        let key = dayi_store::patient::secret(&mut tx, org.org_id, "health_card", &[0; 32], 0).await.unwrap();
        tx.commit().await.unwrap();
        dayi_core::card::dynamic_qr(&key, p["card_id"].as_str().unwrap(), dayi_core::timefmt::now_micros() - 1_000_000)
    };
    for (code, want) in [
        (tampered, "card.qr_tampered"),
        (format!("{later}:{sig}"), "card.qr_tampered"),
        (expired, "card.qr_expired"),
        (format!("{}:1", "0".repeat(64)), "card.unknown"),
        ("hello".to_string(), "card.code_unrecognised"),
        ("370830198001310017".to_string(), "identity.id_checksum"),
    ] {
        let r = resolve(&triage, &code, "triage").await;
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["code"], want, "{code}: {e}");
        assert!(!e["title"].as_str().unwrap().is_empty());
    }
    let e: Value = triage
        .post_json("/api/card/resolve", json!({"code": "opaque-token", "step": "cashier", "voucher": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(e["code"], "card.voucher_unavailable");
    let uses: Value = reg.get(&format!("/api/patients/{id}/card-uses")).await.json().await.unwrap();
    assert_eq!(uses.as_array().unwrap().len(), 4, "refusals are not card uses");
    let auditor = t.as_user("auditor").await;
    let failed: Value = auditor.get("/api/audit?action=card.resolve&outcome=failed").await.json().await.unwrap();
    assert_eq!(failed.as_array().unwrap().len(), 7, "{failed}");
}

async fn merge_moves_records_and_undo_restores(t: &TestApp) {
    let reg = t.as_user("reg01").await;
    let a: Value = reg.post_json("/api/patients", zhang()).await.json().await.unwrap();
    let b: Value = reg
        .post_json(
            "/api/patients",
            json!({"name": "章三丰", "sex": "1", "birth_date": "1980-01-31", "phone": "13900001111"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let dups: Value = reg.get(&format!("/api/patients/{a_id}/duplicates")).await.json().await.unwrap();
    assert!(dups["items"].as_array().unwrap().iter().any(|d| d["id"] == b_id));
    // the duplicate was used at a station before anyone noticed
    let triage = t.as_user("triage01").await;
    assert_eq!(resolve(&triage, b["hospital_no"].as_str().unwrap(), "triage").await.status(), StatusCode::OK);

    // the registrar may not merge; the service centre may
    let body = json!({"survivor_id": a_id, "merged_id": b_id, "reason": "同一人重复建档"});
    assert_eq!(reg.post_json("/api/patients/merges", body.clone()).await.status(), StatusCode::FORBIDDEN);
    let svc = t.as_user("svc01").await;
    let r = svc.post_json("/api/patients/merges", body.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let m: Value = r.json().await.unwrap();
    let uses: Value = svc.get(&format!("/api/patients/{a_id}/card-uses")).await.json().await.unwrap();
    assert_eq!(uses.as_array().unwrap().len(), 1, "the use moved to the survivor");
    // the merged card number now leads to the survivor
    let found: Value = resolve(&triage, b["hospital_no"].as_str().unwrap(), "cashier").await.json().await.unwrap();
    assert_eq!(found["patient"]["id"], a_id);
    assert_eq!(found["forwarded"], true);
    assert_eq!(svc.post_json("/api/patients/merges", body).await.status(), StatusCode::CONFLICT);

    let r = svc.post_json(&format!("/api/patients/merges/{}/undo", m["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let uses_b: Value = svc.get(&format!("/api/patients/{b_id}/card-uses")).await.json().await.unwrap();
    assert_eq!(uses_b.as_array().unwrap().len(), 1, "the moved use went back");
    let uses_a: Value = svc.get(&format!("/api/patients/{a_id}/card-uses")).await.json().await.unwrap();
    assert_eq!(uses_a.as_array().unwrap().len(), 1, "the use made after the merge stays");
    let again = svc.post_json(&format!("/api/patients/merges/{}/undo", m["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let auditor = t.as_user("auditor").await;
    let log: Value = auditor.get("/api/audit?action=patient.merge").await.json().await.unwrap();
    assert_eq!(log.as_array().unwrap().len(), 4, "merge and undo, one entry per record: {log}");
}

async fn forms_keep_what_was_typed(t: &TestApp) {
    let reg = t.as_user("reg01").await;
    let r = reg
        .post_form(
            "/patients",
            &[
                ("name", "李四"),
                ("id_kind", "resident_id"),
                ("id_number", "370830198001310017"),
                ("phone", "13911112222"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("身份证号校验位错误"));
    assert!(html.contains("value=\"370830198001310017\"") && html.contains("value=\"李四\""), "kept as typed");
    let r =
        reg.post_form("/patients", &[("name", "张三丰"), ("id_kind", "resident_id"), ("id_number", ZHANG_ID)]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r =
        reg.post_form("/patients", &[("name", "张三丰"), ("id_kind", "resident_id"), ("id_number", ZHANG_ID)]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("打开已有档案"));
    let r = reg.post_form("/station", &[("step", "triage"), ("code", "hello")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("无法识别的号码") && html.contains("value=\"hello\""));
}

/// Eight counters register the same person at once while others register
/// different people: one record for the document, every other answer a 409,
/// and the others' records all written with distinct card numbers.
async fn concurrent_counters_register_one_record_per_document(t: &TestApp) {
    let reg = t.as_user("reg01").await;
    let same = (0..8).map(|_| reg.post_json("/api/patients", zhang()));
    let others = (0..24).map(|i| {
        let id = dayi_core::identity::make_resident_id("370830", time::macros::date!(1990 - 01 - 01), 100 + i);
        reg.post_json("/api/patients", json!({"name": "李四", "id_number": id}))
    });
    let (same, others) = tokio::join!(futures::future::join_all(same), futures::future::join_all(others));
    let codes: Vec<u16> = same.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 7, "{codes:?}");
    let mut numbers = std::collections::HashSet::new();
    for r in others {
        assert_eq!(r.status(), StatusCode::CREATED);
        let p: Value = r.json().await.unwrap();
        assert!(numbers.insert(p["hospital_no"].as_str().unwrap().to_string()));
    }
    assert_eq!(count(&reg, "ZHANGSANFENG").await, 1);
}

/// The benchmark bulk load: every patient stored and found, and on
/// PostgreSQL the planner's statistics refreshed afterwards.
async fn bulk_load_is_searchable_and_analyzed(t: &TestApp) {
    let org = dayi_app::tenancy::by_code(&t.app, crate::harness::ORG).await.unwrap().unwrap().org_id;
    let before = dayi_store::patient::count(&t.app.db, org).await.unwrap();
    assert_eq!(dayi_app::demo::load_patients(&t.app, org, 500, 7).await.unwrap(), 500);
    assert_eq!(dayi_store::patient::count(&t.app.db, org).await.unwrap(), before + 500);
    if let dayi_store::Db::Postgres(pool) = &t.app.db {
        // ANALYZE writes the row estimate into the catalogue at once (-1 = never).
        let rows: f32 = sqlx::query_scalar("SELECT reltuples FROM pg_class WHERE relname = 'patient'")
            .fetch_one(pool)
            .await
            .unwrap();
        assert!(rows >= (before + 500) as f32, "planner sees {rows} patients after the bulk load");
    }
}
