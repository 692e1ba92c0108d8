//! API.md "Members and roles": who may change a group, the `system` messages with `chatEvent`, access
//! that follows membership at once on every route, muting and archiving, the unread totals, and what
//! each change costs.

use serde_json::{json, Value};

use crate::helpers::*;

fn add(api: &Api, actor: &str, chat: &str, ids: &[&str]) -> Resp {
    api.post(
        &format!("/api/v1/chats/{chat}/members"),
        &token(actor),
        &json!({ "userIds": ids }),
    )
}

fn remove(api: &Api, actor: &str, chat: &str, user: &str) -> Resp {
    let auth = format!("Bearer {}", token(actor));
    api.raw(
        "DELETE",
        &format!("/api/v1/chats/{chat}/members/{user}"),
        &[("Authorization", &auth)],
        None,
    )
}

fn set_role(api: &Api, actor: &str, chat: &str, user: &str, role: &str) -> Resp {
    api.send_json(
        "PATCH",
        &format!("/api/v1/chats/{chat}/members/{user}"),
        &token(actor),
        &json!({ "role": role }),
    )
}

fn rename(api: &Api, actor: &str, chat: &str, title: Value) -> Resp {
    api.send_json(
        "PATCH",
        &format!("/api/v1/chats/{chat}"),
        &token(actor),
        &json!({ "title": title }),
    )
}

fn settings(api: &Api, user: &str, chat: &str, body: Value) -> Resp {
    api.send_json(
        "PATCH",
        &format!("/api/v1/chats/{chat}/me"),
        &token(user),
        &body,
    )
}

fn unread(api: &Api, user: &str) -> Resp {
    let resp = api.get("/api/v1/users/me/unread", Some(&token(user)));
    resp.expect(200);
    resp
}

fn role_of(chat: &Resp, user: &str) -> Value {
    participant(chat, user)["role"].clone()
}

fn last_message(api: &Api, user: &str, chat: &str) -> Value {
    let got = api.chat(user, chat);
    got.expect(200);
    got.body["lastMessage"].clone()
}

