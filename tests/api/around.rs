//! API.md "List messages in a chat": `around`, for jumping to a search hit, a pin or a mention. The
//! anchor with up to `floor((limit - 1) / 2)` older messages and newer ones filling `limit`, at the
//! first and the last message and for times, cursors that continue both ways without gap or overlap,
//! its refusals; and, in a chat of 100,000 messages seeded by SQL, `around` and a thread page deep in
//! the chat within the list's bound (`limit` + participants + 5 rows read).

use serde_json::{json, Value};

use crate::helpers::*;

fn around(api: &Api, user: &str, chat: &str, query: &str) -> Resp {
    let resp = api.messages(user, chat, query);
    if resp.status == 200 {
        let body = &resp.body;
        assert_eq!(
            body["hasMore"],
            json!(body["hasOlder"] == true || body["hasNewer"] == true)
        );
        assert_eq!(body["nextCursor"], body["newerCursor"]);
        for (flag, cursor) in [("hasOlder", "olderCursor"), ("hasNewer", "newerCursor")] {
            assert_eq!(
                body[flag] == true,
                body[cursor].is_string(),
                "{flag}: {body}"
            );
        }
    }
    resp
}

/// The sequence numbers of a chat's messages reached by walking `cursor` with `limit`, until the end.
fn walk(api: &Api, user: &str, chat: &str, cursor: &Value, limit: usize) -> Vec<i64> {
    let mut all = Vec::new();
    let mut cursor = cursor.as_str().map(str::to_string);
    while let Some(c) = cursor {
        let page = api.messages(user, chat, &format!("limit={limit}&cursor={c}"));
        page.expect(200);
        all.extend(seqs(&page));
        cursor = page.body["nextCursor"].as_str().map(str::to_string);
    }
    all.sort_unstable();
    all
}

