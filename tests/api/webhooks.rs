//! Webhooks (API.md "Webhooks") against a real `wrangler dev` of their own (`WEBHOOK_ALLOW_LOOPBACK`)
//! and real HTTP receivers on loopback, started here: each write arrives once, signed, in order, with
//! the Message of its HTTP response; retries, a dead receiver, a restart with deliveries pending; and
//! the URLs refused at configuration time.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::*;

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
    at: Instant,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A webhook receiver: a real HTTP server on a loopback port, answering each request with the next
/// status of its plan (200 once the plan is used up), until dropped.
struct Receiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    plan: Arc<Mutex<VecDeque<u16>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start() -> Receiver {
        Self::on(TcpListener::bind("127.0.0.1:0").expect("bind receiver"))
    }

    /// A receiver on `port` again (after `down`): the same URL comes back.
    fn start_on(port: u16) -> Receiver {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(listener) => return Self::on(listener),
                Err(e) if Instant::now() < deadline => {
                    eprintln!("rebinding {port}: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("rebinding {port}: {e}"),
            }
        }
    }

    fn on(listener: TcpListener) -> Receiver {
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let plan = Arc::new(Mutex::new(VecDeque::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (received, plan, stop) = (received.clone(), plan.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let status = plan.lock().unwrap().pop_front().unwrap_or(200);
                    if let Some(request) = answer(stream, status) {
                        received.lock().unwrap().push(request);
                    }
                }
            })
        };
        Receiver {
            port,
            received,
            plan,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn answer_next(&self, statuses: &[u16]) {
        self.plan.lock().unwrap().extend(statuses);
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests came (panics after `within`).
    fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} webhook requests within {within:?}: {got:?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one HTTP/1.1 request and answers `status` with an empty body.
fn answer(stream: TcpStream, status: u16) -> Option<Received> {
    let request = read_request(&stream)?;
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let _ = stream.flush();
    Some(request)
}

/// Checks `Edge-Chat-Signature` the way a receiver should: HMAC-SHA256 of "<t>.<raw body>" keyed
/// with the whole secret, hex, and `t` close to now.
fn assert_signed(request: &Received, secret: &str) {
    let header = request.header("Edge-Chat-Signature").expect("signature");
    let (t, v1) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap_or_else(|| panic!("signature header: {header}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", request.body).as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(v1, expected, "signature of {}", request.body);
    let t: i64 = t.parse().expect("t");
    assert!((t - now_secs()).abs() < 300, "t={t}");
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    let body = request.json();
    assert_eq!(request.header("Edge-Chat-Event-Id"), body["id"].as_str());
}

fn admin(api: &Api, method: &str, path: &str, body: Option<&Value>) -> Resp {
    api.with_key(method, path, ADMIN_API_KEY, body)
}

/// A key of `project` whose webhook goes to `url`: (key id, key, webhook secret).
fn hooked_key(api: &Api, project: &str, url: &str) -> (String, String, String) {
    let resp = api.create_key(&json!({"name": "hooked", "projectId": project, "webhookUrl": url}));
    resp.expect(201);
    assert_eq!(resp.body["webhookUrl"], url);
    let text = |k: &str| resp.body[k].as_str().expect(k).to_string();
    let secret = text("webhookSecret");
    assert!(
        secret.starts_with("whsec_") && secret.len() == 49,
        "{secret}"
    );
    (text("_id"), text("key"), secret)
}

fn project_chat(api: &Api, owner: &str, other: &str, project: &str) -> String {
    let resp = api.create_chat(
        &token(owner),
        &json!({"participantIds": [other], "type": "group", "title": "t", "projectId": project}),
    );
    resp.expect(201);
    resp.body["_id"].as_str().expect("chat id").to_string()
}

fn deliveries(api: &Api, key_id: &str) -> Vec<Value> {
    let resp = admin(
        api,
        "GET",
        &format!("/api/v1/admin/api-keys/{key_id}/deliveries"),
        None,
    );
    resp.expect(200);
    resp.body["deliveries"]
        .as_array()
        .expect("deliveries")
        .clone()
}

/// Waits until key `key_id`'s deliveries satisfy `done`.
fn deliveries_until(api: &Api, key_id: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = deliveries(api, key_id);
        if done(&list) {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries never settled: {list:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A server of the test's own, webhooks to loopback allowed; its state goes with it.
fn hook_server(name: &str) -> TestServer {
    TestServer::start_with(
        &temp_state_dir(name),
        true,
        &[("WEBHOOK_ALLOW_LOOPBACK", "true")],
    )
}

/// A send, a transfer, an edit and a delete each arrive once, signed, in order, with the exact Message
/// of the HTTP response; the key's own write does not come back to it; another project's key gets
/// nothing; the deliveries endpoint shows them delivered, newest first.
#[test]
fn each_committed_write_arrives_once_signed_in_order() {
    let server = hook_server("webhooks");
    let api = server.client();
    let (mine, other) = (Receiver::start(), Receiver::start());
    let project = "proj_hooks";
    let (key_id, key, secret) = hooked_key(&api, project, &mine.url());
    let (other_id, _, _) = hooked_key(&api, "proj_elsewhere", &other.url());
    let (alice, bob) = (unique_user("alice"), unique_user("bob"));
    let chat = project_chat(&api, &alice, &bob, project);
    api.grant(&alice, 50, &format!("grant-{alice}")).expect(201);

    let sent = api.send(&alice, &chat, "hello hooks");
    sent.expect(201);
    let id = sent.body["_id"].as_str().unwrap().to_string();
    // Replays, refusals and read marks make no event.
    let keyed = api.post(
        "/api/v1/messages",
        &token(&alice),
        &json!({"chatId": chat, "content": "x", "clientMessageId": "c1"}),
    );
    keyed.expect(201);
    let replay = api.post(
        "/api/v1/messages",
        &token(&alice),
        &json!({"chatId": chat, "content": "x", "clientMessageId": "c1"}),
    );
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    api.transfer(&alice, &chat, &bob, 500, None).expect(422);
    let transfer = api.transfer(&alice, &chat, &bob, 5, None);
    transfer.expect(201);
    api.mark_read(&bob, &chat, &json!({})).expect(200);
    let edited = api.edit(&alice, &id, "hello again");
    edited.expect(200);
    let deleted = api.delete(&alice, &id);
    deleted.expect(200);
    // The key's own message is not sent back to it.
    api.with_key(
        "POST",
        "/api/v1/messages",
        &key,
        Some(&json!({"chatId": chat, "content": "from the key itself"})),
    )
    .expect(201);

    let expected = [
        ("message.created", &sent.body),
        ("message.created", &keyed.body),
        ("message.created", &transfer.body),
        ("message.updated", &edited.body),
        ("message.deleted", &deleted.body),
    ];
    let got = mine.wait_for(expected.len(), Duration::from_secs(20));
    // Nothing more comes (once each; not the key's own message).
    std::thread::sleep(Duration::from_millis(1500));
    let got_all = mine.received();
    assert_eq!(got_all.len(), expected.len(), "{got_all:?}");
    for (request, (kind, message)) in got.iter().zip(expected) {
        assert_signed(request, &secret);
        let body = request.json();
        assert_eq!(body["type"], kind, "{body}");
        assert_eq!(
            &body["data"], message,
            "the Message of the write's response"
        );
        assert!(body["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
    assert!(
        other.received().is_empty(),
        "another project's key got events"
    );

    let list = deliveries_until(&api, &key_id, |list| {
        list.len() == expected.len() && list.iter().all(|d| d["status"] == "delivered")
    });
    let ids: Vec<&str> = got
        .iter()
        .rev()
        .map(|r| r.header("Edge-Chat-Event-Id").unwrap())
        .collect();
    let listed: Vec<&str> = list
        .iter()
        .map(|d| d["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids, "newest first");
    for d in &list {
        assert_eq!(
            (d["attempts"].as_i64(), d["lastStatusCode"].as_i64()),
            (Some(1), Some(200))
        );
        assert!(d["nextAttemptAt"].is_null() && d["chatId"] == chat.as_str());
    }
    assert!(deliveries(&api, &other_id).is_empty());
    let one = admin(
        &api,
        "GET",
        &format!("/api/v1/admin/api-keys/{key_id}/deliveries?limit=1"),
        None,
    );
    one.expect(200);
    assert_eq!(one.body["deliveries"].as_array().unwrap().len(), 1);

    // Removing the webhook: the next write goes nowhere.
    let removed = admin(
        &api,
        "PATCH",
        &format!("/api/v1/admin/api-keys/{key_id}"),
        Some(&json!({"webhookUrl": null})),
    );
    removed.expect(200);
    assert!(removed.body["webhookUrl"].is_null() && removed.body.get("webhookSecret").is_none());
    api.send(&alice, &chat, "after removal").expect(201);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(mine.received().len(), expected.len());
    // Nothing secret, and no message content, in the server's logs.
    let output = server.output();
    for secret in [
        secret.as_str(),
        key.as_str(),
        WEBHOOK_SIGNING_KEY,
        "hello hooks",
        "hello again",
    ] {
        assert!(!output.contains(secret), "the log shows {secret}");
    }
    drop(server);
}

/// A receiver that answers 500 three times gets the event on the 4th attempt (after 1 s, 2 s and 4 s);
/// the deliveries endpoint shows the attempts as they happen.
#[test]
fn a_failing_receiver_is_retried_with_backoff_until_it_answers() {
    let server = hook_server("webhook-retries");
    let api = server.client();
    let receiver = Receiver::start();
    receiver.answer_next(&[500, 500, 500]);
    let (key_id, _, secret) = hooked_key(&api, "proj_retry", &receiver.url());
    let (alice, bob) = (unique_user("alice"), unique_user("bob"));
    let chat = project_chat(&api, &alice, &bob, "proj_retry");
    api.send(&alice, &chat, "retry me").expect(201);

    let pending = deliveries_until(&api, &key_id, |list| {
        list.len() == 1 && list[0]["attempts"].as_i64() >= Some(2)
    });
    if pending[0]["status"] == "pending" {
        assert_eq!(pending[0]["lastStatusCode"], 500);
        assert!(pending[0]["nextAttemptAt"].is_string());
    }
    let got = receiver.wait_for(4, Duration::from_secs(20));
    let ids: Vec<_> = got.iter().map(|r| r.header("Edge-Chat-Event-Id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one event: {ids:?}");
    let gaps: Vec<u128> = got
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_millis())
        .collect();
    for (gap, wait) in gaps.iter().zip([1000, 2000, 4000]) {
        assert!(*gap >= wait - 100, "gaps {gaps:?}");
    }
    assert_signed(&got[3], &secret);
    let list = deliveries_until(&api, &key_id, |list| list[0]["status"] == "delivered");
    assert_eq!(list[0]["attempts"], 4);
    assert_eq!(list[0]["lastStatusCode"], 200);
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(receiver.received().len(), 4);
    drop(server);
}

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

/// 20 sends while the receiver is down take as long as 20 sends into a chat no webhook watches, and
/// all 20 arrive, in order, once the receiver is back.
#[test]
fn a_dead_receiver_slows_no_send_and_gets_all_in_order_once_back() {
    let server = hook_server("webhook-down");
    let api = server.client();
    let receiver = Receiver::start();
    let (port, url) = (receiver.port, receiver.url());
    drop(receiver);
    let (_, _, secret) = hooked_key(&api, "proj_down", &url);
    let (alice, bob) = (unique_user("alice"), unique_user("bob"));
    let watched = project_chat(&api, &alice, &bob, "proj_down");
    let quiet = project_chat(&api, &alice, &bob, "proj_quiet");
    // Warm both chats' objects.
    api.send(&alice, &quiet, "warm").expect(201);
    let first = api.send(&alice, &watched, "warm");
    first.expect(201);
    let timed = |chat: &str, label: &str| -> Vec<Duration> {
        (0..20)
            .map(|i| {
                let start = Instant::now();
                api.send(&alice, chat, &format!("{label} {i}")).expect(201);
                start.elapsed()
            })
            .collect()
    };
    let quiet_ms = median_ms(timed(&quiet, "quiet"));
    let watched_ms = median_ms(timed(&watched, "watched"));
    assert!(
        watched_ms < quiet_ms * 3.0 + 50.0,
        "median send {watched_ms:.1} ms with a dead webhook, {quiet_ms:.1} ms without"
    );

    let receiver = Receiver::start_on(port);
    let got = receiver.wait_for(21, Duration::from_secs(40));
    let mut seen = Vec::new();
    for request in &got {
        assert_signed(request, &secret);
        let body = request.json();
        let seq = body["data"]["sequenceNumber"].as_i64().expect("sequence");
        if !seen.contains(&seq) {
            seen.push(seq);
        }
    }
    let first_seq = first.body["sequenceNumber"].as_i64().unwrap();
    let want: Vec<i64> = (first_seq..first_seq + 21).collect();
    assert_eq!(seen, want, "in sequence order, none missing");
    drop(server);
}

/// `wrangler dev` stops with deliveries pending (the receiver is down) and starts again on the same
/// state: they are delivered afterwards, in order, with no new write to wake the chat.
#[test]
fn pending_deliveries_survive_a_restart() {
    let state = temp_state_dir("webhook-restart");
    let vars = [("WEBHOOK_ALLOW_LOOPBACK", "true")];
    let server = TestServer::start_with(&state, false, &vars);
    let api = server.client();
    let receiver = Receiver::start();
    let (port, url) = (receiver.port, receiver.url());
    drop(receiver);
    let (key_id, _, secret) = hooked_key(&api, "proj_restart", &url);
    let (alice, bob) = (unique_user("alice"), unique_user("bob"));
    let chat = project_chat(&api, &alice, &bob, "proj_restart");
    let sent: Vec<Value> = (0..3)
        .map(|i| {
            let resp = api.send(&alice, &chat, &format!("pending {i}"));
            resp.expect(201);
            resp.body.clone()
        })
        .collect();
    deliveries_until(&api, &key_id, |list| {
        list.len() == 3 && list.iter().all(|d| d["status"] == "pending")
    });
    server.stop();

    let receiver = Receiver::start_on(port);
    let server = TestServer::start_with(&state, true, &vars);
    let got = receiver.wait_for(3, Duration::from_secs(60));
    let mut bodies: Vec<Value> = Vec::new();
    for request in &got {
        assert_signed(request, &secret);
        let data = request.json()["data"].clone();
        if !bodies.contains(&data) {
            bodies.push(data);
        }
    }
    assert_eq!(bodies, sent);
    drop(server);
}

/// Bad webhook URLs are a 400 when set; the secret is shown once; a revoked key takes no new webhook.
#[test]
fn webhook_urls_are_checked_when_set() {
    // The shared server does not allow loopback: plain http to 127.0.0.1 is refused there.
    let shared = app();
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://hooks.example.com/x",
        "https://2130706433/x",
        "https://0x7f.1/x",
        "https://0177.0.0.1/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[::1]/x",
    ] {
        shared
            .create_key(&json!({"name": "bad", "webhookUrl": url}))
            .expect(400);
    }
    let server = hook_server("webhook-urls");
    let api = server.client();
    for url in [
        "http://hooks.example.com/x",
        "ftp://hooks.example.com/x",
        "garbage",
        "https://10.0.0.1/x",
        "https://192.168.1.20/x",
        "https://172.16.0.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://3232235777/x",
        "https://0xa9fea9fe/x",
        "https://[::ffff:10.0.0.1]/x",
        "https://[fd00::1]/x",
        "https://[fe80::1]/x",
        "https://hooks.example.com@127.0.0.1/x",
        "https://db.internal/x",
        "https://intranet/x",
        "https://hooks.example.com/x#frag",
    ] {
        let resp = api.create_key(&json!({"name": "bad", "webhookUrl": url}));
        resp.expect(400);
        assert!(
            resp.error_text().contains("webhookUrl"),
            "{url}: {}",
            resp.text
        );
    }
    api.create_key(&json!({"name": "bad", "webhookUrl": 5}))
        .expect(400);

    // A public https URL (and loopback http here) is taken, with a new secret each time it is set.
    let (key_id, _, first) = hooked_key(&api, "proj_urls", "https://hooks.example.com/x");
    let path = format!("/api/v1/admin/api-keys/{key_id}");
    let again = admin(
        &api,
        "PATCH",
        &path,
        Some(&json!({"webhookUrl": "https://hooks.example.com/y"})),
    );
    again.expect(200);
    let second = again.body["webhookSecret"].as_str().unwrap();
    assert!(second.starts_with("whsec_") && second != first);
    let listed = admin(&api, "GET", "/api/v1/admin/api-keys", None);
    listed.expect(200);
    assert!(!listed.text.contains("whsec_"), "secrets are shown once");
    let entry = listed.body["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["_id"] == key_id.as_str())
        .unwrap();
    assert_eq!(entry["webhookUrl"], "https://hooks.example.com/y");
    for (body, status) in [
        (json!({"webhookUrl": "https://10.1.2.3/"}), 400),
        (json!({}), 400),
        (json!({"webhookUrl": 1}), 400),
    ] {
        admin(&api, "PATCH", &path, Some(&body)).expect(status);
    }
    let missing = "/api/v1/admin/api-keys/64d15f9e2e6c8f4d5a000000";
    admin(&api, "PATCH", missing, Some(&json!({"webhookUrl": null}))).expect(404);
    admin(&api, "GET", &format!("{missing}/deliveries"), None).expect(404);
    for query in ["limit=0", "limit=101", "limit=x"] {
        admin(&api, "GET", &format!("{path}/deliveries?{query}"), None).expect(400);
    }
    api.with_key("GET", &format!("{path}/deliveries"), "eck_nope", None)
        .expect(401);
    // Revoked: the webhook can be removed, not set.
    admin(&api, "DELETE", &path, None).expect(200);
    let url = json!({"webhookUrl": "https://hooks.example.com/z"});
    admin(&api, "PATCH", &path, Some(&url)).expect(409);
    let removed = admin(&api, "PATCH", &path, Some(&json!({"webhookUrl": null})));
    removed.expect(200);
    assert!(removed.body["webhookUrl"].is_null());
    drop(server);
}

/// A receiver that accepts connections and never answers (each held open until it is dropped).
struct HangingReceiver {
    port: u16,
    stop: Arc<AtomicBool>,
    /// Connections accepted so far, and of those, the ones the worker has closed (its attempt ended).
    accepted: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HangingReceiver {
    /// A receiver that reads each request and never answers; a thread per connection notes when the
    /// worker gives up and closes it.
    fn start() -> HangingReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let (accepted, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let held = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, accepted, closed, held) =
                (stop.clone(), accepted.clone(), closed.clone(), held.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    if let Ok(clone) = stream.try_clone() {
                        held.lock().unwrap().push(clone);
                    }
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let closed = closed.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 4096];
                        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
                        closed.fetch_add(1, Ordering::SeqCst);
                    });
                }
            })
        };
        HangingReceiver {
            port,
            stop,
            accepted,
            closed,
            held,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

impl Drop for HangingReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Ends the connection threads: their reads return.
        for stream in self.held.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// With 50 deliveries pending to receivers that hang and to hosts that do not resolve, the chat's
/// sends and read marks answer while the hanging deliveries are still in flight, and no delivery
/// failure escapes as an uncaught exception (which would reset the chat's object and fail its
/// writes). No clock is read: a hanging receiver never answers, so an attempt to it ends only when
/// the worker gives up (10 s) and closes the connection; "every write answered while each hanging
/// key's first attempt was open and none had ended" is the order that shows no write waits for a
/// delivery.
#[test]
fn writes_answer_promptly_while_deliveries_hang_or_fail() {
    let server = hook_server("webhook-hang");
    let api = server.client();
    let hanging = HangingReceiver::start();
    let project = "proj_hang";
    for i in 0..5 {
        hooked_key(&api, project, &hanging.url());
        hooked_key(
            &api,
            project,
            &format!("https://edge-chat-unresolvable-{i}.example.com/hook"),
        );
    }
    let (alice, bob) = (unique_user("alice"), unique_user("bob"));
    let watched = project_chat(&api, &alice, &bob, project);
    // 5 sends to 10 keys: 50 deliveries, all pending.
    for i in 0..5 {
        api.send(&alice, &watched, &format!("pending {i}"))
            .expect(201);
    }
    // Each hanging key's first delivery is in flight once the receiver holds its connection.
    let deadline = Instant::now() + Duration::from_secs(30);
    while hanging.accepted() < 5 {
        assert!(
            Instant::now() < deadline,
            "only {} of the 5 hanging keys' first attempts connected",
            hanging.accepted()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for i in 0..15 {
        api.send(&alice, &watched, &format!("watched {i}"))
            .expect(201);
        api.mark_read(&bob, &watched, &json!({})).expect(200);
    }
    assert_eq!(
        hanging.closed(),
        0,
        "a hanging attempt ended before the writes did"
    );
    let log = server.output();
    assert!(
        log.contains("DNS lookup failed"),
        "the unresolvable hosts were tried"
    );
    let uncaught: Vec<&str> = log.lines().filter(|l| l.contains("Uncaught")).collect();
    assert!(uncaught.is_empty(), "uncaught exceptions: {uncaught:?}");
    drop(server);
}

/// Reactions, pins and replies reach a live socket and another key's webhook as API.md says, in commit
/// order with the chat's other events: `reaction.updated` with the live event's data, the pinned and
/// unpinned message as `message.updated`, a reply as `message.created` followed by its parent's
/// `message.updated` (its new replyCount), and a deleted reply likewise; a key's own reaction does not
/// come back to it.
#[test]
fn interactions_arrive_live_and_by_webhook_in_commit_order() {
    let server = hook_server("interaction-events");
    let api = server.client();
    let receiver = Receiver::start();
    let project = "proj_interactions";
    let (_, own_key, secret) = hooked_key(&api, project, &receiver.url());
    let (alice, bob, carol) = (
        unique_user("ie-a"),
        unique_user("ie-b"),
        unique_user("ie-c"),
    );
    let created = api.create_chat(
        &token(&alice),
        &json!({"participantIds": [bob, carol], "type": "group", "projectId": project}),
    );
    created.expect(201);
    let chat = created.body["_id"].as_str().unwrap().to_string();
    let mut socket = crate::live::connect(&api, &carol, &chat);

    let parent = api.send(&alice, &chat, "parent");
    parent.expect(201);
    let parent_id = parent.body["_id"].as_str().unwrap().to_string();
    let react = api.raw(
        "PUT",
        &format!("/api/v1/messages/{parent_id}/reactions/%F0%9F%91%8D"),
        &[("Authorization", &format!("Bearer {}", token(&bob)))],
        None,
    );
    react.expect(200);
    let pin_path = format!("/api/v1/messages/{parent_id}/pin");
    let auth = format!("Bearer {}", token(&alice));
    let pinned = api.raw("PUT", &pin_path, &[("Authorization", &auth)], None);
    pinned.expect(200);
    let reply = api.post(
        "/api/v1/messages",
        &token(&bob),
        &json!({"chatId": chat, "content": "a reply", "parentId": parent_id, "mentions": [carol]}),
    );
    reply.expect(201);
    let reply_id = reply.body["_id"].as_str().unwrap().to_string();
    let deleted = api.delete(&bob, &reply_id);
    deleted.expect(200);
    let unpinned = api.raw("DELETE", &pin_path, &[("Authorization", &auth)], None);
    unpinned.expect(200);
    // The key's own reaction is not delivered back to it.
    api.with_key(
        "PUT",
        &format!("/api/v1/messages/{parent_id}/reactions/ok"),
        &own_key,
        None,
    )
    .expect(200);

    let expected: Vec<(&str, &str, Value)> = vec![
        ("message.created", parent_id.as_str(), json!(1)),
        ("reaction.updated", parent_id.as_str(), json!({"👍": 1})),
        ("message.updated", parent_id.as_str(), json!(true)),
        ("message.created", reply_id.as_str(), json!(carol)),
        ("message.updated", parent_id.as_str(), json!(1)),
        ("message.deleted", reply_id.as_str(), Value::Null),
        ("message.updated", parent_id.as_str(), json!(0)),
        ("message.updated", parent_id.as_str(), json!(false)),
    ];
    // What each event shows of its change: the reply count, the pin, the counts, the mention.
    let shown = |kind: &str, data: &Value, i: usize| -> Value {
        match (kind, i) {
            ("reaction.updated", _) => data["reactionCounts"].clone(),
            (_, 0) => json!(data["sequenceNumber"]),
            (_, 2) | (_, 7) => json!(data["pinnedAt"].is_string()),
            (_, 3) => data["mentions"][0].clone(),
            (_, 5) => Value::Null,
            _ => data["replyCount"].clone(),
        }
    };
    let mut live = Vec::new();
    while live.len() < expected.len() + 1 {
        let frame = crate::live::next_json(&mut socket);
        let kind = frame["event"].as_str().unwrap_or_default().to_string();
        if kind.starts_with("message.") || kind == "reaction.updated" {
            live.push(frame);
        }
    }
    for (i, (frame, (kind, id, what))) in live.iter().zip(&expected).enumerate() {
        assert_eq!(frame["event"], *kind, "live event {i}: {frame}");
        let data = &frame["data"];
        let about = data.get("messageId").unwrap_or(&data["_id"]);
        assert_eq!(about, id, "live event {i}: {frame}");
        assert_eq!(shown(kind, data, i), *what, "live event {i}: {frame}");
    }
    // The reaction's live data names who reacted and how; the key's own reaction comes last, live.
    assert_eq!(
        live[1]["data"],
        json!({"chatId": chat, "messageId": parent_id, "userId": bob, "key": "👍", "added": true,
               "reactionCounts": {"👍": 1}})
    );
    assert_eq!(live[8]["event"], "reaction.updated");

    let got = receiver.wait_for(expected.len(), Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        receiver.received().len(),
        expected.len(),
        "the key's own reaction came back"
    );
    for (i, (request, (kind, id, what))) in got.iter().zip(&expected).enumerate() {
        assert_signed(request, &secret);
        let body = request.json();
        assert_eq!(body["type"], *kind, "webhook {i}: {body}");
        let data = &body["data"];
        let about = data.get("messageId").unwrap_or(&data["_id"]);
        assert_eq!(about, id, "webhook {i}: {body}");
        assert_eq!(shown(kind, data, i), *what, "webhook {i}: {body}");
        if *kind != "reaction.updated" {
            crate::contract::check_component("Message", data);
        }
    }
    assert_eq!(
        got[1].json()["data"],
        live[1]["data"],
        "the live event's data"
    );
    drop(server);
}

/// The outbox (API.md "Webhooks"): a burst of sends from several clients, the server's whole process
/// group killed (SIGKILL) once some have been answered, a new server on the same state: the receiver
/// gets an event for every message that committed, and the first delivery of each comes in sequence
/// order. Repeated at several points of the burst. The per-minute sweep (`/__scheduled`) wakes the
/// chat's object, which has had no write since.
#[test]
fn a_killed_server_loses_no_webhook_event_of_a_committed_write() {
    let vars = [("WEBHOOK_ALLOW_LOOPBACK", "true")];
    for (round, kill_after) in [2_usize, 9, 23].into_iter().enumerate() {
        let state = temp_state_dir(&format!("outbox-kill-{round}"));
        let server = TestServer::start_with(&state, false, &vars);
        let api = server.client();
        let receiver = Receiver::start();
        hooked_key(&api, "proj_outbox", &receiver.url());
        let (alice, bob) = (unique_user("alice"), unique_user("bob"));
        let chat = project_chat(&api, &alice, &bob, "proj_outbox");
        let answered = Arc::new(AtomicUsize::new(0));
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let (api, chat, answered) = (api.clone(), chat.clone(), answered.clone());
                let sender = if t % 2 == 0 {
                    alice.clone()
                } else {
                    bob.clone()
                };
                std::thread::spawn(move || {
                    for i in 0..40 {
                        let body = json!({"chatId": chat, "content": format!("burst {t}.{i}")});
                        let auth = format!("Bearer {}", token(&sender));
                        let text = body.to_string();
                        let sent = api.try_raw(
                            "POST",
                            "/api/v1/messages",
                            &[
                                ("Authorization", &auth),
                                ("Content-Type", "application/json"),
                            ],
                            Some(text.as_bytes()),
                        );
                        match sent {
                            Ok(resp) if resp.status == 201 => {
                                answered.fetch_add(1, Ordering::SeqCst);
                            }
                            _ => return,
                        }
                    }
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while answered.load(Ordering::SeqCst) < kill_after {
            assert!(Instant::now() < deadline, "the burst never got going");
            std::thread::sleep(Duration::from_millis(2));
        }
        server.kill();
        for sender in senders {
            let _ = sender.join();
        }

        let server = TestServer::start_with(&state, true, &vars);
        let api = server.client();
        let committed: Vec<(i64, String)> = api
            .all_messages(&alice, &chat)
            .iter()
            .map(|m| {
                (
                    m["sequenceNumber"].as_i64().unwrap(),
                    m["_id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            committed.len() >= kill_after,
            "{} committed",
            committed.len()
        );
        let deadline = Instant::now() + Duration::from_secs(90);
        let firsts = loop {
            // The first delivery of each message's created event, in arrival order.
            let mut firsts: Vec<i64> = Vec::new();
            for request in receiver.received() {
                let event = request.json();
                if event["type"] != "message.created" {
                    continue;
                }
                let seq = event["data"]["sequenceNumber"].as_i64().unwrap();
                if !firsts.contains(&seq) {
                    firsts.push(seq);
                }
            }
            if firsts.len() >= committed.len() {
                break firsts;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: {} of {} committed messages delivered: {firsts:?}",
                firsts.len(),
                committed.len()
            );
            let _ = ureq::get(&format!("{}/__scheduled?cron=*+*+*+*+*", api.base_url)).call();
            std::thread::sleep(Duration::from_millis(500));
        };
        let expected: Vec<i64> = committed.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(
            firsts, expected,
            "round {round}: every committed message, in order"
        );
        let output = server.output();
        eprintln!(
            "round {round}: {} committed, recovery lines: {:?}",
            committed.len(),
            output
                .lines()
                .filter(|l| l.contains("recovered") || l.contains("outbox"))
                .collect::<Vec<_>>()
        );
        drop(server);
    }
}

/// A before-send hook: a real HTTP server on loopback that answers by the message's content: `reject`
/// rejects, `replace` replaces it with `[redacted]`, `hang` answers after 3 s, `boom` is a 500,
/// `garbage` a 200 that is no answer; anything else is allowed.
struct HookReceiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl HookReceiver {
    fn start() -> HookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind hook");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (got, halt) = (received.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let got = got.clone();
                std::thread::spawn(move || hook_answer(stream, &got));
            }
        });
        HookReceiver {
            port,
            received,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/before-send", self.port)
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    fn last(&self) -> Received {
        self.received
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a hook request")
    }
}

impl Drop for HookReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn hook_answer(stream: TcpStream, got: &Mutex<Vec<Received>>) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    let content = request.json()["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    got.lock().unwrap().push(request);
    let (status, body) = if content.contains("reject") {
        (200, r#"{"action":"reject","reason":"no rejects here"}"#)
    } else if content.contains("replace") {
        (200, r#"{"action":"replace","content":"[redacted]"}"#)
    } else if content.contains("boom") {
        (500, "{}")
    } else if content.contains("garbage") {
        (200, "this is not an answer")
    } else {
        if content.contains("hang") {
            std::thread::sleep(Duration::from_secs(3));
        }
        (200, r#"{"action":"allow"}"#)
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// One HTTP/1.1 request (headers and a Content-Length body).
fn read_request(stream: &TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    if line.is_empty() {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        headers,
        body: String::from_utf8(body).ok()?,
        at: Instant::now(),
    })
}

fn user_send(api: &Api, user: &str, body: &Value) -> Resp {
    api.post("/api/v1/messages", &token(user), body)
}

/// API.md's before-send hook against a real receiver: allow, reject (422, nothing stored, no sequence
/// number), replace (stored replaced; a retry of the original body replays it without a call), a
/// hook that hangs, answers 500 or garbage (fail open, then 503 with Retry-After once the key fails
/// closed); edits are asked too; a service key's writes never are; a chat no hook reaches pays
/// nothing (round trips and rows unchanged).
#[test]
fn before_send_hooks_allow_reject_replace_and_fail_open_or_closed() {
    let server = hook_server("before-send");
    let api = server.client();
    let hook = HookReceiver::start();
    let (alice, bob) = (unique_user("alice"), unique_user("bob"));
    // Before any hook: what a send costs in a chat of another project.
    let quiet = project_chat(&api, &alice, &bob, "proj_quiet");
    let cost =
        |resp: &Resp| ["x-d1-queries", "x-d1-rows-read", "x-d1-rows-written"].map(|h| resp.cost(h));
    user_send(&api, &alice, &json!({"chatId": quiet, "content": "first"})).expect(201);
    let before = user_send(
        &api,
        &alice,
        &json!({"chatId": quiet, "content": "no hook"}),
    );
    before.expect(201);

    let created = api.create_key(&json!({
        "name": "moderation", "projectId": "proj_hook", "beforeSendUrl": hook.url()
    }));
    created.expect(201);
    assert_eq!(created.body["beforeSendUrl"], hook.url().as_str());
    assert_eq!(created.body["beforeSendFailClosed"], false);
    assert!(created.body["webhookUrl"].is_null());
    let secret = created.body["webhookSecret"]
        .as_str()
        .expect("secret")
        .to_string();
    let key_id = created.body["_id"].as_str().unwrap().to_string();
    let key = created.body["key"].as_str().unwrap().to_string();

    // A chat the hook does not reach pays nothing for it.
    let after = user_send(
        &api,
        &alice,
        &json!({"chatId": quiet, "content": "still no hook"}),
    );
    after.expect(201);
    assert_eq!(
        cost(&after),
        cost(&before),
        "a chat without a hook pays the same"
    );
    assert_eq!(hook.count(), 0);

    let chat = project_chat(&api, &alice, &bob, "proj_hook");
    let allowed = user_send(&api, &alice, &json!({"chatId": chat, "content": "hello"}));
    allowed.expect(201);
    assert_eq!(allowed.body["content"], "hello");
    assert_eq!(hook.count(), 1);
    let asked = hook.last();
    assert_signed(&asked, &secret);
    let event = asked.json();
    assert_eq!(event["type"], "message.sending");
    assert!(event["data"].get("_id").is_none(), "{event}");
    assert!(event["data"]["sequenceNumber"].is_null());
    assert_eq!(event["data"]["content"], "hello");
    assert_eq!(event["data"]["senderId"], alice.as_str());

    let rejected = user_send(
        &api,
        &alice,
        &json!({"chatId": chat, "content": "please reject"}),
    );
    rejected.expect(422);
    assert_eq!(rejected.error_text(), "no rejects here");

    let original = json!({"chatId": chat, "content": "please replace", "clientMessageId": "r-1"});
    let replaced = user_send(&api, &alice, &original);
    replaced.expect(201);
    assert_eq!(replaced.body["content"], "[redacted]");
    let calls = hook.count();
    let replay = user_send(&api, &alice, &original);
    replay.expect(201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body["_id"], replaced.body["_id"]);
    assert_eq!(hook.count(), calls, "a replay never calls the hook");

    // Fail open: a 500, garbage, a hook slower than 2 s.
    for content in ["boom", "garbage", "hang on"] {
        let sent = user_send(&api, &alice, &json!({"chatId": chat, "content": content}));
        sent.expect(201);
        assert_eq!(sent.body["content"], content);
    }

    // Edits are asked too.
    let id = allowed.body["_id"].as_str().unwrap();
    let edit = |content: &str| {
        api.send_json(
            "PATCH",
            &format!("/api/v1/messages/{id}"),
            &token(&alice),
            &json!({"content": content}),
        )
    };
    edit("now reject").expect(422);
    let edited = edit("fine now");
    edited.expect(200);
    assert_eq!(edited.body["content"], "fine now");
    assert_eq!(hook.last().json()["type"], "message.editing");
    assert_eq!(hook.last().json()["data"]["_id"], id);

    // A service key's writes are never asked.
    let calls = hook.count();
    let by_key = api.with_key(
        "POST",
        "/api/v1/messages",
        &key,
        Some(&json!({"chatId": chat, "content": "please reject me, says the assistant"})),
    );
    by_key.expect(201);
    assert_eq!(hook.count(), calls);

    // Fail closed: no answer is a 503 with Retry-After, and nothing is stored.
    let patched = admin(
        &api,
        "PATCH",
        &format!("/api/v1/admin/api-keys/{key_id}"),
        Some(&json!({"beforeSendFailClosed": true})),
    );
    patched.expect(200);
    assert_eq!(patched.body["beforeSendFailClosed"], true);
    assert!(
        patched.body.get("webhookSecret").is_none(),
        "the secret stays"
    );
    for content in ["boom again", "garbage again"] {
        let refused = user_send(&api, &alice, &json!({"chatId": chat, "content": content}));
        refused.expect(503);
        assert!(refused.header("retry-after").is_some());
    }

    // Every refused write took no sequence number: they are dense.
    let all = api.all_messages(&alice, &chat);
    let seqs: Vec<i64> = all
        .iter()
        .map(|m| m["sequenceNumber"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=all.len() as i64).collect::<Vec<_>>());
    let contents: Vec<&str> = all
        .iter()
        .map(|m| m["content"].as_str().unwrap_or(""))
        .collect();
    assert!(
        !contents
            .iter()
            .any(|c| c.contains("reject") && !c.contains("assistant")),
        "{contents:?}"
    );
    assert!(!contents.contains(&"boom again"));

    // Removing the hook: sends go straight through again.
    admin(
        &api,
        "PATCH",
        &format!("/api/v1/admin/api-keys/{key_id}"),
        Some(&json!({"beforeSendUrl": null})),
    )
    .expect(200);
    let calls = hook.count();
    user_send(
        &api,
        &alice,
        &json!({"chatId": chat, "content": "please reject"}),
    )
    .expect(201);
    assert_eq!(hook.count(), calls);
    // The log names the key and why a hook gave no answer; never a message or a hook's body.
    let output = server.output();
    assert!(
        output.contains(&format!("before-send: key {key_id}")),
        "{output}"
    );
    for secret in [
        "please reject",
        "this is not an answer",
        "no rejects here",
        "garbage again",
    ] {
        assert!(
            !output.contains(secret),
            "the log shows {secret:?}:\n{output}"
        );
    }
}
