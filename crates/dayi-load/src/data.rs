//! Realistic, deterministic patients for load generation: common Chinese
//! names, valid resident ID numbers, mobile numbers and addresses in 汶上县.
//!
//! Patient `k` of a seed is always the same. Distinct `k` below [`capacity`]
//! get distinct ID numbers and phone numbers, because both are laid out by a
//! bijection of `k` (multiply by a prime coprime with the space, add a seeded offset,
//! modulo the space), not drawn at random.

use serde::Serialize;
use time::{Date, Duration, Month};

/// Surnames with an unambiguous reading, so their pinyin initial is certain.
const SURNAMES: &[(&str, &str)] = &[
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("许", "xu"),
    ("韩", "han"),
    ("冯", "feng"),
    ("邓", "deng"),
    ("曹", "cao"),
    ("彭", "peng"),
    ("田", "tian"),
    ("董", "dong"),
    ("袁", "yuan"),
    ("潘", "pan"),
    ("蒋", "jiang"),
    ("蔡", "cai"),
    ("杜", "du"),
    ("程", "cheng"),
    ("苏", "su"),
    ("魏", "wei"),
    ("丁", "ding"),
    ("孔", "kong"),
    ("颜", "yan"),
    ("孟", "meng"),
    ("邱", "qiu"),
    ("秦", "qin"),
    ("范", "fan"),
    ("姜", "jiang"),
    ("侯", "hou"),
];

const MALE_CHARS: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("刚", "gang"),
    ("建", "jian"),
    ("国", "guo"),
    ("志", "zhi"),
    ("海", "hai"),
    ("波", "bo"),
    ("辉", "hui"),
    ("鹏", "peng"),
    ("斌", "bin"),
    ("宇", "yu"),
    ("浩", "hao"),
    ("凯", "kai"),
    ("博", "bo"),
    ("泽", "ze"),
    ("瑞", "rui"),
    ("峰", "feng"),
    ("飞", "fei"),
    ("东", "dong"),
    ("生", "sheng"),
    ("亮", "liang"),
    ("坤", "kun"),
    ("鑫", "xin"),
    ("帅", "shuai"),
    ("健", "jian"),
    ("彬", "bin"),
    ("光", "guang"),
    ("忠", "zhong"),
    ("良", "liang"),
    ("宝", "bao"),
    ("山", "shan"),
    ("胜", "sheng"),
    ("兵", "bing"),
    ("振", "zhen"),
    ("永", "yong"),
    ("成", "cheng"),
    ("立", "li"),
    ("新", "xin"),
    ("庆", "qing"),
    ("福", "fu"),
    ("德", "de"),
];

const FEMALE_CHARS: &[(&str, &str)] = &[
    ("芳", "fang"),
    ("娜", "na"),
    ("秀", "xiu"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("艳", "yan"),
    ("娟", "juan"),
    ("霞", "xia"),
    ("桂", "gui"),
    ("英", "ying"),
    ("玉", "yu"),
    ("兰", "lan"),
    ("红", "hong"),
    ("丹", "dan"),
    ("萍", "ping"),
    ("婷", "ting"),
    ("雪", "xue"),
    ("琳", "lin"),
    ("晨", "chen"),
    ("欣", "xin"),
    ("怡", "yi"),
    ("佳", "jia"),
    ("梓", "zi"),
    ("涵", "han"),
    ("琪", "qi"),
    ("悦", "yue"),
    ("诗", "shi"),
    ("凤", "feng"),
    ("荣", "rong"),
    ("秋", "qiu"),
    ("梅", "mei"),
    ("淑", "shu"),
    ("翠", "cui"),
    ("云", "yun"),
    ("莲", "lian"),
    ("珍", "zhen"),
    ("爱", "ai"),
    ("美", "mei"),
    ("宁", "ning"),
    ("晓", "xiao"),
    ("倩", "qian"),
    ("颖", "ying"),
    ("慧", "hui"),
    ("燕", "yan"),
    ("玲", "ling"),
    ("雨", "yu"),
    ("思", "si"),
    ("嘉", "jia"),
    ("文", "wen"),
];

/// Birthplaces: the counties and districts of 济宁市 (GB/T 2260), 汶上县 first.
pub const REGIONS: &[&str] =
    &["370830", "370811", "370812", "370826", "370827", "370828", "370829", "370831", "370832", "370881", "370883"];

/// Where the patients live: the hospital's own county.
pub const HOME_REGION: &str = "370830";

/// Towns (镇/街道) of 汶上县 and a few villages or streets in each.
const TOWNS: &[(&str, &[&str])] = &[
    ("中都街道", &["中都大街", "宝相寺路", "政通路", "圣泽大街"]),
    ("汶上街道", &["尚书路", "泉河路", "东门街"]),
    ("南站镇", &["南站村", "后屯村", "于桥村"]),
    ("南旺镇", &["南旺村", "柳林村", "小店村"]),
    ("次邱镇", &["王庄村", "次邱村", "邵庄村"]),
    ("寅寺镇", &["寅寺村", "大陈村", "马村"]),
    ("郭楼镇", &["郭楼村", "张楼村", "前刘村"]),
    ("康驿镇", &["康驿村", "东冯村", "马庄村"]),
    ("苑庄镇", &["苑庄村", "西郝村", "大吕村"]),
    ("义桥镇", &["义桥村", "中兴村", "北旺村"]),
    ("白石镇", &["白石村", "梁庄村", "四岔口村"]),
    ("杨店镇", &["杨店村", "前李村", "后魏村"]),
    ("刘楼镇", &["刘楼村", "西赵村", "孙楼村"]),
    ("军屯乡", &["军屯村", "前屯村", "肖家村"]),
];

/// Mobile prefixes of the three carriers (all 1[3-9]x).
const PHONE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "156", "157",
    "158", "159", "166", "175", "176", "177", "180", "181", "182", "183", "185", "186", "187", "188", "189", "199",
];

