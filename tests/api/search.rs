//! API.md "Search": words, phrases, prefixes, case and accent folding, highlights, both sorts, cursor
//! paging, narrowing and reach (participants, removed members, project keys, tombstones, edits), every
//! character of `q` as text, and a cost that grows with the matches in the chats searched only (a chat
//! of 100,000 matching messages the caller is not in changes nothing).

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::*;

fn search(api: &Api, user: &str, query: &str) -> Resp {
    api.get(&format!("/api/v1/search?{query}"), Some(&token(user)))
}

fn found(resp: &Resp) -> Vec<String> {
    resp.expect(200);
    resp.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn contents(api: &Api, user: &str, q: &str, extra: &str) -> Vec<String> {
    found(&search(
        api,
        user,
        &format!("q={}{extra}", percent_encode(q)),
    ))
}

#[test]
fn words_phrases_prefixes_case_and_accents() {
    let api = app();
    let (a, b) = (unique_user("se-a"), unique_user("se-b"));
    let chat = api.group(&a, &[&b]);
    let tag = unique_user("tag").replace(['-', '_', '.', ':', '@'], "");
    let texts = [
        format!("{tag} The Café invoice for March <b>bold</b> & more"),
        format!("{tag} invoice draft"),
        format!("{tag} march madness"),
        format!("{tag} Cafeteria lunch"),
        format!("{tag} résumé attached"),
    ];
    for (i, text) in texts.iter().enumerate() {
        api.send(if i % 2 == 0 { &a } else { &b }, &chat, text)
            .expect(201);
    }
    let set = |v: Vec<String>| v.into_iter().collect::<HashSet<_>>();
    let of = |idx: &[usize]| {
        idx.iter()
            .map(|i| texts[*i].clone())
            .collect::<HashSet<_>>()
    };
    assert_eq!(
        set(contents(&api, &b, &format!("{tag} cafe"), "")),
        of(&[0])
    );
    assert_eq!(
        set(contents(&api, &b, &format!("{tag} CAFÉ"), "")),
        of(&[0])
    );
    assert_eq!(
        set(contents(&api, &b, &format!("{tag} resume"), "")),
        of(&[4])
    );
    assert_eq!(
        set(contents(&api, &b, &format!("{tag} caf*"), "")),
        of(&[0, 3])
    );
    assert_eq!(
        set(contents(&api, &b, &format!("{tag} march invoice"), "")),
        of(&[0])
    );
    assert_eq!(
        set(contents(&api, &b, &format!("{tag} inv*"), "")),
        of(&[0, 1])
    );
    assert_eq!(
        set(contents(
            &api,
            &b,
            &format!("{tag} \"invoice for march\""),
            ""
        )),
        of(&[0])
    );
    assert_eq!(
        set(contents(&api, &b, &format!("{tag} \"march invoice\""), "")),
        of(&[])
    );
    // One character before * is no prefix: the word "c" matches nothing here.
    assert_eq!(set(contents(&api, &b, &format!("{tag} c*"), "")), of(&[]));

    // The highlight marks the matches and escapes the rest.
    let resp = search(
        &api,
        &b,
        &format!("q={}", percent_encode(&format!("{tag} cafe march"))),
    );
    resp.expect(200);
    let highlight = resp.body["results"][0]["highlight"].as_str().unwrap();
    assert!(highlight.contains("<mark>Café</mark>"), "{highlight}");
    assert!(highlight.contains("<mark>March</mark>"), "{highlight}");
    assert!(
        highlight.contains("&lt;b&gt;bold&lt;/b&gt; &amp; more"),
        "{highlight}"
    );
    assert!(!highlight.contains("<b>"), "{highlight}");
    assert_eq!(resp.cost("x-d1-queries"), 1);
    // Each result is the Message as the list shows it.
    let message = &resp.body["results"][0]["message"];
    assert_eq!(message["chatId"], chat.as_str());
    assert!(message["readBy"].is_array() && message["myReactions"].is_array());
}

#[test]
fn relevance_newest_and_cursors_without_gaps_or_duplicates() {
    let api = app();
    let (a, b) = (unique_user("sp-a"), unique_user("sp-b"));
    let one = api.group(&a, &[&b]);
    let two = api.group(&b, &[&a]);
    let tag = unique_user("pg").replace(['-', '_', '.', ':', '@'], "");
    // Relevance weighs how rare a word is in the whole index: messages without the word make it
    // rare, as it is in any real deployment.
    for i in 0..60 {
        api.send(&b, &one, &format!("filler {i} without the word"))
            .expect(201);
    }
    let mut all = HashSet::new();
    for i in 0..23 {
        // Some messages say the word more often: they rank higher.
        let text = if i % 5 == 0 {
            format!("{tag} {tag} {tag} loud {i}")
        } else {
            format!("{tag} quiet {i} with some more words in it")
        };
        api.send(&a, if i % 2 == 0 { &one } else { &two }, &text)
            .expect(201);
        all.insert(text);
    }
    let walk = |sort: &str, limit: usize| {
        let mut got = Vec::new();
        let mut query = format!("q={tag}&limit={limit}&sort={sort}");
        loop {
            let page = search(&api, &b, &query);
            let contents = found(&page);
            assert!(contents.len() <= limit);
            got.extend(contents);
            match page.body["nextCursor"].as_str() {
                Some(c) => {
                    assert_eq!(page.body["hasMore"], true);
                    query = format!("q={tag}&limit={limit}&sort={sort}&cursor={c}");
                }
                None => {
                    assert_eq!(page.body["hasMore"], false);
                    return got;
                }
            }
        }
    };
    for limit in [1, 4, 7, 50] {
        for sort in ["relevance", "newest"] {
            let got = walk(sort, limit);
            assert_eq!(got.len(), 23, "{sort} {limit}: {got:?}");
            assert_eq!(
                got.iter().cloned().collect::<HashSet<_>>(),
                all,
                "{sort} {limit}"
            );
        }
    }
    // Relevance: the loud ones first, newest first among equals; newest: by time only.
    let relevance = walk("relevance", 50);
    assert!(
        relevance[..5].iter().all(|t| t.contains("loud")),
        "{relevance:?}"
    );
    assert_eq!(relevance[0], format!("{tag} {tag} {tag} loud 20"));
    let newest = walk("newest", 50);
    assert_eq!(
        newest[0],
        format!("{tag} quiet 22 with some more words in it")
    );
    assert_eq!(newest[22], format!("{tag} {tag} {tag} loud 0"));
    // A cursor of the other sort, or garbage, is a 400.
    let page = search(&api, &b, &format!("q={tag}&limit=2"));
    let cursor = page.body["nextCursor"].as_str().unwrap();
    search(&api, &b, &format!("q={tag}&sort=newest&cursor={cursor}")).expect(400);
    search(&api, &b, &format!("q={tag}&cursor=zz")).expect(400);
}

#[test]
fn nobody_finds_what_they_may_not_read() {
    let api = app();
    let (a, b, c) = (
        unique_user("sr-a"),
        unique_user("sr-b"),
        unique_user("sr-c"),
    );
    let tag = unique_user("rc").replace(['-', '_', '.', ':', '@'], "");
    let project = format!("proj_{tag}");
    let shared = api.group(&a, &[&b]);
    let private = api.group(&a, &[&c]);
    let created = api.create_chat(
        &token(&a),
        &json!({"participantIds": [b], "type": "group", "projectId": project}),
    );
    created.expect(201);
    let in_project = created.body["_id"].as_str().unwrap().to_string();
    api.send(&a, &shared, &format!("{tag} shared")).expect(201);
    api.send(&a, &private, &format!("{tag} private"))
        .expect(201);
    api.send(&a, &in_project, &format!("{tag} project"))
        .expect(201);
    let gone = api.send(&a, &shared, &format!("{tag} deleted"));
    api.delete(&a, gone.body["_id"].as_str().unwrap())
        .expect(200);
    let edited = api.send(&a, &shared, &format!("{tag} before"));
    let edited_id = edited.body["_id"].as_str().unwrap().to_string();
    api.edit(&a, &edited_id, &format!("{tag} after"))
        .expect(200);
    // A file's name is text too.
    api.post(
        "/api/v1/messages",
        &token(&a),
        &json!({"chatId": shared, "type": "file",
                "media": {"url": "https://cdn.example.com/x.pdf", "type": "file", "name": format!("{tag}-report.pdf")}}),
    )
    .expect(201);

    let set = |v: Vec<String>| v.into_iter().collect::<HashSet<_>>();
    let names = |items: &[&str]| {
        items
            .iter()
            .map(|s| format!("{tag} {s}"))
            .collect::<HashSet<_>>()
    };
    let mut b_sees = names(&["shared", "project", "after"]);
    b_sees.insert(String::new());
    assert_eq!(set(contents(&api, &b, &tag, "")), b_sees);
    assert_eq!(
        set(contents(&api, &b, &format!("{tag} before"), "")),
        HashSet::new()
    );
    assert_eq!(
        set(contents(&api, &b, &format!("{tag} deleted"), "")),
        HashSet::new()
    );
    assert_eq!(
        set(contents(&api, &b, &format!("{tag} report"), "")),
        set(vec![String::new()])
    );
    assert_eq!(set(contents(&api, &c, &tag, "")), names(&["private"]));
    // Narrowed to a chat and to a project.
    assert_eq!(
        set(contents(&api, &b, &tag, &format!("&projectId={project}"))),
        names(&["project"])
    );
    assert_eq!(
        set(contents(&api, &a, &tag, &format!("&chatId={private}"))),
        names(&["private"])
    );
    // A chat the caller is not in is a 404, like every route of it.
    search(&api, &b, &format!("q={tag}&chatId={private}")).expect(404);
    search(
        &api,
        &b,
        &format!("q={tag}&chatId=0123456789abcdef01234567"),
    )
    .expect(404);
    // A removed member stops finding the chat's messages at once.
    api.raw(
        "DELETE",
        &format!("/api/v1/chats/{shared}/members/{b}"),
        &[("Authorization", &format!("Bearer {}", token(&a)))],
        None,
    )
    .expect(204);
    assert_eq!(set(contents(&api, &b, &tag, "")), names(&["project"]));

    // Service keys: a project key finds its project's messages only; a key of every chat finds all.
    let project_key = api.service_key(Some(&project));
    let by_key = |key: &str, extra: &str| {
        let resp = api.with_key("GET", &format!("/api/v1/search?q={tag}{extra}"), key, None);
        set(found(&resp))
    };
    assert_eq!(by_key(&project_key, ""), names(&["project"]));
    api.with_key(
        "GET",
        &format!("/api/v1/search?q={tag}&chatId={shared}"),
        &project_key,
        None,
    )
    .expect(404);
    let global = api.service_key(None);
    let mut everything = names(&["shared", "private", "project", "after"]);
    everything.insert(String::new());
    assert_eq!(by_key(&global, ""), everything);
    assert_eq!(
        by_key(&global, &format!("&projectId={project}")),
        names(&["project"])
    );
    assert_eq!(
        by_key(&global, &format!("&chatId={private}")),
        names(&["private"])
    );
    api.with_key("GET", &format!("/api/v1/search?q={tag}"), "eck_nope", None)
        .expect(401);
}

#[test]
fn every_character_of_q_is_text_never_syntax() {
    let api = app();
    let (a, b) = (unique_user("sq-a"), unique_user("sq-b"));
    let chat = api.group(&a, &[&b]);
    let tag = unique_user("qq").replace(['-', '_', '.', ':', '@'], "");
    api.send(&a, &chat, &format!("{tag} plain words NEAR here, body: x"))
        .expect(201);
    api.send(&a, &chat, &format!("{tag} שלום עולם 😀 emoji"))
        .expect(201);
    let nasty = [
        "NEAR(a b)".to_string(),
        "a OR b".to_string(),
        "NOT x".to_string(),
        "body:x".to_string(),
        "\"unbalanced".to_string(),
        "\"\"\"".to_string(),
        "*".to_string(),
        "**".to_string(),
        "a*b*".to_string(),
        "^start +plus -minus".to_string(),
        "(((".to_string(),
        "{body} : x".to_string(),
        "!@#$%^&*()_+{}|:<>?~`-=[]\\;',./"
            .repeat(7)
            .chars()
            .take(200)
            .collect(),
        "😀".to_string(),
        "שלום".to_string(),
        "\u{0}\u{1}\u{2}\u{3}".to_string(),
        "' OR 1=1 --".to_string(),
        "x".repeat(200),
    ];
    for q in &nasty {
        let resp = search(&api, &b, &format!("q={}", percent_encode(q)));
        resp.expect(200);
        assert!(resp.body["results"].is_array(), "{q}");
    }
    // The operators are words: they find the message that holds them, with the tag.
    assert_eq!(contents(&api, &b, &format!("{tag} NEAR"), "").len(), 1);
    assert_eq!(contents(&api, &b, &format!("{tag} body:"), "").len(), 1);
    assert_eq!(contents(&api, &b, &format!("{tag} שלום"), "").len(), 1);
    assert_eq!(
        contents(&api, &b, &format!("{tag} OR nothing"), "").len(),
        0
    );
    // Bad parameters: 400 naming them.
    for (query, words) in [
        ("", "q is required"),
        ("q=", "q must be"),
        (&format!("q={}", "x".repeat(201))[..], "q must be"),
        ("q=x&limit=51", "limit"),
        ("q=x&limit=0", "limit"),
        ("q=x&sort=best", "sort"),
        ("q=x&chatId=nope", "chatId"),
        ("q=x&projectId=bad%20id", "projectId"),
    ] {
        let resp = search(&api, &b, query);
        resp.expect(400);
        assert!(
            resp.error_text().contains(words),
            "{query}: {}",
            resp.error_text()
        );
    }
    api.get("/api/v1/search?q=x", None).expect(401);
}

/// A chat of 100,000 messages holding the word, that the caller is not in (seeded by SQL on a server
/// of the test's own), changes nothing of the caller's search: the same rows read (within 5), as
/// without it. And a send's rows written with the index.
#[test]
fn a_search_reads_the_matches_of_the_chats_searched_only() {
    let server = TestServer::start(&temp_state_dir("search-cost"), true);
    let api = server.client();
    let (me, peer, other) = (
        unique_user("sc-me"),
        unique_user("sc-peer"),
        unique_user("sc-o"),
    );
    let mine = api.group(&me, &[&peer]);
    for i in 0..10 {
        api.send(&peer, &mine, &format!("invoice number {i}"))
            .expect(201);
    }
    let measure = |query: &str| {
        let resp = search(&api, &me, query);
        resp.expect(200);
        assert_eq!(resp.cost("x-d1-queries"), 1);
        (
            resp.body["results"].as_array().unwrap().len(),
            resp.cost("x-d1-rows-read"),
        )
    };
    let before_all = measure("q=invoice");
    let before_one = measure(&format!("q=invoice&chatId={mine}"));
    let theirs = api.group(&other, &[&peer]);
    server.execute_sql(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
         INSERT INTO messages (chat_id, seq, id, sender_id, type, content, created_at, updated_at)
           SELECT '{theirs}', i, printf('%08x%016x', 1700000001, i), '{other}', 'text',
                  'the invoice number ' || i, 1700000000000 + i, 1700000000000 + i FROM n;
         UPDATE chats SET last_seq = 100000 WHERE id = '{theirs}';"
    ));
    let theirs_found = api.get(
        &format!("/api/v1/search?q=invoice&chatId={theirs}&limit=1"),
        Some(&token(&other)),
    );
    theirs_found.expect(200);
    assert_eq!(
        theirs_found.body["hasMore"], true,
        "the seeded messages are indexed"
    );
    let after_all = measure("q=invoice");
    let after_one = measure(&format!("q=invoice&chatId={mine}"));
    println!(
        "search rows read, without / with 100,000 matches elsewhere: all chats {before_all:?} / {after_all:?}, one chat {before_one:?} / {after_one:?}"
    );
    assert_eq!((before_all.0, after_all.0), (10, 10));
    assert!(after_all.1.abs_diff(before_all.1) <= 5);
    assert!(after_one.1.abs_diff(before_one.1) <= 5);
    let send = api.send(&peer, &mine, "one more invoice");
    send.expect(201);
    println!(
        "a send with the index: {} rows read, {} written",
        send.cost("x-d1-rows-read"),
        send.cost("x-d1-rows-written")
    );
    server.stop();
}

#[test]
fn the_index_follows_every_write_at_once() {
    let api = app();
    let (a, b) = (unique_user("si-a"), unique_user("si-b"));
    let chat = api.group(&a, &[&b]);
    let tag = unique_user("ix").replace(['-', '_', '.', ':', '@'], "");
    let sent = api.send(&a, &chat, &format!("{tag} first words"));
    let id = sent.body["_id"].as_str().unwrap().to_string();
    // Right after the write's response, without waiting.
    assert_eq!(contents(&api, &b, &format!("{tag} first"), "").len(), 1);
    api.edit(&a, &id, &format!("{tag} second words"))
        .expect(200);
    assert_eq!(contents(&api, &b, &format!("{tag} first"), "").len(), 0);
    assert_eq!(contents(&api, &b, &format!("{tag} second"), "").len(), 1);
    api.delete(&a, &id).expect(200);
    assert_eq!(contents(&api, &b, &tag, "").len(), 0);
}
