//! Messages: the page read and the send write.
//!
//! Pages are ranges of the `(chat_id, seq)` primary key, computed from the snapshot's last sequence
//! number (see `domain::pagination`), never OFFSET scans and never `COUNT(*)`: a page costs `limit` message
//! rows at any depth. Writes happen only inside the chat's Durable Object (`chat_room`), one at a time per
//! chat, and each is one D1 batch (one transaction) that assigns the next sequence number from
//! `chats.last_seq`, so sequence numbers stay dense even if the object restarts mid-write.

use super::rows::{MessageRow, ParticipantRow};
use super::users::{claim_profile, ClaimedProfile};
use super::{first, nth, rows, Arg, Db};
use crate::auth::Caller;
use crate::domain::cursor::{Bound, CursorQuery, Window};
use crate::domain::ids::{ChatId, MessageId, UserId};
use crate::domain::input::MAX_SAFE_INTEGER;
use crate::domain::message::{Change, NewMessage};
use crate::domain::pagination::PageRequest;
use crate::error::{ApiError, Result};

pub const MESSAGE_COLUMNS: &str = "m.id, m.chat_id, m.seq, m.sender_id, m.sender_role, m.type, m.content, m.media,
    m.metadata, m.transfer_amount, m.transfer_recipient, m.client_message_id, m.request_hash, m.edited_at,
    m.deleted_at, m.created_at, m.updated_at";

/// A message as a positional JSON array, for embedding messages in one row: serde decodes `MessageRow`
/// from an array in field order, and leaving out the key names makes a page's D1 result less than half
/// the size. Listings never need the request fingerprint, so it is sent as null.
pub const MESSAGE_JSON: &str = "json_array(m.id, m.chat_id, m.seq, m.sender_id, m.sender_role, m.type,
    m.content, m.media, m.metadata, m.transfer_amount, m.transfer_recipient, m.client_message_id, NULL,
    m.edited_at, m.deleted_at, m.created_at, m.updated_at)";

const IS_MEMBER: &str =
    "EXISTS (SELECT 1 FROM chat_participants WHERE chat_id = ?1 AND user_id = ?2)";

/// The time stamp of a write to chat ?1 at time `now` (a parameter): later than every `updatedAt` in the
/// chat, so `updatedAt` strictly increases in write order and `createdAt` never decreases along the
/// sequence numbers, even if the clock steps back (see schema.sql). One index entry read.
pub fn change_stamp(now: &str) -> String {
    format!(
        "MAX({now}, COALESCE((SELECT MAX(updated_at) FROM messages WHERE chat_id = ?1), 0) + 1)"
    )
}

pub struct MessagePage {
    pub chat_last_seq: i64,
    pub participants: Vec<ParticipantRow>,
    pub messages: Vec<MessageRow>,
}

/// A participant (profile copy and read mark) as a positional JSON array in `ParticipantRow` field order.
pub const PARTICIPANT_JSON: &str =
    "json_array(p.user_id, p.last_read_seq, p.joined_at, p.username, p.photo_id,
    p.photo_url, p.photo_type, p.availability)";

/// A chat's participants as one JSON array of `PARTICIPANT_JSON`, for embedding in a row.
pub fn participants_json(chat_id_expr: &str) -> String {
    format!("(SELECT json_group_array({PARTICIPANT_JSON}) FROM chat_participants p WHERE p.chat_id = {chat_id_expr})")
}

