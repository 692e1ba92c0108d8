//! A user's erasure (API.md "Safety and privacy"): its record, the parts done at once in one batch
//! (profile, blocks, reports, mentions, files), and the statements of a chat's step, which the chat's
//! Durable Object runs (tombstones, reactions, leaving the group).

use serde::Deserialize;
use worker::D1Result;

use super::sql::{concatcp, CHANGE_STAMP, MESSAGE_COLUMNS};
use super::{first, nth, Db};
use crate::error::{ApiError, Result};

/// The erasure's columns (`ErasureRow`).
const ERASURE_COLUMNS: &str =
    "id, user_id, status, next_chat, messages_erased, chats_left, files_deleted, steps";

/// A new erasure ?1 of user ?2 at ?3.
pub const INSERT_ERASURE_SQL: &str =
    "INSERT INTO erasures (id, user_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)";

/// User ?1's profile anonymized at ?2 (kept `claimed`, so no token's claims fill it in again), and
/// the copies in its chats' participant lists.
pub const ANONYMIZE_SQL: &str = "UPDATE users SET username = 'deleted-user', first_name = '',
       photo_id = NULL, photo_url = NULL, photo_type = NULL, claimed = 1, updated_at = ?2
     WHERE id = ?1";

/// User ?1's blocks, both ways, and its reports.
pub const ERASE_BLOCKS_SQL: &str = "DELETE FROM blocks WHERE blocker_id = ?1";
pub const ERASE_BLOCKED_SQL: &str = "DELETE FROM blocks WHERE blocked_id = ?1";
pub const ERASE_REPORTS_SQL: &str = "DELETE FROM reports WHERE reporter_id = ?1";
/// Where user ?1 is mentioned (the unread counts follow by migration 0008's triggers).
pub const ERASE_MENTIONS_SQL: &str = "DELETE FROM mentions WHERE user_id = ?1";
/// User ?1's files, removed at ?2 (a 404 at once; the daily job deletes their bytes).
pub const ERASE_FILES_SQL: &str =
    "UPDATE files SET removed_at = ?2 WHERE uploader_id = ?1 AND removed_at IS NULL";
/// Erasure ?1's count of files: the statement just before (`ERASE_FILES_SQL`) changed that many.
pub const COUNT_FILES_SQL: &str = "UPDATE erasures SET files_deleted = changes() WHERE id = ?1";

/// Erasure ?1.
pub const ERASURE_SQL: &str = concatcp!("SELECT ", ERASURE_COLUMNS, " FROM erasures WHERE id = ?1");

/// Up to ?1 running erasures, oldest first.
pub const RUNNING_SQL: &str = "SELECT group_concat(id, ' ') AS text FROM
       (SELECT id FROM erasures WHERE status = 'running' ORDER BY created_at, id LIMIT ?1)";

/// The next chat of user ?1 after chat ?2 (by id) that an erasure still has to visit: one it is in,
/// or one holding a message it sent. Three index entries at most.
pub const NEXT_CHAT_SQL: &str = "SELECT MIN(chat_id) AS text FROM (
       SELECT * FROM (SELECT chat_id FROM chat_participants
                      WHERE user_id = ?1 AND muted = 0 AND chat_id > ?2 ORDER BY chat_id LIMIT 1)
       UNION ALL
       SELECT * FROM (SELECT chat_id FROM chat_participants
                      WHERE user_id = ?1 AND muted = 1 AND chat_id > ?2 ORDER BY chat_id LIMIT 1)
       UNION ALL
       SELECT * FROM (SELECT chat_id FROM messages
                      WHERE sender_id = ?1 AND chat_id > ?2 ORDER BY chat_id LIMIT 1))";

/// A step recorded: ?2 messages and ?3 chats left more, the chats through ?4 done (NULL: the same),
/// done altogether when ?5, at ?6.
pub const STEP_SQL: &str = "UPDATE erasures SET messages_erased = messages_erased + ?2,
       chats_left = chats_left + ?3, next_chat = COALESCE(?4, next_chat), steps = steps + 1,
       status = CASE WHEN ?5 THEN 'done' ELSE status END, updated_at = ?6
     WHERE id = ?1";

// A chat's step, in its Durable Object.

/// Up to ?3 of user ?2's live messages in chat ?1, oldest first (seq and id), as one text.
pub const LIVE_OF_SQL: &str = "SELECT group_concat(seq || ' ' || id, ' ') AS text FROM
       (SELECT seq, id FROM messages WHERE sender_id = ?2 AND chat_id = ?1 AND deleted_at IS NULL
        ORDER BY seq LIMIT ?3)";

/// Messages ?2 (a JSON array of sequence numbers) of sender ?3 in chat ?1 tombstoned by a moderator
/// at ?4 (now), if still live; each with a write stamp of its own (`CHANGE_STAMP`, per row).
pub const ERASE_MESSAGES_SQL: &str = concatcp!(
    "UPDATE messages SET content = NULL, media = NULL, metadata = NULL, deleted_at = ?4,
       deleted_by = 'moderator', pinned_at = NULL, pinned_by = NULL, updated_at = ",
    CHANGE_STAMP,
    " WHERE chat_id = ?1 AND seq IN (SELECT value FROM json_each(?2)) AND deleted_at IS NULL
       AND sender_id = ?3"
);

