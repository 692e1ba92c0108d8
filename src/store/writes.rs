//! The writes of a chat's messages as plans: a send, an edit and a delete (a credit transfer is
//! `credits::transfer_plan`). Each is one group of statements that the chat's Durable Object commits in
//! one D1 batch (one transaction), alone or with the other writes of its group (group commit), and a
//! function that reads the write's outcome from the results of its own statements.
//!
//! Writes happen only inside the chat's Durable Object (`chat_room`), one group at a time per chat, and
//! each assigns the next sequence number from `chats.last_seq` inside its own transaction, so sequence
//! numbers stay dense even if the object restarts mid-write. Every statement is guarded, so a refused
//! write changes nothing and refuses only itself.

use worker::{D1PreparedStatement, D1Result};

use super::chat_list::{LIST_MOVE_SQL, REFRESH_SET, UNARCHIVE_SQL};
use super::rows::MessageRow;
use super::sql::{concatcp, CHANGE_STAMP, IS_MEMBER, MESSAGE_COLUMNS};
use super::users::{claim_profile, ClaimedProfile};
use super::{changes, first, nth, read_as, rows, Arg, Db};
use crate::auth::{Author, Credential};
use crate::domain::ids::{ChatId, MessageId, ProjectId, UserId};
use crate::domain::message::{Change, MessageKind, NewMessage, SenderRole};
use crate::error::{ApiError, Result};

/// A write as stored, by a send, a transfer, an edit or a delete.
pub struct Stored {
    pub message: MessageRow,
    /// False when this call committed nothing: a replayed idempotent send or transfer, or deleting a
    /// deleted message again.
    pub committed: bool,
    /// Participants' read marks: read when the message may be older than this write (a replay, an
    /// edit) or when asked for (the live listeners need the participant list); else empty.
    pub read_marks: Vec<(String, i64)>,
    /// True when this write committed a message that its members' chat lists do not order yet (a large
    /// group's send between refreshes moved no entry): the chat's Durable Object then schedules the
    /// catch-up. A direct chat's or small group's send moves the entries itself.
    pub list_behind: bool,
    /// The parent of a reply this write added or deleted, as it is now (its `replyCount` and
    /// `lastReplyAt` moved, kept by migration 0008's triggers): announced as `message.updated`.
    pub parent: Option<MessageRow>,
}

/// A write's statements, and how to read its outcome from their results. The chat's Durable Object
/// commits the statements of several writes in one batch (group commit) and gives each write the
/// slice of the results its own statements produced.
pub struct Plan<'a> {
    pub statements: Vec<D1PreparedStatement>,
    pub outcome: Outcome<'a>,
    /// The message the write creates or changes (its webhook event's, for the outbox).
    pub target: String,
}

/// What the before-send hooks had to say of a user's send or edit (API.md "Webhooks"): the keys whose
/// hooks were consulted (a JSON array; the write is refused if any other hook reaches the chat, so a
/// hook set while the write was on its way is never skipped), and for a send whose content a hook
/// replaced, the fingerprint of the request as the client sent it.
#[derive(Debug, Clone)]
pub struct Gate {
    pub consulted: String,
    pub fingerprint: Option<String>,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            consulted: "[]".into(),
            fingerprint: None,
        }
    }
}

