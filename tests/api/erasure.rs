//! API.md "Erasure": a user erased across its groups, direct chats, reactions, mentions, blocks,
//! reports and files, with the books untouched, the tombstones seen live, a second run erasing nothing
//! more; and a user with 100,000 messages in 500 chats (seeded by SQL) erased by the per-minute cron
//! trigger across a kill of the server mid-way.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

fn admin(api: &Api, method: &str, path: &str) -> Resp {
    api.with_key(method, path, ADMIN_API_KEY, None)
}

fn id_of(resp: &Resp) -> String {
    resp.body["_id"].as_str().expect("_id").to_string()
}

#[test]
fn an_erased_user_leaves_tombstones_anonymized_direct_chats_and_exact_books() {
    let api = app();
    let (a, b, c) = (
        unique_user("era-a"),
        unique_user("era-b"),
        unique_user("era-c"),
    );
    // Group g: a owns it, b is an admin, c a member. Group h: b's, a a member. Direct chat d.
    let g = api.group(&a, &[&b, &c]);
    api.as_user(
        "PATCH",
        &format!("/api/v1/chats/{g}/members/{b}"),
        &a,
        Some(&json!({"role": "admin"})),
    )
    .expect(200);
    let h = api.group(&b, &[&a]);
    let d = id_of(
        api.create_chat(&token(&a), &json!({"participantIds": [b]}))
            .expect(201),
    );
    let mut socket = crate::live::connect(&api, &b, &d);

    let in_g = id_of(api.send(&a, &g, "a in g").expect(201));
    api.send(&a, &h, "a in h").expect(201);
    let in_d = id_of(api.send(&a, &d, "a in d").expect(201));
    let of_b = id_of(api.send(&b, &g, "b in g").expect(201));
    api.as_user(
        "PUT",
        &format!("/api/v1/messages/{of_b}/reactions/%F0%9F%91%8D"),
        &a,
        None,
    )
    .expect(200);
    api.as_user(
        "POST",
        "/api/v1/messages",
        &b,
        Some(&json!({"chatId": g, "content": "hey a", "mentions": [a]})),
    )
    .expect(201);
    api.as_user("PUT", &format!("/api/v1/users/me/blocks/{c}"), &a, None)
        .expect(204);
    api.as_user("PUT", &format!("/api/v1/users/me/blocks/{a}"), &c, None)
        .expect(204);
    api.as_user(
        "POST",
        &format!("/api/v1/messages/{of_b}/reports"),
        &a,
        Some(&json!({"reason": "spam"})),
    )
    .expect(201);
    let upload = api.raw(
        "POST",
        &format!("/api/v1/chats/{g}/files?name=a.txt"),
        &[
            ("Authorization", &format!("Bearer {}", token(&a))),
            ("Content-Type", "text/plain"),
        ],
        Some(b"a's file"),
    );
    upload.expect(201);
    let file = upload.body["_id"].as_str().unwrap().to_string();
    api.as_user(
        "POST",
        "/api/v1/messages",
        &a,
        Some(&json!({"chatId": g, "type": "file", "media": {"type": "file", "fileId": file}})),
    )
    .expect(201);
    api.grant(&a, 100, &unique_user("grant")).expect(201);
    let transfer = id_of(api.transfer(&a, &g, &b, 40, None).expect(201));
    let books = |api: &Api| {
        (
            api.balance(&a),
            api.balance(&b),
            api.ledger(&a).len(),
            api.ledger(&b).len(),
        )
    };
    let before = books(&api);
    // Drain what the socket saw so far.
    while crate::live::try_next_json(&mut socket, Duration::from_millis(300)).is_some() {}

    let erased = admin(&api, "DELETE", &format!("/api/v1/admin/users/{a}"));
    erased.expect(202);
    assert_eq!(erased.body["status"], "done", "{}", erased.text);
    assert_eq!(erased.body["userId"], a.as_str());
    // a in g, a in h, a in d, the file message, the transfer, and the system message of a's role
    // change in g (its sentence names a).
    assert_eq!(erased.body["messagesErased"], 6);
    assert_eq!(erased.body["chatsLeft"], 2);
    assert_eq!(erased.body["filesDeleted"], 1);
    let erasure = erased.body["erasureId"].as_str().unwrap();
    let read = admin(&api, "GET", &format!("/api/v1/admin/erasures/{erasure}"));
    read.expect(200);
    assert_eq!(read.body, erased.body);

    // Live: b's socket on the direct chat saw the tombstone.
    let event = crate::live::next_json(&mut socket);
    assert_eq!(
        (&event["event"], &event["data"]["_id"]),
        (&json!("message.deleted"), &json!(in_d))
    );
    assert_eq!(event["data"]["deletedBy"], "moderator");

    // Tombstones everywhere; the transfer keeps its amount and parties; the books did not move.
    let all_g = api.all_messages(&b, &g);
    for m in all_g
        .iter()
        .filter(|m| m["senderId"] == a.as_str() && m["type"] != "system")
    {
        assert!(
            m["content"].is_null() && m["deletedBy"] == "moderator",
            "{m}"
        );
    }
    let t = all_g
        .iter()
        .find(|m| m["_id"] == transfer.as_str())
        .unwrap();
    assert_eq!(t["creditTransfer"]["amount"], 40);
    assert_eq!(books(&api), before);
    assert!(all_g.iter().any(|m| m["_id"] == in_g.as_str()));
    // b's message lost a's reaction; a left g (b, its admin, owns it now) and h, with no system
    // message; the direct chat keeps a, anonymized.
    let b_msg = all_g.iter().find(|m| m["_id"] == of_b.as_str()).unwrap();
    assert_eq!(b_msg["reactionCounts"], json!({}));
    let chat_g = api.chat(&b, &g);
    let roles: Vec<(String, String)> = chat_g.body["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["_id"].as_str().unwrap().to_string(),
                p["role"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(!roles.iter().any(|(u, _)| u == &a), "{roles:?}");
    assert!(
        roles.contains(&(b.clone(), "owner".to_string())),
        "{roles:?}"
    );
    assert!(!all_g
        .iter()
        .any(|m| m["chatEvent"]["type"] == "member.left"));
    api.chat(&a, &h).expect(404);
    let direct = api.chat(&b, &d);
    let erased_a = participant(&direct, &a);
    assert_eq!(erased_a["username"], "deleted-user", "{erased_a}");
    // The profile, mentions, blocks, reports and file.
    let me = api.get("/api/v1/users/me", Some(&token(&a)));
    assert_eq!(
        (
            &me.body["username"],
            &me.body["firstName"],
            &me.body["profilePhoto"]
        ),
        (&json!("deleted-user"), &Value::Null, &Value::Null)
    );
    let mentions = api.get("/api/v1/users/me/mentions", Some(&token(&a)));
    assert_eq!(mentions.body["messages"], json!([]), "{}", mentions.text);
    assert_eq!(
        api.get("/api/v1/users/me/blocks", Some(&token(&c))).body["userIds"],
        json!([])
    );
    let queue = admin(&api, "GET", "/api/v1/admin/reports?limit=100");
    assert!(!queue.body["reports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["reporterId"] == a.as_str()));
    api.get(&format!("/api/v1/files/{file}"), Some(&token(&b)))
        .expect(404);

    // Again: nothing more.
    let again = admin(&api, "DELETE", &format!("/api/v1/admin/users/{a}"));
    again.expect(202);
    assert_eq!(
        (
            &again.body["status"],
            &again.body["messagesErased"],
            &again.body["chatsLeft"],
            &again.body["filesDeleted"]
        ),
        (&json!("done"), &json!(0), &json!(0), &json!(0))
    );
    assert_ne!(again.body["erasureId"], erased.body["erasureId"]);

    admin(
        &api,
        "GET",
        "/api/v1/admin/erasures/000000000000000000000000",
    )
    .expect(404);
    admin(&api, "DELETE", "/api/v1/admin/users/bad%20id").expect(400);
    api.as_user("DELETE", &format!("/api/v1/admin/users/{b}"), &b, None)
        .expect(401);
}

/// 100,000 messages in 500 chats, seeded by SQL: the admin's request does a few steps, the per-minute
/// cron trigger (run here on `/__scheduled`) the rest, and a kill of the whole server mid-way loses
/// nothing (it resumes). The books stay exact, and every message ends a tombstone.
#[test]
fn a_user_with_100000_messages_in_500_chats_is_erased_across_a_restart() {
    let state = temp_state_dir("erasure-big");
    let server = TestServer::start(&state, false);
    // Steps of 200 messages each can take long on a loaded machine (the suite runs in parallel).
    let api = server.client().patient(300);
    // Real books first: a grant and a transfer in one of the chats.
    let seed = "INSERT INTO users (id, username, first_name, claimed, created_at, updated_at)
          VALUES ('big', 'big', 'Big', 1, 1, 1), ('peer', 'peer', 'Peer', 1, 1, 1);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
        INSERT INTO chats (id, type, title, last_seq, last_activity_at, created_at, updated_at, num)
          SELECT printf('%024x', 1000000 + i), 'group', 'seeded', 200, 1000, 1, 1, 1000 + i FROM n;
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
        INSERT INTO chat_participants (chat_id, user_id, joined_at, username, role)
          SELECT printf('%024x', 1000000 + i), 'big', 1, 'big', 'owner' FROM n
          UNION ALL SELECT printf('%024x', 1000000 + i), 'peer', 2, 'peer', 'member' FROM n;
        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
        INSERT INTO messages (chat_id, seq, id, sender_id, type, content, created_at, updated_at)
          SELECT printf('%024x', 1000001 + i / 200), i % 200 + 1, printf('%024x', 50000000 + i), 'big',
                 'text', 'seeded ' || i, 1000 + i % 200, 1000 + i % 200 FROM n;";
    server.execute_sql(seed);
    let first_chat = format!("{:024x}", 1_000_001);
    api.grant("big", 500, "big-grant").expect(201);
    let sent = api.transfer("big", &first_chat, "peer", 123, None);
    sent.expect(201);
    let books = |server: &TestServer| {
        let rows = server.query(
            "SELECT (SELECT SUM(credits) FROM users) AS total,
                    (SELECT COUNT(*) FROM ledger_entries) AS lines,
                    (SELECT SUM(amount) FROM ledger_entries) AS amounts,
                    (SELECT COUNT(*) FROM credit_transfers) AS transfers",
        );
        rows[0].clone()
    };
    let before = books(&server);
    let live = |server: &TestServer| {
        server.query(
            "SELECT COUNT(*) AS n FROM messages WHERE sender_id = 'big' AND deleted_at IS NULL",
        )[0]["n"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(live(&server), 100_001);

    let started = Instant::now();
    let erased = api.with_key("DELETE", "/api/v1/admin/users/big", ADMIN_API_KEY, None);
    erased.expect(202);
    assert_eq!(erased.body["status"], "running");
    let erasure = erased.body["erasureId"].as_str().unwrap().to_string();
    let run = |api: &Api| {
        let resp = ureq::get(&format!("{}/__scheduled?cron=*+*+*+*+*", api.base_url)).call();
        assert!(resp.is_ok(), "{resp:?}");
    };
    // Two runs, then a kill of the whole process group, and a new server on the same state.
    run(&api);
    run(&api);
    let midway = api.with_key(
        "GET",
        &format!("/api/v1/admin/erasures/{erasure}"),
        ADMIN_API_KEY,
        None,
    );
    assert_eq!(midway.body["status"], "running", "{}", midway.text);
    server.kill();
    let server = TestServer::start(&state, true);
    let api = server.client().patient(300);
    let mut runs = 2;
    let status = loop {
        run(&api);
        runs += 1;
        let now = api.with_key(
            "GET",
            &format!("/api/v1/admin/erasures/{erasure}"),
            ADMIN_API_KEY,
            None,
        );
        now.expect(200);
        if now.body["status"] == "done" {
            break now.body;
        }
        assert!(runs < 40, "still running after {runs} runs: {}", now.text);
    };
    assert_eq!(status["messagesErased"], 100_001);
    assert_eq!(status["chatsLeft"], 500);
    assert_eq!(live(&server), 0);
    assert_eq!(books(&server), before, "the books are untouched");
    let transfer = server.query(&format!(
        "SELECT transfer_amount, transfer_recipient, deleted_by FROM messages WHERE id = '{}'",
        sent.body["_id"].as_str().unwrap()
    ));
    assert_eq!(
        transfer[0],
        json!({"transfer_amount": 123, "transfer_recipient": "peer", "deleted_by": "moderator"})
    );
    // What each run did (the worker's own log lines): steps, and D1 round trips and rows.
    let output = server.output();
    let lines: Vec<&str> = output
        .lines()
        .filter(|l| {
            ["erasureSteps", "d1Queries", "d1RowsRead", "d1RowsWritten"]
                .iter()
                .any(|k| l.contains(k))
        })
        .map(str::trim)
        .collect();
    eprintln!(
        "erasure of 100,000 messages in 500 chats: {runs} cron runs plus the request's own steps, {:?}; per run (after the restart): {lines:?}",
        started.elapsed()
    );
    // Running it again: nothing more.
    let again = api.with_key("DELETE", "/api/v1/admin/users/big", ADMIN_API_KEY, None);
    again.expect(202);
    let id = again.body["erasureId"].as_str().unwrap().to_string();
    let mut again = again.body;
    while again["status"] != "done" {
        run(&api);
        again = api
            .with_key(
                "GET",
                &format!("/api/v1/admin/erasures/{id}"),
                ADMIN_API_KEY,
                None,
            )
            .body;
    }
    assert_eq!(
        (&again["messagesErased"], &again["chatsLeft"]),
        (&json!(0), &json!(0))
    );
    drop(server);
}
