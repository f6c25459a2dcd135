//! Realistic generated people for the demo and benchmarks: common surnames
//! (a few polyphonic ones among them), Jining region codes, valid ID numbers,
//! unique mobile numbers, guardians for children. Deterministic per seed.

use dayi_core::identity::make_resident_id;
use dayi_core::patient::NewPatient;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::{Date, Duration, macros::date};

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "于",
    "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆",
    "范", "金", "石", "贾", "夏", "付", "方", "白", "孟", "秦", "邱", "江", "尹", "薛", "闫", "段", "雷", "侯", "史",
    "郝", "孔", "单", "解", "仇", "颜", "訾", "宓",
];

const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀", "霞",
    "平", "刚", "桂", "英", "华", "建", "国", "文", "辉", "红", "玉", "兰", "海", "波", "宁", "鹏", "飞", "俊", "婷",
    "雪", "梅", "琳", "淑", "凤", "春", "志", "忠", "庆", "德", "成", "福", "永", "东", "新", "金", "荣", "翠", "萍",
    "振", "子", "昊", "宇", "浩", "然", "欣", "怡", "佳", "思", "雨", "泽", "晨", "博", "瑞", "嘉", "梓", "涵", "轩",
];

/// Birthplace codes in ID numbers: the counties of 济宁市 (distinct, so the
/// index-derived numbers stay unique).
const REGIONS: &[&str] =
    &["370830", "370811", "370812", "370826", "370827", "370828", "370829", "370831", "370832", "370881", "370883"];
const MOBILE_PREFIXES: &[&str] = &["138", "139", "150", "151", "158", "186", "187", "135", "152", "177"];
const ADDRESSES: &[&str] = &[
    "中都街道",
    "汶上街道",
    "南站镇",
    "南旺镇",
    "次邱镇",
    "寅寺镇",
    "郭楼镇",
    "康驿镇",
    "苑庄镇",
    "义桥镇",
    "军屯乡",
    "杨店镇",
];
const INSURANCE: &[&str] = &["resident", "resident", "resident", "employee", "employee", "self_pay"];

const EARLIEST: Date = date!(1930 - 01 - 01);
const DAYS: u64 = 34_000;

/// The i-th generated person of a run: index-derived ID numbers are unique
/// for every i below 374 million, and phones for every i below 100 million.
pub fn person(i: u64, seed: u64, today: Date) -> NewPatient {
    let mut rng = StdRng::seed_from_u64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let region = REGIONS[(i % REGIONS.len() as u64) as usize];
    let rest = i / REGIONS.len() as u64;
    // EARLIEST + DAYS is in 2023, so every birth date is in the past.
    let birth = EARLIEST + Duration::days((rest % DAYS) as i64);
    let seq = ((rest / DAYS) % 1000) as u16;
    let id = make_resident_id(region, birth, seq);
    let surname = SURNAMES[rng.gen_range(0..SURNAMES.len())];
    let given: String =
        (0..rng.gen_range(1..=2)).map(|_| GIVEN[rng.gen_range(0..GIVEN.len())]).collect::<Vec<_>>().concat();
    let phone = format!(
        "{}{:08}",
        MOBILE_PREFIXES[(i % MOBILE_PREFIXES.len() as u64) as usize],
        (i.wrapping_mul(37) + seed) % 100_000_000
    );
    let town = ADDRESSES[rng.gen_range(0..ADDRESSES.len())];
    let mut p = NewPatient {
        name: format!("{surname}{given}"),
        id_kind: "resident_id".into(),
        id_number: id,
        ethnicity: if rng.gen_ratio(1, 50) { "03".into() } else { "01".into() },
        phone,
        address: format!(
            "山东省济宁市汶上县{town}{}村{}号",
            GIVEN[rng.gen_range(0..GIVEN.len())],
            rng.gen_range(1..200)
        ),
        // most live in 汶上县 whatever their birthplace
        region_code: if rng.gen_ratio(4, 5) { "370830".into() } else { region.into() },
        insurance: INSURANCE[rng.gen_range(0..INSURANCE.len())].into(),
        ..Default::default()
    };
    if dayi_core::patient::age_on(birth, today) < 18 {
        p.guardian_name = format!("{surname}{}", GIVEN[rng.gen_range(0..GIVEN.len())]);
        p.guardian_relation = if rng.gen_bool(0.5) { "51".into() } else { "52".into() };
        p.guardian_phone = format!("139{:08}", (i.wrapping_mul(53) + seed) % 100_000_000);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn people_are_valid_and_unique() {
        let today = date!(2026 - 11 - 23);
        let mut ids = HashSet::new();
        let mut phones = HashSet::new();
        for i in 0..20_000 {
            let p = person(i, 7, today);
            let r = dayi_core::patient::validate(&p, today, 14).unwrap_or_else(|e| panic!("{i}: {e:?} {p:?}"));
            assert!(ids.insert(r.document.unwrap().number().to_string()));
            assert!(phones.insert(p.phone));
        }
        assert_eq!(person(5, 7, today), person(5, 7, today), "deterministic");
    }
}
