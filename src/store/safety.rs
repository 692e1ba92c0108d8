//! Blocks, reports and the export (API.md "Safety and privacy"): the statements and the reads and
//! writes made of them. The block checks themselves live in the writes they guard (a send's, a
//! transfer's, a chat's creation, a member's addition), so that a block and a write race in D1's one
//! order.

use serde::Deserialize;

use super::rows::MessageRow;
use super::sql::{concatcp, MESSAGE_COLUMNS, MESSAGE_JSON};
use super::{changes, first, nth, rows, Db};
use crate::domain::ids::{MessageId, ReportId, UserId};
use crate::domain::safety::{NewReport, ReportQuery, ReportStatus, MAX_BLOCKS};
use crate::error::{ApiError, Result};

/// User ?1 blocks user ?2 at ?3, unless it blocks ?4 users already (a repeat changes nothing).
pub const BLOCK_SQL: &str = "INSERT INTO blocks (blocker_id, blocked_id, created_at)
     SELECT ?1, ?2, ?3 WHERE (SELECT COUNT(*) FROM blocks WHERE blocker_id = ?1) < ?4
     ON CONFLICT DO NOTHING";

/// Whether user ?1 blocks user ?2.
pub const IS_BLOCKED_SQL: &str =
    "SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ?1 AND blocked_id = ?2) AS blocked";

/// User ?1 unblocks user ?2.
pub const UNBLOCK_SQL: &str = "DELETE FROM blocks WHERE blocker_id = ?1 AND blocked_id = ?2";

/// The users ?1 blocks, by id (at most `MAX_BLOCKS`), as the whole `{"userIds": [...]}` answer.
pub const BLOCKS_SQL: &str = "SELECT json_object('userIds', json_group_array(blocked_id)) AS text
     FROM (SELECT blocked_id FROM blocks WHERE blocker_id = ?1 ORDER BY blocked_id)";

/// Blocks `other` (idempotent). One round trip: the block and its read-back; past `MAX_BLOCKS` a
/// 422.
pub async fn block(db: &Db, me: &UserId, other: &UserId, now_ms: i64) -> Result<()> {
    let (me, other) = (me.as_str(), other.as_str());
    let results = db
        .batch(vec![
            db.statement(
                BLOCK_SQL,
                &[me.into(), other.into(), now_ms.into(), MAX_BLOCKS.into()],
            )?,
            db.statement(IS_BLOCKED_SQL, &[me.into(), other.into()])?,
        ])
        .await?;
    if super::chats::blocked(nth(&results, 1)?)? {
        Ok(())
    } else {
        Err(ApiError::unprocessable(format!(
            "you can block at most {MAX_BLOCKS} users; unblock someone first"
        )))
    }
}

pub async fn unblock(db: &Db, me: &UserId, other: &UserId) -> Result<()> {
    let statement = db.statement(UNBLOCK_SQL, &[me.as_str().into(), other.as_str().into()])?;
    db.all(statement).await?;
    Ok(())
}

