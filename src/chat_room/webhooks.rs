//! Webhook deliveries of one chat (API.md "Webhooks"), kept and sent by the chat's Durable Object.
//!
//! After a group commits, each committed write becomes an event, recorded once per interested key
//! (the live keys with a webhook whose reach includes the chat, read in the commit's own D1 batch; never
//! the key that made the write) in the object's SQLite storage, in commit order, before the writes are
//! answered: a restart loses none, and the write path gains no D1 round trip. The alarm sends them:
//! per key, the oldest first, and the next only once it is delivered or given up (order per chat and
//! key); keys in parallel, so one dead receiver delays no other key's events, and never a write.
//! A failed attempt (no 2xx within 10 s, redirects not followed) waits 1 s, doubling to 1 hour; 24 hours
//! after the commit the delivery is given up. After each round the object records the deliveries' states
//! in D1 (`webhook_deliveries`) for the admin's deliveries endpoint.
//!
//! Each round's work is bounded, whatever the number of keys and events: at most `MAX_PARALLEL` keys are
//! sent to at once (a Worker invocation holds 6 connections open at a time anyway) and at most
//! `MAX_ATTEMPTS_PER_RUN` attempts are made; the alarm comes back at once for the rest. Unbounded, a
//! chat watched by hundreds of keys whose hosts do not resolve started hundreds of doomed fetches per
//! round, every round: under `wrangler dev` that flood stalled the whole runtime (requests of other
//! chats waited 10 s, some were lost with wrangler's 503 "Your worker restarted mid-request").

use std::cell::Cell;

use futures_util::future::{select, Either};
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use worker::{
    console_error, AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit,
    RequestRedirect, SqlStorage, SqlStorageValue, State,
};

use crate::domain::time::{now_ms, Timestamp};
use crate::domain::webhooks::{self as rules, AfterAttempt};
use crate::store::keys::{self, DeliveryRecord, Hook};
use crate::store::{Db, SessionStart};

/// The most keys one alarm run sends to at the same time.
const MAX_PARALLEL: usize = 6;
/// The most attempts one alarm run makes, over all keys (the alarm comes back at once for the rest):
/// with the D1 record of the round, a run stays within 100 D1 statements.
const MAX_ATTEMPTS_PER_RUN: usize = 50;

const QUEUE_SQL: &str = "CREATE TABLE IF NOT EXISTS webhook_queue (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  key_id     TEXT NOT NULL,
  url        TEXT NOT NULL,
  nonce      TEXT NOT NULL,
  event_id   TEXT NOT NULL,
  type       TEXT NOT NULL,
  chat_id    TEXT NOT NULL,
  message_id TEXT NOT NULL,
  body       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0,
  next_at    INTEGER NOT NULL,
  last_status INTEGER,
  -- 1 once D1's webhook_deliveries has a row for it (the admin sees it pending before its first
  -- attempt, even while it waits behind an earlier one).
  recorded   INTEGER NOT NULL DEFAULT 0)";
const QUEUE_INDEX_SQL: &str =
    "CREATE INDEX IF NOT EXISTS webhook_queue_by_key ON webhook_queue (key_id, id)";
const ENQUEUE_SQL: &str = "INSERT INTO webhook_queue (key_id, url, nonce, event_id, type, chat_id,
     message_id, body, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const KEYS_SQL: &str = "SELECT DISTINCT key_id FROM webhook_queue";
const HEAD_SQL: &str =
    "SELECT id, url, nonce, event_id, type, chat_id, message_id, body, created_at,
     attempts, next_at FROM webhook_queue WHERE key_id = ? ORDER BY id LIMIT 1";
/// Deliveries D1 has no row for yet (`HEAD_SQL`'s columns, the body left out), oldest first.
const UNRECORDED_SQL: &str = "SELECT id, url, nonce, event_id, type, chat_id, message_id, '' AS body,
     created_at, attempts, next_at, key_id FROM webhook_queue WHERE recorded = 0 ORDER BY id LIMIT 50";
const RECORDED_SQL: &str = "UPDATE webhook_queue SET recorded = 1 WHERE id <= ? AND recorded = 0";
const DONE_SQL: &str = "DELETE FROM webhook_queue WHERE id = ?";
const RETRY_SQL: &str =
    "UPDATE webhook_queue SET attempts = ?, next_at = ?, last_status = ? WHERE id = ?";

/// A committed write as an event: what every interested key is sent.
pub struct Event {
    pub id: String,
    pub kind: &'static str,
    pub chat_id: String,
    pub message_id: String,
    /// The JSON body, `{"id", "type", "createdAt", "data": Message}`.
    pub body: String,
    pub created_at: i64,
    /// The key that made the write, which is not sent its own event.
    pub author_key: Option<String>,
}

