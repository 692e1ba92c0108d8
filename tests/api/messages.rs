//! API.md "Messages": page mode with asOf, sends (idempotent, dense sequence numbers), read marks, and
//! the D1 cost of each (round trips and rows read do not depend on the machine, so they are asserted).

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::*;

fn send_many(api: &Api, sender: &str, chat: &str, n: usize) {
    for i in 0..n {
        api.send(sender, chat, &format!("message {i}")).expect(201);
    }
}

#[test]
fn pages_of_a_125_message_chat_tile_it_exactly() {
    let api = app();
    let (a, b) = (unique_user("pg-a"), unique_user("pg-b"));
    let chat = api.group(&a, &[&b]);
    send_many(&api, &a, &chat, 125);
    let mut seen: Vec<i64> = Vec::new();
    for page in 1..=7 {
        let resp = api.messages(&b, &chat, &format!("page={page}&limit=20"));
        resp.expect(200);
        assert_eq!(resp.body["total"], 125);
        assert_eq!(resp.body["totalPages"], 7);
        assert_eq!(resp.body["page"], page);
        assert_eq!(resp.body["limit"], 20);
        assert_eq!(resp.body["hasNextPage"], page < 7);
        assert_eq!(resp.body["hasPreviousPage"], page > 1);
        assert_eq!(resp.body["asOfSequence"], 125);
        let s = seqs(&resp);
        assert_eq!(s.len(), if page == 7 { 5 } else { 20 }, "page {page}");
        assert!(
            s.windows(2).all(|w| w[1] == w[0] + 1),
            "page {page} not chronological: {s:?}"
        );
        // Page 1 holds the newest messages.
        assert_eq!(*s.last().unwrap(), 125 - (page - 1) * 20);
        seen.extend(s);
        // One round trip, and rows read bounded by limit + participants + 5, at any depth.
        assert_eq!(resp.cost("x-d1-queries"), 1);
        assert!(
            resp.cost("x-d1-rows-read") <= 20 + 2 + 5,
            "page {page} read {}",
            resp.cost("x-d1-rows-read")
        );
        assert_eq!(resp.cost("x-d1-rows-written"), 0);
    }
    seen.sort();
    assert_eq!(
        seen,
        (1..=125).collect::<Vec<_>>(),
        "every message on exactly one page"
    );
    let beyond = api.messages(&b, &chat, "page=8&limit=20");
    beyond.expect(200);
    assert!(seqs(&beyond).is_empty());
    let participants = beyond.body["participants"].as_array().unwrap();
    assert_eq!(participants.len(), 2);
}

