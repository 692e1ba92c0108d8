//! The OpenAPI 3.1 document, generated from the code: never hand-kept, never in the wasm (this module
//! is compiled for native targets only; `src/bin/openapi.rs` writes the document to
//! `docs/openapi.json`, which the worker embeds and serves, and a test holds that file to this
//! generator's output).
//!
//! Where each part comes from:
//! - paths, methods, path parameters and security: the route table (`router::ROUTES`), one entry per
//!   endpoint, whose `doc` names the route's `Operation` (`operations`);
//! - query parameters: the route's query wire struct, one parameter per field;
//! - request and response bodies: the wire structs' and views' `JsonSchema`s (schemars: JSON Schema
//!   2020-12 is OpenAPI 3.1's own dialect), requests read as they are deserialized, responses as they
//!   are serialized (every field present; objects closed with `additionalProperties: false`, so a
//!   black-box test catches a field the document does not know);
//! - error responses: the route's access and shape (a body can be too large, a path id unknown, …)
//!   plus the statuses the operation names, in the route's envelope;
//! - prose the types cannot hold (the API's description, tags, security schemes, the webhooks, long
//!   operation descriptions): `overlay.json`.

pub mod operations;

use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::error::Envelope;
use crate::router::{Access, RouteDef, ROUTES};

/// A schema of a type, as a `$ref` to its component (or inline for a type that says so).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// `T`'s schema, for a request or response body.
pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// `T`'s own schema (not a reference), for a query struct whose fields become parameters.
pub fn fields<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    T::json_schema(generator)
}

/// What the document says of one route beyond its method, path and access.
#[derive(Clone, Copy)]
pub struct Operation {
    pub id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    /// The query's wire struct (`fields::<T>`): one parameter per field.
    pub query: Option<SchemaFn>,
    /// The request body's wire struct, and whether a body is required.
    pub body: Option<(SchemaFn, bool)>,
    /// The body is raw bytes of any type (an upload), not JSON.
    pub raw_body: bool,
    /// Request headers, by their name in `components.parameters`.
    pub headers: &'static [&'static str],
    pub success: &'static [Success],
    /// Error statuses this route answers beyond those its access and shape imply.
    pub errors: &'static [u16],
}

/// A success response.
#[derive(Clone, Copy)]
pub struct Success {
    pub status: u16,
    pub description: &'static str,
    pub body: Option<SchemaFn>,
    /// Response headers beyond the common ones, by their name in `components.headers`.
    pub headers: &'static [&'static str],
    /// The body is raw bytes of the file's own type (a download), not JSON.
    pub raw: bool,
}

impl Success {
    pub const fn json(status: u16, description: &'static str, body: SchemaFn) -> Success {
        Success {
            status,
            description,
            body: Some(body),
            headers: &[],
            raw: false,
        }
    }

    /// A success whose body is a file's bytes (or none: `body` false).
    pub const fn bytes(status: u16, description: &'static str, body: bool) -> Success {
        Success {
            status,
            description,
            body: None,
            headers: &[],
            raw: body,
        }
    }

    pub const fn with_headers(self, headers: &'static [&'static str]) -> Success {
        Success { headers, ..self }
    }
}

/// The hand-written parts (prose), merged over the generated document.
const OVERLAY: &str = include_str!("overlay.json");

/// The headers every response carries (`X-D1-Bookmark` when D1 gave one).
const COMMON_HEADERS: &[&str] = &[
    "X-Request-Id",
    "X-D1-Queries",
    "X-D1-Rows-Read",
    "X-D1-Rows-Written",
    "X-D1-Bookmark",
];

/// The whole document.
pub fn document() -> Value {
    let mut requests = generator(Contract::Deserialize);
    let mut responses = generator(Contract::Serialize);
    let mut paths = Map::new();
    for route in ROUTES {
        let operation = operation(route, &mut requests, &mut responses);
        let item = paths
            .entry(route.pattern.to_string())
            .or_insert_with(|| json!({}));
        item[route.method.to_ascii_lowercase()] = operation;
    }
    // Components the tests and the prose name that no route's body holds: the live frames and the
    // webhook events.
    for component in [
        schema::<crate::chat_room::protocol::LiveEvent<'static>>,
        schema::<crate::chat_room::protocol::MessageListAnswer<'static>>,
        schema::<crate::domain::ids::ObjectId>,
        schema::<crate::http::errors::MainEnvelope<'static>>,
        schema::<crate::http::errors::SurfaceEnvelope>,
    ] {
        component(&mut responses);
    }
    schema::<crate::chat_room::webhooks::Payload<'static, crate::views::Message<'static>>>(
        &mut responses,
    );
    let mut schemas = Map::new();
    let mut response_schemas = Value::Object(responses.take_definitions(true));
    close_objects(&mut response_schemas);
    let request_schemas = Value::Object(requests.take_definitions(true));
    for (name, schema) in [request_schemas, response_schemas]
        .into_iter()
        .filter_map(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .flatten()
    {
        if let Some(earlier) = schemas.get(&name) {
            assert_eq!(
                earlier, &schema,
                "{name} differs between requests and responses: give one of them another name"
            );
        }
        schemas.insert(name, schema);
    }
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {"version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": error_responses(),
            "headers": headers(),
            "parameters": parameters(),
        },
    });
    strip_integer_formats(&mut document);
    unwrap_descriptions(&mut document);
    let overlay: Value = serde_json::from_str(OVERLAY).expect("overlay.json is JSON");
    merge_overlay(&mut document, overlay);
    document
}