/// No before-send hook reaches a chat of project `$project` but those of the keys in the JSON array
/// parameter `$p`: two searches of `api_keys_before_send` (the live keys with a hook), one for the keys
/// of every chat and one for the project's, so a chat that no hook reaches reads 0 rows.
macro_rules! unhooked {
    ($p:literal, $project:literal) => {
        concatcp!(
            "NOT EXISTS (SELECT 1 FROM api_keys k
               WHERE k.project_id IS NULL AND k.before_send_url IS NOT NULL AND k.revoked_at IS NULL
                 AND k.id NOT IN (SELECT value FROM json_each(",
            $p,
            ")))
             AND NOT EXISTS (SELECT 1 FROM api_keys k
               WHERE k.project_id = ",
            $project,
            " AND k.before_send_url IS NOT NULL AND k.revoked_at IS NULL
                 AND k.id NOT IN (SELECT value FROM json_each(",
            $p,
            ")))"
        )
    };
}

/// Reads a write's outcome from the results of its own statements.
pub type Outcome<'a> = Box<dyn FnOnce(&[D1Result]) -> Result<Stored> + 'a>;

impl Plan<'_> {
    /// Runs the plan alone: one round trip.
    pub async fn run(self, db: &Db) -> Result<Stored> {
        let results = db.batch(self.statements).await?;
        (self.outcome)(&results)
    }
}

/// Whether a send or transfer left its members' list order behind: it committed a message, and its
/// `LIST_MOVE_SQL`, the last statement before its read-back at `read_back`, moved no entry.
pub(super) fn left_list_behind(
    results: &[D1Result],
    read_back: usize,
    committed: bool,
) -> Result<bool> {
    let moved = changes(nth(results, read_back.saturating_sub(1))?);
    Ok(committed && moved == 0)
}

/// The chat's read marks, read in a write's batch. ?1 chat.
pub const READ_MARKS_SQL: &str =
    "SELECT user_id, last_read_seq FROM chat_participants WHERE chat_id = ?1";

pub fn read_marks_statement(db: &Db, chat_id: &str) -> Result<D1PreparedStatement> {
    db.statement(READ_MARKS_SQL, &[chat_id.into()])
}

/// Decodes `read_marks_statement`'s result (empty when it was not read).
pub fn read_marks(result: Option<&D1Result>) -> Result<Vec<(String, i64)>> {
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

/// Whether sender ?2 has not sent `clientMessageId` ?3 in chat ?1 yet (true when ?3 is NULL).
const NOT_SENT_YET: &str =
    "NOT EXISTS (SELECT 1 FROM messages WHERE chat_id = ?1 AND sender_id = ?2 AND client_message_id = ?3)";

/// A reply's parent ?5 (NULL: not a reply) is a live message of chat ?1 that is not a reply itself.
const PARENT_OK_5: &str = "(?5 IS NULL OR EXISTS (SELECT 1 FROM messages p
       WHERE p.id = ?5 AND p.chat_id = ?1 AND p.parent_id IS NULL AND p.deleted_at IS NULL))";
/// `PARENT_OK_5` for parameter ?11.
const PARENT_OK_11: &str = "(?11 IS NULL OR EXISTS (SELECT 1 FROM messages p
       WHERE p.id = ?11 AND p.chat_id = ?1 AND p.parent_id IS NULL AND p.deleted_at IS NULL))";

/// Every user of mentions ?6 (a JSON array; NULL: none) participates in chat ?1: one index entry each.
const MENTIONED_IN_CHAT_6: &str = "(?6 IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(?6) j
       WHERE NOT EXISTS (SELECT 1 FROM chat_participants WHERE chat_id = ?1 AND user_id = j.value)))";
/// `MENTIONED_IN_CHAT_6` for parameter ?12.
const MENTIONED_IN_CHAT_12: &str = "(?12 IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(?12) j
       WHERE NOT EXISTS (SELECT 1 FROM chat_participants WHERE chat_id = ?1 AND user_id = j.value)))";

/// A media's file ?7 (NULL: none) is sender ?2's upload to chat ?1, still free (no message, not
/// removed).
const FILE_OK_7: &str = "(?7 IS NULL OR EXISTS (SELECT 1 FROM files f
       WHERE f.id = ?7 AND f.chat_id = ?1 AND f.uploader_id = ?2 AND f.message_id IS NULL
         AND f.removed_at IS NULL))";
/// `FILE_OK_7` for parameter ?13.
const FILE_OK_13: &str = "(?13 IS NULL OR EXISTS (SELECT 1 FROM files f
       WHERE f.id = ?13 AND f.chat_id = ?1 AND f.uploader_id = ?2 AND f.message_id IS NULL
         AND f.removed_at IS NULL))";

/// Send, step 1: chat ?1's next sequence number, write stamp and list order at ?4 (now), when sender
/// ?2 may send (the guard on the chat row that follows), `clientMessageId` ?3 is new (`NOT_SENT_YET`
/// after the guard), the parent ?5 may be replied to, the mentions ?6 participate and the file ?7 is
/// free (so a refused reply, mention or file takes no sequence number).
const SEND_BUMP: &str = concatcp!(
    "UPDATE chats SET last_seq = last_seq + 1, last_activity_at = ",
    CHANGE_STAMP,
    ", updated_at = ?4, ",
    REFRESH_SET,
    " WHERE id = ?1 AND ",
    PARENT_OK_5,
    " AND ",
    MENTIONED_IN_CHAT_6,
    " AND ",
    FILE_OK_7,
    " AND "
);

/// Sender ?2 and a participant of chat ?1 blocked each other, either way: driven by the sender's
/// blocks, so a user who blocked nobody and whom nobody blocked costs 0 rows.
const BLOCKED_IN_CHAT: &str = "(EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ?2
         AND EXISTS (SELECT 1 FROM chat_participants o WHERE o.chat_id = ?1 AND o.user_id = b.blocked_id))
       OR EXISTS (SELECT 1 FROM blocks b WHERE b.blocked_id = ?2
         AND EXISTS (SELECT 1 FROM chat_participants o WHERE o.chat_id = ?1 AND o.user_id = b.blocker_id)))";

