//! Files' records (the bytes are R2 objects named by the file's id): who may upload to a chat, the
//! record of an upload, a file as a download sees it, and the daily clean-up's statements.

use super::{changes, first, nth, read_as, rows, Arg, Db};
use crate::auth::{Author, Credential};
use crate::domain::ids::{ChatId, FileId};
use crate::error::{ApiError, Result};

/// Chat ?1's project and whether user ?2 (NULL for a service key) is in it; no row for no chat.
pub const UPLOAD_REACH_SQL: &str = "SELECT c.project_id,
       (?2 IS NULL OR EXISTS (SELECT 1 FROM chat_participants p WHERE p.chat_id = ?1 AND p.user_id = ?2))
         AS is_member
     FROM chats c WHERE c.id = ?1";

/// A new file. ?1 id, ?2 chat, ?3 uploader, ?4 name, ?5 content type, ?6 size, ?7 sha256, ?8 now.
pub const INSERT_FILE_SQL: &str =
    "INSERT INTO files (id, chat_id, uploader_id, name, content_type, size, sha256, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// File ?1 unless removed, with its chat's project and whether user ?2 (NULL: a signed URL or a key)
/// is in the chat.
pub const FILE_SQL: &str = "SELECT f.id, f.chat_id, f.uploader_id, f.name, f.content_type, f.size,
       f.sha256, f.created_at, c.project_id,
       (?2 IS NULL OR EXISTS (SELECT 1 FROM chat_participants p
                              WHERE p.chat_id = f.chat_id AND p.user_id = ?2)) AS is_member
     FROM files f JOIN chats c ON c.id = f.chat_id WHERE f.id = ?1 AND f.removed_at IS NULL";

/// The clean-up, step 1: files still waiting for a message since before ?1 are removed (a send can no
/// longer attach them), at most ?2 of them.
pub const REMOVE_STALE_SQL: &str = "UPDATE files SET removed_at = ?1
     WHERE id IN (SELECT id FROM files WHERE message_id IS NULL AND removed_at IS NULL
                  AND created_at < ?1 - 86400000 ORDER BY created_at LIMIT ?2)";

/// Step 2: removed files whose bytes are still stored, oldest first, at most ?1.
pub const PURGE_DUE_SQL: &str = "SELECT id FROM files
     WHERE removed_at IS NOT NULL AND purged_at IS NULL ORDER BY removed_at LIMIT ?1";

/// Step 3, once their bytes are deleted: files ?1 (a JSON array of ids) are purged at ?2.
pub const MARK_PURGED_SQL: &str = "UPDATE files SET purged_at = ?2
     WHERE id IN (SELECT value FROM json_each(?1)) AND purged_at IS NULL";

/// Webhook delivery records last changed before ?1, at most ?2 of them, oldest first.
pub const OLD_DELIVERIES_SQL: &str = "DELETE FROM webhook_deliveries
     WHERE (key_id, event_id) IN (SELECT key_id, event_id FROM webhook_deliveries
                                  WHERE updated_at < ?1 ORDER BY updated_at LIMIT ?2)";

/// A file as stored.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct FileRow {
    pub id: String,
    pub chat_id: String,
    pub uploader_id: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub created_at: i64,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default)]
    pub is_member: i64,
}

/// The author of an upload to `chat_id` (a service key checked in the same round trip), when it may
/// upload there: a participant, or a key that reaches the chat. 404 otherwise. One round trip.
pub async fn upload_reach(db: &Db, who: &Credential, chat_id: &ChatId) -> Result<Author> {
    #[derive(serde::Deserialize)]
    struct Reach {
        project_id: Option<String>,
        is_member: i64,
    }
    let user: Arg<'_> = match who {
        Credential::User(caller) => caller.id.as_str().into(),
        Credential::Key(_) => Arg::Null,
    };
    let (author, row) =
        read_as::<Reach>(db, who, UPLOAD_REACH_SQL, &[chat_id.as_str().into(), user]).await?;
    let reached = row.is_some_and(|r| match &author {
        Author::User(_) => r.is_member == 1,
        Author::Service(key) => key.reaches(r.project_id.as_deref()),
    });
    if !reached {
        return Err(ApiError::not_found("chat"));
    }
    Ok(author)
}

/// A new file's record (its bytes are stored already). One round trip.
pub async fn insert(db: &Db, file: &FileRow) -> Result<()> {
    db.all(db.statement(
        INSERT_FILE_SQL,
        &[
            file.id.as_str().into(),
            file.chat_id.as_str().into(),
            file.uploader_id.as_str().into(),
            file.name.as_str().into(),
            file.content_type.as_str().into(),
            file.size.into(),
            file.sha256.as_str().into(),
            file.created_at.into(),
        ],
    )?)
    .await
    .map(|_| ())
}

/// File `id` as `who` may download it (`None`: a signed URL, checked already): 404 when it is unknown,
/// removed, or in a chat out of reach. One round trip.
pub async fn find(db: &Db, who: Option<&Credential>, id: &FileId) -> Result<FileRow> {
    let not_found = || ApiError::not_found("file");
    let Some(who) = who else {
        let result = db
            .all(db.statement(FILE_SQL, &[id.as_str().into(), Arg::Null])?)
            .await?;
        return first::<FileRow>(&result)?.ok_or_else(not_found);
    };
    let user: Arg<'_> = match who {
        Credential::User(caller) => caller.id.as_str().into(),
        Credential::Key(_) => Arg::Null,
    };
    let (author, row) = read_as::<FileRow>(db, who, FILE_SQL, &[id.as_str().into(), user]).await?;
    row.filter(|f| match &author {
        Author::User(_) => f.is_member == 1,
        Author::Service(key) => key.reaches(f.project_id.as_deref()),
    })
    .ok_or_else(not_found)
}

/// The clean-up's first round trip: stale uploads removed, then the removed files whose bytes are due
/// (at most `limit`).
pub async fn due_for_purge(db: &Db, now_ms: i64, limit: i64) -> Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    let results = db
        .batch(vec![
            db.statement(REMOVE_STALE_SQL, &[now_ms.into(), limit.into()])?,
            db.statement(PURGE_DUE_SQL, &[limit.into()])?,
        ])
        .await?;
    Ok(rows::<Id>(nth(&results, 1)?)?
        .into_iter()
        .map(|i| i.id)
        .collect())
}

/// Marks files purged (their bytes deleted) and removes old delivery records: one round trip; the
/// numbers of each.
pub async fn finish_purge(
    db: &Db,
    purged: &[String],
    now_ms: i64,
    deliveries_before_ms: i64,
    limit: i64,
) -> Result<(u64, u64)> {
    let ids = serde_json::to_string(purged)?;
    let results = db
        .batch(vec![
            db.statement(MARK_PURGED_SQL, &[ids.as_str().into(), now_ms.into()])?,
            db.statement(
                OLD_DELIVERIES_SQL,
                &[deliveries_before_ms.into(), limit.into()],
            )?,
        ])
        .await?;
    Ok((changes(nth(&results, 0)?), changes(nth(&results, 1)?)))
}
