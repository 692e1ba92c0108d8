//! API.md "Credit transfer": exactly once, never negative, never half done.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::helpers::*;

/// Deterministic pseudo-random numbers for the concurrency tests (xorshift64).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// The first answer to one transfer request of the concurrency test.
struct Outcome {
    chat: String,
    status: u16,
    body: Value,
}

fn message_ids(lines: &[Value], kind: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["kind"] == kind)
        .map(|l| l["messageId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn bad_transfers_get_their_documented_status_and_change_nothing() {
    let api = app();
    let (a, b, outsider) = (
        unique_user("cv-a"),
        unique_user("cv-b"),
        unique_user("cv-out"),
    );
    let chat = api.group(&a, &[&b]);
    api.grant(&a, 100, &unique_user("grant")).expect(201);
    for amount in [
        json!(0),
        json!(-1),
        json!(1.5),
        json!("10"),
        json!(1u64 << 60),
        json!(null),
    ] {
        let resp = api.post(
            "/api/v1/messages/credit-transfer",
            &token(&a),
            &json!({"chatId": chat, "recipientId": b, "amount": amount}),
        );
        resp.expect(400);
        assert!(
            resp.error_text().contains("amount"),
            "{amount}: {}",
            resp.text
        );
    }
    api.post(
        "/api/v1/messages/credit-transfer",
        &token(&a),
        &json!({"chatId": chat, "recipientId": b}),
    )
    .expect(400);
    api.post(
        "/api/v1/messages/credit-transfer",
        &token(&a),
        &json!({"chatId": chat, "recipientId": b, "amount": 1, "note": "n".repeat(501)}),
    )
    .expect(400);
    api.post(
        "/api/v1/messages/credit-transfer",
        &token(&a),
        &json!({"chatId": "nope", "recipientId": b, "amount": 1}),
    )
    .expect(400);
    let own = api.transfer(&a, &chat, &a, 1, None);
    own.expect(422);
    api.transfer(&a, &chat, &outsider, 1, None).expect(422);
    api.transfer(&outsider, &chat, &a, 1, None).expect(404);
    api.transfer(&a, "64d15f9e2e6c8f4d5a000000", &b, 1, None)
        .expect(404);
    // Admin grants need the admin key.
    let body = json!({"userId": a, "amount": 5}).to_string();
    for headers in [
        vec![
            ("X-API-Key", "wrong-key"),
            ("Content-Type", "application/json"),
        ],
        vec![("Content-Type", "application/json")],
    ] {
        api.raw(
            "POST",
            "/api/v1/admin/credits",
            &headers,
            Some(body.as_bytes()),
        )
        .expect(401);
    }
    let with_jwt = format!("Bearer {}", token(&a));
    api.raw(
        "POST",
        "/api/v1/admin/credits",
        &[
            ("Authorization", &with_jwt),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
    )
    .expect(401);
    assert_eq!((api.balance(&a), api.balance(&b)), (100, 0));
    assert_eq!(
        api.messages(&a, &chat, "").body["total"],
        0,
        "no message, no sequence number used"
    );
    assert_eq!(api.ledger(&a).len(), 1, "only the grant");
}

#[test]
fn insufficient_credits_is_422_and_writes_nothing() {
    let api = app();
    let (a, b) = (unique_user("ic-a"), unique_user("ic-b"));
    let chat = api.group(&a, &[&b]);
    api.grant(&a, 5, &unique_user("grant")).expect(201);
    let refused = api.transfer(&a, &chat, &b, 6, Some("too-much"));
    refused.expect(422);
    assert_eq!(refused.error_text(), "Insufficient credits");
    assert_eq!((api.balance(&a), api.balance(&b)), (5, 0));
    assert_eq!(api.messages(&a, &chat, "").body["total"], 0);
    assert_eq!(api.ledger(&a).len(), 1);
    assert!(api.ledger(&b).is_empty());
    // The refused key was not consumed, and no sequence number was used.
    let ok = api.transfer(&a, &chat, &b, 5, Some("too-much"));
    ok.expect(201);
    assert_eq!(ok.body["sequenceNumber"], 1);
    assert_eq!((api.balance(&a), api.balance(&b)), (0, 5));
}

#[test]
fn a_transfer_moves_credits_writes_message_and_ledger_in_one_round_trip() {
    let api = app();
    let (a, b) = (unique_user("tx-a"), unique_user("tx-b"));
    let chat = api.group(&a, &[&b]);
    let granted = api.grant(&a, 100, &unique_user("grant"));
    granted.expect(201);
    assert_eq!(granted.body, json!({"userId": a, "credits": 100}));
    let auth = format!("Bearer {}", token(&a));
    let body = json!({"chatId": chat, "recipientId": b, "amount": 30, "note": "lunch"}).to_string();
    let resp = api.raw(
        "POST",
        "/api/v1/messages/credit-transfer",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
            ("Idempotency-Key", "lunch-1"),
        ],
        Some(body.as_bytes()),
    );
    resp.expect(201);
    assert_eq!(resp.cost("x-d1-queries"), 1);
    let m = &resp.body;
    assert_eq!(m["type"], "credit_transfer");
    assert_eq!(m["content"], "lunch");
    assert_eq!(
        m["creditTransfer"],
        json!({"amount": 30, "recipientId": b, "senderId": a})
    );
    assert_eq!(m["sequenceNumber"], 1);
    assert_eq!((api.balance(&a), api.balance(&b)), (70, 30));
    let out = api.ledger(&a);
    assert_eq!(out[0]["kind"], "transfer_out");
    assert_eq!(out[0]["amount"], -30);
    assert_eq!(out[0]["balanceAfter"], 70);
    assert_eq!(out[0]["messageId"], m["_id"]);
    assert_eq!(out[0]["chatId"], chat.as_str());
    assert_eq!(out[1]["kind"], "grant");
    let inn = api.ledger(&b);
    assert_eq!(
        (
            inn[0]["kind"].as_str(),
            inn[0]["amount"].as_i64(),
            inn[0]["counterpartyId"].as_str()
        ),
        (Some("transfer_in"), Some(30), Some(a.as_str()))
    );
    // The transfer is in the chat like any message, and the sender has read it.
    let chat_view = api.chat(&a, &chat);
    assert_eq!(chat_view.body["lastMessage"]["_id"], m["_id"]);
    assert_eq!(chat_view.body["unreadCount"], 0);
    assert_eq!(api.chat(&b, &chat).body["unreadCount"], 1);
}

#[test]
fn a_retried_key_replays_and_a_reused_key_with_another_body_is_409() {
    let api = app();
    let (a, b) = (unique_user("rk-a"), unique_user("rk-b"));
    let chat = api.group(&a, &[&b]);
    let other_chat = api.group(&a, &[&b]);
    api.grant(&a, 100, &unique_user("grant")).expect(201);
    let first = api.transfer(&a, &chat, &b, 10, Some("k1"));
    first.expect(201);
    let again = api.transfer(&a, &chat, &b, 10, Some("k1"));
    again.expect(201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["_id"], first.body["_id"]);
    assert_eq!(again.body["sequenceNumber"], first.body["sequenceNumber"]);
    api.transfer(&a, &chat, &b, 11, Some("k1")).expect(409);
    // The key is the sender's across chats.
    api.transfer(&a, &other_chat, &b, 10, Some("k1"))
        .expect(409);
    // Another sender may use the same key.
    api.grant(&b, 5, &unique_user("grant")).expect(201);
    api.transfer(&b, &chat, &a, 1, Some("k1")).expect(201);
    assert_eq!((api.balance(&a), api.balance(&b)), (91, 14));
    assert_eq!(api.messages(&a, &chat, "").body["total"], 2);
    // Grants are idempotent per key too.
    let key = unique_user("grant");
    api.grant(&b, 7, &key).expect(201);
    let replay = api.grant(&b, 7, &key);
    replay.expect(201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    api.grant(&b, 8, &key).expect(409);
    assert_eq!(api.balance(&b), 21);
}

#[test]
fn double_spend_across_four_chats_lets_exactly_ten_of_twenty_through() {
    let api = app();
    let spender = unique_user("ds");
    let chats: Vec<(String, String)> = (0..4)
        .map(|_| {
            let friend = unique_user("ds-f");
            (api.group(&spender, &[&friend]), friend)
        })
        .collect();
    api.grant(&spender, 10, &unique_user("grant")).expect(201);
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let (api, spender, (chat, friend)) =
                (api.clone(), spender.clone(), chats[i % 4].clone());
            std::thread::spawn(move || {
                api.transfer(&spender, &chat, &friend, 1, Some(&format!("spend-{i}")))
                    .status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        10,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 422),
        "{statuses:?}"
    );
    assert_eq!(api.balance(&spender), 0);
    let received: i64 = chats.iter().map(|(_, friend)| api.balance(friend)).sum();
    assert_eq!(received, 10);
}

/// Ten users, five chats with overlapping members, 20 clients making 300 random transfers, some of them
/// retries of an earlier key. Afterwards the books must be exact.
#[test]
fn random_concurrent_transfers_keep_the_books_exact() {
    let api = app();
    let users: Vec<String> = (0..10).map(|_| unique_user("bk")).collect();
    // Chat k holds users k*2 .. k*2+3 (mod 10): neighbouring chats share two members.
    let chats: Vec<(String, Vec<String>)> = (0..5)
        .map(|k| {
            let members: Vec<String> = (0..4).map(|j| users[(k * 2 + j) % 10].clone()).collect();
            let others: Vec<&str> = members[1..].iter().map(String::as_str).collect();
            (api.group(&members[0], &others), members)
        })
        .collect();
    for u in &users {
        api.grant(u, 200, &unique_user("grant")).expect(201);
    }
    let granted: i64 = 200 * users.len() as i64;
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..20u64)
        .map(|client| {
            let (api, chats, outcomes) = (api.clone(), chats.clone(), outcomes.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((client + 1) * 0x1000_0001));
                let mut sent: Vec<(String, String, String, String, i64, u16, Value)> = Vec::new();
                for i in 0..15 {
                    if !sent.is_empty() && rng.below(5) == 0 {
                        // A retry of an earlier request with its key. After a 201 it must replay the
                        // original and change nothing. A 422 consumed nothing, so its retry is a new
                        // attempt that may succeed now that the sender may have received credits.
                        let pick = rng.below(sent.len() as u64) as usize;
                        let (key, sender, chat, recipient, amount, status, body) =
                            sent[pick].clone();
                        let retry = api.transfer(&sender, &chat, &recipient, amount, Some(&key));
                        if status == 201 {
                            assert_eq!(retry.status, 201, "retry of {key}: {}", retry.text);
                            assert_eq!(retry.header("idempotent-replayed"), Some("true"));
                            assert_eq!(retry.body["_id"], body["_id"]);
                        } else {
                            assert!(
                                retry.status == 201 || retry.status == 422,
                                "retry of {key}: {}",
                                retry.text
                            );
                            assert!(retry.header("idempotent-replayed").is_none());
                            if retry.status == 201 {
                                outcomes.lock().unwrap().push(Outcome {
                                    chat: chat.clone(),
                                    status: 201,
                                    body: retry.body.clone(),
                                });
                                sent[pick].5 = 201;
                                sent[pick].6 = retry.body;
                            }
                        }
                        continue;
                    }
                    let (chat, members) = &chats[rng.below(5) as usize];
                    let s = rng.below(4) as usize;
                    let r = (s + 1 + rng.below(3) as usize) % 4;
                    let amount = 1 + rng.below(60) as i64;
                    let key = format!("c{client}-{i}");
                    let resp = api.transfer(&members[s], chat, &members[r], amount, Some(&key));
                    assert!(
                        resp.status == 201 || resp.status == 422,
                        "{}: {}",
                        resp.status,
                        resp.text
                    );
                    outcomes.lock().unwrap().push(Outcome {
                        chat: chat.clone(),
                        status: resp.status,
                        body: resp.body.clone(),
                    });
                    sent.push((
                        key,
                        members[s].clone(),
                        chat.clone(),
                        members[r].clone(),
                        amount,
                        resp.status,
                        resp.body,
                    ));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let outcomes = outcomes.lock().unwrap();
    let balances: Vec<i64> = users.iter().map(|u| api.balance(u)).collect();
    assert!(balances.iter().all(|b| *b >= 0), "{balances:?}");
    assert_eq!(
        balances.iter().sum::<i64>(),
        granted,
        "credits were created or lost"
    );
    let created: Vec<&Value> = outcomes
        .iter()
        .filter(|o| o.status == 201)
        .map(|o| &o.body)
        .collect();
    assert!(
        created.len() > 50,
        "too few transfers went through to prove anything: {}",
        created.len()
    );
    // Every 201 has exactly one ledger line on each side and one message; nothing else is in the books.
    let mut outs: HashMap<String, usize> = HashMap::new();
    let mut ins: HashMap<String, usize> = HashMap::new();
    for u in &users {
        let lines = api.ledger(u);
        // The ledger's running balance ends at the balance.
        assert_eq!(lines[0]["balanceAfter"].as_i64(), Some(api.balance(u)));
        for id in message_ids(&lines, "transfer_out") {
            *outs.entry(id).or_default() += 1;
        }
        for id in message_ids(&lines, "transfer_in") {
            *ins.entry(id).or_default() += 1;
        }
    }
    let created_ids: HashSet<String> = created
        .iter()
        .map(|m| m["_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(created_ids.len(), created.len());
    assert_eq!(outs.keys().cloned().collect::<HashSet<_>>(), created_ids);
    assert_eq!(ins.keys().cloned().collect::<HashSet<_>>(), created_ids);
    assert!(outs.values().chain(ins.values()).all(|n| *n == 1));
    // Sequence numbers are dense in every chat, and each chat holds exactly its transfers.
    for (chat, members) in &chats {
        let messages = api.all_messages(&members[0], chat);
        let seqs: Vec<i64> = messages
            .iter()
            .map(|m| m["sequenceNumber"].as_i64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            (1..=messages.len() as i64).collect::<Vec<_>>(),
            "chat {chat}"
        );
        let ids: HashSet<String> = messages
            .iter()
            .map(|m| m["_id"].as_str().unwrap().to_string())
            .collect();
        let expected: HashSet<String> = outcomes
            .iter()
            .filter(|o| o.status == 201 && &o.chat == chat)
            .map(|o| o.body["_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, expected, "chat {chat}");
    }
}

/// Stop `wrangler dev` in the middle of a run, start it again on the same state, retry every request
/// with its key: the books end exact.
#[test]
fn a_restart_mid_run_and_retries_leave_the_books_exact() {
    let state = temp_state_dir("restart");
    let server = TestServer::start(&state, false);
    let api = server.client();
    let users: Vec<String> = (0..4).map(|_| unique_user("rs")).collect();
    let others: Vec<&str> = users[1..].iter().map(String::as_str).collect();
    let chat = api.group(&users[0], &others);
    for u in &users {
        api.grant(u, 100, &format!("grant-{u}")).expect(201);
    }
    // 60 keyed requests from 4 clients; the server is stopped while they run.
    let requests: Vec<(String, String, String, i64)> = (0..60)
        .map(|i| {
            (
                format!("rs-key-{i}"),
                users[i % 4].clone(),
                users[(i + 1 + i / 4 % 3) % 4].clone(),
                1 + (i as i64 * 7) % 30,
            )
        })
        .collect();
    let run = |api: Api, chunk: Vec<(String, String, String, i64)>, chat: String| {
        std::thread::spawn(move || {
            for (key, s, r, a) in chunk {
                let _ = api.try_transfer(&s, &chat, &r, a, Some(&key));
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    let handles: Vec<_> = requests
        .chunks(15)
        .map(|c| run(api.clone(), c.to_vec(), chat.clone()))
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    server.stop();
    for h in handles {
        h.join().unwrap();
    }
    let server = TestServer::start(&state, true);
    let api = server.client();
    let mut created = 0;
    for (key, s, r, a) in &requests {
        let resp = api.transfer(s, &chat, r, *a, Some(key));
        assert!(
            resp.status == 201 || resp.status == 422,
            "{}: {}",
            resp.status,
            resp.text
        );
        if resp.status == 201 {
            created += 1;
            // A second retry is always a replay of the same message.
            let again = api.transfer(s, &chat, r, *a, Some(key));
            assert_eq!(
                (again.status, again.header("idempotent-replayed")),
                (201, Some("true"))
            );
            assert_eq!(again.body["_id"], resp.body["_id"]);
        }
    }
    let total: i64 = users.iter().map(|u| api.balance(u)).sum();
    assert_eq!(total, 400);
    let messages = api.all_messages(&users[0], &chat);
    assert_eq!(
        messages.len(),
        created,
        "one message per transfer that went through"
    );
    let seqs: Vec<i64> = messages
        .iter()
        .map(|m| m["sequenceNumber"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=created as i64).collect::<Vec<_>>());
    let out_lines: usize = users
        .iter()
        .map(|u| message_ids(&api.ledger(u), "transfer_out").len())
        .sum();
    assert_eq!(out_lines, created);
    server.stop();
}