/// Chat ?1 is a direct chat and user ?2 and the other blocked each other, either way (0 rows for a
/// user without blocks: the chat is read only when a block matched). Refuses a user's edit, reaction
/// and pin there, as a send.
pub(super) const DIRECT_BLOCKED: &str = concatcp!(
    "(CASE WHEN ",
    BLOCKED_IN_CHAT,
    " THEN EXISTS (SELECT 1 FROM chats dc WHERE dc.id = ?1 AND dc.direct_key IS NOT NULL) ELSE 0 END)"
);

/// A participant's send: the sender must be in the chat, in a direct chat no block may stand between
/// the two, and no before-send hook but those consulted (?8) may reach the chat. ?1 chat, ?2 sender,
/// ?3 clientMessageId, ?4 now, ?5 parent, ?6 mentions, ?7 file.
pub const SEND_BUMP_SQL: &str = concatcp!(
    SEND_BUMP,
    IS_MEMBER,
    " AND ",
    NOT_SENT_YET,
    " AND (direct_key IS NULL OR NOT ",
    BLOCKED_IN_CHAT,
    ") AND ",
    unhooked!("?8", "chats.project_id")
);

/// Why a participant's send into chat ?1 stored nothing, when it is a block: sender ?2 is a member
/// of the direct chat ?1 and a block stands between the two (0 rows for a sender without blocks).
/// (A CASE, so that the chat and the membership are read only when a block matched.)
pub const SEND_BLOCKED_SQL: &str = concatcp!(
    "SELECT CASE WHEN ",
    BLOCKED_IN_CHAT,
    " THEN EXISTS (SELECT 1 FROM chats WHERE id = ?1 AND direct_key IS NOT NULL) AND ",
    IS_MEMBER,
    " ELSE 0 END AS blocked"
);

/// A service key's send: the chat must be in the key's project ?8 (NULL: any chat).
pub const SERVICE_SEND_BUMP_SQL: &str = concatcp!(
    SEND_BUMP,
    "(?8 IS NULL OR project_id = ?8) AND ",
    NOT_SENT_YET
);

/// Send, step 2: the message, under the same guards, with the bumped sequence number and stamp. ?1 chat,
/// ?2 sender, ?3 clientMessageId, ?4 id, ?5 type, ?6 content, ?7 media, ?8 metadata, ?9 request hash,
/// ?10 senderRole, ?11 parent, ?12 mentions, ?13 file; the reach guard follows. (The parent's reply
/// count and the mention rows follow by migration 0008's triggers.) A file's media takes the file's
/// name and size, and its type from the content type when the send gave none.
const SEND_INSERT: &str = concatcp!(
    "INSERT INTO messages (chat_id, seq, id, sender_id, sender_role, type, content, media, metadata,
                           client_message_id, request_hash, created_at, updated_at, parent_id,
                           mentions)
     SELECT ?1, c.last_seq, ?4, ?2, ?10, ?5, ?6, ",
    FILE_MEDIA,
    ", ?8, ?3, ?9, c.last_activity_at, c.last_activity_at, ?11, ?12 FROM chats c
     WHERE c.id = ?1 AND ",
    PARENT_OK_11,
    " AND ",
    MENTIONED_IN_CHAT_12,
    " AND ",
    FILE_OK_13,
    " AND "
);

/// The stored media: ?7 as sent, or for file ?13 with the file's name, size and (when ?7 has none)
/// the type its content type means.
const FILE_MEDIA: &str = "CASE WHEN ?13 IS NULL THEN ?7 ELSE
       (SELECT json_set(?7, '$.name', f.name, '$.size', f.size, '$.type',
          COALESCE(json_extract(?7, '$.type'),
                   CASE WHEN f.content_type LIKE 'image/%' THEN 'image'
                        WHEN f.content_type LIKE 'video/%' THEN 'video'
                        WHEN f.content_type LIKE 'audio/%' THEN 'audio' ELSE 'file' END))
        FROM files f WHERE f.id = ?13) END";

/// A participant's send (no block in a direct chat, no hook but those consulted, ?14, as
/// `SEND_BUMP_SQL`).
pub const SEND_INSERT_SQL: &str = concatcp!(
    SEND_INSERT,
    IS_MEMBER,
    " AND ",
    NOT_SENT_YET,
    " AND (c.direct_key IS NULL OR NOT ",
    BLOCKED_IN_CHAT,
    ") AND ",
    unhooked!("?14", "c.project_id")
);

