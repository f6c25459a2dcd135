//! FHIR R4 Practitioner, PractitionerRole, Organization and Location over
//! HTTP, mapped from the demo county hospital's staff accounts, departments
//! and the consulting rooms its rosters name; the references other
//! resources now carry (Encounter, Schedule) resolve to them. Every resource
//! received passes the official R4 JSON Schema and python's `fhir.resources`
//! (`DAYI_REQUIRE_FHIR_CLIENT=1` makes that required).

use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::fhir::{encode, external_parse, fhir, fhir_python, token_for};
use crate::fhir_visit::{link, read, search};
use crate::harness::{ORG, Session, TestApp};
use crate::queue::{ROOM, dept, org, staff_id};
use crate::visit::called_visit;

crate::on_both!(fhir_directory_read_and_search, fhir_directory_refusals_are_operation_outcomes);

const SID: &str = "https://dayi.org.cn/fhir/sid";
const CS: &str = "https://dayi.org.cn/fhir/CodeSystem";
const ORG_TYPE: &str = "http://terminology.hl7.org/CodeSystem/organization-type";

/// The demo county's accounts that hold a work role: all but the three
/// security duties and the check-in kiosk.
const PEOPLE: &[&str] = &[
    "reg01", "triage01", "doc01", "doc02", "lab01", "lab02", "ward01", "ins01", "ph01", "svc01", "qc01", "director",
    "party",
];

/// Every page of a search, following `next`: the ids and the bundles.
async fn all_pages(s: &Session, first: &str) -> (Vec<String>, Vec<Value>) {
    let (mut ids, mut bundles, mut at) = (vec![], vec![], Some(first.to_string()));
    while let Some(path) = at {
        let (_, page, b) = search(s, &path).await;
        ids.extend(page);
        at = link(&b, "next");
        bundles.push(b);
    }
    (ids, bundles)
}

async fn ids_of(s: &Session, path: &str) -> Vec<String> {
    let mut ids = search(s, path).await.1;
    ids.sort();
    ids
}

