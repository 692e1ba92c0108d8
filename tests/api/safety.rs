//! API.md "Safety and privacy": blocks (and every write they refuse, and none they do not), reports
//! and the admin's queue, moderator deletes (`deletedBy`), and the streamed export.

use serde_json::{json, Value};

use crate::helpers::*;

fn block(api: &Api, user: &str, other: &str) -> Resp {
    api.as_user(
        "PUT",
        &format!("/api/v1/users/me/blocks/{other}"),
        user,
        None,
    )
}

fn unblock(api: &Api, user: &str, other: &str) -> Resp {
    api.as_user(
        "DELETE",
        &format!("/api/v1/users/me/blocks/{other}"),
        user,
        None,
    )
}

fn blocked_ids(api: &Api, user: &str) -> Value {
    let list = api.get("/api/v1/users/me/blocks", Some(&token(user)));
    list.expect(200);
    list.body["userIds"].clone()
}

fn admin(api: &Api, method: &str, path: &str, body: Option<&Value>) -> Resp {
    api.with_key(method, path, ADMIN_API_KEY, body)
}

fn id_of(resp: &Resp) -> String {
    resp.body["_id"].as_str().expect("_id").to_string()
}

fn direct(api: &Api, a: &str, b: &str) -> Resp {
    api.create_chat(&token(a), &json!({"participantIds": [b]}))
}

#[test]
fn blocks_are_idempotent_listed_and_checked() {
    let api = app();
    let (a, b, c) = (
        unique_user("blk-a"),
        unique_user("blk-b"),
        unique_user("blk-c"),
    );
    block(&api, &a, &b).expect(204);
    block(&api, &a, &b).expect(204);
    block(&api, &a, &c).expect(204);
    let mut expected = vec![b.clone(), c.clone()];
    expected.sort();
    assert_eq!(blocked_ids(&api, &a), json!(expected));
    assert_eq!(blocked_ids(&api, &b), json!([]));
    unblock(&api, &a, &c).expect(204);
    unblock(&api, &a, &c).expect(204);
    assert_eq!(blocked_ids(&api, &a), json!([b]));

    block(&api, &a, &a).expect(422);
    unblock(&api, &a, &a).expect(204);
    block(&api, &a, "bad%20id").expect(400);
    let anonymous = api.raw("PUT", &format!("/api/v1/users/me/blocks/{b}"), &[], None);
    anonymous.expect(401);
    let key = api.service_key(None);
    api.with_key("PUT", &format!("/api/v1/users/me/blocks/{b}"), &key, None)
        .expect(403);
    api.with_key("GET", "/api/v1/users/me/export", &key, None)
        .expect(403);
}