fn generator(contract: Contract) -> SchemaGenerator {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.contract = contract;
    settings.into_generator()
}

/// One route's operation object.
fn operation(
    route: &RouteDef,
    requests: &mut SchemaGenerator,
    responses: &mut SchemaGenerator,
) -> Value {
    let op = operation_of(route);
    let mut parameters: Vec<Value> = path_parameters(route.pattern);
    if let Some(query) = op.query {
        parameters.extend(query_parameters(query(requests)));
    }
    parameters.extend(
        op.headers
            .iter()
            .map(|name| json!({"$ref": format!("#/components/parameters/{name}")})),
    );
    let mut object = json!({
        "operationId": op.id,
        "tags": [op.tag],
        "summary": op.summary,
        "security": security(route),
        "responses": responses_of(route, responses),
    });
    if !parameters.is_empty() {
        object["parameters"] = Value::Array(parameters);
    }
    if let Some((body, required)) = op.body {
        let media = if op.raw_body {
            "*/*"
        } else {
            "application/json"
        };
        object["requestBody"] = json!({
            "required": required,
            "content": {media: {"schema": body(requests)}},
        });
    }
    object
}

/// The operation a route names (`RouteDef::operation`).
fn operation_of(route: &RouteDef) -> &'static Operation {
    operations::OPERATIONS
        .iter()
        .find(|op| op.id == route.operation)
        .unwrap_or_else(|| {
            panic!(
                "{} {} names no operation {}",
                route.method, route.pattern, route.operation
            )
        })
}

/// The `{name}` segments of a path, each a required path parameter.
fn path_parameters(pattern: &str) -> Vec<Value> {
    pattern
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema = match name {
                "projectId" => "ProjectId",
                "userId" => "UserId",
                "key" => "ReactionKey",
                _ => "ObjectId",
            };
            json!({
                "name": name, "in": "path", "required": true,
                "schema": {"$ref": format!("#/components/schemas/{schema}")},
            })
        })
        .collect()
}

/// A query struct's fields as query parameters (a field's description describes the parameter; a
/// query parameter has no `null`).
fn query_parameters(schema: Schema) -> Vec<Value> {
    let value = schema.to_value();
    let required: Vec<&str> = value["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = value["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let mut schema = non_null(property.clone());
            let description = schema.as_object_mut().and_then(|s| s.remove("description"));
            let mut parameter = json!({
                "name": name, "in": "query", "required": required.contains(&name.as_str()),
                "schema": schema,
            });
            if let Some(description) = description {
                parameter["description"] = description;
            }
            parameter
        })
        .collect()
}

/// A schema without its `null` alternative (`Option<T>` as a query parameter).
fn non_null(mut schema: Value) -> Value {
    if let Some(types) = schema.get("type").and_then(Value::as_array).cloned() {
        let kept: Vec<Value> = types.into_iter().filter(|t| t != "null").collect();
        schema["type"] = if kept.len() == 1 {
            kept[0].clone()
        } else {
            Value::Array(kept)
        };
        return schema;
    }
    let description = schema.get("description").cloned();
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array).cloned() {
        let kept: Vec<Value> = options
            .into_iter()
            .filter(|o| o != &json!({"type": "null"}))
            .collect();
        if kept.len() == 1 {
            let mut only = kept[0].clone();
            if let (Some(description), Some(object)) = (description, only.as_object_mut()) {
                object.insert("description".into(), description);
            }
            return only;
        }
        schema["anyOf"] = Value::Array(kept);
    }
    schema
}

