//! One table of stable error codes (code, HTTP status, zh-CN and en messages).
//! Every layer reports failures with these codes; the web layer maps them to
//! problem+json, OperationOutcome or a message beside the form field.

use std::fmt;

macro_rules! error_codes {
    ($( $variant:ident = ($code:literal, $status:literal, $zh:literal, $en:literal), )*) => {
        /// A stable machine code for every failure the user can see.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $( $variant, )* }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];
            /// Dotted code, e.g. `auth.locked`; never changes once published.
            pub fn code(self) -> &'static str { match self { $( ErrorCode::$variant => $code, )* } }
            pub fn status(self) -> u16 { match self { $( ErrorCode::$variant => $status, )* } }
            /// Message template in Simplified Chinese; `{0}`, `{1}` are replaced by arguments.
            pub fn zh(self) -> &'static str { match self { $( ErrorCode::$variant => $zh, )* } }
            pub fn en(self) -> &'static str { match self { $( ErrorCode::$variant => $en, )* } }
        }
    };
}

error_codes! {
    // request-level
    NotFound = ("request.not_found", 404, "您访问的页面或记录不存在", "The page or record does not exist"),
    MethodNotAllowed = ("request.method_not_allowed", 405, "不支持该请求方法", "Method not allowed"),
    BodyTooLarge = ("request.body_too_large", 413, "提交的内容过大（上限 {0}）", "Request body too large (limit {0})"),
    UnsupportedMediaType = ("request.unsupported_media_type", 415, "不支持的内容类型，请使用 {0}", "Unsupported content type; use {0}"),
    BadRequest = ("request.invalid", 400, "请求格式错误：{0}", "Malformed request: {0}"),
    SearchTooCostly = ("search.too_costly", 400, "检索范围过大：{0}", "Search too broad: {0}"),
    Validation = ("request.validation", 422, "提交的信息有误，请检查标红的字段", "Some fields are invalid; see the marked fields"),
    Required = ("field.required", 422, "此项为必填项", "This field is required"),
    TooLong = ("field.too_long", 422, "不能超过 {0} 个字符", "At most {0} characters"),
    InvalidFormat = ("field.invalid_format", 422, "格式不正确：{0}", "Invalid format: {0}"),
    Conflict = ("request.conflict", 409, "数据已被他人修改，请刷新后重试", "The record changed meanwhile; reload and retry"),
    VersionMismatch = ("request.version_mismatch", 412, "记录已被他人修改（当前版本 {0}），请重新读取后再提交", "The record changed meanwhile (now version {0}); read it again and resubmit"),
    VersionRequired = ("request.version_required", 428, "修改须带上所读版本（If-Match 请求头），以免覆盖他人的修改", "An update must name the version it read (If-Match header), so no one's change is overwritten"),
    Internal = ("server.internal", 500, "系统内部错误，已记录，请稍后重试或联系信息科（编号 {0}）", "Internal error, logged; retry later or contact IT (ref {0})"),
    Unavailable = ("server.unavailable", 503, "系统繁忙，请稍后重试", "Service busy, retry shortly"),
    // authentication and sessions
    LoginRequired = ("auth.login_required", 401, "请先登录", "Please sign in"),
    SessionExpired = ("auth.session_expired", 401, "长时间未操作，登录已过期，请重新登录", "Session expired after inactivity; sign in again"),
    BadCredentials = ("auth.bad_credentials", 401, "用户名或密码错误（还可尝试 {0} 次）", "Wrong user name or password ({0} attempts left)"),
    Locked = ("auth.locked", 423, "连续登录失败次数过多，账号已锁定，请 {0} 分钟后重试", "Too many failed sign-ins; account locked, retry in {0} minutes"),
    TooManyAttempts = ("auth.too_many_attempts", 429, "此网络地址登录失败次数过多，请 {0} 分钟后再试", "Too many failed sign-ins from this address; retry in {0} minutes"),
    AccountDisabled = ("auth.disabled", 403, "账号已停用，请联系管理员", "Account disabled; contact the administrator"),
    TotpRequired = ("auth.totp_required", 401, "请输入动态验证码", "Enter the one-time code"),
    TotpInvalid = ("auth.totp_invalid", 401, "动态验证码错误或已过期", "Wrong or expired one-time code"),
    TotpEnrolRequired = ("auth.totp_enrol_required", 403, "您的角色要求启用双因素认证，请先绑定动态口令", "Your role requires two-factor sign-in; enrol an authenticator first"),
    CsrfInvalid = ("auth.csrf_invalid", 403, "页面已过期或来源不明，请刷新页面后重新提交", "Form expired or came from elsewhere; reload and submit again"),
    TokenInvalid = ("auth.token_invalid", 401, "接口令牌无效或已吊销", "API token invalid or revoked"),
    Forbidden = ("auth.forbidden", 403, "您没有权限执行此操作（需要：{0}）", "You are not allowed to do this (needs permission {0})"),
    WeakPassword = ("auth.weak_password", 422, "密码至少 {0} 位，且须包含字母和数字", "Password needs at least {0} characters with letters and digits"),
    // tenancy and staff
    OrgUnknown = ("org.unknown", 422, "机构不存在", "Unknown organisation"),
    RegionCodeInvalid = ("org.region_code_invalid", 422, "行政区划代码应为 6 位数字（GB/T 2260）", "Region code must be 6 digits (GB/T 2260)"),
    DeptCodeInvalid = ("org.dept_code_invalid", 422, "科室代码应为 2–6 位数字或字母", "Department code must be 2–6 letters or digits"),
    UsernameTaken = ("staff.username_taken", 409, "用户名「{0}」已存在", "User name \"{0}\" already exists"),
    UsernameInvalid = ("staff.username_invalid", 422, "用户名只能由 3–32 位小写字母、数字、点、下划线或短横线组成", "User name: 3–32 lowercase letters, digits, dot, underscore or dash"),
    RoleUnknown = ("staff.role_unknown", 422, "未知角色：{0}", "Unknown role: {0}"),
    TokenRoleNotHeld = ("staff.token_role_not_held", 422, "令牌只能限定为该账号已有的角色，该账号没有「{0}」", "A token can only be limited to roles the account holds; it lacks \"{0}\""),
    StaffUnknown = ("staff.unknown", 404, "用户不存在", "No such user"),
    DutyProtected = ("staff.duty_protected", 403, "安全管理员和审计管理员账号只能在服务器命令行（dayi user）中创建或修改，也不能签发接口令牌", "Security and audit administrator accounts are managed only from the server command line (dayi user) and cannot hold API tokens"),
    RolesConflict = ("staff.roles_conflict", 422, "系统管理员、安全管理员、审计管理员三种职责不能由同一账号兼任", "Administrator, security administrator and audit administrator must be different accounts"),
    // audit
    AuditRetention = ("audit.retention", 422, "审计日志至少保留 {0} 天，不能清除 {1} 之后的记录", "Audit log is kept at least {0} days; cannot purge records after {1}"),
    AuditTampered = ("audit.tampered", 500, "审计日志校验失败：第 {0} 条记录被修改或删除", "Audit chain broken at entry {0}: changed or deleted"),
    // identity (patient ID documents)
    IdLength = ("identity.id_length", 422, "身份证号应为 18 位（旧版 15 位），现为 {0} 位", "A resident ID number has 18 characters (15 on old cards); this one has {0}"),
    IdChars = ("identity.id_chars", 422, "身份证号只能是数字，18 位号码的最后一位可以是 X", "A resident ID number has only digits; an 18-character one may end in X"),
    IdChecksum = ("identity.id_checksum", 422, "身份证号校验位错误，请逐位核对", "Wrong check digit in the ID number; check each digit"),
    IdRegion = ("identity.id_region", 422, "身份证号前两位 {0} 不是有效的省级行政区划代码", "The first two digits {0} are not a valid province code"),
    IdIsResidencePermit = ("identity.id_is_residence_permit", 422, "以 81、82、83 开头的是港澳台居民居住证号码，请将证件类型选为「港澳台居民居住证」", "Numbers starting with 81, 82 or 83 are HK/Macao/Taiwan residence permits; choose that ID type"),
    IdIsForeignPr = ("identity.id_is_foreign_pr", 422, "以 9 开头的 18 位号码是外国人永久居留身份证号码，请将证件类型选为「外国人永久居留身份证」", "An 18-digit number starting with 9 is a foreign permanent residence ID; choose that ID type"),
    BirthDateInvalid = ("identity.birth_date_invalid", 422, "出生日期不存在（号码中为 {0}）", "The birth date does not exist (the number says {0})"),
    BirthDateFuture = ("identity.birth_date_future", 422, "出生日期不能晚于今天（号码中为 {0}）", "The birth date cannot be after today (the number says {0})"),
    BirthDateTooEarly = ("identity.birth_date_too_early", 422, "出生日期不能早于 1880-01-01（号码中为 {0}）", "The birth date cannot be before 1880-01-01 (the number says {0})"),
    DocChecksum = ("identity.doc_checksum", 422, "证件号码校验位错误，请逐位核对", "Wrong check character in the document number; check each character"),
    ForeignPrFormat = ("identity.foreign_pr_format", 422, "外国人永久居留身份证号码应为 18 位（以 9 开头的 17 位数字加 1 位数字或 X），旧版为 15 位（3 个字母加 12 位数字）", "A foreign permanent residence ID has 18 characters (9 and 16 digits, then a digit or X) or, on old cards, 15 (3 letters and 12 digits)"),
    ResidencePermitFormat = ("identity.residence_permit_format", 422, "港澳台居民居住证号码应为 18 位：17 位数字加 1 位数字或 X", "A residence permit number has 18 characters: 17 digits, then a digit or X"),
    ResidencePermitPrefix = ("identity.residence_permit_prefix", 422, "港澳台居民居住证号码应以 810000（香港）、820000（澳门）或 830000（台湾）开头", "A residence permit number starts with 810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan)"),
    HkMoTravelFormat = ("identity.hk_mo_travel_format", 422, "港澳居民来往内地通行证号码应为 H（香港）或 M（澳门）加 8 位或 10 位数字", "An HK/Macao travel permit number is H (Hong Kong) or M (Macao) followed by 8 or 10 digits"),
    TwTravelFormat = ("identity.tw_travel_format", 422, "台湾居民来往大陆通行证号码应为 8 位或 10 位数字", "A Taiwan travel permit number has 8 or 10 digits"),
    PassportFormat = ("identity.passport_format", 422, "护照号码应为 5–20 位字母或数字", "A passport number has 5–20 letters or digits"),
    NationalityInvalid = ("identity.nationality_invalid", 422, "国籍应为 3 位字母代码（ISO 3166-1，如 CHN、USA、KOR）", "Nationality must be a 3-letter code (ISO 3166-1, e.g. CHN, USA, KOR)"),
    NationalityMismatch = ("identity.nationality_mismatch", 422, "国籍与证件号码不符（证件为 {0}）", "Nationality does not match the document number (it says {0})"),
    BirthDateMismatch = ("identity.birth_date_mismatch", 422, "出生日期与证件号码不符（证件为 {0}）", "Birth date does not match the document number (it says {0})"),
    SexMismatchMale = ("identity.sex_mismatch_male", 422, "性别与证件号码不符（证件为男）", "Sex does not match the document number (it says male)"),
    SexMismatchFemale = ("identity.sex_mismatch_female", 422, "性别与证件号码不符（证件为女）", "Sex does not match the document number (it says female)"),
    // fields shared by forms
    DateInvalid = ("field.date_invalid", 422, "日期「{0}」不存在或格式不对，请按 年-月-日 填写，如 1980-01-31", "The date \"{0}\" does not exist or is malformed; use year-month-day, e.g. 1980-01-31"),
    ChoiceInvalid = ("field.choice_invalid", 422, "请从列表中选择（收到「{0}」）", "Choose from the list (got \"{0}\")"),
    // patients
    PatientNameInvalid = ("patient.name_invalid", 422, "姓名只能包含汉字、字母、间隔号「·」和空格", "A name may hold Chinese characters, letters, the middle dot and spaces"),
    PhoneInvalid = ("patient.phone_invalid", 422, "电话号码格式不正确：手机号为 1 开头的 11 位数字，固定电话请带区号，如 0537-7212345", "Invalid phone number: a mobile has 11 digits starting with 1; a landline needs its area code, e.g. 0537-7212345"),
    GuardianRequired = ("patient.guardian_required", 422, "未满 {0} 周岁的儿童须登记监护人（姓名、关系、电话）", "Children under {0} need a guardian (name, relation, phone)"),
    PatientDuplicateId = ("patient.duplicate_id", 409, "该证件号码已登记：{0}（就诊卡号 {1}），请直接使用已有档案", "This ID number is already registered: {0} (card {1}); use the existing record"),
    PatientDuplicateIdentifier = ("patient.duplicate_identifier", 409, "标识 {0} 已属于另一份档案：{1}（就诊卡号 {2}），请直接使用已有档案", "Identifier {0} already belongs to another record: {1} (card {2}); use the existing record"),
    PatientUnknown = ("patient.unknown", 404, "患者档案不存在", "No such patient record"),
    SearchTooShort = ("patient.search_too_short", 422, "请输入姓名、拼音首字母、证件号后 4 位以上、手机号或就诊卡号", "Enter a name, pinyin initials, at least the last 4 ID digits, a phone or a card number"),
    MergeSelf = ("patient.merge_self", 422, "不能将档案与自身合并", "A record cannot be merged into itself"),
    MergeAlreadyMerged = ("patient.merge_already_merged", 409, "档案已被合并到其他档案，请刷新后重试", "The record was already merged into another; reload and retry"),
    MergeUnknown = ("patient.merge_unknown", 404, "合并记录不存在", "No such merge"),
    MergeUndone = ("patient.merge_undone", 409, "该合并已撤销", "This merge was already undone"),
    MergeUndoConflict = ("patient.merge_undo_conflict", 409, "无法撤销：被合并档案的证件号码已被另一份档案使用", "Cannot undo: the merged record's ID number is now used by another record"),
    // electronic health card and station codes
    CardQrTampered = ("card.qr_tampered", 422, "二维码无效或已被篡改，请患者重新出示电子健康卡", "Invalid or altered QR code; ask the patient to show the health card again"),
    CardQrExpired = ("card.qr_expired", 422, "动态二维码已过期（有效期 {0} 分钟），请患者刷新后重新出示", "The dynamic QR code expired (valid {0} minutes); ask the patient to refresh it"),
    CardUnknown = ("card.unknown", 404, "未找到该卡号或证件号对应的患者，请先建档", "No patient has this card or ID number; register the patient first"),
    CardCodeUnrecognised = ("card.code_unrecognised", 422, "无法识别的号码：请扫描电子健康卡二维码，或输入身份证号、10 位就诊卡号", "Unrecognised code: scan the health card QR, or type an ID number or the 10-digit card number"),
    VoucherUnavailable = ("card.voucher_unavailable", 422, "本机构尚未启用医保电子凭证解码（由医保结算模块提供），请改用电子健康卡或身份证", "Insurance voucher decoding is not enabled here (it comes with insurance settlement); use the health card or ID number"),
    // rosters, booking and registration
    SessionUnknown = ("booking.session_unknown", 404, "出诊安排不存在", "No such clinic session"),
    BookingUnknown = ("booking.unknown", 404, "预约记录不存在", "No such booking"),
    BookingPast = ("booking.past", 422, "该号源的就诊时间已过，请选择之后的时段", "This slot's time has passed; choose a later one"),
    BookingFull = ("booking.full", 409, "该时段号源已约满，请选择其他时段或其他医生", "No slots left in this session; choose another session or doctor"),
    BookingSlotTaken = ("booking.slot_taken", 409, "第 {0} 号刚被他人约走，请选择其他号源", "Slot {0} was just taken; choose another"),
    BookingStopped = ("booking.stopped", 409, "该医生本时段已停诊，请改约其他时段", "The doctor's clinic is stopped for this session; book another"),
    BookingNotReleased = ("booking.not_released", 422, "号源尚未开放，将于 {0} 放号，请届时再来预约", "Slots are not released yet; they open at {0}"),
    BookingDayLimit = ("booking.day_limit", 422, "每人每天最多预约 {0} 个号，您当天的预约已达上限", "At most {0} bookings per patient per day; this day is full"),
    BookingDeptLimit = ("booking.dept_limit", 422, "同一科室每人每天限约 {0} 个号，您当天已预约该科室", "At most {0} bookings per department per day; already booked here that day"),
    BookingSessionTaken = ("booking.session_taken", 409, "实名预约：同一出诊时段每人只能预约一个号，您已预约本时段", "Real-name booking: one slot per patient per session, already booked in this one"),
    BookingBlocked = ("booking.blocked", 422, "因多次预约未就诊（爽约满 {1} 次），{0} 前暂停网上和电话预约，可到窗口现场挂号", "Booking is suspended until {0} after {1} no-shows; walk-in registration at the counter is still possible"),
    BookingCancelTooLate = ("booking.cancel_too_late", 422, "就诊前 {0} 分钟内不能取消预约，如不能就诊请联系窗口", "Bookings cannot be cancelled within {0} minutes of the slot; contact the counter"),
    BookingNotActive = ("booking.not_active", 409, "该预约已{0}，不能再操作", "This booking is already {0}"),
    CheckinNone = ("booking.checkin_none", 404, "未找到该患者今天的有效预约或挂号，请先挂号", "This patient has no booking or registration today; register first"),
    RosterInvalid = ("booking.roster_invalid", 422, "排班信息有误，请检查标红的字段", "Some roster fields are invalid; see the marked fields"),
    // pre-triage and queue calling
    ChronicRange = ("chronic.range", 422, "{0}应在 {1}–{2} 之间，请核对", "{0} should be between {1} and {2}; check the reading"),
    ChronicBloodPressure = ("chronic.blood_pressure", 422, "收缩压应高于舒张压，请核对", "Systolic pressure must be above diastolic; check the reading"),
    ChronicSignUnknown = ("chronic.sign_unknown", 422, "未知的紧急情况：{0}，请刷新页面后重新选择", "Unknown emergency sign: {0}; reload the page and choose again"),
    ChronicAge = ("chronic.age", 422, "患者 {0} 岁，本项目管理 {1} 岁及以上居民（国家基本公共卫生服务规范）", "The patient is {0}; the programme manages residents aged {1} and over"),
    ChronicEnrolled = ("chronic.enrolled", 422, "该患者已纳入{0}管理，无需重复建档", "The patient is already registered for this disease ({0})"),
    ChronicNotEnrolled = ("chronic.not_enrolled", 422, "该患者尚未纳入三高管理，请先建档", "The patient is not in the registry; enrol them first"),
    ChronicFutureDate = ("chronic.future_date", 422, "日期不能晚于今天（{0}）", "The date cannot be after today ({0})"),
    ChronicBeforeDiagnosis = ("chronic.before_diagnosis", 422, "随访日期早于{0}的确诊日期（{1}），请核对", "The follow-up is dated before the {0} diagnosis ({1}); check the date"),
    ChronicClosed = ("chronic.closed", 409, "该管理档案已结案，不能再随访", "The registry record is closed; no more follow-ups"),
    TriageTemperature = ("triage.temperature", 422, "体温应在 {0}–{1} ℃ 之间，保留一位小数，如 36.8", "Temperature must be between {0} and {1} °C, e.g. 36.8"),
    TriageSymptomUnknown = ("triage.symptom_unknown", 422, "未知的症状或问题：{0}，请刷新页面后重新选择", "Unknown symptom or question: {0}; reload the page and choose again"),
    TriageDeptUnknown = ("triage.dept_unknown", 422, "分诊科室不存在：{0}", "No such department: {0}"),
    QueueUnknown = ("queue.unknown", 404, "未找到该患者今天的候诊记录，请先签到", "No queue entry today for this patient; check in first"),
    QueueEmpty = ("queue.empty", 409, "当前队列没有候诊患者", "No one is waiting in these queues"),
    QueueTaken = ("queue.taken", 409, "该患者已被 {0} 叫号，请叫下一位", "This patient was already called by {0}; call the next one"),
    QueueNotWaiting = ("queue.not_waiting", 409, "该患者当前为「{0}」，不在候诊中，回诊报到后才能叫号", "This patient is \"{0}\", not waiting; they must check back in first"),
    QueueNotCalled = ("queue.not_called", 409, "该患者当前为「{0}」，请先叫号", "This patient is \"{0}\"; call them first"),
    QueueNotAway = ("queue.not_away", 409, "该患者当前为「{0}」，无需回诊报到", "This patient is \"{0}\"; there is nothing to check back in to"),
    QueueFinished = ("queue.finished", 409, "该患者本次就诊已结束，不能再操作", "This visit is finished; no further queue actions"),
    QueuePaused = ("queue.paused", 409, "叫号已暂停，请先点击「恢复叫号」", "Calling is paused; resume first"),
    QueueNoneChosen = ("queue.none_chosen", 422, "请至少选择一个叫号队列（出诊时段）", "Choose at least one queue (clinic session)"),
    QueueTransferSame = ("queue.transfer_same", 422, "请选择另一个诊室或医生", "Choose a different room or doctor"),
    QueueTransferTarget = ("queue.transfer_target", 422, "只能转到今天仍在出诊的诊室或医生", "Transfer only to a room or doctor still sitting today"),
    QueueVoiceTemplate = ("queue.voice_template", 422, "播报模板须包含 {0}", "The announcement template must contain {0}"),
    // patient portal
    OtpInvalid = ("portal.otp_invalid", 401, "验证码错误，请核对短信中的 6 位数字（还可尝试 {0} 次）", "Wrong code; check the 6 digits in the text message ({0} attempts left)"),
    OtpExpired = ("portal.otp_expired", 401, "验证码已失效，请重新获取", "The code expired; request a new one"),
    OtpTooSoon = ("portal.otp_too_soon", 429, "验证码已发送，请 {0} 秒后再重新获取", "A code was just sent; request another in {0} seconds"),
    PortalNoPatient = ("portal.no_patient", 404, "该手机号尚未在本院建档，请到窗口建档或使用身份证号和就诊卡号登录", "No patient record has this phone; register at the counter or sign in with ID and card number"),
    PortalLoginFailed = ("portal.login_failed", 401, "证件号码与就诊卡号不匹配（还可尝试 {0} 次）", "The ID number and card number do not match ({0} attempts left)"),
    PortalLocked = ("portal.locked", 423, "登录失败次数过多，该证件已暂停登录，请 {0} 分钟后再试或到窗口核对", "Too many failed sign-ins for this ID; retry in {0} minutes or ask at the counter"),
    PortalNotFamily = ("portal.not_family", 403, "只能为本人或已绑定的家庭成员办理", "Only for yourself or a linked family member"),
    // catalogues
    CatalogFile = ("catalog.file", 422, "目录文件有误：{0}", "Catalogue file error: {0}"),
    CatalogUnknown = ("catalog.unknown", 422, "目录中没有编码 {0}（或已停用），请从列表中选择", "No catalogue item {0} (or it is retired); choose from the list"),
    CatalogKind = ("catalog.kind", 422, "{0} 不是{1}，请从对应目录选择", "{0} is not a {1}; choose from that catalogue"),
    CatalogPrice = ("catalog.price", 422, "价格应为元，最多两位小数，如 12.50", "Price in yuan with at most two decimals, e.g. 12.50"),
    CatalogDate = ("catalog.date", 422, "生效日期不能早于今天（{0}）：已生效的价格不能追改", "The effective date cannot be before today ({0}): prices in force are not rewritten"),
    // outpatient visits and orders
    VisitUnknown = ("visit.unknown", 404, "就诊记录不存在", "No such visit"),
    VisitFinished = ("visit.finished", 409, "本次就诊已结束，不能再修改", "This visit is finished and cannot be changed"),
    VisitNotCalled = ("visit.not_called", 409, "请先叫号，再接诊该患者", "Call the patient before opening their visit"),
    VisitNotYours = ("visit.not_yours", 403, "这是 {0} 医生的接诊，您不能修改", "This visit belongs to doctor {0}; you cannot change it"),
    VisitNoDiagnosis = ("visit.no_diagnosis", 422, "请至少填写一个诊断，再结束就诊", "Enter at least one diagnosis before finishing the visit"),
    VisitDiagnosisTwice = ("visit.diagnosis_twice", 422, "诊断 {0} 已在列表中", "Diagnosis {0} is already listed"),
    VisitVital = ("visit.vital", 422, "{0}应在 {1}–{2} 之间，请核对", "{0} should be between {1} and {2}; check the reading"),
    VisitBloodPressure = ("visit.blood_pressure", 422, "血压请写作“收缩压/舒张压”，如 128/80，收缩压应高于舒张压", "Write blood pressure as systolic/diastolic, e.g. 128/80, systolic above diastolic"),
    LabUnit = ("lab.unit", 422, "{0} 的单位 {1} 与目录的 {2} 不一致，结果未保存", "{0} came in {1}, not the catalogue's {2}; nothing was saved"),
    LabValue = ("lab.value", 422, "{0} 的结果应为数字", "{0} needs a number"),
    LabNothingToCollect = ("lab.nothing_to_collect", 409, "该就诊没有待采集的检验项目", "This visit has no lab orders to draw"),
    LabUnpaid = ("lab.unpaid", 409, "{0} 尚未缴费，请先到收费处或手机缴费", "{0} is not paid yet; pay at the cashier or on the phone first"),
    LabNoPanel = ("lab.no_panel", 422, "{0} 不在检验目录中，无法采集", "{0} is not in the lab catalogue"),
    LabBarcodeUnknown = ("lab.barcode_unknown", 404, "条码 {0} 不存在", "No specimen has barcode {0}"),
    LabSpecimenState = ("lab.specimen_state", 409, "标本{0}，不能再做此操作", "The specimen is {0}; this cannot be done now"),
    LabItemUnknown = ("lab.item_unknown", 422, "{0} 不在该标本的检验项目中（条码 {1}）", "{0} is not one of the tests ordered on this specimen (barcode {1})"),
    LabTestState = ("lab.test_state", 409, "{0}：{1}，不能再做此操作", "{0} is {1}; this cannot be done now"),
    LabItemTwice = ("lab.item_twice", 422, "指标 {0} 在同一次录入中出现两次", "{0} appears twice in one entry"),
    LabSameVerifier = ("lab.same_verifier", 409, "审核须由录入结果之外的另一人完成", "Results must be verified by someone other than who entered them"),
    LabIncomplete = ("lab.incomplete", 409, "{0} 还缺少结果：{1}", "{0} still lacks results: {1}"),
    LabCorrectionReason = ("lab.correction_reason", 422, "修改已审核的结果须写明原因", "Say why a verified result is corrected"),
    LabAlertDone = ("lab.alert_done", 409, "该危急值已由 {0} 确认", "This critical value was acknowledged by {0}"),
    VisitTemplateUnknown = ("visit.template_unknown", 404, "病历模板不存在", "No such record template"),
    OrderDose = ("order.dose", 422, "剂量应为大于 0 的数字（单位 {0}），最多三位小数", "The dose must be a number above 0 (in {0}), at most three decimals"),
    OrderDoseAbsurd = ("order.dose_absurd", 422, "{0} 的剂量 {1}{2} 远超极量（单次 {3}{2}、每日 {4}{2}），请核对", "The dose of {0}, {1}{2}, is far above the limit ({3}{2} a dose, {4}{2} a day); check it"),
    OrderDoseOverLimit = ("order.dose_over_limit", 422, "{0} 超过极量（单次 {1}{3}、每日 {2}{3}）；如确需使用，请勾选「确认超量」并写明理由", "{0} is over the limit ({1}{3} a dose, {2}{3} a day); to prescribe it anyway, tick \"confirm\" and give a reason"),
    OrderDays = ("order.days", 422, "用药天数应为 1–{0} 天", "Days must be 1–{0}"),
    OrderFrequency = ("order.frequency", 422, "未知的用药频次：{0}", "Unknown frequency: {0}"),
    OrderQuantity = ("order.quantity", 422, "数量应为 1–{0} 的整数", "Quantity must be a whole number 1–{0}"),
    OrderAllergy = ("order.allergy", 422, "患者过敏史有「{0}」，{1} 可能引起过敏；如确需使用，请勾选「确认过敏风险」并写明理由", "The patient is allergic to \"{0}\" and {1} may cause a reaction; to prescribe it anyway, tick \"confirm\" and give a reason"),
    OrderDuplicate = ("order.duplicate", 422, "本次就诊已开过 {0}；如需重复开立，请勾选「确认重复」", "{0} is already ordered in this visit; tick \"confirm\" to order it again"),
    OrderReason = ("order.reason", 422, "确认风险时须写明理由", "Give a reason when confirming a warning"),
    OrderUnknown = ("order.unknown", 404, "医嘱不存在", "No such order"),
    OrderPaid = ("order.paid", 409, "{0} 已缴费，请先退费再撤销", "{0} is paid; refund it before cancelling"),
    CertificateDays = ("certificate.days", 422, "病休天数应为 1–{0} 天", "Sick leave must be 1–{0} days"),
    // billing
    BillingNothingDue = ("billing.nothing_due", 409, "没有待缴费用", "Nothing is due"),
    BillingAlreadyPaid = ("billing.already_paid", 409, "所选费用已缴清（收据号 {0}），无需重复缴费", "These charges are already paid (receipt {0}); nothing to pay"),
    BillingChargeUnknown = ("billing.charge_unknown", 422, "费用不存在、不属于该患者或已不是待缴状态：{0}", "A charge does not exist, belongs to someone else or is no longer due: {0}"),
    BillingAmountChanged = ("billing.amount_changed", 409, "应缴金额已变为 {0} 元，请刷新后重新确认", "The amount due is now {0} yuan; reload and confirm again"),
    BillingCashShort = ("billing.cash_short", 422, "实收 {0} 元少于应收 {1} 元", "Cash received, {0} yuan, is less than the {1} yuan due"),
    BillingMethod = ("billing.method", 422, "未知的支付方式：{0}", "Unknown payment method: {0}"),
    BillingKey = ("billing.key", 422, "缺少请求编号（Idempotency-Key），请刷新页面后重试", "Missing request key (Idempotency-Key); reload the page and retry"),
    BillingKeyReused = ("billing.key_reused", 422, "该请求编号已用于另一笔不同的缴费或退费", "This request key was already used for a different payment or refund"),
    BillingRefundTooMuch = ("billing.refund_too_much", 422, "退费金额 {0} 元超过可退金额 {1} 元", "Refund of {0} yuan is more than the {1} yuan refundable"),
    BillingRefundExecuted = ("billing.refund_executed", 409, "{0} 已执行，不能退费", "{0} has been carried out and cannot be refunded"),
    BillingRefundNotPaid = ("billing.refund_not_paid", 409, "{0} 未缴费或已退费，无需退费", "{0} is not paid or already refunded"),
    BillingSignature = ("billing.signature", 401, "支付回调签名无效，已忽略", "Payment callback signature invalid; ignored"),
    BillingCallbackAmount = ("billing.callback_amount", 409, "支付平台金额 {0} 元与订单金额 {1} 元不符，已转人工核对", "The provider's amount, {0} yuan, differs from the order's {1} yuan; held for review"),
    BillingPaymentUnknown = ("billing.payment_unknown", 404, "支付订单不存在", "No such payment"),
    BillingProvider = ("billing.provider", 502, "支付平台暂时无法处理：{0}，请稍后重试", "The payment provider could not do it now: {0}; retry shortly"),
    BillingPaymentState = ("billing.payment_state", 409, "支付订单当前为「{0}」，不能{1}", "The payment is \"{0}\"; cannot {1}"),
    // HL7 v2 results from analyzers (MLLP); the argument is a field such as OBX-5 #3
    Hl7Encoding = ("hl7.encoding", 422, "HL7 消息不是 UTF-8 编码（MSH-18 为「{0}」），请将仪器接口设为 UTF-8", "The HL7 message is not UTF-8 (MSH-18 says \"{0}\"); set the analyzer interface to UTF-8"),
    Hl7NoMsh = ("hl7.no_msh", 422, "HL7 消息必须以 MSH 段开头", "An HL7 message must start with an MSH segment"),
    Hl7Delimiters = ("hl7.delimiters", 422, "MSH-1/MSH-2 分隔符无效（收到「{0}」），应为 |^~\\&", "Invalid MSH-1/MSH-2 delimiters (got \"{0}\"); expected |^~\\&"),
    Hl7Segment = ("hl7.segment", 422, "第 {0} 段的段名「{1}」无效，应为 3 位大写字母或数字", "Segment {0} has an invalid name \"{1}\"; expected 3 capital letters or digits"),
    ImportReference = ("import.reference", 422, "引用的资源不存在：{0}", "The referenced resource does not exist: {0}"),
    ImportKind = ("import.kind", 422, "不能导入 {0} 类资源（可导入 Patient 及院外临床记录：{1}）", "{0} resources cannot be imported (Patient and outside clinical records can: {1})"),
    ImportMethod = ("import.method", 422, "交易包条目不支持「{0}」（支持 POST 新建，Patient 可带 ifNoneExist）", "Bundle entries cannot use \"{0}\" (POST creates; Patient may carry ifNoneExist)"),
    Hl7MessageType = ("hl7.message_type", 422, "不支持的消息类型「{0}」，本接口只接收检验结果 ORU^R01", "Unsupported message type \"{0}\"; this interface takes only ORU^R01 results"),
    Hl7Version = ("hl7.version", 422, "不支持的 HL7 版本「{0}」，支持 2.x", "Unsupported HL7 version \"{0}\"; 2.x is supported"),
    Hl7ControlId = ("hl7.control_id", 422, "缺少消息控制号（MSH-10）", "The message control ID (MSH-10) is missing"),
    Hl7NoOrder = ("hl7.no_order", 422, "ORU^R01 消息中没有 OBR（检验申请）段", "The ORU^R01 message has no OBR (order) segment"),
    Hl7WithoutObr = ("hl7.without_obr", 422, "{0} 段出现在任何 OBR 段之前", "A {0} segment comes before any OBR segment"),
    Hl7FieldMissing = ("hl7.field_missing", 422, "必填字段 {0} 为空", "The required field {0} is empty"),
    Hl7FieldInvalid = ("hl7.field_invalid", 422, "字段 {0} 的值「{1}」格式不正确", "Field {0} has an invalid value \"{1}\""),
    Hl7NotNumeric = ("hl7.not_numeric", 422, "{0} 为数值型（NM）结果，但「{1}」不是数字", "{0} is a numeric (NM) result but \"{1}\" is not a number"),
    Hl7ValueType = ("hl7.value_type", 422, "{0} 的结果类型「{1}」不受支持（支持 NM、ST、TX、FT、CE、CWE）", "{0} has the unsupported value type \"{1}\" (NM, ST, TX, FT, CE and CWE are supported)"),
    Hl7FrameTooLarge = ("hl7.frame_too_large", 413, "HL7 消息超过 {0} 字节上限，已丢弃", "The HL7 message is over the {0}-byte limit and was discarded"),
    Hl7BarcodeMissing = ("hl7.barcode_missing", 422, "结果消息中没有标本条码（SPM-2、OBR-3、OBR-2 均为空）", "The result message has no specimen barcode (SPM-2, OBR-3 and OBR-2 are empty)"),
    Hl7BarcodeUnknown = ("hl7.barcode_unknown", 422, "标本条码「{0}」不存在，请核对条码", "No specimen has the barcode \"{0}\"; check the barcode"),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Fills `{0}`, `{1}`… in a message template.
pub fn fill(template: &str, args: &[String]) -> String {
    let mut out = template.to_string();
    for (i, a) in args.iter().enumerate() {
        out = out.replace(&format!("{{{i}}}"), a);
    }
    out
}

/// A failure with its code, arguments for the message, and, for form input,
/// the field it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub code: ErrorCode,
    pub args: Vec<String>,
    /// Field errors for forms: (field name, code, args).
    pub fields: Vec<FieldError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: ErrorCode,
    pub args: Vec<String>,
}

