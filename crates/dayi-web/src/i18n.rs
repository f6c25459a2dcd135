//! Simplified Chinese first, English second. Strings live in `i18n/*.toml`
//! (flat `key = "text"`), embedded at compile time.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
    pub fn parse(s: &str) -> Self {
        if s.eq_ignore_ascii_case("en") { Lang::En } else { Lang::Zh }
    }
}

pub const ZH_TOML: &str = include_str!("../i18n/zh-CN.toml");
pub const EN_TOML: &str = include_str!("../i18n/en.toml");

fn tables() -> &'static (HashMap<String, String>, HashMap<String, String>) {
    static T: OnceLock<(HashMap<String, String>, HashMap<String, String>)> = OnceLock::new();
    T.get_or_init(|| (parse(ZH_TOML), parse(EN_TOML)))
}

/// Parses `key = "value"` lines (a flat TOML subset: comments, blank lines, basic strings).
pub fn parse(src: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for line in src.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim();
            let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
            m.insert(k.trim().to_string(), v.replace("\\\"", "\"").replace("\\n", "\n"));
        }
    }
    m
}

/// The text for `key`; the key itself when missing (a test keeps both files complete).
pub fn t(lang: Lang, key: &str) -> String {
    let (zh, en) = tables();
    let table = if lang == Lang::En { en } else { zh };
    table.get(key).or_else(|| zh.get(key)).cloned().unwrap_or_else(|| key.to_string())
}

/// The text for `key` with its `{name}` slots filled from `args`.
pub fn tf(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    args.iter().fold(t(lang, key), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
}

pub fn keys(lang: Lang) -> Vec<String> {
    let (zh, en) = tables();
    let mut v: Vec<String> = (if lang == Lang::En { en } else { zh }).keys().cloned().collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        assert_eq!(keys(Lang::Zh), keys(Lang::En));
        assert_eq!(t(Lang::Zh, "app.name"), "大医");
        assert_eq!(tf(Lang::Zh, "roster.count", &[("n", "3")]), "共 3 个出诊时段。");
    }
}
