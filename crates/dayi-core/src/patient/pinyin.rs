//! Pinyin keys of a patient's name, for search by full pinyin and by
//! initials (张三 → zhangsan, zs).
//!
//! A character's most common reading is usually right for given names, but
//! many surnames are read differently (单 shan, 曾 zeng, 解 xie); compound
//! surnames are matched first so 尉迟 is yuchi, not weichi.

use pinyin::ToPinyin;

/// Surnames whose reading differs from the character's most common one,
/// longest first so compound surnames win.
const SURNAMES: &[(&str, &[&str])] = &[
    ("万俟", &["mo", "qi"]),
    ("尉迟", &["yu", "chi"]),
    ("单于", &["chan", "yu"]),
    ("长孙", &["zhang", "sun"]),
    ("澹台", &["tan", "tai"]),
    ("令狐", &["ling", "hu"]),
    ("单", &["shan"]),
    ("曾", &["zeng"]),
    ("解", &["xie"]),
    ("区", &["ou"]),
    ("仇", &["qiu"]),
    ("朴", &["piao"]),
    ("查", &["zha"]),
    ("盖", &["ge"]),
    ("乐", &["yue"]),
    ("员", &["yun"]),
    ("覃", &["qin"]),
    ("缪", &["miao"]),
    ("召", &["shao"]),
    ("翟", &["zhai"]),
    ("种", &["chong"]),
    ("秘", &["bi"]),
    ("祭", &["zhai"]),
    ("繁", &["po"]),
    ("句", &["gou"]),
    ("能", &["nai"]),
    ("厍", &["she"]),
    ("华", &["hua"]),
    ("纪", &["ji"]),
    ("任", &["ren"]),
    ("沈", &["shen"]),
    ("薄", &["bo"]),
    ("柏", &["bai"]),
    ("贲", &["ben"]),
    ("过", &["guo"]),
    ("隗", &["wei"]),
    ("尉", &["yu"]),
    ("蕃", &["pi"]),
    ("叶", &["ye"]),
    ("莘", &["shen"]),
    ("重", &["chong"]),
    ("藏", &["zang"]),
    ("折", &["she"]),
    ("阚", &["kan"]),
    ("褚", &["chu"]),
    ("宓", &["fu"]),
    ("黑", &["he"]),
    ("瞿", &["qu"]),
    ("郇", &["xun"]),
    ("洗", &["xian"]),
    ("冼", &["xian"]),
    ("燕", &["yan"]),
    ("应", &["ying"]),
    ("相", &["xiang"]),
    ("訾", &["zi"]),
    ("焉", &["yan"]),
    ("都", &["du"]),
    ("莫", &["mo"]),
    ("石", &["shi"]),
    ("把", &["ba"]),
    ("那", &["na"]),
];

/// The search keys of a name: syllables joined (`zhangsan`) and their first
/// letters (`zs`), both lowercase ASCII. Letters in the name (foreign names)
/// are kept; other characters (·, spaces) are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameKeys {
    pub full: String,
    pub initials: String,
}

pub fn keys(name: &str) -> NameKeys {
    let name = name.trim();
    let (syllables, rest) = surname(name);
    let mut full = String::new();
    let mut initials = String::new();
    let mut push = |s: &str| {
        full.push_str(s);
        if let Some(c) = s.chars().next() {
            initials.push(c);
        }
    };
    syllables.iter().for_each(|s| push(s));
    let mut latin = String::new();
    for ch in rest.chars() {
        if ch.is_ascii_alphabetic() {
            latin.push(ch.to_ascii_lowercase());
            continue;
        }
        if !latin.is_empty() {
            push(&std::mem::take(&mut latin));
        }
        if let Some(p) = ch.to_pinyin() {
            push(p.plain());
        }
    }
    if !latin.is_empty() {
        push(&latin);
    }
    NameKeys { full, initials }
}

/// The reading of a surname that differs from the common reading, and the
/// rest of the name.
fn surname(name: &str) -> (&'static [&'static str], &str) {
    for (s, reading) in SURNAMES {
        if let Some(rest) = name.strip_prefix(s)
            && !rest.is_empty()
        {
            return (reading, rest);
        }
    }
    (&[], name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: &str) -> (String, String) {
        let k = keys(n);
        (k.full, k.initials)
    }

    #[test]
    fn common_names() {
        assert_eq!(k("张三"), ("zhangsan".into(), "zs".into()));
        assert_eq!(k("王建国"), ("wangjianguo".into(), "wjg".into()));
        assert_eq!(k(" 李娜 "), ("lina".into(), "ln".into()));
    }

    #[test]
    fn polyphonic_surnames() {
        assert_eq!(k("单田芳").0, "shantianfang");
        assert_eq!(k("曾国藩").1, "zgf");
        assert_eq!(k("解缙").0, "xiejin");
        assert_eq!(k("仇英").0, "qiuying");
        assert_eq!(k("区永").0, "ouyong");
        assert_eq!(k("尉迟恭").0, "yuchigong");
        assert_eq!(k("万俟卨").1, "mqx");
        assert_eq!(k("长孙无忌").1, "zswj");
        // a surname-only "name" keeps the common reading of the character
        assert_eq!(k("单").0, "dan");
    }

    #[test]
    fn ethnic_and_foreign_names() {
        assert_eq!(k("阿依古丽·买买提").1, "aygl".to_string() + "mmt");
        assert_eq!(k("John Smith"), ("johnsmith".into(), "js".into()));
    }
}