/// The `{"userIds": [...]}` answer.
pub async fn blocks(db: &Db, me: &UserId) -> Result<String> {
    let statement = db.statement(BLOCKS_SQL, &[me.as_str().into()])?;
    Ok(super::first_text(&db.all(statement).await?)?.unwrap_or_else(|| r#"{"userIds":[]}"#.into()))
}

/// The report's columns (`ReportRow`).
const REPORT_COLUMNS: &str =
    "r.id, r.message_id, r.chat_id, r.reporter_id, r.reason, r.note, r.status, r.created_at";

/// Reporter ?3's report ?1 of message ?2 (of a chat it is in) for reason ?4 with note ?5 at ?6; a
/// second report of the same message by the same user changes nothing.
pub const INSERT_REPORT_SQL: &str = "INSERT INTO reports (id, message_id, chat_id, reporter_id,
                                         reason, note, status, created_at, updated_at)
     SELECT ?1, m.id, m.chat_id, ?3, ?4, ?5, 'open', ?6, ?6 FROM messages m
     WHERE m.id = ?2
       AND EXISTS (SELECT 1 FROM chat_participants p WHERE p.chat_id = m.chat_id AND p.user_id = ?3)
     ON CONFLICT (reporter_id, message_id) DO NOTHING";

/// Reporter ?1's report of message ?2.
pub const REPORT_OF_SQL: &str = concatcp!(
    "SELECT ",
    REPORT_COLUMNS,
    " FROM reports r WHERE r.reporter_id = ?1 AND r.message_id = ?2"
);

/// Report ?1.
pub const REPORT_SQL: &str =
    concatcp!("SELECT ", REPORT_COLUMNS, " FROM reports r WHERE r.id = ?1");

/// Report ?1's status set to ?2 at ?3.
pub const SET_REPORT_STATUS_SQL: &str =
    "UPDATE reports SET status = ?2, updated_at = ?3 WHERE id = ?1";

/// A page of the reports of status ?1, oldest first, after (?2 createdAt, ?3 id), ?4 rows, each with
/// its message as it is now (a positional array: `MessageRow`).
pub const REPORTS_SQL: &str = concatcp!(
    "SELECT ",
    REPORT_COLUMNS,
    ", (SELECT ",
    MESSAGE_JSON,
    " FROM messages m WHERE m.id = r.message_id) AS message
     FROM reports r
     WHERE r.status = ?1 AND (r.created_at > ?2 OR (r.created_at = ?2 AND r.id > ?3))
     ORDER BY r.created_at, r.id LIMIT ?4"
);

#[derive(Debug, Clone, Deserialize)]
pub struct ReportRow {
    pub id: String,
    pub message_id: String,
    pub chat_id: String,
    pub reporter_id: String,
    pub reason: String,
    pub note: Option<String>,
    pub status: String,
    pub created_at: i64,
    /// The reported message (the admin's list only).
    #[serde(default)]
    pub message: Option<String>,
}

impl ReportRow {
    pub fn message(&self) -> Result<Option<MessageRow>> {
        match &self.message {
            Some(json) => Ok(Some(serde_json::from_str(json)?)),
            None => Ok(None),
        }
    }
}

/// Reports a message the reporter can see: the report and whether it is new (a repeat answers the
/// first). `None` when the message is not in a chat of the reporter's. One round trip.
pub async fn report(
    db: &Db,
    reporter: &UserId,
    message: &MessageId,
    new: &NewReport,
    now_ms: i64,
) -> Result<Option<(ReportRow, bool)>> {
    let id = ReportId::generate(now_ms)?;
    let (me, message) = (reporter.as_str(), message.as_str());
    let results = db
        .batch(vec![
            db.statement(
                INSERT_REPORT_SQL,
                &[
                    id.as_str().into(),
                    message.into(),
                    me.into(),
                    new.reason.as_str().into(),
                    new.note.as_deref().into(),
                    now_ms.into(),
                ],
            )?,
            db.statement(REPORT_OF_SQL, &[me.into(), message.into()])?,
        ])
        .await?;
    let row: Option<ReportRow> = first(nth(&results, 1)?)?;
    Ok(row.map(|row| {
        let created = row.id == id.as_str();
        (row, created)
    }))
}

/// A page of reports (`limit + 1` read, to know whether more follow).
pub async fn reports(db: &Db, query: &ReportQuery) -> Result<Vec<ReportRow>> {
    let (after_at, after_id) = match &query.after {
        Some(p) => (p.created_at, p.id.as_str()),
        None => (-1, ""),
    };
    let statement = db.statement(
        REPORTS_SQL,
        &[
            query.status.as_str().into(),
            after_at.into(),
            after_id.into(),
            (query.limit + 1).into(),
        ],
    )?;
    rows(&db.all(statement).await?)
}

/// Sets a report's status; `None` when there is no such report. One round trip.
pub async fn set_report_status(
    db: &Db,
    id: &ReportId,
    status: ReportStatus,
    now_ms: i64,
) -> Result<Option<ReportRow>> {
    let results = db
        .batch(vec![
            db.statement(
                SET_REPORT_STATUS_SQL,
                &[id.as_str().into(), status.as_str().into(), now_ms.into()],
            )?,
            db.statement(REPORT_SQL, &[id.as_str().into()])?,
        ])
        .await?;
    let _ = changes(nth(&results, 0)?);
    first(nth(&results, 1)?)
}

// The export's pages (API.md "Export"): each a range of an index that leads with the user, written
// by SQLite as the export's NDJSON lines (one text per page).

/// An epoch-milliseconds column as the API's timestamp.
macro_rules! timestamp {
    ($column:literal) => {
        concatcp!(
            "strftime('%Y-%m-%dT%H:%M:%fZ', ",
            $column,
            " / 1000.0, 'unixepoch')"
        )
    };
}

/// User ?1's memberships after (?2 muted, ?3 chat), ?4 rows, as export lines.
pub const EXPORT_MEMBERSHIPS_SQL: &str = concatcp!(
    "SELECT group_concat(line, char(10)) AS text FROM (
       SELECT json_object('kind', 'membership', 'data', json_object(
           'chatId', p.chat_id, 'type', c.type, 'title', c.title, 'role', p.role,
           'joinedAt', ",
    timestamp!("p.joined_at"),
    ", 'lastReadSequence', p.last_read_seq,
           'muted', json(CASE WHEN p.muted = 1 THEN 'true' ELSE 'false' END),
           'archived', json(CASE WHEN p.archived = 1 THEN 'true' ELSE 'false' END))) AS line
       FROM chat_participants p JOIN chats c ON c.id = p.chat_id
       WHERE p.user_id = ?1 AND (p.muted > ?2 OR (p.muted = ?2 AND p.chat_id > ?3))
       ORDER BY p.muted, p.chat_id LIMIT ?4)"
);

