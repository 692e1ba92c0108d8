//! Service endpoints and cross-cutting behaviour: health, CORS.

use crate::helpers::*;

#[test]
fn health_reports_ok_without_auth() {
    let resp = app().get("/health", None);
    resp.expect(200);
    assert_eq!(resp.body["status"], "ok");
    assert_eq!(resp.body["database"], "ok");
    assert!(resp.body["version"].as_str().is_some_and(|v| !v.is_empty()));
}

#[test]
fn cors_preflight_and_headers_follow_cors_origins() {
    let api = app();
    let allowed = "https://app.example.com";
    let pre = api.raw(
        "OPTIONS",
        "/api/v1/messages",
        &[
            ("Origin", allowed),
            ("Access-Control-Request-Method", "POST"),
        ],
        None,
    );
    assert_eq!(pre.status, 204);
    assert_eq!(pre.header("access-control-allow-origin"), Some(allowed));
    assert!(pre
        .header("access-control-allow-methods")
        .is_some_and(|m| m.contains("POST")));
    assert!(pre
        .header("access-control-allow-headers")
        .is_some_and(|h| h.contains("Authorization")));
    let other = api.raw(
        "OPTIONS",
        "/api/v1/messages",
        &[("Origin", "https://evil.example")],
        None,
    );
    assert!(other.header("access-control-allow-origin").is_none());
    let resp = api.raw("GET", "/health", &[("Origin", allowed)], None);
    assert_eq!(resp.header("access-control-allow-origin"), Some(allowed));
    assert!(resp
        .header("access-control-expose-headers")
        .is_some_and(|h| h.contains("X-D1-Rows-Read")));
}

#[test]
fn the_openapi_document_is_served_without_auth() {
    let resp = app().get("/openapi.json", None);
    resp.expect(200);
    assert_eq!(resp.body["openapi"], "3.1.0");
    let paths = resp.body["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/api/v1/messages/chat/{chatId}"));
    assert!(paths.contains_key("/api/v1/messages/credit-transfer"));
    assert!(resp
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json")));
}
