//! Service keys: the admin's create, list and revoke, and the check of a request's key. A key is found
//! by the SHA-256 of its text (the table's primary key: one row read); a revoked key is never found, so
//! revocation takes effect on the next request, with nothing cached anywhere.

use serde::Deserialize;

use super::sql::concatcp;
use super::{first, first_text, nth, rows, Db};
use crate::domain::ids::{ProjectId, UserId};
use crate::domain::keys::{KeyHash, NewApiKey, ServiceKey};
use crate::error::{ApiError, Result};

/// A stored key as the admin sees it (never the key itself, nor its hash).
#[derive(Debug, Clone, Deserialize)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub project_id: Option<String>,
    pub sender_id: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub before_send_url: Option<String>,
    #[serde(default)]
    pub before_send_fail_closed: i64,
    /// Never shown: what the answer compares to know whether its change made a new secret.
    #[serde(default)]
    pub webhook_nonce: Option<String>,
}

/// A key row's columns, as `ApiKeyRow` decodes them.
const KEY_COLUMNS: &str = "id, name, project_id, sender_id, created_at, revoked_at, webhook_url, \
     before_send_url, before_send_fail_closed, webhook_nonce";

/// The live key with hash ?1 (not revoked). One row read.
pub const KEY_SQL: &str =
    "SELECT id, project_id, sender_id FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL";

/// A new key. ?1 hash, ?2 id, ?3 name, ?4 project, ?5 sender, ?6 now, ?7 webhook URL, ?8 the
/// secret's nonce, ?9 before-send URL, ?10 whether it fails closed.
pub const INSERT_KEY_SQL: &str = concatcp!(
    "INSERT INTO api_keys (key_hash, id, name, project_id, sender_id, created_at, webhook_url,
                           webhook_nonce, before_send_url, before_send_fail_closed)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING ",
    KEY_COLUMNS
);

/// Every key, newest first.
pub const KEYS_SQL: &str = concatcp!(
    "SELECT ",
    KEY_COLUMNS,
    " FROM api_keys ORDER BY created_at DESC, id DESC"
);

/// Revokes key ?1 (by id) at ?2, once: revoking again keeps the first time.
pub const REVOKE_KEY_SQL: &str =
    "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL";

/// Key ?1's hooks changed: its webhook to ?3 when ?2, its before-send hook to ?5 when ?4, failing
/// closed as ?6 (NULL: unchanged); a new secret nonce ?7 when a webhook is set, or a before-send hook
/// on a key that has no secret yet. A revoked key takes no new URL (it may lose one).
pub const SET_HOOKS_SQL: &str = "UPDATE api_keys SET
       webhook_url = CASE WHEN ?2 THEN ?3 ELSE webhook_url END,
       before_send_url = CASE WHEN ?4 THEN ?5 ELSE before_send_url END,
       before_send_fail_closed = COALESCE(?6, before_send_fail_closed),
       webhook_nonce = CASE WHEN (?2 AND ?3 IS NOT NULL)
                              OR (?4 AND ?5 IS NOT NULL AND webhook_nonce IS NULL) THEN ?7
                         ELSE webhook_nonce END
     WHERE id = ?1 AND (revoked_at IS NULL OR ((NOT ?2 OR ?3 IS NULL) AND (NOT ?4 OR ?5 IS NULL)))";

/// The live keys with a webhook whose reach includes chat ?1 (its project, or every chat), for a
/// commit in the chat's Durable Object, as one text: a line `<id> <url> <nonce>` per key (URLs hold no
/// spaces), NULL for none. Two searches of the `api_keys_webhooks` partial index, one for the keys of
/// every chat and one for the chat's project, so that it reads those keys only (0 rows when there are
/// none), however many other projects have webhooks: written as one `OR`, SQLite scanned the whole
/// index on every commit.
pub const HOOKS_SQL: &str =
    "SELECT group_concat(k.id || ' ' || k.webhook_url || ' ' || k.webhook_nonce, char(10)) AS text
     FROM (SELECT id, webhook_url, webhook_nonce FROM api_keys
           WHERE project_id IS NULL AND webhook_url IS NOT NULL AND revoked_at IS NULL
           UNION ALL
           SELECT id, webhook_url, webhook_nonce FROM api_keys
           WHERE project_id = (SELECT c.project_id FROM chats c WHERE c.id = ?1)
             AND webhook_url IS NOT NULL AND revoked_at IS NULL) k";

