//! API.md "Service access (API keys)" and "Projects": the key lifecycle, what a key reaches (its
//! project's chats, every chat for a key of no project), every 403 of API.md, and direct chats unique
//! per pair within a project.

use serde_json::{json, Value};

use crate::helpers::*;

/// A chat of `owner` and one other user, in `project` if given; returns its id.
fn chat_in(api: &Api, owner: &str, project: Option<&str>) -> String {
    let resp = api.create_chat(
        &token(owner),
        &json!({"participantIds": [unique_user("peer")], "type": "group", "title": "t", "projectId": project}),
    );
    resp.expect(201);
    assert_eq!(resp.body["projectId"], json!(project));
    resp.body["_id"].as_str().expect("id").to_string()
}

fn project() -> String {
    unique_user("proj").replace('-', "_")
}

#[test]
fn a_key_is_created_listed_without_secrets_used_and_revoked() {
    let api = app();
    let owner = unique_user("lc");
    let chat = chat_in(&api, &owner, None);
    let created = api.create_key(&json!({"name": "support-bot", "senderId": "helper-bot"}));
    created.expect(201);
    let key = created.body["key"].as_str().expect("key").to_string();
    let id = created.body["_id"].as_str().expect("_id").to_string();
    assert!(key.starts_with("eck_") && key.len() == 47, "{key}");
    assert_eq!(created.body["name"], "support-bot");
    assert_eq!(created.body["senderId"], "helper-bot");
    assert_eq!(created.body["projectId"], Value::Null);
    assert_eq!(created.body["webhookUrl"], Value::Null);
    assert_eq!(created.body["revokedAt"], Value::Null);
    // A key of no project reads any chat, in one round trip (the key is checked in the same batch).
    let read = api.with_key("GET", &format!("/api/v1/chats/{chat}"), &key, None);
    read.expect(200);
    assert_eq!(read.cost("x-d1-queries"), 1);
    assert_eq!(read.body["unreadCount"], 0);
    let page = api.with_key("GET", &format!("/api/v1/messages/chat/{chat}"), &key, None);
    page.expect(200);
    assert_eq!(page.cost("x-d1-queries"), 1);
    let sent = api.with_key(
        "POST",
        "/api/v1/messages",
        &key,
        Some(&json!({"chatId": chat, "content": "before the revocation"})),
    );
    sent.expect(201);
    let message = format!(
        "/api/v1/messages/{}",
        sent.body["_id"].as_str().expect("_id")
    );
    // Listed, never with the key or its hash.
    let list = api.raw(
        "GET",
        "/api/v1/admin/api-keys",
        &[("X-API-Key", ADMIN_API_KEY)],
        None,
    );
    list.expect(200);
    let listed = list.body["apiKeys"]
        .as_array()
        .expect("apiKeys")
        .iter()
        .find(|k| k["_id"] == id.as_str())
        .expect("the new key is listed")
        .clone();
    assert!(listed.get("key").is_none() && !list.text.contains(&key[4..]));
    // Revoked: a 401 from the next request on; revoking again answers the same.
    let revoke = || {
        api.raw(
            "DELETE",
            &format!("/api/v1/admin/api-keys/{id}"),
            &[("X-API-Key", ADMIN_API_KEY)],
            None,
        )
    };
    let revoked = revoke();
    revoked.expect(200);
    assert!(revoked.body["revokedAt"].is_string());
    assert_eq!(revoke().body["revokedAt"], revoked.body["revokedAt"]);
    api.with_key("GET", &format!("/api/v1/chats/{chat}"), &key, None)
        .expect(401);
    // Its writes too: a send, and an edit or delete of its own message, which stays as it was.
    let send = json!({"chatId": chat, "content": "after"});
    api.with_key("POST", "/api/v1/messages", &key, Some(&send))
        .expect(401);
    let edit = json!({"content": "edited after"});
    api.with_key("PATCH", &message, &key, Some(&edit))
        .expect(401);
    api.with_key("DELETE", &message, &key, None).expect(401);
    let stored = api.messages(&owner, &chat, "");
    assert_eq!(
        stored.body["messages"][0]["content"],
        "before the revocation"
    );
    assert_eq!(stored.body["total"], 1);
    api.raw(
        "DELETE",
        "/api/v1/admin/api-keys/64d15f9e2e6c8f4d5a000000",
        &[("X-API-Key", ADMIN_API_KEY)],
        None,
    )
    .expect(404);
}