impl FieldError {
    pub fn zh(&self) -> String {
        fill(self.code.zh(), &self.args)
    }
    pub fn en(&self) -> String {
        fill(self.code.en(), &self.args)
    }
}

impl DomainError {
    pub fn new(code: ErrorCode) -> Self {
        Self { code, args: vec![], fields: vec![] }
    }
    pub fn with(code: ErrorCode, args: impl IntoIterator<Item = impl ToString>) -> Self {
        Self { code, args: args.into_iter().map(|a| a.to_string()).collect(), fields: vec![] }
    }
    /// A single-field validation failure.
    pub fn field(field: &str, code: ErrorCode, args: impl IntoIterator<Item = impl ToString>) -> Self {
        Self::new(ErrorCode::Validation).and_field(field, code, args)
    }
    pub fn and_field(mut self, field: &str, code: ErrorCode, args: impl IntoIterator<Item = impl ToString>) -> Self {
        self.fields.push(FieldError {
            field: field.to_string(),
            code,
            args: args.into_iter().map(|a| a.to_string()).collect(),
        });
        self
    }
    pub fn zh(&self) -> String {
        fill(self.code.zh(), &self.args)
    }
    pub fn en(&self) -> String {
        fill(self.code.en(), &self.args)
    }
    /// The specific reasons, for a reader without the form (an analyzer's
    /// operator, a log): the fields' messages when there are any, since the
    /// message itself then only says "see the marked fields".
    pub fn reasons_zh(&self) -> String {
        match self.fields.as_slice() {
            [] => self.zh(),
            fields => fields.iter().map(FieldError::zh).collect::<Vec<_>>().join("；"),
        }
    }
    pub fn reasons_en(&self) -> String {
        match self.fields.as_slice() {
            [] => self.en(),
            fields => fields.iter().map(FieldError::en).collect::<Vec<_>>().join("; "),
        }
    }
    /// The code of the specific reason: the first field's, when there are fields.
    pub fn specific_code(&self) -> ErrorCode {
        self.fields.first().map_or(self.code, |f| f.code)
    }
    pub fn field_error(&self, field: &str) -> Option<&FieldError> {
        self.fields.iter().find(|f| f.field == field)
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.code(), self.en())
    }
}