/// The body of a webhook delivery: the committed write's Message exactly as its HTTP response carried
/// it; createdAt is the commit's time.
#[derive(Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(rename = "WebhookEvent")]
pub struct Payload<'a, T: Serialize> {
    #[schemars(with = "crate::domain::webhooks::EventId")]
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: crate::domain::live::MessageEvent,
    pub created_at: Timestamp,
    pub data: T,
}

/// The newest group of the chat whose deliveries are queued here (`through`, its outbox stamp), and
/// up to which the D1 outbox rows were deleted (`cleared`). One row.
const MARK_SQL: &str = "CREATE TABLE IF NOT EXISTS outbox_mark (
  one     INTEGER PRIMARY KEY CHECK (one = 1),
  chat_id TEXT NOT NULL,
  through INTEGER NOT NULL,
  cleared INTEGER NOT NULL DEFAULT 0)";
const SET_MARK_SQL: &str = "INSERT INTO outbox_mark (one, chat_id, through) VALUES (1, ?, ?)
     ON CONFLICT (one) DO UPDATE SET through = MAX(through, excluded.through)";
const READ_MARK_SQL: &str = "SELECT chat_id, through, cleared FROM outbox_mark WHERE one = 1";
const CLEARED_SQL: &str = "UPDATE outbox_mark SET cleared = MAX(cleared, ?) WHERE one = 1";

fn storage(state: &State) -> worker::Result<SqlStorage> {
    let sql = state.storage().sql();
    sql.exec(QUEUE_SQL, None)?;
    sql.exec(QUEUE_INDEX_SQL, None)?;
    sql.exec(MARK_SQL, None)?;
    Ok(sql)
}

/// The outbox mark: the chat, the newest group queued, and how far D1's rows are cleared (`None`
/// before the first group with a webhook).
pub fn mark(state: &State) -> worker::Result<Option<(String, i64, i64)>> {
    let sql = storage(state)?;
    let row = sql.exec(READ_MARK_SQL, None)?.raw().next().transpose()?;
    Ok(row.map(|row| (text(&row, 0), int(&row, 1), int(&row, 2))))
}

/// Notes that the deliveries of the chat's groups up to stamp `through` are queued here: called in
/// the same synchronous turn as `record`, so both are stored together (the storage coalesces them).
pub fn set_mark(state: &State, chat: &str, through: i64) -> worker::Result<()> {
    storage(state)?.exec(SET_MARK_SQL, vec![chat.into(), through.into()])?;
    Ok(())
}