#[test]
fn unknown_malformed_revoked_and_doubled_credentials_are_refused() {
    let api = app();
    let owner = unique_user("cred");
    let chat = chat_in(&api, &owner, None);
    let path = format!("/api/v1/chats/{chat}");
    let unknown = format!("eck_{}", "A".repeat(43));
    for bad in ["nope", "eck_short", unknown.as_str(), ADMIN_API_KEY] {
        let resp = api.with_key("GET", &path, bad, None);
        resp.expect(401);
    }
    let key = api.service_key(None);
    let auth = format!("Bearer {}", token(&owner));
    let both = api.raw(
        "GET",
        &path,
        &[("Authorization", &auth), ("X-API-Key", &key)],
        None,
    );
    both.expect(400);
    // Admin routes take the admin key only.
    for admin in [key.as_str(), "wrong"] {
        api.raw(
            "GET",
            "/api/v1/admin/api-keys",
            &[("X-API-Key", admin)],
            None,
        )
        .expect(401);
    }
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "x", "projectId": "a b"}),
        json!({"name": "x", "senderId": "bad id"}),
    ] {
        api.create_key(&body).expect(400);
    }
}

#[test]
fn a_project_key_reaches_only_its_projects_chats() {
    let api = app();
    let owner = unique_user("reach");
    let (p1, p2) = (project(), project());
    let in_p1 = chat_in(&api, &owner, Some(&p1));
    let in_p2 = chat_in(&api, &owner, Some(&p2));
    let no_project = chat_in(&api, &owner, None);
    let key = api.service_key(Some(&p1));
    let everywhere = api.service_key(None);
    let get =
        |key: &str, chat: &str| api.with_key("GET", &format!("/api/v1/chats/{chat}"), key, None);
    get(&key, &in_p1).expect(200);
    let elsewhere = get(&key, &in_p2);
    elsewhere.expect(404);
    // Exactly like a chat the caller is not in: the same answer as an unknown chat.
    let unknown = get(&key, "64d15f9e2e6c8f4d5a000000");
    assert_eq!(elsewhere.body["errors"], unknown.body["errors"]);
    get(&key, &no_project).expect(404);
    for chat in [&in_p1, &in_p2, &no_project] {
        get(&everywhere, chat).expect(200);
    }
    // Every read mode and every write stays inside the reach.
    for query in [
        "",
        "?before=5",
        "?ids=64d15f9e2e6c8f4d5a000000",
        "?updatedAfter=0",
    ] {
        let path = format!("/api/v1/messages/chat/{in_p2}{query}");
        api.with_key("GET", &path, &key, None).expect(404);
        let path = format!("/api/v1/messages/chat/{in_p1}{query}");
        api.with_key("GET", &path, &key, None).expect(200);
    }
    let send = |chat: &str| {
        api.with_key(
            "POST",
            "/api/v1/messages",
            &key,
            Some(&json!({"chatId": chat, "content": "from the key"})),
        )
    };
    send(&in_p2).expect(404);
    let sent = send(&in_p1);
    sent.expect(201);
    assert_eq!(sent.body["senderRole"], "assistant");
    assert_eq!(sent.body["senderId"], "assistant");
}

#[test]
fn keys_get_the_403s_of_api_md_and_senders_their_roles() {
    let api = app();
    let owner = unique_user("forbid");
    let peer = unique_user("forbid-peer");
    let chat = api.group(&owner, &[&peer]);
    let key = api.service_key(None);
    api.grant(&owner, 10, &unique_user("g")).expect(201);
    // May not transfer credits, mark reads, list "my chats", nor the other user-only routes.
    let transfer = json!({"chatId": chat, "recipientId": peer, "amount": 1});
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/messages/credit-transfer".to_string(),
            Some(transfer),
        ),
        (
            "POST",
            format!("/api/v1/messages/chat/{chat}/read"),
            Some(json!({})),
        ),
        ("GET", "/api/v1/chats".to_string(), None),
        ("GET", "/api/v1/users/me".to_string(), None),
        (
            "POST",
            "/api/v1/chats".to_string(),
            Some(json!({"participantIds": [peer]})),
        ),
    ] {
        let resp = api.with_key(method, &path, &key, body.as_ref());
        resp.expect(403);
    }
    // Nor open live sockets (answered before any upgrade).
    let live = api.raw(
        "GET",
        &format!("/api/v1/chats/{chat}/live"),
        &[("X-API-Key", &key), ("Upgrade", "websocket")],
        None,
    );
    live.expect(403);
    assert_eq!(api.balance(&owner), 10, "nothing moved");
    // Roles: a user sends as user only, a key as assistant or system.
    let send = |role: &str| json!({"chatId": chat, "content": "x", "senderRole": role});
    for role in ["assistant", "system"] {
        api.post("/api/v1/messages", &token(&owner), &send(role))
            .expect(403);
        let by_key = api.with_key("POST", "/api/v1/messages", &key, Some(&send(role)));
        by_key.expect(201);
        assert_eq!(by_key.body["senderRole"], role);
    }
    api.post("/api/v1/messages", &token(&owner), &send("user"))
        .expect(201);
    api.with_key("POST", "/api/v1/messages", &key, Some(&send("user")))
        .expect(403);
    for caller_is_key in [false, true] {
        let robot = if caller_is_key {
            api.with_key("POST", "/api/v1/messages", &key, Some(&send("robot")))
        } else {
            api.post("/api/v1/messages", &token(&owner), &send("robot"))
        };
        robot.expect(400);
        assert!(robot.error_text().contains("senderRole"), "{}", robot.text);
    }
    // A key edits and deletes only its sender's messages.
    let mine = api.with_key("POST", "/api/v1/messages", &key, Some(&send("assistant")));
    let users = api.send(&owner, &chat, "the owner's");
    let path = |m: &Resp| {
        format!(
            "/api/v1/messages/{}",
            m.body["_id"].as_str().unwrap_or_default()
        )
    };
    let edit = json!({"content": "edited by the key"});
    api.with_key("PATCH", &path(&users), &key, Some(&edit))
        .expect(403);
    let edited = api.with_key("PATCH", &path(&mine), &key, Some(&edit));
    edited.expect(200);
    assert_eq!(edited.body["content"], "edited by the key");
    // Round trips of a key's writes: the key check (for an edit, in the batch that finds the message's
    // chat), then the chat room's batch.
    assert_eq!(mine.cost("x-d1-queries"), 2);
    assert_eq!(edited.cost("x-d1-queries"), 2);
    api.with_key("DELETE", &path(&users), &key, None)
        .expect(403);
    let deleted = api.with_key("DELETE", &path(&mine), &key, None);
    deleted.expect(200);
    assert!(deleted.body["deletedAt"].is_string());
}