async fn fhir_directory_read_and_search(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let lab = t.as_user("lab01").await;
    let mut seen: Vec<Value> = vec![];
    let org_id = org(t).await.to_string();
    let (doc01, lab02) = (staff_id(t, "doc01").await, staff_id(t, "lab02").await);
    let mut people = vec![];
    for u in PEOPLE {
        people.push(staff_id(t, u).await);
    }
    people.sort();

    // a Practitioner: the work number under the hospital's namespace, the name split
    let p = read(&lab, &format!("/fhir/Practitioner/{doc01}")).await;
    assert_eq!((p["resourceType"].as_str(), p["id"].as_str()), (Some("Practitioner"), Some(doc01.as_str())));
    let id = &p["identifier"][0];
    assert_eq!((id["system"].as_str(), id["value"].as_str()), (Some(&*format!("{SID}/staff/{ORG}")), Some("doc01")));
    assert_eq!(id["type"]["coding"][0]["code"], "EI");
    assert_eq!(id["assigner"]["reference"], format!("Organization/{org_id}"));
    assert_eq!(p["name"][0]["text"], "王建国");
    assert_eq!((p["name"][0]["family"].as_str(), p["name"][0]["given"][0].as_str()), (Some("王"), Some("建国")));
    assert_eq!(p["active"], true);
    assert!(p.get("telecom").is_none(), "staff records hold no phone");
    seen.push(p.clone());

    // Practitioner search: everyone at work, a page at a time
    let (mut ids, pages) = all_pages(&doc, "/fhir/Practitioner?active=true&_count=5").await;
    assert_eq!(pages.len(), 3);
    assert!(pages.iter().all(|b| b["total"] == PEOPLE.len()), "{:?}", pages[0]);
    assert!(link(&pages[0], "previous").is_none() && link(&pages[1], "previous").is_some());
    ids.sort();
    assert_eq!(ids, people, "no security duty or kiosk among them");
    seen.extend(pages);
    let staff = |q: &str| format!("/fhir/Practitioner?{q}");
    let by_id = encode(&format!("{SID}/staff/{ORG}|doc01"));
    for (q, want) in [
        (format!("identifier={by_id}"), vec![doc01.clone()]),
        ("identifier=doc01".into(), vec![doc01.clone()]),
        (format!("identifier={}", encode(&format!("{SID}/staff/other|doc01"))), vec![]),
        (format!("name={}", encode("王")), vec![doc01.clone()]),
        (format!("name={}", encode("建国")), vec![doc01.clone()]),
        (format!("name={}", encode("孙")), vec![lab02.clone()]),
        (format!("_id={doc01}"), vec![doc01.clone()]),
        (format!("_id={doc01}&name={}", encode("孙")), vec![]),
        ("active=false".into(), vec![]),
    ] {
        assert_eq!(ids_of(&doc, &staff(&q)).await, want, "{q}");
    }
    let (total, shown, empty) = search(&doc, &staff("_count=0")).await;
    assert_eq!((total as usize, shown.len()), (PEOPLE.len(), 0));
    seen.push(empty);

    // a PractitionerRole: the roles and the department
    let (dept03, dept50) = (dept(t, "03").await, dept(t, "50").await);
    let r = read(&doc, &format!("/fhir/PractitionerRole/{doc01}")).await;
    assert_eq!(r["practitioner"]["reference"], format!("Practitioner/{doc01}"));
    assert_eq!(r["practitioner"]["display"], "王建国");
    assert_eq!(r["organization"]["reference"], format!("Organization/{dept03}"));
    let role = &r["code"][0]["coding"][0];
    assert_eq!((role["system"].as_str(), role["code"].as_str()), (Some(&*format!("{CS}/staff-role")), Some("doctor")));
    assert_eq!(role["display"], "医生");
    let specialty = &r["specialty"][0]["coding"][0];
    assert_eq!((specialty["code"].as_str(), specialty["display"].as_str()), (Some("03"), Some("内科")));
    seen.push(r);
    let roles = |q: &str| format!("/fhir/PractitionerRole?{q}");
    let mut doctors = vec![doc01.clone(), staff_id(t, "doc02").await];
    doctors.sort();
    let mut in_03 = vec![staff_id(t, "triage01").await, doc01.clone(), staff_id(t, "ward01").await];
    in_03.sort();
    for (q, want) in [
        ("role=doctor".to_string(), doctors.clone()),
        (format!("role={}", encode(&format!("{CS}/staff-role|doctor"))), doctors),
        (format!("role=lab_tech&practitioner=Practitioner/{lab02}"), vec![lab02.clone()]),
        (format!("organization=Organization/{dept03}"), in_03),
        ("specialty=50".into(), vec![staff_id(t, "doc02").await]),
        (format!("specialty=50&organization={dept50}&role=lab_tech"), vec![]),
    ] {
        assert_eq!(ids_of(&doc, &roles(&q)).await, want, "{q}");
    }
    let (_, _, by_role) = search(&doc, &roles("role=doctor")).await;
    seen.push(by_role);

    // Organizations: the hospital and its departments, part of it
    let h = read(&doc, &format!("/fhir/Organization/{org_id}")).await;
    assert_eq!(h["identifier"][0]["system"], format!("{SID}/org"));
    assert_eq!(h["identifier"][0]["value"], ORG);
    assert_eq!(h["type"][0]["coding"][0]["code"], "prov");
    assert!(h.get("partOf").is_none());
    let d = read(&doc, &format!("/fhir/Organization/{dept03}")).await;
    assert_eq!((d["name"].as_str(), d["active"].as_bool()), (Some("内科"), Some(true)));
    assert_eq!(d["identifier"][0]["system"], format!("{SID}/dept/{ORG}"));
    assert_eq!(d["identifier"][0]["value"], "03");
    assert_eq!(d["type"][0]["coding"][0]["code"], "dept");
    assert_eq!(d["type"][0]["coding"][1]["code"], "clinical");
    assert_eq!(d["partOf"]["reference"], format!("Organization/{org_id}"));
    seen.extend([h.clone(), d]);
    let depts = dayi_store::tenancy::list_depts(&t.app.db, org(t).await).await.unwrap();
    let units = |q: &str| format!("/fhir/Organization?{q}");
    let (total, _, all) = search(&doc, &units("")).await;
    assert_eq!(total as usize, depts.len() + 1);
    assert_eq!(all["entry"][0]["resource"], h, "the hospital first");
    seen.push(all);
    for (q, n) in [
        ("type=dept".to_string(), depts.len()),
        (format!("type={}", encode(&format!("{ORG_TYPE}|prov"))), 1),
        (
            format!("type={}", encode(&format!("{CS}/dept-kind|medtech"))),
            depts.iter().filter(|d| d.kind == "medtech").count(),
        ),
        (format!("partof=Organization/{org_id}"), depts.len()),
        (format!("identifier={}", encode(&format!("{SID}/org|{ORG}"))), 1),
        ("active=true".into(), depts.len() + 1),
    ] {
        assert_eq!(search(&doc, &units(&q)).await.0 as usize, n, "{q}");
    }
    let by_code = format!("identifier={}", encode(&format!("{SID}/dept/{ORG}|03")));
    assert_eq!(ids_of(&doc, &units(&by_code)).await, vec![dept03.clone()]);
    assert_eq!(ids_of(&doc, &units(&format!("name={}", encode("内科")))).await, vec![dept03.clone()]);

    // a visit now names its doctor and department by reference, and both resolve
    let (vid, _) = called_visit(t, 0).await;
    let e = read(&doc, &format!("/fhir/Encounter/{vid}")).await;
    assert_eq!(e["participant"][0]["individual"]["reference"], format!("Practitioner/{doc01}"));
    assert_eq!(e["participant"][0]["individual"]["display"], "王建国");
    assert_eq!(e["serviceProvider"]["reference"], format!("Organization/{dept03}"));
    assert_eq!(e["serviceProvider"]["identifier"]["value"], "03", "the department code stays");
    for reference in [&e["participant"][0]["individual"]["reference"], &e["serviceProvider"]["reference"]] {
        read(&doc, &format!("/fhir/{}", reference.as_str().unwrap())).await;
    }
    seen.push(e);

    // Locations: the rooms the rosters name, by department
    let (total, _, rooms) = search(&doc, "/fhir/Location?status=active,inactive").await;
    let names: Vec<&str> =
        rooms["entry"].as_array().unwrap().iter().map(|e| e["resource"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["专家诊室", "中医科诊室", "内科1诊室", ROOM], "by name, in code point order");
    assert_eq!(total, 4);
    seen.push(rooms.clone());
    let places = |q: &str| format!("/fhir/Location?{q}");
    let (_, ids, named) = search(&doc, &places(&format!("name={}", encode("内科9")))).await;
    assert_eq!(ids.len(), 1);
    let room = &named["entry"][0]["resource"];
    assert_eq!((room["name"].as_str(), room["status"].as_str()), (Some(ROOM), Some("active")));
    assert_eq!(room["physicalType"]["coding"][0]["code"], "ro");
    assert_eq!(room["managingOrganization"]["reference"], format!("Organization/{dept03}"));
    assert_eq!(read(&doc, &format!("/fhir/Location/{}", ids[0])).await, *room);
    for (q, n) in [
        (format!("organization=Organization/{dept03}"), 3),
        (format!("organization={dept50}"), 1),
        (format!("organization={org_id}"), 0),
        ("status=active".into(), 4),
        ("status=inactive".into(), 0),
        (format!("_id={}", ids[0]), 1),
        ("_count=1".into(), 1),
    ] {
        assert_eq!(search(&doc, &places(&q)).await.1.len(), n, "{q}");
    }
    // the session's room in its Schedule is that Location
    let (_, _, schedules) =
        search(&doc, &format!("/fhir/Schedule?actor:identifier=03&date={}", dayi_core::timefmt::today_cst())).await;
    let actors: Vec<&Value> = schedules["entry"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["resource"]["actor"].as_array().unwrap())
        .collect();
    let at_room = actors.iter().find(|a| a["display"] == ROOM).unwrap_or_else(|| panic!("{schedules}"));
    assert_eq!(at_room["reference"], format!("Location/{}", ids[0]));
    let doctor = actors.iter().find(|a| a["type"] == "Practitioner").unwrap();
    assert_eq!(doctor["reference"], format!("Practitioner/{doc01}"));
    seen.push(schedules);

    let Some(python) = fhir_python() else { return };
    for v in &seen {
        let kind = v["resourceType"].as_str().unwrap();
        external_parse(&python, &kind.to_lowercase(), kind, v);
    }
}

async fn fhir_directory_refusals_are_operation_outcomes(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let mut outcomes = vec![];
    let nobody = Uuid::now_v7();
    let secadmin = staff_id(t, "secadmin").await;
    let kiosk = staff_id(t, "kiosk01").await;

    // unknown records, and accounts that are not in the directory
    for path in [
        format!("/fhir/Practitioner/{nobody}"),
        "/fhir/Practitioner/abc".into(),
        format!("/fhir/Practitioner/{secadmin}"),
        format!("/fhir/PractitionerRole/{kiosk}"),
        format!("/fhir/Organization/{nobody}"),
        format!("/fhir/Location/{nobody}"),
        "/fhir/Location/abc".into(),
    ] {
        let (status, b) = fhir(doc.get(&path).await).await;
        assert_eq!((status, b["issue"][0]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not-found")), "{path}: {b}");
        outcomes.push(b);
    }
    // another organisation's hospital is not ours to show
    let other = dayi_app::tenancy::list_orgs(&t.app).await.unwrap().into_iter().find(|o| o.code != ORG).unwrap();
    let (status, _) = fhir(doc.get(&format!("/fhir/Organization/{}", other.org_id)).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // parameters refused with the reason in Chinese; unknown ones ignored
    for (path, says) in [
        ("/fhir/Practitioner?name:contains=王".to_string(), "修饰符"),
        ("/fhir/Practitioner?active=yes".into(), "active"),
        ("/fhir/Practitioner?_count=-1".into(), "_count"),
        ("/fhir/PractitionerRole?practitioner=Patient/x".into(), "Practitioner/{id}"),
        ("/fhir/Organization?partof=abc".into(), "Organization/{id}"),
        ("/fhir/Location?status=closed".into(), "status"),
        ("/fhir/Location?_offset=x".into(), "_offset"),
    ] {
        let (status, b) = fhir(doc.get(&path).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {b}");
        let diag = b["issue"][0]["diagnostics"].as_str().unwrap();
        assert!(diag.contains(says), "{path}: {diag}");
        outcomes.push(b);
    }
    assert_eq!(search(&doc, "/fhir/Practitioner?_sort=name").await.0 as usize, PEOPLE.len());

    // a check-in kiosk's token is refused, an anonymous caller sent to sign in
    let kiosk_token = token_for(t, "kiosk01").await;
    for kind in ["Practitioner", "PractitionerRole", "Organization", "Location"] {
        for path in [format!("/fhir/{kind}"), format!("/fhir/{kind}/{nobody}")] {
            let r = t.client().get(t.at(&path)).bearer_auth(&kiosk_token).send().await.unwrap();
            let (status, b) = fhir(r).await;
            assert_eq!((status, b["issue"][0]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{path}");
            assert!(b["issue"][0]["diagnostics"].as_str().unwrap().contains("console"), "{b}");
            let (status, _) = fhir(t.client().get(t.at(&path)).send().await.unwrap()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            outcomes.push(b);
        }
    }

    // the capability statement lists the four with their parameters
    let (_, m) = fhir(t.client().get(t.at("/fhir/metadata")).send().await.unwrap()).await;
    let resources = m["rest"][0]["resource"].as_array().unwrap();
    for (kind, want) in [
        ("Practitioner", &["_id", "identifier", "name", "active"][..]),
        ("PractitionerRole", &["_id", "practitioner", "organization", "role", "specialty", "active"]),
        ("Organization", &["_id", "identifier", "name", "type", "partof", "active"]),
        ("Location", &["_id", "name", "organization", "status"]),
    ] {
        let r = resources.iter().find(|r| r["type"] == kind).unwrap_or_else(|| panic!("{kind} in {m}"));
        let params: Vec<&str> =
            r["searchParam"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(params, want, "{kind}");
    }

    let Some(python) = fhir_python() else { return };
    external_parse(&python, "capabilitystatement", "CapabilityStatement", &m);
    for b in &outcomes {
        external_parse(&python, "operationoutcome", "OperationOutcome", b);
    }
}