/// A service key's send: ?14 the key's project (NULL: any chat).
pub const SERVICE_SEND_INSERT_SQL: &str = concatcp!(
    SEND_INSERT,
    "(?14 IS NULL OR c.project_id = ?14) AND ",
    NOT_SENT_YET
);

/// The parent of message ?1, if it is a reply, as it is after the write: a deleted reply's parent
/// (its counts moved).
pub const PARENT_OF_SQL: &str = concatcp!(
    "SELECT ",
    MESSAGE_COLUMNS,
    " FROM messages m WHERE m.id = (SELECT parent_id FROM messages WHERE id = ?1)"
);

/// Send, with a file: file ?1 now belongs to message ?2 (if it was stored); a file attaches to one
/// message only.
pub const ATTACH_FILE_SQL: &str = "UPDATE files SET message_id = ?2
     WHERE id = ?1 AND message_id IS NULL AND EXISTS (SELECT 1 FROM messages WHERE id = ?2)";

/// File ?1 as a send sees it, to say why it was refused.
pub const FILE_STATE_SQL: &str =
    "SELECT chat_id, uploader_id, message_id, removed_at FROM files WHERE id = ?1";

/// Of mentions ?2 (a JSON array), the users who do not participate in chat ?1, as a JSON array: why
/// a send or an edit with mentions was refused.
pub const OUTSIDERS_SQL: &str = "SELECT json_group_array(j.value) AS text FROM json_each(?2) j
     WHERE NOT EXISTS (SELECT 1 FROM chat_participants WHERE chat_id = ?1 AND user_id = j.value)";

/// Send, step 3: sender ?2's read mark in chat ?1 moves to the new message ?3 (if it was stored).
pub const SEND_READ_MARK_SQL: &str =
    "UPDATE chat_participants SET last_read_seq = (SELECT seq FROM messages WHERE id = ?3)
     WHERE chat_id = ?1 AND user_id = ?2 AND EXISTS (SELECT 1 FROM messages WHERE id = ?3)";

/// Send, step 4 with a `clientMessageId`: the stored message, new or the original of a retry.
/// ?1 chat, ?2 sender, ?3 clientMessageId.
pub const MESSAGE_BY_CLIENT_ID_SQL: &str = concatcp!(
    "SELECT ",
    MESSAGE_COLUMNS,
    " FROM messages m WHERE m.chat_id = ?1 AND m.sender_id = ?2 AND m.client_message_id = ?3"
);

/// A message by id. ?1 id.
pub const MESSAGE_BY_ID_SQL: &str = concatcp!(
    "SELECT ",
    MESSAGE_COLUMNS,
    " FROM messages m WHERE m.id = ?1"
);

