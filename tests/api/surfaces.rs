//! API.md "Compatibility surfaces": each surface's exact body, field by field, for a participant and for
//! a service key, over one chat holding user, assistant and system text, a media message, a file
//! message, a credit transfer and a deleted message; pagination at several depths; every error status in
//! the surface's envelope; and the D1 cost of each read.

use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::helpers::*;

/// The chat every surface test reads, made once.
struct Fixture {
    chat: String,
    project: String,
    owner: String,
    peer: String,
    key: String,
    /// The messages as the main API answered them, in sequence order.
    sent: Vec<Value>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let api = app();
        let project = unique_user("surf").replace('-', "_");
        let (owner, peer) = (unique_user("ada"), unique_user("bo"));
        // The owner's token carries a first name.
        let owner_token = sign(json!({"sub": owner, "exp": now_secs() + 3600, "iss": ISSUER,
            "aud": AUDIENCE, "given_name": "Ada"}));
        let created = api.create_chat(
            &owner_token,
            &json!({"participantIds": [peer], "type": "group", "title": "t", "projectId": project}),
        );
        created.expect(201);
        let chat = created.body["_id"].as_str().expect("chat").to_string();
        let key = api.service_key(Some(&project));
        let as_owner = |body: Value| {
            let mut body = body;
            body["chatId"] = json!(chat);
            let resp = api.post("/api/v1/messages", &owner_token, &body);
            resp.expect(201);
            resp.body
        };
        let by_key = |body: Value| {
            let resp = api.with_key("POST", "/api/v1/messages", &key, Some(&body));
            resp.expect(201);
            resp.body
        };
        let mut sent = vec![
            as_owner(json!({"content": "Hello"})),
            by_key(json!({"chatId": chat, "content": "Hi, I am the assistant"})),
            by_key(json!({"chatId": chat, "content": "System notice", "senderRole": "system"})),
        ];
        sent.push(as_owner(json!({"type": "media", "content": "look",
            "media": {"url": "https://cdn.example.com/photo.png", "type": "image", "name": "photo.png"}})));
        sent.push(as_owner(json!({"type": "file", "metadata": {"pages": 3},
            "media": {"url": "https://cdn.example.com/report.pdf", "type": "file"}})));
        api.grant(&owner, 100, &unique_user("grant")).expect(201);
        let transfer = api.post(
            "/api/v1/messages/credit-transfer",
            &owner_token,
            &json!({"chatId": chat, "recipientId": peer, "amount": 5, "note": "lunch"}),
        );
        transfer.expect(201);
        sent.push(transfer.body);
        let doomed = api.send(&peer, &chat, "to be deleted");
        doomed.expect(201);
        let id = doomed.body["_id"].as_str().expect("id").to_string();
        let deleted = api.delete(&peer, &id);
        deleted.expect(200);
        sent.push(deleted.body);
        Fixture {
            chat,
            project,
            owner,
            peer,
            key,
            sent,
        }
    })
}

/// The same read by the owner's token and by the service key: both answers.
fn both(path: &str) -> [Resp; 2] {
    let api = app();
    let f = fixture();
    [
        api.get(path, Some(&token(&f.owner))),
        api.with_key("GET", path, &f.key, None),
    ]
}

