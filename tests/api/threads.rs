//! API.md "Reactions, replies, mentions, pins": replies and mentions. A reply's parent counts its live
//! replies, the thread lists them with cursors both ways, bad parents and mentions store nothing and
//! take no sequence number, unreadMentions is exact after sends, edits, deletes and read marks (also
//! under concurrency), the caller's mentions are listed newest first, and service keys reply and
//! mention.

use serde_json::{json, Value};

use crate::helpers::*;

fn send_body(api: &Api, user: &str, body: Value) -> Resp {
    api.post("/api/v1/messages", &token(user), &body)
}

fn reply(api: &Api, user: &str, chat: &str, parent: &str, text: &str) -> Resp {
    send_body(
        api,
        user,
        json!({"chatId": chat, "content": text, "parentId": parent}),
    )
}

fn id_of(resp: &Resp) -> String {
    resp.body["_id"].as_str().expect("message id").to_string()
}

fn sent(api: &Api, user: &str, chat: &str, text: &str) -> String {
    let resp = api.send(user, chat, text);
    resp.expect(201);
    id_of(&resp)
}

fn replies(api: &Api, user: &str, parent: &str, query: &str) -> Resp {
    api.get(
        &format!("/api/v1/messages/{parent}/replies?{query}"),
        Some(&token(user)),
    )
}

fn ids(messages: &Value) -> Vec<String> {
    messages
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["_id"].as_str().unwrap().to_string())
        .collect()
}

/// The message `id` as `user` sees it (the `ids` mode of the list).
fn message(api: &Api, user: &str, chat: &str, id: &str) -> Value {
    let resp = api.messages(user, chat, &format!("ids={id}"));
    resp.expect(200);
    resp.body["messages"][0].clone()
}

/// Every reply of a thread, walking `nextCursor` `limit` at a time from `query`.
fn walk(api: &Api, user: &str, parent: &str, query: &str, limit: usize) -> Vec<String> {
    let mut all = Vec::new();
    let mut next = format!("limit={limit}&{query}");
    loop {
        let page = replies(api, user, parent, &next);
        page.expect(200);
        let got = ids(&page.body["messages"]);
        assert!(got.len() <= limit);
        all.push(got);
        match page.body["nextCursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page.body["hasMore"], true);
                next = format!("limit={limit}&cursor={cursor}");
            }
            None => {
                assert_eq!(page.body["hasMore"], false);
                break;
            }
        }
    }
    all.concat()
}

fn unread(api: &Api, user: &str) -> Value {
    let resp = api.get("/api/v1/users/me/unread", Some(&token(user)));
    resp.expect(200);
    resp.body
}

fn mentions(api: &Api, user: &str, query: &str) -> Resp {
    api.get(
        &format!("/api/v1/users/me/mentions?{query}"),
        Some(&token(user)),
    )
}