/// Stores a message as the chat's next sequence number and, for a user, moves their read mark to it
/// (a service key's messages stay unread for every participant); or, when `clientMessageId` was seen
/// before from this sender in this chat, returns the original message (409 if the retry's body
/// differs). `with_marks` also reads the participants' read marks (the object's live listeners need
/// the participant list). A reply or a message with mentions also reads its parent (as the write left
/// it, for its `message.updated` event), the mentioned users who are not participants and the
/// author's reach, to say why it was refused.
pub fn send_plan<'a>(
    db: &Db,
    author: &'a Author,
    message: &'a NewMessage,
    role: SenderRole,
    now_ms: i64,
    with_marks: bool,
    gate: &Gate,
) -> Result<Plan<'a>> {
    let id = MessageId::generate(now_ms)?;
    let hash = match &gate.fingerprint {
        Some(fingerprint) => fingerprint.clone(),
        None => message.request_hash(role),
    };
    let (chat, sender) = (message.chat_id.as_str(), author.sender().as_str());
    let client_id = message.client_message_id.as_deref();
    let mentions = message
        .mentions
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let mut statements = match author {
        Author::User(caller) => {
            claim_profile(db, &ClaimedProfile::of(caller, now_ms)?, now_ms, Some(chat))?
        }
        Author::Service(_) => Vec::new(),
    };
    statements.extend(send_statements(
        db,
        author,
        message,
        (role, &id, &hash, mentions.as_deref()),
        now_ms,
        &gate.consulted,
    )?);
    let read_back = statements.len();
    statements.push(match client_id {
        Some(client_id) => db.statement(
            MESSAGE_BY_CLIENT_ID_SQL,
            &[chat.into(), sender.into(), client_id.into()],
        )?,
        None => db.statement(MESSAGE_BY_ID_SQL, &[id.as_str().into()])?,
    });
    let marks_at = (client_id.is_some() || with_marks).then_some(statements.len());
    if marks_at.is_some() {
        statements.push(read_marks_statement(db, chat)?);
    }
    let checks_at = statements.len();
    let file = message.media.as_ref().and_then(|m| m.file_id.as_deref());
    let checked = message.parent_id.is_some() || mentions.is_some() || file.is_some();
    if checked {
        let parent = message.parent_id.as_ref().map(MessageId::as_str);
        statements.push(db.statement(MESSAGE_BY_ID_SQL, &[parent.into()])?);
        statements.push(db.statement(
            OUTSIDERS_SQL,
            &[chat.into(), mentions.as_deref().unwrap_or("[]").into()],
        )?);
        statements.push(reach_statement(db, author, chat)?);
        statements.push(db.statement(FILE_STATE_SQL, &[file.into()])?);
    }
    // A user's send into a direct chat may be refused for a block (403).
    let blocked_at = matches!(author, Author::User(_)).then_some(statements.len());
    if blocked_at.is_some() {
        statements.push(db.statement(SEND_BLOCKED_SQL, &[chat.into(), sender.into()])?);
    }
    let target = id.as_str().to_string();
    let outcome = move |results: &[D1Result]| {
        let stored: Option<MessageRow> = first(nth(results, read_back)?)?;
        let Some(stored) = stored else {
            if checked {
                refuse_send(message, author.sender(), &results[checks_at..])?;
            }
            if let Some(at) = blocked_at {
                refuse_blocked(nth(results, at)?)?;
            }
            return Err(ApiError::not_found("chat"));
        };
        let committed = stored.id == id.as_str();
        if !committed && stored.request_hash.as_deref() != Some(hash.as_str()) {
            return Err(ApiError::conflict(
                "clientMessageId was already used for a different message in this chat",
            ));
        }
        let parent = match (committed, &message.parent_id) {
            (true, Some(_)) => first::<MessageRow>(nth(results, checks_at)?)?,
            _ => None,
        };
        Ok(Stored {
            message: stored,
            committed,
            read_marks: read_marks(marks_at.map(|at| nth(results, at)).transpose()?)?,
            list_behind: left_list_behind(results, read_back, committed)?,
            parent,
        })
    };
    Ok(Plan {
        statements,
        outcome: Box::new(outcome),
        target,
    })
}

/// The author's reach over chat ?1, read beside a write to say why it changed nothing: a user's
/// membership, a key's project.
fn reach_statement(db: &Db, author: &Author, chat: &str) -> Result<D1PreparedStatement> {
    match author {
        Author::User(caller) => {
            db.statement(IS_MEMBER_SQL, &[chat.into(), caller.id.as_str().into()])
        }
        Author::Service(key) => {
            let project = key.project.as_ref().map(ProjectId::as_str);
            db.statement(IN_PROJECT_SQL, &[chat.into(), project.into()])
        }
    }
}

/// Whether the reach statement found the chat in the author's reach.
fn reached(result: &D1Result) -> Result<bool> {
    #[derive(serde::Deserialize)]
    struct Member {
        is_member: i64,
    }
    Ok(first::<Member>(result)?.is_some_and(|m| m.is_member == 1))
}

/// A 403 when `SEND_BLOCKED_SQL` found a block between the two users of the direct chat.
pub(super) fn refuse_blocked(result: &D1Result) -> Result<()> {
    if super::chats::blocked(result)? {
        return Err(ApiError::forbidden(
            "you cannot write to this chat: one of you blocked the other",
        ));
    }
    Ok(())
}

/// Mentions that name users outside the chat: a 400 naming them.
fn refuse_outsiders(result: &D1Result) -> Result<()> {
    let outsiders: Vec<String> = match super::first_text(result)? {
        Some(text) => serde_json::from_str(&text)?,
        None => Vec::new(),
    };
    if outsiders.is_empty() {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "mentions must name participants of this chat; {} {} not",
        outsiders.join(", "),
        if outsiders.len() == 1 { "is" } else { "are" }
    )))
}

