//! Bad input gets the documented status in the error envelope, never a 500, and changes nothing.

use serde_json::json;

use crate::helpers::*;

const UNKNOWN_CHAT: &str = "64d15f9e2e6c8f4d5a000000";

#[test]
fn bad_page_and_limit_values_are_400_naming_the_parameter() {
    let api = app();
    let owner = unique_user("pager");
    let chat = api.group(&owner, &[&unique_user("other")]);
    for (query, param) in [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("asOf=-1", "asOf"),
        ("asOf=5", "asOf"),
    ] {
        let resp = api.messages(&owner, &chat, query);
        resp.expect(400);
        assert!(resp.error_text().contains(param), "{query}: {}", resp.text);
        let resp = api.chats(&owner, query);
        if param != "asOf" {
            resp.expect(400);
        }
    }
}

#[test]
fn malformed_ids_are_400_and_unknown_or_foreign_chats_are_the_same_404() {
    let api = app();
    let owner = unique_user("owner");
    let outsider = unique_user("outsider");
    let chat = api.group(&owner, &[&unique_user("member")]);
    for bad in [
        "not-an-id",
        "64D15F9E2E6C8F4D5A123456",
        "64d15f9e2e6c8f4d5a12345",
        "%00",
    ] {
        api.chat(&owner, bad).expect(400);
        api.messages(&owner, bad, "").expect(400);
    }
    let unknown = api.chat(&outsider, UNKNOWN_CHAT);
    let foreign = api.chat(&outsider, &chat);
    unknown.expect(404);
    foreign.expect(404);
    assert_eq!(
        unknown.body["errors"], foreign.body["errors"],
        "a foreign chat must look unknown"
    );
    api.messages(&outsider, &chat, "").expect(404);
    api.messages(&outsider, UNKNOWN_CHAT, "").expect(404);
    api.mark_read(&outsider, &chat, &json!({})).expect(404);
    api.send(&outsider, &chat, "let me in").expect(404);
    api.send(&outsider, UNKNOWN_CHAT, "anyone?").expect(404);
    // The outsider's attempts wrote nothing: the chat still has no messages.
    let page = api.messages(&owner, &chat, "");
    page.expect(200);
    assert_eq!(page.body["total"], 0);
}

#[test]
fn invalid_json_wrong_types_and_wrong_content_types() {
    let api = app();
    let user = unique_user("json");
    let auth = format!("Bearer {}", token(&user));
    let chat = api.group(&user, &[&unique_user("peer")]);
    let post = |body: &[u8], content_type: &str| {
        api.raw(
            "POST",
            "/api/v1/messages",
            &[("Authorization", &auth), ("Content-Type", content_type)],
            Some(body),
        )
    };
    post(b"{not json", "application/json").expect(400);
    post(b"[1,2]", "application/json").expect(400);
    post(b"\"text\"", "application/json").expect(400);
    post(&[0xff, 0xfe, b'{', b'}'], "application/json").expect(400);
    let wrong_types = post(
        json!({"chatId": 5, "content": ["x"], "metadata": "m", "clientMessageId": 7})
            .to_string()
            .as_bytes(),
        "application/json",
    );
    wrong_types.expect(400);
    let errors = wrong_types.error_text();
    for field in ["chatId", "content", "metadata", "clientMessageId"] {
        assert!(errors.contains(field), "{field} not named: {errors}");
    }
    let text_body = json!({"chatId": chat, "content": "hi"}).to_string();
    post(text_body.as_bytes(), "text/plain").expect(415);
    post(text_body.as_bytes(), "application/x-www-form-urlencoded").expect(415);
    api.raw(
        "POST",
        "/api/v1/messages",
        &[("Authorization", &auth)],
        Some(text_body.as_bytes()),
    )
    .expect(415);
    api.post(
        "/api/v1/chats",
        &token(&user),
        &json!({"participantIds": "bob"}),
    )
    .expect(400);
    api.post(
        "/api/v1/chats",
        &token(&user),
        &json!({"participantIds": [1, 2]}),
    )
    .expect(400);
    api.send_json(
        "PATCH",
        "/api/v1/users/me",
        &token(&user),
        &json!({"availabilityStatus": "asleep"}),
    )
    .expect(400);
    api.mark_read(&user, &chat, &json!({"upToSequence": "3"}))
        .expect(400);
    api.mark_read(&user, &chat, &json!({"upToSequence": 1.5}))
        .expect(400);
    api.mark_read(&user, &chat, &json!({"upToSequence": 99}))
        .expect(400);
    let page = api.messages(&user, &chat, "");
    assert_eq!(
        page.body["total"], 0,
        "nothing was stored by the refused requests"
    );
}