#[test]
fn a_block_either_way_refuses_direct_chats_sends_transfers_and_additions_but_not_groups() {
    let api = app();
    let (a, b, c) = (
        unique_user("blw-a"),
        unique_user("blw-b"),
        unique_user("blw-c"),
    );
    let dm = direct(&api, &a, &b);
    dm.expect(201);
    let dm = id_of(&dm);
    let first = id_of(api.send(&a, &dm, "before").expect(201));
    // A reaction b has already stays (nothing changes); removing one's own is always allowed.
    let thumbs = format!("/api/v1/messages/{first}/reactions/%F0%9F%91%8D");
    api.as_user("PUT", &thumbs, &b, None).expect(200);
    let group = api.group(&a, &[&b]);
    api.grant(&a, 100, &unique_user("grant")).expect(201);

    // b blocks a: both sides are refused, whoever blocked.
    block(&api, &b, &a).expect(204);
    for (from, to) in [(&a, &b), (&b, &a)] {
        let sent = api.send(from, &dm, "after");
        sent.expect(403);
        assert!(sent.error_text().contains("blocked"), "{}", sent.text);
        direct(&api, from, to).expect(403);
        // A reply, a mention: still the block (not another error).
        let reply = api.as_user(
            "POST",
            "/api/v1/messages",
            from,
            Some(&json!({"chatId": dm, "content": "x", "mentions": [to]})),
        );
        reply.expect(403);
    }
    // Nothing new in the direct chat from either: edits, reactions, pins (403); removals still work.
    let edit = api.as_user(
        "PATCH",
        &format!("/api/v1/messages/{first}"),
        &a,
        Some(&json!({"content": "changed"})),
    );
    edit.expect(403);
    let heart = format!("/api/v1/messages/{first}/reactions/%E2%9D%A4");
    api.as_user("PUT", &heart, &a, None).expect(403);
    api.as_user("PUT", &heart, &b, None).expect(403);
    api.as_user("PUT", &thumbs, &b, None).expect(200);
    api.as_user("PUT", &format!("/api/v1/messages/{first}/pin"), &b, None)
        .expect(403);
    let unreacted = api.as_user("DELETE", &thumbs, &b, None);
    unreacted.expect(200);
    assert_eq!(unreacted.body["reactionCounts"], json!({}));
    let refused = api.transfer(&a, &group, &b, 5, None);
    refused.expect(403);
    assert_eq!(api.balance(&a), 100);
    // Nothing stored in the direct chat: still one message.
    let list = api.messages(&a, &dm, "limit=10");
    list.expect(200);
    assert_eq!(seqs(&list), [1]);
    // A third user's group: a cannot add b, b cannot add a; c can add either.
    let g2 = api.group(&a, &[&c]);
    let add = |actor: &str, chat: &str, user: &str| {
        api.as_user(
            "POST",
            &format!("/api/v1/chats/{chat}/members"),
            actor,
            Some(&json!({"userIds": [user]})),
        )
    };
    add(&a, &g2, &b).expect(403);
    // The group they already share is unaffected.
    api.send(&a, &group, "group still works").expect(201);
    api.send(&b, &group, "both ways").expect(201);
    let g3 = api.group(&c, &[&b]);
    add(&c, &g3, &a).expect(200);

    // Outsiders learn nothing: a stranger's send into the direct chat is a 404.
    block(&api, &c, &a).expect(204);
    api.send(&c, &dm, "hi").expect(404);
    unblock(&api, &c, &a).expect(204);

    // Unblocked: everything works again, the direct chat reopens.
    unblock(&api, &b, &a).expect(204);
    api.as_user("PUT", &heart, &a, None).expect(200);
    api.as_user("PUT", &format!("/api/v1/messages/{first}/pin"), &b, None)
        .expect(200);
    api.as_user(
        "PATCH",
        &format!("/api/v1/messages/{first}"),
        &a,
        Some(&json!({"content": "changed"})),
    )
    .expect(200);
    api.send(&b, &dm, "again").expect(201);
    direct(&api, &a, &b).expect(200);
    api.transfer(&a, &group, &b, 5, None).expect(201);
    add(&a, &g2, &b).expect(200);
}

