//! `GET /fhir/metadata`: what this server does, for clients to discover.
//! Public, as FHIR clients ask before they sign in.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{FHIR_VERSION, MEDIA_TYPE, json};

pub async fn capabilities() -> Response {
    json(StatusCode::OK, &statement())
}

/// The extension that names a search's required and optional parameters.
pub const COMBINATION: &str =
    "http://hl7.org/fhir/StructureDefinition/capabilitystatement-search-parameter-combination";

/// Per type, the parameters that select: a search that names any parameter
/// must name one of these, since the others only narrow and alone would read
/// every record for each page. Types not listed serve every parameter alone.
const SELECTING: &[(&str, &[&str])] = &[
    ("Patient", &["identifier", "name", "phone"]),
    ("Slot", &["schedule"]),
    ("Appointment", &["patient"]),
    ("Encounter", &["patient", "subject", "_id"]),
    ("Condition", &["patient", "subject", "encounter", "_id"]),
    ("ServiceRequest", &["patient", "subject", "encounter", "_id"]),
    ("MedicationRequest", &["patient", "subject", "encounter", "_id"]),
    ("Observation", &["patient", "subject", "encounter", "_id"]),
    ("CarePlan", &["patient", "subject", "_id"]),
    ("DiagnosticReport", &["patient", "subject", "encounter", "_id"]),
];

/// What every type says of a search with no parameter.
const WALK: &str = "不带检索参数（或只带 _count、_total）时按 id 顺序逐页列出全部记录：翻页用 Bundle.link 的 next（其中 _cursor 为上一页最后一条的 id），首页给出总数（_total=accurate 时每页都给，_total=none 时不给）";

/// Declares what each type requires: one combination per selecting
/// parameter (the others optional), and the narrowing parameters' need in
/// their own documentation.
fn declare_required(r: &mut serde_json::Value) {
    let kind = r["type"].as_str().unwrap_or_default().to_string();
    let doc = r["documentation"].as_str().unwrap_or_default().trim_end_matches('。').to_string();
    r["documentation"] = json!(format!("{doc}。{WALK}。"));
    let Some((_, selecting)) = SELECTING.iter().find(|(k, _)| *k == kind) else { return };
    let params = r["searchParam"].as_array_mut().map(std::mem::take).unwrap_or_default();
    let names: Vec<String> = params.iter().filter_map(|p| p["name"].as_str().map(String::from)).collect();
    let combos: Vec<serde_json::Value> = selecting
        .iter()
        .map(|s| {
            let mut parts = vec![json!({ "url": "required", "valueString": s })];
            let others = names.iter().filter(|n| !selecting.contains(&n.as_str()));
            parts.extend(others.map(|n| json!({ "url": "optional", "valueString": n })));
            json!({ "url": COMBINATION, "extension": parts })
        })
        .collect();
    r["extension"] = json!(combos);
    let need = format!("须与 {} 之一组合使用", selecting.join("、"));
    let params: Vec<serde_json::Value> = params
        .into_iter()
        .map(|mut p| {
            let narrows = !selecting.contains(&p["name"].as_str().unwrap_or_default());
            let doc = p["documentation"].as_str().unwrap_or_default().to_string();
            if narrows && !doc.contains("须与") {
                p["documentation"] = json!(format!("{doc}；{need}"));
            }
            p
        })
        .collect();
    r["searchParam"] = json!(params);
}

/// The statement itself; `params` reads each type's search parameters from it.
pub fn statement() -> serde_json::Value {
    let resources = [booking(), clinical(), directory()].concat();
    let mut body = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": dayi_core::timefmt::today_cst().to_string(),
        "publisher": "Dayi",
        "kind": "instance",
        "software": { "name": "Dayi 大医", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "Dayi 县域医院信息系统 FHIR R4 接口" },
        "fhirVersion": FHIR_VERSION,
        "format": [MEDIA_TYPE, "json"],
        "rest": [{
            "mode": "server",
            "documentation": "需登录：会话（写操作带 X-CSRF-Token）或接口令牌（Authorization: Bearer）。证件号码和电话以脱敏形式返回。各类检索均支持 _summary=count（只返回总数）和 searchInclude 所列的 _include；未列出的检索参数默认忽略并在结果中提示，请求头 Prefer: handling=strict 时返回 400。不带检索参数的检索按 id 顺序逐页列出该类全部记录（next 链接带 _cursor，游标翻页，新增记录也只出现一次）；只给缩小范围的参数而没有各类型要求的参数（见 capabilitystatement-search-parameter-combination 扩展）时返回 400 too-costly。经 transaction/batch 或 dayi import fhir 导入的院外记录按原样保存（引用改为本系统 id），Encounter、Condition、Observation、DiagnosticReport 的 read 也返回它们，带 meta.tag outside（院外记录）。",
            "security": {
                "description": "接口令牌（Authorization: Bearer dayi_…）或登录会话；权限 patient.read / patient.write；就诊、诊断、医嘱与检验结果需 clinical；工作人员、科室与诊室需 console（任一工作人员角色）",
            },
            "interaction": [
                { "code": "transaction", "documentation": "POST /fhir：全部成功或全部不写入；条目用 POST 新建，相互以 fullUrl 引用" },
                { "code": "batch", "documentation": "POST /fhir：逐条处理，各条目分别返回结果" },
            ],
            "resource": resources,
        }],
    });
    for r in body["rest"][0]["resource"].as_array_mut().into_iter().flatten() {
        let includes = super::params::includes_of(r["type"].as_str().unwrap_or_default());
        if !includes.is_empty() {
            r["searchInclude"] = json!(includes);
        }
        declare_required(r);
    }
    body
}

