//! API.md "List messages in a chat", cursor mode: `before` / `after` / `ids`, the (`updatedAt`, `_id`)
//! sync window, `nextCursor`, tombstones, bad cursors, and what each page costs in D1.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use crate::helpers::*;

/// The budget: one round trip, at most `limit + participants + 5` rows read.
fn assert_budget(resp: &Resp, limit: u64, participants: u64) {
    assert_eq!(resp.cost("X-D1-Queries"), 1, "{}", resp.text);
    let read = resp.cost("X-D1-Rows-Read");
    println!("{read} rows read for limit {limit}");
    assert!(
        read <= limit + participants + 5,
        "{read} rows read for limit {limit} and {participants} participants"
    );
}

fn messages_of(resp: &Resp) -> Vec<Value> {
    resp.body["messages"].as_array().expect("messages").clone()
}

/// Follows `nextCursor` from `query` to the end. Checks every page: 200, the cursor-mode shape,
/// `hasMore` agreeing with `nextCursor`, at most `limit` messages, and the cost budget. `between`
/// runs after each page (index from 0) and may change the chat mid-walk.
fn walk(
    api: &Api,
    user: &str,
    chat: &str,
    query: &str,
    limit: u64,
    participants: u64,
    mut between: impl FnMut(usize),
) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut next = format!("{query}&limit={limit}");
    loop {
        let resp = api.messages(user, chat, &next);
        resp.expect(200);

        for field in [
            "messages",
            "participants",
            "limit",
            "total",
            "hasMore",
            "nextCursor",
        ] {
            assert!(resp.body.get(field).is_some(), "{field}: {}", resp.text);
        }
        assert!(resp.body.get("page").is_none(), "{}", resp.text);
        assert_budget(&resp, limit, participants);
        let page = messages_of(&resp);
        assert!(page.len() as u64 <= limit);
        let cursor = resp.body["nextCursor"].as_str().map(str::to_string);
        assert_eq!(resp.body["hasMore"], cursor.is_some(), "{}", resp.text);
        pages.push(page);
        between(pages.len() - 1);
        match cursor {
            Some(c) => next = format!("cursor={c}&limit={limit}"),
            None => return pages,
        }
        assert!(pages.len() < 1000, "the walk does not end");
    }
}

fn seq_of(m: &Value) -> i64 {
    m["sequenceNumber"].as_i64().expect("sequenceNumber")
}

fn page_seqs(pages: &[Vec<Value>]) -> Vec<Vec<i64>> {
    pages
        .iter()
        .map(|p| p.iter().map(seq_of).collect())
        .collect()
}

fn ms(timestamp: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(timestamp.as_str().expect("timestamp"))
        .expect("RFC 3339")
        .timestamp_millis()
}

