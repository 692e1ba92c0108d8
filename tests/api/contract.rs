//! The OpenAPI document as the tests' contract: every response a black-box test receives is checked
//! against the operation it answers (status documented, required headers present and valid, body valid
//! against the documented JSON Schema, formats included), and live frames against their components.
//! A response the document does not describe fails the test that received it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::Validator;
use serde_json::Value;

struct Contract {
    doc: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract {
        doc: serde_json::from_str(include_str!("../../docs/openapi.json")).expect("openapi.json"),
        validators: Mutex::new(HashMap::new()),
    })
}

/// A JSON pointer segment (`/` and `~` escaped).
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A validator for the schema at `pointer` in the document, with the document as its root so that its
/// `$ref`s resolve. Built once per pointer.
fn validator(pointer: &str) -> Arc<Validator> {
    let c = contract();
    let mut cache = c.validators.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(pointer.to_string())
        .or_insert_with(|| {
            let mut root = c.doc.clone();
            // A URI fragment: the braces of path templates are percent-encoded.
            let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
            root["$ref"] = Value::String(format!("#{fragment}"));
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema at {pointer}: {e}"));
            Arc::new(validator)
        })
        .clone()
}

fn check_schema(pointer: &str, value: &Value, what: &str) {
    let validator = validator(pointer);
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(5)
        .collect();
    assert!(
        errors.is_empty(),
        "{what} violates the OpenAPI document ({pointer}):\n  {}\n{value:.2000}",
        errors.join("\n  ")
    );
}

/// Checks a value against a component schema (`Message`, `LiveEvent`, ...).
pub fn check_component(name: &str, value: &Value) {
    check_schema(&format!("/components/schemas/{name}"), value, name);
}

/// Follows a `$ref` inside the document.
fn resolve(value: &Value) -> &Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(
            contract()
                .doc
                .pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("unresolved {r}")),
        ),
        None => value,
    }
}

/// The documented path template that `path` matches (fixed segments beat `{name}` ones).
fn template(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    contract().doc["paths"]
        .as_object()?
        .keys()
        .filter_map(|t| {
            let parts: Vec<&str> = t.split('/').collect();
            let fits = parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s);
            fits.then(|| (parts.iter().filter(|p| !p.starts_with('{')).count(), t))
        })
        .max()
        .map(|(_, t)| t.clone())
}

/// What a test received, as the contract sees it.
pub struct Received<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub header: &'a dyn Fn(&str) -> Option<String>,
    /// `None` when the client does not hand the body over (the WebSocket client's refusals).
    pub body: Option<&'a str>,
}

/// Checks one HTTP response against the operation it answers.
pub fn check_response(r: &Received<'_>) {
    let path = r.path.split('?').next().unwrap_or_default();
    let what = format!("{} {path} -> {}", r.method, r.status);
    assert!(
        (r.header)("x-request-id").is_some_and(|id| !id.is_empty()),
        "{what}: no X-Request-Id"
    );
    if r.method == "OPTIONS" {
        assert!(matches!(r.status, 204 | 404), "{what}");
        return;
    }
    let Some(template) = template(path) else {
        assert_eq!(r.status, 404, "{what}: an unknown path must be a 404");
        return check_described(&what, "/components/responses/E404", r);
    };
    let operation = format!("/paths/{}/{}", escape(&template), r.method.to_lowercase());
    if contract().doc.pointer(&operation).is_none() {
        assert_eq!(
            r.status, 405,
            "{what}: an undocumented method must be a 405"
        );
        assert!((r.header)("allow").is_some(), "{what}: a 405 needs Allow");
        return check_described(&what, "/components/responses/E405", r);
    }
    let status = r.status.to_string();
    let responses = &contract().doc.pointer(&operation).unwrap_or(&Value::Null)["responses"];
    let key = if responses.get(&status).is_some() {
        status
    } else {
        assert!(
            r.status >= 400 && responses.get("default").is_some(),
            "{what}: status not documented"
        );
        "default".to_string()
    };
    check_described(&what, &format!("{operation}/responses/{key}"), r);
}