fn param(name: &str, kind: &str, doc: &str) -> Value {
    json!({ "name": name, "type": kind, "documentation": doc })
}

/// A type other systems read and search, and do not write.
fn read_search(kind: &str, doc: &str, params: Vec<Value>) -> Value {
    json!({
        "type": kind,
        "documentation": doc,
        "interaction": [{ "code": "read" }, { "code": "search-type" }],
        "versioning": "no-version",
        "searchParam": params,
    })
}

/// The parameters of a type searched by patient (and visit), one of which
/// must be given.
fn by_patient(encounter: bool, id_doc: &str) -> Vec<Value> {
    let named = if encounter { "patient、subject、encounter、_id" } else { "patient、subject、_id" };
    let mut v = vec![
        param("patient", "reference", &format!("Patient/{{id}}；{named} 至少给出一个")),
        param("subject", "reference", "同 patient"),
    ];
    if encounter {
        v.push(param("encounter", "reference", "Encounter/{id}"));
    }
    v.push(param("_id", "token", id_doc));
    v
}

fn paging() -> String {
    format!(
        "_count 为每页条数（默认 {}，最多 {}），翻页用 Bundle.link 的 next / previous",
        super::visit_search::DEFAULT_COUNT,
        dayi_app::visit::query::MAX_PAGE
    )
}

/// Patients and their appointments.
fn booking() -> Vec<Value> {
    let dept = super::schedule::dept_system("{机构代码}");
    let dept_doc = format!("仅支持 actor:identifier=[system|]科室代码，system 为 {dept}");
    vec![
        json!({
                    "type": "Patient",
                    "documentation": "更新（PUT）须带 If-Match: W/\"versionId\"（缺少时 428，版本不符时 412）；就诊卡号、电子健康卡由本院分配，更新时忽略；原样送回的脱敏值表示不修改。其他系统的标识（本院证件以外的 system，或未注明 system）原样保存并可检索，同一 system 下一个标识只属于一位患者（重复时 409）；更新时以所送为准",
                    "interaction": [{ "code": "read" }, { "code": "search-type" }, { "code": "create" }, { "code": "update" }],
                    "versioning": "versioned-update",
                    "readHistory": false,
                    "updateCreate": false,
                    "searchParam": [
                        param("identifier", "token", "system|value 精确匹配：居民身份证号、电子健康卡、就诊卡号，以及其他系统的标识（外院病案号等，建档时原样保存）；只给 value 时匹配任一系统，|value 匹配未注明系统的标识"),
                        param("name", "string", "汉字姓名（前缀）、拼音全拼或首字母"),
                        param("phone", "token", "11 位手机号"),
                        param("birthdate", "date", "须与 name、identifier 或 phone 组合使用"),
                        param("gender", "token", "male | female | other | unknown；须与 name、identifier 或 phone 组合使用"),
                        param("_lastUpdated", "date", "最后修改日（北京时间），前缀 eq ne gt lt ge le；须与 name、identifier 或 phone 组合使用"),
                    ],
        }),
        read_search(
            "Schedule",
            "出诊：一位医生在一个科室的半天门诊。serviceType 为号别（普通/专家/特需）",
            vec![
                param(
                    "date",
                    "date",
                    "出诊日期，前缀 eq ge gt le lt；带其他参数而未给出时为今天起 8 天，跨度最多 92 天",
                ),
                param("actor", "reference", &dept_doc),
                param("service-type", "token", "号别：general | expert | special"),
                param("active", "token", "true 出诊 | false 停诊"),
            ],
        ),
        read_search(
            "Slot",
            "号源：出诊的每个号，id 为 {出诊 id}-{号序}；加号为 overbooked",
            vec![
                param("schedule", "reference", "必填：Schedule/{id}"),
                param("status", "token", "free | busy | busy-unavailable（停诊）"),
            ],
        ),
        read_search(
            "Appointment",
            "预约/挂号；identifier 为挂号流水号。查阅记入审计日志",
            vec![
                param("patient", "reference", "必填：Patient/{id}；返回昨天及以后的预约（最多 100 个）"),
                param("status", "token", "booked | arrived（已签到）| cancelled（含停诊退号）| noshow"),
            ],
        ),
    ]
}