#[test]
fn page_reads_cost_the_same_at_any_depth() {
    let api = app();
    let owner = unique_user("depth");
    let members: Vec<String> = (0..4).map(|_| unique_user("d")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let chat = api.group(&owner, &refs);
    send_many(&api, &owner, &chat, 30);
    let costs: Vec<u64> = (1..=3)
        .map(|p| {
            api.messages(&owner, &chat, &format!("page={p}&limit=10"))
                .cost("x-d1-rows-read")
        })
        .collect();
    assert!(
        costs.iter().all(|c| *c == costs[0]),
        "rows read differ by depth: {costs:?}"
    );
    assert!(costs[0] <= 10 + 5 + 5, "{costs:?}");
}

#[test]
fn as_of_pins_pages_while_new_messages_arrive() {
    let api = app();
    let (a, b) = (unique_user("asof-a"), unique_user("asof-b"));
    let chat = api.group(&a, &[&b]);
    send_many(&api, &a, &chat, 30);
    let first = api.messages(&b, &chat, "limit=10");
    let snapshot = first.body["asOfSequence"].as_i64().unwrap();
    assert_eq!(snapshot, 30);
    send_many(&api, &b, &chat, 7);
    let page2 = api.messages(&b, &chat, &format!("limit=10&page=2&asOf={snapshot}"));
    page2.expect(200);
    assert_eq!(seqs(&page2), (11..=20).collect::<Vec<_>>());
    assert_eq!(page2.body["total"], 30);
    assert_eq!(page2.body["totalPages"], 3);
    assert_eq!(page2.body["asOfSequence"], 30);
    // Without asOf the new messages shift the pages.
    let unpinned = api.messages(&b, &chat, "limit=10&page=2");
    assert_eq!(seqs(&unpinned), (18..=27).collect::<Vec<_>>());
    assert_eq!(unpinned.body["total"], 37);
    api.messages(&b, &chat, "asOf=38").expect(400);
    let zero = api.messages(&b, &chat, "asOf=0");
    zero.expect(200);
    assert_eq!(
        (
            zero.body["total"].as_i64(),
            zero.body["totalPages"].as_i64()
        ),
        (Some(0), Some(0))
    );
}

#[test]
fn a_send_returns_the_message_and_costs_one_round_trip() {
    let api = app();
    let (a, b) = (unique_user("snd-a"), unique_user("snd-b"));
    let chat = api.group(&a, &[&b]);
    let resp = api.post(
        "/api/v1/messages",
        &token(&a),
        &json!({"chatId": chat, "content": "Hello there!", "metadata": {"k": [1, 2]}}),
    );
    resp.expect(201);
    let m = &resp.body;
    assert_eq!(m["chatId"], chat.as_str());
    assert_eq!(m["senderId"], a.as_str());
    assert_eq!(m["senderRole"], "user");
    assert_eq!(m["type"], "text");
    assert_eq!(m["content"], "Hello there!");
    assert_eq!(m["metadata"], json!({"k": [1, 2]}));
    assert_eq!(m["sequenceNumber"], 1);
    assert_eq!(m["readBy"], json!([]));
    assert!(
        m["media"].is_null()
            && m["creditTransfer"].is_null()
            && m["editedAt"].is_null()
            && m["deletedAt"].is_null()
    );
    assert_eq!(m["_id"].as_str().map(str::len), Some(24));
    assert!(
        m["createdAt"]
            .as_str()
            .is_some_and(|t| t.len() == 24 && t.ends_with('Z')),
        "{}",
        m["createdAt"]
    );
    assert_eq!(
        resp.cost("x-d1-queries"),
        1,
        "one D1 round trip: the batch in the chat room"
    );
    assert!(resp.header("idempotent-replayed").is_none());
}

#[test]
fn a_retried_client_message_id_replays_the_original_and_stores_nothing() {
    let api = app();
    let (a, b) = (unique_user("idem-a"), unique_user("idem-b"));
    let chat = api.group(&a, &[&b]);
    let body = json!({"chatId": chat, "content": "once", "clientMessageId": "c-1"});
    let first = api.post("/api/v1/messages", &token(&a), &body);
    first.expect(201);
    api.mark_read(&b, &chat, &json!({})).expect(200);
    let retry = api.post("/api/v1/messages", &token(&a), &body);
    retry.expect(201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.body["_id"], first.body["_id"]);
    assert_eq!(retry.body["sequenceNumber"], 1);
    assert_eq!(retry.body["clientMessageId"], "c-1");
    assert_eq!(retry.body["readBy"], json!([b]));
    assert_eq!(retry.cost("x-d1-queries"), 1);
    let conflict = api.post(
        "/api/v1/messages",
        &token(&a),
        &json!({"chatId": chat, "content": "different", "clientMessageId": "c-1"}),
    );
    conflict.expect(409);
    // Another sender may use the same clientMessageId.
    api.post(
        "/api/v1/messages",
        &token(&b),
        &json!({"chatId": chat, "content": "once", "clientMessageId": "c-1"}),
    )
    .expect(201);
    let page = api.messages(&a, &chat, "");
    assert_eq!(
        seqs(&page),
        vec![1, 2],
        "the replay and the conflict stored nothing"
    );
}

#[test]
fn concurrent_retries_of_one_client_message_id_store_one_message() {
    let api = app();
    let (a, b) = (unique_user("cidr-a"), unique_user("cidr-b"));
    let chat = api.group(&a, &[&b]);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (api, a, chat) = (api.clone(), a.clone(), chat.clone());
            std::thread::spawn(move || {
                api.post(
                    "/api/v1/messages",
                    &token(&a),
                    &json!({"chatId": chat, "content": "x", "clientMessageId": "same"}),
                )
            })
        })
        .collect();
    let results: Vec<Resp> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        results.iter().all(|r| r.status == 201),
        "{:?}",
        results.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    assert_eq!(
        results
            .iter()
            .filter(|r| r.header("idempotent-replayed").is_none())
            .count(),
        1
    );
    assert_eq!(seqs(&api.messages(&a, &chat, "")), vec![1]);
}

#[test]
fn fifty_concurrent_sends_get_sequence_numbers_exactly_one_to_fifty() {
    let api = app();
    let users: Vec<String> = (0..5).map(|_| unique_user("conc")).collect();
    let refs: Vec<&str> = users[1..].iter().map(String::as_str).collect();
    let chat = api.group(&users[0], &refs);
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let (api, chat, sender) = (api.clone(), chat.clone(), users[i % users.len()].clone());
            std::thread::spawn(move || api.send(&sender, &chat, &format!("concurrent {i}")))
        })
        .collect();
    let mut numbers: Vec<i64> = handles
        .into_iter()
        .map(|h| {
            let resp = h.join().unwrap();
            resp.expect(201);
            resp.body["sequenceNumber"].as_i64().unwrap()
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=50).collect::<Vec<_>>());
    let listed = api.messages(&users[0], &chat, "limit=100");
    assert_eq!(seqs(&listed), (1..=50).collect::<Vec<_>>());
    let contents: HashSet<&str> = listed.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents.len(), 50);
}

