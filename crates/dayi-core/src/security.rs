//! Roles, permissions and the matrix between them.
//!
//! The three security duties (三权分立) are separate roles: the system
//! administrator manages organisations and accounts, the security administrator
//! manages sign-in policy, locks and tokens, and the audit administrator alone
//! reads, verifies and purges the audit log. No account may hold two of them.

use serde::{Deserialize, Serialize};

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident $(as $schema:literal)? { $( $variant:ident = ($code:literal, $zh:literal, $en:literal), )* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(into = "&'static str", try_from = "String")]
        pub enum $name { $( $variant, )* }

        impl $name {
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )* ];
            pub fn code(self) -> &'static str { match self { $( $name::$variant => $code, )* } }
            pub fn zh(self) -> &'static str { match self { $( $name::$variant => $zh, )* } }
            pub fn en(self) -> &'static str { match self { $( $name::$variant => $en, )* } }
            pub fn parse(code: &str) -> Option<Self> {
                match code { $( $code => Some($name::$variant), )* _ => None }
            }
        }
        impl From<$name> for &'static str { fn from(v: $name) -> Self { v.code() } }
        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> { Self::parse(&s).ok_or(s) }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.code()) }
        }
        // In the OpenAPI document: a string, one of the codes (what serde writes).
        impl ::utoipa::PartialSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                ::utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(::utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$( $code, )*]))
                    .into()
            }
        }
        impl ::utoipa::ToSchema for $name {
            // `as "Name"` where two enums share a type name.
            fn name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed([$($schema,)? stringify!($name)][0])
            }
        }
    };
}
pub(crate) use named_enum;

named_enum! {
    /// A staff role. An account holds one or more roles in its organisation.
    Role {
        Admin = ("admin", "系统管理员", "Administrator"),
        SecurityAdmin = ("security_admin", "安全管理员", "Security administrator"),
        AuditAdmin = ("audit_admin", "审计管理员", "Audit administrator"),
        Registrar = ("registrar", "挂号收费员", "Registrar / cashier"),
        TriageNurse = ("triage_nurse", "预检分诊护士", "Triage nurse"),
        Doctor = ("doctor", "医生", "Doctor"),
        LabTech = ("lab_tech", "检验技师", "Lab technician"),
        WardNurse = ("ward_nurse", "病区护士", "Ward nurse"),
        InsuranceOfficer = ("insurance_officer", "医保办", "Insurance office"),
        PublicHealth = ("public_health", "公卫医生", "Public-health doctor"),
        ServiceCentre = ("service_centre", "客服中心", "Service centre"),
        QualityOfficer = ("quality_officer", "质控科", "Quality office"),
        Director = ("director", "院长", "Director"),
        PartySecretary = ("party_secretary", "党委书记", "Party secretary"),
        Kiosk = ("kiosk", "自助签到机", "Check-in kiosk"),
    }
}

named_enum! {
    /// What an action needs. Checked in the application layer.
    Perm {
        Console = ("console", "工作台", "Console"),
        OrgManage = ("org.manage", "机构与科室管理", "Manage organisations and departments"),
        StaffManage = ("staff.manage", "用户管理", "Manage staff accounts"),
        SecurityManage = ("security.manage", "安全策略管理", "Manage sign-in security"),
        AuditRead = ("audit.read", "查阅审计日志", "Read the audit log"),
        AuditPurge = ("audit.purge", "清理过期审计日志", "Purge expired audit entries"),
        PatientRead = ("patient.read", "查阅患者信息", "Read patient data"),
        PatientWrite = ("patient.write", "登记/修改患者信息", "Register and edit patients"),
        PatientUnmask = ("patient.unmask", "查看完整证件号和电话", "See full ID numbers and phones"),
        PatientMerge = ("patient.merge", "合并重复患者", "Merge duplicate patients"),
        Registration = ("registration", "挂号预约", "Registration and booking"),
        CheckIn = ("checkin", "签到", "Check-in"),
        Schedule = ("schedule.manage", "排班管理", "Manage rosters"),
        Triage = ("triage", "预检分诊", "Pre-triage"),
        QueueCall = ("queue.call", "叫号", "Call patients"),
        QueueManage = ("queue.manage", "叫号规则与大屏管理", "Queue rules and screens"),
        QueueScreen = ("queue.screen", "叫号显示屏", "Queue display screens"),
        Clinical = ("clinical", "门诊诊疗", "Outpatient consultation"),
        Billing = ("billing", "收费", "Billing and payment"),
        Lab = ("lab", "检验", "Laboratory"),
        Ward = ("ward", "住院病区", "Inpatient ward"),
        Insurance = ("insurance", "医保结算", "Insurance settlement"),
        PublicHealthWork = ("public_health", "公共卫生", "Public health"),
        PublicHealthManage = ("public_health.manage", "公共卫生设置（机构级别、辖区估算）", "Public-health settings (tier, area estimates)"),
        Service = ("service", "随访与投诉", "Follow-up, satisfaction and complaints"),
        Quality = ("quality", "质量控制", "Quality control"),
        Reports = ("reports", "统计报表", "Statistics and reports"),
        Party = ("party", "党建管理", "Party building"),
        Catalog = ("catalog.manage", "目录维护", "Maintain catalogues"),
    }
}

