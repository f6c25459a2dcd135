//! The OpenAPI document against the route table and the handlers: every JSON
//! route is described, every path and query parameter is declared where it
//! is read, and bodies name their real types.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::routes::specs;

fn document() -> Value {
    super::spec()
}

fn is_json_api(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/portal/api/")
}

/// The `{name}` segments of a path template.
fn template_vars(path: &str) -> BTreeSet<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|s| s.trim_start_matches('*').to_string())
        .collect()
}

/// Follows a `$ref` to a component, once.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or(v),
        None => v,
    }
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = vec![];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.clone(), op));
            }
        }
    }
    out
}

#[test]
fn every_json_route_of_the_table_is_in_the_document() {
    let doc = document();
    let missing: Vec<String> = specs()
        .iter()
        .filter(|s| is_json_api(s.path))
        .filter(|s| doc["paths"][s.path].get(s.method.as_str().to_lowercase()).is_none())
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    assert!(missing.is_empty(), "routes missing from the OpenAPI document: {missing:#?}");
    // And nothing documented that is not served.
    let served: BTreeSet<(String, String)> =
        specs().iter().map(|s| (s.method.as_str().to_string(), s.path.to_string())).collect();
    let stale: Vec<String> = operations(&doc)
        .into_iter()
        .filter(|(m, p, _)| !served.contains(&(m.clone(), p.clone())))
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert!(stale.is_empty(), "documented but not routed: {stale:#?}");
}

#[test]
fn path_parameters_are_exactly_the_template_and_required() {
    let doc = document();
    let mut wrong = vec![];
    for (method, path, op) in operations(&doc) {
        let params: Vec<&Value> = op["parameters"].as_array().map(|a| a.iter().collect()).unwrap_or_default();
        let declared: BTreeSet<String> = params
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap_or_default().to_string())
            .collect();
        let wanted = template_vars(&path);
        if declared != wanted {
            wrong.push(format!("{method} {path}: template {wanted:?}, declared in path {declared:?}"));
        }
        for p in params.iter().filter(|p| p["in"] == "path" && p["required"] != true) {
            wrong.push(format!("{method} {path}: path parameter {} not required", p["name"]));
        }
        let mut seen = BTreeSet::new();
        for p in &params {
            if !seen.insert((p["name"].to_string(), p["in"].to_string())) {
                wrong.push(format!("{method} {path}: parameter {} declared twice", p["name"]));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The handlers' source: each `pub async fn` with its attributes and signature.
fn handlers() -> Vec<(String, String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).expect("src/api") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let file = path.file_name().unwrap_or_default().to_string_lossy().to_string();
        let src = std::fs::read_to_string(&path).expect("read source");
        let (mut attrs, mut depth) = (String::new(), 0i32);
        let mut lines = src.lines();
        while let Some(line) = lines.next() {
            let t = line.trim();
            if depth > 0 || t.starts_with("#[") {
                // An attribute, possibly over several lines.
                attrs.push_str(t);
                attrs.push('\n');
                depth += t.matches('[').count() as i32 - t.matches(']').count() as i32;
            } else if let Some(rest) = t.strip_prefix("pub async fn ") {
                let name = rest.split('(').next().unwrap_or_default();
                let mut sig = t.to_string();
                while !sig.contains('{') {
                    let Some(l) = lines.next() else { break };
                    sig.push_str(l.trim());
                }
                out.push((format!("{file}::{name}"), std::mem::take(&mut attrs), sig));
            } else if !t.is_empty() && !t.starts_with("//") {
                attrs.clear();
            }
        }
    }
    out
}

/// The type inside the first `Query<…>` of a signature.
fn query_type(sig: &str) -> Option<String> {
    let i = sig.find("Query<")? + "Query<".len();
    let rest = &sig[i..];
    Some(rest[..rest.find('>')?].trim().to_string())
}

#[test]
fn a_handler_reading_a_query_declares_its_parameters() {
    let mut wrong = vec![];
    for (name, attrs, sig) in handlers() {
        let Some(ty) = query_type(&sig) else { continue };
        let declared = attrs
            .find("params(")
            .is_some_and(|i| attrs[i..].split(|c: char| !c.is_alphanumeric() && c != '_').any(|w| w == ty));
        if !attrs.contains("utoipa::path") || !declared {
            wrong.push(format!("{name} reads Query<{ty}> but its #[utoipa::path] has no params({ty})"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A schema that says nothing but "an object": what a body looked like before
/// the document was generated from the handlers' types.
fn untyped(doc: &Value, s: &Value) -> bool {
    let s = resolve(doc, s);
    if let Some(items) = s.get("items") {
        return untyped(doc, items);
    }
    let any_of = ["allOf", "oneOf", "anyOf"].iter().any(|k| s.get(*k).is_some());
    s["type"] == "object" && s.get("properties").is_none() && s.get("additionalProperties").is_none() && !any_of
}

#[test]
fn bodies_name_their_types_and_errors_are_problems() {
    let doc = document();
    let mut wrong = vec![];
    for (method, path, op) in operations(&doc) {
        if let Some(content) = op["requestBody"]["content"].as_object() {
            for (mime, c) in content {
                if untyped(&doc, &c["schema"]) {
                    wrong.push(format!("{method} {path}: request body {mime} is an untyped object"));
                }
            }
        }
        for (status, r) in op["responses"].as_object().into_iter().flatten() {
            let r = resolve(&doc, r);
            for (mime, c) in r["content"].as_object().into_iter().flatten() {
                if untyped(&doc, &c["schema"]) {
                    wrong.push(format!("{method} {path}: response {status} {mime} is an untyped object"));
                }
            }
            let error = status.starts_with('4') || status.starts_with('5');
            if error && r["content"].get("application/problem+json").is_none() {
                wrong.push(format!("{method} {path}: response {status} is not application/problem+json"));
            }
        }
    }
    assert!(wrong.is_empty(), "{} problems: {wrong:#?}", wrong.len());
}

fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                out.push(r);
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let doc = document();
    if let Ok(path) = std::env::var("DAYI_DUMP_OPENAPI") {
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap_or_default()).expect("write the document");
    }
    let mut all = vec![];
    refs(&doc, &mut all);
    let dangling: BTreeSet<&str> =
        all.into_iter().filter(|r| doc.pointer(r.trim_start_matches('#')).is_none()).collect();
    assert!(dangling.is_empty(), "{dangling:#?}");
}

#[test]
fn a_default_is_a_value_of_its_type() {
    let doc = document();
    let mut wrong = vec![];
    for (name, schema) in doc["components"]["schemas"].as_object().into_iter().flatten() {
        for (field, p) in schema["properties"].as_object().into_iter().flatten() {
            let Some(d) = p.get("default") else { continue };
            let text_only = p["type"] == "string" && p.get("format").is_none() && p.get("$ref").is_none();
            if d == "" && !text_only {
                wrong.push(format!("{name}.{field}: default \"\" for {p}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Where a null may stand: a default, an example or an enumerated value.
fn nulls(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Null => out.push(at.to_string()),
        Value::Object(m) => m
            .iter()
            .filter(|(k, _)| !["default", "example", "examples", "enum", "const"].contains(&k.as_str()))
            .for_each(|(k, v)| nulls(v, &format!("{at}/{k}"), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| nulls(v, &format!("{at}/{i}"), out)),
        _ => {}
    }
}

#[test]
fn no_member_of_the_document_is_null() {
    let mut found = vec![];
    nulls(&document(), "", &mut found);
    assert!(found.is_empty(), "{found:#?}");
}