fn security(route: &RouteDef) -> Value {
    if route.opens_socket() {
        return json!([{"bearerAuth": []}, {"accessToken": []}]);
    }
    if route.pattern == crate::router::FILE_PATTERN {
        // A signed URL (exp, sig) needs no header; without one, a participant's token or a key.
        return json!([{}, {"bearerAuth": []}, {"serviceKey": []}]);
    }
    match route.access() {
        Access::Public => json!([]),
        Access::User => json!([{"bearerAuth": []}]),
        Access::UserOrKey => json!([{"bearerAuth": []}, {"serviceKey": []}]),
        Access::Admin => json!([{"adminKey": []}]),
    }
}

/// The statuses a route answers besides its successes: what every route may answer, what its access
/// and shape imply, and what its operation names.
fn error_statuses(route: &RouteDef) -> Vec<u16> {
    let op = operation_of(route);
    let mut statuses = vec![405, 500];
    if route.access() != Access::Public {
        // 400: a malformed X-D1-Bookmark (or path id, query, body); 503: D1 overloaded.
        statuses.extend([400, 401, 429, 503]);
    }
    if route.access() == Access::User {
        // A service key on a route only users may call.
        statuses.push(403);
    }
    if route.pattern.contains('{') {
        statuses.push(404);
    }
    if op.body.is_some() {
        statuses.extend([413, 415]);
    }
    statuses.extend(op.errors);
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

fn responses_of(route: &RouteDef, generator: &mut SchemaGenerator) -> Value {
    let mut responses = Map::new();
    for success in operation_of(route).success {
        let mut headers = Map::new();
        for name in COMMON_HEADERS.iter().chain(success.headers) {
            headers.insert(
                name.to_string(),
                json!({"$ref": format!("#/components/headers/{name}")}),
            );
        }
        let mut response = json!({"description": success.description, "headers": headers});
        if let Some(body) = success.body {
            response["content"] = json!({"application/json": {"schema": body(generator)}});
        }
        if success.raw {
            response["content"] = json!({"*/*": {"schema": {}}});
        }
        responses.insert(success.status.to_string(), response);
    }
    for status in error_statuses(route) {
        // The route's envelope applies once the route is resolved (a 405 is the main one's).
        let prefix = match route.envelope {
            Envelope::Session | Envelope::Project if status != 405 && status != 403 => "S",
            _ => "E",
        };
        responses.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/{prefix}{status}")}),
        );
    }
    responses.insert(
        "default".into(),
        json!({"$ref": "#/components/responses/Default"}),
    );
    Value::Object(responses)
}

/// Every error response, in the main envelope (`E…`) and in the surfaces' (`S…`).
fn error_responses() -> Value {
    const RETRY: &[&str] = &["Retry-After"];
    let errors: &[(u16, &str, &[&str])] = &[
        (
            400,
            "Validation failed: the errors name each field and rule.",
            &[],
        ),
        (
            401,
            "Authentication required, or the credentials are invalid.",
            &[],
        ),
        (403, "Not allowed.", &[]),
        (
            404,
            "Not found: an unknown route or resource, or a chat the caller does not participate in.",
            &[],
        ),
        (
            405,
            "The path does not serve this method (see Allow).",
            &["Allow"],
        ),
        (
            409,
            "Conflicts with stored data (an idempotency key reused with another body, a message that cannot change).",
            &[],
        ),
        (
            411,
            "Length Required: an upload without Content-Length.",
            &[],
        ),
        (
            413,
            "The body is over 64 KiB (an upload: over 25 MiB).",
            &[],
        ),
        (
            416,
            "The Range is outside the file (Content-Range: bytes */size).",
            &[],
        ),
        (
            415,
            "The body is not JSON (Content-Type must be application/json).",
            &[],
        ),
        (422, "A valid request the current state refuses.", &[]),
        (
            426,
            "Upgrade Required: a request to the WebSocket route without Upgrade: websocket.",
            &["Sec-WebSocket-Version"],
        ),
        (
            429,
            "Rate limited (API.md \"Rate limits\"): per 60 s a user 600 requests of which 300 writes, a service key 6,000, unauthenticated or failed-authentication requests 600 per client IP. Retry after Retry-After seconds.",
            RETRY,
        ),
        (
            500,
            "Internal error (opaque; the details are logged).",
            &[],
        ),
        (
            503,
            "Storage overloaded or not answering: retry after Retry-After seconds.",
            RETRY,
        ),
    ];
    let response = |description: String, extra: &[&str], schema: &str| {
        let mut headers = Map::new();
        for name in COMMON_HEADERS.iter().chain(extra) {
            headers.insert(
                name.to_string(),
                json!({"$ref": format!("#/components/headers/{name}")}),
            );
        }
        json!({
            "description": description,
            "headers": headers,
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}},
        })
    };
    let mut all = Map::new();
    for (status, description, extra) in errors {
        all.insert(
            format!("E{status}"),
            response(description.to_string(), extra, "Error"),
        );
        all.insert(
            format!("S{status}"),
            response(
                format!("{description} (this surface's envelope)"),
                extra,
                "SurfaceError",
            ),
        );
    }
    all.insert(
        "Default".into(),
        response(
            "Any other error, in the same envelope.".into(),
            &[],
            "Error",
        ),
    );
    Value::Object(all)
}

