//! API.md "Read marks, edits, deletes": sender only, text only for edits, transfers never change,
//! tombstones keep their place.

use serde_json::json;

use crate::helpers::*;

#[test]
fn the_sender_edits_text_and_updated_at_moves_forward() {
    let api = app();
    let (a, b) = (unique_user("ed-a"), unique_user("ed-b"));
    let chat = api.group(&a, &[&b]);
    let sent = api.send(&a, &chat, "helo");
    let id = sent.body["_id"].as_str().unwrap().to_string();
    let edited = api.edit(&a, &id, "hello");
    edited.expect(200);
    assert_eq!(edited.body["content"], "hello");
    assert_eq!(edited.body["sequenceNumber"], sent.body["sequenceNumber"]);
    assert!(edited.body["editedAt"].is_string());
    assert!(
        edited.body["updatedAt"].as_str() > sent.body["updatedAt"].as_str(),
        "{} vs {}",
        edited.body["updatedAt"],
        sent.body["updatedAt"]
    );
    let again = api.edit(&a, &id, "hello!");
    assert!(
        again.body["updatedAt"].as_str() > edited.body["updatedAt"].as_str(),
        "updatedAt must move on every change"
    );
    let page = api.messages(&b, &chat, "");
    assert_eq!(page.body["messages"][0]["content"], "hello!");
    assert_eq!(page.body["total"], 1, "an edit adds no message");
}

#[test]
fn only_the_sender_may_change_and_only_what_the_rules_allow() {
    let api = app();
    let (a, b, outsider) = (
        unique_user("er-a"),
        unique_user("er-b"),
        unique_user("er-out"),
    );
    let chat = api.group(&a, &[&b]);
    let id = api.send(&a, &chat, "mine").body["_id"]
        .as_str()
        .unwrap()
        .to_string();
    api.edit(&b, &id, "hijack").expect(403);
    api.delete(&b, &id).expect(403);
    api.edit(&outsider, &id, "x").expect(404);
    api.delete(&outsider, &id).expect(404);
    api.edit(&a, "64d15f9e2e6c8f4d5a000000", "x").expect(404);
    api.edit(&a, "not-an-id", "x").expect(400);
    api.edit(&a, &id, "   ").expect(400);
    api.send_json(
        "PATCH",
        &format!("/api/v1/messages/{id}"),
        &token(&a),
        &json!({"content": 7}),
    )
    .expect(400);
    let media = api.post(
        "/api/v1/messages",
        &token(&a),
        &json!({"chatId": chat, "type": "media", "media": {"url": "https://cdn.example/a.png", "type": "image"}}),
    );
    api.edit(&a, media.body["_id"].as_str().unwrap(), "caption")
        .expect(409);
    api.grant(&a, 10, &unique_user("grant")).expect(201);
    let transfer = api.transfer(&a, &chat, &b, 3, None);
    let transfer_id = transfer.body["_id"].as_str().unwrap().to_string();
    api.edit(&a, &transfer_id, "x").expect(409);
    api.delete(&a, &transfer_id).expect(409);
    assert_eq!(
        api.messages(&a, &chat, "").body["messages"][0]["content"],
        "mine"
    );
}

#[test]
fn a_delete_leaves_a_tombstone_in_place() {
    let api = app();
    let (a, b) = (unique_user("del-a"), unique_user("del-b"));
    let chat = api.group(&a, &[&b]);
    api.send(&a, &chat, "one").expect(201);
    let doomed = api.post(
        "/api/v1/messages",
        &token(&a),
        &json!({"chatId": chat, "type": "media", "media": {"url": "https://cdn.example/a.png", "type": "image"}, "metadata": {"k": 1}}),
    );
    api.send(&a, &chat, "three").expect(201);
    let id = doomed.body["_id"].as_str().unwrap().to_string();
    let gone = api.delete(&a, &id);
    gone.expect(200);
    assert!(
        gone.body["content"].is_null()
            && gone.body["media"].is_null()
            && gone.body["metadata"].is_null()
    );
    assert!(gone.body["deletedAt"].is_string());
    assert_eq!(gone.body["sequenceNumber"], 2);
    // Deleting again returns the same tombstone; editing it is refused.
    let again = api.delete(&a, &id);
    again.expect(200);
    assert_eq!(again.body["deletedAt"], gone.body["deletedAt"]);
    api.edit(&a, &id, "resurrect").expect(409);
    let page = api.messages(&b, &chat, "");
    assert_eq!(seqs(&page), vec![1, 2, 3]);
    assert_eq!(page.body["total"], 3, "tombstones count");
    let tomb = &page.body["messages"][1];
    assert_eq!(tomb["_id"], id.as_str());
    assert!(tomb["media"].is_null() && tomb["deletedAt"].is_string());
}