/// One page of messages, oldest first, over the snapshot `as_of` (default: the chat's last message).
/// `None` when the chat does not exist or the caller is not in it.
///
/// One statement, one row: SQLite builds the participants and the page as JSON strings, so the worker
/// decodes two strings instead of crossing into JavaScript for every field of every row. Rows read:
/// the chat (1) + the caller's membership (1) + participants + the page, whatever its depth.
pub async fn list_page(
    db: &Db,
    caller: &UserId,
    chat_id: &ChatId,
    page: PageRequest,
    as_of: Option<i64>,
) -> Result<Option<MessagePage>> {
    #[derive(serde::Deserialize)]
    struct PageRow {
        chat_last_seq: i64,
        participants: String,
        messages: String,
    }
    // The page of domain::pagination::message_page_range, in SQL so that it needs no earlier read: the
    // newest `limit` messages at or below `snapshot - offset`, read backwards along the primary key. (With
    // two bounds instead of one, SQLite's planner stopped using the upper one: a full scan to the end.)
    // The membership EXISTS keeps a non-member at 2 rows read.
    let sql = format!(
        "SELECT c.last_seq AS chat_last_seq, {participants} AS participants,
                (SELECT json_group_array({MESSAGE_JSON}) FROM (
                   SELECT * FROM messages m
                   WHERE m.chat_id = ?1 AND m.seq <= COALESCE(?3, c.last_seq) - ?4
                   ORDER BY m.seq DESC LIMIT ?5) m) AS messages
         FROM chats c WHERE c.id = ?1 AND {IS_MEMBER}",
        participants = participants_json("?1"),
    );
    let statement = db.statement(
        &sql,
        &[
            chat_id.as_str().into(),
            caller.as_str().into(),
            as_of.into(),
            page.offset().into(),
            page.limit.into(),
        ],
    )?;
    let Some(row) = first::<PageRow>(&db.all(statement).await?)? else {
        return Ok(None);
    };
    let mut participants: Vec<ParticipantRow> = serde_json::from_str(&row.participants)?;
    participants.sort_by(|a, b| (a.joined_at, &a.user_id).cmp(&(b.joined_at, &b.user_id)));
    let mut messages: Vec<MessageRow> = serde_json::from_str(&row.messages)?;
    messages.sort_by_key(|m| m.seq);
    Ok(Some(MessagePage {
        chat_last_seq: row.chat_last_seq,
        participants,
        messages,
    }))
}

/// The columns a listing shows (all but the request fingerprint), which the sync index covers.
const LISTED_COLUMNS: &str = "m.id, m.chat_id, m.seq, m.sender_id, m.sender_role, m.type, m.content, m.media,
    m.metadata, m.transfer_amount, m.transfer_recipient, m.client_message_id, m.edited_at, m.deleted_at,
    m.created_at, m.updated_at";

/// The sequence number of a message of chat ?1, by id (NULL when it is not in this chat).
fn seq_of_message(param: &str) -> String {
    format!("(SELECT seq FROM messages WHERE id = {param} AND chat_id = ?1)")
}

/// A cursor-mode page (`domain::cursor`), read in one statement like `list_page`.
pub struct WindowPage {
    pub chat_last_seq: i64,
    pub participants: Vec<ParticipantRow>,
    /// In the window's order: by sequence number, or by (`updatedAt`, `_id`) for the sync window.
    pub messages: Vec<MessageRow>,
    /// The resolved exclusive bounds of a `before` / `after` window: `after_seq` 0 when open,
    /// `before_seq` None when open. NULL (None) for a message id that is not in this chat.
    pub after_seq: Option<i64>,
    pub before_seq: Option<i64>,
}

