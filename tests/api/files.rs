//! API.md "Files": uploads streamed into real R2 (local under `wrangler dev`), sends with `fileId`,
//! signed URLs that work without headers and stop working when expired or changed, downloads with
//! `Range` and `If-None-Match`, `Content-Disposition` and `nosniff`, who may read, the refusals of bad
//! uploads, and the daily clean-up (the cron trigger's job, run on `/__scheduled`) that deletes the
//! bytes of removed and never-attached files and old webhook delivery records.

use std::io::Read;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::*;

fn upload(api: &Api, who: &str, chat: &str, name: &str, content_type: &str, bytes: &[u8]) -> Resp {
    let path = format!("/api/v1/chats/{chat}/files?name={}", percent_encode(name));
    let auth = format!("Bearer {}", token(who));
    api.raw(
        "POST",
        &path,
        &[("Authorization", &auth), ("Content-Type", content_type)],
        Some(bytes),
    )
}

/// A URL the API handed out, as a path of the test server (its origin is the server's own).
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/')
        .map_or(String::new(), |at| rest[at..].to_string())
}

fn get(api: &Api, path: &str, headers: &[(&str, &str)]) -> Resp {
    api.raw("GET", path, headers, None)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn sign(file: &str, exp: i64) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(FILE_SIGNING_KEY.as_bytes()).unwrap();
    mac.update(format!("{file}.{exp}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn upload_send_list_download_and_remove() {
    let api = app();
    let (a, b, outsider) = (
        unique_user("fi-a"),
        unique_user("fi-b"),
        unique_user("fi-x"),
    );
    let chat = api.group(&a, &[&b]);
    let other = api.group(&b, &[&a]);
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let up = upload(
        &api,
        &a,
        &chat,
        "report 2026 ü.pdf",
        "application/pdf",
        &bytes,
    );
    up.expect(201);
    let file = up.body["_id"].as_str().unwrap().to_string();
    assert_eq!(up.body["chatId"], chat.as_str());
    assert_eq!(up.body["uploaderId"], a.as_str());
    assert_eq!(up.body["name"], "report 2026 ü.pdf");
    assert_eq!(
        (up.body["size"].as_u64(), up.body["contentType"].as_str()),
        (Some(5000), Some("application/pdf"))
    );
    assert_eq!(up.body["sha256"], sha256_hex(&bytes));
    // The chat's reach, then the record: two round trips around the R2 put.
    assert_eq!(up.cost("x-d1-queries"), 2);
    assert!(
        up.cost("x-d1-rows-read") <= 5,
        "{}",
        up.cost("x-d1-rows-read")
    );
    let url = up.body["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&api.base_url) && url.contains("exp=") && url.contains("sig="),
        "{url}"
    );

    // The signed URL works with no header at all.
    let got = get(&api, &path_of(&url), &[]);
    got.expect(200);
    assert_eq!(got.bytes, bytes);
    // One round trip (the record), whatever the file's size.
    assert_eq!(got.cost("x-d1-queries"), 1);
    assert!(
        got.cost("x-d1-rows-read") <= 4,
        "{}",
        got.cost("x-d1-rows-read")
    );
    assert_eq!(got.header("content-type"), Some("application/pdf"));
    assert_eq!(got.header("content-length"), Some("5000"));
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(got.header("cache-control"), Some("private, max-age=3600"));
    let etag = got.header("etag").unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", sha256_hex(&bytes)));
    let disposition = got.header("content-disposition").unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''report%202026%20%C3%BC.pdf"),
        "{disposition}"
    );

    // Ranges and If-None-Match.
    let part = get(&api, &path_of(&url), &[("Range", "bytes=10-19")]);
    part.expect(206);
    assert_eq!(part.bytes, bytes[10..20]);
    assert_eq!(part.header("content-range"), Some("bytes 10-19/5000"));
    let tail = get(&api, &path_of(&url), &[("Range", "bytes=-5")]);
    tail.expect(206);
    assert_eq!(tail.bytes, bytes[4995..]);
    let outside = get(&api, &path_of(&url), &[("Range", "bytes=5000-")]);
    outside.expect(416);
    assert_eq!(outside.header("content-range"), Some("bytes */5000"));
    let several = get(&api, &path_of(&url), &[("Range", "bytes=0-1,5-6")]);
    several.expect(200);
    assert_eq!(several.bytes.len(), 5000);
    let same = get(&api, &path_of(&url), &[("If-None-Match", &etag)]);
    assert_eq!(same.status, 304);
    assert!(same.bytes.is_empty());

    // A signed URL stops working when it expires or when any character of it changes.
    let exp_at = url.split("exp=").nth(1).unwrap().split('&').next().unwrap();
    let sig = url.split("sig=").nth(1).unwrap();
    let base = format!("/api/v1/files/{file}");
    let past = now_secs() - 10;
    get(
        &api,
        &format!("{base}?exp={past}&sig={}", sign(&file, past)),
        &[],
    )
    .expect(401);
    let later: i64 = exp_at.parse::<i64>().unwrap() + 1;
    get(&api, &format!("{base}?exp={later}&sig={sig}"), &[]).expect(401);
    let mut flipped = sig.to_string().into_bytes();
    flipped[5] = if flipped[5] == b'a' { b'b' } else { b'a' };
    let flipped = String::from_utf8(flipped).unwrap();
    get(&api, &format!("{base}?exp={exp_at}&sig={flipped}"), &[]).expect(401);
    get(&api, &format!("{base}?exp={exp_at}"), &[]).expect(401);
    get(&api, &base, &[]).expect(401);
    // With a credential instead: a participant, a key that reaches the chat; outsiders get 404.
    get(
        &api,
        &base,
        &[("Authorization", &format!("Bearer {}", token(&b)))],
    )
    .expect(200);
    get(
        &api,
        &base,
        &[("Authorization", &format!("Bearer {}", token(&outsider)))],
    )
    .expect(404);
    let key = api.service_key(None);
    get(&api, &base, &[("X-API-Key", &key)]).expect(200);
    let elsewhere = api.service_key(Some("proj_files_other"));
    get(&api, &base, &[("X-API-Key", &elsewhere)]).expect(404);
    get(
        &api,
        "/api/v1/files/0123456789abcdef01234567",
        &[("Authorization", &format!("Bearer {}", token(&a)))],
    )
    .expect(404);

    // A send carries the file: name and size from it, type from its content type.
    let sent = api.post(
        "/api/v1/messages",
        &token(&a),
        &json!({"chatId": chat, "type": "file", "content": "the report", "media": {"fileId": file}}),
    );
    sent.expect(201);
    let media = &sent.body["media"];
    assert_eq!(
        (
            &media["fileId"],
            &media["name"],
            &media["size"],
            &media["type"]
        ),
        (
            &json!(file),
            &json!("report 2026 ü.pdf"),
            &json!(5000),
            &json!("file")
        )
    );
    let listed = api.messages(&b, &chat, "limit=5");
    let shown = listed.body["messages"].as_array().unwrap().last().unwrap()["media"].clone();
    let shown_url = shown["url"].as_str().unwrap();
    assert_eq!(get(&api, &path_of(shown_url), &[]).bytes, bytes);
    // A file attaches to one message only; it must be the sender's, of this chat.
    let again = api.post(
        "/api/v1/messages",
        &token(&a),
        &json!({"chatId": chat, "type": "file", "media": {"fileId": file}}),
    );
    again.expect(409);
    let theirs = upload(&api, &b, &chat, "b.txt", "text/plain", b"from b");
    let theirs_id = theirs.body["_id"].as_str().unwrap();
    api.post(
        "/api/v1/messages",
        &token(&a),
        &json!({"chatId": chat, "type": "file", "media": {"fileId": theirs_id}}),
    )
    .expect(400);
    api.post(
        "/api/v1/messages",
        &token(&b),
        &json!({"chatId": other, "type": "file", "media": {"fileId": theirs_id}}),
    )
    .expect(400);
    api.post("/api/v1/messages", &token(&b), &json!({"chatId": chat, "type": "file", "media": {"fileId": theirs_id, "url": "https://x.example.com/a"}}))
        .expect(400);
    api.post(
        "/api/v1/messages",
        &token(&b),
        &json!({"chatId": chat, "type": "file", "media": {"fileId": "0123456789abcdef01234567"}}),
    )
    .expect(400);
    let seq_before = api.chat(&a, &chat).body["lastSequenceNumber"].clone();
    assert_eq!(
        seq_before,
        json!(1),
        "refused sends took no sequence number"
    );

    // A removed member's token gets 404; deleting the message makes the file a 404 at once.
    api.raw(
        "DELETE",
        &format!("/api/v1/chats/{chat}/members/{b}"),
        &[("Authorization", &format!("Bearer {}", token(&a)))],
        None,
    )
    .expect(204);
    get(
        &api,
        &base,
        &[("Authorization", &format!("Bearer {}", token(&b)))],
    )
    .expect(404);
    api.delete(&a, sent.body["_id"].as_str().unwrap())
        .expect(200);
    get(&api, &path_of(shown_url), &[]).expect(404);
    get(
        &api,
        &base,
        &[("Authorization", &format!("Bearer {}", token(&a)))],
    )
    .expect(404);
}

#[test]
fn media_and_images_are_inline_html_and_svg_never() {
    let api = app();
    let (a, b) = (unique_user("fd-a"), unique_user("fd-b"));
    let chat = api.group(&a, &[&b]);
    for (name, ct, inline) in [
        ("p.png", "image/png", true),
        ("v.mp4", "video/mp4", true),
        ("x.svg", "image/svg+xml", false),
        ("x.html", "text/html", false),
        ("blob", "application/octet-stream", false),
    ] {
        let up = upload(&api, &a, &chat, name, ct, b"<svg onload=alert(1)>");
        up.expect(201);
        let got = get(&api, &path_of(up.body["url"].as_str().unwrap()), &[]);
        got.expect(200);
        let disposition = got.header("content-disposition").unwrap();
        assert_eq!(
            disposition.starts_with("inline;"),
            inline,
            "{ct}: {disposition}"
        );
        assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    }
    // A send with an image file and no type takes the type from the file.
    let png = upload(&api, &a, &chat, "p.png", "image/png", &[137, 80, 78, 71]);
    let sent = api.post(
        "/api/v1/messages",
        &token(&a),
        &json!({"chatId": chat, "type": "media", "media": {"fileId": png.body["_id"]}}),
    );
    sent.expect(201);
    assert_eq!(sent.body["media"]["type"], "image");
}

#[test]
fn bad_uploads_are_refused_and_store_nothing() {
    let api = app();
    let (a, b, outsider) = (
        unique_user("fb-a"),
        unique_user("fb-b"),
        unique_user("fb-x"),
    );
    let chat = api.group(&a, &[&b]);
    for name in [
        "",
        &"n".repeat(256),
        "a/b",
        "a\\b",
        "a\u{1}b",
        "line\nbreak",
    ] {
        let resp = upload(&api, &a, &chat, name, "text/plain", b"x");
        resp.expect(400);
        assert!(
            resp.error_text().contains("name"),
            "{name:?}: {}",
            resp.error_text()
        );
    }
    let auth = format!("Bearer {}", token(&a));
    let no_name = api.raw(
        "POST",
        &format!("/api/v1/chats/{chat}/files"),
        &[("Authorization", &auth)],
        Some(b"x"),
    );
    no_name.expect(400);
    upload(&api, &a, &chat, "empty.txt", "text/plain", b"").expect(400);
    upload(&api, &outsider, &chat, "x.txt", "text/plain", b"x").expect(404);
    upload(
        &api,
        &a,
        "0123456789abcdef01234567",
        "x.txt",
        "text/plain",
        b"x",
    )
    .expect(404);
    // No Content-Length (a chunked body): 411.
    let chunked = ureq::post(&format!(
        "{}/api/v1/chats/{chat}/files?name=c.txt",
        api.base_url
    ))
    .set("Authorization", &auth)
    .send(std::io::Cursor::new(b"chunked".to_vec()));
    let status = match chunked {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(status, 411);
    // Over 25 MiB: 413, and nothing kept.
    let big = vec![7u8; 25 * 1024 * 1024 + 1];
    let over = api.try_raw(
        "POST",
        &format!("/api/v1/chats/{chat}/files?name=big.bin"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/octet-stream"),
        ],
        Some(&big),
    );
    // (The server may answer before reading the body, and close the connection under it.)
    if let Ok(resp) = over {
        resp.expect(413);
    }
    // Exactly 25 MiB is fine, streamed through: the digest is of every byte.
    let mut exact = vec![0u8; 25 * 1024 * 1024];
    for (i, b) in exact.iter_mut().enumerate() {
        *b = (i % 253) as u8;
    }
    let up = upload(
        &api,
        &a,
        &chat,
        "exact.bin",
        "application/octet-stream",
        &exact,
    );
    up.expect(201);
    assert_eq!(up.body["sha256"], sha256_hex(&exact));
    let back = get(&api, &path_of(up.body["url"].as_str().unwrap()), &[]);
    assert_eq!(back.bytes.len(), exact.len());
    assert!(back.bytes == exact);
    // Service keys that reach the chat upload as their senderId.
    let key = api.service_key(None);
    let by_key = api.raw(
        "POST",
        &format!("/api/v1/chats/{chat}/files?name=k.txt"),
        &[("X-API-Key", &key), ("Content-Type", "text/plain")],
        Some(b"from the key"),
    );
    by_key.expect(201);
    assert_eq!(by_key.body["uploaderId"], "assistant");
}

/// 50 random bodies and names (schemathesis sends no raw bodies here): each a 201 or a 400, never a
/// 5xx, and every 201 downloads back byte for byte.
#[test]
fn fifty_random_uploads_are_stored_or_refused_never_a_server_error() {
    let api = app();
    let (a, b) = (unique_user("fr-a"), unique_user("fr-b"));
    let chat = api.group(&a, &[&b]);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet: Vec<char> = "aZ09 ._-/\\\u{0}\u{7f}é漢😀%?&#\"'<>".chars().collect();
    for _ in 0..50 {
        let len = (next() % 300) as usize;
        let body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let name_len = (next() % 260) as usize;
        let name: String = (0..name_len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let resp = upload(&api, &a, &chat, &name, "application/octet-stream", &body);
        assert!(
            matches!(resp.status, 201 | 400),
            "{name:?} ({len} bytes): {}",
            resp.text
        );
        resp.expect(resp.status);
        if resp.status == 201 {
            assert_eq!(resp.body["name"], name.as_str());
            let back = get(&api, &path_of(resp.body["url"].as_str().unwrap()), &[]);
            assert_eq!(back.bytes, body);
        }
    }
}

/// On a server of the test's own: the daily job removes the bytes of a deleted message's file and of
/// a file never attached within 24 hours, and delivery records older than 30 days; a second run
/// changes nothing more.
#[test]
fn the_daily_job_removes_bytes_and_old_records_and_runs_twice() {
    let state = temp_state_dir("files-cron");
    let server = TestServer::start(&state, false);
    let api = server.client();
    let (a, b) = (unique_user("fc-a"), unique_user("fc-b"));
    let chat = api.group(&a, &[&b]);
    let kept = upload(&api, &a, &chat, "kept.txt", "text/plain", b"kept");
    let attached = upload(&api, &a, &chat, "gone.txt", "text/plain", b"gone");
    let stale = upload(&api, &a, &chat, "stale.txt", "text/plain", b"stale");
    let fresh = upload(&api, &a, &chat, "fresh.txt", "text/plain", b"fresh");
    let id = |r: &Resp| r.body["_id"].as_str().unwrap().to_string();
    let (kept, attached, stale, fresh) = (id(&kept), id(&attached), id(&stale), id(&fresh));
    let send = |file: &str| {
        let resp = api.post(
            "/api/v1/messages",
            &token(&a),
            &json!({"chatId": chat, "type": "file", "media": {"fileId": file}}),
        );
        resp.expect(201);
        resp.body["_id"].as_str().unwrap().to_string()
    };
    send(&kept);
    let message = send(&attached);
    api.delete(&a, &message).expect(200);
    let day_ago = (now_secs() - 25 * 3600) * 1000;
    let month_ago = (now_secs() - 31 * 24 * 3600) * 1000;
    server.execute_sql(&format!(
        "UPDATE files SET created_at = {day_ago} WHERE id = '{stale}';
         INSERT INTO webhook_deliveries (key_id, event_id, type, chat_id, message_id, status, attempts,
                                         created_at, updated_at)
           VALUES ('k-old', 'evt-old', 'message.created', '{chat}', '{message}', 'delivered', 1, {month_ago}, {month_ago}),
                  ('k-new', 'evt-new', 'message.created', '{chat}', '{message}', 'delivered', 1, {day_ago}, {day_ago});"
    ));
    let run = || {
        let resp = ureq::get(&format!("{}/__scheduled?cron=17+3+*+*+*", api.base_url))
            .timeout(Duration::from_secs(30))
            .call()
            .expect("scheduled run");
        assert_eq!(resp.status(), 200);
    };
    run();
    let rows = |sql: &str| -> Vec<Value> {
        let out = d1(&state, &["execute", "--json", "--command", sql]);
        let parsed: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        parsed[0]["results"].as_array().cloned().unwrap_or_default()
    };
    let purged = |file: &str| {
        rows(&format!(
            "SELECT purged_at IS NOT NULL AS purged FROM files WHERE id = '{file}'"
        ))[0]["purged"]
            == 1
    };
    assert!(purged(&attached) && purged(&stale));
    assert!(!purged(&kept) && !purged(&fresh));
    let deliveries: Vec<String> = rows("SELECT event_id FROM webhook_deliveries ORDER BY event_id")
        .iter()
        .map(|r| r["event_id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        deliveries.contains(&"evt-new".to_string()) && !deliveries.contains(&"evt-old".to_string())
    );
    // The bytes are gone from R2, the others are there.
    let in_r2 = |file: &str| {
        let out = wrangler(&state)
            .args([
                "r2",
                "object",
                "get",
                &format!("edge-chat-files/{file}"),
                "--local",
                "--pipe",
                "--persist-to",
            ])
            .arg(state.join("d1"))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("wrangler r2");
        out.status.success()
    };
    assert!(!in_r2(&attached) && !in_r2(&stale));
    assert!(in_r2(&kept) && in_r2(&fresh));
    let auth = format!("Bearer {}", token(&a));
    let mut body = Vec::new();
    let got = ureq::get(&format!("{}/api/v1/files/{kept}", api.base_url))
        .set("Authorization", &auth)
        .call()
        .expect("kept");
    got.into_reader().read_to_end(&mut body).unwrap();
    assert_eq!(body, b"kept");
    // A second run: nothing more changes.
    let before = rows("SELECT id, removed_at, purged_at FROM files ORDER BY id");
    run();
    assert_eq!(
        rows("SELECT id, removed_at, purged_at FROM files ORDER BY id"),
        before
    );
    server.stop();
    let _ = std::fs::remove_dir_all(&state);
}