#[test]
fn a_reply_counts_on_its_parent_and_the_thread_lists_live_replies() {
    let api = app();
    let (a, b) = (unique_user("th-a"), unique_user("th-b"));
    let chat = api.group(&a, &[&b]);
    let parent = sent(&api, &a, &chat, "the question");
    let before = message(&api, &a, &chat, &parent);
    assert_eq!(
        (
            &before["replyCount"],
            &before["lastReplyAt"],
            &before["parentId"]
        ),
        (&json!(0), &Value::Null, &Value::Null)
    );

    let first = reply(&api, &b, &chat, &parent, "answer one");
    first.expect(201);
    assert_eq!(first.body["parentId"], parent.as_str());
    let second = reply(&api, &a, &chat, &parent, "answer two");
    second.expect(201);
    // A reply is an ordinary message of the chat: its own sequence number, in every list.
    assert_eq!(
        (
            &first.body["sequenceNumber"],
            &second.body["sequenceNumber"]
        ),
        (&json!(2), &json!(3))
    );
    let page = api.messages(&b, &chat, "limit=10");
    assert_eq!(seqs(&page), [1, 2, 3]);
    let after = message(&api, &a, &chat, &parent);
    assert_eq!(after["replyCount"], 2);
    assert_eq!(after["lastReplyAt"], second.body["createdAt"]);
    assert!(
        after["updatedAt"].as_str() > second.body["updatedAt"].as_str(),
        "the parent's updatedAt moves past its new reply's"
    );
    // A sync window from before the replies sees the parent with its new count.
    let since = before["updatedAt"].as_str().unwrap();
    let window = api.messages(&a, &chat, &format!("updatedAfter={since}"));
    window.expect(200);
    let synced = window.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["_id"] == parent.as_str())
        .cloned()
        .expect("the parent in the sync window");
    assert_eq!(synced["replyCount"], 2);

    let thread = replies(&api, &b, &parent, "");
    thread.expect(200);
    assert_eq!(thread.body["parent"]["_id"], parent.as_str());
    assert_eq!(thread.body["parent"]["replyCount"], 2);
    assert_eq!(
        ids(&thread.body["messages"]),
        [id_of(&first), id_of(&second)]
    );
    assert_eq!(
        (
            &thread.body["total"],
            &thread.body["hasMore"],
            &thread.body["nextCursor"]
        ),
        (&json!(2), &json!(false), &Value::Null)
    );
    assert_eq!(thread.cost("x-d1-queries"), 1);

    // Deleting a reply takes it out of the thread and the count; lastReplyAt falls back.
    api.delete(&a, &id_of(&second)).expect(200);
    let after = message(&api, &a, &chat, &parent);
    assert_eq!(after["replyCount"], 1);
    assert_eq!(after["lastReplyAt"], first.body["createdAt"]);
    api.delete(&b, &id_of(&first)).expect(200);
    let after = message(&api, &a, &chat, &parent);
    assert_eq!(
        (&after["replyCount"], &after["lastReplyAt"]),
        (&json!(0), &Value::Null)
    );
    assert_eq!(
        ids(&replies(&api, &a, &parent, "").body["messages"]),
        Vec::<String>::new()
    );

    // A deleted parent still serves its thread.
    let kept = reply(&api, &b, &chat, &parent, "kept");
    kept.expect(201);
    api.delete(&a, &parent).expect(200);
    let thread = replies(&api, &a, &parent, "");
    thread.expect(200);
    assert!(thread.body["parent"]["deletedAt"].is_string());
    assert_eq!(ids(&thread.body["messages"]), [id_of(&kept)]);
    // A reply's own thread is empty (replies do not nest).
    let own = replies(&api, &a, &id_of(&kept), "");
    own.expect(200);
    assert_eq!(
        (&own.body["total"], &own.body["messages"]),
        (&json!(0), &json!([]))
    );
}

#[test]
fn bad_parents_are_refused_as_written_and_take_no_sequence_number() {
    let api = app();
    let (a, b, c) = (
        unique_user("tb-a"),
        unique_user("tb-b"),
        unique_user("tb-c"),
    );
    let chat = api.group(&a, &[&b]);
    let other = api.group(&c, &[&a]);
    let parent = sent(&api, &a, &chat, "parent");
    let a_reply = id_of(reply(&api, &b, &chat, &parent, "a reply").expect(201));
    let gone = sent(&api, &a, &chat, "soon deleted");
    api.delete(&a, &gone).expect(200);
    let elsewhere = sent(&api, &c, &other, "in another chat");
    let last_seq = |api: &Api| api.chat(&a, &chat).body["lastSequenceNumber"].clone();
    let seq_before = last_seq(&api);

    let cases = [
        (a_reply.as_str(), 422, "reply"),
        (gone.as_str(), 409, "deleted"),
        (elsewhere.as_str(), 404, "not found"),
        ("0123456789abcdef01234567", 404, "not found"),
    ];
    for (bad, status, words) in cases {
        let resp = reply(&api, &a, &chat, bad, "x");
        resp.expect(status);
        assert!(
            resp.error_text().contains(words),
            "{bad}: {}",
            resp.error_text()
        );
    }
    for malformed in [json!("nope"), json!(5), json!(["x"])] {
        send_body(
            &api,
            &a,
            json!({"chatId": chat, "content": "x", "parentId": malformed}),
        )
        .expect(400);
    }
    // Nothing was stored and no sequence number was used: the next message is the next number.
    assert_eq!(last_seq(&api), seq_before);
    let next = api.send(&a, &chat, "next");
    next.expect(201);
    assert_eq!(
        next.body["sequenceNumber"].as_i64(),
        seq_before.as_i64().map(|n| n + 1)
    );
    assert_eq!(message(&api, &a, &chat, &parent)["replyCount"], 1);
    // Outsiders: 404 for the send and the thread alike.
    reply(&api, &c, &chat, &parent, "x").expect(404);
    replies(&api, &c, &parent, "").expect(404);
    replies(&api, &a, "0123456789abcdef01234567", "").expect(404);
    replies(&api, &a, "not-an-id", "").expect(400);
    // An idempotent reply replays even after its parent is gone.
    let body =
        json!({"chatId": chat, "content": "once", "parentId": parent, "clientMessageId": "r-1"});
    let first = send_body(&api, &b, body.clone());
    first.expect(201);
    api.delete(&a, &parent).expect(200);
    let again = send_body(&api, &b, body);
    again.expect(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["_id"], first.body["_id"]);
}

