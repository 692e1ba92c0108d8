//! API.md "Reactions, replies, mentions, pins": pins. Who may pin in direct chats and groups, the
//! chat's pin list newest first, idempotence, the 50-pin cap, tombstones, deleting unpins, service keys,
//! outsiders, and rows that do not grow with the chat.

use serde_json::{json, Value};

use crate::helpers::*;

fn pin(api: &Api, user: &str, message: &str) -> Resp {
    api.raw(
        "PUT",
        &format!("/api/v1/messages/{message}/pin"),
        &[("Authorization", &format!("Bearer {}", token(user)))],
        None,
    )
}

fn unpin(api: &Api, user: &str, message: &str) -> Resp {
    api.raw(
        "DELETE",
        &format!("/api/v1/messages/{message}/pin"),
        &[("Authorization", &format!("Bearer {}", token(user)))],
        None,
    )
}

fn pins(api: &Api, user: &str, chat: &str) -> Vec<String> {
    let list = api.get(&format!("/api/v1/chats/{chat}/pins"), Some(&token(user)));
    list.expect(200);
    ids(&list.body["messages"])
}

fn ids(messages: &Value) -> Vec<String> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["_id"].as_str().unwrap().to_string())
        .collect()
}

fn sent_id(api: &Api, user: &str, chat: &str, text: &str) -> String {
    let sent = api.send(user, chat, text);
    sent.expect(201);
    sent.body["_id"].as_str().unwrap().to_string()
}

#[test]
fn either_side_of_a_direct_chat_pins_and_the_list_is_newest_pin_first() {
    let api = app();
    let (a, b) = (unique_user("pin-a"), unique_user("pin-b"));
    let created = api.create_chat(&token(&a), &json!({"participantIds": [b]}));
    created.expect(201);
    let chat = created.body["_id"].as_str().unwrap().to_string();
    let first = sent_id(&api, &a, &chat, "first");
    let second = sent_id(&api, &b, &chat, "second");
    assert_eq!(pins(&api, &a, &chat), Vec::<String>::new());

    let pinned = pin(&api, &b, &first);
    pinned.expect(200);
    assert_eq!(pinned.body["_id"], first.as_str());
    assert_eq!(pinned.body["pinnedBy"], b.as_str());
    assert!(pinned.body["pinnedAt"].is_string());
    assert!(pinned.body["updatedAt"].as_str() >= pinned.body["pinnedAt"].as_str());
    // Idempotent: the same pin, nothing written.
    let again = pin(&api, &a, &first);
    again.expect(200);
    assert_eq!(again.body["pinnedBy"], b.as_str());
    assert_eq!(again.cost("x-d1-rows-written"), 0);
    std::thread::sleep(std::time::Duration::from_millis(5));
    pin(&api, &a, &second).expect(200);
    assert_eq!(pins(&api, &b, &chat), [second.clone(), first.clone()]);

    // The message list shows the pin; a sync window after the pin sees the change.
    let page = api.messages(&a, &chat, "limit=10");
    page.expect(200);
    let listed = &page.body["messages"][0];
    assert_eq!(
        (&listed["_id"], &listed["pinnedBy"]),
        (&json!(first), &json!(b))
    );

    let unpinned = unpin(&api, &a, &second);
    unpinned.expect(200);
    assert_eq!(unpinned.body["pinnedAt"], Value::Null);
    assert_eq!(unpinned.body["pinnedBy"], Value::Null);
    unpin(&api, &a, &second).expect(200);
    assert_eq!(pins(&api, &a, &chat), std::slice::from_ref(&first));

    // Deleting a pinned message unpins it; a tombstone cannot be pinned again (409).
    let tomb = api.delete(&a, &first);
    tomb.expect(200);
    assert_eq!(tomb.body["pinnedAt"], Value::Null);
    assert_eq!(pins(&api, &a, &chat), Vec::<String>::new());
    let refused = pin(&api, &b, &first);
    refused.expect(409);
    unpin(&api, &b, &first).expect(409);
}

