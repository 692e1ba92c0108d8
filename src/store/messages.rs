//! Messages: the page read and the send write.
//!
//! Pages are ranges of the `(chat_id, seq)` primary key, computed from the snapshot's last sequence
//! number (see `domain::pagination`), never OFFSET scans and never `COUNT(*)`: a page costs `limit` message
//! rows at any depth. Writes happen only inside the chat's Durable Object (`chat_room`), one at a time per
//! chat, and each is one D1 batch (one transaction) that assigns the next sequence number from
//! `chats.last_seq`, so sequence numbers stay dense even if the object restarts mid-write.

use super::rows::{MessageRow, ParticipantRow};
use super::users::{claim_profile, ClaimedProfile};
use super::{first, nth, rows, Db};
use crate::auth::Caller;
use crate::domain::ids::{ChatId, MessageId, UserId};
use crate::domain::message::NewMessage;
use crate::domain::pagination::PageRequest;
use crate::error::{ApiError, Result};

pub const MESSAGE_COLUMNS: &str = "m.id, m.chat_id, m.seq, m.sender_id, m.sender_role, m.type, m.content, m.media,
    m.metadata, m.transfer_amount, m.transfer_recipient, m.client_message_id, m.request_hash, m.edited_at,
    m.deleted_at, m.created_at, m.updated_at";

/// The same columns as one JSON object, for embedding a message in a chat row.
pub const MESSAGE_JSON: &str = "json_object('id', m.id, 'chat_id', m.chat_id, 'seq', m.seq,
    'sender_id', m.sender_id, 'sender_role', m.sender_role, 'type', m.type, 'content', m.content,
    'media', m.media, 'metadata', m.metadata, 'transfer_amount', m.transfer_amount,
    'transfer_recipient', m.transfer_recipient, 'client_message_id', m.client_message_id,
    'request_hash', m.request_hash, 'edited_at', m.edited_at, 'deleted_at', m.deleted_at,
    'created_at', m.created_at, 'updated_at', m.updated_at)";

const IS_MEMBER: &str =
    "EXISTS (SELECT 1 FROM chat_participants WHERE chat_id = ?1 AND user_id = ?2)";

/// A chat's participants with profiles and read marks, plus the chat's last sequence number in every row
/// (read once: the chat row is the outer loop of the join).
#[derive(Debug, serde::Deserialize)]
struct ParticipantWithChat {
    chat_last_seq: Option<i64>,
    #[serde(flatten)]
    participant: ParticipantRow,
}

pub struct MessagePage {
    pub chat_last_seq: i64,
    pub participants: Vec<ParticipantRow>,
    pub messages: Vec<MessageRow>,
}

/// One page of messages, oldest first, over the snapshot `as_of` (default: the chat's last message).
/// `None` when the chat does not exist or the caller is not in it. One round trip.
pub async fn list_page(
    db: &Db,
    caller: &UserId,
    chat_id: &ChatId,
    page: PageRequest,
    as_of: Option<i64>,
) -> Result<Option<MessagePage>> {
    let participants = db.statement(
        "SELECT c.last_seq AS chat_last_seq, p.user_id, p.last_read_seq, p.joined_at, p.username, p.photo_id,
                p.photo_url, p.photo_type, p.availability
         FROM chat_participants p JOIN chats c ON c.id = ?1
         WHERE p.chat_id = ?1",
        &[chat_id.as_str().into()],
    )?;
    // The range of domain::pagination::message_page_range, in SQL so that it needs no earlier read: the
    // snapshot row is read once (one row), then the page is one primary-key range (`limit` rows).
    let messages_sql = format!(
        "WITH snapshot AS (SELECT COALESCE(?3, last_seq) AS s FROM chats WHERE id = ?1 AND {IS_MEMBER})
         SELECT {MESSAGE_COLUMNS} FROM snapshot JOIN messages m
           ON m.chat_id = ?1 AND m.seq BETWEEN snapshot.s - ?4 - ?5 + 1 AND snapshot.s - ?4
         ORDER BY m.seq LIMIT ?5"
    );
    let messages = db.statement(
        &messages_sql,
        &[
            chat_id.as_str().into(),
            caller.as_str().into(),
            as_of.into(),
            page.offset().into(),
            page.limit.into(),
        ],
    )?;
    let results = db.batch(vec![participants, messages]).await?;
    // Sorted here, not in SQL: D1 counts a sorter's rows as rows read.
    let mut listed: Vec<ParticipantWithChat> = rows(nth(&results, 0)?)?;
    listed.sort_by(|a, b| {
        (a.participant.joined_at, &a.participant.user_id)
            .cmp(&(b.participant.joined_at, &b.participant.user_id))
    });
    if !listed
        .iter()
        .any(|p| p.participant.user_id == caller.as_str())
    {
        return Ok(None);
    }
    let chat_last_seq = listed.first().and_then(|p| p.chat_last_seq).unwrap_or(0);
    Ok(Some(MessagePage {
        chat_last_seq,
        participants: listed.into_iter().map(|p| p.participant).collect(),
        messages: rows(nth(&results, 1)?)?,
    }))
}

pub struct SendOutcome {
    pub message: MessageRow,
    /// False when this was a retry of an earlier send (same `clientMessageId` and body).
    pub created: bool,
    /// Participants' read marks, read only for a possible replay (a new message is read by no one else yet).
    pub read_marks: Vec<(String, i64)>,
}

#[derive(serde::Deserialize)]
struct ReadMark {
    user_id: String,
    last_read_seq: i64,
}

/// Stores a message as the chat's next sequence number and moves the sender's read mark to it; or, when
/// `clientMessageId` was seen before from this sender in this chat, returns the original message
/// (409 if the retry's body differs). One round trip: one batch, one transaction.
///
/// Must run inside the chat's Durable Object, which runs the chat's writes one at a time.
pub async fn send(
    db: &Db,
    caller: &Caller,
    message: &NewMessage,
    now_ms: i64,
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
            "UPDATE chats SET last_seq = last_seq + 1, last_activity_at = ?4, updated_at = ?4
             WHERE id = ?1 AND {IS_MEMBER} AND {not_seen}"
        ),
        &[guard_args[0], guard_args[1], guard_args[2], now_ms.into()],
    )?;
    let insert = db.statement(
        &format!(
            "INSERT INTO messages (chat_id, seq, id, sender_id, sender_role, type, content, media, metadata,
                                   client_message_id, request_hash, created_at, updated_at)
             SELECT ?1, c.last_seq, ?4, ?2, 'user', ?5, ?6, ?7, ?8, ?3, ?9, ?10, ?10 FROM chats c
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
    if message.client_message_id.is_some() {
        statements.push(db.statement(
            "SELECT user_id, last_read_seq FROM chat_participants WHERE chat_id = ?1",
            &[chat.into()],
        )?);
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
    let read_marks = match results.get(read_back_index + 1) {
        Some(marks) if !created => rows::<ReadMark>(marks)?
            .into_iter()
            .map(|m| (m.user_id, m.last_read_seq))
            .collect(),
        _ => Vec::new(),
    };
    Ok(SendOutcome {
        message: stored,
        created,
        read_marks,
    })
}
