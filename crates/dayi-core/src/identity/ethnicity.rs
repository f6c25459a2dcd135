//! Ethnic groups of China per GB/T 3304-1991, stored as the 2-digit code.
//! Some open-source lists are 0-based or ordered differently: this one follows
//! the standard. 97 and 98 are common additions, not in the 56-group list.

/// (code, name) in standard order.
pub const ETHNICITIES: &[(&str, &str)] = &[
    ("01", "汉族"),
    ("02", "蒙古族"),
    ("03", "回族"),
    ("04", "藏族"),
    ("05", "维吾尔族"),
    ("06", "苗族"),
    ("07", "彝族"),
    ("08", "壮族"),
    ("09", "布依族"),
    ("10", "朝鲜族"),
    ("11", "满族"),
    ("12", "侗族"),
    ("13", "瑶族"),
    ("14", "白族"),
    ("15", "土家族"),
    ("16", "哈尼族"),
    ("17", "哈萨克族"),
    ("18", "傣族"),
    ("19", "黎族"),
    ("20", "傈僳族"),
    ("21", "佤族"),
    ("22", "畲族"),
    ("23", "高山族"),
    ("24", "拉祜族"),
    ("25", "水族"),
    ("26", "东乡族"),
    ("27", "纳西族"),
    ("28", "景颇族"),
    ("29", "柯尔克孜族"),
    ("30", "土族"),
    ("31", "达斡尔族"),
    ("32", "仫佬族"),
    ("33", "羌族"),
    ("34", "布朗族"),
    ("35", "撒拉族"),
    ("36", "毛南族"),
    ("37", "仡佬族"),
    ("38", "锡伯族"),
    ("39", "阿昌族"),
    ("40", "普米族"),
    ("41", "塔吉克族"),
    ("42", "怒族"),
    ("43", "乌孜别克族"),
    ("44", "俄罗斯族"),
    ("45", "鄂温克族"),
    ("46", "德昂族"),
    ("47", "保安族"),
    ("48", "裕固族"),
    ("49", "京族"),
    ("50", "塔塔尔族"),
    ("51", "独龙族"),
    ("52", "鄂伦春族"),
    ("53", "赫哲族"),
    ("54", "门巴族"),
    ("55", "珞巴族"),
    ("56", "基诺族"),
    ("97", "其他"),
    ("98", "外国血统中国籍人士"),
];

/// `"01"` → `汉族`.
pub fn ethnicity_name(code: &str) -> Option<&'static str> {
    ETHNICITIES.iter().find(|(c, _)| *c == code.trim()).map(|&(_, n)| n)
}

/// `汉族` → `"01"`, for importing lists that carry names only.
pub fn ethnicity_code(name: &str) -> Option<&'static str> {
    ETHNICITIES.iter().find(|(_, n)| *n == name.trim()).map(|&(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn fifty_six_groups_in_order_plus_two() {
        assert_eq!(ETHNICITIES.len(), 58);
        for (i, (code, _)) in ETHNICITIES[..56].iter().enumerate() {
            assert_eq!(*code, format!("{:02}", i + 1));
        }
        let names: HashSet<_> = ETHNICITIES.iter().map(|(_, n)| n).collect();
        assert_eq!(names.len(), 58);
        assert_eq!(ethnicity_name("01"), Some("汉族"));
        assert_eq!(ethnicity_name("23"), Some("高山族"));
        assert_eq!(ethnicity_name("56"), Some("基诺族"));
        assert_eq!(ethnicity_name("98"), Some("外国血统中国籍人士"));
        assert_eq!(ethnicity_name("57"), None);
        assert_eq!(ethnicity_name("1"), None);
        assert_eq!(ethnicity_code("维吾尔族"), Some("05"));
    }
}