/// Checks headers and body against the response object at `pointer` (following its `$ref`).
fn check_described(what: &str, pointer: &str, r: &Received<'_>) {
    let doc = &contract().doc;
    let mut pointer = pointer.to_string();
    while let Some(next) = doc
        .pointer(&pointer)
        .and_then(|v| v.get("$ref"))
        .and_then(Value::as_str)
    {
        pointer = next.trim_start_matches('#').to_string();
    }
    let response = doc
        .pointer(&pointer)
        .unwrap_or_else(|| panic!("no {pointer}"));
    if let Some(headers) = response.get("headers").and_then(Value::as_object) {
        for (name, spec) in headers {
            let spec = resolve(spec);
            match (r.header)(&name.to_ascii_lowercase()) {
                None => assert!(
                    spec["required"] != true,
                    "{what}: required header {name} is missing"
                ),
                Some(value) => {
                    let schema = resolve(&spec["schema"]);
                    let typed = if schema["type"] == "integer" {
                        value
                            .parse::<i64>()
                            .map(Value::from)
                            .unwrap_or(Value::String(value))
                    } else {
                        Value::String(value)
                    };
                    let header_pointer = header_schema_pointer(&pointer, name, spec);
                    check_schema(&header_pointer, &typed, &format!("{what}: header {name}"));
                }
            }
        }
    }
    let Some(content) = response.get("content") else {
        return;
    };
    if r.method == "HEAD" {
        return;
    }
    // A file's bytes are documented as any type: nothing to hold them to.
    if content.get("application/json").is_none() && content.get("*/*").is_some() {
        return;
    }
    assert!(
        (r.header)("content-type").is_some_and(|t| t.starts_with("application/json")),
        "{what}: the body must be JSON"
    );
    assert!(
        content.get("application/json").is_some(),
        "{what}: no JSON content documented"
    );
    let Some(text) = r.body else {
        return;
    };
    let body: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {text:.300}"));
    let schema_pointer = format!("{pointer}/content/application~1json/schema");
    check_schema(&schema_pointer, &body, what);
}

/// Where the schema of a response header lives (its `$ref`'d component, or inline).
fn header_schema_pointer(response: &str, name: &str, spec: &Value) -> String {
    let doc = &contract().doc;
    let inline = format!("{response}/headers/{}", escape(name));
    let mut at = inline;
    while let Some(next) = doc
        .pointer(&at)
        .and_then(|v| v.get("$ref"))
        .and_then(Value::as_str)
    {
        at = next.trim_start_matches('#').to_string();
    }
    debug_assert!(doc.pointer(&at).is_some_and(|v| v == spec));
    format!("{at}/schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health_headers(name: &str) -> Option<String> {
        match name {
            "x-request-id" => Some("r-1".into()),
            "x-d1-queries" | "x-d1-rows-read" | "x-d1-rows-written" => Some("0".into()),
            "content-type" => Some("application/json".into()),
            _ => None,
        }
    }

    fn health(body: &str) -> Received<'_> {
        Received {
            method: "GET",
            path: "/health",
            status: 200,
            header: &health_headers,
            body: Some(body),
        }
    }

    #[test]
    fn a_documented_response_passes() {
        check_response(&health(
            r#"{"status":"ok","database":"ok","version":"0.1.0"}"#,
        ));
    }

    #[test]
    #[should_panic(expected = "violates the OpenAPI document")]
    fn a_body_outside_the_document_fails() {
        check_response(&health(
            r#"{"status":"fine","database":"ok","version":"0.1.0"}"#,
        ));
    }

    #[test]
    #[should_panic(expected = "required header X-D1-Rows-Read is missing")]
    fn a_missing_required_header_fails() {
        let header = |name: &str| {
            (name != "x-d1-rows-read")
                .then(|| health_headers(name))
                .flatten()
        };
        check_response(&Received {
            header: &header,
            ..health(r#"{"status":"ok","database":"ok","version":"0.1.0"}"#)
        });
    }

    #[test]
    #[should_panic(expected = "status not documented")]
    fn an_undocumented_success_status_fails() {
        check_response(&Received {
            status: 201,
            ..health(r#"{"status":"ok","database":"ok","version":"0.1.0"}"#)
        });
    }
}