/// Visits, diagnoses, orders, results and care plans.
fn clinical() -> Vec<Value> {
    let paging = paging();
    let code_doc = format!(
        "[system|]诊断编码，system 为 {}（ICD-10 国家临床版 2.0）、{}（医保版 2.0）或 {}（GB/T 15657 中医病证）",
        super::condition::icd10_clinical(),
        super::condition::icd10_insurance(),
        super::condition::tcm_system()
    );
    vec![
        read_search(
            "Encounter",
            &format!("门诊就诊：diagnosis 按主要诊断排第 1；需门诊诊疗权限（clinical），查阅记入审计日志。{paging}"),
            [by_patient(false, "就诊 id"), vec![
                param("status", "token", "in-progress（接诊中）| finished（已完成）"),
                param("date", "date", "就诊日期，前缀 eq ge gt le lt"),
            ]]
            .concat(),
        ),
        read_search(
            "Condition",
            &format!("门诊诊断（西医与中医）；id 为 {{就诊 id}}-{{诊断序号}}，就诊完成后不再变化。{paging}"),
            [by_patient(true, "{就诊 id}-{诊断序号}"), vec![
                param("code", "token", &code_doc),
                param("clinical-status", "token", "active（门诊诊断均为 active）"),
            ]]
            .concat(),
        ),
        read_search(
            "ServiceRequest",
            &format!("检验、检查、治疗和中医适宜技术医嘱；扩展 order-status 为本系统医嘱状态（待缴费/已缴费/已执行/已撤销/已退费）。{paging}"),
            [by_patient(true, "医嘱 id"), vec![
                param("status", "token", "active（待缴费、已缴费）| completed（已执行）| revoked（已撤销、已退费）"),
                param("code", "token", &format!("[system|]项目编码，system 为 {}", super::request::service_item_system())),
            ]]
            .concat(),
        ),
        read_search(
            "MedicationRequest",
            &format!("门诊处方（药品医嘱）：剂量、频次、途径、天数与发药数量；扩展 order-status 同 ServiceRequest。{paging}"),
            [by_patient(true, "医嘱 id"), vec![
                param("status", "token", "active（待缴费、已缴费）| completed（已执行）| cancelled（已撤销、已退费）"),
                param("code", "token", &format!("[system|]药品编码，system 为 {}", super::request::drug_system("{机构代码}"))),
            ]]
            .concat(),
        ),
        read_search(
            "Observation",
            &format!("检验结果：已审核发布的检验项目的当前结果（更正后为 corrected，未审核的不发布）；按录入时间倒序。{paging}"),
            [by_patient(true, "结果 id"), vec![
                param("code", "token", &format!("[system|]检验指标编码，system 为 {} 或 {}", super::observation::LOINC, super::observation::item_system("{机构代码}"))),
                param("date", "date", "结果录入日期，前缀 eq ge gt le lt"),
                param("category", "token", &format!("laboratory（检验）| vital-signs（慢病随访的血压、心率、体重、BMI、空腹血糖与 LDL-C，按患者检索；id 为 {{随访 id}}-{{bp|hr|weight|bmi|fbg|ldl}}）；system 为 {}", super::observation::OBSERVATION_CATEGORY)),
                param("status", "token", "final（已发布）| corrected（更正后重新发布）"),
            ]]
            .concat(),
        ),
        read_search(
            "CarePlan",
            &format!("慢病管理档案（三高共管：高血压、2型糖尿病、血脂异常，每病种一份）：activity 为下次随访（scheduled）和历次随访（completed，outcome 为随访分类，outcomeReference 指向各项测量的 Observation）。{paging}"),
            [by_patient(false, "档案 id"), vec![
                param("status", "token", "active（管理中）| completed（已结案）"),
                param("category", "token", &format!("[system|]htn | t2dm | lipid，system 为 {}", super::careplan::programme_system())),
            ]]
            .concat(),
        ),
        read_search(
            "DiagnosticReport",
            &format!("检验报告：一项已审核的检验医嘱（项目组合），id 同 ServiceRequest，result 为其各项结果；按审核时间倒序。{paging}"),
            [by_patient(true, "检验医嘱 id"), vec![
                param("code", "token", &format!("[system|]检验项目组合编码，system 为 {}", super::observation::panel_system("{机构代码}"))),
                param("date", "date", "标本采集日期，前缀 eq ge gt le lt"),
                param("category", "token", &format!("LAB（system 为 {}）", super::report::V2_0074)),
                param("status", "token", "final（已发布）| corrected（含更正后重新发布的结果）"),
            ]]
            .concat(),
        ),
    ]
}