impl std::error::Error for DomainError {}

/// Collects field errors while checking a form, then fails once with all of them.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn add(&mut self, field: &str, code: ErrorCode, args: impl IntoIterator<Item = impl ToString>) {
        self.0.push(FieldError { field: field.into(), code, args: args.into_iter().map(|a| a.to_string()).collect() });
    }
    /// Records the error of a parse and returns its value, if any.
    pub fn take<T>(&mut self, field: &str, r: Result<T, DomainError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                if e.fields.is_empty() {
                    self.0.push(FieldError { field: field.into(), code: e.code, args: e.args });
                } else {
                    self.0.extend(e.fields);
                }
                None
            }
        }
    }
    pub fn required(&mut self, field: &str, value: &str, max_chars: usize) -> Option<String> {
        let v = value.trim();
        if v.is_empty() {
            self.add(field, ErrorCode::Required, [""; 0]);
            None
        } else if v.chars().count() > max_chars {
            self.add(field, ErrorCode::TooLong, [max_chars]);
            None
        } else {
            Some(v.to_string())
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn finish(self) -> Result<(), DomainError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DomainError { code: ErrorCode::Validation, args: vec![], fields: self.0 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_dotted_and_translated() {
        let mut seen = HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.code()), "duplicate code {}", c.code());
            assert!(c.code().contains('.'), "{} is not dotted", c.code());
            assert!(!c.zh().is_empty() && !c.en().is_empty());
            assert!((400..600).contains(&c.status()));
            // the same placeholders in both languages
            for i in 0..3 {
                let p = format!("{{{i}}}");
                assert_eq!(c.zh().contains(&p), c.en().contains(&p), "{} placeholder {p}", c.code());
            }
        }
    }

    #[test]
    fn fill_replaces_arguments() {
        let e = DomainError::with(ErrorCode::Locked, [15]);
        assert_eq!(e.zh(), "连续登录失败次数过多，账号已锁定，请 15 分钟后重试");
        assert!(e.en().contains("15 minutes"));
    }

    #[test]
    fn checks_collect_all_fields() {
        let mut c = Checks::new();
        assert_eq!(c.required("name", "  ", 10), None);
        assert_eq!(c.required("city", "济宁", 10).as_deref(), Some("济宁"));
        assert_eq!(c.required("long", "一二三", 2), None);
        let e = c.finish().unwrap_err();
        assert_eq!(e.fields.len(), 2);
        assert_eq!(e.field_error("long").unwrap().zh(), "不能超过 2 个字符");
        assert_eq!(e.reasons_zh(), "此项为必填项；不能超过 2 个字符");
        assert_eq!(e.reasons_en(), "This field is required; At most 2 characters");
        assert_eq!(e.specific_code(), ErrorCode::Required);
        let plain = DomainError::with(ErrorCode::Locked, [15]);
        assert_eq!((plain.reasons_zh(), plain.specific_code()), (plain.zh(), ErrorCode::Locked));
    }
}
