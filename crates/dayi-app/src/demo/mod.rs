//! The demo county medical community (县域医共体) created by `dayi demo`:
//! a county hospital, two township health centres and a village clinic in
//! 汶上县 (GB/T 2260 370830), with departments and one account per role.

use dayi_core::DomainError;
use dayi_core::security::{Role, Roles};
use dayi_core::timefmt::now_micros;
use dayi_store::staff::Staff;
use dayi_store::tenancy::{Dept, Org};

pub mod chronic;
pub mod people;
pub mod queue;

use crate::tenancy::{NewOrg, create_org};
use crate::{App, OrInternal, auth, new_id};

/// The initial password of every demo account (printed by `dayi demo`).
pub const DEMO_PASSWORD: &str = "dayi2026";

/// One demo account, for printing.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub org_code: String,
    pub org_name: String,
    pub username: String,
    pub name: String,
    pub roles: String,
}

const COUNTY_DEPTS: &[(&str, &str, &str)] = &[
    ("01", "预防保健科", "clinical"),
    ("02", "全科医疗科", "clinical"),
    ("03", "内科", "clinical"),
    ("04", "外科", "clinical"),
    ("05", "妇产科", "clinical"),
    ("07", "儿科", "clinical"),
    ("20", "急诊医学科", "clinical"),
    ("50", "中医科", "clinical"),
    ("FR01", "发热门诊", "clinical"),
    ("30", "医学检验科", "medtech"),
    ("32", "医学影像科", "medtech"),
    ("YJ01", "药剂科", "medtech"),
    ("XX01", "信息科", "admin"),
    ("YB01", "医保办", "admin"),
    ("ZK01", "质控科", "admin"),
    ("KF01", "客服中心", "admin"),
    ("YB02", "院办", "admin"),
    ("DW01", "党委办公室", "admin"),
];

const TOWNSHIP_DEPTS: &[(&str, &str, &str)] = &[
    ("01", "预防保健科", "clinical"),
    ("02", "全科医疗科", "clinical"),
    ("03", "内科", "clinical"),
    ("50", "中医科", "clinical"),
    ("20", "急诊医学科", "clinical"),
    ("FR01", "发热哨点诊室", "clinical"),
    ("30", "检验科", "medtech"),
    ("YB01", "医保办", "admin"),
    ("XX01", "信息科", "admin"),
];

const VILLAGE_DEPTS: &[(&str, &str, &str)] = &[("02", "全科诊室", "clinical")];

/// (username, name, dept code, role)
const COUNTY_STAFF: &[(&str, &str, &str, Role)] = &[
    ("admin", "刘信息", "XX01", Role::Admin),
    ("secadmin", "孙安全", "XX01", Role::SecurityAdmin),
    ("auditor", "周审计", "XX01", Role::AuditAdmin),
    ("reg01", "赵挂号", "KF01", Role::Registrar),
    ("triage01", "钱分诊", "03", Role::TriageNurse),
    ("doc01", "王建国", "03", Role::Doctor),
    ("doc02", "李中医", "50", Role::Doctor),
    ("lab01", "吴检验", "30", Role::LabTech),
    ("lab02", "孙审核", "30", Role::LabTech),
    ("ward01", "郑护士", "03", Role::WardNurse),
    ("ins01", "冯医保", "YB01", Role::InsuranceOfficer),
    ("ph01", "陈公卫", "01", Role::PublicHealth),
    ("svc01", "褚客服", "KF01", Role::ServiceCentre),
    ("qc01", "卫质控", "ZK01", Role::QualityOfficer),
    ("director", "蒋院长", "YB02", Role::Director),
    ("party", "沈书记", "DW01", Role::PartySecretary),
    ("kiosk01", "门诊自助签到机", "KF01", Role::Kiosk),
];

const CIQIU_STAFF: &[(&str, &str, &str, Role)] = &[
    ("admin", "韩信息", "XX01", Role::Admin),
    ("secadmin", "曹安全", "XX01", Role::SecurityAdmin),
    ("auditor", "严审计", "XX01", Role::AuditAdmin),
    ("reg01", "杨挂号", "02", Role::Registrar),
    ("triage01", "朱分诊", "03", Role::TriageNurse),
    ("doc01", "秦全科", "02", Role::Doctor),
    ("doc02", "金中医", "50", Role::Doctor),
    ("ph01", "尤公卫", "01", Role::PublicHealth),
    ("lab01", "许检验", "30", Role::LabTech),
    ("ins01", "魏医保", "YB01", Role::InsuranceOfficer),
];