/// The live keys with a before-send hook that reach chat ?1, in their creation order, as one text: a
/// line `<id> <url> <nonce> <failClosed>` per key (like `HOOKS_SQL`: one text decodes with no row
/// type of its own), NULL for none. Two searches of `api_keys_before_send`, as `HOOKS_SQL` does (0
/// rows when no hook reaches the chat); read in every commit's batch.
pub const BEFORE_SEND_SQL: &str =
    "SELECT group_concat(k.id || ' ' || k.before_send_url || ' ' || COALESCE(k.webhook_nonce, '-')
                         || ' ' || k.before_send_fail_closed, char(10)) AS text
     FROM (SELECT * FROM (SELECT id, before_send_url, webhook_nonce, before_send_fail_closed,
                                 created_at FROM api_keys
                          WHERE project_id IS NULL AND before_send_url IS NOT NULL
                            AND revoked_at IS NULL
                          UNION ALL
                          SELECT id, before_send_url, webhook_nonce, before_send_fail_closed,
                                 created_at FROM api_keys
                          WHERE project_id = (SELECT c.project_id FROM chats c WHERE c.id = ?1)
                            AND before_send_url IS NOT NULL AND revoked_at IS NULL)
           ORDER BY created_at, id) k";

/// A before-send hook (a line of `BEFORE_SEND_SQL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeforeSend {
    pub id: String,
    pub before_send_url: String,
    pub webhook_nonce: Option<String>,
    pub before_send_fail_closed: i64,
}

pub fn before_send_statement(db: &Db, chat_id: &str) -> Result<worker::D1PreparedStatement> {
    db.statement(BEFORE_SEND_SQL, &[chat_id.into()])
}

pub fn before_send(result: &worker::D1Result) -> Result<Vec<BeforeSend>> {
    let text = first_text(result)?.unwrap_or_default();
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            Some(BeforeSend {
                id: parts.next()?.to_string(),
                before_send_url: parts.next()?.to_string(),
                webhook_nonce: Some(parts.next()?.to_string()).filter(|n| n != "-"),
                before_send_fail_closed: i64::from(parts.next()? == "1"),
            })
        })
        .collect())
}

/// Key ?1's newest ?2 deliveries as the whole `{"deliveries": [...]}` answer, built by SQLite (epoch
/// milliseconds as the API's timestamps); NULL when there is no key ?1.
pub const DELIVERIES_SQL: &str =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM api_keys WHERE id = ?1) THEN json_object('deliveries',
       (SELECT json_group_array(json_object('eventId', event_id, 'type', type, 'chatId', chat_id,
          'messageId', message_id, 'status', status, 'attempts', attempts,
          'lastStatusCode', last_status_code,
          'nextAttemptAt', CASE WHEN next_attempt_at IS NULL THEN NULL
            ELSE strftime('%Y-%m-%dT%H:%M:%fZ', next_attempt_at / 1000.0, 'unixepoch') END,
          'updatedAt', strftime('%Y-%m-%dT%H:%M:%fZ', updated_at / 1000.0, 'unixepoch')))
        FROM (SELECT * FROM webhook_deliveries WHERE key_id = ?1
              ORDER BY created_at DESC, event_id DESC LIMIT ?2))) END AS text";