#[test]
fn the_ai_session_surface_answers_every_live_message_in_its_shape() {
    let f = fixture();
    for resp in both(&format!("/api/v1/chat/{}/messages", f.chat)) {
        resp.expect(200);
        assert_eq!(resp.body["success"], true);
        assert_eq!(resp.body["statusCode"], 200);
        assert_eq!(resp.body["message"], "Messages retrieved successfully");
        assert!(resp.header("x-next-after-sequence").is_none());
        let s = &f.sent;
        let expected = json!([
            {"id": s[0]["_id"], "chatId": f.chat, "userId": f.owner, "message": "Hello",
             "messageType": "user", "type": "message", "sequenceNumber": 1, "timestamp": s[0]["createdAt"]},
            {"id": s[1]["_id"], "chatId": f.chat, "userId": "assistant", "message": "Hi, I am the assistant",
             "messageType": "ai", "type": "message", "sequenceNumber": 2, "timestamp": s[1]["createdAt"]},
            {"id": s[2]["_id"], "chatId": f.chat, "userId": "assistant", "message": "System notice",
             "messageType": "system", "type": "message", "sequenceNumber": 3, "timestamp": s[2]["createdAt"]},
            {"id": s[3]["_id"], "chatId": f.chat, "userId": f.owner, "message": "photo.png",
             "messageType": "user", "type": "file", "sequenceNumber": 4, "timestamp": s[3]["createdAt"]},
            {"id": s[4]["_id"], "chatId": f.chat, "userId": f.owner,
             "message": "https://cdn.example.com/report.pdf",
             "messageType": "user", "type": "file", "sequenceNumber": 5, "timestamp": s[4]["createdAt"]},
            {"id": s[5]["_id"], "chatId": f.chat, "userId": f.owner, "message": "lunch",
             "messageType": "user", "type": "message", "sequenceNumber": 6, "timestamp": s[5]["createdAt"]},
        ]);
        assert_eq!(
            resp.body["data"], expected,
            "the deleted message is left out"
        );
        assert_eq!(resp.cost("x-d1-queries"), 1);
        assert!(
            resp.cost("x-d1-rows-read") <= 7 + 2 + 5,
            "{}",
            resp.cost("x-d1-rows-read")
        );
    }
    let after = app().get(
        &format!("/api/v1/chat/{}/messages?afterSequence=5", f.chat),
        Some(&token(&f.owner)),
    );
    assert_eq!(after.body["data"].as_array().map(Vec::len), Some(1));
    let past = app().get(
        &format!("/api/v1/chat/{}/messages?afterSequence=50", f.chat),
        Some(&token(&f.owner)),
    );
    assert_eq!(past.body["data"], json!([]));
}

#[test]
fn the_ai_session_surface_answers_errors_in_its_envelope() {
    let api = app();
    let f = fixture();
    let outsider = unique_user("outsider");
    let other_key = api.service_key(Some("another_project"));
    let cases = [
        (
            api.get(&format!("/api/v1/chat/{}/messages", f.chat), None),
            401,
        ),
        (
            api.get(
                &format!("/api/v1/chat/{}/messages", f.chat),
                Some(&token(&outsider)),
            ),
            404,
        ),
        (
            api.with_key(
                "GET",
                &format!("/api/v1/chat/{}/messages", f.chat),
                &other_key,
                None,
            ),
            404,
        ),
        (
            api.get("/api/v1/chat/not-a-chat/messages", Some(&token(&f.owner))),
            400,
        ),
        (
            api.get(
                &format!("/api/v1/chat/{}/messages?afterSequence=-1", f.chat),
                Some(&token(&f.owner)),
            ),
            400,
        ),
    ];
    for (resp, status) in cases {
        assert_eq!(resp.status, status, "{}", resp.text);
        assert_eq!(resp.body["success"], false);
        assert_eq!(resp.body["statusCode"], status);
        assert!(resp.body["message"].as_str().is_some_and(|m| !m.is_empty()));
        if status == 404 {
            assert_eq!(resp.body["message"], "Chat not found or access denied");
        }
    }
}