use Perm as P;

impl Role {
    /// The permissions a role grants. The single source of the permission matrix.
    pub fn perms(self) -> &'static [Perm] {
        match self {
            Role::Admin => &[
                P::Console,
                P::OrgManage,
                P::StaffManage,
                P::Schedule,
                P::QueueManage,
                P::QueueScreen,
                P::Catalog,
                P::PublicHealthManage,
            ],
            Role::SecurityAdmin => &[P::Console, P::SecurityManage],
            Role::AuditAdmin => &[P::Console, P::AuditRead, P::AuditPurge],
            Role::Registrar => &[
                P::Console,
                P::PatientRead,
                P::PatientWrite,
                P::PatientUnmask,
                P::Registration,
                P::CheckIn,
                P::Billing,
            ],
            Role::TriageNurse => &[P::Console, P::PatientRead, P::PatientWrite, P::Triage, P::CheckIn, P::QueueScreen],
            Role::Doctor => &[
                P::Console,
                P::PatientRead,
                P::PatientUnmask,
                P::QueueCall,
                P::QueueScreen,
                P::Clinical,
                P::PublicHealthWork,
            ],
            Role::LabTech => &[P::Console, P::PatientRead, P::Lab],
            Role::WardNurse => &[P::Console, P::PatientRead, P::Ward],
            Role::InsuranceOfficer => &[P::Console, P::PatientRead, P::PatientUnmask, P::Insurance],
            Role::PublicHealth => {
                &[P::Console, P::PatientRead, P::PatientWrite, P::PublicHealthWork, P::PublicHealthManage]
            }
            Role::ServiceCentre => &[P::Console, P::PatientRead, P::PatientMerge, P::Service],
            Role::QualityOfficer => &[P::Console, P::Quality, P::Reports],
            Role::Director => &[P::Console, P::Reports],
            Role::PartySecretary => &[P::Console, P::Party, P::Reports],
            // A kiosk account checks patients in by their code and drives the hall's screens.
            Role::Kiosk => &[P::PatientRead, P::CheckIn, P::QueueScreen],
        }
    }

    /// Held by the security or audit administrator: accounts that keep watch
    /// over the system administrator, so the administrator cannot create,
    /// change or impersonate them.
    pub fn is_oversight_duty(self) -> bool {
        matches!(self, Role::SecurityAdmin | Role::AuditAdmin)
    }

    /// One of the three separated security duties.
    pub fn is_security_duty(self) -> bool {
        matches!(self, Role::Admin | Role::SecurityAdmin | Role::AuditAdmin)
    }
}

/// The set of roles one account holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles(Vec<Role>);