#[test]
fn thread_pages_walk_both_ways_without_gap_or_overlap() {
    let api = app();
    let (a, b) = (unique_user("tw-a"), unique_user("tw-b"));
    let chat = api.group(&a, &[&b]);
    let parent = sent(&api, &a, &chat, "parent");
    let mut all = Vec::new();
    for i in 0..11 {
        // Other messages between the replies: a thread's sequence numbers are not dense.
        api.send(&b, &chat, &format!("between {i}")).expect(201);
        all.push(id_of(
            reply(&api, &b, &chat, &parent, &format!("r{i}")).expect(201),
        ));
    }
    for limit in [1, 3, 4, 11, 20] {
        assert_eq!(
            walk(&api, &a, &parent, "", limit),
            all,
            "forward, limit {limit}"
        );
    }
    // before: the newest replies below it, then further back, each page chronological.
    let page = replies(&api, &a, &parent, &format!("before={}&limit=3", all[7]));
    page.expect(200);
    assert_eq!(ids(&page.body["messages"]), all[4..7].to_vec());
    let mut back = Vec::new();
    let mut query = format!("before={}&limit=3", all[7]);
    loop {
        let page = replies(&api, &a, &parent, &query);
        page.expect(200);
        back.splice(0..0, ids(&page.body["messages"]));
        match page.body["nextCursor"].as_str() {
            Some(c) => query = format!("limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(back, all[..7].to_vec());
    // after and before together: strictly between.
    let between = walk(
        &api,
        &a,
        &parent,
        &format!("after={}&before={}", all[2], all[9]),
        2,
    );
    assert_eq!(between, all[3..9].to_vec());
    // Times work as bounds too.
    let t = message(&api, &a, &chat, &all[5])["createdAt"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        walk(&api, &a, &parent, &format!("after={t}"), 4),
        all[6..].to_vec()
    );
    // Bad queries: 400, naming the rule.
    for (query, words) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("after=yesterday", "after"),
        ("cursor=zz", "cursor"),
        ("before=0123456789abcdef01234567", "before"),
    ] {
        let resp = replies(&api, &a, &parent, query);
        resp.expect(400);
        assert!(
            resp.error_text().contains(words),
            "{query}: {}",
            resp.error_text()
        );
    }
    let page = replies(&api, &a, &parent, "limit=2");
    let cursor = page.body["nextCursor"].as_str().unwrap();
    replies(
        &api,
        &a,
        &parent,
        &format!("cursor={cursor}&after={}", all[0]),
    )
    .expect(400);
    // Another thread's cursor is refused.
    let other = sent(&api, &a, &chat, "other parent");
    replies(&api, &a, &other, &format!("cursor={cursor}")).expect(400);
}

/// 24 writers at once: 16 reply and 8 of them delete their reply again. The parent ends counting
/// exactly the live replies, and lastReplyAt is the newest live one's.
#[test]
fn concurrent_replies_and_deletes_leave_reply_count_equal_to_the_live_replies() {
    let api = app();
    let owner = unique_user("tc-owner");
    let users: Vec<String> = (0..16).map(|i| unique_user(&format!("tc{i}"))).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let chat = api.group(&owner, &refs);
    let parent = sent(&api, &owner, &chat, "hot thread");
    std::thread::scope(|s| {
        for (i, user) in users.iter().enumerate() {
            let (api, chat, parent) = (&api, &chat, &parent);
            s.spawn(move || {
                let first = reply(api, user, chat, parent, "first");
                first.expect(201);
                let second = reply(api, user, chat, parent, "second");
                second.expect(201);
                if i % 2 == 0 {
                    api.delete(user, &id_of(&first)).expect(200);
                }
            });
        }
    });
    let live = walk(&api, &owner, &parent, "", 100);
    assert_eq!(live.len(), 24);
    let parent_now = message(&api, &owner, &chat, &parent);
    assert_eq!(parent_now["replyCount"], 24);
    let newest = message(&api, &owner, &chat, live.last().unwrap());
    assert_eq!(parent_now["lastReplyAt"], newest["createdAt"]);
    let thread = replies(&api, &owner, &parent, "limit=1");
    assert_eq!(thread.body["total"], 24);
}

#[test]
fn unread_mentions_are_exact_after_sends_edits_deletes_and_read_marks() {
    let api = app();
    let (a, b, c) = (
        unique_user("mn-a"),
        unique_user("mn-b"),
        unique_user("mn-c"),
    );
    let chat = api.group(&a, &[&b, &c]);
    let mention = |text: &str, who: &[&str]| {
        let resp = send_body(
            &api,
            &a,
            json!({"chatId": chat, "content": text, "mentions": who}),
        );
        resp.expect(201);
        resp
    };
    let unread_mentions = |user: &str| api.chat(user, &chat).body["unreadMentions"].clone();
    let first = mention("hi @b", &[&b]);
    assert_eq!(first.body["mentions"], json!([b]));
    let second = mention("hi @b @c", &[&b, &c]);
    api.send(&a, &chat, "no mention").expect(201);
    assert_eq!(unread_mentions(&b), 2);
    assert_eq!(unread_mentions(&c), 1);
    assert_eq!(unread_mentions(&a), 0);
    assert_eq!(unread(&api, &b)["unreadMentions"], 2);
    // The chat list shows it too.
    let list = api.chats(&b, "");
    assert_eq!(chat_entry(&list, &chat)["unreadMentions"], 2);

    // An edit that drops b and adds nobody: b's count falls; c's stays.
    let edited = api.send_json(
        "PATCH",
        &format!("/api/v1/messages/{}", id_of(&second)),
        &token(&a),
        &json!({"content": "hi @c", "mentions": [c]}),
    );
    edited.expect(200);
    assert_eq!(edited.body["mentions"], json!([c]));
    assert_eq!(
        (unread_mentions(&b), unread_mentions(&c)),
        (json!(1), json!(1))
    );
    // An edit without mentions keeps them.
    let kept = api.edit(&a, &id_of(&second), "hello @c");
    kept.expect(200);
    assert_eq!(kept.body["mentions"], json!([c]));
    // A delete takes its mentions away.
    api.delete(&a, &id_of(&first)).expect(200);
    assert_eq!(unread_mentions(&b), 0);
    // A read mark below a mention leaves it counted; at or past it, it is read.
    let third = mention("again @b", &[&b]);
    let seq = third.body["sequenceNumber"].as_i64().unwrap();
    api.mark_read(&b, &chat, &json!({"upToSequence": seq - 1}))
        .expect(200);
    assert_eq!(unread_mentions(&b), 1);
    api.mark_read(&b, &chat, &json!({"upToSequence": seq}))
        .expect(200);
    assert_eq!(unread_mentions(&b), 0);
    // Mentioning a reader whose mark is past nothing new counts again; c reads everything.
    api.mark_read(&c, &chat, &json!({})).expect(200);
    assert_eq!(unread_mentions(&c), 0);
    // Sending moves the sender's own mark: its own mention of itself is read.
    let own = send_body(
        &api,
        &b,
        json!({"chatId": chat, "content": "me", "mentions": [b]}),
    );
    own.expect(201);
    assert_eq!(unread_mentions(&b), 0);
    // Muted chats are left out of the totals, not out of the chat's own count.
    mention("muted @c", &[&c]);
    assert_eq!(unread(&api, &c)["unreadMentions"], 1);
    api.send_json(
        "PATCH",
        &format!("/api/v1/chats/{chat}/me"),
        &token(&c),
        &json!({"muted": true}),
    )
    .expect(200);
    assert_eq!(unread(&api, &c)["unreadMentions"], 0);
    assert_eq!(unread_mentions(&c), 1);
}

#[test]
fn bad_mentions_are_400s_and_store_nothing() {
    let api = app();
    let (a, b, outsider) = (
        unique_user("mb-a"),
        unique_user("mb-b"),
        unique_user("mb-x"),
    );
    let chat = api.group(&a, &[&b]);
    let target = sent(&api, &a, &chat, "to edit");
    let seq_before = api.chat(&a, &chat).body["lastSequenceNumber"].clone();
    let many: Vec<String> = (0..51).map(|i| format!("u{i}")).collect();
    let cases = [
        (json!([outsider]), "participants"),
        (json!([b, b]), "twice"),
        (json!(many), "at most 50"),
        (json!("b"), "array"),
        (json!([5]), "array"),
        (json!(["bad id"]), "mentions[0]"),
    ];
    for (mentions, words) in &cases {
        let resp = send_body(
            &api,
            &a,
            json!({"chatId": chat, "content": "x", "mentions": mentions}),
        );
        resp.expect(400);
        assert!(
            resp.error_text().contains(words),
            "{mentions}: {}",
            resp.error_text()
        );
        let edit = api.send_json(
            "PATCH",
            &format!("/api/v1/messages/{target}"),
            &token(&a),
            &json!({"content": "changed", "mentions": mentions}),
        );
        edit.expect(400);
    }
    assert_eq!(api.chat(&a, &chat).body["lastSequenceNumber"], seq_before);
    let unchanged = message(&api, &a, &chat, &target);
    assert_eq!(
        (&unchanged["content"], &unchanged["mentions"]),
        (&json!("to edit"), &json!([]))
    );
    assert_eq!(api.chat(&b, &chat).body["unreadMentions"], 0);
    // A non-participant's send with valid-looking mentions is still a 404 first.
    send_body(
        &api,
        &outsider,
        json!({"chatId": chat, "content": "x", "mentions": [a]}),
    )
    .expect(404);
    // 50 distinct participants' worth is fine: the group's two, in any order.
    send_body(
        &api,
        &a,
        json!({"chatId": chat, "content": "ok", "mentions": [b, a]}),
    )
    .expect(201);
}

#[test]
fn my_mentions_are_listed_newest_first_across_chats() {
    let api = app();
    let (me, a, b) = (
        unique_user("ml-me"),
        unique_user("ml-a"),
        unique_user("ml-b"),
    );
    let one = api.group(&a, &[&me]);
    let two = api.group(&b, &[&me, &a]);
    let (mut expected, mut in_one) = (Vec::new(), Vec::new());
    for i in 0..5 {
        let (chat, from) = if i % 2 == 0 { (&one, &a) } else { (&two, &b) };
        let resp = send_body(
            &api,
            from,
            json!({"chatId": chat, "content": format!("@me {i}"), "mentions": [me]}),
        );
        resp.expect(201);
        expected.push(id_of(&resp));
        if chat == &one {
            in_one.push(id_of(&resp));
        }
        api.send(from, chat, "no mention").expect(201);
    }
    // A deleted mention and one in a chat I left are not listed.
    let deleted = send_body(
        &api,
        &a,
        json!({"chatId": one, "content": "gone", "mentions": [me]}),
    );
    api.delete(&a, &id_of(&deleted)).expect(200);
    expected.reverse();
    let mut walked = Vec::new();
    let mut query = "limit=2".to_string();
    loop {
        let page = mentions(&api, &me, &query);
        page.expect(200);
        assert_eq!(page.cost("x-d1-queries"), 1);
        // Per mention: its index entry, the membership probe, the message (and the reader's
        // reactions); each chat's participants once.
        assert!(
            page.cost("x-d1-rows-read") <= 3 * 3 + 2 * 4 + 6,
            "{}",
            page.cost("x-d1-rows-read")
        );
        for m in page.body["messages"].as_array().unwrap() {
            assert_eq!(m["mentions"], json!([me]));
            // readBy comes from each message's own chat.
            assert!(m["readBy"]
                .as_array()
                .unwrap()
                .iter()
                .all(|u| u != &json!(m["senderId"])));
        }
        walked.extend(ids(&page.body["messages"]));
        match page.body["nextCursor"].as_str() {
            Some(c) => query = format!("limit=2&cursor={c}"),
            None => {
                assert_eq!(page.body["hasMore"], false);
                break;
            }
        }
    }
    assert_eq!(walked, expected);
    api.raw(
        "DELETE",
        &format!("/api/v1/chats/{two}/members/me"),
        &[("Authorization", &format!("Bearer {}", token(&me)))],
        None,
    )
    .expect(204);
    // Only chats I am still in.
    let left = ids(&mentions(&api, &me, "limit=100").body["messages"]);
    in_one.reverse();
    assert_eq!(left, in_one);
    mentions(&api, &me, "limit=0").expect(400);
    mentions(&api, &me, "cursor=zz").expect(400);
    // Service keys have no mentions of their own: 403.
    let key = api.service_key(None);
    api.with_key("GET", "/api/v1/users/me/mentions", &key, None)
        .expect(403);
}

#[test]
fn a_service_key_replies_and_mentions() {
    let api = app();
    let (a, b) = (unique_user("tk-a"), unique_user("tk-b"));
    let chat = api.group(&a, &[&b]);
    let parent = sent(&api, &a, &chat, "help?");
    let key = api.service_key(None);
    let resp = api.with_key(
        "POST",
        "/api/v1/messages",
        &key,
        Some(&json!({"chatId": chat, "content": "on it @a", "parentId": parent, "mentions": [a]})),
    );
    resp.expect(201);
    assert_eq!(
        (&resp.body["parentId"], &resp.body["mentions"]),
        (&json!(parent), &json!([a]))
    );
    assert_eq!(message(&api, &a, &chat, &parent)["replyCount"], 1);
    assert_eq!(api.chat(&a, &chat).body["unreadMentions"], 1);
    let thread = api.with_key(
        "GET",
        &format!("/api/v1/messages/{parent}/replies"),
        &key,
        None,
    );
    thread.expect(200);
    assert_eq!(ids(&thread.body["messages"]), [id_of(&resp)]);
    // A key of another project reaches neither the chat nor its thread.
    let elsewhere = api.service_key(Some("proj_threads_other"));
    api.with_key(
        "GET",
        &format!("/api/v1/messages/{parent}/replies"),
        &elsewhere,
        None,
    )
    .expect(404);
    // Mentions are checked for a key's messages too.
    api.with_key(
        "POST",
        "/api/v1/messages",
        &key,
        Some(&json!({"chatId": chat, "content": "x", "mentions": ["nobody-here"]})),
    )
    .expect(400);
}

/// A reply costs the same rows with a thread of 1 and of 40 replies; a mention's send a bounded
/// number more than a plain send.
#[test]
fn a_reply_and_a_mention_cost_rows_that_do_not_grow_with_the_thread() {
    let api = app();
    let (a, b) = (unique_user("tr-a"), unique_user("tr-b"));
    let chat = api.group(&a, &[&b]);
    let parent = sent(&api, &a, &chat, "parent");
    let cost = |r: &Resp| (r.cost("x-d1-rows-read"), r.cost("x-d1-rows-written"));
    let plain = api.send(&a, &chat, "plain");
    let early = reply(&api, &a, &chat, &parent, "early");
    early.expect(201);
    for i in 0..40 {
        reply(&api, &b, &chat, &parent, &format!("r{i}")).expect(201);
    }
    let late = reply(&api, &a, &chat, &parent, "late");
    late.expect(201);
    println!(
        "send {:?}, first reply {:?}, 42nd reply {:?}",
        cost(&plain),
        cost(&early),
        cost(&late)
    );
    assert_eq!(
        early.cost("x-d1-rows-written"),
        late.cost("x-d1-rows-written")
    );
    assert!(
        late.cost("x-d1-rows-read")
            .abs_diff(early.cost("x-d1-rows-read"))
            <= 3
    );
    let del_early = api.delete(&a, &id_of(&early));
    let del_late = api.delete(&a, &id_of(&late));
    println!(
        "deleting a reply {:?} / {:?}",
        cost(&del_early),
        cost(&del_late)
    );
    assert_eq!(
        del_early.cost("x-d1-rows-written"),
        del_late.cost("x-d1-rows-written")
    );
    assert!(
        del_late
            .cost("x-d1-rows-read")
            .abs_diff(del_early.cost("x-d1-rows-read"))
            <= 3
    );
    // A reply writes a bounded number of rows more than a plain send (the parent's row and indexes).
    assert!(late.cost("x-d1-rows-written") <= plain.cost("x-d1-rows-written") + 8);
    let mentioning = send_body(
        &api,
        &a,
        json!({"chatId": chat, "content": "@b", "mentions": [b]}),
    );
    mentioning.expect(201);
    println!("a send mentioning one user {:?}", cost(&mentioning));
    assert!(mentioning.cost("x-d1-rows-written") <= plain.cost("x-d1-rows-written") + 6);
}

/// 8 senders mention b at once while b moves its read mark: some edits drop the mention, some
/// messages are deleted. b's unreadMentions (in the chat and in the totals) ends equal to the live
/// messages that mention b above b's read mark, as listed by /users/me/mentions.
#[test]
fn unread_mentions_stay_exact_under_concurrent_sends_edits_deletes_and_read_marks() {
    let api = app();
    let b = unique_user("mc-b");
    let senders: Vec<String> = (0..8).map(|i| unique_user(&format!("mc{i}"))).collect();
    let refs: Vec<&str> = senders.iter().map(String::as_str).collect();
    let chat = api.group(&b, &refs);
    std::thread::scope(|s| {
        for (i, sender) in senders.iter().enumerate() {
            let (api, chat, b) = (&api, &chat, &b);
            s.spawn(move || {
                for n in 0..4 {
                    let body =
                        json!({"chatId": chat, "content": format!("@b {n}"), "mentions": [b]});
                    let sent = send_body(api, sender, body);
                    sent.expect(201);
                    let id = id_of(&sent);
                    match (i + n) % 4 {
                        0 => {
                            api.delete(sender, &id).expect(200);
                        }
                        1 => {
                            let path = format!("/api/v1/messages/{id}");
                            let body = json!({"content": "no longer", "mentions": []});
                            api.send_json("PATCH", &path, &token(sender), &body)
                                .expect(200);
                        }
                        _ => {}
                    }
                }
            });
        }
        let (api, chat, b) = (&api, &chat, &b);
        s.spawn(move || {
            for _ in 0..6 {
                api.mark_read(b, chat, &json!({})).expect(200);
                std::thread::sleep(std::time::Duration::from_millis(15));
            }
        });
    });
    let seen = api.chat(&b, &chat);
    seen.expect(200);
    let mark = seen.body["lastSequenceNumber"].as_i64().unwrap()
        - seen.body["unreadCount"].as_i64().unwrap();
    let listed = mentions(&api, &b, "limit=100");
    listed.expect(200);
    let above = listed.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["sequenceNumber"].as_i64().unwrap() > mark)
        .count();
    assert_eq!(
        listed.body["messages"].as_array().unwrap().len(),
        16,
        "live mentions"
    );
    assert_eq!(seen.body["unreadMentions"], above as u64, "mark {mark}");
    assert_eq!(unread(&api, &b)["unreadMentions"], above as u64);
    // Reading everything reads them all.
    api.mark_read(&b, &chat, &json!({})).expect(200);
    assert_eq!(api.chat(&b, &chat).body["unreadMentions"], 0);
}
