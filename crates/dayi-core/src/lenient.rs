//! Number fields of forms shared by HTML and JSON. A url-encoded form sends
//! every value as text; a JSON client sends `"slot_minutes": 5`. The form
//! keeps the text (so a refused form comes back as typed) and accepts both.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// A string, a number or a boolean, as text; `null` is empty (not given).
/// Use with `#[serde(deserialize_with = "dayi_core::lenient::text")]` and
/// declare the field's real type in the schema (`#[schema(value_type = …)]`).
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(Text)
}

struct Text;

impl<'de> Visitor<'de> for Text {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    // Display never writes an exponent: 1e-7 is "0.0000001", which the parsers read.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
    fn visit_none<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(Text)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Default, Debug, PartialEq)]
    #[serde(default)]
    struct Form {
        #[serde(deserialize_with = "super::text")]
        minutes: String,
        name: String,
    }

    #[test]
    fn json_numbers_and_strings_become_the_same_text() {
        let f = |s: &str| serde_json::from_str::<Form>(s).map(|f| f.minutes);
        assert_eq!(f(r#"{"minutes": 5}"#).unwrap(), "5");
        assert_eq!(f(r#"{"minutes": "5"}"#).unwrap(), "5");
        assert_eq!(f(r#"{"minutes": -3}"#).unwrap(), "-3");
        assert_eq!(f(r#"{"minutes": 36.8}"#).unwrap(), "36.8");
        assert_eq!(f(r#"{"minutes": 1e-7}"#).unwrap(), "0.0000001");
        assert_eq!(f(r#"{"minutes": null}"#).unwrap(), "");
        assert_eq!(f(r#"{}"#).unwrap(), "");
        assert!(f(r#"{"minutes": [5]}"#).is_err());
        assert!(f(r#"{"minutes": {"a": 1}}"#).is_err());
    }

    #[test]
    fn flattened_and_optional_fields_still_read_numbers() {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct Outer {
            #[serde(flatten)]
            inner: Form,
        }
        let o: Outer = serde_json::from_str(r#"{"minutes": 15, "name": "x"}"#).unwrap();
        assert_eq!((o.inner.minutes.as_str(), o.inner.name.as_str()), ("15", "x"));
    }
}