#[test]
fn a_keys_messages_stay_unread_and_replay_like_any_send() {
    let api = app();
    let owner = unique_user("unread");
    let chat = api.group(&owner, &[&unique_user("unread-peer")]);
    let key = api.service_key(None);
    let body = json!({"chatId": chat, "content": "reply", "clientMessageId": "k-1"});
    let first = api.with_key("POST", "/api/v1/messages", &key, Some(&body));
    first.expect(201);
    assert_eq!(first.body["readBy"], json!([]));
    let again = api.with_key("POST", "/api/v1/messages", &key, Some(&body));
    again.expect(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["_id"], first.body["_id"]);
    let changed = json!({"chatId": chat, "content": "another", "clientMessageId": "k-1"});
    api.with_key("POST", "/api/v1/messages", &key, Some(&changed))
        .expect(409);
    // The role is part of the body: the same message as system is another body.
    let as_system = json!({"chatId": chat, "content": "reply", "clientMessageId": "k-1", "senderRole": "system"});
    api.with_key("POST", "/api/v1/messages", &key, Some(&as_system))
        .expect(409);
    // Unread for every participant, the owner included.
    let seen = api.chat(&owner, &chat);
    assert_eq!(seen.body["unreadCount"], 1);
    assert_eq!(seen.body["lastMessage"]["senderRole"], "assistant");
}

#[test]
fn direct_chats_are_unique_per_pair_within_a_project() {
    let api = app();
    let (a, b) = (unique_user("pa"), unique_user("pb"));
    let (p1, p2) = (project(), project());
    let direct = |who: &str, other: &str, project: Option<&str>| {
        api.create_chat(
            &token(who),
            &json!({"participantIds": [other], "projectId": project}),
        )
    };
    let first = direct(&a, &b, Some(&p1));
    first.expect(201);
    assert_eq!(first.body["projectId"], p1.as_str());
    let again = direct(&b, &a, Some(&p1));
    again.expect(200);
    assert_eq!(again.body["_id"], first.body["_id"]);
    let other_project = direct(&a, &b, Some(&p2));
    other_project.expect(201);
    let no_project = direct(&a, &b, None);
    no_project.expect(201);
    let ids: Vec<&Value> = [&first, &other_project, &no_project]
        .iter()
        .map(|r| &r.body["_id"])
        .collect();
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    direct(&a, &b, None).expect(200);
    // The projectId filter, at the same cost as the list.
    let listed = api.chats(&a, &format!("projectId={p1}"));
    listed.expect(200);
    assert_eq!(listed.body["total"], 1);
    assert_eq!(listed.body["chats"][0]["_id"], first.body["_id"]);
    assert_eq!(listed.cost("x-d1-queries"), 1);
    assert_eq!(api.chats(&a, "").body["total"], 3);
    api.chats(&a, "projectId=not%20a%20project").expect(400);
    api.create_chat(
        &token(&a),
        &json!({"participantIds": [b], "projectId": "a b"}),
    )
    .expect(400);
}
