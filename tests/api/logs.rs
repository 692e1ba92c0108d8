//! The worker's structured logs, read from a real `wrangler dev`'s output: one object per request and
//! per live-socket event, with the fields README "Logs" lists, and never a token, key, secret or
//! message content, whatever the request did (a send, a key's send, a refused token, a socket).

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;

use crate::helpers::*;

/// The objects the worker logged, as workerd prints them (Node's `util.inspect`: one object over
/// several lines, or on one line when short; keys bare, strings quoted). Lines are flat by design.
fn logged_objects(output: &str) -> Vec<Map<String, Value>> {
    let mut objects = Vec::new();
    let mut fields: Option<Vec<String>> = None;
    for line in output.lines() {
        let line = line.trim_end();
        if let Some(inner) = line.strip_prefix("{ ").and_then(|l| l.strip_suffix(" }")) {
            objects.push(parse_fields(inner.split(", ").map(str::to_string)));
        } else if line == "{" {
            fields = Some(Vec::new());
        } else if line == "}" {
            if let Some(done) = fields.take() {
                objects.push(parse_fields(done.into_iter()));
            }
        } else if let Some(f) = fields.as_mut() {
            f.push(line.trim().trim_end_matches(',').to_string());
        }
    }
    objects
}

fn parse_fields(fields: impl Iterator<Item = String>) -> Map<String, Value> {
    fields
        .filter_map(|field| {
            let (key, value) = field.split_once(": ")?;
            let quoted = ['\'', '"', '`']
                .iter()
                .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)));
            let value = match quoted {
                Some(text) => Value::String(text.replace("\\'", "'")),
                None => serde_json::from_str(value).unwrap_or(Value::String(value.into())),
            };
            Some((key.to_string(), value))
        })
        .collect()
}

fn line_of<'a>(objects: &'a [Map<String, Value>], request_id: &str) -> &'a Map<String, Value> {
    objects
        .iter()
        .find(|o| o["event"] == "request" && o["requestId"] == request_id)
        .unwrap_or_else(|| panic!("no request line with requestId {request_id}: {objects:?}"))
}