#[test]
fn message_rules_are_enforced() {
    let api = app();
    let user = unique_user("rules");
    let t = token(&user);
    let chat = api.group(&user, &[&unique_user("peer")]);
    let cases = [
        json!({"chatId": chat}),
        json!({"chatId": chat, "content": "   "}),
        json!({"chatId": chat, "content": "x".repeat(4001)}),
        json!({"content": "no chat"}),
        json!({"chatId": chat, "type": "credit_transfer", "content": "x"}),
        json!({"chatId": chat, "type": "media"}),
        json!({"chatId": chat, "type": "media", "media": null}),
        json!({"chatId": chat, "type": "file", "media": null, "content": "x"}),
        json!({"chatId": chat, "type": "media", "media": {"url": "https://", "type": "image"}}),
        json!({"chatId": chat, "type": "media", "media": {"url": "https://[garbage", "type": "image"}}),
        json!({"chatId": chat, "type": "media", "media": {"url": "https:///no-host", "type": "image"}}),
        json!({"chatId": chat, "type": "media", "media": {"url": "https://a.example/x", "type": "image", "thumbnail_url": "https://a b/t.png"}}),
        json!({"chatId": chat, "type": "media", "media": {"url": "http://insecure.example/a.png", "type": "image"}}),
        json!({"chatId": chat, "type": "file", "media": {"url": "https://x.example/a", "type": "pdf"}}),
        json!({"chatId": chat, "content": "x", "metadata": {"blob": "y".repeat(5000)}}),
        json!({"chatId": chat, "content": "x", "clientMessageId": ""}),
        json!({"chatId": chat, "content": "x", "clientMessageId": "c".repeat(65)}),
    ];
    for body in cases {
        let resp = api.post("/api/v1/messages", &t, &body);
        assert_eq!(resp.status, 400, "{:.200}: {}", body.to_string(), resp.text);
        resp.expect(400);
    }
    // None of the refused sends used a sequence number: the next message is the chat's first.
    let first = api.post(
        "/api/v1/messages",
        &t,
        &json!({"chatId": chat, "content": "x".repeat(4000)}),
    );
    first.expect(201);
    assert_eq!(first.body["sequenceNumber"], 1);
    api.post(
        "/api/v1/messages",
        &t,
        &json!({"chatId": chat, "type": "media", "media": {"url": "https://cdn.example/a.png", "type": "image", "width": 10}}),
    )
    .expect(201);
}

#[test]
fn profile_photo_urls_must_parse_as_https_urls_with_a_host() {
    let api = app();
    let user = unique_user("photo");
    for url in [
        "https://",
        "https://[not-a-host",
        "https:///path-only",
        "https://exa mple.com/a.png",
        "https://a.example:99999/a.png",
        "https:\\\\evil.example/a.png",
        "http://cdn.example.com/a.png",
    ] {
        let resp = api.send_json(
            "PATCH",
            "/api/v1/users/me",
            &token(&user),
            &json!({"profilePhoto": {"url": url, "type": "image"}}),
        );
        resp.expect(400);
        assert!(
            resp.error_text().contains("profilePhoto.url"),
            "{url}: {}",
            resp.text
        );
    }
    let ok = api.send_json(
        "PATCH",
        "/api/v1/users/me",
        &token(&user),
        &json!({"profilePhoto": {"url": "https://cdn.example.com/p.png", "type": "image"}}),
    );
    ok.expect(200);
    assert_eq!(
        ok.body["profilePhoto"]["url"],
        "https://cdn.example.com/p.png"
    );
}