/// GB/T 3304 codes: 汉族 for most, 回族 (common in 济宁) for a few.
const ETHNICITY_HAN: &str = "01";
const ETHNICITY_HUI: &str = "03";

/// A prime (Knuth's multiplicative hash constant): coprime with every space
/// used here, so multiplying by it is a bijection modulo the space.
const SPREAD: u128 = 2_654_435_761;

/// Birth dates run from this day for [`birth_days`] days.
const FIRST_BIRTH: (i32, Month, u8) = (1930, Month::January, 1);

/// Days from 1930-01-01 to 2024-12-31 inclusive.
pub fn birth_days() -> u64 {
    let first = first_birth();
    let end = Date::from_calendar_date(2025, Month::January, 1).expect("valid date");
    (end - first).whole_days() as u64
}

fn first_birth() -> Date {
    Date::from_calendar_date(FIRST_BIRTH.0, FIRST_BIRTH.1, FIRST_BIRTH.2).expect("valid date")
}

/// Sequence codes (the 15th–17th digits) used here. `dayi_app::demo::load_patients`
/// counts its sequence codes up from 000 (one step per 374,000 patients), so
/// keeping to 500–899 means load traffic never collides with a bulk load.
const SEQ_FIRST: u64 = 500;
const SEQ_COUNT: u64 = 400;

/// How many distinct ID numbers the generator can make: region × birth day × sequence code.
pub fn capacity() -> u64 {
    REGIONS.len() as u64 * birth_days() * SEQ_COUNT
}

/// The body of `POST /api/patients`, plus what a search can ask for.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Patient {
    pub name: String,
    /// GB/T 2261.1: "1" male, "2" female; agrees with the ID number.
    pub sex: &'static str,
    #[serde(with = "iso_date")]
    pub birth_date: Date,
    pub ethnicity: &'static str,
    pub id_kind: &'static str,
    pub id_number: String,
    pub phone: String,
    pub address: String,
    pub region_code: &'static str,
    pub insurance: &'static str,
    pub emergency_name: String,
    /// GB/T 4761 family relation code.
    pub emergency_relation: &'static str,
    pub emergency_phone: String,
    /// Children need a guardian; empty for adults.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub guardian_name: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub guardian_relation: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub guardian_phone: String,
    /// Pinyin initials of the name, e.g. `wjg` for 王建国 (not sent).
    #[serde(skip)]
    pub initials: String,
}

/// The generator of one seed.
#[derive(Debug, Clone, Copy)]
pub struct PatientGen {
    seed: u64,
    id_space: u64,
    days: u64,
}

impl PatientGen {
    pub fn new(seed: u64) -> Self {
        Self { seed, id_space: capacity(), days: birth_days() }
    }