/// One cursor-mode page. `None` when the chat does not exist or the caller is not in it.
///
/// Membership is checked here from the participant list the page shows anyway, which saves the row
/// an `EXISTS` would read (a non-member's request reads a page it never gets; it costs them a 404).
///
/// Rows read: the chat (1) + participants (+ 1 when the scan meets the next chat's first row) + the
/// page, plus up to 3 one-row index probes for `before` / `after` given as a time or a message id:
/// - `before` / `after` resolve to sequence numbers (a time through `messages_by_created`, whose order
///   is the sequence order because each chat's `createdAt` never decreases), then read one primary-key
///   range of at most `limit` rows, from the bound outwards;
/// - the sync window reads `limit + 1` entries of the covering index `messages_by_update`, starting
///   after the (`updatedAt`, `_id`) position;
/// - `ids` looks each id up through the `id` index (two rows per id found).
pub async fn list_window(
    db: &Db,
    caller: &UserId,
    chat_id: &ChatId,
    query: &CursorQuery,
) -> Result<Option<WindowPage>> {
    #[derive(serde::Deserialize)]
    struct Row {
        chat_last_seq: i64,
        participants: String,
        messages: String,
        after_seq: Option<i64>,
        before_seq: Option<i64>,
    }
    let ids_json = match &query.window {
        Window::Ids(ids) => {
            serde_json::to_string(&ids.iter().map(|id| id.as_str()).collect::<Vec<_>>())?
        }
        _ => String::new(),
    };
    let (mut a, mut b, mut extra) = (Arg::Null, Arg::Null, Arg::Null);
    let (columns, page) = match &query.window {
        Window::Backward { .. } | Window::Forward { .. } => {
            let (after, before, backward) = match &query.window {
                Window::Backward { before } => (None, Some(before), true),
                Window::Forward { after, before } => (after.as_ref(), before.as_ref(), false),
                _ => unreachable!("matched above"),
            };
            let (after_arg, after_sql) = match after {
                None => (Arg::Null, "0".to_string()),
                Some(Bound::Seq(n)) => (Arg::Int(*n), "?3".to_string()),
                Some(Bound::Message(id)) => (Arg::Text(id.as_str()), seq_of_message("?3")),
                Some(Bound::Time(t)) => (
                    Arg::Int(*t),
                    "COALESCE((SELECT seq FROM messages WHERE chat_id = ?1 AND created_at <= ?3
                               ORDER BY created_at DESC, seq DESC LIMIT 1), 0)"
                        .to_string(),
                ),
            };
            let (before_arg, before_sql) = match before {
                None => (Arg::Null, "NULL".to_string()),
                Some(Bound::Seq(n)) => (Arg::Int(*n), "?4".to_string()),
                Some(Bound::Message(id)) => (Arg::Text(id.as_str()), seq_of_message("?4")),
                Some(Bound::Time(t)) => (
                    Arg::Int(*t),
                    format!(
                        "COALESCE((SELECT seq FROM messages WHERE chat_id = ?1 AND created_at >= ?4
                                   ORDER BY created_at, seq LIMIT 1), {MAX_SAFE_INTEGER})"
                    ),
                ),
            };
            (a, b) = (after_arg, before_arg);
            // The resolved bounds go back to the handler only where it needs them: to refuse an id
            // that is not in this chat, and to cut a forward page at `before`. Each is an index probe
            // of one row, so a page reads at most 3 of them (both bounds ids, forward).
            let after_column = match after {
                Some(Bound::Message(_)) => after_sql.clone(),
                _ => "NULL".to_string(),
            };
            let before_column = match before {
                Some(Bound::Message(_)) => before_sql.clone(),
                Some(_) if !backward => before_sql.clone(),
                _ => "NULL".to_string(),
            };
            // One bound in the range, read outwards from it (see list_page on why not two); a forward
            // read that runs past `before` is cut by domain::cursor::continue_range.
            let range = if backward {
                format!("m.seq < {before_sql} ORDER BY m.seq DESC")
            } else {
                format!("m.seq > {after_sql} ORDER BY m.seq")
            };
            (
                format!("{after_column} AS after_seq, {before_column} AS before_seq"),
                format!("FROM messages m WHERE m.chat_id = ?1 AND {range} LIMIT ?5"),
            )
        }
        Window::Ids(_) => {
            extra = Arg::Text(&ids_json);
            (
                "NULL AS after_seq, NULL AS before_seq".to_string(),
                // Driven from the id list (with `m.id IN (…)` SQLite scanned the whole chat instead).
                "FROM json_each(?6) j CROSS JOIN messages m WHERE m.id = j.value AND m.chat_id = ?1"
                    .to_string(),
            )
        }
        Window::Sync { after, before } => {
            a = Arg::Int(after.updated_at);
            b = Arg::Int(before.unwrap_or(MAX_SAFE_INTEGER));
            // Ids are lowercase hex, so "~" sorts after all of them: "strictly after this millisecond".
            extra = Arg::Text(after.id.as_ref().map_or("~", |id| id.as_str()));
            (
                "NULL AS after_seq, NULL AS before_seq".to_string(),
                "FROM messages m WHERE m.chat_id = ?1 AND (m.updated_at, m.id) > (?3, ?6) AND m.updated_at < ?4
                 ORDER BY m.updated_at, m.id LIMIT ?5"
                    .to_string(),
            )
        }
    };
    let fetch = match &query.window {
        Window::Sync { .. } => query.limit + 1,
        _ => query.limit,
    };
    let sql = format!(
        "SELECT c.last_seq AS chat_last_seq, {participants} AS participants, {columns},
                (SELECT json_group_array({MESSAGE_JSON}) FROM (
                   SELECT {LISTED_COLUMNS} {page}) m) AS messages
         FROM chats c WHERE c.id = ?1",
        participants = participants_json("?1"),
    );
    let statement = db.statement(
        &sql,
        &[
            chat_id.as_str().into(),
            caller.as_str().into(),
            a,
            b,
            fetch.into(),
            extra,
        ],
    )?;
    let Some(row) = first::<Row>(&db.all(statement).await?)? else {
        return Ok(None);
    };
    let mut participants: Vec<ParticipantRow> = serde_json::from_str(&row.participants)?;
    if !participants.iter().any(|p| p.user_id == caller.as_str()) {
        return Ok(None);
    }
    participants.sort_by(|a, b| (a.joined_at, &a.user_id).cmp(&(b.joined_at, &b.user_id)));
    let mut messages: Vec<MessageRow> = serde_json::from_str(&row.messages)?;
    match &query.window {
        Window::Sync { .. } => {
            messages.sort_by(|x, y| (x.updated_at, &x.id).cmp(&(y.updated_at, &y.id)))
        }
        _ => messages.sort_by_key(|m| m.seq),
    }
    Ok(Some(WindowPage {
        chat_last_seq: row.chat_last_seq,
        participants,
        messages,
        after_seq: row.after_seq,
        before_seq: row.before_seq,
    }))
}

