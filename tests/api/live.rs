//! API.md "Live delivery (WebSocket)", with a real WebSocket client (tungstenite) against the real
//! Durable Object: events after commit in sequence order, `message_list`, refusals before the upgrade,
//! malformed frames, token expiry (4001) and removed participants (4003).

use std::collections::HashSet;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

use crate::helpers::*;

type Socket = WebSocket<TcpStream>;

fn live_url(api: &Api, chat: &str, query: &str) -> String {
    format!(
        "{}/api/v1/chats/{chat}/live{query}",
        api.base_url.replacen("http://", "ws://", 1)
    )
}

/// Holds a handshake's answer (the 101, or a refusal) to the document.
fn check_handshake<T>(chat: &str, response: &tungstenite::http::Response<T>, body: Option<&str>) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    crate::contract::check_response(&crate::contract::Received {
        method: "GET",
        path: &format!("/api/v1/chats/{chat}/live"),
        status: response.status().as_u16(),
        header: &header,
        body,
    });
}

/// Opens the chat's socket with `Authorization: Bearer <token>` (or none); the HTTP refusal otherwise.
fn try_connect(
    api: &Api,
    chat: &str,
    query: &str,
    bearer: Option<&str>,
) -> Result<Socket, (u16, Value)> {
    let mut request = live_url(api, chat, query)
        .into_client_request()
        .expect("request");
    if let Some(token) = bearer {
        request.headers_mut().insert(
            "Authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
    }
    let host = api.base_url.trim_start_matches("http://").to_string();
    let stream = TcpStream::connect(&host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    match tungstenite::client::client(request, stream) {
        Ok((socket, response)) => {
            assert_eq!(response.status().as_u16(), 101);
            check_handshake(chat, &response, None);
            // Every /api response carries its request id and D1 cost, the handshake's 101 included.
            let headers = response.headers();
            for name in [
                "x-request-id",
                "x-d1-queries",
                "x-d1-rows-read",
                "x-d1-rows-written",
            ] {
                assert!(
                    headers.get(name).is_some_and(|v| !v.is_empty()),
                    "the 101 has no {name}: {headers:?}"
                );
            }
            Ok(socket)
        }
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            let status = response.status().as_u16();
            // tungstenite hands over the body of a refusal only when it has read one.
            let text = response
                .body()
                .as_deref()
                .filter(|b| !b.is_empty())
                .map(|b| String::from_utf8_lossy(b).into_owned());
            check_handshake(chat, &response, text.as_deref());
            let body = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            Err((status, body))
        }
        Err(e) => panic!("handshake: {e}"),
    }
}

/// Opens the chat's socket as `user` and reads its first frame, the presence snapshot (API.md: right
/// after the handshake).
pub(crate) fn connect(api: &Api, user: &str, chat: &str) -> Socket {
    connect_with_snapshot(api, user, chat).0
}

/// `connect`, with the snapshot's `online` list.
pub(crate) fn connect_with_snapshot(api: &Api, user: &str, chat: &str) -> (Socket, Vec<String>) {
    let mut socket =
        try_connect(api, chat, "", Some(&token(user))).unwrap_or_else(|(s, b)| panic!("{s} {b}"));
    let snapshot = match next_frame(&mut socket, Duration::from_secs(2)) {
        Frame::Json(v) => v,
        other => panic!("expected the presence snapshot, got {other:?}"),
    };
    assert_eq!(snapshot["event"], "presence.snapshot", "{snapshot}");
    assert_eq!(snapshot["data"]["chatId"], chat);
    let online = snapshot["data"]["online"]
        .as_array()
        .expect("online")
        .iter()
        .map(|u| u.as_str().expect("id").to_string())
        .collect();
    (socket, online)
}

/// Holds every server frame to the document: events to `LiveEvent`, request answers to
/// `MessageListResponse` (pongs echo the client's value and have no schema).
fn check_frame(frame: &Value) {
    if frame.get("event").is_some() {
        crate::contract::check_component("LiveEvent", frame);
    } else if frame.get("response").is_some() {
        crate::contract::check_component("MessageListResponse", frame);
    } else {
        assert!(frame.get("pong").is_some(), "unknown frame {frame}");
    }
}

/// What the next frame said, within `wait`: a JSON text frame, a close code, or nothing.
#[derive(Debug)]
enum Frame {
    Json(Value),
    Closed(Option<u16>),
    Nothing,
}

fn next_frame(socket: &mut Socket, wait: Duration) -> Frame {
    let deadline = Instant::now() + wait;
    loop {
        match socket.read() {
            Ok(Message::Text(text)) => {
                let frame: Value = serde_json::from_str(text.as_str()).expect("JSON frame");
                check_frame(&frame);
                return Frame::Json(frame);
            }
            Ok(Message::Close(frame)) => return Frame::Closed(frame.map(|f| u16::from(f.code))),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if Instant::now() >= deadline {
                    return Frame::Nothing;
                }
            }
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Frame::Closed(None)
            }
            Err(e) => panic!("socket: {e}"),
        }
    }
}