#[test]
fn before_and_after_return_exact_ranges_oldest_first() {
    let api = app();
    let (a, b, c) = (
        unique_user("cur-a"),
        unique_user("cur-b"),
        unique_user("cur-c"),
    );
    let chat = api.group(&a, &[&b, &c]);
    // 240 messages from three senders at once: sequence numbers are commit order.
    std::thread::scope(|s| {
        for sender in [&a, &b, &c] {
            let (api, chat) = (&api, &chat);
            s.spawn(move || {
                for i in 0..80 {
                    api.send(sender, chat, &format!("{sender} {i}")).expect(201);
                }
            });
        }
    });
    let all = api.all_messages(&a, &chat);
    assert_eq!(all.len(), 240);
    // Every write is stamped later than the chat's last one: createdAt strictly increases with the
    // sequence number, which is what lets a time map to a sequence number.
    for pair in all.windows(2) {
        assert!(ms(&pair[0]["createdAt"]) < ms(&pair[1]["createdAt"]));
    }
    let id = |seq: usize| all[seq - 1]["_id"].as_str().unwrap().to_string();
    let range = |from: i64, to: i64| (from..=to).collect::<Vec<i64>>();

    // before: newest first page, walking back; each page chronological.
    let pages = page_seqs(&walk(
        &api,
        &a,
        &chat,
        &format!("before={}", id(100)),
        30,
        3,
        |_| {},
    ));
    assert_eq!(
        pages,
        [range(70, 99), range(40, 69), range(10, 39), range(1, 9)]
    );
    // after: oldest first, walking forward; a message sent mid-walk is picked up.
    let pages = walk(&api, &a, &chat, &format!("after={}", id(200)), 30, 3, |i| {
        if i == 0 {
            api.send(&b, &chat, "late").expect(201);
        }
    });
    assert_eq!(page_seqs(&pages), [range(201, 230), range(231, 241)]);
    assert_eq!(pages[1].last().unwrap()["content"], "late");
    // both: strictly between, oldest first.
    let pages = page_seqs(&walk(
        &api,
        &a,
        &chat,
        &format!("after={}&before={}", id(50), id(120)),
        30,
        3,
        |_| {},
    ));
    assert_eq!(pages, [range(51, 80), range(81, 110), range(111, 119)]);

    // Times, in both accepted forms: strictly older / newer than the instant.
    let t100 = all[99]["createdAt"].as_str().unwrap().to_string();
    let t200 = ms(&all[199]["createdAt"]);
    let page = api.messages(&a, &chat, &format!("before={t100}&limit=50"));
    page.expect(200);
    assert_eq!(seqs(&page), range(50, 99));
    assert_eq!(page.body["total"], 241);
    assert_eq!(page.body["limit"], 50);
    assert_budget(&page, 50, 3);
    let page = api.messages(&a, &chat, &format!("after={t200}&before={}", id(206)));
    assert_eq!(seqs(&page), range(201, 205));
    assert_eq!(page.body["hasMore"], false);
    assert!(page.body["nextCursor"].is_null());
    // A time between two messages.
    let page = api.messages(&a, &chat, &format!("after={}&limit=3", t200 - 1));
    assert_eq!(seqs(&page), range(200, 202));
    // Default limit 20.
    let page = api.messages(&a, &chat, &format!("before={}", id(100)));
    assert_eq!(seqs(&page), range(80, 99));
    // Both ends: nothing before the first message, nothing after the last.
    for query in [
        format!("before={}", id(1)),
        format!("before={}", all[0]["createdAt"].as_str().unwrap()),
        format!("after={}", ms(&all[239]["createdAt"]) + 60_000),
    ] {
        let page = api.messages(&a, &chat, &query);
        page.expect(200);
        assert_eq!(seqs(&page), Vec::<i64>::new(), "{query}");
        assert_eq!(page.body["hasMore"], false);
        assert!(page.body["nextCursor"].is_null());
    }
    // The last message of a forward walk: hasMore false exactly at the end.
    let page = api.messages(&a, &chat, &format!("after={}&limit=1", id(240)));
    assert_eq!(
        (seqs(&page), &page.body["hasMore"]),
        (vec![241], &json!(false))
    );
    let page = api.messages(&a, &chat, &format!("after={}&limit=1", id(239)));
    assert_eq!(
        (seqs(&page), &page.body["hasMore"]),
        (vec![240], &json!(true))
    );
    // The first message of a backward walk likewise.
    let page = api.messages(&a, &chat, &format!("before={}&limit=1", id(2)));
    assert_eq!(
        (seqs(&page), &page.body["hasMore"]),
        (vec![1], &json!(false))
    );

    // ids: exactly those of this chat, chronological, unknown ones left out.
    let elsewhere = api.group(&a, &[&b]);
    let foreign = api.send(&a, &elsewhere, "other chat");
    let ids = [
        id(7),
        id(200),
        id(3),
        "64d15f9e2e6c8f4d5a000000".to_string(),
        foreign.body["_id"].as_str().unwrap().to_string(),
        id(3),
    ];
    let page = api.messages(&a, &chat, &format!("ids={}", ids.join(",")));
    page.expect(200);
    assert_eq!(seqs(&page), [3, 7, 200]);
    assert_eq!(page.body["hasMore"], false);
    assert!(page.body["nextCursor"].is_null());
    assert_eq!(page.cost("X-D1-Queries"), 1);
    // Each id is an index probe plus the message: 2 rows per id found.
    assert!(page.cost("X-D1-Rows-Read") <= 2 * ids.len() as u64 + 3 + 5);
    // readBy is computed in cursor mode too: the sender's own message is read by nobody else yet.
    let page = api.messages(&b, &chat, &format!("after={}&limit=1", id(240)));
    assert_eq!(page.body["messages"][0]["readBy"], json!([]));
}

/// Seeds `count` messages from `sender` into `chat`, all with one `createdAt`/`updatedAt` (the chat's
/// latest + 1) and random ids, as a busy import would. Read them back over HTTP.
fn seed_same_millisecond(server: &TestServer, chat: &str, sender: &str, count: u32) {
    server.execute_sql(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
         INSERT INTO messages (chat_id, seq, id, sender_id, sender_role, type, content, created_at, updated_at)
         SELECT c.id, c.last_seq + n.i, lower(hex(randomblob(12))), '{sender}', 'user', 'text',
                'seed ' || n.i, t.v, t.v
         FROM chats c, n, (SELECT MAX(updated_at) + 1 AS v FROM messages WHERE chat_id = '{chat}') t
         WHERE c.id = '{chat}';
         UPDATE chats SET last_seq = last_seq + {count},
                          last_activity_at = (SELECT MAX(updated_at) FROM messages WHERE chat_id = '{chat}')
         WHERE id = '{chat}';"
    ));
}