/// Records a delivery's state after an attempt (a later attempt's record never goes backwards).
/// ?1 key, ?2 event, ?3 type, ?4 chat, ?5 message, ?6 status, ?7 attempts, ?8 last status code,
/// ?9 next attempt at, ?10 event created at, ?11 now.
pub const RECORD_DELIVERY_SQL: &str = "INSERT INTO webhook_deliveries (key_id, event_id, type,
            chat_id, message_id, status, attempts, last_status_code, next_attempt_at, created_at,
            updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
     ON CONFLICT (key_id, event_id) DO UPDATE SET status = excluded.status,
       attempts = excluded.attempts, last_status_code = excluded.last_status_code,
       next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at
     WHERE excluded.attempts >= webhook_deliveries.attempts";

/// A key by id. ?1 id.
pub const KEY_BY_ID_SQL: &str = concatcp!("SELECT ", KEY_COLUMNS, " FROM api_keys WHERE id = ?1");

/// The statement that checks a request's key, for the request's own batch.
pub fn check_statement(db: &Db, hash: &KeyHash) -> Result<worker::D1PreparedStatement> {
    db.statement(KEY_SQL, &[hash.as_str().into()])
}

/// The key `check_statement` found; a missing (unknown or revoked) key is a 401. A found key's id is
/// noted for the request's log line.
pub fn checked(db: &Db, result: &worker::D1Result) -> Result<ServiceKey> {
    #[derive(Deserialize)]
    struct Found {
        id: String,
        project_id: Option<String>,
        sender_id: String,
    }
    let found = first::<Found>(result)?.ok_or_else(|| ApiError::unauthorized("invalid API key"))?;
    db.note_checked_key(&found.id);
    Ok(ServiceKey {
        id: found.id,
        project: found
            .project_id
            .map(|p| ProjectId::parse(&p, "projectId"))
            .transpose()?,
        sender: UserId::parse(&found.sender_id, "senderId")?,
    })
}

/// Checks a key on its own: one round trip (for writes, which then go to the chat's Durable Object).
pub async fn find(db: &Db, hash: &KeyHash) -> Result<ServiceKey> {
    checked(db, &db.all(check_statement(db, hash)?).await?)
}

/// A key's webhook as stored: its URL and the nonce its secret derives from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub id: String,
    pub url: String,
    pub nonce: String,
}

/// Stores a new key with id `id` (and its webhook, if any). One round trip.
pub async fn create(
    db: &Db,
    id: &str,
    key: &NewApiKey,
    hash: &KeyHash,
    webhook: Option<(Option<&str>, &str)>,
    now_ms: i64,
) -> Result<ApiKeyRow> {
    let statement = db.statement(
        INSERT_KEY_SQL,
        &[
            hash.as_str().into(),
            id.into(),
            key.name.as_str().into(),
            key.project.as_ref().map(ProjectId::as_str).into(),
            key.sender.as_str().into(),
            now_ms.into(),
            webhook.and_then(|(url, _)| url).into(),
            webhook.map(|(_, nonce)| nonce).into(),
            key.before_send_url.as_deref().into(),
            i64::from(key.before_send_fail_closed).into(),
        ],
    )?;
    first(&db.all(statement).await?)?
        .ok_or_else(|| ApiError::internal("key insert returned no row"))
}

/// Every key, newest first. One round trip.
pub async fn list(db: &Db) -> Result<Vec<ApiKeyRow>> {
    rows(&db.all(db.statement(KEYS_SQL, &[])?).await?)
}

/// Revokes a key (again: the first revocation stands). `None` for an unknown id. One round trip.
pub async fn revoke(db: &Db, id: &str, now_ms: i64) -> Result<Option<ApiKeyRow>> {
    let results = db
        .batch(vec![
            db.statement(REVOKE_KEY_SQL, &[id.into(), now_ms.into()])?,
            db.statement(KEY_BY_ID_SQL, &[id.into()])?,
        ])
        .await?;
    first(nth(&results, 1)?)
}