    /// Patient `k` of this seed.
    pub fn patient(&self, k: u64) -> Patient {
        let mut rng = SplitMix::new(self.seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let slot = spread(k, self.seed, self.id_space);
        let seq = (SEQ_FIRST + slot % SEQ_COUNT) as u16;
        let day = (slot / SEQ_COUNT) % self.days;
        let region = REGIONS[(slot / SEQ_COUNT / self.days) as usize];
        let birth_date = first_birth() + Duration::days(day as i64);
        let id_number = dayi_core::identity::make_resident_id(region, birth_date, seq);
        let male = seq % 2 == 1;
        let (name, initials) = name(&mut rng, male);
        let child = birth_date >= guardian_needed_from();
        // A child's contact is a parent, with the child's surname; an adult's is a spouse.
        let (emergency_name, emergency_relation) = if child {
            let father = rng.below(2) == 0;
            let surname: String = name.chars().take(1).collect();
            let (parent, _) = self::name(&mut rng, father);
            (surname + &parent.chars().skip(1).collect::<String>(), if father { "51" } else { "52" })
        } else {
            (self::name(&mut rng, !male).0, "10")
        };
        let emergency_phone = random_phone(&mut rng);
        let (guardian_name, guardian_relation, guardian_phone) = if child {
            (emergency_name.clone(), emergency_relation, emergency_phone.clone())
        } else {
            (String::new(), "", String::new())
        };
        Patient {
            name,
            sex: if male { "1" } else { "2" },
            birth_date,
            ethnicity: if rng.below(50) == 0 { ETHNICITY_HUI } else { ETHNICITY_HAN },
            id_kind: "resident_id",
            id_number,
            phone: self.phone(k),
            address: address(&mut rng),
            region_code: HOME_REGION,
            insurance: insurance(&mut rng),
            emergency_name,
            emergency_relation,
            emergency_phone,
            guardian_name,
            guardian_relation,
            guardian_phone,
            initials,
        }
    }

    /// A mobile number that no other `k` of this seed has.
    fn phone(&self, k: u64) -> String {
        let space = PHONE_PREFIXES.len() as u64 * 100_000_000;
        let slot = spread(k, self.seed.rotate_left(17), space);
        format!("{}{:08}", PHONE_PREFIXES[(slot / 100_000_000) as usize], slot % 100_000_000)
    }
}

/// `(k × SPREAD + offset(seed)) mod space`: a bijection on `0..space`.
fn spread(k: u64, seed: u64, space: u64) -> u64 {
    let space = u128::from(space);
    let offset = u128::from(SplitMix::new(seed).next_u64()) % space;
    ((u128::from(k) % space * SPREAD + offset) % space) as u64
}

/// Born on or after this day, a patient gets a guardian. The server's age
/// limit is a setting (under 18 or lower); a guardian sent for an older
/// patient is ignored, so this covers every limit up to 18 from 2025 on.
fn guardian_needed_from() -> Date {
    Date::from_calendar_date(2007, Month::January, 1).expect("valid date")
}

/// Most people in the county have the resident scheme; employees and a few self-payers.
fn insurance(rng: &mut SplitMix) -> &'static str {
    match rng.below(20) {
        0..14 => "resident",
        14..19 => "employee",
        _ => "self_pay",
    }
}

/// A surname and one or two given-name characters, with the pinyin initials.
fn name(rng: &mut SplitMix, male: bool) -> (String, String) {
    let chars = if male { MALE_CHARS } else { FEMALE_CHARS };
    let given = if rng.below(10) < 3 { 1 } else { 2 };
    let (surname, py) = SURNAMES[rng.below(SURNAMES.len() as u64) as usize];
    let mut name = surname.to_string();
    let mut initials = py[..1].to_string();
    for _ in 0..given {
        let (c, py) = chars[rng.below(chars.len() as u64) as usize];
        name.push_str(c);
        initials.push_str(&py[..1]);
    }
    (name, initials)
}

fn address(rng: &mut SplitMix) -> String {
    let (town, places) = TOWNS[rng.below(TOWNS.len() as u64) as usize];
    let place = places[rng.below(places.len() as u64) as usize];
    let number = 1 + rng.below(300);
    if place.ends_with('村') {
        format!("山东省济宁市汶上县{town}{place}{number}号")
    } else {
        format!("山东省济宁市汶上县{town}{place}{number}号{}单元", 1 + rng.below(6))
    }
}

fn random_phone(rng: &mut SplitMix) -> String {
    let prefix = PHONE_PREFIXES[rng.below(PHONE_PREFIXES.len() as u64) as usize];
    format!("{prefix}{:08}", rng.below(100_000_000))
}

/// SplitMix64: tiny, portable and the same on every platform, which a seeded
/// data set needs more than statistical quality.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n` for picking names (n is small).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

mod iso_date {
    use serde::Serializer;
    use time::Date;

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use dayi_core::identity::{ResidentId, Sex};
    use time::macros::date;

    use super::*;

    const TODAY: Date = date!(2026 - 01 - 01);

    fn gcd(a: u128, b: u128) -> u128 {
        if b == 0 { a } else { gcd(b, a % b) }
    }