#[test]
fn reports_are_one_per_user_and_message_and_the_admin_works_the_queue_oldest_first() {
    let api = app();
    let (a, b, outsider) = (
        unique_user("rep-a"),
        unique_user("rep-b"),
        unique_user("rep-o"),
    );
    let chat = api.group(&a, &[&b]);
    let m1 = id_of(api.send(&a, &chat, "spam spam").expect(201));
    let m2 = id_of(api.send(&a, &chat, "mean words").expect(201));
    let path = |m: &str| format!("/api/v1/messages/{m}/reports");

    let first = api.as_user(
        "POST",
        &path(&m1),
        &b,
        Some(&json!({"reason": "spam", "note": "buy now links"})),
    );
    first.expect(201);
    assert_eq!(first.body["status"], "open");
    assert_eq!(first.body["reporterId"], b.as_str());
    assert_eq!(first.body["messageId"], m1.as_str());
    assert_eq!(first.body["chatId"], chat.as_str());
    let again = api.as_user("POST", &path(&m1), &b, Some(&json!({"reason": "abuse"})));
    again.expect(200);
    assert_eq!(
        (&again.body["_id"], &again.body["reason"]),
        (&first.body["_id"], &json!("spam"))
    );
    let second = api.as_user("POST", &path(&m2), &b, Some(&json!({"reason": "abuse"})));
    second.expect(201);
    assert!(second.body["note"].is_null());

    api.as_user(
        "POST",
        &path(&m1),
        &outsider,
        Some(&json!({"reason": "spam"})),
    )
    .expect(404);
    for bad in [
        json!({}),
        json!({"reason": "rude"}),
        json!({"reason": "other", "note": "x".repeat(501)}),
    ] {
        api.as_user("POST", &path(&m1), &b, Some(&bad)).expect(400);
    }
    api.as_user(
        "POST",
        &path("000000000000000000000000"),
        &b,
        Some(&json!({"reason": "spam"})),
    )
    .expect(404);

    // The queue: oldest first, a page at a time, each with its message.
    let mine = |body: &Value| -> Vec<Value> {
        body["reports"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["reporterId"] == b.as_str())
            .cloned()
            .collect()
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("/api/v1/admin/reports?limit=1&cursor={c}"),
            None => "/api/v1/admin/reports?limit=1".to_string(),
        };
        let page = admin(&api, "GET", &query, None);
        page.expect(200);
        assert!(page.body["reports"].as_array().unwrap().len() <= 1);
        seen.extend(mine(&page.body));
        if page.body["hasMore"] != true {
            assert!(page.body["nextCursor"].is_null());
            break;
        }
        cursor = Some(page.body["nextCursor"].as_str().unwrap().to_string());
    }
    let ids: Vec<&Value> = seen.iter().map(|r| &r["_id"]).collect();
    assert_eq!(ids, [&first.body["_id"], &second.body["_id"]]);
    assert_eq!(seen[0]["message"]["content"], "spam spam");
    assert_eq!(seen[0]["message"]["_id"], m1.as_str());

    let report_id = first.body["_id"].as_str().unwrap();
    let dismissed = admin(
        &api,
        "PATCH",
        &format!("/api/v1/admin/reports/{report_id}"),
        Some(&json!({"status": "dismissed"})),
    );
    dismissed.expect(200);
    assert_eq!(dismissed.body["status"], "dismissed");
    let open = admin(&api, "GET", "/api/v1/admin/reports?limit=100", None);
    assert!(mine(&open.body).iter().all(|r| r["_id"] != report_id));
    let gone = admin(
        &api,
        "GET",
        "/api/v1/admin/reports?status=dismissed&limit=100",
        None,
    );
    assert!(gone.body["reports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["_id"] == report_id));

    admin(
        &api,
        "PATCH",
        "/api/v1/admin/reports/000000000000000000000000",
        Some(&json!({"status": "actioned"})),
    )
    .expect(404);
    admin(
        &api,
        "PATCH",
        &format!("/api/v1/admin/reports/{report_id}"),
        Some(&json!({"status": "closed"})),
    )
    .expect(400);
    admin(&api, "GET", "/api/v1/admin/reports?status=closed", None).expect(400);
    admin(&api, "GET", "/api/v1/admin/reports?cursor=zz", None).expect(400);
    api.raw(
        "GET",
        "/api/v1/admin/reports",
        &[("X-API-Key", "wrong-admin-key-000000")],
        None,
    )
    .expect(401);
    let key = api.service_key(None);
    api.with_key("GET", "/api/v1/admin/reports", &key, None)
        .expect(401);
}

#[test]
fn a_moderator_deletes_any_message_and_every_message_says_who_deleted_it() {
    let api = app();
    let (a, b) = (unique_user("mod-a"), unique_user("mod-b"));
    let chat = api.group(&a, &[&b]);
    let live = api.send(&a, &chat, "fine");
    live.expect(201);
    assert!(live.body["deletedBy"].is_null());
    let own = id_of(api.send(&a, &chat, "mine to delete").expect(201));
    let bad = id_of(api.send(&b, &chat, "against the rules").expect(201));
    let deleted = api.delete(&a, &own);
    deleted.expect(200);
    assert_eq!(deleted.body["deletedBy"], "sender");

    let taken = admin(
        &api,
        "DELETE",
        &format!("/api/v1/admin/messages/{bad}"),
        None,
    );
    taken.expect(200);
    assert_eq!(taken.body["deletedBy"], "moderator");
    assert!(taken.body["content"].is_null() && taken.body["deletedAt"].is_string());
    assert_eq!(taken.body["senderId"], b.as_str());
    // Again: the tombstone as it is, nothing written.
    let again = admin(
        &api,
        "DELETE",
        &format!("/api/v1/admin/messages/{bad}"),
        None,
    );
    again.expect(200);
    assert_eq!(again.body["deletedAt"], taken.body["deletedAt"]);
    assert_eq!(again.cost("x-d1-rows-written"), 0);
    // Its sender cannot undo or edit it.
    api.edit(&b, &bad, "back").expect(409);
    // The list shows both tombstones with their author of the delete.
    let page = api.messages(&b, &chat, "limit=10");
    let by: Vec<&Value> = page.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["deletedBy"])
        .collect();
    assert_eq!(by, [&Value::Null, &json!("sender"), &json!("moderator")]);

    // A credit transfer: the tombstone keeps its amount and parties; the books do not move.
    api.grant(&a, 50, &unique_user("grant")).expect(201);
    let sent = api.transfer(&a, &chat, &b, 20, None);
    sent.expect(201);
    let transfer = id_of(&sent);
    let taken = admin(
        &api,
        "DELETE",
        &format!("/api/v1/admin/messages/{transfer}"),
        None,
    );
    taken.expect(200);
    assert_eq!(taken.body["creditTransfer"]["amount"], 20);
    assert_eq!((api.balance(&a), api.balance(&b)), (30, 20));

    admin(
        &api,
        "DELETE",
        "/api/v1/admin/messages/000000000000000000000000",
        None,
    )
    .expect(404);
    admin(&api, "DELETE", "/api/v1/admin/messages/nope", None).expect(400);
    api.as_user("DELETE", &format!("/api/v1/admin/messages/{bad}"), &a, None)
        .expect(401);
}