/// The messages user ?1 sent, by chat and sequence, after (?2 chat, ?3 seq), ?4 rows.
pub const EXPORT_MESSAGES_SQL: &str = concatcp!(
    "SELECT ",
    MESSAGE_COLUMNS,
    " FROM messages m
     WHERE m.sender_id = ?1 AND (m.chat_id > ?2 OR (m.chat_id = ?2 AND m.seq > ?3))
     ORDER BY m.chat_id, m.seq LIMIT ?4"
);

/// User ?1's ledger lines after line ?2, ?3 rows, oldest first, as export lines.
pub const EXPORT_LEDGER_SQL: &str = concatcp!(
    "SELECT group_concat(line, char(10)) AS text FROM (
       SELECT json_object('kind', 'ledger', 'data', json_object(
           'sequence', seq, 'transferId', transfer_id, 'kind', kind, 'amount', amount,
           'balanceAfter', balance_after, 'counterpartyId', counterparty_id, 'chatId', chat_id,
           'messageId', message_id, 'createdAt', ",
    timestamp!("created_at"),
    ")) AS line
       FROM ledger_entries WHERE user_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3)"
);

/// The users ?1 blocks (at most `MAX_BLOCKS`), as export lines.
pub const EXPORT_BLOCKS_SQL: &str = concatcp!(
    "SELECT group_concat(line, char(10)) AS text FROM (
       SELECT json_object('kind', 'block', 'data', json_object('userId', blocked_id, 'createdAt', ",
    timestamp!("created_at"),
    ")) AS line FROM blocks WHERE blocker_id = ?1 ORDER BY blocked_id)"
);

/// One page of export lines (`None`: the part is done), read with `sql` and its arguments.
pub async fn export_lines(db: &Db, sql: &str, args: &[super::Arg<'_>]) -> Result<Option<String>> {
    super::first_text(&db.all(db.statement(sql, args)?).await?)
}

pub async fn export_messages(
    db: &Db,
    user: &str,
    after: &(String, i64),
    limit: i64,
) -> Result<Vec<MessageRow>> {
    let statement = db.statement(
        EXPORT_MESSAGES_SQL,
        &[
            user.into(),
            after.0.as_str().into(),
            after.1.into(),
            limit.into(),
        ],
    )?;
    rows(&db.all(statement).await?)
}

/// Message `id`'s chat, for the admin's delete (one index entry).
pub async fn chat_of_message(
    db: &Db,
    id: &MessageId,
) -> Result<Option<crate::domain::ids::ChatId>> {
    let statement = db.statement(super::writes::MESSAGE_BY_ID_SQL, &[id.as_str().into()])?;
    match first::<MessageRow>(&db.all(statement).await?)? {
        Some(row) => Ok(Some(crate::domain::ids::ChatId::parse(
            &row.chat_id,
            "chatId",
        )?)),
        None => Ok(None),
    }
}
