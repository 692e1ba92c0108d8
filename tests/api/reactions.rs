//! API.md "Reactions, replies, mentions, pins": reactions. Idempotent adds and removes, the counts on
//! every Message and the reader's own keys, the list of who reacted, the caps and bad keys, exact
//! counts under concurrency, and rows that do not grow with the message's reactions.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::*;

/// A path segment percent-encoded the way clients encode emoji (every byte outside the unreserved
/// set).
fn encoded(key: &str) -> String {
    key.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn react(api: &Api, user: &str, message: &str, key: &str) -> Resp {
    let path = format!("/api/v1/messages/{message}/reactions/{}", encoded(key));
    api.raw(
        "PUT",
        &path,
        &[("Authorization", &format!("Bearer {}", token(user)))],
        None,
    )
}

fn unreact(api: &Api, user: &str, message: &str, key: &str) -> Resp {
    let path = format!("/api/v1/messages/{message}/reactions/{}", encoded(key));
    api.raw(
        "DELETE",
        &path,
        &[("Authorization", &format!("Bearer {}", token(user)))],
        None,
    )
}

fn reactions(api: &Api, user: &str, message: &str, query: &str) -> Resp {
    api.get(
        &format!("/api/v1/messages/{message}/reactions?{query}"),
        Some(&token(user)),
    )
}

/// Every reaction of a message, walking the list's cursor `limit` at a time.
fn all_reactions(api: &Api, user: &str, message: &str, limit: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut query = format!("limit={limit}");
    loop {
        let page = reactions(api, user, message, &query);
        page.expect(200);
        let got = page.body["reactions"].as_array().unwrap().clone();
        assert!(got.len() <= limit);
        all.extend(got);
        match page.body["nextCursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page.body["hasMore"], true);
                query = format!("limit={limit}&cursor={cursor}");
            }
            None => {
                assert_eq!(page.body["hasMore"], false);
                return all;
            }
        }
    }
}

fn message_id(resp: &Resp) -> String {
    resp.body["_id"].as_str().expect("message id").to_string()
}

/// The message `id` as `user` sees it in the chat's newest page.
fn listed(api: &Api, user: &str, chat: &str, id: &str) -> Value {
    let page = api.messages(user, chat, "limit=100");
    page.expect(200);
    page.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["_id"] == id)
        .cloned()
        .expect("message in the page")
}

