//! The chat list at any size (issue 13): `GET /api/v1/chats` reads the same rows for a caller in 20
//! chats and in 2,000 (seeded by SQL on a server of this test's own), with and without `projectId`;
//! its order follows sends at once in direct chats and small groups (up to 8 members) and within 5 s
//! in large groups, while `lastMessage` and `unreadCount` are exact at once; and a send into a large
//! group does not write a row per member every time.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

const T: i64 = 1_700_000_000_000;

/// 2,000 group chats of `many` and `peer`, and 20 more of `few` and `peer`; every other chat in
/// project `p1`; one message each.
fn seed(many: &str, few: &str, peer: &str) -> String {
    format!(
        "INSERT INTO users (id, username, first_name, claimed, created_at, updated_at) VALUES
           ('{many}', '{many}', 'Many', 1, {T}, {T}), ('{few}', '{few}', 'Few', 1, {T}, {T}),
           ('{peer}', '{peer}', 'Peer', 1, {T}, {T});
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2020)
         INSERT INTO chats (id, type, title, direct_key, last_seq, last_activity_at, created_at,
                            updated_at, project_id)
           SELECT printf('%024x', 16777216 + i), 'group', 'seeded', NULL, 1, {T} + i, {T}, {T} + i,
                  CASE WHEN i % 2 = 0 THEN 'p1' ELSE NULL END FROM n;
         INSERT INTO chat_participants (chat_id, user_id, last_read_seq, joined_at, username,
                                        activity_at, project_id)
           SELECT c.id, CASE WHEN c.id <= printf('%024x', 16777216 + 2000) THEN '{many}' ELSE '{few}' END,
                  0, {T}, 'member', c.last_activity_at, c.project_id
           FROM chats c WHERE c.id > printf('%024x', 16777216);
         INSERT INTO chat_participants (chat_id, user_id, last_read_seq, joined_at, username,
                                        activity_at, project_id)
           SELECT c.id, '{peer}', 0, {T}, '{peer}', c.last_activity_at, c.project_id FROM chats c
           WHERE c.id > printf('%024x', 16777216);
         INSERT INTO messages (chat_id, seq, id, sender_id, sender_role, type, content, created_at,
                               updated_at)
           SELECT c.id, 1, 'f' || substr(c.id, 2), '{peer}', 'user', 'text', 'seeded',
                  c.last_activity_at, c.last_activity_at FROM chats c
           WHERE c.id > printf('%024x', 16777216);"
    )
}

