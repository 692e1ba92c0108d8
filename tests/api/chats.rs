//! API.md "Users" and "Chats".

use serde_json::json;

use crate::helpers::*;

#[test]
fn a_direct_chat_is_unique_per_pair_from_either_side() {
    let api = app();
    let (a, b) = (unique_user("dir-a"), unique_user("dir-b"));
    let first = api.create_chat(&token(&a), &json!({"participantIds": [b]}));
    first.expect(201);
    assert_eq!(first.body["type"], "direct");
    assert!(first.body["title"].is_null());
    let id = first.body["_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 24);
    let again = api.create_chat(
        &token(&b),
        &json!({"participantIds": [a], "type": "direct"}),
    );
    again.expect(200);
    assert_eq!(again.body["_id"], id.as_str());
    let ids: Vec<&str> = again.body["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&a.as_str()) && ids.contains(&b.as_str()));
    // A group with the same two people is a different chat.
    api.create_chat(&token(&a), &json!({"participantIds": [b], "type": "group"}))
        .expect(201);
}

#[test]
fn concurrent_direct_creations_make_one_chat() {
    let api = app();
    let (a, b) = (unique_user("race-a"), unique_user("race-b"));
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let api = api.clone();
            let (me, other) = if i % 2 == 0 {
                (a.clone(), b.clone())
            } else {
                (b.clone(), a.clone())
            };
            std::thread::spawn(move || {
                api.create_chat(&token(&me), &json!({"participantIds": [other]}))
            })
        })
        .collect();
    let results: Vec<Resp> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        results.iter().all(|r| r.status == 200 || r.status == 201),
        "{:?}",
        results.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    assert_eq!(results.iter().filter(|r| r.status == 201).count(), 1);
    let first_id = &results[0].body["_id"];
    assert!(results.iter().all(|r| &r.body["_id"] == first_id));
}

#[test]
fn group_rules() {
    let api = app();
    let owner = unique_user("grp");
    let t = token(&owner);
    let others: Vec<String> = (0..3).map(|_| unique_user("g")).collect();
    let resp = api.create_chat(&t, &json!({"participantIds": others, "title": "Team"}));
    resp.expect(201);
    assert_eq!(resp.body["type"], "group");
    assert_eq!(resp.body["title"], "Team");
    assert_eq!(resp.body["participants"].as_array().unwrap().len(), 4);
    assert_eq!(resp.body["messageCount"], 0);
    assert_eq!(resp.body["unreadCount"], 0);
    assert!(resp.body["lastMessage"].is_null());
    let too_many: Vec<String> = (0..256).map(|i| format!("many-{i}")).collect();
    api.create_chat(&t, &json!({"participantIds": too_many}))
        .expect(400);
    let just_enough: Vec<String> = (0..255).map(|i| format!("{owner}-m{i}")).collect();
    let big = api.create_chat(&t, &json!({"participantIds": just_enough, "type": "group"}));
    big.expect(201);
    assert_eq!(big.body["participants"].as_array().unwrap().len(), 256);
    api.create_chat(
        &t,
        &json!({"participantIds": [others[0]], "title": "x".repeat(201), "type": "group"}),
    )
    .expect(400);
    api.create_chat(&t, &json!({"participantIds": [owner]}))
        .expect(400);
    api.create_chat(
        &t,
        &json!({"participantIds": [others[0], others[1]], "type": "direct"}),
    )
    .expect(400);
}

#[test]
fn named_users_get_profiles_defaulting_to_their_id_until_they_write() {
    let api = app();
    let (owner, named) = (unique_user("namer"), unique_user("named"));
    let chat = api.group(&owner, &[&named]);
    let resp = api.chat(&owner, &chat);
    let p = participant(&resp, &named);
    assert_eq!(p["username"], named.as_str());
    assert!(p["profilePhoto"].is_null());
    assert_eq!(p["availabilityStatus"], "available");
    // The named user's first write fills the profile from their token.
    api.send(&named, &chat, "hi").expect(201);
    let resp = api.chat(&owner, &chat);
    let p = participant(&resp, &named);
    assert_eq!(p["username"], format!("{named}-name"));
}