/// Why a reply or a message with mentions stored nothing, from the parent, outsiders and reach read
/// beside it: the chat out of reach (404), mentions of outsiders (400), a parent not in this chat
/// (404), itself a reply (422), or deleted (409). Ok when none of these explains it.
fn refuse_send(message: &NewMessage, sender: &UserId, checks: &[D1Result]) -> Result<()> {
    #[derive(serde::Deserialize)]
    struct FileState {
        chat_id: String,
        uploader_id: String,
        message_id: Option<String>,
        removed_at: Option<i64>,
    }
    if !reached(nth(checks, 2)?)? {
        return Err(ApiError::not_found("chat"));
    }
    refuse_outsiders(nth(checks, 1)?)?;
    if message.media.as_ref().is_some_and(|m| m.file_id.is_some()) {
        let file = first::<FileState>(nth(checks, 3)?)?.filter(|f| {
            f.chat_id == message.chat_id.as_str()
                && f.uploader_id == sender.as_str()
                && f.removed_at.is_none()
        });
        match file {
            None => {
                return Err(ApiError::bad_request(
                    "media.fileId names no file uploaded by the sender to this chat",
                ))
            }
            Some(f) if f.message_id.is_some() => {
                return Err(ApiError::conflict(
                    "the file is attached to another message already",
                ))
            }
            Some(_) => {}
        }
    }
    if message.parent_id.is_none() {
        return Ok(());
    }
    let parent = first::<MessageRow>(nth(checks, 0)?)?
        .filter(|p| p.chat_id == message.chat_id.as_str())
        .ok_or_else(|| ApiError::not_found("parent message"))?;
    if parent.parent_id.is_some() {
        return Err(ApiError::unprocessable(
            "parentId names a reply; reply to the message it replies to instead",
        ));
    }
    if parent.deleted_at.is_some() {
        return Err(ApiError::conflict("the parent message is deleted"));
    }
    Ok(())
}

/// The statements that store a new message: the chat's counter, the message, for a user their read
/// mark, the others' archived flags, the members' list order, and the file it carries. `stored`: the role, id, request
/// fingerprint and mentions (JSON) it is stored with.
fn send_statements(
    db: &Db,
    author: &Author,
    message: &NewMessage,
    (role, id, hash, mentions): (SenderRole, &MessageId, &str, Option<&str>),
    now_ms: i64,
    consulted: &str,
) -> Result<Vec<D1PreparedStatement>> {
    let media = message
        .media
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let metadata = message
        .metadata
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let chat = Arg::Text(message.chat_id.as_str());
    let sender = Arg::Text(author.sender().as_str());
    let client_id = message.client_message_id.as_deref().into();
    let id = Arg::Text(id.as_str());
    let parent: Arg<'_> = message.parent_id.as_ref().map(MessageId::as_str).into();
    let mentions: Arg<'_> = mentions.into();
    let file: Arg<'_> = message
        .media
        .as_ref()
        .and_then(|m| m.file_id.as_deref())
        .into();
    let mut insert_args = vec![
        chat,
        sender,
        client_id,
        id,
        MessageKind::from(message.kind).as_str().into(),
        message.content.as_deref().into(),
        media.as_deref().into(),
        metadata.as_deref().into(),
        hash.into(),
        role.as_str().into(),
        parent,
        mentions,
        file,
    ];
    let mut bump_args = vec![
        chat,
        sender,
        client_id,
        now_ms.into(),
        parent,
        mentions,
        file,
    ];
    let mut statements = match author {
        Author::User(_) => {
            bump_args.push(consulted.into());
            insert_args.push(consulted.into());
            vec![
                db.statement(SEND_BUMP_SQL, &bump_args)?,
                db.statement(SEND_INSERT_SQL, &insert_args)?,
                db.statement(SEND_READ_MARK_SQL, &[chat, sender, id])?,
            ]
        }
        Author::Service(key) => {
            let project: Arg<'_> = key.project.as_ref().map(ProjectId::as_str).into();
            insert_args.push(project);
            bump_args.push(project);
            vec![
                db.statement(SERVICE_SEND_BUMP_SQL, &bump_args)?,
                db.statement(SERVICE_SEND_INSERT_SQL, &insert_args)?,
            ]
        }
    };
    if let Arg::Text(_) = file {
        statements.push(db.statement(ATTACH_FILE_SQL, &[file, id])?);
    }
    // LIST_MOVE_SQL last: `left_list_behind` reads its outcome just before the read-back.
    statements.push(db.statement(UNARCHIVE_SQL, &[chat, sender, id])?);
    statements.push(db.statement(LIST_MOVE_SQL, &[chat])?);
    Ok(statements)
}

/// The chat a message belongs to. ?1 message id.
pub const CHAT_OF_MESSAGE_SQL: &str = "SELECT chat_id FROM messages WHERE id = ?1";

/// The chat a message belongs to, to find the Durable Object that owns its writes, and the author
/// asking (a service key checked in the same batch). One round trip.
pub async fn chat_of(
    db: &Db,
    who: &Credential,
    message_id: &MessageId,
) -> Result<(Author, Option<ChatId>)> {
    #[derive(serde::Deserialize)]
    struct Chat {
        chat_id: String,
    }
    let (author, chat) =
        read_as::<Chat>(db, who, CHAT_OF_MESSAGE_SQL, &[message_id.as_str().into()]).await?;
    let chat_id = chat
        .map(|c| ChatId::parse(&c.chat_id, "chatId"))
        .transpose()?;
    Ok((author, chat_id))
}