#[test]
fn reactions_are_idempotent_counted_on_every_list_and_listed_oldest_first() {
    let api = app();
    let (a, b) = (unique_user("re-a"), unique_user("re-b"));
    let chat = api.group(&a, &[&b]);
    let sent = api.send(&a, &chat, "react to me");
    sent.expect(201);
    let id = message_id(&sent);
    assert_eq!(sent.body["reactionCounts"], json!({}));
    assert_eq!(sent.body["myReactions"], json!([]));

    let first = react(&api, &b, &id, "👍");
    first.expect(200);
    assert_eq!(
        first.body,
        json!({"messageId": id, "reactionCounts": {"👍": 1}, "myReactions": ["👍"]})
    );
    let stamp = listed(&api, &a, &chat, &id)["updatedAt"].clone();
    assert!(
        stamp.as_str() > sent.body["updatedAt"].as_str(),
        "a reaction moves updatedAt"
    );
    // Again: the same answer, nothing written, updatedAt unmoved.
    let again = react(&api, &b, &id, "👍");
    again.expect(200);
    assert_eq!(again.body, first.body);
    assert_eq!(again.cost("x-d1-rows-written"), 0);
    assert_eq!(listed(&api, &a, &chat, &id)["updatedAt"], stamp);

    react(&api, &a, &id, "👍").expect(200);
    let named = react(&api, &a, &id, "thumbsup");
    named.expect(200);
    assert_eq!(
        named.body["reactionCounts"],
        json!({"👍": 2, "thumbsup": 1})
    );
    let mine = named.body["myReactions"].as_array().unwrap();
    assert_eq!(mine.len(), 2, "{mine:?}");
    // Keys are case-sensitive and may hold any visible character.
    react(&api, &a, &id, "Thumbsup").expect(200);
    react(&api, &a, &id, "a\"b.c/%").expect(200);

    // Every list shows the counts; myReactions is the reader's own.
    let for_a = listed(&api, &a, &chat, &id);
    let for_b = listed(&api, &b, &chat, &id);
    let counts = json!({"👍": 2, "thumbsup": 1, "Thumbsup": 1, "a\"b.c/%": 1});
    assert_eq!(for_a["reactionCounts"], counts);
    assert_eq!(for_b["reactionCounts"], counts);
    assert_eq!(for_b["myReactions"], json!(["👍"]));
    let mut a_keys: Vec<String> = serde_json::from_value(for_a["myReactions"].clone()).unwrap();
    a_keys.sort();
    assert_eq!(a_keys, ["Thumbsup", "a\"b.c/%", "thumbsup", "👍"]);
    let window = api.messages(&a, &chat, &format!("ids={id}"));
    assert_eq!(window.body["messages"][0]["reactionCounts"], counts);
    assert_eq!(
        window.body["messages"][0]["myReactions"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // A sync window from before the reactions sees the message with its new counts.
    let since = chrono::DateTime::parse_from_rfc3339(sent.body["updatedAt"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    let synced = api.messages(&b, &chat, &format!("updatedAfter={since}"));
    assert_eq!(synced.body["messages"][0]["reactionCounts"], counts);
    // The chat list's last message too.
    assert_eq!(
        api.chat(&b, &chat).body["lastMessage"]["reactionCounts"],
        counts
    );

    // Who reacted: oldest first, the same at any page size, one key alone.
    let whole = all_reactions(&api, &a, &id, 100);
    let who: Vec<(String, String)> = whole
        .iter()
        .map(|r| {
            (
                r["userId"].as_str().unwrap().into(),
                r["key"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(who.len(), 5);
    assert_eq!(who[0], (b.clone(), "👍".to_string()));
    assert_eq!(who[1], (a.clone(), "👍".to_string()));
    let times: Vec<&str> = whole
        .iter()
        .map(|r| r["createdAt"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_eq!(all_reactions(&api, &b, &id, 1), whole);
    assert_eq!(all_reactions(&api, &b, &id, 2), whole);
    let thumbs = reactions(&api, &b, &id, &format!("key={}", encoded("👍")));
    thumbs.expect(200);
    assert_eq!(thumbs.body["reactions"].as_array().unwrap().len(), 2);

    // Removing: idempotent, a key at 0 leaves the object.
    let removed = unreact(&api, &b, &id, "👍");
    removed.expect(200);
    assert_eq!(removed.body["myReactions"], json!([]));
    assert_eq!(removed.body["reactionCounts"]["👍"], 1);
    let none = unreact(&api, &b, &id, "👍");
    none.expect(200);
    assert_eq!(none.cost("x-d1-rows-written"), 0);
    unreact(&api, &a, &id, "👍").expect(200);
    let left = unreact(&api, &a, &id, "thumbsup");
    assert_eq!(
        left.body["reactionCounts"],
        json!({"Thumbsup": 1, "a\"b.c/%": 1})
    );
    assert_eq!(all_reactions(&api, &a, &id, 10).len(), 2);
}

#[test]
fn bad_keys_caps_tombstones_and_outsiders_are_refused_and_store_nothing() {
    let api = app();
    let users: Vec<String> = (0..4).map(|i| unique_user(&format!("rb{i}"))).collect();
    let (a, others) = (&users[0], &users[1..]);
    let others: Vec<&str> = others.iter().map(String::as_str).collect();
    let chat = api.group(a, &others);
    let id = message_id(&api.send(a, &chat, "target"));
    let auth = format!("Bearer {}", token(a));
    let put = |raw_key: &str| {
        api.raw(
            "PUT",
            &format!("/api/v1/messages/{id}/reactions/{raw_key}"),
            &[("Authorization", &auth)],
            None,
        )
    };
    for bad in [
        "a%20b",
        "%07",
        "%09x",
        "%C2%A0",
        "%E2%80%A8",
        "%ZZ",
        "%FF",
        &"x".repeat(33),
    ] {
        let resp = put(bad);
        resp.expect(400);
    }
    put(&"x".repeat(32)).expect(200);
    unreact(&api, a, &id, &"x".repeat(32)).expect(200);
    api.raw(
        "PUT",
        "/api/v1/messages/not-an-id/reactions/x",
        &[("Authorization", &auth)],
        None,
    )
    .expect(400);
    react(&api, a, "64d15f9e2e6c8f4d5a000000", "x").expect(404);
    reactions(&api, a, "64d15f9e2e6c8f4d5a000000", "").expect(404);
    reactions(&api, a, &id, "limit=0").expect(400);
    reactions(&api, a, &id, "cursor=garbage").expect(400);
    reactions(&api, a, &id, "key=a%20b").expect(400);

    // Someone outside the chat: 404 for every reaction route, nothing stored.
    let outsider = unique_user("rb-out");
    react(&api, &outsider, &id, "x").expect(404);
    unreact(&api, &outsider, &id, "x").expect(404);
    reactions(&api, &outsider, &id, "").expect(404);

    // 20 keys per user, then 422.
    for i in 0..20 {
        react(&api, a, &id, &format!("k{i:02}")).expect(200);
    }
    let over = react(&api, a, &id, "k20");
    over.expect(422);
    assert!(over.error_text().contains("20"), "{}", over.error_text());
    assert_eq!(over.cost("x-d1-rows-written"), 0);
    // 50 distinct keys per message, then 422 for a new key; an existing key still fits.
    for (u, count) in [(0, 20), (1, 10)] {
        for i in 0..count {
            react(&api, others[u], &id, &format!("u{u}-{i:02}")).expect(200);
        }
    }
    let counts = listed(&api, a, &chat, &id)["reactionCounts"].clone();
    assert_eq!(counts.as_object().unwrap().len(), 50);
    let fifty_first = react(&api, others[2], &id, "brand-new");
    fifty_first.expect(422);
    assert!(
        fifty_first.error_text().contains("50"),
        "{}",
        fifty_first.error_text()
    );
    react(&api, others[2], &id, "k00").expect(200);
    let after = listed(&api, a, &chat, &id)["reactionCounts"].clone();
    assert_eq!(after["k00"], 2);
    assert!(after.get("brand-new").is_none() && after.get("k20").is_none());

    // A tombstone takes no reaction (409) and shows none.
    api.delete(a, &id).expect(200);
    react(&api, others[0], &id, "late").expect(409);
    unreact(&api, a, &id, "k00").expect(409);
    reactions(&api, a, &id, "").expect(409);
    let tomb = listed(&api, a, &chat, &id);
    assert_eq!(tomb["reactionCounts"], json!({}));
    assert_eq!(tomb["myReactions"], json!([]));

    // A removed member can no longer react there.
    let group = api.group(a, &[others[0], others[1]]);
    let m = message_id(&api.send(a, &group, "x"));
    api.raw(
        "DELETE",
        &format!("/api/v1/chats/{group}/members/{}", others[0]),
        &[("Authorization", &auth)],
        None,
    )
    .expect(204);
    react(&api, others[0], &m, "x").expect(404);
    reactions(&api, others[0], &m, "").expect(404);
}

/// 33 members react at once on one message: each adds 👍 and one of three keys, and the even ones
/// take their 👍 back. The counts end equal to the reactions stored, and to what was done.
#[test]
fn concurrent_reactions_leave_counts_equal_to_the_reactions_stored() {
    let api = app();
    let owner = unique_user("rc-owner");
    let users: Vec<String> = (0..32).map(|i| unique_user(&format!("rc{i}"))).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let chat = api.group(&owner, &refs);
    let id = message_id(&api.send(&owner, &chat, "hot"));
    std::thread::scope(|s| {
        for (i, user) in users.iter().enumerate() {
            let (api, id) = (&api, &id);
            s.spawn(move || {
                react(api, user, id, "👍").expect(200);
                react(api, user, id, &format!("k{}", i % 3)).expect(200);
                if i % 2 == 0 {
                    unreact(api, user, id, "👍").expect(200);
                }
            });
        }
    });
    let stored = all_reactions(&api, &owner, &id, 100);
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    for r in &stored {
        *tally
            .entry(r["key"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let counts: BTreeMap<String, u64> =
        serde_json::from_value(listed(&api, &owner, &chat, &id)["reactionCounts"].clone()).unwrap();
    assert_eq!(counts, tally);
    let expected: BTreeMap<String, u64> = [("👍", 16), ("k0", 11), ("k1", 11), ("k2", 10)]
        .map(|(k, n)| (k.to_string(), n))
        .into();
    assert_eq!(counts, expected);
}

/// A reaction costs the same on a message with none and on one with 60 others' reactions; the message
/// list's bound holds with the reader's own reactions on every message of the page.
#[test]
fn a_reaction_costs_rows_that_do_not_grow_with_the_messages_reactions() {
    let api = app();
    let owner = unique_user("rr-owner");
    let users: Vec<String> = (0..30).map(|i| unique_user(&format!("rr{i}"))).collect();
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let chat = api.group(&owner, &refs);
    let quiet = message_id(&api.send(&owner, &chat, "quiet"));
    let busy = message_id(&api.send(&owner, &chat, "busy"));
    for (i, user) in users.iter().enumerate() {
        react(&api, user, &busy, "👍").expect(200);
        react(&api, user, &busy, &format!("k{i}")).expect(200);
    }
    let cost = |resp: &Resp| (resp.cost("x-d1-rows-read"), resp.cost("x-d1-rows-written"));
    let on_quiet = react(&api, &owner, &quiet, "👍");
    let on_busy = react(&api, &owner, &busy, "👍");
    println!(
        "a reaction: rows (read, written) on a quiet message {:?}, on one with 60 reactions {:?}",
        cost(&on_quiet),
        cost(&on_busy)
    );
    assert_eq!(
        on_quiet.cost("x-d1-rows-written"),
        on_busy.cost("x-d1-rows-written")
    );
    assert!(on_busy.cost("x-d1-rows-read") <= on_quiet.cost("x-d1-rows-read") + 5);
    let off_quiet = unreact(&api, &owner, &quiet, "👍");
    let off_busy = unreact(&api, &owner, &busy, "👍");
    println!("a removal: {:?} vs {:?}", cost(&off_quiet), cost(&off_busy));
    assert_eq!(
        off_quiet.cost("x-d1-rows-written"),
        off_busy.cost("x-d1-rows-written")
    );
    assert!(off_busy.cost("x-d1-rows-read") <= off_quiet.cost("x-d1-rows-read") + 5);

    // The message list: 20 messages, each with the reader's reaction and others'.
    for i in 0..20 {
        let m = message_id(&api.send(&users[0], &chat, &format!("m{i}")));
        react(&api, &owner, &m, "👀").expect(200);
        react(&api, &users[1], &m, "👀").expect(200);
    }
    // API.md's bound: limit + participants + 5, grown only by the reader's own reactions on the page
    // (20): the list reads them in one range, however many of the page's messages have reactions.
    let participants = 31;
    let bound = 20 + participants + 5 + 20;
    let page = api.messages(&owner, &chat, "limit=20");
    page.expect(200);
    let rows = page.cost("x-d1-rows-read");
    println!("a 20-message page with reactions: {rows} rows read");
    assert!(rows <= bound, "{rows}");
    assert!(page.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["myReactions"] == json!(["👀"]) && m["reactionCounts"]["👀"] == 2));
    let window = api.messages(&owner, &chat, &format!("after={quiet}&limit=20"));
    window.expect(200);
    let rows = window.cost("x-d1-rows-read");
    println!("a 20-message cursor window with reactions: {rows} rows read");
    assert!(rows <= bound, "{rows}");
    assert!(window.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .all(|m| m["myReactions"] == json!(["👀"])));
    // Backwards from an id, from a cursor, and around: the same bound, the same keys.
    let newest = page.body["messages"][19]["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let back = api.messages(&owner, &chat, &format!("before={newest}&limit=19"));
    back.expect(200);
    let cursor = back.body["nextCursor"].as_str().unwrap().to_string();
    let further = api.messages(&owner, &chat, &format!("cursor={cursor}&limit=19"));
    let middle = page.body["messages"][10]["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let around = api.messages(&owner, &chat, &format!("around={middle}&limit=20"));
    for (what, resp) in [("before", &back), ("cursor", &further), ("around", &around)] {
        resp.expect(200);
        let rows = resp.cost("x-d1-rows-read");
        println!("{what} with reactions: {rows} rows read");
        assert!(rows <= bound, "{what}: {rows}");
        let mine: Vec<&Value> = resp.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["myReactions"] == json!(["👀"]))
            .collect();
        // (The cursor's page reaches back past the 20 messages the reader reacted to.)
        if what != "cursor" {
            assert!(mine.len() >= 10, "{what}: {}", resp.text);
        }
    }
}

#[test]
fn a_service_key_reacts_as_its_sender() {
    let api = app();
    let (a, b) = (unique_user("rk-a"), unique_user("rk-b"));
    let chat = api.group(&a, &[&b]);
    let id = message_id(&api.send(&a, &chat, "for the bot"));
    let created = api.create_key(&json!({"name": unique_user("rk"), "senderId": "helper-bot"}));
    created.expect(201);
    let key = created.body["key"].as_str().unwrap().to_string();
    let path = format!("/api/v1/messages/{id}/reactions/{}", encoded("✅"));
    let resp = api.with_key("PUT", &path, &key, None);
    resp.expect(200);
    assert_eq!(resp.body["myReactions"], json!(["✅"]));
    let list = api.with_key(
        "GET",
        &format!("/api/v1/messages/{id}/reactions"),
        &key,
        None,
    );
    list.expect(200);
    assert_eq!(list.body["reactions"][0]["userId"], "helper-bot");
    // The key's own view of the list shows its senderId's reactions as its own.
    let page = api.with_key("GET", &format!("/api/v1/messages/chat/{chat}"), &key, None);
    assert_eq!(page.body["messages"][0]["myReactions"], json!(["✅"]));
    assert_eq!(listed(&api, &a, &chat, &id)["myReactions"], json!([]));
    // A key of another project does not reach the chat.
    let elsewhere = api.service_key(Some("proj_other"));
    api.with_key("PUT", &path, &elsewhere, None).expect(404);
    api.with_key("DELETE", &path, &key, None).expect(200);
}