#[test]
fn users_me_reads_never_write_and_patch_updates_everywhere() {
    let api = app();
    let user = unique_user("prof");
    let t = token(&user);
    let me = api.get("/api/v1/users/me", Some(&t));
    me.expect(200);
    assert_eq!(me.body["_id"], user.as_str());
    assert_eq!(me.body["username"], format!("{user}-name"));
    assert_eq!(me.body["credits"], 0);
    assert_eq!(me.cost("x-d1-rows-written"), 0);
    assert_eq!(me.cost("x-d1-queries"), 1);

    let chat = api.group(&user, &[&unique_user("friend")]);
    let patched = api.send_json(
        "PATCH",
        "/api/v1/users/me",
        &t,
        &json!({"username": "newname", "firstName": "New", "availabilityStatus": "busy",
                "profilePhoto": {"url": "https://cdn.example.com/p.jpg", "type": "image"}}),
    );
    patched.expect(200);
    assert_eq!(patched.body["username"], "newname");
    assert_eq!(patched.body["firstName"], "New");
    assert_eq!(patched.body["availabilityStatus"], "busy");
    assert_eq!(
        patched.body["profilePhoto"]["url"],
        "https://cdn.example.com/p.jpg"
    );
    assert_eq!(
        patched.body["profilePhoto"]["_id"].as_str().map(str::len),
        Some(24)
    );
    let seen = api.chat(&user, &chat);
    let p = participant(&seen, &user);
    assert_eq!(
        (p["username"].as_str(), p["availabilityStatus"].as_str()),
        (Some("newname"), Some("busy"))
    );
    assert_eq!(p["profilePhoto"]["url"], "https://cdn.example.com/p.jpg");
    // A later write does not overwrite the profile with token claims.
    api.send(&user, &chat, "still me").expect(201);
    assert_eq!(
        api.get("/api/v1/users/me", Some(&t)).body["username"],
        "newname"
    );
    let cleared = api.send_json(
        "PATCH",
        "/api/v1/users/me",
        &t,
        &json!({"profilePhoto": null}),
    );
    cleared.expect(200);
    assert!(cleared.body["profilePhoto"].is_null());
    api.send_json("PATCH", "/api/v1/users/me", &t, &json!({}))
        .expect(400);
}

#[test]
fn chat_list_is_most_recent_first_paged_and_one_round_trip() {
    let api = app();
    let user = unique_user("lister");
    let chats: Vec<String> = (0..5)
        .map(|_| api.group(&user, &[&unique_user("c")]))
        .collect();
    // Activity on the oldest chat moves it to the top.
    api.send(&user, &chats[0], "bump").expect(201);
    let page = api.chats(&user, "limit=2");
    page.expect(200);
    assert_eq!(page.cost("x-d1-queries"), 1);
    assert_eq!(
        (
            page.body["total"].as_i64(),
            page.body["totalPages"].as_i64()
        ),
        (Some(5), Some(3))
    );
    assert_eq!(page.body["hasNextPage"], true);
    assert_eq!(page.body["hasPreviousPage"], false);
    let ids = |r: &Resp| -> Vec<String> {
        r.body["chats"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&page), vec![chats[0].clone(), chats[4].clone()]);
    assert_eq!(page.body["chats"][0]["lastMessage"]["content"], "bump");
    let all: Vec<String> = (1..=3)
        .flat_map(|p| ids(&api.chats(&user, &format!("limit=2&page={p}"))))
        .collect();
    assert_eq!(
        all,
        vec![
            chats[0].clone(),
            chats[4].clone(),
            chats[3].clone(),
            chats[2].clone(),
            chats[1].clone()
        ]
    );
    let past = api.chats(&user, "limit=2&page=4");
    past.expect(200);
    assert!(ids(&past).is_empty());
    assert_eq!(past.body["total"], 5);
}

#[test]
fn get_chat_is_one_round_trip() {
    let api = app();
    let user = unique_user("getter");
    let chat = api.group(&user, &[&unique_user("x"), &unique_user("y")]);
    api.send(&user, &chat, "hello").expect(201);
    let resp = api.chat(&user, &chat);
    resp.expect(200);
    assert_eq!(resp.cost("x-d1-queries"), 1);
    assert_eq!(resp.body["lastMessage"]["content"], "hello");
    assert_eq!(resp.body["messageCount"], 1);
    assert_eq!(resp.body["lastSequenceNumber"], 1);
}

#[test]
fn creating_a_group_writes_five_rows_per_new_member_seven_in_a_project() {
    let api = app();
    let owner = unique_user("cost-owner");
    // The owner's own user row is made by their first request, not counted below.
    api.group(&owner, &[&unique_user("cost-first")]);
    let written = |size: usize, project: Option<&str>| {
        let others: Vec<String> = (1..size)
            .map(|i| unique_user(&format!("cost{i}")))
            .collect();
        let body =
            json!({"type": "group", "title": "t", "participantIds": others, "projectId": project});
        let made = api.create_chat(&token(&owner), &body);
        made.expect(201);
        made.cost("x-d1-rows-written") as usize
    };
    // Per member: the user row (new here; the owner's exists), the membership, its one index entry,
    // the chat_list entry and the chat_counts row, and in a project a second entry and count. Per chat:
    // its row, its `direct_key` index entry (NULL for a group, still an entry) and its number's
    // (`chats_by_num`, the search index's range: migration 0009), and in a project its
    // `chats_by_project` entry. So an index or trigger added later shows here; the one migration 0006
    // dropped made it 6 and 8 per member.
    for size in [8, 256] {
        assert_eq!(written(size, None), 5 * size + 2, "{size} members");
        assert_eq!(
            written(size, Some("cost-p")),
            7 * size + 3,
            "{size} members in a project"
        );
    }
}