#[test]
fn the_project_surface_pages_and_windows_in_its_shape() {
    let f = fixture();
    let base = format!("/api/chat/projects/{}/chats/{}/messages", f.project, f.chat);
    for resp in both(&base) {
        resp.expect(200);
        assert_eq!(resp.body["success"], true);
        assert_eq!(resp.body["data"]["total"], 7);
        let sender = |id: &str, name: &str| json!({"_id": id, "firstName": name});
        let s = &f.sent;
        let m = |i: usize, content: Value, from: Value| json!({"_id": s[i]["_id"], "content": content, "sender": from, "createdAt": s[i]["createdAt"]});
        let expected = json!([
            m(0, json!("Hello"), sender(&f.owner, "Ada")),
            m(
                1,
                json!("Hi, I am the assistant"),
                sender("assistant", "assistant")
            ),
            m(2, json!("System notice"), sender("assistant", "assistant")),
            m(3, json!("look"), sender(&f.owner, "Ada")),
            m(4, Value::Null, sender(&f.owner, "Ada")),
            m(5, json!("lunch"), sender(&f.owner, "Ada")),
            // The peer's token has a username and no first name: the first name is the username.
            m(6, Value::Null, sender(&f.peer, &format!("{}-name", f.peer))),
        ]);
        assert_eq!(resp.body["data"]["messages"], expected);
        assert_eq!(resp.cost("x-d1-queries"), 1);
        assert!(resp.cost("x-d1-rows-read") <= 7 + 2 + 5);
    }
    let api = app();
    let owner = token(&f.owner);
    let contents = |query: &str| -> Vec<Value> {
        let resp = api.get(&format!("{base}?{query}"), Some(&owner));
        resp.expect(200);
        resp.body["data"]["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["_id"].clone())
            .collect()
    };
    let ids: Vec<Value> = f.sent.iter().map(|m| m["_id"].clone()).collect();
    // Page mode: page 1 newest, chronological inside; the page past the end is empty.
    assert_eq!(contents("limit=3"), ids[4..7].to_vec());
    assert_eq!(contents("limit=3&page=3"), ids[0..1].to_vec());
    assert!(contents("limit=3&page=4").is_empty());
    // Times, RFC 3339 and epoch ms alike.
    let at = |i: usize| {
        f.sent[i]["createdAt"]
            .as_str()
            .expect("createdAt")
            .to_string()
    };
    let ms = |i: usize| {
        chrono::DateTime::parse_from_rfc3339(&at(i))
            .expect("time")
            .timestamp_millis()
    };
    assert_eq!(contents(&format!("before={}", at(2))), ids[0..2].to_vec());
    assert_eq!(contents(&format!("after={}", ms(4))), ids[5..7].to_vec());
    assert_eq!(
        contents(&format!("after={}&before={}&limit=2", ms(0), at(5))),
        ids[1..3].to_vec()
    );
}

#[test]
fn the_project_surface_answers_errors_in_its_envelope() {
    let api = app();
    let f = fixture();
    let other = format!(
        "/api/chat/projects/another_project/chats/{}/messages",
        f.chat
    );
    let base = format!("/api/chat/projects/{}/chats/{}/messages", f.project, f.chat);
    let cases = [
        (api.get(&base, None), 401),
        (api.get(&base, Some("garbage")), 401),
        (api.get(&other, Some(&token(&f.owner))), 404),
        (api.get(&base, Some(&token(&unique_user("outsider")))), 404),
        (
            api.get(&format!("{base}?limit=101"), Some(&token(&f.owner))),
            400,
        ),
        (
            api.get(&format!("{base}?before=yesterday"), Some(&token(&f.owner))),
            400,
        ),
        (
            api.get(
                &format!("/api/chat/projects/bad%20id/chats/{}/messages", f.chat),
                Some(&token(&f.owner)),
            ),
            400,
        ),
    ];
    for (resp, status) in cases {
        assert_eq!(resp.status, status, "{}", resp.text);
        assert_eq!(
            (
                resp.body["success"].clone(),
                resp.body["statusCode"].clone()
            ),
            (json!(false), json!(status))
        );
        if status == 401 {
            assert_eq!(
                resp.body["message"],
                "Authentication required or invalid token."
            );
        }
    }
}

#[test]
fn the_assistant_surface_lists_from_an_offset_in_its_shape() {
    let f = fixture();
    let base = format!("/api/v1/chats/{}/messages", f.chat);
    for resp in both(&base) {
        resp.expect(200);
        assert_eq!(
            (
                resp.body["total"].clone(),
                resp.body["offset"].clone(),
                resp.body["limit"].clone()
            ),
            (json!(7), json!(0), json!(50))
        );
        assert_eq!(resp.body["has_more"], false);
        let s = &f.sent;
        let m = |i: usize, content: Value, role: &str, media: (Value, Value), metadata: Value| {
            json!({"id": s[i]["_id"], "content": content, "sender_role": role, "media_type": media.0,
                   "media_url": media.1, "created_at": s[i]["createdAt"], "metadata": metadata})
        };
        let none = (Value::Null, Value::Null);
        let expected = json!([
            m(0, json!("Hello"), "user", none.clone(), json!({})),
            m(
                1,
                json!("Hi, I am the assistant"),
                "assistant",
                none.clone(),
                json!({})
            ),
            m(2, json!("System notice"), "system", none.clone(), json!({})),
            m(
                3,
                json!("look"),
                "user",
                (json!("image"), json!("https://cdn.example.com/photo.png")),
                json!({})
            ),
            m(
                4,
                Value::Null,
                "user",
                (json!("file"), json!("https://cdn.example.com/report.pdf")),
                json!({"pages": 3})
            ),
            m(5, json!("lunch"), "user", none.clone(), json!({})),
            m(6, Value::Null, "user", none, json!({})),
        ]);
        assert_eq!(resp.body["messages"], expected);
        assert_eq!(resp.cost("x-d1-queries"), 1);
        assert!(resp.cost("x-d1-rows-read") <= 50 + 2 + 5);
    }
    let api = app();
    let page = |query: &str| {
        let resp = api.get(&format!("{base}?{query}"), Some(&token(&f.owner)));
        resp.expect(200);
        resp
    };
    let two = page("offset=2&limit=2");
    assert_eq!(two.body["messages"][0]["id"], f.sent[2]["_id"]);
    assert_eq!(
        (two.body["offset"].clone(), two.body["has_more"].clone()),
        (json!(2), json!(true))
    );
    let last = page("offset=5&limit=2");
    assert_eq!(last.body["has_more"], false);
    let past = page("offset=100");
    assert_eq!(past.body["messages"], json!([]));
    assert_eq!(past.body["has_more"], false);
    for bad in ["offset=-1", "limit=0", "limit=101", "offset=x"] {
        page_error(&api, &format!("{base}?{bad}"), &f.owner, 400);
    }
}

fn page_error(api: &Api, path: &str, user: &str, status: u16) {
    api.get(path, Some(&token(user))).expect(status);
}

#[test]
fn the_assistant_surface_sends_through_the_main_path() {
    let api = app();
    let f = fixture();
    let (owner, peer) = (unique_user("as-a"), unique_user("as-b"));
    let chat = api.group(&owner, &[&peer]);
    let path = format!("/api/v1/chats/{chat}/messages");
    let key = api.service_key(None);
    let send = |body: Value, idem: Option<&str>| {
        let text = body.to_string();
        let mut headers = vec![
            ("X-API-Key", key.as_str()),
            ("Content-Type", "application/json"),
        ];
        if let Some(idem) = idem {
            headers.push(("Idempotency-Key", idem));
        }
        api.raw("POST", &path, &headers, Some(text.as_bytes()))
    };
    let first = send(
        json!({"content": "How can I help?", "metadata": {"model": "m1"}}),
        Some("turn-1"),
    );
    first.expect(201);
    assert_eq!(first.body["sender_role"], "assistant");
    assert_eq!(first.body["metadata"], json!({"model": "m1"}));
    let again = send(
        json!({"content": "How can I help?", "metadata": {"model": "m1"}}),
        Some("turn-1"),
    );
    again.expect(201);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    send(json!({"content": "Different"}), Some("turn-1")).expect(409);
    let media = send(
        json!({"media_url": "https://cdn.example.com/a.png", "media_type": "image", "sender_role": "system"}),
        None,
    );
    media.expect(201);
    assert_eq!(
        (
            media.body["media_type"].clone(),
            media.body["sender_role"].clone()
        ),
        (json!("image"), json!("system"))
    );
    // The main API sees the same messages: dense sequence numbers, the key's sender, unread for all.
    let page = api.messages(&owner, &chat, "");
    assert_eq!(seqs(&page), vec![1, 2]);
    assert_eq!(page.body["messages"][0]["clientMessageId"], "turn-1");
    assert_eq!(api.chat(&owner, &chat).body["unreadCount"], 2);
    // A user sends as user only; bad bodies are 400.
    let user_post = |body: Value| api.post(&path, &token(&owner), &body);
    user_post(json!({"content": "hi", "sender_role": "assistant"})).expect(403);
    let mine = user_post(json!({"content": "hi"}));
    mine.expect(201);
    assert_eq!(mine.body["sender_role"], "user");
    for bad in [
        json!({}),
        json!({"content": "  "}),
        json!({"media_url": "https://cdn.example.com/a.png"}),
        json!({"content": "x", "media_url": "http://cdn.example.com/a.png", "media_type": "image"}),
    ] {
        user_post(bad).expect(400);
    }
    api.post(
        &format!("/api/v1/chats/{}/messages", f.chat),
        &token(&unique_user("stranger")),
        &json!({"content": "let me in"}),
    )
    .expect(404);
}

/// Past 1,000 messages the AI-session surface pages with `afterSequence` and `X-Next-After-Sequence`, and the
/// project and assistant surfaces read their deepest pages,
/// at the same cost per message at any depth (a chat of 1,500 messages seeded by SQL, on a server of the
/// test's own).
#[test]
fn the_ai_session_surface_pages_past_a_thousand_messages() {
    let server = TestServer::start(&temp_state_dir("session"), true);
    let api = server.client();
    let owner = unique_user("long");
    let created = api.create_chat(
        &token(&owner),
        &json!({"participantIds": [unique_user("long-peer")], "type": "group", "projectId": "deep"}),
    );
    created.expect(201);
    let chat = created.body["_id"].as_str().expect("chat").to_string();
    server.execute_sql(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
         INSERT INTO messages (chat_id, seq, id, sender_id, type, content, created_at, updated_at)
           SELECT '{chat}', i, printf('%08x%016x', 1700000000, i), '{owner}', 'text', 'm' || i,
                  1700000000000 + i, 1700000000000 + i FROM n;
         UPDATE chats SET last_seq = 1500 WHERE id = '{chat}';"
    ));
    let first = api.get(
        &format!("/api/v1/chat/{chat}/messages"),
        Some(&token(&owner)),
    );
    first.expect(200);
    assert_eq!(first.body["data"].as_array().map(Vec::len), Some(1000));
    assert_eq!(first.header("x-next-after-sequence"), Some("1000"));
    assert_eq!(first.cost("x-d1-queries"), 1);
    assert!(
        first.cost("x-d1-rows-read") <= 1000 + 2 + 5,
        "{}",
        first.cost("x-d1-rows-read")
    );
    let rest = api.get(
        &format!("/api/v1/chat/{chat}/messages?afterSequence=1000"),
        Some(&token(&owner)),
    );
    let data = rest.body["data"].as_array().expect("data");
    assert_eq!(data.len(), 500);
    assert_eq!(
        (
            data[0]["sequenceNumber"].clone(),
            data[499]["message"].clone()
        ),
        (json!(1001), json!("m1500"))
    );
    assert!(rest.header("x-next-after-sequence").is_none());
    // The other two surfaces read deep pages at the cost of the first: limit + participants + 5 rows.
    let deep = |path: String, first: &str, len: usize| {
        let resp = api.get(&path, Some(&token(&owner)));
        resp.expect(200);
        assert_eq!(resp.cost("x-d1-queries"), 1, "{path}");
        assert!(
            resp.cost("x-d1-rows-read") <= 100 + 2 + 5,
            "{path}: {}",
            resp.cost("x-d1-rows-read")
        );
        let messages = resp.body["messages"]
            .as_array()
            .or(resp.body["data"]["messages"].as_array());
        let messages = messages.expect("messages");
        assert_eq!(messages.len(), len, "{path}");
        let content = |m: &Value| m["content"].clone();
        assert_eq!(messages.first().map(content), Some(json!(first)), "{path}");
    };
    let project = format!("/api/chat/projects/deep/chats/{chat}/messages");
    deep(format!("{project}?limit=100&page=15"), "m1", 100);
    deep(
        format!("{project}?limit=100&before=1700000000101"),
        "m1",
        100,
    );
    deep(
        format!("{project}?limit=100&after=1700000001300"),
        "m1301",
        100,
    );
    let assistant = format!("/api/v1/chats/{chat}/messages");
    deep(format!("{assistant}?limit=100&offset=1400"), "m1401", 100);
    deep(format!("{assistant}?limit=100&offset=0"), "m1", 100);
    server.stop();
}