const GUOLOU_STAFF: &[(&str, &str, &str, Role)] = &[
    ("admin", "陶信息", "XX01", Role::Admin),
    ("secadmin", "姜安全", "XX01", Role::SecurityAdmin),
    ("auditor", "戚审计", "XX01", Role::AuditAdmin),
    ("reg01", "谢挂号", "02", Role::Registrar),
    ("triage01", "邹分诊", "03", Role::TriageNurse),
    ("doc01", "喻全科", "02", Role::Doctor),
    ("ph01", "柏公卫", "01", Role::PublicHealth),
    ("lab01", "水检验", "30", Role::LabTech),
];

const VILLAGE_STAFF: &[(&str, &str, &str, Role)] = &[("doc01", "何村医", "02", Role::Doctor)];

/// Creates the demo community unless organisations already exist.
/// Returns the accounts created (empty when the data was already there).
pub async fn seed(app: &App) -> Result<Vec<DemoAccount>, DomainError> {
    if !dayi_store::tenancy::list_orgs(&app.db).await.or_internal()?.is_empty() {
        return Ok(vec![]);
    }
    let hash = auth::hash_password(DEMO_PASSWORD).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    let county = org(&mut tx, "wsxrmyy", "汶上县人民医院", "county_hospital", "二级甲等", None).await?;
    let ciqiu = org(&mut tx, "ciqiu", "汶上县次邱镇卫生院", "township_centre", "一级甲等", Some(&county)).await?;
    let guolou = org(&mut tx, "guolou", "汶上县郭楼镇卫生院", "township_centre", "一级甲等", Some(&county)).await?;
    let village = org(&mut tx, "ciqiu-wz", "次邱镇王庄村卫生室", "village_clinic", "村卫生室", Some(&ciqiu)).await?;
    let mut out = vec![];
    for (o, depts, staff) in [
        (&county, COUNTY_DEPTS, COUNTY_STAFF),
        (&ciqiu, TOWNSHIP_DEPTS, CIQIU_STAFF),
        (&guolou, TOWNSHIP_DEPTS, GUOLOU_STAFF),
        (&village, VILLAGE_DEPTS, VILLAGE_STAFF),
    ] {
        let mut dept_ids = std::collections::HashMap::new();
        for (code, name, kind) in depts {
            let d = Dept {
                org_id: o.org_id,
                id: new_id(),
                code: code.to_string(),
                name: name.to_string(),
                kind: kind.to_string(),
                active: true,
                created_at: now_micros(),
            };
            dayi_store::tenancy::insert_dept(&mut tx, &d).await.or_internal()?;
            dept_ids.insert(*code, d.id);
        }
        for (username, name, dept, role) in staff {
            let now = now_micros();
            let roles = Roles::new(vec![*role])?;
            let s = Staff::new(
                o.org_id,
                username.to_string(),
                name.to_string(),
                dept_ids.get(dept).copied(),
                roles.to_list(),
                hash.clone(),
                now,
            );
            dayi_store::staff::insert(&mut tx, &s).await.or_internal()?;
            out.push(DemoAccount {
                org_code: o.code.clone(),
                org_name: o.name.clone(),
                username: s.username,
                name: s.display_name,
                roles: roles.zh(),
            });
        }
    }
    for o in [&county, &ciqiu, &guolou, &village] {
        let mut e = crate::Actor::cli(o.org_id).entry(
            "setup.demo",
            "org",
            &o.code,
            None,
            dayi_core::audit::OK,
            "demo data created",
        );
        e.actor_name = "dayi demo".into();
        dayi_store::audit::append(&mut tx, o.org_id, vec![e]).await.or_internal()?;
    }
    tx.commit().await.or_internal()?;
    for o in [&county, &ciqiu, &guolou] {
        seed_patients(app, o.org_id).await?;
        seed_roster(app, o.org_id, o.code == "wsxrmyy").await?;
        seed_visit_templates(app, o.org_id).await?;
    }
    // The township hospital is the demo's 三高基地 (three-highs base).
    chronic::seed(app, ciqiu.org_id, "doc01").await?;
    Ok(out)
}