/// An edit: new content ?5, `editedAt` and a write stamp at ?4 (now) for sender ?2's own live text
/// message ?3 of chat ?1, and its mentions replaced by ?6 when given (a JSON array, `[]` for none;
/// NULL: unchanged), which must participate; the reach guard follows. (The mention rows follow by
/// migration 0008's triggers.)
const EDIT: &str = concatcp!(
    "UPDATE messages SET content = ?5, edited_at = ?4,
       mentions = CASE WHEN ?6 IS NULL THEN mentions WHEN ?6 = '[]' THEN NULL ELSE ?6 END,
       updated_at = ",
    CHANGE_STAMP,
    " WHERE id = ?3 AND chat_id = ?1 AND sender_id = ?2 AND type = 'text' AND deleted_at IS NULL
       AND ",
    MENTIONED_IN_CHAT_6,
    " AND "
);

/// A participant's edit: they must still be in the chat, and no before-send hook but those consulted
/// (?7) may reach it.
pub const EDIT_SQL: &str = concatcp!(
    EDIT,
    IS_MEMBER,
    " AND NOT ",
    DIRECT_BLOCKED,
    " AND ",
    unhooked!("?7", "(SELECT project_id FROM chats WHERE id = ?1)")
);

/// A service key's edit: the chat must be in the key's project ?7 (NULL: any chat).
pub const SERVICE_EDIT_SQL: &str = concatcp!(
    EDIT,
    "EXISTS (SELECT 1 FROM chats WHERE id = ?1 AND (?7 IS NULL OR project_id = ?7))"
);

/// A tombstone: content, media and metadata gone, unpinned, `deletedAt` and a write stamp set at ?4,
/// of message ?3 of chat ?1 while it is live.
const TOMBSTONE: &str = concatcp!(
    "UPDATE messages SET content = NULL, media = NULL, metadata = NULL, deleted_at = ?4,
                         pinned_at = NULL, pinned_by = NULL, updated_at = ",
    CHANGE_STAMP,
    ", deleted_by = "
);

/// A delete: the tombstone of sender ?2's own message ?3 of chat ?1, never of a credit transfer; the
/// reach guard follows.
const DELETE: &str = concatcp!(
    TOMBSTONE,
    "'sender' WHERE id = ?3 AND chat_id = ?1 AND sender_id = ?2 AND type <> 'credit_transfer'
       AND deleted_at IS NULL AND "
);

/// A moderator's delete: the tombstone of any message ?3 of chat ?1, whoever sent it (a credit
/// transfer keeps its amount and parties); ?2 is `moderator`, its `deletedBy`.
pub const TAKEDOWN_SQL: &str = concatcp!(
    TOMBSTONE,
    "?2 WHERE id = ?3 AND chat_id = ?1 AND deleted_at IS NULL"
);

/// A participant's delete.
pub const DELETE_SQL: &str = concatcp!(DELETE, IS_MEMBER);

/// A service key's delete: ?5 its project.
pub const SERVICE_DELETE_SQL: &str = concatcp!(
    DELETE,
    "EXISTS (SELECT 1 FROM chats WHERE id = ?1 AND (?5 IS NULL OR project_id = ?5))"
);

/// Whether user ?2 participates in chat ?1.
pub const IS_MEMBER_SQL: &str = concatcp!("SELECT ", IS_MEMBER, " AS is_member");

/// Whether chat ?1 is in a service key's reach: its project ?2 (NULL: any chat).
pub const IN_PROJECT_SQL: &str =
    "SELECT EXISTS (SELECT 1 FROM chats WHERE id = ?1 AND (?2 IS NULL OR project_id = ?2)) AS is_member";