#[test]
fn the_export_streams_the_callers_data_as_ndjson_and_nothing_of_anyone_else() {
    let api = app();
    let (a, b) = (unique_user("exp-a"), unique_user("exp-b"));
    let chat = api.group(&a, &[&b]);
    let dm = id_of(direct(&api, &a, &b).expect(201));
    for i in 0..230 {
        let target = if i % 2 == 0 { &chat } else { &dm };
        api.send(&a, target, &format!("mine {i}")).expect(201);
    }
    api.send(&b, &chat, "secret of b").expect(201);
    let gone = id_of(api.send(&a, &chat, "deleted later").expect(201));
    api.delete(&a, &gone).expect(200);
    api.grant(&a, 10, &unique_user("grant")).expect(201);
    api.transfer(&a, &chat, &b, 3, None).expect(201);
    let stranger = unique_user("exp-s");
    block(&api, &a, &stranger).expect(204);

    let export = api.get("/api/v1/users/me/export", Some(&token(&a)));
    export.expect(200);
    assert!(export
        .header("content-type")
        .unwrap()
        .starts_with("application/x-ndjson"));
    assert!(export
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));
    let lines: Vec<Value> = export
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds[0], "profile");
    assert_eq!(lines[0]["data"]["_id"], a.as_str());
    // In order: profile, memberships, messages, ledger, blocks.
    let order = ["profile", "membership", "message", "ledger", "block"];
    let ranks: Vec<usize> = kinds
        .iter()
        .map(|k| order.iter().position(|o| o == k).unwrap())
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{kinds:?}");
    let count = |kind: &str| kinds.iter().filter(|k| **k == kind).count();
    assert_eq!(count("membership"), 2);
    // 230 texts (two pages of 200), the tombstone, the transfer: all a's, none of b's.
    assert_eq!(count("message"), 232);
    assert!(lines
        .iter()
        .filter(|l| l["kind"] == "message")
        .all(|l| l["data"]["senderId"] == a.as_str()));
    assert!(!export.text.contains("secret of b"));
    assert!(!export.text.contains("deleted later"));
    assert_eq!(count("ledger"), 2);
    assert_eq!(count("block"), 1);
    assert_eq!(lines.last().unwrap()["data"]["userId"], stranger.as_str());

    // A user with nothing yet: the profile from the token, nothing else.
    let fresh = api.get(
        "/api/v1/users/me/export",
        Some(&token(&unique_user("exp-new"))),
    );
    fresh.expect(200);
    assert_eq!(fresh.text.lines().count(), 1);
    api.raw("GET", "/api/v1/users/me/export", &[], None)
        .expect(401);
}