async fn org(
    tx: &mut dayi_store::Tx,
    code: &str,
    name: &str,
    kind: &str,
    tier: &str,
    parent: Option<&Org>,
) -> Result<Org, DomainError> {
    create_org(
        tx,
        &NewOrg {
            code: code.into(),
            name: name.into(),
            kind: kind.into(),
            tier: tier.into(),
            region_code: "370830".into(),
            parent_org_id: parent.map(|p| p.org_id),
        },
    )
    .await
}

/// Loads `n` generated patients into an organisation in large batches
/// (benchmarks and a realistic demo). Returns how many were inserted.
pub async fn load_patients(app: &App, org_id: uuid::Uuid, n: u64, seed: u64) -> Result<u64, DomainError> {
    const BATCH: u64 = 10_000;
    let today = dayi_core::timefmt::today_cst();
    let under = crate::policy::int(app, org_id, crate::policy::GUARDIAN_UNDER_AGE).await? as i32;
    let actor = demo_actor(org_id);
    let start = crate::patient::count_seq(app, org_id).await?;
    let mut done = 0;
    while done < n {
        let size = BATCH.min(n - done);
        let regs = (start + done..start + done + size)
            .map(|i| dayi_core::patient::validate(&people::person(i, seed, today), today, under))
            .collect::<Result<Vec<_>, _>>()?;
        done += crate::patient::bulk_insert(app, &actor, &regs).await?;
    }
    app.db.analyze("patient").await.or_internal()?;
    Ok(done)
}

fn demo_actor(org_id: uuid::Uuid) -> crate::Actor {
    let mut a = crate::Actor::cli(org_id);
    a.username = "dayi demo".into();
    a
}

/// Generated people for the seeded demo records come from far above any
/// bulk load (`load_patients` counts up from 0), so their ID numbers never collide.
const SEED_PEOPLE_FROM: u64 = 370_000_000;

/// A few patients at the counter of every demo hospital: adults with ID
/// numbers, a child with a guardian, and a likely duplicate (章三/张三, same
/// phone) for the merge worklist.
async fn seed_patients(app: &App, org_id: uuid::Uuid) -> Result<(), DomainError> {
    use dayi_core::patient::{Channel, NewPatient};
    let actor = demo_actor(org_id);
    let today = dayi_core::timefmt::today_cst();
    for i in 0..10 {
        crate::patient::register(app, &actor, &people::person(SEED_PEOPLE_FROM + i, 2026, today), Channel::Counter)
            .await?;
    }
    let zhang = NewPatient {
        name: "张三".into(),
        id_number: "370830195803129317".into(),
        phone: "13853712345".into(),
        address: "山东省济宁市汶上县中都街道政通路 8 号".into(),
        region_code: "370830".into(),
        insurance: "resident".into(),
        emergency_name: "张丽".into(),
        emergency_relation: "30".into(),
        emergency_phone: "13953754321".into(),
        ..Default::default()
    };
    crate::patient::register(app, &actor, &zhang, Channel::Counter).await?;
    let typo = NewPatient {
        name: "章三".into(),
        sex: "1".into(),
        birth_date: "1958-03-12".into(),
        phone: "13853712345".into(),
        insurance: "resident".into(),
        ..Default::default()
    };
    crate::patient::register(app, &actor, &typo, Channel::Counter).await?;
    let child = NewPatient {
        name: "王小满".into(),
        id_number: "370830201905069026".into(),
        guardian_name: "王建军".into(),
        guardian_relation: "51".into(),
        guardian_phone: "13805371234".into(),
        insurance: "resident".into(),
        ..Default::default()
    };
    crate::patient::register(app, &actor, &child, Channel::Counter).await?;
    Ok(())
}