/// Changes key `id`'s hooks (`nonce`: the secret's, if the change needs a new one). `None` for an
/// unknown id; a revoked key keeps its hooks when asked to set one, which the caller sees in the row.
pub async fn set_hooks(
    db: &Db,
    id: &str,
    change: &crate::domain::keys::HookChange,
    nonce: &str,
) -> Result<Option<ApiKeyRow>> {
    let flag = |b: bool| i64::from(b);
    let results = db
        .batch(vec![
            db.statement(
                SET_HOOKS_SQL,
                &[
                    id.into(),
                    flag(change.webhook.is_some()).into(),
                    change.webhook.as_ref().and_then(Option::as_deref).into(),
                    flag(change.before_send.is_some()).into(),
                    change
                        .before_send
                        .as_ref()
                        .and_then(Option::as_deref)
                        .into(),
                    change.fail_closed.map(flag).into(),
                    nonce.into(),
                ],
            )?,
            db.statement(KEY_BY_ID_SQL, &[id.into()])?,
        ])
        .await?;
    first(nth(&results, 1)?)
}

/// Key `id`'s newest `limit` deliveries as the answer's JSON text; `None` for an unknown key. One
/// round trip.
pub async fn deliveries(db: &Db, id: &str, limit: i64) -> Result<Option<String>> {
    let result = db
        .all(db.statement(DELIVERIES_SQL, &[id.into(), limit.into()])?)
        .await?;
    first_text(&result)
}

/// The statement that reads the hooks interested in chat `chat_id`, for a commit's batch.
pub fn hooks_statement(db: &Db, chat_id: &str) -> Result<worker::D1PreparedStatement> {
    db.statement(HOOKS_SQL, &[chat_id.into()])
}

/// Decodes `hooks_statement`'s result.
pub fn hooks(result: &worker::D1Result) -> Result<Vec<Hook>> {
    Ok(parse_hooks(
        first_text(result)?.as_deref().unwrap_or_default(),
    ))
}

/// `HOOKS_SQL`'s lines as hooks.
fn parse_hooks(text: &str) -> Vec<Hook> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            Some(Hook {
                id: parts.next()?.to_string(),
                url: parts.next()?.to_string(),
                nonce: parts.next()?.to_string(),
            })
        })
        .collect()
}

/// One delivery's state after an attempt, as `RECORD_DELIVERY_SQL` stores it.
pub struct DeliveryRecord<'a> {
    pub key_id: &'a str,
    pub event_id: &'a str,
    pub kind: &'a str,
    pub chat_id: &'a str,
    pub message_id: &'a str,
    pub status: &'static str,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
}

/// Records the states of a round of attempts: one round trip.
pub async fn record_deliveries(db: &Db, records: &[DeliveryRecord<'_>], now_ms: i64) -> Result<()> {
    let statements = records
        .iter()
        .map(|r| {
            db.statement(
                RECORD_DELIVERY_SQL,
                &[
                    r.key_id.into(),
                    r.event_id.into(),
                    r.kind.into(),
                    r.chat_id.into(),
                    r.message_id.into(),
                    r.status.into(),
                    r.attempts.into(),
                    r.last_status_code.into(),
                    r.next_attempt_at.into(),
                    r.created_at.into(),
                    now_ms.into(),
                ],
            )
        })
        .collect::<Result<Vec<_>>>()?;
    if !statements.is_empty() {
        db.batch(statements).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_lines_parse() {
        let hooks = parse_hooks("k1 https://a.example.com/h n1\nk2 http://127.0.0.1:9/x?y=1 n2");
        assert_eq!(hooks.len(), 2);
        assert_eq!(
            hooks[1],
            Hook {
                id: "k2".into(),
                url: "http://127.0.0.1:9/x?y=1".into(),
                nonce: "n2".into()
            }
        );
        assert!(parse_hooks("").is_empty());
    }
}