#[test]
fn bodies_over_64_kib_are_413() {
    let api = app();
    let user = unique_user("big");
    let chat = api.group(&user, &[&unique_user("peer")]);
    let body = json!({"chatId": chat, "content": "x", "metadata": {"pad": "p".repeat(70 * 1024)}})
        .to_string();
    let auth = format!("Bearer {}", token(&user));
    api.raw(
        "POST",
        "/api/v1/messages",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
    )
    .expect(413);
}

#[test]
fn unknown_routes_are_404_and_wrong_methods_405() {
    let api = app();
    let t = token(&unique_user("routes"));
    let auth = format!("Bearer {t}");
    for path in [
        "/",
        "/api",
        "/api/v1/nope",
        "/api/v2/chats",
        "/api/v1/chats/64d15f9e2e6c8f4d5a000000/extra",
    ] {
        api.raw("GET", path, &[("Authorization", &auth)], None)
            .expect(404);
    }
    for (method, path, allow) in [
        ("DELETE", "/api/v1/chats", "GET, POST"),
        ("PUT", "/api/v1/users/me", "GET, PATCH"),
        ("GET", "/api/v1/messages", "POST"),
        ("POST", "/health", "GET"),
        // Methods the runtime's method enum does not know must not be served as GET. (A name that
        // is no HTTP method at all, like FOO, never reaches the worker: workerd answers 501 itself.)
        ("QUERY", "/api/v1/users/me", "GET, PATCH"),
        ("QUERY", "/api/v1/chats", "GET, POST"),
        ("PROPFIND", "/api/v1/chats", "GET, POST"),
        ("QUERY", "/health", "GET"),
        ("HEAD", "/api/v1/users/me", "GET, PATCH"),
    ] {
        let resp = api.raw(method, path, &[("Authorization", &auth)], Some(b""));
        if method != "HEAD" {
            resp.expect(405);
        }
        assert_eq!(resp.status, 405, "{method} {path}: {}", resp.text);
        assert_eq!(
            resp.header("allow"),
            Some(format!("{allow}, OPTIONS").as_str()),
            "{method} {path}"
        );
    }
}

/// workerd shows a request carrying `Upgrade: websocket` to the worker as a GET without its body: a
/// POST to the chat list with that header must not be served as the list.
#[test]
fn a_websocket_upgrade_outside_the_live_route_is_refused_not_served_as_get() {
    let api = app();
    let user = unique_user("upgrade");
    let auth = format!("Bearer {}", token(&user));
    let body = json!({"participantIds": [unique_user("peer")]}).to_string();
    for method in ["POST", "GET"] {
        let resp = api.raw(
            method,
            "/api/v1/chats",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
                ("Upgrade", "websocket"),
                ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ],
            Some(body.as_bytes()),
        );
        resp.expect(400);
        assert!(resp.error_text().contains("Upgrade"), "{}", resp.text);
    }
    let list = api.chats(&user, "");
    list.expect(200);
    assert_eq!(list.body["total"], 0, "nothing was created");
}

#[test]
fn options_lists_the_methods_of_a_path_and_unknown_paths_are_404() {
    let api = app();
    let resp = api.raw("OPTIONS", "/api/v1/chats", &[], None);
    assert_eq!(resp.status, 204);
    assert_eq!(resp.header("allow"), Some("GET, POST, OPTIONS"));
    assert!(resp.header("x-request-id").is_some_and(|id| !id.is_empty()));
    resp.cost("x-d1-queries");
    api.raw("OPTIONS", "/api/v1/nope", &[], None).expect(404);
}

#[test]
fn every_api_response_reports_request_id_and_d1_cost() {
    let api = app();
    for resp in [
        api.get("/api/v1/users/me", None),
        api.get("/api/v1/nope", Some(&token("u"))),
        api.get("/health", None),
    ] {
        assert!(
            resp.header("x-request-id").is_some_and(|id| !id.is_empty()),
            "{:?}",
            resp.headers
        );
        resp.cost("x-d1-queries");
        resp.cost("x-d1-rows-read");
        resp.cost("x-d1-rows-written");
    }
}