pub struct SendOutcome {
    pub message: MessageRow,
    /// False when this was a retry of an earlier send (same `clientMessageId` and body).
    pub created: bool,
    /// Participants' read marks: read for a possible replay (a new message is read by no one else yet)
    /// or when asked for (`with_marks`); else empty.
    pub read_marks: Vec<(String, i64)>,
}

/// The chat's read marks, read in a write's batch when the write may be a replay (a new message is read
/// by no one else yet, so its `readBy` is empty without them), or when live listeners need the current
/// participant list (`with_marks`).
pub(super) fn read_marks_statement(db: &Db, chat_id: &str) -> Result<worker::D1PreparedStatement> {
    db.statement(
        "SELECT user_id, last_read_seq FROM chat_participants WHERE chat_id = ?1",
        &[chat_id.into()],
    )
}

/// Decodes `read_marks_statement`'s result (empty when it was not read).
pub(super) fn read_marks(result: Option<&worker::D1Result>) -> Result<Vec<(String, i64)>> {
    #[derive(serde::Deserialize)]
    struct ReadMark {
        user_id: String,
        last_read_seq: i64,
    }
    match result {
        Some(marks) => Ok(rows::<ReadMark>(marks)?
            .into_iter()
            .map(|m| (m.user_id, m.last_read_seq))
            .collect()),
        _ => Ok(Vec::new()),
    }
}

/// Stores a message as the chat's next sequence number and moves the sender's read mark to it; or, when
/// `clientMessageId` was seen before from this sender in this chat, returns the original message
/// (409 if the retry's body differs). One round trip: one batch, one transaction.
///
/// Must run inside the chat's Durable Object, which runs the chat's writes one at a time. `with_marks`
/// also reads the participants' read marks (the object's live listeners need the participant list).
pub async fn send(
    db: &Db,
    caller: &Caller,
    message: &NewMessage,
    now_ms: i64,
    with_marks: bool,
) -> Result<SendOutcome> {
    let id = MessageId::generate(now_ms)?;
    let hash = message.request_hash();
    let chat = message.chat_id.as_str();
    let sender = caller.id.as_str();
    let media = message.media.as_ref().map(|m| m.to_string());
    let metadata = message
        .metadata
        .as_ref()
        .map(|m| serde_json::Value::Object(m.clone()).to_string());
    let not_seen = "NOT EXISTS (SELECT 1 FROM messages WHERE chat_id = ?1 AND sender_id = ?2 AND client_message_id = ?3)";
    let guard_args = [
        chat.into(),
        sender.into(),
        message.client_message_id.as_ref().into(),
    ];

    let claimed = ClaimedProfile::of(caller, now_ms)?;
    let bump = db.statement(
        &format!(
            "UPDATE chats SET last_seq = last_seq + 1, last_activity_at = {stamp}, updated_at = ?4
             WHERE id = ?1 AND {IS_MEMBER} AND {not_seen}",
            stamp = change_stamp("?4")
        ),
        &[guard_args[0], guard_args[1], guard_args[2], now_ms.into()],
    )?;
    let insert = db.statement(
        &format!(
            "INSERT INTO messages (chat_id, seq, id, sender_id, sender_role, type, content, media, metadata,
                                   client_message_id, request_hash, created_at, updated_at)
             SELECT ?1, c.last_seq, ?4, ?2, 'user', ?5, ?6, ?7, ?8, ?3, ?9, c.last_activity_at,
                    c.last_activity_at FROM chats c
             WHERE c.id = ?1 AND {IS_MEMBER} AND {not_seen}"
        ),
        &[
            guard_args[0],
            guard_args[1],
            guard_args[2],
            id.as_str().into(),
            message.kind.as_str().into(),
            message.content.as_ref().into(),
            media.as_ref().into(),
            metadata.as_ref().into(),
            hash.as_str().into(),
            now_ms.into(),
        ],
    )?;
    let read_mark = db.statement(
        "UPDATE chat_participants SET last_read_seq = (SELECT seq FROM messages WHERE id = ?3)
         WHERE chat_id = ?1 AND user_id = ?2 AND EXISTS (SELECT 1 FROM messages WHERE id = ?3)",
        &[chat.into(), sender.into(), id.as_str().into()],
    )?;
    // The stored message: the new one, or the original of a retried clientMessageId.
    let read_back = match &message.client_message_id {
        Some(client_id) => db.statement(
            &format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages m
                 WHERE m.chat_id = ?1 AND m.sender_id = ?2 AND m.client_message_id = ?3"
            ),
            &[chat.into(), sender.into(), client_id.into()],
        )?,
        None => db.statement(
            &format!("SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?1"),
            &[id.as_str().into()],
        )?,
    };
    let mut statements = claim_profile(db, &claimed, now_ms, Some(chat))?;
    let read_back_index = statements.len() + 3;
    statements.extend([bump, insert, read_mark, read_back]);
    if message.client_message_id.is_some() || with_marks {
        statements.push(read_marks_statement(db, chat)?);
    }
    let results = db.batch(statements).await?;
    let stored: MessageRow =
        first(nth(&results, read_back_index)?)?.ok_or_else(|| ApiError::not_found("chat"))?;
    let created = stored.id == id.as_str();
    if !created && stored.request_hash.as_deref() != Some(hash.as_str()) {
        return Err(ApiError::conflict(
            "clientMessageId was already used for a different message in this chat",
        ));
    }
    let read_marks = read_marks(results.get(read_back_index + 1))?;
    Ok(SendOutcome {
        message: stored,
        created,
        read_marks,
    })
}