/// Deletes the D1 outbox rows of groups queued here (one round trip, only when new ones were
/// queued since the last time).
async fn clear_outbox(state: &State, env: &Env) {
    let Ok(Some((chat, through, cleared))) = mark(state) else {
        return;
    };
    if through <= cleared {
        return;
    }
    let db = env
        .d1("DB")
        .map_err(|e| crate::error::ApiError::internal(e.to_string()))
        .and_then(|db| Db::new(&db, SessionStart::Primary));
    let done = match db {
        Ok(db) => match crate::store::outbox::queued_statement(&db, &chat, through) {
            Ok(statement) => db.all(statement).await.map(|_| ()),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match done {
        Ok(()) => {
            if let Err(e) = storage(state).and_then(|sql| {
                sql.exec(CLEARED_SQL, vec![through.into()])?;
                Ok(())
            }) {
                console_error!("webhooks: noting the outbox cleared: {e}");
            }
        }
        Err(e) => console_error!("webhooks: clearing the outbox: {e}"),
    }
}

/// Records one delivery per event and interested key; true when any was recorded (the caller then
/// sets the alarm).
pub fn record(state: &State, events: &[Event], hooks: &[Hook]) -> worker::Result<bool> {
    let mut recorded = false;
    if events.is_empty() || hooks.is_empty() {
        return Ok(false);
    }
    let sql = storage(state)?;
    for event in events {
        for hook in hooks {
            if event.author_key.as_deref() == Some(hook.id.as_str()) {
                continue;
            }
            sql.exec(
                ENQUEUE_SQL,
                vec![
                    hook.id.as_str().into(),
                    hook.url.as_str().into(),
                    hook.nonce.as_str().into(),
                    event.id.as_str().into(),
                    event.kind.into(),
                    event.chat_id.as_str().into(),
                    event.message_id.as_str().into(),
                    event.body.as_str().into(),
                    event.created_at.into(),
                    event.created_at.into(),
                ],
            )?;
            recorded = true;
        }
    }
    Ok(recorded)
}

/// A queued delivery (`HEAD_SQL`'s columns, in order).
struct Pending {
    id: i64,
    url: String,
    nonce: String,
    event_id: String,
    kind: String,
    chat_id: String,
    message_id: String,
    body: String,
    created_at: i64,
    attempts: i64,
    next_at: i64,
}

fn text(row: &[SqlStorageValue], at: usize) -> String {
    match row.get(at) {
        Some(SqlStorageValue::String(s)) => s.clone(),
        _ => String::new(),
    }
}

fn int(row: &[SqlStorageValue], at: usize) -> i64 {
    match row.get(at) {
        Some(SqlStorageValue::Integer(i)) => *i,
        Some(SqlStorageValue::Float(f)) => *f as i64,
        _ => 0,
    }
}

impl Pending {
    fn from_row(row: &[SqlStorageValue]) -> Pending {
        Pending {
            id: int(row, 0),
            url: text(row, 1),
            nonce: text(row, 2),
            event_id: text(row, 3),
            kind: text(row, 4),
            chat_id: text(row, 5),
            message_id: text(row, 6),
            body: text(row, 7),
            created_at: int(row, 8),
            attempts: int(row, 9),
            next_at: int(row, 10),
        }
    }
}

/// The alarm's round: sends what is due, records the states in D1, and answers when the next
/// delivery is due (`None`: nothing is pending).
pub async fn deliver_due(state: &State, env: &Env) -> Option<i64> {
    clear_outbox(state, env).await;
    let sql = match storage(state) {
        Ok(sql) => sql,
        Err(e) => {
            console_error!("webhooks: storage: {e}");
            return None;
        }
    };
    let keys = sql.exec(KEYS_SQL, None).and_then(|cursor| {
        cursor
            .raw()
            .map(|row| Ok(text(&row?, 0)))
            .collect::<worker::Result<Vec<String>>>()
    });
    let keys = match keys {
        Ok(keys) => keys,
        Err(e) => {
            console_error!("webhooks: reading the queue: {e}");
            return None;
        }
    };
    if keys.is_empty() {
        return None;
    }
    // New deliveries first, so that the admin sees them pending (a later attempt's record wins).
    let unrecorded = sql.exec(UNRECORDED_SQL, None).and_then(|cursor| {
        cursor
            .raw()
            .map(|row| {
                let row = row?;
                let pending = Pending::from_row(&row);
                Ok(Outcome {
                    key_id: text(&row, 11),
                    status: "pending",
                    attempts: pending.attempts,
                    last_status_code: None,
                    next_attempt_at: Some(pending.next_at),
                    pending,
                })
            })
            .collect::<worker::Result<Vec<Outcome>>>()
    });
    let mut records = unrecorded.unwrap_or_else(|e| {
        console_error!("webhooks: reading the queue: {e}");
        Vec::new()
    });
    let newest_unrecorded = records.last().map(|o| o.pending.id);
    let signing_key = crate::config::webhook_signing_key_text(env);
    let budget = Cell::new(MAX_ATTEMPTS_PER_RUN);
    let runs: Vec<_> = stream::iter(&keys)
        .map(|key| deliver_key(&sql, key, &signing_key, &budget))
        .buffer_unordered(MAX_PARALLEL)
        .collect()
        .await;
    let mut next: Option<i64> = None;
    let mut attempted = Vec::new();
    for (key_next, mut key_records) in runs {
        next = match (next, key_next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        attempted.append(&mut key_records);
    }
    // A delivery tried in this round is recorded once, as the attempt left it.
    records.retain(|r| !attempted.iter().any(|a| a.pending.id == r.pending.id));
    records.append(&mut attempted);
    if record_states(env, &records).await {
        if let Some(id) = newest_unrecorded {
            if let Err(e) = sql.exec(RECORDED_SQL, vec![id.into()]) {
                console_error!("webhooks: updating the queue: {e}");
            }
        }
    }
    next
}

/// What a round did to one delivery, for D1.
struct Outcome {
    key_id: String,
    pending: Pending,
    status: &'static str,
    attempts: i64,
    last_status_code: Option<i64>,
    next_attempt_at: Option<i64>,
}

/// Sends key `key_id`'s due deliveries in order, stopping at the first that fails (or is not due), or
/// when the run's `budget` of attempts is spent.
async fn deliver_key(
    sql: &SqlStorage,
    key_id: &str,
    signing_key: &str,
    budget: &Cell<usize>,
) -> (Option<i64>, Vec<Outcome>) {
    let mut outcomes = Vec::new();
    loop {
        let head = sql
            .exec(HEAD_SQL, vec![key_id.into()])
            .and_then(|cursor| cursor.raw().next().transpose());
        let pending = match head {
            Ok(Some(row)) => Pending::from_row(&row),
            Ok(None) => return (None, outcomes),
            Err(e) => {
                console_error!("webhooks: reading the queue: {e}");
                return (None, outcomes);
            }
        };
        if pending.next_at > now_ms() {
            return (Some(pending.next_at), outcomes);
        }
        let Some(left) = budget.get().checked_sub(1) else {
            // The run's attempts are spent: come back at once.
            return (Some(now_ms()), outcomes);
        };
        budget.set(left);
        let code = send(&pending, key_id, signing_key).await;
        let attempts = pending.attempts + 1;
        let last_status_code = code.map(i64::from);
        let next = rules::after_attempt(code, attempts, pending.created_at, now_ms());
        let (status, next_attempt_at) = if let AfterAttempt::RetryAt(at) = next {
            let retry = sql.exec(
                RETRY_SQL,
                vec![
                    attempts.into(),
                    at.into(),
                    last_status_code.into(),
                    pending.id.into(),
                ],
            );
            if let Err(e) = retry {
                console_error!("webhooks: updating the queue: {e}");
                return (None, outcomes);
            }
            ("pending", Some(at))
        } else {
            if let Err(e) = sql.exec(DONE_SQL, vec![pending.id.into()]) {
                console_error!("webhooks: updating the queue: {e}");
                return (None, outcomes);
            }
            let delivered = next == AfterAttempt::Delivered;
            (if delivered { "delivered" } else { "failed" }, None)
        };
        outcomes.push(Outcome {
            key_id: key_id.to_string(),
            pending,
            status,
            attempts,
            last_status_code,
            next_attempt_at,
        });
        if let Some(at) = next_attempt_at {
            return (Some(at), outcomes);
        }
    }
}

/// A signed POST of `body` to `url` (a webhook delivery or a before-send hook's question): JSON,
/// `Edge-Chat-Event-Id`, `Edge-Chat-Signature`, redirects not followed.
pub(super) fn signed_post(
    url: &str,
    event_id: &str,
    signature: &str,
    body: &str,
) -> Option<Request> {
    let headers = Headers::new();
    for (name, value) in [
        ("Content-Type", "application/json"),
        ("User-Agent", "edge-chat-webhooks/1"),
        ("Edge-Chat-Event-Id", event_id),
        ("Edge-Chat-Signature", signature),
    ] {
        headers.set(name, value).ok()?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(body.into()));
    Request::new_with_init(url, &init).ok()
}

/// One attempt: the receiver's status code, or `None` when it gave none in time (or the request could
/// not be made). The response body is never read.
async fn send(pending: &Pending, key_id: &str, signing_key: &str) -> Option<u16> {
    let signing_key = match crate::config::webhook_signing_key(signing_key) {
        Ok(key) => key,
        Err(e) => {
            console_error!("webhooks: cannot sign: {e}");
            return None;
        }
    };
    let signed = rules::secret(signing_key, key_id, &pending.nonce)
        .and_then(|secret| rules::signature(&secret, now_ms() / 1000, &pending.body));
    let signature = match signed {
        Ok(signature) => signature,
        Err(e) => {
            console_error!("webhooks: cannot sign: {e}");
            return None;
        }
    };
    let request = signed_post(&pending.url, &pending.event_id, &signature, &pending.body)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let sending = Box::pin(fetch.send_with_signal(&signal));
    let timeout = Box::pin(Delay::from(std::time::Duration::from_millis(
        rules::TIMEOUT_MS as u64,
    )));
    let code = match select(sending, timeout).await {
        Either::Left((Ok(response), _)) => {
            let code = response.status_code();
            // The body is never read (0 of the 64 KiB a receiver may send): cancel it, so that the
            // connection is freed now rather than when the response is collected.
            if let Some(body) = web_sys::Response::from(response).body() {
                let _ = body.cancel();
            }
            Some(code)
        }
        Either::Left((Err(_), _)) => None,
        Either::Right(_) => {
            controller.abort();
            None
        }
    };
    code
}

/// Records a round's outcomes in D1, in one round trip; false if that failed (it is logged: the queue
/// itself, in the object's storage, is what delivers).
async fn record_states(env: &Env, outcomes: &[Outcome]) -> bool {
    if outcomes.is_empty() {
        return true;
    }
    let records: Vec<DeliveryRecord<'_>> = outcomes
        .iter()
        .map(|o| DeliveryRecord {
            key_id: &o.key_id,
            event_id: &o.pending.event_id,
            kind: &o.pending.kind,
            chat_id: &o.pending.chat_id,
            message_id: &o.pending.message_id,
            status: o.status,
            attempts: o.attempts,
            last_status_code: o.last_status_code,
            next_attempt_at: o.next_attempt_at,
            created_at: o.pending.created_at,
        })
        .collect();
    let db = env
        .d1("DB")
        .map_err(|e| crate::error::ApiError::internal(e.to_string()))
        .and_then(|db| Db::new(&db, SessionStart::Primary));
    let outcome = match db {
        Ok(db) => keys::record_deliveries(&db, &records, now_ms()).await,
        Err(e) => Err(e),
    };
    if let Err(e) = &outcome {
        console_error!("webhooks: recording delivery states: {e}");
    }
    outcome.is_ok()
}