#[test]
fn around_centres_on_its_anchor_and_continues_both_ways() {
    let api = app();
    let (a, b) = (unique_user("ar-a"), unique_user("ar-b"));
    let chat = api.group(&a, &[&b]);
    let mut sent = Vec::new();
    for i in 1..=10 {
        let resp = api.send(if i % 2 == 0 { &a } else { &b }, &chat, &format!("m{i}"));
        resp.expect(201);
        sent.push(resp.body.clone());
        // Distinct milliseconds, so that a time can fall between two messages.
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    let id = |seq: usize| sent[seq - 1]["_id"].as_str().unwrap().to_string();

    // The middle: 2 older, the anchor, 2 newer.
    let middle = around(&api, &a, &chat, &format!("around={}&limit=5", id(5)));
    middle.expect(200);
    assert_eq!(seqs(&middle), [3, 4, 5, 6, 7]);
    assert_eq!(
        (&middle.body["hasOlder"], &middle.body["hasNewer"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(
        (&middle.body["total"], &middle.body["limit"]),
        (&json!(10), &json!(5))
    );
    // The cursors continue without gap or overlap, at any limit.
    for limit in [1, 2, 3] {
        let older = walk(&api, &a, &chat, &middle.body["olderCursor"], limit);
        let newer = walk(&api, &a, &chat, &middle.body["newerCursor"], limit);
        assert_eq!(older, [1, 2], "limit {limit}");
        assert_eq!(newer, [8, 9, 10], "limit {limit}");
    }
    // An even limit: floor((6 - 1) / 2) = 2 older, 3 newer.
    assert_eq!(
        seqs(&around(
            &api,
            &a,
            &chat,
            &format!("around={}&limit=6", id(5))
        )),
        [3, 4, 5, 6, 7, 8]
    );
    // The first message: no older ones, newer ones fill the page.
    let first = around(&api, &a, &chat, &format!("around={}&limit=5", id(1)));
    assert_eq!(seqs(&first), [1, 2, 3, 4, 5]);
    assert_eq!(
        (&first.body["hasOlder"], &first.body["olderCursor"]),
        (&json!(false), &Value::Null)
    );
    // The last message: older ones do not fill up for missing newer ones.
    let last = around(&api, &a, &chat, &format!("around={}&limit=5", id(10)));
    assert_eq!(seqs(&last), [8, 9, 10]);
    assert_eq!(
        (&last.body["hasNewer"], &last.body["nextCursor"]),
        (&json!(false), &Value::Null)
    );
    assert_eq!(
        walk(&api, &a, &chat, &last.body["olderCursor"], 4),
        (1..=7).collect::<Vec<_>>()
    );
    // limit 1 is the anchor alone; the default limit is 20 (the whole chat here).
    assert_eq!(
        seqs(&around(
            &api,
            &a,
            &chat,
            &format!("around={}&limit=1", id(4))
        )),
        [4]
    );
    let all = around(&api, &a, &chat, &format!("around={}", id(4)));
    assert_eq!(seqs(&all), (1..=10).collect::<Vec<_>>());
    assert_eq!(all.body["hasMore"], false);

    // A time between two messages anchors on the later one; one after the last, on the last.
    let t4: chrono_free::Ms = chrono_free::ms(&sent[3]["createdAt"]);
    let t5 = chrono_free::ms(&sent[4]["createdAt"]);
    assert!(t5 > t4 + 1, "the messages are at least 2 ms apart");
    let between = around(&api, &a, &chat, &format!("around={}&limit=3", t4 + 1));
    assert_eq!(seqs(&between), [4, 5, 6]);
    let later = around(
        &api,
        &a,
        &chat,
        &format!("around={}&limit=3", t5 + 10_000_000),
    );
    assert_eq!(seqs(&later), [9, 10]);
    let rfc = sent[6]["createdAt"].as_str().unwrap();
    assert_eq!(
        seqs(&around(&api, &a, &chat, &format!("around={rfc}&limit=3"))),
        [6, 7, 8]
    );
    // Reactions and the reader's own keys show as in every list.
    assert!(middle.body["messages"][0]["myReactions"].is_array());

    // Refusals: an id of another chat or none at all is a 404; combinations and garbage are 400s.
    let other = api.group(&a, &[&b]);
    let elsewhere = api.send(&a, &other, "elsewhere");
    let elsewhere = elsewhere.body["_id"].as_str().unwrap();
    around(&api, &a, &chat, &format!("around={elsewhere}")).expect(404);
    around(&api, &a, &chat, "around=0123456789abcdef01234567").expect(404);
    for query in [
        format!("around={}&before={}", id(5), id(6)),
        format!("around={}&after=5", id(5)),
        format!("around={}&ids={}", id(5), id(6)),
        format!("around={}&updatedAfter=5", id(5)),
        format!("around={}&cursor=abcd", id(5)),
        "around=yesterday".to_string(),
        format!("around={}&limit=0", id(5)),
        format!("around={}&asOf=3", id(5)),
    ] {
        let resp = around(&api, &a, &chat, &query);
        resp.expect(400);
    }
    // An outsider: 404; an empty chat has nothing around any time.
    around(
        &api,
        &unique_user("ar-x"),
        &chat,
        &format!("around={}", id(5)),
    )
    .expect(404);
    let empty = api.group(&a, &[&b]);
    let nothing = around(&api, &a, &empty, "around=1700000000000");
    nothing.expect(200);
    assert_eq!(
        (&nothing.body["messages"], &nothing.body["hasMore"]),
        (&json!([]), &json!(false))
    );
}

/// Milliseconds from the API's timestamps without a date library in the tests.
mod chrono_free {
    pub type Ms = i64;

    pub fn ms(value: &serde_json::Value) -> Ms {
        let text = value.as_str().expect("timestamp");
        let (date, time) = text
            .trim_end_matches('Z')
            .split_once('T')
            .expect("RFC 3339");
        let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
        let (hms, millis) = time.split_once('.').expect("milliseconds");
        let t: Vec<i64> = hms.split(':').map(|p| p.parse().unwrap()).collect();
        // Days from the civil date (Howard Hinnant's algorithm).
        let (y, m) = if d[1] <= 2 {
            (d[0] - 1, d[1] + 9)
        } else {
            (d[0], d[1] - 3)
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * m + 2) / 5 + d[2] - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        ((days * 24 + t[0]) * 60 + t[1]) * 60_000 + t[2] * 1000 + millis.parse::<i64>().unwrap()
    }

    #[test]
    fn parses_the_api_timestamps() {
        assert_eq!(
            ms(&serde_json::json!("2024-01-15T10:30:00.000Z")),
            1_705_314_600_000
        );
        assert_eq!(ms(&serde_json::json!("1970-01-01T00:00:00.001Z")), 1);
    }
}

/// In a chat of 100,000 messages (seeded by SQL on a server of the test's own), with a thread whose
/// 100 replies are spread over the whole chat: `around` anywhere and thread pages at any depth read
/// within `limit` + participants + 5 rows, one round trip each.
#[test]
fn around_and_thread_pages_stay_within_the_bound_in_a_chat_of_100000_messages() {
    let server = TestServer::start(&temp_state_dir("deep-threads"), true);
    let api = server.client();
    let (owner, peer) = (unique_user("deep"), unique_user("deep-peer"));
    let chat = api.group(&owner, &[&peer]);
    const N: i64 = 100_000;
    let id = |i: i64| format!("{:08x}{:016x}", 1_700_000_000, i);
    let parent = id(1);
    server.execute_sql(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {N})
         INSERT INTO messages (chat_id, seq, id, sender_id, type, content, created_at, updated_at,
                               parent_id)
           SELECT '{chat}', i, printf('%08x%016x', 1700000000, i), '{owner}', 'text', 'm' || i,
                  1700000000000 + i, 1700000000000 + i,
                  CASE WHEN i % 1000 = 0 THEN '{parent}' END FROM n;
         UPDATE chats SET last_seq = {N}, last_activity_at = 1700000000000 + {N} WHERE id = '{chat}';"
    ));
    let participants = 2;
    let bound = |limit: u64| limit + participants + 5;
    let check = |resp: &Resp, limit: u64, what: &str| {
        resp.expect(200);
        let rows = resp.cost("x-d1-rows-read");
        println!("{what}: {rows} rows read (bound {})", bound(limit));
        assert_eq!(resp.cost("x-d1-queries"), 1, "{what}");
        assert!(rows <= bound(limit), "{what}: {rows} rows read");
    };
    // The parent counts its 100 replies, kept by the triggers as the rows went in.
    let parent_now = api.messages(&owner, &chat, &format!("ids={parent}"));
    assert_eq!(parent_now.body["messages"][0]["replyCount"], 100);

    for (anchor, expected_first) in [(id(1), 1), (id(50_000), 49_991), (id(N), N - 9)] {
        let resp = around(&api, &owner, &chat, &format!("around={anchor}&limit=20"));
        check(&resp, 20, &format!("around seq {}", expected_first));
        assert_eq!(seqs(&resp)[0], expected_first);
    }
    let by_time = around(&api, &owner, &chat, "around=1700000070000&limit=20");
    check(&by_time, 20, "around a time");
    assert_eq!(seqs(&by_time)[9], 70_000);

    // The thread: its first page, a page deep in it by id, by time, and the cursor after it.
    let first = api.get(
        &format!("/api/v1/messages/{parent}/replies?limit=20"),
        Some(&token(&owner)),
    );
    check(&first, 20, "thread, first page");
    let deep = api.get(
        &format!(
            "/api/v1/messages/{parent}/replies?limit=20&after={}",
            id(60_500)
        ),
        Some(&token(&owner)),
    );
    check(&deep, 20, "thread, after an id 60,500 deep");
    let seq_of = |m: &Value| m["sequenceNumber"].as_i64().unwrap();
    let got: Vec<i64> = deep.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(seq_of)
        .collect();
    assert_eq!(got, (61..=80).map(|k| k * 1000).collect::<Vec<_>>());
    let cursor = deep.body["nextCursor"].as_str().unwrap();
    let next = api.get(
        &format!("/api/v1/messages/{parent}/replies?limit=20&cursor={cursor}"),
        Some(&token(&owner)),
    );
    check(&next, 20, "thread, its cursor");
    let got: Vec<i64> = next.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(seq_of)
        .collect();
    assert_eq!(got, (81..=100).map(|k| k * 1000).collect::<Vec<_>>());
    assert_eq!(next.body["hasMore"], false);
    let back = api.get(
        &format!("/api/v1/messages/{parent}/replies?limit=20&before=1700000030500"),
        Some(&token(&owner)),
    );
    check(&back, 20, "thread, before a time");
    let got: Vec<i64> = back.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(seq_of)
        .collect();
    assert_eq!(got, (11..=30).map(|k| k * 1000).collect::<Vec<_>>());
    // A reply at the very end costs what a reply costs anywhere.
    let late = api.post(
        "/api/v1/messages",
        &token(&peer),
        &json!({"chatId": chat, "content": "late", "parentId": parent}),
    );
    late.expect(201);
    println!(
        "a reply in a chat of 100,000 messages: {} rows read, {} written",
        late.cost("x-d1-rows-read"),
        late.cost("x-d1-rows-written")
    );
    server.stop();
}
