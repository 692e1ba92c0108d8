//! The webhook outbox (migration 0012): the events of a chat's committed writes, recorded in the
//! writes' own D1 batch when a key with a webhook reaches the chat, so that no crash can commit a
//! write and lose its deliveries. The chat's Durable Object queues deliveries from its own results as
//! before; the outbox is what it recovers from when a crash came between the commit and that queueing.

use worker::{D1PreparedStatement, D1Result};

use super::rows::MessageRow;
use super::sql::{concatcp, MESSAGE_COLUMNS};
use super::{rows, Db};
use crate::error::Result;

/// Some key with a webhook reaches chat ?1: a key of every chat, or of the chat's project (the
/// `api_keys_webhooks` partial index, as `keys::HOOKS_SQL` reads it). The chat's project is looked up
/// only when some project's key has a webhook, so with no webhook anywhere this reads 0 rows.
const HOOKED: &str = "(EXISTS (SELECT 1 FROM api_keys
         WHERE project_id IS NULL AND webhook_url IS NOT NULL AND revoked_at IS NULL)
       OR (EXISTS (SELECT 1 FROM api_keys
             WHERE project_id IS NOT NULL AND webhook_url IS NOT NULL AND revoked_at IS NULL)
           AND EXISTS (SELECT 1 FROM api_keys
             WHERE project_id = (SELECT c.project_id FROM chats c WHERE c.id = ?1)
               AND webhook_url IS NOT NULL AND revoked_at IS NULL)))";

/// A group's events ?3 (a JSON array of `[eventId, type, messageId, detail, authorKey]`) for chat ?1,
/// stamped ?2, each only if its message was written by this group (its write stamp at or after ?4, the
/// group's start: a refused write or a replay changed nothing), and only when a webhook reaches the
/// chat (else nothing is written).
pub const OUTBOX_SQL: &str = concatcp!(
    "INSERT INTO webhook_outbox (chat_id, created_at, event_id, type, message_id, detail, author_key)
     SELECT ?1, ?2, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'),
            json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]'),
            json_extract(j.value, '$[4]')
     FROM json_each(?3) j
     WHERE ",
    HOOKED,
    " AND EXISTS (SELECT 1 FROM messages m
                   WHERE m.id = json_extract(j.value, '$[2]') AND m.chat_id = ?1
                     AND m.updated_at >= ?4)"
);

/// Chat ?1's events newer than ?2 (the newest group its object queued), oldest first, as one text: a
/// line per event of tab-separated fields (createdAt, eventId, type, messageId, detail, authorKey; an
/// empty field for NULL: none of them holds a tab or a line break), NULL for none.
pub const LOST_SQL: &str =
    "SELECT group_concat(created_at || char(9) || event_id || char(9) || type
         || char(9) || message_id || char(9) || COALESCE(detail, '') || char(9)
         || COALESCE(author_key, ''), char(10)) AS text
     FROM (SELECT * FROM webhook_outbox WHERE chat_id = ?1 AND created_at > ?2
           ORDER BY created_at, event_id)";

/// Chat ?1's events up to ?2, all queued.
pub const QUEUED_SQL: &str = "DELETE FROM webhook_outbox WHERE chat_id = ?1 AND created_at <= ?2";

/// Up to ?2 chats with events older than ?1 (their object crashed and had no write since), as one
/// text of ids separated by spaces.
/// (The oldest 1,000 events at most: a range of `webhook_outbox_by_age`.)
pub const STALE_SQL: &str = "SELECT group_concat(chat_id, ' ') AS text FROM
       (SELECT DISTINCT chat_id FROM
          (SELECT chat_id FROM webhook_outbox WHERE created_at < ?1 ORDER BY created_at LIMIT 1000)
        LIMIT ?2)";

/// Messages ?1 (a JSON array of ids), as they are now.
pub const MESSAGES_SQL: &str = concatcp!(
    "SELECT ",
    MESSAGE_COLUMNS,
    " FROM messages m WHERE m.id IN (SELECT value FROM json_each(?1))"
);

/// One event as the outbox records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub created_at: i64,
    pub event_id: String,
    pub kind: String,
    pub message_id: String,
    pub detail: Option<String>,
    pub author_key: Option<String>,
}

/// An entry as `OUTBOX_SQL` reads it: `[eventId, type, messageId, detail, authorKey]`.
type EntryItem<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// The statement that records a group's events (`None`: no events).
pub fn record_statement(
    db: &Db,
    chat: &str,
    stamp: i64,
    started: i64,
    entries: &[Entry],
) -> Result<Option<D1PreparedStatement>> {
    if entries.is_empty() {
        return Ok(None);
    }
    let items: Vec<EntryItem<'_>> = entries
        .iter()
        .map(|e| {
            (
                e.event_id.as_str(),
                e.kind.as_str(),
                e.message_id.as_str(),
                e.detail.as_deref(),
                e.author_key.as_deref(),
            )
        })
        .collect();
    let json = serde_json::to_string(&items)?;
    Ok(Some(db.statement(
        OUTBOX_SQL,
        &[
            chat.into(),
            stamp.into(),
            json.as_str().into(),
            started.into(),
        ],
    )?))
}

/// The statement that reads chat `chat`'s events newer than `through`.
pub fn lost_statement(db: &Db, chat: &str, through: i64) -> Result<D1PreparedStatement> {
    db.statement(LOST_SQL, &[chat.into(), through.into()])
}

pub fn lost(result: &D1Result) -> Result<Vec<Entry>> {
    let text = super::first_text(result)?.unwrap_or_default();
    let optional = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut f = line.split('\t');
            Some(Entry {
                created_at: f.next()?.parse().ok()?,
                event_id: f.next()?.to_string(),
                kind: f.next()?.to_string(),
                message_id: f.next()?.to_string(),
                detail: optional(f.next()?),
                author_key: optional(f.next()?),
            })
        })
        .collect())
}

pub fn queued_statement(db: &Db, chat: &str, through: i64) -> Result<D1PreparedStatement> {
    db.statement(QUEUED_SQL, &[chat.into(), through.into()])
}

/// The messages of recovered events, as they are now.
pub async fn messages(db: &Db, ids: &[&str]) -> Result<Vec<MessageRow>> {
    let json = serde_json::to_string(ids)?;
    let statement = db.statement(MESSAGES_SQL, &[json.as_str().into()])?;
    rows(&db.all(statement).await?)
}

/// Chats whose events are older than `before`, at most `limit`.
pub async fn stale_chats(db: &Db, before: i64, limit: i64) -> Result<Vec<String>> {
    let statement = db.statement(STALE_SQL, &[before.into(), limit.into()])?;
    let text = super::first_text(&db.all(statement).await?)?.unwrap_or_default();
    Ok(text.split_whitespace().map(str::to_string).collect())
}