    /// Multiplying by SPREAD is a bijection modulo a space only when they share no factor.
    #[test]
    fn spread_is_coprime_with_both_spaces() {
        assert_eq!(gcd(SPREAD, u128::from(capacity())), 1);
        assert_eq!(gcd(SPREAD, PHONE_PREFIXES.len() as u128 * 100_000_000), 1);
    }

    #[test]
    fn patients_are_valid_and_agree_with_their_id() {
        let g = PatientGen::new(7);
        for k in 0..5_000 {
            let p = g.patient(k);
            let id = ResidentId::parse(&p.id_number, TODAY).unwrap_or_else(|e| panic!("{k}: {e:?}"));
            assert_eq!(id.birth_date(), p.birth_date);
            assert_eq!(id.sex(), if p.sex == "1" { Sex::Male } else { Sex::Female });
            assert!(REGIONS.contains(&id.region_code()));
            let seq: u64 = p.id_number[14..17].parse().unwrap();
            assert!((SEQ_FIRST..SEQ_FIRST + SEQ_COUNT).contains(&seq), "{seq}");
            let len = p.name.chars().count();
            assert!((2..=3).contains(&len), "{}", p.name);
            assert!(p.name.chars().all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{}", p.name);
            assert_eq!(p.initials.len(), len);
            assert!(p.emergency_name.chars().all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)));
            for phone in [&p.phone, &p.emergency_phone] {
                let b = phone.as_bytes();
                assert!(b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]), "{phone}");
                assert!(b.iter().all(u8::is_ascii_digit), "{phone}");
            }
            assert!(p.address.starts_with("山东省济宁市汶上县"));
        }
    }

    #[test]
    fn ids_and_phones_are_unique_over_100k() {
        let g = PatientGen::new(20_260_101);
        let mut ids = HashSet::new();
        let mut phones = HashSet::new();
        for k in 0..100_000 {
            let p = g.patient(k);
            assert!(ids.insert(p.id_number), "duplicate ID at {k}");
            assert!(phones.insert(p.phone), "duplicate phone at {k}");
        }
    }

    #[test]
    fn same_seed_same_patient_other_seed_other_patient() {
        assert_eq!(PatientGen::new(1).patient(42), PatientGen::new(1).patient(42));
        assert_ne!(PatientGen::new(1).patient(42).id_number, PatientGen::new(2).patient(42).id_number);
    }

    #[test]
    fn initials_follow_the_tables() {
        let g = PatientGen::new(3);
        let p = g.patient(9);
        let first = p.name.chars().next().unwrap().to_string();
        let (_, py) = SURNAMES.iter().find(|(s, _)| *s == first).unwrap();
        assert!(p.initials.starts_with(&py[..1]));
        assert!(p.initials.bytes().all(|b| b.is_ascii_lowercase()));
    }

    #[test]
    fn serialises_to_the_api_contract() {
        let p = PatientGen::new(1).patient(0);
        let v = serde_json::to_value(&p).unwrap();
        for key in [
            "name",
            "sex",
            "birth_date",
            "ethnicity",
            "id_kind",
            "id_number",
            "phone",
            "address",
            "region_code",
            "insurance",
            "emergency_name",
            "emergency_relation",
            "emergency_phone",
        ] {
            assert!(v.get(key).is_some_and(|x| x.is_string()), "{key} in {v}");
        }
        assert!(v.get("initials").is_none());
        let bd = v["birth_date"].as_str().unwrap();
        assert_eq!(&p.id_number[6..14], bd.replace('-', ""));
    }

    #[test]
    fn children_have_a_parent_as_guardian() {
        let g = PatientGen::new(11);
        let (mut children, mut adults) = (0, 0);
        for k in 0..2_000 {
            let p = g.patient(k);
            let v = serde_json::to_value(&p).unwrap();
            if p.birth_date >= guardian_needed_from() {
                children += 1;
                assert!(["51", "52"].contains(&p.guardian_relation));
                assert_eq!(p.guardian_name.chars().next(), p.name.chars().next(), "same surname");
                assert!(v["guardian_phone"].is_string());
            } else {
                adults += 1;
                assert!(v.get("guardian_name").is_none(), "{v}");
            }
        }
        assert!(children > 0 && adults > children);
    }

    #[test]
    fn names_are_all_distinct_characters_from_tables() {
        for table in [SURNAMES, MALE_CHARS, FEMALE_CHARS] {
            let set: HashSet<_> = table.iter().map(|(c, _)| c).collect();
            assert_eq!(set.len(), table.len());
            assert!(table.iter().all(|(c, py)| c.chars().count() == 1 && !py.is_empty()));
        }
    }
}