/// Each new endpoint's D1 round trips and rows: one round trip for a block, the
/// block list, a report, a report's change, the export's answer (its pages stream afterwards), an
/// erasure's record; two for a moderator's delete (the message's chat, then its object); three for the
/// erasure of a user with nothing (the record and global parts, the next chat, done). The queue reads
/// at most two rows per report of its page.
#[test]
fn the_new_endpoints_cost_what_their_design_says() {
    let api = app();
    let (a, b) = (unique_user("cost-a"), unique_user("cost-b"));
    let chat = api.group(&a, &[&b]);
    let m = id_of(api.send(&b, &chat, "x").expect(201));
    // Round trips and rows written exactly; rows read at most this many: a range read also counts
    // the entry just past its end when another user's entry follows it, so the bound is the rows it
    // needs plus one.
    let holds = |r: &Resp, (queries, read, written): (u64, u64, u64)| {
        let got = (
            r.cost("x-d1-queries"),
            r.cost("x-d1-rows-read"),
            r.cost("x-d1-rows-written"),
        );
        assert!(
            got.0 == queries && got.1 <= read && got.2 == written,
            "{} {}: {got:?}, expected ({queries}, at most {read}, {written})",
            r.status,
            r.text
        );
    };
    holds(block(&api, &a, &b).expect(204), (1, 3, 2));
    holds(block(&api, &a, &b).expect(204), (1, 4, 0));
    let list = api.get("/api/v1/users/me/blocks", Some(&token(&a)));
    holds(list.expect(200), (1, 2, 0));
    holds(unblock(&api, &a, &b).expect(204), (1, 2, 1));
    let path = format!("/api/v1/messages/{m}/reports");
    let report = api.as_user("POST", &path, &a, Some(&json!({"reason": "spam"})));
    holds(report.expect(201), (1, 4, 3));
    let again = api.as_user("POST", &path, &a, Some(&json!({"reason": "spam"})));
    holds(again.expect(200), (1, 4, 0));
    let queue = admin(&api, "GET", "/api/v1/admin/reports?limit=1", None);
    holds(queue.expect(200), (1, 4, 0));
    let id = report.body["_id"].as_str().unwrap();
    let change = json!({"status": "actioned"});
    let patched = admin(
        &api,
        "PATCH",
        &format!("/api/v1/admin/reports/{id}"),
        Some(&change),
    );
    holds(patched.expect(200), (1, 3, 2));
    let taken = admin(&api, "DELETE", &format!("/api/v1/admin/messages/{m}"), None);
    holds(taken.expect(200), (2, 12, 3));
    let export = api.get("/api/v1/users/me/export", Some(&token(&a)));
    holds(export.expect(200), (1, 2, 0));
    let nobody = unique_user("cost-nobody");
    let erased = admin(
        &api,
        "DELETE",
        &format!("/api/v1/admin/users/{nobody}"),
        None,
    );
    holds(erased.expect(202), (3, 9, 4));
    let erasure = erased.body["erasureId"].as_str().unwrap();
    let read = admin(
        &api,
        "GET",
        &format!("/api/v1/admin/erasures/{erasure}"),
        None,
    );
    holds(read.expect(200), (1, 2, 0));
}