#[test]
fn in_a_group_only_the_owner_and_admins_pin_and_outsiders_and_keys_cannot() {
    let api = app();
    let (owner, admin, member, outsider) = (
        unique_user("pg-o"),
        unique_user("pg-a"),
        unique_user("pg-m"),
        unique_user("pg-x"),
    );
    let chat = api.group(&owner, &[&admin, &member]);
    api.send_json(
        "PATCH",
        &format!("/api/v1/chats/{chat}/members/{admin}"),
        &token(&owner),
        &json!({"role": "admin"}),
    )
    .expect(200);
    let id = sent_id(&api, &member, &chat, "pin me");

    let refused = pin(&api, &member, &id);
    refused.expect(403);
    assert_eq!(pins(&api, &owner, &chat), Vec::<String>::new());
    pin(&api, &admin, &id).expect(200);
    // A plain member may not unpin either, even a pinned message.
    unpin(&api, &member, &id).expect(403);
    unpin(&api, &owner, &id).expect(200);
    pin(&api, &owner, &id).expect(200);
    // Everyone in the chat reads the pins; outsiders get 404 on every pin route.
    assert_eq!(pins(&api, &member, &chat), std::slice::from_ref(&id));
    pin(&api, &outsider, &id).expect(404);
    unpin(&api, &outsider, &id).expect(404);
    api.get(
        &format!("/api/v1/chats/{chat}/pins"),
        Some(&token(&outsider)),
    )
    .expect(404);
    // An unknown message, a malformed id.
    pin(&api, &owner, "0123456789abcdef01234567").expect(404);
    pin(&api, &owner, "not-an-id").expect(400);

    // Service keys may read pins (by reach) but not pin: 403, nothing stored.
    let key = api.service_key(None);
    let path = format!("/api/v1/messages/{id}/pin");
    api.with_key("DELETE", &path, &key, None).expect(403);
    let listed = api.with_key("GET", &format!("/api/v1/chats/{chat}/pins"), &key, None);
    listed.expect(200);
    assert_eq!(ids(&listed.body["messages"]), std::slice::from_ref(&id));
    let elsewhere = api.service_key(Some("proj_pins_other"));
    api.with_key(
        "GET",
        &format!("/api/v1/chats/{chat}/pins"),
        &elsewhere,
        None,
    )
    .expect(404);

    // A removed admin loses the right with the membership: 404.
    api.raw(
        "DELETE",
        &format!("/api/v1/chats/{chat}/members/{admin}"),
        &[("Authorization", &format!("Bearer {}", token(&owner)))],
        None,
    )
    .expect(204);
    unpin(&api, &admin, &id).expect(404);
    assert_eq!(pins(&api, &owner, &chat), [id]);
}

#[test]
fn a_chat_holds_fifty_pins_and_a_pin_costs_the_same_in_a_long_chat() {
    let api = app();
    let (a, b) = (unique_user("pc-a"), unique_user("pc-b"));
    let chat = api.group(&a, &[&b]);
    let mut pinned = Vec::new();
    let mut costs = Vec::new();
    for n in 0..51 {
        let id = sent_id(&api, &a, &chat, &format!("m{n}"));
        let resp = pin(&api, &a, &id);
        if n < 50 {
            resp.expect(200);
            costs.push((resp.cost("x-d1-rows-read"), resp.cost("x-d1-rows-written")));
            pinned.push(id);
        } else {
            resp.expect(422);
            assert!(resp.error_text().contains("50"), "{}", resp.error_text());
            let page = api.messages(&a, &chat, "limit=1");
            assert_eq!(page.body["messages"][0]["pinnedAt"], Value::Null);
        }
    }
    let listed = pins(&api, &b, &chat);
    assert_eq!(listed.len(), 50);
    pinned.reverse();
    assert_eq!(listed, pinned, "newest pin first");
    // Rows: the cap reads the chat's pins (up to 50 index entries), so a pin's rows read grow with
    // the pins already there but never with the chat's messages or the pinner's history; rows
    // written are constant.
    let (first_read, first_written) = costs[0];
    let (last_read, last_written) = costs[49];
    assert_eq!(first_written, last_written, "{costs:?}");
    assert!(
        last_read <= first_read + 50 + 5,
        "a pin read {first_read} rows with no pins, {last_read} with 49: {costs:?}"
    );
    // Unpinning one makes room again.
    unpin(&api, &a, &listed[0]).expect(200);
    let extra = sent_id(&api, &a, &chat, "room again");
    pin(&api, &a, &extra).expect(200);

    // With the chat full again a pin is refused; then the same pin before and after 30 more messages
    // costs the same (its statements are index probes, which tests/api/schema.rs plans).
    let one = pin(&api, &b, &sent_id(&api, &a, &chat, "x"));
    one.expect(422);
    unpin(&api, &a, &extra).expect(200);
    let id = sent_id(&api, &a, &chat, "y");
    let before = pin(&api, &a, &id);
    before.expect(200);
    unpin(&api, &a, &id).expect(200);
    for n in 0..30 {
        api.send(&b, &chat, &format!("filler {n}")).expect(201);
    }
    let after = pin(&api, &a, &id);
    after.expect(200);
    assert_eq!(
        before.cost("x-d1-rows-written"),
        after.cost("x-d1-rows-written")
    );
    assert!(
        before
            .cost("x-d1-rows-read")
            .abs_diff(after.cost("x-d1-rows-read"))
            <= 3,
        "{} vs {} rows read",
        before.cost("x-d1-rows-read"),
        after.cost("x-d1-rows-read")
    );
}