#[test]
fn one_object_per_request_and_socket_event_and_no_secret_in_any() {
    let server = TestServer::start(&temp_state_dir("logs"), true);
    let api = server.client();
    let (alice, bob) = (unique_user("log-alice"), unique_user("log-bob"));
    let alice_token = token(&alice);
    let chat = api.group(&alice, &[&bob]);
    let content = format!("log-canary-content-{}", unique_user("c"));
    let key_content = format!("log-canary-key-content-{}", unique_user("c"));

    // A user's send, with a request id of the test's choosing.
    let body = json!({"chatId": chat, "content": content}).to_string();
    let auth = format!("Bearer {alice_token}");
    api.raw(
        "POST",
        "/api/v1/messages",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
            ("X-Request-Id", "log-user-send"),
        ],
        Some(body.as_bytes()),
    )
    .expect(201);

    // A service key's send into a chat of its own reach.
    let created = api.create_key(&json!({"name": unique_user("log-key"), "projectId": null}));
    created.expect(201);
    let key = created.body["key"].as_str().expect("key").to_string();
    let key_id = created.body["_id"].as_str().expect("key id").to_string();
    let body =
        json!({"chatId": chat, "content": key_content, "senderRole": "assistant"}).to_string();
    api.raw(
        "POST",
        "/api/v1/messages",
        &[
            ("X-API-Key", &key),
            ("Content-Type", "application/json"),
            ("X-Request-Id", "log-key-send"),
        ],
        Some(body.as_bytes()),
    )
    .expect(201);

    // A report with a note, the export of alice's data (her message's content streams out), and
    // the admin's look at the queue and delete.
    let note = format!("log-canary-note-{}", unique_user("n"));
    let sent = api.send(&bob, &chat, "to report");
    sent.expect(201);
    let reported = sent.body["_id"].as_str().expect("id").to_string();
    let report = json!({"reason": "abuse", "note": note}).to_string();
    let bob_auth = format!("Bearer {}", token(&bob));
    api.raw(
        "POST",
        &format!("/api/v1/messages/{reported}/reports"),
        &[
            ("Authorization", &bob_auth),
            ("Content-Type", "application/json"),
        ],
        Some(report.as_bytes()),
    )
    .expect(201);
    let export = api.get("/api/v1/users/me/export", Some(&alice_token));
    export.expect(200);
    assert!(export.text.contains(&content));
    api.with_key(
        "GET",
        "/api/v1/admin/reports?limit=100",
        ADMIN_API_KEY,
        None,
    )
    .expect(200);
    api.with_key(
        "DELETE",
        &format!("/api/v1/admin/messages/{reported}"),
        ADMIN_API_KEY,
        None,
    )
    .expect(200);

    // A refused token, a refused key, and a live socket opened then closed by the client.
    let bogus_token = format!("{}x", token(&bob));
    let bogus = format!("Bearer {bogus_token}");
    api.raw(
        "GET",
        "/api/v1/chats",
        &[("Authorization", &bogus), ("X-Request-Id", "log-bad-token")],
        None,
    )
    .expect(401);
    let bogus_key = format!("{key}x");
    api.raw(
        "GET",
        "/api/v1/chats",
        &[("X-API-Key", &bogus_key), ("X-Request-Id", "log-bad-key")],
        None,
    );
    let mut socket = crate::live::connect(&api, &bob, &chat);
    socket
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .expect("close");
    let deadline = Instant::now() + Duration::from_secs(5);
    while socket.read().is_ok() && Instant::now() < deadline {}
    // A socket refused before the upgrade (no Upgrade header: 426).
    api.raw(
        "GET",
        &format!("/api/v1/chats/{chat}/live"),
        &[
            ("Authorization", &auth),
            ("X-Request-Id", "log-refused-socket"),
        ],
        None,
    )
    .expect(426);

    // The last request's line, and the socket's close, mark the end of what this test waits for.
    api.raw("GET", "/health", &[("X-Request-Id", "log-last")], None)
        .expect(200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let output = loop {
        let output = server.output();
        let objects = logged_objects(&output);
        let closed = objects
            .iter()
            .any(|o| o["event"] == "socket" && o["action"] == "close");
        if closed && output.contains("log-last") {
            break output;
        }
        assert!(Instant::now() < deadline, "log lines missing:\n{output}");
        std::thread::sleep(Duration::from_millis(100));
    };
    server.stop();

    for secret in [
        alice_token.as_str(),
        bogus_token.as_str(),
        key.as_str(),
        bogus_key.as_str(),
        content.as_str(),
        key_content.as_str(),
        note.as_str(),
        JWT_SECRET,
        ADMIN_API_KEY,
    ] {
        assert!(
            !output.contains(secret),
            "the log shows a secret or content ({secret}):\n{output}"
        );
    }

    let objects = logged_objects(&output);
    let send = line_of(&objects, "log-user-send");
    assert_eq!(send["method"], "POST");
    assert_eq!(send["route"], "/api/v1/messages");
    assert_eq!(send["status"], 201);
    assert_eq!(send["userId"], alice.as_str());
    assert!(send.get("keyId").is_none());
    assert!(send["durationMs"].as_i64().is_some_and(|ms| ms >= 0));
    assert!(send["d1Queries"].as_u64().is_some_and(|q| q >= 1));
    assert!(send["d1RowsWritten"].as_u64().is_some_and(|w| w >= 1));
    assert!(send["d1RowsRead"].is_u64());

    let by_key = line_of(&objects, "log-key-send");
    assert_eq!(by_key["status"], 201);
    assert_eq!(by_key["keyId"], key_id.as_str());
    assert!(by_key.get("userId").is_none());

    let refused = line_of(&objects, "log-bad-token");
    assert_eq!(refused["status"], 401);
    assert!(refused.get("userId").is_none() && refused.get("keyId").is_none());
    assert_eq!(line_of(&objects, "log-bad-key")["status"], 401);

    let socket_refused = line_of(&objects, "log-refused-socket");
    assert_eq!(socket_refused["route"], "/api/v1/chats/{chatId}/live");
    assert_eq!(socket_refused["chatId"], chat.as_str());
    assert!(objects.iter().any(|o| o["event"] == "socket"
        && o["action"] == "refused"
        && o["requestId"] == "log-refused-socket"
        && o["code"] == 426
        && o["userId"] == alice.as_str()));

    let socket_event = |action: &str| {
        objects
            .iter()
            .find(|o| o["event"] == "socket" && o["action"] == action)
            .unwrap_or_else(|| panic!("no socket {action} line: {objects:?}"))
    };
    let open = socket_event("open");
    assert_eq!(open["chatId"], chat.as_str());
    assert_eq!(open["userId"], bob.as_str());
    let close = socket_event("close");
    assert_eq!(close["code"], 1000);
    assert_eq!(close["by"], "client");
    assert_eq!(close["userId"], bob.as_str());

    // Every request the worker answered has its line: the test made 10 (health included), and the
    // server's own start-up probes add /health lines.
    let requests = objects.iter().filter(|o| o["event"] == "request").count();
    assert!(requests >= 10, "{requests} request lines: {objects:?}");
    assert!(objects
        .iter()
        .filter(|o| o["event"] == "request")
        .all(|o| o.contains_key("status") && o.contains_key("d1Queries")));
}