fn headers() -> Value {
    let count = |description: &str| json!({"required": true, "description": description, "schema": {"type": "integer", "minimum": 0}});
    json!({
        "X-Request-Id": {
            "required": true,
            "description": "The request's id (the client's, if it sent a valid one).",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"},
        },
        "X-D1-Queries": count("D1 round trips of this request (a batch counts once)."),
        "X-D1-Rows-Read": count("Rows D1 read for this request."),
        "X-D1-Rows-Written": count("Rows D1 wrote for this request."),
        "X-D1-Bookmark": {
            "description": "The D1 session bookmark after this request (API.md \"Read-your-writes across replicas\"): send it back as the X-D1-Bookmark request header to read data at least this fresh.",
            "schema": {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$"},
        },
        "X-Next-After-Sequence": {
            "description": "When more messages follow: the last sequence number this response covers; pass it as afterSequence.",
            "schema": {"type": "integer", "minimum": 1},
        },
        "Allow": {
            "required": true,
            "description": "The methods this path serves.",
            "schema": {"type": "string", "pattern": "^[A-Z]+(, [A-Z]+)*$"},
        },
        "Retry-After": {
            "required": true,
            "description": "Seconds to wait before retrying.",
            "schema": {"type": "integer", "minimum": 0},
        },
        "Idempotent-Replayed": {
            "description": "`true` when this answers a retry of an earlier request with the same key (the original, with its original status); absent otherwise.",
            "schema": {"type": "string", "enum": ["true"]},
        },
        "Sec-WebSocket-Version": {
            "required": true,
            "description": "The WebSocket versions this server speaks.",
            "schema": {"type": "string", "enum": ["13"]},
        },
    })
}

/// Request headers that operations name.
fn parameters() -> Value {
    let key = "^[!-~](?:[ -~]*[!-~])?[ \\t]*$";
    json!({
        "Idempotency-Key": {
            "name": "Idempotency-Key", "in": "header",
            "description": "Alternative to idempotencyKey in the body (both given: they must be equal).",
            "schema": {"type": "string", "minLength": 1, "maxLength": crate::domain::credits::MAX_KEY_CHARS, "pattern": key},
        },
        "clientKey": {
            "name": "Idempotency-Key", "in": "header",
            "description": "Makes the send idempotent exactly like clientMessageId (1 to 64 characters).",
            "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": key},
        },
        "X-D1-Bookmark": {
            "name": "X-D1-Bookmark", "in": "header", "required": false,
            "description": "Accepted on every /api operation (like X-Request-Id, it is not repeated in each): a bookmark from an earlier response's X-D1-Bookmark; this request's reads see data at least that fresh. Malformed: 400 (after authentication). Writes always start at the primary.",
            "schema": {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$"},
        },
        "Range": {
            "name": "Range", "in": "header", "required": false,
            "description": "One byte range (bytes=first-last, bytes=first-, bytes=-suffix): 206 with Content-Range, or 416 past the end. Several ranges: the whole file (200).",
            "schema": {"type": "string"},
        },
        "If-None-Match": {
            "name": "If-None-Match", "in": "header", "required": false,
            "description": "The file's ETag from an earlier download: 304 when it still matches.",
            "schema": {"type": "string"},
        },
        "Upgrade": {
            "name": "Upgrade", "in": "header", "required": true,
            "schema": {"type": "string", "pattern": "^[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]$"},
        },
        "Sec-WebSocket-Version": {
            "name": "Sec-WebSocket-Version", "in": "header", "required": true,
            "description": "Checked by the runtime (workerd), which refuses another version with a plain-text 400.",
            "schema": {"type": "string", "enum": ["13"]},
        },
        "Sec-WebSocket-Key": {
            "name": "Sec-WebSocket-Key", "in": "header", "required": true,
            "description": "16 random bytes in base64 (RFC 6455). The runtime (workerd) checks only that it is there, and refuses a missing or empty key with a plain-text 400.",
            "schema": {"type": "string", "minLength": 1},
        },
    })
}

/// Closes every object schema that lists its properties (`additionalProperties: false`), unless it
/// says otherwise: a response with a field the document does not know then fails its validation.
fn close_objects(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// schemars writes the Rust width of an integer as its `format` (`int64`, `uint16`, …), which is not a
/// JSON Schema format and which some tools enforce as one: the ranges say what the API allows.
fn strip_integer_formats(value: &mut Value) {
    const WIDTHS: &[&str] = &[
        "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float",
        "double",
    ];
    match value {
        Value::Object(map) => {
            if map
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| WIDTHS.contains(&f))
            {
                map.remove("format");
            }
            map.values_mut().for_each(strip_integer_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_integer_formats),
        _ => {}
    }
}

/// Doc comments wrap at 100 columns; a description is one paragraph per blank line.
fn unwrap_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(text)) = map.get_mut("description") {
                let paragraphs: Vec<String> = text
                    .split("\n\n")
                    .map(|p| p.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
                    .collect();
                *text = paragraphs.join("\n\n");
            }
            map.values_mut().for_each(unwrap_descriptions);
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_descriptions),
        _ => {}
    }
}