/// Weekly rosters and the next two weeks of sessions: our own doctors every
/// day, and at the county hospital a visiting expert from Jining every
/// Wednesday (每周邀请济宁专家坐诊).
async fn seed_roster(app: &App, org_id: uuid::Uuid, county: bool) -> Result<(), DomainError> {
    let cli = crate::Actor::cli(org_id);
    let depts = dayi_store::tenancy::list_depts(&app.db, org_id).await.or_internal()?;
    let staff = dayi_store::staff::list(&app.db, org_id).await.or_internal()?;
    let dept = |code: &str| depts.iter().find(|d| d.code == code).map(|d| d.id.to_string()).unwrap_or_default();
    let doctor = |user: &str| staff.iter().find(|s| s.username == user).map(|s| s.id.to_string()).unwrap_or_default();
    // (dept, weekdays, half day, type, doctor account, name, title, visiting from, room, start, minutes, slots)
    type Row<'a> =
        (&'a str, &'a [u8], &'a str, &'a str, &'a str, &'a str, &'a str, &'a str, &'a str, &'a str, &'a str, &'a str);
    let all: &[u8] = &[1, 2, 3, 4, 5, 6, 7];
    let rows: Vec<Row> = if county {
        vec![
            ("03", all, "am", "general", "doc01", "", "主治医师", "", "内科1诊室", "08:00", "10", "24"),
            ("03", &[1, 2, 3, 4, 5], "pm", "general", "doc01", "", "主治医师", "", "内科1诊室", "14:00", "10", "18"),
            ("50", &[1, 3, 5], "am", "expert", "doc02", "", "副主任医师", "", "中医科诊室", "08:00", "15", "16"),
            (
                "03",
                &[3],
                "am",
                "expert",
                "",
                "孔维民",
                "主任医师",
                "济宁医学院附属医院",
                "专家诊室",
                "08:30",
                "15",
                "12",
            ),
        ]
    } else {
        vec![
            ("02", all, "am", "general", "doc01", "", "主治医师", "", "全科诊室", "08:00", "10", "24"),
            ("02", &[1, 2, 3, 4, 5], "pm", "general", "doc01", "", "主治医师", "", "全科诊室", "14:00", "10", "12"),
        ]
    };
    for (d, days, half, kind, user, name, title, from, room, start, minutes, slots) in rows {
        for day in days {
            let f = crate::roster::RosterForm {
                dept_id: dept(d),
                weekday: day.to_string(),
                half_day: half.into(),
                clinic_type: kind.into(),
                doctor_id: doctor(user),
                doctor_name: name.into(),
                doctor_title: title.into(),
                visiting_from: from.into(),
                room: room.into(),
                start_time: start.into(),
                slot_minutes: minutes.into(),
                slot_count: slots.into(),
                ..Default::default()
            };
            crate::roster::create_template(app, &cli, &f).await?;
        }
    }
    crate::roster::generate(app, &cli, dayi_core::timefmt::today_cst(), 2).await?;
    Ok(())
}

/// Record templates for the outpatient departments (internal and general medicine).
async fn seed_visit_templates(app: &App, org_id: uuid::Uuid) -> Result<(), DomainError> {
    let cli = crate::Actor::cli(org_id);
    let depts = dayi_store::tenancy::list_depts(&app.db, org_id).await.or_internal()?;
    // (name, chief complaint, present illness, examination, advice)
    const TEMPLATES: &[(&str, &str, &str, &str, &str)] = &[
        (
            "上呼吸道感染",
            "咽痛、流涕 天",
            "患者 天前受凉后出现咽痛、流涕，伴/不伴发热、咳嗽，无胸闷气促。",
            "咽部充血，扁桃体无肿大，双肺呼吸音清，未闻及干湿啰音。",
            "多饮水，注意休息；如高热不退、呼吸困难及时复诊。",
        ),
        (
            "高血压复诊",
            "发现血压升高 年，复诊取药",
            "规律服药，自测血压  /  mmHg，无头晕头痛、胸闷心悸。",
            "血压  /  mmHg，心率  次/分，律齐，双下肢无水肿。",
            "低盐饮食（每日食盐 < 5 g），戒烟限酒，规律运动；每月复诊，家庭自测血压。",
        ),
        (
            "2型糖尿病复诊",
            "发现血糖升高 年，复诊取药",
            "规律服药，空腹血糖  mmol/L，无多饮多尿、视物模糊、手足麻木。",
            "足背动脉搏动正常，双足皮肤完整。",
            "控制饮食，规律运动；监测血糖，每年查眼底、尿微量白蛋白。",
        ),
    ];
    for d in depts.iter().filter(|d| matches!(d.code.as_str(), "02" | "03")) {
        for (name, cc, pi, exam, advice) in TEMPLATES {
            let f = crate::visit::TemplateForm {
                dept_id: d.id.to_string(),
                name: name.to_string(),
                chief_complaint: cc.to_string(),
                present_illness: pi.to_string(),
                examination: exam.to_string(),
                advice: advice.to_string(),
            };
            crate::visit::add_template(app, &cli, &f).await?;
        }
    }
    Ok(())
}