/// Typing and presence events, which other users' sockets and keystrokes cause at any time; tests of
/// them read `next_frame`, the others skip them.
fn is_ephemeral(frame: &Value) -> bool {
    matches!(
        frame["event"].as_str(),
        Some("typing" | "presence" | "presence.snapshot")
    )
}

/// The next JSON frame within `wait` (typing and presence skipped), if any.
pub(crate) fn try_next_json(socket: &mut Socket, wait: Duration) -> Option<Value> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_frame(socket, left) {
            Frame::Json(v) if is_ephemeral(&v) => continue,
            Frame::Json(v) => return Some(v),
            _ => return None,
        }
    }
}

/// The next JSON frame within 2 seconds (API: events arrive within 2 s of the write), typing and
/// presence events skipped.
pub(crate) fn next_json(socket: &mut Socket) -> Value {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_frame(socket, left) {
            Frame::Json(v) if is_ephemeral(&v) => continue,
            Frame::Json(v) => return v,
            other => panic!("expected a frame within 2 s, got {other:?}"),
        }
    }
}

/// The next `count` message events (read events skipped).
fn message_events(socket: &mut Socket, count: usize) -> Vec<Value> {
    let mut events = Vec::new();
    while events.len() < count {
        let frame = next_json(socket);
        if frame["event"]
            .as_str()
            .is_some_and(|e| e.starts_with("message."))
        {
            events.push(frame);
        }
    }
    events
}

fn send_text(socket: &mut Socket, text: &str) {
    socket.send(Message::text(text)).expect("send frame");
}

/// Sends a request frame and returns its answer (events that arrive first are skipped).
fn request(socket: &mut Socket, frame: Value) -> Value {
    send_text(socket, &frame.to_string());
    loop {
        let answer = next_json(socket);
        if answer.get("response").is_some() || answer.get("pong").is_some() {
            return answer;
        }
    }
}

/// No frame but typing and presence events for `wait`.
fn quiet_for(socket: &mut Socket, wait: Duration) {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Frame::Json(v) = next_frame(socket, left) {
            assert!(is_ephemeral(&v), "expected silence, got {v}");
        }
    }
}

#[test]
fn listeners_get_the_body_the_sender_got() {
    let api = app();
    let (a, b, c) = (
        unique_user("live-a"),
        unique_user("live-b"),
        unique_user("live-c"),
    );
    let chat = api.group(&a, &[&b, &c]);
    let mut sockets = [connect(&api, &a, &chat), connect(&api, &b, &chat)];
    let sent = api.send(&c, &chat, "hello, listeners");
    sent.expect(201);
    for socket in &mut sockets {
        let event = next_json(socket);
        assert_eq!(event["event"], "message.created");
        assert_eq!(event["data"], sent.body);
        // Sending moved the sender's read mark.
        let read = next_json(socket);
        assert_eq!(read["event"], "read.updated");
        assert_eq!(
            read["data"],
            json!({"chatId": chat, "userId": c, "lastReadSequence": 1})
        );
    }
    // An idempotent retry commits nothing new and announces nothing.
    let body = json!({"chatId": chat, "content": "once", "clientMessageId": "k1"});
    api.post("/api/v1/messages", &token(&c), &body).expect(201);
    assert_eq!(
        message_events(&mut sockets[0], 1)[0]["data"]["content"],
        "once"
    );
    api.post("/api/v1/messages", &token(&c), &body).expect(201);
    next_json(&mut sockets[0]); // the read mark of the first send
    quiet_for(&mut sockets[0], Duration::from_millis(700));
}