/// Merges the overlay: objects key by key (the overlay's value wins for everything else), and
/// `operations` (prose by operationId) into the operations it names.
fn merge_overlay(document: &mut Value, mut overlay: Value) {
    if let Some(Value::Object(operations)) = overlay
        .as_object_mut()
        .and_then(|o| o.remove("x-operations"))
    {
        for (id, extra) in operations {
            let mut found = false;
            if let Some(paths) = document["paths"].as_object_mut() {
                for item in paths.values_mut() {
                    for op in item
                        .as_object_mut()
                        .into_iter()
                        .flat_map(|i| i.values_mut())
                    {
                        if op["operationId"] == id.as_str() {
                            merge(op, extra.clone());
                            found = true;
                        }
                    }
                }
            }
            assert!(found, "overlay.json describes an unknown operation {id}");
        }
    }
    merge(document, overlay);
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        into.insert(key, value);
                    }
                }
            }
        }
        (into, from) => *into = from,
    }
}

/// The document as the committed file holds it: pretty JSON, keys sorted, a final newline.
pub fn text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("the document serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/openapi.json` (which the worker serves) is exactly what the code generates: a change of
    /// a type or a route shows in review as a change of that file. `make openapi` rewrites it.
    #[test]
    fn the_committed_document_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        let generated = text();
        if committed != generated {
            let first = committed
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(committed.lines().count().min(generated.lines().count()));
            let around = |text: &str| {
                text.lines()
                    .skip(first.saturating_sub(3))
                    .take(8)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            panic!(
                "docs/openapi.json is not the generated document (run `make openapi`); first \
                 difference at line {}:\n--- committed\n{}\n+++ generated\n{}",
                first + 1,
                around(&committed),
                around(&generated)
            );
        }
    }

    /// Each route names one operation, and each operation belongs to one route.
    #[test]
    fn routes_and_operations_are_one_to_one() {
        let mut ids: Vec<&str> = ROUTES.iter().map(|r| r.operation).collect();
        ids.sort_unstable();
        let mut described: Vec<&str> = operations::OPERATIONS.iter().map(|o| o.id).collect();
        described.sort_unstable();
        assert_eq!(ids, described);
        ids.dedup();
        assert_eq!(ids.len(), ROUTES.len(), "an operationId is used twice");
    }

    #[test]
    fn every_reference_resolves() {
        fn walk<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(map) => {
                    if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                        out.push(r);
                    }
                    map.values().for_each(|x| walk(x, out));
                }
                Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let doc = document();
        let mut refs = Vec::new();
        walk(&doc, &mut refs);
        assert!(refs.len() > 50);
        for r in refs {
            assert!(
                doc.pointer(r.trim_start_matches('#')).is_some(),
                "unresolved {r}"
            );
        }
    }

    #[test]
    fn query_parameters_lose_their_null() {
        assert_eq!(
            non_null(json!({"type": ["integer", "null"], "minimum": 1})),
            json!({"type": "integer", "minimum": 1})
        );
        assert_eq!(
            non_null(json!({"anyOf": [{"$ref": "#/x"}, {"type": "null"}], "description": "d"})),
            json!({"$ref": "#/x", "description": "d"})
        );
    }

    #[test]
    fn response_objects_are_closed_and_integers_have_no_width() {
        let doc = document();
        let message = &doc["components"]["schemas"]["Message"];
        assert_eq!(message["additionalProperties"], false);
        assert_eq!(
            doc["components"]["schemas"]["Metadata"]["additionalProperties"],
            true
        );
        assert!(doc["components"]["schemas"]["NewMessage"]
            .get("additionalProperties")
            .is_none());
        assert!(!doc.to_string().contains("\"int64\""));
    }
}