#[test]
fn a_sync_walk_visits_every_change_once_even_within_one_millisecond() {
    // A server of its own: the seeding writes its database file from another process.
    let server = TestServer::start(&temp_state_dir("sync"), true);
    let api = server.client();
    let (a, b) = (unique_user("sync-a"), unique_user("sync-b"));
    let chat = api.group(&a, &[&b]);
    for i in 0..5 {
        api.send(&b, &chat, &format!("before {i}")).expect(201);
    }
    seed_same_millisecond(&server, &chat, &a, 300);
    let all = api.all_messages(&a, &chat);
    assert_eq!(all.len(), 305);
    let since = all[4]["updatedAt"].as_str().unwrap().to_string();
    let stamp = ms(&all[5]["updatedAt"]);
    assert!(all[5..].iter().all(|m| ms(&m["updatedAt"]) == stamp));
    let seeded: HashSet<String> = all[5..]
        .iter()
        .map(|m| m["_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seeded.len(), 300);
    // The last seeded message in sync order is the one with the greatest id.
    let last_in_order = seeded.iter().max().unwrap().clone();

    // Walk with limit 7; after the 10th page, change two visited messages and one not yet visited,
    // and send a new one.
    let mut visited_first_page: Vec<String> = Vec::new();
    let mut changed_early = (String::new(), String::new());
    let mut sent_during: Option<String> = None;
    let pages = walk(
        &api,
        &a,
        &chat,
        &format!("updatedAfter={since}"),
        7,
        2,
        |i| {
            if i == 9 {
                // Visited ones, from the first page (read back from the walk below).
                let first = api.messages(&a, &chat, &format!("updatedAfter={since}&limit=2"));
                visited_first_page = messages_of(&first)
                    .iter()
                    .map(|m| m["_id"].as_str().unwrap().to_string())
                    .collect();
                changed_early = (visited_first_page[0].clone(), visited_first_page[1].clone());
                api.edit(&a, &changed_early.0, "edited mid-walk")
                    .expect(200);
                api.delete(&a, &changed_early.1).expect(200);
                api.edit(&a, &last_in_order, "edited before its turn")
                    .expect(200);
                let sent = api.send(&b, &chat, "sent mid-walk");
                sent.expect(201);
                sent_during = Some(sent.body["_id"].as_str().unwrap().to_string());
            }
        },
    );
    let visits: Vec<Value> = pages.concat();
    // Strictly increasing (updatedAt, _id) over the whole walk.
    for pair in visits.windows(2) {
        let key = |m: &Value| (ms(&m["updatedAt"]), m["_id"].as_str().unwrap().to_string());
        assert!(
            key(&pair[0]) < key(&pair[1]),
            "{} then {}",
            pair[0],
            pair[1]
        );
    }
    let mut count: HashMap<String, usize> = HashMap::new();
    let mut latest: HashMap<String, Value> = HashMap::new();
    for m in &visits {
        let id = m["_id"].as_str().unwrap().to_string();
        *count.entry(id.clone()).or_default() += 1;
        latest.insert(id, m.clone());
    }
    let sent_during = sent_during.expect("the walk had 10 pages");
    // Every seeded message exactly once, except the two changed after their visit: they come again.
    for id in &seeded {
        let expected = if *id == changed_early.0 || *id == changed_early.1 {
            2
        } else {
            1
        };
        assert_eq!(count.get(id), Some(&expected), "{id}");
    }
    assert_eq!(count.get(&sent_during), Some(&1));
    assert_eq!(visits.len(), 300 + 2 + 1);
    // The walk ends with the current state of everything it saw.
    assert_eq!(latest[&changed_early.0]["content"], "edited mid-walk");
    let tombstone = &latest[&changed_early.1];
    assert!(tombstone["content"].is_null() && tombstone["deletedAt"].is_string());
    assert_eq!(latest[&last_in_order]["content"], "edited before its turn");
    assert_eq!(latest[&sent_during]["content"], "sent mid-walk");

    // A closed window with the aliases and epoch milliseconds: exactly the 297 still at `stamp`.
    let pages = walk(
        &api,
        &b,
        &chat,
        &format!("updated_at.gt={}&updated_at.lt={}", stamp - 1, stamp + 1),
        50,
        2,
        |_| {},
    );
    let window: Vec<String> = pages
        .concat()
        .iter()
        .map(|m| m["_id"].as_str().unwrap().to_string())
        .collect();
    let unique: HashSet<&String> = window.iter().collect();
    assert_eq!((window.len(), unique.len()), (297, 297));
    assert!(!unique.contains(&changed_early.0) && !unique.contains(&last_in_order));
    server.stop();
}

#[test]
fn tombstones_show_in_page_and_sync_mode() {
    let api = app();
    let (a, b) = (unique_user("tomb-a"), unique_user("tomb-b"));
    let chat = api.group(&a, &[&b]);
    let sent = api.post(
        "/api/v1/messages",
        &token(&a),
        &json!({"chatId": chat, "type": "media", "content": "look",
                "media": {"url": "https://cdn.example.com/a.png", "type": "image"},
                "metadata": {"k": "v"}}),
    );
    sent.expect(201);
    let id = sent.body["_id"].as_str().unwrap().to_string();
    api.send(&b, &chat, "after it").expect(201);
    api.delete(&a, &id).expect(200);
    let check = |m: &Value| {
        assert_eq!(m["_id"], id.as_str());
        assert_eq!(m["sequenceNumber"], 1);
        assert!(m["content"].is_null() && m["media"].is_null() && m["metadata"].is_null());
        assert!(m["deletedAt"].is_string());
    };
    let page = api.messages(&b, &chat, "");
    check(&page.body["messages"][0]);
    assert_eq!(page.body["total"], 2);
    let sync = api.messages(&b, &chat, "updatedAfter=0");
    sync.expect(200);
    // The deletion moved it to the end of the sync order.
    let listed = messages_of(&sync);
    assert_eq!(listed.len(), 2);
    check(&listed[1]);
    let by_id = api.messages(&b, &chat, &format!("ids={id}"));
    check(&by_id.body["messages"][0]);
}

#[test]
fn bad_cursor_queries_are_400_in_the_envelope() {
    let api = app();
    let (a, b, outsider) = (
        unique_user("badcur-a"),
        unique_user("badcur-b"),
        unique_user("badcur-o"),
    );
    let chat = api.group(&a, &[&b]);
    let other = api.group(&a, &[&b]);
    for i in 0..5 {
        api.send(&a, &chat, &format!("m{i}")).expect(201);
        api.send(&a, &other, &format!("o{i}")).expect(201);
    }
    let page = api.messages(&a, &other, "before=9999999999999&limit=2");
    let foreign_cursor = page.body["nextCursor"].as_str().unwrap().to_string();
    let page = api.messages(&a, &chat, "updatedAfter=0&limit=2");
    let sync_cursor = page.body["nextCursor"].as_str().unwrap().to_string();
    // The same cursor with its kind changed ("s" -> "x"): hex of "m1.<chat>.x.…".
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    let other_kind = hex(&format!("m1.{chat}.x.5"));
    let unknown_id = "64d15f9e2e6c8f4d5a000000";
    let many_ids = vec![unknown_id; 101].join(",");
    let cases: Vec<(String, &str)> = vec![
        ("cursor=garbage".into(), "cursor"),
        ("cursor=".into(), "cursor"),
        (
            format!("cursor={}", &sync_cursor[..sync_cursor.len() - 2]),
            "cursor",
        ),
        (format!("cursor={foreign_cursor}"), "another chat"),
        (format!("cursor={other_kind}"), "cursor"),
        (
            format!("cursor={sync_cursor}&after=5"),
            "cannot be combined",
        ),
        ("before=yesterday".into(), "before"),
        ("after=-5".into(), "after"),
        ("after=10000-01-01T00:00:00.000Z".into(), "after"),
        ("before=99999999999999999999".into(), "before"),
        ("updatedAfter=1234567890123456".into(), "updatedAfter"),
        ("updated_at.lt=soon".into(), "updated_at.lt"),
        ("updatedAfter=1&updated_at.gt=1".into(), "give one"),
        ("updatedAfter=20&updatedBefore=10".into(), "later than"),
        ("after=20&before=10".into(), "later than"),
        (format!("ids={many_ids}"), "at most 100"),
        ("ids=abc,def".into(), "ids"),
        ("ids=".into(), "ids"),
        (format!("ids={}", "A".repeat(24)), "ids"),
        (format!("before={unknown_id}"), "no message with this id"),
        (
            format!("after={unknown_id}&before=5"),
            "no message with this id",
        ),
        (format!("before=5&ids={unknown_id}"), "different modes"),
        ("after=5&updatedAfter=5".into(), "different modes"),
        ("before=5&asOf=1".into(), "asOf"),
        ("before=5&limit=0".into(), "limit"),
        ("updatedAfter=5&limit=101".into(), "limit"),
    ];
    for (query, mention) in &cases {
        let resp = api.messages(&a, &chat, query);
        resp.expect(400);
        assert!(
            resp.error_text().contains(mention),
            "{query}: {}",
            resp.text
        );
    }
    // A cursor of another chat is refused even for a member of both; a non-member gets 404 first.
    let resp = api.messages(&outsider, &chat, &format!("cursor={sync_cursor}"));
    resp.expect(404);
    // A cursor keeps working with another limit.
    let resp = api.messages(&a, &chat, &format!("cursor={sync_cursor}&limit=10"));
    resp.expect(200);
    assert_eq!(messages_of(&resp).len(), 3);
}
