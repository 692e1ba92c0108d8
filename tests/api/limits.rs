//! Rate limits (API.md "Rate limits") through the real Rate Limiting binding of `wrangler dev`, and
//! D1 session bookmarks ("Read-your-writes across replicas"). The live socket's frame limit is in
//! live.rs.

use serde_json::json;

use crate::helpers::*;

/// Sends `request` until it is answered 429 (at most `max` times); the count of `ok` answers before.
fn until_limited(max: usize, ok: u16, mut request: impl FnMut() -> Resp) -> (usize, Resp) {
    for accepted in 0..max {
        let resp = request();
        if resp.status == 429 {
            return (accepted, resp);
        }
        assert_eq!(resp.status, ok, "request {accepted}: {}", resp.text);
    }
    panic!("no 429 within {max} requests");
}

#[test]
fn a_user_past_the_budget_gets_429_with_retry_after_and_another_user_does_not() {
    let api = app();
    let heavy = token(&unique_user("heavy"));
    // 600 per 60 s: the 601st is refused, unless the limiter's window turned meanwhile (then a few
    // hundred more pass first; never fewer than 600).
    let (accepted, limited) = until_limited(1300, 200, || api.get("/api/v1/chats", Some(&heavy)));
    assert!(accepted >= 600, "only {accepted} requests before the 429");
    assert_eq!(limited.header("retry-after"), Some("60"));
    assert!(
        limited
            .error_text()
            .contains("600 requests per minute per user"),
        "{}",
        limited.text
    );
    // Another user, the health check and the document are unaffected.
    let light = token(&unique_user("light"));
    api.get("/api/v1/chats", Some(&light)).expect(200);
    api.get("/health", None).expect(200);
    api.get("/openapi.json", None).expect(200);
}

#[test]
fn failed_authentication_spends_the_client_ips_budget() {
    let api = app();
    let attempt = |ip: &str| {
        api.raw(
            "GET",
            "/api/v1/chats",
            &[
                ("CF-Connecting-IP", ip),
                ("Authorization", "Bearer not-a-token"),
            ],
            None,
        )
    };
    let (refused, limited) = until_limited(1300, 401, || attempt("198.51.100.7"));
    assert!(refused >= 600, "only {refused} refusals before the 429");
    assert_eq!(limited.header("retry-after"), Some("60"));
    // Another client is still only refused, and a valid token from the limited address still works
    // (its own user's budget applies, not the address's).
    attempt("198.51.100.8").expect(401);
    let user = token(&unique_user("same-ip"));
    let auth = format!("Bearer {user}");
    api.raw(
        "GET",
        "/api/v1/chats",
        &[
            ("CF-Connecting-IP", "198.51.100.7"),
            ("Authorization", &auth),
        ],
        None,
    )
    .expect(200);
}

#[test]
fn a_writes_bookmark_sent_back_reads_that_write_and_a_malformed_one_is_a_400() {
    let api = app();
    let (a, b) = (unique_user("bm-a"), unique_user("bm-b"));
    let chat = api.group(&a, &[&b]);
    let sent = api.send(&a, &chat, "fresh enough");
    sent.expect(201);
    let bookmark = sent
        .header("x-d1-bookmark")
        .expect("a write answers with its bookmark")
        .to_string();
    let auth = format!("Bearer {}", token(&b));
    let read = api.raw(
        "GET",
        &format!("/api/v1/messages/chat/{chat}?page=1&limit=5"),
        &[("Authorization", &auth), ("X-D1-Bookmark", &bookmark)],
        None,
    );
    read.expect(200);
    assert!(
        read.text.contains(sent.body["_id"].as_str().unwrap()),
        "{}",
        read.text
    );
    let later = read.header("x-d1-bookmark").expect("a read's bookmark");
    assert!(later >= bookmark.as_str(), "{later} < {bookmark}");

    for bad in ["first-primary", "nope", "00000000", "0000000G-00000001"] {
        let resp = api.raw(
            "GET",
            "/api/v1/chats",
            &[("Authorization", &auth), ("X-D1-Bookmark", bad)],
            None,
        );
        resp.expect(400);
        assert!(resp.error_text().contains("X-D1-Bookmark"), "{}", resp.text);
    }
    // A compatibility surface answers the same refusal in its own envelope.
    let surface = api.raw(
        "GET",
        &format!("/api/v1/chat/{chat}/messages"),
        &[("Authorization", &auth), ("X-D1-Bookmark", "nope")],
        None,
    );
    assert_eq!(surface.status, 400);
    assert_eq!(surface.body["success"], false, "{}", surface.text);
    // And a write with a bookmark still starts at the primary and succeeds.
    let body = json!({"chatId": chat, "content": "after a bookmark"}).to_string();
    api.raw(
        "POST",
        "/api/v1/messages",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
            ("X-D1-Bookmark", &bookmark),
        ],
        Some(body.as_bytes()),
    )
    .expect(201);
}