fn ids_in_list(list: &Resp) -> Vec<String> {
    list.body["chats"]
        .as_array()
        .expect("chats")
        .iter()
        .map(|c| c["_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn who_may_do_what_and_the_system_messages_each_change_writes() {
    let api = app();
    let [a, b, c, d] = ["own", "mem-b", "mem-c", "new-d"].map(unique_user);
    let group = api.create_chat(
        &token(&a),
        &json!({"participantIds": [b, c], "title": "Team"}),
    );
    group.expect(201);
    let chat = group.body["_id"].as_str().unwrap().to_string();
    assert_eq!(group.body["role"], "owner");
    assert_eq!(
        (group.body["muted"].clone(), group.body["archived"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(group.body["unreadMentions"], 0);
    assert_eq!(role_of(&group, &a), "owner");
    assert_eq!(role_of(&group, &b), "member");
    api.send(&a, &chat, "history before d").expect(201);

    // A member may not add, rename or set roles; a stranger gets 404.
    add(&api, &b, &chat, &[&d]).expect(403);
    rename(&api, &b, &chat, json!("Mine")).expect(403);
    set_role(&api, &b, &chat, &c, "admin").expect(403);
    add(&api, &unique_user("stranger"), &chat, &[&d]).expect(404);
    // The owner adds d and a user nobody has seen yet.
    let fresh = unique_user("never-seen");
    let added = add(&api, &a, &chat, &[&d, &fresh, &b]);
    added.expect(200);
    assert_eq!(added.body["participants"].as_array().unwrap().len(), 5);
    assert_eq!(added.body["messageCount"], 2);
    let event = added.body["lastMessage"].clone();
    assert_eq!(
        (&event["type"], &event["senderRole"], &event["senderId"]),
        (&json!("system"), &json!("system"), &json!(a))
    );
    assert_eq!(
        event["chatEvent"],
        json!({"type": "members.added", "actorId": a, "userIds": [d, fresh], "role": null, "title": null})
    );
    // Names as the members' profiles have them (d and the new user have no profile of their own yet).
    let name = participant(&group, &a)["username"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(event["content"], format!("{name} added {d} and {fresh}"));
    // The new member sees the whole history, starts with nothing unread, finds the chat in its list.
    let for_d = api.chat(&d, &chat);
    for_d.expect(200);
    assert_eq!(
        (
            for_d.body["unreadCount"].clone(),
            for_d.body["role"].clone()
        ),
        (json!(0), json!("member"))
    );
    assert_eq!(seqs(&api.messages(&d, &chat, "limit=50")), vec![1, 2]);
    assert!(ids_in_list(&api.chats(&d, "")).contains(&chat));
    assert!(ids_in_list(&api.chats(&fresh, "")).contains(&chat));
    // Adding who is there already writes nothing.
    let again = add(&api, &a, &chat, &[&d, &b]);
    again.expect(200);
    assert_eq!(again.body["messageCount"], 2);

    // Roles: the owner makes b an admin; the same role again writes nothing.
    let promoted = set_role(&api, &a, &chat, &b, "admin");
    promoted.expect(200);
    assert_eq!(role_of(&promoted, &b), "admin");
    assert_eq!(
        promoted.body["lastMessage"]["chatEvent"]["type"],
        "role.changed"
    );
    assert_eq!(promoted.body["lastMessage"]["chatEvent"]["role"], "admin");
    set_role(&api, &a, &chat, &b, "admin").expect(200);
    assert_eq!(api.chat(&a, &chat).body["messageCount"], 3);
    set_role(&api, &a, &chat, &unique_user("nobody"), "admin").expect(404);
    // An admin adds and renames, removes members, not the owner or another admin.
    rename(&api, &b, &chat, json!("Team 2")).expect(200);
    let renamed = last_message(&api, &a, &chat);
    assert_eq!(renamed["chatEvent"]["type"], "chat.renamed");
    assert_eq!(renamed["chatEvent"]["title"], "Team 2");
    assert_eq!(api.chat(&a, &chat).body["title"], "Team 2");
    rename(&api, &b, &chat, json!("Team 2")).expect(200);
    assert_eq!(api.chat(&a, &chat).body["messageCount"], 4);
    remove(&api, &b, &chat, &a).expect(403);
    set_role(&api, &a, &chat, &c, "admin").expect(200);
    remove(&api, &b, &chat, &c).expect(403);
    set_role(&api, &a, &chat, &c, "member").expect(200);
    let removed = remove(&api, &b, &chat, &c);
    removed.expect(204);
    assert!(removed.text.is_empty());
    let gone = last_message(&api, &a, &chat);
    assert_eq!(gone["chatEvent"]["type"], "member.removed");
    assert_eq!(gone["chatEvent"]["userIds"], json!([c]));
    remove(&api, &b, &chat, &c).expect(404);
    // The owner cannot leave while others remain; hands ownership over, then leaves as an admin.
    remove(&api, &a, &chat, &a).expect(422);
    set_role(&api, &a, &chat, &a, "member").expect(422);
    let handed = set_role(&api, &a, &chat, &d, "owner");
    handed.expect(200);
    assert_eq!(role_of(&handed, &d), "owner");
    assert_eq!(role_of(&handed, &a), "admin");
    assert_eq!(handed.body["role"], "admin");
    let owner_event = handed.body["lastMessage"]["chatEvent"].clone();
    assert_eq!(
        (&owner_event["userIds"], &owner_event["role"]),
        (&json!([d]), &json!("owner"))
    );
    remove(&api, &a, &chat, &a).expect(204);
    assert_eq!(
        last_message(&api, &d, &chat)["chatEvent"]["type"],
        "member.left"
    );
    assert_eq!(
        last_message(&api, &d, &chat)["content"],
        format!("{name} left")
    );
    // Everyone leaves: the chat keeps its history with no members.
    for user in [&b, &fresh] {
        remove(&api, user, &chat, user).expect(204);
    }
    remove(&api, &d, &chat, &d).expect(204);
    for user in [&a, &b, &d] {
        api.chat(user, &chat).expect(404);
    }
}

#[test]
fn a_direct_chat_never_changes_and_bad_input_stores_nothing() {
    let api = app();
    let [a, b, c] = ["dir-a", "dir-b", "dir-c"].map(unique_user);
    let direct = api.create_chat(&token(&a), &json!({"participantIds": [b]}));
    let direct = direct.body["_id"].as_str().unwrap().to_string();
    assert_eq!(api.chat(&a, &direct).body["role"], "member");
    add(&api, &a, &direct, &[&c]).expect(422);
    rename(&api, &a, &direct, json!("x")).expect(422);
    remove(&api, &a, &direct, &b).expect(422);
    remove(&api, &a, &direct, &a).expect(422);
    set_role(&api, &a, &direct, &b, "admin").expect(422);
    // Settings are the caller's own, in any chat.
    settings(&api, &a, &direct, json!({"muted": true})).expect(200);

    let chat = api.group(&a, &[&b]);
    let many: Vec<String> = (0..51).map(|i| format!("u{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let long = "x".repeat(201);
    let bad = [
        add(&api, &a, &chat, &["not an id"]),
        add(&api, &a, &chat, &many),
        add(&api, &a, &chat, &[]),
        api.post(
            &format!("/api/v1/chats/{chat}/members"),
            &token(&a),
            &json!({"userIds": "b"}),
        ),
        set_role(&api, &a, &chat, &b, "boss"),
        set_role(&api, &a, &chat, &b, "Owner"),
        rename(&api, &a, &chat, json!(long)),
        rename(&api, &a, &chat, json!(5)),
        api.send_json(
            "PATCH",
            &format!("/api/v1/chats/{chat}"),
            &token(&a),
            &json!({}),
        ),
        settings(&api, &a, &chat, json!({})),
        settings(&api, &a, &chat, json!({"muted": "yes"})),
        settings(&api, &a, &chat, json!({"archived": 1})),
        remove(&api, &a, &chat, "bad%20id"),
    ];
    for resp in &bad {
        resp.expect(400);
    }
    // A service key gets 403 on every one of these: they are users' actions.
    let key = api.service_key(None);
    let body = json!({"userIds": [c]});
    api.with_key(
        "POST",
        &format!("/api/v1/chats/{chat}/members"),
        &key,
        Some(&body),
    )
    .expect(403);
    api.with_key("GET", "/api/v1/users/me/unread", &key, None)
        .expect(403);
    // Past 256: 422, and nobody joins.
    let big_owner = unique_user("full");
    let members: Vec<String> = (0..200)
        .map(|i| unique_user(&format!("full-{i}")))
        .collect();
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    let full = api.group(&big_owner, &members);
    let extra: Vec<String> = (0..50).map(|i| unique_user(&format!("x-{i}"))).collect();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    add(&api, &big_owner, &full, &extra).expect(200);
    let past: Vec<String> = (0..6).map(|i| unique_user(&format!("past-{i}"))).collect();
    let past: Vec<&str> = past.iter().map(String::as_str).collect();
    add(&api, &big_owner, &full, &past).expect(422);
    let after = api.chat(&big_owner, &full);
    assert_eq!(after.body["participants"].as_array().unwrap().len(), 251);
    assert_eq!(after.body["messageCount"], 1);
    add(&api, &big_owner, &full, &past[..5]).expect(200);
    assert_eq!(
        api.chat(&big_owner, &full).body["participants"]
            .as_array()
            .unwrap()
            .len(),
        256
    );
    add(&api, &big_owner, &full, &[&unique_user("one-more")]).expect(422);
    assert_eq!(
        api.chat(&a, &chat).body["messageCount"],
        0,
        "the bad requests wrote nothing"
    );
}

/// After a removal the removed user gets 404 on every route of the chat, cannot be named as a
/// transfer recipient there, and the chat leaves its list.
#[test]
fn access_follows_membership_at_once_on_every_route() {
    let api = app();
    let [a, b, c] = ["acc-a", "acc-b", "acc-c"].map(unique_user);
    let chat = api.group(&a, &[&b, &c]);
    let first = api.send(&c, &chat, "c was here");
    first.expect(201);
    let id = first.body["_id"].as_str().unwrap().to_string();
    api.grant(&a, 100, &format!("acc-{a}")).expect(201);
    api.grant(&c, 100, &format!("acc-{c}")).expect(201);
    remove(&api, &a, &chat, &c).expect(204);
    api.chat(&c, &chat).expect(404);
    api.messages(&c, &chat, "limit=5").expect(404);
    api.messages(&c, &chat, "after=0").expect(404);
    api.send(&c, &chat, "still here?").expect(404);
    api.mark_read(&c, &chat, &json!({})).expect(404);
    api.edit(&c, &id, "changed").expect(404);
    api.delete(&c, &id).expect(404);
    assert_eq!(api.transfer(&c, &chat, &a, 5, None).status, 404);
    let to_removed = api.transfer(&a, &chat, &c, 5, None);
    assert!(
        matches!(to_removed.status, 404 | 422),
        "a transfer to a removed member: {}",
        to_removed.text
    );
    assert_eq!(api.balance(&c), 100);
    for path in [
        format!("/api/v1/chat/{chat}/messages"),
        format!("/api/v1/chats/{chat}/messages"),
        format!("/api/v1/chats/{chat}/presence"),
    ] {
        // The compatibility surfaces answer in their own envelopes.
        assert_eq!(api.get(&path, Some(&token(&c))).status, 404, "{path}");
    }
    settings(&api, &c, &chat, json!({"muted": true})).expect(404);
    add(&api, &c, &chat, &[&unique_user("z")]).expect(404);
    remove(&api, &c, &chat, &c).expect(404);
    assert!(!ids_in_list(&api.chats(&c, "")).contains(&chat));
    assert_eq!(api.chats(&c, "").body["total"], 0);
    // Added back later, c sees everything again, with nothing unread.
    add(&api, &a, &chat, &[&c]).expect(200);
    let back = api.chat(&c, &chat);
    back.expect(200);
    assert_eq!(back.body["unreadCount"], 0);
    assert_eq!(seqs(&api.messages(&c, &chat, "limit=50")), vec![1, 2, 3]);
}

#[test]
fn muted_chats_leave_the_totals_and_archived_ones_the_list_until_someone_writes() {
    let api = app();
    let [a, b, c] = ["arc-a", "arc-b", "arc-c"].map(unique_user);
    let project = format!("p-{a}");
    let one = api.group(&a, &[&b, &c]);
    let two = api.create_chat(
        &token(&a),
        &json!({"participantIds": [b], "type": "group", "projectId": project}),
    );
    let two = two.body["_id"].as_str().unwrap().to_string();
    api.send(&b, &one, "1").expect(201);
    api.send(&b, &one, "2").expect(201);
    api.send(&c, &two, "x").expect(404);
    api.send(&b, &two, "3").expect(201);
    let totals = unread(&api, &a);
    assert_eq!(
        totals.body,
        json!({"totalUnread": 3, "chatsWithUnread": 2, "unreadMentions": 0})
    );
    assert_eq!(totals.cost("x-d1-queries"), 1);
    // Muted: out of the totals, its own count still exact.
    let muted = settings(&api, &a, &one, json!({"muted": true}));
    muted.expect(200);
    assert_eq!(
        (
            muted.body["muted"].clone(),
            muted.body["unreadCount"].clone()
        ),
        (json!(true), json!(2))
    );
    assert_eq!(unread(&api, &a).body["totalUnread"], 1);
    settings(&api, &a, &one, json!({"muted": false})).expect(200);
    assert_eq!(unread(&api, &a).body["totalUnread"], 3);

    // Archived: out of the list and its total, in ?archived=true, in every list it belongs to.
    let archived = settings(&api, &a, &two, json!({"archived": true}));
    archived.expect(200);
    assert_eq!(archived.body["archived"], true);
    let list = api.chats(&a, "");
    assert_eq!(ids_in_list(&list), vec![one.clone()]);
    assert_eq!(list.body["total"], 1);
    let shelf = api.chats(&a, "archived=true");
    assert_eq!(ids_in_list(&shelf), vec![two.clone()]);
    assert_eq!(shelf.body["total"], 1);
    assert_eq!(shelf.body["chats"][0]["archived"], true);
    assert_eq!(
        api.chats(&a, &format!("projectId={project}")).body["total"],
        0
    );
    assert_eq!(
        ids_in_list(&api.chats(&a, &format!("projectId={project}&archived=true"))),
        vec![two.clone()]
    );
    api.chats(&a, "archived=maybe").expect(400);
    // Others' lists do not change; the archiver's own message does not unarchive, nor does a chat
    // event; someone else's message does.
    assert_eq!(api.chats(&b, "").body["total"], 2);
    api.send(&a, &two, "mine").expect(201);
    rename(&api, &a, &two, json!("renamed")).expect(200);
    assert_eq!(api.chats(&a, "archived=true").body["total"], 1);
    api.send(&b, &two, "wake up").expect(201);
    let list = api.chats(&a, "");
    assert_eq!(ids_in_list(&list), vec![two.clone(), one.clone()]);
    assert_eq!(list.body["total"], 2);
    assert_eq!(api.chats(&a, "archived=true").body["total"], 0);
    assert_eq!(
        api.chats(&a, &format!("projectId={project}")).body["total"],
        1
    );
    assert_eq!(api.chat(&a, &two).body["archived"], false);
    // Leaving an archived chat takes it off the archived list and its count.
    settings(&api, &a, &one, json!({"archived": true, "muted": true})).expect(200);
    let shelf = api.chats(&a, "archived=true&limit=5");
    assert_eq!(ids_in_list(&shelf), vec![one.clone()]);
    let bound = 4 * 5 + 3 + 10;
    assert!(
        shelf.cost("x-d1-rows-read") <= bound,
        "{}",
        shelf.cost("x-d1-rows-read")
    );
    let plain = api.chats(&a, "limit=5");
    assert!(plain.cost("x-d1-rows-read") <= 4 * 5 + 2 + 10);
    remove(&api, &a, &one, &a).expect(422);
    set_role(&api, &a, &one, &b, "owner").expect(200);
    remove(&api, &a, &one, &a).expect(204);
    assert_eq!(api.chats(&a, "archived=true").body["total"], 0);
    assert_eq!(api.chats(&a, "").body["total"], 1);
}

/// Rows written by a change of members do not grow with the group: adding one member to a group of
/// 50 and of 255, removing one from 256, the same.
#[test]
fn a_change_of_members_writes_rows_that_do_not_grow_with_the_group() {
    let api = app();
    let costs = |size: usize| {
        let owner = unique_user(&format!("cost{size}"));
        let others: Vec<String> = (1..size)
            .map(|i| unique_user(&format!("c{size}-{i}")))
            .collect();
        let others: Vec<&str> = others.iter().map(String::as_str).collect();
        let chat = api.group(&owner, &others);
        for i in 0..3 {
            api.send(&owner, &chat, &format!("history {i}")).expect(201);
        }
        let newcomer = unique_user(&format!("join{size}"));
        let added = add(&api, &owner, &chat, &[&newcomer]);
        added.expect(200);
        let removed = remove(&api, &owner, &chat, &newcomer);
        removed.expect(204);
        let renamed = rename(&api, &owner, &chat, json!(format!("now {size}")));
        renamed.expect(200);
        (
            added.cost("x-d1-rows-written"),
            removed.cost("x-d1-rows-written"),
            renamed.cost("x-d1-rows-written"),
        )
    };
    let small = costs(3);
    let fifty = costs(50);
    let full = costs(255);
    println!("rows written (add, remove, rename): 3 members {small:?}, 50 {fifty:?}, 255 {full:?}");
    assert_eq!(fifty, full, "50 members {fifty:?}, 255 {full:?}");
    assert!(full.0 <= 20 && full.1 <= 20 && full.2 <= 20, "{full:?}");
    // A small group moves its members' list entries at once (one row each), as a send does.
    assert!(small.0 <= fifty.0 + 8, "{small:?} {fifty:?}");
}

/// The unread totals read at most 2 rows per chat, in one round trip, at 20 and at 2,000 chats
/// (seeded by SQL on a server of the test's own).
#[test]
fn the_unread_totals_read_at_most_two_rows_per_chat_at_twenty_and_two_thousand_chats() {
    let state = temp_state_dir("unread");
    let server = TestServer::start(&state, true);
    let api = server.client();
    let me = unique_user("badge");
    let other = unique_user("badge-peer");
    // Make the users' rows.
    api.group(&me, &[&other]);
    let seed = |from: usize, to: usize| {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i < {to})
             INSERT INTO chats (id, type, title, last_seq, last_activity_at, created_at, updated_at,
                                list_at, list_prev_at)
               SELECT printf('%024x', 1000000 + i), 'group', 't', i % 7, 1000 + i, 1000, 1000,
                      1000 + i, 1000 + i FROM n;
             WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i < {to})
             INSERT INTO chat_participants (chat_id, user_id, last_read_seq, joined_at, username, muted)
               SELECT printf('%024x', 1000000 + i), '{me}', i % 3, 1000, '{me}', i % 10 = 0 FROM n;"
        )
    };
    let expected = |to: usize| {
        // One chat from api.group (nothing unread) plus the seeded ones not muted.
        let (mut total, mut chats) = (0, 0);
        for i in 1..=to {
            let unread = (i % 7).saturating_sub(i % 3);
            if i % 10 != 0 && unread > 0 {
                total += unread;
                chats += 1;
            }
        }
        (total, chats)
    };
    for (from, to) in [(1, 19), (20, 1999)] {
        server.execute_sql(&seed(from, to));
        let totals = unread(&api, &me);
        let chats = to + 1;
        let (total, with_unread) = expected(to);
        assert_eq!(totals.body["totalUnread"], total);
        assert_eq!(totals.body["chatsWithUnread"], with_unread);
        assert_eq!(totals.cost("x-d1-queries"), 1);
        let rows = totals.cost("x-d1-rows-read");
        println!("unread totals at {chats} chats: {rows} rows read");
        assert!(
            rows <= 2 * chats as u64,
            "{rows} rows read for {chats} chats"
        );
    }
    server.stop();
}

/// A removal racing sends in one chat comes out in one order: every send the removed member got a
/// 201 for precedes the `member.removed` message, every later one is a 404, and nothing is lost.
#[test]
fn a_removal_racing_sends_comes_out_in_one_order() {
    let api = app();
    let [a, b, c] = ["race-own", "race-b", "race-c"].map(unique_user);
    let chat = api.group(&a, &[&b, &c]);
    let senders: Vec<_> = (0..16)
        .map(|i| {
            let (api, c, chat) = (api.clone(), c.clone(), chat.clone());
            std::thread::spawn(move || api.send(&c, &chat, &format!("race {i}")))
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(30));
    remove(&api, &a, &chat, &c).expect(204);
    let sent: Vec<Resp> = senders.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(sent.iter().all(|r| r.status == 201 || r.status == 404));
    let all = api.all_messages(&a, &chat);
    let removal = all
        .iter()
        .find(|m| m["chatEvent"]["type"] == "member.removed")
        .expect("the removal")["sequenceNumber"]
        .as_i64()
        .unwrap();
    let stored: Vec<i64> = sent
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.body["sequenceNumber"].as_i64().unwrap())
        .collect();
    assert!(
        stored.iter().all(|&s| s < removal),
        "{stored:?} vs {removal}"
    );
    let from_c = all
        .iter()
        .filter(|m| m["senderId"] == c && m["type"] == "text")
        .count();
    assert_eq!(from_c, stored.len(), "every 201 is stored, nothing else");
    let seqs: Vec<i64> = all
        .iter()
        .map(|m| m["sequenceNumber"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
}