fn ids(list: &Resp) -> Vec<String> {
    list.body["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .map(|c| c["_id"].as_str().expect("id").to_string())
        .collect()
}

#[test]
fn the_list_reads_the_same_rows_in_20_chats_and_in_2000() {
    let server = TestServer::start(&temp_state_dir("chat-list"), true);
    let api = server.client();
    let (many, few, peer) = ("list-many", "list-few", "list-peer");
    server.execute_sql(&seed(many, few, peer));

    let limit = 20;
    // Issue 13's bound: 4 × limit + the listed chats' participants (2 each here) + 10.
    let bound = 4 * limit + 2 * limit + 10;
    let read = |user: &str, query: &str| {
        let list = api.chats(user, query);
        list.expect(200);
        assert_eq!(list.cost("x-d1-queries"), 1, "{query}");
        list
    };
    let small = read(few, "limit=20");
    let large = read(many, "limit=20");
    assert_eq!(small.body["total"], 20);
    assert_eq!(large.body["total"], 2000);
    let (small_rows, large_rows) = (small.cost("x-d1-rows-read"), large.cost("x-d1-rows-read"));
    assert!(
        small_rows.abs_diff(large_rows) <= 5,
        "20 chats read {small_rows} rows, 2,000 read {large_rows}"
    );
    assert!(large_rows <= bound, "{large_rows} rows read > {bound}");
    assert!(small_rows <= bound, "{small_rows} rows read > {bound}");
    // Most recently active first: the seeded activity grows with the id.
    let first = ids(&large);
    assert_eq!(first[0], format!("{:024x}", 16_777_216 + 2000));
    assert_eq!(ids(&small)[0], format!("{:024x}", 16_777_216 + 2020));
    assert!(first.windows(2).all(|w| w[0] > w[1]), "{first:?}");
    // A deep page and the project filter cost the same (the page's offset aside).
    let project = read(many, "limit=20&projectId=p1");
    assert_eq!(project.body["total"], 1000);
    assert!(ids(&project)
        .iter()
        .all(|id| u64::from_str_radix(id, 16).unwrap() % 2 == 0));
    let project_rows = project.cost("x-d1-rows-read");
    assert!(
        project_rows.abs_diff(large_rows) <= 5,
        "project {project_rows} against {large_rows}"
    );
    let few_project = read(few, "limit=20&projectId=p1");
    assert_eq!(few_project.body["total"], 10);
    server.stop();
}

#[test]
fn direct_chats_and_small_groups_reorder_at_once_and_large_groups_within_five_seconds() {
    let api = app();
    let me = unique_user("order");
    let (b, c) = (unique_user("order-b"), unique_user("order-c"));
    let direct = |other: &str| {
        let resp = api.create_chat(&token(&me), &json!({"participantIds": [other]}));
        resp.body["_id"].as_str().expect("id").to_string()
    };
    let (x, y) = (direct(&b), direct(&c));
    api.send(&b, &x, "to x").expect(201);
    api.send(&c, &y, "to y").expect(201);
    assert_eq!(ids(&api.chats(&me, "limit=5"))[..2], [y.clone(), x.clone()]);
    api.send(&me, &x, "x again").expect(201);
    assert_eq!(ids(&api.chats(&me, "limit=5"))[..2], [x.clone(), y.clone()]);

    // A small group (3 members) moves at once on every send, like a direct chat.
    let small = api.group(&me, &[&b, &c]);
    api.send(&b, &small, "small one").expect(201);
    api.send(&b, &x, "x between").expect(201);
    assert_eq!(
        ids(&api.chats(&me, "limit=5"))[..2],
        [x.clone(), small.clone()]
    );
    api.send(&c, &small, "small two").expect(201);
    assert_eq!(
        ids(&api.chats(&me, "limit=5"))[..2],
        [small.clone(), x.clone()]
    );

    // A group of 50: its first send moves it at once; a second send within 5 s moves it within 5 s,
    // while its lastMessage and unreadCount are exact at once.
    let others: Vec<String> = (0..49).map(|i| unique_user(&format!("g{i}"))).collect();
    let others_ref: Vec<&str> = others.iter().map(String::as_str).collect();
    let group = api.group(&me, &others_ref);
    api.send(&others[0], &group, "first in the group")
        .expect(201);
    assert_eq!(ids(&api.chats(&me, "limit=5"))[0], group);
    api.send(&b, &x, "x moves ahead").expect(201);
    assert_eq!(ids(&api.chats(&me, "limit=5"))[0], x);
    let sent = api.send(&others[1], &group, "second in the group");
    sent.expect(201);
    let list = api.chats(&me, "limit=5");
    let entry = chat_entry(&list, &group);
    assert_eq!(entry["lastMessage"]["_id"], sent.body["_id"]);
    assert_eq!(entry["unreadCount"], 2);
    let deadline = Instant::now() + Duration::from_secs(9);
    loop {
        if ids(&api.chats(&me, "limit=5"))[0] == group {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the group did not move first within the lag"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_send_into_a_large_group_writes_its_members_at_most_every_five_seconds() {
    let api = app();
    let rows_written = |size: usize| {
        let owner = unique_user(&format!("big{size}"));
        let others: Vec<String> = (1..size)
            .map(|i| unique_user(&format!("m{size}-{i}")))
            .collect();
        let others_ref: Vec<&str> = others.iter().map(String::as_str).collect();
        let group = api.group(&owner, &others_ref);
        let first = api.send(&owner, &group, "first");
        first.expect(201);
        let second = api.send(&owner, &group, "second");
        second.expect(201);
        (
            first.cost("x-d1-rows-written"),
            second.cost("x-d1-rows-written"),
        )
    };
    let (first_50, second_50) = rows_written(50);
    let (first_256, second_256) = rows_written(256);
    // Up to 8 members a group is small: every send refreshes its members, as in a direct chat (API.md
    // lets only large groups trail). From 9 it coalesces.
    assert_eq!(rows_written(8), (second_50 + 8, second_50 + 8));
    assert_eq!(rows_written(9), (second_50 + 9, second_50));
    // The first send refreshes every member's list order, the next ones within 5 s none: a send's
    // writes do not grow with the group. Each member's refresh moves its one chat_list entry (1 row).
    assert_eq!(first_50 - second_50, 50, "{first_50} / {second_50}");
    assert_eq!(first_256 - second_256, 256, "{first_256} / {second_256}");
    assert_eq!(second_50, second_256);
    // A direct chat refreshes both members on every send: 2 rows more than a send that refreshes
    // nobody (4 in a project, whose list each member's chat is also in).
    let direct_send = |project: Option<&str>| {
        let (a, b) = (unique_user("d-a"), unique_user("d-b"));
        let body = json!({"participantIds": [b], "projectId": project});
        let chat = api.create_chat(&token(&a), &body);
        let chat = chat.body["_id"].as_str().unwrap().to_string();
        api.send(&a, &chat, "one").expect(201);
        let again = api.send(&a, &chat, "two");
        again.expect(201);
        again.cost("x-d1-rows-written")
    };
    let (direct_rows, project_rows) = (direct_send(None), direct_send(Some("rows-p")));
    assert_eq!(
        direct_rows,
        second_50 + 2,
        "direct {direct_rows}, group {second_50}"
    );
    assert_eq!(
        project_rows,
        second_50 + 4,
        "direct in a project {project_rows}"
    );
    println!(
        "rows written per send: direct {direct_rows} (in a project {project_rows}); group of 50: \
         {first_50} then {second_50}; group of 256: {first_256} then {second_256}"
    );
}