impl Roles {
    /// Builds a role set, refusing an account that would hold two security duties.
    pub fn new(mut roles: Vec<Role>) -> Result<Self, crate::DomainError> {
        roles.sort();
        roles.dedup();
        if roles.iter().filter(|r| r.is_security_duty()).count() > 1 {
            return Err(crate::DomainError::new(crate::ErrorCode::RolesConflict));
        }
        Ok(Self(roles))
    }
    /// Parses the stored form, a comma-separated list of codes.
    pub fn parse_list(s: &str) -> Result<Self, crate::DomainError> {
        let mut v = vec![];
        for code in s.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            v.push(Role::parse(code).ok_or_else(|| crate::DomainError::with(crate::ErrorCode::RoleUnknown, [code]))?);
        }
        Self::new(v)
    }
    pub fn to_list(&self) -> String {
        self.0.iter().map(|r| r.code()).collect::<Vec<_>>().join(",")
    }
    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }
    pub fn contains(&self, r: Role) -> bool {
        self.0.contains(&r)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn allows(&self, p: Perm) -> bool {
        self.0.iter().any(|r| r.perms().contains(&p))
    }
    pub fn has_oversight_duty(&self) -> bool {
        self.0.iter().any(|r| r.is_oversight_duty())
    }
    pub fn zh(&self) -> String {
        self.0.iter().map(|r| r.zh()).collect::<Vec<_>>().join("、")
    }
}

/// Password policy: long enough, with letters and digits. Length is configuration.
pub fn password_acceptable(pw: &str, min_len: usize) -> bool {
    pw.chars().count() >= min_len
        && pw.chars().any(|c| c.is_ascii_alphabetic())
        && pw.chars().any(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separation_of_duties() {
        // the admin can neither read nor purge the audit log
        assert!(!Role::Admin.perms().contains(&Perm::AuditRead));
        assert!(!Role::Admin.perms().contains(&Perm::AuditPurge));
        // the audit admin cannot change users or security policy
        assert!(!Role::AuditAdmin.perms().contains(&Perm::StaffManage));
        assert!(!Role::AuditAdmin.perms().contains(&Perm::SecurityManage));
        // only the audit admin reads the audit log
        for r in Role::ALL {
            assert_eq!(r.perms().contains(&Perm::AuditRead), *r == Role::AuditAdmin, "{r}");
        }
        assert!(Roles::new(vec![Role::Admin, Role::AuditAdmin]).is_err());
        assert!(Roles::new(vec![Role::Admin, Role::SecurityAdmin]).is_err());
        assert!(Roles::new(vec![Role::Doctor, Role::PublicHealth]).is_ok());
    }

    #[test]
    fn cashier_sees_no_visit_notes() {
        assert!(!Roles::new(vec![Role::Registrar]).unwrap().allows(Perm::Clinical));
    }

    #[test]
    fn role_lists_round_trip() {
        let r = Roles::parse_list("doctor, public_health").unwrap();
        assert_eq!(Roles::parse_list(&r.to_list()).unwrap(), r);
        assert_eq!(Roles::parse_list("doctor,nurse").unwrap_err().code, crate::ErrorCode::RoleUnknown);
        for role in Role::ALL {
            assert_eq!(Role::parse(role.code()), Some(*role));
        }
        for p in Perm::ALL {
            assert_eq!(Perm::parse(p.code()), Some(*p));
        }
    }

    #[test]
    fn password_policy() {
        assert!(password_acceptable("dayi2026", 8));
        assert!(!password_acceptable("12345678", 8));
        assert!(!password_acceptable("abc123", 8));
    }

    /// docs/architecture.md §8 lists each role's permissions; the list must be the code's.
    #[test]
    fn the_documented_matrix_is_the_code() {
        let doc = include_str!("../../../docs/architecture.md");
        for role in Role::ALL {
            let row = doc
                .lines()
                .find(|l| l.starts_with(&format!("| {} | ", role.code())))
                .unwrap_or_else(|| panic!("no row for {} in docs/architecture.md §8", role.code()));
            let listed: Vec<&str> =
                row.split('|').nth(2).unwrap().split(" (").next().unwrap().split(',').map(str::trim).collect();
            let code: Vec<&str> = role.perms().iter().filter(|p| **p != Perm::Console).map(|p| p.code()).collect();
            assert_eq!(listed, code, "{} in docs/architecture.md §8", role.code());
        }
    }
}