#[test]
fn thirty_concurrent_sends_arrive_everywhere_in_sequence_order() {
    let api = app();
    let users: Vec<String> = (0..5).map(|i| unique_user(&format!("fan{i}"))).collect();
    let others: Vec<&str> = users[1..].iter().map(String::as_str).collect();
    let chat = api.group(&users[0], &others);
    let mut listeners = [
        connect(&api, &users[0], &chat),
        connect(&api, &users[1], &chat),
    ];
    let sent: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = users[2..]
            .iter()
            .map(|sender| {
                let (api, chat) = (&api, &chat);
                s.spawn(move || {
                    (0..10)
                        .map(|i| {
                            let r = api.send(sender, chat, &format!("{sender} {i}"));
                            r.expect(201);
                            r.body
                        })
                        .collect::<Vec<Value>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("sender"))
            .collect()
    });
    let sent_ids: HashSet<&str> = sent.iter().map(|m| m["_id"].as_str().unwrap()).collect();
    for listener in &mut listeners {
        let events = message_events(listener, 30);
        let seqs: Vec<i64> = events
            .iter()
            .map(|e| e["data"]["sequenceNumber"].as_i64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            (1..=30).collect::<Vec<i64>>(),
            "strictly increasing, no gap"
        );
        let ids: HashSet<&str> = events
            .iter()
            .map(|e| e["data"]["_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, sent_ids);
    }
}

#[test]
fn transfers_edits_deletes_and_read_marks_have_events_refusals_none() {
    let api = app();
    let (a, b) = (unique_user("ev-a"), unique_user("ev-b"));
    let chat = api.group(&a, &[&b]);
    let mut socket = connect(&api, &b, &chat);
    api.grant(&a, 10, &format!("grant-{a}")).expect(201);
    let transfer = api.transfer(&a, &chat, &b, 4, Some("t1"));
    transfer.expect(201);
    let transfer = transfer.body;
    let event = message_events(&mut socket, 1).remove(0);
    assert_eq!(event["event"], "message.created");
    assert_eq!(event["data"], transfer);
    assert_eq!(event["data"]["type"], "credit_transfer");

    let text = api.send(&a, &chat, "typo");
    let id = text.body["_id"].as_str().unwrap().to_string();
    message_events(&mut socket, 1);
    let edited = api.edit(&a, &id, "fixed");
    edited.expect(200);
    let event = message_events(&mut socket, 1).remove(0);
    assert_eq!(
        (&event["event"], &event["data"]),
        (&json!("message.updated"), &edited.body)
    );
    let deleted = api.delete(&a, &id);
    deleted.expect(200);
    let event = message_events(&mut socket, 1).remove(0);
    assert_eq!(
        (&event["event"], &event["data"]),
        (&json!("message.deleted"), &deleted.body)
    );
    assert!(event["data"]["content"].is_null());

    // b reads everything: one read.updated; reading again moves nothing and says nothing.
    api.mark_read(&b, &chat, &json!({})).expect(200);
    let read = next_json(&mut socket);
    assert_eq!(
        read,
        json!({"event": "read.updated", "data": {"chatId": chat, "userId": b, "lastReadSequence": 2}})
    );
    api.mark_read(&b, &chat, &json!({})).expect(200);
    // Refused writes: insufficient credits (422), a stranger's edit (403), deleting a transfer (409).
    api.transfer(&a, &chat, &b, 1_000, Some("too-much"))
        .expect(422);
    api.edit(&b, text.body["_id"].as_str().unwrap(), "x")
        .expect(403);
    api.delete(&a, transfer["_id"].as_str().unwrap())
        .expect(409);
    api.delete(&a, &id).expect(200); // already deleted: nothing changes
    quiet_for(&mut socket, Duration::from_millis(700));
    let marker = api.send(&a, &chat, "marker");
    let event = message_events(&mut socket, 1).remove(0);
    assert_eq!(event["data"]["_id"], marker.body["_id"]);
    assert_eq!(event["data"]["sequenceNumber"], 3);
}

#[test]
fn reconnect_and_catch_up_with_message_list() {
    let api = app();
    let (a, b) = (unique_user("cu-a"), unique_user("cu-b"));
    let chat = api.group(&a, &[&b]);
    let mut socket = connect(&api, &b, &chat);
    api.send(&a, &chat, "seen live").expect(201);
    let last_seen = message_events(&mut socket, 1).remove(0);
    let since =
        chrono::DateTime::parse_from_rfc3339(last_seen["data"]["updatedAt"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
    socket.close(None).expect("close");
    // The server completes the closing handshake (after the read mark still in flight).
    loop {
        match next_frame(&mut socket, Duration::from_secs(2)) {
            Frame::Json(_) => continue,
            Frame::Closed(_) => break,
            Frame::Nothing => panic!("the server did not answer the close"),
        }
    }

    let missed: Vec<Value> = (0..5)
        .map(|i| api.send(&a, &chat, &format!("missed {i}")).body)
        .collect();
    api.mark_read(&b, &chat, &json!({"upToSequence": 3}))
        .expect(200);
    let mut socket = connect(&api, &b, &chat);
    let answer = request(
        &mut socket,
        // Exactly as a SAMA client sends it: the id inside `request`, the window as flat keys.
        json!({"request": {"message_list": {"cid": chat, "updated_at.gt": since}, "id": "r7"}}),
    );
    let response = &answer["response"];
    assert_eq!(response["id"], "r7", "{answer}");
    assert_eq!(response["hasMore"], false);
    let messages = response["messages"].as_array().unwrap();
    let ids: Vec<&Value> = messages.iter().map(|m| &m["_id"]).collect();
    let expected: Vec<&Value> = missed.iter().map(|m| &m["_id"]).collect();
    assert_eq!(ids, expected, "exactly the 5 missed, in order");
    // The SAMA shape.
    let first = &messages[0];
    let created = chrono::DateTime::parse_from_rfc3339(missed[0]["createdAt"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert_eq!(first["body"], "missed 0");
    assert_eq!(first["cid"], chat.as_str());
    assert_eq!(first["from"], a.as_str());
    assert_eq!(first["seq"], 2);
    assert_eq!(first["t"], created);
    assert_eq!(first["created_at"], missed[0]["createdAt"]);
    assert_eq!(first["attachments"], json!([]));
    assert_eq!(first["reactions"], json!({}));
    // b's read mark is at 3: messages 2 and 3 are read, the rest sent.
    let statuses: Vec<&str> = messages
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["read", "read", "sent", "sent", "sent"]);

    // A window walked with a small limit and the cursor; ids; the newest messages; ping.
    let page = request(
        &mut socket,
        json!({"request": {"message_list": {"cid": chat, "limit": 3, "updated_at": {"gt": since}}, "id": 2}}),
    );
    assert_eq!(page["response"]["hasMore"], true);
    let cursor = page["response"]["nextCursor"].as_str().unwrap().to_string();
    let rest = request(
        &mut socket,
        json!({"request": {"message_list": {"cid": chat, "limit": 3, "cursor": cursor}, "id": 3}}),
    );
    let walked: Vec<&Value> = page["response"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["response"]["messages"].as_array().unwrap())
        .map(|m| &m["_id"])
        .collect();
    assert_eq!(walked, expected);
    let by_id = request(
        &mut socket,
        // The top-level `id` an earlier README showed still works.
        json!({"request": {"message_list": {"cid": chat, "ids": [missed[3]["_id"], missed[1]["_id"]]}}, "id": 4}),
    );
    let seqs: Vec<&Value> = by_id["response"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["seq"])
        .collect();
    assert_eq!(seqs, [&json!(3), &json!(5)]);
    let newest = request(
        &mut socket,
        json!({"request": {"message_list": {"cid": chat, "limit": 2}, "id": 5}}),
    );
    let seqs: Vec<&Value> = newest["response"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["seq"])
        .collect();
    assert_eq!(seqs, [&json!(5), &json!(6)]);
    assert_eq!(newest["response"]["hasMore"], true);
    assert_eq!(
        request(&mut socket, json!({"ping": {"n": 7}})),
        json!({"pong": {"n": 7}})
    );
}

#[test]
fn refusals_come_before_the_upgrade() {
    let api = app();
    let (a, b, outsider) = (
        unique_user("ref-a"),
        unique_user("ref-b"),
        unique_user("ref-o"),
    );
    let chat = api.group(&a, &[&b]);
    // Each refusal: the WebSocket client sees the status; the same request over plain HTTP (with
    // `Upgrade: websocket`) shows the envelope.
    let check = |chat: &str, query: &str, bearer: Option<&str>, status: u16| {
        match try_connect(&api, chat, query, bearer) {
            Ok(_) => panic!("upgraded; expected {status}"),
            Err((got, _)) => assert_eq!(got, status, "{chat}{query}"),
        }
        let auth = bearer.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Upgrade", "websocket")];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        api.raw(
            "GET",
            &format!("/api/v1/chats/{chat}/live{query}"),
            &headers,
            None,
        )
        .expect(status);
    };
    check(&chat, "", Some(&token(&outsider)), 404);
    check("64d15f9e2e6c8f4d5a000000", "", Some(&token(&a)), 404);
    check(&chat, "", None, 401);
    check(&chat, "", Some("not.a.token"), 401);
    let expired = sign(json!({"sub": a, "exp": now_secs() - 3600, "iss": ISSUER, "aud": AUDIENCE}));
    check(&chat, "", Some(&expired), 401);
    check(&chat, "?access_token=garbage", None, 401);
    check("not-an-id", "", Some(&token(&a)), 400);
    // Browsers: the token as a query parameter.
    let mut socket = try_connect(&api, &chat, &format!("?access_token={}", token(&a)), None)
        .unwrap_or_else(|(s, b)| panic!("{s} {b}"));
    api.send(&b, &chat, "to the browser").expect(201);
    assert_eq!(
        message_events(&mut socket, 1)[0]["data"]["content"],
        "to the browser"
    );
    // A plain GET (no upgrade) is told what the endpoint is for.
    let auth = format!("Bearer {}", token(&a));
    let plain = api.raw(
        "GET",
        &format!("/api/v1/chats/{chat}/live"),
        &[("Authorization", &auth)],
        None,
    );
    plain.expect(426);
    api.raw(
        "POST",
        &format!("/api/v1/chats/{chat}/live"),
        &[("Authorization", &auth)],
        None,
    )
    .expect(405);
}

#[test]
fn malformed_frames_get_an_error_and_the_socket_keeps_working() {
    let api = app();
    let (a, b) = (unique_user("mal-a"), unique_user("mal-b"));
    let chat = api.group(&a, &[&b]);
    let mut socket = connect(&api, &a, &chat);
    let cases = [
        ("garbage".to_string(), Value::Null, "JSON"),
        ("[]".to_string(), Value::Null, "JSON objects"),
        (json!({"request": {"typing": {}}, "id": "x1"}).to_string(), json!("x1"), "unknown request"),
        (json!({"request": {"message_list": {"cid": "64d15f9e2e6c8f4d5a000000"}, "id": 9}}).to_string(), json!(9), "this socket's chat"),
        (json!({"request": {"message_list": {"cid": chat, "limit": 500}, "id": "x2"}}).to_string(), json!("x2"), "limit"),
        (json!({"request": {"message_list": {"cid": chat, "updated_at": {"gt": "yesterday"}}, "id": "x3"}}).to_string(), json!("x3"), "updated_at.gt"),
        (json!({"request": {"message_list": {"cid": chat, "ids": ["zz"]}, "id": "x4"}}).to_string(), json!("x4"), "ids"),
        (json!({"request": {"message_list": {"cid": chat, "cursor": "00"}, "id": "x5"}}).to_string(), json!("x5"), "cursor"),
    ];
    for (frame, id, mention) in cases {
        send_text(&mut socket, &frame);
        let answer = next_json(&mut socket);
        assert_eq!(answer["response"]["id"], id, "{frame}: {answer}");
        assert_eq!(answer["response"]["error"]["status"], 400, "{answer}");
        let message = answer["response"]["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(mention), "{frame}: {message}");
    }
    socket
        .send(Message::binary(vec![1u8, 2, 3]))
        .expect("binary frame");
    assert_eq!(next_json(&mut socket)["response"]["error"]["status"], 400);
    // Still open and serving.
    assert_eq!(request(&mut socket, json!({"ping": 1})), json!({"pong": 1}));
    api.send(&b, &chat, "still here").expect(201);
    assert_eq!(
        message_events(&mut socket, 1)[0]["data"]["content"],
        "still here"
    );
}

#[test]
fn an_expired_token_closes_the_socket_with_4001() {
    let api = app();
    let (a, b) = (unique_user("exp-a"), unique_user("exp-b"));
    let chat = api.group(&a, &[&b]);
    let short = sign(json!({"sub": a, "exp": now_secs() + 3, "iss": ISSUER, "aud": AUDIENCE}));
    let mut socket =
        try_connect(&api, &chat, "", Some(&short)).unwrap_or_else(|(s, b)| panic!("{s} {b}"));
    let started = Instant::now();
    let closed = loop {
        match next_frame(&mut socket, Duration::from_secs(15)) {
            Frame::Closed(code) => break code,
            Frame::Json(_) => continue,
            Frame::Nothing => panic!("not closed within 15 s"),
        }
    };
    assert_eq!(closed, Some(4001));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "closed before expiry"
    );
}

#[test]
fn a_removed_participant_stops_receiving() {
    // A server of its own: the removal is SQL from another process, behind the chat's object's back
    // (the object's own removals close at once: `removal_through_the_api_closes_with_4003`), so that
    // the object's fallbacks are what is tested: the next write's participant list, and a request.
    let server = TestServer::start(&temp_state_dir("live-removed"), true);
    let api = server.client();
    let (a, b, c) = (
        unique_user("rm-a"),
        unique_user("rm-b"),
        unique_user("rm-c"),
    );
    let chat = api.group(&a, &[&b, &c]);
    let mut stays = connect(&api, &a, &chat);
    let mut removed = connect(&api, &b, &chat);
    api.send(&c, &chat, "before").expect(201);
    message_events(&mut removed, 1);
    message_events(&mut stays, 1);
    server.execute_sql(&format!(
        "DELETE FROM chat_participants WHERE chat_id = '{chat}' AND user_id = '{b}';"
    ));
    api.send(&c, &chat, "after").expect(201);
    assert_eq!(message_events(&mut stays, 1)[0]["data"]["content"], "after");
    loop {
        match next_frame(&mut removed, Duration::from_secs(2)) {
            Frame::Json(v) => assert!(
                !v["event"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("message."),
                "a removed participant received {v}"
            ),
            Frame::Closed(code) => {
                assert_eq!(code, Some(4003));
                break;
            }
            Frame::Nothing => panic!("the removed participant's socket stayed open"),
        }
    }
    // A socket that only asks is told, then closed.
    let mut asking = connect(&api, &c, &chat);
    server.execute_sql(&format!(
        "DELETE FROM chat_participants WHERE chat_id = '{chat}' AND user_id = '{c}';"
    ));
    let answer = request(
        &mut asking,
        json!({"request": {"message_list": {"cid": chat}, "id": "q"}}),
    );
    assert_eq!(answer["response"]["error"]["status"], 404, "{answer}");
    assert!(matches!(
        next_frame(&mut asking, Duration::from_secs(2)),
        Frame::Closed(Some(4003))
    ));
    // And cannot reconnect.
    assert_eq!(
        try_connect(&api, &chat, "", Some(&token(&b)))
            .err()
            .map(|e| e.0),
        Some(404)
    );
    server.stop();
}

/// A service key's writes (main send, assistant surface, edit, delete) reach the sockets like anyone's,
/// with the key's sender and role, and move no read mark: no `read.updated` follows them.
#[test]
fn a_keys_writes_arrive_live_without_read_marks() {
    let api = app();
    let (a, b) = (unique_user("svc-live-a"), unique_user("svc-live-b"));
    let chat = api.group(&a, &[&b]);
    let key = api.service_key(None);
    let mut socket = connect(&api, &a, &chat);
    let sent = api.with_key(
        "POST",
        "/api/v1/messages",
        &key,
        Some(&json!({"chatId": chat, "content": "from the assistant"})),
    );
    sent.expect(201);
    let event = next_json(&mut socket);
    assert_eq!(
        (&event["event"], &event["data"]),
        (&json!("message.created"), &sent.body)
    );
    assert_eq!(
        (&event["data"]["senderId"], &event["data"]["senderRole"]),
        (&json!("assistant"), &json!("assistant"))
    );
    let surface = api.with_key(
        "POST",
        &format!("/api/v1/chats/{chat}/messages"),
        &key,
        Some(&json!({"content": "notice", "sender_role": "system"})),
    );
    surface.expect(201);
    let event = next_json(&mut socket);
    assert_eq!(event["event"], "message.created");
    assert_eq!(event["data"]["_id"], surface.body["id"]);
    assert_eq!(
        (
            &event["data"]["senderRole"],
            &event["data"]["sequenceNumber"]
        ),
        (&json!("system"), &json!(2))
    );
    let id = sent.body["_id"].as_str().expect("id");
    let edited = api.with_key(
        "PATCH",
        &format!("/api/v1/messages/{id}"),
        &key,
        Some(&json!({"content": "from the assistant, edited"})),
    );
    edited.expect(200);
    let event = next_json(&mut socket);
    assert_eq!(
        (&event["event"], &event["data"]),
        (&json!("message.updated"), &edited.body)
    );
    let deleted = api.with_key("DELETE", &format!("/api/v1/messages/{id}"), &key, None);
    deleted.expect(200);
    let event = next_json(&mut socket);
    assert_eq!(
        (&event["event"], &event["data"]),
        (&json!("message.deleted"), &deleted.body)
    );
    quiet_for(&mut socket, Duration::from_millis(700));
}

#[test]
fn more_than_twenty_frames_in_ten_seconds_close_the_socket_with_1008() {
    let api = app();
    let (a, b) = (unique_user("flood-a"), unique_user("flood-b"));
    let chat = api.group(&a, &[&b]);
    let mut socket = connect(&api, &a, &chat);
    for i in 0..20 {
        assert_eq!(request(&mut socket, json!({"ping": i})), json!({"pong": i}));
    }
    send_text(&mut socket, &json!({"ping": 20}).to_string());
    match next_frame(&mut socket, Duration::from_secs(5)) {
        Frame::Closed(code) => assert_eq!(code, Some(1008)),
        Frame::Json(v) => panic!("the 21st frame was answered: {v}"),
        Frame::Nothing => panic!("the socket stayed open after 21 frames"),
    }
    // Another socket on the chat is unaffected.
    let mut other = connect(&api, &b, &chat);
    assert_eq!(
        request(&mut other, json!({"ping": "b"})),
        json!({"pong": "b"})
    );
}

/// Every JSON frame (typing and presence included) that arrives within `wait`.
fn frames_for(socket: &mut Socket, wait: Duration) -> Vec<Value> {
    let deadline = Instant::now() + wait;
    let mut frames = Vec::new();
    while Instant::now() < deadline {
        match next_frame(socket, deadline.saturating_duration_since(Instant::now())) {
            Frame::Json(v) => frames.push(v),
            Frame::Closed(code) => panic!("closed ({code:?}) while reading frames"),
            Frame::Nothing => break,
        }
    }
    frames
}

/// The first frame with this event name within `wait` (others skipped).
fn wait_for_event(socket: &mut Socket, name: &str, wait: Duration) -> Value {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_frame(socket, left) {
            Frame::Json(v) if v["event"] == name => return v,
            Frame::Json(_) => {}
            other => panic!("no {name} within {wait:?}: {other:?}"),
        }
    }
}

fn presence_events(frames: &[Value]) -> Vec<(String, bool)> {
    frames
        .iter()
        .filter(|f| f["event"] == "presence")
        .map(|f| {
            (
                f["data"]["userId"].as_str().unwrap().to_string(),
                f["data"]["online"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn presence_http(api: &Api, user: &str, chat: &str) -> Resp {
    api.get(
        &format!("/api/v1/chats/{chat}/presence"),
        Some(&token(user)),
    )
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// API.md "Typing and presence", with three users and two sockets for one of them: presence changes
/// on a user's first open and last close only, a snapshot after each handshake, typing to the others,
/// a `true` that lapses after 6 s, a closed socket's typing ended, the HTTP view, and a user whose
/// availability is offline never shown.
#[test]
fn typing_and_presence_with_three_users_and_two_sockets_for_one() {
    let api = app();
    let [a, b, c, d] = ["pr-a", "pr-b", "pr-c", "pr-d"].map(unique_user);
    let chat = api.group(&a, &[&b, &c, &d]);
    let (mut a1, online) = connect_with_snapshot(&api, &a, &chat);
    assert_eq!(online, vec![a.clone()]);
    let (mut b1, online) = connect_with_snapshot(&api, &b, &chat);
    assert_eq!(sorted(online), sorted(vec![a.clone(), b.clone()]));
    assert_eq!(
        presence_events(&frames_for(&mut a1, Duration::from_millis(600))),
        vec![(b.clone(), true)]
    );
    // A second socket of a: one presence, nothing announced.
    let (mut a2, online) = connect_with_snapshot(&api, &a, &chat);
    assert_eq!(online.len(), 2);
    let (mut c1, online) = connect_with_snapshot(&api, &c, &chat);
    assert_eq!(online.len(), 3);
    assert_eq!(
        presence_events(&frames_for(&mut b1, Duration::from_millis(600))),
        vec![(c.clone(), true)],
        "b saw a's second socket as a presence change"
    );
    for socket in [&mut a1, &mut a2] {
        assert_eq!(
            presence_events(&frames_for(socket, Duration::from_millis(300))),
            vec![(c.clone(), true)]
        );
    }
    let seen = presence_http(&api, &b, &chat);
    seen.expect(200);
    assert_eq!(
        sorted(serde_json::from_value(seen.body["online"].clone()).unwrap()),
        sorted(vec![a.clone(), b.clone(), c.clone()])
    );
    presence_http(&api, &unique_user("outsider"), &chat).expect(404);

    // Typing: the others get it, the typist does not; a true lapses after 6 s without another.
    send_text(&mut b1, r#"{"typing": true}"#);
    let started = Instant::now();
    for socket in [&mut a1, &mut a2, &mut c1] {
        let typing = wait_for_event(socket, "typing", Duration::from_secs(2));
        assert_eq!(
            typing["data"],
            json!({"chatId": chat, "userId": b, "typing": true})
        );
    }
    let lapsed = wait_for_event(&mut c1, "typing", Duration::from_secs(10));
    assert_eq!(lapsed["data"]["typing"], false);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(5),
        "typing lapsed after {waited:?}"
    );
    assert!(
        frames_for(&mut b1, Duration::from_millis(300))
            .iter()
            .all(|f| f["event"] != "typing"),
        "the typist got its own typing"
    );
    // A false ends it at once; a closed socket ends its typing too.
    send_text(&mut c1, r#"{"typing": true}"#);
    assert_eq!(
        wait_for_event(&mut b1, "typing", Duration::from_secs(2))["data"]["typing"],
        true
    );
    send_text(&mut c1, r#"{"typing": false}"#);
    assert_eq!(
        wait_for_event(&mut b1, "typing", Duration::from_secs(2))["data"]["typing"],
        false
    );
    send_text(&mut c1, r#"{"typing": true}"#);
    wait_for_event(&mut b1, "typing", Duration::from_secs(2));
    c1.close(None).expect("close");
    let ended = wait_for_event(&mut b1, "typing", Duration::from_secs(2));
    assert_eq!(
        (&ended["data"]["userId"], &ended["data"]["typing"]),
        (&json!(c), &json!(false))
    );
    assert_eq!(
        wait_for_event(&mut b1, "presence", Duration::from_secs(2))["data"],
        json!({"chatId": chat, "userId": c, "online": false})
    );
    // a's first socket closing changes nothing; its last one does.
    a1.close(None).expect("close");
    assert!(presence_events(&frames_for(&mut b1, Duration::from_millis(700))).is_empty());
    a2.close(None).expect("close");
    assert_eq!(
        presence_events(&frames_for(&mut b1, Duration::from_secs(2))),
        vec![(a.clone(), false)]
    );

    // d is offline by choice: never shown, neither in snapshots, events nor the HTTP view.
    api.send_json(
        "PATCH",
        "/api/v1/users/me",
        &token(&d),
        &json!({"availabilityStatus": "offline"}),
    )
    .expect(200);
    let (_d1, online) = connect_with_snapshot(&api, &d, &chat);
    assert_eq!(online, vec![b.clone()]);
    assert!(presence_events(&frames_for(&mut b1, Duration::from_millis(700))).is_empty());
    let seen = presence_http(&api, &b, &chat);
    assert_eq!(seen.body["online"], json!([b]));

    // Typing frames count toward the 20-frames-in-10-s limit.
    for _ in 0..20 {
        send_text(&mut b1, r#"{"typing": true}"#);
    }
    send_text(&mut b1, r#"{"typing": true}"#);
    let closed = loop {
        match next_frame(&mut b1, Duration::from_secs(5)) {
            Frame::Closed(code) => break code,
            Frame::Json(_) => continue,
            Frame::Nothing => panic!("21 typing frames did not close the socket"),
        }
    };
    assert_eq!(closed, Some(1008));
}

/// A removal through the API goes through the chat's object: the removed member's sockets close at
/// once with 4003, the others get the `member.removed` message and the presence change.
#[test]
fn removal_through_the_api_closes_with_4003() {
    let api = app();
    let [a, b, c] = ["rmapi-a", "rmapi-b", "rmapi-c"].map(unique_user);
    let chat = api.group(&a, &[&b, &c]);
    let mut stays = connect(&api, &a, &chat);
    let mut removed = connect(&api, &c, &chat);
    let mut removed_too = connect(&api, &c, &chat);
    let auth = format!("Bearer {}", token(&a));
    api.raw(
        "DELETE",
        &format!("/api/v1/chats/{chat}/members/{c}"),
        &[("Authorization", &auth)],
        None,
    )
    .expect(204);
    for socket in [&mut removed, &mut removed_too] {
        let code = loop {
            match next_frame(socket, Duration::from_secs(2)) {
                Frame::Closed(code) => break code,
                Frame::Json(v) => assert!(
                    !v["event"]
                        .as_str()
                        .unwrap_or_default()
                        .starts_with("message."),
                    "the removed member got {v}"
                ),
                Frame::Nothing => panic!("the removed member's socket stayed open"),
            }
        };
        assert_eq!(code, Some(4003));
    }
    let frames = frames_for(&mut stays, Duration::from_millis(1500));
    let event = frames
        .iter()
        .find(|f| f["event"] == "message.created")
        .expect("the member.removed message");
    assert_eq!(event["data"]["chatEvent"]["type"], "member.removed");
    // c came online when its first socket opened, and goes offline once, with its last.
    assert_eq!(
        presence_events(&frames),
        vec![(c.clone(), true), (c.clone(), false)]
    );
    assert_eq!(
        try_connect(&api, &chat, "", Some(&token(&c)))
            .err()
            .map(|e| e.0),
        Some(404)
    );
}

/// A reaction reaches the chat's sockets as `reaction.updated`, in commit order with the chat's other
/// events, and SAMA's `message_list` shows the counts as `reactions`.
#[test]
fn reactions_arrive_live_in_commit_order_and_in_sama_messages() {
    let api = app();
    let (a, b) = (unique_user("lr-a"), unique_user("lr-b"));
    let chat = api.group(&a, &[&b]);
    let mut socket = connect(&api, &b, &chat);
    let sent = api.send(&a, &chat, "react live");
    let id = sent.body["_id"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {}", token(&a));
    let path = format!("/api/v1/messages/{id}/reactions/%F0%9F%91%8D");
    api.raw("PUT", &path, &[("Authorization", &bearer)], None)
        .expect(200);
    api.send(&a, &chat, "after the reaction").expect(201);
    api.raw("DELETE", &path, &[("Authorization", &bearer)], None)
        .expect(200);
    let mut events = Vec::new();
    while events.len() < 4 {
        let frame = next_json(&mut socket);
        if frame["event"] != "read.updated" {
            events.push(frame);
        }
    }
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "message.created",
            "reaction.updated",
            "message.created",
            "reaction.updated"
        ]
    );
    assert_eq!(
        events[1]["data"],
        json!({"chatId": chat, "messageId": id, "userId": a, "key": "👍", "added": true,
               "reactionCounts": {"👍": 1}})
    );
    assert_eq!(events[3]["data"]["added"], false);
    assert_eq!(events[3]["data"]["reactionCounts"], json!({}));
    // Live message frames carry no reader's own reactions: every socket shares them.
    assert_eq!(events[0]["data"]["myReactions"], json!([]));

    api.raw("PUT", &path, &[("Authorization", &bearer)], None)
        .expect(200);
    let answer = request(
        &mut socket,
        json!({"request": {"message_list": {"cid": chat, "ids": [id]}, "id": "r1"}}),
    );
    assert_eq!(
        answer["response"]["messages"][0]["reactions"],
        json!({"👍": 1})
    );
}