/// The tombstones ?2 (sequence numbers) of chat ?1, as they are now.
pub const ERASED_SQL: &str = concatcp!(
    "SELECT ",
    MESSAGE_COLUMNS,
    " FROM messages m WHERE m.chat_id = ?1 AND m.seq IN (SELECT value FROM json_each(?2))"
);

/// User ?2's reactions in chat ?1 (the counts follow by migration 0008's triggers).
pub const ERASE_REACTIONS_SQL: &str = "DELETE FROM reactions WHERE chat_id = ?1 AND user_id = ?2";

/// Before user ?2 leaves group ?1 as its owner: the longest-standing admin, else member, becomes the
/// owner.
pub const PASS_OWNERSHIP_SQL: &str = "UPDATE chat_participants SET role = 'owner'
     WHERE chat_id = ?1 AND user_id = (
         SELECT user_id FROM chat_participants WHERE chat_id = ?1 AND user_id <> ?2
         ORDER BY CASE role WHEN 'admin' THEN 0 ELSE 1 END, joined_at, user_id LIMIT 1)
       AND EXISTS (SELECT 1 FROM chat_participants
                   WHERE chat_id = ?1 AND user_id = ?2 AND role = 'owner')";

/// User ?2 leaves group ?1 (no `member.left` message); a direct chat keeps it, anonymized.
pub const LEAVE_GROUP_SQL: &str = "DELETE FROM chat_participants
     WHERE chat_id = ?1 AND user_id = ?2
       AND (SELECT type FROM chats WHERE id = ?1) = 'group'";

/// An erasure as stored.
#[derive(Debug, Clone, Deserialize)]
pub struct ErasureRow {
    pub id: String,
    pub user_id: String,
    pub status: String,
    pub next_chat: String,
    pub messages_erased: i64,
    pub chats_left: i64,
    pub files_deleted: i64,
    pub steps: i64,
}

/// Starts erasure `id` of `user`: its record and every part that is not a chat's, in one batch.
pub async fn start(db: &Db, id: &str, user: &str, now_ms: i64) -> Result<ErasureRow> {
    let results = db
        .batch(vec![
            db.statement(INSERT_ERASURE_SQL, &[id.into(), user.into(), now_ms.into()])?,
            db.statement(ANONYMIZE_SQL, &[user.into(), now_ms.into()])?,
            db.statement(super::users::COPY_PROFILE_SQL, &[user.into()])?,
            db.statement(ERASE_BLOCKS_SQL, &[user.into()])?,
            db.statement(ERASE_BLOCKED_SQL, &[user.into()])?,
            db.statement(ERASE_REPORTS_SQL, &[user.into()])?,
            db.statement(ERASE_MENTIONS_SQL, &[user.into()])?,
            db.statement(ERASE_FILES_SQL, &[user.into(), now_ms.into()])?,
            db.statement(COUNT_FILES_SQL, &[id.into()])?,
            db.statement(ERASURE_SQL, &[id.into()])?,
        ])
        .await?;
    first(nth(&results, 9)?)?.ok_or_else(|| ApiError::internal("erasure not read back"))
}

pub async fn find(db: &Db, id: &str) -> Result<Option<ErasureRow>> {
    first(&db.all(db.statement(ERASURE_SQL, &[id.into()])?).await?)
}

/// Up to `limit` running erasures' ids, oldest first.
pub async fn running(db: &Db, limit: i64) -> Result<Vec<String>> {
    let result = db.all(db.statement(RUNNING_SQL, &[limit.into()])?).await?;
    Ok(super::first_text(&result)?
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect())
}

/// The next chat the erasure of `user` has to visit after `after`.
pub async fn next_chat(db: &Db, user: &str, after: &str) -> Result<Option<String>> {
    let result = db
        .all(db.statement(NEXT_CHAT_SQL, &[user.into(), after.into()])?)
        .await?;
    super::first_text(&result)
}

/// Records a step.
pub async fn record_step(
    db: &Db,
    id: &str,
    (erased, left): (i64, i64),
    done_through: Option<&str>,
    done: bool,
    now_ms: i64,
) -> Result<()> {
    let statement = db.statement(
        STEP_SQL,
        &[
            id.into(),
            erased.into(),
            left.into(),
            done_through.into(),
            i64::from(done).into(),
            now_ms.into(),
        ],
    )?;
    db.all(statement).await?;
    Ok(())
}

/// `LIVE_OF_SQL`'s text as (seq, id) pairs.
pub fn live_of(result: &D1Result) -> Result<Vec<(i64, String)>> {
    let text = super::first_text(result)?.unwrap_or_default();
    let parts: Vec<&str> = text.split_whitespace().collect();
    Ok(parts
        .chunks(2)
        .filter_map(|pair| match pair {
            [seq, id] => Some((seq.parse().ok()?, id.to_string())),
            _ => None,
        })
        .collect())
}