#[test]
fn read_marks_read_by_unread_counts_and_the_chat_list_agree() {
    let api = app();
    let (a, b, c) = (
        unique_user("rm-a"),
        unique_user("rm-b"),
        unique_user("rm-c"),
    );
    let chat = api.group(&a, &[&b, &c]);
    send_many(&api, &a, &chat, 5);
    // The sender has read their own messages; the others have not.
    let unread = |user: &str| api.chat(user, &chat).body["unreadCount"].as_i64().unwrap();
    assert_eq!((unread(&a), unread(&b), unread(&c)), (0, 5, 5));

    let mark = api.mark_read(&b, &chat, &json!({"upToSequence": 3}));
    mark.expect(200);
    assert_eq!(
        mark.body,
        json!({"chatId": chat, "lastReadSequence": 3, "unreadCount": 2})
    );
    assert_eq!(mark.cost("x-d1-queries"), 1);
    let latest = api.mark_read(&c, &chat, &json!({}));
    assert_eq!(latest.body["lastReadSequence"], 5);
    // A read mark only moves forward.
    let back = api.mark_read(&c, &chat, &json!({"upToSequence": 1}));
    back.expect(200);
    assert_eq!(back.body["lastReadSequence"], 5);

    let page = api.messages(&a, &chat, "");
    let read_by: Vec<Vec<String>> = page.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let mut r: Vec<String> = m["readBy"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap().to_string())
                .collect();
            r.sort();
            r
        })
        .collect();
    let mut both = vec![b.clone(), c.clone()];
    both.sort();
    assert_eq!(read_by[..3], vec![both.clone(), both.clone(), both.clone()]);
    assert_eq!(read_by[3..], vec![vec![c.clone()], vec![c.clone()]]);
    assert_eq!((unread(&a), unread(&b), unread(&c)), (0, 2, 0));

    // b replies: b's mark moves to the reply, a now has one unread.
    api.send(&b, &chat, "reply").expect(201);
    assert_eq!((unread(&a), unread(&b), unread(&c)), (1, 0, 1));
    let listed = api.chats(&b, "");
    let entry = chat_entry(&listed, &chat);
    assert_eq!(entry["unreadCount"], 0);
    assert_eq!(entry["lastMessage"]["content"], "reply");
    assert_eq!(entry["lastMessage"]["readBy"], json!([]));
    let for_a = api.chats(&a, "");
    let entry = chat_entry(&for_a, &chat);
    assert_eq!(entry["unreadCount"], 1);
    assert_eq!(entry["messageCount"], 6);
}

#[test]
fn a_sends_rows_read_do_not_grow_with_the_senders_chat_count_nor_other_projects_webhooks() {
    let api = app();
    let (busy, peer) = (unique_user("busy"), unique_user("busy-peer"));
    let project = format!("p-{busy}");
    let body =
        json!({"type": "group", "title": "t", "participantIds": [peer], "projectId": project});
    let chat = api.create_chat(&token(&busy), &body);
    chat.expect(201);
    let chat = chat.body["_id"].as_str().unwrap().to_string();
    // The same send reads 41 to 48 rows from run to run (measured; where its list entries and the
    // message land in the b-trees), so the two are compared within 6 rows. Growth would be far more:
    // a row per chat, or (the scan this guards against) 2 rows per webhook key, 20 for the 10 below.
    api.send(&busy, &chat, "first").expect(201);
    api.group(&busy, &[&unique_user("other")]);
    let before = api.send(&busy, &chat, "two chats").cost("x-d1-rows-read");
    for _ in 0..15 {
        api.group(&busy, &[&unique_user("other")]);
    }
    // Webhooks of other projects: a commit reads the keys that reach its chat only.
    for i in 0..10 {
        let url = "https://hooks.example.com/elsewhere";
        let name = format!("elsewhere-{i}");
        let key = api.create_key(
            &json!({"name": name, "projectId": format!("{project}-{i}"), "webhookUrl": url}),
        );
        key.expect(201);
    }
    let after = api
        .send(&busy, &chat, "seventeen chats")
        .cost("x-d1-rows-read");
    assert!(
        before.abs_diff(after) <= 6,
        "a send read {before} rows in 2 chats, {after} in 17 with 10 webhooks elsewhere"
    );
}