/// The chat a message belongs to, to find the Durable Object that owns its writes. One round trip.
pub async fn chat_of(db: &Db, message_id: &MessageId) -> Result<Option<ChatId>> {
    #[derive(serde::Deserialize)]
    struct Chat {
        chat_id: String,
    }
    let result = db
        .all(db.statement(
            "SELECT chat_id FROM messages WHERE id = ?1",
            &[message_id.as_str().into()],
        )?)
        .await?;
    match first::<Chat>(&result)? {
        Some(c) => Ok(Some(ChatId::parse(&c.chat_id, "chatId")?)),
        None => Ok(None),
    }
}

/// An edit or delete as stored.
pub struct Changed {
    pub message: MessageRow,
    /// False when nothing changed (deleting a deleted message again).
    pub changed: bool,
    /// Every participant's read mark.
    pub read_marks: Vec<(String, i64)>,
}

/// Edits or deletes the caller's own message. Only the sender may; credit transfer messages never
/// change; only text can be edited; a deleted message stays deleted (deleting again returns the
/// tombstone). `updatedAt` moves past every other `updatedAt` of the chat (`change_stamp`), so a client
/// walking the sync window over (`updatedAt`, `_id`) meets the change later in its walk. Returns the message as stored and the read marks. One round trip.
///
/// Must run inside the chat's Durable Object, like every write of the chat.
pub async fn change(
    db: &Db,
    caller: &UserId,
    chat_id: &ChatId,
    message_id: &MessageId,
    change: &Change,
    now_ms: i64,
) -> Result<Changed> {
    #[derive(serde::Deserialize)]
    struct Member {
        is_member: i64,
    }
    let content = match change {
        Change::Edit(content) => Some(content.as_str()),
        Change::Delete => None,
    };
    let args = [
        chat_id.as_str().into(),
        caller.as_str().into(),
        message_id.as_str().into(),
        now_ms.into(),
        content.into(),
    ];
    let update = match change {
        Change::Edit(_) => format!(
            "UPDATE messages SET content = ?5, edited_at = ?4, updated_at = {stamp}
             WHERE id = ?3 AND chat_id = ?1 AND sender_id = ?2 AND type = 'text' AND deleted_at IS NULL
               AND {IS_MEMBER}",
            stamp = change_stamp("?4")
        ),
        Change::Delete => format!(
            "UPDATE messages SET content = NULL, media = NULL, metadata = NULL, deleted_at = ?4,
                                 updated_at = {stamp}
             WHERE id = ?3 AND chat_id = ?1 AND sender_id = ?2 AND type <> 'credit_transfer'
               AND deleted_at IS NULL AND {IS_MEMBER}",
            stamp = change_stamp("?4")
        ),
    };
    let statements = vec![
        db.statement(&update, &args)?,
        db.statement(
            &format!("SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?3 AND m.chat_id = ?1"),
            &args,
        )?,
        db.statement(&format!("SELECT {IS_MEMBER} AS is_member"), &args)?,
        read_marks_statement(db, chat_id.as_str())?,
    ];
    let results = db.batch(statements).await?;
    let is_member = first::<Member>(nth(&results, 2)?)?.is_some_and(|m| m.is_member == 1);
    let stored = first::<MessageRow>(nth(&results, 1)?)?
        .filter(|_| is_member)
        .ok_or_else(|| ApiError::not_found("message"))?;
    if stored.sender_id != caller.as_str() {
        return Err(ApiError::forbidden(
            "only the sender can edit or delete this message",
        ));
    }
    if stored.kind == "credit_transfer" {
        return Err(ApiError::conflict(
            "credit transfer messages cannot be edited or deleted",
        ));
    }
    if let Change::Edit(_) = change {
        if stored.deleted_at.is_some() {
            return Err(ApiError::conflict("the message is deleted"));
        }
        if stored.kind != "text" {
            return Err(ApiError::conflict("only text messages can be edited"));
        }
    }
    let marks = read_marks(results.get(3))?;
    Ok(Changed {
        changed: super::changes(nth(&results, 0)?) > 0,
        message: stored,
        read_marks: marks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MESSAGE_JSON is decoded by position: its columns must follow `MessageRow`'s fields, which follow
    /// MESSAGE_COLUMNS (decoded by name).
    #[test]
    fn message_json_follows_the_row_field_order() {
        let columns: Vec<&str> = MESSAGE_COLUMNS
            .split(',')
            .map(|c| c.trim().trim_start_matches("m."))
            .collect();
        let inner = MESSAGE_JSON
            .trim_start_matches("json_array(")
            .trim_end_matches(')');
        let positional: Vec<&str> = inner
            .split(',')
            .map(|c| c.trim().trim_start_matches("m."))
            .collect();
        assert_eq!(columns.len(), positional.len());
        for (column, item) in columns.iter().zip(&positional) {
            assert!(
                item == column || (*item == "NULL" && *column == "request_hash"),
                "{column} vs {item}"
            );
        }
        let values: Vec<serde_json::Value> = columns
            .iter()
            .map(|c| match *c {
                "seq" | "created_at" | "updated_at" => serde_json::json!(7),
                "request_hash" | "media" | "metadata" | "transfer_amount"
                | "transfer_recipient" | "client_message_id" | "edited_at" | "deleted_at"
                | "content" => serde_json::Value::Null,
                other => serde_json::json!(other),
            })
            .collect();
        let row: MessageRow = serde_json::from_value(serde_json::Value::Array(values)).unwrap();
        assert_eq!(
            (
                row.id.as_str(),
                row.kind.as_str(),
                row.seq,
                row.sender_role.as_str()
            ),
            ("id", "type", 7, "sender_role")
        );
    }

    #[test]
    fn participant_json_follows_the_row_field_order() {
        let row: ParticipantRow = serde_json::from_str(
            r#"["u1", 4, 9, "name", "pid", "https://x.test/p", "image", "away"]"#,
        )
        .unwrap();
        assert_eq!(
            (row.user_id.as_str(), row.last_read_seq, row.joined_at),
            ("u1", 4, 9)
        );
        assert_eq!(
            (row.username.as_deref(), row.availability.as_deref()),
            (Some("name"), Some("away"))
        );
        let inner = PARTICIPANT_JSON
            .trim_start_matches("json_array(")
            .trim_end_matches(')');
        let names: Vec<&str> = inner
            .split(',')
            .map(|c| c.trim().trim_start_matches("p."))
            .collect();
        assert_eq!(
            names,
            [
                "user_id",
                "last_read_seq",
                "joined_at",
                "username",
                "photo_id",
                "photo_url",
                "photo_type",
                "availability"
            ]
        );
    }
}