/// The hospital's staff, departments and rooms.
fn directory() -> Vec<Value> {
    let dept = super::schedule::dept_system("{机构代码}");
    let directory = format!("重复的参数取交集，逗号分隔的值取并集。{}", paging());
    vec![
        read_search(
            "Practitioner",
            &format!("本院工作人员（不含安全、审计管理员与自助机账号）；需登录的工作人员（console）。{directory}"),
            vec![
                param("_id", "token", "工作人员账号 id"),
                param(
                    "identifier",
                    "token",
                    &format!("[system|]工号，system 为 {}", super::practitioner::staff_system("{机构代码}")),
                ),
                param("name", "string", "姓名、姓或名的前缀"),
                param("active", "token", "true 在用 | false 已停用"),
            ],
        ),
        read_search(
            "PractitionerRole",
            &format!("工作人员的角色与所在科室，id 同 Practitioner。{directory}"),
            vec![
                param("_id", "token", "工作人员账号 id"),
                param("practitioner", "reference", "Practitioner/{id}"),
                param("organization", "reference", "Organization/{id}：所在科室（未分科室的为本院）"),
                param(
                    "role",
                    "token",
                    &format!(
                        "[system|]角色，system 为 {}，如 doctor、lab_tech",
                        super::practitioner_role::role_system()
                    ),
                ),
                param(
                    "specialty",
                    "token",
                    &format!(
                        "[system|]科室代码，system 为 {}",
                        super::practitioner_role::specialty_system("{机构代码}")
                    ),
                ),
                param("active", "token", "true | false"),
            ],
        ),
        read_search(
            "Organization",
            &format!("本院（type prov）及其科室（type dept，partOf 本院）。{directory}"),
            vec![
                param("_id", "token", "机构或科室 id"),
                param(
                    "identifier",
                    "token",
                    &format!(
                        "[system|]代码，system 为 {}（机构代码）或 {dept}（科室代码）",
                        super::organization::org_system()
                    ),
                ),
                param("name", "string", "名称前缀"),
                param(
                    "type",
                    "token",
                    &format!(
                        "prov | dept（system 为 {}），或 {} / {} 的机构、科室类别",
                        super::organization::ORGANIZATION_TYPE,
                        super::organization::org_kind_system(),
                        super::organization::dept_kind_system()
                    ),
                ),
                param("partof", "reference", "Organization/{本院 id}：本院的科室"),
                param("active", "token", "true | false"),
            ],
        ),
        read_search(
            "Location",
            &format!("诊室：排班中出现的诊室，按科室区分；在用的周排班或今天起的出诊用到时为 active。{directory}"),
            vec![
                param("_id", "token", "诊室 id"),
                param("name", "string", "诊室名称前缀"),
                param("organization", "reference", "Organization/{科室 id}"),
                param("status", "token", "active（在用）| inactive（停用）"),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::http::Method;

    /// The statement names exactly the FHIR interactions the route table
    /// serves: nothing promised that is not there, nothing served unsaid.
    #[tokio::test]
    async fn the_statement_matches_the_routes() {
        let body = axum::body::to_bytes(super::capabilities().await.into_body(), usize::MAX).await.unwrap();
        let statement: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let mut said = BTreeSet::new();
        for r in statement["rest"][0]["resource"].as_array().unwrap() {
            let t = r["type"].as_str().unwrap();
            for i in r["interaction"].as_array().unwrap() {
                said.insert(match i["code"].as_str().unwrap() {
                    "read" => (Method::GET.to_string(), format!("/fhir/{t}/{{id}}")),
                    "search-type" => (Method::GET.to_string(), format!("/fhir/{t}")),
                    "create" => (Method::POST.to_string(), format!("/fhir/{t}")),
                    "update" => (Method::PUT.to_string(), format!("/fhir/{t}/{{id}}")),
                    other => panic!("an interaction the test does not know: {other}"),
                });
            }
        }
        for i in statement["rest"][0]["interaction"].as_array().unwrap() {
            assert!(matches!(i["code"].as_str(), Some("transaction" | "batch")));
            said.insert((Method::POST.to_string(), "/fhir".to_string()));
        }
        let served: BTreeSet<(String, String)> = crate::routes::specs()
            .into_iter()
            .filter(|s| s.path.starts_with("/fhir") && s.path != "/fhir/metadata")
            .map(|s| (s.method.to_string(), s.path.to_string()))
            .collect();
        assert_eq!(said, served);
    }
}