/// Edits or deletes the author's own message. Only the sender may; credit transfer messages never
/// change; only text can be edited; a deleted message stays deleted (deleting again returns the
/// tombstone). `updatedAt` moves past every other `updatedAt` of the chat, so a client walking the sync
/// window over (`updatedAt`, `_id`) meets the change later in its walk. A delete also reads the
/// parent of a reply (its counts moved); an edit with mentions, the mentioned users who are not
/// participants.
pub fn change_plan<'a>(
    db: &Db,
    author: &'a Author,
    chat_id: &ChatId,
    message_id: &MessageId,
    change: &'a Change,
    now_ms: i64,
    gate: &Gate,
) -> Result<Plan<'a>> {
    let (chat, sender, id) = (
        chat_id.as_str(),
        author.sender().as_str(),
        message_id.as_str(),
    );
    let mentions = match change {
        Change::Edit { mentions, .. } => {
            mentions.as_ref().map(serde_json::to_string).transpose()?
        }
        Change::Delete | Change::Takedown => None,
    };
    let marker = match change {
        Change::Takedown => "moderator",
        _ => sender,
    };
    let mut args = vec![chat.into(), marker.into(), id.into(), now_ms.into()];
    if let Change::Edit { content, .. } = change {
        args.push(content.as_str().into());
        args.push(mentions.as_deref().into());
    }
    let update = match (author, change) {
        (_, Change::Takedown) => TAKEDOWN_SQL,
        (Author::User(_), Change::Edit { .. }) => EDIT_SQL,
        (Author::User(_), Change::Delete) => DELETE_SQL,
        (Author::Service(_), Change::Edit { .. }) => SERVICE_EDIT_SQL,
        (Author::Service(_), Change::Delete) => SERVICE_DELETE_SQL,
    };
    match (author, change) {
        (_, Change::Takedown) => {}
        (Author::Service(key), _) => args.push(key.project.as_ref().map(ProjectId::as_str).into()),
        (Author::User(_), Change::Edit { .. }) => args.push(gate.consulted.as_str().into()),
        (Author::User(_), _) => {}
    }
    let mut statements = vec![
        db.statement(update, &args)?,
        // As the author sees it, their own reactions included.
        db.statement(
            super::reactions::MESSAGE_FOR_READER_SQL,
            &[chat.into(), sender.into(), id.into()],
        )?,
        reach_statement(db, author, chat)?,
        read_marks_statement(db, chat)?,
    ];
    // A delete's reply parent, or an edit's outsiders among its mentions.
    let extra = match (change, &mentions) {
        (Change::Delete | Change::Takedown, _) => Some(db.statement(PARENT_OF_SQL, &[id.into()])?),
        (Change::Edit { .. }, Some(mentions)) => {
            Some(db.statement(OUTSIDERS_SQL, &[chat.into(), mentions.as_str().into()])?)
        }
        (Change::Edit { .. }, None) => None,
    };
    statements.extend(extra);
    // A user's edit in a direct chat may be refused for a block (403).
    let blocked_at = matches!((author, change), (Author::User(_), Change::Edit { .. }))
        .then_some(statements.len());
    if blocked_at.is_some() {
        statements.push(db.statement(SEND_BLOCKED_SQL, &[chat.into(), sender.into()])?);
    }
    let outcome = move |results: &[D1Result]| {
        let in_reach = reached(nth(results, 2)?)?;
        let stored = first::<MessageRow>(nth(results, 1)?)?
            .filter(|_| in_reach)
            .ok_or_else(|| ApiError::not_found("message"))?;
        refuse_change(&stored, author.sender(), change)?;
        let committed = changes(nth(results, 0)?) > 0;
        let parent = match change {
            Change::Delete | Change::Takedown if committed => match results.get(4) {
                Some(parent) => first::<MessageRow>(parent)?,
                None => None,
            },
            Change::Edit { .. } if !committed => {
                if let (Some(outsiders), true) = (results.get(4), mentions.is_some()) {
                    refuse_outsiders(outsiders)?;
                }
                if let Some(at) = blocked_at {
                    refuse_blocked(nth(results, at)?)?;
                }
                None
            }
            _ => None,
        };
        Ok(Stored {
            committed,
            message: stored,
            read_marks: read_marks(results.get(3))?,
            list_behind: false,
            parent,
        })
    };
    Ok(Plan {
        statements,
        outcome: Box::new(outcome),
        target: message_id.as_str().to_string(),
    })
}

/// Why a change the statement did not apply was refused (or Ok when it applied or had nothing to do).
fn refuse_change(stored: &MessageRow, caller: &UserId, change: &Change) -> Result<()> {
    if *change == Change::Takedown {
        return Ok(());
    }
    if stored.sender_id != caller.as_str() {
        return Err(ApiError::forbidden(
            "only the sender can edit or delete this message",
        ));
    }
    if stored.kind == MessageKind::CreditTransfer {
        return Err(ApiError::conflict(
            "credit transfer messages cannot be edited or deleted",
        ));
    }
    if let Change::Edit { .. } = change {
        if stored.deleted_at.is_some() {
            return Err(ApiError::conflict("the message is deleted"));
        }
        if stored.kind != MessageKind::Text {
            return Err(ApiError::conflict("only text messages can be edited"));
        }
    }
    Ok(())
}
